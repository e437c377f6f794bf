//! Source decoders: one record (a JSON line or document, or a text line) from a sensor,
//! honeypot or log becomes one or more [`Normalized`] events: an OCSF 1.3 object, the
//! Sigma logsource and taxonomy fields (`Image`, `CommandLine`, `User`…) SigmaHQ rules
//! read, and the record as it arrived.
//!
//! [`AutoDecoder`] decides per record which source it came from ([`sniff_record`]) and
//! keeps one decoder per source, so a file or stream may mix sources. Decoders with
//! state across records (auditd joins the lines of one event by serial) hold events
//! back until [`Decoder::flush`].
//!
//! A record that cannot be decoded is a [`DecodeError`] with a [`DeadLetterReason`]; the
//! caller files it as a dead letter and goes on.

mod auditd;
mod cowrie;
pub mod doc;
mod error;
mod falco;
mod json_check;
mod k8s_audit;
mod kubescape;
mod normalized;
pub mod ocsf;
mod sniff;
mod syslog;
pub mod tetragon;

pub use doc::{Doc, DocValue, Field};
pub use error::{DeadLetterReason, DecodeError};
pub use normalized::{Normalized, RawRecord};
pub use sniff::{sniff_record, SourceKind};

/// Turns records of one source into normalized events.
pub trait Decoder: Send {
    /// The source this decoder reads.
    fn kind(&self) -> SourceKind;

    /// Decodes one record (a line, or one whole JSON document) and appends the events
    /// it yields to `out`; a record may yield none (held back, or carrying nothing to
    /// report) or several (a scan report with many failed controls).
    fn decode(&mut self, record: &str, out: &mut Vec<Normalized>) -> Result<(), DecodeError>;

    /// Emits events still held back (end of input, or a flush interval elapsed).
    fn flush(&mut self, _out: &mut Vec<Normalized>) {}
}

/// A decoder for `kind`.
pub fn decoder_for(kind: SourceKind) -> Box<dyn Decoder> {
    match kind {
        SourceKind::Tetragon => Box::new(tetragon::TetragonDecoder::default()),
        SourceKind::KubescapeAlert => Box::new(kubescape::KubescapeAlertDecoder::default()),
        SourceKind::KubescapeScan => Box::new(kubescape::KubescapeScanDecoder::default()),
        SourceKind::Falco => Box::new(falco::FalcoDecoder::default()),
        SourceKind::Cowrie => Box::new(cowrie::CowrieDecoder::default()),
        SourceKind::K8sAudit => Box::new(k8s_audit::K8sAuditDecoder::default()),
        SourceKind::Syslog => Box::new(syslog::SyslogDecoder::default()),
        SourceKind::Auditd => Box::new(auditd::AuditdDecoder::default()),
        SourceKind::Windows => Box::new(normalized::PassthroughDecoder::new(SourceKind::Windows)),
        SourceKind::Json => Box::new(normalized::PassthroughDecoder::new(SourceKind::Json)),
    }
}

/// Decodes records of any source: each record is sniffed, unless a source was forced,
/// and handed to that source's decoder (created on first use).
pub struct AutoDecoder {
    forced: Option<SourceKind>,
    decoders: Vec<Box<dyn Decoder>>,
}

impl AutoDecoder {
    /// `forced`: decode every record as this source instead of sniffing (`--source`).
    pub fn new(forced: Option<SourceKind>) -> Self {
        AutoDecoder { forced, decoders: Vec::new() }
    }

    /// Decodes one record; see [`Decoder::decode`].
    pub fn decode(&mut self, record: &str, out: &mut Vec<Normalized>) -> Result<SourceKind, DecodeError> {
        let kind = match self.forced {
            Some(kind) => kind,
            None => sniff_record(record).ok_or_else(|| {
                DecodeError::new(DeadLetterReason::UnknownFormat, "record matches no known source format")
            })?,
        };
        let decoder = match self.decoders.iter().position(|d| d.kind() == kind) {
            Some(i) => &mut self.decoders[i],
            None => {
                self.decoders.push(decoder_for(kind));
                self.decoders.last_mut().expect("just pushed")
            }
        };
        decoder.decode(record, out)?;
        Ok(kind)
    }

    /// Flushes every decoder's held-back events.
    pub fn flush(&mut self, out: &mut Vec<Normalized>) {
        for d in &mut self.decoders {
            d.flush(out);
        }
    }
}
