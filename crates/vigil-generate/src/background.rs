//! Benign traffic: what the estate logs when nobody attacks it. Every episode here is
//! kept below the rule pack's thresholds on purpose — one failed password per scanner
//! address, at most one mistyped password per administrator per quarter hour, no root
//! SSH sessions, no shells that connect anywhere, no pods with host access.

use crate::json::Obj;
use crate::rng::Rng;
use crate::source::cowrie::Session;
use crate::source::k8s_audit::AuditEvent;
use crate::source::{auth_log, tetragon};
use crate::world::{Proc, World};
use crate::Format;

/// Records of one episode: (time in ms, line).
pub(crate) type Out = Vec<(i64, String)>;

/// The simulation's mutable state, shared by background and attacks.
pub(crate) struct Sim {
    pub rng: Rng,
    pub world: World,
    scanner_seq: u64,
    attacker_seq: u64,
    internal_seq: u64,
    /// Last mistyped password per administrator (index into `world.admins`).
    last_typo_ms: Vec<i64>,
}

/// First octets of the Internet scanners' addresses (the background) and of the
/// attackers' addresses; disjoint, and no private, shared or documentation range.
const SCANNER_NETS: &[u8] = &[
    5, 23, 31, 37, 46, 62, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 91, 92, 94, 95, 109, 176, 178, 188, 195,
    213, 217,
];
const ATTACKER_NETS: &[u8] =
    &[45, 61, 103, 112, 117, 121, 171, 177, 179, 181, 183, 185, 190, 193, 194, 200, 201, 212, 218, 222];

/// The `n`-th address of a pool: distinct for every `n` below the pool's size
/// (`nets.len()` × 16.6 million).
fn pool_ip(nets: &[u8], n: u64, salt: u64) -> String {
    const SPACE: u64 = 256 * 256 * 254;
    let size = nets.len() as u64 * SPACE;
    // Multiplying by a number coprime to the size (it is odd, and not divisible by 3,
    // 5 or 127) permutes 0..size, so consecutive addresses share no octet pattern.
    let m = ((n % size) as u128 * 2_654_435_761 + salt as u128) % size as u128;
    let m = m as u64;
    let first = nets[(m % nets.len() as u64) as usize];
    let p = m / nets.len() as u64;
    format!("{first}.{}.{}.{}", p / (256 * 254), (p / 254) % 256, 1 + p % 254)
}

impl Sim {
    pub(crate) fn new(seed: u64, hosts: u32, start_ms: i64) -> Sim {
        let mut rng = Rng::new(seed);
        let mut world_rng = rng.fork(1);
        let world = World::new(&mut world_rng, hosts, start_ms);
        let admins = world.admins.len();
        Sim {
            scanner_seq: rng.below(1 << 20),
            attacker_seq: rng.below(1 << 20),
            internal_seq: 0,
            rng,
            world,
            last_typo_ms: vec![i64::MIN / 2; admins],
        }
    }

    /// An Internet address never handed out before, for background scanners.
    pub(crate) fn scanner_ip(&mut self) -> String {
        self.scanner_seq += 1;
        pool_ip(SCANNER_NETS, self.scanner_seq, 0x51ed)
    }

    /// An attacker address never handed out before.
    pub(crate) fn attacker_ip(&mut self) -> String {
        self.attacker_seq += 1;
        pool_ip(ATTACKER_NETS, self.attacker_seq, 0xa77a)
    }

    /// An address in the VPC range 10.0.128.0/17 never handed out before (scan targets).
    pub(crate) fn internal_ip(&mut self) -> String {
        self.internal_seq += 1;
        let n = self.internal_seq % (128 * 254);
        format!("10.0.{}.{}", 128 + n / 254, 1 + n % 254)
    }

    pub(crate) fn ephemeral_port(&mut self) -> u16 {
        self.rng.range(32_768, 60_999) as u16
    }

    /// A socket cookie (a kernel address) for a kprobe `sock_arg`.
    pub(crate) fn cookie(&mut self) -> u64 {
        0xffff_8a00_0000_0000 | (self.rng.below(1 << 36) << 4)
    }

    /// A child of `parent`, in the parent's pod (if any).
    pub(crate) fn spawn(
        &mut self,
        parent: &Proc,
        binary: &str,
        arguments: Option<&str>,
        uid: u32,
        cwd: &str,
        ms: i64,
    ) -> Proc {
        self.spawn_in(parent.pod, parent, binary, arguments, uid, cwd, ms)
    }

    /// A child of `parent` in `pod`: the first process of an exec into a container has
    /// the container shim, which is outside the pod, as its parent.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn spawn_in(
        &mut self,
        pod: Option<usize>,
        parent: &Proc,
        binary: &str,
        arguments: Option<&str>,
        uid: u32,
        cwd: &str,
        ms: i64,
    ) -> Proc {
        self.world.spawn(&mut self.rng, parent.host, pod, parent, binary, arguments, uid, cwd, ms)
    }
}

/// One episode of `format` starting at `at`.
pub(crate) fn episode(sim: &mut Sim, format: Format, at: i64, out: &mut Out) {
    match format {
        Format::AuthLog => match sim.rng.weighted(&[3, 4, 6, 5, 1]) {
            0 => admin_session(sim, at, out),
            1 => {
                let host = sim.rng.below(sim.world.hosts.len() as u64) as usize;
                let admin = *sim.rng.pick(&[0usize, 2, 3]);
                sudo_command(sim, host, admin, at, out);
            }
            2 => cron_job(sim, at, out),
            3 => sshd_scanner(sim, at, out),
            _ => ansible_run(sim, at, out),
        },
        Format::Tetragon => match sim.rng.weighted(&[4, 8, 3, 2]) {
            0 => probe(sim, at, out),
            1 => service_connection(sim, at, out),
            2 => scrape(sim, at, out),
            _ => host_job(sim, at, out),
        },
        Format::Cowrie => match sim.rng.weighted(&[6, 1]) {
            0 => honeypot_scanner(sim, at, out),
            _ => honeypot_login_check(sim, at, out),
        },
        Format::K8sAudit => audit_event(sim, at, out),
    }
}

// ---- auth.log ---------------------------------------------------------------------

const SUDO_COMMANDS: &[&str] = &[
    "/usr/bin/systemctl restart nginx",
    "/usr/bin/systemctl status kubelet",
    "/usr/bin/journalctl -u kubelet --since -1h",
    "/usr/bin/apt-get update",
    "/usr/bin/apt-get install -y htop",
    "/usr/bin/crictl ps",
    "/usr/bin/crictl logs 3f2a9c1d",
    "/usr/bin/tail -n 200 /var/log/syslog",
    "/usr/bin/du -sh /var/lib/containerd",
    "/usr/sbin/iptables -L -n",
    "/usr/bin/systemctl reload nginx",
    "/usr/bin/ls -la /var/log/pods",
];

fn admin_session(sim: &mut Sim, mut t: i64, out: &mut Out) {
    let host = sim.rng.below(sim.world.hosts.len() as u64) as usize;
    // ansible has its own episode
    let admin_index = sim.rng.below(4) as usize;
    let admin = sim.world.admins[admin_index].clone();
    let hostname = sim.world.hosts[host].name.clone();
    let pid = sim.world.hosts[host].take_pid(&mut sim.rng);
    let port = sim.ephemeral_port();
    let ip = admin.workstation;
    let line = |t: i64, program: &str, pid: Option<u32>, msg: &str, out: &mut Out| {
        out.push((t, auth_log::line(t, &hostname, program, pid, msg)));
    };
    if admin.password && sim.rng.chance(0.2) && t - sim.last_typo_ms[admin_index] > 15 * 60_000 {
        sim.last_typo_ms[admin_index] = t;
        line(t, "sshd", Some(pid), &format!("Failed password for {} from {ip} port {port} ssh2", admin.name), out);
        t += sim.rng.range(2_000, 6_000);
    }
    let accepted = if admin.password {
        format!("Accepted password for {} from {ip} port {port} ssh2", admin.name)
    } else {
        format!("Accepted publickey for {} from {ip} port {port} ssh2: {}", admin.name, admin.key)
    };
    line(t, "sshd", Some(pid), &accepted, out);
    line(
        t,
        "sshd",
        Some(pid),
        &format!("pam_unix(sshd:session): session opened for user {}(uid={}) by (uid=0)", admin.name, admin.uid),
        out,
    );
    let session = sim.world.hosts[host].next_session;
    sim.world.hosts[host].next_session += 1;
    let logind = Some(sim.world.hosts[host].logind_pid);
    line(t, "systemd-logind", logind, &format!("New session {session} of user {}.", admin.name), out);
    let end = t + sim.rng.range(30_000, 900_000);
    if admin_index != 1 {
        let commands = sim.rng.range(0, 2);
        for i in 0..commands {
            let at = t + (end - t) * (i + 1) / (commands + 1);
            sudo_command(sim, host, admin_index, at, out);
        }
    }
    let line = |t: i64, program: &str, pid: Option<u32>, msg: &str, out: &mut Out| {
        out.push((t, auth_log::line(t, &sim.world.hosts[host].name, program, pid, msg)));
    };
    line(end, "sshd", Some(pid), &format!("Received disconnect from {ip} port {port}:11: disconnected by user"), out);
    line(end, "sshd", Some(pid), &format!("Disconnected from user {} {ip} port {port}", admin.name), out);
    line(end, "sshd", Some(pid), &format!("pam_unix(sshd:session): session closed for user {}", admin.name), out);
    line(end, "systemd-logind", logind, &format!("Session {session} logged out. Waiting for processes to exit."), out);
    line(end + 20, "systemd-logind", logind, &format!("Removed session {session}."), out);
}

fn sudo_command(sim: &mut Sim, host: usize, admin_index: usize, t: i64, out: &mut Out) {
    let admin = &sim.world.admins[admin_index];
    let command = *sim.rng.pick(SUDO_COMMANDS);
    let tty = format!("pts/{}", sim.rng.below(4));
    let hostname = &sim.world.hosts[host].name;
    let request = auth_log::sudo_command(admin.name, &tty, &format!("/home/{}", admin.name), "root", command);
    out.push((t, auth_log::line(t, hostname, "sudo", None, &request)));
    let opened =
        format!("pam_unix(sudo:session): session opened for user root(uid=0) by {}(uid={})", admin.name, admin.uid);
    out.push((t, auth_log::line(t, hostname, "sudo", None, &opened)));
    let done = t + sim.rng.range(200, 5_000);
    out.push((
        done,
        auth_log::line(done, hostname, "sudo", None, "pam_unix(sudo:session): session closed for user root"),
    ));
}

fn cron_job(sim: &mut Sim, t: i64, out: &mut Out) {
    const JOBS: &[(&str, u32, &str)] = &[
        ("root", 0, "   cd / && run-parts --report /etc/cron.hourly"),
        ("root", 0, "command -v debian-sa1 > /dev/null && debian-sa1 1 1"),
        (
            "root",
            0,
            "[ -x /usr/lib/php/sessionclean ] && if [ ! -d /run/systemd/system ]; then /usr/lib/php/sessionclean; fi",
        ),
        ("www-data", 33, "php /var/www/html/cron.php > /dev/null 2>&1"),
        ("backup", 34, "/usr/local/bin/pg-backup.sh --incremental"),
    ];
    let (user, uid, command) = *sim.rng.pick(JOBS);
    let host = sim.rng.below(sim.world.hosts.len() as u64) as usize;
    let pid = Some(sim.world.hosts[host].take_pid(&mut sim.rng));
    let hostname = &sim.world.hosts[host].name;
    let opened = format!("pam_unix(cron:session): session opened for user {user}(uid={uid}) by (uid=0)");
    out.push((t, auth_log::line(t, hostname, "CRON", pid, &opened)));
    out.push((t, auth_log::line(t, hostname, "CRON", pid, &format!("({user}) CMD ({command})"))));
    let done = t + sim.rng.range(100, 3_000);
    let closed = format!("pam_unix(cron:session): session closed for user {user}");
    out.push((done, auth_log::line(done, hostname, "CRON", pid, &closed)));
}

/// Internet background on the SSH-facing host (host 0): each address knocks once.
fn sshd_scanner(sim: &mut Sim, t: i64, out: &mut Out) {
    const USERS: &[&str] = &["admin", "test", "oracle", "user", "ubuntu", "git", "postgres", "guest", "pi", "ftpuser"];
    let ip = sim.scanner_ip();
    let port = sim.ephemeral_port();
    let pid = Some(sim.world.hosts[0].take_pid(&mut sim.rng));
    let user = *sim.rng.pick(USERS);
    let variant = sim.rng.below(5);
    let later = t + sim.rng.range(500, 8_000);
    let host = &sim.world.hosts[0].name;
    let mut line = |t: i64, msg: String| out.push((t, auth_log::line(t, host, "sshd", pid, &msg)));
    match variant {
        0 => line(t, format!("Connection closed by {ip} port {port} [preauth]")),
        1 => {
            line(t, "error: kex_exchange_identification: Connection closed by remote host".to_string());
            line(t, format!("Connection closed by {ip} port {port}"));
        }
        2 => {
            line(t, format!("Invalid user {user} from {ip} port {port}"));
            line(t, "pam_unix(sshd:auth): check pass; user unknown".to_string());
            line(t, auth_log::pam_auth_failure(&ip, None));
            line(later, format!("Failed password for invalid user {user} from {ip} port {port} ssh2"));
            line(later, format!("Connection closed by invalid user {user} {ip} port {port} [preauth]"));
        }
        3 => {
            line(t, auth_log::pam_auth_failure(&ip, Some("root")));
            line(later, format!("Failed password for root from {ip} port {port} ssh2"));
            line(later, format!("Connection closed by authenticating user root {ip} port {port} [preauth]"));
        }
        _ => {
            line(t, format!("Received disconnect from {ip} port {port}:11: Bye Bye [preauth]"));
            line(t, format!("Disconnected from authenticating user root {ip} port {port} [preauth]"));
        }
    }
}

/// An Ansible play: key login, `sudo /bin/sh -c 'echo BECOME-SUCCESS-…; python3 …'`.
fn ansible_run(sim: &mut Sim, t: i64, out: &mut Out) {
    let host = sim.rng.below(sim.world.hosts.len() as u64) as usize;
    let admin = sim.world.admins[4].clone();
    let pid = Some(sim.world.hosts[host].take_pid(&mut sim.rng));
    let port = sim.ephemeral_port();
    let marker = sim.rng.chars("abcdefghijklmnopqrstuvwxyz", 32);
    let tmp = format!(
        "ansible-tmp-{}.{}-{}-{}",
        t / 1000,
        sim.rng.range(10, 99),
        sim.rng.range(1000, 99999),
        sim.rng.range(10_000_000, 999_999_999)
    );
    let module = *sim.rng.pick(&["apt", "copy", "systemd", "stat", "file", "lineinfile"]);
    let end = t + sim.rng.range(4_000, 40_000);
    let hostname = &sim.world.hosts[host].name;
    let ip = admin.workstation;
    let mut line = |t: i64, program: &str, pid: Option<u32>, msg: String| {
        out.push((t, auth_log::line(t, hostname, program, pid, &msg)));
    };
    line(t, "sshd", pid, format!("Accepted publickey for ansible from {ip} port {port} ssh2: {}", admin.key));
    line(
        t,
        "sshd",
        pid,
        format!("pam_unix(sshd:session): session opened for user ansible(uid={}) by (uid=0)", admin.uid),
    );
    let command = format!(
        "/bin/sh -c echo BECOME-SUCCESS-{marker} ; /usr/bin/python3 /home/ansible/.ansible/tmp/{tmp}/AnsiballZ_{module}.py"
    );
    let at = t + 1_500;
    line(at, "sudo", None, auth_log::sudo_command("ansible", "pts/1", "/home/ansible", "root", &command));
    line(
        at,
        "sudo",
        None,
        format!("pam_unix(sudo:session): session opened for user root(uid=0) by ansible(uid={})", admin.uid),
    );
    line(end - 500, "sudo", None, "pam_unix(sudo:session): session closed for user root".to_string());
    line(end, "sshd", pid, format!("Received disconnect from {ip} port {port}:11: disconnected by user"));
    line(end, "sshd", pid, format!("Disconnected from user ansible {ip} port {port}"));
    line(end, "sshd", pid, "pam_unix(sshd:session): session closed for user ansible".to_string());
}

// ---- Tetragon ---------------------------------------------------------------------

fn probe(sim: &mut Sim, t: i64, out: &mut Out) {
    let candidates: Vec<usize> =
        (0..sim.world.background_pods).filter(|&i| sim.world.pods[i].workload.probe.is_some()).collect();
    let pod = *sim.rng.pick(&candidates);
    let (shim, workload) = (sim.world.pods[pod].shim.clone(), sim.world.pods[pod].workload);
    let Some(probe) = &workload.probe else { return };
    let sh_args = format!("-c \"{}\"", probe.shell_command);
    let sh = sim.spawn_in(Some(pod), &shim, "/bin/sh", Some(&sh_args), workload.uid, workload.cwd, t);
    let child_at = t + sim.rng.range(1, 4);
    let child = sim.spawn(&sh, probe.binary, Some(probe.arguments), workload.uid, workload.cwd, child_at);
    let connect_at = child_at + sim.rng.range(2, 6);
    let child_exit = connect_at + sim.rng.range(3, 30);
    let sh_exit = child_exit + sim.rng.range(1, 3);
    let port = sim.ephemeral_port();
    let cookie = sim.cookie();
    let w = &sim.world;
    out.push((t, tetragon::exec(w, &sh, &shim)));
    out.push((child_at, tetragon::exec(w, &child, &sh)));
    out.push((
        connect_at,
        tetragon::tcp_connect(w, &child, &sh, "127.0.0.1", port, "127.0.0.1", probe.port, connect_at, cookie),
    ));
    out.push((child_exit, tetragon::exit(w, &child, &sh, child_exit, 0)));
    out.push((sh_exit, tetragon::exit(w, &sh, &shim, sh_exit, 0)));
}

fn service_connection(sim: &mut Sim, t: i64, out: &mut Out) {
    let candidates: Vec<usize> =
        (0..sim.world.background_pods).filter(|&i| !sim.world.pods[i].workload.deps.is_empty()).collect();
    let pod = &sim.world.pods[*sim.rng.pick(&candidates)];
    let (daddr, dport) = *sim.rng.pick(pod.workload.deps);
    let (main, shim, saddr) = (pod.main.clone(), pod.shim.clone(), pod.ip.clone());
    let (sport, cookie) = (sim.ephemeral_port(), sim.cookie());
    out.push((t, tetragon::tcp_connect(&sim.world, &main, &shim, &saddr, sport, daddr, dport, t, cookie)));
}

fn scrape(sim: &mut Sim, t: i64, out: &mut Out) {
    let pods = sim.world.background_pods;
    let Some(prometheus) = (0..pods).find(|&i| sim.world.pods[i].workload.name == "prometheus") else { return };
    let target = sim.rng.below(pods as u64) as usize;
    if target == prometheus {
        return;
    }
    let (daddr, dport) = (sim.world.pods[target].ip.clone(), sim.world.pods[target].workload.metrics_port);
    let p = &sim.world.pods[prometheus];
    let (main, shim, saddr) = (p.main.clone(), p.shim.clone(), p.ip.clone());
    let (sport, cookie) = (sim.ephemeral_port(), sim.cookie());
    out.push((t, tetragon::tcp_connect(&sim.world, &main, &shim, &saddr, sport, &daddr, dport, t, cookie)));
}

/// A cron job on a node (no pod): `/bin/sh -c …` and the program it runs.
fn host_job(sim: &mut Sim, t: i64, out: &mut Out) {
    const JOBS: &[(&str, &str, &str)] = &[
        ("command -v debian-sa1 > /dev/null && debian-sa1 1 1", "/usr/lib/sysstat/debian-sa1", "1 1"),
        ("/usr/sbin/logrotate /etc/logrotate.conf", "/usr/sbin/logrotate", "/etc/logrotate.conf"),
        ("   cd / && run-parts --report /etc/cron.hourly", "/usr/bin/run-parts", "--report /etc/cron.hourly"),
        (
            "/usr/bin/find /var/log/pods -name '*.gz' -mtime +7 -delete",
            "/usr/bin/find",
            "/var/log/pods -name *.gz -mtime +7 -delete",
        ),
    ];
    let host = sim.rng.below(sim.world.hosts.len() as u64) as usize;
    let cron = sim.world.hosts[host].cron.clone();
    let (shell_command, binary, arguments) = *sim.rng.pick(JOBS);
    let sh_args = format!("-c \"{shell_command}\"");
    let sh = sim.spawn(&cron, "/bin/sh", Some(&sh_args), 0, "/root", t);
    let child_at = t + sim.rng.range(1, 3);
    let child = sim.spawn(&sh, binary, Some(arguments), 0, "/root", child_at);
    let child_exit = child_at + sim.rng.range(5, 900);
    let w = &sim.world;
    out.push((t, tetragon::exec(w, &sh, &cron)));
    out.push((child_at, tetragon::exec(w, &child, &sh)));
    out.push((child_exit, tetragon::exit(w, &child, &sh, child_exit, 0)));
    out.push((child_exit + 1, tetragon::exit(w, &sh, &cron, child_exit + 1, 0)));
}

// ---- Cowrie -----------------------------------------------------------------------

pub(crate) const SSH_CLIENTS: &[&str] = &[
    "SSH-2.0-Go",
    "SSH-2.0-libssh_0.9.6",
    "SSH-2.0-libssh2_1.10.0",
    "SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.14",
    "SSH-2.0-paramiko_3.4.0",
    "SSH-2.0-OpenSSH_7.4",
];

/// (hassh, hasshAlgorithms) pairs of common clients.
pub(crate) const HASSH: &[(&str, &str)] = &[
    ("0a07365cc01fa9fc82608ba4019af499", "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,diffie-hellman-group14-sha256,diffie-hellman-group14-sha1;aes128-gcm@openssh.com,aes256-gcm@openssh.com,chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr;hmac-sha2-256-etm@openssh.com,hmac-sha2-256,hmac-sha1;none"),
    ("e1d88fdd485f9c710074daa1fcce80a6", "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,sntrup761x25519-sha512@openssh.com,diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,diffie-hellman-group14-sha256,ext-info-c,kex-strict-c-v00@openssh.com;chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com;umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha1-etm@openssh.com,umac-64@openssh.com,umac-128@openssh.com,hmac-sha2-256,hmac-sha2-512,hmac-sha1;none,zlib@openssh.com,zlib"),
    ("f555226df1963d1d3c09daf865abdc9a", "curve25519-sha256@libssh.org,ecdh-sha2-nistp256,diffie-hellman-group14-sha1,diffie-hellman-group1-sha1;aes128-ctr,aes192-ctr,aes256-ctr,aes256-cbc,aes192-cbc,aes128-cbc,blowfish-cbc,3des-cbc;hmac-sha2-256,hmac-sha1;none"),
];

/// Bot credentials seen on every honeypot.
pub(crate) const BOT_CREDENTIALS: &[(&str, &str)] = &[
    ("root", "123456"),
    ("root", "root"),
    ("admin", "admin"),
    ("root", "password"),
    ("ubuntu", "ubuntu"),
    ("user", "user"),
    ("test", "test"),
    ("pi", "raspberry"),
    ("oracle", "oracle"),
    ("postgres", "postgres"),
    ("root", "1qaz2wsx"),
    ("admin", "admin123"),
];

pub(crate) fn cowrie_session(sim: &mut Sim, src_ip: String) -> Session<'_> {
    let src_port = sim.ephemeral_port();
    let id = sim.rng.hex(12);
    Session { sensor: &sim.world.sensor, src_ip, src_port, id }
}

/// A scanner connects, announces its client, tries at most two passwords and leaves.
fn honeypot_scanner(sim: &mut Sim, t: i64, out: &mut Out) {
    let ip = sim.scanner_ip();
    let client = *sim.rng.pick(SSH_CLIENTS);
    let (hassh, algorithms) = *sim.rng.pick(HASSH);
    let with_kex = sim.rng.chance(0.7);
    let attempts = sim.rng.range(0, 2);
    let creds: Vec<(&str, &str)> = (0..attempts).map(|_| *sim.rng.pick(BOT_CREDENTIALS)).collect();
    let gaps: Vec<i64> = (0..8).map(|_| sim.rng.range(150, 4_000)).collect();
    let subs: Vec<u32> = (0..8).map(|_| sim.rng.below(1000) as u32 * 1000 + sim.rng.below(1000) as u32).collect();
    let session = cowrie_session(sim, ip);
    let mut at = t;
    out.push((at, session.connect(at, subs[0])));
    at += gaps[0];
    out.push((at, session.client_version(at, subs[1], client)));
    if with_kex {
        at += 3;
        out.push((at, session.client_kex(at, subs[2], hassh, algorithms)));
    }
    for (i, (user, password)) in creds.iter().enumerate() {
        at += gaps[1 + i];
        out.push((at, session.login(at, subs[3 + i], user, password, false)));
    }
    at += gaps[5];
    out.push((at, session.closed(at, subs[6], at - t)));
}

/// A bot that only checks the credentials work (`echo -e "\x6F\x6B"`) and leaves.
fn honeypot_login_check(sim: &mut Sim, t: i64, out: &mut Out) {
    let ip = sim.scanner_ip();
    let client = *sim.rng.pick(SSH_CLIENTS);
    let (user, password) = *sim.rng.pick(BOT_CREDENTIALS);
    let gaps: Vec<i64> = (0..4).map(|_| sim.rng.range(100, 2_500)).collect();
    let subs: Vec<u32> = (0..6).map(|_| sim.rng.below(1_000_000) as u32).collect();
    let session = cowrie_session(sim, ip);
    let mut at = t;
    out.push((at, session.connect(at, subs[0])));
    at += gaps[0];
    out.push((at, session.client_version(at, subs[1], client)));
    at += gaps[1];
    out.push((at, session.login(at, subs[2], user, password, true)));
    at += 8;
    out.push((at, session.session_params(at, subs[3], "linux-x64-lsb")));
    at += gaps[2];
    out.push((at, session.command(at, subs[4], r#"echo -e "\x6F\x6B""#)));
    at += gaps[3];
    out.push((at, session.closed(at, subs[5], at - t)));
}

// ---- Kubernetes audit -------------------------------------------------------------

pub(crate) const KUBECTL_UA: &str = "kubectl/v1.29.2 (linux/amd64) kubernetes/4b8e819";
const K8S_VERSION: &str = "v1.29.4 (linux/amd64) kubernetes/55019c8";

fn audit_event(sim: &mut Sim, t: i64, out: &mut Out) {
    let audit_id = sim.rng.uuid();
    let sub_ns = sim.rng.below(1_000_000) as u32;
    let latency = sim.rng.range(1, 40);
    let host = sim.rng.below(sim.world.hosts.len() as u64) as usize;
    let node = sim.world.hosts[host].name.clone();
    let node_ip = sim.world.hosts[host].ip.clone();
    let pod_index = sim.rng.below(sim.world.background_pods as u64) as usize;
    let pod = sim.world.pods[pod_index].clone();
    let cp = sim.world.control_plane_ip;
    let kind = sim.rng.weighted(&[6, 5, 2, 1, 1, 2, 2, 3, 1]);
    let rv = sim.rng.range(1_000_000, 90_000_000);
    let cm_ua = format!("kube-controller-manager/{K8S_VERSION}/leader-election");
    let kubelet_ua = format!("kubelet/{K8S_VERSION}");
    let node_user = format!("system:node:{node}");
    let mut ev = AuditEvent {
        level: "Metadata",
        stage: "ResponseComplete",
        request_uri: String::new(),
        verb: "get",
        username: "",
        groups: &[],
        source_ip: cp,
        user_agent: "",
        resource: "",
        subresource: None,
        namespace: None,
        name: None,
        api_group: "",
        api_version: "v1",
        code: 200,
        request_object: None,
        reason: String::new(),
    };
    let scheduler_ua = format!("kube-scheduler/{K8S_VERSION}/leader-election");
    let gc_user;
    let gc_ua;
    let operator_user;
    let alice_uri;
    let pod_spec;
    match kind {
        0 => {
            // Leader-election lease renewal of a control-plane component.
            let (user, name, ua) = if sim.rng.chance(0.5) {
                ("system:kube-controller-manager", "kube-controller-manager", cm_ua.as_str())
            } else {
                ("system:kube-scheduler", "kube-scheduler", scheduler_ua.as_str())
            };
            ev.verb = "update";
            ev.request_uri = format!("/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/{name}?timeout=5s");
            ev.username = user;
            ev.groups = &["system:authenticated"];
            ev.user_agent = ua;
            ev.resource = "leases";
            ev.namespace = Some("kube-system");
            ev.name = Some(name);
            ev.api_group = "coordination.k8s.io";
            ev.reason = format!("RBAC: allowed by ClusterRoleBinding \"system:{name}\" of ClusterRole \"system:{name}\" to User \"{user}\"");
        }
        1 => {
            // The kubelet renews its node lease.
            ev.verb = "update";
            ev.request_uri =
                format!("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{node}?timeout=10s");
            ev.username = &node_user;
            ev.groups = &["system:nodes", "system:authenticated"];
            ev.source_ip = &node_ip;
            ev.user_agent = &kubelet_ua;
            ev.resource = "leases";
            ev.namespace = Some("kube-node-lease");
            ev.name = Some(&node);
            ev.api_group = "coordination.k8s.io";
        }
        2 => {
            ev.verb = "patch";
            ev.request_uri = format!("/api/v1/nodes/{node}/status?timeout=10s");
            ev.username = &node_user;
            ev.groups = &["system:nodes", "system:authenticated"];
            ev.source_ip = &node_ip;
            ev.user_agent = &kubelet_ua;
            ev.resource = "nodes";
            ev.name = Some(&node);
            ev.subresource = Some("status");
        }
        3 => {
            // kube-system controllers list secrets (the rule leaves kube-system out).
            let controller =
                *sim.rng.pick(&["generic-garbage-collector", "namespace-controller", "resourcequota-controller"]);
            gc_user = format!("system:serviceaccount:kube-system:{controller}");
            gc_ua = format!("kube-controller-manager/{K8S_VERSION}/system:serviceaccount:kube-system:{controller}");
            ev.verb = "list";
            ev.request_uri = "/api/v1/secrets?limit=500&resourceVersion=0".into();
            ev.username = &gc_user;
            ev.groups = &["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"];
            ev.user_agent = &gc_ua;
            ev.resource = "secrets";
            ev.reason = format!("RBAC: allowed by ClusterRoleBinding \"system:controller:{controller}\" of ClusterRole \"system:controller:{controller}\" to ServiceAccount \"{controller}/kube-system\"");
        }
        4 => {
            // Secret-managing operators (the rule pack's global filter).
            let (ns, sa, ua) = *sim.rng.pick(&[
                ("cert-manager", "cert-manager", "cert-manager-controller/v1.14.4 (linux/amd64) cert-manager/4f5d1a2"),
                ("argocd", "argocd-application-controller", "argocd-application-controller/v2.11.3 (linux/amd64)"),
            ]);
            operator_user = format!("system:serviceaccount:{ns}:{sa}");
            ev.verb = "watch";
            ev.stage = "ResponseStarted";
            ev.request_uri =
                format!("/api/v1/secrets?allowWatchBookmarks=true&resourceVersion={rv}&timeout=7m21s&watch=true");
            ev.username = &operator_user;
            ev.groups = &["system:serviceaccounts", "system:authenticated"];
            ev.source_ip = &pod.ip;
            ev.user_agent = ua;
            ev.resource = "secrets";
            ev.reason = format!(
                "RBAC: allowed by ClusterRoleBinding \"{sa}\" of ClusterRole \"{sa}\" to ServiceAccount \"{sa}/{ns}\""
            );
        }
        5 => {
            // Prometheus service discovery.
            let resource = *sim.rng.pick(&["pods", "endpoints", "services"]);
            ev.verb = "watch";
            ev.stage = "ResponseStarted";
            ev.request_uri =
                format!("/api/v1/{resource}?allowWatchBookmarks=true&resourceVersion={rv}&timeout=9m2s&watch=true");
            ev.username = "system:serviceaccount:monitoring:prometheus";
            ev.groups = &["system:serviceaccounts", "system:serviceaccounts:monitoring", "system:authenticated"];
            ev.user_agent = "Prometheus/2.53.0";
            ev.resource = resource;
            ev.reason = "RBAC: allowed by ClusterRoleBinding \"prometheus\" of ClusterRole \"prometheus\" to ServiceAccount \"prometheus/monitoring\"".into();
        }
        6 => {
            // An administrator reads a pod's logs.
            alice_uri = format!(
                "/api/v1/namespaces/{}/pods/{}/log?container={}&tailLines=100",
                pod.workload.namespace, pod.name, pod.workload.container
            );
            ev.request_uri = alice_uri.clone();
            ev.username = "alice@acme-shop.example";
            ev.groups = &["sre", "system:authenticated"];
            ev.source_ip = "10.8.0.12";
            ev.user_agent = KUBECTL_UA;
            ev.resource = "pods";
            ev.namespace = Some(pod.workload.namespace);
            ev.name = Some(&pod.name);
            ev.subresource = Some("log");
            ev.reason =
                "RBAC: allowed by ClusterRoleBinding \"sre-view\" of ClusterRole \"view\" to Group \"sre\"".into();
        }
        7 => {
            // An administrator lists pods or deployments.
            let deployments = sim.rng.chance(0.4);
            ev.verb = "list";
            ev.request_uri = if deployments {
                format!("/apis/apps/v1/namespaces/{}/deployments?limit=500", pod.workload.namespace)
            } else {
                format!("/api/v1/namespaces/{}/pods?limit=500", pod.workload.namespace)
            };
            ev.username = "alice@acme-shop.example";
            ev.groups = &["sre", "system:authenticated"];
            ev.source_ip = "10.8.0.12";
            ev.user_agent = KUBECTL_UA;
            ev.resource = if deployments { "deployments" } else { "pods" };
            ev.api_group = if deployments { "apps" } else { "" };
            ev.namespace = Some(pod.workload.namespace);
            ev.reason =
                "RBAC: allowed by ClusterRoleBinding \"sre-view\" of ClusterRole \"view\" to Group \"sre\"".into();
        }
        _ => {
            // The ReplicaSet controller replaces a pod: hardened spec, nothing privileged.
            let w = pod.workload;
            pod_spec = Obj::new()
                .str("kind", "Pod")
                .str("apiVersion", "v1")
                .obj(
                    "metadata",
                    Obj::new()
                        .str("generateName", &format!("{}-{}-", w.name, sim.rng.chars(crate::world::K8S_SUFFIX, 10)))
                        .str("namespace", w.namespace)
                        .obj("labels", Obj::new().str("app.kubernetes.io/name", w.name)),
                )
                .obj(
                    "spec",
                    Obj::new()
                        .objs(
                            "containers",
                            vec![Obj::new().str("name", w.container).str("image", w.image).obj(
                                "securityContext",
                                Obj::new()
                                    .bool("allowPrivilegeEscalation", false)
                                    .bool("privileged", false)
                                    .bool("readOnlyRootFilesystem", true),
                            )],
                        )
                        .str("serviceAccountName", w.service_account)
                        .obj(
                            "securityContext",
                            Obj::new().bool("runAsNonRoot", true).num("runAsUser", w.uid.max(1000) as i64),
                        ),
                )
                .finish();
            ev.level = "Request";
            ev.verb = "create";
            ev.request_uri = format!("/api/v1/namespaces/{}/pods", w.namespace);
            ev.username = "system:serviceaccount:kube-system:replicaset-controller";
            ev.groups = &["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"];
            ev.user_agent = &cm_ua;
            ev.resource = "pods";
            ev.namespace = Some(w.namespace);
            ev.code = 201;
            ev.request_object = Some(pod_spec.clone());
            ev.reason = "RBAC: allowed by ClusterRoleBinding \"system:controller:replicaset-controller\" of ClusterRole \"system:controller:replicaset-controller\" to ServiceAccount \"replicaset-controller/kube-system\"".into();
        }
    }
    out.push((t, ev.line(&audit_id, t, sub_ns, latency)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pools_hand_out_distinct_public_addresses() {
        let mut seen = std::collections::HashSet::new();
        for n in 0..200_000u64 {
            let ip = pool_ip(SCANNER_NETS, n, 7);
            let octets: Vec<u32> = ip.split('.').map(|o| o.parse().unwrap()).collect();
            assert!(octets.iter().all(|&o| o <= 255) && octets[3] >= 1 && octets[3] <= 254, "{ip}");
            assert!(seen.insert(ip));
        }
        for n in 0..1000 {
            assert!(!seen.contains(&pool_ip(ATTACKER_NETS, n, 7)));
        }
        assert!(SCANNER_NETS.iter().all(|n| !ATTACKER_NETS.contains(n)));
    }
}
