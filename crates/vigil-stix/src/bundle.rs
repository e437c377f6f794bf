//! Everything for a set of events and alerts, split into bundles within limits.
//!
//! Objects travel in units that belong together (an alert's sighting with its linked
//! events' observables and its rule's indicator; one event's observables; a grouping
//! with its sightings) so a bundle mostly carries what its references point to. Every
//! bundle starts with the producer identity.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{json, Value};
use vigil_store::{AlertRow, EventRow};

use crate::ids::{sdo_id, timestamp};
use crate::indicators::sighting_id;
use crate::{
    alert_objects, event_objects, indicator_id, producer_identity, producer_identity_id, BundleLimits, RuleCatalog,
};

/// Bytes a bundle's envelope adds to its objects (`{"type":"bundle","id":…,"objects":[]}`).
const ENVELOPE_BYTES: usize = 96;

struct Packer {
    limits: BundleLimits,
    bundles: Vec<Value>,
    objects: Vec<Value>,
    ids: HashSet<String>,
    bytes: usize,
}

impl Packer {
    fn new(limits: BundleLimits) -> Self {
        let mut packer = Packer {
            limits: BundleLimits { max_objects: limits.max_objects.max(2), max_bytes: limits.max_bytes },
            bundles: Vec::new(),
            objects: Vec::new(),
            ids: HashSet::new(),
            bytes: 0,
        };
        packer.start();
        packer
    }

    fn start(&mut self) {
        self.objects.clear();
        self.ids.clear();
        self.bytes = ENVELOPE_BYTES;
        self.push_unchecked(producer_identity());
    }

    fn push_unchecked(&mut self, object: Value) {
        let id = object["id"].as_str().unwrap_or_default().to_owned();
        self.bytes += size(&object) + 1;
        self.ids.insert(id);
        self.objects.push(object);
    }

    /// Only the producer identity so far.
    fn is_fresh(&self) -> bool {
        self.objects.len() <= 1
    }

    fn fits(&self, count: usize, bytes: usize) -> bool {
        self.objects.len() + count <= self.limits.max_objects && self.bytes + bytes <= self.limits.max_bytes
    }

    fn close(&mut self) {
        if self.is_fresh() {
            return;
        }
        let objects = std::mem::take(&mut self.objects);
        let key: Vec<&str> = objects.iter().filter_map(|o| o["id"].as_str()).collect();
        self.bundles.push(json!({
            "type": "bundle",
            "id": sdo_id("bundle", &key.join(",")),
            "objects": objects,
        }));
        self.start();
    }

    /// Adds a unit, in the current bundle when it fits, else in a new one; a unit larger
    /// than a whole bundle is spread over several.
    fn add_unit(&mut self, unit: Vec<Value>) {
        let new: Vec<(Value, usize)> = self.missing(unit);
        let (count, bytes) = (new.len(), new.iter().map(|(_, b)| b + 1).sum());
        if !self.fits(count, bytes) && !self.is_fresh() {
            let unit: Vec<Value> = new.into_iter().map(|(o, _)| o).collect();
            self.close();
            return self.add_each(unit);
        }
        self.add_each(new.into_iter().map(|(o, _)| o).collect());
    }

    fn missing(&self, unit: Vec<Value>) -> Vec<(Value, usize)> {
        let mut seen = HashSet::new();
        unit.into_iter()
            .filter(|o| {
                let id = o["id"].as_str().unwrap_or_default();
                !self.ids.contains(id) && seen.insert(id.to_owned())
            })
            .map(|o| {
                let bytes = size(&o);
                (o, bytes)
            })
            .collect()
    }

    fn add_each(&mut self, unit: Vec<Value>) {
        for object in unit {
            let id = object["id"].as_str().unwrap_or_default();
            if self.ids.contains(id) {
                continue;
            }
            let bytes = size(&object) + 1;
            if !self.fits(1, bytes) && !self.is_fresh() {
                self.close();
            }
            // An object larger than a whole bundle still goes out, alone with the identity.
            self.push_unchecked(object);
        }
    }

    fn finish(mut self) -> Vec<Value> {
        self.close();
        self.bundles
    }
}

fn size(object: &Value) -> usize {
    serde_json::to_vec(object).map(|v| v.len()).unwrap_or(0)
}

/// Groupings of related alerts: the same host, the same source IP (two or more alerts).
fn groupings(alerts: &[&AlertRow]) -> Vec<(Value, Vec<String>)> {
    let mut by_key: BTreeMap<(&str, &str), Vec<&AlertRow>> = BTreeMap::new();
    for alert in alerts {
        if let Some(host) = alert.host.as_deref().filter(|h| !h.trim().is_empty()) {
            by_key.entry(("host", host)).or_default().push(alert);
        }
        if let Some(ip) = alert.src_ip.as_deref().filter(|h| !h.trim().is_empty()) {
            by_key.entry(("source IP", ip)).or_default().push(alert);
        }
    }
    let mut out = Vec::new();
    for ((kind, value), members) in by_key {
        if members.len() < 2 {
            continue;
        }
        let mut alert_ids: Vec<&str> = members.iter().map(|a| a.alert_id.as_str()).collect();
        alert_ids.sort();
        let mut refs: Vec<String> = Vec::new();
        let mut seen = HashSet::new();
        for alert in &members {
            for r in [sighting_id(&alert.alert_id), indicator_id(&alert.rule_id)] {
                if seen.insert(r.clone()) {
                    refs.push(r);
                }
            }
        }
        let first = members.iter().map(|a| a.first_seen_ms.max(0)).min().unwrap_or(0);
        let last = members.iter().map(|a| a.last_seen_ms.max(a.first_seen_ms).max(0)).max().unwrap_or(0).max(first);
        let sightings: Vec<String> = members.iter().map(|a| sighting_id(&a.alert_id)).collect();
        let grouping = json!({
            "type": "grouping",
            "spec_version": "2.1",
            "id": sdo_id("grouping", &format!("{kind}|{value}|{}", alert_ids.join(","))),
            "created_by_ref": producer_identity_id(),
            "created": timestamp(first),
            "modified": timestamp(last),
            "name": format!("{} alerts on {kind} {value}", members.len()),
            "context": "suspicious-activity",
            "object_refs": refs,
        });
        out.push((grouping, sightings));
    }
    out
}

pub(crate) fn bundles(
    events: &[EventRow],
    alerts: &[AlertRow],
    catalog: &RuleCatalog,
    limits: BundleLimits,
) -> Vec<Value> {
    let mut packer = Packer::new(limits);
    let event_index: HashMap<&str, &EventRow> = events.iter().map(|e| (e.event_id.as_str(), e)).collect();
    let mut done_events: HashSet<&str> = HashSet::new();
    let mut sorted_alerts: Vec<&AlertRow> = alerts.iter().collect();
    sorted_alerts.sort_by(|a, b| (a.first_seen_ms, &a.alert_id).cmp(&(b.first_seen_ms, &b.alert_id)));
    let mut sightings: HashMap<String, Value> = HashMap::new();
    for alert in &sorted_alerts {
        let mut unit = Vec::new();
        for event_id in &alert.event_ids {
            if let Some(event) = event_index.get(event_id.as_str()) {
                done_events.insert(event.event_id.as_str());
                unit.extend(event_objects(event));
            }
        }
        let objects = alert_objects(alert, catalog);
        if let Some(s) = objects.iter().find(|o| o["type"] == "sighting") {
            sightings.insert(s["id"].as_str().unwrap_or_default().to_owned(), s.clone());
        }
        unit.extend(objects);
        packer.add_unit(unit);
    }
    for event in events {
        if !done_events.contains(event.event_id.as_str()) {
            packer.add_unit(event_objects(event));
        }
    }
    for (grouping, members) in groupings(&sorted_alerts) {
        let mut unit: Vec<Value> = members.iter().filter_map(|id| sightings.get(id).cloned()).collect();
        unit.push(grouping);
        packer.add_unit(unit);
    }
    packer.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_store::AlertStatus;

    fn event(id: &str, source: &str, ocsf: Value) -> EventRow {
        EventRow {
            event_id: id.into(),
            time_ms: 1_700_000_000_000,
            received_ms: 1_700_000_000_500,
            source: source.into(),
            origin: "test".into(),
            class_uid: ocsf["class_uid"].as_i64().map(|v| v as i32),
            host: Some("node-1".into()),
            src_ip: None,
            user: None,
            ocsf,
            raw: "{}".into(),
        }
    }

    fn tetragon_exec(id: &str, exec_id: &str) -> EventRow {
        event(
            id,
            "tetragon",
            json!({"class_uid": 1007, "process": {"pid": 7, "uid": exec_id, "cmd_line": "/bin/sh -c id",
                "file": {"path": "/bin/sh", "name": "sh"}, "user": {"uid": "0"},
                "parent_process": {"pid": 1, "uid": "parent", "file": {"path": "/usr/bin/bash", "name": "bash"}}}}),
        )
    }

    fn alert(id: &str, events: &[&str]) -> AlertRow {
        AlertRow {
            alert_id: id.into(),
            rule_id: "rule-1".into(),
            rule_title: "Shell".into(),
            level: "high".into(),
            tags: vec!["attack.execution".into(), "attack.t1059.004".into()],
            group_key: String::new(),
            status: AlertStatus::Open,
            first_seen_ms: 1_700_000_000_000,
            last_seen_ms: 1_700_000_060_000,
            count: 2,
            host: Some("node-1".into()),
            src_ip: None,
            user: None,
            event_ids: events.iter().map(|s| s.to_string()).collect(),
            details: json!({}),
        }
    }

    fn of_type<'a>(objects: &'a [Value], t: &str) -> Vec<&'a Value> {
        objects.iter().filter(|o| o["type"] == t).collect()
    }

    #[test]
    fn tetragon_exec_maps_to_process_tree() {
        let objects = event_objects(&tetragon_exec("e1", "exec-1"));
        let processes = of_type(&objects, "process");
        assert_eq!(processes.len(), 2);
        let child = processes.iter().find(|p| p["pid"] == 7).unwrap();
        let parent = processes.iter().find(|p| p["pid"] == 1).unwrap();
        assert_eq!(child["parent_ref"], parent["id"]);
        assert_eq!(child["command_line"], "/bin/sh -c id");
        let user = of_type(&objects, "user-account")[0];
        assert_eq!(child["creator_user_ref"], user["id"]);
        assert_eq!(user["is_privileged"], true);
        let observed = objects.last().unwrap();
        assert_eq!(observed["id"], crate::observed_data_id("e1"));
        assert_eq!(observed["object_refs"].as_array().unwrap().len(), objects.len() - 1);
        // The same exec id is the same process in another event.
        let again = event_objects(&tetragon_exec("e2", "exec-1"));
        assert_eq!(of_type(&again, "process")[0]["id"], of_type(&objects, "process")[0]["id"]);
    }

    #[test]
    fn cowrie_connection_maps_to_network_traffic() {
        let e = event(
            "c1",
            "cowrie",
            json!({"class_uid": 4001, "connection_info": {"protocol_name": "tcp"},
                "src_endpoint": {"ip": "195.158.71.41", "port": 29642}, "dst_endpoint": {"ip": "172.31.31.222", "port": 2222}}),
        );
        let objects = event_objects(&e);
        let traffic = of_type(&objects, "network-traffic")[0];
        assert_eq!(traffic["src_port"], 29642);
        assert_eq!(traffic["protocols"], json!(["ipv4", "tcp"]));
        assert_eq!(of_type(&objects, "ipv4-addr").len(), 2);
    }

    #[test]
    fn events_without_observables_keep_their_record() {
        let e = event("k1", "kubescape-scan", json!({"class_uid": 2003, "compliance": {"control": "C-0055"}}));
        let objects = event_objects(&e);
        assert_eq!(of_type(&objects, "artifact").len(), 1);
    }

    #[test]
    fn alerts_become_sightings_of_indicators_with_attack_patterns() {
        let events = [tetragon_exec("e1", "x1"), tetragon_exec("e2", "x2")];
        let alerts = [alert("a1", &["e1"]), alert("a2", &["e2"])];
        let bundles = bundles(&events, &alerts, &RuleCatalog::default(), BundleLimits::default());
        assert_eq!(bundles.len(), 1);
        let objects = bundles[0]["objects"].as_array().unwrap();
        let sighting = of_type(objects, "sighting")[0];
        assert_eq!(sighting["sighting_of_ref"], indicator_id("rule-1"));
        assert_eq!(sighting["observed_data_refs"][0], crate::observed_data_id("e1"));
        assert_eq!(sighting["count"], 2);
        let indicator = of_type(objects, "indicator")[0];
        assert_eq!(indicator["pattern_type"], "sigma");
        assert!(indicator["pattern"].as_str().unwrap().contains("title: Shell"));
        let pattern = of_type(objects, "attack-pattern")[0];
        assert_eq!(pattern["id"], crate::technique("T1059.004").unwrap().stix_id);
        let relationship = of_type(objects, "relationship")[0];
        assert_eq!(relationship["source_ref"], indicator["id"]);
        assert_eq!(relationship["target_ref"], pattern["id"]);
        let grouping = of_type(objects, "grouping")[0];
        assert_eq!(grouping["context"], "suspicious-activity");
        assert!(grouping["object_refs"].as_array().unwrap().contains(&sighting["id"]));
    }

    #[test]
    fn splitting_respects_limits_and_keeps_the_identity() {
        let events: Vec<EventRow> = (0..40).map(|i| tetragon_exec(&format!("e{i}"), &format!("x{i}"))).collect();
        let limits = BundleLimits { max_objects: 12, max_bytes: 6_000 };
        let bundles = bundles(&events, &[], &RuleCatalog::default(), limits);
        assert!(bundles.len() > 3);
        let mut observed = HashSet::new();
        for bundle in &bundles {
            let objects = bundle["objects"].as_array().unwrap();
            assert!(objects.len() <= limits.max_objects);
            assert!(serde_json::to_vec(bundle).unwrap().len() <= limits.max_bytes);
            assert_eq!(objects[0]["id"], producer_identity_id());
            let ids: HashSet<&str> = objects.iter().map(|o| o["id"].as_str().unwrap()).collect();
            assert_eq!(ids.len(), objects.len());
            for o in objects.iter().filter(|o| o["type"] == "observed-data") {
                observed.insert(o["id"].as_str().unwrap().to_owned());
                // The observables an observed-data refers to travel with it.
                for r in o["object_refs"].as_array().unwrap() {
                    assert!(ids.contains(r.as_str().unwrap()));
                }
            }
        }
        assert_eq!(observed.len(), 40);
    }
}
