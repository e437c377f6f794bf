//! Sigma documents as parsed from YAML, before any pipeline or compilation.

use indexmap::IndexMap;
use std::path::PathBuf;
use std::sync::Arc;
use vigil_event::LogSource;

/// Descriptive fields every Sigma document may carry.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct RuleMeta {
    pub title: String,
    pub id: Option<String>,
    /// Correlation-facing name (`name:`), unique within a rule collection.
    pub name: Option<String>,
    pub status: Option<String>,
    pub level: Option<String>,
    pub description: Option<String>,
    pub author: Option<String>,
    pub tags: Vec<String>,
    pub references: Vec<String>,
    pub falsepositives: Vec<String>,
    pub date: Option<String>,
    pub modified: Option<String>,
    /// `fields:` — what the rule author wants shown with a hit.
    pub fields: Vec<String>,
    /// The file the document came from, if any.
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

/// One document of a Sigma YAML file.
#[derive(Debug, Clone, PartialEq)]
pub enum SigmaDocument {
    Rule(Rule),
    Correlation(CorrelationRule),
    Filter(FilterRule),
}

impl SigmaDocument {
    pub fn meta(&self) -> &RuleMeta {
        match self {
            SigmaDocument::Rule(r) => &r.meta,
            SigmaDocument::Correlation(c) => &c.meta,
            SigmaDocument::Filter(f) => &f.meta,
        }
    }
}

/// A detection rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub meta: Arc<RuleMeta>,
    pub logsource: LogSource,
    pub detection: Detection,
}

/// The `detection:` section: named searches and the condition(s) over them.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    pub searches: IndexMap<String, Search>,
    /// A list of conditions is an OR of them (legacy form).
    pub conditions: Vec<Condition>,
}

/// A search identifier's body.
#[derive(Debug, Clone, PartialEq)]
pub enum Search {
    /// OR of maps; each map is an AND of its items. A single map is a list of one.
    Maps(Vec<Vec<FieldItem>>),
    /// Field-less values searched across the whole event. `all` is the `'|all'` form.
    Keywords(FieldItem),
}

/// `Field|mod|mod: value(s)`. `field` is `None` for keyword items.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldItem {
    pub field: Option<String>,
    pub modifiers: Vec<Modifier>,
    pub values: Vec<RuleValue>,
}

impl FieldItem {
    pub fn has(&self, m: Modifier) -> bool {
        self.modifiers.contains(&m)
    }
}

/// A scalar value as written in the rule.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleValue {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Null,
}

/// Every value modifier of Sigma v2.1 (modifiers appendix).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Modifier {
    Contains,
    StartsWith,
    EndsWith,
    All,
    Exists,
    Cased,
    Neq,
    Windash,
    Re,
    /// `re` sub-modifiers.
    ReInsensitive,
    ReMultiline,
    ReDotAll,
    Base64,
    Base64Offset,
    Utf16Le,
    Utf16Be,
    Utf16,
    Wide,
    Lt,
    Lte,
    Gt,
    Gte,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
    Cidr,
    Expand,
    FieldRef,
}

impl Modifier {
    pub fn parse(name: &str) -> Option<Modifier> {
        use Modifier::*;
        Some(match name {
            "contains" => Contains,
            "startswith" => StartsWith,
            "endswith" => EndsWith,
            "all" => All,
            "exists" => Exists,
            "cased" => Cased,
            "neq" => Neq,
            "windash" => Windash,
            "re" => Re,
            "i" => ReInsensitive,
            "m" => ReMultiline,
            "s" => ReDotAll,
            "base64" => Base64,
            "base64offset" => Base64Offset,
            "utf16le" => Utf16Le,
            "utf16be" => Utf16Be,
            "utf16" => Utf16,
            "wide" => Wide,
            "lt" => Lt,
            "lte" => Lte,
            "gt" => Gt,
            "gte" => Gte,
            "minute" => Minute,
            "hour" => Hour,
            "day" => Day,
            "week" => Week,
            "month" => Month,
            "year" => Year,
            "cidr" => Cidr,
            "expand" => Expand,
            "fieldref" => FieldRef,
            _ => return None,
        })
    }
}

/// A parsed condition expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    And(Vec<Condition>),
    Or(Vec<Condition>),
    Not(Box<Condition>),
    /// A search identifier by name.
    Search(String),
    /// `1 of x`, `all of x`, `N of x`.
    Of(Quantifier, OfTarget),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantifier {
    All,
    /// At least N (`1 of` is `AtLeast(1)`).
    AtLeast(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfTarget {
    /// Every search identifier not starting with `_`.
    Them,
    /// A name pattern with `*` wildcards.
    Pattern(String),
}

/// The four (v2.0) plus three (v2.1 metric) correlation types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CorrelationType {
    EventCount,
    ValueCount,
    Temporal,
    TemporalOrdered,
    ValueSum,
    ValueAvg,
    ValuePercentile,
}

impl CorrelationType {
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "event_count" => Self::EventCount,
            "value_count" => Self::ValueCount,
            "temporal" => Self::Temporal,
            "temporal_ordered" => Self::TemporalOrdered,
            "value_sum" => Self::ValueSum,
            "value_avg" => Self::ValueAvg,
            "value_percentile" => Self::ValuePercentile,
            _ => return None,
        })
    }

    /// Types whose `condition:` must name a `field`.
    pub fn needs_field(self) -> bool {
        matches!(self, Self::ValueCount | Self::ValueSum | Self::ValueAvg | Self::ValuePercentile)
    }
}

/// Comparison operators of correlation conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CmpOp {
    Gt,
    Gte,
    Lt,
    Lte,
    Eq,
    Neq,
}

impl CmpOp {
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "gt" => Self::Gt,
            "gte" => Self::Gte,
            "lt" => Self::Lt,
            "lte" => Self::Lte,
            "eq" => Self::Eq,
            "neq" => Self::Neq,
            _ => return None,
        })
    }

    pub fn holds(self, left: f64, right: f64) -> bool {
        match self {
            Self::Gt => left > right,
            Self::Gte => left >= right,
            Self::Lt => left < right,
            Self::Lte => left <= right,
            Self::Eq => left == right,
            Self::Neq => left != right,
        }
    }
}

/// `condition:` of a correlation: an AND of comparisons, plus the field(s) for the
/// value_* types.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CorrelationCondition {
    pub comparisons: Vec<(CmpOp, f64)>,
    /// Several fields (value_count) are counted as distinct tuples.
    pub fields: Vec<String>,
}

impl CorrelationCondition {
    pub fn holds(&self, value: f64) -> bool {
        self.comparisons.iter().all(|(op, limit)| op.holds(value, *limit))
    }
}

/// A correlation rule (Sigma correlation specification v2.1).
#[derive(Debug, Clone, PartialEq)]
pub struct CorrelationRule {
    pub meta: Arc<RuleMeta>,
    pub kind: CorrelationType,
    /// Referenced rules, by id or by name, in the order given (matters for
    /// temporal_ordered).
    pub rules: Vec<String>,
    pub group_by: Vec<String>,
    /// Window length in milliseconds.
    pub timespan_ms: i64,
    /// Required except for temporal / temporal_ordered, where it defaults to "all
    /// referenced rules seen".
    pub condition: Option<CorrelationCondition>,
    /// alias → (rule name or id → field name in that rule's events).
    pub aliases: IndexMap<String, IndexMap<String, String>>,
    /// Whether the referenced rules also report their own matches.
    pub generate: bool,
}

/// Which rules a filter applies to.
#[derive(Debug, Clone, PartialEq)]
pub enum FilterTargets {
    /// `rules: any` — every rule whose logsource the filter's covers.
    Any,
    /// Rule ids or names.
    Rules(Vec<String>),
}

/// A global filter (Sigma filters specification v2.1): its condition is ANDed onto the
/// condition of every rule it targets.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterRule {
    pub meta: Arc<RuleMeta>,
    pub logsource: LogSource,
    pub targets: FilterTargets,
    pub detection: Detection,
}
