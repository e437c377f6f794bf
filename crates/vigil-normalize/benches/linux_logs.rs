//! Decode throughput of the syslog (auth.log) and auditd decoders, in events per second.
//!
//! Data: `$VIGIL_CORPUS/samples/linux-auth/loghub/OpenSSH_2k.log` (2,000 real sshd lines)
//! and the OTRF auditd samples (raw lines and auoms JSON), or a few built-in lines when
//! the corpus is absent. Each iteration decodes the whole set with a fresh decoder and
//! flushes it, so auditd's joining is included.

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use vigil_normalize::{decoder_for, Normalized, SourceKind};

const AUTH_FALLBACK: &[&str] = &[
    "Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186",
    "Dec 10 06:55:48 LabSZ sshd[24200]: Failed password for invalid user webmaster from 173.234.31.186 port 38926 ssh2",
    "Dec 10 07:02:47 LabSZ sshd[24203]: Received disconnect from 52.80.34.196: 11: Bye Bye [preauth]",
    "Feb 23 00:08:48 localhost sudo: vagrant : TTY=pts/1 ; PWD=/home/vagrant ; USER=root ; COMMAND=/bin/cat /var/log/secure",
];

const AUDITD_FALLBACK: &[&str] = &[
    r#"type=SYSCALL msg=audit(1604994496.155:92733): arch=c000003e syscall=59 success=yes exit=0 a0=558e251634a0 a1=558e25162a50 a2=558e25160800 a3=8 items=2 ppid=29002 pid=1631 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=104 comm="arp" exe="/usr/sbin/arp" key=(null)"#,
    r#"type=EXECVE msg=audit(1604994496.155:92733): argc=2 a0="arp" a1="-a""#,
    r#"type=CWD msg=audit(1604994496.155:92733): cwd="/home/wardog""#,
    r#"type=PATH msg=audit(1604994496.155:92733): item=0 name="/usr/sbin/arp" inode=13181 dev=08:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0"#,
    r#"type=PROCTITLE msg=audit(1604994496.155:92733): proctitle=617270002D61"#,
];

fn corpus() -> Option<PathBuf> {
    let dir = std::env::var_os("VIGIL_CORPUS").map(PathBuf::from).unwrap_or_else(|| "/work/shared/corpus".into());
    let dir = if dir.is_absolute() { dir } else { PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(dir) };
    dir.join("samples").is_dir().then_some(dir)
}

fn read_lines(paths: &[PathBuf]) -> Vec<String> {
    paths
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .flat_map(|t| t.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect::<Vec<_>>())
        .collect()
}

fn data() -> (Vec<String>, Vec<String>) {
    let fallback = |l: &[&str]| l.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let Some(c) = corpus() else { return (fallback(AUTH_FALLBACK), fallback(AUDITD_FALLBACK)) };
    let auth = read_lines(&[c.join("samples/linux-auth/loghub/OpenSSH_2k.log")]);
    let auditd = read_lines(&[
        c.join("samples/otrf-security-datasets/linux/sh_arp_cache_2020-11-10074812.log"),
        c.join("samples/otrf-security-datasets/linux/sh_binary_padding_dd_2020-11-10081941.log"),
    ]);
    // Several copies with distinct serials, so the joiner sees many events.
    let auditd: Vec<String> = (0..100)
        .flat_map(|i| {
            auditd.iter().map(move |l| l.replace(":927", &format!(":{i}927")).replace(":937", &format!(":{i}937")))
        })
        .collect();
    let auoms =
        read_lines(&[c.join("samples/otrf-security-datasets/log4shell/syslog_auoms_auditd_log4shell_cve2021_44228_jndi_reference_2022-05-11181020.json")]);
    let auth = if auth.is_empty() { fallback(AUTH_FALLBACK) } else { auth };
    let mut all_auditd = if auditd.is_empty() { fallback(AUDITD_FALLBACK) } else { auditd };
    all_auditd.extend(auoms);
    (auth, all_auditd)
}

fn decode(kind: SourceKind, lines: &[String], out: &mut Vec<Normalized>) -> usize {
    let mut decoder = decoder_for(kind);
    out.clear();
    for l in lines {
        let _ = decoder.decode(l, out);
    }
    decoder.flush(out);
    out.len()
}

fn bench(c: &mut Criterion) {
    let (auth, auditd) = data();
    let mut out = Vec::new();
    let mut group = c.benchmark_group("linux_logs");
    let auth_events = decode(SourceKind::Syslog, &auth, &mut out);
    group.throughput(Throughput::Elements(auth_events as u64));
    group.bench_function("syslog auth.log (events)", |b| b.iter(|| decode(SourceKind::Syslog, &auth, &mut out)));
    let auditd_events = decode(SourceKind::Auditd, &auditd, &mut out);
    group.throughput(Throughput::Elements(auditd_events as u64));
    group.bench_function("auditd (events)", |b| b.iter(|| decode(SourceKind::Auditd, &auditd, &mut out)));
    group.throughput(Throughput::Elements(auditd.len() as u64));
    group.bench_function("auditd (records)", |b| b.iter(|| decode(SourceKind::Auditd, &auditd, &mut out)));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
