//! The decode stage between reading and detection: each record is sniffed (or taken as
//! the `--source` given) and decoded into its Sigma view. Windows records are already
//! their own Sigma view, so a batch made only of them goes on untouched — the hot path
//! of a Windows hunt pays for the sniff and nothing else.
//!
//! Decoders keep state across records (auditd joins lines by serial, syslog infers the
//! year), so one [`FileDecoder`] serves one file, in order, on one thread.

use std::collections::BTreeMap;

use serde::Serialize;
use vigil_event::{LogSource, Timestamp};
use vigil_formats::{BadRecord, Batch, BAD_RAW_CAP};
use vigil_normalize::{sniff_record, AutoDecoder, DecodeError, Normalized, SourceKind};

/// One event ready for detection, decoded from a non-Windows record.
pub struct DecodedEvent {
    pub position: u64,
    /// The document rules are evaluated on ([`Normalized::sigma_json`]).
    pub sigma_json: String,
    pub logsource: Option<LogSource>,
    pub time: Option<Timestamp>,
    /// What the store keeps, when the decoder was asked for it ([`FileDecoder::for_store`]).
    pub stored: Option<Box<StoredParts>>,
}

/// The parts of an event the store keeps besides its Sigma view.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredParts {
    pub source: &'static str,
    pub class_uid: Option<i32>,
    pub host: Option<String>,
    pub src_ip: Option<String>,
    pub user: Option<String>,
    /// The OCSF object as JSON text.
    pub ocsf: String,
    pub raw: String,
}

impl StoredParts {
    fn from_normalized(n: &Normalized) -> Self {
        use vigil_normalize::Field;
        let ocsf = &n.ocsf;
        let text = |path: &str| -> Option<String> {
            match ocsf.field(path)? {
                Field::Str(s) if !s.is_empty() => Some(s.to_owned()),
                Field::U64(v) => Some(v.to_string()),
                Field::I64(v) => Some(v.to_string()),
                Field::F64(v) => Some(v.to_string()),
                Field::Json(serde_json::Value::String(s)) if !s.is_empty() => Some(s.clone()),
                Field::Json(serde_json::Value::Number(v)) => Some(v.to_string()),
                _ => None,
            }
        };
        let sigma = |name: &str| n.sigma.top(name).and_then(Field::as_str).filter(|s| !s.is_empty()).map(str::to_owned);
        StoredParts {
            source: n.source.as_str(),
            class_uid: ocsf.field("class_uid").and_then(Field::as_u64).and_then(|v| i32::try_from(v).ok()),
            host: text("device.hostname").or_else(|| text("device.name")).or_else(|| sigma("Computer")),
            src_ip: text("src_endpoint.ip").or_else(|| sigma("SourceIp")).or_else(|| sigma("IpAddress")),
            user: text("user.name")
                .or_else(|| text("actor.user.name"))
                .or_else(|| text("process.user.name"))
                .or_else(|| sigma("User"))
                .or_else(|| sigma("TargetUserName")),
            ocsf: n.ocsf.to_json_string(),
            raw: n.raw.as_str().to_owned(),
        }
    }
}

/// A batch after decoding.
pub struct Prepared {
    pub source: u32,
    /// Records of the batch, evaluated as they are (all of them Windows events).
    pub raw: Option<Batch>,
    /// Otherwise every event, in record order.
    pub decoded: Vec<DecodedEvent>,
    /// Records that could not be decoded.
    pub dead: Vec<DeadLetter>,
}

/// A record that did not decode: where it was, why, and its first bytes.
#[derive(Debug, Clone, Serialize)]
pub struct DeadLetter {
    #[serde(skip)]
    pub source: u32,
    pub position: u64,
    /// Stable reason class (`invalid_json`, `unknown_format`, `missing_field`…).
    pub reason: &'static str,
    pub message: String,
    /// The decoder that rejected it, when the record was recognised.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decoder: Option<&'static str>,
    /// The record, cut at [`BAD_RAW_CAP`] bytes.
    pub raw: String,
}

impl DeadLetter {
    pub fn from_decode(source: u32, position: u64, kind: Option<SourceKind>, err: DecodeError, raw: &str) -> Self {
        DeadLetter {
            source,
            position,
            reason: err.reason.as_str(),
            message: err.message,
            decoder: kind.map(SourceKind::as_str),
            raw: cap(raw).to_owned(),
        }
    }

    /// A record the Sigma evaluator could not read as JSON.
    pub fn unevaluable(source: u32, position: u64, message: String, raw: &str) -> Self {
        DeadLetter { source, position, reason: "invalid_json", message, decoder: None, raw: cap(raw).to_owned() }
    }

    /// A record the reader already rejected (oversized line, invalid UTF-8, JSON syntax
    /// error in a whole-file document).
    pub fn from_bad_record(bad: &BadRecord) -> Self {
        DeadLetter {
            source: bad.source,
            position: bad.position,
            reason: "unreadable",
            message: bad.reason.clone(),
            decoder: None,
            raw: String::from_utf8_lossy(&bad.raw).into_owned(),
        }
    }
}

/// `s` cut at [`BAD_RAW_CAP`] bytes, on a character boundary.
pub fn cap(s: &str) -> &str {
    let mut end = s.len().min(BAD_RAW_CAP);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Decodes the records of one file, in order.
pub struct FileDecoder {
    forced: Option<SourceKind>,
    auto: AutoDecoder,
    scratch: Vec<Normalized>,
    for_store: bool,
}

impl FileDecoder {
    /// For detection only (a hunt): Windows records pass through untouched.
    pub fn new(forced: Option<SourceKind>) -> Self {
        FileDecoder { forced, auto: AutoDecoder::new(forced), scratch: Vec::new(), for_store: false }
    }

    /// For the daemon: every event also carries its [`StoredParts`].
    pub fn for_store(forced: Option<SourceKind>) -> Self {
        FileDecoder { for_store: true, ..Self::new(forced) }
    }

    fn kind_of(&self, record: &str) -> Option<SourceKind> {
        self.forced.or_else(|| sniff_record(record))
    }

    pub fn prepare(&mut self, batch: Batch) -> Prepared {
        let source = batch.source;
        let kinds: Vec<Option<SourceKind>> = batch.iter().map(|(_, text)| self.kind_of(text)).collect();
        if !self.for_store && kinds.iter().all(|k| *k == Some(SourceKind::Windows)) {
            return Prepared { source, raw: Some(batch), decoded: Vec::new(), dead: Vec::new() };
        }
        self.decode_records(source, batch.iter().zip(kinds))
    }

    /// Decodes records given as (position, text), e.g. lines of a tailed file.
    pub fn prepare_lines<'a>(&mut self, source: u32, lines: impl Iterator<Item = (u64, &'a str)>) -> Prepared {
        let with_kinds: Vec<((u64, &str), Option<SourceKind>)> =
            lines.map(|(p, t)| ((p, t), self.kind_of(t))).collect();
        self.decode_records(source, with_kinds.into_iter())
    }

    fn decode_records<'a>(
        &mut self,
        source: u32,
        records: impl Iterator<Item = ((u64, &'a str), Option<SourceKind>)>,
    ) -> Prepared {
        let mut prepared = Prepared { source, raw: None, decoded: Vec::new(), dead: Vec::new() };
        for ((position, text), kind) in records {
            if kind == Some(SourceKind::Windows) && !self.for_store {
                prepared.decoded.push(DecodedEvent {
                    position,
                    sigma_json: text.to_owned(),
                    logsource: None,
                    time: None,
                    stored: None,
                });
                continue;
            }
            self.scratch.clear();
            match self.auto.decode(text, &mut self.scratch) {
                Ok(_) => self.take_scratch(position, &mut prepared),
                Err(e) => prepared.dead.push(DeadLetter::from_decode(source, position, kind, e, text)),
            }
        }
        prepared
    }

    /// Events held back by stateful decoders, at the end of the file.
    pub fn finish(&mut self, source: u32, position: u64) -> Prepared {
        let mut prepared = Prepared { source, raw: None, decoded: Vec::new(), dead: Vec::new() };
        self.scratch.clear();
        self.auto.flush(&mut self.scratch);
        self.take_scratch(position, &mut prepared);
        prepared
    }

    fn take_scratch(&mut self, position: u64, prepared: &mut Prepared) {
        for n in self.scratch.drain(..) {
            let stored = self.for_store.then(|| Box::new(StoredParts::from_normalized(&n)));
            prepared.decoded.push(DecodedEvent {
                position,
                sigma_json: n.sigma_json(),
                logsource: (!n.logsource.is_empty()).then_some(n.logsource),
                time: n.time,
                stored,
            });
        }
    }
}

/// Dead letters counted by reason, for the closing summary.
#[derive(Default)]
pub struct DeadLetterCounts(pub BTreeMap<&'static str, u64>);

impl DeadLetterCounts {
    pub fn add(&mut self, reason: &'static str) {
        *self.0.entry(reason).or_default() += 1;
    }

    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    pub fn describe(&self) -> String {
        self.0.iter().map(|(r, n)| format!("{r} {n}")).collect::<Vec<_>>().join(", ")
    }
}
