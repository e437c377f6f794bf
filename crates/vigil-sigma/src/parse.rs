//! YAML text → [`SigmaDocument`]s. Structure is checked here; values are interpreted
//! (wildcards, modifiers) at compile time, after processing pipelines have run.

use crate::ast::*;
use crate::condition::parse_condition;
use crate::error::RuleError;
use indexmap::IndexMap;
use serde_yaml::{Mapping, Value};
use std::path::Path;
use std::sync::Arc;
use vigil_event::LogSource;

/// Rule files larger than this are refused before YAML parsing: the largest rule in the
/// SigmaHQ corpus is about 120 KiB.
pub const MAX_RULE_FILE_BYTES: usize = 4 * 1024 * 1024;

/// One document's parse result, with its 0-based index in the file.
pub type ParsedDocument = (usize, Result<SigmaDocument, RuleError>);

/// A parse result with the document's title and id when they could be read, so that a
/// rejection can name the rule.
#[derive(Debug)]
pub struct DetailedDocument {
    pub index: usize,
    pub title: Option<String>,
    pub id: Option<String>,
    pub result: Result<SigmaDocument, RuleError>,
}

/// Parses a (possibly multi-document) Sigma YAML text. Legacy collection actions
/// (`action: global` / `reset` / `repeat`) are applied, so each returned document is
/// complete.
pub fn parse_documents(text: &str, source: Option<&Path>) -> Vec<ParsedDocument> {
    parse_documents_detailed(text, source).into_iter().map(|d| (d.index, d.result)).collect()
}

/// As [`parse_documents`], keeping each document's title and id.
pub fn parse_documents_detailed(text: &str, source: Option<&Path>) -> Vec<DetailedDocument> {
    let detail = |index, result| DetailedDocument { index, title: None, id: None, result };
    if text.len() > MAX_RULE_FILE_BYTES {
        return vec![detail(0, Err(RuleError::Limit(format!("rule file larger than {MAX_RULE_FILE_BYTES} bytes"))))];
    }
    let mut out = Vec::new();
    let mut global: Option<Mapping> = None;
    let mut previous: Option<Mapping> = None;
    for (index, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let value = match <Value as serde::Deserialize>::deserialize(document) {
            Ok(v) => v,
            Err(e) => {
                out.push(detail(index, Err(RuleError::Yaml(e.to_string()))));
                // A YAML syntax error leaves the stream unusable after this point.
                break;
            }
        };
        let mut map = match value {
            Value::Mapping(m) => m,
            Value::Null => continue,
            _ => {
                out.push(detail(index, Err(RuleError::Type { field: "document".into(), expected: "a mapping" })));
                continue;
            }
        };
        match map.get("action").and_then(Value::as_str) {
            Some("global") => {
                map.remove("action");
                global = Some(map);
                continue;
            }
            Some("reset") => {
                global = None;
                continue;
            }
            Some("repeat") => {
                map.remove("action");
                let Some(prev) = previous.clone() else {
                    out.push(detail(
                        index,
                        Err(RuleError::Value("`action: repeat` without a previous document".into())),
                    ));
                    continue;
                };
                let mut merged = prev;
                deep_merge(&mut merged, map);
                map = merged;
            }
            Some(other) => {
                out.push(detail(index, Err(RuleError::Value(format!("unknown collection action `{other}`")))));
                continue;
            }
            None => {
                if let Some(g) = &global {
                    let mut merged = g.clone();
                    deep_merge(&mut merged, map);
                    map = merged;
                }
            }
        }
        previous = Some(map.clone());
        let text_of = |key: &str| map.get(key).and_then(scalar_string);
        out.push(DetailedDocument {
            index,
            title: text_of("title"),
            id: text_of("id"),
            result: parse_document(&map, source),
        });
    }
    out
}

fn deep_merge(base: &mut Mapping, over: Mapping) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(Value::Mapping(b)), Value::Mapping(o)) => deep_merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// Parses one document (already merged with collection globals).
pub fn parse_document(map: &Mapping, source: Option<&Path>) -> Result<SigmaDocument, RuleError> {
    let meta = Arc::new(parse_meta(map, source)?);
    if let Some(correlation) = map.get("correlation") {
        return parse_correlation(meta, correlation, map).map(SigmaDocument::Correlation);
    }
    if let Some(filter) = map.get("filter") {
        let logsource = parse_logsource(map.get("logsource").ok_or(RuleError::Missing("logsource"))?)?;
        return parse_filter(meta, logsource, filter).map(SigmaDocument::Filter);
    }
    let logsource = parse_logsource(map.get("logsource").ok_or(RuleError::Missing("logsource"))?)?;
    let detection = parse_detection(map.get("detection").ok_or(RuleError::Missing("detection"))?)?;
    Ok(SigmaDocument::Rule(Rule { meta, logsource, detection }))
}

fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn opt_string(map: &Mapping, key: &'static str) -> Result<Option<String>, RuleError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => scalar_string(v).map(Some).ok_or(RuleError::Type { field: key.into(), expected: "a string" }),
    }
}

fn string_list(map: &Mapping, key: &'static str) -> Result<Vec<String>, RuleError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Sequence(items)) => items
            .iter()
            .filter(|v| !v.is_null())
            .map(|v| scalar_string(v).ok_or(RuleError::Type { field: key.into(), expected: "a list of strings" }))
            .collect(),
        Some(v) => scalar_string(v)
            .map(|s| vec![s])
            .ok_or(RuleError::Type { field: key.into(), expected: "a string or a list of strings" }),
    }
}

fn parse_meta(map: &Mapping, source: Option<&Path>) -> Result<RuleMeta, RuleError> {
    let title = opt_string(map, "title")?.ok_or(RuleError::Missing("title"))?;
    Ok(RuleMeta {
        title,
        id: opt_string(map, "id")?,
        name: opt_string(map, "name")?,
        status: opt_string(map, "status")?,
        level: opt_string(map, "level")?.map(|l| l.to_ascii_lowercase()),
        description: opt_string(map, "description")?,
        author: opt_string(map, "author")?,
        tags: string_list(map, "tags")?,
        references: string_list(map, "references")?,
        falsepositives: string_list(map, "falsepositives")?,
        date: opt_string(map, "date")?,
        modified: opt_string(map, "modified")?,
        fields: string_list(map, "fields")?,
        source: source.map(Path::to_path_buf),
    })
}

fn parse_logsource(v: &Value) -> Result<LogSource, RuleError> {
    let map = v.as_mapping().ok_or(RuleError::Type { field: "logsource".into(), expected: "a mapping" })?;
    let get = |k: &'static str| opt_string(map, k);
    Ok(LogSource::new(get("product")?.as_deref(), get("category")?.as_deref(), get("service")?.as_deref()))
}

/// Parses a `detection:` mapping (also the body of a global filter).
pub fn parse_detection(v: &Value) -> Result<Detection, RuleError> {
    let map = v.as_mapping().ok_or(RuleError::Type { field: "detection".into(), expected: "a mapping" })?;
    let mut searches = IndexMap::new();
    let mut conditions = Vec::new();
    for (key, value) in map {
        let key = key.as_str().ok_or(RuleError::Type { field: "detection key".into(), expected: "a string" })?;
        match key {
            "condition" => {
                let texts = match value {
                    Value::String(s) => vec![s.as_str()],
                    Value::Sequence(items) => items
                        .iter()
                        .map(|i| i.as_str().ok_or(RuleError::Type { field: "condition".into(), expected: "a string" }))
                        .collect::<Result<_, _>>()?,
                    _ => {
                        return Err(RuleError::Type {
                            field: "condition".into(),
                            expected: "a string or list of strings",
                        })
                    }
                };
                for text in texts {
                    conditions.push(parse_condition(text)?);
                }
            }
            // Legacy aggregation window; meaningless without a pipe aggregation, which the
            // condition parser rejects with its own reason.
            "timeframe" => {}
            _ => {
                searches.insert(key.to_string(), parse_search(key, value)?);
            }
        }
    }
    if conditions.is_empty() {
        return Err(RuleError::Missing("detection.condition"));
    }
    if searches.is_empty() {
        return Err(RuleError::Missing("detection search identifiers"));
    }
    Ok(Detection { searches, conditions })
}

fn parse_search(name: &str, v: &Value) -> Result<Search, RuleError> {
    match v {
        Value::Mapping(m) => Ok(Search::Maps(vec![parse_map(m)?])),
        Value::Sequence(items) if items.iter().all(|i| i.is_mapping()) && !items.is_empty() => items
            .iter()
            .map(|i| parse_map(i.as_mapping().expect("checked")))
            .collect::<Result<_, _>>()
            .map(Search::Maps),
        Value::Sequence(items) if items.iter().all(|i| !i.is_mapping() && !i.is_sequence()) && !items.is_empty() => {
            Ok(Search::Keywords(FieldItem {
                field: None,
                modifiers: Vec::new(),
                values: items.iter().map(|i| parse_value(name, i)).collect::<Result<_, _>>()?,
            }))
        }
        Value::Sequence(_) => Err(RuleError::Type {
            field: name.into(),
            expected: "a non-empty list of maps or a non-empty list of keywords, not a mix",
        }),
        Value::String(_) | Value::Number(_) | Value::Bool(_) => {
            Ok(Search::Keywords(FieldItem { field: None, modifiers: Vec::new(), values: vec![parse_value(name, v)?] }))
        }
        _ => Err(RuleError::Type { field: name.into(), expected: "a map, a list or a keyword" }),
    }
}

fn parse_map(m: &Mapping) -> Result<Vec<FieldItem>, RuleError> {
    let mut items = Vec::with_capacity(m.len());
    for (key, value) in m {
        let key = scalar_string(key).ok_or(RuleError::Type { field: "field name".into(), expected: "a string" })?;
        let mut parts = key.split('|');
        let field = parts.next().unwrap_or_default().to_string();
        let modifiers = parts
            .map(|p| Modifier::parse(p).ok_or_else(|| RuleError::UnknownModifier(p.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        let values = match value {
            Value::Sequence(list) => {
                if list.is_empty() {
                    return Err(RuleError::Value(format!("`{key}` has an empty value list")));
                }
                list.iter().map(|v| parse_value(&key, v)).collect::<Result<Vec<_>, _>>()?
            }
            other => vec![parse_value(&key, other)?],
        };
        items.push(FieldItem { field: if field.is_empty() { None } else { Some(field) }, modifiers, values });
    }
    Ok(items)
}

fn parse_value(key: &str, v: &Value) -> Result<RuleValue, RuleError> {
    Ok(match v {
        Value::Null => RuleValue::Null,
        Value::Bool(b) => RuleValue::Bool(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                RuleValue::Int(i)
            } else if let Some(u) = n.as_u64() {
                // Beyond i64: keep the digits as text; equality is textual anyway.
                RuleValue::Str(u.to_string())
            } else {
                RuleValue::Float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Value::String(s) => RuleValue::Str(s.clone()),
        _ => return Err(RuleError::Type { field: key.into(), expected: "scalar values" }),
    })
}

fn parse_timespan(text: &str) -> Result<i64, RuleError> {
    let text = text.trim();
    let bad = || RuleError::Correlation(format!("timespan `{text}` is not <number><s|m|h|d|w>"));
    let (number, unit) = text.split_at(text.len().checked_sub(1).ok_or_else(bad)?);
    let n: i64 = number.parse().map_err(|_| bad())?;
    let unit_ms: i64 = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => return Err(bad()),
    };
    if n <= 0 {
        return Err(bad());
    }
    n.checked_mul(unit_ms).ok_or_else(bad)
}

fn parse_correlation(meta: Arc<RuleMeta>, v: &Value, top: &Mapping) -> Result<CorrelationRule, RuleError> {
    let map = v.as_mapping().ok_or(RuleError::Type { field: "correlation".into(), expected: "a mapping" })?;
    let kind_text = opt_string(map, "type")?.ok_or(RuleError::Missing("correlation.type"))?;
    let kind = CorrelationType::parse(&kind_text)
        .ok_or_else(|| RuleError::Correlation(format!("unknown correlation type `{kind_text}`")))?;
    let rules = string_list(map, "rules")?;
    if rules.is_empty() {
        return Err(RuleError::Missing("correlation.rules"));
    }
    let group_by = string_list(map, "group-by")?;
    let timespan_text = opt_string(map, "timespan")?
        .or(opt_string(map, "timeframe")?)
        .ok_or(RuleError::Missing("correlation.timespan"))?;
    let timespan_ms = parse_timespan(&timespan_text)?;
    let condition = match map.get("condition") {
        None | Some(Value::Null) => None,
        Some(Value::Mapping(c)) => {
            let mut condition = CorrelationCondition::default();
            for (k, v) in c {
                let k = k.as_str().unwrap_or_default();
                if k == "field" {
                    condition.fields = match v {
                        Value::Sequence(items) => items.iter().filter_map(scalar_string).collect(),
                        other => scalar_string(other).into_iter().collect(),
                    };
                    continue;
                }
                let op = CmpOp::parse(k)
                    .ok_or_else(|| RuleError::Correlation(format!("unknown condition operator `{k}`")))?;
                let limit =
                    v.as_f64().ok_or_else(|| RuleError::Correlation(format!("condition `{k}` needs a number")))?;
                condition.comparisons.push((op, limit));
            }
            Some(condition)
        }
        Some(_) => return Err(RuleError::Type { field: "correlation.condition".into(), expected: "a mapping" }),
    };
    match (&condition, kind) {
        (None, CorrelationType::Temporal | CorrelationType::TemporalOrdered) => {}
        (None, _) => return Err(RuleError::Missing("correlation.condition")),
        (Some(c), _) if c.comparisons.is_empty() => {
            return Err(RuleError::Correlation("condition has no comparison (gt, gte, lt, lte, eq, neq)".into()))
        }
        (Some(c), k) if k.needs_field() && c.fields.is_empty() => {
            return Err(RuleError::Correlation(format!("{kind_text} needs `condition.field`")))
        }
        _ => {}
    }
    let mut aliases = IndexMap::new();
    if let Some(Value::Mapping(a)) = map.get("aliases") {
        for (alias, per_rule) in a {
            let alias = scalar_string(alias).unwrap_or_default();
            let per_rule = per_rule
                .as_mapping()
                .ok_or(RuleError::Type { field: format!("aliases.{alias}"), expected: "a mapping rule → field" })?;
            let mut fields = IndexMap::new();
            for (rule, field) in per_rule {
                let (Some(rule), Some(field)) = (scalar_string(rule), scalar_string(field)) else {
                    return Err(RuleError::Type { field: format!("aliases.{alias}"), expected: "rule: field strings" });
                };
                fields.insert(rule, field);
            }
            aliases.insert(alias, fields);
        }
    }
    let generate = map.get("generate").or_else(|| top.get("generate")).and_then(Value::as_bool).unwrap_or(false);
    Ok(CorrelationRule { meta, kind, rules, group_by, timespan_ms, condition, aliases, generate })
}

fn parse_filter(meta: Arc<RuleMeta>, logsource: LogSource, v: &Value) -> Result<FilterRule, RuleError> {
    let map = v.as_mapping().ok_or(RuleError::Type { field: "filter".into(), expected: "a mapping" })?;
    let targets = match map.get("rules") {
        Some(Value::String(s)) if s.eq_ignore_ascii_case("any") => FilterTargets::Any,
        Some(_) => FilterTargets::Rules(string_list(map, "rules")?),
        None => return Err(RuleError::Missing("filter.rules")),
    };
    let mut body = map.clone();
    body.remove("rules");
    let detection = parse_detection(&Value::Mapping(body))?;
    Ok(FilterRule { meta, logsource, targets, detection })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> SigmaDocument {
        let mut docs = parse_documents(text, None);
        assert_eq!(docs.len(), 1, "{docs:?}");
        docs.pop().unwrap().1.unwrap()
    }

    #[test]
    fn parses_a_rule_with_maps_lists_and_keywords() {
        let doc = one(
            "title: t\nid: x\nlogsource: {product: Windows, category: process_creation}\n\
             detection:\n  sel:\n    Image|endswith: ['\\a.exe', '\\b.exe']\n    EventID: 1\n  alt:\n    - A: 1\n    - B: null\n  kw:\n    - evil\n  allkw:\n    '|all': [x, y]\n  condition: sel or alt or kw or allkw\nlevel: High\ntags: [attack.t1059]\n",
        );
        let SigmaDocument::Rule(rule) = doc else { panic!() };
        assert_eq!(rule.logsource.product.as_deref(), Some("windows"));
        assert_eq!(rule.meta.level.as_deref(), Some("high"));
        let Search::Maps(maps) = &rule.detection.searches["sel"] else { panic!() };
        assert_eq!(maps[0][0].modifiers, vec![Modifier::EndsWith]);
        assert_eq!(maps[0][0].values.len(), 2);
        assert_eq!(maps[0][1].values, vec![RuleValue::Int(1)]);
        let Search::Maps(alt) = &rule.detection.searches["alt"] else { panic!() };
        assert_eq!(alt.len(), 2);
        assert_eq!(alt[1][0].values, vec![RuleValue::Null]);
        assert!(matches!(rule.detection.searches["kw"], Search::Keywords(_)));
        let Search::Maps(allkw) = &rule.detection.searches["allkw"] else { panic!() };
        assert_eq!(allkw[0][0].field, None);
        assert_eq!(allkw[0][0].modifiers, vec![Modifier::All]);
    }

    #[test]
    fn rejects_with_reasons() {
        let cases = [
            ("title: t\nlogsource: {}\ndetection: {sel: {a|nosuch: 1}, condition: sel}", "unknown-modifier"),
            ("title: t\nlogsource: {}\ndetection: {sel: {a: 1}}", "structure"),
            ("logsource: {}\ndetection: {sel: {a: 1}, condition: sel}", "structure"),
            (
                "title: t\nlogsource: {}\ndetection: {sel: {a: 1}, condition: 'sel | count() > 5'}",
                "deprecated-aggregation",
            ),
            ("title: t\nlogsource: {}\ndetection: {sel: {a: []}, condition: sel}", "value"),
            ("title: t\nlogsource: {}\ndetection: {sel: [{a: 1}, x], condition: sel}", "structure"),
            ("title: [unclosed", "yaml"),
        ];
        for (text, kind) in cases {
            let docs = parse_documents(text, None);
            let err = docs[0].1.as_ref().unwrap_err();
            assert_eq!(err.kind(), kind, "{text}: {err}");
        }
    }

    #[test]
    fn legacy_global_action_merges_into_each_document() {
        let docs = parse_documents(
            "action: global\ntitle: t\nlogsource: {product: windows}\ndetection: {condition: sel}\n---\ndetection: {sel: {a: 1}}\nlogsource: {service: security}\n---\ndetection: {sel: {b: 2}}\n",
            None,
        );
        assert_eq!(docs.len(), 2);
        for (_, d) in &docs {
            let SigmaDocument::Rule(r) = d.as_ref().unwrap() else { panic!() };
            assert_eq!(r.logsource.product.as_deref(), Some("windows"));
        }
    }

    #[test]
    fn correlation_documents() {
        let docs = parse_documents(
            "title: c\ncorrelation:\n  type: value_count\n  rules: [r1]\n  group-by: [Host]\n  timespan: 5m\n  condition: {gt: 3, field: User}\n---\ntitle: bad\ncorrelation: {type: event_count, rules: r1, timespan: 5x, condition: {gt: 1}}\n---\ntitle: nofield\ncorrelation: {type: value_sum, rules: r1, timespan: 1h, condition: {gt: 1}}\n",
            None,
        );
        let SigmaDocument::Correlation(c) = docs[0].1.as_ref().unwrap() else { panic!() };
        assert_eq!(c.timespan_ms, 300_000);
        assert_eq!(c.condition.as_ref().unwrap().fields, vec!["User".to_string()]);
        assert_eq!(docs[1].1.as_ref().unwrap_err().kind(), "correlation");
        assert_eq!(docs[2].1.as_ref().unwrap_err().kind(), "correlation");
    }

    #[test]
    fn filter_documents() {
        let SigmaDocument::Filter(f) = one(
            "title: f\nlogsource: {product: windows}\nfilter:\n  rules: [abc]\n  selection: {User|startswith: adm_}\n  condition: not selection\n",
        ) else {
            panic!()
        };
        assert_eq!(f.targets, FilterTargets::Rules(vec!["abc".into()]));
        assert!(f.detection.searches.contains_key("selection"));
    }
}
