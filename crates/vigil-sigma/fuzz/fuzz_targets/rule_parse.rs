//! Arbitrary bytes as a rule file: parse every document, compile what parsed with the
//! built-in Windows pipeline, and evaluate fixed events (a Windows one, routed by
//! channel, and a declared-logsource one) plus correlations. Nothing may panic.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use vigil_event::LogSource;
use vigil_sigma::correlate::Correlator;
use vigil_sigma::parse::parse_documents;
use vigil_sigma::{Evaluator, Pipeline, PipelineSet, RuleSet};

const WINDOWS_EVENT: &str = r#"{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,"Image":"C:\\Windows\\System32\\cmd.exe","CommandLine":"cmd.exe /c whoami -all","ParentImage":"C:\\Program Files\\nodejs\\node.exe","User":"host\\alice","TimeCreated":"2024-01-01T10:00:00Z","SourceIp":"10.1.2.3","Count":42,"Tags":["a","b"],"Nested":{"a":{"b":"c"}},"Empty":"","Null":null}"#;
const OTHER_EVENT: &str = r#"{"@timestamp":"2024-01-01T10:00:05Z","action":"failed","User":"alice","Host":"h1","bytes":100,"msg":"evil \u003cscript\u003e","a":{"b":{"c":"v"}}}"#;

fn pipelines() -> &'static PipelineSet {
    static P: OnceLock<PipelineSet> = OnceLock::new();
    P.get_or_init(|| PipelineSet::new(vec![Pipeline::builtin_windows()]))
}

fn evaluate(set: &RuleSet) {
    let declared = [
        None,
        Some(LogSource::new(Some("windows"), Some("process_creation"), None)),
        Some(LogSource::new(Some("test"), None, None)),
    ];
    let mut evaluator = Evaluator::new(set);
    let mut correlator = Correlator::new(set);
    let mut matched = Vec::new();
    let mut observations = Vec::new();
    let mut detections = Vec::new();
    for (i, event) in [WINDOWS_EVENT, OTHER_EVENT, WINDOWS_EVENT].iter().enumerate() {
        for ls in &declared {
            matched.clear();
            observations.clear();
            let _ = evaluator.evaluate_json(event, ls.as_ref(), &mut matched);
            evaluator.correlation_observations(&matched, i as u64, None, &mut observations);
            for obs in &observations {
                correlator.observe(obs, &mut detections);
            }
        }
    }
    correlator.finish(&mut detections);
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let documents: Vec<_> = parse_documents(text, None)
        .into_iter()
        .filter_map(|(index, result)| result.ok().map(|doc| (None, index, doc)))
        .collect();
    if documents.is_empty() {
        return;
    }
    let compiled = RuleSet::compile(documents, pipelines());
    for e in &compiled.errors {
        let _ = e.to_string();
    }
    evaluate(&compiled.rules);
});
