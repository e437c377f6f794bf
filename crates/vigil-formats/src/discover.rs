//! Turning the paths given on the command line into the list of files to read.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::bufread::MultiGzDecoder;
use walkdir::WalkDir;

use crate::sniff::{prefix_is_decisive, sniff, Sniffed, EVTX_MAGIC, GZIP_MAGIC};
use crate::{FormatError, InputKind};

/// One file to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputFile {
    pub path: PathBuf,
    pub kind: InputKind,
    /// Size on disk (compressed size for gzip).
    pub size: u64,
}

/// What [`discover`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Discovered {
    pub files: Vec<InputFile>,
    /// Files left out, with the reason (unknown type, not JSON, unreadable...).
    pub skipped: Vec<(PathBuf, String)>,
}

/// Sniffing reads this much first: enough for the first line of nearly any JSONL file.
const SNIFF_FIRST: usize = 64 << 10;
/// ...and at most this much, for very long first lines.
const SNIFF_MAX: usize = 1 << 20;

/// Expands directories recursively (sorted by file name, so runs are deterministic) and
/// keeps the files whose kind is recognised:
///
/// * `.jsonl`, `.ndjson`: JSONL;
/// * `.json`, `.log`, `.txt`: sniffed — JSONL, whole-file JSON, or skipped if not JSON;
/// * `.gz`: the gzip variant, sniffed after decompression unless the inner extension is
///   `.jsonl`/`.ndjson`;
/// * `.evtx`, or any file starting with the EVTX magic `ElfFile\0`: EVTX.
///
/// Other files found in directories are skipped and listed in `skipped` with a reason.
/// Files named explicitly are sniffed whatever their extension, since the user asked for
/// them. A path that does not exist is an error. A file reached twice is listed once.
pub fn discover(paths: &[PathBuf]) -> Result<Discovered, FormatError> {
    let mut out = Discovered::default();
    let mut seen = HashSet::new();
    for path in paths {
        let meta = fs::metadata(path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => FormatError::NotFound { path: path.clone() },
            _ => FormatError::io(path, e),
        })?;
        if meta.is_dir() {
            for entry in WalkDir::new(path).follow_links(true).sort_by_file_name() {
                let entry = match entry {
                    Ok(entry) => entry,
                    Err(e) => {
                        let at = e.path().unwrap_or(path).to_path_buf();
                        out.skipped.push((at, e.to_string()));
                        continue;
                    }
                };
                if entry.file_type().is_dir() {
                    continue;
                }
                let size = match entry.metadata() {
                    Ok(m) if m.is_file() => m.len(),
                    Ok(_) => {
                        out.skipped.push((entry.into_path(), "not a regular file".to_string()));
                        continue;
                    }
                    Err(e) => {
                        out.skipped.push((entry.into_path(), e.to_string()));
                        continue;
                    }
                };
                add(&mut out, &mut seen, entry.into_path(), size, false);
            }
        } else if meta.is_file() {
            add(&mut out, &mut seen, path.clone(), meta.len(), true);
        } else {
            out.skipped.push((path.clone(), "not a regular file".to_string()));
        }
    }
    Ok(out)
}

fn add(out: &mut Discovered, seen: &mut HashSet<PathBuf>, path: PathBuf, size: u64, explicit: bool) {
    let key = fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
    if !seen.insert(key) {
        return;
    }
    match classify(&path, explicit) {
        Ok(kind) => out.files.push(InputFile { path, kind, size }),
        Err(reason) => out.skipped.push((path, reason)),
    }
}

/// The kind of `path`, or why it is skipped.
fn classify(path: &Path, explicit: bool) -> Result<InputKind, String> {
    let ext = lower_ext(path);
    match ext.as_deref() {
        Some("jsonl" | "ndjson") => Ok(InputKind::Jsonl),
        Some("evtx") => {
            let prefix = read_prefix(open(path)?, EVTX_MAGIC.len(), EVTX_MAGIC.len()).map_err(|e| e.to_string())?;
            if prefix.0.starts_with(EVTX_MAGIC) {
                Ok(InputKind::Evtx)
            } else {
                Err("has an .evtx extension but no EVTX file header".to_string())
            }
        }
        Some("gz") => {
            let inner = path.file_stem().map(Path::new).and_then(lower_ext);
            let (prefix, _) =
                read_prefix(open(path)?, GZIP_MAGIC.len(), GZIP_MAGIC.len()).map_err(|e| e.to_string())?;
            if !prefix.starts_with(GZIP_MAGIC) {
                return Err("has a .gz extension but is not gzip".to_string());
            }
            match inner.as_deref() {
                Some("jsonl" | "ndjson") => Ok(InputKind::JsonlGz),
                _ => sniff_path(path),
            }
        }
        Some("json" | "log" | "txt") => sniff_path(path),
        _ if explicit => sniff_path(path),
        _ => {
            // Event logs are often saved without their extension (or under a .bak name):
            // the magic number is cheap to check.
            let (prefix, _) =
                read_prefix(open(path)?, EVTX_MAGIC.len(), EVTX_MAGIC.len()).map_err(|e| e.to_string())?;
            if prefix.starts_with(EVTX_MAGIC) {
                Ok(InputKind::Evtx)
            } else {
                Err(match ext {
                    Some(ext) => format!("unrecognised file type (.{ext})"),
                    None => "unrecognised file type (no extension)".to_string(),
                })
            }
        }
    }
}

fn lower_ext(path: &Path) -> Option<String> {
    path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase())
}

fn open(path: &Path) -> Result<File, String> {
    File::open(path).map_err(|e| e.to_string())
}

/// Sniffs a file's content, looking inside gzip.
fn sniff_path(path: &Path) -> Result<InputKind, String> {
    let (prefix, complete) = read_prefix(open(path)?, SNIFF_FIRST, SNIFF_MAX).map_err(|e| e.to_string())?;
    match sniff(&prefix, complete) {
        Sniffed::Evtx => Ok(InputKind::Evtx),
        Sniffed::Jsonl => Ok(InputKind::Jsonl),
        Sniffed::Json => Ok(InputKind::Json),
        Sniffed::Text => Ok(InputKind::Text),
        Sniffed::Other(reason) => Err(reason),
        Sniffed::Gzip => {
            let gz = MultiGzDecoder::new(BufReader::new(open(path)?));
            let (prefix, complete) = read_prefix(gz, SNIFF_FIRST, SNIFF_MAX).map_err(|e| format!("gzip: {e}"))?;
            match sniff(&prefix, complete) {
                Sniffed::Jsonl => Ok(InputKind::JsonlGz),
                Sniffed::Json => Ok(InputKind::JsonGz),
                Sniffed::Text => Ok(InputKind::TextGz),
                Sniffed::Other(reason) => Err(format!("gzip: {reason}")),
                Sniffed::Evtx | Sniffed::Gzip => {
                    Err("gzip: compressed EVTX or nested gzip is not supported".to_string())
                }
            }
        }
    }
}

/// Reads at least `first` bytes (or to the end), then more until [`sniff`] can decide or
/// `max` bytes are in. Returns the bytes and whether they are the whole input.
fn read_prefix(reader: impl Read, first: usize, max: usize) -> io::Result<(Vec<u8>, bool)> {
    let mut prefix = Vec::with_capacity(first);
    let mut reader = reader.take(max as u64);
    let mut want = first;
    loop {
        let before = prefix.len();
        (&mut reader).take((want - before) as u64).read_to_end(&mut prefix)?;
        let hit_eof = prefix.len() < want;
        if hit_eof {
            return Ok((prefix, true));
        }
        if prefix.len() >= max || prefix_is_decisive(&prefix) {
            // At the cap, one more byte tells whether the input ended exactly here.
            let mut probe = [0u8; 1];
            let complete = reader.into_inner().read(&mut probe)? == 0;
            return Ok((prefix, complete));
        }
        want = (want * 2).min(max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_reports_completeness() {
        let data = b"{\"a\":1}\n{\"b\":2}\n";
        let (p, complete) = read_prefix(&data[..], 4, 8).unwrap();
        assert_eq!(p, b"{\"a\":1}\n");
        assert!(!complete);
        let (p, complete) = read_prefix(&data[..], 64, 1024).unwrap();
        assert_eq!(p, data);
        assert!(complete);
        let (p, complete) = read_prefix(&data[..8], 4, 8).unwrap();
        assert_eq!(p.len(), 8);
        assert!(complete);
    }

    #[test]
    fn prefix_grows_until_the_first_line_ends() {
        let mut data = b"{\"a\":\"".to_vec();
        data.extend(vec![b'x'; 100]);
        data.extend(b"\"}\n{}\n");
        let (p, _) = read_prefix(&data[..], 4, 1 << 20).unwrap();
        assert!(p.len() >= 109, "{}", p.len());
        assert_eq!(sniff(&p, false), Sniffed::Jsonl);
    }
}
