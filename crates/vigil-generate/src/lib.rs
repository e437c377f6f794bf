//! Synthetic traffic in the real formats Vigil decodes, with labelled injected attacks,
//! so that detections can be scored.
//!
//! A [`Generator`] simulates a small estate — Linux hosts that are also Kubernetes nodes
//! running a shop application, their administrators, an Internet-facing SSH server and a
//! Cowrie honeypot — and writes what its sensors would log:
//!
//! | [`Format`] | Records |
//! |---|---|
//! | `auth_log` | Debian `/var/log/auth.log` lines (RFC 3164 layout): sshd logins and failures, PAM sessions, sudo, CRON |
//! | `tetragon` | Tetragon JSON export lines: `process_exec`, `process_exit`, `process_kprobe` (`tcp_connect`, `security_file_permission`) with pod metadata |
//! | `cowrie` | Cowrie JSON log lines: `session.connect`, `client.version`/`kex`, `login.failed`/`success`, `command.input`, `session.file_download`, `session.closed` |
//! | `k8s_audit` | `audit.k8s.io/v1` `Event` lines from the API server |
//!
//! The background is benign (administrators, cron, probes, service-to-service
//! connections, lease renewals, Internet scanners that knock once) and is built to stay
//! below every rule of the rule pack, including its near misses (Ansible's `sudo /bin/sh`
//! with `BECOME-SUCCESS`, cron sessions for root, health checks that connect to loopback only,
//! kube-system and cert-manager reading secrets). Into it the generator injects the
//! requested [`Attack`]s: each requested attack once per `attack_interval_ms`, each
//! instance from its own attacker address (or pod, or identity) so that alerts can be
//! told apart. Every record of an instance carries a [`Label`] naming the rules of
//! `rules/` that must fire on it.
//!
//! Output depends only on the configuration and on the calls made: the same seed and
//! the same sequence of [`Generator::records_for`] slices give the same records, and
//! cutting the timeline into different slices gives the same records overall.

mod attacks;
mod background;
mod clock;
mod json;
mod rng;
mod source;
mod world;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

pub use attacks::rules;

/// The source format of a generated record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    /// `/var/log/auth.log` (syslog) lines.
    AuthLog,
    /// Tetragon JSON export lines.
    Tetragon,
    /// Cowrie honeypot JSON log lines.
    Cowrie,
    /// Kubernetes audit event JSON lines.
    K8sAudit,
}

impl Format {
    pub const ALL: [Format; 4] = [Format::AuthLog, Format::Tetragon, Format::Cowrie, Format::K8sAudit];

    /// Stable snake_case name (`auth_log`, `tetragon`, `cowrie`, `k8s_audit`).
    pub fn as_str(self) -> &'static str {
        match self {
            Format::AuthLog => "auth_log",
            Format::Tetragon => "tetragon",
            Format::Cowrie => "cowrie",
            Format::K8sAudit => "k8s_audit",
        }
    }

    /// The name of the Vigil decoder that reads this format (`vigil hunt --source`).
    pub fn decoder_name(self) -> &'static str {
        match self {
            Format::AuthLog => "syslog",
            Format::Tetragon => "tetragon",
            Format::Cowrie => "cowrie",
            Format::K8sAudit => "k8s-audit",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is no [`Attack`] or [`Format`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{name}` (expected one of: {expected})")]
pub struct UnknownName {
    what: &'static str,
    name: String,
    expected: String,
}

impl FromStr for Format {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL.into_iter().find(|f| f.as_str().eq_ignore_ascii_case(s.trim())).ok_or_else(|| UnknownName {
            what: "format",
            name: s.chars().take(64).collect(),
            expected: Format::ALL.map(Format::as_str).join(", "),
        })
    }
}

/// An attack the generator can inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Attack {
    /// 12–18 failed SSH passwords for root from one address in about a minute
    /// (auth.log, or the honeypot for odd instances).
    BruteForceSsh,
    /// One address tries 6–8 different user names, one failure each, 25–40 s apart.
    PasswordSpray,
    /// 5–8 failed passwords, then a password login that works.
    SshSuccessAfterFailures,
    /// A user logged in from outside runs a root shell or a sensitive command with sudo.
    SudoRootShell,
    /// RCE in an exposed pod opens `bash -i >& /dev/tcp/…` or `nc` back to the attacker (Tetragon).
    ReverseShell,
    /// An implant dropped in /tmp or /dev/shm calls home and runs shell tasks (Tetragon).
    ShellFromTmp,
    /// A miner (XMRig, Kinsing, a renamed one with stratum options) fetched into /tmp runs in a pod.
    CryptoMiner,
    /// `nsenter -t 1` or `chroot /host` from the attacker's privileged pod.
    ContainerEscape,
    /// `cat` of the pod's service-account token, then a call to the API server with it.
    SaTokenTheft,
    /// A connect scan of 30–45 ports of one internal address from a compromised pod.
    PortScan,
    /// A bot logs in to the honeypot, fingerprints it, fetches a loader and runs it.
    HoneypotDownloadExec,
    /// A bot fetches and starts XMRig on the honeypot.
    HoneypotCryptominer,
    /// The "mdrfckr" bot writes its key into authorized_keys and fingerprints the box.
    HoneypotPersistence,
    /// `kubectl exec` into a production pod with stolen credentials.
    K8sExecIntoPod,
    /// An application's service account lists and reads secrets.
    K8sSecretsAccess,
    /// A privileged pod with the host's PID and network namespaces is created.
    K8sPrivilegedPod,
}

impl Attack {
    pub const ALL: [Attack; 16] = [
        Attack::BruteForceSsh,
        Attack::PasswordSpray,
        Attack::SshSuccessAfterFailures,
        Attack::SudoRootShell,
        Attack::ReverseShell,
        Attack::ShellFromTmp,
        Attack::CryptoMiner,
        Attack::ContainerEscape,
        Attack::SaTokenTheft,
        Attack::PortScan,
        Attack::HoneypotDownloadExec,
        Attack::HoneypotCryptominer,
        Attack::HoneypotPersistence,
        Attack::K8sExecIntoPod,
        Attack::K8sSecretsAccess,
        Attack::K8sPrivilegedPod,
    ];

    /// Stable snake_case name, as accepted by [`FromStr`] (`brute_force_ssh`, `port_scan`).
    pub fn as_str(self) -> &'static str {
        match self {
            Attack::BruteForceSsh => "brute_force_ssh",
            Attack::PasswordSpray => "password_spray",
            Attack::SshSuccessAfterFailures => "ssh_success_after_failures",
            Attack::SudoRootShell => "sudo_root_shell",
            Attack::ReverseShell => "reverse_shell",
            Attack::ShellFromTmp => "shell_from_tmp",
            Attack::CryptoMiner => "crypto_miner",
            Attack::ContainerEscape => "container_escape",
            Attack::SaTokenTheft => "sa_token_theft",
            Attack::PortScan => "port_scan",
            Attack::HoneypotDownloadExec => "honeypot_download_exec",
            Attack::HoneypotCryptominer => "honeypot_cryptominer",
            Attack::HoneypotPersistence => "honeypot_persistence",
            Attack::K8sExecIntoPod => "k8s_exec_into_pod",
            Attack::K8sSecretsAccess => "k8s_secrets_access",
            Attack::K8sPrivilegedPod => "k8s_privileged_pod",
        }
    }
}

impl fmt::Display for Attack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Attack {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().replace('-', "_");
        Attack::ALL.into_iter().find(|a| a.as_str().eq_ignore_ascii_case(&wanted)).ok_or_else(|| UnknownName {
            what: "attack",
            name: s.chars().take(64).collect(),
            expected: Attack::ALL.map(Attack::as_str).join(", "),
        })
    }
}

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratorConfig {
    /// Same seed, same traffic.
    pub seed: u64,
    /// Background records per second (attack records come on top). At most
    /// [`MAX_RATE_PER_SEC`].
    pub rate_per_sec: u32,
    /// Attacks to inject; each is injected once per `attack_interval_ms`, the attacks'
    /// first instances spread over the first interval. Duplicates are ignored.
    pub attacks: Vec<Attack>,
    /// Time between two instances of the same attack (at least 5 s; default 60 s).
    pub attack_interval_ms: i64,
    /// Time of the first generated second, in ms since the Unix epoch (rounded down to a
    /// whole second).
    pub start_ms: i64,
    /// Number of Linux hosts / Kubernetes nodes (1–256).
    pub hosts: u32,
    /// Formats of the background; empty means all four. Attacks write their own format
    /// whatever this says.
    pub formats: Vec<Format>,
}

/// Upper bound of [`GeneratorConfig::rate_per_sec`].
pub const MAX_RATE_PER_SEC: u32 = 100_000;
/// [`Generator::records_for`] generates at most this much time per call.
pub const MAX_SLICE_MS: i64 = 3_600_000;

impl Default for GeneratorConfig {
    fn default() -> Self {
        GeneratorConfig {
            seed: 1,
            rate_per_sec: 50,
            attacks: Vec::new(),
            attack_interval_ms: 60_000,
            start_ms: 1_767_225_600_000, // 2026-01-01T00:00:00Z
            hosts: 4,
            formats: Vec::new(),
        }
    }
}

/// Which injection a record belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub attack: Attack,
    /// Number of the injection (counts all attacks, from 0).
    pub instance: u64,
    /// Ids of the rules in `rules/` that must fire on this injection's records (for a
    /// correlation, on the group its records form).
    pub expected_rule_ids: Vec<String>,
}

/// One generated record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedRecord {
    /// Event time in ms since the Unix epoch (what the record's own timestamp says;
    /// auth.log times are whole seconds).
    pub time_ms: i64,
    pub format: Format,
    /// The record as the source writes it, without a line terminator.
    pub line: String,
    /// Set on the records of an injected attack; `None` for background.
    pub label: Option<Label>,
}

/// One injected attack instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Injection {
    pub attack: Attack,
    pub instance: u64,
    pub format: Format,
    /// Time of its first and last record.
    pub start_ms: i64,
    pub end_ms: i64,
    /// Records it consists of.
    pub records: usize,
    /// Who attacks: the source address (SSH, honeypot, C2 server of a pod attack) or
    /// the Kubernetes identity used.
    pub actor: String,
    /// What is attacked: host, pod (`namespace/name`) or honeypot sensor.
    pub target: String,
    pub expected_rule_ids: Vec<String>,
}

/// Writes the traffic of a [`GeneratorConfig`], slice by slice.
pub struct Generator {
    attacks: Vec<Attack>,
    interval_ms: i64,
    rate: i64,
    format_weights: [u32; 4],
    sim: background::Sim,
    /// Records generated but not yet handed out, by (time, generation order).
    queue: BTreeMap<(i64, u64), GeneratedRecord>,
    seq: u64,
    /// Start of the next second to generate.
    cursor_ms: i64,
    /// Background records owed (negative: generated ahead).
    budget: i64,
    /// Next instance time per attack (same order as `attacks`).
    next_instance_ms: Vec<i64>,
    injections: Vec<Injection>,
}

/// Share of each format in the background, in [`Format::ALL`] order.
const FORMAT_WEIGHTS: [u32; 4] = [20, 40, 10, 30];

impl Generator {
    pub fn new(cfg: GeneratorConfig) -> Self {
        let start_ms = cfg.start_ms - cfg.start_ms.rem_euclid(1000);
        let mut attacks = Vec::new();
        for a in cfg.attacks {
            if !attacks.contains(&a) {
                attacks.push(a);
            }
        }
        let interval_ms = cfg.attack_interval_ms.max(5_000);
        let n = attacks.len().max(1) as i64;
        let next_instance_ms = (0..attacks.len() as i64).map(|i| start_ms + 1_000 + i * interval_ms / n).collect();
        let format_weights = match cfg.formats.is_empty() {
            true => FORMAT_WEIGHTS,
            false => {
                let mut w = [0; 4];
                for (i, f) in Format::ALL.iter().enumerate() {
                    if cfg.formats.contains(f) {
                        w[i] = FORMAT_WEIGHTS[i];
                    }
                }
                w
            }
        };
        Generator {
            attacks,
            interval_ms,
            rate: cfg.rate_per_sec.min(MAX_RATE_PER_SEC) as i64,
            format_weights,
            sim: background::Sim::new(cfg.seed, cfg.hosts.clamp(1, 256), start_ms),
            queue: BTreeMap::new(),
            seq: 0,
            cursor_ms: start_ms,
            budget: 0,
            next_instance_ms,
            injections: Vec::new(),
        }
    }

    /// The records whose time is before `to_ms` and that were not returned yet, in time
    /// order: the background of `[from_ms, to_ms)` at the configured rate and the
    /// injections scheduled in it. Meant to be called with consecutive slices (the CLI:
    /// one call per second); records of an earlier slice that start in it but extend
    /// beyond (a brute force lasts a minute) come in the later slices. A call generates
    /// at most [`MAX_SLICE_MS`] of time; a gap of more than that since the previous
    /// slice is skipped, not filled.
    pub fn records_for(&mut self, from_ms: i64, to_ms: i64) -> Vec<GeneratedRecord> {
        if from_ms.saturating_sub(self.cursor_ms) > MAX_SLICE_MS {
            self.skip_to(from_ms);
        }
        let to_ms = to_ms.min(self.cursor_ms.saturating_add(MAX_SLICE_MS));
        while self.cursor_ms < to_ms {
            self.generate_second();
        }
        let later = self.queue.split_off(&(to_ms, 0));
        std::mem::replace(&mut self.queue, later).into_values().collect()
    }

    /// Every attack instance injected so far (some of its records may still be due).
    pub fn injections(&self) -> &[Injection] {
        &self.injections
    }

    fn skip_to(&mut self, ms: i64) {
        self.cursor_ms += (ms - self.cursor_ms).div_euclid(1000) * 1000;
        for next in &mut self.next_instance_ms {
            if *next < self.cursor_ms {
                *next += (self.cursor_ms - *next + self.interval_ms - 1) / self.interval_ms * self.interval_ms;
            }
        }
    }

    fn generate_second(&mut self) {
        let second = self.cursor_ms;
        let end = second + 1000;
        for i in 0..self.attacks.len() {
            while self.next_instance_ms[i] < end {
                let at = self.next_instance_ms[i];
                self.next_instance_ms[i] += self.interval_ms;
                self.inject(self.attacks[i], at);
            }
        }
        self.budget += self.rate;
        let mut out = Vec::new();
        while self.budget > 0 && self.format_weights.iter().any(|&w| w > 0) {
            let format = Format::ALL[self.sim.rng.weighted(&self.format_weights)];
            let at = second + self.sim.rng.below(1000) as i64;
            out.clear();
            background::episode(&mut self.sim, format, at, &mut out);
            self.budget -= out.len().max(1) as i64;
            for (time_ms, line) in out.drain(..) {
                self.push(time_ms, format, line, None);
            }
        }
        self.cursor_ms = end;
    }

    fn inject(&mut self, attack: Attack, at: i64) {
        let instance = self.injections.len() as u64;
        let made = attacks::inject(attack, &mut self.sim, instance, at);
        let expected: Vec<String> = made.expected.iter().map(|s| s.to_string()).collect();
        let label = Label { attack, instance, expected_rule_ids: expected.clone() };
        let times = made.records.iter().map(|(t, _)| *t);
        let (start_ms, end_ms) = (times.clone().min().unwrap_or(at), times.max().unwrap_or(at));
        self.injections.push(Injection {
            attack,
            instance,
            format: made.format,
            start_ms,
            end_ms,
            records: made.records.len(),
            actor: made.actor,
            target: made.target,
            expected_rule_ids: expected,
        });
        for (time_ms, line) in made.records {
            self.push(time_ms, made.format, line, Some(label.clone()));
        }
    }

    fn push(&mut self, time_ms: i64, format: Format, line: String, label: Option<Label>) {
        // auth.log has whole seconds; the record's time is what its line says.
        let time_ms = if format == Format::AuthLog { time_ms - time_ms.rem_euclid(1000) } else { time_ms };
        self.queue.insert((time_ms, self.seq), GeneratedRecord { time_ms, format, line, label });
        self.seq += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for a in Attack::ALL {
            assert_eq!(a.as_str().parse::<Attack>(), Ok(a));
            assert_eq!(a.to_string(), a.as_str());
        }
        assert_eq!("Port-Scan".parse::<Attack>(), Ok(Attack::PortScan));
        let err = "nope".parse::<Attack>().unwrap_err().to_string();
        assert!(err.contains("brute_force_ssh") && err.contains("`nope`"), "{err}");
        for f in Format::ALL {
            assert_eq!(f.as_str().parse::<Format>(), Ok(f));
        }
        assert!("csv".parse::<Format>().is_err());
    }

    #[test]
    fn slices_do_not_change_the_output() {
        let cfg = GeneratorConfig {
            seed: 11,
            rate_per_sec: 30,
            attacks: vec![Attack::BruteForceSsh, Attack::ReverseShell],
            attack_interval_ms: 20_000,
            ..GeneratorConfig::default()
        };
        let start = cfg.start_ms;
        let mut whole = Generator::new(cfg.clone());
        let all = whole.records_for(start, start + 60_000);
        let mut sliced = Generator::new(cfg);
        let mut parts = Vec::new();
        let mut t = start;
        for step in [300, 1_700, 5_000, 999, 52_001] {
            parts.extend(sliced.records_for(t, t + step));
            t += step;
        }
        assert_eq!(t, start + 60_000);
        assert_eq!(parts, all);
        assert!(all.windows(2).all(|w| w[0].time_ms <= w[1].time_ms));
        assert_eq!(whole.injections(), sliced.injections());
    }

    #[test]
    fn rate_is_honoured_and_formats_can_be_restricted() {
        let cfg = GeneratorConfig { rate_per_sec: 200, formats: vec![Format::K8sAudit], ..GeneratorConfig::default() };
        let start = cfg.start_ms;
        let mut g = Generator::new(cfg);
        let records = g.records_for(start, start + 10_000);
        assert!((1_900..=2_100).contains(&records.len()), "{}", records.len());
        assert!(records.iter().all(|r| r.format == Format::K8sAudit && r.label.is_none()));
        assert!(g.injections().is_empty());
    }

    #[test]
    fn each_attack_recurs_at_the_interval_with_its_own_actor() {
        let cfg = GeneratorConfig {
            rate_per_sec: 0,
            attacks: vec![Attack::PasswordSpray, Attack::PasswordSpray, Attack::K8sExecIntoPod],
            attack_interval_ms: 30_000,
            ..GeneratorConfig::default()
        };
        let start = cfg.start_ms;
        let mut g = Generator::new(cfg);
        let records = g.records_for(start, start + 120_000);
        assert!(records.iter().all(|r| r.label.is_some()));
        let sprays: Vec<_> = g.injections().iter().filter(|i| i.attack == Attack::PasswordSpray).collect();
        assert_eq!(sprays.len(), 4);
        assert!(sprays.windows(2).all(|w| w[1].start_ms - w[0].start_ms >= 29_000 && w[0].actor != w[1].actor));
        assert_eq!(g.injections().iter().filter(|i| i.attack == Attack::K8sExecIntoPod).count(), 4);
    }

    #[test]
    fn a_long_gap_is_skipped_and_huge_slices_are_cut() {
        let cfg = GeneratorConfig { rate_per_sec: 5, ..GeneratorConfig::default() };
        let start = cfg.start_ms;
        let mut g = Generator::new(cfg);
        g.records_for(start, start + 1000);
        let later = g.records_for(start + 86_400_000, start + 86_401_000);
        // Only the second asked for (and episodes still running from the first one).
        assert!(later.len() < 100, "the skipped day was filled in: {} records", later.len());
        let huge = g.records_for(start + 90_000_000, i64::MAX);
        assert!(huge.len() <= 5 * 3_600 + 100);
    }
}
