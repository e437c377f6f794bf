//! Why a rule (or pipeline) was rejected. Every variant names a reason a rule author can
//! act on; `RuleError::kind()` gives a short category for `vigil rules check` summaries.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SigmaError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {error}", path.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "<input>".into()))]
    Rule {
        path: Option<PathBuf>,
        #[source]
        error: RuleError,
    },
}

/// A problem with one Sigma document.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RuleError {
    #[error("invalid YAML: {0}")]
    Yaml(String),
    #[error("missing required field `{0}`")]
    Missing(&'static str),
    #[error("field `{field}` has the wrong type: {expected}")]
    Type { field: String, expected: &'static str },
    #[error("unknown modifier `{0}`")]
    UnknownModifier(String),
    #[error("invalid modifier combination: {0}")]
    Modifiers(String),
    #[error("invalid value: {0}")]
    Value(String),
    #[error("invalid regular expression `{pattern}`: {reason}")]
    Regex { pattern: String, reason: String },
    #[error("condition: {0}")]
    Condition(String),
    #[error("deprecated aggregation in condition (`| count() …`): {0}; rewrite it as a correlation rule")]
    DeprecatedAggregation(String),
    #[error("undefined search identifier `{0}` in condition")]
    UndefinedSearch(String),
    #[error("placeholder `%{0}%` has no value in the pipeline")]
    Placeholder(String),
    #[error("correlation: {0}")]
    Correlation(String),
    #[error("unresolved rule reference `{0}`")]
    UnresolvedReference(String),
    #[error("limit exceeded: {0}")]
    Limit(String),
}

impl RuleError {
    /// A stable short category for summaries ("N rejected: 3 yaml, 2 regex …").
    pub fn kind(&self) -> &'static str {
        match self {
            RuleError::Yaml(_) => "yaml",
            RuleError::Missing(_) | RuleError::Type { .. } => "structure",
            RuleError::UnknownModifier(_) => "unknown-modifier",
            RuleError::Modifiers(_) => "modifier-combination",
            RuleError::Value(_) => "value",
            RuleError::Regex { .. } => "regex",
            RuleError::Condition(_) | RuleError::UndefinedSearch(_) => "condition",
            RuleError::DeprecatedAggregation(_) => "deprecated-aggregation",
            RuleError::Placeholder(_) => "placeholder",
            RuleError::Correlation(_) => "correlation",
            RuleError::UnresolvedReference(_) => "unresolved-reference",
            RuleError::Limit(_) => "limit",
        }
    }
}
