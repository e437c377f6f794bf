//! Content sniffing: tells EVTX, gzip, JSONL and whole-file JSON apart from a file's
//! first bytes, for files whose extension does not settle it (.json, .log, .txt...).

use serde_json::value::RawValue;

/// EVTX file header magic.
pub(crate) const EVTX_MAGIC: &[u8; 8] = b"ElfFile\0";
/// Gzip member magic (RFC 1952: ID1, ID2).
pub(crate) const GZIP_MAGIC: &[u8; 2] = &[0x1f, 0x8b];
/// UTF-8 byte order mark, which Windows tools like to put in front of exported JSON.
pub(crate) const UTF8_BOM: &[u8; 3] = b"\xEF\xBB\xBF";

/// What [`sniff`] made of a file's first bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sniffed {
    Evtx,
    Gzip,
    /// Line-delimited JSON (also returned for an empty or blank-only prefix: zero records).
    Jsonl,
    /// Whole-file JSON: an array, or values spanning several lines.
    Json,
    /// Line-oriented text that is not JSON (syslog, auditd): one record per line.
    Text,
    /// Not something we read; the string says why.
    Other(String),
}

/// Decides what `prefix`, the first bytes of a file, looks like. `complete` says whether
/// `prefix` is the whole file; when it is not, a first line that runs past the end of
/// `prefix` is taken to be one long JSONL record (pretty-printed JSON has short lines).
///
/// A first line that is on its own a complete JSON value means JSONL; otherwise the file
/// is whole-file JSON. A leading `[` always means whole-file JSON: a JSONL record is an
/// object, and a one-line array of events is common (`jq -c` output).
pub fn sniff(prefix: &[u8], complete: bool) -> Sniffed {
    if prefix.starts_with(EVTX_MAGIC) {
        return Sniffed::Evtx;
    }
    if prefix.starts_with(GZIP_MAGIC) {
        return Sniffed::Gzip;
    }
    let body = prefix.strip_prefix(UTF8_BOM).unwrap_or(prefix);
    let Some(first) = body.iter().position(|b| !b.is_ascii_whitespace()) else {
        return Sniffed::Jsonl;
    };
    match body[first] {
        b'[' => Sniffed::Json,
        b'{' => {
            let rest = &body[first..];
            let line = match memchr::memchr(b'\n', rest) {
                Some(nl) => &rest[..nl],
                None if complete => rest,
                None => return Sniffed::Jsonl,
            };
            if serde_json::from_slice::<&RawValue>(line).is_ok() || later_line_is_an_object(&rest[line.len()..]) {
                Sniffed::Jsonl
            } else {
                Sniffed::Json
            }
        }
        _ if looks_like_text(body) => Sniffed::Text,
        other => Sniffed::Other(format!(
            "content is neither JSON nor text lines (first non-blank byte is {:?})",
            char::from(other)
        )),
    }
}

/// Whether one of the next few lines is on its own a JSON object: then the file is
/// JSONL with a damaged first line (pretty-printed JSON has no such line), and reading
/// it as whole-file JSON would lose every record after the damage.
fn later_line_is_an_object(rest: &[u8]) -> bool {
    rest.split(|&b| b == b'\n')
        .map(|l| l.trim_ascii())
        .filter(|l| !l.is_empty())
        .take(3)
        .any(|l| l.starts_with(b"{") && serde_json::from_slice::<&RawValue>(l).is_ok())
}

/// Text, as opposed to binary: valid UTF-8 (a multi-byte character cut by the end of the
/// prefix is fine) with no NUL and few other control characters.
fn looks_like_text(prefix: &[u8]) -> bool {
    let valid = match std::str::from_utf8(prefix) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    };
    let controls = prefix.iter().filter(|&&b| b < 0x20 && !matches!(b, b'\n' | b'\r' | b'\t' | 0x1d)).count();
    valid && !prefix.contains(&0) && controls * 100 <= prefix.len()
}

/// Whether `prefix` holds enough for [`sniff`] to decide without more input: a magic
/// number, or a first non-blank byte followed by the end of its line.
pub(crate) fn prefix_is_decisive(prefix: &[u8]) -> bool {
    if prefix.len() >= EVTX_MAGIC.len() && prefix.starts_with(EVTX_MAGIC) {
        return true;
    }
    if prefix.starts_with(GZIP_MAGIC) {
        return true;
    }
    let body = prefix.strip_prefix(UTF8_BOM).unwrap_or(prefix);
    match body.iter().position(|b| !b.is_ascii_whitespace()) {
        None => false,
        Some(first) => body[first] != b'{' || memchr::memchr(b'\n', &body[first..]).is_some(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_numbers() {
        assert_eq!(sniff(b"ElfFile\0rest", false), Sniffed::Evtx);
        assert_eq!(sniff(&[0x1f, 0x8b, 8, 0], false), Sniffed::Gzip);
    }

    #[test]
    fn jsonl_when_first_line_is_complete() {
        assert_eq!(sniff(b"{\"a\":1}\n{\"a\":2}\n", true), Sniffed::Jsonl);
        assert_eq!(sniff(b"\n\n  {\"a\":1}\r\n", true), Sniffed::Jsonl);
        assert_eq!(sniff(b"\xEF\xBB\xBF{\"a\":1}\n", true), Sniffed::Jsonl);
        assert_eq!(sniff(b"{\"a\":1}", true), Sniffed::Jsonl);
    }

    #[test]
    fn json_when_first_line_is_partial_or_array() {
        assert_eq!(sniff(b"{\n  \"a\": 1\n}\n", true), Sniffed::Json);
        assert_eq!(sniff(b"[{\"a\":1}]\n", true), Sniffed::Json);
        assert_eq!(sniff(b"  [\n", false), Sniffed::Json);
        // Two objects on one line cannot be a JSONL record.
        assert_eq!(sniff(b"{\"a\":1}{\"a\":2}\n", true), Sniffed::Json);
        assert_eq!(sniff(b"{\n  \"a\": {\"b\": 1}\n}\n", true), Sniffed::Json);
    }

    #[test]
    fn jsonl_with_a_damaged_first_line_is_still_jsonl() {
        assert_eq!(sniff(b"{\"a\":1, \"b\n{\"a\":2}\n{\"a\":3}\n", true), Sniffed::Jsonl);
    }

    #[test]
    fn long_unterminated_first_line_is_jsonl() {
        assert_eq!(sniff(b"{\"a\": \"xxxxxxxx", false), Sniffed::Jsonl);
        assert_eq!(sniff(b"{\"a\": \"xxxxxxxx", true), Sniffed::Json);
    }

    #[test]
    fn blank_and_other() {
        assert_eq!(sniff(b"", true), Sniffed::Jsonl);
        assert_eq!(sniff(b" \n\t", true), Sniffed::Jsonl);
        assert_eq!(sniff(b"Feb 17 13:40:03 host sshd", true), Sniffed::Text);
        assert_eq!(sniff(b"type=SYSCALL msg=audit(1.2:3): a0=1\n", true), Sniffed::Text);
        assert!(matches!(sniff(b"\x7fELF\x02\x01\x00\x00", true), Sniffed::Other(_)));
        assert!(matches!(sniff(b"ab\xff\xfecd", true), Sniffed::Other(_)));
    }

    #[test]
    fn decisive_prefixes() {
        assert!(!prefix_is_decisive(b""));
        assert!(!prefix_is_decisive(b"  \n"));
        assert!(!prefix_is_decisive(b"{\"a\": 1"));
        assert!(prefix_is_decisive(b"{\"a\": 1}\n"));
        assert!(prefix_is_decisive(b"[\"a\""));
        assert!(prefix_is_decisive(b"plain text"));
        assert!(prefix_is_decisive(b"\x1f\x8b"));
    }
}
