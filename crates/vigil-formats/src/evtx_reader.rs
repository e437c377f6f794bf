//! EVTX: each record rendered as the same JSON evtx_dump prints (`#attributes` objects
//! for XML attributes), so rules and field mappings written against evtx_dump output
//! work unchanged.

use std::error::Error as _;
use std::path::Path;

use evtx::err::EvtxError;
use evtx::{EvtxParser, ParserSettings};

use crate::batch::Sink;
use crate::FormatError;

fn settings() -> ParserSettings {
    // num_threads is left alone: the crate is built without its `multithreading` feature,
    // where parsing is single-threaded anyway and num_threads() only logs a warning. Files
    // are parallelised by the caller instead.
    ParserSettings::new()
        .separate_json_attributes(false)
        // Compact output: the records are parsed again downstream, and indentation would
        // only make them bigger.
        .indent(false)
}

pub(crate) fn read_evtx_path(path: &Path, sink: &mut Sink<'_>) -> Result<(), FormatError> {
    let parser = EvtxParser::from_path(path)
        .map_err(|e| FormatError::Evtx { path: path.to_path_buf(), message: error_chain(&e) })?;
    read_records(parser, sink);
    Ok(())
}

pub(crate) fn read_evtx_bytes(bytes: &[u8], sink: &mut Sink<'_>) -> Result<(), FormatError> {
    let parser = EvtxParser::from_buffer(bytes.to_vec())
        .map_err(|e| FormatError::Evtx { path: "<bytes>".into(), message: error_chain(&e) })?;
    read_records(parser, sink);
    Ok(())
}

fn read_records<T: std::io::Read + std::io::Seek>(parser: EvtxParser<T>, sink: &mut Sink<'_>) {
    let mut parser = parser.with_configuration(settings());
    for record in parser.records_json() {
        match record {
            Ok(record) => {
                sink.push(&record.data, record.event_record_id);
                sink.consumed(record.data.len() as u64);
                if sink.stopped() {
                    return;
                }
            }
            Err(e) => {
                let position = match &e {
                    EvtxError::FailedToParseRecord { record_id, .. } => *record_id,
                    _ => 0,
                };
                sink.bad(position, error_chain(&e), &[]);
            }
        }
    }
}

/// The evtx crate's top-level messages are generic ("Failed to parse record number 7");
/// the cause is in the source chain, so all of it goes into the report.
fn error_chain(e: &EvtxError) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}
