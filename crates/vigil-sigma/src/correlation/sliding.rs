//! Sliding-window group state (conditions that can only become true as a window fills).

use std::collections::VecDeque;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::chains::{Chain, Chains};
use super::{Compiled, CorrelationStats, CorrelationType, Payload, Stamp, Summary, MIN_PER_INPUT_CAP};

/// Sliding-window state: the observations within the trailing timespan, kept in time
/// order, with the aggregate maintained incrementally.
#[derive(Debug)]
pub(super) enum Sliding {
    Count(VecDeque<Stamp>),
    Distinct {
        entries: VecDeque<(Stamp, Arc<str>)>,
        /// Occurrences of each value among `entries`; its length is the distinct count.
        /// The key is shared with the entries so each value is stored once.
        counts: FxHashMap<Arc<str>, u32>,
    },
    Sum {
        entries: VecDeque<(Stamp, f64)>,
        sum: f64,
        /// Subtractions since the sum was last recomputed from scratch: running
        /// add/subtract accumulates rounding error, so it is recomputed once this exceeds
        /// the window length (amortised O(1)).
        removed: usize,
    },
    /// One deque per input, so repeats of one rule can never push another rule's only
    /// observation out through the cap.
    Temporal(Vec<VecDeque<Stamp>>),
    Ordered(Chains),
}

impl Sliding {
    pub(super) fn new(c: &Compiled) -> Self {
        match c.kind {
            CorrelationType::ValueCount => Sliding::Distinct { entries: VecDeque::new(), counts: FxHashMap::default() },
            CorrelationType::ValueSum => Sliding::Sum { entries: VecDeque::new(), sum: 0.0, removed: 0 },
            CorrelationType::Temporal => Sliding::Temporal(vec![VecDeque::new(); c.inputs]),
            CorrelationType::TemporalOrdered => Sliding::Ordered(Chains::new(c.inputs)),
            // event_count; value_avg and value_percentile are never sliding.
            _ => Sliding::Count(VecDeque::new()),
        }
    }

    /// Adds one observation, drops what fell out of `[min_ts, ..]` or over the cap, and
    /// returns the aggregate (plus, for temporal_ordered, the chain that reached it).
    pub(super) fn push(
        &mut self,
        c: &Compiled,
        st: Stamp,
        payload: Payload<'_>,
        min_ts: i64,
        stats: &mut CorrelationStats,
    ) -> (f64, Option<Chain>) {
        match self {
            Sliding::Count(dq) => {
                insert_sorted(dq, st, |s| s.ts);
                while dq.front().is_some_and(|s| s.ts < min_ts) {
                    dq.pop_front();
                }
                while dq.len() > c.cap {
                    dq.pop_front();
                    stats.dropped_over_cap += 1;
                }
                (dq.len() as f64, None)
            }
            Sliding::Distinct { entries, counts } => {
                if let Payload::Key(v) = payload {
                    let key = match counts.get_key_value(v) {
                        Some((k, _)) => Arc::clone(k),
                        None => Arc::from(v),
                    };
                    *counts.entry(Arc::clone(&key)).or_insert(0) += 1;
                    insert_sorted(entries, (st, key), |e| e.0.ts);
                }
                let forget = |counts: &mut FxHashMap<Arc<str>, u32>, key: &Arc<str>| {
                    if let Some(n) = counts.get_mut(&**key) {
                        *n -= 1;
                        if *n == 0 {
                            counts.remove(&**key);
                        }
                    }
                };
                while entries.front().is_some_and(|e| e.0.ts < min_ts) {
                    let (_, key) = entries.pop_front().expect("front exists");
                    forget(counts, &key);
                }
                while entries.len() > c.cap {
                    let (_, key) = entries.pop_front().expect("over cap, so non-empty");
                    forget(counts, &key);
                    stats.dropped_over_cap += 1;
                }
                (counts.len() as f64, None)
            }
            Sliding::Sum { entries, sum, removed } => {
                if let Payload::Num(n) = payload {
                    *sum += n;
                    insert_sorted(entries, (st, n), |e| e.0.ts);
                }
                while entries.front().is_some_and(|e| e.0.ts < min_ts) {
                    let (_, n) = entries.pop_front().expect("front exists");
                    *sum -= n;
                    *removed += 1;
                }
                while entries.len() > c.cap {
                    let (_, n) = entries.pop_front().expect("over cap, so non-empty");
                    *sum -= n;
                    *removed += 1;
                    stats.dropped_over_cap += 1;
                }
                // Overflow to infinity and back by subtraction gives NaN; recomputing
                // restores the true (possibly infinite) sum.
                if *removed > entries.len() || !sum.is_finite() {
                    *sum = entries.iter().map(|e| e.1).sum();
                    *removed = 0;
                }
                (*sum, None)
            }
            Sliding::Temporal(per_input) => {
                let per_input_cap = (c.cap / per_input.len().max(1)).max(MIN_PER_INPUT_CAP);
                if let Payload::Input(i) = payload {
                    if let Some(dq) = per_input.get_mut(i) {
                        insert_sorted(dq, st, |s| s.ts);
                        while dq.len() > per_input_cap {
                            dq.pop_front();
                            stats.dropped_over_cap += 1;
                        }
                    }
                }
                for dq in per_input.iter_mut() {
                    while dq.front().is_some_and(|s| s.ts < min_ts) {
                        dq.pop_front();
                    }
                }
                (per_input.iter().filter(|dq| !dq.is_empty()).count() as f64, None)
            }
            Sliding::Ordered(chains) => {
                chains.prune(min_ts);
                match payload {
                    Payload::Input(i) => {
                        let best = chains.observe(i, st, c.span);
                        (best.as_ref().map_or(0, |ch| ch.len) as f64, best)
                    }
                    _ => (0.0, None),
                }
            }
        }
    }

    /// Forgets every observation (after a hit). Allocations are kept: a group that just
    /// fired is busy and will refill them; they go when the group idles out.
    pub(super) fn clear(&mut self) {
        match self {
            Sliding::Count(dq) => dq.clear(),
            Sliding::Distinct { entries, counts } => {
                entries.clear();
                counts.clear();
            }
            Sliding::Sum { entries, sum, removed } => {
                entries.clear();
                *sum = 0.0;
                *removed = 0;
            }
            Sliding::Temporal(per_input) => per_input.iter_mut().for_each(VecDeque::clear),
            Sliding::Ordered(chains) => chains.clear(),
        }
    }

    pub(super) fn summary(&self) -> Summary {
        match self {
            Sliding::Count(dq) => Summary::of(dq.iter()),
            Sliding::Distinct { entries, .. } => Summary::of(entries.iter().map(|e| &e.0)),
            Sliding::Sum { entries, .. } => Summary::of(entries.iter().map(|e| &e.0)),
            Sliding::Temporal(per_input) => {
                let mut all: Vec<Stamp> = per_input.iter().flatten().copied().collect();
                all.sort_by_key(|s| s.ts);
                Summary::of(all.iter())
            }
            Sliding::Ordered(_) => Summary { first: 0, last: 0, count: 0, refs: Vec::new() },
        }
    }
}

/// Inserts keeping `dq` sorted by time; appending is the common case, a late event goes
/// after all events with the same or an earlier time.
fn insert_sorted<T>(dq: &mut VecDeque<T>, item: T, ts: impl Fn(&T) -> i64) {
    let t = ts(&item);
    if !matches!(dq.back(), Some(b) if ts(b) > t) {
        dq.push_back(item);
    } else {
        let pos = dq.partition_point(|e| ts(e) <= t);
        dq.insert(pos, item);
    }
}
