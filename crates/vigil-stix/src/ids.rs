//! Deterministic identifiers and timestamps.
//!
//! SCO ids follow STIX 2.1 §2.9: UUIDv5 in the SCO namespace over the canonical JSON of
//! the type's ID-contributing properties, so any producer computes the same id for the
//! same observable. `process` has no contributing properties and the OASIS validator
//! insists on UUIDv4 there, so its id is a hash of a stable key reshaped as version 4.
//! SDO/SRO ids are UUIDv5 in Vigil's own namespace over their defining inputs.

use serde_json::Value;
use uuid::Uuid;

/// STIX 2.1 namespace for Cyber-observable object ids (spec §2.9).
pub const SCO_NAMESPACE: Uuid = Uuid::from_u128(0x00abedb4_aa42_466c_9c01_fed23315a9b7);

/// Vigil's namespace for SDO / SRO / bundle ids (a fixed random UUID).
pub const VIGIL_NAMESPACE: Uuid = Uuid::from_u128(0x6a1f3c2e_8d4b_4f0a_9b7e_2c5d1e8f4a90);

/// `type--uuid` for an SDO, SRO or bundle, from the inputs that define it. The OASIS
/// validator requires UUIDv4 for everything but SCOs, so the hash is shaped as one.
pub fn sdo_id(object_type: &str, key: &str) -> String {
    format!("{object_type}--{}", v4_shaped(&format!("{object_type}\u{1f}{key}")))
}

/// A UUID with version 4 and RFC 4122 variant bits whose other bits hash `key`.
fn v4_shaped(key: &str) -> Uuid {
    let mut bytes = *Uuid::new_v5(&VIGIL_NAMESPACE, key.as_bytes()).as_bytes();
    bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
    Uuid::from_bytes(bytes)
}

/// `type--uuid` for an SCO from its ID-contributing properties (a JSON object; absent
/// properties are simply left out, as the spec says).
pub fn sco_id(object_type: &str, contributing: &Value) -> String {
    let mut canonical = String::new();
    write_canonical(contributing, &mut canonical);
    format!("{object_type}--{}", Uuid::new_v5(&SCO_NAMESPACE, canonical.as_bytes()))
}

/// A `process--uuid` whose UUID is version 4 in shape (the OASIS validator rejects
/// others) but derived from `key`, so the same process gets the same id every run.
pub fn process_id(key: &str) -> String {
    sdo_id("process", key)
}

/// RFC 3339 UTC with milliseconds and `Z`, as STIX timestamps are written.
pub fn timestamp(ms: i64) -> String {
    let clamped = ms.clamp(0, 253_402_300_799_999); // years 1970..=9999
    match chrono::DateTime::from_timestamp_millis(clamped) {
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        None => "1970-01-01T00:00:00.000Z".to_string(),
    }
}

/// JSON Canonicalization (RFC 8785) for the values SCO contributing properties hold:
/// object keys sorted, no whitespace, strings escaped minimally.
fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// Whether `id` is `type--<uuid>` with the given type (or any type when `None`).
pub fn is_well_formed_id(id: &str, expected_type: Option<&str>) -> bool {
    let Some((object_type, uuid)) = id.split_once("--") else {
        return false;
    };
    if let Some(expected) = expected_type {
        if object_type != expected {
            return false;
        }
    }
    is_type_name(object_type) && uuid.len() == 36 && Uuid::parse_str(uuid).is_ok()
}

/// STIX type names: lowercase ASCII letters, digits and hyphens, 3–250 characters.
pub fn is_type_name(name: &str) -> bool {
    (3..=250).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.contains("--")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sco_ids_match_other_implementations() {
        // Ids the OASIS reference bundle (made with the python stix2 library) carries.
        assert_eq!(
            sco_id("ipv4-addr", &json!({"value": "216.58.210.174"})),
            "ipv4-addr--11256d3c-cd75-555e-9438-564b6daf3c85"
        );
        assert_eq!(
            sco_id("user-account", &json!({"user_id": "33", "account_login": "www-data", "account_type": "unix"})),
            "user-account--a06538a5-1201-52f6-81e0-7126e6f5f745"
        );
        assert_eq!(
            sco_id(
                "network-traffic",
                &json!({
                    "start": "2025-07-07T21:22:10.396Z",
                    "src_ref": "ipv4-addr--afb7bfd5-0159-5ce0-91d2-b7a674678d12",
                    "dst_ref": "ipv4-addr--11256d3c-cd75-555e-9438-564b6daf3c85",
                    "src_port": 50015, "dst_port": 80, "protocols": ["ipv4", "tcp", "http"]
                })
            ),
            "network-traffic--b1554a7c-1016-5513-983f-faa8fbde3043"
        );
    }

    #[test]
    fn canonical_form_ignores_key_order() {
        let a = sco_id("file", &json!({"name": "a", "hashes": {"SHA-256": "00", "MD5": "11"}}));
        let b = sco_id("file", &json!({"hashes": {"MD5": "11", "SHA-256": "00"}, "name": "a"}));
        assert_eq!(a, b);
        let mut s = String::new();
        write_canonical(&json!({"b": 1, "a": [true, "x"]}), &mut s);
        assert_eq!(s, r#"{"a":[true,"x"],"b":1}"#);
    }

    #[test]
    fn process_ids_are_stable_uuid4() {
        let id = process_id("exec:abc");
        assert_eq!(id, process_id("exec:abc"));
        assert_ne!(id, process_id("exec:abd"));
        let uuid = Uuid::parse_str(id.strip_prefix("process--").unwrap()).unwrap();
        assert_eq!(uuid.get_version_num(), 4);
        assert_eq!(uuid.get_variant(), uuid::Variant::RFC4122);
    }

    #[test]
    fn sdo_ids_are_stable_uuid4() {
        let id = sdo_id("indicator", "rule-1");
        assert_eq!(id, sdo_id("indicator", "rule-1"));
        assert_ne!(id, sdo_id("indicator", "rule-2"));
        assert_ne!(
            sdo_id("sighting", "x").split_once("--").unwrap().1,
            sdo_id("grouping", "x").split_once("--").unwrap().1
        );
        assert_eq!(Uuid::parse_str(id.strip_prefix("indicator--").unwrap()).unwrap().get_version_num(), 4);
    }

    #[test]
    fn timestamps_have_millis_and_z() {
        assert_eq!(timestamp(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(timestamp(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(timestamp(-5), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn id_shape_checks() {
        assert!(is_well_formed_id("indicator--5fc208f6-cbf3-4a1b-b20a-96f5c2087fe4", Some("indicator")));
        assert!(!is_well_formed_id("indicator--5fc208f6", None));
        assert!(!is_well_formed_id("Indicator--5fc208f6-cbf3-4a1b-b20a-96f5c2087fe4", None));
        assert!(!is_well_formed_id("indicator-5fc208f6-cbf3-4a1b-b20a-96f5c2087fe4", None));
        assert!(!is_well_formed_id("file--5fc208f6-cbf3-4a1b-b20a-96f5c2087fe4", Some("process")));
    }
}
