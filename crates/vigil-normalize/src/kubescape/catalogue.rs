//! The node-agent rule catalogue: RuleID → rule name, default severity and MITRE ATT&CK
//! mapping, so an alert (which carries only its `RuleID` and a display `alertName` that
//! varies across node-agent versions) gets its technique and tactic.
//!
//! Generated from kubescape/node-agent@de4676bb `tests/chart/templates/node-agent/default-rules.yaml`
//! (Apache-2.0; fields `id`, `name`, `severity`, `mitreTechnique`, `mitreTactic`), with
//! technique and tactic names from MITRE ATT&CK Enterprise (mitre/cti@421deacb,
//! `enterprise-attack/{attack-pattern,x-mitre-tactic}`; © The MITRE Corporation, used under
//! the ATT&CK terms of use). To regenerate: for each rule in `spec.rules`, split
//! `mitreTechnique` at `.` into technique and sub-technique and look both names and the
//! tactic name up in the ATT&CK index. Rules outside the catalogue (R3000 malware, custom
//! rules) simply get no ATT&CK mapping.

/// One catalogue rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rule {
    pub id: &'static str,
    pub name: &'static str,
    /// node-agent priority (1 low, 5 medium, 8 high, 10 critical).
    pub severity: u16,
    /// (uid, name) of the ATT&CK technique; for a sub-technique, its parent.
    pub technique: (&'static str, &'static str),
    /// (uid, name) of the ATT&CK sub-technique, when the rule names one.
    pub sub_technique: Option<(&'static str, &'static str)>,
    /// (uid, name) of the ATT&CK tactic.
    pub tactic: (&'static str, &'static str),
}

/// Sorted by id (binary search).
pub(crate) const RULES: &[Rule] = &[
    Rule {
        id: "R0001",
        name: "Unexpected process launched",
        severity: 1,
        technique: ("T1059", "Command and Scripting Interpreter"),
        sub_technique: None,
        tactic: ("TA0002", "Execution"),
    },
    Rule {
        id: "R0002",
        name: "Files Access Anomalies in container",
        severity: 1,
        technique: ("T1005", "Data from Local System"),
        sub_technique: None,
        tactic: ("TA0009", "Collection"),
    },
    Rule {
        id: "R0003",
        name: "Syscalls Anomalies in container",
        severity: 1,
        technique: ("T1059", "Command and Scripting Interpreter"),
        sub_technique: None,
        tactic: ("TA0002", "Execution"),
    },
    Rule {
        id: "R0004",
        name: "Linux Capabilities Anomalies in container",
        severity: 1,
        technique: ("T1059", "Command and Scripting Interpreter"),
        sub_technique: None,
        tactic: ("TA0002", "Execution"),
    },
    Rule {
        id: "R0005",
        name: "DNS Anomalies in container",
        severity: 1,
        technique: ("T1071", "Application Layer Protocol"),
        sub_technique: Some(("T1071.004", "DNS")),
        tactic: ("TA0011", "Command and Control"),
    },
    Rule {
        id: "R0006",
        name: "Unexpected service account token access",
        severity: 5,
        technique: ("T1528", "Steal Application Access Token"),
        sub_technique: None,
        tactic: ("TA0006", "Credential Access"),
    },
    Rule {
        id: "R0007",
        name: "Workload uses Kubernetes API unexpectedly",
        severity: 5,
        technique: ("T1210", "Exploitation of Remote Services"),
        sub_technique: None,
        tactic: ("TA0008", "Lateral Movement"),
    },
    Rule {
        id: "R0008",
        name: "Read Environment Variables from procfs",
        severity: 5,
        technique: ("T1552", "Unsecured Credentials"),
        sub_technique: Some(("T1552.001", "Credentials In Files")),
        tactic: ("TA0006", "Credential Access"),
    },
    Rule {
        id: "R0009",
        name: "eBPF Program Load",
        severity: 5,
        technique: ("T1218", "System Binary Proxy Execution"),
        sub_technique: None,
        tactic: ("TA0005", "Defense Evasion"),
    },
    Rule {
        id: "R0010",
        name: "Unexpected Sensitive File Access",
        severity: 5,
        technique: ("T1005", "Data from Local System"),
        sub_technique: None,
        tactic: ("TA0006", "Credential Access"),
    },
    Rule {
        id: "R0011",
        name: "Unexpected Egress Network Traffic",
        severity: 5,
        technique: ("T1041", "Exfiltration Over C2 Channel"),
        sub_technique: None,
        tactic: ("TA0010", "Exfiltration"),
    },
    Rule {
        id: "R0040",
        name: "Unexpected process arguments",
        severity: 3,
        technique: ("T1059", "Command and Scripting Interpreter"),
        sub_technique: None,
        tactic: ("TA0002", "Execution"),
    },
    Rule {
        id: "R1000",
        name: "Process Executed from /dev/shm",
        severity: 8,
        technique: ("T1059", "Command and Scripting Interpreter"),
        sub_technique: None,
        tactic: ("TA0002", "Execution"),
    },
    Rule {
        id: "R1001",
        name: "Drifted process executed",
        severity: 8,
        technique: ("T1036", "Masquerading"),
        sub_technique: None,
        tactic: ("TA0005", "Defense Evasion"),
    },
    Rule {
        id: "R1002",
        name: "Process tries to load a kernel module",
        severity: 10,
        technique: ("T1547", "Boot or Logon Autostart Execution"),
        sub_technique: Some(("T1547.006", "Kernel Modules and Extensions")),
        tactic: ("TA0005", "Defense Evasion"),
    },
    Rule {
        id: "R1003",
        name: "SSH Connection to Unexpected Destination on Non-Standard Port",
        severity: 5,
        technique: ("T1021", "Remote Services"),
        sub_technique: Some(("T1021.001", "Remote Desktop Protocol")),
        tactic: ("TA0008", "Lateral Movement"),
    },
    Rule {
        id: "R1004",
        name: "Process executed from mount",
        severity: 5,
        technique: ("T1059", "Command and Scripting Interpreter"),
        sub_technique: None,
        tactic: ("TA0002", "Execution"),
    },
    Rule {
        id: "R1005",
        name: "Fileless execution detected",
        severity: 8,
        technique: ("T1055", "Process Injection"),
        sub_technique: None,
        tactic: ("TA0005", "Defense Evasion"),
    },
    Rule {
        id: "R1006",
        name: "Unexpected unshare Syscall in Container",
        severity: 5,
        technique: ("T1611", "Escape to Host"),
        sub_technique: None,
        tactic: ("TA0004", "Privilege Escalation"),
    },
    Rule {
        id: "R1007",
        name: "Crypto miner launched",
        severity: 10,
        technique: ("T1496", "Resource Hijacking"),
        sub_technique: None,
        tactic: ("TA0040", "Impact"),
    },
    Rule {
        id: "R1008",
        name: "Crypto Mining Domain Communication",
        severity: 10,
        technique: ("T1071", "Application Layer Protocol"),
        sub_technique: Some(("T1071.004", "DNS")),
        tactic: ("TA0011", "Command and Control"),
    },
    Rule {
        id: "R1009",
        name: "Crypto Mining Related Port Communication",
        severity: 3,
        technique: ("T1071", "Application Layer Protocol"),
        sub_technique: None,
        tactic: ("TA0011", "Command and Control"),
    },
    Rule {
        id: "R1010",
        name: "Soft link created over sensitive file",
        severity: 5,
        technique: ("T1005", "Data from Local System"),
        sub_technique: None,
        tactic: ("TA0006", "Credential Access"),
    },
    Rule {
        id: "R1011",
        name: "ld_preload Mechanism Use or ld.so.preload Modification",
        severity: 5,
        technique: ("T1574", "Hijack Execution Flow"),
        sub_technique: Some(("T1574.006", "Dynamic Linker Hijacking")),
        tactic: ("TA0005", "Defense Evasion"),
    },
    Rule {
        id: "R1012",
        name: "Hard link created over sensitive file",
        severity: 5,
        technique: ("T1005", "Data from Local System"),
        sub_technique: None,
        tactic: ("TA0006", "Credential Access"),
    },
    Rule {
        id: "R1015",
        name: "Unexpected Ptrace Syscall Usage",
        severity: 5,
        technique: ("T1622", "Debugger Evasion"),
        sub_technique: None,
        tactic: ("TA0005", "Defense Evasion"),
    },
    Rule {
        id: "R1030",
        name: "Unexpected io_uring Operation Detected",
        severity: 5,
        technique: ("T1218", "System Binary Proxy Execution"),
        sub_technique: None,
        tactic: ("TA0002", "Execution"),
    },
    Rule {
        id: "R2000",
        name: "Exec to pod",
        severity: 8,
        technique: ("T1609", "Container Administration Command"),
        sub_technique: None,
        tactic: ("TA0002", "Execution"),
    },
    Rule {
        id: "R2001",
        name: "Port forward to pod",
        severity: 5,
        technique: ("T1090", "Proxy"),
        sub_technique: None,
        tactic: ("TA0011", "Command and Control"),
    },
];

/// The catalogue entry for `rule_id`.
pub(crate) fn lookup(rule_id: &str) -> Option<&'static Rule> {
    RULES.binary_search_by(|r| r.id.cmp(rule_id)).ok().and_then(|i| RULES.get(i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_unique_and_found() {
        assert!(RULES.windows(2).all(|w| w[0].id < w[1].id), "RULES must stay sorted by id");
        assert_eq!(RULES.len(), 29);
        for rule in RULES {
            assert_eq!(lookup(rule.id), Some(rule));
        }
        assert_eq!(lookup("R0005").map(|r| r.tactic.0), Some("TA0011"));
        assert_eq!(lookup("R0005").and_then(|r| r.sub_technique).map(|s| s.0), Some("T1071.004"));
        assert!(lookup("R3000").is_none());
    }
}
