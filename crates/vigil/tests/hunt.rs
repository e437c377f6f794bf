//! `vigil hunt` and `vigil rules check`, driven through the real binary.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn vigil(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vigil")).args(args).current_dir(repo_root()).output().expect("vigil runs")
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repo root")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The shared corpus, or `None` (with a visible message) when it is not configured.
/// Under CI the corpus is required.
fn corpus() -> Option<PathBuf> {
    match std::env::var_os("VIGIL_CORPUS") {
        Some(p) => {
            let p = PathBuf::from(p);
            let p = if p.is_relative() { repo_root().join(p) } else { p };
            assert!(p.is_dir(), "VIGIL_CORPUS={} is not a directory", p.display());
            Some(p)
        }
        None if std::env::var("CI").as_deref() == Ok("true") => panic!("VIGIL_CORPUS must be set under CI"),
        None => {
            eprintln!("skipped: VIGIL_CORPUS not set");
            None
        }
    }
}

fn jsonl(o: &Output) -> Vec<serde_json::Value> {
    stdout(o).lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
}

const EXAMPLE_RULES: &str = "examples/hunt/rules";
const EXAMPLE_EVENTS: &str = "examples/hunt/events.jsonl";

#[test]
fn example_hunt_reports_the_rule_hit_and_the_chained_correlation() {
    let out = vigil(&["hunt", "--format", "jsonl", "--rules", EXAMPLE_RULES, "--", EXAMPLE_EVENTS]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let detections = jsonl(&out);
    let titles: Vec<&str> = detections.iter().map(|d| d["rule_title"].as_str().unwrap()).collect();
    assert_eq!(titles, vec!["PowerShell With Encoded Command", "Password Guessing Followed by a Successful Logon"]);
    let ps = &detections[0];
    assert_eq!(ps["level"], "high");
    assert_eq!(ps["tags"][1], "attack.t1059.001");
    assert_eq!(ps["timestamp"], "2026-11-20T09:04:12.000Z");
    assert_eq!(ps["event"]["Computer"], "ws17.corp.example");
    assert!(ps["source"].as_str().unwrap().ends_with("events.jsonl:11"));
    let corr = &detections[1];
    assert_eq!(corr["correlation"]["type"], "temporal_ordered");
    assert_eq!(corr["correlation"]["group"]["IpAddress"], "203.0.113.45");
    // The base rules of the correlation are not reported on their own.
    assert!(!titles.contains(&"Failed Logon"));
}

#[test]
fn jobs_do_not_change_the_output() {
    let one = vigil(&["hunt", "--jobs", "1", "--format", "jsonl", "--rules", EXAMPLE_RULES, "--", EXAMPLE_EVENTS]);
    let two = vigil(&["hunt", "--jobs", "2", "--format", "jsonl", "--rules", EXAMPLE_RULES, "--", EXAMPLE_EVENTS]);
    assert_eq!(stdout(&one), stdout(&two));
}

#[test]
fn rules_then_inputs_without_a_separator() {
    // `--rules R data.jsonl`, as the peer benchmark calls it.
    let out = vigil(&["hunt", "--format", "jsonl", "--rules", EXAMPLE_RULES, EXAMPLE_EVENTS]);
    assert!(out.status.success());
    assert_eq!(jsonl(&out).len(), 2);
}

#[test]
fn table_and_csv_formats() {
    let table = stdout(&vigil(&["hunt", "--rules", EXAMPLE_RULES, "--", EXAMPLE_EVENTS]));
    assert!(table.starts_with("time"));
    assert!(table.contains("PowerShell With Encoded Command"));
    assert!(table.contains("ws17.corp.example"));
    let csv = stdout(&vigil(&["hunt", "--format", "csv", "--rules", EXAMPLE_RULES, "--", EXAMPLE_EVENTS]));
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("timestamp,level,rule_id,rule_title,host,source,details"));
    assert_eq!(lines.count(), 2);
}

#[test]
fn time_range_filters_events() {
    let out = vigil(&[
        "hunt",
        "--format",
        "jsonl",
        "--from",
        "2026-11-20T09:04:00Z",
        "--to",
        "2026-11-20T09:05:00Z",
        "--rules",
        EXAMPLE_RULES,
        "--",
        EXAMPLE_EVENTS,
    ]);
    let titles: Vec<String> = jsonl(&out).iter().map(|d| d["rule_title"].as_str().unwrap().to_string()).collect();
    assert_eq!(titles, vec!["PowerShell With Encoded Command"]);
    let bad = vigil(&["hunt", "--from", "last tuesday", "--rules", EXAMPLE_RULES, "--", EXAMPLE_EVENTS]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("ISO 8601"));
}

#[test]
fn malformed_lines_are_reported_and_the_rest_is_hunted() {
    let dir = std::env::temp_dir().join(format!("vigil-hunt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let events = std::fs::read_to_string(repo_root().join(EXAMPLE_EVENTS)).unwrap();
    let corrupted = format!("{{not json\n{events}[1,2\n");
    let path = dir.join("corrupted.jsonl");
    std::fs::write(&path, corrupted).unwrap();
    let out = vigil(&["hunt", "--format", "jsonl", "--rules", EXAMPLE_RULES, "--", path.to_str().unwrap()]);
    assert!(out.status.success());
    assert_eq!(jsonl(&out).len(), 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("corrupted.jsonl:1: invalid_json"), "{err}");
    assert!(err.contains("corrupted.jsonl:14: invalid_json"), "{err}");
    assert!(err.contains("2 dead letters (invalid_json 2)"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn rules_check_names_each_rejection_and_summarises_by_reason() {
    let dir = std::env::temp_dir().join(format!("vigil-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("good.yml"),
        "title: ok\nlogsource: {product: windows}\ndetection: {sel: {a: 1}, condition: sel}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("bad_mod.yml"),
        "title: bad\nlogsource: {product: windows}\ndetection: {sel: {a|nope: 1}, condition: sel}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("bad_agg.yml"),
        "title: agg\nlogsource: {product: windows}\ndetection: {sel: {a: 1}, condition: 'sel | count() > 3'}\n",
    )
    .unwrap();
    std::fs::write(dir.join("bad_yaml.yml"), "title: [oops\n").unwrap();
    let out = vigil(&["rules", "check", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("bad_mod.yml [bad]: unknown modifier `nope`"), "{text}");
    assert!(text.contains("bad_agg.yml [agg]: deprecated aggregation"), "{text}");
    assert!(
        text.contains(
            "1 loaded (1 rules, 0 correlations), 3 rejected (1 deprecated-aggregation, 1 unknown-modifier, 1 yaml)"
        ),
        "{text}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn regression_events_trigger_all_expected_rules_in_every_input_shape() {
    let Some(corpus) = corpus() else { return };
    let sigma = corpus.join("sigma");
    let expected: BTreeSet<String> = std::fs::read_to_string(sigma.join("regression/expected.tsv"))
        .unwrap()
        .lines()
        .filter_map(|l| l.split('\t').nth(1).map(str::to_string))
        .collect();
    assert_eq!(expected.len(), 202);
    let rules: Vec<String> = ["rules", "rules-emerging-threats", "rules-threat-hunting"]
        .iter()
        .map(|d| sigma.join(d).display().to_string())
        .collect();
    for input in ["regression/events_nested.jsonl", "regression/events_flat.jsonl", "regression/regression_data"] {
        let input = sigma.join(input).display().to_string();
        let mut args = vec!["hunt", "--format", "jsonl", "--rules"];
        args.extend(rules.iter().map(String::as_str));
        args.extend(["--", input.as_str()]);
        let out = vigil(&args);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let found: BTreeSet<String> =
            jsonl(&out).iter().filter_map(|d| d["rule_id"].as_str().map(str::to_string)).collect();
        let missing: Vec<_> = expected.difference(&found).collect();
        assert!(missing.is_empty(), "{input}: {} of 202 missing: {missing:?}", missing.len());
    }
}

#[test]
fn rules_check_over_the_corpus_loads_what_pysigma_converts() {
    let Some(corpus) = corpus() else { return };
    let sigma = corpus.join("sigma");
    let dirs: Vec<String> = ["rules", "rules-emerging-threats", "rules-threat-hunting"]
        .iter()
        .map(|d| sigma.join(d).display().to_string())
        .collect();
    let mut args = vec!["rules", "check"];
    args.extend(dirs.iter().map(String::as_str));
    let out = vigil(&args);
    let text = stdout(&out);
    let summary = text.lines().find(|l| l.contains(" loaded (")).expect("summary line");
    let loaded: usize = summary.split_whitespace().next().unwrap().parse().unwrap();
    assert!(loaded >= 3641, "{summary}");
    for line in text.lines().filter(|l| l.starts_with("rejected: ")) {
        let reason = line.rsplit("]: ").next().unwrap_or_default();
        assert!(!reason.trim().is_empty(), "rejection without a reason: {line}");
    }
}

#[test]
fn user_pipeline_maps_fields_and_fills_placeholders_for_declared_logsources() {
    let dir = std::env::temp_dir().join(format!("vigil-pipeline-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("rules")).unwrap();
    std::fs::write(
        dir.join("rules/linux_shell.yml"),
        "title: Admin shell\nid: 11111111-2222-4333-8444-555555555555\nlogsource: {product: linux, category: process_creation}\n\
         detection:\n  sel:\n    Image|endswith: /bash\n    User|expand: '%admins%'\n  condition: sel\nlevel: medium\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("pipeline.yml"),
        "name: test\nfield_mappings:\n  - logsource: {product: linux}\n    mapping: {Image: process.executable, User: user.name}\n\
         placeholders: {admins: [root, 'adm_*']}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("events.jsonl"),
        concat!(
            r#"{"process":{"executable":"/usr/bin/bash"},"user":{"name":"adm_joe"}}"#,
            "\n",
            r#"{"process":{"executable":"/usr/bin/bash"},"user":{"name":"alice"}}"#,
            "\n",
            r#"{"process":{"executable":"/usr/bin/zsh"},"user":{"name":"root"}}"#,
            "\n"
        ),
    )
    .unwrap();
    let rules = dir.join("rules").display().to_string();
    let pipeline = dir.join("pipeline.yml").display().to_string();
    let events = dir.join("events.jsonl").display().to_string();
    // Without a logsource the events are checked by no rule, and vigil says so.
    let out = vigil(&["hunt", "--format", "jsonl", "--pipeline", &pipeline, "--rules", &rules, "--", &events]);
    assert_eq!(jsonl(&out).len(), 0);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--logsource"));
    let out = vigil(&[
        "hunt",
        "--format",
        "jsonl",
        "--logsource",
        "linux/process_creation",
        "--pipeline",
        &pipeline,
        "--rules",
        &rules,
        "--",
        &events,
    ]);
    let hits = jsonl(&out);
    assert_eq!(hits.len(), 1, "{}", stdout(&out));
    assert_eq!(hits[0]["event"]["user"]["name"], "adm_joe");
    // A wrong-product logsource routes nothing.
    let out = vigil(&[
        "hunt",
        "--format",
        "jsonl",
        "--logsource",
        "windows",
        "--pipeline",
        &pipeline,
        "--rules",
        &rules,
        "--",
        &events,
    ]);
    assert_eq!(jsonl(&out).len(), 0);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_rule_pack_loads_cleanly_and_passes_its_own_tests() {
    let check = vigil(&["rules", "check", "rules"]);
    let text = stdout(&check);
    assert!(check.status.success(), "{text}");
    assert!(text.contains(", 0 rejected"), "{text}");

    let test = vigil(&["rules", "test", "-v", "rules"]);
    let text = stdout(&test);
    assert!(test.status.success(), "{text}");
    let summary = text.lines().last().unwrap_or_default();
    assert!(summary.contains(" 0 failed; 0 rules without tests; 0 rules rejected"), "{summary}");
    // Every rule carries at least one case of each kind.
    assert!(!text.contains("untested:"), "{text}");
    let cases = text.lines().filter(|l| l.starts_with("ok ")).count();
    assert!(cases >= 100, "{cases} cases");
}

#[test]
fn rules_test_stops_at_a_yaml_syntax_error_and_tests_the_documents_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read_to_string(repo_root().join("rules/linux/lnx_su_or_login_as_root.yml")).unwrap();
    // A valid rule, then a document with a syntax error: the error used to make the
    // test runner loop forever on serde_yaml's repeated error.
    std::fs::write(dir.path().join("mixed.yml"), format!("{good}\n---\ntitle: broken\ndetection: [unclosed\n"))
        .unwrap();
    let out = vigil(&["rules", "test", dir.path().to_str().unwrap()]);
    let text = format!("{}{}", stdout(&out), String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("rejected"), "{text}");
    assert!(text.contains("passed"), "the valid rule's cases still ran: {text}");
}
