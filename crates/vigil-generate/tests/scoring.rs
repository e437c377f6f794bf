//! Scoring: ten minutes of traffic with every attack injected, decoded and evaluated
//! with the project's rule pack exactly as `vigil hunt` does it. Every injected instance
//! must be detected by the rules it names, labelled records must fire no other alerting
//! rule, and the background must fire none at all.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};
use vigil_generate::{Attack, GeneratedRecord, Generator, GeneratorConfig, Injection};
use vigil_normalize::AutoDecoder;
use vigil_sigma::correlate::Correlator;
use vigil_sigma::loader::load_paths;
use vigil_sigma::{Evaluator, Pipeline, PipelineSet};

const RULES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../rules");
const SECONDS: i64 = 600;

/// An alert: the rule (id) and the records it was raised on.
struct Alert {
    rule: String,
    records: Vec<usize>,
}

fn evaluate(records: &[GeneratedRecord]) -> Vec<Alert> {
    let pipelines = PipelineSet::new(vec![Pipeline::builtin_windows()]);
    let compiled = load_paths(&[PathBuf::from(RULES)]).expect("rules load").compile(&pipelines);
    let rejected: Vec<String> = compiled.errors.iter().map(|e| e.to_string()).collect();
    assert!(rejected.is_empty(), "rules rejected: {rejected:?}");
    let set = &compiled.rules;
    let id = |meta: &vigil_sigma::ast::RuleMeta| meta.id.clone().unwrap_or_else(|| meta.title.clone());
    let mut evaluator = Evaluator::new(set);
    let mut decoder = AutoDecoder::new(None);
    let (mut events, mut matched, mut observations) = (Vec::new(), Vec::new(), Vec::new());
    let mut alerts = Vec::new();
    for (i, r) in records.iter().enumerate() {
        events.clear();
        decoder.decode(&r.line, &mut events).unwrap_or_else(|e| panic!("record {i} is a dead letter: {e}\n{}", r.line));
        for n in &events {
            matched.clear();
            evaluator
                .evaluate_json(&n.sigma_json(), Some(&n.logsource).filter(|l| !l.is_empty()), &mut matched)
                .expect("sigma view is JSON");
            for &m in &matched {
                let rule = &set.rules()[m as usize];
                if rule.emit {
                    alerts.push(Alert { rule: id(&rule.meta), records: vec![i] });
                }
            }
            evaluator.correlation_observations(
                &matched,
                i as u64,
                n.time.map(|t| t.timestamp_millis()),
                &mut observations,
            );
        }
    }
    // As `vigil hunt`: correlations see the observations in event-time order.
    observations.sort_by_key(|o| o.timestamp_ms);
    let mut correlator = Correlator::new(set);
    let mut hits = Vec::new();
    for o in &observations {
        correlator.observe(o, &mut hits);
    }
    correlator.finish(&mut hits);
    for hit in hits {
        let meta = &set.correlations()[hit.correlation as usize].meta;
        alerts.push(Alert { rule: id(meta), records: hit.event_refs.iter().map(|&r| r as usize).collect() });
    }
    alerts
}

#[test]
fn injected_attacks_are_detected_and_background_stays_quiet() {
    // auth.log lines carry no year and Vigil reads them in the current one: the traffic
    // is placed in the recent past.
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_millis() as i64;
    let start = now - 20 * 60_000 - now.rem_euclid(60_000);
    let cfg = GeneratorConfig {
        seed: 2026,
        rate_per_sec: 40,
        attacks: Attack::ALL.to_vec(),
        attack_interval_ms: 60_000,
        start_ms: start,
        hosts: 4,
        formats: Vec::new(),
    };
    let mut generator = Generator::new(cfg);
    let records: Vec<GeneratedRecord> =
        (0..SECONDS).flat_map(|s| generator.records_for(start + s * 1000, start + (s + 1) * 1000)).collect();
    let end = start + SECONDS * 1000;
    // Instances whose records all came out within the ten minutes.
    let complete: Vec<&Injection> = generator.injections().iter().filter(|i| i.end_ms < end).collect();
    assert!(complete.len() >= Attack::ALL.len() * 8, "{} complete instances", complete.len());

    let alerts = evaluate(&records);
    let mut fired: BTreeMap<u64, BTreeSet<String>> = BTreeMap::new();
    let mut false_positives = Vec::new();
    for alert in &alerts {
        let instances: BTreeSet<u64> =
            alert.records.iter().filter_map(|&r| records[r].label.as_ref().map(|l| l.instance)).collect();
        if instances.is_empty() {
            let r = &records[alert.records[0]];
            false_positives.push(format!("{} on background {}: {}", alert.rule, r.format, r.line));
        }
        for instance in instances {
            fired.entry(instance).or_default().insert(alert.rule.clone());
        }
    }

    let mut per_attack: BTreeMap<Attack, (usize, usize)> = BTreeMap::new();
    let mut missed = Vec::new();
    let mut unexpected = Vec::new();
    for injection in &complete {
        let got = fired.get(&injection.instance).cloned().unwrap_or_default();
        let expected: BTreeSet<String> = injection.expected_rule_ids.iter().cloned().collect();
        let detected = expected.is_subset(&got);
        let entry = per_attack.entry(injection.attack).or_default();
        entry.0 += 1;
        if detected {
            entry.1 += 1;
        } else {
            missed.push(format!("{} #{} ({}): fired {got:?}", injection.attack, injection.instance, injection.actor));
        }
        for rule in got.difference(&expected) {
            unexpected.push(format!("{} #{}: {rule}", injection.attack, injection.instance));
        }
    }
    let detected: usize = per_attack.values().map(|(_, d)| d).sum();
    let recall = detected as f64 / complete.len() as f64;
    eprintln!(
        "{} records, {} instances, {} detected (recall {:.1} %), {} alerts, {} on background",
        records.len(),
        complete.len(),
        detected,
        recall * 100.0,
        alerts.len(),
        false_positives.len()
    );
    for (attack, (n, d)) in &per_attack {
        eprintln!("  {attack:<28} {d}/{n}");
    }
    assert!(false_positives.is_empty(), "background raised alerts:\n{}", false_positives.join("\n"));
    assert!(unexpected.is_empty(), "labelled records fired rules they do not name:\n{}", unexpected.join("\n"));
    assert!(recall >= 0.95, "recall {recall:.3}; missed:\n{}", missed.join("\n"));
    assert!(missed.is_empty(), "missed:\n{}", missed.join("\n"));
    // No alert storm: a handful of alerts per attack instance, none otherwise.
    let instances = generator.injections().len();
    assert!(alerts.len() <= 4 * instances, "{} alerts for {instances} instances", alerts.len());
}
