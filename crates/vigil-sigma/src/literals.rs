//! The per-field literal matcher: every rule literal of one event field, found in one
//! overlapping pass over the field's value.
//!
//! # Why not an Aho-Corasick automaton
//!
//! The largest field (`CommandLine` over the SigmaHQ Windows rules) has ~9,000 literals.
//! Its Aho-Corasick automaton is megabytes (NFA) to tens of megabytes (DFA), and a scan
//! follows one transition per byte, each a dependent load that misses cache as soon as
//! the automaton is not the only thing the CPU has touched lately. Yet at almost every
//! position of a haystack no literal starts. So this matcher asks, at each position, one
//! question whose answer lives in a small filter (64 bytes to 64 KB), and does real work
//! only where the answer is "maybe".
//!
//! # Rare-gram anchors
//!
//! Every literal of length ≥ 4 is *anchored* on one of its 4-byte windows (grams): the one
//! that occurs least often among all literals' grams (ties: the one whose first 3 bytes
//! are rarer, then the last), with its offset in the literal. A literal of length 3 is
//! its own anchor.
//!
//! * The **filter** is an array of 32-bit cells. A gram `g` (the little-endian `u32` of 4
//!   haystack bytes) falls in cell `hash(first 3 bytes of g)` and bit `4th byte & 31`
//!   (lower-case letters all get different bits). A cell's bit is set iff some anchor
//!   falls there; a literal of length 3 sets all 32 bits of its cell, so that it is found
//!   whatever byte follows it, without a second probe per position. The filter is sized
//!   at [`BITS_PER_KEY`] bits per set bit, between 2^[`MIN_LOG2_BITS`] and
//!   2^[`MAX_LOG2_BITS`] bits (64 bytes to 64 KB).
//! * Two small open-addressing **tables** map an anchor gram to its literals (4-byte
//!   anchors; literals of length 3), each literal an [`Entry`] holding its anchor offset,
//!   length, index and first and last 8 bytes.
//!
//! The scan takes positions 64 at a time. A branch-free loop computes each position's
//! filter bit into a mask (one 4-byte read, a multiply, a shift and a cell load per
//! position; branching on each bit instead mispredicts, since on command lines ~15% of
//! positions hit, mostly true matches). Then, for each set bit only, the tables are
//! probed with the full gram, and for each literal anchored there the literal would
//! start at `i - offset`: a compare of its first and last 8 bytes (and of the middle
//! against the arena, past 16 bytes) confirms it, and `(literal, start, end)` is
//! reported.
//!
//! A literal has one anchor and the anchor's position fixes the literal's start, so each
//! occurrence `(literal, start)` is met at exactly one position and reported exactly
//! once: the reported set is that of Aho-Corasick's overlapping `MatchKind::Standard`
//! iteration, in another order.
//!
//! # When the grams lose
//!
//! The filter only pays when its bits are sparse and few literals share an anchor.
//! [`FieldAutomaton::build`] falls back to an Aho-Corasick automaton (DFA up to
//! [`DFA_MAX_PATTERN_BYTES`] of literals, else contiguous NFA) when even the largest
//! filter would be more than 1/[`MAX_DENSITY_INV`] set (then most positions take the
//! table path, which costs ~10 ns each), when literals sharing an anchor gram number
//! more than [`MAX_MEAN_BUCKET`] on average weighted by literal (literals over a tiny
//! alphabet, where every probe would compare many of them), or when a literal is
//! shorter than 3 bytes (the compiler never passes one).

use aho_corasick::automaton::{Automaton, OverlappingState};
use aho_corasick::{dfa, nfa, Input, MatchKind};
use rustc_hash::FxHashMap;

/// Fallback only: fields whose literals total more than this use an NFA rather than a
/// DFA, whose transition table grows with states × byte classes.
const DFA_MAX_PATTERN_BYTES: usize = 48 * 1024;

/// The filter gets this many bits per bit it has to set (one per distinct 4-byte anchor,
/// 32 per literal of length 3), so that it is at most 1/64 set (false probes rare) ...
const BITS_PER_KEY: usize = 64;
/// ... within these bounds: 2^9 bits (64 bytes) to 2^19 bits (64 KB). A larger cap
/// gained nothing measurable on `CommandLine`; 2^18 cost it ~10% (more false probes).
const MIN_LOG2_BITS: u32 = 9;
const MAX_LOG2_BITS: u32 = 19;
/// Fall back to Aho-Corasick when more than 1/MAX_DENSITY_INV of the largest filter would
/// be set: a probe taking the table path costs about as much as 2 bytes of NFA scan.
const MAX_DENSITY_INV: usize = 4;
/// Fall back to Aho-Corasick when literals sharing an anchor gram are more than this many
/// on average, weighted by literal (Σ size² / Σ size over the groups).
const MAX_MEAN_BUCKET: usize = 8;

/// Multiplier of the filter's cell hash (2^32 / golden ratio, odd).
const CELL_MUL: u32 = 0x9E37_79B1;
/// Multiplier of the tables' hash (odd, unrelated to [`CELL_MUL`]).
const TABLE_MUL: u32 = 0x85EB_CA6B;
/// The first 3 bytes of a little-endian gram.
const MASK3: u32 = 0x00FF_FFFF;

pub(crate) enum FieldAutomaton {
    Grams(Grams),
    Dfa(dfa::DFA),
    Nfa(nfa::contiguous::NFA),
}

impl std::fmt::Debug for FieldAutomaton {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FieldAutomaton").field("memory", &self.memory_usage()).finish_non_exhaustive()
    }
}

impl FieldAutomaton {
    pub(crate) fn build(patterns: &[&[u8]]) -> FieldAutomaton {
        if let Some(g) = Grams::build(patterns, MIN_LOG2_BITS, MAX_LOG2_BITS, true) {
            return FieldAutomaton::Grams(g);
        }
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

    /// A matcher of the ASCII-lower-cased `patterns` in the ASCII-lower-cased haystack, without
    /// lower-casing it: reports what [`FieldAutomaton::build`]'s matcher would report on
    /// `hay.to_ascii_lowercase()`. When every literal is at least `3 + step` bytes long
    /// (`step` up to `max_step`), the gram matcher probes only every `step`-th position
    /// (see [`Grams::build_sampled`]).
    pub(crate) fn build_folded(patterns: &[&[u8]], max_step: usize) -> FieldAutomaton {
        let lowered: Vec<Vec<u8>> = patterns.iter().map(|p| p.to_ascii_lowercase()).collect();
        let patterns: Vec<&[u8]> = lowered.iter().map(Vec::as_slice).collect();
        let patterns = &patterns[..];
        let shortest = patterns.iter().map(|p| p.len()).min().unwrap_or(0);
        let step = shortest.saturating_sub(3).clamp(1, max_step.max(1));
        if let Some(g) = Grams::build_sampled(patterns, MIN_LOG2_BITS, MAX_LOG2_BITS, true, step, true) {
            return FieldAutomaton::Grams(g);
        }
        let total: usize = patterns.iter().map(|p| p.len()).sum();
        if total <= DFA_MAX_PATTERN_BYTES {
            if let Ok(d) = dfa::DFA::builder()
                .match_kind(MatchKind::Standard)
                .ascii_case_insensitive(true)
                .prefilter(false)
                .build(patterns)
            {
                return FieldAutomaton::Dfa(d);
            }
        }
        FieldAutomaton::Nfa(
            nfa::contiguous::NFA::builder()
                .match_kind(MatchKind::Standard)
                .ascii_case_insensitive(true)
                .prefilter(false)
                .build(patterns)
                .expect("an automaton over rule literals builds"),
        )
    }

    /// Calls `f(pattern, start, end)` for every occurrence of every literal, once each, in
    /// no particular order.
    #[inline]
    pub(crate) fn for_each_match(&self, hay: &[u8], mut f: impl FnMut(usize, usize, usize)) {
        match self {
            FieldAutomaton::Grams(g) => g.for_each_match(hay, &mut f),
            FieldAutomaton::Dfa(a) => run(a, hay, f),
            FieldAutomaton::Nfa(a) => run(a, hay, f),
        }
    }

    /// As [`FieldAutomaton::for_each_match`], on a haystack known to be ASCII-lower-cased
    /// already: a matcher from [`FieldAutomaton::build_folded`] then need not fold it.
    pub(crate) fn for_each_match_lowered(&self, hay: &[u8], mut f: impl FnMut(usize, usize, usize)) {
        match self {
            FieldAutomaton::Grams(g) => g.for_each_match_lowered(hay, &mut f),
            FieldAutomaton::Dfa(a) => run(a, hay, f),
            FieldAutomaton::Nfa(a) => run(a, hay, f),
        }
    }

    pub(crate) fn memory_usage(&self) -> usize {
        match self {
            FieldAutomaton::Grams(g) => g.memory_usage(),
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

/// The rare-gram anchored matcher (see the module docs).
pub(crate) struct Grams {
    /// 32 − log2(number of cells).
    shift: u32,
    /// The filter: per cell, the bits of the anchors that fall in it, or all 32 bits if
    /// a literal of length 3 does.
    cells: Box<[u32]>,
    /// Literals of length ≥ 4, by anchor gram.
    table4: Table,
    /// Literals of length 3, by the literal (as a gram whose high byte is 0).
    table3: Table,
    /// Every literal's bytes, back to back; entries point into it.
    arena: Box<[u8]>,
    /// Only positions that are multiples of `step` are probed; every literal then has
    /// `step` anchors, at consecutive offsets (see [`Grams::build_sampled`]).
    step: usize,
    /// The haystack is read ASCII-lower-cased (the literals are lower-case).
    fold: bool,
}

/// One anchored literal.
#[derive(Clone, Copy, Debug)]
struct Entry {
    /// The literal's first and last 8 bytes, little-endian (for literals of 5 to 7 bytes,
    /// the first and last 4), compared before the arena.
    head: u64,
    tail: u64,
    /// The anchor gram (for a literal of length 3, the literal, high byte 0).
    gram: u32,
    /// Offset of the anchor in the literal.
    offset: u32,
    /// The literal's length.
    len: u32,
    /// The literal's index, as given to `build`.
    pattern: u32,
    /// The literal's bytes are `arena[at..at + len]`.
    at: u32,
}

/// Entries by gram: a linear-probing hash table of the distinct grams, at most half full,
/// each slot `(gram, 1 + index of its first entry)` (`(_, 0)` when empty), the entries of a
/// gram adjacent. The slots are apart from the entries so that a probe for a gram that
/// no literal has (a false filter hit) reads only 8-byte slots.
struct Table {
    slots: Box<[(u32, u32)]>,
    /// 32 − log2(number of slots).
    shift: u32,
    entries: Box<[Entry]>,
}

impl Table {
    /// The table of `entries`, which are sorted by gram.
    fn new(entries: Vec<Entry>) -> Table {
        let distinct = entries.chunk_by(|a, b| a.gram == b.gram).count();
        let log2 = (distinct * 2).next_power_of_two().max(2).trailing_zeros();
        let shift = 32 - log2;
        let mut slots = vec![(0u32, 0u32); 1 << log2];
        let mask = slots.len() - 1;
        let mut first = 0;
        for run in entries.chunk_by(|a, b| a.gram == b.gram) {
            let mut s = (run[0].gram.wrapping_mul(TABLE_MUL) >> shift) as usize;
            while slots[s].1 != 0 {
                s = (s + 1) & mask;
            }
            slots[s] = (run[0].gram, first as u32 + 1);
            first += run.len();
        }
        Table { slots: slots.into(), shift, entries: entries.into() }
    }

    /// The entries of `gram`.
    #[inline(always)]
    fn get(&self, gram: u32) -> &[Entry] {
        let mask = self.slots.len() - 1;
        let mut s = (gram.wrapping_mul(TABLE_MUL) >> self.shift) as usize;
        loop {
            let (g, first) = self.slots[s & mask];
            if first == 0 {
                return &[];
            }
            if g == gram {
                let from = first as usize - 1;
                let count = self.entries[from..].iter().take_while(|e| e.gram == gram).count();
                return &self.entries[from..from + count];
            }
            s += 1;
        }
    }

    fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn memory_usage(&self) -> usize {
        self.slots.len() * std::mem::size_of::<(u32, u32)>() + self.entries.len() * std::mem::size_of::<Entry>()
    }
}

/// The cell of the gram `g`: a multiplicative hash of its first 3 bytes (shifting the 4th
/// byte out leaves the product's top bits depending on the other three only).
#[inline(always)]
fn cell(g: u32, shift: u32) -> usize {
    ((g << 8).wrapping_mul(CELL_MUL) >> shift) as usize
}

/// The bit of the gram `g` in its cell: 5 bits of its 4th byte.
#[inline(always)]
fn bit(g: u32) -> u32 {
    1 << ((g >> 24) & 31)
}

impl Grams {
    /// `None` when the filter trips a fallback threshold (and `strict`), or a literal is
    /// shorter than 3 bytes or there are more than `u32::MAX` literal bytes;
    /// `min_log2`/`max_log2` bound the filter size in bits (tests shrink it to force
    /// collisions).
    fn build(patterns: &[&[u8]], min_log2: u32, max_log2: u32, strict: bool) -> Option<Grams> {
        Grams::build_sampled(patterns, min_log2, max_log2, strict, 1, false)
    }

    /// As [`Grams::build`], probing only positions that are multiples of `step`, and
    /// reading the haystack lower-cased when `fold`.
    ///
    /// An occurrence of a literal starting at `p` covers exactly one probed position in
    /// any `step` consecutive positions `p + k .. p + k + step`, at offset `i - p` of the
    /// literal. So each literal is anchored at its `step` grams at offsets `k .. k +
    /// step` (the window `k` of the rarest grams), and each occurrence is still met at
    /// exactly one probe, with one anchor: the reported set is the same as with
    /// `step` 1. Every literal must be at least `step + 3` bytes long (`None` if not).
    fn build_sampled(
        patterns: &[&[u8]],
        min_log2: u32,
        max_log2: u32,
        strict: bool,
        step: usize,
        fold: bool,
    ) -> Option<Grams> {
        let total: usize = patterns.iter().map(|p| p.len()).sum();
        let step = step.max(1);
        let shortest = if step == 1 { 3 } else { step + 3 };
        if patterns.iter().any(|p| p.len() < shortest) || u32::try_from(total).is_err() {
            return None;
        }
        // How often each 4-gram, and each first 3 bytes of a 4-gram, occur across all
        // literals.
        let mut freq4: FxHashMap<u32, u32> = FxHashMap::default();
        let mut freq3: FxHashMap<u32, u32> = FxHashMap::default();
        for p in patterns {
            for w in p.windows(4) {
                *freq4.entry(gram4(w)).or_insert(0) += 1;
                *freq3.entry(gram4(w) & MASK3).or_insert(0) += 1;
            }
        }
        let mut arena = Vec::with_capacity(total);
        let mut fours = Vec::with_capacity(patterns.len());
        let mut threes = Vec::new();
        for (index, p) in patterns.iter().enumerate() {
            let (head, tail) = match p.len() {
                // Matched by the anchor gram alone.
                0..=4 => (0, 0),
                n @ 5..=7 => (u64::from(gram4(p)), u64::from(gram4(&p[n - 4..]))),
                n => (gram8(p), gram8(&p[n - 8..])),
            };
            let mut entry = Entry {
                head,
                tail,
                gram: 0,
                offset: 0,
                len: p.len() as u32,
                pattern: index as u32,
                at: arena.len() as u32,
            };
            arena.extend_from_slice(p);
            if p.len() == 3 {
                entry.gram = u32::from_le_bytes([p[0], p[1], p[2], 0]);
                threes.push(entry);
                continue;
            }
            // The window of `step` consecutive grams whose summed rarity is lowest
            // (ties: the last window).
            let rarity = |offset: usize| {
                let g = gram4(&p[offset..]);
                (u64::from(freq4[&g]), u64::from(freq3[&(g & MASK3)]))
            };
            let mut best = ((u64::MAX, u64::MAX), 0);
            for first in 0..=p.len() - 3 - step {
                let sum = (first..first + step).map(rarity).fold((0, 0), |a, r| (a.0 + r.0, a.1 + r.1));
                if sum <= best.0 {
                    best = (sum, first);
                }
            }
            for offset in best.1..best.1 + step {
                entry.gram = gram4(&p[offset..]);
                entry.offset = offset as u32;
                fours.push(entry);
            }
        }
        fours.sort_by_key(|e| (e.gram, e.pattern));
        threes.sort_by_key(|e| (e.gram, e.pattern));

        let keys = fours.chunk_by(|a, b| a.gram == b.gram).count() + 32 * threes.len();
        let log2_bits = (keys * BITS_PER_KEY).next_power_of_two().trailing_zeros();
        // At least 2 cells, so that the cell hash never shifts by 32.
        let log2_bits = log2_bits.clamp(min_log2.max(6), max_log2.max(6));
        if strict && keys * MAX_DENSITY_INV > 1usize << log2_bits {
            return None;
        }
        let sharing: usize = fours.chunk_by(|a, b| a.gram == b.gram).map(|run| run.len() * run.len()).sum();
        if strict && sharing > MAX_MEAN_BUCKET * fours.len() {
            return None;
        }
        let shift = 32 - (log2_bits - 5);
        let mut cells = vec![0u32; 1 << (log2_bits - 5)];
        for e in &fours {
            cells[cell(e.gram, shift)] |= bit(e.gram);
        }
        for e in &threes {
            cells[cell(e.gram, shift)] = u32::MAX;
        }
        Some(Grams {
            shift,
            cells: cells.into(),
            table4: Table::new(fours),
            table3: Table::new(threes),
            arena: arena.into(),
            step,
            fold,
        })
    }

    fn memory_usage(&self) -> usize {
        self.cells.len() * 4 + self.table4.memory_usage() + self.table3.memory_usage() + self.arena.len()
    }

    #[inline]
    fn for_each_match<F: FnMut(usize, usize, usize)>(&self, hay: &[u8], f: &mut F) {
        match (self.step, self.fold) {
            (1, false) => self.scan_every(hay, f),
            (_, false) => self.scan_sampled::<false, F>(hay, f),
            (_, true) => self.scan_sampled::<true, F>(hay, f),
        }
    }

    /// As [`Grams::for_each_match`] on a lower-cased haystack: folding it (when `fold`)
    /// would change nothing, so the probes skip it.
    #[inline]
    fn for_each_match_lowered<F: FnMut(usize, usize, usize)>(&self, hay: &[u8], f: &mut F) {
        match self.step {
            1 => self.scan_every(hay, f),
            _ => self.scan_sampled::<false, F>(hay, f),
        }
    }

    /// Probes every `step`-th position (any `step`, also 1), reading the haystack
    /// lower-cased when `FOLD`.
    fn scan_sampled<const FOLD: bool, F: FnMut(usize, usize, usize)>(&self, hay: &[u8], f: &mut F) {
        let n = hay.len();
        if n < 3 {
            return;
        }
        let step = self.step;
        let shift = self.shift;
        let cell_mask = self.cells.len() - 1;
        let cells = &self.cells[..=cell_mask];
        if n >= 4 {
            // Probed positions are `k * step` for `k < probes`, each with a whole 4-byte window.
            let probes = (n - 4) / step + 1;
            let mut base = 0;
            while base < probes {
                let count = (probes - base).min(64);
                let mut mask = 0u64;
                let mut probe = |w: [u8; 4]| {
                    let g = fold4::<FOLD>(u32::from_le_bytes(w));
                    let hit = cells[cell(g, shift) & cell_mask] & bit(g) != 0;
                    mask = mask << 1 | u64::from(hit);
                };
                let from = base * step;
                if step >= 4 && from + count * step <= n {
                    // Each probe's window lies in its own `step`-byte chunk: one bounds
                    // check per block instead of one per probe.
                    for chunk in hay[from..from + count * step].chunks_exact(step) {
                        probe([chunk[0], chunk[1], chunk[2], chunk[3]]);
                    }
                } else {
                    for k in base..base + count {
                        let i = k * step;
                        probe([hay[i], hay[i + 1], hay[i + 2], hay[i + 3]]);
                    }
                }
                if mask != 0 {
                    self.visit_sampled::<FOLD, F>(mask, base + count - 1, hay, f);
                }
                base += count;
            }
        }
        // Literals of length 3 exist only with `step` 1: the last 3 bytes start no
        // 4-byte window but may be one.
        if !self.table3.is_empty() {
            let g = fold4::<FOLD>(u32::from_le_bytes([hay[n - 3], hay[n - 2], hay[n - 1], 0]));
            if cells[cell(g, shift) & cell_mask] & bit(g) != 0 {
                self.verify::<FOLD, F>(g, n - 3, hay, f);
            }
        }
    }

    /// As [`Grams::visit`], for probe numbers: bit `t` of `mask` is probe `last - t`.
    #[inline(never)]
    fn visit_sampled<const FOLD: bool, F: FnMut(usize, usize, usize)>(
        &self,
        mut mask: u64,
        last: usize,
        hay: &[u8],
        f: &mut F,
    ) {
        while mask != 0 {
            let i = (last - mask.trailing_zeros() as usize) * self.step;
            mask &= mask - 1;
            self.verify::<FOLD, F>(fold4::<FOLD>(gram4(&hay[i..i + 4])), i, hay, f);
        }
    }

    /// Probes every position of a haystack compared as is.
    #[inline]
    fn scan_every<F: FnMut(usize, usize, usize)>(&self, hay: &[u8], f: &mut F) {
        let n = hay.len();
        if n < 3 {
            return;
        }
        let shift = self.shift;
        // The cell hash is below the cell count by construction; masking with it anyway
        // (a no-op) lets the compiler drop the bounds check.
        let cell_mask = self.cells.len() - 1;
        let cells = &self.cells[..=cell_mask];
        // Positions with a whole 4-byte window.
        let positions = n - 3;
        let mut base = 0;
        while base < positions {
            let count = (positions - base).min(64);
            // Bit `count - 1 - k` of the mask is the filter bit of position `base + k`.
            let mut mask = 0u64;
            for w in hay[base..base + count + 3].windows(4) {
                let g = gram4(w);
                let hit = cells[cell(g, shift) & cell_mask] & bit(g) != 0;
                mask = mask << 1 | u64::from(hit);
            }
            if mask != 0 {
                self.visit(mask, base + count - 1, hay, f);
            }
            base += count;
        }
        // The last 3 bytes, which start no 4-byte window, can only be a literal of length 3.
        if !self.table3.is_empty() {
            let g = u32::from_le_bytes([hay[n - 3], hay[n - 2], hay[n - 1], 0]);
            if cells[cell(g, shift) & cell_mask] & bit(g) != 0 {
                self.verify::<false, F>(g, n - 3, hay, f);
            }
        }
    }

    /// Verifies the positions `last - t` for the set bits `t` of `mask`. Out of line so
    /// that the filter loop keeps its registers.
    #[inline(never)]
    fn visit<F: FnMut(usize, usize, usize)>(&self, mut mask: u64, last: usize, hay: &[u8], f: &mut F) {
        while mask != 0 {
            let i = last - mask.trailing_zeros() as usize;
            mask &= mask - 1;
            self.verify::<false, F>(gram4(&hay[i..i + 4]), i, hay, f);
        }
    }

    /// Reports the literals anchored at `i`, where the gram is `g` (whose 4th byte is 0
    /// when the haystack ends before it) and `g`'s filter bit is set.
    /// With `FOLD`, `g` is lower-cased and the haystack is compared lower-cased.
    #[inline(always)]
    fn verify<const FOLD: bool, F: FnMut(usize, usize, usize)>(&self, g: u32, i: usize, hay: &[u8], f: &mut F) {
        // When the haystack ends before `g`'s 4th byte, an anchor whose 4th byte is 0 can
        // be found here, but its literal then ends past the haystack.
        for e in self.table4.get(g) {
            if e.offset as usize <= i {
                let start = i - e.offset as usize;
                let end = start + e.len as usize;
                if end <= hay.len() && self.equal::<FOLD>(e, &hay[start..end]) {
                    f(e.pattern as usize, start, end);
                }
            }
        }
        // Only cells with a literal of length 3 are all ones (4-byte anchors filling all
        // 32 bits of a cell would just cost a vain lookup).
        if !self.table3.is_empty() && self.cells[cell(g, self.shift)] == u32::MAX {
            for e in self.table3.get(g & MASK3) {
                f(e.pattern as usize, i, i + 3);
            }
        }
    }

    /// Whether `found`, as long as `e`'s literal (≥ 4 bytes) and holding its anchor gram
    /// at the anchor offset, is the literal.
    /// With `FOLD`, `found` is compared lower-cased (the literal is lower-case).
    #[inline(always)]
    fn equal<const FOLD: bool>(&self, e: &Entry, found: &[u8]) -> bool {
        let n = found.len();
        let four = |w: &[u8]| u64::from(fold4::<FOLD>(gram4(w)));
        let eight = |w: &[u8]| fold8::<FOLD>(gram8(w));
        match n {
            // The anchor gram is the whole literal.
            0..=4 => true,
            5..=7 => four(found) == e.head && four(&found[n - 4..]) == e.tail,
            8..=16 => eight(found) == e.head && eight(&found[n - 8..]) == e.tail,
            _ => {
                let at = e.at as usize;
                let middle = &self.arena[at + 8..at + n - 8];
                eight(found) == e.head
                    && eight(&found[n - 8..]) == e.tail
                    && if FOLD { found[8..n - 8].eq_ignore_ascii_case(middle) } else { found[8..n - 8] == *middle }
            }
        }
    }
}

/// The little-endian `u32` of `w`'s first 4 bytes.
#[inline(always)]
fn gram4(w: &[u8]) -> u32 {
    u32::from_le_bytes([w[0], w[1], w[2], w[3]])
}

/// `g` with its ASCII upper-case letters lower-cased, when `FOLD`. Per byte `b`: `b & 0x7f`
/// plus `0x3f` carries into bit 7 iff `b & 0x7f >= b'A'`, plus `0x25` iff it is `> b'Z'`;
/// and `b` itself must be below 0x80. Those bytes get `0x20` (bit 7 shifted right by 2).
/// No sum carries into the next byte (at most `0x7f + 0x3f`).
#[inline(always)]
fn fold4<const FOLD: bool>(g: u32) -> u32 {
    if !FOLD {
        return g;
    }
    const LOW7: u32 = 0x7f7f_7f7f;
    let low = g & LOW7;
    let upper = low.wrapping_add(0x3f3f_3f3f) & !low.wrapping_add(0x2525_2525) & !g & !LOW7;
    g | upper >> 2
}

/// [`fold4`] for 8 bytes.
#[inline(always)]
pub(crate) fn fold8<const FOLD: bool>(g: u64) -> u64 {
    if !FOLD {
        return g;
    }
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let low = g & LOW7;
    let upper = low.wrapping_add(0x3f3f_3f3f_3f3f_3f3f) & !low.wrapping_add(0x2525_2525_2525_2525) & !g & !LOW7;
    g | upper >> 2
}

/// The little-endian `u64` of `w`'s first 8 bytes.
#[inline(always)]
fn gram8(w: &[u8]) -> u64 {
    u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    type Found = Vec<(usize, usize, usize)>;

    fn found(a: &FieldAutomaton, hay: &[u8]) -> Found {
        let mut out = Vec::new();
        a.for_each_match(hay, |p, s, e| out.push((p, s, e)));
        out.sort_unstable();
        out
    }

    /// What `a` reports on the haystack lower-cased beforehand, told so.
    fn found_lowered(a: &FieldAutomaton, hay: &[u8]) -> Found {
        let mut out = Vec::new();
        a.for_each_match_lowered(&hay.to_ascii_lowercase(), |p, s, e| out.push((p, s, e)));
        out.sort_unstable();
        out
    }

    fn naive(patterns: &[&[u8]], hay: &[u8]) -> Found {
        let mut out = Vec::new();
        for (p, pat) in patterns.iter().enumerate() {
            for s in 0..hay.len() {
                if hay[s..].starts_with(pat) {
                    out.push((p, s, s + pat.len()));
                }
            }
        }
        out.sort_unstable();
        out
    }

    fn aho(patterns: &[&[u8]], hay: &[u8]) -> Found {
        let nfa = nfa::contiguous::NFA::builder().match_kind(MatchKind::Standard).build(patterns).unwrap();
        found(&FieldAutomaton::Nfa(nfa), hay)
    }

    /// The gram matcher with the filter size bounded to 2^lo..=2^hi bits, never falling
    /// back.
    fn grams(patterns: &[&[u8]], lo: u32, hi: u32) -> FieldAutomaton {
        FieldAutomaton::Grams(Grams::build(patterns, lo, hi, false).unwrap())
    }

    /// Checks, against brute force: Aho-Corasick, the gram matcher with its own filter
    /// size and with a 64-bit filter (2 cells: everything collides), and `build`.
    fn check(patterns: &[&[u8]], hay: &[u8]) {
        let expected = naive(patterns, hay);
        assert_eq!(aho(patterns, hay), expected, "aho-corasick, patterns {patterns:?}, hay {hay:?}");
        let got = found(&grams(patterns, MIN_LOG2_BITS, MAX_LOG2_BITS), hay);
        assert_eq!(got, expected, "grams, patterns {patterns:?}, hay {hay:?}");
        let got = found(&grams(patterns, 6, 6), hay);
        assert_eq!(got, expected, "grams (64-bit filter), patterns {patterns:?}, hay {hay:?}");
        assert_eq!(found(&FieldAutomaton::build(patterns), hay), expected, "build, patterns {patterns:?}, hay {hay:?}");
    }

    #[test]
    fn reports_every_overlapping_occurrence() {
        let patterns: Vec<&[u8]> = vec![b"abcd", b"bcd", b"cdab", b"abc"];
        let a = FieldAutomaton::build(&patterns);
        assert!(matches!(a, FieldAutomaton::Grams(_)));
        let expected = vec![(0, 0, 4), (0, 4, 8), (1, 1, 4), (1, 5, 8), (2, 2, 6), (3, 0, 3), (3, 4, 7)];
        assert_eq!(found(&a, b"abcdabcd"), expected);
        check(&patterns, b"abcdabcd");
    }

    #[test]
    fn haystacks_shorter_than_a_gram() {
        let patterns: Vec<&[u8]> = vec![b"abc", b"abcd", b"xyz"];
        for hay in [&b""[..], b"a", b"ab", b"abc", b"abd", b"xyz", b"abcd", b"zabc"] {
            check(&patterns, hay);
        }
        let a = FieldAutomaton::build(&patterns);
        assert_eq!(found(&a, b"ab"), vec![]);
        assert_eq!(found(&a, b"abc"), vec![(0, 0, 3)]);
        assert_eq!(found(&a, b"abcd"), vec![(0, 0, 3), (1, 0, 4)]);
        // Only 4-byte literals: a 3-byte haystack has no window to probe.
        let four: Vec<&[u8]> = vec![b"abcd"];
        for hay in [&b""[..], b"abc", b"abcd", b"aabcd", b"abcdd"] {
            check(&four, hay);
        }
    }

    #[test]
    fn literals_at_the_edges() {
        let patterns: Vec<&[u8]> = vec![b"start", b"end", b"middle", b"tail end", b"sta"];
        for hay in [&b"start middle tail end"[..], b"start", b"end", b"tail end", b"startend", b"xend", b"endx"] {
            check(&patterns, hay);
        }
        let a = FieldAutomaton::build(&patterns);
        assert_eq!(found(&a, b"start"), vec![(0, 0, 5), (4, 0, 3)]);
        assert_eq!(found(&a, b"x tail end"), vec![(1, 7, 10), (3, 2, 10)]);
    }

    #[test]
    fn literal_equal_to_the_haystack() {
        let patterns: Vec<&[u8]> = vec![b"powershell.exe -enc", b"-enc", b"powershell", b"pow"];
        check(&patterns, b"powershell.exe -enc");
        let a = FieldAutomaton::build(&patterns);
        assert_eq!(found(&a, b"powershell.exe -enc"), vec![(0, 0, 19), (1, 15, 19), (2, 0, 10), (3, 0, 3)]);
        for len in [3, 4, 5, 7, 8, 9, 16, 17, 40] {
            let lit: Vec<u8> = (0..len).map(|k| b'a' + (k % 26) as u8).collect();
            check(&[&lit[..]], &lit);
        }
    }

    #[test]
    fn non_ascii_bytes() {
        let patterns: Vec<&[u8]> = vec![
            "–enc".as_bytes(),
            "éé".as_bytes(),
            "xé".as_bytes(),
            "\u{2015}e".as_bytes(),
            &[0xff, 0x00, 0x80],
            b"\0\0\0\0",
        ];
        check(&patterns, "powershell –enc x\u{2015}e éé xé".as_bytes());
        check(&patterns, &[0xff, 0x00, 0x80, 0xff, 0x00, 0x80]);
        check(&patterns, &[0, 0, 0, 0, 0, 0]);
        check(&patterns, "é".as_bytes());
    }

    #[test]
    fn anchor_with_a_nul_byte_at_the_end() {
        // At the last 3 bytes the probed gram's 4th byte reads as 0: "abc\0" must not match.
        let patterns: Vec<&[u8]> = vec![b"abc", b"abc\0", b"zabc\0"];
        for hay in [&b"xxabc"[..], b"abc", b"abc\0", b"zabc", b"zabc\0", b"abcabc"] {
            check(&patterns, hay);
        }
        assert_eq!(found(&FieldAutomaton::build(&patterns), b"zabc"), vec![(0, 1, 4)]);
    }

    #[test]
    fn repeated_characters_and_shared_anchors() {
        // All these have the single gram "aaaa": they share it as anchor.
        let patterns: Vec<&[u8]> = vec![b"aaa", b"aaaa", b"aaaaa", b"aaaaaaaaa", b"aab", b"abaa", b"baaaa"];
        check(&patterns, b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaab");
        check(&patterns, b"aaabaaaabaaaaaaaaaaabaaa");
        let a = grams(&patterns, MIN_LOG2_BITS, MAX_LOG2_BITS);
        assert_eq!(found(&a, b"aaaaaa").len(), 4 + 3 + 2);
    }

    #[test]
    fn long_literals_compare_the_middle() {
        let patterns: Vec<&[u8]> = vec![b"0123456789abcdefghij", b"0123456789abcdefXhij", b"0123456789abcdefghijk"];
        check(&patterns, b"xx0123456789abcdefghijk 0123456789abcdefXhij 0123456789abcdeYghij");
    }

    #[test]
    fn tiny_alphabet_falls_back() {
        // Every 4-gram over {a, b} is the anchor of many literals.
        let owned: Vec<Vec<u8>> =
            (0u32..512).map(|x| (0..9).map(|b| if x >> b & 1 == 1 { b'a' } else { b'b' }).collect()).collect();
        let patterns: Vec<&[u8]> = owned.iter().map(Vec::as_slice).collect();
        let a = FieldAutomaton::build(&patterns);
        assert!(!matches!(a, FieldAutomaton::Grams(_)));
        let hay = b"abababbbbaaaabababaaabbbabababaaa";
        assert_eq!(found(&a, hay), naive(&patterns, hay));
        check(&patterns[..40], hay);
    }

    #[test]
    fn short_literals_fall_back() {
        let patterns: Vec<&[u8]> = vec![b"ab", b"abc", b"abcd"];
        let a = FieldAutomaton::build(&patterns);
        assert!(!matches!(a, FieldAutomaton::Grams(_)));
        assert_eq!(found(&a, b"xabcd"), naive(&patterns, b"xabcd"));
    }

    #[test]
    fn memory_usage_is_counted() {
        let patterns: Vec<&[u8]> = vec![b"abc", b"abcd"];
        assert!(FieldAutomaton::build(&patterns).memory_usage() >= 7 + 64 / 8);
    }

    /// Literals over a small alphabet (so they overlap, share prefixes and suffixes, contain
    /// one another and share anchors), with a 2-byte UTF-8 sequence and a NUL byte.
    fn literal_set() -> impl Strategy<Value = Vec<Vec<u8>>> {
        let byte = prop::sample::select(vec![b'a', b'b', b'c', b' ', 0xc3, 0xa9, 0]);
        prop::collection::vec(prop::collection::vec(byte, 3..10), 1..24).prop_map(|mut v| {
            v.sort();
            v.dedup();
            v
        })
    }

    /// Literals and a haystack made of whole and cut literals and alphabet bytes.
    fn literals_and_haystack() -> impl Strategy<Value = (Vec<Vec<u8>>, Vec<u8>)> {
        literal_set().prop_flat_map(|patterns| {
            let n = patterns.len();
            let piece = prop_oneof![
                (0..n, 0usize..4, 0usize..4).prop_map(|(p, a, b)| Err((p, a, b))),
                prop::sample::select(vec![b'a', b'b', b'c', b' ', 0xc3, 0xa9, 0, b'x']).prop_map(Ok),
            ];
            prop::collection::vec(piece, 0..24).prop_map(move |pieces| {
                let mut hay = Vec::new();
                for piece in pieces {
                    match piece {
                        Ok(byte) => hay.push(byte),
                        Err((p, cut_front, cut_back)) => {
                            let lit = &patterns[p];
                            let from = cut_front.min(lit.len());
                            let to = lit.len().saturating_sub(cut_back).max(from);
                            hay.extend_from_slice(&lit[from..to]);
                        }
                    }
                }
                (patterns.clone(), hay)
            })
        })
    }

    /// What a folded matcher must report: the naive matches of the lower-cased literals
    /// in the lower-cased haystack.
    fn naive_folded(patterns: &[&[u8]], hay: &[u8]) -> Found {
        let lowered: Vec<Vec<u8>> = patterns.iter().map(|p| p.to_ascii_lowercase()).collect();
        naive(&lowered.iter().map(Vec::as_slice).collect::<Vec<_>>(), &hay.to_ascii_lowercase())
    }

    /// The gram matcher probing every `step`-th position, folding or not, never falling
    /// back (`None` when a literal is too short for `step`).
    fn sampled(patterns: &[&[u8]], lo: u32, hi: u32, step: usize, fold: bool) -> Option<FieldAutomaton> {
        Grams::build_sampled(patterns, lo, hi, false, step, fold).map(FieldAutomaton::Grams)
    }

    /// Checks the folded and sampled matchers against brute force, for every step the
    /// literals allow, with the filter at its own size and at 64 bits.
    fn check_folded(patterns: &[&[u8]], hay: &[u8]) {
        let expected = naive_folded(patterns, hay);
        assert_eq!(
            found(&FieldAutomaton::build_folded(patterns, 8), hay),
            expected,
            "build_folded {patterns:?} {hay:?}"
        );
        assert_eq!(
            found_lowered(&FieldAutomaton::build_folded(patterns, 8), hay),
            expected,
            "build_folded on a lowered haystack {patterns:?} {hay:?}"
        );
        let lowered: Vec<Vec<u8>> = patterns.iter().map(|p| p.to_ascii_lowercase()).collect();
        let lowered: Vec<&[u8]> = lowered.iter().map(Vec::as_slice).collect();
        let plain = naive(&lowered, hay);
        for step in 1..=8 {
            for (lo, hi) in [(MIN_LOG2_BITS, MAX_LOG2_BITS), (6, 6)] {
                if let Some(a) = sampled(&lowered, lo, hi, step, true) {
                    assert_eq!(found(&a, hay), expected, "folded, step {step}, {patterns:?} {hay:?}");
                    assert_eq!(found_lowered(&a, hay), expected, "lowered, step {step}, {patterns:?} {hay:?}");
                }
                if let Some(a) = sampled(&lowered, lo, hi, step, false) {
                    assert_eq!(found(&a, hay), plain, "sampled, step {step}, {patterns:?} {hay:?}");
                }
            }
        }
    }

    #[test]
    fn fold_lowers_ascii_letters_only() {
        for b in 0..=255u8 {
            let g = u32::from_le_bytes([b, b'Q', 0xc3, b]);
            let want = u32::from_le_bytes([b.to_ascii_lowercase(), b'q', 0xc3, b.to_ascii_lowercase()]);
            assert_eq!(fold4::<true>(g), want, "byte {b:#x}");
            assert_eq!(fold4::<false>(g), g);
            let g8 = u64::from_le_bytes([b, b'A', b'Z', b'@', b'[', b'`', b'{', b]);
            let w = b.to_ascii_lowercase();
            assert_eq!(fold8::<true>(g8), u64::from_le_bytes([w, b'a', b'z', b'@', b'[', b'`', b'{', w]));
        }
    }

    #[test]
    fn folded_matching_ignores_ascii_case() {
        let patterns: Vec<&[u8]> = vec![b"sekurlsa::", b"Event::Clear", b"\\mimilib.dll", b"kiwi", b"atk"];
        let hay = b"{\"CommandLine\":\"SEKURLSA::logonpasswords event::CLEAR \\\\MimiLib.DLL Kiwi\"} ATK";
        check_folded(&patterns, hay);
        let a = FieldAutomaton::build_folded(&patterns, 8);
        assert_eq!(found(&a, b"xSekurlsa::x").iter().map(|m| m.0).collect::<Vec<_>>(), vec![0]);
        assert_eq!(found(&a, b"seKurlsa:").len(), 0);
        // Non-ASCII letters are not folded.
        let accented: Vec<&[u8]> = vec!["\u{e9}t\u{e9}".as_bytes()];
        assert!(found(&FieldAutomaton::build_folded(&accented, 8), "\u{c9}T\u{c9}".as_bytes()).is_empty());
        check_folded(&accented, "\u{c9}T\u{c9} \u{e9}T\u{e9}".as_bytes());
    }

    #[test]
    fn sampling_needs_long_enough_literals() {
        let patterns: Vec<&[u8]> = vec![b"abcdefg", b"bcdefgh"];
        assert!(sampled(&patterns, MIN_LOG2_BITS, MAX_LOG2_BITS, 4, false).is_some());
        assert!(sampled(&patterns, MIN_LOG2_BITS, MAX_LOG2_BITS, 5, false).is_none());
        match FieldAutomaton::build_folded(&patterns, 8) {
            FieldAutomaton::Grams(g) => assert_eq!(g.step, 4),
            _ => panic!("expected the gram matcher"),
        }
        // Every occurrence once, at every alignment, also overlapping ones.
        for pad in 0..9 {
            let mut hay = vec![b'x'; pad];
            hay.extend_from_slice(b"abcdefghABCDEFGH bcdefgh");
            check_folded(&patterns, &hay);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn folded_and_sampled_agree_with_lower_case_then_search(
            (patterns, hay) in literals_and_haystack(),
            upper in prop::collection::vec(any::<bool>(), 0..64),
        ) {
            // Upper-case some haystack bytes and some literal bytes.
            let hay: Vec<u8> = hay.iter().enumerate()
                .map(|(k, b)| if upper.get(k % 64).copied().unwrap_or(false) { b.to_ascii_uppercase() } else { *b })
                .collect();
            let patterns: Vec<Vec<u8>> = patterns.iter().enumerate()
                .map(|(k, p)| if k % 3 == 0 { p.to_ascii_uppercase() } else { p.clone() })
                .collect();
            let patterns: Vec<&[u8]> = patterns.iter().map(Vec::as_slice).collect();
            check_folded(&patterns, &hay);
        }

        #[test]
        fn folded_matching_on_random_bytes(
            patterns in prop::collection::vec(prop::collection::vec(any::<u8>(), 3..20), 1..40),
            noise in prop::collection::vec(any::<u8>(), 0..200),
        ) {
            let mut hay = noise;
            for (k, p) in patterns.iter().enumerate().take(5) {
                let at = (k * 37) % (hay.len() + 1);
                let planted: Vec<u8> = if k % 2 == 0 { p.to_ascii_uppercase() } else { p.clone() };
                hay.splice(at..at, planted);
            }
            let patterns: Vec<&[u8]> = patterns.iter().map(Vec::as_slice).collect();
            check_folded(&patterns, &hay);
        }

        #[test]
        fn same_matches_as_brute_force_and_aho_corasick((patterns, hay) in literals_and_haystack()) {
            let patterns: Vec<&[u8]> = patterns.iter().map(Vec::as_slice).collect();
            let expected = naive(&patterns, &hay);
            prop_assert_eq!(&aho(&patterns, &hay), &expected);
            prop_assert_eq!(&found(&grams(&patterns, MIN_LOG2_BITS, MAX_LOG2_BITS), &hay), &expected);
            prop_assert_eq!(&found(&grams(&patterns, 6, 6), &hay), &expected);
            prop_assert_eq!(&found(&FieldAutomaton::build(&patterns), &hay), &expected);
        }

        #[test]
        fn same_matches_on_random_bytes(
            patterns in prop::collection::vec(prop::collection::vec(any::<u8>(), 3..20), 1..40),
            noise in prop::collection::vec(any::<u8>(), 0..200),
        ) {
            let mut patterns = patterns;
            patterns.sort();
            patterns.dedup();
            // Plant some of the literals in the noise.
            let mut hay = noise;
            for (k, p) in patterns.iter().enumerate().take(5) {
                let at = (k * 37) % (hay.len() + 1);
                hay.splice(at..at, p.iter().copied());
            }
            let patterns: Vec<&[u8]> = patterns.iter().map(Vec::as_slice).collect();
            let expected = naive(&patterns, &hay);
            prop_assert_eq!(&aho(&patterns, &hay), &expected);
            prop_assert_eq!(&found(&grams(&patterns, MIN_LOG2_BITS, MAX_LOG2_BITS), &hay), &expected);
            prop_assert_eq!(&found(&grams(&patterns, 6, 6), &hay), &expected);
        }
    }
}
