//! STIX 2.1 for Vigil: stored events become observables grouped in observed-data,
//! alerts become sightings of an indicator (the Sigma rule, `pattern_type: sigma`) that
//! indicates ATT&CK attack patterns. Ids are deterministic: the same observable gets the
//! same id in every run.
//!
//! CONTRACT (written before the implementation; other crates code against these
//! signatures: `vigil-server`'s TAXII and fetch-stix endpoints, `vigil stix`).

mod attack;
mod bundle;
pub mod ids;
mod import;
mod indicators;
mod observables;
mod rules;

use std::collections::HashMap;
use std::path::Path;

use serde_json::{json, Value};
use vigil_store::{AlertRow, EventRow};

pub use attack::{technique, Technique};

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
    pub fn from_rule_paths(paths: &[&Path]) -> Result<RuleCatalog, StixError> {
        let mut catalog = RuleCatalog::default();
        for path in paths {
            rules::load_path(path, &mut catalog)?;
        }
        Ok(catalog)
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
    json!({
        "type": "identity",
        "spec_version": "2.1",
        "id": producer_identity_id(),
        "created": FIXED_TIME,
        "modified": FIXED_TIME,
        "name": "Vigil",
        "description": "Vigil security-event pipeline: observables, Sigma rule indicators and their sightings",
        "identity_class": "system",
    })
}

/// The id of [`producer_identity`].
pub fn producer_identity_id() -> String {
    ids::sdo_id("identity", "vigil-producer")
}

/// `created` / `modified` of objects that do not change with the data (the producer,
/// indicators, relationships): a fixed time keeps their ids and versions stable.
pub const FIXED_TIME: &str = "2024-01-01T00:00:00.000Z";

/// The deterministic id of the observed-data object for a stored event.
pub fn observed_data_id(event_id: &str) -> String {
    ids::sdo_id("observed-data", event_id)
}

/// The deterministic id of the indicator for a rule.
pub fn indicator_id(rule_id: &str) -> String {
    ids::sdo_id("indicator", rule_id)
}

/// One event: its observables (SCOs) and the observed-data object referring to them
/// (id [`observed_data_id`]). SDOs carry `created_by_ref` to [`producer_identity`].
pub fn event_objects(event: &EventRow) -> Vec<Value> {
    observables::event_objects(event)
}

/// The indicator of a rule (id [`indicator_id`]) and its attack patterns, with
/// `indicates` relationships. Works for rules missing from the catalog too (the pattern
/// then carries what the alert knows).
pub fn rule_objects(rule_id: &str, alert: Option<&AlertRow>, catalog: &RuleCatalog) -> Vec<Value> {
    indicators::rule_objects(rule_id, alert, catalog)
}

/// One alert: the sighting of its rule's indicator (with `observed_data_refs` to the
/// linked events' [`observed_data_id`]s), plus [`rule_objects`].
pub fn alert_objects(alert: &AlertRow, catalog: &RuleCatalog) -> Vec<Value> {
    indicators::alert_objects(alert, catalog)
}

/// Everything for these events and alerts — observables, indicators, sightings, attack
/// patterns, relationships, the producer identity, groupings of related alerts — with
/// duplicates removed, split into bundles within `limits`.
pub fn bundles(events: &[EventRow], alerts: &[AlertRow], catalog: &RuleCatalog, limits: BundleLimits) -> Vec<Value> {
    bundle::bundles(events, alerts, catalog, limits)
}

/// Parses and checks a STIX 2.1 bundle (or a single object) for import. Either every
/// object is valid and all are returned, or the error says which one is wrong and why.
pub fn parse_for_import(text: &str) -> Result<Vec<Value>, StixError> {
    import::parse_for_import(text)
}
