//! Alerts → sightings of an indicator (the Sigma rule) that indicates ATT&CK attack
//! patterns.

use serde_json::{json, Value};
use vigil_store::AlertRow;

use crate::attack::{attack_pattern, tactic_tag, technique_tag};
use crate::ids::{sdo_id, timestamp};
use crate::{indicator_id, observed_data_id, producer_identity_id, RuleCatalog, RuleInfo, FIXED_TIME};

/// Most sightings a STIX `count` may hold (the spec's bound).
const MAX_SIGHTING_COUNT: u64 = 999_999_999;

/// A minimal Sigma document for a rule the catalog does not know: what the alert says.
fn fallback_rule(rule_id: &str, alert: Option<&AlertRow>) -> RuleInfo {
    let title = alert.map(|a| a.rule_title.clone()).filter(|t| !t.is_empty()).unwrap_or_else(|| rule_id.to_owned());
    let level = alert.map(|a| a.level.clone()).filter(|l| !l.is_empty());
    let tags = alert.map(|a| a.tags.clone()).unwrap_or_default();
    let mut doc = serde_yaml::Mapping::new();
    doc.insert("title".into(), title.clone().into());
    if uuid::Uuid::parse_str(rule_id).is_ok() {
        doc.insert("id".into(), rule_id.into());
    }
    doc.insert("status".into(), "unsupported".into());
    doc.insert(
        "description".into(),
        "Rule text unavailable to the STIX exporter; reconstructed from the alert it raised.".into(),
    );
    if !tags.is_empty() {
        doc.insert("tags".into(), serde_yaml::Value::Sequence(tags.iter().map(|t| t.clone().into()).collect()));
    }
    doc.insert("logsource".into(), serde_yaml::Value::Mapping(serde_yaml::Mapping::new()));
    let mut detection = serde_yaml::Mapping::new();
    let mut selection = serde_yaml::Mapping::new();
    selection.insert("rule_id".into(), rule_id.into());
    detection.insert("selection".into(), serde_yaml::Value::Mapping(selection));
    detection.insert("condition".into(), "selection".into());
    doc.insert("detection".into(), serde_yaml::Value::Mapping(detection));
    if let Some(level) = &level {
        doc.insert("level".into(), level.clone().into());
    }
    RuleInfo {
        id: rule_id.to_owned(),
        title,
        description: None,
        level,
        tags,
        references: Vec::new(),
        yaml: serde_yaml::to_string(&serde_yaml::Value::Mapping(doc)).ok(),
    }
}

fn is_url(s: &str) -> bool {
    (s.starts_with("https://") || s.starts_with("http://")) && !s.contains(char::is_whitespace) && s.len() <= 2048
}

/// The indicator of a rule, its attack patterns and `indicates` relationships.
pub(crate) fn rule_objects(rule_id: &str, alert: Option<&AlertRow>, catalog: &RuleCatalog) -> Vec<Value> {
    let fallback;
    let rule = match catalog.get(rule_id) {
        Some(rule) => rule,
        None => {
            fallback = fallback_rule(rule_id, alert);
            &fallback
        }
    };
    let indicator = indicator_id(rule_id);
    let mut tags: Vec<&str> = rule.tags.iter().map(String::as_str).collect();
    if let Some(a) = alert {
        tags.extend(a.tags.iter().map(String::as_str));
    }
    let mut techniques: Vec<String> = tags.iter().filter_map(|t| technique_tag(t)).collect();
    techniques.sort();
    techniques.dedup();
    let mut tactics: Vec<&str> = tags.iter().filter_map(|t| tactic_tag(t)).collect();
    tactics.sort();
    tactics.dedup();

    let mut references = vec![json!({"source_name": "sigma", "external_id": rule.id, "description": "Sigma rule id"})];
    references.extend(
        rule.references
            .iter()
            .filter(|r| is_url(r))
            .take(32)
            // As text: strict validation wants a hash beside every external `url`, and
            // the content behind a rule's reference links is not Vigil's to hash.
            .map(|r| json!({"source_name": "rule-reference", "description": r})),
    );
    let pattern = rule
        .yaml
        .clone()
        .unwrap_or_else(|| fallback_rule(rule_id, alert).yaml.unwrap_or_else(|| format!("title: {}\n", rule.title)));
    let mut object = json!({
        "type": "indicator",
        "spec_version": "2.1",
        "id": indicator,
        "created_by_ref": producer_identity_id(),
        "created": FIXED_TIME,
        "modified": FIXED_TIME,
        "name": rule.title,
        "indicator_types": ["malicious-activity"],
        "pattern": pattern,
        "pattern_type": "sigma",
        "valid_from": FIXED_TIME,
        "external_references": references,
    });
    // Strict validation wants a description on every indicator ({303}); rules without one
    // (and alerts of rules no longer loaded) get one naming the rule.
    object["description"] = match rule.description.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        Some(description) => json!(description),
        None => json!(format!("Sigma rule \"{}\" ({})", rule.title, rule.id)),
    };
    if !tactics.is_empty() {
        object["kill_chain_phases"] =
            tactics.iter().map(|p| json!({"kill_chain_name": "mitre-attack", "phase_name": p})).collect();
    }
    if let Some(level) = rule.level.as_deref().filter(|l| !l.is_empty()) {
        object["labels"] = json!([format!("sigma-level-{}", level.to_ascii_lowercase())]);
    }
    let mut objects = vec![object];
    for technique in &techniques {
        let pattern = attack_pattern(technique);
        let pattern_id = pattern["id"].as_str().unwrap_or_default().to_owned();
        objects.push(pattern);
        objects.push(json!({
            "type": "relationship",
            "spec_version": "2.1",
            "id": sdo_id("relationship", &format!("indicates|{indicator}|{pattern_id}")),
            "created_by_ref": producer_identity_id(),
            "created": FIXED_TIME,
            "modified": FIXED_TIME,
            "relationship_type": "indicates",
            "source_ref": indicator,
            "target_ref": pattern_id,
        }));
    }
    objects
}

/// The identity of the host an alert was sighted on (a system), when it has one.
pub(crate) fn host_identity(host: &str) -> Value {
    json!({
        "type": "identity",
        "spec_version": "2.1",
        "id": sdo_id("identity", &format!("host|{host}")),
        "created_by_ref": producer_identity_id(),
        "created": FIXED_TIME,
        "modified": FIXED_TIME,
        "name": host,
        "identity_class": "system",
    })
}

pub(crate) fn sighting_id(alert_id: &str) -> String {
    sdo_id("sighting", alert_id)
}

/// The sighting of one alert, the host identity it refers to, and the rule's objects.
pub(crate) fn alert_objects(alert: &AlertRow, catalog: &RuleCatalog) -> Vec<Value> {
    let mut objects = Vec::new();
    let where_sighted = match alert.host.as_deref().map(str::trim).filter(|h| !h.is_empty()) {
        Some(host) => {
            let identity = host_identity(host);
            let id = identity["id"].clone();
            objects.push(identity);
            id
        }
        None => json!(producer_identity_id()),
    };
    let first = alert.first_seen_ms.max(0);
    let last = alert.last_seen_ms.max(first);
    let mut sighting = json!({
        "type": "sighting",
        "spec_version": "2.1",
        "id": sighting_id(&alert.alert_id),
        "created_by_ref": producer_identity_id(),
        "created": timestamp(first),
        "modified": timestamp(last),
        "description": alert.rule_title,
        "first_seen": timestamp(first),
        "last_seen": timestamp(last),
        "count": alert.count.clamp(1, MAX_SIGHTING_COUNT),
        "sighting_of_ref": indicator_id(&alert.rule_id),
        "where_sighted_refs": [where_sighted],
    });
    let observed: Vec<Value> = alert.event_ids.iter().map(|e| json!(observed_data_id(e))).collect();
    if !observed.is_empty() {
        sighting["observed_data_refs"] = Value::Array(observed);
    }
    objects.push(sighting);
    objects.extend(rule_objects(&alert.rule_id, Some(alert), catalog));
    objects
}
