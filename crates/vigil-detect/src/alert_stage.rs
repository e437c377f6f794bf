use std::collections::VecDeque;

use vigil_sigma::correlate::{CorrelationDetection, Correlator};
use vigil_sigma::RuleSet;

use crate::aggregate::{AggregationConfig, Aggregator, AlertUpdate, Occurrence};
use crate::matcher::MatchResult;

/// The event a match came from, as the alert stage needs it.
#[derive(Debug, Clone, Copy)]
pub struct EventContext<'a> {
    /// The handle given to [`EventMatcher::evaluate`](crate::EventMatcher::evaluate);
    /// must increase from one event to the next.
    pub event_ref: u64,
    pub event_id: &'a str,
    /// Event time, else the time it was received.
    pub time_ms: i64,
    pub host: Option<&'a str>,
    pub src_ip: Option<&'a str>,
    pub user: Option<&'a str>,
}

/// Who an event reference stands for, kept while correlations may still cite it.
///
/// Up to [`REMEMBERED_EVENTS`] of these live at once, so they are packed: the four
/// texts share one allocation. As four `String`s an entry took ~250 bytes with its
/// allocations, about 60 MB for a full ring (heaptrack over the daemon's file -> store
/// benchmark, where many events feed correlation rules).
struct RefInfo {
    event_ref: u64,
    /// The event id, then host, source IP and user, one after the other.
    texts: Box<str>,
    /// Where the event id, host and source IP end in `texts` (the user runs to the end).
    ends: [usize; 3],
    /// Bit i set: the (i + 1)-th text (host, source IP, user) is present.
    present: u8,
}

impl RefInfo {
    fn new(event: &EventContext<'_>) -> RefInfo {
        let fields = [event.host, event.src_ip, event.user];
        let len = event.event_id.len() + fields.iter().map(|f| f.map_or(0, str::len)).sum::<usize>();
        let mut texts = String::with_capacity(len);
        texts.push_str(event.event_id);
        let mut ends = [0usize; 3];
        let mut present = 0u8;
        ends[0] = texts.len();
        for (i, field) in fields.iter().enumerate() {
            if let Some(text) = field {
                texts.push_str(text);
                present |= 1 << i;
            }
            if i < 2 {
                ends[i + 1] = texts.len();
            }
        }
        RefInfo { event_ref: event.event_ref, texts: texts.into_boxed_str(), ends, present }
    }

    fn event_id(&self) -> &str {
        &self.texts[..self.ends[0]]
    }

    /// 0: host, 1: source IP, 2: user.
    fn field(&self, i: usize) -> Option<String> {
        if self.present & (1 << i) == 0 {
            return None;
        }
        let start = self.ends[i];
        let end = if i < 2 { self.ends[i + 1] } else { self.texts.len() };
        Some(self.texts[start..end].to_owned())
    }
}

/// Events remembered for linking correlation alerts to their events. Older ones are
/// forgotten (the alert keeps its count; only the link is lost).
const REMEMBERED_EVENTS: usize = 1 << 18;

/// Correlations and alert aggregation, on one thread, in event order.
pub struct AlertStage<'r> {
    set: &'r RuleSet,
    correlator: Correlator<'r>,
    aggregator: Aggregator,
    refs: VecDeque<RefInfo>,
    hits: Vec<CorrelationDetection>,
    occurrences: u64,
}

impl<'r> AlertStage<'r> {
    pub fn new(set: &'r RuleSet, config: AggregationConfig) -> Self {
        Self::with_aggregator(set, Aggregator::new(config))
    }

    pub fn with_aggregator(set: &'r RuleSet, aggregator: Aggregator) -> Self {
        AlertStage {
            set,
            correlator: Correlator::new(set),
            aggregator,
            refs: VecDeque::new(),
            hits: Vec::new(),
            occurrences: 0,
        }
    }

    /// Lets correlation windows wait this long for late events before closing.
    pub fn set_allowed_lateness(&mut self, ms: i64) {
        self.correlator.set_allowed_lateness(ms);
    }

    /// Rule hits and correlation hits seen so far (before aggregation).
    pub fn occurrences(&self) -> u64 {
        self.occurrences
    }

    pub fn live_alerts(&self) -> usize {
        self.aggregator.live_alerts()
    }

    /// The correlation engine, for its state and statistics.
    pub fn correlations(&self) -> &vigil_sigma::correlation::CorrelationEngine {
        self.correlator.engine()
    }

    /// Records the matches of one event.
    pub fn on_event(&mut self, event: &EventContext<'_>, matches: &MatchResult) {
        for &rule_idx in &matches.rules {
            let rule = &self.set.rules()[rule_idx as usize];
            self.occurrences += 1;
            self.aggregator.record(Occurrence {
                rule_key: rule_idx,
                rule_id: rule.meta.id.clone().unwrap_or_else(|| rule.meta.title.clone()),
                rule_title: rule.meta.title.clone(),
                level: rule.meta.level.clone().unwrap_or_else(|| "medium".into()),
                tags: rule.meta.tags.clone(),
                group_key: event_group_key(event),
                time_ms: event.time_ms,
                host: event.host.map(str::to_owned),
                src_ip: event.src_ip.map(str::to_owned),
                user: event.user.map(str::to_owned),
                event_ids: vec![event.event_id.to_owned()],
                details: "{}".into(),
            });
        }
        if matches.observations.is_empty() {
            return;
        }
        if self.refs.len() == REMEMBERED_EVENTS {
            self.refs.pop_front();
        }
        self.refs.push_back(RefInfo::new(event));
        let mut hits = std::mem::take(&mut self.hits);
        for obs in &matches.observations {
            self.correlator.observe(obs, &mut hits);
        }
        self.record_correlations(&mut hits);
        self.hits = hits;
    }

    /// Moves the correlation clock (event time) forward without an event, closing
    /// windows that ended.
    pub fn advance(&mut self, now_ms: i64) {
        let mut hits = std::mem::take(&mut self.hits);
        self.correlator.advance(now_ms, &mut hits);
        self.record_correlations(&mut hits);
        self.hits = hits;
    }

    /// Closes every window (shutdown, end of a hunt).
    pub fn finish(&mut self) {
        let mut hits = std::mem::take(&mut self.hits);
        self.correlator.finish(&mut hits);
        self.record_correlations(&mut hits);
        self.hits = hits;
    }

    /// Alert decisions since the last drain, in order.
    pub fn drain(&mut self, out: &mut Vec<AlertUpdate>) {
        self.aggregator.drain(out);
    }

    fn lookup(&self, event_ref: u64) -> Option<&RefInfo> {
        let i = self.refs.partition_point(|r| r.event_ref < event_ref);
        self.refs.get(i).filter(|r| r.event_ref == event_ref)
    }

    fn record_correlations(&mut self, hits: &mut Vec<CorrelationDetection>) {
        for hit in hits.drain(..) {
            let corr = &self.set.correlations()[hit.correlation as usize];
            let linked: Vec<&RefInfo> = hit.event_refs.iter().filter_map(|r| self.lookup(*r)).collect();
            let first = linked.first();
            let group: serde_json::Map<String, serde_json::Value> = hit
                .group
                .iter()
                .map(|(k, v)| (k.clone(), v.clone().map(serde_json::Value::String).unwrap_or(serde_json::Value::Null)))
                .collect();
            let group_key = hit
                .group
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_deref().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(";");
            let kind = serde_json::to_value(corr.kind).ok().and_then(|v| v.as_str().map(str::to_owned));
            let details = serde_json::json!({
                "correlation": kind,
                "group": group,
                "event_count": hit.event_count,
                "value": hit.value,
                "first_ms": hit.first_ms,
                "last_ms": hit.last_ms,
            });
            let occurrence = Occurrence {
                rule_key: u32::MAX - hit.correlation,
                rule_id: corr.meta.id.clone().unwrap_or_else(|| corr.meta.title.clone()),
                rule_title: corr.meta.title.clone(),
                level: corr.meta.level.clone().unwrap_or_else(|| "medium".into()),
                tags: corr.meta.tags.clone(),
                group_key,
                time_ms: hit.last_ms,
                host: first.and_then(|r| r.field(0)),
                src_ip: first.and_then(|r| r.field(1)),
                user: first.and_then(|r| r.field(2)),
                event_ids: linked.iter().map(|r| r.event_id().to_owned()).collect(),
                details: details.to_string(),
            };
            self.occurrences += 1;
            self.aggregator.record(occurrence);
        }
    }
}

/// Two hits of one rule are "the same alert" when they concern the same host, source
/// address and user (K8sCop's rule + pod, widened to the fields every source has).
fn event_group_key(event: &EventContext<'_>) -> String {
    let mut key = String::new();
    for (name, value) in [("host", event.host), ("src_ip", event.src_ip), ("user", event.user)] {
        if let Some(v) = value {
            if !key.is_empty() {
                key.push(';');
            }
            key.push_str(name);
            key.push('=');
            key.push_str(v);
        }
    }
    key
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn a_packed_reference_gives_back_what_it_was_given(
            event_id in ".{0,40}",
            host in proptest::option::of(".{0,20}"),
            src_ip in proptest::option::of(".{0,20}"),
            user in proptest::option::of(".{0,20}"),
        ) {
            let event = EventContext {
                event_ref: 7,
                event_id: &event_id,
                time_ms: 0,
                host: host.as_deref(),
                src_ip: src_ip.as_deref(),
                user: user.as_deref(),
            };
            let packed = RefInfo::new(&event);
            prop_assert_eq!(packed.event_ref, 7);
            prop_assert_eq!(packed.event_id(), event_id.as_str());
            prop_assert_eq!(packed.field(0), host);
            prop_assert_eq!(packed.field(1), src_ip);
            prop_assert_eq!(packed.field(2), user);
        }
    }
}
