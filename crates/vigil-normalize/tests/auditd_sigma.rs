//! SigmaHQ's Linux rules (`$VIGIL_CORPUS/sigma/rules/linux/**`) fire on decoded auditd
//! and syslog events: the Sigma view keeps auditd's raw field names (`type`, `a0`…,
//! `name`, `exe`, `key`, `SYSCALL`) and the syslog `message`, and the logsource routes
//! the rules. Benign events fire nothing.

mod linux_common;

use std::collections::BTreeSet;
use std::path::Path;

use linux_common::{corpus, lines, one};
use vigil_normalize::{Normalized, SourceKind};
use vigil_sigma::loader::load_paths;
use vigil_sigma::{Compiled, Evaluator, PipelineSet};

/// Every Linux rule, compiled without a pipeline (the decoders write the field names
/// the rules use).
fn linux_rules(corpus: &Path) -> Compiled {
    let loaded = load_paths(&[corpus.join("sigma/rules/linux")]).expect("rules load");
    loaded.compile(&PipelineSet::default())
}

/// File stems of the rules that fire on `event`.
fn fired(rules: &Compiled, event: &Normalized) -> BTreeSet<String> {
    let mut evaluator = Evaluator::new(&rules.rules);
    let mut out = Vec::new();
    evaluator.evaluate_json(&event.sigma_json(), Some(&event.logsource), &mut out).expect("sigma view is JSON");
    out.iter()
        .map(|idx| {
            let meta = &rules.rules.rules()[*idx as usize].meta;
            let stem = meta.source.as_deref().and_then(Path::file_stem).and_then(|s| s.to_str());
            stem.map_or_else(|| meta.title.clone(), str::to_owned)
        })
        .collect()
}

fn assert_fires(rules: &Compiled, event: &Normalized, files: &[&str]) {
    let got = fired(rules, event);
    for file in files {
        assert!(got.contains(*file), "`{file}` did not fire; fired: {got:?}\nview: {}", event.sigma_json());
    }
}

fn auditd(lines: &[&str]) -> Normalized {
    one(lines, SourceKind::Auditd)
}

#[test]
fn sigmahq_auditd_rules_fire_on_auditd_events() {
    let Some(corpus) = corpus() else { return };
    let rules = linux_rules(&corpus);

    // Real sample: `dd if=/dev/zero bs=1 count=1 >> /tmp/psexec.py` (OTRF SDLIN-201110081941).
    let dd = lines(&corpus.join("samples/otrf-security-datasets/linux/sh_binary_padding_dd_2020-11-10081941.log"));
    let dd: Vec<&str> = dd.iter().map(String::as_str).collect();
    assert_fires(&rules, &auditd(&dd), &["lnx_auditd_binary_padding", "lnx_auditd_dd_delete_file"]);

    // Real sample: `arp -a` (OTRF SDLIN-201110074812, T1018). A successful execve is also
    // `category: process_creation`, so SigmaHQ's Linux process_creation rules read its
    // `Image` / `CommandLine`.
    let arp = lines(&corpus.join("samples/otrf-security-datasets/linux/sh_arp_cache_2020-11-10074812.log"));
    let (events, errors) = linux_common::decode_all(&arp, SourceKind::Auditd);
    assert!(errors.is_empty());
    assert_fires(&rules, &events[0], &["proc_creation_lnx_remote_system_discovery"]);

    // EXECVE arguments (`type: EXECVE`, `a0`, `a1`, `a2`).
    let getcap = auditd(&[
        r#"type=SYSCALL msg=audit(1700001000.100:2001): arch=c000003e syscall=59 success=yes exit=0 a0=5611 a1=5612 a2=5613 a3=0 items=2 ppid=700 pid=701 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=2 comm="getcap" exe="/usr/sbin/getcap" key=(null)"#,
        r#"type=EXECVE msg=audit(1700001000.100:2001): argc=3 a0="getcap" a1="-r" a2="/""#,
        r#"type=CWD msg=audit(1700001000.100:2001): cwd="/home/alice""#,
        r#"type=PATH msg=audit(1700001000.100:2001): item=0 name="/usr/sbin/getcap" inode=1 dev=08:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL"#,
        r#"type=PROCTITLE msg=audit(1700001000.100:2001): proctitle=676574636170002D72002F"#,
    ]);
    assert_fires(&rules, &getcap, &["lnx_auditd_capabilities_discovery"]);
    let chmod = auditd(&[
        r#"type=SYSCALL msg=audit(1700001001.100:2002): arch=c000003e syscall=59 success=yes exit=0 a0=5611 a1=5612 a2=5613 a3=0 items=2 ppid=700 pid=702 auid=1000 uid=1000 comm="chmod" exe="/usr/bin/chmod" key=(null)"#,
        r#"type=EXECVE msg=audit(1700001001.100:2002): argc=3 a0="chmod" a1="777" a2="/tmp/x""#,
    ]);
    assert_fires(&rules, &chmod, &["lnx_auditd_susp_cmds"]);

    // SYSCALL record: the syscall named from its number (`SYSCALL: personality`), and
    // its a0 kept since there is no EXECVE (`a0: 40000`, ADDR_NO_RANDOMIZE).
    let aslr = auditd(&[
        r#"type=SYSCALL msg=audit(1700001002.100:2003): arch=c000003e syscall=135 success=yes exit=0 a0=40000 a1=0 a2=0 a3=0 items=0 ppid=700 pid=703 auid=1000 uid=1000 comm="setarch" exe="/usr/bin/setarch" key="personality""#,
        r#"type=PROCTITLE msg=audit(1700001002.100:2003): proctitle=73657461726368002D52"#,
    ]);
    assert_fires(&rules, &aslr, &["lnx_auditd_disable_aslr_protection"]);

    // PATH record (`type: PATH`, `name`).
    let preload = auditd(&[
        r#"type=SYSCALL msg=audit(1700001003.100:2004): arch=c000003e syscall=257 success=yes exit=3 a0=ffffff9c a1=7ffd a2=241 a3=1b6 items=2 ppid=700 pid=704 auid=1000 uid=0 comm="tee" exe="/usr/bin/tee" key="preload""#,
        r#"type=CWD msg=audit(1700001003.100:2004): cwd="/root""#,
        r#"type=PATH msg=audit(1700001003.100:2004): item=0 name="/etc/" inode=2 dev=08:01 mode=040755 ouid=0 ogid=0 rdev=00:00 nametype=PARENT"#,
        r#"type=PATH msg=audit(1700001003.100:2004): item=1 name="/etc/ld.so.preload" inode=9 dev=08:01 mode=0100644 ouid=0 ogid=0 rdev=00:00 nametype=CREATE"#,
        r#"type=EOE msg=audit(1700001003.100:2004): "#,
    ]);
    assert_fires(&rules, &preload, &["lnx_auditd_ld_so_preload_mod"]);

    // A user-space record (`type: ADD_USER`).
    let add_user = auditd(&[
        "type=ADD_USER msg=audit(1700001004.000:2005): pid=705 uid=0 auid=1000 ses=2 msg='op=add-user id=1001 exe=\"/usr/sbin/useradd\" hostname=web1 addr=? terminal=pts/0 res=success'",
    ]);
    assert_fires(&rules, &add_user, &["lnx_auditd_create_account"]);

    // connect with the rule's key (`exe|endswith: /nc.openbsd`, `key: network_connect_4`).
    let nc = auditd(&[
        r#"type=SYSCALL msg=audit(1700001005.100:2006): arch=c000003e syscall=42 success=no exit=-115 a0=3 a1=55d0 a2=10 a3=0 items=0 ppid=700 pid=706 auid=1000 uid=1000 comm="nc" exe="/usr/bin/nc.openbsd" key="network_connect_4""#,
        r#"type=SOCKADDR msg=audit(1700001005.100:2006): saddr=02000016C0A80105"#,
    ]);
    assert_fires(&rules, &nc, &["lnx_auditd_network_service_scanning"]);

    // ENRICHED format: `SYSCALL=execve` interpreted by auditd, `euid: 33` (www-data).
    let web = auditd(&[
        "type=SYSCALL msg=audit(1700001006.100:2007): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=0 items=1 ppid=800 pid=801 auid=4294967295 uid=33 gid=33 euid=33 suid=33 fsuid=33 egid=33 sgid=33 fsgid=33 tty=(none) ses=4294967295 comm=\"sh\" exe=\"/usr/bin/dash\" key=\"detect_execve_www\"\x1dARCH=x86_64 SYSCALL=execve AUID=\"unset\" UID=\"www-data\" GID=\"www-data\" EUID=\"www-data\"",
        r#"type=EXECVE msg=audit(1700001006.100:2007): argc=3 a0="sh" a1="-c" a2="id""#,
    ]);
    assert_fires(&rules, &web, &["lnx_auditd_web_rce"]);
    assert_eq!(web.sigma["User"], "www-data");
}

#[test]
fn benign_auditd_event_fires_nothing() {
    let Some(corpus) = corpus() else { return };
    let rules = linux_rules(&corpus);
    let benign = auditd(&[
        r#"type=SYSCALL msg=audit(1700002000.100:3001): arch=c000003e syscall=59 success=yes exit=0 a0=5611 a1=5612 a2=5613 a3=0 items=2 ppid=700 pid=900 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=2 comm="ls" exe="/usr/bin/ls" key=(null)"#,
        r#"type=EXECVE msg=audit(1700002000.100:3001): argc=2 a0="ls" a1="--color=auto""#,
        r#"type=CWD msg=audit(1700002000.100:3001): cwd="/home/alice/projects""#,
        r#"type=PATH msg=audit(1700002000.100:3001): item=0 name="/usr/bin/ls" inode=1 dev=08:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL"#,
        r#"type=PROCTITLE msg=audit(1700002000.100:3001): proctitle=6C73002D2D636F6C6F723D6175746F"#,
    ]);
    let got = fired(&rules, &benign);
    assert!(got.is_empty(), "benign execve fired {got:?}");
}

#[test]
fn sigmahq_syslog_rules_fire_on_auth_log_lines() {
    let Some(corpus) = corpus() else { return };
    let rules = linux_rules(&corpus);
    let syslog = |line: &str| one(&[line], SourceKind::Syslog);
    // `service: sshd` keyword rule.
    let mac = syslog("Mar  3 11:00:00 bastion sshd[4100]: Corrupted MAC on input. [preauth]");
    assert_fires(&rules, &mac, &["lnx_sshd_susp_ssh"]);
    // `product: linux` keyword rule on a useradd line (the rule's own example).
    let root_user = syslog(
        "Dec 21 17:13:54 testserver useradd[1337]: new user: name=john, UID=0, GID=0, home=/home/john, shell=/bin/bash",
    );
    assert_fires(&rules, &root_user, &["lnx_privileged_user_creation"]);
    // Benign: an ordinary logon and a normal user creation fire nothing.
    for line in [
        "Feb 21 21:54:44 localhost sshd[3402]: Accepted publickey for vagrant from 10.0.2.2 port 63673 ssh2",
        "Feb 22 11:47:05 localhost useradd[6995]: new user: name=apache, UID=48, GID=48, home=/usr/share/httpd, shell=/sbin/nologin",
    ] {
        let got = fired(&rules, &syslog(line));
        assert!(got.is_empty(), "{line} fired {got:?}");
    }
}
