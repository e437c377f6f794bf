//! `file` jobs: every poll reads the complete lines appended to a file (or to each
//! regular file directly inside a directory, not recursing) since the last poll, and
//! submits them with origin `etl-file:<file path>`.
//!
//! The watermark holds a byte offset per file. A file that became shorter than its
//! offset was truncated (copytruncate) and is read again from the start. A file replaced
//! by rename with one at least as long is not noticed (use the daemon's file tail, which
//! fingerprints files, for rotated logs). A line without its newline yet waits for the
//! next poll; a line longer than the limit is skipped up to its newline and reported.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use tokio::sync::watch;
use vigil_pipeline::submit::EventSubmitter;

use crate::submit::{submit_until_accepted, Interrupted, SUBMIT_CHUNK};

/// Most files a directory job follows (the first ones by name).
pub const MAX_FILES_PER_JOB: usize = 1024;
/// Bytes read per read call.
const READ_CHUNK: usize = 256 << 10;

/// Per-file progress, keyed by the file's path.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileWatermark {
    pub files: BTreeMap<String, FileOffset>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileOffset {
    /// Bytes consumed: everything before is submitted (or skipped).
    pub offset: u64,
    /// Inside an over-long line: bytes up to its newline are skipped.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skipping: bool,
}

/// What a poll did, and what to report.
#[derive(Debug, Default)]
pub(crate) struct FilePoll {
    pub rows: u64,
    /// Over-long lines, unreadable files: reported as the last error, polling goes on.
    pub problems: Vec<String>,
}

/// The files a job follows: the file itself, or a directory's regular files by name.
fn files_of(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if !path.is_dir() {
        return Ok(vec![path.to_owned()]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            files.push(entry.path());
        }
    }
    files.sort();
    files.truncate(MAX_FILES_PER_JOB);
    Ok(files)
}

/// Reads and submits new lines of every file. `watermark` is advanced (and `persist`
/// called) after each accepted submit, so a stop or crash re-reads at most one chunk.
pub(crate) async fn poll(
    path: &Path,
    watermark: &mut FileWatermark,
    max_line_bytes: usize,
    submitter: &dyn EventSubmitter,
    stop: &mut watch::Receiver<bool>,
    persist: &mut dyn FnMut(&FileWatermark, u64),
) -> Result<FilePoll, Interrupted> {
    let mut result = FilePoll::default();
    let files = match files_of(path) {
        Ok(files) => files,
        Err(err) => {
            result.problems.push(format!("{}: {err}", path.display()));
            return Ok(result);
        }
    };
    // Forget files that are gone, so the watermark stays bounded.
    let names: Vec<String> = files.iter().map(|f| f.to_string_lossy().into_owned()).collect();
    watermark.files.retain(|name, _| names.contains(name));
    for (file, name) in files.iter().zip(names) {
        let mut position = watermark.files.get(&name).copied().unwrap_or_default();
        let origin = format!("etl-file:{name}");
        let mut reader = match LineReader::open(file, &mut position, max_line_bytes) {
            Ok(reader) => reader,
            Err(err) => {
                result.problems.push(format!("{name}: {err}"));
                continue;
            }
        };
        loop {
            let chunk = match reader.next_lines(SUBMIT_CHUNK) {
                Ok(chunk) => chunk,
                Err(err) => {
                    result.problems.push(format!("{name}: {err}"));
                    break;
                }
            };
            if chunk.skipped_long_lines > 0 {
                result.problems.push(format!(
                    "{name}: skipped {} line(s) longer than {max_line_bytes} bytes",
                    chunk.skipped_long_lines
                ));
            }
            let count = chunk.lines.len() as u64;
            submit_until_accepted(submitter, &origin, chunk.lines, stop).await?;
            result.rows += count;
            let advanced = chunk.position != position;
            position = chunk.position;
            watermark.files.insert(name.clone(), position);
            if advanced {
                persist(watermark, count);
            }
            if !advanced || chunk.at_end {
                break;
            }
        }
        watermark.files.insert(name, position);
    }
    Ok(result)
}

struct Lines {
    lines: Vec<String>,
    position: FileOffset,
    skipped_long_lines: u64,
    /// Nothing more to read now.
    at_end: bool,
}

/// Reads complete lines from a position, never holding more than one over-long line's
/// limit plus a read chunk.
struct LineReader {
    file: File,
    position: FileOffset,
    buffer: Vec<u8>,
    max_line_bytes: usize,
    eof: bool,
}

impl LineReader {
    fn open(path: &Path, position: &mut FileOffset, max_line_bytes: usize) -> std::io::Result<LineReader> {
        let mut file = File::open(path)?;
        let len = file.metadata()?.len();
        if len < position.offset {
            *position = FileOffset::default(); // truncated: start over
        }
        file.seek(SeekFrom::Start(position.offset))?;
        Ok(LineReader { file, position: *position, buffer: Vec::new(), max_line_bytes, eof: false })
    }

    fn next_lines(&mut self, max_lines: usize) -> std::io::Result<Lines> {
        let mut lines = Vec::new();
        let mut skipped_long_lines = 0;
        while lines.len() < max_lines {
            if let Some(newline) = memchr_newline(&self.buffer) {
                let line: Vec<u8> = self.buffer.drain(..=newline).collect();
                self.position.offset += line.len() as u64;
                if self.position.skipping {
                    self.position.skipping = false; // the end of an over-long line
                    continue;
                }
                let mut text = &line[..line.len() - 1];
                if text.last() == Some(&b'\r') {
                    text = &text[..text.len() - 1];
                }
                if text.len() > self.max_line_bytes {
                    skipped_long_lines += 1;
                    continue;
                }
                let text = String::from_utf8_lossy(text);
                if !text.trim().is_empty() {
                    lines.push(text.into_owned());
                }
                continue;
            }
            // No newline buffered: a line this long already is over the limit.
            if self.buffer.len() > self.max_line_bytes {
                self.position.offset += self.buffer.len() as u64;
                self.buffer.clear();
                if !self.position.skipping {
                    skipped_long_lines += 1;
                }
                self.position.skipping = true;
            }
            if self.eof {
                break;
            }
            let start = self.buffer.len();
            self.buffer.resize(start + READ_CHUNK, 0);
            let read = self.file.read(&mut self.buffer[start..])?;
            self.buffer.truncate(start + read);
            if read == 0 {
                self.eof = true;
            }
        }
        let at_end = self.eof && memchr_newline(&self.buffer).is_none();
        Ok(Lines { lines, position: self.position, skipped_long_lines, at_end })
    }
}

fn memchr_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(path: &Path, position: FileOffset, max_line_bytes: usize) -> (Vec<String>, FileOffset, u64) {
        let mut position = position;
        let mut reader = LineReader::open(path, &mut position, max_line_bytes).unwrap();
        let (mut lines, mut skipped) = (Vec::new(), 0);
        loop {
            let chunk = reader.next_lines(2).unwrap();
            lines.extend(chunk.lines);
            skipped += chunk.skipped_long_lines;
            position = chunk.position;
            if chunk.at_end {
                return (lines, position, skipped);
            }
        }
    }

    #[test]
    fn complete_lines_only_and_crlf_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        std::fs::write(&path, "one\r\ntwo\n\nthree\npartial").unwrap();
        let (lines, position, skipped) = read_all(&path, FileOffset::default(), 100);
        assert_eq!(lines, ["one", "two", "three"]);
        assert_eq!((position.offset, skipped), ("one\r\ntwo\n\nthree\n".len() as u64, 0));
        std::fs::write(&path, "one\r\ntwo\n\nthree\npartial end\n").unwrap();
        assert_eq!(read_all(&path, position, 100).0, ["partial end"]);
    }

    #[test]
    fn over_long_lines_are_skipped_even_across_reads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        let long = "x".repeat(READ_CHUNK * 2 + 7);
        std::fs::write(&path, format!("short\n{long}\nafter\n{}\nlast\n", "y".repeat(11))).unwrap();
        let (lines, position, skipped) = read_all(&path, FileOffset::default(), 10);
        assert_eq!(lines, ["short", "after", "last"]);
        assert_eq!(skipped, 2);
        assert_eq!(position, FileOffset { offset: std::fs::metadata(&path).unwrap().len(), skipping: false });
    }

    #[test]
    fn an_unfinished_long_line_stays_skipped_in_the_next_poll() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        std::fs::write(&path, "z".repeat(50)).unwrap();
        let (lines, position, skipped) = read_all(&path, FileOffset::default(), 10);
        assert!(lines.is_empty() && position.skipping && skipped == 1);
        std::fs::write(&path, format!("{}\nnext\n", "z".repeat(60))).unwrap();
        let (lines, _, skipped) = read_all(&path, position, 10);
        assert_eq!((lines, skipped), (vec!["next".to_owned()], 0));
    }

    #[test]
    fn truncation_starts_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        std::fs::write(&path, "aaaa\nbbbb\n").unwrap();
        let (_, position, _) = read_all(&path, FileOffset::default(), 100);
        std::fs::write(&path, "new\n").unwrap();
        assert_eq!(read_all(&path, position, 100).0, ["new"]);
    }
}
