//! A file's identity by content: a digest of its first line.
//!
//! Names change under rotation (`auth.log` becomes `auth.log.1`, then `auth.log.2.gz`)
//! and inode numbers are reused once a file is deleted, but a log file's first line —
//! which carries a timestamp — stays put. So the tail keys its checkpoints by this
//! fingerprint, as Vector's "first line checksum" does.
//!
//! The digest is SHA-1 (through a name-based UUID, version 5), not a fast checksum: the
//! first line of a log is partly written by whoever the log is about, and with a
//! checksum an attacker could give a fresh file the fingerprint of an old, long file so
//! that the tail would skip the fresh file's first bytes. Finding a second input with a
//! given SHA-1 digest is out of reach.
//!
//! Known limit: files whose first lines are identical (a fixed header line) share a
//! fingerprint, and the tail reads only one of them at a time.

use std::fmt;
use std::io::{self, Read};

use uuid::Uuid;

/// The fingerprint covers the first line, but at most this many bytes of it.
pub const FINGERPRINT_MAX_BYTES: usize = 4096;

/// Keeps these digests apart from any other version-5 UUID built from the same bytes.
const NAMESPACE: Uuid = Uuid::from_u128(0x6c0f_5a1e_9d2b_4e57_8a43_0b7e_51c2_d9f4);

const KEY_PREFIX: &str = "fp:";

/// Digest of a file's first line (or of its first [`FINGERPRINT_MAX_BYTES`] bytes when
/// the first line is longer than that).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(Uuid);

impl Fingerprint {
    /// The fingerprint of a file starting with `head`, or `None` while it cannot be known
    /// yet: the first line is still incomplete and shorter than the cap. Once known it
    /// never changes as the file grows.
    pub fn of_head(head: &[u8]) -> Option<Fingerprint> {
        let window = &head[..head.len().min(FINGERPRINT_MAX_BYTES)];
        let covered = match window.iter().position(|&b| b == b'\n') {
            Some(newline) => &window[..=newline],
            None if window.len() == FINGERPRINT_MAX_BYTES => window,
            None => return None,
        };
        Some(Fingerprint(Uuid::new_v5(&NAMESPACE, covered)))
    }

    /// Reads as much of `reader` as the fingerprint needs (at most
    /// [`FINGERPRINT_MAX_BYTES`]) and computes it.
    pub fn read_from(reader: impl Read) -> io::Result<Option<Fingerprint>> {
        let mut head = Vec::with_capacity(512);
        let mut limited = reader.take(FINGERPRINT_MAX_BYTES as u64);
        let mut chunk = [0u8; 512];
        loop {
            let n = match limited.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            head.extend_from_slice(&chunk[..n]);
            if chunk[..n].contains(&b'\n') {
                break;
            }
        }
        Ok(Fingerprint::of_head(&head))
    }

    /// The checkpoint key: `fp:` and 32 hex digits.
    pub fn key(&self) -> String {
        self.to_string()
    }

    /// Reads a checkpoint key back; `None` for keys of other sources.
    pub fn parse_key(key: &str) -> Option<Fingerprint> {
        let hex = key.strip_prefix(KEY_PREFIX)?;
        if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        Uuid::try_parse(hex).ok().map(Fingerprint)
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{KEY_PREFIX}{}", self.0.simple())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_incomplete_first_line_has_no_fingerprint_yet() {
        assert_eq!(Fingerprint::of_head(b""), None);
        assert_eq!(Fingerprint::of_head(b"Jan  1 00:00:00 host sshd[1]: partial"), None);
    }

    #[test]
    fn the_fingerprint_depends_on_the_first_line_only() {
        let a = Fingerprint::of_head(b"first line\n").unwrap();
        assert_eq!(Fingerprint::of_head(b"first line\nsecond\nthird").unwrap(), a);
        assert_ne!(Fingerprint::of_head(b"first linE\n").unwrap(), a);
    }

    #[test]
    fn a_long_first_line_is_fingerprinted_by_its_first_bytes() {
        let long = vec![b'x'; FINGERPRINT_MAX_BYTES - 1];
        assert_eq!(Fingerprint::of_head(&long), None);
        let mut full = vec![b'x'; FINGERPRINT_MAX_BYTES];
        let at_cap = Fingerprint::of_head(&full).unwrap();
        full.extend_from_slice(b"yyyy\nmore");
        assert_eq!(Fingerprint::of_head(&full), Some(at_cap));
    }

    #[test]
    fn keys_round_trip_and_foreign_keys_are_refused() {
        let fp = Fingerprint::of_head(b"line\n").unwrap();
        let key = fp.key();
        assert!(key.starts_with("fp:") && key.len() == 35, "{key}");
        assert_eq!(Fingerprint::parse_key(&key), Some(fp));
        assert_eq!(Fingerprint::parse_key("kafka:topic:0"), None);
        assert_eq!(Fingerprint::parse_key("fp:zz"), None);
        assert_eq!(Fingerprint::parse_key(&format!("fp:{}", "g".repeat(32))), None);
    }

    #[test]
    fn read_from_stops_at_the_first_newline_or_the_cap() {
        let data = b"one\ntwo\n".to_vec();
        assert_eq!(Fingerprint::read_from(&data[..]).unwrap(), Fingerprint::of_head(b"one\n"));
        let big = vec![b'z'; FINGERPRINT_MAX_BYTES * 2];
        assert_eq!(Fingerprint::read_from(&big[..]).unwrap(), Fingerprint::of_head(&big));
        assert_eq!(Fingerprint::read_from(&b"no newline"[..]).unwrap(), None);
    }
}
