//! Processing pipelines: YAML configs in the spirit of pySigma's, which adapt rules to
//! the shape of the data — logsource routing for Windows channels, field renames, value
//! transforms, placeholders and extra conditions, each optionally limited to rules of a
//! given logsource.
//!
//! ```yaml
//! name: my-site
//! priority: 20            # pipelines apply in ascending priority
//! logsources:             # Windows routing: first entry covering the rule wins
//!   - logsource: {product: windows, category: process_creation}
//!     windows: [{channel: Security, event_ids: [4688]}]
//! field_mappings:         # Sigma name -> event field(s), alternatives ORed
//!   - logsource: {product: windows, category: process_creation}
//!     mapping: {Image: [Image, NewProcessName]}
//! placeholders:           # values for `|expand` placeholders
//!   Administrators: [admin, root]
//! wildcard_placeholders: false   # unknown placeholders become `*` instead of a rejection
//! timestamp_fields: [TimeCreated_SystemTime, "@timestamp"]
//! transformations:
//!   - type: replace_string          # regex replace in string values
//!     logsource: {product: windows}
//!     field: Image                  # optional
//!     regex: '^C:'
//!     replacement: '%SystemDrive%'
//!   - type: add_condition           # ANDed onto every matching rule
//!     logsource: {product: linux}
//!     conditions: {host.os: linux}
//! ```

use crate::ast::RuleValue;
use crate::error::RuleError;
use indexmap::IndexMap;
use serde::Deserialize;
use vigil_event::LogSource;

/// The Windows routing and field mappings Vigil ships with.
pub const BUILTIN_WINDOWS: &str = include_str!("../pipelines/windows.yml");

/// Timestamp fields tried in order when no pipeline names its own.
pub const DEFAULT_TIMESTAMP_FIELDS: &[&str] =
    &["TimeCreated_SystemTime", "TimeCreated", "@timestamp", "timestamp", "time", "UtcTime", "EventTime", "ts"];

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pipeline {
    pub name: String,
    pub priority: i64,
    pub logsources: Vec<LogsourceRoute>,
    pub field_mappings: Vec<FieldMapping>,
    pub placeholders: IndexMap<String, Vec<String>>,
    pub wildcard_placeholders: bool,
    pub timestamp_fields: Vec<String>,
    pub replacements: Vec<ValueReplacement>,
    pub add_conditions: Vec<AddCondition>,
}

/// Routing of a logsource to Windows channels and event ids.
#[derive(Debug, Clone, PartialEq)]
pub struct LogsourceRoute {
    pub logsource: LogSource,
    pub windows: Vec<WindowsSource>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WindowsSource {
    /// Lower-cased channel name.
    pub channel: String,
    /// Empty: every event id of the channel.
    pub event_ids: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FieldMapping {
    pub logsource: Option<LogSource>,
    pub mapping: IndexMap<String, Vec<String>>,
}

#[derive(Debug, Clone)]
pub struct ValueReplacement {
    pub logsource: Option<LogSource>,
    pub field: Option<String>,
    pub regex: regex::Regex,
    pub replacement: String,
}

impl PartialEq for ValueReplacement {
    fn eq(&self, other: &Self) -> bool {
        self.logsource == other.logsource
            && self.field == other.field
            && self.regex.as_str() == other.regex.as_str()
            && self.replacement == other.replacement
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct AddCondition {
    pub logsource: Option<LogSource>,
    pub conditions: IndexMap<String, RuleValue>,
}

// ---- YAML shape ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PipelineYaml {
    name: Option<String>,
    #[serde(default)]
    priority: i64,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    logsources: Vec<RouteYaml>,
    #[serde(default)]
    field_mappings: Vec<MappingYaml>,
    #[serde(default)]
    placeholders: IndexMap<String, OneOrMany>,
    #[serde(default)]
    wildcard_placeholders: bool,
    #[serde(default)]
    timestamp_fields: Vec<String>,
    #[serde(default)]
    transformations: Vec<TransformYaml>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct LogsourceYaml {
    product: Option<String>,
    category: Option<String>,
    service: Option<String>,
}

impl LogsourceYaml {
    fn build(&self) -> LogSource {
        LogSource::new(self.product.as_deref(), self.category.as_deref(), self.service.as_deref())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteYaml {
    logsource: LogsourceYaml,
    windows: Vec<WindowsYaml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WindowsYaml {
    channel: String,
    #[serde(default)]
    event_ids: Vec<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingYaml {
    logsource: Option<LogsourceYaml>,
    mapping: IndexMap<String, OneOrMany>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum TransformYaml {
    FieldNameMapping { logsource: Option<LogsourceYaml>, mapping: IndexMap<String, OneOrMany> },
    ValuePlaceholders { placeholders: IndexMap<String, OneOrMany> },
    WildcardPlaceholders {},
    ReplaceString { logsource: Option<LogsourceYaml>, field: Option<String>, regex: String, replacement: String },
    AddCondition { logsource: Option<LogsourceYaml>, conditions: IndexMap<String, serde_yaml::Value> },
}

impl Pipeline {
    /// Parses a pipeline YAML document.
    pub fn from_yaml(text: &str) -> Result<Pipeline, RuleError> {
        let y: PipelineYaml = serde_yaml::from_str(text).map_err(|e| RuleError::Yaml(e.to_string()))?;
        let _ = y.description;
        let mut p = Pipeline {
            name: y.name.unwrap_or_else(|| "unnamed".into()),
            priority: y.priority,
            wildcard_placeholders: y.wildcard_placeholders,
            timestamp_fields: y.timestamp_fields,
            ..Default::default()
        };
        for r in y.logsources {
            p.logsources.push(LogsourceRoute {
                logsource: r.logsource.build(),
                windows: r
                    .windows
                    .into_iter()
                    .map(|w| WindowsSource { channel: w.channel.to_ascii_lowercase(), event_ids: w.event_ids })
                    .collect(),
            });
        }
        for m in y.field_mappings {
            p.field_mappings.push(FieldMapping {
                logsource: m.logsource.map(|l| l.build()),
                mapping: m.mapping.into_iter().map(|(k, v)| (k, v.into_vec())).collect(),
            });
        }
        for (k, v) in y.placeholders {
            p.placeholders.insert(k, v.into_vec());
        }
        for t in y.transformations {
            match t {
                TransformYaml::FieldNameMapping { logsource, mapping } => p.field_mappings.push(FieldMapping {
                    logsource: logsource.map(|l| l.build()),
                    mapping: mapping.into_iter().map(|(k, v)| (k, v.into_vec())).collect(),
                }),
                TransformYaml::ValuePlaceholders { placeholders } => {
                    for (k, v) in placeholders {
                        p.placeholders.insert(k, v.into_vec());
                    }
                }
                TransformYaml::WildcardPlaceholders {} => p.wildcard_placeholders = true,
                TransformYaml::ReplaceString { logsource, field, regex, replacement } => {
                    let compiled = regex::RegexBuilder::new(&regex)
                        .size_limit(crate::value::REGEX_SIZE_LIMIT)
                        .build()
                        .map_err(|e| RuleError::Regex { pattern: regex.clone(), reason: e.to_string() })?;
                    p.replacements.push(ValueReplacement {
                        logsource: logsource.map(|l| l.build()),
                        field,
                        regex: compiled,
                        replacement,
                    });
                }
                TransformYaml::AddCondition { logsource, conditions } => {
                    let mut parsed = IndexMap::new();
                    for (field, value) in conditions {
                        let v = match value {
                            serde_yaml::Value::Null => RuleValue::Null,
                            serde_yaml::Value::Bool(b) => RuleValue::Bool(b),
                            serde_yaml::Value::Number(n) => match n.as_i64() {
                                Some(i) => RuleValue::Int(i),
                                None => RuleValue::Float(n.as_f64().unwrap_or(f64::NAN)),
                            },
                            serde_yaml::Value::String(s) => RuleValue::Str(s),
                            _ => return Err(RuleError::Value(format!("add_condition `{field}` needs a scalar"))),
                        };
                        parsed.insert(field, v);
                    }
                    p.add_conditions.push(AddCondition { logsource: logsource.map(|l| l.build()), conditions: parsed });
                }
            }
        }
        Ok(p)
    }

    /// The pipeline Vigil uses when none is given.
    pub fn builtin_windows() -> Pipeline {
        Pipeline::from_yaml(BUILTIN_WINDOWS).expect("the built-in Windows pipeline is valid")
    }
}

/// Pipelines merged in priority order, as the compiler consumes them.
#[derive(Debug, Clone, Default)]
pub struct PipelineSet {
    pipelines: Vec<Pipeline>,
}

impl PipelineSet {
    pub fn new(mut pipelines: Vec<Pipeline>) -> Self {
        pipelines.sort_by_key(|p| p.priority);
        PipelineSet { pipelines }
    }

    pub fn pipelines(&self) -> &[Pipeline] {
        &self.pipelines
    }

    /// The Windows sources of a rule's logsource: the first route (in priority order,
    /// later pipelines first so that user pipelines override the built-in one) whose
    /// named parts all equal the rule's.
    pub fn windows_route(&self, rule: &LogSource) -> Option<&LogsourceRoute> {
        self.pipelines
            .iter()
            .rev()
            .flat_map(|p| p.logsources.iter())
            .find(|r| r.logsource.covers(rule) && !r.logsource.is_empty())
    }

    /// Event fields a rule field name maps to (the name itself when unmapped). Mappings
    /// compose in pipeline order.
    pub fn map_field(&self, rule: &LogSource, field: &str) -> Vec<String> {
        let mut names = vec![field.to_string()];
        for p in &self.pipelines {
            for m in &p.field_mappings {
                if m.logsource.as_ref().is_some_and(|l| !l.covers(rule)) {
                    continue;
                }
                names = names.into_iter().flat_map(|n| m.mapping.get(&n).cloned().unwrap_or_else(|| vec![n])).collect();
            }
        }
        names.dedup();
        names
    }

    pub fn placeholder(&self, name: &str) -> Option<Vec<String>> {
        self.pipelines.iter().rev().find_map(|p| p.placeholders.get(name).cloned())
    }

    pub fn wildcard_placeholders(&self) -> bool {
        self.pipelines.iter().any(|p| p.wildcard_placeholders)
    }

    pub fn timestamp_fields(&self) -> Vec<String> {
        let named: Vec<String> = self.pipelines.iter().rev().flat_map(|p| p.timestamp_fields.clone()).collect();
        if named.is_empty() {
            DEFAULT_TIMESTAMP_FIELDS.iter().map(|s| s.to_string()).collect()
        } else {
            named
        }
    }

    pub fn replacements(&self) -> impl Iterator<Item = &ValueReplacement> {
        self.pipelines.iter().flat_map(|p| p.replacements.iter())
    }

    pub fn add_conditions(&self) -> impl Iterator<Item = &AddCondition> {
        self.pipelines.iter().flat_map(|p| p.add_conditions.iter())
    }
}

impl crate::value::Placeholders for PipelineSet {
    fn values(&self, name: &str) -> Option<Vec<String>> {
        self.placeholder(name).or_else(|| self.wildcard_placeholders().then(|| vec!["*".to_string()]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_section() {
        let p = Pipeline::from_yaml(
            r#"
name: t
priority: 5
logsources:
  - logsource: {product: windows, category: process_creation}
    windows: [{channel: Security, event_ids: [4688]}]
field_mappings:
  - logsource: {product: windows}
    mapping: {Image: [Image, NewProcessName], User: SubjectUserName}
placeholders: {Admins: [a, b]}
transformations:
  - type: replace_string
    regex: '^C:'
    replacement: 'D:'
  - type: add_condition
    conditions: {host: x}
  - type: wildcard_placeholders
"#,
        )
        .unwrap();
        assert_eq!(p.logsources[0].windows[0].channel, "security");
        let set = PipelineSet::new(vec![p]);
        let win = LogSource::new(Some("windows"), Some("process_creation"), None);
        assert_eq!(set.map_field(&win, "Image"), vec!["Image", "NewProcessName"]);
        assert_eq!(set.map_field(&win, "User"), vec!["SubjectUserName"]);
        let linux = LogSource::new(Some("linux"), None, None);
        assert_eq!(set.map_field(&linux, "Image"), vec!["Image"]);
        assert!(set.windows_route(&win).is_some());
        assert!(set.windows_route(&linux).is_none());
        assert!(set.wildcard_placeholders());
    }

    #[test]
    fn unknown_keys_are_errors() {
        assert!(Pipeline::from_yaml("name: x\nfeild_mappings: []\n").is_err());
        assert!(Pipeline::from_yaml("transformations: [{type: nope}]\n").is_err());
    }

    #[test]
    fn builtin_windows_pipeline_loads() {
        let p = Pipeline::builtin_windows();
        assert!(!p.logsources.is_empty());
    }
}
