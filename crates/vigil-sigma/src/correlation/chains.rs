//! temporal_ordered: tracking partial rule sequences.

use smallvec::SmallVec;

use super::{Stamp, EVENT_REF_CAP};

/// A partial temporal_ordered sequence: distinct inputs in increasing rule order.
#[derive(Debug, Clone)]
pub(super) struct Chain {
    /// Time of its first event.
    pub(super) start: i64,
    /// Time of its last event.
    pub(super) at: i64,
    /// Number of inputs in the chain (kept apart from `refs`, which is capped).
    pub(super) len: usize,
    pub(super) refs: SmallVec<[u64; 4]>,
}

/// temporal_ordered state: for each (last input, chain length) the live chain with the
/// latest start. A later start leaves the most room in the timespan for extensions, so
/// it dominates every other chain with the same last input and length.
#[derive(Debug)]
pub(super) struct Chains {
    /// `by_end[i][len - 1]`; inner vectors grow only as chains actually form.
    by_end: Vec<Vec<Option<Chain>>>,
}

impl Chains {
    pub(super) fn new(inputs: usize) -> Self {
        Chains { by_end: vec![Vec::new(); inputs] }
    }

    pub(super) fn clear(&mut self) {
        self.by_end.iter_mut().for_each(Vec::clear);
    }

    pub(super) fn prune(&mut self, min_start: i64) {
        for slots in &mut self.by_end {
            for slot in slots.iter_mut() {
                if slot.as_ref().is_some_and(|ch| ch.start < min_start) {
                    *slot = None;
                }
            }
            while slots.last().is_some_and(Option::is_none) {
                slots.pop();
            }
        }
    }

    /// Records an event of `input`; returns the longest chain it ends.
    pub(super) fn observe(&mut self, input: usize, st: Stamp, span: i64) -> Option<Chain> {
        if input >= self.by_end.len() {
            return None;
        }
        let mut fresh: Vec<Option<Chain>> = Vec::with_capacity(input + 1);
        fresh.push(Some(Chain { start: st.ts, at: st.ts, len: 1, refs: SmallVec::from_slice(&[st.ev]) }));
        for len in 2..=input + 1 {
            let mut best: Option<&Chain> = None;
            for prev in &self.by_end[..input] {
                let Some(Some(ch)) = prev.get(len - 2) else {
                    continue;
                };
                // Must come at or after the previous step, and the whole chain must fit
                // in the timespan (ch.start <= ch.at <= st.ts, so no underflow).
                if ch.at <= st.ts
                    && st.ts.saturating_sub(ch.start) <= span
                    && !matches!(best, Some(b) if ch.start <= b.start)
                {
                    best = Some(ch);
                }
            }
            fresh.push(best.map(|b| {
                let mut refs = b.refs.clone();
                if refs.len() < EVENT_REF_CAP {
                    refs.push(st.ev);
                }
                Chain { start: b.start, at: st.ts, len, refs }
            }));
        }
        while fresh.last().is_some_and(Option::is_none) {
            fresh.pop();
        }
        let longest = fresh.last().cloned().flatten();
        let slots = &mut self.by_end[input];
        if slots.len() < fresh.len() {
            slots.resize(fresh.len(), None);
        }
        for (slot, new) in slots.iter_mut().zip(fresh) {
            if let Some(new) = new {
                if !matches!(slot, Some(old) if new.start <= old.start) {
                    *slot = Some(new);
                }
            }
        }
        longest
    }

    /// Length of the longest chain recorded.
    pub(super) fn longest(&self) -> usize {
        self.by_end.iter().filter_map(|slots| slots.iter().rposition(Option::is_some).map(|p| p + 1)).max().unwrap_or(0)
    }
}
