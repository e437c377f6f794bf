//! One file being tailed: its open handle, where reading stands, its pending batch and
//! its sink.

use std::fs::{File, Metadata};
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use flate2::bufread::MultiGzDecoder;
use vigil_event::now_ms;
use vigil_store::Checkpoint;

use super::lines::{LineSplitter, PendingBatch};
use super::{KnownOffsets, TailReport};
use crate::source::fingerprint::Fingerprint;
use crate::source::{BatchSink, SinkClosed};

/// A file's identity while it exists: device and inode. Only used in memory (inode
/// numbers are reused after deletion); checkpoints use the [`Fingerprint`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct FileId(u64, u64);

impl FileId {
    #[cfg(unix)]
    pub(crate) fn of(meta: &Metadata, _path: &Path) -> FileId {
        use std::os::unix::fs::MetadataExt;
        FileId(meta.dev(), meta.ino())
    }

    /// Without inodes a file is known by its path; a rename then looks like a new file
    /// with a known fingerprint, which resumes at its checkpoint all the same.
    #[cfg(not(unix))]
    pub(crate) fn of(_meta: &Metadata, path: &Path) -> FileId {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        path.hash(&mut hasher);
        FileId(0, hasher.finish())
    }
}

/// Size and modification time: when both are unchanged, an earlier look at the file
/// still holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub(crate) len: u64,
    pub(crate) modified: Option<SystemTime>,
}

impl Stamp {
    pub(crate) fn of(meta: &Metadata) -> Stamp {
        Stamp { len: meta.len(), modified: meta.modified().ok() }
    }
}

pub(crate) enum Reader {
    Plain(File),
    /// Offsets in a gzip file are offsets in its decompressed content, so a rotated and
    /// compressed log continues where its plain version stopped.
    Gzip(Box<MultiGzDecoder<BufReader<File>>>),
}

impl Reader {
    fn file(&self) -> &File {
        match self {
            Reader::Plain(file) => file,
            Reader::Gzip(decoder) => decoder.get_ref().get_ref(),
        }
    }
}

/// What one poll of a file found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Polled {
    /// Read up to the end of what is there.
    AtEnd,
    /// The read budget ran out before the end.
    MoreToRead,
    /// A gzip file was read to its end: nothing more will come.
    Complete,
    /// Reading failed; the file is dropped and looked at again when it changes.
    Failed(String),
}

pub(crate) struct WatchedFile {
    pub(crate) path: PathBuf,
    origin: String,
    /// `None` only after a truncation, until the new first line is complete.
    pub(crate) fingerprint: Option<Fingerprint>,
    reader: Reader,
    /// Plain: file offset of the next read. Gzip: decompressed bytes read so far.
    read_pos: u64,
    /// Gzip: decompressed bytes before this offset were delivered in an earlier life.
    skip_until: u64,
    splitter: LineSplitter,
    batch: PendingBatch,
    sink: Box<dyn BatchSink>,
    last_sent_offset: u64,
    /// Found by the latest scan, under some path.
    pub(crate) seen: bool,
    /// When scans stopped finding it (renamed away or deleted).
    pub(crate) vanished_at: Option<Instant>,
}

pub(crate) struct Limits {
    pub(crate) max_line_bytes: usize,
    pub(crate) batch_max_lines: usize,
    pub(crate) batch_max_bytes: usize,
}

/// Where reading a file starts.
pub(crate) enum StartAt {
    /// At this offset, which begins a line.
    LineStart(u64),
    /// At this offset, inside a line whose rest is skipped.
    InsideLine(u64),
}

impl WatchedFile {
    pub(crate) fn new(
        path: PathBuf,
        fingerprint: Fingerprint,
        reader: Reader,
        start: StartAt,
        sink: Box<dyn BatchSink>,
        limits: &Limits,
    ) -> WatchedFile {
        let gzip = matches!(reader, Reader::Gzip(_));
        let (offset, inside_line) = match start {
            StartAt::LineStart(offset) => (offset, false),
            StartAt::InsideLine(offset) => (offset, true),
        };
        let mut splitter = LineSplitter::new(offset, limits.max_line_bytes);
        if inside_line {
            splitter.reset_inside_line(offset);
        }
        WatchedFile {
            origin: origin_of(&path),
            path,
            fingerprint: Some(fingerprint),
            reader,
            read_pos: if gzip { 0 } else { offset },
            skip_until: if gzip { offset } else { 0 },
            splitter,
            batch: PendingBatch::new(limits.batch_max_lines, limits.batch_max_bytes),
            sink,
            last_sent_offset: offset,
            seen: true,
            vanished_at: None,
        }
    }

    pub(crate) fn origin(&self) -> &str {
        &self.origin
    }

    /// Size and modification time of the open file.
    pub(crate) fn stamp(&self) -> Option<Stamp> {
        self.reader.file().metadata().ok().map(|meta| Stamp::of(&meta))
    }

    /// Reads what was appended, at most `budget` bytes, sending full batches.
    pub(crate) fn poll(
        &mut self,
        buf: &mut [u8],
        budget: usize,
        known: &mut KnownOffsets,
        report: &mut TailReport,
    ) -> Result<Polled, SinkClosed> {
        if let Reader::Plain(file) = &self.reader {
            let len = match file.metadata() {
                Ok(meta) => meta.len(),
                Err(e) => return Ok(Polled::Failed(format!("cannot stat it: {e}"))),
            };
            if len < self.read_pos {
                self.restart(known, report, "it shrank")?;
            }
            if len > self.read_pos || self.fingerprint.is_none() {
                let current = match first_line_fingerprint(self.reader.file()) {
                    Ok(current) => current,
                    Err(e) => return Ok(Polled::Failed(format!("cannot read it: {e}"))),
                };
                if self.fingerprint.is_some() && current != self.fingerprint {
                    self.restart(known, report, "its first line changed")?;
                }
                if current.is_none() {
                    return Ok(Polled::AtEnd);
                }
                self.fingerprint = current;
            }
        }
        let mut spent = 0;
        while spent < budget {
            let want = buf.len().min(budget - spent);
            let n = match self.read_chunk(&mut buf[..want]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Ok(Polled::Failed(format!("cannot read it: {e}"))),
            };
            if n == 0 {
                if matches!(self.reader, Reader::Gzip(_)) {
                    self.splitter.end_of_stream(&mut self.batch);
                    return Ok(Polled::Complete);
                }
                return Ok(Polled::AtEnd);
            }
            spent += n;
            let chunk_start = self.read_pos;
            self.read_pos += n as u64;
            let already_delivered = self.skip_until.saturating_sub(chunk_start).min(n as u64) as usize;
            self.consume(&buf[already_delivered..n], report)?;
        }
        Ok(Polled::MoreToRead)
    }

    fn read_chunk(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.reader {
            Reader::Plain(file) => {
                file.seek(SeekFrom::Start(self.read_pos))?;
                file.read(buf)
            }
            Reader::Gzip(decoder) => decoder.read(buf),
        }
    }

    fn consume(&mut self, mut data: &[u8], report: &mut TailReport) -> Result<(), SinkClosed> {
        while !data.is_empty() {
            let used = self.splitter.feed(data, &mut self.batch, false);
            data = &data[used..];
            if self.batch.is_full() {
                self.send_batch(report)?;
            }
        }
        Ok(())
    }

    /// The file was truncated or rewritten in place (copytruncate): what was read is
    /// sent, and reading starts over. The old fingerprint keeps its offset, so a copy of
    /// the old content (`auth.log.1`) resumes where this file stopped.
    fn restart(&mut self, known: &mut KnownOffsets, report: &mut TailReport, why: &str) -> Result<(), SinkClosed> {
        self.send_batch(report)?;
        if let Some(fingerprint) = self.fingerprint.take() {
            known.remember(fingerprint, self.splitter.line_start());
        }
        self.splitter.reset(0);
        self.read_pos = 0;
        self.last_sent_offset = 0;
        report.truncations += 1;
        report.notice(format!("{} was truncated ({why}); reading it again from the start", self.origin));
        Ok(())
    }

    pub(crate) fn send_if_due(
        &mut self,
        now: Instant,
        interval: std::time::Duration,
        report: &mut TailReport,
    ) -> Result<(), SinkClosed> {
        if self.batch.is_due(now, interval) {
            self.send_batch(report)?;
        }
        Ok(())
    }

    /// Sends the pending records with the checkpoint that covers them; also sends a
    /// checkpoint alone when skipped blank lines moved it.
    pub(crate) fn send_batch(&mut self, report: &mut TailReport) -> Result<(), SinkClosed> {
        let Some(fingerprint) = self.fingerprint else { return Ok(()) };
        let offset = self.splitter.line_start();
        if self.batch.is_empty() && offset == self.last_sent_offset {
            return Ok(());
        }
        let checkpoint = Checkpoint {
            key: fingerprint.key(),
            location: self.path.display().to_string(),
            offset,
            updated_ms: now_ms(),
        };
        let batch = self.batch.take(Some(checkpoint));
        report.lines += batch.lines.len() as u64;
        report.bad_lines += batch.bad.len() as u64;
        self.sink.send(batch)?;
        self.last_sent_offset = offset;
        Ok(())
    }

    /// The stream is over (or the tail stops): sends what is pending, finishes the sink,
    /// and remembers how far the file was read. With `last_line`, an unterminated last
    /// line is sent too — its writer is gone.
    pub(crate) fn close(
        mut self,
        last_line: bool,
        known: &mut KnownOffsets,
        report: &mut TailReport,
    ) -> Result<(), SinkClosed> {
        if last_line && self.fingerprint.is_some() {
            self.splitter.end_of_stream(&mut self.batch);
        }
        self.send_batch(report)?;
        if let Some(fingerprint) = self.fingerprint {
            known.remember(fingerprint, self.splitter.line_start());
        }
        report.files_finished += 1;
        self.sink.finish()
    }
}

pub(crate) fn origin_of(path: &Path) -> String {
    format!("file:{}", path.display())
}

/// The fingerprint of what the file starts with now.
pub(crate) fn first_line_fingerprint(mut file: &File) -> io::Result<Option<Fingerprint>> {
    file.seek(SeekFrom::Start(0))?;
    Fingerprint::read_from(file)
}

/// The gzip magic number starts the file.
pub(crate) fn is_gzip(mut file: &File) -> io::Result<bool> {
    file.seek(SeekFrom::Start(0))?;
    let mut magic = [0u8; 2];
    let mut got = 0;
    while got < magic.len() {
        match file.read(&mut magic[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got == 2 && magic == [0x1f, 0x8b])
}

/// Where a file's last line begins, looking back at most `max_back` bytes from `len`;
/// `None` when no line start lies in that window (the tail then starts at `len`, inside
/// a line).
pub(crate) fn last_line_start(mut file: &File, len: u64, max_back: u64) -> io::Result<Option<u64>> {
    let floor = len.saturating_sub(max_back);
    let mut chunk = vec![0u8; 64 << 10];
    let mut end = len;
    while end > floor {
        let start = floor.max(end.saturating_sub(chunk.len() as u64));
        let window = &mut chunk[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(window)?;
        if let Some(newline) = window.iter().rposition(|&b| b == b'\n') {
            return Ok(Some(start + newline as u64 + 1));
        }
        end = start;
    }
    Ok((floor == 0).then_some(0))
}
