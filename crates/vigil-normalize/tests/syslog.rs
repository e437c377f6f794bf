//! Syslog / auth.log decoding on the real samples (`$VIGIL_CORPUS/samples/linux-auth`),
//! a corrupted copy, and snapshots of one event of each kind.

mod linux_common;

use std::collections::BTreeMap;

use linux_common::{corpus, decode_all, lines, one, view};
use vigil_normalize::{DeadLetterReason, SourceKind};

const SAMPLES: [&str; 5] = [
    "samples/linux-auth/elastic-integrations-system-auth/test-auth.log",
    "samples/linux-auth/elastic-integrations-system-auth/test-secure-rhel7.log",
    "samples/linux-auth/elastic-integrations-system-auth/test-auth-ubuntu1204.log",
    "samples/linux-auth/loghub/OpenSSH_2k.log",
    "samples/linux-auth/loghub/Linux_2k.log",
];

/// Every sample line decodes (none of them is malformed: the odd ones — an empty
/// hostname `10:21:43  sshd[1332]`, `combo  -- root[2421]:`, `syslogd 1.4.1: restart.`,
/// `(command continued)` — are plain messages), sniffed as syslog, one event per line.
/// The class histogram pins what the lines mean.
#[test]
fn samples_decode_without_dead_letters() {
    let Some(corpus) = corpus() else { return };
    let mut histogram: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for sample in SAMPLES {
        let records = lines(&corpus.join(sample));
        let (out, errors) = decode_all(&records, SourceKind::Syslog);
        assert!(errors.is_empty(), "{sample}: {errors:?}");
        assert_eq!(out.len(), records.len(), "{sample}: one event per line");
        let file = sample.rsplit('/').next().unwrap_or(sample).to_owned();
        for n in &out {
            assert!(n.time.is_some(), "{sample}: {}", n.raw.as_str());
            let status = n.ocsf.as_value().get("status").and_then(|s| s.as_str()).unwrap_or("-");
            let key = format!(
                "{} | {} {} {}",
                n.logsource,
                n.ocsf["class_name"].as_str().unwrap_or("?"),
                n.ocsf["activity_id"],
                status
            );
            *histogram.entry(file.clone()).or_default().entry(key).or_default() += 1;
        }
    }
    insta::assert_yaml_snapshot!("syslog_sample_classes", histogram);
}

/// A corrupted copy of test-auth.log: each broken line is a dead letter with the right
/// reason, every good line still decodes.
#[test]
fn corrupted_copy_yields_dead_letters_and_keeps_good_lines() {
    let Some(corpus) = corpus() else { return };
    let good = lines(&corpus.join(SAMPLES[0]));
    let broken: Vec<(String, Option<DeadLetterReason>)> = vec![
        // Cut inside the timestamp: no longer recognisable as syslog at all.
        (good[0][..12].to_owned(), Some(DeadLetterReason::UnknownFormat)),
        (format!("<999>{}", good[1]), Some(DeadLetterReason::InvalidField)),
        ("<13>1 2020-13-45T00:00:00Z host app - - - msg".to_owned(), Some(DeadLetterReason::Malformed)),
        ("<13>1 - host app - - [meta x=\"1 msg".to_owned(), Some(DeadLetterReason::Malformed)),
        ("<13>1 - host".to_owned(), Some(DeadLetterReason::Malformed)),
        (format!("{} {}", good[2], "A".repeat(300 * 1024)), Some(DeadLetterReason::TooLarge)),
        ("\u{1}\u{2}\u{3} binary".to_owned(), Some(DeadLetterReason::UnknownFormat)),
    ];
    let mut records = Vec::new();
    let mut expected = Vec::new();
    for (i, line) in good.iter().enumerate() {
        records.push(line.clone());
        expected.push(None);
        if let Some((bad, reason)) = broken.get(i) {
            records.push(bad.clone());
            expected.push(*reason);
        }
    }
    let mut decoder = vigil_normalize::AutoDecoder::new(None);
    let mut out = Vec::new();
    for (record, want) in records.iter().zip(&expected) {
        let got = decoder.decode(record, &mut out).err();
        assert_eq!(got.as_ref().map(|e| e.reason), *want, "{}", &record[..record.len().min(80)]);
        if let Some(e) = got {
            assert!(!e.message.is_empty());
        }
    }
    assert_eq!(out.len(), good.len());
}

/// Real sample lines (RFC 3164, year-less: the time is redacted since it depends on
/// the year the test runs in — the year logic is unit-tested with a fixed year), plus
/// lines in the shapes the samples lack (usermod, su util-linux, rsyslog ISO, RFC 5424).
#[test]
fn snapshot_one_event_of_each_kind() {
    let cases: [(&str, &str); 17] = [
        ("sshd_accept_password", "Feb 23 00:13:35 localhost sshd[7483]: Accepted password for vagrant from 192.168.33.1 port 58803 ssh2"),
        ("sshd_accept_publickey", "Feb 21 21:54:44 localhost sshd[3402]: Accepted publickey for vagrant from 10.0.2.2 port 63673 ssh2: RSA 39:33:99:e9:a0:dc:f2:33:a3:e5:72:3b:7c:3a:56:84"),
        ("sshd_failed_password", "Dec 10 06:55:48 LabSZ sshd[24200]: Failed password for invalid user webmaster from 173.234.31.186 port 38926 ssh2"),
        ("sshd_invalid_user", "Feb 21 21:56:12 localhost sshd[3430]: Invalid user test from 10.0.2.2"),
        ("sshd_repeated_failure", "Dec 10 09:32:20 LabSZ sshd[24680]: message repeated 5 times: [ Failed password for root from 5.36.59.76 port 42393 ssh2]"),
        ("sshd_disconnect", "Dec 10 07:02:47 LabSZ sshd[24203]: Received disconnect from 52.80.34.196: 11: Bye Bye [preauth]"),
        ("pam_auth_failure", "Feb 22 16:45:32 slave22 sshd[2742]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=202.109.143.106  user=root"),
        ("sudo_command", "Feb 23 00:08:48 localhost sudo: vagrant : TTY=pts/1 ; PWD=/home/vagrant ; USER=root ; COMMAND=/bin/cat /var/log/secure"),
        ("sudo_failure", "Feb 24 00:12:42 precise32 sudo:      tsg : 3 incorrect password attempts ; TTY=pts/1 ; PWD=/home/vagrant ; USER=root ; COMMAND=/bin/ls"),
        ("sudo_session", "Feb  9 21:19:40 precise32 sudo: pam_unix(sudo:session): session opened for user root by vagrant(uid=1000)"),
        ("su", "Feb 24 00:12:14 precise32 su[4496]: Successful su for tsg by root"),
        ("su_util_linux", "Mar  3 10:00:00 web1 su[2100]: (to root) alice on pts/0"),
        ("useradd", "Feb 22 11:47:05 localhost useradd[6995]: new user: name=apache, UID=48, GID=48, home=/usr/share/httpd, shell=/sbin/nologin"),
        ("usermod", "Mar  3 10:00:01 web1 usermod[2101]: add 'alice' to group 'sudo'"),
        ("generic", "Jun 15 04:06:20 combo logrotate: ALERT exited abnormally with [1]"),
        ("rsyslog_iso", "2024-01-02T03:04:05.123456+00:00 web1 CRON[4170]: (root) CMD (cd / && run-parts --report /etc/cron.hourly)"),
        ("rfc5424_structured_data", "<86>1 2024-05-06T07:08:09.010Z bastion sshd 4242 - [origin ip=\"10.1.2.3\" software=\"openssh\"][meta sequenceId=\"17\"] \u{feff}Accepted publickey for deploy from 203.0.113.9 port 50122 ssh2"),
    ];
    for (name, line) in cases {
        let n = one(&[line], SourceKind::Syslog);
        let year_less = !line.starts_with('<') && !line.starts_with("20");
        let mut v = view(&n);
        if year_less {
            v["time"] = "[year-less]".into();
            v["ocsf"]["time"] = "[year-less]".into();
        }
        insta::assert_json_snapshot!(format!("syslog_{name}"), v);
    }
}
