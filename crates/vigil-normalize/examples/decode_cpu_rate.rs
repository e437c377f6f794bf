//! Decode + normalize rate per CPU-second of one thread, for a noisy or shared machine:
//! criterion measures wall time, which other processes inflate; this counts the
//! thread's own CPU time (`/proc/thread-self/schedstat`), so runs made while the
//! machine is busy stay comparable. Prints the median of `RUNS` runs.
//!
//! `cargo run --release -p vigil-normalize --example decode_cpu_rate -- <source> <file>...`
//! where `<source>` is a source name (`tetragon`, `syslog`, …) and each file holds one
//! record per line (compact JSON lines for JSON sources). The records are cycled to
//! 200,000 events per pass: the thread's CPU clock advances in scheduler ticks (4 ms
//! here), so a pass must last long enough for a tick to be noise (10,000 events, ~30 ms,
//! gave rates in steps of 15 %).

use std::time::Duration;

use vigil_normalize::{decoder_for, SourceKind};

const EVENTS: usize = 200_000;
const RUNS: usize = 7;

fn thread_cpu() -> Duration {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").expect("Linux schedstat");
    let ns: u64 = text.split_whitespace().next().and_then(|n| n.parse().ok()).expect("cpu ns");
    Duration::from_nanos(ns)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let source = args.next().expect("usage: decode_cpu_rate <source> <file>...");
    let kind: SourceKind = source.parse().unwrap_or_else(|e| panic!("{source}: {e}"));
    let mut lines = Vec::new();
    for file in args {
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}"));
        lines.extend(text.lines().filter(|l| !l.trim().is_empty()).map(str::to_owned));
    }
    assert!(!lines.is_empty(), "no records");
    let events: Vec<&str> = lines.iter().map(String::as_str).cycle().take(EVENTS).collect();
    let mut decoder = decoder_for(kind);
    let mut out = Vec::with_capacity(256);
    let mut rates = Vec::new();
    for _ in 0..RUNS {
        let start = thread_cpu();
        let mut n = 0usize;
        for e in &events {
            // Bad records count as work done too; the caller picks good input.
            let _ = decoder.decode(e, &mut out);
            if out.len() >= 256 {
                n += out.len();
                out.clear();
            }
        }
        decoder.flush(&mut out);
        n += out.len();
        out.clear();
        let cpu = thread_cpu() - start;
        rates.push(n as f64 / cpu.as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    println!(
        "{source}: {:.0} events per CPU-second (median of {RUNS}; min {:.0}, max {:.0})",
        rates[RUNS / 2],
        rates[0],
        rates[RUNS - 1]
    );
}
