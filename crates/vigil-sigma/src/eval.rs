//! Evaluation of a [`RuleSet`] on events. One [`Evaluator`] per worker thread holds all
//! per-event scratch state, so the shared rule set stays immutable.

use crate::compile::{Atom, Expr, Item, KeywordLiteral, PatternId, RuleIdx, RuleSet};
use crate::document::{Document, FieldId, FieldValue, Kind};
use crate::keyword_texts::KeywordTexts;
use crate::value::{Position, TimePart};
use chrono::Datelike;
use chrono::Timelike;
use rustc_hash::FxHashMap;
use std::rc::Rc;
use vigil_event::{parse_timestamp, LogSource, Timestamp};

use crate::compile::{
    position_bit, FOUND_CONTAINS as CONTAINS, FOUND_EXACT as EXACT, FOUND_PREFIX as PREFIX, FOUND_SUFFIX as SUFFIX,
};

/// The rules of one route (a Windows channel + event id, or a declared logsource).
#[derive(Debug)]
struct Bucket {
    members: Vec<u64>,
    /// Fields some member reads literals of: the only ones worth scanning.
    scanned: Vec<bool>,
    /// Members without a trigger: evaluated on every event of the route.
    untriggered: Vec<RuleIdx>,
    is_empty: bool,
}

impl Bucket {
    fn contains(&self, rule: RuleIdx) -> bool {
        self.members[rule as usize / 64] & (1 << (rule % 64)) != 0
    }
}

/// Counters of what an evaluator has seen.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct EvalStats {
    pub events: u64,
    /// Events no rule applies to because their logsource is unknown.
    pub unrouted: u64,
    /// Events that are not valid JSON objects.
    pub invalid: u64,
    /// Rule evaluations performed (after candidate selection).
    pub rule_evaluations: u64,
}

/// Why an event could not be evaluated.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// Per-thread evaluation state over a shared [`RuleSet`].
pub struct Evaluator<'r> {
    set: &'r RuleSet,
    doc: Document,
    flags: Vec<u8>,
    fired: Vec<PatternId>,
    rule_epoch: Vec<u32>,
    epoch: u32,
    candidates: Vec<RuleIdx>,
    windows_buckets: FxHashMap<String, FxHashMap<i64, Rc<Bucket>>>,
    declared_buckets: FxHashMap<LogSource, Rc<Bucket>>,
    channel_buf: String,
    /// Every value of the event as text, for keyword items (`keyword_texts_ready`:
    /// loaded for the current event).
    keyword_texts: KeywordTexts,
    keyword_texts_ready: bool,
    /// Per keyword-prefilter literal: present in the raw event text, when its scanner's
    /// bit is set in `keyword_scanned` (computed on first need, buffer reused across
    /// events).
    keyword_present: Vec<bool>,
    /// Bit `s`: keyword scanner `s` has run on the current event.
    keyword_scanned: u32,
    /// The current event spells a character as `\uXXXX` (valid when `keyword_scanned`
    /// is not 0).
    keyword_escaped: bool,
    default_logsource: Option<LogSource>,
    stats: EvalStats,
}

impl<'r> Evaluator<'r> {
    pub fn new(set: &'r RuleSet) -> Self {
        Evaluator {
            set,
            doc: Document::new(),
            flags: vec![0; set.pattern_count],
            fired: Vec::new(),
            rule_epoch: vec![0; set.rules.len()],
            epoch: 0,
            candidates: Vec::new(),
            windows_buckets: FxHashMap::default(),
            declared_buckets: FxHashMap::default(),
            channel_buf: String::new(),
            keyword_texts: KeywordTexts::default(),
            keyword_texts_ready: false,
            keyword_present: Vec::new(),
            keyword_scanned: 0,
            keyword_escaped: false,

            default_logsource: None,
            stats: EvalStats::default(),
        }
    }

    /// The logsource assumed for events that carry none (no Windows `Channel`, no
    /// decoder-declared logsource). Without it such events are checked by no rule.
    pub fn set_default_logsource(&mut self, logsource: Option<LogSource>) {
        self.default_logsource = logsource;
    }

    pub fn stats(&self) -> EvalStats {
        self.stats
    }

    pub fn rule_set(&self) -> &'r RuleSet {
        self.set
    }

    /// The fields extracted from the last evaluated event.
    pub fn document(&self) -> &Document {
        &self.doc
    }

    /// Event time of the last evaluated event, from the pipeline's timestamp fields.
    pub fn timestamp(&self) -> Option<Timestamp> {
        for f in &self.set.timestamp_fields {
            for v in self.doc.values(*f) {
                let t = match v.kind {
                    Kind::Str | Kind::Int | Kind::Float => parse_timestamp(v.text),
                    _ => None,
                };
                if t.is_some() {
                    return t;
                }
            }
        }
        None
    }

    /// Evaluates every applicable rule on one JSON event and appends the indices of
    /// the rules that match (emitting or not; see `CompiledRule::emit`) to `out`.
    /// `declared` is the event's logsource when its decoder knows it.
    pub fn evaluate_json(
        &mut self,
        json: &str,
        declared: Option<&LogSource>,
        out: &mut Vec<RuleIdx>,
    ) -> Result<(), EvalError> {
        self.stats.events += 1;
        if let Err(e) = self.doc.load_json(&self.set.table, json) {
            self.stats.invalid += 1;
            return Err(e.into());
        }
        self.evaluate_loaded(json, declared, out);
        Ok(())
    }

    /// As [`Evaluator::evaluate_json`], for an already parsed event.
    pub fn evaluate_value(&mut self, value: &serde_json::Value, declared: Option<&LogSource>, out: &mut Vec<RuleIdx>) {
        self.stats.events += 1;
        self.doc.load_value(&self.set.table, value);
        let text = value.to_string();
        self.evaluate_loaded(&text, declared, out);
    }

    fn evaluate_loaded(&mut self, json: &str, declared: Option<&LogSource>, out: &mut Vec<RuleIdx>) {
        self.keyword_texts_ready = false;
        self.keyword_scanned = 0;
        let Some(bucket) = self.bucket(declared) else {
            self.stats.unrouted += 1;
            return;
        };
        if bucket.is_empty {
            return;
        }
        self.scan_fields(&bucket);
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.rule_epoch.iter_mut().for_each(|e| *e = 0);
            self.epoch = 1;
        }
        self.candidates.clear();
        for &pid in &self.fired {
            for &rule in self.set.triggers[pid as usize].iter() {
                if self.rule_epoch[rule as usize] != self.epoch && bucket.contains(rule) {
                    self.rule_epoch[rule as usize] = self.epoch;
                    self.candidates.push(rule);
                }
            }
        }
        self.candidates.extend_from_slice(&bucket.untriggered);
        // Report in rule order, independent of which literal fired first.
        self.candidates.sort_unstable();
        let candidates = std::mem::take(&mut self.candidates);
        for &rule in &candidates {
            self.stats.rule_evaluations += 1;
            let expr = &self.set.rules[rule as usize].expr;
            if self.eval(expr, json) {
                out.push(rule);
            }
        }
        self.candidates = candidates;
        for &pid in &self.fired {
            self.flags[pid as usize] = 0;
        }
        self.fired.clear();
    }

    /// Runs each present field's automaton once over its values.
    fn scan_fields(&mut self, bucket: &Bucket) {
        let set = self.set;
        let Evaluator { doc, flags, fired, .. } = self;
        // Literals are lower-case; values are matched lower-cased, all at once.
        doc.lowered();
        let doc = &*doc;
        let lower = doc.lowered_text();
        for &field in doc.present_fields() {
            if !bucket.scanned[field as usize] {
                continue;
            }
            let automaton = set.automata.get(field as usize).and_then(|a| a.as_ref());
            let exact = &set.exact[field as usize];
            for span in doc.scalar_spans(field) {
                let hay = &lower[span];
                if !exact.is_empty() {
                    if let Some(pids) = exact.get(hay) {
                        for &pid in pids.iter() {
                            let slot = &mut flags[pid as usize];
                            if *slot == 0 {
                                fired.push(pid);
                            }
                            *slot |= EXACT;
                        }
                    }
                }
                let Some((automaton, pids)) = automaton else { continue };
                let len = hay.len();
                automaton.for_each_match(hay, |pattern, start, end| {
                    let pid = pids[pattern];
                    let mut bits = CONTAINS;
                    if start == 0 {
                        bits |= PREFIX;
                    }
                    if end == len {
                        bits |= SUFFIX;
                        if start == 0 {
                            bits |= EXACT;
                        }
                    }
                    let slot = &mut flags[pid as usize];
                    if *slot == 0 {
                        fired.push(pid);
                    }
                    *slot |= bits;
                });
            }
        }
    }

    fn bucket(&mut self, declared: Option<&LogSource>) -> Option<Rc<Bucket>> {
        let set = self.set;
        if let Some(ls) = declared.or(self.default_logsource.as_ref()) {
            let windows = self.doc.has(set.channel_field) || self.doc.has(set.system_channel_field);
            if !ls.is_empty() && (declared.is_some() || !windows) {
                if let Some(b) = self.declared_buckets.get(ls) {
                    return Some(b.clone());
                }
                let b = Rc::new(build_bucket(set, |rule| {
                    !rule.route.declared.is_empty() && rule.route.declared.covers(ls)
                }));
                self.declared_buckets.insert(ls.clone(), b.clone());
                return Some(b);
            }
        }
        let channel =
            self.doc.first_text(set.system_channel_field).or_else(|| self.doc.first_text(set.channel_field))?;
        let event_id =
            self.doc.values(set.event_id_field).find_map(|v| v.as_number()).map(|n| n as i64).unwrap_or(i64::MIN);
        self.channel_buf.clear();
        self.channel_buf.push_str(channel);
        self.channel_buf.make_ascii_lowercase();
        if let Some(b) = self.windows_buckets.get(self.channel_buf.as_str()).and_then(|m| m.get(&event_id)) {
            return Some(b.clone());
        }
        let channel = self.channel_buf.clone();
        let b = Rc::new(build_bucket(set, |rule| {
            rule.route.windows_any
                || rule
                    .route
                    .windows
                    .iter()
                    .any(|(c, ids)| **c == *channel && (ids.is_empty() || ids.contains(&event_id)))
        }));
        self.windows_buckets.entry(channel).or_default().insert(event_id, b.clone());
        Some(b)
    }

    fn eval(&mut self, expr: &Expr, json: &str) -> bool {
        match expr {
            Expr::And(parts) => parts.iter().all(|p| self.eval(p, json)),
            Expr::Or(parts) => parts.iter().any(|p| self.eval(p, json)),
            Expr::Not(inner) => !self.eval(inner, json),
            Expr::AtLeast(n, parts) => {
                let mut count = 0;
                for p in parts.iter() {
                    if self.eval(p, json) {
                        count += 1;
                        if count >= *n {
                            return true;
                        }
                    }
                }
                false
            }
            Expr::Const(b) => *b,
            Expr::Item(i) => {
                let item = &self.set.items[*i as usize];
                self.eval_item(item, json)
            }
        }
    }

    fn eval_item(&mut self, item: &'r Item, json: &str) -> bool {
        if let Some(literals) = &item.any_of_literals {
            return literals.iter().any(|(pid, bit)| self.flags[*pid as usize] & bit != 0);
        }
        let Some(field) = item.field else {
            return self.eval_keywords(item, json);
        };
        if item.negate {
            let present = self.doc.values(field).any(|v| v.is_scalar());
            return present && !item.values.iter().any(|alts| alts.iter().any(|a| self.atom(field, a)));
        }
        if item.all {
            item.values.iter().all(|alts| alts.iter().any(|a| self.atom(field, a)))
        } else {
            item.values.iter().any(|alts| alts.iter().any(|a| self.atom(field, a)))
        }
    }

    fn atom(&self, field: FieldId, atom: &Atom) -> bool {
        let doc = &self.doc;
        let mut values = doc.values(field);
        match atom {
            Atom::Pattern { pid, position } => self.flags[*pid as usize] & position_bit(*position) != 0,
            Atom::Short { literal, position } => {
                values.any(|v| v.is_scalar() && short_match(v.text, literal, *position))
            }
            Atom::Empty => values.any(|v| v.kind == Kind::Str && v.text.is_empty()),
            Atom::AnyValue => values.any(|v| v.is_scalar()),
            Atom::Regex { id, .. } => {
                let re = &self.set.regexes[*id as usize];
                values.any(|v| v.is_scalar() && re.is_match(v.text))
            }
            Atom::Cmp { op, value } => values.any(|v| v.as_number().is_some_and(|n| op.holds(n, *value))),
            Atom::Cidr(net) => values
                .any(|v| v.is_scalar() && v.text.trim().parse::<std::net::IpAddr>().is_ok_and(|ip| net.contains(&ip))),
            Atom::Exists(b) => doc.has(field) == *b,
            Atom::Null => values.all(|v| v.kind == Kind::Null),
            Atom::FieldRef { field: other, position, cased } => values.any(|a| {
                a.is_scalar() && doc.values(*other).any(|b| b.is_scalar() && relate(a.text, b.text, *position, *cased))
            }),
            Atom::Time { part, op, value } => values.any(|v| time_part(&v, *part).is_some_and(|n| op.holds(n, *value))),
        }
    }

    /// Whether keyword-prefilter literal `id` occurs in the raw event, ASCII case
    /// ignored. Its scanner runs once per event, on first need. A text that spells
    /// characters as `\uXXXX` (JSON allows it for any character; Go escapes `<`, `>` and
    /// `&`) may hold any literal, so then all count as present.
    fn keyword_present(&mut self, id: u32, json: &str) -> bool {
        let set = self.set;
        let scanner = set.keyword_scanner_of[id as usize];
        if self.keyword_scanned & (1 << scanner) == 0 {
            if self.keyword_scanned == 0 {
                self.keyword_present.clear();
                self.keyword_present.resize(set.keyword_scanner_of.len(), false);
                self.keyword_escaped = has_unicode_escape(json.as_bytes());
            }
            self.keyword_scanned |= 1 << scanner;
            let (automaton, ids) = &set.keyword_scanners[scanner as usize];
            let present = &mut self.keyword_present;
            if self.keyword_escaped {
                ids.iter().for_each(|id| present[*id as usize] = true);
            } else if let Some(lowered) = self.doc.lowered_source() {
                // The event lower-cased once (shared with the field scan) spares the
                // scanner folding every window it probes.
                automaton.for_each_match_lowered(lowered, |p, _, _| present[ids[p] as usize] = true);
            } else {
                automaton.for_each_match(json.as_bytes(), |p, _, _| present[ids[p] as usize] = true);
            }
        }
        self.keyword_present[id as usize]
    }

    fn eval_keywords(&mut self, item: &Item, json: &str) -> bool {
        let set = self.set;
        let prefiltered = !set.keyword_scanner_of.is_empty();
        // Cheap exit: a literal absent from the raw text is absent from every value.
        if prefiltered {
            let possible = match &item.keyword_any_of {
                Some(ids) => ids.iter().any(|id| self.keyword_present(*id, json)),
                None => {
                    let mut possible = |i: usize| {
                        item.keyword_literals[i].iter().any(|lit| match lit {
                            Some(KeywordLiteral { prefilter: Some(id), .. }) => self.keyword_present(*id, json),
                            _ => true,
                        })
                    };
                    if item.all {
                        (0..item.values.len()).all(&mut possible)
                    } else {
                        (0..item.values.len()).any(&mut possible)
                    }
                }
            };
            if !possible {
                return false;
            }
            // Settle every alternative's presence now, so that the search below only
            // looks for literals the raw text holds: a rule's list of 30-40 keywords
            // usually has one or two there, and each search goes through every value.
            for literal in item.keyword_literals.iter().flat_map(|alts| alts.iter()).flatten() {
                if let Some(id) = literal.prefilter {
                    self.keyword_present(id, json);
                }
            }
        }
        if !self.keyword_texts_ready {
            self.keyword_texts.load(json);
            self.keyword_texts_ready = true;
        }
        let texts = &self.keyword_texts;
        let present = &self.keyword_present;
        let may_occur =
            |literal: &KeywordLiteral| !prefiltered || literal.prefilter.is_none_or(|id| present[id as usize]);
        let value_matches = |i: usize| -> bool {
            item.values[i].iter().zip(item.keyword_literals[i].iter()).any(|(atom, literal)| match (literal, atom) {
                (Some(literal), _) if !may_occur(literal) => false,
                // An empty literal only carries a prefilter id: the regex decides.
                (Some(literal), _) if !literal.text.is_empty() => texts.any_contains_lower(&literal.finder),
                (_, Atom::Regex { id, .. }) => {
                    let re = &set.regexes[*id as usize];
                    texts.values().any(|t| re.is_match(t))
                }
                _ => false,
            })
        };
        if item.all {
            (0..item.values.len()).all(value_matches)
        } else {
            (0..item.values.len()).any(value_matches)
        }
    }
}

fn build_bucket(set: &RuleSet, applies: impl Fn(&crate::compile::CompiledRule) -> bool) -> Bucket {
    let mut members = vec![0u64; set.rules.len().div_ceil(64)];
    let mut untriggered = Vec::new();
    let mut scanned = vec![false; set.table.len()];
    let mut any = false;
    for (i, rule) in set.rules.iter().enumerate() {
        if applies(rule) {
            members[i / 64] |= 1 << (i % 64);
            any = true;
            for f in rule.scanned_fields.iter() {
                scanned[*f as usize] = true;
            }
            if !rule.has_trigger {
                untriggered.push(i as RuleIdx);
            }
        }
    }
    Bucket { members, scanned, untriggered, is_empty: !any }
}

/// Whether JSON text contains a `\uXXXX` escape (a `u` after an odd run of
/// backslashes; `\\u` is an escaped backslash followed by a plain `u`).
fn has_unicode_escape(json: &[u8]) -> bool {
    // Windows paths put many backslashes in an event, few `\u`: look for those, then
    // count the backslashes that end there.
    static FINDER: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\\u"));
    FINDER.find_iter(json).any(|at| {
        let run = json[..=at].iter().rev().take_while(|b| **b == b'\\').count();
        run % 2 == 1
    })
}

/// ASCII-case-insensitive position check of a short lower-case literal.
fn short_match(text: &str, literal: &str, position: Position) -> bool {
    let (t, l) = (text.as_bytes(), literal.as_bytes());
    if l.len() > t.len() {
        return false;
    }
    let eq = |a: &[u8]| a.iter().zip(l).all(|(x, y)| x.to_ascii_lowercase() == *y);
    match position {
        Position::Exact => t.len() == l.len() && eq(t),
        Position::Prefix => eq(&t[..l.len()]),
        Position::Suffix => eq(&t[t.len() - l.len()..]),
        Position::Contains => {
            // Candidates are the occurrences of the first byte in either case, found
            // with memchr rather than by comparing at every position.
            let Some(&lower) = l.first() else { return true };
            let upper = lower.to_ascii_uppercase();
            let last = t.len() - l.len();
            let mut from = 0;
            while from <= last {
                let found = if lower == upper {
                    memchr::memchr(lower, &t[from..=last])
                } else {
                    memchr::memchr2(lower, upper, &t[from..=last])
                };
                let Some(at) = found else { return false };
                if eq(&t[from + at..from + at + l.len()]) {
                    return true;
                }
                from += at + 1;
            }
            false
        }
    }
}

fn relate(a: &str, b: &str, position: Position, cased: bool) -> bool {
    let (a, b) = if cased { (a.to_string(), b.to_string()) } else { (a.to_lowercase(), b.to_lowercase()) };
    match position {
        Position::Exact => a == b,
        Position::Prefix => a.starts_with(&b),
        Position::Suffix => a.ends_with(&b),
        Position::Contains => a.contains(&b),
    }
}

fn time_part(v: &FieldValue, part: TimePart) -> Option<f64> {
    if !v.is_scalar() {
        return None;
    }
    let t = parse_timestamp(v.text)?;
    Some(match part {
        TimePart::Minute => t.minute() as f64,
        TimePart::Hour => t.hour() as f64,
        TimePart::Day => t.day() as f64,
        TimePart::Week => t.iso_week().week() as f64,
        TimePart::Month => t.month() as f64,
        TimePart::Year => t.year() as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn short_match_naive(text: &str, literal: &str, position: Position) -> bool {
        let (t, l) = (text.to_ascii_lowercase(), literal);
        match position {
            Position::Exact => t == l,
            Position::Prefix => t.starts_with(l),
            Position::Suffix => t.ends_with(l),
            Position::Contains => t.contains(l),
        }
    }

    #[test]
    fn short_literals_match_case_insensitively() {
        use Position::*;
        assert!(short_match("C:\\A", "\\a", Suffix));
        assert!(short_match("x-Y", "-y", Contains));
        assert!(!short_match("x-Y", "-x", Contains));
        assert!(short_match("AB", "b", Contains));
        assert!(!short_match("A", "ab", Contains));
        assert!(short_match("..", "..", Exact));
    }

    proptest::proptest! {
        #[test]
        fn short_match_agrees_with_lower_case_then_compare(
            text in "[aAbB.\\-]{0,12}",
            literal in "[ab.\\-]{1,2}",
        ) {
            for position in [Position::Exact, Position::Prefix, Position::Suffix, Position::Contains] {
                proptest::prop_assert_eq!(
                    short_match(&text, &literal, position),
                    short_match_naive(&text, &literal, position),
                    "{:?} {:?} {:?}", text, literal, position
                );
            }
        }
    }

    #[test]
    fn unicode_escapes_are_told_from_escaped_backslashes() {
        assert!(has_unicode_escape(br#"{"m":"\u003cscript"}"#));
        assert!(has_unicode_escape(br#"{"m":"a\\\u0041"}"#));
        assert!(!has_unicode_escape(br#"{"m":"C:\\Users"}"#));
        assert!(!has_unicode_escape(br#"{"m":"plain"}"#));
        assert!(!has_unicode_escape(br#"{"m":"C:\\users\\u"}"#));
        assert!(has_unicode_escape(br#"\u0041"#));
        assert!(!has_unicode_escape(br#"\\u0041"#));
        assert!(has_unicode_escape(br#"\\\u0041"#));
    }
}
