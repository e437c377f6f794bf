//! How records enter the graph: a [`StreamSink`] per pulled stream (file, socket,
//! stdin) decodes in the source's thread and blocks while the pipeline is full; the
//! [`HttpSubmitter`] decodes a pushed request and refuses it at once when full.

use std::cell::RefCell;
use std::sync::Arc;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use vigil_event::now_ms;
use vigil_normalize::SourceKind;
use vigil_store::NewDeadLetter;

use crate::decode::{DeadLetter, FileDecoder, Prepared};
use crate::runtime::{DecodedBatch, Inlet, InletError, PendingEvent, Pipeline};
use crate::source::{BatchSink, RawBatch, SinkClosed, SinkFactory};
use crate::submit::{EventSubmitter, SubmitError};

thread_local! {
    // Event ids are UUID v4 from a per-thread generator seeded by the OS: one system
    // call per thread instead of one per event.
    static ID_RNG: RefCell<SmallRng> = RefCell::new(SmallRng::from_entropy());
}

/// A fresh UUID v4 in text form.
pub fn new_event_id() -> String {
    let bytes: [u8; 16] = ID_RNG.with(|r| r.borrow_mut().gen());
    uuid::Builder::from_random_bytes(bytes).into_uuid().to_string()
}

fn to_batch(origin: &Arc<str>, prepared: Prepared, received_ms: i64) -> DecodedBatch {
    let events =
        prepared.decoded.into_iter().map(|decoded| PendingEvent { event_id: new_event_id(), decoded }).collect();
    DecodedBatch {
        origin: Arc::clone(origin),
        received_ms,
        events,
        dead: prepared.dead.into_iter().map(|d| dead_letter(origin, received_ms, d)).collect(),
        checkpoint: None,
    }
}

fn dead_letter(origin: &str, received_ms: i64, d: DeadLetter) -> NewDeadLetter {
    NewDeadLetter {
        received_ms,
        origin: origin.to_owned(),
        position: d.position,
        reason: d.reason.to_owned(),
        message: d.message,
        decoder: d.decoder.map(str::to_owned),
        raw: d.raw,
    }
}

/// One pulled stream's way in.
pub struct StreamSink {
    origin: Arc<str>,
    decoder: FileDecoder,
    inlet: Arc<Inlet>,
    last_position: u64,
}

impl BatchSink for StreamSink {
    fn send(&mut self, batch: RawBatch) -> Result<(), SinkClosed> {
        let received_ms = now_ms();
        if let Some(last) = batch.lines.last() {
            self.last_position = last.position;
        }
        let prepared = self.decoder.prepare_lines(0, batch.lines.iter().map(|l| (l.position, l.text.as_str())));
        let mut decoded = to_batch(&self.origin, prepared, received_ms);
        for bad in batch.bad {
            decoded.dead.push(NewDeadLetter {
                received_ms,
                origin: self.origin.to_string(),
                position: bad.position,
                reason: bad.reason.to_owned(),
                message: bad.message,
                decoder: None,
                raw: String::from_utf8_lossy(&bad.raw).into_owned(),
            });
        }
        decoded.checkpoint = batch.checkpoint;
        self.inlet.send(decoded).map_err(|_| SinkClosed)
    }

    fn finish(&mut self) -> Result<(), SinkClosed> {
        let prepared = self.decoder.finish(0, self.last_position);
        if prepared.decoded.is_empty() && prepared.dead.is_empty() {
            return Ok(());
        }
        let batch = to_batch(&self.origin, prepared, now_ms());
        self.inlet.send(batch).map_err(|_| SinkClosed)
    }
}

/// Opens a [`StreamSink`] per stream.
pub struct StreamSinkFactory {
    inlet: Arc<Inlet>,
}

impl SinkFactory for StreamSinkFactory {
    fn open(&self, origin: &str, kind: Option<SourceKind>) -> Box<dyn BatchSink> {
        Box::new(StreamSink {
            origin: Arc::from(origin),
            decoder: FileDecoder::for_store(kind),
            inlet: Arc::clone(&self.inlet),
            last_position: 0,
        })
    }
}

/// HTTP `POST /events`: decode now, then queue without waiting.
pub struct HttpSubmitter {
    inlet: Arc<Inlet>,
    metrics: Arc<crate::metrics::Metrics>,
    /// Seconds a refused sender is told to wait.
    retry_after_secs: u32,
}

impl EventSubmitter for HttpSubmitter {
    fn submit(&self, origin: &str, records: Vec<String>) -> Result<Vec<String>, SubmitError> {
        let received_ms = now_ms();
        let origin: Arc<str> = Arc::from(origin);
        // Each request is decoded on its own: pushed records are independent objects.
        let mut decoder = FileDecoder::for_store(None);
        let mut ids = Vec::with_capacity(records.len());
        let mut batch = DecodedBatch {
            origin: Arc::clone(&origin),
            received_ms,
            events: Vec::new(),
            dead: Vec::new(),
            checkpoint: None,
        };
        for (i, record) in records.iter().enumerate() {
            let id = new_event_id();
            let prepared = decoder.prepare_lines(0, std::iter::once((i as u64, record.as_str())));
            // The record's id goes to the first event decoded from it; a record that
            // yields several events (a scan report) gives the others fresh ids.
            let mut first = true;
            for decoded in prepared.decoded {
                let event_id = if first { id.clone() } else { new_event_id() };
                first = false;
                batch.events.push(PendingEvent { event_id, decoded });
            }
            batch.dead.extend(prepared.dead.into_iter().map(|d| dead_letter(&origin, received_ms, d)));
            ids.push(id);
        }
        let rest = decoder.finish(0, records.len() as u64);
        let rest = to_batch(&origin, rest, received_ms);
        batch.events.extend(rest.events);
        batch.dead.extend(rest.dead);
        match self.inlet.try_send(batch) {
            Ok(()) => Ok(ids),
            Err(InletError::Full) => {
                self.metrics.http_rejected_full.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Err(SubmitError::Full { retry_after_secs: self.retry_after_secs })
            }
            Err(InletError::Closed) => Err(SubmitError::Closed),
        }
    }
}

impl Pipeline {
    /// Sinks for pulled sources (files, sockets, stdin).
    pub fn sink_factory(&self) -> Arc<dyn SinkFactory> {
        Arc::new(StreamSinkFactory { inlet: self.inlet() })
    }

    /// The HTTP ingest's way in.
    pub fn submitter(&self) -> Arc<dyn EventSubmitter> {
        Arc::new(HttpSubmitter { inlet: self.inlet(), metrics: self.metrics(), retry_after_secs: 1 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_are_uuid_v4_and_distinct() {
        let a = new_event_id();
        let b = new_event_id();
        assert_ne!(a, b);
        let u = uuid::Uuid::parse_str(&a).expect("a UUID");
        assert_eq!(u.get_version_num(), 4);
        assert_eq!(u.get_variant(), uuid::Variant::RFC4122);
    }
}
