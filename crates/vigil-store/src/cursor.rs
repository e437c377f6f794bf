//! Keyset cursors: the (sort key, rowid) of the last row of a page, as 32 hex digits.
//! Opaque to clients; any well-formed value is safe to use since both halves only ever
//! become bound integer parameters.

use crate::StoreError;

const HEX_LEN: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cursor {
    /// The page's sort column (`time_ms`, `last_seen_ms`, `received_ms`).
    pub key: i64,
    /// Rowid, which breaks ties between equal keys.
    pub id: i64,
}

impl Cursor {
    pub(crate) fn encode(self) -> String {
        format!("{:016x}{:016x}", self.key as u64, self.id as u64)
    }

    pub(crate) fn decode(text: &str) -> Result<Cursor, StoreError> {
        let invalid = || StoreError::InvalidQuery("malformed cursor".to_string());
        if text.len() != HEX_LEN || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid());
        }
        let key = u64::from_str_radix(&text[..16], 16).map_err(|_| invalid())?;
        let id = u64::from_str_radix(&text[16..], 16).map_err(|_| invalid())?;
        Ok(Cursor { key: key as i64, id: id as i64 })
    }

    pub(crate) fn decode_optional(text: Option<&str>) -> Result<Option<Cursor>, StoreError> {
        text.map(Cursor::decode).transpose()
    }
}

/// `limit` as the API gives it: 100 when absent, clamped to 1..=1000.
pub(crate) fn page_limit(limit: Option<u32>) -> usize {
    limit.unwrap_or(100).clamp(1, 1000) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rejects_malformed() {
        for text in
            ["", "zz", "0123", &"g".repeat(32), &"0".repeat(31), &"0".repeat(33), "+000000000000000000000000000000f"]
        {
            assert!(matches!(Cursor::decode(text), Err(StoreError::InvalidQuery(_))), "{text:?}");
        }
        // Multi-byte characters must not make the slicing panic.
        assert!(Cursor::decode(&"é".repeat(16)).is_err());
    }

    #[test]
    fn limits() {
        assert_eq!(page_limit(None), 100);
        assert_eq!(page_limit(Some(0)), 1);
        assert_eq!(page_limit(Some(5000)), 1000);
        assert_eq!(page_limit(Some(7)), 7);
    }

    proptest! {
        #[test]
        fn round_trips(key in any::<i64>(), id in any::<i64>()) {
            let cursor = Cursor { key, id };
            prop_assert_eq!(Cursor::decode(&cursor.encode()).unwrap(), cursor);
        }

        #[test]
        fn never_panics(text in ".{0,40}") {
            let _ = Cursor::decode(&text);
        }
    }
}
