use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use flate2::bufread::MultiGzDecoder;

use crate::batch::{BadRecord, Batch, Sink};
use crate::discover::InputFile;
use crate::sniff::{sniff, Sniffed};
use crate::{evtx_reader, json_reader, jsonl_reader, FormatError, InputKind};

/// Whole-file JSON is held in memory to be walked; beyond this it should be JSONL.
pub const MAX_WHOLE_FILE_BYTES: u64 = 2 << 30;

/// Batch size and record limits for [`read_file`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOptions {
    /// Target size of one batch's text (default 1 MiB). A batch is handed over before
    /// a record would take it past this, so only a single larger record exceeds it.
    pub batch_bytes: usize,
    /// Longer records (default 16 MiB) become [`BadRecord`]s instead of records.
    pub max_record_bytes: usize,
    /// Size of the read buffer for line-oriented input (default 256 KiB). It grows on its
    /// own for lines longer than this, up to `max_record_bytes`.
    pub read_buffer_bytes: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions { batch_bytes: 1 << 20, max_record_bytes: 16 << 20, read_buffer_bytes: 256 << 10 }
    }
}

impl ReadOptions {
    /// Limits that keep every span offset of a batch within u32: a batch is at most
    /// batch_bytes plus one record.
    fn clamped(&self) -> (usize, usize) {
        (self.batch_bytes.clamp(1, 1 << 30), self.max_record_bytes.clamp(1, 2 << 30))
    }

    fn sink<'a>(
        &self,
        source: u32,
        on_batch: &'a mut dyn FnMut(Batch) -> bool,
        on_bad: &'a mut dyn FnMut(BadRecord),
    ) -> Sink<'a> {
        let (batch_bytes, max_record_bytes) = self.clamped();
        Sink::new(source, batch_bytes, max_record_bytes, on_batch, on_bad)
    }
}

/// What one [`read_file`] call went through.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Records handed over in batches.
    pub records: u64,
    /// Records reported as bad.
    pub bad: u64,
    /// Input bytes consumed, after decompression (see [`Batch::bytes_read`]).
    pub bytes: u64,
    /// The caller's `on_batch` returned false.
    pub stopped_early: bool,
}

/// Streams `file` as batches. Calls `on_batch` for each (return false to stop early) and
/// `on_bad` for each bad record; never stops on a bad record.
///
/// An `Err` means the file as a whole could not be read on (cannot be opened, read error,
/// corrupt gzip stream, unreadable EVTX header, whole-file JSON too large); the records
/// read before have been handed over already.
pub fn read_file(
    file: &InputFile,
    source: u32,
    opts: &ReadOptions,
    on_batch: &mut dyn FnMut(Batch) -> bool,
    on_bad: &mut dyn FnMut(BadRecord),
) -> Result<ReadStats, FormatError> {
    let path = file.path.as_path();
    let mut sink = opts.sink(source, on_batch, on_bad);
    let result = match file.kind {
        InputKind::Evtx => evtx_reader::read_evtx_path(path, &mut sink),
        InputKind::Jsonl | InputKind::Text => open(path).and_then(|mut f| {
            // Our own buffer is the read buffer: a BufReader on top would only add a copy.
            jsonl_reader::read_jsonl(&mut f, opts.read_buffer_bytes, &mut sink).map_err(|e| FormatError::io(path, e))
        }),
        InputKind::JsonlGz | InputKind::TextGz => open(path).and_then(|f| {
            let mut gz = MultiGzDecoder::new(BufReader::with_capacity(256 << 10, f));
            jsonl_reader::read_jsonl(&mut gz, opts.read_buffer_bytes, &mut sink).map_err(|e| FormatError::io(path, e))
        }),
        InputKind::Json => open(path).and_then(|f| {
            let bytes = read_whole(f, file.size, path)?;
            json_reader::read_json(&bytes, &mut sink);
            Ok(())
        }),
        InputKind::JsonGz => open(path).and_then(|f| {
            let gz = MultiGzDecoder::new(BufReader::with_capacity(256 << 10, f));
            let bytes = read_whole(gz, 0, path)?;
            json_reader::read_json(&bytes, &mut sink);
            Ok(())
        }),
    };
    // Flush what was read even when the file failed part-way.
    let stats = sink.finish();
    result.map(|()| stats)
}

/// Reads a file body held in memory, as [`read_file`] would read a file with that
/// content. `kind_hint` None sniffs the content (gzip and EVTX magic, then JSONL vs
/// JSON); content that is neither is read as JSONL, so every line reaches the consumer
/// and is rejected there. Exists for fuzzing and for inputs that are not files.
pub fn read_bytes(
    kind_hint: Option<InputKind>,
    bytes: &[u8],
    source: u32,
    opts: &ReadOptions,
    on_batch: &mut dyn FnMut(Batch) -> bool,
    on_bad: &mut dyn FnMut(BadRecord),
) -> Result<ReadStats, FormatError> {
    let path = Path::new("<bytes>");
    let mut sink = opts.sink(source, on_batch, on_bad);
    let text_kind = |body: &[u8]| match sniff(body, true) {
        Sniffed::Json => InputKind::Json,
        _ => InputKind::Jsonl,
    };
    let result = match kind_hint {
        None => match sniff(bytes, true) {
            Sniffed::Evtx => evtx_reader::read_evtx_bytes(bytes, &mut sink),
            Sniffed::Gzip => read_whole(MultiGzDecoder::new(bytes), 0, path).map(|body| {
                read_text(text_kind(&body), &body, opts, &mut sink);
            }),
            _ => {
                read_text(text_kind(bytes), bytes, opts, &mut sink);
                Ok(())
            }
        },
        Some(InputKind::Evtx) => evtx_reader::read_evtx_bytes(bytes, &mut sink),
        Some(kind @ (InputKind::Jsonl | InputKind::Json | InputKind::Text)) => {
            read_text(kind, bytes, opts, &mut sink);
            Ok(())
        }
        Some(InputKind::JsonlGz | InputKind::TextGz) => {
            let mut gz = MultiGzDecoder::new(bytes);
            jsonl_reader::read_jsonl(&mut gz, opts.read_buffer_bytes, &mut sink).map_err(|e| FormatError::io(path, e))
        }
        Some(InputKind::JsonGz) => read_whole(MultiGzDecoder::new(bytes), 0, path).map(|body| {
            json_reader::read_json(&body, &mut sink);
        }),
    };
    let stats = sink.finish();
    result.map(|()| stats)
}

fn read_text(kind: InputKind, mut body: &[u8], opts: &ReadOptions, sink: &mut Sink<'_>) {
    if kind == InputKind::Json {
        json_reader::read_json(body, sink);
    } else {
        // Reading from a slice cannot fail.
        let _ = jsonl_reader::read_jsonl(&mut body, opts.read_buffer_bytes, sink);
    }
}

fn open(path: &Path) -> Result<File, FormatError> {
    File::open(path).map_err(|e| FormatError::io(path, e))
}

/// Reads all of `reader`, refusing more than [`MAX_WHOLE_FILE_BYTES`]. `size_hint` is
/// the on-disk size (0 if unknown, as for compressed input).
fn read_whole(reader: impl Read, size_hint: u64, path: &Path) -> Result<Vec<u8>, FormatError> {
    let too_large = || FormatError::TooLarge { path: path.to_path_buf(), limit: MAX_WHOLE_FILE_BYTES };
    if size_hint > MAX_WHOLE_FILE_BYTES {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(size_hint as usize);
    reader.take(MAX_WHOLE_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(|e| FormatError::io(path, e))?;
    if bytes.len() as u64 > MAX_WHOLE_FILE_BYTES {
        return Err(too_large());
    }
    Ok(bytes)
}
