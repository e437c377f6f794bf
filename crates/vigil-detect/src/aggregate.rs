//! Alert aggregation windows: the same alert (rule + group key) seen again within the
//! window becomes a repeat — a higher count and a later last-seen time — instead of a
//! new alert. Windows are measured in event time, so replaying a file gives the same
//! alerts as watching it live.

use rustc_hash::FxHashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AggregationConfig {
    /// A repeat later than this after the alert's last occurrence opens a new alert.
    /// 0 disables aggregation (every occurrence is its own alert).
    pub window_ms: i64,
    /// Event ids linked to one alert; later occurrences only raise the count.
    pub max_linked_events: usize,
}

impl Default for AggregationConfig {
    fn default() -> Self {
        AggregationConfig { window_ms: 5 * 60 * 1000, max_linked_events: 100 }
    }
}

/// One occurrence of an alert: a rule hit on an event, or a correlation hit.
#[derive(Debug, Clone, PartialEq)]
pub struct Occurrence {
    /// Index of the rule in the rule set, or `u32::MAX - correlation` for correlations;
    /// only used as part of the key.
    pub rule_key: u32,
    pub rule_id: String,
    pub rule_title: String,
    pub level: String,
    pub tags: Vec<String>,
    pub group_key: String,
    pub time_ms: i64,
    pub host: Option<String>,
    pub src_ip: Option<String>,
    pub user: Option<String>,
    pub event_ids: Vec<String>,
    /// JSON object text with extra context (correlation kind, group, value).
    pub details: String,
}

/// A new alert, as first seen.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertOpen {
    pub alert_id: String,
    pub occurrence: Occurrence,
}

/// What the aggregator decided; applied to the store in order.
#[derive(Debug, Clone, PartialEq)]
pub enum AlertUpdate {
    New(Box<AlertOpen>),
    Repeat { alert_id: String, count: u64, last_seen_ms: i64, event_ids: Vec<String> },
}

struct Live {
    alert_id: String,
    last_seen_ms: i64,
    linked: usize,
}

/// Repeats gathered since the last drain, merged per alert.
struct PendingRepeat {
    count: u64,
    last_seen_ms: i64,
    event_ids: Vec<String>,
}

pub struct Aggregator {
    config: AggregationConfig,
    live: FxHashMap<(u32, String), Live>,
    /// New alerts and repeats in decision order; repeats of the same alert are merged.
    pending: Vec<PendingChange>,
    repeat_slot: FxHashMap<String, usize>,
    watermark: i64,
    next_sweep: i64,
    new_id: Box<dyn FnMut() -> String + Send>,
}

enum PendingChange {
    New(Box<AlertOpen>),
    Repeat(String, PendingRepeat),
}

impl Aggregator {
    pub fn new(config: AggregationConfig) -> Self {
        Self::with_id_source(config, Box::new(|| uuid::Uuid::new_v4().to_string()))
    }

    /// With a custom alert-id source (tests use a counter for stable snapshots).
    pub fn with_id_source(config: AggregationConfig, new_id: Box<dyn FnMut() -> String + Send>) -> Self {
        Aggregator {
            config,
            live: FxHashMap::default(),
            pending: Vec::new(),
            repeat_slot: FxHashMap::default(),
            watermark: i64::MIN,
            next_sweep: i64::MIN,
            new_id,
        }
    }

    /// Alerts currently inside their window (for metrics and tests).
    pub fn live_alerts(&self) -> usize {
        self.live.len()
    }

    pub fn record(&mut self, occurrence: Occurrence) {
        self.watermark = self.watermark.max(occurrence.time_ms);
        let key = (occurrence.rule_key, occurrence.group_key.clone());
        let window = self.config.window_ms;
        let cap = self.config.max_linked_events;
        if window > 0 {
            if let Some(live) = self.live.get_mut(&key) {
                // Out-of-order occurrences (older than the last one) count as repeats.
                if occurrence.time_ms - live.last_seen_ms <= window {
                    live.last_seen_ms = live.last_seen_ms.max(occurrence.time_ms);
                    let room = cap.saturating_sub(live.linked);
                    let ids: Vec<String> = occurrence.event_ids.into_iter().take(room).collect();
                    live.linked += ids.len();
                    let alert_id = live.alert_id.clone();
                    let last_seen = live.last_seen_ms;
                    self.push_repeat(alert_id, last_seen, ids);
                    self.sweep();
                    return;
                }
            }
        }
        let alert_id = (self.new_id)();
        let mut occurrence = occurrence;
        occurrence.event_ids.truncate(cap);
        if window > 0 {
            self.live.insert(
                key,
                Live {
                    alert_id: alert_id.clone(),
                    last_seen_ms: occurrence.time_ms,
                    linked: occurrence.event_ids.len(),
                },
            );
        }
        self.pending.push(PendingChange::New(Box::new(AlertOpen { alert_id, occurrence })));
        self.sweep();
    }

    fn push_repeat(&mut self, alert_id: String, last_seen_ms: i64, event_ids: Vec<String>) {
        if let Some(&slot) = self.repeat_slot.get(&alert_id) {
            if let PendingChange::Repeat(_, r) = &mut self.pending[slot] {
                r.count += 1;
                r.last_seen_ms = r.last_seen_ms.max(last_seen_ms);
                r.event_ids.extend(event_ids);
                return;
            }
        }
        self.repeat_slot.insert(alert_id.clone(), self.pending.len());
        self.pending.push(PendingChange::Repeat(alert_id, PendingRepeat { count: 1, last_seen_ms, event_ids }));
    }

    /// Forgets alerts whose window ended before the newest event time, so memory stays
    /// bounded by the alerts of one window. Amortized: runs at most once per window/4.
    fn sweep(&mut self) {
        if self.watermark < self.next_sweep || self.config.window_ms <= 0 {
            return;
        }
        let horizon = self.watermark.saturating_sub(self.config.window_ms);
        self.live.retain(|_, l| l.last_seen_ms >= horizon);
        self.next_sweep = self.watermark.saturating_add((self.config.window_ms / 4).max(1));
    }

    /// Decisions since the last drain, in order.
    pub fn drain(&mut self, out: &mut Vec<AlertUpdate>) {
        self.repeat_slot.clear();
        for change in self.pending.drain(..) {
            out.push(match change {
                PendingChange::New(open) => AlertUpdate::New(open),
                PendingChange::Repeat(alert_id, r) => AlertUpdate::Repeat {
                    alert_id,
                    count: r.count,
                    last_seen_ms: r.last_seen_ms,
                    event_ids: r.event_ids,
                },
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn occ(rule: u32, group: &str, t: i64, event: &str) -> Occurrence {
        Occurrence {
            rule_key: rule,
            rule_id: format!("r{rule}"),
            rule_title: format!("Rule {rule}"),
            level: "high".into(),
            tags: vec![],
            group_key: group.into(),
            time_ms: t,
            host: None,
            src_ip: None,
            user: None,
            event_ids: vec![event.into()],
            details: "{}".into(),
        }
    }

    fn counter() -> Box<dyn FnMut() -> String + Send> {
        let mut n = 0;
        Box::new(move || {
            n += 1;
            format!("a{n}")
        })
    }

    fn run(agg: &mut Aggregator, occs: Vec<Occurrence>) -> Vec<AlertUpdate> {
        for o in occs {
            agg.record(o);
        }
        let mut out = Vec::new();
        agg.drain(&mut out);
        out
    }

    #[test]
    fn repeats_inside_the_window_collapse_into_one_alert() {
        let mut agg =
            Aggregator::with_id_source(AggregationConfig { window_ms: 1000, max_linked_events: 10 }, counter());
        let out = run(&mut agg, vec![occ(1, "h1", 0, "e1"), occ(1, "h1", 500, "e2"), occ(1, "h1", 1400, "e3")]);
        assert_eq!(out.len(), 2);
        assert!(matches!(&out[0], AlertUpdate::New(a) if a.alert_id == "a1"));
        match &out[1] {
            AlertUpdate::Repeat { alert_id, count, last_seen_ms, event_ids } => {
                assert_eq!(alert_id, "a1");
                assert_eq!(*count, 2);
                assert_eq!(*last_seen_ms, 1400);
                assert_eq!(event_ids, &["e2", "e3"]);
            }
            other => panic!("expected a repeat, got {other:?}"),
        }
    }

    #[test]
    fn a_gap_longer_than_the_window_opens_a_new_alert() {
        let mut agg =
            Aggregator::with_id_source(AggregationConfig { window_ms: 1000, max_linked_events: 10 }, counter());
        let out = run(&mut agg, vec![occ(1, "h1", 0, "e1"), occ(1, "h1", 1001, "e2")]);
        let ids: Vec<_> = out
            .iter()
            .map(|u| match u {
                AlertUpdate::New(a) => a.alert_id.clone(),
                AlertUpdate::Repeat { .. } => panic!("no repeat expected"),
            })
            .collect();
        assert_eq!(ids, ["a1", "a2"]);
    }

    #[test]
    fn different_groups_and_rules_are_different_alerts() {
        let mut agg =
            Aggregator::with_id_source(AggregationConfig { window_ms: 1000, max_linked_events: 10 }, counter());
        let out = run(&mut agg, vec![occ(1, "h1", 0, "e1"), occ(1, "h2", 1, "e2"), occ(2, "h1", 2, "e3")]);
        assert_eq!(out.iter().filter(|u| matches!(u, AlertUpdate::New(_))).count(), 3);
    }

    #[test]
    fn repeats_across_drains_keep_the_alert_and_the_link_cap() {
        let mut agg =
            Aggregator::with_id_source(AggregationConfig { window_ms: 10_000, max_linked_events: 2 }, counter());
        let first = run(&mut agg, vec![occ(1, "h", 0, "e1")]);
        assert_eq!(first.len(), 1);
        let second = run(&mut agg, vec![occ(1, "h", 1, "e2"), occ(1, "h", 2, "e3")]);
        match &second[..] {
            [AlertUpdate::Repeat { alert_id, count, event_ids, .. }] => {
                assert_eq!(alert_id, "a1");
                assert_eq!(*count, 2);
                assert_eq!(event_ids, &["e2"], "the cap of 2 links was reached");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn zero_window_disables_aggregation() {
        let mut agg = Aggregator::with_id_source(AggregationConfig { window_ms: 0, max_linked_events: 10 }, counter());
        let out = run(&mut agg, vec![occ(1, "h", 0, "e1"), occ(1, "h", 0, "e2")]);
        assert!(out.iter().all(|u| matches!(u, AlertUpdate::New(_))));
        assert_eq!(agg.live_alerts(), 0);
    }

    #[test]
    fn state_is_forgotten_after_the_window() {
        let mut agg =
            Aggregator::with_id_source(AggregationConfig { window_ms: 100, max_linked_events: 10 }, counter());
        for g in 0..1000 {
            agg.record(occ(1, &format!("g{g}"), g * 10, "e"));
        }
        // Only the groups of the last window (plus the sweep's slack) are kept.
        assert!(agg.live_alerts() <= 20, "{} live alerts", agg.live_alerts());
    }

    proptest::proptest! {
        /// However occurrences arrive, each is counted exactly once: new alerts plus
        /// repeat counts equal the occurrences recorded.
        #[test]
        fn every_occurrence_is_counted_once(times in proptest::collection::vec((0u32..3, 0i64..5000), 1..200)) {
            let mut agg = Aggregator::with_id_source(AggregationConfig { window_ms: 700, max_linked_events: 5 }, counter());
            let mut total = 0u64;
            for (i, (rule, t)) in times.iter().enumerate() {
                agg.record(occ(*rule, "g", *t, &format!("e{i}")));
                if i % 7 == 0 {
                    let mut out = Vec::new();
                    agg.drain(&mut out);
                    total += out.iter().map(|u| match u { AlertUpdate::New(_) => 1, AlertUpdate::Repeat { count, .. } => *count }).sum::<u64>();
                }
            }
            let mut out = Vec::new();
            agg.drain(&mut out);
            total += out.iter().map(|u| match u { AlertUpdate::New(_) => 1, AlertUpdate::Repeat { count, .. } => *count }).sum::<u64>();
            proptest::prop_assert_eq!(total, times.len() as u64);
        }
    }
}
