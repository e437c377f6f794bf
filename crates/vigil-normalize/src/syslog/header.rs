//! The syslog header: RFC 3164 (BSD, `Mmm dd hh:mm:ss host tag: msg`, also with the
//! RFC 3339 timestamp rsyslog's `RSYSLOG_FileFormat` writes) and RFC 5424
//! (`<PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD] MSG`).
//!
//! References: RFC 3164 §4.1 (PRI, TIMESTAMP, HOSTNAME, TAG), RFC 5424 §6 (header,
//! NILVALUE `-`, STRUCTURED-DATA escapes `\"` `\\` `\]`, BOM before MSG).

use serde_json::{Map, Value};
use vigil_event::Timestamp;

use crate::{DeadLetterReason, DecodeError};

/// Bounds on RFC 5424 structured data, so a hostile line cannot make us build huge maps.
const MAX_SD_ELEMENTS: usize = 64;
const MAX_SD_PARAMS: usize = 256;

/// The header's timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stamp {
    /// A complete timestamp (RFC 3339 / RFC 5424).
    Absolute(Timestamp),
    /// RFC 3164 `Mmm dd hh:mm:ss[.frac]`: the year is not written.
    YearLess { month: u32, day: u32, hour: u32, minute: u32, second: u32, nanos: u32 },
    /// RFC 5424 NILVALUE.
    Nil,
}

/// A parsed header; `msg` is what follows it.
#[derive(Debug, Clone)]
pub(crate) struct Header<'a> {
    pub pri: Option<u8>,
    pub stamp: Stamp,
    pub host: Option<&'a str>,
    pub app: Option<&'a str>,
    pub procid: Option<&'a str>,
    pub msgid: Option<&'a str>,
    /// RFC 5424 structured data: `{SD-ID: {param: value | [values]}}`.
    pub sd: Option<Map<String, Value>>,
    pub msg: &'a str,
}

fn malformed(message: impl Into<String>) -> DecodeError {
    DecodeError::new(DeadLetterReason::Malformed, message)
}

/// `<PRI>` at the start of `line`: the value and the rest, `None` when there is none.
fn split_pri(line: &str) -> Result<Option<(u8, &str)>, DecodeError> {
    let Some(rest) = line.strip_prefix('<') else { return Ok(None) };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 3 || rest.as_bytes().get(digits) != Some(&b'>') {
        return Err(malformed("syslog PRI must be `<` 1-3 digits `>` (e.g. `<34>`)"));
    }
    let value: u16 = rest[..digits].parse().map_err(|_| malformed("syslog PRI is not a number"))?;
    let pri = u8::try_from(value).ok().filter(|p| *p <= 191).ok_or_else(|| {
        DecodeError::new(DeadLetterReason::InvalidField, format!("syslog PRI {value} is out of range 0-191"))
    })?;
    Ok(Some((pri, &rest[digits + 1..])))
}

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

fn two_digits(b: &[u8], at: usize) -> Option<u32> {
    let hi = *b.get(at)?;
    let lo = *b.get(at + 1)?;
    if hi.is_ascii_digit() && lo.is_ascii_digit() {
        Some(u32::from(hi - b'0') * 10 + u32::from(lo - b'0'))
    } else {
        None
    }
}

/// `Mmm dd hh:mm:ss[.frac]` at the start of `text` (day space- or zero-padded, or a
/// single digit): the stamp and the byte length it took.
pub(crate) fn bsd_stamp(text: &str) -> Option<(Stamp, usize)> {
    let b = text.as_bytes();
    let month_name = text.get(..3)?;
    let month = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(month_name))? as u32 + 1;
    if b.get(3) != Some(&b' ') {
        return None;
    }
    let mut i = 4;
    if b.get(i) == Some(&b' ') {
        i += 1;
    }
    let day_digits = b[i.min(b.len())..].iter().take_while(|c| c.is_ascii_digit()).count();
    let day: u32 = match day_digits {
        1 => u32::from(*b.get(i)? - b'0'),
        2 => two_digits(b, i)?,
        _ => return None,
    };
    i += day_digits;
    if b.get(i) != Some(&b' ') {
        return None;
    }
    i += 1;
    let hour = two_digits(b, i)?;
    let minute = two_digits(b, i + 3)?;
    let second = two_digits(b, i + 6)?;
    if b.get(i + 2) != Some(&b':') || b.get(i + 5) != Some(&b':') {
        return None;
    }
    i += 8;
    let mut nanos = 0;
    if b.get(i) == Some(&b'.') {
        let frac = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if frac == 0 {
            return None;
        }
        let mut scale = 100_000_000;
        for d in &b[i + 1..i + 1 + frac.min(9)] {
            nanos += u32::from(d - b'0') * scale;
            scale /= 10;
        }
        i += 1 + frac;
    }
    if !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    Some((Stamp::YearLess { month, day, hour, minute, second, nanos }, i))
}

/// Whether `text` starts like an RFC 3339 date-time (`YYYY-MM-DDT`).
pub(crate) fn starts_iso(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() > 11
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[7] == b'-'
        && (b[10] == b'T' || b[10] == b't')
        && b[5..7].iter().chain(&b[8..10]).all(u8::is_ascii_digit)
}

/// Splits off the first space-delimited token.
fn token(text: &str) -> (&str, &str) {
    match text.find(' ') {
        Some(i) => (&text[..i], &text[i + 1..]),
        None => (text, ""),
    }
}

/// Parses the header of one line.
pub(crate) fn parse(line: &str) -> Result<Header<'_>, DecodeError> {
    let (pri, rest) = match split_pri(line)? {
        Some((pri, rest)) => (Some(pri), rest),
        None => (None, line),
    };
    if pri.is_some() {
        if let Some(after) = rest.strip_prefix("1 ") {
            return parse_5424(pri, after);
        }
    }
    let (stamp, after) = if let Some((stamp, len)) = bsd_stamp(rest) {
        (stamp, &rest[len..])
    } else if starts_iso(rest) {
        let (text, _) = token(rest);
        let time = vigil_event::parse_timestamp(text)
            .ok_or_else(|| malformed(format!("syslog timestamp `{}` is not RFC 3339", truncate(text, 40))))?;
        (Stamp::Absolute(time), &rest[text.len()..])
    } else {
        return Err(malformed(format!(
            "no syslog timestamp: expected `Mmm dd hh:mm:ss` (RFC 3164), an RFC 3339 time, or `<PRI>1 ` (RFC 5424) at `{}`",
            truncate(rest, 40)
        )));
    };
    let Some(after) = after.strip_prefix(' ') else {
        if after.is_empty() {
            return Ok(Header { pri, stamp, host: None, app: None, procid: None, msgid: None, sd: None, msg: "" });
        }
        return Err(malformed("syslog timestamp must be followed by a space"));
    };
    // HOSTNAME: absent when the line goes straight to a tag (`sshd[1]: …`), empty when
    // the writer left a blank (`10:21:43  sshd[1332]: …`, sysklogd for local messages).
    let (host, after) = if after.starts_with(' ') {
        (None, after.trim_start_matches(' '))
    } else {
        let (first, rest) = token(after);
        if first.ends_with(':') {
            (None, after)
        } else {
            (Some(first).filter(|h| !h.is_empty()), rest.trim_start_matches(' '))
        }
    };
    let (app, procid, msg) = split_tag(after);
    Ok(Header { pri, stamp, host, app, procid, msgid: None, sd: None, msg })
}

/// RFC 3164 TAG: `prog[pid]: msg`, `prog: msg`, or a bare `prog msg` (the tag ends at
/// the first character that cannot be part of it, RFC 3164 §4.1.3).
fn split_tag(text: &str) -> (Option<&str>, Option<&str>, &str) {
    let Some(end) = text.find(['[', ':', ' ']) else {
        return (None, None, text);
    };
    let app = Some(&text[..end]).filter(|a| !a.is_empty() && a.len() <= 128);
    let bytes = text.as_bytes();
    match bytes.get(end) {
        Some(b'[') => {
            let Some(close) = text[end..].find(']').map(|i| end + i) else {
                return (None, None, text);
            };
            let pid = Some(&text[end + 1..close]).filter(|p| !p.is_empty());
            let rest = &text[close + 1..];
            let rest = rest.strip_prefix(':').unwrap_or(rest);
            (app, pid, rest.strip_prefix(' ').unwrap_or(rest))
        }
        Some(b':') => {
            let rest = &text[end + 1..];
            (app, None, rest.strip_prefix(' ').unwrap_or(rest))
        }
        _ => (app, None, &text[end + 1..]),
    }
}

/// `PRI 1 ` has been read; parses the rest of an RFC 5424 header.
fn parse_5424(pri: Option<u8>, text: &str) -> Result<Header<'_>, DecodeError> {
    fn nil(s: &str) -> Option<&str> {
        Some(s).filter(|s| *s != "-")
    }
    let mut rest = text;
    let mut fields: [&str; 5] = [""; 5];
    let names = ["TIMESTAMP", "HOSTNAME", "APP-NAME", "PROCID", "MSGID"];
    for (slot, name) in fields.iter_mut().zip(names) {
        let (tok, after) = token(rest);
        if tok.is_empty() {
            return Err(malformed(format!("RFC 5424 header field {name} is missing (use `-` for none)")));
        }
        *slot = tok;
        rest = after;
    }
    let [ts, host, app, procid, msgid] = fields;
    let stamp = match ts {
        "-" => Stamp::Nil,
        text => Stamp::Absolute(
            vigil_event::parse_timestamp(text)
                .ok_or_else(|| malformed(format!("RFC 5424 TIMESTAMP `{}` is not RFC 3339", truncate(text, 40))))?,
        ),
    };
    let (sd, msg) = if let Some(after) = rest.strip_prefix('-') {
        (None, after)
    } else if rest.starts_with('[') {
        let (sd, after) = parse_sd(rest)?;
        (Some(sd), after)
    } else {
        return Err(malformed("RFC 5424 STRUCTURED-DATA must be `-` or `[id param=\"value\"]`"));
    };
    let msg = msg.strip_prefix(' ').unwrap_or(msg);
    // RFC 5424 §6.4: a UTF-8 MSG may start with a BOM.
    let msg = msg.strip_prefix('\u{feff}').unwrap_or(msg);
    Ok(Header { pri, stamp, host: nil(host), app: nil(app), procid: nil(procid), msgid: nil(msgid), sd, msg })
}

/// One or more `[SD-ID param="value" …]` elements; returns them and the text after.
fn parse_sd(mut text: &str) -> Result<(Map<String, Value>, &str), DecodeError> {
    let mut sd = Map::new();
    let mut elements = 0;
    let mut params = 0;
    while let Some(body) = text.strip_prefix('[') {
        elements += 1;
        if elements > MAX_SD_ELEMENTS {
            return Err(DecodeError::new(
                DeadLetterReason::TooLarge,
                format!("RFC 5424 STRUCTURED-DATA has more than {MAX_SD_ELEMENTS} elements"),
            ));
        }
        let id_end = body.find([' ', ']']).ok_or_else(|| malformed("RFC 5424 SD-ELEMENT is not closed by `]`"))?;
        let id = &body[..id_end];
        if id.is_empty() || id.contains(['=', '"']) {
            return Err(malformed("RFC 5424 SD-ID must be a name without `=`, `\"` or spaces"));
        }
        let mut element = Map::new();
        let mut rest = &body[id_end..];
        loop {
            rest = rest.trim_start_matches(' ');
            if let Some(after) = rest.strip_prefix(']') {
                rest = after;
                break;
            }
            let eq = rest.find('=').ok_or_else(|| malformed(format!("RFC 5424 SD-PARAM in `{id}` lacks `=`")))?;
            let name = &rest[..eq];
            if name.is_empty() || name.contains([' ', ']', '"']) {
                return Err(malformed(format!("RFC 5424 SD-PARAM name in `{id}` is not a name")));
            }
            let quoted = rest[eq + 1..]
                .strip_prefix('"')
                .ok_or_else(|| malformed(format!("RFC 5424 SD-PARAM `{id}.{name}` value must be in double quotes")))?;
            let (value, after) = sd_value(quoted)
                .ok_or_else(|| malformed(format!("RFC 5424 SD-PARAM `{id}.{name}` value is not closed by `\"`")))?;
            params += 1;
            if params > MAX_SD_PARAMS {
                return Err(DecodeError::new(
                    DeadLetterReason::TooLarge,
                    format!("RFC 5424 STRUCTURED-DATA has more than {MAX_SD_PARAMS} parameters"),
                ));
            }
            // A parameter may repeat (RFC 5424 §6.3.3): keep every value.
            match element.get_mut(name) {
                Some(Value::Array(values)) => values.push(Value::String(value)),
                Some(existing) => {
                    let first = existing.take();
                    *existing = Value::Array(vec![first, Value::String(value)]);
                }
                None => {
                    element.insert(name.to_owned(), Value::String(value));
                }
            }
            rest = after;
        }
        sd.insert(id.to_owned(), Value::Object(element));
        text = rest;
    }
    Ok((sd, text))
}

/// A PARAM-VALUE after its opening quote: unescaped, and the text after the closing quote.
fn sd_value(text: &str) -> Option<(String, &str)> {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((value, &text[i + 1..])),
            '\\' => match chars.next() {
                // Only `"`, `\` and `]` are escapes; any other backslash is kept as is.
                Some((_, e @ ('"' | '\\' | ']'))) => value.push(e),
                Some((_, other)) => {
                    value.push('\\');
                    value.push(other);
                }
                None => return None,
            },
            c => value.push(c),
        }
    }
    None
}

/// At most `max` bytes of `text` (on a char boundary), for error messages.
pub(crate) fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bsd_header_with_pid_and_padded_day() {
        let h = parse("Feb  9 21:19:40 precise32 sshd[8317]: subsystem request for sftp").unwrap();
        assert_eq!(h.stamp, Stamp::YearLess { month: 2, day: 9, hour: 21, minute: 19, second: 40, nanos: 0 });
        assert_eq!((h.host, h.app, h.procid), (Some("precise32"), Some("sshd"), Some("8317")));
        assert_eq!(h.msg, "subsystem request for sftp");
    }

    #[test]
    fn bsd_header_variants() {
        // Empty hostname (sysklogd local message).
        let h = parse("Feb 22 10:21:43  sshd[1332]: last message repeated 2 times").unwrap();
        assert_eq!(
            (h.host, h.app, h.procid, h.msg),
            (None, Some("sshd"), Some("1332"), "last message repeated 2 times")
        );
        // Tag without pid; PAM module in the program name.
        let h = parse("<38>Jun 14 15:16:01 combo sshd(pam_unix)[19939]: check pass; user unknown").unwrap();
        assert_eq!((h.pri, h.app, h.procid), (Some(38), Some("sshd(pam_unix)"), Some("19939")));
        let h = parse("Jun 19 04:09:11 combo syslogd 1.4.1: restart.").unwrap();
        assert_eq!((h.app, h.msg), (Some("syslogd"), "1.4.1: restart."));
        // No hostname at all.
        let h = parse("Jun 19 04:09:11 kernel: boot").unwrap();
        assert_eq!((h.host, h.app, h.msg), (None, Some("kernel"), "boot"));
        // Fractional seconds.
        let h = parse("Jun 19 04:09:11.250 h p: m").unwrap();
        assert!(matches!(h.stamp, Stamp::YearLess { nanos: 250_000_000, .. }));
    }

    #[test]
    fn iso_header() {
        let h = parse("2024-01-02T03:04:05.123456+01:00 web1 sudo: alice : TTY=pts/0 ; COMMAND=/bin/ls").unwrap();
        let Stamp::Absolute(t) = h.stamp else { panic!("absolute") };
        assert_eq!(t.to_rfc3339(), "2024-01-02T02:04:05.123456+00:00");
        assert_eq!((h.host, h.app, h.procid), (Some("web1"), Some("sudo"), None));
    }

    #[test]
    fn rfc5424_with_structured_data_and_bom() {
        let line = "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog 99 ID47 \
                    [exampleSDID@32473 iut=\"3\" eventSource=\"App\\\"lication\\]\" x=\"1\" x=\"2\"][meta seq=\"7\"] \u{feff}An application event";
        let h = parse(line).unwrap();
        assert_eq!(
            (h.pri, h.host, h.app, h.procid, h.msgid),
            (Some(165), Some("mymachine.example.com"), Some("evntslog"), Some("99"), Some("ID47"))
        );
        let sd = Value::Object(h.sd.unwrap());
        assert_eq!(sd["exampleSDID@32473"]["eventSource"], "App\"lication]");
        assert_eq!(sd["exampleSDID@32473"]["x"], serde_json::json!(["1", "2"]));
        assert_eq!(sd["meta"]["seq"], "7");
        assert_eq!(h.msg, "An application event");
    }

    #[test]
    fn rfc5424_nil_values() {
        let h = parse("<13>1 - - - - - -").unwrap();
        assert_eq!((h.stamp, h.host, h.app, h.msg), (Stamp::Nil, None, None, ""));
        let h = parse("<13>1 2020-01-01T00:00:00Z h a - - - hello").unwrap();
        assert_eq!((h.procid, h.msg), (None, "hello"));
    }

    #[test]
    fn errors_name_the_problem() {
        let e = parse("<999>Jan  1 00:00:00 h p: m").unwrap_err();
        assert_eq!(e.reason, DeadLetterReason::InvalidField);
        assert_eq!(parse("<3x>Jan").unwrap_err().reason, DeadLetterReason::Malformed);
        assert!(parse("hello world").unwrap_err().message.contains("no syslog timestamp"));
        assert!(parse("<13>1 2020-13-45T00:00:00Z h a - - -").unwrap_err().message.contains("TIMESTAMP"));
        assert!(parse("<13>1 - h a - - [id x=1]").unwrap_err().message.contains("double quotes"));
        assert!(parse("<13>1 - h a - - [id x=\"1").unwrap_err().message.contains("not closed"));
        assert!(parse("<13>1 - h").unwrap_err().message.contains("APP-NAME"));
        assert!(parse("Jan 32 00:00:00 h p: m").is_err());
    }
}
