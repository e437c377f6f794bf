//! A check shared by the JSON decoders: records that a typed serde parse accepts but
//! `serde_json::Value` would not. The raw record is spliced into the Sigma view, which
//! must stay JSON the evaluator can read.

use crate::{DeadLetterReason, DecodeError};

/// Whether `text` (JSON that a typed parse accepted) is also accepted by
/// `serde_json::Value`. serde skips the members it does not map without converting them,
/// so a number that overflows `f64` (`1e999`), a lone UTF-16 surrogate escape (`"\ud800"`)
/// or nesting deeper than serde_json's limit of 128 inside an ignored member passes the
/// typed parse; but the raw record is spliced into the Sigma view, which must stay JSON
/// that `Value` accepts. One pass over the bytes.
pub(crate) fn value_safe(text: &str) -> bool {
    let bytes = text.as_bytes();
    let hex4 = |at: usize| -> Option<u32> {
        let digits = std::str::from_utf8(bytes.get(at..at + 4)?).ok()?;
        u32::from_str_radix(digits, 16).ok()
    };
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(&c) = bytes.get(i) {
        match c {
            b'"' => {
                i += 1;
                while let Some(&s) = bytes.get(i) {
                    match s {
                        b'"' => break,
                        b'\\' if bytes.get(i + 1) == Some(&b'u') => match hex4(i + 2) {
                            Some(0xD800..=0xDBFF) => {
                                let low =
                                    (bytes.get(i + 6..i + 8) == Some(b"\\u".as_slice())).then(|| hex4(i + 8)).flatten();
                                if !matches!(low, Some(0xDC00..=0xDFFF)) {
                                    return false;
                                }
                                i += 12;
                            }
                            Some(0xDC00..=0xDFFF) | None => return false,
                            Some(_) => i += 6,
                        },
                        b'\\' => i += 2,
                        _ => i += 1,
                    }
                }
                i += 1;
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > 127 {
                    return false;
                }
                i += 1;
            }
            b']' | b'}' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while bytes.get(i).is_some_and(|b| matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')) {
                    i += 1;
                }
                let number = bytes.get(start..i).unwrap_or_default();
                // Only exponents and very long digit runs can overflow.
                if number.len() > 300 || number.iter().any(|b| matches!(b, b'e' | b'E')) {
                    let fits = std::str::from_utf8(number)
                        .ok()
                        .and_then(|s| s.parse::<f64>().ok())
                        .is_some_and(f64::is_finite);
                    if !fits {
                        return false;
                    }
                }
            }
            _ => i += 1,
        }
    }
    true
}

/// The dead letter for a record [`value_safe`] rejects.
pub(crate) fn not_value_safe(what: &str) -> DecodeError {
    DecodeError::new(
        DeadLetterReason::InvalidField,
        format!(
            "{what} holds a number too large for a 64-bit float, an unpaired UTF-16 surrogate escape, or nesting \
             deeper than 127 levels"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn value_safe_matches_serde_json_value() {
        let deep = |n: usize| format!("{{\"x\":{}1{}}}", "[".repeat(n), "]".repeat(n));
        let cases = [
            r#"{"a":"\ud83d\ude00","b":"\u00e9\\u","c":"\\ud800"}"#.to_owned(),
            r#"{"a":"\ud800"}"#.to_owned(),
            r#"{"a":"\udc00x"}"#.to_owned(),
            r#"{"a":"\ud800\u0041"}"#.to_owned(),
            r#"{"a":1e999}"#.to_owned(),
            deep(126),
            deep(127),
        ];
        for case in &cases {
            let value_ok = serde_json::from_str::<Value>(case).is_ok();
            assert_eq!(value_safe(case), value_ok, "{case}");
        }
    }

    #[test]
    fn overflowing_numbers_are_found_outside_strings_only() {
        assert!(value_safe(r#"{"a":1e308,"b":-2.5E-400,"c":"1e999","d":"\"1e999"}"#));
        assert!(!value_safe(r#"{"a":[1,2,1E999]}"#));
        assert!(!value_safe(&format!("[{}]", "9".repeat(400))));
        assert!(value_safe(r#"{"unterminated":"1e999"#));
    }
}
