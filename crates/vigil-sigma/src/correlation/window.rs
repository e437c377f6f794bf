//! Window-close group state: windows anchored at a group's first observation, evaluated
//! once when they end.

use indexmap::IndexMap;
use rustc_hash::{FxBuildHasher, FxHashSet};
use smallvec::SmallVec;

use super::chains::Chains;
use super::{
    Compiled, CorrelationHit, CorrelationStats, CorrelationType, GroupValue, Payload, Stamp, Summary, EVENT_REF_CAP,
    PER_VALUE_REF_CAP,
};

/// Window-close state: a window anchored at `start`, with running aggregates.
#[derive(Debug)]
pub(super) struct Anchored {
    pub(super) start: i64,
    first: i64,
    last: i64,
    count: u64,
    refs: Vec<u64>,
    agg: Agg,
}

#[derive(Debug)]
enum Agg {
    Count,
    Distinct {
        seen: FxHashSet<Box<str>>,
        /// New values met once `seen` was full: counted, not stored.
        overflow: u64,
    },
    /// value_sum and value_avg.
    Sum {
        sum: f64,
        n: u64,
    },
    Percentile {
        /// Insertion-ordered so hits come out deterministically.
        values: IndexMap<Box<str>, ValueStat, FxBuildHasher>,
    },
    Temporal(Vec<u64>),
    Ordered(Chains),
}

#[derive(Debug)]
struct ValueStat {
    count: u64,
    first: i64,
    last: i64,
    refs: SmallVec<[u64; 2]>,
}

impl Anchored {
    pub(super) fn new(c: &Compiled, start: i64) -> Self {
        let agg = match c.kind {
            CorrelationType::EventCount => Agg::Count,
            CorrelationType::ValueCount => Agg::Distinct { seen: FxHashSet::default(), overflow: 0 },
            CorrelationType::ValueSum | CorrelationType::ValueAvg => Agg::Sum { sum: 0.0, n: 0 },
            CorrelationType::ValuePercentile => Agg::Percentile { values: IndexMap::default() },
            CorrelationType::Temporal => Agg::Temporal(vec![0; c.inputs]),
            CorrelationType::TemporalOrdered => Agg::Ordered(Chains::new(c.inputs)),
        };
        Anchored { start, first: start, last: start, count: 0, refs: Vec::new(), agg }
    }

    pub(super) fn add(&mut self, c: &Compiled, st: Stamp, payload: Payload<'_>) {
        self.first = self.first.min(st.ts);
        self.last = self.last.max(st.ts);
        self.count += 1;
        if self.refs.len() < EVENT_REF_CAP {
            self.refs.push(st.ev);
        }
        match (&mut self.agg, payload) {
            (Agg::Distinct { seen, overflow }, Payload::Key(v)) if !seen.contains(v) => {
                if seen.len() < c.cap {
                    seen.insert(v.into());
                } else {
                    *overflow += 1;
                }
            }
            (Agg::Sum { sum, n }, Payload::Num(x)) => {
                *sum += x;
                *n += 1;
            }
            (Agg::Percentile { values }, Payload::Key(v)) => {
                if let Some(s) = values.get_mut(v) {
                    s.count += 1;
                    s.first = s.first.min(st.ts);
                    s.last = s.last.max(st.ts);
                    if s.refs.len() < PER_VALUE_REF_CAP {
                        s.refs.push(st.ev);
                    }
                } else if values.len() < c.cap {
                    let refs = SmallVec::from_slice(&[st.ev]);
                    values.insert(v.into(), ValueStat { count: 1, first: st.ts, last: st.ts, refs });
                }
            }
            (Agg::Temporal(per_input), Payload::Input(i)) => {
                if let Some(n) = per_input.get_mut(i) {
                    *n += 1;
                }
            }
            (Agg::Ordered(chains), Payload::Input(i)) => {
                chains.observe(i, st, c.span);
            }
            _ => {}
        }
    }
}

/// Evaluates a window that has closed and reports its hit(s).
pub(super) fn close_window(
    c: &Compiled,
    ci: usize,
    key: &[GroupValue],
    a: &Anchored,
    stats: &mut CorrelationStats,
    out: &mut Vec<CorrelationHit>,
) {
    stats.windows_closed += 1;
    let value = match &a.agg {
        Agg::Count => a.count as f64,
        Agg::Distinct { seen, overflow } => seen.len() as f64 + *overflow as f64,
        Agg::Sum { sum, n } => match c.kind {
            CorrelationType::ValueAvg if *n == 0 => return,
            CorrelationType::ValueAvg => sum / *n as f64,
            _ => *sum,
        },
        Agg::Temporal(per_input) => per_input.iter().filter(|&&n| n > 0).count() as f64,
        Agg::Ordered(chains) => chains.longest() as f64,
        Agg::Percentile { values } => {
            // Share of each value among all observations of the window, including those
            // whose value could not be tracked past the cap.
            let total = a.count as f64;
            if total == 0.0 {
                return;
            }
            for (v, s) in values {
                let pct = s.count as f64 / total * 100.0;
                if c.holds(pct) {
                    stats.hits += 1;
                    out.push(CorrelationHit {
                        correlation: ci,
                        group: key.to_vec(),
                        first_ms: s.first,
                        last_ms: s.last,
                        event_count: s.count,
                        value: pct,
                        event_refs: s.refs.to_vec(),
                        value_key: Some(v.to_string()),
                    });
                }
            }
            return;
        }
    };
    if c.holds(value) {
        stats.hits += 1;
        let sum = Summary { first: a.first, last: a.last, count: a.count, refs: a.refs.clone() };
        out.push(sum.into_hit(ci, key.to_vec(), value, None));
    }
}
