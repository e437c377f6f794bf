//! Compiles Sigma documents into one immutable [`RuleSet`] shared by every worker.
//!
//! The cost of matching grows sub-linearly with the number of rules because:
//! - every case-insensitive literal of every rule is registered once per event field
//!   in one Aho-Corasick automaton per field, so an event's field is scanned once no
//!   matter how many rules test it;
//! - each rule gets a *trigger set*: literals of which at least one must occur for the
//!   rule to possibly match (derived from the condition tree). Only rules whose trigger
//!   fired — plus the few without a usable trigger — are evaluated;
//! - rules are routed by logsource, so an event is only tested against rules of its
//!   channel / event id (Windows) or declared logsource.

use crate::ast::*;
use crate::document::{FieldId, FieldTable};
use crate::error::RuleError;
use crate::lazy_regex::LazyRegex;
use crate::literals::FieldAutomaton;
use crate::pipeline::PipelineSet;
use crate::value::{compile_item, ItemSpec, Part, Pattern, Position, TimePart, ValueMatcher};
use indexmap::IndexMap;
use ipnet::IpNet;
use rustc_hash::FxHashMap;
use std::path::PathBuf;
use std::sync::Arc;
use vigil_event::LogSource;

pub type RuleIdx = u32;

/// Bits of the per-literal flags the evaluator sets while scanning a field.
pub(crate) const FOUND_CONTAINS: u8 = 1;
pub(crate) const FOUND_PREFIX: u8 = 2;
pub(crate) const FOUND_SUFFIX: u8 = 4;
pub(crate) const FOUND_EXACT: u8 = 8;

pub(crate) fn position_bit(p: Position) -> u8 {
    match p {
        Position::Contains => FOUND_CONTAINS,
        Position::Prefix => FOUND_PREFIX,
        Position::Suffix => FOUND_SUFFIX,
        Position::Exact => FOUND_EXACT,
    }
}

/// Literals shorter than this are not scanned for in every event: they occur all the
/// time (`-`, `/c`, `$`), which makes them costly to report and useless as triggers.
const MIN_SCANNED_LITERAL: usize = 3;

pub type PatternId = u32;

/// A field's exact-match literals: lower-cased value (as bytes, as the evaluator reads
/// values lower-cased) → pattern ids.
pub(crate) type ExactValues = FxHashMap<Box<[u8]>, Box<[PatternId]>>;

/// A rule's condition, over items.
#[derive(Debug, Clone)]
pub(crate) enum Expr {
    And(Box<[Expr]>),
    Or(Box<[Expr]>),
    Not(Box<Expr>),
    AtLeast(usize, Box<[Expr]>),
    Item(u32),
    Const(bool),
}

/// One way a field value can satisfy a rule value.
#[derive(Debug, Clone)]
pub(crate) enum Atom {
    /// A lower-cased literal at a position, found by the field's automaton (or, for
    /// exact matches, the field's value map) before rules are evaluated.
    Pattern {
        pid: PatternId,
        position: Position,
    },
    /// A lower-cased literal too short to be worth scanning for in every event (one or
    /// two characters: `$`, `-f`, windash variants); checked only when needed.
    Short {
        literal: Box<str>,
        position: Position,
    },
    /// The value is the empty string.
    Empty,
    /// Any scalar value (the pattern `*`).
    AnyValue,
    /// A wildcard pattern, a cased literal or a `re` value, checked with a regex on the
    /// original text. `literal` is a lower-cased text every match contains, if known.
    Regex {
        id: u32,
        literal: Option<Box<str>>,
    },
    Cmp {
        op: CmpOp,
        value: f64,
    },
    Cidr(IpNet),
    Exists(bool),
    Null,
    FieldRef {
        field: FieldId,
        position: Position,
        cased: bool,
    },
    Time {
        part: TimePart,
        op: CmpOp,
        value: f64,
    },
}

/// A keyword value's lower-cased "contains" literal (empty when only the prefilter
/// id is known) and its id in the keyword prefilter automaton.
#[derive(Debug, Clone)]
pub(crate) struct KeywordLiteral {
    pub text: Box<str>,
    /// Built once here: building a searcher per event and literal cost more than the
    /// searches themselves (perf, SigmaHQ Linux keyword rules over Tetragon events).
    pub finder: memchr::memmem::Finder<'static>,
    pub prefilter: Option<u32>,
}

impl KeywordLiteral {
    fn new(text: Box<str>, prefilter: Option<u32>) -> KeywordLiteral {
        let finder = memchr::memmem::Finder::new(text.as_bytes()).into_owned();
        KeywordLiteral { text, finder, prefilter }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Item {
    /// `None`: a keyword item, searched in every value of the event.
    pub field: Option<FieldId>,
    pub values: Box<[Box<[Atom]>]>,
    pub all: bool,
    pub negate: bool,
    /// For keyword items, parallel to `values`: lower-cased literals to find anywhere
    /// (None when the alternative needs its regex).
    /// The second element indexes the keyword prefilter automaton when the literal can
    /// be looked for in the raw JSON text (no characters JSON would escape).
    pub keyword_literals: Box<[Box<[Option<KeywordLiteral>]>]>,
    /// When every value is a scanned literal and any one suffices: (pattern, position
    /// bit) pairs, the item's whole check.
    pub any_of_literals: Option<Box<[(PatternId, u8)]>>,
    /// For keyword items of which any value suffices and every value has a text it
    /// must contain: the keyword-prefilter ids of those texts. The item cannot match
    /// unless one of them occurs in the raw event.
    pub keyword_any_of: Option<Box<[u32]>>,
}

/// How a rule is routed.
#[derive(Debug, Clone, Default)]
pub(crate) struct Route {
    /// Windows (channel, event ids) alternatives; empty ids mean any.
    pub windows: Vec<(Box<str>, Vec<i64>)>,
    /// Product windows without a channel mapping: every Windows event.
    pub windows_any: bool,
    /// The rule's own logsource, for events whose decoder declares theirs.
    pub declared: LogSource,
}

/// A compiled detection rule.
#[derive(Debug, Clone)]
pub struct CompiledRule {
    pub meta: Arc<RuleMeta>,
    pub logsource: LogSource,
    pub(crate) expr: Expr,
    pub(crate) route: Route,
    /// Whether a match is reported on its own (false for rules only referenced by
    /// correlations without `generate: true`).
    pub emit: bool,
    pub(crate) has_trigger: bool,
    /// Fields whose literals this rule reads from the pre-scan.
    pub(crate) scanned_fields: Box<[FieldId]>,
}

/// A compiled correlation.
#[derive(Debug, Clone)]
pub struct CompiledCorrelation {
    pub meta: Arc<RuleMeta>,
    pub kind: CorrelationType,
    pub group_by: Vec<String>,
    pub timespan_ms: i64,
    pub condition: Option<CorrelationCondition>,
    /// Per referenced rule (in `rules:` order): what it is and how to read the group-by
    /// values and the aggregated field from its events.
    pub(crate) inputs: Vec<CorrelationInput>,
    /// Whether hits are reported on their own (false when this correlation is only a
    /// step of a chain).
    pub emit: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct CorrelationInput {
    pub source: InputSource,
    /// For rule inputs: fields per group-by position; for correlation inputs: the index
    /// of the inner correlation's group-by column, per outer group-by position.
    pub group: Vec<GroupSource>,
    pub value_fields: Vec<FieldId>,
}

/// What a correlation input refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputSource {
    Rule(RuleIdx),
    Correlation(u32),
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum GroupSource {
    Field(FieldId),
    InnerColumn(usize),
    Missing,
}

/// A document that could not be loaded, with where it came from.
#[derive(Debug, Clone)]
pub struct LoadError {
    pub path: Option<PathBuf>,
    /// 0-based index of the document in its file.
    pub document: usize,
    pub title: Option<String>,
    pub id: Option<String>,
    pub error: RuleError,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.path {
            Some(p) => write!(f, "{}", p.display())?,
            None => write!(f, "<input>")?,
        }
        if self.document > 0 {
            write!(f, " (document {})", self.document + 1)?;
        }
        if let Some(t) = &self.title {
            write!(f, " [{t}]")?;
        }
        write!(f, ": {}", self.error)
    }
}

/// A rule that loaded but will behave in a way its author may not expect.
#[derive(Debug, Clone)]
pub struct LoadWarning {
    pub path: Option<PathBuf>,
    pub title: String,
    pub message: String,
}

/// All rules, compiled. Immutable and shareable across threads.
pub struct RuleSet {
    pub(crate) table: FieldTable,
    pub(crate) rules: Vec<CompiledRule>,
    pub(crate) items: Vec<Item>,
    pub(crate) regexes: Vec<LazyRegex>,
    /// Per field: its automaton and automaton pattern index → global pattern id.
    pub(crate) automata: Vec<Option<(FieldAutomaton, Box<[PatternId]>)>>,
    /// Per field: exact-match literals (lower-cased value → pattern ids).
    pub(crate) exact: Vec<ExactValues>,
    pub(crate) pattern_count: usize,
    /// Pattern id → rules for which it is a trigger.
    pub(crate) triggers: Vec<Box<[RuleIdx]>>,
    pub(crate) channel_field: FieldId,
    /// `Event.System.Channel` of evtx-shaped events: the log the event was written to,
    /// which routing must use even when EventData / UserData carry a `Channel` too.
    pub(crate) system_channel_field: FieldId,
    pub(crate) event_id_field: FieldId,
    pub(crate) timestamp_fields: Vec<FieldId>,
    pub(crate) correlations: Vec<CompiledCorrelation>,
    /// Rule → (correlation, input position) pairs fed by its matches.
    pub(crate) rule_feeds: Vec<Vec<(u32, u32)>>,
    /// Correlation → (outer correlation, input position) pairs fed by its hits.
    pub(crate) correlation_feeds: Vec<Vec<(u32, u32)>>,
    /// Every keyword literal of every rule (as it appears in JSON, ASCII-lower-cased),
    /// looked for in the raw event, case-insensitively, the first time a keyword item
    /// needs it: one shared scan instead of one per keyword rule. The literals are split
    /// by length over [`KEYWORD_SCANNERS`] scanners, each with the ids of its literals,
    /// because long literals let the matcher probe only every few positions (see
    /// `literals.rs`): an item whose literals are all long — *Mimikatz Use*, evaluated on
    /// every Windows event — never pays for a scan at every position.
    pub(crate) keyword_scanners: Vec<(FieldAutomaton, Box<[u32]>)>,
    /// Per keyword-prefilter literal: the index of its scanner.
    pub(crate) keyword_scanner_of: Box<[u8]>,
}

/// Keyword-prefilter literals at least this long go to the first scanner, the others to
/// the second.
pub(crate) const KEYWORD_LONG: usize = 8;
/// The number of keyword scanners.
pub(crate) const KEYWORD_SCANNERS: usize = 2;
/// The largest probing step of a keyword scanner: literals of 11 bytes and more are
/// probed every 8 positions.
const KEYWORD_MAX_STEP: usize = 8;

impl std::fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleSet")
            .field("rules", &self.rules.len())
            .field("correlations", &self.correlations.len())
            .field("fields", &self.table.len())
            .field("patterns", &self.pattern_count)
            .finish()
    }
}

/// The result of compiling: the rule set and everything that did not make it in.
#[derive(Debug)]
pub struct Compiled {
    pub rules: RuleSet,
    pub errors: Vec<LoadError>,
    pub warnings: Vec<LoadWarning>,
}

impl CompiledCorrelation {
    /// The rules and correlations this one consumes, in `rules:` order.
    pub fn input_sources(&self) -> impl Iterator<Item = InputSource> + '_ {
        self.inputs.iter().map(|i| i.source)
    }
}

impl RuleSet {
    /// Builds every regex now instead of at first use, and returns the patterns that
    /// cannot be built (over the size budget) with the reason. For diagnostics.
    pub fn force_regexes(&self) -> Vec<(String, String)> {
        self.regexes.iter().filter_map(|re| re.force().err().map(|e| (re.source().to_owned(), e))).collect()
    }

    pub fn rules(&self) -> &[CompiledRule] {
        &self.rules
    }

    pub fn correlations(&self) -> &[CompiledCorrelation] {
        &self.correlations
    }

    pub fn fields(&self) -> &FieldTable {
        &self.table
    }

    /// Bytes held by the per-field literal automata.
    pub fn automata_memory(&self) -> usize {
        self.automata.iter().flatten().map(|(a, _)| a.memory_usage()).sum()
    }

    /// Distinct literals used as triggers (the rest only serve rule evaluation).
    pub fn trigger_literal_count(&self) -> usize {
        self.triggers.iter().filter(|t| !t.is_empty()).count()
    }

    /// Number of distinct literals in the shared automata.
    pub fn pattern_count(&self) -> usize {
        self.pattern_count
    }

    /// Rules evaluated on every event of their route because no literal is required
    /// for them to match (negations, regex-only, numeric …).
    pub fn untriggered_rules(&self) -> usize {
        self.rules.iter().filter(|r| !r.has_trigger).count()
    }

    /// The rules counted by [`RuleSet::untriggered_rules`], for diagnostics.
    pub fn untriggered(&self) -> impl Iterator<Item = &CompiledRule> {
        self.rules.iter().filter(|r| !r.has_trigger)
    }

    /// Compiles documents with the given pipelines. Documents that fail are returned as
    /// errors; the rest are compiled.
    pub fn compile(documents: Vec<(Option<PathBuf>, usize, SigmaDocument)>, pipelines: &PipelineSet) -> Compiled {
        Builder::new(pipelines).build(documents)
    }
}

// ------------------------------------------------------------------------------------

struct Builder<'p> {
    pipelines: &'p PipelineSet,
    table: FieldTable,
    items: Vec<Item>,
    regexes: Vec<LazyRegex>,
    regex_ids: FxHashMap<String, u32>,
    /// (field, lower-cased literal) → pattern id.
    pattern_ids: FxHashMap<(FieldId, Box<str>, bool), PatternId>,
    exact_by_field: Vec<FxHashMap<Box<str>, Vec<PatternId>>>,
    patterns_by_field: Vec<Vec<(Box<str>, PatternId)>>,
    pattern_len: Vec<u32>,
    pattern_field: Vec<FieldId>,
    errors: Vec<LoadError>,
    warnings: Vec<LoadWarning>,
    keyword_prefilter: Vec<Box<str>>,
}

impl<'p> Builder<'p> {
    fn new(pipelines: &'p PipelineSet) -> Self {
        Builder {
            pipelines,
            table: FieldTable::default(),
            items: Vec::new(),
            regexes: Vec::new(),
            regex_ids: FxHashMap::default(),
            pattern_ids: FxHashMap::default(),
            patterns_by_field: Vec::new(),
            exact_by_field: Vec::new(),
            pattern_len: Vec::new(),
            pattern_field: Vec::new(),
            errors: Vec::new(),
            warnings: Vec::new(),
            keyword_prefilter: Vec::new(),
        }
    }

    fn build(mut self, documents: Vec<(Option<PathBuf>, usize, SigmaDocument)>) -> Compiled {
        let channel_field = self.table.intern("Channel");
        let system_channel_field = self.table.intern("Event.System.Channel");
        let event_id_field = self.table.intern("EventID");
        let timestamp_fields = self.pipelines.timestamp_fields().iter().map(|f| self.table.intern(f)).collect();

        let mut rules_in = Vec::new();
        let mut correlations_in = Vec::new();
        let mut filters = Vec::new();
        for (path, index, doc) in documents {
            match doc {
                SigmaDocument::Rule(r) => rules_in.push((path, index, r)),
                SigmaDocument::Correlation(c) => correlations_in.push((path, index, c)),
                SigmaDocument::Filter(f) => filters.push(f),
            }
        }

        // Global filters first: they change the rules they target.
        for filter in &filters {
            let mut applied = 0;
            for (_, _, rule) in rules_in.iter_mut() {
                if filter_targets(filter, rule) {
                    apply_filter(filter, rule);
                    applied += 1;
                }
            }
            if applied == 0 {
                self.warnings.push(LoadWarning {
                    path: filter.meta.source.clone(),
                    title: filter.meta.title.clone(),
                    message: "filter matches no loaded rule".into(),
                });
            }
        }

        let mut rules: Vec<CompiledRule> = Vec::new();
        let mut rule_triggers: Vec<Option<Vec<PatternId>>> = Vec::new();
        for (path, index, rule) in rules_in {
            let meta = rule.meta.clone();
            match self.compile_rule(rule) {
                Ok((compiled, trigger)) => {
                    rules.push(compiled);
                    rule_triggers.push(trigger);
                }
                Err(error) => self.errors.push(LoadError {
                    path,
                    document: index,
                    title: Some(meta.title.clone()),
                    id: meta.id.clone(),
                    error,
                }),
            }
        }

        let (correlations, rule_feeds, correlation_feeds) = self.compile_correlations(correlations_in, &mut rules);

        // Automata, one per field.
        let mut automata: Vec<Option<(FieldAutomaton, Box<[PatternId]>)>> = Vec::new();

        for patterns in self.patterns_by_field.iter() {
            if patterns.is_empty() {
                automata.push(None);
                continue;
            }
            let literals: Vec<&[u8]> = patterns.iter().map(|(p, _)| p.as_bytes()).collect();
            let ac = FieldAutomaton::build(&literals);
            automata.push(Some((ac, patterns.iter().map(|(_, id)| *id).collect())));
        }
        let pattern_count = self.pattern_len.len();
        let mut triggers: Vec<Vec<RuleIdx>> = vec![Vec::new(); pattern_count];
        for (idx, trigger) in rule_triggers.iter().enumerate() {
            if let Some(pids) = trigger {
                for pid in pids {
                    triggers[*pid as usize].push(idx as RuleIdx);
                }
            }
        }
        Compiled {
            rules: RuleSet {
                table: self.table,
                rules,
                items: self.items,
                regexes: self.regexes,
                automata,
                exact: std::mem::take(&mut self.exact_by_field)
                    .into_iter()
                    .map(|m| m.into_iter().map(|(k, v)| (k.into_boxed_bytes(), v.into_boxed_slice())).collect())
                    .collect(),
                pattern_count,
                triggers: triggers.into_iter().map(Vec::into_boxed_slice).collect(),
                channel_field,
                system_channel_field,
                event_id_field,
                timestamp_fields,
                correlations,
                rule_feeds,
                correlation_feeds,
                // Searched with the rare-gram matcher, reading the event lower-cased:
                // needles like `event::clear` would make a first-bytes prefilter stop at
                // every `eventid` key of the JSON.
                keyword_scanner_of: self
                    .keyword_prefilter
                    .iter()
                    .map(|n| if n.len() >= KEYWORD_LONG { 0 } else { 1 })
                    .collect(),
                keyword_scanners: (0..KEYWORD_SCANNERS as u8)
                    .map(|scanner| {
                        let (ids, needles): (Vec<u32>, Vec<&[u8]>) = self
                            .keyword_prefilter
                            .iter()
                            .enumerate()
                            .filter(|(_, n)| (n.len() >= KEYWORD_LONG) == (scanner == 0))
                            .map(|(id, n)| (id as u32, n.as_bytes()))
                            .unzip();
                        (FieldAutomaton::build_folded(&needles, KEYWORD_MAX_STEP), ids.into_boxed_slice())
                    })
                    .collect(),
            },
            errors: self.errors,
            warnings: self.warnings,
        }
    }

    fn compile_rule(&mut self, mut rule: Rule) -> Result<(CompiledRule, Option<Vec<PatternId>>), RuleError> {
        // Pipeline conditions are extra searches ANDed onto the condition.
        let extra: Vec<_> = self
            .pipelines
            .add_conditions()
            .filter(|c| c.logsource.as_ref().is_none_or(|l| l.covers(&rule.logsource)))
            .cloned()
            .collect();
        for (n, cond) in extra.into_iter().enumerate() {
            let name = format!("_pipeline_condition_{n}");
            let items = cond
                .conditions
                .into_iter()
                .map(|(field, value)| FieldItem { field: Some(field), modifiers: Vec::new(), values: vec![value] })
                .collect();
            rule.detection.searches.insert(name.clone(), Search::Maps(vec![items]));
            rule.detection.conditions = vec![Condition::And(vec![
                Condition::Or(std::mem::take(&mut rule.detection.conditions)),
                Condition::Search(name),
            ])];
        }

        let logsource = rule.logsource.clone();
        // On error, the items already built for the rule stay allocated but unreferenced:
        // cheap, and it keeps item indices stable.
        let compiled = (|| {
            let mut searches: IndexMap<String, Expr> = IndexMap::new();
            for (name, search) in &rule.detection.searches {
                searches.insert(name.clone(), self.compile_search(&logsource, search)?);
            }
            let mut alternatives = Vec::new();
            for condition in &rule.detection.conditions {
                alternatives.push(resolve_condition(condition, &searches)?);
            }
            Ok(if alternatives.len() == 1 { alternatives.pop().unwrap() } else { Expr::Or(alternatives.into()) })
        })();
        let expr = self.order_by_cost(simplify(compiled?)).0;
        let route = self.route(&rule.meta, &logsource);
        let mut scanned_fields = Vec::new();
        self.collect_scanned_fields(&expr, &mut scanned_fields);
        scanned_fields.sort_unstable();
        scanned_fields.dedup();
        let trigger = self.trigger(&expr).filter(|t| !t.is_empty() || matches!(expr, Expr::Const(false)));
        Ok((
            CompiledRule {
                meta: rule.meta,
                logsource,
                expr,
                route,
                emit: true,
                has_trigger: trigger.is_some(),
                scanned_fields: scanned_fields.into(),
            },
            trigger,
        ))
    }

    fn route(&mut self, meta: &RuleMeta, logsource: &LogSource) -> Route {
        let mut route = Route { declared: logsource.clone(), ..Default::default() };
        let is_windows = logsource.product.as_deref() == Some("windows");
        match self.pipelines.windows_route(logsource) {
            Some(r) if is_windows || logsource.product.is_none() => {
                route.windows =
                    r.windows.iter().map(|w| (w.channel.clone().into_boxed_str(), w.event_ids.clone())).collect();
            }
            _ if is_windows => {
                route.windows_any = true;
                if logsource.category.is_some() || logsource.service.is_some() {
                    self.warnings.push(LoadWarning {
                        path: meta.source.clone(),
                        title: meta.title.clone(),
                        message: format!(
                            "no Windows channel mapping for logsource {logsource}; applied to every Windows event"
                        ),
                    });
                }
            }
            _ => {}
        }
        route
    }

    fn compile_search(&mut self, logsource: &LogSource, search: &Search) -> Result<Expr, RuleError> {
        match search {
            Search::Keywords(item) => self.compile_item(logsource, item),
            Search::Maps(maps) => {
                let mut alternatives = Vec::with_capacity(maps.len());
                for map in maps {
                    let mut parts = Vec::with_capacity(map.len());
                    for item in map {
                        parts.push(self.compile_item(logsource, item)?);
                    }
                    alternatives.push(Expr::And(parts.into()));
                }
                Ok(Expr::Or(alternatives.into()))
            }
        }
    }

    fn compile_item(&mut self, logsource: &LogSource, item: &FieldItem) -> Result<Expr, RuleError> {
        let item = self.apply_replacements(logsource, item);
        let spec = compile_item(&item, self.pipelines)?;
        match &spec.field {
            None => {
                let compiled = self.build_item(None, &spec)?;
                Ok(Expr::Item(self.push_item(compiled)))
            }
            Some(field) => {
                // One-to-many field mappings: a value test holds on any of the fields,
                // but an absence test (`null`, `exists: false`) only when every one of
                // them is absent — else `Image: null` would hold on every Sysmon event
                // just because Security's `NewProcessName` is missing.
                let names = self.pipelines.map_field(logsource, field);
                let absence = spec
                    .values
                    .iter()
                    .all(|alts| alts.iter().all(|m| matches!(m, ValueMatcher::Null | ValueMatcher::Exists(false))));
                let mut alternatives = Vec::with_capacity(names.len());
                for name in names {
                    let id = self.intern_field(&name);
                    let compiled = self.build_item(Some(id), &spec)?;
                    alternatives.push(Expr::Item(self.push_item(compiled)));
                }
                Ok(match alternatives.len() {
                    1 => alternatives.pop().expect("one"),
                    _ if absence => Expr::And(alternatives.into()),
                    _ => Expr::Or(alternatives.into()),
                })
            }
        }
    }

    fn intern_field(&mut self, name: &str) -> FieldId {
        let id = self.table.intern(name);
        if self.exact_by_field.len() <= id as usize {
            self.exact_by_field.resize_with(id as usize + 1, FxHashMap::default);
        }
        if self.patterns_by_field.len() <= id as usize {
            self.patterns_by_field.resize_with(id as usize + 1, Vec::new);
        }
        id
    }

    fn push_item(&mut self, item: Item) -> u32 {
        self.items.push(item);
        (self.items.len() - 1) as u32
    }

    fn apply_replacements(&self, logsource: &LogSource, item: &FieldItem) -> FieldItem {
        let mut item = item.clone();
        for r in self.pipelines.replacements() {
            if r.logsource.as_ref().is_some_and(|l| !l.covers(logsource)) {
                continue;
            }
            if r.field.is_some() && r.field != item.field {
                continue;
            }
            for v in &mut item.values {
                if let RuleValue::Str(s) = v {
                    *s = r.regex.replace_all(s, r.replacement.as_str()).into_owned();
                }
            }
        }
        item
    }

    fn build_item(&mut self, field: Option<FieldId>, spec: &ItemSpec) -> Result<Item, RuleError> {
        let mut values = Vec::with_capacity(spec.values.len());
        let mut keyword_literals = Vec::new();
        for alternatives in &spec.values {
            let mut atoms = Vec::with_capacity(alternatives.len());
            let mut literals = Vec::new();
            for m in alternatives {
                if field.is_none() {
                    let literal = keyword_literal(m).map(|lit| {
                        let prefilter = json_searchable(&lit).map(|needle| self.keyword_prefilter_id(&needle));
                        KeywordLiteral::new(lit, prefilter)
                    });
                    literals.push(literal);
                }
                let atom = self.atom(field, m)?;
                if let (None, Some(None), Atom::Regex { literal: Some(required), .. }) = (field, literals.last(), &atom)
                {
                    // A wildcard keyword: prefilter on its longest literal.
                    if let Some(needle) = json_searchable(required) {
                        let id = self.keyword_prefilter_id(&needle);
                        *literals.last_mut().expect("pushed above") =
                            Some(KeywordLiteral::new(Box::from(""), Some(id)));
                    }
                }
                atoms.push(atom);
            }
            values.push(atoms.into_boxed_slice());
            keyword_literals.push(literals.into_boxed_slice());
        }
        // The common shape — a list of scanned literals, any of which will do — is
        // checked from one contiguous array instead of dispatching on each atom.
        let any_of_literals = (field.is_some() && !spec.all && !spec.negate)
            .then(|| {
                values
                    .iter()
                    .flat_map(|alts| alts.iter())
                    .map(|a| match a {
                        Atom::Pattern { pid, position } => Some((*pid, position_bit(*position))),
                        _ => None,
                    })
                    .collect::<Option<Vec<_>>>()
            })
            .flatten()
            .map(Vec::into_boxed_slice);
        let keyword_any_of = if field.is_none() && !spec.all {
            let ids: Option<Vec<u32>> = keyword_literals
                .iter()
                .flat_map(|alts| alts.iter())
                .map(|lit| lit.as_ref().and_then(|lit| lit.prefilter))
                .collect();
            ids.filter(|ids| !ids.is_empty()).map(Vec::into_boxed_slice)
        } else {
            None
        };
        Ok(Item {
            field,
            values: values.into(),
            all: spec.all,
            negate: spec.negate,
            keyword_literals: keyword_literals.into(),
            any_of_literals,
            keyword_any_of,
        })
    }

    fn keyword_prefilter_id(&mut self, literal: &str) -> u32 {
        if let Some(i) = self.keyword_prefilter.iter().position(|l| **l == *literal) {
            return i as u32;
        }
        self.keyword_prefilter.push(literal.into());
        (self.keyword_prefilter.len() - 1) as u32
    }

    /// The id of a literal of a field. Exact-match literals are looked up by value
    /// instead of scanned for, so they get their own ids.
    fn pattern(&mut self, field: FieldId, literal: &str, exact: bool) -> PatternId {
        let key = (field, literal.to_ascii_lowercase().into_boxed_str(), exact);
        if let Some(id) = self.pattern_ids.get(&key) {
            return *id;
        }
        let id = self.pattern_len.len() as PatternId;
        self.pattern_len.push(key.1.len() as u32);
        self.pattern_field.push(field);
        if exact {
            self.exact_by_field[field as usize].entry(key.1.clone()).or_default().push(id);
        } else {
            self.patterns_by_field[field as usize].push((key.1.clone(), id));
        }
        self.pattern_ids.insert(key, id);
        id
    }

    fn regex(&mut self, source: String) -> Result<u32, RuleError> {
        if let Some(id) = self.regex_ids.get(&source) {
            return Ok(*id);
        }
        let re = LazyRegex::new(source.clone())?;
        let id = self.regexes.len() as u32;
        self.regexes.push(re);
        self.regex_ids.insert(source, id);
        Ok(id)
    }

    fn atom(&mut self, field: Option<FieldId>, m: &ValueMatcher) -> Result<Atom, RuleError> {
        Ok(match m {
            ValueMatcher::Str { pattern, cased } => self.string_atom(field, pattern, *cased)?,
            ValueMatcher::Regex(source) => Atom::Regex {
                id: self.regex(source.clone())?,
                // The trigger automaton ignores case, so a literal of the case-sensitive
                // reading of the regex is required under either reading.
                literal: required_literal(source.strip_prefix("(?i)").unwrap_or(source)).map(Into::into),
            },
            ValueMatcher::Cmp { op, value } => Atom::Cmp { op: *op, value: *value },
            ValueMatcher::Cidr(net) => Atom::Cidr(*net),
            ValueMatcher::Exists(b) => Atom::Exists(*b),
            ValueMatcher::Null => Atom::Null,
            ValueMatcher::FieldRef { field: other, position, cased } => {
                Atom::FieldRef { field: self.intern_field(other), position: *position, cased: *cased }
            }
            ValueMatcher::Time { part, op, value } => Atom::Time { part: *part, op: *op, value: *value },
        })
    }

    fn string_atom(&mut self, field: Option<FieldId>, pattern: &Pattern, cased: bool) -> Result<Atom, RuleError> {
        let parts = pattern.0.as_slice();
        if parts.is_empty() {
            return Ok(Atom::Empty);
        }
        if parts.iter().all(|p| *p == Part::Star) {
            return Ok(Atom::AnyValue);
        }
        let shape = match parts {
            [Part::Lit(s)] => Some((s, Position::Exact)),
            [Part::Lit(s), Part::Star] => Some((s, Position::Prefix)),
            [Part::Star, Part::Lit(s)] => Some((s, Position::Suffix)),
            [Part::Star, Part::Lit(s), Part::Star] => Some((s, Position::Contains)),
            _ => None,
        };
        match (shape, field, cased) {
            // Case folding by `to_lowercase` keeps positions meaningful only when the
            // literal's folding is one-to-one; non-ASCII literals go through a regex.
            (Some((literal, position)), Some(field), false) if folds_like_ascii(literal) => {
                if position != Position::Exact && literal.len() < MIN_SCANNED_LITERAL {
                    return Ok(Atom::Short { literal: literal.to_ascii_lowercase().into(), position });
                }
                Ok(Atom::Pattern { pid: self.pattern(field, literal, position == Position::Exact), position })
            }
            _ => {
                // Leading / trailing stars become unanchored ends, which lets the regex
                // engine use its literal prefilters instead of scanning `.*`.
                let mut parts = parts;
                let anchored_start = parts.first() != Some(&Part::Star);
                let anchored_end = parts.last() != Some(&Part::Star);
                if !anchored_start {
                    parts = &parts[1..];
                }
                if !anchored_end {
                    parts = &parts[..parts.len() - 1];
                }
                let body = Pattern(parts.to_vec()).to_regex_body();
                let source = format!(
                    "{}{}{body}{}",
                    if cased { "" } else { "(?i)" },
                    if anchored_start { "^" } else { "" },
                    if anchored_end { "$" } else { "" }
                );
                let literal = parts
                    .iter()
                    .filter_map(|p| match p {
                        Part::Lit(s) if s.is_ascii() => Some(s.to_ascii_lowercase()),
                        _ => None,
                    })
                    .max_by_key(String::len)
                    .map(Into::into);
                Ok(Atom::Regex { id: self.regex(source)?, literal })
            }
        }
    }

    fn collect_scanned_fields(&self, expr: &Expr, out: &mut Vec<FieldId>) {
        match expr {
            Expr::And(p) | Expr::Or(p) | Expr::AtLeast(_, p) => {
                p.iter().for_each(|e| self.collect_scanned_fields(e, out))
            }
            Expr::Not(e) => self.collect_scanned_fields(e, out),
            Expr::Item(i) => {
                let item = &self.items[*i as usize];
                let scans = item
                    .values
                    .iter()
                    .flat_map(|v| v.iter())
                    .any(|a| matches!(a, Atom::Pattern { .. } | Atom::Regex { literal: Some(_), .. }));
                if scans {
                    out.extend(item.field);
                }
            }
            Expr::Const(_) => {}
        }
    }

    /// Sorts the children of and / or nodes cheapest first, so short-circuiting skips
    /// the expensive checks (regexes, keyword searches) whenever a cheap one decides.
    /// Also returns the node's estimated cost.
    fn order_by_cost(&self, expr: Expr) -> (Expr, u32) {
        match expr {
            Expr::And(parts) => {
                let (parts, cost) = self.order_children(parts);
                (Expr::And(parts), cost)
            }
            Expr::Or(parts) => {
                let (parts, cost) = self.order_children(parts);
                (Expr::Or(parts), cost)
            }
            Expr::AtLeast(n, parts) => {
                let (parts, cost) = self.order_children(parts);
                (Expr::AtLeast(n, parts), cost)
            }
            Expr::Not(inner) => {
                let (inner, cost) = self.order_by_cost(*inner);
                (Expr::Not(Box::new(inner)), cost)
            }
            Expr::Item(i) => (Expr::Item(i), self.item_cost(&self.items[i as usize])),
            Expr::Const(b) => (Expr::Const(b), 0),
        }
    }

    fn order_children(&self, parts: Box<[Expr]>) -> (Box<[Expr]>, u32) {
        let mut costed: Vec<(Expr, u32)> = parts.into_vec().into_iter().map(|p| self.order_by_cost(p)).collect();
        costed.sort_by_key(|(_, c)| *c);
        let total = costed.iter().map(|(_, c)| *c).fold(0u32, u32::saturating_add);
        (costed.into_iter().map(|(e, _)| e).collect(), total)
    }

    fn item_cost(&self, item: &Item) -> u32 {
        if item.field.is_none() {
            return 1000;
        }
        item.values
            .iter()
            .flat_map(|v| v.iter())
            .map(|a| match a {
                Atom::Pattern { .. }
                | Atom::Short { .. }
                | Atom::Empty
                | Atom::AnyValue
                | Atom::Exists(_)
                | Atom::Null => 1,
                Atom::Cmp { .. } => 2,
                Atom::Cidr(_) => 5,
                Atom::FieldRef { .. } => 20,
                Atom::Time { .. } => 30,
                Atom::Regex { .. } => 50,
            })
            .fold(0u32, u32::saturating_add)
    }

    // ---- triggers ----

    /// Literals of which at least one occurs whenever `expr` holds, or `None` when no
    /// such set is known.
    fn trigger(&mut self, expr: &Expr) -> Option<Vec<PatternId>> {
        match expr {
            Expr::Const(true) | Expr::Not(_) => None,
            Expr::Const(false) => Some(Vec::new()),
            Expr::Or(parts) | Expr::AtLeast(_, parts) => {
                let mut all = Vec::new();
                for p in parts.iter() {
                    all.extend(self.trigger(p)?);
                }
                all.sort_unstable();
                all.dedup();
                Some(all)
            }
            Expr::And(parts) => {
                let mut best: Option<Vec<PatternId>> = None;
                for p in parts.iter() {
                    if let Some(t) = self.trigger(p) {
                        if best.as_ref().is_none_or(|b| self.selectivity(&t) > self.selectivity(b)) {
                            best = Some(t);
                        }
                    }
                }
                best
            }
            Expr::Item(i) => self.item_trigger(*i as usize),
        }
    }

    /// Higher is more selective: the shortest literal's length (short literals occur
    /// often), with literals on routing fields ranked lowest (every event of a route
    /// has them).
    fn selectivity(&self, pids: &[PatternId]) -> (u32, std::cmp::Reverse<usize>) {
        let min_len = pids
            .iter()
            .map(|p| {
                let field = self.pattern_field[*p as usize];
                if self.table.name(field).eq_ignore_ascii_case("EventID")
                    || self.table.name(field).eq_ignore_ascii_case("Channel")
                {
                    0
                } else {
                    self.pattern_len[*p as usize]
                }
            })
            .min()
            .unwrap_or(u32::MAX);
        (min_len, std::cmp::Reverse(pids.len()))
    }

    fn item_trigger(&mut self, index: usize) -> Option<Vec<PatternId>> {
        let item = self.items[index].clone();
        if item.negate || item.field.is_none() {
            return None;
        }
        let field = item.field?;
        let mut per_value: Vec<Vec<PatternId>> = Vec::new();
        for atoms in item.values.iter() {
            let mut pids = Vec::new();
            for atom in atoms.iter() {
                match atom {
                    Atom::Pattern { pid, .. } => pids.push(*pid),
                    Atom::Regex { literal, .. } => {
                        // A literal every match contains can trigger it.
                        let literal = literal.clone().filter(|l| l.len() >= MIN_SCANNED_LITERAL)?;
                        pids.push(self.pattern(field, &literal, false));
                    }
                    _ => return None,
                }
            }
            per_value.push(pids);
        }
        if item.all {
            // Every value must match: the most selective one's literals suffice.
            per_value.into_iter().max_by_key(|p| self.selectivity(p))
        } else {
            let mut all: Vec<PatternId> = per_value.into_iter().flatten().collect();
            all.sort_unstable();
            all.dedup();
            Some(all)
        }
    }

    // ---- correlations ----

    #[allow(clippy::type_complexity)]
    fn compile_correlations(
        &mut self,
        input: Vec<(Option<PathBuf>, usize, CorrelationRule)>,
        rules: &mut [CompiledRule],
    ) -> (Vec<CompiledCorrelation>, Vec<Vec<(u32, u32)>>, Vec<Vec<(u32, u32)>>) {
        let mut rule_by_ref: FxHashMap<String, RuleIdx> = FxHashMap::default();
        for (i, r) in rules.iter().enumerate() {
            if let Some(id) = &r.meta.id {
                rule_by_ref.insert(id.clone(), i as RuleIdx);
            }
            if let Some(name) = &r.meta.name {
                rule_by_ref.insert(name.clone(), i as RuleIdx);
            }
        }
        let mut corr_by_ref: FxHashMap<String, u32> = FxHashMap::default();
        for (i, (_, _, c)) in input.iter().enumerate() {
            if let Some(id) = &c.meta.id {
                corr_by_ref.insert(id.clone(), i as u32);
            }
            if let Some(name) = &c.meta.name {
                corr_by_ref.insert(name.clone(), i as u32);
            }
        }
        // Resolve references; a correlation failing to resolve is rejected, and so is
        // any correlation referencing it (checked iteratively below).
        let mut sources: Vec<Result<Vec<InputSource>, RuleError>> = input
            .iter()
            .map(|(_, _, c)| {
                c.rules
                    .iter()
                    .map(|r| {
                        rule_by_ref
                            .get(r)
                            .map(|i| InputSource::Rule(*i))
                            .or_else(|| corr_by_ref.get(r).map(|i| InputSource::Correlation(*i)))
                            .ok_or_else(|| RuleError::UnresolvedReference(r.clone()))
                    })
                    .collect()
            })
            .collect();
        // Cycles and references to rejected correlations.
        loop {
            let mut changed = false;
            for i in 0..sources.len() {
                let bad = match &sources[i] {
                    Ok(s) => s.iter().find_map(|src| match src {
                        InputSource::Correlation(j) if *j as usize == i => Some("references itself".to_string()),
                        InputSource::Correlation(j) if sources[*j as usize].is_err() => {
                            Some(format!("references rejected correlation `{}`", input[*j as usize].2.meta.title))
                        }
                        _ => None,
                    }),
                    Err(_) => None,
                };
                if let Some(reason) = bad {
                    sources[i] = Err(RuleError::Correlation(reason));
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        if let Some(cycle) = find_cycle(&sources) {
            for i in cycle {
                sources[i] = Err(RuleError::Correlation("correlation chain forms a cycle".into()));
            }
        }

        let mut out = Vec::new();
        // Compiled indices of the accepted correlations, numbered in input order, assigned
        // first so that references to inner correlations can be translated.
        let mut accepted = 0u32;
        let index_map: Vec<Option<u32>> = sources
            .iter()
            .map(|s| {
                s.is_ok().then(|| {
                    accepted += 1;
                    accepted - 1
                })
            })
            .collect();
        let mut rule_feeds = vec![Vec::new(); rules.len()];
        let mut correlation_feeds = vec![Vec::new(); accepted as usize];
        let mut referenced_rules: FxHashMap<RuleIdx, bool> = FxHashMap::default();
        let mut referenced_correlations = vec![false; correlation_feeds.len()];
        for (i, ((path, doc_index, c), s)) in input.iter().zip(sources).enumerate() {
            let srcs = match s {
                Ok(srcs) => srcs,
                Err(error) => {
                    self.errors.push(LoadError {
                        path: path.clone(),
                        document: *doc_index,
                        title: Some(c.meta.title.clone()),
                        id: c.meta.id.clone(),
                        error,
                    });
                    continue;
                }
            };
            let me = index_map[i].expect("accepted");
            let mut inputs = Vec::new();
            for (pos, src) in srcs.iter().enumerate() {
                let rule_ref = &c.rules[pos];
                let src = match src {
                    InputSource::Rule(r) => InputSource::Rule(*r),
                    InputSource::Correlation(j) => InputSource::Correlation(index_map[*j as usize].expect("accepted")),
                };
                // Field of a group-by name for this input: an alias entry for this rule
                // (by name or id), else the name itself.
                let field_for = |name: &str| -> String {
                    c.aliases
                        .get(name)
                        .and_then(|per_rule| {
                            per_rule.get(rule_ref).or_else(|| match src {
                                InputSource::Rule(r) => {
                                    let m = &rules[r as usize].meta;
                                    m.name
                                        .as_ref()
                                        .and_then(|n| per_rule.get(n))
                                        .or_else(|| m.id.as_ref().and_then(|id| per_rule.get(id)))
                                }
                                _ => None,
                            })
                        })
                        .cloned()
                        .unwrap_or_else(|| name.to_string())
                };
                let group = match src {
                    InputSource::Rule(_) => {
                        c.group_by.iter().map(|g| GroupSource::Field(self.intern_field(&field_for(g)))).collect()
                    }
                    InputSource::Correlation(_) => {
                        let inner = &input[match srcs[pos] {
                            InputSource::Correlation(j) => j as usize,
                            _ => unreachable!(),
                        }]
                        .2;
                        let group: Vec<GroupSource> = c
                            .group_by
                            .iter()
                            .map(|g| {
                                let wanted = field_for(g);
                                inner
                                    .group_by
                                    .iter()
                                    .position(|ig| ig.eq_ignore_ascii_case(&wanted))
                                    .map(GroupSource::InnerColumn)
                                    .unwrap_or(GroupSource::Missing)
                            })
                            .collect();
                        // A chained correlation sees only its inner correlation's group
                        // values; a group-by field beyond them can never be filled, so the
                        // chain can never fire. Say so instead of failing silently.
                        for (g, source) in c.group_by.iter().zip(&group) {
                            if matches!(source, GroupSource::Missing) {
                                self.warnings.push(LoadWarning {
                                    path: c.meta.source.clone(),
                                    title: c.meta.title.clone(),
                                    message: format!(
                                        "group-by `{g}` is not a group-by field of the referenced correlation `{}`; \
                                         its hits carry no `{g}`, so this correlation cannot fire",
                                        inner.meta.title
                                    ),
                                });
                            }
                        }
                        group
                    }
                };
                let value_fields = c
                    .condition
                    .as_ref()
                    .map(|cond| cond.fields.iter().map(|f| self.intern_field(&field_for(f))).collect())
                    .unwrap_or_default();
                match src {
                    InputSource::Rule(r) => {
                        rule_feeds[r as usize].push((me, pos as u32));
                        let entry = referenced_rules.entry(r).or_insert(false);
                        *entry |= c.generate;
                    }
                    InputSource::Correlation(j) => {
                        correlation_feeds[j as usize].push((me, pos as u32));
                        referenced_correlations[j as usize] = true;
                    }
                }
                inputs.push(CorrelationInput { source: src, group, value_fields });
            }
            out.push(CompiledCorrelation {
                meta: c.meta.clone(),
                kind: c.kind,
                group_by: c.group_by.clone(),
                timespan_ms: c.timespan_ms,
                condition: c.condition.clone(),
                inputs,
                emit: true,
            });
        }
        for (r, generate) in referenced_rules {
            rules[r as usize].emit = generate;
        }
        for (i, referenced) in referenced_correlations.into_iter().enumerate() {
            if referenced {
                out[i].emit = false;
            }
        }
        (out, rule_feeds, correlation_feeds)
    }
}

/// Index of correlations in some reference cycle (after self/rejected checks).
fn find_cycle(sources: &[Result<Vec<InputSource>, RuleError>]) -> Option<Vec<usize>> {
    // Kahn's algorithm: whatever cannot be ordered is on or behind a cycle.
    let n = sources.len();
    let mut indegree = vec![0usize; n];
    let mut edges = vec![Vec::new(); n];
    for (i, s) in sources.iter().enumerate() {
        if let Ok(srcs) = s {
            for src in srcs {
                if let InputSource::Correlation(j) = src {
                    edges[*j as usize].push(i);
                    indegree[i] += 1;
                }
            }
        }
    }
    let mut queue: Vec<usize> = (0..n).filter(|i| indegree[*i] == 0).collect();
    let mut seen = 0;
    while let Some(i) = queue.pop() {
        seen += 1;
        for &j in &edges[i] {
            indegree[j] -= 1;
            if indegree[j] == 0 {
                queue.push(j);
            }
        }
    }
    (seen < n).then(|| (0..n).filter(|i| indegree[*i] > 0).collect())
}

/// Whether matching `literal` against an ASCII-lower-cased haystack is exactly
/// case-insensitive: true when every non-ASCII character is caseless (emoji, symbols,
/// CJK …), so only ASCII letters have case variants.
fn folds_like_ascii(literal: &str) -> bool {
    literal
        .chars()
        .all(|c| c.is_ascii() || (c.to_lowercase().eq(std::iter::once(c)) && c.to_uppercase().eq(std::iter::once(c))))
}

/// A text that must appear in the raw JSON of an event whose values contain `literal`:
/// its longest part free of characters JSON may escape in several ways (`/` as `\/`,
/// controls as `\u…`), with `\` and `"` in the one escaped form JSON allows.
fn json_searchable(literal: &str) -> Option<String> {
    let part = literal.split(|c: char| c == '/' || c.is_control()).max_by_key(|p| p.len())?;
    (part.len() >= MIN_SCANNED_LITERAL).then(|| part.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Lower-cased literal for a keyword value, when it is a plain "contains".
fn keyword_literal(m: &ValueMatcher) -> Option<Box<str>> {
    // Keyword values are implicitly "contains" (see value.rs).
    match m {
        ValueMatcher::Str { pattern, cased: false } => match pattern.0.as_slice() {
            [Part::Star, Part::Lit(s), Part::Star] if s.is_ascii() => Some(s.to_lowercase().into()),
            _ => None,
        },
        _ => None,
    }
}

/// A literal (lower-cased) that every match of `source` must contain, if the regex
/// has one of useful length.
fn required_literal(source: &str) -> Option<String> {
    let hir = regex_syntax::ParserBuilder::new().build().parse(source).ok()?;
    // A required inner literal: the longest concatenated literal in the HIR.
    let mut best: Option<String> = None;
    collect_required(&hir, &mut best);
    best.filter(|b| b.len() >= 3 && b.is_ascii()).map(|b| b.to_lowercase())
}

fn collect_required(hir: &regex_syntax::hir::Hir, best: &mut Option<String>) {
    use regex_syntax::hir::HirKind;
    match hir.kind() {
        HirKind::Literal(lit) => {
            if let Ok(s) = std::str::from_utf8(&lit.0) {
                consider(best, s);
            }
        }
        HirKind::Concat(parts) => {
            // Adjacent literals concatenate; other parts are also required.
            let mut run = String::new();
            for p in parts {
                match p.kind() {
                    HirKind::Literal(lit) => match std::str::from_utf8(&lit.0) {
                        Ok(s) => run.push_str(s),
                        Err(_) => run.clear(),
                    },
                    _ => {
                        consider(best, &run);
                        run.clear();
                        collect_required(p, best);
                    }
                }
            }
            consider(best, &run);
        }
        HirKind::Capture(c) => collect_required(&c.sub, best),
        HirKind::Repetition(r) if r.min >= 1 => collect_required(&r.sub, best),
        // Alternations, optional parts, classes: nothing is required of them alone.
        _ => {}
    }
}

fn consider(best: &mut Option<String>, candidate: &str) {
    // Case-insensitive regexes are parsed into classes, not literals, so literals here
    // are exact; the trigger automaton is case-insensitive, which only widens it.
    if best.as_ref().is_none_or(|b| candidate.len() > b.len()) && !candidate.is_empty() {
        *best = Some(candidate.to_string());
    }
}

/// Resolves a condition over search identifiers into an expression over items.
fn resolve_condition(condition: &Condition, searches: &IndexMap<String, Expr>) -> Result<Expr, RuleError> {
    Ok(match condition {
        Condition::And(parts) => {
            Expr::And(parts.iter().map(|p| resolve_condition(p, searches)).collect::<Result<_, _>>()?)
        }
        Condition::Or(parts) => {
            Expr::Or(parts.iter().map(|p| resolve_condition(p, searches)).collect::<Result<_, _>>()?)
        }
        Condition::Not(inner) => Expr::Not(Box::new(resolve_condition(inner, searches)?)),
        Condition::Search(name) => {
            searches.get(name).cloned().ok_or_else(|| RuleError::UndefinedSearch(name.clone()))?
        }
        Condition::Of(quantifier, target) => {
            let selected: Vec<Expr> = match target {
                OfTarget::Them => {
                    searches.iter().filter(|(name, _)| !name.starts_with('_')).map(|(_, e)| e.clone()).collect()
                }
                OfTarget::Pattern(pattern) => searches
                    .iter()
                    .filter(|(name, _)| identifier_matches(pattern, name))
                    .map(|(_, e)| e.clone())
                    .collect(),
            };
            if selected.is_empty() {
                return Err(RuleError::Condition(format!(
                    "`{}` matches no search identifier",
                    match target {
                        OfTarget::Them => "them".to_string(),
                        OfTarget::Pattern(p) => p.clone(),
                    }
                )));
            }
            match quantifier {
                Quantifier::All => Expr::And(selected.into()),
                Quantifier::AtLeast(1) => Expr::Or(selected.into()),
                Quantifier::AtLeast(n) => Expr::AtLeast(*n, selected.into()),
            }
        }
    })
}

/// Search identifier patterns use `*` only.
pub(crate) fn identifier_matches(pattern: &str, name: &str) -> bool {
    fn rec(p: &[u8], n: &[u8]) -> bool {
        match p.split_first() {
            None => n.is_empty(),
            Some((b'*', rest)) => (0..=n.len()).any(|i| rec(rest, &n[i..])),
            Some((c, rest)) => n.first() == Some(c) && rec(rest, &n[1..]),
        }
    }
    rec(pattern.as_bytes(), name.as_bytes())
}

/// Flattens nested and/or and folds constants.
fn simplify(expr: Expr) -> Expr {
    match expr {
        Expr::And(parts) => {
            let mut out = Vec::new();
            for p in parts.into_vec() {
                match simplify(p) {
                    Expr::Const(true) => {}
                    Expr::Const(false) => return Expr::Const(false),
                    Expr::And(inner) => out.extend(inner.into_vec()),
                    other => out.push(other),
                }
            }
            match out.len() {
                0 => Expr::Const(true),
                1 => out.pop().unwrap(),
                _ => Expr::And(out.into()),
            }
        }
        Expr::Or(parts) => {
            let mut out = Vec::new();
            for p in parts.into_vec() {
                match simplify(p) {
                    Expr::Const(false) => {}
                    Expr::Const(true) => return Expr::Const(true),
                    Expr::Or(inner) => out.extend(inner.into_vec()),
                    other => out.push(other),
                }
            }
            match out.len() {
                0 => Expr::Const(false),
                1 => out.pop().unwrap(),
                _ => Expr::Or(out.into()),
            }
        }
        Expr::Not(inner) => match simplify(*inner) {
            Expr::Const(b) => Expr::Const(!b),
            Expr::Not(x) => *x,
            other => Expr::Not(Box::new(other)),
        },
        Expr::AtLeast(n, parts) => Expr::AtLeast(n, parts.into_vec().into_iter().map(simplify).collect()),
        other => other,
    }
}

// ---- filters ----

fn filter_targets(filter: &FilterRule, rule: &Rule) -> bool {
    if !filter.logsource.covers(&rule.logsource) {
        return false;
    }
    match &filter.targets {
        FilterTargets::Any => true,
        FilterTargets::Rules(refs) => refs
            .iter()
            .any(|r| rule.meta.id.as_deref() == Some(r.as_str()) || rule.meta.name.as_deref() == Some(r.as_str())),
    }
}

/// ANDs the filter's condition onto the rule's, with the filter's identifiers renamed so
/// they cannot collide with the rule's (or be picked up by the rule's `them`).
fn apply_filter(filter: &FilterRule, rule: &mut Rule) {
    let prefix = format!("_filter_{}_", rule.detection.searches.len());
    let names: Vec<String> = filter.detection.searches.keys().cloned().collect();
    for (name, search) in &filter.detection.searches {
        rule.detection.searches.insert(format!("{prefix}{name}"), search.clone());
    }
    fn rename(c: &Condition, prefix: &str, names: &[String]) -> Condition {
        match c {
            Condition::And(p) => Condition::And(p.iter().map(|x| rename(x, prefix, names)).collect()),
            Condition::Or(p) => Condition::Or(p.iter().map(|x| rename(x, prefix, names)).collect()),
            Condition::Not(x) => Condition::Not(Box::new(rename(x, prefix, names))),
            Condition::Search(n) => Condition::Search(format!("{prefix}{n}")),
            Condition::Of(q, OfTarget::Pattern(p)) => Condition::Of(*q, OfTarget::Pattern(format!("{prefix}{p}"))),
            Condition::Of(q, OfTarget::Them) => {
                let all: Vec<Condition> = names
                    .iter()
                    .filter(|n| !n.starts_with('_'))
                    .map(|n| Condition::Search(format!("{prefix}{n}")))
                    .collect();
                match q {
                    Quantifier::All => Condition::And(all),
                    Quantifier::AtLeast(1) => Condition::Or(all),
                    Quantifier::AtLeast(_) => Condition::Of(*q, OfTarget::Pattern(format!("{prefix}*"))),
                }
            }
        }
    }
    let filter_condition =
        Condition::Or(filter.detection.conditions.iter().map(|c| rename(c, &prefix, &names)).collect());
    let original = Condition::Or(std::mem::take(&mut rule.detection.conditions));
    rule.detection.conditions = vec![Condition::And(vec![original, filter_condition])];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifier_patterns() {
        assert!(identifier_matches("sel*", "selection"));
        assert!(identifier_matches("*", "x"));
        assert!(identifier_matches("a*b", "axxb"));
        assert!(!identifier_matches("a*b", "axxc"));
        assert!(identifier_matches("exact", "exact"));
    }

    #[test]
    fn required_literals_from_regexes() {
        assert_eq!(required_literal(r"foo\d+barbaz").as_deref(), Some("barbaz"));
        assert_eq!(required_literal(r"(abc|def)"), None);
        assert_eq!(required_literal(r"x+"), None);
        assert_eq!(required_literal(r"^C:\\Windows\\.*\.exe$").as_deref(), Some("c:\\windows\\"));
    }
}
