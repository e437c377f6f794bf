//! auditd decoding on the real samples (`$VIGIL_CORPUS/samples/otrf-security-datasets`:
//! raw audit.log lines, and auoms records in Sentinel's Syslog JSON), a corrupted copy,
//! and snapshots of one event of each kind.

mod linux_common;

use linux_common::{corpus, decode_all, lines, one, view};
use vigil_normalize::{DeadLetterReason, RawRecord, SourceKind};

/// (file, events expected): raw logs join their records per serial (6 records per
/// execve); the JSON file has one auoms record — one event — per line.
const SAMPLES: [(&str, usize); 3] = [
    ("samples/otrf-security-datasets/linux/sh_arp_cache_2020-11-10074812.log", 2),
    ("samples/otrf-security-datasets/linux/sh_binary_padding_dd_2020-11-10081941.log", 1),
    ("samples/otrf-security-datasets/log4shell/syslog_auoms_auditd_log4shell_cve2021_44228_jndi_reference_2022-05-11181020.json", 50),
];

#[test]
fn samples_decode_without_dead_letters() {
    let Some(corpus) = corpus() else { return };
    for (sample, events) in SAMPLES {
        let records = lines(&corpus.join(sample));
        let (out, errors) = decode_all(&records, SourceKind::Auditd);
        assert!(errors.is_empty(), "{sample}: {errors:?}");
        assert_eq!(out.len(), events, "{sample}");
        for n in &out {
            assert!(n.time.is_some());
            assert_eq!(n.ocsf["class_uid"], 1007, "{sample}: every sample event is an execve");
            assert!(n.sigma.as_value().get("CommandLine").is_some() && n.sigma.as_value().get("Image").is_some());
        }
    }
    // The dd sample: the joined event carries the arguments SigmaHQ's rules test.
    let records = lines(&corpus.join(SAMPLES[1].0));
    let (out, _) = decode_all(&records, SourceKind::Auditd);
    assert_eq!(out[0].sigma["CommandLine"], "dd if=/dev/zero bs=1 count=1");
    assert_eq!(out[0].sigma["proctitle"], "dd if=/dev/zero bs=1 count=1");
    assert!(matches!(&out[0].raw, RawRecord::Text(t) if t.lines().count() == 6));
}

/// A corrupted copy of the arp log: broken lines are dead letters with the right
/// reason; the good lines still join into the same two events.
#[test]
fn corrupted_copy_yields_dead_letters_and_keeps_good_lines() {
    let Some(corpus) = corpus() else { return };
    let good = lines(&corpus.join(SAMPLES[0].0));
    let broken: Vec<(String, DeadLetterReason)> = vec![
        (good[0].replace("audit(1604994496.155:92733)", "audit(16049x4496.155:92733)"), DeadLetterReason::InvalidField),
        (good[1].replace(":92733)", ":serial)"), DeadLetterReason::InvalidField),
        (good[2].replace("): cwd", " cwd"), DeadLetterReason::Malformed),
        ("type=PATH item=0 name=\"/x\" audit(".to_owned(), DeadLetterReason::MissingField),
        (format!("type=EXECVE msg=audit(1.0:1): a0={}", "41".repeat(600 * 1024)), DeadLetterReason::TooLarge),
        (r#"{"SyslogMessage": 5, "note": "type= audit("}"#.to_owned(), DeadLetterReason::InvalidJson),
        (r#"{"note": "type=SYSCALL audit(1.0:1):"}"#.to_owned(), DeadLetterReason::MissingField),
        ("node=web1".to_owned(), DeadLetterReason::UnknownFormat),
    ];
    let mut decoder = vigil_normalize::AutoDecoder::new(None);
    let mut out = Vec::new();
    for (i, line) in good.iter().enumerate() {
        decoder.decode(line, &mut out).unwrap_or_else(|e| panic!("{line}: {e}"));
        if let Some((bad, reason)) = broken.get(i) {
            let err = decoder.decode(bad, &mut out).expect_err(&bad[..bad.len().min(80)]);
            assert_eq!(err.reason, *reason, "{}: {}", &bad[..bad.len().min(80)], err.message);
        }
    }
    decoder.flush(&mut out);
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].sigma["CommandLine"], "arp -a");
    assert_eq!(out[1].sigma["CommandLine"], "grep -v ^?");
}

const EXECVE: [&str; 6] = [
    r#"type=SYSCALL msg=audit(1604994496.155:92733): arch=c000003e syscall=59 success=yes exit=0 a0=558e251634a0 a1=558e25162a50 a2=558e25160800 a3=8 items=2 ppid=29002 pid=1631 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=104 comm="arp" exe="/usr/sbin/arp" key=(null)"#,
    r#"type=EXECVE msg=audit(1604994496.155:92733): argc=2 a0="arp" a1="-a""#,
    r#"type=CWD msg=audit(1604994496.155:92733): cwd="/home/wardog""#,
    r#"type=PATH msg=audit(1604994496.155:92733): item=0 name="/usr/sbin/arp" inode=13181 dev=08:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0"#,
    r#"type=PATH msg=audit(1604994496.155:92733): item=1 name="/lib64/ld-linux-x86-64.so.2" inode=29514 dev=08:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0"#,
    r#"type=PROCTITLE msg=audit(1604994496.155:92733): proctitle=617270002D61"#,
];

/// One event of each kind. The execve and auoms events are real sample records; the
/// others are written in the shapes auditd logs them (file watch, connect, PAM, useradd,
/// ENRICHED format with `node=`).
#[test]
fn snapshot_one_event_of_each_kind() {
    insta::assert_json_snapshot!("auditd_execve_joined", view(&one(&EXECVE, SourceKind::Auditd)));
    let file = [
        r#"node=web1 type=SYSCALL msg=audit(1700000000.250:1201): arch=c000003e syscall=257 success=yes exit=3 a0=ffffff9c a1=7ffd5c1d2e10 a2=241 a3=1b6 items=2 ppid=900 pid=901 auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts1 ses=3 comm="bash" exe="/usr/bin/bash" key="cron""#,
        r#"node=web1 type=CWD msg=audit(1700000000.250:1201): cwd="/etc/cron.d""#,
        r#"node=web1 type=PATH msg=audit(1700000000.250:1201): item=0 name="/etc/cron.d" inode=131 dev=08:01 mode=040755 ouid=0 ogid=0 rdev=00:00 nametype=PARENT cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0"#,
        r#"node=web1 type=PATH msg=audit(1700000000.250:1201): item=1 name="backdoor" inode=777 dev=08:01 mode=0100644 ouid=0 ogid=0 rdev=00:00 nametype=CREATE cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0"#,
        r#"node=web1 type=PROCTITLE msg=audit(1700000000.250:1201): proctitle=2D62617368"#,
        r#"node=web1 type=EOE msg=audit(1700000000.250:1201): "#,
    ];
    insta::assert_json_snapshot!("auditd_file_create", view(&one(&file, SourceKind::Auditd)));
    let connect = [
        "type=SYSCALL msg=audit(1700000100.500:1300): arch=c000003e syscall=42 success=no exit=-115 a0=3 a1=55d0c0a8e2a0 a2=10 a3=0 items=0 ppid=1200 pid=1201 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=5 comm=\"nc\" exe=\"/usr/bin/nc.openbsd\" key=\"network_connect_4\"\x1dARCH=x86_64 SYSCALL=connect AUID=\"alice\" UID=\"alice\" GID=\"alice\" EUID=\"alice\" SUID=\"alice\" FSUID=\"alice\" EGID=\"alice\" SGID=\"alice\" FSGID=\"alice\"",
        "type=SOCKADDR msg=audit(1700000100.500:1300): saddr=0200115CC63364070000000000000000\x1dSADDR={ saddr_fam=inet laddr=198.51.100.7 lport=4444 }",
        "type=PROCTITLE msg=audit(1700000100.500:1300): proctitle=6E63003139382E35312E3130302E370034343434",
    ];
    insta::assert_json_snapshot!("auditd_connect", view(&one(&connect, SourceKind::Auditd)));
    let auth = "type=USER_AUTH msg=audit(1700000200.000:1400): pid=2100 uid=0 auid=4294967295 ses=4294967295 subj=unconfined msg='op=PAM:authentication grantors=? acct=\"root\" exe=\"/usr/sbin/sshd\" hostname=203.0.113.50 addr=203.0.113.50 terminal=ssh res=failed'\x1dUID=\"root\" AUID=\"unset\"";
    insta::assert_json_snapshot!("auditd_user_auth", view(&one(&[auth], SourceKind::Auditd)));
    let add_user = "type=ADD_USER msg=audit(1700000300.000:1500): pid=2200 uid=0 auid=1000 ses=3 msg='op=add-user id=1001 exe=\"/usr/sbin/useradd\" hostname=web1 addr=? terminal=pts/1 res=success'\x1dUID=\"root\" AUID=\"alice\" ID=\"mallory\"";
    insta::assert_json_snapshot!("auditd_add_user", view(&one(&[add_user], SourceKind::Auditd)));
    let Some(corpus) = corpus() else { return };
    let auoms = lines(&corpus.join(SAMPLES[2].0));
    let n = one(&[auoms[10].as_str()], SourceKind::Auditd);
    insta::assert_json_snapshot!("auditd_auoms_execve", view(&n));
}
