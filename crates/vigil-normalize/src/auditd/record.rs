//! One auditd record line: `[node=NAME ]type=TYPE msg=audit(SECS.MILLIS:SERIAL): k=v …`
//! with the interpreted fields of auditd's ENRICHED format after a `\x1d` separator.
//!
//! Value encoding (audit userspace `auparse` conventions): untrusted strings are
//! written in double quotes, or as upper-case hex when they contain a space, quote,
//! control or non-ASCII byte — so an unquoted hex value of a string field is decoded.
//! User-space messages (USER_AUTH…) carry their own fields inside `msg='…'`. Microsoft's
//! auoms writes `type=AUOMS_EXECVE audit(…): …` (no `msg=`), with `["…","…"]` lists and
//! an unquoted `proctitle` that runs to the next field it knows (`redactors=`).

use std::borrow::Cow;
use std::ops::Range;

use crate::{DeadLetterReason, DecodeError};

/// Bounds against hostile input.
const MAX_FIELDS: usize = 4096;
const MAX_LIST: usize = 1024;

/// A field value: a slice of the record's line, or decoded text.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Val {
    Span(Range<usize>),
    Owned(String),
    /// auoms `path_name=["a","b"]`, or several `key=` values (hex with `\x01` between).
    List(Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Field {
    pub key: Range<usize>,
    pub val: Val,
    /// Written after the `\x1d` separator: auditd's interpretation (`AUID="alice"`).
    pub enriched: bool,
}

/// A parsed record; spans point into `line`.
#[derive(Debug, Clone)]
pub(super) struct Record {
    pub line: String,
    pub node: Option<Range<usize>>,
    pub rtype: Range<usize>,
    /// `SECS.MILLIS` as written.
    pub stamp: Range<usize>,
    pub secs: i64,
    pub nanos: u32,
    pub serial: u64,
    pub fields: Vec<Field>,
}

pub(super) fn malformed(message: impl Into<String>) -> DecodeError {
    DecodeError::new(DeadLetterReason::Malformed, message)
}

impl Record {
    pub fn rtype(&self) -> &str {
        &self.line[self.rtype.clone()]
    }

    pub fn node(&self) -> Option<&str> {
        self.node.clone().map(|r| &self.line[r])
    }

    pub fn stamp(&self) -> &str {
        &self.line[self.stamp.clone()]
    }

    pub fn key(&self, f: &Field) -> &str {
        &self.line[f.key.clone()]
    }

    /// A field's value as text (a list gives its first element).
    pub fn text<'s>(&'s self, f: &'s Field) -> &'s str {
        match &f.val {
            Val::Span(r) => &self.line[r.clone()],
            Val::Owned(s) => s,
            Val::List(l) => l.first().map(String::as_str).unwrap_or(""),
        }
    }

    /// The first raw (not enriched) value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields.iter().find(|f| !f.enriched && self.key(f) == key).map(|f| self.text(f))
    }

    /// The enriched (interpreted) value of `key` (`AUID`, `UID`, `SYSCALL`).
    pub fn enriched(&self, key: &str) -> Option<&str> {
        self.fields.iter().find(|f| f.enriched && self.key(f) == key).map(|f| self.text(f))
    }
}

/// Parses one record line.
pub(super) fn parse(line: &str) -> Result<Record, DecodeError> {
    let line = line.trim().to_owned();
    let mut pos = 0;
    let mut node = None;
    if line.starts_with("node=") {
        let end = line.find(' ').ok_or_else(|| malformed("auditd `node=` prefix is not followed by `type=`"))?;
        node = Some(5..end);
        pos = end + 1;
    }
    if !line[pos..].starts_with("type=") {
        return Err(malformed("auditd record must start with `type=` (optionally after `node=NAME `)"));
    }
    let type_start = pos + 5;
    let type_end = line[type_start..].find(' ').map_or(line.len(), |i| type_start + i);
    if type_end == type_start {
        return Err(DecodeError::new(DeadLetterReason::MissingField, "auditd record type is empty (`type=`)"));
    }
    let mut after = type_end;
    let rest = &line[after..];
    let header = if let Some(r) = rest.strip_prefix(" msg=audit(") {
        after += " msg=audit(".len();
        r
    } else if let Some(r) = rest.strip_prefix(" audit(") {
        after += " audit(".len();
        r
    } else {
        return Err(DecodeError::new(
            DeadLetterReason::MissingField,
            format!("auditd `{}` record lacks `msg=audit(<epoch>:<serial>):`", &line[type_start..type_end]),
        ));
    };
    let close = header.find("):").ok_or_else(|| malformed("auditd `msg=audit(` is not closed by `):`"))?;
    let inner = &header[..close];
    let (stamp, serial) = inner
        .split_once(':')
        .ok_or_else(|| malformed(format!("auditd event id `{inner}` is not `<epoch>:<serial>`")))?;
    let invalid =
        |what: &str| DecodeError::new(DeadLetterReason::InvalidField, format!("auditd event id `{inner}`: {what}"));
    let serial: u64 = serial.parse().map_err(|_| invalid("serial is not a number"))?;
    let (secs_text, frac) = stamp.split_once('.').unwrap_or((stamp, ""));
    let secs: i64 = secs_text.parse().map_err(|_| invalid("epoch seconds are not a number"))?;
    if !frac.bytes().all(|b| b.is_ascii_digit()) || frac.len() > 9 {
        return Err(invalid("fraction of the epoch is not digits"));
    }
    let nanos = frac.bytes().chain(std::iter::repeat(b'0')).take(9).fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
    let stamp_range = after..after + stamp.len();
    let fields_start = after + close + 2;
    let rtype_text = &line[type_start..type_end];
    let auoms = rtype_text.starts_with("AUOMS_");
    let execve = rtype_text == "EXECVE";
    let mut fields = Vec::new();
    let body = &line[fields_start..];
    let (raw_part, enriched_part) = match body.find('\x1d') {
        Some(i) => (&body[..i], Some((fields_start + i + 1, &body[i + 1..]))),
        None => (body, None),
    };
    let ctx = Ctx { auoms, execve };
    ctx.fields(fields_start, raw_part, false, 0, &mut fields)?;
    if let Some((start, text)) = enriched_part {
        ctx.fields(start, text, true, 0, &mut fields)?;
    }
    Ok(Record { node, rtype: type_start..type_end, stamp: stamp_range, secs, nanos, serial, fields, line })
}

struct Ctx {
    auoms: bool,
    execve: bool,
}

impl Ctx {
    /// Tokenizes `text` (which starts at byte `base` of the line) into fields.
    fn fields(
        &self,
        base: usize,
        text: &str,
        enriched: bool,
        depth: u8,
        out: &mut Vec<Field>,
    ) -> Result<(), DecodeError> {
        let b = text.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b' ' {
                i += 1;
                continue;
            }
            let start = i;
            while i < b.len() && b[i] != b'=' && b[i] != b' ' {
                i += 1;
            }
            if i >= b.len() || b[i] == b' ' {
                // A word that is no `key=value` (AVC's `avc:  denied  { read }`).
                continue;
            }
            let key = start..i;
            i += 1;
            if out.len() >= MAX_FIELDS {
                return Err(DecodeError::new(
                    DeadLetterReason::TooLarge,
                    format!("auditd record has more than {MAX_FIELDS} fields"),
                ));
            }
            let key_text = &text[key.clone()];
            let abs = |r: Range<usize>| base + r.start..base + r.end;
            match b.get(i) {
                Some(b'"') => {
                    let vs = i + 1;
                    let ve = text[vs..].find('"').map_or(b.len(), |e| vs + e);
                    out.push(Field { key: abs(key), val: Val::Span(abs(vs..ve)), enriched });
                    i = (ve + 1).min(b.len());
                }
                Some(b'\'') if key_text == "msg" && depth == 0 => {
                    // User-space message: its own fields, flattened into the record.
                    let vs = i + 1;
                    let ve = text[vs..].find('\'').map_or(b.len(), |e| vs + e);
                    self.fields(base + vs, &text[vs..ve], enriched, depth + 1, out)?;
                    i = (ve + 1).min(b.len());
                }
                Some(b'[') if self.auoms => {
                    let vs = i + 1;
                    let ve = text[vs..].find(']').map_or(b.len(), |e| vs + e);
                    let list =
                        text[vs..ve].split(',').take(MAX_LIST).map(|s| s.trim().trim_matches('"').to_owned()).collect();
                    out.push(Field { key: abs(key), val: Val::List(list), enriched });
                    i = (ve + 1).min(b.len());
                }
                Some(b'{') if enriched => {
                    // `SADDR={ saddr_fam=inet laddr=1.2.3.4 lport=80 }`
                    let vs = i;
                    let ve = text[vs..].find('}').map_or(b.len(), |e| vs + e + 1);
                    out.push(Field { key: abs(key), val: Val::Span(abs(vs..ve)), enriched });
                    i = ve;
                }
                _ => {
                    let vs = i;
                    let mut ve = text[vs..].find(' ').map_or(b.len(), |e| vs + e);
                    if self.auoms && key_text == "proctitle" {
                        // auoms writes the process title unquoted, spaces and all.
                        ve = text[vs..].find(" redactors=").map_or(b.len(), |e| vs + e);
                    }
                    let val = self.decode(key_text, &text[vs..ve], enriched).unwrap_or(Val::Span(abs(vs..ve)));
                    out.push(Field { key: abs(key), val, enriched });
                    i = ve;
                }
            }
        }
        Ok(())
    }

    /// Decodes an unquoted value of a string field written in hex; `None` keeps it.
    fn decode(&self, key: &str, value: &str, enriched: bool) -> Option<Val> {
        if enriched || !self.is_string_field(key) {
            return None;
        }
        let bytes = unhex(value)?;
        if key == "key" {
            // Several keys of one rule: joined by \x01 (auditctl -k a -k b).
            let keys: Vec<String> =
                bytes.split(|b| *b == 1).take(MAX_LIST).map(|k| String::from_utf8_lossy(k).into_owned()).collect();
            return Some(if keys.len() == 1 {
                Val::Owned(keys.into_iter().next().unwrap_or_default())
            } else {
                Val::List(keys)
            });
        }
        let text = match String::from_utf8_lossy(&bytes) {
            Cow::Borrowed(s) => s.to_owned(),
            Cow::Owned(s) => s,
        };
        if key == "proctitle" {
            // The title is argv with NUL between the arguments.
            return Some(Val::Owned(text.trim_end_matches('\0').replace('\0', " ")));
        }
        Some(Val::Owned(text))
    }

    /// Fields whose values are untrusted strings, hex-encoded when unusual.
    fn is_string_field(&self, key: &str) -> bool {
        if self.execve {
            // `a0`, `a1[3]` (an argument split over several records).
            if let Some(rest) = key.strip_prefix('a') {
                let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
                let tail = &rest[digits..];
                return digits > 0 && (tail.is_empty() || (tail.starts_with('[') && tail.ends_with(']')));
            }
            return false;
        }
        matches!(
            key,
            "comm"
                | "exe"
                | "cwd"
                | "name"
                | "proctitle"
                | "key"
                | "acct"
                | "path"
                | "cmd"
                | "data"
                | "dir"
                | "file"
                | "ocomm"
                | "watch"
                | "old-chardev"
                | "new-chardev"
                | "root_dir"
        )
    }
}

/// Upper- or lower-case hex of even length → bytes.
pub(super) fn unhex(text: &str) -> Option<Vec<u8>> {
    let b = text.as_bytes();
    if b.is_empty() || b.len() & 1 == 1 || !b.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c - b'A' + 10,
    };
    Some(b.chunks_exact(2).map(|p| nibble(p[0]) << 4 | nibble(p[1])).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(r: &Record) -> Vec<(String, String, bool)> {
        r.fields.iter().map(|f| (r.key(f).to_owned(), r.text(f).to_owned(), f.enriched)).collect()
    }

    #[test]
    fn syscall_record() {
        let r = parse(r#"type=SYSCALL msg=audit(1604994496.155:92733): arch=c000003e syscall=59 success=yes comm="arp" exe="/usr/sbin/arp" key=(null)"#).unwrap();
        assert_eq!(
            (r.rtype(), r.stamp(), r.secs, r.nanos, r.serial),
            ("SYSCALL", "1604994496.155", 1604994496, 155_000_000, 92733)
        );
        assert_eq!(r.get("comm"), Some("arp"));
        assert_eq!(r.get("key"), Some("(null)"));
        assert_eq!(r.get("syscall"), Some("59"));
    }

    #[test]
    fn hex_values_are_decoded_only_where_strings() {
        let r = parse("type=PROCTITLE msg=audit(1.2:3): proctitle=617270002D61").unwrap();
        assert_eq!(r.get("proctitle"), Some("arp -a"));
        let r = parse(r#"type=EXECVE msg=audit(1.2:3): argc=3 a0="ls" a1=2F746D702F6120622063 a2[0]=6869"#).unwrap();
        assert_eq!((r.get("a0"), r.get("a1"), r.get("a2[0]")), (Some("ls"), Some("/tmp/a b c"), Some("hi")));
        // SYSCALL a0..a3 are numbers in hex, not strings.
        let r = parse("type=SYSCALL msg=audit(1.2:3): a0=40000 comm=636166C3A9 key=6B31016B32").unwrap();
        assert_eq!((r.get("a0"), r.get("comm")), (Some("40000"), Some("café")));
        assert_eq!(
            r.fields.iter().find(|f| r.key(f) == "key").map(|f| f.val.clone()),
            Some(Val::List(vec!["k1".into(), "k2".into()]))
        );
    }

    #[test]
    fn user_message_and_enriched_fields() {
        let line = "node=web1 type=USER_AUTH msg=audit(1610000000.123:456): pid=1 uid=0 auid=4294967295 msg='op=PAM:authentication grantors=pam_unix acct=\"alice\" exe=\"/usr/sbin/sshd\" hostname=1.2.3.4 addr=1.2.3.4 terminal=ssh res=success'\x1dUID=\"root\" AUID=\"unset\"";
        let r = parse(line).unwrap();
        assert_eq!(r.node(), Some("web1"));
        assert_eq!((r.get("acct"), r.get("res"), r.get("addr")), (Some("alice"), Some("success"), Some("1.2.3.4")));
        assert_eq!(r.enriched("UID"), Some("root"));
        assert_eq!(r.get("UID"), None);
        assert!(fields(&r).iter().all(|(k, _, _)| k != "msg"));
    }

    #[test]
    fn avc_words_are_skipped() {
        let r = parse("type=AVC msg=audit(1.2:3): avc:  denied  { read } for  pid=5 comm=\"x\" scontext=a:b").unwrap();
        assert_eq!(fields(&r).iter().map(|(k, _, _)| k.as_str()).collect::<Vec<_>>(), ["pid", "comm", "scontext"]);
    }

    #[test]
    fn auoms_lists_and_proctitle() {
        let r = parse(r#"type=AUOMS_EXECVE audit(1652292621.986:84138): syscall=execve path_name=["/a","/b"] proctitle=/usr/bin/java -Dx=1 -jar y redactors= containerid="#).unwrap();
        assert_eq!(r.get("proctitle"), Some("/usr/bin/java -Dx=1 -jar y"));
        let f = r.fields.iter().find(|f| r.key(f) == "path_name").unwrap();
        assert_eq!(f.val, Val::List(vec!["/a".into(), "/b".into()]));
    }

    #[test]
    fn errors() {
        assert_eq!(parse("hello").unwrap_err().reason, DeadLetterReason::Malformed);
        assert_eq!(parse("type=SYSCALL arch=x").unwrap_err().reason, DeadLetterReason::MissingField);
        assert_eq!(parse("type=SYSCALL msg=audit(abc:1): x=1").unwrap_err().reason, DeadLetterReason::InvalidField);
        assert_eq!(parse("type=SYSCALL msg=audit(1.5:x): x=1").unwrap_err().reason, DeadLetterReason::InvalidField);
        assert_eq!(parse("type=SYSCALL msg=audit(1.5:2 x=1").unwrap_err().reason, DeadLetterReason::Malformed);
        assert_eq!(parse("type= msg=audit(1.5:2): x=1").unwrap_err().reason, DeadLetterReason::MissingField);
    }
}
