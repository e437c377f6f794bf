//! Quick JSONL read-throughput check (not a test):
//!
//! ```text
//! VIGIL_CORPUS=/work/shared/corpus cargo run --release -p vigil-formats --example jsonl_throughput
//! ```
//!
//! Decompresses bench/hsample_flat.jsonl.gz into a temp file, repeated to a few hundred
//! MB so the timing is not noise, then reads it with `read_file` several times (page
//! cache warm) and prints the best MB/s; then reads the .gz itself for comparison. The consumer only touches each record's length,
//! so this measures the reader alone.

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::PathBuf;
use std::time::Instant;

use vigil_formats::{read_file, InputFile, InputKind, ReadOptions};

fn main() {
    let corpus =
        std::env::var_os("VIGIL_CORPUS").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/work/shared/corpus"));
    let gz_path = corpus.join("bench/hsample_flat.jsonl.gz");
    let target_mb: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(512);

    let mut plain = Vec::new();
    flate2::read::MultiGzDecoder::new(BufReader::new(
        File::open(&gz_path).unwrap_or_else(|e| panic!("{}: {e}", gz_path.display())),
    ))
    .read_to_end(&mut plain)
    .expect("decompress");

    let path = std::env::temp_dir().join(format!("vigil-jsonl-throughput-{}.jsonl", std::process::id()));
    {
        let mut out = std::io::BufWriter::new(File::create(&path).expect("create temp file"));
        let copies = (target_mb << 20).div_ceil(plain.len()).max(1);
        for _ in 0..copies {
            out.write_all(&plain).expect("write temp file");
        }
        out.flush().expect("flush");
    }
    let size = std::fs::metadata(&path).expect("stat").len();
    let file = InputFile { path: path.clone(), kind: InputKind::Jsonl, size };

    let opts = ReadOptions::default();
    let mut best = f64::MAX;
    let mut records = 0;
    for _ in 0..5 {
        let mut touched = 0usize;
        let start = Instant::now();
        let stats = read_file(
            &file,
            0,
            &opts,
            &mut |batch| {
                touched += batch.records.iter().map(|r| (r.end - r.start) as usize).sum::<usize>();
                true
            },
            &mut |_| {},
        )
        .expect("read");
        let secs = start.elapsed().as_secs_f64();
        best = best.min(secs);
        records = stats.records;
        assert!(touched > 0);
    }
    let _ = std::fs::remove_file(&path);

    // For comparison: the same data through gzip, which bounds .jsonl.gz input.
    let gz =
        InputFile { size: std::fs::metadata(&gz_path).expect("stat").len(), path: gz_path, kind: InputKind::JsonlGz };
    let start = Instant::now();
    let gz_stats = read_file(&gz, 0, &opts, &mut |_| true, &mut |_| {}).expect("read gz");
    let gz_secs = start.elapsed().as_secs_f64();
    println!(
        "gzip: {} MB decompressed in {gz_secs:.3} s = {:.0} MB/s",
        gz_stats.bytes >> 20,
        gz_stats.bytes as f64 / 1e6 / gz_secs
    );
    println!(
        "{} MB, {records} records: best {:.3} s = {:.0} MB/s ({:.1} M records/s)",
        size >> 20,
        best,
        size as f64 / 1e6 / best,
        records as f64 / 1e6 / best
    );
}
