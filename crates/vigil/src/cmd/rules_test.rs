//! `vigil rules test`: runs every rule against the test events written beside it.
//!
//! A rule document may carry a custom top-level `tests` list (Sigma allows custom
//! attributes; other tools ignore it):
//!
//! ```yaml
//! tests:
//!   - name: wget piped to sh
//!     expect: match            # or no_match
//!     source: cowrie           # optional; default: detected per record
//!     events:
//!       - '{"eventid":"cowrie.command.input", ...}'
//! ```
//!
//! Each case runs on a fresh evaluator and correlator: the records are decoded exactly
//! as `vigil hunt` decodes them, every rule of the loaded set is evaluated, and the case
//! passes when the document's rule (by `id`, else `title`) fired — matched, for a
//! detection rule, whether or not it generates alerts; hit, for a correlation — or did
//! not, as `expect` says.

use anyhow::Context;
use clap::Args;
use serde::Deserialize;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use vigil_normalize::{AutoDecoder, Normalized, SourceKind};
use vigil_sigma::correlate::Correlator;
use vigil_sigma::{Evaluator, RuleSet};

#[derive(Args)]
pub struct TestArgs {
    /// Rule files or directories.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Processing pipeline YAML (repeatable).
    #[arg(long = "pipeline")]
    pipelines: Vec<PathBuf>,
    /// Do not load the built-in Windows pipeline.
    #[arg(long)]
    no_builtin_pipeline: bool,
    /// Also list rules that have no tests.
    #[arg(long, short)]
    verbose: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum Expect {
    Match,
    NoMatch,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TestCase {
    name: String,
    expect: Expect,
    #[serde(default)]
    source: Option<String>,
    events: Vec<String>,
}

/// The part of a rule document this command reads.
#[derive(Deserialize)]
struct TestedDocument {
    title: Option<String>,
    id: Option<String>,
    #[serde(default)]
    tests: Option<Vec<TestCase>>,
}

struct Outcome {
    passed: bool,
    detail: String,
}

pub fn run(args: TestArgs) -> anyhow::Result<ExitCode> {
    let pipelines = crate::rules::pipelines(&args.pipelines, !args.no_builtin_pipeline)?;
    let compiled = crate::rules::compile(&args.paths, &pipelines)?;
    for e in &compiled.errors {
        println!("rejected: {e}");
    }
    let set = &compiled.rules;
    let alerting: BTreeSet<String> = set
        .rules()
        .iter()
        .filter(|r| r.emit)
        .map(|r| &r.meta)
        .chain(set.correlations().iter().filter(|c| c.emit).map(|c| &c.meta))
        .map(|m| m.id.clone().unwrap_or_else(|| m.title.clone()))
        .collect();
    let (mut cases, mut failed, mut tested, mut untested) = (0usize, 0usize, 0usize, Vec::new());
    for file in rule_files(&args.paths)? {
        let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
        for document in serde_yaml::Deserializer::from_str(&text) {
            // Documents that do not parse were reported by the loader already.
            // A YAML syntax error ends the file: serde_yaml's document iterator returns the
            // same error again forever after one (this looped on a broken rule file).
            let Ok(value) = serde_yaml::Value::deserialize(document) else { break };
            let Ok(doc) = TestedDocument::deserialize(value) else { continue };
            let Some(target) = doc.id.clone().or_else(|| doc.title.clone()) else { continue };
            let title = doc.title.as_deref().unwrap_or(&target);
            let Some(tests) = doc.tests else {
                // Base rules that only feed a correlation, and filters, are exercised by
                // the tests of what they feed; only what raises alerts needs its own.
                if alerting.contains(target.as_str()) {
                    untested.push(format!("{} [{title}]", file.display()));
                }
                continue;
            };
            tested += 1;
            for case in &tests {
                cases += 1;
                let outcome = run_case(set, &target, case);
                if !outcome.passed {
                    failed += 1;
                }
                println!(
                    "{} {} [{title}] {}{}",
                    if outcome.passed { "ok  " } else { "FAIL" },
                    file.display(),
                    case.name,
                    if outcome.passed { String::new() } else { format!(": {}", outcome.detail) }
                );
            }
        }
    }
    if args.verbose {
        for u in &untested {
            println!("untested: {u}");
        }
    }
    println!(
        "{tested} rules with tests, {cases} cases: {} passed, {failed} failed; {} rules without tests; {} rules rejected",
        cases - failed,
        untested.len(),
        compiled.errors.len()
    );
    Ok(if failed == 0 && compiled.errors.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn run_case(set: &RuleSet, target: &str, case: &TestCase) -> Outcome {
    let forced = match case.source.as_deref().map(str::parse::<SourceKind>).transpose() {
        Ok(f) => f,
        Err(e) => return Outcome { passed: false, detail: e },
    };
    let mut evaluator = Evaluator::new(set);
    let mut correlator = Correlator::new(set);
    let mut decoder = AutoDecoder::new(forced);
    let mut fired = BTreeSet::new();
    let mut decoded = Vec::new();
    let mut matched = Vec::new();
    let mut observations = Vec::new();
    let mut hits = Vec::new();
    let name_of = |meta: &vigil_sigma::ast::RuleMeta| meta.id.clone().unwrap_or_else(|| meta.title.clone());
    let mut evaluate = |events: &mut Vec<Normalized>, position: usize, fired: &mut BTreeSet<String>| {
        for n in events.drain(..) {
            matched.clear();
            if let Err(e) =
                evaluator.evaluate_json(&n.sigma_json(), Some(&n.logsource).filter(|l| !l.is_empty()), &mut matched)
            {
                return Err(format!("event {position}: sigma view is not JSON: {e}"));
            }
            for &m in &matched {
                fired.insert(name_of(&set.rules()[m as usize].meta));
            }
            observations.clear();
            evaluator.correlation_observations(
                &matched,
                position as u64,
                n.time.map(|t| t.timestamp_millis()),
                &mut observations,
            );
            for obs in &observations {
                correlator.observe(obs, &mut hits);
            }
        }
        Ok(())
    };
    for (i, record) in case.events.iter().enumerate() {
        if let Err(e) = decoder.decode(record.trim_end_matches('\n'), &mut decoded) {
            return Outcome { passed: false, detail: format!("event {} does not decode: {e}", i + 1) };
        }
        if let Err(detail) = evaluate(&mut decoded, i + 1, &mut fired) {
            return Outcome { passed: false, detail };
        }
    }
    decoder.flush(&mut decoded);
    if let Err(detail) = evaluate(&mut decoded, case.events.len(), &mut fired) {
        return Outcome { passed: false, detail };
    }
    correlator.finish(&mut hits);
    for hit in &hits {
        fired.insert(name_of(&set.correlations()[hit.correlation as usize].meta));
    }
    let hit = fired.contains(target);
    let passed = matches!((&case.expect, hit), (Expect::Match, true) | (Expect::NoMatch, false));
    let others: Vec<_> = fired.iter().filter(|f| f.as_str() != target).cloned().collect();
    let detail = match case.expect {
        Expect::Match => format!("the rule did not fire (fired instead: {others:?})"),
        Expect::NoMatch => "the rule fired".to_string(),
    };
    Outcome { passed, detail }
}

/// Every .yml / .yaml file under `paths`, sorted, as the loader reads them.
fn rule_files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let is_yaml = |p: &Path| matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml"));
    for path in paths {
        if path.is_dir() {
            for entry in walkdir::WalkDir::new(path).sort_by_file_name() {
                let entry = entry.with_context(|| format!("walking {}", path.display()))?;
                if entry.file_type().is_file() && is_yaml(entry.path()) {
                    files.push(entry.into_path());
                }
            }
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}
