//! The correlation state machine: Sigma correlation rules (specification v2.1) evaluated
//! over a stream of observations.
//!
//! This module is pure: no I/O, no field extraction, no rule lookup. The caller matches
//! base rules on events, extracts the group-by values (alias-resolved) and the value
//! field, and hands each match to [`CorrelationEngine::observe`] as an [`Observation`].
//! Chaining (a correlation referencing another correlation) is also the caller's job:
//! hits of the inner correlation are fed back as observations of the outer one (typically
//! with `timestamp_ms = hit.last_ms`).
//!
//! # Semantics
//!
//! * **State key.** State is kept per `(correlation index, group values)`. Group values
//!   compare exactly (no case folding; the caller normalises if it wants to).
//! * **Missing group-by values.** An observation with any [`GroupValue::Missing`] does not
//!   count (it is tallied in [`CorrelationStats::ignored_missing_group`]). This follows
//!   the most common backend behaviour (Splunk `stats ... by`, Elasticsearch `terms`
//!   aggregations without `missing:`) where events lacking a group-by field fall out of
//!   the aggregation; grouping all of them together under "missing" would correlate
//!   unrelated events (e.g. every log line without a `User`) and cause false positives,
//!   which the specification asks backends to avoid. A caller that wants the other
//!   behaviour can pass a sentinel `Str` instead.
//! * **Time** is event time in milliseconds. A window of `timespan_ms` is inclusive at
//!   both ends: events at `t` and `t + timespan_ms` are in the same window. All time
//!   arithmetic saturates, a negative timespan is treated as 0.
//! * **Two evaluation modes** ([`Evaluation`]):
//!   - *Sliding* for conditions that can only become true as a window fills up: every
//!     comparison is `gt`/`gte` and the aggregate grows with more observations
//!     (event_count, value_count, value_sum, temporal, temporal_ordered). On each
//!     observation the aggregate is computed over the group's observations in
//!     `[T - timespan, T]` (`T` = latest event time of the group); when the condition
//!     holds one hit is emitted and the group's state is reset, so the next hit needs a
//!     completely fresh set of observations (no alert storm from one burst; a burst of
//!     3×N events gives 3 hits for `gte N`). The emptied group lives on until it idles
//!     out.
//!     value_sum assumes non-negative values (bytes, counts); negative values make the
//!     sum non-monotone but the "some trailing window exceeded X" reading still holds.
//!   - *Window close* for everything else: any `lt`/`lte`/`eq`/`neq` comparison, and
//!     always for value_avg (an average is not monotone in the number of observations:
//!     evaluating it on each observation would fire on the first large value before the
//!     window has seen the rest) and value_percentile (rarity can only be judged once the
//!     window is complete). The window is anchored at the group's first observation
//!     `t0` and covers `[t0, t0 + timespan]`. It is evaluated once, when it closes: when an
//!     observation of the same group arrives later than `t0 + timespan`, when the
//!     engine's clock (raised by [`CorrelationEngine::advance`] and by every
//!     observation) passes the end, or at [`CorrelationEngine::finish`]. A hit is
//!     emitted if the condition holds; the next observation starts a new window. Groups
//!     that never had an observation cannot be reported (`event_count lt 5` means "a
//!     group that was seen, but fewer than 5 times").
//! * **Aggregates.** event_count: observations in the window. value_count: distinct
//!   `value` strings (several fields are joined by the caller into one key).
//!   value_sum/value_avg: sum/mean of `value` parsed as `f64`; absent, unparsable or
//!   non-finite values do not count at all ([`CorrelationStats::ignored_bad_value`]).
//!   value_percentile: for each distinct `value` string (e.g. an `Image`), the percentage
//!   of the window's observations carrying that value; the condition is checked per
//!   value, one hit per qualifying value per window, with [`CorrelationHit::value_key`]
//!   naming it (`lte: 1` = a value accounting for at most 1 % of the group's
//!   observations). temporal: number of distinct inputs (referenced rules) seen.
//!   temporal_ordered: length of the longest chain of distinct inputs observed in rule
//!   order (each next input at or after the previous one's time, the whole chain within
//!   the timespan). Without a condition, temporal and temporal_ordered require all
//!   `inputs` (`gte inputs`). Any other type without a condition (or with no
//!   comparisons) holds trivially, so every observation is a hit.
//! * **temporal_ordered tracking.** For each (last input, chain length) the engine keeps
//!   the chain with the latest start; that chain dominates all others for future
//!   extension, so sequences with repeats and restarts are found exactly for in-order
//!   streams (A A B → 1 hit, B A → none, A … B beyond the timespan → none,
//!   A B A B → 2 hits). Events with equal timestamps are ordered by arrival.
//! * **Out-of-order events.** Never a panic. Sliding mode: a late event is inserted at its
//!   time position if it is within `timespan` of the group's latest event, otherwise
//!   dropped ([`CorrelationStats::dropped_late`]). Window-close mode: a late event is
//!   folded into the group's open window unless it is more than `timespan` before the
//!   window's start (then dropped likewise). temporal_ordered extends a chain only with
//!   an event that both arrives later and is timed at or after the previous step, so a
//!   late-arriving earlier event cannot start a chain retroactively. The engine clock (watermark) is the maximum event
//!   time seen and never goes back; [`CorrelationEngine::set_allowed_lateness`] delays
//!   clock-driven window closing and eviction for interleaved multi-source input.
//! * **Memory bounds.** Per group at most [`DEFAULT_GROUP_CAP`] stored observations
//!   (raised to just above the largest threshold of an event_count/value_count condition,
//!   up to [`MAX_GROUP_CAP`], so that large thresholds stay reachable); beyond it the
//!   oldest is dropped ([`CorrelationStats::dropped_over_cap`]). Window-close value_count
//!   and value_percentile keep at most that many distinct values; further new values of
//!   value_count are counted without being stored (an upper bound), further new values of
//!   value_percentile count towards the total but cannot be reported. Hits carry at most
//!   [`EVENT_REF_CAP`] event refs. Temporal types track at most [`MAX_INPUTS`] inputs
//!   (observations of further inputs are ignored as invalid). Sliding groups idle for longer than `timespan` behind
//!   the clock are evicted, and ended windows closed, as soon as the clock passes their
//!   deadline: a priority queue of deadlines makes this O(log n) per due group, so
//!   `advance` may be called as often as the caller likes. Live groups, over all
//!   correlations, number at most [`MAX_LIVE_GROUPS`] (group values come from the events,
//!   which an attacker writes: one group per spoofed source address): a new group beyond
//!   it first sheds the group with the earliest deadline, unevaluated
//!   ([`CorrelationStats::shed_groups`]).
//! * **Hit contents.** Sliding hits describe the window's observations at the time of the
//!   hit (temporal_ordered: the events of the completed chain, one per input);
//!   window-close hits describe all observations of the window (value_percentile: those
//!   of the reported value). `event_refs` are in event-time order for sliding hits and in
//!   arrival order for window-close hits.
//! * [`CorrelationEngine::finish`] closes every open window and clears all state; the
//!   engine can then be reused for a new stream.

mod chains;
mod sliding;
#[cfg(test)]
mod tests;
mod window;

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use indexmap::IndexMap;
use rustc_hash::FxBuildHasher;

use crate::ast::{CmpOp, CorrelationCondition, CorrelationRule, CorrelationType};

use sliding::Sliding;
use window::{close_window, Anchored};

/// Most event refs carried by one hit.
pub const EVENT_REF_CAP: usize = 64;
/// Default cap of stored observations (and distinct values) per group.
pub const DEFAULT_GROUP_CAP: usize = 10_000;
/// Hard ceiling of the per-group cap, whatever the condition's threshold.
pub const MAX_GROUP_CAP: usize = 1_000_000;
/// Default ceiling of live groups over all correlations of an engine.
pub const MAX_LIVE_GROUPS: usize = 100_000;
/// Event refs kept per distinct value for value_percentile: rare values, the ones that
/// get reported, have few events anyway, and this bounds the memory of common ones.
const PER_VALUE_REF_CAP: usize = 16;
/// Floor of the per-input cap of sliding temporal groups.
const MIN_PER_INPUT_CAP: usize = 16;
/// Most inputs tracked per correlation: per-input state is allocated per group, so a
/// bogus `inputs` must not turn into a huge allocation.
pub const MAX_INPUTS: usize = 4096;

/// One correlation rule as the engine sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct CorrelationSpec {
    pub kind: CorrelationType,
    /// Number of referenced rules (inputs); observations carry an input index 0..inputs.
    pub inputs: usize,
    pub timespan_ms: i64,
    /// None for temporal/temporal_ordered = "all inputs seen" (count of distinct inputs
    /// == inputs).
    pub condition: Option<CorrelationCondition>,
}

impl CorrelationSpec {
    pub fn from_rule(rule: &CorrelationRule) -> Self {
        CorrelationSpec {
            kind: rule.kind,
            inputs: rule.rules.len(),
            timespan_ms: rule.timespan_ms,
            condition: rule.condition.clone(),
        }
    }

    /// How this correlation is evaluated (see the module documentation).
    pub fn evaluation(&self) -> Evaluation {
        let growing = effective_comparisons(self).iter().all(|(op, _)| matches!(op, CmpOp::Gt | CmpOp::Gte));
        match self.kind {
            CorrelationType::ValueAvg | CorrelationType::ValuePercentile => Evaluation::WindowClose,
            _ if growing => Evaluation::Sliding,
            _ => Evaluation::WindowClose,
        }
    }
}

/// When a correlation's condition is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Evaluation {
    /// On every observation, over the trailing timespan; reset after a hit.
    Sliding,
    /// Once, when a window anchored at its first observation closes.
    WindowClose,
}

/// One group-by value. Serialises as a string, or `null` for `Missing`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(untagged)]
pub enum GroupValue {
    /// The field's value as-is; compared exactly.
    Str(String),
    /// The event lacks the group-by field: the observation is ignored.
    Missing,
}

impl From<&str> for GroupValue {
    fn from(s: &str) -> Self {
        GroupValue::Str(s.to_owned())
    }
}

impl From<String> for GroupValue {
    fn from(s: String) -> Self {
        GroupValue::Str(s)
    }
}

impl From<Option<String>> for GroupValue {
    fn from(s: Option<String>) -> Self {
        s.map_or(GroupValue::Missing, GroupValue::Str)
    }
}

/// A base-rule (or inner-correlation) match, as seen by one correlation.
#[derive(Debug, Clone, Copy)]
pub struct Observation<'a> {
    /// Index into the specs vector.
    pub correlation: usize,
    /// Which referenced rule matched (position in `rules:`). Only checked (and must be
    /// `< inputs`) for temporal and temporal_ordered, the only types where it matters.
    pub input: usize,
    /// Event time.
    pub timestamp_ms: i64,
    /// Group-by values, in group-by order (already alias-resolved by the caller).
    pub group: &'a [GroupValue],
    /// value_count / value_percentile: the distinct-value key (several fields joined by
    /// the caller). value_sum / value_avg: the number as text. Ignored otherwise.
    pub value: Option<&'a str>,
    /// Opaque id of the event.
    pub event_ref: u64,
}

/// A correlation that matched.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CorrelationHit {
    pub correlation: usize,
    pub group: Vec<GroupValue>,
    pub first_ms: i64,
    pub last_ms: i64,
    /// Events behind this hit.
    pub event_count: u64,
    /// The aggregate that satisfied the condition: count, distinct count, sum, mean,
    /// percentage of the window (value_percentile), or number of distinct inputs
    /// (temporal; longest in-order chain for temporal_ordered).
    pub value: f64,
    /// The first (at most [`EVENT_REF_CAP`]) event refs behind the hit.
    pub event_refs: Vec<u64>,
    /// value_percentile only: the value whose share satisfied the condition.
    pub value_key: Option<String>,
}

/// Counters for what the engine did with its input.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CorrelationStats {
    pub observations: u64,
    /// Correlation index out of range, or input index out of range for temporal types.
    pub ignored_invalid: u64,
    pub ignored_missing_group: u64,
    /// Value absent (value_count, value_percentile) or not a finite number (value_sum,
    /// value_avg).
    pub ignored_bad_value: u64,
    /// Event too old for its group when it arrived: more than `timespan` before the
    /// group's latest event (sliding) or before its open window's start (window close).
    pub dropped_late: u64,
    /// Stored observations dropped because a group reached its cap.
    pub dropped_over_cap: u64,
    pub hits: u64,
    /// Window-close windows evaluated (whether or not they produced a hit).
    pub windows_closed: u64,
    /// Idle sliding groups dropped.
    pub evicted_groups: u64,
    /// Groups dropped before their deadline, unevaluated, to admit a new group once
    /// [`MAX_LIVE_GROUPS`] (or the engine's own ceiling) were live.
    pub shed_groups: u64,
}

/// The correlation engine: all correlations of a rule set, all their group states.
#[derive(Debug)]
pub struct CorrelationEngine {
    specs: Vec<CorrelationSpec>,
    compiled: Vec<Compiled>,
    groups: Vec<GroupMap>,
    /// One entry per live group, ordered by the deadline it had when queued (a lower
    /// bound of its current one: deadlines only move later while a group lives). Lets
    /// the clock close and evict exactly the groups that are due, in O(log n) each,
    /// however often `advance` is called.
    due: BinaryHeap<Reverse<Due>>,
    /// Maximum event time seen (or advanced to); never decreases.
    watermark: i64,
    lateness: i64,
    max_live_groups: usize,
    stats: CorrelationStats,
}

/// Group keys are shared between the group map and the deadline queue.
type GroupKey = Arc<[GroupValue]>;
type GroupMap = IndexMap<GroupKey, Group, FxBuildHasher>;

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Due {
    deadline: i64,
    correlation: usize,
    key: GroupKey,
}

impl CorrelationEngine {
    pub fn new(specs: Vec<CorrelationSpec>) -> Self {
        let compiled: Vec<Compiled> = specs.iter().map(Compiled::new).collect();
        let groups = specs.iter().map(|_| GroupMap::default()).collect();
        CorrelationEngine {
            specs,
            compiled,
            groups,
            due: BinaryHeap::new(),
            watermark: i64::MIN,
            lateness: 0,
            max_live_groups: MAX_LIVE_GROUPS,
            stats: CorrelationStats::default(),
        }
    }

    pub fn specs(&self) -> &[CorrelationSpec] {
        &self.specs
    }

    pub fn stats(&self) -> &CorrelationStats {
        &self.stats
    }

    /// How long clock-driven closing and eviction wait behind the newest event time, for
    /// input interleaved from sources that are not in step (default 0). Negative = 0.
    pub fn set_allowed_lateness(&mut self, ms: i64) {
        self.lateness = ms.max(0);
    }

    /// Ceiling of live groups over all correlations (default [`MAX_LIVE_GROUPS`];
    /// at least 1).
    pub fn set_max_live_groups(&mut self, groups: usize) {
        self.max_live_groups = groups.max(1);
    }

    /// Feed one observation; returns hits completed by it (pushed into `out`). Hits of
    /// other groups whose windows the advancing clock closed are reported as well.
    pub fn observe(&mut self, obs: &Observation<'_>, out: &mut Vec<CorrelationHit>) {
        self.stats.observations += 1;
        let ci = obs.correlation;
        let Some(c) = self.compiled.get(ci) else {
            self.stats.ignored_invalid += 1;
            return;
        };
        if obs.group.iter().any(|g| matches!(g, GroupValue::Missing)) {
            self.stats.ignored_missing_group += 1;
            return;
        }
        let payload = match c.kind {
            CorrelationType::EventCount => Payload::Nothing,
            CorrelationType::ValueCount | CorrelationType::ValuePercentile => match obs.value {
                Some(v) => Payload::Key(v),
                None => {
                    self.stats.ignored_bad_value += 1;
                    return;
                }
            },
            CorrelationType::ValueSum | CorrelationType::ValueAvg => match obs.value.and_then(parse_number) {
                Some(n) => Payload::Num(n),
                None => {
                    self.stats.ignored_bad_value += 1;
                    return;
                }
            },
            CorrelationType::Temporal | CorrelationType::TemporalOrdered => {
                if obs.input < c.inputs {
                    Payload::Input(obs.input)
                } else {
                    self.stats.ignored_invalid += 1;
                    return;
                }
            }
        };
        if !self.groups[ci].contains_key(obs.group) && self.state_len() >= self.max_live_groups {
            self.shed_earliest();
        }
        let c = &self.compiled[ci];
        let t = obs.timestamp_ms;
        let stamp = Stamp { ts: t, ev: obs.event_ref };
        let map = &mut self.groups[ci];
        let stats = &mut self.stats;

        let idx = match map.get_index_of(obs.group) {
            Some(idx) => idx,
            None => {
                let body = if c.sliding { Body::Sliding(Sliding::new(c)) } else { Body::Anchored(Anchored::new(c, t)) };
                let g = Group { last_ts: t, body };
                let key: GroupKey = obs.group.into();
                self.due.push(Reverse(Due { deadline: g.deadline(c.span), correlation: ci, key: Arc::clone(&key) }));
                map.insert_full(key, g).0
            }
        };
        let (key, g) = map.get_index_mut(idx).expect("index just looked up or inserted");
        match &mut g.body {
            Body::Sliding(s) => {
                if t < g.last_ts.saturating_sub(c.span) {
                    stats.dropped_late += 1;
                } else {
                    g.last_ts = g.last_ts.max(t);
                    let min_ts = g.last_ts.saturating_sub(c.span);
                    let (value, chain) = s.push(c, stamp, payload, min_ts, stats);
                    if c.holds(value) {
                        let sum = match chain {
                            Some(ch) => {
                                Summary { first: ch.start, last: ch.at, count: ch.len as u64, refs: ch.refs.to_vec() }
                            }
                            None => s.summary(),
                        };
                        stats.hits += 1;
                        out.push(sum.into_hit(ci, key.to_vec(), value, None));
                        // Reset: the next hit needs a fresh set of observations. The
                        // emptied group stays until it idles out, which keeps its queue
                        // entry valid.
                        s.clear();
                    }
                }
            }
            Body::Anchored(a) => {
                if t < a.start.saturating_sub(c.span) {
                    // Cannot share a window with the open one.
                    stats.dropped_late += 1;
                } else {
                    if t > a.start.saturating_add(c.span) {
                        // The group's own later event closes its window.
                        let old = std::mem::replace(a, Anchored::new(c, t));
                        close_window(c, ci, key, &old, stats, out);
                    }
                    g.last_ts = g.last_ts.max(t);
                    a.add(c, stamp, payload);
                }
            }
        }

        self.watermark = self.watermark.max(t);
        self.expire(out);
    }

    /// Advance event time without an observation: closes windows that ended before
    /// `now_ms` (minus the allowed lateness), reports their hits, and evicts idle groups.
    /// The clock never goes back; an earlier `now_ms` is a no-op.
    pub fn advance(&mut self, now_ms: i64, out: &mut Vec<CorrelationHit>) {
        self.watermark = self.watermark.max(now_ms);
        self.expire(out);
    }

    /// End of stream: close all open windows (as if time jumped to +infinity), report
    /// their hits, and drop all state.
    pub fn finish(&mut self, out: &mut Vec<CorrelationHit>) {
        // In deadline order, like the clock would have closed them.
        while let Some(Reverse(due)) = self.due.pop() {
            self.remove_group(&due, out);
        }
        debug_assert_eq!(self.state_len(), 0, "every group has exactly one queue entry");
        for map in &mut self.groups {
            map.clear();
        }
        self.watermark = i64::MIN;
    }

    /// Number of live group states (for memory accounting).
    pub fn state_len(&self) -> usize {
        self.groups.iter().map(IndexMap::len).sum()
    }

    /// Closes/evicts every group whose deadline is behind the clock.
    fn expire(&mut self, out: &mut Vec<CorrelationHit>) {
        let now = self.watermark.saturating_sub(self.lateness);
        while self.due.peek().is_some_and(|Reverse(d)| d.deadline < now) {
            let Some(Reverse(due)) = self.due.pop() else {
                break;
            };
            let deadline = match self.groups[due.correlation].get(&due.key) {
                Some(g) => g.deadline(self.compiled[due.correlation].span),
                None => continue,
            };
            if deadline < now {
                self.remove_group(&due, out);
            } else {
                // It saw later events since it was queued: queue it again.
                self.due.push(Reverse(Due { deadline, ..due }));
            }
        }
    }

    /// Drops the live group whose deadline comes first, without evaluating it: closing a
    /// window early could report a hit its full window would not (`lt` conditions).
    fn shed_earliest(&mut self) {
        while let Some(Reverse(due)) = self.due.pop() {
            let Some(g) = self.groups[due.correlation].get(&due.key) else {
                continue;
            };
            let deadline = g.deadline(self.compiled[due.correlation].span);
            if deadline > due.deadline {
                // Queued before its latest events: requeue at its real deadline.
                self.due.push(Reverse(Due { deadline, ..due }));
                continue;
            }
            self.groups[due.correlation].swap_remove(&due.key);
            self.stats.shed_groups += 1;
            return;
        }
    }

    /// Drops a group; a window-close group is evaluated first.
    fn remove_group(&mut self, due: &Due, out: &mut Vec<CorrelationHit>) {
        let c = &self.compiled[due.correlation];
        let Some((key, g)) = self.groups[due.correlation].swap_remove(&due.key).map(|g| (&due.key, g)) else {
            return;
        };
        match &g.body {
            Body::Anchored(a) => close_window(c, due.correlation, key, a, &mut self.stats, out),
            Body::Sliding(_) => self.stats.evicted_groups += 1,
        }
    }
}

/// Numbers for value_sum / value_avg. Non-finite values are refused: "NaN" or "inf"
/// parse as f64 but would poison every aggregate they enter.
fn parse_number(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

/// The comparisons actually applied: temporal types default to "all inputs seen".
fn effective_comparisons(spec: &CorrelationSpec) -> Vec<(CmpOp, f64)> {
    let given = spec.condition.as_ref().map(|c| c.comparisons.as_slice()).unwrap_or(&[]);
    match spec.kind {
        CorrelationType::Temporal | CorrelationType::TemporalOrdered if given.is_empty() => {
            vec![(CmpOp::Gte, spec.inputs as f64)]
        }
        _ => given.to_vec(),
    }
}

/// Per-group cap: large enough that the condition's threshold stays reachable for the
/// counting types, bounded so that one group cannot eat the machine.
fn group_cap(kind: CorrelationType, comparisons: &[(CmpOp, f64)]) -> usize {
    if !matches!(kind, CorrelationType::EventCount | CorrelationType::ValueCount) {
        return DEFAULT_GROUP_CAP;
    }
    let top = comparisons.iter().map(|&(_, limit)| limit).filter(|l| l.is_finite()).fold(0.0_f64, f64::max);
    // `top` is finite and >= 0; the float-to-int cast saturates.
    let needed = (top.ceil() + 1.0).min(MAX_GROUP_CAP as f64) as usize;
    needed.clamp(DEFAULT_GROUP_CAP, MAX_GROUP_CAP)
}

/// A spec prepared for evaluation.
#[derive(Debug)]
struct Compiled {
    kind: CorrelationType,
    inputs: usize,
    span: i64,
    comparisons: Vec<(CmpOp, f64)>,
    sliding: bool,
    cap: usize,
}

impl Compiled {
    fn new(spec: &CorrelationSpec) -> Self {
        let comparisons = effective_comparisons(spec);
        Compiled {
            kind: spec.kind,
            inputs: spec.inputs.min(MAX_INPUTS),
            span: spec.timespan_ms.max(0),
            cap: group_cap(spec.kind, &comparisons),
            comparisons,
            sliding: spec.evaluation() == Evaluation::Sliding,
        }
    }

    fn holds(&self, value: f64) -> bool {
        self.comparisons.iter().all(|&(op, limit)| op.holds(value, limit))
    }
}

/// What an observation contributes, once validated for its correlation's type.
#[derive(Debug, Clone, Copy)]
enum Payload<'a> {
    Nothing,
    Key(&'a str),
    Num(f64),
    Input(usize),
}

#[derive(Debug, Clone, Copy)]
struct Stamp {
    ts: i64,
    ev: u64,
}

#[derive(Debug)]
struct Group {
    /// Latest event time seen in this group.
    last_ts: i64,
    body: Body,
}

impl Group {
    /// The clock time after which this group is dead: its sliding window holds nothing
    /// any more, or its anchored window has ended.
    fn deadline(&self, span: i64) -> i64 {
        match &self.body {
            Body::Sliding(_) => self.last_ts.saturating_add(span),
            Body::Anchored(a) => a.start.saturating_add(span),
        }
    }
}

#[derive(Debug)]
enum Body {
    Sliding(Sliding),
    Anchored(Anchored),
}

/// First/last time, count and first refs of the events behind a hit.
struct Summary {
    first: i64,
    last: i64,
    count: u64,
    refs: Vec<u64>,
}

impl Summary {
    /// Over stamps in time order.
    fn of<'s>(stamps: impl Iterator<Item = &'s Stamp>) -> Summary {
        let mut s = Summary { first: i64::MAX, last: i64::MIN, count: 0, refs: Vec::new() };
        for st in stamps {
            s.first = s.first.min(st.ts);
            s.last = s.last.max(st.ts);
            s.count += 1;
            if s.refs.len() < EVENT_REF_CAP {
                s.refs.push(st.ev);
            }
        }
        s
    }

    fn into_hit(self, correlation: usize, group: Vec<GroupValue>, value: f64, key: Option<String>) -> CorrelationHit {
        CorrelationHit {
            correlation,
            group,
            first_ms: self.first,
            last_ms: self.last,
            event_count: self.count,
            value,
            event_refs: self.refs,
            value_key: key,
        }
    }
}
