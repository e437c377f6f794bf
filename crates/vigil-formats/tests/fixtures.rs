//! Reading the crate's own small fixtures, and files generated at run time.

mod common;

use std::fs;
use std::io::Write;
use std::path::PathBuf;

use common::{fixtures, read_all, TempDir};
use flate2::write::GzEncoder;
use flate2::Compression;
use vigil_formats::{discover, read_bytes, read_file, FormatError, InputFile, InputKind, ReadOptions};

fn file(name: &str, kind: InputKind) -> InputFile {
    let path = fixtures().join(name);
    let size = fs::metadata(&path).unwrap().len();
    InputFile { path, kind, size }
}

fn ids(recs: &[common::Rec]) -> Vec<i64> {
    recs.iter()
        .map(|(_, text)| {
            let v: serde_json::Value = serde_json::from_str(text).unwrap();
            v["id"].as_i64().unwrap()
        })
        .collect()
}

#[test]
fn discover_fixture_dir_sorts_sniffs_and_skips() {
    let found = discover(&[fixtures()]).unwrap();
    let names: Vec<(String, InputKind)> = found
        .files
        .iter()
        .map(|f| {
            let name = f.path.file_name().unwrap().to_string_lossy().into_owned();
            (name, f.kind)
        })
        .collect();
    assert_eq!(
        names,
        vec![
            ("broken_array.json".to_string(), InputKind::Json),
            ("concatenated.json".to_string(), InputKind::Json),
            ("events.log".to_string(), InputKind::Jsonl),
            ("notes.txt".to_string(), InputKind::Text),
            ("pretty_array.json".to_string(), InputKind::Json),
            ("small.jsonl".to_string(), InputKind::Jsonl),
        ]
    );
    let small = found.files.iter().find(|f| f.path.ends_with("small.jsonl"));
    assert_eq!(small.unwrap().size, 354);

    let skipped: Vec<String> =
        found.skipped.iter().map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(skipped, vec![".gitattributes", "info.yml"]);
}

#[test]
fn discover_missing_path_is_an_error() {
    let missing = fixtures().join("no-such-file.jsonl");
    match discover(std::slice::from_ref(&missing)) {
        Err(FormatError::NotFound { path }) => assert_eq!(path, missing),
        other => panic!("expected NotFound, got {other:?}"),
    }
}

#[test]
fn discover_lists_a_file_once_and_sniffs_explicit_files() {
    let small = fixtures().join("small.jsonl");
    let found = discover(&[small.clone(), fixtures(), small.clone()]).unwrap();
    assert_eq!(found.files.len(), 6);
    assert_eq!(found.files[0].path, small);

    // Named explicitly, an unknown extension is sniffed rather than skipped.
    let tmp = TempDir::new("explicit");
    let odd = tmp.path().join("events.out");
    fs::write(&odd, "{\"id\":1}\n").unwrap();
    let found = discover(&[odd]).unwrap();
    assert_eq!(found.files[0].kind, InputKind::Jsonl);
}

#[test]
fn jsonl_blank_crlf_invalid_utf8_and_long_lines() {
    let opts = ReadOptions { max_record_bytes: 100, ..ReadOptions::default() };
    let (recs, bad, stats) = read_all(&file("small.jsonl", InputKind::Jsonl), &opts);
    let stats = stats.unwrap();

    let positions: Vec<u64> = recs.iter().map(|r| r.0).collect();
    assert_eq!(positions, vec![1, 3, 7, 8]);
    assert_eq!(ids(&recs), vec![1, 3, 7, 8]);
    assert_eq!(recs[1].1, "{\"id\":3,\"msg\":\"crlf\"}", "CR must be stripped");
    assert!(recs[2].1.contains("café"));

    let bad_positions: Vec<u64> = bad.iter().map(|b| b.position).collect();
    assert_eq!(bad_positions, vec![4, 5]);
    assert!(bad[0].reason.contains("UTF-8"), "{}", bad[0].reason);
    assert!(bad[1].reason.contains("longer than"), "{}", bad[1].reason);
    assert!(bad.iter().all(|b| b.source == 3));

    assert_eq!(stats.records, 4);
    assert_eq!(stats.bad, 2);
    assert_eq!(stats.bytes, 354);
    assert!(!stats.stopped_early);

    // With the default limit the long line is a record.
    let (recs, bad, _) = read_all(&file("small.jsonl", InputKind::Jsonl), &ReadOptions::default());
    assert_eq!(recs.len(), 5);
    assert_eq!(bad.len(), 1);
}

#[test]
fn jsonl_batches_respect_batch_bytes_and_account_all_bytes() {
    let opts = ReadOptions { batch_bytes: 40, read_buffer_bytes: 16, ..ReadOptions::default() };
    let mut batches = Vec::new();
    let stats = read_file(
        &file("small.jsonl", InputKind::Jsonl),
        0,
        &opts,
        &mut |b| {
            batches.push(b);
            true
        },
        &mut |_| {},
    )
    .unwrap();
    assert!(batches.len() >= 3, "{}", batches.len());
    let total: u64 = batches.iter().map(|b| b.bytes_read).sum();
    assert_eq!(total, stats.bytes);
    for b in &batches {
        // Only a single record larger than the batch may exceed the target size.
        assert!(b.text.len() <= 40 || b.len() == 1, "{b:?}");
    }
}

#[test]
fn stopping_early() {
    let opts = ReadOptions { batch_bytes: 1, ..ReadOptions::default() };
    let mut seen = 0;
    let stats = read_file(
        &file("small.jsonl", InputKind::Jsonl),
        0,
        &opts,
        &mut |_| {
            seen += 1;
            seen < 2
        },
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(seen, 2);
    assert_eq!(stats.records, 2);
    assert!(stats.stopped_early);
}

#[test]
fn whole_file_json_array_and_concatenated() {
    let opts = ReadOptions::default();
    let (recs, bad, _) = read_all(&file("pretty_array.json", InputKind::Json), &opts);
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(ids(&recs), vec![1, 2, 3]);
    assert_eq!(recs.iter().map(|r| r.0).collect::<Vec<_>>(), vec![1, 2, 3]);
    assert!(recs[0].1.starts_with("{\n    \"id\": 1,"), "{}", recs[0].1);

    let (recs, bad, _) = read_all(&file("concatenated.json", InputKind::Json), &opts);
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(ids(&recs), vec![1, 2, 3]);
}

#[test]
fn whole_file_json_syntax_error_keeps_earlier_records() {
    let (recs, bad, stats) = read_all(&file("broken_array.json", InputKind::Json), &ReadOptions::default());
    assert_eq!(ids(&recs), vec![1, 2]);
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0].position, 3);
    assert!(bad[0].reason.contains("line 4"), "{}", bad[0].reason);
    assert!(String::from_utf8_lossy(&bad[0].raw).contains("\"oops\""));
    assert_eq!(stats.unwrap().bad, 1);
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

#[test]
fn gzip_jsonl_and_json_are_sniffed_after_decompression() {
    let tmp = TempDir::new("gz");
    let jsonl = fs::read(fixtures().join("small.jsonl")).unwrap();
    let pretty = fs::read(fixtures().join("pretty_array.json")).unwrap();

    // Two gzip members back to back, as `cat a.gz b.gz` makes: both must be read.
    let (first, second) = jsonl.split_at(30);
    let mut multi = gzip(first);
    multi.extend(gzip(second));
    fs::write(tmp.path().join("a.jsonl.gz"), &multi).unwrap();
    fs::write(tmp.path().join("b.json.gz"), gzip(&pretty)).unwrap();
    fs::write(tmp.path().join("c.log.gz"), gzip(b"{\"id\":9}\n")).unwrap();
    fs::write(tmp.path().join("d.gz"), b"not gzip at all").unwrap();

    let found = discover(&[tmp.path().to_path_buf()]).unwrap();
    let kinds: Vec<InputKind> = found.files.iter().map(|f| f.kind).collect();
    assert_eq!(kinds, vec![InputKind::JsonlGz, InputKind::JsonGz, InputKind::JsonlGz]);
    assert_eq!(found.skipped.len(), 1);
    assert_eq!(found.files[0].size, multi.len() as u64);

    let opts = ReadOptions { max_record_bytes: 100, ..ReadOptions::default() };
    let (recs, bad, stats) = read_all(&found.files[0], &opts);
    assert_eq!(ids(&recs), vec![1, 3, 7, 8]);
    assert_eq!(bad.len(), 2);
    assert_eq!(stats.unwrap().bytes, jsonl.len() as u64);

    let (recs, _, _) = read_all(&found.files[1], &opts);
    assert_eq!(ids(&recs), vec![1, 2, 3]);
}

#[test]
fn corrupt_gzip_is_a_file_error_after_the_good_records() {
    let tmp = TempDir::new("gzbad");
    let mut lines = String::new();
    for i in 0..2000 {
        lines.push_str(&format!("{{\"id\":{i},\"pad\":\"{}\"}}\n", "p".repeat(i % 50)));
    }
    let mut gz = gzip(lines.as_bytes());
    // Cut the stream short: a log still being written looks like this.
    gz.truncate(gz.len() / 2);
    let path = tmp.path().join("cut.jsonl.gz");
    fs::write(&path, &gz).unwrap();
    let input = InputFile { path: path.clone(), kind: InputKind::JsonlGz, size: gz.len() as u64 };
    let (recs, _, result) = read_all(&input, &ReadOptions::default());
    assert!(matches!(result, Err(FormatError::Io { .. })), "{result:?}");
    assert!(!recs.is_empty());
    assert_eq!(ids(&recs), (0..recs.len() as i64).collect::<Vec<_>>());
}

#[test]
fn read_bytes_sniffs_like_discover() {
    let mut recs = Vec::new();
    let stats = read_bytes(
        None,
        &gzip(b"[{\"id\":1},{\"id\":2}]"),
        0,
        &ReadOptions::default(),
        &mut |b| {
            recs.extend(b.iter().map(|(p, t)| (p, t.to_string())));
            true
        },
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(stats.records, 2);
    assert_eq!(ids(&recs), vec![1, 2]);

    // Arbitrary text is read as lines, for the consumer to reject.
    let stats = read_bytes(None, b"hello\nworld", 0, &ReadOptions::default(), &mut |_| true, &mut |_| {}).unwrap();
    assert_eq!(stats.records, 2);
}

#[test]
fn non_evtx_with_evtx_extension_is_skipped_and_evtx_magic_is_found() {
    let tmp = TempDir::new("evtxmagic");
    fs::write(tmp.path().join("fake.evtx"), b"{\"id\":1}\n").unwrap();
    // An unreadable-but-magic file is still classified as EVTX by its header...
    fs::write(tmp.path().join("saved.bak"), b"ElfFile\0garbage").unwrap();
    let found = discover(&[tmp.path().to_path_buf()]).unwrap();
    assert_eq!(found.files.len(), 1);
    assert_eq!(found.files[0].kind, InputKind::Evtx);
    assert!(found.skipped[0].1.contains("no EVTX file header"));
    // ...and reading it fails as a whole-file error, not a panic.
    let (recs, _, result) = read_all(&found.files[0], &ReadOptions::default());
    assert!(recs.is_empty());
    assert!(matches!(result, Err(FormatError::Evtx { .. })), "{result:?}");
}

#[test]
fn open_failure_is_an_io_error() {
    let input = InputFile { path: PathBuf::from("/definitely/not/here.jsonl"), kind: InputKind::Jsonl, size: 0 };
    let (_, _, result) = read_all(&input, &ReadOptions::default());
    assert!(matches!(result, Err(FormatError::Io { .. })));
}
