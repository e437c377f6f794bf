//! Validation of STIX 2.1 documents for import: every object must be well-formed, or
//! the whole document is refused with the first problem found.

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::ids::{is_type_name, is_well_formed_id};
use crate::StixError;

/// Largest document accepted (bytes).
pub const MAX_IMPORT_BYTES: usize = 64 * 1024 * 1024;
/// Most objects in one document.
pub const MAX_IMPORT_OBJECTS: usize = 100_000;
/// Deepest nesting checked for references.
const MAX_DEPTH: usize = 32;

const SDO_TYPES: &[&str] = &[
    "attack-pattern",
    "campaign",
    "course-of-action",
    "grouping",
    "identity",
    "incident",
    "indicator",
    "infrastructure",
    "intrusion-set",
    "location",
    "malware",
    "malware-analysis",
    "note",
    "observed-data",
    "opinion",
    "report",
    "threat-actor",
    "tool",
    "vulnerability",
];
const SRO_TYPES: &[&str] = &["relationship", "sighting"];
const META_TYPES: &[&str] = &["marking-definition", "language-content", "extension-definition"];
const SCO_TYPES: &[&str] = &[
    "artifact",
    "autonomous-system",
    "directory",
    "domain-name",
    "email-addr",
    "email-message",
    "file",
    "ipv4-addr",
    "ipv6-addr",
    "mac-addr",
    "mutex",
    "network-traffic",
    "process",
    "software",
    "url",
    "user-account",
    "windows-registry-key",
    "x509-certificate",
];
const PREDEFINED_EXTENSIONS: &[&str] = &[
    "archive-ext",
    "ntfs-ext",
    "pdf-ext",
    "raster-image-ext",
    "windows-pebinary-ext",
    "http-request-ext",
    "icmp-ext",
    "socket-ext",
    "tcp-ext",
    "windows-process-ext",
    "windows-service-ext",
    "unix-account-ext",
];
const TIMESTAMP_PROPERTIES: &[&str] = &[
    "created",
    "modified",
    "valid_from",
    "valid_until",
    "first_seen",
    "last_seen",
    "first_observed",
    "last_observed",
    "published",
    "start_time",
    "stop_time",
];

/// RFC 3339 in UTC with `Z`, as STIX requires (`2024-01-01T00:00:00Z`, fractions allowed).
pub(crate) fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let shape = b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[b.len() - 1] == b'Z'
        && (b.len() == 20 || (b[19] == b'.' && b.len() > 21 && digits(20..b.len() - 1)));
    shape && chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

fn invalid(index: usize, id: Option<&str>, problem: impl std::fmt::Display) -> StixError {
    match id {
        Some(id) => StixError::Invalid(format!("object {index} ({id}): {problem}")),
        None => StixError::Invalid(format!("object {index}: {problem}")),
    }
}

pub(crate) fn parse_for_import(text: &str) -> Result<Vec<Value>, StixError> {
    if text.len() > MAX_IMPORT_BYTES {
        return Err(StixError::Invalid(format!("document of {} bytes; at most {MAX_IMPORT_BYTES}", text.len())));
    }
    let document: Value = serde_json::from_str(text).map_err(|e| StixError::Invalid(format!("not JSON: {e}")))?;
    let objects = match document {
        Value::Object(map) if map.get("type").and_then(Value::as_str) == Some("bundle") => bundle_objects(map)?,
        Value::Object(map) => vec![Value::Object(map)],
        Value::Array(_) => {
            return Err(StixError::Invalid(
                "a JSON array, not a STIX bundle or object (bundles are objects with \"type\": \"bundle\")".into(),
            ))
        }
        _ => return Err(StixError::Invalid("not a STIX bundle or object".into())),
    };
    if objects.len() > MAX_IMPORT_OBJECTS {
        return Err(StixError::Invalid(format!("{} objects; at most {MAX_IMPORT_OBJECTS}", objects.len())));
    }
    let mut versions = HashSet::new();
    for (index, object) in objects.iter().enumerate() {
        check_object(index, object)?;
        let id = object["id"].as_str().unwrap_or_default();
        let version = object.get("modified").and_then(Value::as_str).unwrap_or("");
        if !versions.insert((id.to_owned(), version.to_owned())) {
            return Err(invalid(index, Some(id), "the same id and version appear twice"));
        }
    }
    Ok(objects)
}

fn bundle_objects(mut map: Map<String, Value>) -> Result<Vec<Value>, StixError> {
    let id = map.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
    if !is_well_formed_id(&id, Some("bundle")) {
        return Err(StixError::Invalid(format!("bundle id `{id}` is not bundle--<UUID>")));
    }
    if let Some(version) = map.get("spec_version") {
        if version != "2.1" {
            return Err(StixError::Invalid(format!("bundle {id} declares spec_version {version}: not STIX 2.1")));
        }
    }
    match map.remove("objects") {
        None => Ok(Vec::new()),
        Some(Value::Array(objects)) => Ok(objects),
        Some(_) => Err(StixError::Invalid(format!("bundle {id}: `objects` is not an array"))),
    }
}

fn check_object(index: usize, object: &Value) -> Result<(), StixError> {
    let Some(map) = object.as_object() else {
        return Err(invalid(index, None, "not a JSON object"));
    };
    let object_type = match map.get("type") {
        Some(Value::String(t)) if is_type_name(t) => t.as_str(),
        Some(Value::String(t)) => {
            return Err(invalid(index, None, format!("type `{t}` is not a valid STIX type name")))
        }
        _ => return Err(invalid(index, None, "no `type` string")),
    };
    let id = match map.get("id") {
        Some(Value::String(id)) => id.as_str(),
        _ => return Err(invalid(index, None, "no `id` string")),
    };
    if !is_well_formed_id(id, Some(object_type)) {
        return Err(invalid(index, Some(id), format!("id is not `{object_type}--<UUID>`")));
    }
    if object_type == "bundle" {
        return Err(invalid(index, Some(id), "a bundle inside a bundle"));
    }
    let err = |problem: String| invalid(index, Some(id), problem);
    for name in map.keys() {
        let legal = name.len() <= 250
            && (name.len() >= 3 || name == "id")
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !legal {
            return Err(err(format!("property name `{name}` is not a valid STIX property name")));
        }
    }
    let is_sco = SCO_TYPES.contains(&object_type);
    let is_domain = SDO_TYPES.contains(&object_type) || SRO_TYPES.contains(&object_type);
    let is_meta = META_TYPES.contains(&object_type);
    let custom = !(is_sco || is_domain || is_meta);
    match map.get("spec_version").map(|v| v.as_str()) {
        Some(Some("2.1")) => {}
        Some(other) => return Err(err(format!("spec_version is {other:?}, not \"2.1\""))),
        None if is_domain || is_meta || custom && map.contains_key("created") => {
            return Err(err("spec_version \"2.1\" is required on SDOs, SROs and meta objects".into()))
        }
        None => {}
    }
    if is_domain || is_meta || (custom && map.contains_key("created")) {
        let created = map.get("created").and_then(Value::as_str).ok_or_else(|| err("no `created` timestamp".into()))?;
        if object_type != "marking-definition" {
            let modified =
                map.get("modified").and_then(Value::as_str).ok_or_else(|| err("no `modified` timestamp".into()))?;
            if is_timestamp(created) && is_timestamp(modified) && timestamp_ms(modified) < timestamp_ms(created) {
                return Err(err(format!("modified {modified} is before created {created}")));
            }
        }
    } else if custom {
        return Err(err(format!("unknown object type `{object_type}` without created/modified")));
    }
    for name in TIMESTAMP_PROPERTIES {
        if let Some(v) = map.get(*name) {
            match v.as_str() {
                Some(s) if is_timestamp(s) => {}
                _ => return Err(err(format!("`{name}` is not an RFC 3339 UTC timestamp: {v}"))),
            }
        }
    }
    check_required(object_type, map).map_err(err)?;
    check_refs(map, 0).map_err(err)?;
    if let Some(extensions) = map.get("extensions") {
        let Some(extensions) = extensions.as_object() else {
            return Err(err("`extensions` is not an object".into()));
        };
        for (name, value) in extensions {
            if !(PREDEFINED_EXTENSIONS.contains(&name.as_str())
                || is_well_formed_id(name, Some("extension-definition")))
            {
                return Err(err(format!("extension `{name}` is neither predefined nor an extension-definition id")));
            }
            if !value.is_object() {
                return Err(err(format!("extension `{name}` is not an object")));
            }
        }
    }
    Ok(())
}

fn timestamp_ms(s: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(s).map(|t| t.timestamp_millis()).unwrap_or(0)
}

fn check_required(object_type: &str, map: &Map<String, Value>) -> Result<(), String> {
    let has = |k: &str| map.get(k).is_some_and(|v| !v.is_null());
    let need = |keys: &[&str]| -> Result<(), String> {
        match keys.iter().find(|k| !has(k)) {
            Some(k) => Err(format!("{object_type} requires `{k}`")),
            None => Ok(()),
        }
    };
    let nonempty_list = |k: &str| -> Result<(), String> {
        match map.get(k) {
            Some(Value::Array(a)) if !a.is_empty() => Ok(()),
            _ => Err(format!("{object_type} requires a non-empty `{k}` list")),
        }
    };
    match object_type {
        "attack-pattern" | "campaign" | "course-of-action" | "identity" | "infrastructure" | "intrusion-set"
        | "threat-actor" | "tool" | "vulnerability" => need(&["name"]),
        "grouping" => need(&["context"]).and(nonempty_list("object_refs")),
        "indicator" => need(&["pattern", "pattern_type", "valid_from"]),
        "malware" => need(&["is_family"]),
        "malware-analysis" => need(&["product"]),
        "note" => need(&["content"]).and(nonempty_list("object_refs")),
        "observed-data" => {
            need(&["first_observed", "last_observed", "number_observed"])?;
            if has("objects") {
                Ok(())
            } else {
                nonempty_list("object_refs")
            }
        }
        "opinion" => need(&["opinion"]).and(nonempty_list("object_refs")),
        "report" => need(&["name", "published"]).and(nonempty_list("object_refs")),
        "relationship" => need(&["relationship_type", "source_ref", "target_ref"]),
        "sighting" => need(&["sighting_of_ref"]),
        "ipv4-addr" | "ipv6-addr" | "domain-name" | "mac-addr" | "url" | "email-addr" => need(&["value"]),
        "directory" => need(&["path"]),
        "autonomous-system" => need(&["number"]),
        "mutex" | "software" => need(&["name"]),
        "email-message" => need(&["is_multipart"]),
        "file" => {
            if has("name") || has("hashes") {
                Ok(())
            } else {
                Err("file requires `name` or `hashes`".into())
            }
        }
        "network-traffic" => {
            nonempty_list("protocols")?;
            if has("src_ref") || has("dst_ref") {
                Ok(())
            } else {
                Err("network-traffic requires `src_ref` or `dst_ref`".into())
            }
        }
        _ => Ok(()),
    }
}

/// Every `*_ref` is an id and every `*_refs` a list of ids, at any depth.
fn check_refs(map: &Map<String, Value>, depth: usize) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err("nested too deeply".into());
    }
    for (name, value) in map {
        if name.ends_with("_ref") {
            match value.as_str() {
                Some(r) if is_well_formed_id(r, None) => {
                    if name == "created_by_ref" && !r.starts_with("identity--") {
                        return Err(format!("created_by_ref `{r}` is not an identity"));
                    }
                }
                _ => return Err(format!("`{name}` is not a well-formed id: {value}")),
            }
        } else if name.ends_with("_refs") {
            let Some(list) = value.as_array() else {
                return Err(format!("`{name}` is not a list of ids"));
            };
            if let Some(bad) = list.iter().find(|r| !r.as_str().is_some_and(|r| is_well_formed_id(r, None))) {
                return Err(format!("`{name}` holds `{bad}`, not a well-formed id"));
            }
        } else {
            match value {
                Value::Object(inner) => check_refs(inner, depth + 1)?,
                Value::Array(items) => {
                    for item in items {
                        if let Value::Object(inner) = item {
                            check_refs(inner, depth + 1)?;
                        }
                    }
                }
                _ => {}
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn indicator() -> Value {
        json!({"type": "indicator", "spec_version": "2.1", "id": "indicator--5fc208f6-cbf3-4a1b-b20a-96f5c2087fe4",
            "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
            "pattern": "title: x", "pattern_type": "sigma", "valid_from": "2024-01-01T00:00:00Z"})
    }

    fn rejected(object: Value) -> String {
        match parse_for_import(&object.to_string()) {
            Err(StixError::Invalid(reason)) => reason,
            other => panic!("accepted: {other:?}"),
        }
    }

    #[test]
    fn accepts_a_valid_object_and_bundle() {
        assert_eq!(parse_for_import(&indicator().to_string()).unwrap().len(), 1);
        let bundle =
            json!({"type": "bundle", "id": "bundle--5fc208f6-cbf3-4a1b-b20a-96f5c2087fe4", "objects": [indicator()]});
        assert_eq!(parse_for_import(&bundle.to_string()).unwrap().len(), 1);
    }

    #[test]
    fn rejects_with_reasons() {
        let mut o = indicator();
        o["id"] = json!("indicator--ddeeff55-6666-7777-8888-9999aaaabbbbk");
        assert!(rejected(o).contains("id is not"));
        let mut o = indicator();
        o.as_object_mut().unwrap().remove("spec_version");
        assert!(rejected(o).contains("spec_version"));
        let mut o = indicator();
        o.as_object_mut().unwrap().remove("modified");
        assert!(rejected(o).contains("modified"));
        let mut o = indicator();
        o["created"] = json!("2024-01-01 00:00:00");
        assert!(rejected(o).contains("created"));
        let mut o = indicator();
        o.as_object_mut().unwrap().remove("pattern");
        assert!(rejected(o).contains("requires `pattern`"));
        let mut o = indicator();
        o["created_by_ref"] = json!("identity--nope");
        assert!(rejected(o).contains("created_by_ref"));
        let mut o = indicator();
        o["extensions"] = json!({"flags": "x"});
        assert!(rejected(o).contains("extension"));
        let array = parse_for_import(&json!([indicator()]).to_string()).unwrap_err().to_string();
        assert!(array.contains("array"), "{array}");
        let bundle = json!({"type": "bundle", "id": "bundle--5fc208f6-cbf3-4a1b-b20a-96f5c2087fe4",
            "objects": [indicator(), indicator()]});
        assert!(parse_for_import(&bundle.to_string()).unwrap_err().to_string().contains("object 1"));
    }

    #[test]
    fn timestamps() {
        assert!(is_timestamp("2024-01-01T00:00:00Z"));
        assert!(is_timestamp("2024-01-01T00:00:00.123456Z"));
        assert!(!is_timestamp("2024-01-01T00:00:00+00:00"));
        assert!(!is_timestamp("2025-07-15T15:21:44.288280+00:00Z"));
        assert!(!is_timestamp("2024-13-01T00:00:00Z"));
    }
}
