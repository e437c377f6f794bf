//! Records from a byte stream read to its end: stdin, or any reader. A batch goes out
//! when it is full or when the reader has nothing more buffered (the next read would
//! wait), so a slow producer's lines are not held back.

use std::io::BufRead;

use vigil_normalize::SourceKind;

use super::{BadLine, RawBatch, RawLine, SinkClosed, SinkFactory};

/// Reads `reader` to its end; returns the number of records read.
pub fn run_reader(
    reader: &mut dyn BufRead,
    origin: &str,
    kind: Option<SourceKind>,
    factory: &dyn SinkFactory,
    batch_max_lines: usize,
    max_line_bytes: usize,
) -> Result<u64, std::io::Error> {
    let mut sink = factory.open(origin, kind);
    let mut batch = RawBatch::default();
    let mut position = 0u64;
    let mut count = 0u64;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = std::io::Read::take(&mut *reader, max_line_bytes as u64 + 1).read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        position += n as u64;
        if line.len() > max_line_bytes && line.last() != Some(&b'\n') {
            // Skip the rest of the oversized line.
            let mut skipped = Vec::new();
            position += reader.read_until(b'\n', &mut skipped)? as u64;
            batch.bad.push(BadLine {
                position,
                reason: "too_large",
                message: format!("line longer than {max_line_bytes} bytes"),
                raw: line[..line.len().min(4096)].to_vec(),
            });
        } else {
            while matches!(line.last(), Some(b'\n' | b'\r')) {
                line.pop();
            }
            if !line.is_empty() {
                match String::from_utf8(std::mem::take(&mut line)) {
                    Ok(text) => batch.lines.push(RawLine { position, text }),
                    Err(e) => batch.bad.push(BadLine {
                        position,
                        reason: "invalid_utf8",
                        message: e.utf8_error().to_string(),
                        raw: e.as_bytes()[..e.as_bytes().len().min(4096)].to_vec(),
                    }),
                }
                count += 1;
            }
        }
        let idle = reader.fill_buf().map(|b| b.is_empty()).unwrap_or(true);
        if batch.lines.len() + batch.bad.len() >= batch_max_lines || idle {
            send(&mut *sink, &mut batch)?;
        }
    }
    send(&mut *sink, &mut batch)?;
    sink.finish().map_err(closed)?;
    Ok(count)
}

fn send(sink: &mut dyn super::BatchSink, batch: &mut RawBatch) -> Result<(), std::io::Error> {
    if batch.lines.is_empty() && batch.bad.is_empty() {
        return Ok(());
    }
    sink.send(std::mem::take(batch)).map_err(closed)
}

fn closed(_: SinkClosed) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the pipeline is closed")
}
