//! STIX 2.1 for Vigil: stored events become observables grouped in observed-data,
//! alerts become sightings of an indicator (the Sigma rule, `pattern_type: sigma`) that
//! indicates ATT&CK attack patterns. Ids are deterministic: the same observable gets the
//! same id in every run.
//!
//! CONTRACT (written before the implementation; other crates code against these
//! signatures: `vigil-server`'s TAXII and fetch-stix endpoints, `vigil stix`).

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;
use vigil_store::{AlertRow, EventRow};

/// Why something could not be built or imported.
#[derive(Debug, thiserror::Error)]
pub enum StixError {
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// An imported document is not valid STIX 2.1; nothing of it was kept.
    #[error("invalid STIX: {0}")]
    Invalid(String),
}

/// What a STIX indicator needs to know about a Sigma rule.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RuleInfo {
    /// The rule's `id` (or its title when it has none) — what alerts carry as `rule_id`.
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    pub level: Option<String>,
    pub tags: Vec<String>,
    pub references: Vec<String>,
    /// The rule document as YAML: the indicator's `pattern`.
    pub yaml: Option<String>,
}

/// Rules by id, for turning alerts into indicators.
#[derive(Debug, Clone, Default)]
pub struct RuleCatalog {
    rules: HashMap<String, RuleInfo>,
}

impl RuleCatalog {
    pub fn insert(&mut self, rule: RuleInfo) {
        self.rules.insert(rule.id.clone(), rule);
    }

    pub fn get(&self, rule_id: &str) -> Option<&RuleInfo> {
        self.rules.get(rule_id)
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Every Sigma document (rules and correlations) under the given files / directories.
    pub fn from_rule_paths(_paths: &[&Path]) -> Result<RuleCatalog, StixError> {
        todo!("vigil-stix: from_rule_paths")
    }
}

/// Bounds on one bundle; larger results are split.
#[derive(Debug, Clone, Copy)]
pub struct BundleLimits {
    pub max_objects: usize,
    pub max_bytes: usize,
}

impl Default for BundleLimits {
    fn default() -> Self {
        BundleLimits { max_objects: 5_000, max_bytes: 8 * 1024 * 1024 }
    }
}

/// The identity object of the producer (Vigil), referenced by `created_by_ref`.
pub fn producer_identity() -> Value {
    todo!("vigil-stix: producer_identity")
}

/// The deterministic id of the observed-data object for a stored event.
pub fn observed_data_id(_event_id: &str) -> String {
    todo!("vigil-stix: observed_data_id")
}

/// The deterministic id of the indicator for a rule.
pub fn indicator_id(_rule_id: &str) -> String {
    todo!("vigil-stix: indicator_id")
}

/// One event: its observables (SCOs) and the observed-data object referring to them
/// (id [`observed_data_id`]). SDOs carry `created_by_ref` to [`producer_identity`].
pub fn event_objects(_event: &EventRow) -> Vec<Value> {
    todo!("vigil-stix: event_objects")
}

/// The indicator of a rule (id [`indicator_id`]) and its attack patterns, with
/// `indicates` relationships. Works for rules missing from the catalog too (the pattern
/// then carries what the alert knows).
pub fn rule_objects(_rule_id: &str, _alert: Option<&AlertRow>, _catalog: &RuleCatalog) -> Vec<Value> {
    todo!("vigil-stix: rule_objects")
}

/// One alert: the sighting of its rule's indicator (with `observed_data_refs` to the
/// linked events' [`observed_data_id`]s), plus [`rule_objects`].
pub fn alert_objects(_alert: &AlertRow, _catalog: &RuleCatalog) -> Vec<Value> {
    todo!("vigil-stix: alert_objects")
}

/// Everything for these events and alerts — observables, indicators, sightings, attack
/// patterns, relationships, the producer identity, groupings of related alerts — with
/// duplicates removed, split into bundles within `limits`.
pub fn bundles(_events: &[EventRow], _alerts: &[AlertRow], _catalog: &RuleCatalog, _limits: BundleLimits) -> Vec<Value> {
    todo!("vigil-stix: bundles")
}

/// Parses and checks a STIX 2.1 bundle (or a single object) for import. Either every
/// object is valid and all are returned, or the error says which one is wrong and why.
pub fn parse_for_import(_text: &str) -> Result<Vec<Value>, StixError> {
    todo!("vigil-stix: parse_for_import")
}
