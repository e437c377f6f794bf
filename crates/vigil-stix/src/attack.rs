//! MITRE ATT&CK techniques, from the data file committed with the crate (see
//! `data/README.md`), so no corpus is needed at run time.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::{json, Value};

const TECHNIQUES_TSV: &str = include_str!("../data/attack-techniques.tsv");

/// One ATT&CK technique.
#[derive(Debug, Clone, PartialEq)]
pub struct Technique {
    /// `T1110` or `T1110.001`.
    pub external_id: &'static str,
    /// MITRE's own `attack-pattern--…` id.
    pub stix_id: &'static str,
    pub name: &'static str,
    /// Kill-chain phase names (`credential-access`, …).
    pub tactics: Vec<&'static str>,
    /// MITRE's `modified` time of the technique.
    pub modified: &'static str,
}

fn index() -> &'static HashMap<&'static str, Technique> {
    static INDEX: OnceLock<HashMap<&'static str, Technique>> = OnceLock::new();
    INDEX.get_or_init(|| {
        TECHNIQUES_TSV
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|line| {
                let mut cols = line.split('\t');
                let t = Technique {
                    external_id: cols.next()?,
                    stix_id: cols.next()?,
                    name: cols.next()?,
                    tactics: cols.next()?.split(',').filter(|s| !s.is_empty()).collect(),
                    modified: cols.next().unwrap_or(""),
                };
                Some((t.external_id, t))
            })
            .collect()
    })
}

/// The technique with this ATT&CK id (`T1110.001`, any case).
pub fn technique(external_id: &str) -> Option<&'static Technique> {
    index().get(external_id.to_ascii_uppercase().as_str())
}

/// The technique id in a Sigma tag (`attack.t1110.001` → `T1110.001`).
pub(crate) fn technique_tag(tag: &str) -> Option<String> {
    let rest = tag.strip_prefix("attack.")?;
    let upper = rest.to_ascii_uppercase();
    let digits = upper.strip_prefix('T')?;
    let (main, sub) = match digits.split_once('.') {
        Some((m, s)) => (m, Some(s)),
        None => (digits, None),
    };
    let ok = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    (ok(main, 4) && sub.iter().all(|s| ok(s, 3))).then_some(upper)
}

/// The tactic in a Sigma tag (`attack.credential-access`), when it names one.
pub(crate) fn tactic_tag(tag: &str) -> Option<&str> {
    const TACTICS: [&str; 14] = [
        "reconnaissance",
        "resource-development",
        "initial-access",
        "execution",
        "persistence",
        "privilege-escalation",
        "defense-evasion",
        "credential-access",
        "discovery",
        "lateral-movement",
        "collection",
        "command-and-control",
        "exfiltration",
        "impact",
    ];
    let rest = tag.strip_prefix("attack.")?;
    TACTICS.iter().copied().find(|t| *t == rest.replace('_', "-"))
}

fn technique_url(external_id: &str) -> String {
    format!("https://attack.mitre.org/techniques/{}", external_id.replace('.', "/"))
}

/// The attack-pattern object for a technique id. Known techniques carry MITRE's id,
/// name and tactics; unknown ones (retired or newer than the data file) a Vigil id.
pub(crate) fn attack_pattern(external_id: &str) -> Value {
    // No `url`: strict validation wants a hash beside every external URL, and MITRE's
    // page content is not Vigil's to hash. The page is named in the description.
    let reference = json!({
        "source_name": "mitre-attack",
        "external_id": external_id,
        "description": technique_url(external_id),
    });
    match technique(external_id) {
        Some(t) => {
            let modified = if crate::import::is_timestamp(t.modified) { t.modified } else { crate::FIXED_TIME };
            let mut object = json!({
                "type": "attack-pattern",
                "spec_version": "2.1",
                "id": t.stix_id,
                "created": modified,
                "modified": modified,
                "name": t.name,
                "external_references": [reference],
            });
            if !t.tactics.is_empty() {
                object["kill_chain_phases"] =
                    t.tactics.iter().map(|p| json!({"kill_chain_name": "mitre-attack", "phase_name": p})).collect();
            }
            object
        }
        None => json!({
            "type": "attack-pattern",
            "spec_version": "2.1",
            "id": crate::ids::sdo_id("attack-pattern", external_id),
            "created": crate::FIXED_TIME,
            "modified": crate::FIXED_TIME,
            "name": external_id,
            "external_references": [reference],
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_techniques_use_mitre_ids() {
        let t = technique("t1110").expect("brute force is in ATT&CK");
        assert_eq!(t.name, "Brute Force");
        assert_eq!(t.stix_id, "attack-pattern--a93494bb-4b80-4ea1-8695-3236a49916fd");
        assert!(t.tactics.contains(&"credential-access"));
        let sub = technique("T1110.001").unwrap();
        assert_eq!(sub.name, "Password Guessing");
        let object = attack_pattern("T1110.001");
        assert_eq!(object["id"], sub.stix_id);
        assert_eq!(object["external_references"][0]["external_id"], "T1110.001");
        assert_eq!(object["external_references"][0]["description"], "https://attack.mitre.org/techniques/T1110/001");
    }

    #[test]
    fn tags() {
        assert_eq!(technique_tag("attack.t1059.004").as_deref(), Some("T1059.004"));
        assert_eq!(technique_tag("attack.t1059"), Some("T1059".to_string()));
        assert_eq!(technique_tag("attack.execution"), None);
        assert_eq!(technique_tag("attack.t10"), None);
        assert_eq!(technique_tag("cve.2021-44228"), None);
        assert_eq!(tactic_tag("attack.credential-access"), Some("credential-access"));
        assert_eq!(tactic_tag("attack.credential_access"), Some("credential-access"));
        assert_eq!(tactic_tag("attack.t1110"), None);
    }

    #[test]
    fn unknown_techniques_get_a_stable_vigil_id() {
        let a = attack_pattern("T9999");
        assert_eq!(a["id"], attack_pattern("T9999")["id"]);
        assert_eq!(a["name"], "T9999");
    }
}
