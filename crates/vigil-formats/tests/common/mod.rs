//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test binary uses a different subset

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use vigil_formats::{read_file, BadRecord, FormatError, InputFile, ReadOptions, ReadStats};

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The shared corpus directory from `VIGIL_CORPUS`. When it is unset the calling test
/// is skipped with a message — except under CI (`CI=true`), where a silently skipped
/// corpus test would hide a broken setup, so it fails instead.
pub fn corpus() -> Option<PathBuf> {
    match std::env::var_os("VIGIL_CORPUS") {
        // A relative path is relative to the workspace root (where CI and the README
        // run `cargo test`), not to this crate's directory, where the test runs.
        Some(dir) if !dir.is_empty() => {
            let dir = PathBuf::from(dir);
            Some(if dir.is_relative() { Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(dir) } else { dir })
        }
        _ => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("VIGIL_CORPUS must be set when CI=true");
            }
            // Straight to stderr: the test harness captures eprintln! of passing tests,
            // and this message is meant to be seen.
            let _ = writeln!(std::io::stderr(), "skipped: VIGIL_CORPUS not set");
            None
        }
    }
}

/// One record as read: position and text.
pub type Rec = (u64, String);

/// Reads a whole file, collecting records and bad records.
pub fn read_all(file: &InputFile, opts: &ReadOptions) -> (Vec<Rec>, Vec<BadRecord>, Result<ReadStats, FormatError>) {
    let mut recs = Vec::new();
    let mut bad = Vec::new();
    let result = read_file(
        file,
        3,
        opts,
        &mut |batch| {
            assert_eq!(batch.source, 3);
            recs.extend(batch.iter().map(|(p, t)| (p, t.to_string())));
            true
        },
        &mut |b| bad.push(b),
    );
    (recs, bad, result)
}

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "vigil-formats-{tag}-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
