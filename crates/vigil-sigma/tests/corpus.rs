//! The SigmaHQ corpus (`VIGIL_CORPUS`, e.g. /work/shared/corpus): every rule loads or
//! is rejected with a reason, and the regression events fire the rules SigmaHQ
//! expects. Skipped with a message when `VIGIL_CORPUS` is unset (a failure under CI).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::*;
use vigil_sigma::loader::load_paths;
use vigil_sigma::{Compiled, Evaluator, Pipeline, PipelineSet};

/// Zircolite's count of SigmaHQ rules it converts from the same directories.
const MIN_LOADED_RULES: usize = 3_641;
const REGRESSION_RULE_IDS: usize = 202;

fn rule_dirs(corpus: &Path) -> Vec<PathBuf> {
    ["rules", "rules-emerging-threats", "rules-threat-hunting"].iter().map(|d| corpus.join("sigma").join(d)).collect()
}

/// The corpus rules compiled once with the built-in Windows pipeline, shared by the
/// tests of this file.
fn corpus_rules(corpus: &Path) -> &'static Compiled {
    static COMPILED: OnceLock<Compiled> = OnceLock::new();
    COMPILED.get_or_init(|| {
        let loaded = load_paths(&rule_dirs(corpus)).expect("corpus rule directories are readable");
        loaded.compile(&windows_pipeline())
    })
}

#[test]
fn corpus_rules_load_or_are_rejected_with_a_reason() {
    let Some(corpus) = corpus() else { return };
    let compiled = corpus_rules(&corpus);
    let loaded = compiled.rules.rules().len();
    let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &compiled.errors {
        let reason = e.error.to_string();
        assert!(!reason.trim().is_empty(), "rejection without a reason: {e:?}");
        assert!(!e.error.kind().is_empty(), "rejection without a kind: {e:?}");
        assert!(e.path.is_some(), "rejection without its file: {e}");
        *by_kind.entry(e.error.kind()).or_default() += 1;
    }
    eprintln!(
        "corpus: {loaded} rules, {} correlations, {} rejected {by_kind:?}, {} warnings",
        compiled.rules.correlations().len(),
        compiled.errors.len(),
        compiled.warnings.len()
    );
    for e in compiled.errors.iter().take(20) {
        eprintln!("  rejected: {e}");
    }
    assert!(loaded >= MIN_LOADED_RULES, "only {loaded} rules loaded, expected at least {MIN_LOADED_RULES}");
}

/// (line, expected rule id) pairs of `expected.tsv`.
fn expected(corpus: &Path) -> Vec<(usize, String)> {
    let text = std::fs::read_to_string(corpus.join("sigma/regression/expected.tsv")).expect("expected.tsv");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut cols = l.split('\t');
            let line = cols.next().and_then(|c| c.trim().parse().ok()).unwrap_or_else(|| panic!("bad row {l:?}"));
            let id = cols.next().unwrap_or_else(|| panic!("bad row {l:?}")).trim().to_string();
            (line, id)
        })
        .collect()
}

/// Rows of expected.tsv whose event the rule is known not to match (see the fixture).
fn known_nonmatching() -> BTreeSet<(usize, String)> {
    let text = std::fs::read_to_string(fixture("regression_nonmatching.tsv")).expect("fixture");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut cols = l.split('\t');
            let line = cols.next().and_then(|c| c.parse().ok()).unwrap_or_else(|| panic!("bad fixture row {l:?}"));
            (line, cols.next().unwrap_or_default().to_string())
        })
        .collect()
}

/// SigmaHQ's regression test passes when a rule matches at least one event of its
/// regression evtx; expected.tsv lists every event of that evtx under the rule id. So:
/// every id must fire on one of its events, and every row must fire except the ones
/// known (and checked by hand) not to.
fn check_regression(file: &str) {
    let Some(corpus) = corpus() else { return };
    let compiled = corpus_rules(&corpus);
    let set = &compiled.rules;
    let expected = expected(&corpus);
    let distinct: BTreeSet<&str> = expected.iter().map(|(_, id)| id.as_str()).collect();
    assert_eq!(distinct.len(), REGRESSION_RULE_IDS, "expected.tsv changed");
    let known = known_nonmatching();

    let events = std::fs::read_to_string(corpus.join("sigma/regression").join(file)).expect("regression events");
    let events: Vec<&str> = events.lines().collect();
    let mut evaluator = Evaluator::new(set);
    let mut matched = Vec::new();
    let mut unexpected_misses = Vec::new();
    let mut unexpected_hits = Vec::new();
    let mut hit_ids = BTreeSet::new();
    for (line, id) in &expected {
        let event = events.get(*line).unwrap_or_else(|| panic!("{file} has no line {line}"));
        matched.clear();
        evaluator.evaluate_json(event, None, &mut matched).unwrap_or_else(|e| panic!("{file}:{line}: {e}"));
        let fired = matched.iter().any(|r| set.rules()[*r as usize].meta.id.as_deref() == Some(id.as_str()));
        let known_miss = known.contains(&(*line, id.clone()));
        if fired {
            hit_ids.insert(id.as_str());
            if known_miss {
                unexpected_hits.push(format!("line {line}: {id}"));
            }
        } else if !known_miss {
            unexpected_misses.push(format!("line {line}: {id}"));
        }
    }
    eprintln!("{file}: {}/{} expected rule ids fired", hit_ids.len(), distinct.len());
    let missing_ids: Vec<&&str> = distinct.difference(&hit_ids).collect();
    assert!(missing_ids.is_empty(), "{file}: rule ids that fired on none of their events: {missing_ids:?}");
    assert!(
        unexpected_misses.is_empty(),
        "{file}: {} expected detections missing:\n{}",
        unexpected_misses.len(),
        unexpected_misses.join("\n")
    );
    assert!(
        unexpected_hits.is_empty(),
        "{file}: rows listed in fixtures/regression_nonmatching.tsv now fire (check the rule, update the fixture):\n{}",
        unexpected_hits.join("\n")
    );
}

#[test]
fn regression_events_flat() {
    check_regression("events_flat.jsonl");
}

#[test]
fn regression_events_nested() {
    check_regression("events_nested.jsonl");
}

#[test]
fn placeholder_rules_load_with_wildcard_placeholders() {
    let Some(corpus) = corpus() else { return };
    let dir = corpus.join("sigma/rules-placeholder");
    let wildcard =
        Pipeline::from_yaml("name: wildcards\npriority: 50\nwildcard_placeholders: true\n").expect("pipeline");
    let pipelines = PipelineSet::new(vec![Pipeline::builtin_windows(), wildcard]);
    let loaded = load_paths(std::slice::from_ref(&dir)).expect("rules-placeholder is readable");
    let files = loaded.files;
    let compiled = loaded.compile(&pipelines);
    let errors: Vec<String> = compiled.errors.iter().map(ToString::to_string).collect();
    assert!(errors.is_empty(), "placeholder rules rejected:\n{}", errors.join("\n"));
    assert!(
        files > 0 && compiled.rules.rules().len() >= files,
        "{files} files, {} rules",
        compiled.rules.rules().len()
    );

    // Without a value for them, rules using `expand` are rejected as the spec demands.
    let compiled = load_paths(&[dir]).expect("readable").compile(&windows_pipeline());
    assert!(!compiled.errors.is_empty());
    for e in &compiled.errors {
        assert_eq!(e.error.kind(), "placeholder", "{e}");
    }
}

#[test]
fn correlation_examples_load() {
    let Some(corpus) = corpus() else { return };
    let loaded = load_paths(&[corpus.join("sigma/correlation-examples")]).expect("readable");
    let compiled = loaded.compile(&windows_pipeline());
    let errors: Vec<String> = compiled.errors.iter().map(ToString::to_string).collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    assert!(!compiled.rules.correlations().is_empty());
}
