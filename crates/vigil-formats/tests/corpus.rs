//! Reading the shared corpus (`VIGIL_CORPUS`): Sigma regression data, EVTX samples and
//! the benchmark sample. Findings that are facts about the data rather than about this
//! crate are printed, not asserted.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use common::{corpus, read_all};
use serde_json::Value;
use vigil_formats::{discover, InputFile, InputKind, ReadOptions};

fn say(msg: &str) {
    // Straight to stderr so the findings show in a normal `cargo test` run.
    let _ = writeln!(std::io::stderr(), "{msg}");
}

fn regression(corpus: &Path) -> PathBuf {
    corpus.join("sigma/regression")
}

/// A JSON value with object keys sorted, for comparing documents.
fn canonical(v: &Value) -> String {
    // serde_json's Map is a BTreeMap here (no preserve_order), so to_string is canonical.
    v.to_string()
}

/// `v` with surrounding blanks trimmed from every string: the regression dumps were made
/// by a tool that trims them, the EVTX records keep them.
fn trimmed(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(s.trim().to_string()),
        Value::Array(a) => Value::Array(a.iter().map(trimmed).collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), trimmed(v))).collect()),
        other => other.clone(),
    }
}

#[test]
fn regression_data_discovery_skips_info_yml() {
    let Some(corpus) = corpus() else { return };
    let dir = regression(&corpus).join("regression_data");
    let found = discover(&[dir]).unwrap();

    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for f in &found.files {
        *kinds.entry(f.kind.as_str()).or_default() += 1;
        let name = f.path.file_name().unwrap().to_string_lossy();
        assert_ne!(name, "info.yml");
        if name.ends_with(".evtx") {
            assert_eq!(f.kind, InputKind::Evtx, "{}", f.path.display());
        }
        if name.ends_with(".json") {
            assert!(matches!(f.kind, InputKind::Json | InputKind::Jsonl), "{}", f.path.display());
        }
    }
    let info_yml = found.skipped.iter().filter(|(p, _)| p.file_name().is_some_and(|n| n == "info.yml")).count();
    assert!(info_yml > 0);
    assert_eq!(kinds.get("evtx").copied().unwrap_or(0), 202);
    say(&format!(
        "regression_data: {} files {kinds:?}, {} skipped ({info_yml} info.yml)",
        found.files.len(),
        found.skipped.len()
    ));

    // Deterministic: the same list twice.
    let again = discover(&[regression(&corpus).join("regression_data")]).unwrap();
    assert_eq!(found, again);
}

/// Every EVTX record in regression_data parses and has Event.System.EventID; the records
/// are compared with the evtx_dump-style .json beside each .evtx and with
/// events_nested.jsonl.
#[test]
fn regression_evtx_records_match_json_dumps() {
    let Some(corpus) = corpus() else { return };
    let reg = regression(&corpus);
    let found = discover(&[reg.join("regression_data")]).unwrap();
    let opts = ReadOptions::default();

    let mut evtx_records = Vec::new();
    let mut json_records = 0usize;
    let mut same_as_dump = 0usize;
    let mut differs_from_dump = Vec::new();
    for f in found.files.iter().filter(|f| f.kind == InputKind::Evtx) {
        let (recs, bad, stats) = read_all(f, &opts);
        stats.unwrap();
        assert!(bad.is_empty(), "{}: {bad:?}", f.path.display());
        assert!(!recs.is_empty(), "{}", f.path.display());
        let values: Vec<Value> = recs
            .iter()
            .map(|(pos, text)| {
                let v: Value = serde_json::from_str(text).unwrap();
                assert!(
                    v["Event"]["System"]["EventID"].is_number(),
                    "{}: no Event.System.EventID in {text}",
                    f.path.display()
                );
                // The position is the record header's number, which in exported or
                // trimmed logs differs from System.EventRecordID (here it restarts at 1).
                assert!(*pos >= 1);
                assert!(v["Event"]["#attributes"].is_object());
                v
            })
            .collect();

        // The .json beside it (a whole-file JSON dump of the same records).
        let dump = f.path.with_extension("json");
        if dump.exists() {
            let size = fs::metadata(&dump).unwrap().len();
            let input = InputFile { path: dump.clone(), kind: InputKind::Json, size };
            let (drecs, dbad, _) = read_all(&input, &opts);
            assert!(dbad.is_empty(), "{}: {dbad:?}", dump.display());
            assert_eq!(drecs.len(), values.len(), "{}", dump.display());
            json_records += drecs.len();
            for (v, (_, d)) in values.iter().zip(&drecs) {
                let d: Value = serde_json::from_str(d).unwrap();
                if canonical(v) == canonical(&d) {
                    same_as_dump += 1;
                } else {
                    differs_from_dump.push(dump.clone());
                }
            }
        }
        evtx_records.extend(values);
    }

    // Same structure as evtx_dump for every record: the differences seen are in string
    // values only (trailing blanks trimmed in the dumps); count them to notice changes.
    say(&format!(
        "regression_data: {} EVTX records, {json_records} records in the .json dumps, \
         {same_as_dump} identical to their dump, {} differ",
        evtx_records.len(),
        differs_from_dump.len()
    ));
    assert_eq!(evtx_records.len(), json_records);

    // events_nested.jsonl is meant to hold the same events.
    let nested = reg.join("events_nested.jsonl");
    let input = InputFile { size: fs::metadata(&nested).unwrap().len(), path: nested, kind: InputKind::Jsonl };
    let (lines, bad, _) = read_all(&input, &opts);
    assert!(bad.is_empty());
    let mut nested_counts: HashMap<String, usize> = HashMap::new();
    let mut nested_ids: HashMap<(String, u64), usize> = HashMap::new();
    for (_, text) in &lines {
        let v: Value = serde_json::from_str(text).unwrap();
        *nested_counts.entry(canonical(&v)).or_default() += 1;
        *nested_ids.entry(record_key(&v)).or_default() += 1;
    }
    let mut trimmed_counts: HashMap<String, usize> = HashMap::new();
    for (_, text) in &lines {
        let v: Value = serde_json::from_str(text).unwrap();
        *trimmed_counts.entry(canonical(&trimmed(&v))).or_default() += 1;
    }
    let mut exact = 0;
    let mut by_key = 0;
    let mut after_trim = 0;
    for v in &evtx_records {
        if let Some(n) = trimmed_counts.get_mut(&canonical(&trimmed(v))).filter(|n| **n > 0) {
            *n -= 1;
            after_trim += 1;
        }
        if let Some(n) = nested_counts.get_mut(&canonical(v)).filter(|n| **n > 0) {
            *n -= 1;
            exact += 1;
        }
        if let Some(n) = nested_ids.get_mut(&record_key(v)).filter(|n| **n > 0) {
            *n -= 1;
            by_key += 1;
        }
    }
    say(&format!(
        "EVTX vs events_nested.jsonl: {} EVTX records, {} JSONL lines; \
         {exact} identical documents, {after_trim} identical once strings are trimmed, \
         {by_key} matched by (Computer, EventRecordID)",
        evtx_records.len(),
        lines.len()
    ));
    assert_eq!(lines.len(), 238);
}

fn record_key(v: &Value) -> (String, u64) {
    let sys = &v["Event"]["System"];
    (sys["Computer"].as_str().unwrap_or_default().to_string(), sys["EventRecordID"].as_u64().unwrap_or(0))
}

#[test]
fn regression_jsonl_files() {
    let Some(corpus) = corpus() else { return };
    for name in ["events_flat.jsonl", "events_nested.jsonl"] {
        let found = discover(&[regression(&corpus).join(name)]).unwrap();
        assert_eq!(found.files.len(), 1);
        let (recs, bad, stats) = read_all(&found.files[0], &ReadOptions::default());
        let stats = stats.unwrap();
        assert!(bad.is_empty(), "{name}: {bad:?}");
        assert_eq!(recs.len(), 238, "{name}");
        let positions: Vec<u64> = recs.iter().map(|r| r.0).collect();
        assert_eq!(positions, (1..=238).collect::<Vec<u64>>(), "{name}");
        for (_, text) in &recs {
            serde_json::from_str::<Value>(text).unwrap();
        }
        assert_eq!(stats.bytes, found.files[0].size);
    }
}

#[test]
fn bench_sample_gz() {
    let Some(corpus) = corpus() else { return };
    let found = discover(&[corpus.join("bench/hsample_flat.jsonl.gz")]).unwrap();
    assert_eq!(found.files[0].kind, InputKind::JsonlGz);
    let (recs, bad, stats) = read_all(&found.files[0], &ReadOptions::default());
    let stats = stats.unwrap();
    assert!(bad.is_empty());
    assert_eq!(recs.len() as u64, stats.records);
    assert!(stats.records > 20_000, "{}", stats.records);
    // Parsing every record in a debug build is slow; every 97th is a fair sample.
    for (_, text) in recs.iter().step_by(97) {
        let v: Value = serde_json::from_str(text).unwrap();
        assert!(v.is_object());
    }
    say(&format!("hsample_flat.jsonl.gz: {} records, {} bytes decompressed", stats.records, stats.bytes));
}

/// The EVTX samples come with python-evtx XML dumps: the record ids must agree.
#[test]
fn evtx_samples_agree_with_python_evtx_dumps() {
    let Some(corpus) = corpus() else { return };
    let found = discover(&[corpus.join("samples/evtx")]).unwrap();
    let evtx: Vec<&InputFile> = found.files.iter().filter(|f| f.kind == InputKind::Evtx).collect();
    assert!(evtx.len() >= 30, "{}", evtx.len());
    let mut total = 0;
    let mut bad_total = 0;
    for f in evtx {
        let (recs, bad, stats) = read_all(f, &ReadOptions::default());
        stats.unwrap();
        bad_total += bad.len();
        total += recs.len();
        let positions: Vec<u64> = recs.iter().map(|r| r.0).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
        let mut ids: Vec<u64> = recs
            .iter()
            .map(|(_, text)| {
                let v: Value = serde_json::from_str(text).unwrap();
                v["Event"]["System"]["EventRecordID"].as_u64().unwrap()
            })
            .collect();
        ids.sort_unstable();

        let name = f.path.file_name().unwrap().to_string_lossy();
        let xml = f.path.parent().unwrap().join("xml-dump-python-evtx").join(format!("{name}.xml"));
        let Ok(xml) = fs::read_to_string(&xml) else {
            continue;
        };
        let mut xml_ids: Vec<u64> =
            xml.split("<EventRecordID>").skip(1).map(|s| s[..s.find('<').unwrap()].trim().parse().unwrap()).collect();
        xml_ids.sort_unstable();
        assert_eq!(ids, xml_ids, "{}", f.path.display());
    }
    say(&format!("samples/evtx: {total} records, {bad_total} bad records"));
}

/// A damaged record is reported as bad and the records after it are still read.
#[test]
fn corrupt_evtx_record_is_bad_and_reading_goes_on() {
    let Some(corpus) = corpus() else { return };
    let src = corpus.join("samples/evtx/hayabusa-sample-evtx-DeepBlueCLI/password-spray.evtx");
    let mut bytes = fs::read(&src).unwrap();
    let clean = InputFile { size: bytes.len() as u64, path: src, kind: InputKind::Evtx };
    let (clean_recs, _, _) = read_all(&clean, &ReadOptions::default());

    // First chunk at 4096, its records after the 512-byte chunk header; each record
    // starts with magic 2a2a0000 and its u32 size. Overwrite the start of the third
    // record's BinXML body (after the 24-byte record header) with an invalid token.
    let mut offset = 4096 + 512;
    for _ in 0..2 {
        assert_eq!(&bytes[offset..offset + 4], b"\x2a\x2a\0\0");
        let size = u32::from_le_bytes(bytes[offset + 4..offset + 8].try_into().unwrap());
        offset += size as usize;
    }
    let record_id = u64::from_le_bytes(bytes[offset + 8..offset + 16].try_into().unwrap());
    bytes[offset + 24..offset + 40].fill(0xAB);

    let tmp = common::TempDir::new("evtxbad");
    let path = tmp.path().join("damaged.evtx");
    fs::write(&path, &bytes).unwrap();
    let damaged = InputFile { size: bytes.len() as u64, path, kind: InputKind::Evtx };
    let (recs, bad, stats) = read_all(&damaged, &ReadOptions::default());
    let stats = stats.unwrap();
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert_eq!(bad[0].position, record_id);
    assert!(bad[0].reason.contains("record"), "{}", bad[0].reason);
    assert_eq!(recs.len(), clean_recs.len() - 1);
    assert_eq!(stats.bad, 1);
    assert!(recs.iter().any(|(pos, _)| *pos > record_id));
    say(&format!("damaged EVTX record reported as: {}", bad[0].reason));
}
