//! `vigil parse | vigil detect | vigil sink`: the daemon's stages as Unix-pipe commands
//! speaking NDJSON. Every line is one JSON object whose `kind` names its contract (the
//! JSON Schemas in `schemas/`):
//!
//! - `raw`: a native record wrapped with where it came from — read by `parse`;
//! - `event`: an enriched event (decoded, with its Sigma and OCSF views) — written by
//!   `parse`, read and written through by `detect`, stored by `sink`;
//! - `alert`: a new alert or a repeat of one — written by `detect`, stored by `sink`;
//! - `dead_letter`: a record that could not be decoded or evaluated — stored by `sink`.
//!
//! The types here are those contracts in Rust. Readers are strict (unknown fields,
//! missing fields and malformed ids are refused) so a line that passes one stage passes
//! the next, and what the schemas promise is what the code checks.

pub mod detect;
pub mod parse;
pub mod sink;

use std::io::{self, BufRead, BufReader, Read, Write};
use std::time::Duration;

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
use vigil_event::LogSource;
use vigil_formats::BAD_RAW_CAP;
use vigil_normalize::SourceKind;
use vigil_store::{AlertChange, NewAlert, NewDeadLetter, NewEvent};

/// Longest line a stage reads: an enriched event carries its record (up to 16 MiB, the
/// readers' record limit) next to its OCSF and Sigma views.
pub(crate) const MAX_LINE_BYTES: usize = 64 << 20;

/// Longest record `parse` decodes, as for files (`vigil_formats::ReadOptions`).
pub(crate) const MAX_RECORD_BYTES: usize = 16 << 20;

/// Longest `origin` accepted (a path, a socket address, a collector's name).
pub(crate) const MAX_ORIGIN_CHARS: usize = 4096;

/// How long a stage waits for input before it flushes what it holds (output lines,
/// pending repeats, a store batch): a slow or live producer's lines are not held back.
pub(crate) const IDLE_FLUSH: Duration = Duration::from_millis(250);

/// Longest a stage holds back merged output (alert repeats, a store batch) while input
/// keeps coming.
pub(crate) const HOLD_AT_MOST: Duration = Duration::from_secs(1);

/// How many invalid lines a stage describes on stderr before only counting them.
pub(crate) const REPORTED_INVALID_LINES: u64 = 10;

/// The `kind` discriminator of every line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    Raw,
    Event,
    Alert,
    DeadLetter,
}

impl LineKind {
    /// The kind of a line, read from the line's `kind` member. Lines written by Vigil
    /// start with it, which spares the probe parse.
    pub fn of_line(text: &str) -> Result<LineKind, String> {
        const FAST: [(&str, LineKind); 4] = [
            (r#"{"kind":"event","#, LineKind::Event),
            (r#"{"kind":"alert","#, LineKind::Alert),
            (r#"{"kind":"dead_letter","#, LineKind::DeadLetter),
            (r#"{"kind":"raw","#, LineKind::Raw),
        ];
        if let Some((_, kind)) = FAST.iter().find(|(prefix, _)| text.starts_with(prefix)) {
            return Ok(*kind);
        }
        #[derive(Deserialize)]
        struct Probe {
            kind: LineKind,
        }
        serde_json::from_str::<Probe>(text).map(|p| p.kind).map_err(|e| format!("not a Vigil line: {e}"))
    }
}

/// `alert` lines: a new alert, or a repeat of one still inside its aggregation window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    New,
    Repeat,
}

/// Deserializes an `Option` that must be present, as a value or `null`: serde treats a
/// missing `Option` as `None`, but the contracts require every member.
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer)
}

fn expect_kind(found: LineKind, expected: LineKind) -> Result<(), String> {
    if found == expected {
        Ok(())
    } else {
        Err(format!("expected a `{expected:?}` line, found `{found:?}`"))
    }
}

/// True for the lower-case hyphenated UUID text Vigil writes (`new_event_id`,
/// `Uuid::to_string`), the only id form the contracts accept.
pub fn is_uuid_text(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, &b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        })
}

fn check_uuid(field: &str, text: &str) -> Result<(), String> {
    if is_uuid_text(text) {
        Ok(())
    } else {
        Err(format!("`{field}` is not a lower-case UUID: {:?}", cap_chars(text, 64)))
    }
}

fn check_object(field: &str, value: &RawValue) -> Result<(), String> {
    if value.get().starts_with('{') {
        Ok(())
    } else {
        Err(format!("`{field}` must be a JSON object"))
    }
}

fn check_origin(origin: &str) -> Result<(), String> {
    if origin.is_empty() {
        return Err("`origin` is empty".into());
    }
    if origin.chars().count() > MAX_ORIGIN_CHARS {
        return Err(format!("`origin` is longer than {MAX_ORIGIN_CHARS} characters"));
    }
    Ok(())
}

fn parse_source(text: &str) -> Result<SourceKind, String> {
    // Exact names only: the contracts list them in lower case.
    text.parse::<SourceKind>()
        .ok()
        .filter(|k| k.as_str() == text)
        .ok_or_else(|| format!("unknown source {:?}", cap_chars(text, 64)))
}

fn cap_chars(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

/// `text` cut at [`BAD_RAW_CAP`] bytes on a character boundary (what dead letters keep).
pub(crate) fn cap_raw(text: &str) -> &str {
    vigil_pipeline::decode::cap(text)
}

/// A native record with where it came from: `{"kind":"raw","raw":"…"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEnvelope {
    pub kind: LineKind,
    /// The record as the source wrote it (a JSON line, a syslog line …).
    pub raw: String,
    /// Where it came from; `parse` uses its own input's origin when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// Decoder to use instead of detecting the source from the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// When it was received; `parse` uses the time it read the line when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_ms: Option<i64>,
}

impl RawEnvelope {
    /// Reads and checks one envelope; the forced source, when it names one.
    pub fn from_line(text: &str) -> Result<(RawEnvelope, Option<SourceKind>), String> {
        let envelope: RawEnvelope =
            serde_json::from_str(text).map_err(|e| cap_chars(&e.to_string(), 300).to_owned())?;
        expect_kind(envelope.kind, LineKind::Raw)?;
        if let Some(origin) = &envelope.origin {
            check_origin(origin)?;
        }
        let source = envelope.source.as_deref().map(parse_source).transpose()?;
        Ok((envelope, source))
    }

    /// Whether `text` may be an envelope: one cheap scan for `"kind"` followed by
    /// `"raw"`, so native JSON records are not parsed twice (Kubernetes objects carry a
    /// `kind` of their own).
    pub fn might_be(text: &str) -> bool {
        let trimmed = text.trim_start();
        if !trimmed.starts_with('{') {
            return false;
        }
        let mut rest = trimmed;
        while let Some(at) = rest.find("\"kind\"") {
            rest = &rest[at + 6..];
            let value = rest.trim_start().strip_prefix(':').map(str::trim_start);
            if value.is_some_and(|v| v.starts_with("\"raw\"")) {
                return true;
            }
        }
        false
    }
}

/// A Sigma logsource as events carry it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogsourceLine {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
}

impl LogsourceLine {
    /// The normalized logsource, or `None` when the event carries none (Windows events
    /// route on their `Channel`).
    pub fn to_logsource(&self) -> Option<LogSource> {
        let logsource = LogSource::new(self.product.as_deref(), self.category.as_deref(), self.service.as_deref());
        (!logsource.is_empty()).then_some(logsource)
    }
}

impl From<LogSource> for LogsourceLine {
    fn from(l: LogSource) -> Self {
        LogsourceLine { product: l.product, category: l.category, service: l.service }
    }
}

/// A decoded event: what the store keeps, plus the Sigma view and logsource rules are
/// evaluated on.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrichedEvent {
    pub kind: LineKind,
    pub event_id: String,
    /// When it happened at the source; `null` when the decoder found no time (`detect`
    /// fills it in when a rule pipeline's timestamp field gives one).
    #[serde(deserialize_with = "present")]
    pub time_ms: Option<i64>,
    pub received_ms: i64,
    /// The decoder that read it.
    pub source: String,
    pub origin: String,
    #[serde(deserialize_with = "present")]
    pub class_uid: Option<i32>,
    #[serde(deserialize_with = "present")]
    pub host: Option<String>,
    #[serde(deserialize_with = "present")]
    pub src_ip: Option<String>,
    #[serde(deserialize_with = "present")]
    pub user: Option<String>,
    pub logsource: LogsourceLine,
    /// The document rules are evaluated on, kept as text: a JSON record's own members
    /// follow the taxonomy fields and may repeat a name, which a parsed map would lose.
    pub sigma: Box<RawValue>,
    pub ocsf: Box<RawValue>,
    pub raw: String,
}

impl EnrichedEvent {
    pub fn from_line(text: &str) -> Result<EnrichedEvent, String> {
        let event: EnrichedEvent = serde_json::from_str(text).map_err(|e| e.to_string())?;
        expect_kind(event.kind, LineKind::Event)?;
        check_uuid("event_id", &event.event_id)?;
        parse_source(&event.source)?;
        check_origin(&event.origin)?;
        check_object("sigma", &event.sigma)?;
        check_object("ocsf", &event.ocsf)?;
        let l = &event.logsource;
        if [&l.product, &l.category, &l.service].into_iter().flatten().any(|part| part.is_empty()) {
            return Err("a `logsource` member is empty".into());
        }
        if event.raw.len() > MAX_RECORD_BYTES {
            return Err(format!("`raw` is longer than {MAX_RECORD_BYTES} bytes"));
        }
        Ok(event)
    }

    /// The row the store keeps; an unknown event time falls back to the receive time.
    pub fn into_new_event(self) -> NewEvent {
        NewEvent {
            event_id: self.event_id,
            time_ms: self.time_ms.unwrap_or(self.received_ms),
            received_ms: self.received_ms,
            source: self.source,
            origin: self.origin,
            class_uid: self.class_uid,
            host: self.host,
            src_ip: self.src_ip,
            user: self.user,
            ocsf: self.ocsf.get().to_owned(),
            raw: self.raw,
        }
    }
}

/// `{"kind":"alert","change":"new",…}`: the fields of [`NewAlert`], `details` as an
/// object.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAlertLine {
    pub kind: LineKind,
    pub change: ChangeKind,
    pub alert_id: String,
    pub rule_id: String,
    pub rule_title: String,
    pub level: String,
    pub tags: Vec<String>,
    pub group_key: String,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    pub count: u64,
    #[serde(deserialize_with = "present")]
    pub host: Option<String>,
    #[serde(deserialize_with = "present")]
    pub src_ip: Option<String>,
    #[serde(deserialize_with = "present")]
    pub user: Option<String>,
    pub event_ids: Vec<String>,
    pub details: Box<RawValue>,
}

/// `{"kind":"alert","change":"repeat",…}`: more occurrences of an alert.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepeatAlertLine {
    pub kind: LineKind,
    pub change: ChangeKind,
    pub alert_id: String,
    /// Occurrences to add to the alert's count.
    pub count: u64,
    pub last_seen_ms: i64,
    /// Events to link (capped by the detector).
    pub event_ids: Vec<String>,
}

#[derive(Debug)]
pub enum AlertLine {
    New(Box<NewAlertLine>),
    Repeat(RepeatAlertLine),
}

impl AlertLine {
    pub fn from_line(text: &str) -> Result<AlertLine, String> {
        #[derive(Deserialize)]
        struct Probe {
            change: ChangeKind,
        }
        let probe: Probe = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let line = match probe.change {
            ChangeKind::New => {
                let line: NewAlertLine = serde_json::from_str(text).map_err(|e| e.to_string())?;
                check_object("details", &line.details)?;
                if line.rule_id.is_empty() || line.level.is_empty() {
                    return Err("`rule_id` and `level` must not be empty".into());
                }
                if line.first_seen_ms > line.last_seen_ms {
                    return Err("`first_seen_ms` is after `last_seen_ms`".into());
                }
                AlertLine::New(Box::new(line))
            }
            ChangeKind::Repeat => AlertLine::Repeat(serde_json::from_str(text).map_err(|e| e.to_string())?),
        };
        line.check_common()?;
        Ok(line)
    }

    fn check_common(&self) -> Result<(), String> {
        let (kind, change, expected_change, alert_id, count, event_ids) = match self {
            AlertLine::New(l) => (l.kind, l.change, ChangeKind::New, &l.alert_id, l.count, &l.event_ids),
            AlertLine::Repeat(l) => (l.kind, l.change, ChangeKind::Repeat, &l.alert_id, l.count, &l.event_ids),
        };
        expect_kind(kind, LineKind::Alert)?;
        debug_assert_eq!(change, expected_change, "the probe chose the shape");
        check_uuid("alert_id", alert_id)?;
        if count == 0 {
            return Err("`count` must be at least 1".into());
        }
        event_ids.iter().try_for_each(|id| check_uuid("event_ids", id))
    }

    pub fn into_change(self) -> AlertChange {
        match self {
            AlertLine::New(l) => AlertChange::New(NewAlert {
                alert_id: l.alert_id,
                rule_id: l.rule_id,
                rule_title: l.rule_title,
                level: l.level,
                tags: l.tags,
                group_key: l.group_key,
                first_seen_ms: l.first_seen_ms,
                last_seen_ms: l.last_seen_ms,
                count: l.count,
                host: l.host,
                src_ip: l.src_ip,
                user: l.user,
                event_ids: l.event_ids,
                details: l.details.get().to_owned(),
            }),
            AlertLine::Repeat(l) => AlertChange::Repeat {
                alert_id: l.alert_id,
                count: l.count,
                last_seen_ms: l.last_seen_ms,
                event_ids: l.event_ids,
            },
        }
    }
}

/// A record that could not be read, decoded or evaluated: the fields of
/// [`NewDeadLetter`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadLetterLine {
    pub kind: LineKind,
    pub received_ms: i64,
    pub origin: String,
    /// Line, record or byte position within the origin.
    pub position: u64,
    /// Stable reason class (`invalid_json`, `unknown_format`, `too_large` …).
    pub reason: String,
    pub message: String,
    /// The decoder that rejected it, when the record was recognised.
    #[serde(deserialize_with = "present")]
    pub decoder: Option<String>,
    /// The record's first [`BAD_RAW_CAP`] bytes.
    pub raw: String,
}

impl DeadLetterLine {
    pub fn new(origin: &str, received_ms: i64, position: u64, reason: &str, message: String, raw: &str) -> Self {
        DeadLetterLine {
            kind: LineKind::DeadLetter,
            received_ms,
            origin: origin.to_owned(),
            position,
            reason: reason.to_owned(),
            message,
            decoder: None,
            raw: cap_raw(raw).to_owned(),
        }
    }

    pub fn from_line(text: &str) -> Result<DeadLetterLine, String> {
        let line: DeadLetterLine = serde_json::from_str(text).map_err(|e| e.to_string())?;
        expect_kind(line.kind, LineKind::DeadLetter)?;
        check_origin(&line.origin)?;
        if line.reason.is_empty() {
            return Err("`reason` is empty".into());
        }
        if line.raw.len() > BAD_RAW_CAP {
            return Err(format!("`raw` is longer than {BAD_RAW_CAP} bytes"));
        }
        Ok(line)
    }

    pub fn into_new_dead_letter(self) -> NewDeadLetter {
        NewDeadLetter {
            received_ms: self.received_ms,
            origin: self.origin,
            position: self.position,
            reason: self.reason,
            message: self.message,
            decoder: self.decoder,
            raw: self.raw,
        }
    }
}

/// Writes `value` as one line. Serializing goes to `scratch` first so a failed write is
/// the plain `io::Error` (a closed pipe ends the command quietly, see `main`).
pub(crate) fn write_line(out: &mut dyn Write, scratch: &mut Vec<u8>, value: &impl Serialize) -> io::Result<()> {
    scratch.clear();
    serde_json::to_writer(&mut *scratch, value).map_err(io::Error::other)?;
    scratch.push(b'\n');
    out.write_all(scratch)
}

/// Counts the lines a stage could not use and describes the first few on stderr.
#[derive(Default)]
pub(crate) struct InvalidLines {
    pub count: u64,
}

impl InvalidLines {
    pub fn report(&mut self, stage: &str, line_number: u64, why: &str) {
        self.count += 1;
        if self.count <= REPORTED_INVALID_LINES {
            // Parse errors quote the input (`unknown field …`): cut and escaped, so a
            // hostile line cannot flood or drive the terminal.
            let why = cap_chars(why, 300).escape_debug();
            eprintln!("vigil {stage}: line {line_number} skipped: {why}");
        } else if self.count == REPORTED_INVALID_LINES + 1 {
            eprintln!("vigil {stage}: more lines skipped; counted in the summary");
        }
    }
}

/// One line of input.
#[derive(Debug, PartialEq)]
pub(crate) struct InputLine {
    /// 1-based line number.
    pub number: u64,
    pub text: Result<String, BadLine>,
}

/// A line that is not text a stage can use.
#[derive(Debug, PartialEq)]
pub(crate) struct BadLine {
    /// `too_large` or `invalid_utf8`.
    pub reason: &'static str,
    pub message: String,
    /// The first [`BAD_RAW_CAP`] bytes.
    pub head: Vec<u8>,
}

/// What the input has for a stage.
pub(crate) enum Feed {
    Lines(Vec<InputLine>),
    /// Nothing arrived for [`IDLE_FLUSH`]: time to flush what is held.
    Idle,
}

/// Lines read on a thread of their own, so a stage notices when its input goes quiet
/// (a live `tail -f | vigil parse | …`) and flushes instead of waiting for more.
pub(crate) struct LineFeed {
    rx: Receiver<io::Result<Vec<InputLine>>>,
    idle: Duration,
}

/// Lines per chunk handed from the reading thread; a chunk also goes out as soon as
/// the read buffer is empty (the next read could wait) or holds a MiB of text.
const CHUNK_LINES: usize = 1024;
const CHUNK_BYTES: usize = 1 << 20;

impl LineFeed {
    pub fn spawn<R: Read + Send + 'static>(input: R, max_line_bytes: usize, idle: Duration) -> LineFeed {
        // Two chunks in flight: at most a few of the longest lines held at once.
        let (tx, rx) = bounded(2);
        std::thread::Builder::new()
            .name("vigil-stage-input".into())
            .spawn(move || {
                let mut reader = BufReader::with_capacity(256 << 10, input);
                let result = read_lines(&mut reader, max_line_bytes, &mut |chunk| tx.send(Ok(chunk)).is_ok());
                if let Err(e) = result {
                    let _ = tx.send(Err(e));
                }
            })
            .expect("spawn the input thread");
        LineFeed { rx, idle }
    }

    /// The next lines, [`Feed::Idle`] after a quiet spell, `None` at the end of input.
    pub fn next(&self) -> Option<io::Result<Feed>> {
        match self.rx.recv_timeout(self.idle) {
            Ok(Ok(lines)) => Some(Ok(Feed::Lines(lines))),
            Ok(Err(e)) => Some(Err(e)),
            Err(RecvTimeoutError::Timeout) => Some(Ok(Feed::Idle)),
            Err(RecvTimeoutError::Disconnected) => None,
        }
    }
}

/// Reads `reader` to its end in chunks of lines; stops early when `send` returns false.
fn read_lines<R: Read>(
    reader: &mut BufReader<R>,
    max_line_bytes: usize,
    send: &mut dyn FnMut(Vec<InputLine>) -> bool,
) -> io::Result<()> {
    let mut chunk = Vec::new();
    let mut chunk_bytes = 0;
    let mut number = 0u64;
    let mut line = Vec::new();
    while let Some(length) = read_bounded_line(reader, max_line_bytes, &mut line)? {
        number += 1;
        chunk_bytes += line.len();
        chunk.push(InputLine { number, text: line_text(&mut line, length, max_line_bytes) });
        if chunk.len() >= CHUNK_LINES || chunk_bytes >= CHUNK_BYTES || reader.buffer().is_empty() {
            chunk_bytes = 0;
            if !send(std::mem::take(&mut chunk)) {
                return Ok(());
            }
        }
    }
    if !chunk.is_empty() {
        send(chunk);
    }
    Ok(())
}

/// Reads one line without its `\n` into `line`, keeping at most `max` bytes of it.
/// Returns the line's whole length, or `None` at the end of input.
fn read_bounded_line(reader: &mut impl BufRead, max: usize, line: &mut Vec<u8>) -> io::Result<Option<usize>> {
    line.clear();
    let mut length = 0usize;
    let mut started = false;
    loop {
        let available = match reader.fill_buf() {
            Ok(available) => available,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(started.then_some(length));
        }
        started = true;
        let newline = available.iter().position(|&b| b == b'\n');
        let piece = &available[..newline.unwrap_or(available.len())];
        let room = max.saturating_sub(line.len());
        line.extend_from_slice(&piece[..piece.len().min(room)]);
        length = length.saturating_add(piece.len());
        let consumed = newline.map_or(piece.len(), |at| at + 1);
        reader.consume(consumed);
        if newline.is_some() {
            return Ok(Some(length));
        }
    }
}

fn line_text(line: &mut Vec<u8>, length: usize, max: usize) -> Result<String, BadLine> {
    if length > max {
        return Err(BadLine {
            reason: "too_large",
            message: format!("line of {length} bytes is longer than the limit of {max}"),
            head: line[..line.len().min(BAD_RAW_CAP)].to_vec(),
        });
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    String::from_utf8(std::mem::take(line)).map_err(|e| BadLine {
        reason: "invalid_utf8",
        message: e.utf8_error().to_string(),
        head: e.as_bytes()[..e.as_bytes().len().min(BAD_RAW_CAP)].to_vec(),
    })
}

/// `250ms`, `30s`, `5m`, `2h`, `1d`, or `0` (off).
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = text.split_at(digits);
    let unit_ms: u64 = match unit.trim() {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("`{text}` is not a duration (e.g. 500ms, 30s, 5m, 2h, 1d, or 0)")),
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(unit_ms))
        .filter(|ms| *ms <= i64::MAX as u64)
        .map(Duration::from_millis)
        .ok_or_else(|| format!("`{text}` is not a duration (e.g. 500ms, 30s, 5m, 2h, 1d, or 0)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(input: &[u8], max: usize) -> Vec<InputLine> {
        let mut reader = BufReader::with_capacity(8, input);
        let mut all = Vec::new();
        read_lines(&mut reader, max, &mut |chunk| {
            all.extend(chunk);
            true
        })
        .unwrap();
        all
    }

    #[test]
    fn lines_are_bounded_numbered_and_stripped_of_crlf() {
        let lines = lines_of(b"short\r\n0123456789abcdef\n\xff\xfe\nlast", 10);
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0], InputLine { number: 1, text: Ok("short".into()) });
        let too_long = lines[1].text.as_ref().unwrap_err();
        assert_eq!((too_long.reason, too_long.head.as_slice()), ("too_large", &b"0123456789"[..]));
        assert!(too_long.message.contains("16 bytes"), "{}", too_long.message);
        assert_eq!(lines[2].text.as_ref().unwrap_err().reason, "invalid_utf8");
        assert_eq!(lines[3], InputLine { number: 4, text: Ok("last".into()) });
    }

    #[test]
    fn an_empty_line_is_a_line_and_no_input_is_none() {
        let lines = lines_of(b"\n\n", 10);
        assert_eq!(lines.iter().map(|l| l.text.as_deref().unwrap()).collect::<Vec<_>>(), ["", ""]);
        assert!(lines_of(b"", 10).is_empty());
    }

    #[test]
    fn uuid_text_is_lower_case_hyphenated() {
        assert!(is_uuid_text("d8ce9685-5269-4de6-8c43-501e9c7a782e"));
        assert!(!is_uuid_text("D8CE9685-5269-4DE6-8C43-501E9C7A782E"));
        assert!(!is_uuid_text("d8ce96855269-4de6-8c43-501e9c7a782e0"));
        assert!(!is_uuid_text("d8ce9685-5269-4de6-8c43-501e9c7a782"));
    }

    #[test]
    fn kinds_come_from_the_fast_prefix_or_the_probe() {
        assert_eq!(LineKind::of_line(r#"{"kind":"event","x":1}"#), Ok(LineKind::Event));
        assert_eq!(LineKind::of_line(r#"{ "raw": "x", "kind" : "raw" }"#), Ok(LineKind::Raw));
        assert_eq!(LineKind::of_line(r#"{"kind":"dead_letter"}"#), Ok(LineKind::DeadLetter));
        assert!(LineKind::of_line(r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1"}"#).is_err());
        assert!(LineKind::of_line("Dec 10 06:55:48 LabSZ sshd[24200]: Failed password").is_err());
    }

    #[test]
    fn envelopes_are_told_from_records_with_a_kind_of_their_own() {
        assert!(RawEnvelope::might_be(r#"{"raw":"x","kind": "raw"}"#));
        assert!(!RawEnvelope::might_be(r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1"}"#));
        assert!(!RawEnvelope::might_be(r#"Dec 10 sshd: "kind":"raw""#));
        let (envelope, source) =
            RawEnvelope::from_line(r#"{"kind":"raw","raw":"a line","origin":"collector-1","source":"syslog"}"#)
                .unwrap();
        assert_eq!((envelope.raw.as_str(), envelope.origin.as_deref()), ("a line", Some("collector-1")));
        assert_eq!(source, Some(SourceKind::Syslog));
        assert!(RawEnvelope::from_line(r#"{"kind":"raw","raw":"x","source":"Syslog"}"#).is_err());
        assert!(RawEnvelope::from_line(r#"{"kind":"raw","raw":"x","extra":1}"#).is_err());
        assert!(RawEnvelope::from_line(r#"{"kind":"raw","raw":"x","origin":""}"#).is_err());
    }

    const EVENT: &str = r#"{"kind":"event","event_id":"0b5e9a4c-3c1e-4a59-9f0e-2d8f7c6b5a41","time_ms":null,"received_ms":5,"source":"syslog","origin":"stdin","class_uid":3002,"host":"h","src_ip":null,"user":null,"logsource":{"product":"linux"},"sigma":{"a":1,"a":2},"ocsf":{},"raw":"r"}"#;

    #[test]
    fn enriched_events_keep_the_sigma_text_and_require_every_member() {
        let event = EnrichedEvent::from_line(EVENT).unwrap();
        assert_eq!(event.sigma.get(), r#"{"a":1,"a":2}"#, "repeated names survive");
        assert_eq!(event.into_new_event().time_ms, 5, "an unknown time falls back to the receive time");
        let without_user = EVENT.replace(r#""user":null,"#, "");
        assert!(EnrichedEvent::from_line(&without_user).unwrap_err().contains("user"));
        let extra = EVENT.replace(r#""raw":"r""#, r#""raw":"r","x":1"#);
        assert!(EnrichedEvent::from_line(&extra).is_err());
        let bad_id = EVENT.replace("0b5e9a4c", "0B5E9A4C");
        assert!(EnrichedEvent::from_line(&bad_id).unwrap_err().contains("event_id"));
        let spaced = EVENT.replace(r#""sigma":{"#, r#""sigma" :  {"#);
        assert_eq!(EnrichedEvent::from_line(&spaced).unwrap().sigma.get(), r#"{"a":1,"a":2}"#);
        let array_sigma = EVENT.replace(r#""sigma":{"a":1,"a":2}"#, r#""sigma":[1]"#);
        assert!(EnrichedEvent::from_line(&array_sigma).is_err());
        let unknown_source = EVENT.replace(r#""source":"syslog""#, r#""source":"nope""#);
        assert!(EnrichedEvent::from_line(&unknown_source).is_err());
    }

    #[test]
    fn alert_lines_are_checked_by_their_change() {
        let repeat = r#"{"kind":"alert","change":"repeat","alert_id":"0b5e9a4c-3c1e-4a59-9f0e-2d8f7c6b5a41","count":2,"last_seen_ms":9,"event_ids":[]}"#;
        assert!(matches!(AlertLine::from_line(repeat), Ok(AlertLine::Repeat(r)) if r.count == 2));
        assert!(AlertLine::from_line(&repeat.replace(r#""count":2"#, r#""count":0"#)).is_err());
        let repeat_with_title = repeat.replace(r#""count":2"#, r#""count":2,"rule_title":"x""#);
        assert!(AlertLine::from_line(&repeat_with_title).is_err());
        let new_without_rule = repeat.replace("repeat", "new");
        assert!(AlertLine::from_line(&new_without_rule).is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("1.5h").is_err());
        assert!(parse_duration("99999999999999999999d").is_err());
    }
}
