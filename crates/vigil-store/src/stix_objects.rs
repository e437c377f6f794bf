//! Imported STIX objects: the `stix_objects` table, written all-or-nothing.

use rusqlite::{params, OptionalExtension};

use crate::{Store, StoreError};

/// Most objects one import may carry (a bundle larger than this is refused whole).
const MAX_IMPORT_OBJECTS: usize = 100_000;

/// Largest page [`Store::stix_objects`] returns.
const MAX_STIX_PAGE: u32 = 10_000;

fn text_field<'a>(object: &'a serde_json::Value, name: &str) -> Option<&'a str> {
    object.get(name).and_then(|v| v.as_str())
}

impl Store {
    /// Stores validated STIX objects in one transaction: either all are kept or none.
    /// An object whose id and version (`modified`, else `created`, else empty for SCOs)
    /// is stored already is not stored again. Returns how many rows were added.
    pub fn import_stix_objects(&self, objects: &[serde_json::Value], added_ms: i64) -> Result<usize, StoreError> {
        if objects.len() > MAX_IMPORT_OBJECTS {
            return Err(StoreError::InvalidQuery(format!(
                "{} objects in one import; at most {MAX_IMPORT_OBJECTS}",
                objects.len()
            )));
        }
        let mut rows = Vec::with_capacity(objects.len());
        for (i, object) in objects.iter().enumerate() {
            let (Some(id), Some(object_type)) = (text_field(object, "id"), text_field(object, "type")) else {
                return Err(StoreError::InvalidQuery(format!("object {i} has no id or type")));
            };
            let version = text_field(object, "modified").or_else(|| text_field(object, "created")).unwrap_or("");
            rows.push((id, object_type, version, object.to_string()));
        }
        let mut writer = self.writer();
        let tx = writer.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut added = 0;
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO stix_objects (stix_id, stix_type, version, added_ms, object) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for (id, object_type, version, text) in &rows {
                added += insert.execute(params![id, object_type, version, added_ms, text])?;
            }
        }
        tx.commit()?;
        Ok(added)
    }

    /// Stored STIX objects as (row, object), in insertion order, after row `after` (0 for
    /// the start; the row numbers increase with insertion, so the last one is the next
    /// page's cursor), at most `limit` (1..=10,000), optionally of one type only.
    pub fn stix_objects(
        &self,
        stix_type: Option<&str>,
        after: i64,
        limit: u32,
    ) -> Result<Vec<(i64, serde_json::Value)>, StoreError> {
        let conn = self.readers.get()?;
        let limit = limit.clamp(1, MAX_STIX_PAGE);
        let mut stmt = conn.prepare_cached(
            "SELECT id, object FROM stix_objects \
             WHERE id > ?1 AND (?2 IS NULL OR stix_type = ?2) ORDER BY id LIMIT ?3",
        )?;
        let rows =
            stmt.query_map(params![after, stix_type, limit], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (row, text) = row?;
            out.push((row, serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)));
        }
        Ok(out)
    }

    /// The newest stored version of one object.
    pub fn stix_object(&self, stix_id: &str) -> Result<Option<serde_json::Value>, StoreError> {
        let conn = self.readers.get()?;
        let text: Option<String> = conn
            .prepare_cached(
                "SELECT object FROM stix_objects WHERE stix_id = ?1 ORDER BY version DESC, id DESC LIMIT 1",
            )?
            .query_row([stix_id], |r| r.get(0))
            .optional()?;
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    }

    /// Stored STIX object rows.
    pub fn stix_object_count(&self) -> Result<u64, StoreError> {
        let conn = self.readers.get()?;
        let n: i64 = conn.query_row("SELECT COUNT(*) FROM stix_objects", [], |r| r.get(0))?;
        Ok(n.max(0) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StoreOptions;
    use serde_json::json;

    #[test]
    fn import_is_idempotent_per_version_and_readable() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
        let a = json!({"type": "identity", "id": "identity--619d8663-9987-4bc1-a9f6-559655205955",
            "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z", "name": "a"});
        let ip = json!({"type": "ipv4-addr", "id": "ipv4-addr--11256d3c-cd75-555e-9438-564b6daf3c85", "value": "216.58.210.174"});
        assert_eq!(store.import_stix_objects(&[a.clone(), ip.clone()], 1).unwrap(), 2);
        assert_eq!(store.import_stix_objects(&[a.clone(), ip], 2).unwrap(), 0);
        let mut newer = a.clone();
        newer["modified"] = json!("2024-02-01T00:00:00.000Z");
        assert_eq!(store.import_stix_objects(&[newer.clone()], 3).unwrap(), 1);
        assert_eq!(store.stix_object_count().unwrap(), 3);
        assert_eq!(store.stix_object("identity--619d8663-9987-4bc1-a9f6-559655205955").unwrap(), Some(newer));
        let identities = store.stix_objects(Some("identity"), 0, 10).unwrap();
        assert_eq!(identities.len(), 2);
        let rest = store.stix_objects(None, identities[0].0, 10).unwrap();
        assert_eq!(rest.len(), 2);
    }

    #[test]
    fn a_bad_object_stores_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
        let ok =
            json!({"type": "ipv4-addr", "id": "ipv4-addr--11256d3c-cd75-555e-9438-564b6daf3c85", "value": "1.2.3.4"});
        let bad = json!({"value": "no id"});
        assert!(store.import_stix_objects(&[ok, bad], 1).is_err());
        assert_eq!(store.stix_object_count().unwrap(), 0);
    }
}
