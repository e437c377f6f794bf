//! `vigil parse`: native records in (files or stdin), enriched events out, one per line.
//! Records that cannot be read or decoded become dead-letter lines on their own
//! output, never on stdout.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use serde_json::value::RawValue;
use vigil_event::now_ms;
use vigil_formats::{discover, BadRecord, Batch, InputFile, ReadOptions};
use vigil_normalize::SourceKind;
use vigil_pipeline::decode::{DeadLetter, DecodedEvent, FileDecoder, Prepared};
use vigil_pipeline::ingest::new_event_id;

use super::{
    write_line, DeadLetterLine, EnrichedEvent, Feed, LineFeed, LineKind, LogsourceLine, RawEnvelope, IDLE_FLUSH,
    MAX_LINE_BYTES, MAX_RECORD_BYTES,
};

#[derive(Args)]
pub struct ParseArgs {
    /// Decode every record as this source instead of detecting it per record
    /// (tetragon, kubescape, kubescape-scan, falco, cowrie, k8s-audit, syslog, auditd,
    /// windows, json). A raw-event envelope's own `source` wins.
    #[arg(long)]
    source: Option<SourceKind>,
    /// Write dead-letter lines (records that could not be read or decoded) here instead
    /// of stderr.
    #[arg(long, value_name = "FILE")]
    dead_letter: Option<PathBuf>,
    /// Files or directories (JSONL, JSON, .gz, EVTX, text logs); stdin when none. Lines
    /// that are raw-event envelopes (`{"kind":"raw","raw":…}`) are unwrapped first.
    inputs: Vec<PathBuf>,
}

/// Streams whose decoders are kept at once; stateful decoders (auditd joins lines by
/// serial) keep state per stream, and envelopes may name any number of origins.
const MAX_STREAMS: usize = 1024;

pub fn run(args: ParseArgs) -> anyhow::Result<ExitCode> {
    let dead_out: Box<dyn Write> = match &args.dead_letter {
        Some(path) => {
            Box::new(BufWriter::new(File::create(path).with_context(|| format!("creating {}", path.display()))?))
        }
        None => Box::new(BufWriter::new(io::stderr())),
    };
    let dead =
        RefCell::new(DeadLetters { out: dead_out, scratch: Vec::new(), by_reason: BTreeMap::new(), failed: None });
    let stdout = io::stdout();
    let mut parser = Parser {
        forced: args.source,
        decoders: BTreeMap::new(),
        out: BufWriter::with_capacity(256 << 10, stdout.lock()),
        scratch: Vec::new(),
        records_read: 0,
        events: 0,
    };
    let mut unreadable_files = 0;
    if args.inputs.is_empty() {
        parser.read_stdin(&dead)?;
    } else {
        let discovered = discover(&args.inputs).context("reading inputs")?;
        for (path, reason) in &discovered.skipped {
            eprintln!("vigil parse: skipped {}: {reason}", path.display());
        }
        for file in &discovered.files {
            if let Err(e) = parser.read_file(file, &dead) {
                match e {
                    FileError::Output(e) => return Err(e.into()),
                    FileError::Input(e) => {
                        eprintln!("vigil parse: {e}");
                        unreadable_files += 1;
                    }
                }
            }
        }
    }
    parser.finish_streams(&dead)?;
    parser.out.flush()?;
    let mut dead = dead.into_inner();
    dead.flush()?;
    let dead_total: u64 = dead.by_reason.values().sum();
    let detail = dead.by_reason.iter().map(|(r, n)| format!("{r} {n}")).collect::<Vec<_>>().join(", ");
    eprintln!(
        "vigil parse: {} events from {} records, {dead_total} dead letters{}",
        parser.events,
        parser.records_read,
        if dead_total > 0 { format!(" ({detail})") } else { String::new() }
    );
    Ok(if unreadable_files > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

enum FileError {
    /// The file could not be read on; the others still are.
    Input(vigil_formats::FormatError),
    /// Writing failed (a closed pipe): nothing more can be done.
    Output(io::Error),
}

/// Where dead-letter lines go. Shared between the reader's record and bad-record
/// callbacks, hence the `RefCell` around it.
struct DeadLetters {
    out: Box<dyn Write>,
    scratch: Vec<u8>,
    by_reason: BTreeMap<String, u64>,
    /// The first write error, reported once the reader hands control back.
    failed: Option<io::Error>,
}

impl DeadLetters {
    fn write(&mut self, line: &DeadLetterLine) {
        *self.by_reason.entry(line.reason.clone()).or_default() += 1;
        if self.failed.is_none() {
            if let Err(e) = write_line(&mut self.out, &mut self.scratch, line) {
                self.failed = Some(e);
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.failed.take() {
            Some(e) => Err(e),
            None => self.out.flush(),
        }
    }
}

struct Parser<W: Write> {
    forced: Option<SourceKind>,
    /// One decoder per (origin, forced source): decoders keep per-stream state.
    decoders: BTreeMap<(String, Option<SourceKind>), FileDecoder>,
    out: W,
    scratch: Vec<u8>,
    records_read: u64,
    events: u64,
}

impl<W: Write> Parser<W> {
    fn read_stdin(&mut self, dead: &RefCell<DeadLetters>) -> anyhow::Result<()> {
        let origin = "stdin";
        let feed = LineFeed::spawn(io::stdin(), MAX_LINE_BYTES, IDLE_FLUSH);
        while let Some(item) = feed.next() {
            match item.context("reading stdin")? {
                Feed::Lines(lines) => {
                    let received_ms = now_ms();
                    let mut records = Vec::with_capacity(lines.len());
                    for line in &lines {
                        match &line.text {
                            Ok(text) if text.trim().is_empty() => {}
                            Ok(text) => records.push((line.number, text.as_str())),
                            Err(bad) => {
                                // Decode what came before, so dead letters keep input order.
                                self.decode_records(origin, received_ms, &records, dead)?;
                                records.clear();
                                self.records_read += 1;
                                let head = String::from_utf8_lossy(&bad.head);
                                let message = bad.message.clone();
                                let letter =
                                    DeadLetterLine::new(origin, received_ms, line.number, bad.reason, message, &head);
                                dead.borrow_mut().write(&letter);
                            }
                        }
                    }
                    self.decode_records(origin, received_ms, &records, dead)?;
                }
                Feed::Idle => {}
            }
            // A live stream's events go on at once, not when the buffer fills.
            self.out.flush()?;
            dead.borrow_mut().flush()?;
        }
        Ok(())
    }

    fn read_file(&mut self, file: &InputFile, dead: &RefCell<DeadLetters>) -> Result<(), FileError> {
        let origin = format!("file:{}", file.path.display());
        let mut output_error = None;
        let mut on_batch = |batch: Batch| {
            let records: Vec<(u64, &str)> = batch.iter().collect();
            match self.decode_records(&origin, now_ms(), &records, dead) {
                Ok(()) => true,
                Err(e) => {
                    output_error = Some(e);
                    false
                }
            }
        };
        let mut on_bad = |bad: BadRecord| {
            let letter = DeadLetter::from_bad_record(&bad);
            dead.borrow_mut().write(&dead_letter_line(&origin, now_ms(), letter));
        };
        let read = vigil_formats::read_file(file, 0, &ReadOptions::default(), &mut on_batch, &mut on_bad);
        if let Some(e) = output_error {
            return Err(FileError::Output(e));
        }
        // Each file is its own stream: release what its decoders hold back.
        self.finish_streams(dead).map_err(FileError::Output)?;
        dead.borrow_mut().flush().map_err(FileError::Output)?;
        read.map(|_| ()).map_err(FileError::Input)
    }

    /// Decodes records of one input, unwrapping envelopes; runs of plain records go to
    /// the decoder together.
    fn decode_records(
        &mut self,
        origin: &str,
        received_ms: i64,
        records: &[(u64, &str)],
        dead: &RefCell<DeadLetters>,
    ) -> io::Result<()> {
        self.records_read += records.len() as u64;
        let mut run_start = 0;
        for (i, &(position, text)) in records.iter().enumerate() {
            let oversized = text.len() > MAX_RECORD_BYTES;
            if !oversized && !RawEnvelope::might_be(text) {
                continue;
            }
            self.decode(origin, self.forced, received_ms, &records[run_start..i], dead)?;
            run_start = i + 1;
            if oversized {
                dead.borrow_mut().write(&too_large(origin, received_ms, position, text));
            } else {
                self.envelope(origin, received_ms, position, text, dead)?;
            }
        }
        self.decode(origin, self.forced, received_ms, &records[run_start..], dead)
    }

    fn envelope(
        &mut self,
        origin: &str,
        received_ms: i64,
        position: u64,
        text: &str,
        dead: &RefCell<DeadLetters>,
    ) -> io::Result<()> {
        let (envelope, source) = match RawEnvelope::from_line(text) {
            Ok(parsed) => parsed,
            Err(message) => {
                let line = DeadLetterLine::new(origin, received_ms, position, "invalid_envelope", message, text);
                dead.borrow_mut().write(&line);
                return Ok(());
            }
        };
        let origin = envelope.origin.as_deref().unwrap_or(origin);
        let received_ms = envelope.received_ms.unwrap_or(received_ms);
        if envelope.raw.len() > MAX_RECORD_BYTES {
            dead.borrow_mut().write(&too_large(origin, received_ms, position, &envelope.raw));
            return Ok(());
        }
        if envelope.raw.trim().is_empty() {
            let message = "the envelope's `raw` is empty".to_owned();
            dead.borrow_mut().write(&DeadLetterLine::new(origin, received_ms, position, "empty", message, text));
            return Ok(());
        }
        self.decode(origin, source.or(self.forced), received_ms, &[(position, envelope.raw.as_str())], dead)
    }

    fn decode(
        &mut self,
        origin: &str,
        kind: Option<SourceKind>,
        received_ms: i64,
        records: &[(u64, &str)],
        dead: &RefCell<DeadLetters>,
    ) -> io::Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let key = (origin.to_owned(), kind);
        if !self.decoders.contains_key(&key) && self.decoders.len() >= MAX_STREAMS {
            self.finish_streams(dead)?;
        }
        let decoder = self.decoders.entry(key).or_insert_with(|| FileDecoder::for_store(kind));
        let prepared = decoder.prepare_lines(0, records.iter().copied());
        self.emit(origin, received_ms, prepared, dead)
    }

    /// Releases the events stateful decoders hold back and forgets every stream.
    fn finish_streams(&mut self, dead: &RefCell<DeadLetters>) -> io::Result<()> {
        for ((origin, _), mut decoder) in std::mem::take(&mut self.decoders) {
            let prepared = decoder.finish(0, 0);
            self.emit(&origin, now_ms(), prepared, dead)?;
        }
        Ok(())
    }

    fn emit(
        &mut self,
        origin: &str,
        received_ms: i64,
        prepared: Prepared,
        dead: &RefCell<DeadLetters>,
    ) -> io::Result<()> {
        for letter in prepared.dead {
            dead.borrow_mut().write(&dead_letter_line(origin, received_ms, letter));
        }
        for decoded in prepared.decoded {
            let position = decoded.position;
            match enriched_event(decoded, origin, received_ms) {
                Ok(event) => {
                    write_line(&mut self.out, &mut self.scratch, &event)?;
                    self.events += 1;
                }
                Err((message, raw)) => {
                    let line = DeadLetterLine::new(origin, received_ms, position, "invalid_json", message, &raw);
                    dead.borrow_mut().write(&line);
                }
            }
        }
        Ok(())
    }
}

fn too_large(origin: &str, received_ms: i64, position: u64, text: &str) -> DeadLetterLine {
    let message = format!("record of {} bytes is longer than the limit of {MAX_RECORD_BYTES}", text.len());
    DeadLetterLine::new(origin, received_ms, position, "too_large", message, text)
}

fn dead_letter_line(origin: &str, received_ms: i64, letter: DeadLetter) -> DeadLetterLine {
    DeadLetterLine {
        decoder: letter.decoder.map(str::to_owned),
        ..DeadLetterLine::new(origin, received_ms, letter.position, letter.reason, letter.message, &letter.raw)
    }
}

/// The event line for one decoded event; `Err((message, raw))` when a view the decoder
/// built is not JSON (never expected: both are serialized or spliced from parsed JSON).
fn enriched_event(decoded: DecodedEvent, origin: &str, received_ms: i64) -> Result<EnrichedEvent, (String, String)> {
    let DecodedEvent { sigma_json, logsource, time, stored, .. } = decoded;
    let stored = stored.map(|s| *s);
    let (source, class_uid, host, src_ip, user, ocsf, raw) = match stored {
        Some(s) => (s.source, s.class_uid, s.host, s.src_ip, s.user, s.ocsf, s.raw),
        // Decoders built for the store always fill `stored`; keep the event regardless.
        None => ("json", None, None, None, None, "{}".to_owned(), sigma_json.clone()),
    };
    let sigma = RawValue::from_string(one_line(sigma_json)).map_err(|e| (format!("Sigma view: {e}"), raw.clone()))?;
    let ocsf = RawValue::from_string(ocsf).map_err(|e| (format!("OCSF view: {e}"), raw.clone()))?;
    Ok(EnrichedEvent {
        kind: LineKind::Event,
        event_id: new_event_id(),
        time_ms: time.map(|t| t.timestamp_millis()),
        received_ms,
        source: source.to_owned(),
        origin: origin.to_owned(),
        class_uid,
        host,
        src_ip,
        user,
        logsource: logsource.map(LogsourceLine::from).unwrap_or_default(),
        sigma,
        ocsf,
        raw,
    })
}

/// `json` on one line. A JSON record's own members are spliced into the Sigma view as
/// they were written, pretty-printed ones included; outside strings a line break is only
/// whitespace (inside them it is always escaped), so a space does as well.
fn one_line(json: String) -> String {
    if json.contains(['\n', '\r']) {
        json.replace(['\n', '\r'], " ")
    } else {
        json
    }
}
