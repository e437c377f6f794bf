//! Helpers shared by the conformance tests: compile rule YAML, evaluate JSON events,
//! and report which events matched.
#![allow(dead_code)] // each test binary uses a different subset

use std::io::Write;
use std::path::{Path, PathBuf};

use vigil_event::LogSource;
use vigil_sigma::correlate::{CorrelationDetection, Correlator};
use vigil_sigma::loader::{load_text, Loaded};
use vigil_sigma::{Compiled, Evaluator, Pipeline, PipelineSet, RuleIdx};

/// The logsource declared for non-Windows test events; test rules use
/// `logsource: {product: test}` so they are routed to these events.
pub fn test_logsource() -> LogSource {
    LogSource::new(Some("test"), None, None)
}

/// No pipeline at all: field names and values are used as written.
pub fn no_pipeline() -> PipelineSet {
    PipelineSet::default()
}

/// The built-in Windows pipeline only.
pub fn windows_pipeline() -> PipelineSet {
    PipelineSet::new(vec![Pipeline::builtin_windows()])
}

/// A pipeline set made of one pipeline YAML document.
pub fn pipeline(yaml: &str) -> PipelineSet {
    PipelineSet::new(vec![Pipeline::from_yaml(yaml).expect("test pipeline parses")])
}

/// Parses and compiles a (possibly multi-document) rule text.
pub fn compile_with(yaml: &str, pipelines: &PipelineSet) -> Compiled {
    let mut loaded = Loaded::default();
    load_text(yaml, None, &mut loaded);
    loaded.compile(pipelines)
}

/// Compiles without a pipeline and asserts that nothing was rejected.
pub fn compile_ok(yaml: &str) -> Compiled {
    compile_ok_with(yaml, &no_pipeline())
}

pub fn compile_ok_with(yaml: &str, pipelines: &PipelineSet) -> Compiled {
    let compiled = compile_with(yaml, pipelines);
    let errors: Vec<String> = compiled.errors.iter().map(|e| format!("{e} [{}]", e.error.kind())).collect();
    assert!(errors.is_empty(), "rule rejected: {errors:?}\n--- rule ---\n{yaml}");
    compiled
}

/// The kinds (`RuleError::kind`) of every rejection of a rule text.
pub fn error_kinds(yaml: &str) -> Vec<&'static str> {
    error_kinds_with(yaml, &no_pipeline())
}

pub fn error_kinds_with(yaml: &str, pipelines: &PipelineSet) -> Vec<&'static str> {
    compile_with(yaml, pipelines).errors.iter().map(|e| e.error.kind()).collect()
}

/// Titles of the rules matching each event (declared logsource `product: test`).
pub fn matched_titles(compiled: &Compiled, events: &[String]) -> Vec<Vec<String>> {
    let set = &compiled.rules;
    let mut evaluator = Evaluator::new(set);
    let declared = test_logsource();
    let mut out = Vec::new();
    events
        .iter()
        .map(|event| {
            out.clear();
            evaluator.evaluate_json(event, Some(&declared), &mut out).unwrap_or_else(|e| panic!("{e}: {event}"));
            out.iter().map(|r| set.rules()[*r as usize].meta.title.clone()).collect()
        })
        .collect()
}

/// For each event, whether any rule of the text matched it (no pipeline).
pub fn matches(yaml: &str, events: &[String]) -> Vec<bool> {
    matches_with(yaml, &no_pipeline(), events)
}

pub fn matches_with(yaml: &str, pipelines: &PipelineSet, events: &[String]) -> Vec<bool> {
    let compiled = compile_ok_with(yaml, pipelines);
    matched_titles(&compiled, events).into_iter().map(|t| !t.is_empty()).collect()
}

/// A one-rule text with `logsource: {product: test}` and the given `detection:` body
/// (YAML indented by two spaces, condition included).
pub fn rule(detection: &str) -> String {
    let mut text = String::from("title: test rule\nlogsource: {product: test}\ndetection:\n");
    for line in detection.lines() {
        text.push_str("  ");
        text.push_str(line);
        text.push('\n');
    }
    text
}

/// A one-selection rule: `sel: {<key>: <value>}`, `condition: sel`. `value` is YAML
/// (a flow sequence, a quoted scalar …).
pub fn field_rule(key: &str, value: &str) -> String {
    rule(&format!("sel:\n  '{key}': {value}\ncondition: sel"))
}

/// Asserts that `yaml` (no pipeline) matches every event of `positive` and none of
/// `negative`, naming the offending events.
pub fn check(yaml: &str, positive: &[String], negative: &[String]) {
    check_with(yaml, &no_pipeline(), positive, negative)
}

pub fn check_with(yaml: &str, pipelines: &PipelineSet, positive: &[String], negative: &[String]) {
    let events: Vec<String> = positive.iter().chain(negative).cloned().collect();
    let got = matches_with(yaml, pipelines, &events);
    let mut wrong = Vec::new();
    for (i, event) in events.iter().enumerate() {
        let expected = i < positive.len();
        if got[i] != expected {
            wrong.push(format!("{} {event}", if expected { "should match:    " } else { "should not match:" }));
        }
    }
    assert!(wrong.is_empty(), "--- rule ---\n{yaml}--- wrong ---\n{}", wrong.join("\n"));
}

/// `{"<field>": <value>}` as JSON text.
pub fn ev(field: &str, value: serde_json::Value) -> String {
    let mut map = serde_json::Map::new();
    map.insert(field.to_string(), value);
    serde_json::Value::Object(map).to_string()
}

/// A JSON event from a `serde_json::json!` value.
pub fn json(value: serde_json::Value) -> String {
    value.to_string()
}

/// A correlation run: every event in order through rules and correlations, then the
/// end of input. Returns the titles of the rules matched per event (emitting or not)
/// and the correlation detections.
pub struct CorrelationRun {
    pub matched: Vec<Vec<String>>,
    pub detections: Vec<CorrelationDetection>,
    pub titles: Vec<String>,
}

impl CorrelationRun {
    /// Titles of the correlations that fired, in firing order.
    pub fn fired(&self) -> Vec<&str> {
        self.detections.iter().map(|d| self.titles[d.correlation as usize].as_str()).collect()
    }

    /// Detections of one correlation, by title.
    pub fn of(&self, title: &str) -> Vec<&CorrelationDetection> {
        self.detections.iter().filter(|d| self.titles[d.correlation as usize] == title).collect()
    }
}

/// Runs `events` through a compiled set: base rules (declared logsource `product:
/// test` unless `declared` is None, for Windows-routed events), then correlations.
pub fn run_correlations(compiled: &Compiled, events: &[String], declared: Option<&LogSource>) -> CorrelationRun {
    let set = &compiled.rules;
    let mut evaluator = Evaluator::new(set);
    let mut correlator = Correlator::new(set);
    let mut matched_rules: Vec<RuleIdx> = Vec::new();
    let mut observations = Vec::new();
    let mut detections = Vec::new();
    let mut matched = Vec::new();
    for (i, event) in events.iter().enumerate() {
        matched_rules.clear();
        observations.clear();
        evaluator.evaluate_json(event, declared, &mut matched_rules).unwrap_or_else(|e| panic!("{e}: {event}"));
        matched.push(matched_rules.iter().map(|r| set.rules()[*r as usize].meta.title.clone()).collect());
        evaluator.correlation_observations(&matched_rules, i as u64, None, &mut observations);
        for obs in &observations {
            correlator.observe(obs, &mut detections);
        }
    }
    correlator.finish(&mut detections);
    CorrelationRun { matched, detections, titles: set.correlations().iter().map(|c| c.meta.title.clone()).collect() }
}

/// The shared corpus directory from `VIGIL_CORPUS`. When it is unset the calling test
/// is skipped with a message on stderr — except under CI (`CI=true`), where a skipped
/// corpus test would hide a broken setup, so it panics instead.
pub fn corpus() -> Option<PathBuf> {
    match std::env::var_os("VIGIL_CORPUS") {
        // A relative path is relative to the workspace root (where CI and the README
        // run `cargo test`), not to this crate's directory, where the test runs.
        Some(dir) if !dir.is_empty() => {
            let dir = PathBuf::from(dir);
            Some(if dir.is_relative() { Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(dir) } else { dir })
        }
        _ => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("VIGIL_CORPUS must be set when CI=true");
            }
            let _ = writeln!(std::io::stderr(), "skipped: VIGIL_CORPUS not set");
            None
        }
    }
}

/// `tests/fixtures/<name>`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}
