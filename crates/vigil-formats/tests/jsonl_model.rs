//! The JSONL reader against a naive model (split on '\n'), over random inputs and
//! random buffer / batch / limit sizes: line boundaries, CRs, blank lines, invalid
//! UTF-8 and over-long lines must come out the same however the reads fall.

use proptest::prelude::*;
use vigil_formats::{read_bytes, InputKind, ReadOptions};

#[derive(Debug, PartialEq)]
enum Item {
    Record(u64, String),
    Bad(u64),
}

fn model(input: &[u8], max: usize) -> Vec<Item> {
    let mut out = Vec::new();
    let mut lines: Vec<&[u8]> = input.split(|b| *b == b'\n').collect();
    if input.ends_with(b"\n") || input.is_empty() {
        lines.pop();
    }
    for (i, line) in lines.into_iter().enumerate() {
        let pos = i as u64 + 1;
        let line = if pos == 1 { line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line) } else { line };
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        if line.len() > max {
            out.push(Item::Bad(pos));
            continue;
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match std::str::from_utf8(line) {
            Ok(s) => out.push(Item::Record(pos, s.to_string())),
            Err(_) => out.push(Item::Bad(pos)),
        }
    }
    out
}

fn line_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"{\"a\":1}".to_vec()),
        Just(Vec::new()),
        Just(b"  \t".to_vec()),
        Just(b"{\"x\":\"\xff\"}".to_vec()),
        Just("{\"é\":\"ü\"}".as_bytes().to_vec()),
        proptest::collection::vec(any::<u8>(), 0..40),
        "[a-z{}\":, ]{0,60}".prop_map(String::into_bytes),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn reader_matches_model(
        lines in proptest::collection::vec((line_strategy(), any::<bool>()), 0..20),
        no_final_newline in any::<bool>(),
        buffer in 1usize..64,
        batch in 1usize..128,
        max in 1usize..80,
    ) {
        let mut input = Vec::new();
        for (line, crlf) in &lines {
            input.extend_from_slice(line);
            input.extend_from_slice(if *crlf { b"\r\n" } else { b"\n" });
        }
        if no_final_newline && input.ends_with(b"\n") {
            input.pop();
        }
        let opts = ReadOptions { batch_bytes: batch, max_record_bytes: max, read_buffer_bytes: buffer };
        let mut got = Vec::new();
        let mut bad = Vec::new();
        let stats = read_bytes(
            Some(InputKind::Jsonl),
            &input,
            0,
            &opts,
            &mut |b| {
                for (pos, text) in b.iter() {
                    got.push(Item::Record(pos, text.to_string()));
                }
                true
            },
            &mut |b| bad.push(b.position),
        )
        .unwrap();
        // Merge by position to compare with the model's single sequence.
        got.extend(bad.into_iter().map(Item::Bad));
        got.sort_by_key(|item| match item { Item::Record(p, _) | Item::Bad(p) => *p });
        prop_assert_eq!(got, model(&input, max));
        prop_assert_eq!(stats.bytes, input.len() as u64);
    }
}

fn json_soup() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        Just("["),
        Just("]"),
        Just("{"),
        Just("}"),
        Just("\"a\""),
        Just(":"),
        Just(","),
        Just("1"),
        Just(" "),
        Just("\n"),
        Just("{\"k\": [1, {\"v\": null}]}"),
    ];
    proptest::collection::vec(token, 0..40).prop_map(|t| t.concat().into_bytes())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// What the fuzz target checks, on inputs shaped to reach the JSON reader's corners
    /// (nested and concatenated arrays, truncation, trailing garbage).
    #[test]
    fn json_reader_invariants(
        body in prop_oneof![json_soup(), proptest::collection::vec(any::<u8>(), 0..64)],
        hint in prop_oneof![Just(None), Just(Some(InputKind::Json)), Just(Some(InputKind::Jsonl))],
        batch in 1usize..64,
        max in 1usize..64,
    ) {
        let opts = ReadOptions { batch_bytes: batch, max_record_bytes: max, read_buffer_bytes: 7 };
        let mut records = 0u64;
        let mut bad = 0u64;
        let mut batch_bytes = 0u64;
        let stats = read_bytes(
            hint,
            &body,
            1,
            &opts,
            &mut |b| {
                batch_bytes += b.bytes_read;
                for (_, text) in b.iter() {
                    assert!(text.len() <= max);
                    if hint == Some(InputKind::Json) {
                        serde_json::from_str::<serde::de::IgnoredAny>(text).unwrap();
                    }
                }
                records += b.len() as u64;
                true
            },
            &mut |_| bad += 1,
        );
        let stats = match stats {
            // Sniffing may take random bytes for gzip or EVTX, which then fail as files.
            Err(_) if hint.is_none() => return Ok(()),
            other => other.unwrap(),
        };
        prop_assert_eq!(stats.records, records);
        prop_assert_eq!(stats.bad, bad);
        prop_assert!(batch_bytes <= stats.bytes);
        if hint.is_some() {
            prop_assert_eq!(stats.bytes, body.len() as u64);
        }
    }
}
