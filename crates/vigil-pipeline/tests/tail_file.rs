//! The file tail against real files in temporary directories.

mod tail_support;

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use tail_support::{wait_for, Recorder};
use vigil_normalize::SourceKind;
use vigil_pipeline::source::file_tail::{run_file_tail, FileTailConfig, SourceError, TailReport};
use vigil_store::Checkpoint;

fn config(paths: &[&Path]) -> FileTailConfig {
    FileTailConfig {
        paths: paths.iter().map(|p| p.to_str().unwrap().to_string()).collect(),
        poll_interval: Duration::from_millis(10),
        flush_interval: Duration::from_millis(20),
        rotate_wait: Duration::from_millis(50),
        ..FileTailConfig::default()
    }
}

/// A tail running on its own thread.
struct Running {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<Result<TailReport, SourceError>>,
}

fn start(cfg: FileTailConfig, checkpoints: Vec<Checkpoint>, recorder: &Recorder) -> Running {
    let stop = Arc::new(AtomicBool::new(false));
    let recorder = recorder.clone();
    let handle = {
        let stop = stop.clone();
        thread::spawn(move || run_file_tail(&cfg, &checkpoints, &recorder, &stop))
    };
    Running { stop, handle }
}

impl Running {
    fn stop(self) -> TailReport {
        self.stop.store(true, Ordering::Release);
        self.handle.join().expect("the tail thread panicked").expect("the tail failed")
    }
}

fn append(path: &Path, text: &[u8]) {
    let mut file = OpenOptions::new().create(true).append(true).open(path).unwrap();
    file.write_all(text).unwrap();
}

fn numbered(prefix: &str, range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("{prefix} {i:05}")).collect()
}

fn as_text(lines: &[String]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

#[test]
fn appended_lines_are_delivered_once_with_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    append(&path, b"line 1\nline 2\n");
    let recorder = Recorder::new();
    let mut cfg = config(&[&path]);
    cfg.kind = Some(SourceKind::Syslog);
    let tail = start(cfg, vec![], &recorder);
    recorder.wait_until("two lines", |r| r.line_count() == 2);
    append(&path, b"line 3\nli");
    append(&path, b"ne 4\r\nline 5\n");
    recorder.wait_until("five lines", |r| r.line_count() == 5);
    let report = tail.stop();

    let recorded = recorder.get();
    assert_eq!(recorded.texts(), ["line 1", "line 2", "line 3", "line 4", "line 5"]);
    assert_eq!(recorded.streams.len(), 1);
    let stream = &recorded.streams[0];
    assert_eq!(stream.origin, format!("file:{}", path.display()));
    assert_eq!(stream.kind, Some(SourceKind::Syslog));
    assert!(stream.finished, "stop finishes the stream");
    assert_eq!(stream.calls_after_finish, 0);
    let len = fs::metadata(&path).unwrap().len();
    let last_line = stream.batches.iter().flat_map(|b| &b.lines).last().unwrap();
    assert_eq!(last_line.position, len);
    for batch in &stream.batches {
        let checkpoint = batch.checkpoint.as_ref().expect("file batches carry a checkpoint");
        assert!(checkpoint.key.starts_with("fp:"));
        assert_eq!(checkpoint.location, path.display().to_string());
        if let Some(last) = batch.lines.last() {
            assert_eq!(checkpoint.offset, last.position, "the checkpoint is just after the batch's last line");
        }
    }
    assert_eq!(recorded.checkpoints()[0].offset, len);
    assert_eq!((report.lines, report.files_started, report.files_finished), (5, 1, 1));
}

#[test]
fn a_restart_resumes_from_the_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    append(&path, as_text(&numbered("first", 0..3)).as_bytes());
    let recorder = Recorder::new();
    let tail = start(config(&[&path]), vec![], &recorder);
    recorder.wait_until("three lines", |r| r.line_count() == 3);
    tail.stop();
    let checkpoints = recorder.get().checkpoints();
    assert_eq!(checkpoints.len(), 1);

    append(&path, as_text(&numbered("second", 0..2)).as_bytes());
    let again = Recorder::new();
    let tail = start(config(&[&path]), checkpoints.clone(), &again);
    again.wait_until("two new lines", |r| r.line_count() == 2);
    tail.stop();
    let recorded = again.get();
    assert_eq!(recorded.texts(), numbered("second", 0..2));
    let first = recorded.streams[0].batches.iter().flat_map(|b| &b.lines).next().unwrap();
    assert_eq!(first.position, checkpoints[0].offset + "second 00000\n".len() as u64);
}

#[test]
fn a_renamed_file_is_read_to_its_end_and_the_new_one_from_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.log");
    let mut writer = File::create(&path).unwrap();
    writer.write_all(b"old 1\nold 2\n").unwrap();
    let recorder = Recorder::new();
    let tail = start(config(&[&path]), vec![], &recorder);
    recorder.wait_until("the first lines", |r| r.line_count() == 2);

    // Lines written just before the rotation, not read yet; then the rename.
    writer.write_all(b"old 3\nold 4\n").unwrap();
    fs::rename(&path, dir.path().join("auth.log.1")).unwrap();
    append(&path, b"new 1\nnew 2\n");
    recorder.wait_until("all lines, old stream finished", |r| r.line_count() == 6 && r.finished() == 1);
    let report = tail.stop();

    let recorded = recorder.get();
    assert_eq!(recorded.streams.len(), 2);
    assert_eq!(recorded.streams[0].texts(), ["old 1", "old 2", "old 3", "old 4"]);
    assert_eq!(recorded.streams[1].texts(), ["new 1", "new 2"]);
    assert_ne!(
        recorded.streams[0].batches[0].checkpoint.as_ref().unwrap().key,
        recorded.streams[1].batches[0].checkpoint.as_ref().unwrap().key
    );
    assert_eq!(report.truncations, 0);
}

#[test]
fn a_deleted_file_that_was_open_is_read_to_its_end() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gone.log");
    let mut writer = File::create(&path).unwrap();
    writer.write_all(b"a\n").unwrap();
    let recorder = Recorder::new();
    let tail = start(config(&[&path]), vec![], &recorder);
    recorder.wait_until("the first line", |r| r.line_count() == 1);
    writer.write_all(b"b\nc\nunterminated").unwrap();
    fs::remove_file(&path).unwrap();
    recorder.wait_until("the stream finished", |r| r.finished() == 1);
    tail.stop();
    // The writer is gone, so its unterminated last line is sent as it is.
    assert_eq!(recorder.get().texts(), ["a", "b", "c", "unterminated"]);
}

#[test]
fn rotation_while_writing_loses_and_repeats_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    let recorder = Recorder::new();
    let pattern = dir.path().join("app.log*");
    let tail = start(config(&[&pattern]), vec![], &recorder);

    const LINES: usize = 3000;
    let writer = {
        let (dir, path) = (dir.path().to_path_buf(), path.clone());
        thread::spawn(move || {
            let mut file = File::create(&path).unwrap();
            for i in 0..LINES {
                if i > 0 && i % 250 == 0 {
                    fs::rename(&path, dir.join(format!("app.log.{}", i / 250))).unwrap();
                    file = File::create(&path).unwrap();
                }
                // Each line in two writes, so the tail sees partial lines too.
                write!(file, "line {i:05} ").unwrap();
                writeln!(file, "payload").unwrap();
            }
        })
    };
    writer.join().unwrap();
    recorder.wait_until("every line", |r| r.line_count() >= LINES);
    tail.stop();

    let recorded = recorder.get();
    let mut seen = HashSet::new();
    for stream in &recorded.streams {
        let numbers: Vec<usize> = stream.texts().iter().map(|t| t[5..10].parse().unwrap()).collect();
        assert!(numbers.windows(2).all(|w| w[0] + 1 == w[1]), "{}: out of order: {numbers:?}", stream.origin);
        for n in numbers {
            assert!(seen.insert(n), "line {n} delivered twice");
        }
    }
    assert_eq!(seen.len(), LINES);
}

#[test]
fn copytruncate_restarts_from_the_beginning() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    append(&path, b"a long first line of the old content\nsecond old line\nthird old line\n");
    let recorder = Recorder::new();
    let tail = start(config(&[&path]), vec![], &recorder);
    recorder.wait_until("the old lines", |r| r.line_count() == 3);
    fs::copy(&path, dir.path().join("app.log.1")).unwrap();
    OpenOptions::new().write(true).truncate(true).open(&path).unwrap();
    append(&path, b"new 1\nnew 2\n");
    recorder.wait_until("the new lines", |r| r.line_count() == 5);
    let report = tail.stop();
    assert_eq!(
        recorder.get().texts(),
        ["a long first line of the old content", "second old line", "third old line", "new 1", "new 2"]
    );
    assert_eq!(report.truncations, 1);
    assert!(report.notices.iter().any(|n| n.contains("truncated")), "{:?}", report.notices);
}

#[test]
fn a_file_rewritten_in_place_with_more_content_is_read_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    append(&path, b"old\n");
    let recorder = Recorder::new();
    let tail = start(config(&[&path]), vec![], &recorder);
    recorder.wait_until("the old line", |r| r.line_count() == 1);
    // Truncated and refilled past the old offset in one go: whether the tail sees the
    // empty file or only the new first line, it must start over.
    fs::write(&path, as_text(&numbered("new", 0..5))).unwrap();
    recorder.wait_until("the new lines", |r| r.line_count() == 6);
    let report = tail.stop();
    let mut expected = vec!["old".to_string()];
    expected.extend(numbered("new", 0..5));
    assert_eq!(recorder.get().texts(), expected);
    assert_eq!(report.truncations, 1);
}

#[test]
fn the_copy_of_a_copytruncated_file_supplies_the_lines_not_yet_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    append(&path, b"old 1\nold 2\n");
    let recorder = Recorder::new();
    let pattern = dir.path().join("app.log*");
    let tail = start(config(&[&pattern]), vec![], &recorder);
    recorder.wait_until("the first lines", |r| r.line_count() == 2);
    // "old 3" may or may not be read from app.log before the truncation; if not, the
    // copy has it, and continues exactly where app.log stopped.
    append(&path, b"old 3\n");
    fs::copy(&path, dir.path().join("app.log.1")).unwrap();
    OpenOptions::new().write(true).truncate(true).open(&path).unwrap();
    append(&path, b"new 1\n");
    recorder.wait_until("all lines", |r| r.line_count() >= 4 && r.texts().contains(&"old 3".to_string()));
    // One more line through app.log proves the tail is past everything written before.
    append(&path, b"new 2\n");
    recorder.wait_until("the last line", |r| r.texts().contains(&"new 2".to_string()));
    tail.stop();
    let mut texts = recorder.get().texts();
    texts.sort();
    assert_eq!(texts, ["new 1", "new 2", "old 1", "old 2", "old 3"]);
}

#[test]
fn globs_and_directories_find_files_including_later_ones() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let spool = dir.path().join("spool");
    fs::create_dir_all(logs.join("sub")).unwrap();
    fs::create_dir_all(&spool).unwrap();
    for (name, text) in [
        ("logs/a.log", "a\n"),
        ("logs/b.log", "b\n"),
        ("logs/c.txt", "c\n"),
        ("logs/.hidden.log", "hidden\n"),
        ("logs/sub/d.log", "d\n"),
        ("spool/x", "x\n"),
        ("spool/y.gz.not", "y\n"),
    ] {
        append(&dir.path().join(name), text.as_bytes());
    }
    let recorder = Recorder::new();
    let pattern = logs.join("*.log");
    let tail = start(config(&[&pattern, &spool]), vec![], &recorder);
    recorder.wait_until("four files", |r| r.line_count() == 4);
    append(&logs.join("later.log"), b"later\n");
    append(&logs.join("later.txt"), b"not matched\n");
    recorder.wait_until("the later file", |r| r.line_count() == 5);
    tail.stop();
    let mut texts = recorder.get().texts();
    texts.sort();
    assert_eq!(texts, ["a", "b", "later", "x", "y"]);
}

#[test]
fn a_partial_line_waits_for_its_end_even_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    let marker = dir.path().join("marker.log");
    append(&path, b"one\npart");
    let recorder = Recorder::new();
    let tail = start(config(&[&path, &marker]), vec![], &recorder);
    recorder.wait_until("the complete line", |r| r.line_count() == 1);
    // The marker is read in a poll that also looked at app.log after "part" was there.
    append(&marker, b"marker\n");
    recorder.wait_until("the marker", |r| r.line_count() == 2);
    tail.stop();
    let checkpoints = recorder.get().checkpoints();
    assert!(!recorder.get().texts().iter().any(|t| t.contains("part")));
    let app = checkpoints.iter().find(|c| c.location == path.display().to_string()).unwrap();
    assert_eq!(app.offset, 4, "the checkpoint stops before the partial line");

    append(&path, b"ial\n");
    let again = Recorder::new();
    let tail = start(config(&[&path, &marker]), checkpoints, &again);
    again.wait_until("the completed line", |r| r.line_count() == 1);
    tail.stop();
    let recorded = again.get();
    assert_eq!(recorded.texts(), ["partial"]);
    assert_eq!(recorded.streams_ending("app.log")[0].batches[0].lines[0].position, 12);
}

#[test]
fn an_overlong_line_is_a_bad_line_and_the_next_lines_still_come() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    let mut content = b"short\n".to_vec();
    content.extend(std::iter::repeat_n(b'x', 10_000));
    content.extend_from_slice(b"\nafter\n\xff\xfe not utf-8\nlast\n");
    append(&path, &content);
    let recorder = Recorder::new();
    let mut cfg = config(&[&path]);
    cfg.max_line_bytes = 64;
    let tail = start(cfg, vec![], &recorder);
    recorder.wait_until("the lines after", |r| r.texts().contains(&"last".to_string()));
    let report = tail.stop();
    let recorded = recorder.get();
    assert_eq!(recorded.texts(), ["short", "after", "last"]);
    let bad = recorded.bad();
    assert_eq!(bad.len(), 2);
    assert_eq!(bad[0].reason, "too_large");
    assert_eq!(bad[0].position, 10_007);
    assert_eq!(bad[0].raw.len(), 4096);
    assert_eq!(bad[1].reason, "invalid_utf8");
    assert_eq!(report.bad_lines, 2);
}

#[test]
fn start_at_end_skips_old_content_of_files_present_at_start_only() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old.log");
    append(&old, b"history 1\nhistory 2\nhalf of a li");
    let recorder = Recorder::new();
    let mut cfg = config(&[&dir.path().join("*.log")]);
    cfg.start_at_end = true;
    let tail = start(cfg, vec![], &recorder);
    let fresh = dir.path().join("fresh.log");
    // Wait until the tail has opened old.log, so that fresh.log comes later.
    recorder.wait_until("old.log opened", |r| r.streams.len() == 1);
    append(&fresh, b"fresh 1\n");
    append(&old, b"ne\nnew 1\n");
    recorder.wait_until("the new lines", |r| r.line_count() == 3);
    tail.stop();
    let mut texts = recorder.get().texts();
    texts.sort();
    assert_eq!(texts, ["fresh 1", "half of a line", "new 1"]);
}

#[test]
fn gzip_files_are_read_once_and_a_compressed_rotation_is_not_read_twice() {
    use flate2::{write::GzEncoder, Compression};
    let dir = tempfile::tempdir().unwrap();
    let gz = |path: &Path, text: &[u8]| {
        let mut encoder = GzEncoder::new(File::create(path).unwrap(), Compression::default());
        encoder.write_all(text).unwrap();
        encoder.finish().unwrap();
    };
    gz(&dir.path().join("archive.log.3.gz"), b"archived 1\narchived 2\n");
    let plain = dir.path().join("app.log.1");
    append(&plain, b"rotated 1\nrotated 2\n");
    let recorder = Recorder::new();
    let tail = start(config(&[dir.path()]), vec![], &recorder);
    recorder.wait_until("both files", |r| r.line_count() == 4 && r.finished() == 1);

    // logrotate compresses app.log.1 into app.log.2.gz and deletes app.log.1.
    gz(&dir.path().join("app.log.2.gz"), b"rotated 1\nrotated 2\n");
    fs::remove_file(&plain).unwrap();
    recorder.wait_until("the plain file closed and the gzip file checked", |r| r.finished() == 3);
    tail.stop();

    let recorded = recorder.get();
    let mut texts = recorded.texts();
    texts.sort();
    assert_eq!(texts, ["archived 1", "archived 2", "rotated 1", "rotated 2"]);
    let archive = recorded.streams_ending("archive.log.3.gz")[0];
    assert_eq!(archive.batches.last().unwrap().checkpoint.as_ref().unwrap().offset, 22);
}

#[test]
fn open_files_are_capped() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["a.log", "b.log", "c.log"] {
        append(&dir.path().join(name), format!("{name}\n").as_bytes());
    }
    let recorder = Recorder::new();
    let mut cfg = config(&[dir.path()]);
    cfg.max_open_files = 2;
    let tail = start(cfg, vec![], &recorder);
    recorder.wait_until("two files", |r| r.line_count() == 2);
    // Deleting one closes it (after rotate_wait) and frees a slot for the third.
    let first_origin = recorder.get().streams[0].origin.clone();
    fs::remove_file(first_origin.strip_prefix("file:").unwrap()).unwrap();
    recorder.wait_until("the third file", |r| r.line_count() == 3);
    let report = tail.stop();
    assert!(report.notices.iter().any(|n| n.contains("limit")), "{:?}", report.notices);
    assert_eq!(recorder.get().streams.len(), 3);
}

#[test]
fn the_tail_returns_when_the_pipeline_closes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    append(&path, b"one\n");
    let recorder = Recorder::new();
    let tail = start(config(&[&path]), vec![], &recorder);
    recorder.wait_until("the first line", |r| r.line_count() == 1);
    recorder.close();
    append(&path, b"two\n");
    wait_for("the tail to return", || tail.handle.is_finished());
    let report = tail.handle.join().unwrap().unwrap();
    assert!(report.sink_closed);
}

#[test]
fn invalid_configurations_are_refused() {
    let recorder = Recorder::new();
    let stop = AtomicBool::new(false);
    let mut cfg = config(&[Path::new("/nonexistent/[abc")]);
    assert!(matches!(run_file_tail(&cfg, &[], &recorder, &stop), Err(SourceError::Pattern { .. })));
    cfg.paths = vec!["/tmp/x.log".into()];
    cfg.batch_max_lines = 0;
    assert!(matches!(run_file_tail(&cfg, &[], &recorder, &stop), Err(SourceError::Config(_))));
    let none: Vec<PathBuf> = Vec::new();
    cfg = config(&none.iter().map(PathBuf::as_path).collect::<Vec<_>>());
    assert!(matches!(run_file_tail(&cfg, &[], &recorder, &stop), Err(SourceError::Config(_))));
}
