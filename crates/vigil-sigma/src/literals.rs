//! The per-field literal automaton: every rule literal of one event field, found in one
//! overlapping pass over the field's value.
//!
//! The concrete automaton types are used instead of `AhoCorasick`, whose search goes
//! through a trait object: here the transition function is monomorphised and inlined,
//! which matters because this loop runs over every scanned byte of every event.

use aho_corasick::automaton::{Automaton, OverlappingState};
use aho_corasick::{dfa, nfa, Input, MatchKind};

/// Fields whose literals total more than this use an NFA: a DFA's transition table
/// grows with states × byte classes and would cost tens of megabytes for the largest
/// fields, for a gain the NFA's dense top levels mostly give anyway.
const DFA_MAX_PATTERN_BYTES: usize = 48 * 1024;

pub(crate) enum FieldAutomaton {
    Dfa(dfa::DFA),
    Nfa(nfa::contiguous::NFA),
}

impl FieldAutomaton {
    pub(crate) fn build(patterns: &[&[u8]]) -> FieldAutomaton {
        let total: usize = patterns.iter().map(|p| p.len()).sum();
        if total <= DFA_MAX_PATTERN_BYTES {
            if let Ok(d) = dfa::DFA::builder().match_kind(MatchKind::Standard).prefilter(false).build(patterns) {
                return FieldAutomaton::Dfa(d);
            }
        }
        FieldAutomaton::Nfa(
            nfa::contiguous::NFA::builder()
                .match_kind(MatchKind::Standard)
                .prefilter(false)
                .build(patterns)
                .expect("an automaton over rule literals builds"),
        )
    }

    /// Calls `f(pattern, start, end)` for every occurrence of every literal.
    #[inline]
    pub(crate) fn for_each_match(&self, hay: &[u8], f: impl FnMut(usize, usize, usize)) {
        match self {
            FieldAutomaton::Dfa(a) => run(a, hay, f),
            FieldAutomaton::Nfa(a) => run(a, hay, f),
        }
    }

    pub(crate) fn memory_usage(&self) -> usize {
        match self {
            FieldAutomaton::Dfa(a) => a.memory_usage(),
            FieldAutomaton::Nfa(a) => a.memory_usage(),
        }
    }
}

#[inline]
fn run<A: Automaton>(automaton: &A, hay: &[u8], mut f: impl FnMut(usize, usize, usize)) {
    let input = Input::new(hay);
    let mut state = OverlappingState::start();
    loop {
        // Cannot fail: unanchored search on an automaton built with Standard semantics.
        if automaton.try_find_overlapping(&input, &mut state).is_err() {
            return;
        }
        match state.get_match() {
            Some(m) => f(m.pattern().as_usize(), m.start(), m.end()),
            None => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(a: &FieldAutomaton, hay: &str) -> Vec<(usize, usize, usize)> {
        let mut out = Vec::new();
        a.for_each_match(hay.as_bytes(), |p, s, e| out.push((p, s, e)));
        out.sort();
        out
    }

    #[test]
    fn dfa_and_nfa_report_every_overlapping_occurrence() {
        let patterns: Vec<&[u8]> = vec![b"abc", b"bc", b"c"];
        let dfa = FieldAutomaton::build(&patterns);
        assert!(matches!(dfa, FieldAutomaton::Dfa(_)));
        let nfa = FieldAutomaton::Nfa(
            nfa::contiguous::NFA::builder().match_kind(MatchKind::Standard).build(&patterns).unwrap(),
        );
        let expected = vec![(0, 0, 3), (0, 3, 6), (1, 1, 3), (1, 4, 6), (2, 2, 3), (2, 5, 6)];
        assert_eq!(matches(&dfa, "abcabc"), expected);
        assert_eq!(matches(&nfa, "abcabc"), expected);
    }
}
