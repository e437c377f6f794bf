//! Tailing log files by polling: every `poll_interval` the configured paths are expanded
//! (files, directories, globs), new files are opened, and what was appended to open
//! files is read, cut into lines and sent in batches, each with its checkpoint.
//!
//! A file is known by its [`Fingerprint`] (a digest of its first line), not by its name:
//!
//! * a file is not started until its first line is complete (or 4 KiB long), since until
//!   then it has no fingerprint;
//! * checkpoints are `key = "fp:<hex>"`, `location = path`, `offset = byte offset just
//!   after the last complete line of the batch`; a file whose fingerprint has a
//!   checkpoint resumes at its offset;
//! * rotation by rename keeps the fingerprint and the open handle: the renamed file is
//!   read to its end (even if it is deleted meanwhile), the new file from offset 0;
//! * copytruncate (the file shrinks below the read offset, or its first line changes) is
//!   a restart from offset 0, counted in [`TailReport::truncations`]; the old
//!   fingerprint keeps its offset, so the copy (`auth.log.1`), if it is tailed too,
//!   continues exactly there;
//! * a file found again under another name (or as a copy) while its twin is open is
//!   skipped: one fingerprint, one reader.
//!
//! Partial lines: only LF-terminated lines are sent; an incomplete last line waits for
//! its end however long it takes, except when the file is gone (renamed out of the
//! patterns or deleted, and `rotate_wait` has passed) or is a gzip file: then the stream is
//! over and its last line is sent unterminated.
//!
//! Gzip (`.gz`, recognised by its magic number): offsets and fingerprints are those of
//! the decompressed content, so `auth.log.2.gz` has the fingerprint of the `auth.log.1`
//! it was made from and continues where that one stopped (usually: nothing left to
//! read). A gzip file is read once, streaming, to its end; its stream is then finished
//! and its checkpoint offset is the decompressed length. It is not looked at again
//! unless its size or modification time changes (a file still being compressed fails to
//! decode, and is retried from its checkpoint when it has grown).

mod glob;
pub(crate) mod lines;
mod watched;

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, BufReader, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use flate2::bufread::MultiGzDecoder;
use vigil_normalize::SourceKind;
use vigil_store::Checkpoint;

use self::glob::PathPattern;
use self::watched::{
    first_line_fingerprint, is_gzip, last_line_start, FileId, Limits, Polled, Reader, Stamp, StartAt, WatchedFile,
};
use super::fingerprint::Fingerprint;
use super::{SinkClosed, SinkFactory};

/// What to tail and how to batch it.
#[derive(Debug, Clone)]
pub struct FileTailConfig {
    /// Files, directories (the regular files directly inside), or globs such as
    /// `/var/log/*.log` (`*`, `?`, `[…]` in any component). Paths that do not exist yet
    /// are looked for again at every poll.
    pub paths: Vec<String>,
    /// Forces a decoder for every file; `None` sniffs per record.
    pub kind: Option<SourceKind>,
    /// How often paths are expanded and files checked for new data.
    pub poll_interval: Duration,
    /// A batch is sent once it holds this many records… The channels are bounded in
    /// batches, so this also bounds the decoded events in flight: 256 kept the daemon's
    /// RSS at ~270 MB over 525k records where 1,000 reached ~360 MB, at the same
    /// throughput (`scripts/bench/daemon-file.sh 20000 30`).
    pub batch_max_lines: usize,
    /// …or this many bytes of text…
    pub batch_max_bytes: usize,
    /// …or its oldest record has waited this long.
    pub flush_interval: Duration,
    /// Longer lines become a `too_large` bad line and are skipped.
    pub max_line_bytes: usize,
    /// Files present at start-up and without a checkpoint are read from their end (the
    /// start of their last line); files that appear later are always read from 0.
    pub start_at_end: bool,
    /// At most this many files are open at once; others wait until one is closed.
    pub max_open_files: usize,
    /// At most this many bytes are read from one file per poll, so that one busy file
    /// cannot starve the others (the next poll comes at once when a file had more).
    pub read_bytes_per_poll: usize,
    /// A file that scans no longer find (renamed out of the patterns, deleted) is still
    /// read through its open handle for this long, for writers that have not reopened
    /// their log yet; it is closed at its end after that.
    pub rotate_wait: Duration,
}

impl Default for FileTailConfig {
    fn default() -> Self {
        FileTailConfig {
            paths: Vec::new(),
            kind: None,
            poll_interval: Duration::from_millis(250),
            batch_max_lines: 256,
            batch_max_bytes: 1 << 20,
            flush_interval: Duration::from_millis(500),
            max_line_bytes: 256 << 10,
            start_at_end: false,
            max_open_files: 1024,
            read_bytes_per_poll: 4 << 20,
            rotate_wait: Duration::from_secs(10),
        }
    }
}

/// What a tail run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TailReport {
    /// Streams opened (files started or resumed).
    pub files_started: u64,
    /// Streams finished (gone and read to the end, gzip read, or closed at stop).
    pub files_finished: u64,
    pub lines: u64,
    pub bad_lines: u64,
    /// Files found truncated or rewritten in place, and read again from 0.
    pub truncations: u64,
    /// The run ended because the pipeline closed a sink, not because `stop` was set.
    pub sink_closed: bool,
    /// Things a person may want to know (truncations, unreadable files, limits), oldest
    /// first, at most [`MAX_NOTICES`].
    pub notices: Vec<String>,
    /// Notices left out once the list was full.
    pub notices_dropped: u64,
}

/// [`TailReport::notices`] keeps at most this many.
pub const MAX_NOTICES: usize = 256;

impl TailReport {
    fn notice(&mut self, message: String) {
        if self.notices.len() < MAX_NOTICES {
            self.notices.push(message);
        } else {
            self.notices_dropped += 1;
        }
    }
}

/// Why a source could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    #[error("invalid source configuration: {0}")]
    Config(String),
    #[error("invalid path pattern {pattern:?}: {reason}")]
    Pattern { pattern: String, reason: String },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
}

impl FileTailConfig {
    fn validate(&self) -> Result<(), SourceError> {
        let positive = [
            ("batch_max_lines", self.batch_max_lines),
            ("batch_max_bytes", self.batch_max_bytes),
            ("max_line_bytes", self.max_line_bytes),
            ("max_open_files", self.max_open_files),
            ("read_bytes_per_poll", self.read_bytes_per_poll),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, value)| *value == 0) {
            return Err(SourceError::Config(format!("{name} must be at least 1")));
        }
        if self.poll_interval.is_zero() {
            return Err(SourceError::Config("poll_interval must not be zero".into()));
        }
        if self.paths.is_empty() {
            return Err(SourceError::Config("no path to tail".into()));
        }
        Ok(())
    }
}

/// Tails the configured files until `stop` is set (or the pipeline closes a sink), then
/// sends what is pending, finishes every open stream (so that decoders release what they
/// hold) and returns. `checkpoints` are the stored ones; those whose key is not a file
/// fingerprint are ignored. Per-file problems do not end the run: they are reported in
/// [`TailReport::notices`] and the file is retried when it changes.
pub fn run_file_tail(
    cfg: &FileTailConfig,
    checkpoints: &[Checkpoint],
    factory: &dyn SinkFactory,
    stop: &AtomicBool,
) -> Result<TailReport, SourceError> {
    cfg.validate()?;
    let patterns = cfg.paths.iter().map(|path| PathPattern::parse(path)).collect::<Result<Vec<_>, _>>()?;
    let mut tail = Tail::new(cfg, patterns, checkpoints, factory);
    let ended = tail.run(stop);
    if ended.is_err() {
        tail.report.sink_closed = true;
    }
    tail.close_all();
    Ok(tail.report)
}

/// Offsets of files not open now, by fingerprint: the stored checkpoints at start, then
/// files closed or truncated. Bounded; the oldest entries go first.
pub(crate) struct KnownOffsets {
    offsets: HashMap<Fingerprint, (u64, u64)>,
    next_seq: u64,
}

/// [`KnownOffsets`] forgets its oldest entries beyond this many.
const MAX_KNOWN_OFFSETS: usize = 65_536;

impl KnownOffsets {
    fn new(checkpoints: &[Checkpoint]) -> Self {
        let mut known = KnownOffsets { offsets: HashMap::new(), next_seq: 0 };
        let mut sorted: Vec<&Checkpoint> = checkpoints.iter().collect();
        sorted.sort_by_key(|checkpoint| checkpoint.updated_ms);
        for checkpoint in sorted {
            if let Some(fingerprint) = Fingerprint::parse_key(&checkpoint.key) {
                known.remember(fingerprint, checkpoint.offset);
            }
        }
        known
    }

    pub(crate) fn remember(&mut self, fingerprint: Fingerprint, offset: u64) {
        self.next_seq += 1;
        self.offsets.insert(fingerprint, (offset, self.next_seq));
        if self.offsets.len() > MAX_KNOWN_OFFSETS {
            let oldest = self.offsets.iter().min_by_key(|(_, (_, seq))| *seq).map(|(fingerprint, _)| *fingerprint);
            if let Some(oldest) = oldest {
                self.offsets.remove(&oldest);
            }
        }
    }

    fn take(&mut self, fingerprint: &Fingerprint) -> Option<u64> {
        self.offsets.remove(fingerprint).map(|(offset, _)| offset)
    }
}

/// What an earlier look at a file not being read found; valid while its [`Stamp`] holds.
struct Examined {
    stamp: Stamp,
    verdict: Verdict,
}

enum Verdict {
    /// No complete first line yet.
    NotReady,
    /// Fingerprinted, but another open file has this fingerprint.
    Fingerprinted(Fingerprint),
    /// A gzip file read to its end, or skipped by `start_at_end`.
    Done,
    /// Could not be opened or read; reported once.
    Unreadable,
}

struct Tail<'a> {
    cfg: &'a FileTailConfig,
    factory: &'a dyn SinkFactory,
    patterns: Vec<PathPattern>,
    limits: Limits,
    watched: HashMap<FileId, WatchedFile>,
    examined: HashMap<FileId, Examined>,
    known: KnownOffsets,
    report: TailReport,
    buf: Vec<u8>,
    first_scan: bool,
    open_limit_noted: bool,
}

impl<'a> Tail<'a> {
    fn new(
        cfg: &'a FileTailConfig,
        patterns: Vec<PathPattern>,
        checkpoints: &[Checkpoint],
        factory: &'a dyn SinkFactory,
    ) -> Self {
        Tail {
            cfg,
            factory,
            patterns,
            limits: Limits {
                max_line_bytes: cfg.max_line_bytes,
                batch_max_lines: cfg.batch_max_lines,
                batch_max_bytes: cfg.batch_max_bytes,
            },
            watched: HashMap::new(),
            examined: HashMap::new(),
            known: KnownOffsets::new(checkpoints),
            report: TailReport::default(),
            buf: vec![0; 64 << 10],
            first_scan: true,
            open_limit_noted: false,
        }
    }

    fn run(&mut self, stop: &AtomicBool) -> Result<(), SinkClosed> {
        let mut last_scan: Option<Instant> = None;
        while !stop.load(Ordering::Acquire) {
            let started = Instant::now();
            // While files have a backlog, polls follow each other at once; scans stay at
            // one per interval.
            if last_scan.is_none_or(|scanned| started.duration_since(scanned) >= self.cfg.poll_interval) {
                self.scan();
                last_scan = Some(started);
            }
            let more_to_read = self.poll_files()?;
            if !more_to_read {
                sleep_until(started + self.cfg.poll_interval, stop);
            }
        }
        Ok(())
    }

    /// Finds the files the patterns stand for now: marks open ones as seen (and notes
    /// their current path), starts new ones.
    fn scan(&mut self) {
        for file in self.watched.values_mut() {
            file.seen = false;
        }
        let paths: Vec<PathBuf> = self.patterns.iter().flat_map(PathPattern::expand).collect();
        let mut looked_at = HashSet::new();
        let mut open_fingerprints: HashSet<Fingerprint> =
            self.watched.values().filter_map(|file| file.fingerprint).collect();
        for path in paths {
            let Ok(meta) = fs::metadata(&path) else { continue };
            if !meta.is_file() {
                continue;
            }
            let id = FileId::of(&meta, &path);
            if let Some(file) = self.watched.get_mut(&id) {
                if !file.seen {
                    file.seen = true;
                    file.path = path;
                }
                continue;
            }
            if looked_at.insert(id) {
                self.consider(path, id, Stamp::of(&meta), &mut open_fingerprints);
            }
        }
        self.examined.retain(|id, _| looked_at.contains(id));
        self.first_scan = false;
    }

    /// A file that is not open: start it if it is ready and not a twin of an open file.
    fn consider(&mut self, path: PathBuf, id: FileId, stamp: Stamp, open_fingerprints: &mut HashSet<Fingerprint>) {
        if let Some(earlier) = self.examined.get(&id).filter(|earlier| earlier.stamp == stamp) {
            match earlier.verdict {
                Verdict::NotReady | Verdict::Done | Verdict::Unreadable => return,
                Verdict::Fingerprinted(fingerprint) if open_fingerprints.contains(&fingerprint) => return,
                Verdict::Fingerprinted(_) => {}
            }
        }
        if self.watched.len() >= self.cfg.max_open_files {
            if !self.open_limit_noted {
                self.open_limit_noted = true;
                let limit = self.cfg.max_open_files;
                self.report.notice(format!("{limit} files are open, the limit; more files wait until some close"));
            }
            return;
        }
        let opened = File::open(&path).and_then(|file| {
            let meta = file.metadata()?;
            let gzip = is_gzip(&file)?;
            Ok((file, meta, gzip))
        });
        let (file, meta, gzip) = match opened {
            Ok(opened) => opened,
            Err(e) => {
                if !matches!(self.examined.get(&id), Some(Examined { verdict: Verdict::Unreadable, .. })) {
                    self.report.notice(format!("cannot open {}: {e}", path.display()));
                }
                self.examined.insert(id, Examined { stamp, verdict: Verdict::Unreadable });
                return;
            }
        };
        // The path may now name another file than the one stat'ed: trust the handle.
        let id = FileId::of(&meta, &path);
        let stamp = Stamp::of(&meta);
        if self.watched.contains_key(&id) {
            return;
        }
        let fingerprint =
            if gzip { gzip_fingerprint(&file).ok().flatten() } else { first_line_fingerprint(&file).ok().flatten() };
        let Some(fingerprint) = fingerprint else {
            self.examined.insert(id, Examined { stamp, verdict: Verdict::NotReady });
            return;
        };
        self.examined.insert(id, Examined { stamp, verdict: Verdict::Fingerprinted(fingerprint) });
        if open_fingerprints.contains(&fingerprint) {
            return;
        }
        let resume = self.known.take(&fingerprint);
        let origin = watched::origin_of(&path);
        let (start, reader) = if gzip {
            let start = match resume {
                Some(offset) => offset,
                None if self.first_scan && self.cfg.start_at_end => {
                    self.examined.insert(id, Examined { stamp, verdict: Verdict::Done });
                    return;
                }
                None => 0,
            };
            let mut file = file;
            if let Err(e) = file.seek(SeekFrom::Start(0)) {
                self.report.notice(format!("cannot read {}: {e}", path.display()));
                return;
            }
            let decoder = MultiGzDecoder::new(BufReader::with_capacity(64 << 10, file));
            (StartAt::LineStart(start), Reader::Gzip(Box::new(decoder)))
        } else {
            let start = match resume {
                Some(offset) if offset <= stamp.len => StartAt::LineStart(offset),
                Some(offset) => {
                    self.report.truncations += 1;
                    self.report.notice(format!(
                        "{origin} is shorter ({} bytes) than its checkpoint ({offset}); reading it from the start",
                        stamp.len
                    ));
                    StartAt::LineStart(0)
                }
                None if self.first_scan && self.cfg.start_at_end => {
                    let max_back = self.cfg.max_line_bytes as u64 + 2;
                    match last_line_start(&file, stamp.len, max_back) {
                        Ok(Some(offset)) => StartAt::LineStart(offset),
                        Ok(None) => StartAt::InsideLine(stamp.len),
                        Err(e) => {
                            self.report.notice(format!("cannot read {}: {e}", path.display()));
                            self.examined.insert(id, Examined { stamp, verdict: Verdict::Unreadable });
                            return;
                        }
                    }
                }
                None => StartAt::LineStart(0),
            };
            (start, Reader::Plain(file))
        };
        let sink = self.factory.open(&origin, self.cfg.kind);
        let watched = WatchedFile::new(path, fingerprint, reader, start, sink, &self.limits);
        self.watched.insert(id, watched);
        open_fingerprints.insert(fingerprint);
        self.report.files_started += 1;
    }

    /// Reads every open file once; closes those that are over. Returns whether some file
    /// had more to read than its budget.
    fn poll_files(&mut self) -> Result<bool, SinkClosed> {
        let ids: Vec<FileId> = self.watched.keys().copied().collect();
        let mut more_to_read = false;
        for id in ids {
            let Some(file) = self.watched.get_mut(&id) else { continue };
            let now = Instant::now();
            if file.seen {
                file.vanished_at = None;
            } else {
                file.vanished_at.get_or_insert(now);
            }
            let polled = file.poll(&mut self.buf, self.cfg.read_bytes_per_poll, &mut self.known, &mut self.report)?;
            let gone_long_enough =
                file.vanished_at.is_some_and(|vanished| now.duration_since(vanished) >= self.cfg.rotate_wait);
            match polled {
                Polled::MoreToRead => more_to_read = true,
                Polled::AtEnd if gone_long_enough => {
                    if let Some(file) = self.watched.remove(&id) {
                        file.close(true, &mut self.known, &mut self.report)?;
                    }
                    continue;
                }
                Polled::AtEnd => {}
                Polled::Complete => {
                    if let Some(file) = self.watched.remove(&id) {
                        let stamp = file.stamp();
                        file.close(true, &mut self.known, &mut self.report)?;
                        if let Some(stamp) = stamp {
                            self.examined.insert(id, Examined { stamp, verdict: Verdict::Done });
                        }
                    }
                    continue;
                }
                Polled::Failed(why) => {
                    if let Some(file) = self.watched.remove(&id) {
                        self.report.notice(format!("{}: {why}; it is retried when it changes", file.origin()));
                        let stamp = file.stamp();
                        file.close(false, &mut self.known, &mut self.report)?;
                        if let Some(stamp) = stamp {
                            self.examined.insert(id, Examined { stamp, verdict: Verdict::Unreadable });
                        }
                    }
                    continue;
                }
            }
            file.send_if_due(Instant::now(), self.cfg.flush_interval, &mut self.report)?;
        }
        Ok(more_to_read)
    }

    /// Sends what is pending and finishes every stream; a closed pipeline is not an
    /// error here.
    fn close_all(&mut self) {
        for (_, file) in self.watched.drain() {
            let _ = file.close(false, &mut self.known, &mut self.report);
        }
    }
}

/// The fingerprint of a gzip file's decompressed content.
fn gzip_fingerprint(mut file: &File) -> io::Result<Option<Fingerprint>> {
    file.seek(SeekFrom::Start(0))?;
    Fingerprint::read_from(MultiGzDecoder::new(BufReader::new(file)))
}

/// Sleeps until `deadline`, waking at least every 50 ms to notice `stop`.
fn sleep_until(deadline: Instant, stop: &AtomicBool) {
    loop {
        let now = Instant::now();
        if now >= deadline || stop.load(Ordering::Acquire) {
            return;
        }
        std::thread::sleep((deadline - now).min(Duration::from_millis(50)));
    }
}
