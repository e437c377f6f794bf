//! Cowrie decoder on the real honeypot logs in `$VIGIL_CORPUS/samples/cowrie` (JSON
//! lines): every line is sniffed as Cowrie and decodes; a corrupted copy yields the
//! expected dead letters while its good lines still decode; one snapshot per event id.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::json;
use vigil_normalize::{AutoDecoder, DeadLetterReason, Normalized, SourceKind};

/// The corpus root, or `None` (test skipped) when `VIGIL_CORPUS` is unset — except in
/// CI, where a missing corpus is a failure.
fn corpus() -> Option<PathBuf> {
    match std::env::var_os("VIGIL_CORPUS") {
        Some(p) => {
            let p = PathBuf::from(p);
            Some(if p.is_absolute() { p } else { Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(p) })
        }
        None => {
            assert!(std::env::var("CI").as_deref() != Ok("true"), "VIGIL_CORPUS must be set when CI=true");
            eprintln!("skipped: VIGIL_CORPUS not set");
            None
        }
    }
}

/// Sample files (sorted), one JSON event per line.
fn sample_files(root: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<PathBuf> =
            std::fs::read_dir(dir).expect("readable dir").map(|e| e.expect("dir entry").path()).collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(&root.join("samples/cowrie"), &mut out);
    out
}

fn lines(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).expect("UTF-8 sample");
    text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

fn eventid(n: &Normalized) -> String {
    n.ocsf["metadata"]["event_code"].as_str().expect("event_code").to_owned()
}

#[test]
fn every_sample_line_is_sniffed_and_decoded() {
    let Some(root) = corpus() else { return };
    let files = sample_files(&root);
    assert_eq!(files.len(), 11, "{files:?}");
    let mut per_class: BTreeMap<(String, u64), usize> = BTreeMap::new();
    let mut total = 0;
    for file in &files {
        // One decoder per file, as a file is read: session user names carry over.
        let mut auto = AutoDecoder::new(None);
        for (i, line) in lines(file).iter().enumerate() {
            let mut out = Vec::new();
            let kind = auto.decode(line, &mut out).unwrap_or_else(|e| panic!("{}:{}: {e}", file.display(), i + 1));
            assert_eq!(kind, SourceKind::Cowrie, "{}:{}", file.display(), i + 1);
            assert_eq!(out.len(), 1);
            let n = &out[0];
            assert!(n.time.is_some(), "{}:{} has no time", file.display(), i + 1);
            assert_eq!(n.logsource.product.as_deref(), Some("cowrie"));
            let sigma: serde_json::Value = serde_json::from_str(&n.sigma_json()).expect("sigma view is JSON");
            assert!(sigma.get("eventid").is_some(), "raw keys are spliced into the Sigma view");
            *per_class.entry((eventid(n), n.ocsf["class_uid"].as_u64().expect("class"))).or_default() += 1;
            total += 1;
        }
    }
    // 5,058 real events + 496 from the simulated attack.
    assert_eq!(total, 5_554);
    let expected: BTreeMap<(String, u64), usize> = [
        ("cowrie.client.fingerprint", 3002, 7),
        ("cowrie.client.kex", 4001, 845),
        ("cowrie.client.size", 0, 2),
        ("cowrie.client.var", 0, 34),
        ("cowrie.client.version", 4001, 905),
        ("cowrie.command.failed", 1007, 4),
        ("cowrie.command.input", 1007, 353),
        ("cowrie.direct-tcpip.data", 4001, 2),
        ("cowrie.direct-tcpip.ja4", 4001, 2),
        ("cowrie.direct-tcpip.request", 4001, 3),
        ("cowrie.log.closed", 0, 305),
        ("cowrie.login.failed", 3002, 492),
        ("cowrie.login.success", 3002, 298),
        ("cowrie.session.closed", 4001, 992),
        ("cowrie.session.connect", 4001, 992),
        ("cowrie.session.file_upload", 1001, 9),
        ("cowrie.session.params", 0, 309),
    ]
    .into_iter()
    .map(|(e, c, n)| ((e.to_owned(), c), n))
    .collect();
    assert_eq!(per_class, expected);
}

#[test]
fn commands_carry_the_logged_in_user() {
    let Some(root) = corpus() else { return };
    let file = root.join("samples/cowrie/bilal05tariq-aws-simulated/cowrie.json");
    let mut auto = AutoDecoder::new(None);
    let mut out = Vec::new();
    for line in lines(&file) {
        auto.decode(&line, &mut out).expect("decodes");
    }
    let commands: Vec<&Normalized> = out.iter().filter(|n| eventid(n) == "cowrie.command.input").collect();
    assert!(!commands.is_empty());
    for c in &commands {
        assert!(c.sigma["CommandLine"].is_string());
        assert!(c.sigma["User"].is_string(), "every simulated session logs in before its commands: {:?}", c.sigma);
        assert_eq!(c.ocsf["actor"]["user"]["name"], c.sigma["User"]);
    }
}

#[test]
fn corrupted_copy_yields_the_expected_dead_letters() {
    let Some(root) = corpus() else { return };
    let file = root.join("samples/cowrie/pol-alvarezzz-aws-2026-real/cowrie.json.jsonl");
    let mut records = lines(&file);
    let good = records.len();
    assert_eq!(good, 34);
    let closed = records.iter().position(|l| l.contains(r#""cowrie.session.closed""#)).expect("a close");
    let connect = records.iter().position(|l| l.contains(r#""cowrie.session.connect""#)).expect("a connect");
    let login = records.iter().position(|l| l.contains(r#""cowrie.login."#)).expect("a login");
    let mutated = [
        // Cut mid-line (a crash while writing).
        (records[connect][..records[connect].len() / 2].to_owned(), Some(DeadLetterReason::InvalidJson)),
        (
            regex_replace(&records[closed], r#""duration":""#, r#""duration":"soon"#),
            Some(DeadLetterReason::InvalidField),
        ),
        (regex_replace(&records[connect], r#""src_port":"#, r#""src_port":9"#), Some(DeadLetterReason::InvalidField)),
        (
            regex_replace(&records[login], r#""timestamp":""#, r#""timestamp":"last "#),
            Some(DeadLetterReason::InvalidField),
        ),
        (
            regex_replace(&records[login], r#""username":"#, r#""username":["root"],"x":"#),
            Some(DeadLetterReason::InvalidField),
        ),
        ("\u{1}\u{2}binary".to_owned(), Some(DeadLetterReason::UnknownFormat)),
        // Without its `eventid` a line is no longer Cowrie; it decodes as generic JSON.
        (records[login].replace(r#""eventid""#, r#""event_id""#), None),
    ];
    let expected: Vec<Option<DeadLetterReason>> = mutated.iter().map(|(_, r)| *r).collect();
    records.extend(mutated.into_iter().map(|(l, _)| l));

    let mut auto = AutoDecoder::new(None);
    let mut decoded = 0;
    let mut reasons = Vec::new();
    for line in &records {
        let mut out = Vec::new();
        match auto.decode(line, &mut out) {
            Ok(SourceKind::Cowrie) => decoded += out.len(),
            Ok(other) => {
                assert_eq!(other, SourceKind::Json);
                reasons.push(None);
            }
            Err(e) => {
                assert!(!e.message.is_empty());
                reasons.push(Some(e.reason));
            }
        }
    }
    assert_eq!(decoded, good, "every good line still decodes");
    assert_eq!(reasons, expected);
}

/// Replaces the first occurrence of `from` (which must exist) with `to`.
fn regex_replace(line: &str, from: &str, to: &str) -> String {
    assert!(line.contains(from), "{from} not in {line}");
    line.replacen(from, to, 1)
}

#[test]
fn snapshot_one_event_per_eventid() {
    let Some(root) = corpus() else { return };
    // The first event of each event id, decoding files in order (so command events see
    // their session's login).
    let mut first: BTreeMap<String, Normalized> = BTreeMap::new();
    for file in sample_files(&root) {
        let mut auto = AutoDecoder::new(None);
        for line in lines(&file) {
            let mut out = Vec::new();
            auto.decode(&line, &mut out).expect("decodes");
            for n in out {
                first.entry(eventid(&n)).or_insert(n);
            }
        }
    }
    assert_eq!(first.len(), 17);
    for (id, n) in &first {
        let view = json!({"time": n.time, "logsource": n.logsource, "ocsf": n.ocsf, "sigma": n.sigma});
        insta::assert_json_snapshot!(id.as_str(), view);
    }
}
