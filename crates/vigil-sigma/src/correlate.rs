//! Glue between matched rules and the correlation state machine: extracting group-by
//! and value fields from the matched event (on the worker that evaluated it), then
//! feeding the engine in input order and chaining correlation hits into the
//! correlations that reference them.

use crate::compile::{GroupSource, RuleIdx, RuleSet};
use crate::correlation::{CorrelationEngine, CorrelationHit, CorrelationSpec, GroupValue, Observation};
use crate::eval::Evaluator;

/// An observation extracted from one event, owned so it can cross threads.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingObservation {
    pub correlation: u32,
    pub input: u32,
    pub timestamp_ms: i64,
    pub group: Vec<GroupValue>,
    pub value: Option<String>,
    pub event_ref: u64,
}

/// A correlation that fired.
#[derive(Debug, Clone, PartialEq)]
pub struct CorrelationDetection {
    pub correlation: u32,
    /// Group-by name → value (None when absent).
    pub group: Vec<(String, Option<String>)>,
    pub first_ms: i64,
    pub last_ms: i64,
    pub event_count: u64,
    pub value: f64,
    pub event_refs: Vec<u64>,
}

/// Separator of multi-field value_count keys; a control character no field value is
/// expected to contain.
const KEY_SEPARATOR: char = '\u{1f}';

impl Evaluator<'_> {
    /// Observations for every correlation fed by the rules in `matched`, read from the
    /// event just evaluated. Events without a usable timestamp cannot be placed in a
    /// window and are skipped.
    /// Observations for the correlations fed by the rules in `matched`. The event time
    /// is `event_time_ms` when the caller knows it (a decoder parsed it), else read from
    /// the pipeline's timestamp fields; an event without a time feeds no correlation.
    pub fn correlation_observations(
        &self,
        matched: &[RuleIdx],
        event_ref: u64,
        event_time_ms: Option<i64>,
        out: &mut Vec<PendingObservation>,
    ) {
        let set = self.rule_set();
        if set.correlations.is_empty() {
            return;
        }
        let mut timestamp = None;
        for &rule in matched {
            for &(correlation, input) in &set.rule_feeds[rule as usize] {
                let ts = *timestamp
                    .get_or_insert_with(|| event_time_ms.or_else(|| self.timestamp().map(|t| t.timestamp_millis())));
                let Some(ts) = ts else { continue };
                let spec = &set.correlations[correlation as usize].inputs[input as usize];
                let doc = self.document();
                let group = spec
                    .group
                    .iter()
                    .map(|g| match g {
                        GroupSource::Field(f) => doc.first_text(*f).map(str::to_string).into(),
                        _ => GroupValue::Missing,
                    })
                    .collect();
                let value = if spec.value_fields.is_empty() {
                    None
                } else {
                    let parts: Vec<&str> = spec.value_fields.iter().filter_map(|f| doc.first_text(*f)).collect();
                    (parts.len() == spec.value_fields.len()).then(|| parts.join(&KEY_SEPARATOR.to_string()))
                };
                out.push(PendingObservation { correlation, input, timestamp_ms: ts, group, value, event_ref });
            }
        }
    }
}

/// Drives the correlation engine for one stream of events (in event order).
pub struct Correlator<'r> {
    set: &'r RuleSet,
    engine: CorrelationEngine,
    hits: Vec<CorrelationHit>,
}

impl<'r> Correlator<'r> {
    pub fn new(set: &'r RuleSet) -> Self {
        let specs = set
            .correlations
            .iter()
            .map(|c| CorrelationSpec {
                kind: c.kind,
                inputs: c.inputs.len(),
                timespan_ms: c.timespan_ms,
                condition: c.condition.clone(),
            })
            .collect();
        Correlator { set, engine: CorrelationEngine::new(specs), hits: Vec::new() }
    }

    pub fn engine(&self) -> &CorrelationEngine {
        &self.engine
    }

    pub fn observe(&mut self, obs: &PendingObservation, out: &mut Vec<CorrelationDetection>) {
        self.hits.clear();
        self.engine.observe(
            &Observation {
                correlation: obs.correlation as usize,
                input: obs.input as usize,
                timestamp_ms: obs.timestamp_ms,
                group: &obs.group,
                value: obs.value.as_deref(),
                event_ref: obs.event_ref,
            },
            &mut self.hits,
        );
        let hits = std::mem::take(&mut self.hits);
        self.handle(hits, out, 0);
    }

    /// Moves the clock to `now_ms` without an event: windows that ended by then close
    /// and report (a streaming daemon calls this on a timer, so a brute force that
    /// stops still alerts when its window ends, not at the next event).
    pub fn advance(&mut self, now_ms: i64, out: &mut Vec<CorrelationDetection>) {
        let mut hits = Vec::new();
        self.engine.advance(now_ms, &mut hits);
        self.handle(hits, out, 0);
    }

    /// How long windows stay open behind the newest event time for late events.
    pub fn set_allowed_lateness(&mut self, ms: i64) {
        self.engine.set_allowed_lateness(ms);
    }

    /// Closes every open window (end of input).
    pub fn finish(&mut self, out: &mut Vec<CorrelationDetection>) {
        // Chained hits produced while finishing may open windows that need closing
        // too; the chain depth bounds the rounds.
        for _ in 0..=self.set.correlations.len() {
            let mut hits = Vec::new();
            self.engine.finish(&mut hits);
            if hits.is_empty() {
                break;
            }
            self.handle(hits, out, 0);
        }
    }

    fn handle(&mut self, hits: Vec<CorrelationHit>, out: &mut Vec<CorrelationDetection>, depth: usize) {
        for hit in hits {
            let correlation = &self.set.correlations[hit.correlation];
            if correlation.emit {
                out.push(CorrelationDetection {
                    correlation: hit.correlation as u32,
                    group: correlation
                        .group_by
                        .iter()
                        .cloned()
                        .zip(hit.group.iter().map(|g| match g {
                            GroupValue::Str(s) => Some(s.clone()),
                            GroupValue::Missing => None,
                        }))
                        .collect(),
                    first_ms: hit.first_ms,
                    last_ms: hit.last_ms,
                    event_count: hit.event_count,
                    value: hit.value,
                    event_refs: hit.event_refs.clone(),
                });
            }
            // Cycles are rejected at compile time; depth is a second guard.
            if depth > self.set.correlations.len() {
                continue;
            }
            for &(outer, input) in &self.set.correlation_feeds[hit.correlation] {
                let spec = &self.set.correlations[outer as usize].inputs[input as usize];
                let group: Vec<GroupValue> = spec
                    .group
                    .iter()
                    .map(|g| match g {
                        GroupSource::InnerColumn(i) => hit.group.get(*i).cloned().unwrap_or(GroupValue::Missing),
                        _ => GroupValue::Missing,
                    })
                    .collect();
                let mut chained = Vec::new();
                self.engine.observe(
                    &Observation {
                        correlation: outer as usize,
                        input: input as usize,
                        timestamp_ms: hit.last_ms,
                        group: &group,
                        value: None,
                        event_ref: hit.event_refs.first().copied().unwrap_or(0),
                    },
                    &mut chained,
                );
                self.handle(chained, out, depth + 1);
            }
        }
    }
}
