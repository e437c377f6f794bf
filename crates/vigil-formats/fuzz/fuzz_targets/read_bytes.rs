//! Arbitrary bytes as a file body through sniffing and the JSONL / whole-file JSON
//! readers (and, when the bytes start with the EVTX or gzip magic, those paths too).
//! Beyond "no panic", it checks the invariants consumers rely on.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde::de::IgnoredAny;
use vigil_formats::{read_bytes, InputKind, ReadOptions, BAD_RAW_CAP};

fuzz_target!(|data: &[u8]| {
    // The first byte picks the kind hint and small sizes, so that buffer, batch and
    // record-limit boundaries fall everywhere in the input.
    let Some((&ctl, body)) = data.split_first() else {
        return;
    };
    let hint = match ctl & 3 {
        0 => None,
        1 => Some(InputKind::Jsonl),
        2 => Some(InputKind::Json),
        _ => Some(InputKind::JsonlGz),
    };
    let opts = ReadOptions {
        batch_bytes: 1 + usize::from((ctl >> 2) & 7) * 37,
        max_record_bytes: 1 + usize::from(ctl >> 5) * 61,
        read_buffer_bytes: 1 + usize::from((ctl >> 2) & 7) * 5,
    };

    let mut records = 0u64;
    let mut bad = 0u64;
    let mut bytes = 0u64;
    let result = read_bytes(
        hint,
        body,
        9,
        &opts,
        &mut |batch| {
            assert_eq!(batch.source, 9);
            assert!(!batch.is_empty());
            bytes += batch.bytes_read;
            for (_, text) in batch.iter() {
                assert!(text.len() <= opts.max_record_bytes);
                match hint {
                    Some(InputKind::Jsonl | InputKind::JsonlGz) => {
                        assert!(!text.is_empty());
                        assert!(!text.contains('\n'));
                    }
                    // Whole-file JSON records are values serde_json already delimited.
                    Some(InputKind::Json) => {
                        serde_json::from_str::<IgnoredAny>(text).expect("record is JSON");
                    }
                    _ => {}
                }
            }
            records += batch.len() as u64;
            true
        },
        &mut |b| {
            assert_eq!(b.source, 9);
            assert!(b.raw.len() <= BAD_RAW_CAP);
            bad += 1;
        },
    );
    if let Ok(stats) = result {
        assert_eq!(stats.records, records);
        assert_eq!(stats.bad, bad);
        assert!(bytes <= stats.bytes);
        if hint == Some(InputKind::Jsonl) {
            assert_eq!(stats.bytes, body.len() as u64);
        }
    }
});
