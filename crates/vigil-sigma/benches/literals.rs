//! Literal matching over realistic data, with the gram matcher of `src/literals.rs`
//! versus Aho-Corasick contiguous NFA and DFA.
//!
//! Literals: per field, the `contains`/`startswith`/`endswith` values of the SigmaHQ
//! Windows rules (split at wildcards, `windash` expanded, lower-cased, length ≥ 3,
//! deduplicated). Haystacks: the lower-cased values of those fields in the benchmark
//! events. The corpus is `$VIGIL_CORPUS` or `/work/shared/corpus` (`sigma/rules/windows`
//! and `bench/hsample_flat.jsonl.gz`); without it, a small synthetic set is used.
//!
//! Groups (throughput in bytes of haystack):
//! - `literals/<field>`: the values of one field, for `CommandLine` (the largest literal
//!   set), `ScriptBlockText` (long values), `Image` and `Hashes` (hex);
//! - `literals/all fields, per event`: every field of every event with its field's
//!   matcher, in event order, as the evaluator scans them;
//! - `literals/CommandLine, cold`: `CommandLine` values by 15 (about one event's worth of
//!   scanning), with 2 MB of other memory written between batches, only the scans timed.
//!
//! Before measuring, prints each matcher's build time and memory for the benched fields
//! and asserts that all three report the same matches.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aho_corasick::automaton::{Automaton, OverlappingState};
use aho_corasick::{dfa, nfa, Input, MatchKind};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

// The module is crate-private: compile it into the bench directly.
#[allow(dead_code)]
#[path = "../src/literals.rs"]
mod literals;

use literals::FieldAutomaton;

/// Fields benched on their own.
const FIELDS: &[&str] = &["CommandLine", "ScriptBlockText", "Image", "Hashes"];
/// At most this many values per field.
const MAX_HAYSTACKS: usize = 20_000;
/// Haystacks per batch and memory written between batches, for the cold group.
const COLD_BATCH: usize = 15;
const COLD_BYTES: usize = 2 << 20;

fn corpus_dir() -> Option<PathBuf> {
    let dir =
        std::env::var_os("VIGIL_CORPUS").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/work/shared/corpus"));
    (dir.join("sigma/rules/windows").is_dir() && dir.join("bench/hsample_flat.jsonl.gz").is_file()).then_some(dir)
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            out.push(path);
        }
    }
}

/// Literal pieces of a Sigma string value: split at wildcards, lower-cased.
fn pieces(value: &str, windash: bool, out: &mut Vec<Vec<u8>>) {
    let variants: Vec<String> = if windash {
        ["-", "/", "\u{2013}", "\u{2014}", "\u{2015}"].iter().map(|d| value.replace('-', d)).collect()
    } else {
        vec![value.to_owned()]
    };
    for v in variants {
        for piece in v.split(['*', '?']) {
            let piece = piece.replace("\\\\", "\\").to_lowercase();
            if piece.len() >= 3 {
                out.push(piece.into_bytes());
            }
        }
    }
}

/// Per field name, its literals.
type Literals = std::collections::BTreeMap<String, Vec<Vec<u8>>>;
/// Field names and their literals.
type FieldLiterals = Vec<(String, Vec<Vec<u8>>)>;
/// Per event, its values of the literals' fields: (field index, lower-cased value).
type Events = Vec<Vec<(usize, Vec<u8>)>>;
/// Per scenario, its name and (field index, value) haystacks.
type Scenarios<'a> = Vec<(String, Vec<(usize, &'a [u8])>)>;

fn walk(value: &serde_yaml::Value, out: &mut Literals) {
    match value {
        serde_yaml::Value::Mapping(map) => {
            for (k, v) in map {
                let key = k.as_str().unwrap_or_default();
                let mut parts = key.split('|');
                let field = parts.next().unwrap_or_default();
                let mods: Vec<&str> = parts.collect();
                if mods.iter().any(|m| matches!(*m, "contains" | "startswith" | "endswith")) {
                    let out = out.entry(field.to_owned()).or_default();
                    let windash = mods.contains(&"windash");
                    let values = match v {
                        serde_yaml::Value::Sequence(s) => s.iter().collect(),
                        other => vec![other],
                    };
                    for s in values.into_iter().filter_map(serde_yaml::Value::as_str) {
                        pieces(s, windash, out);
                    }
                } else {
                    walk(v, out);
                }
            }
        }
        serde_yaml::Value::Sequence(s) => s.iter().for_each(|v| walk(v, out)),
        _ => {}
    }
}

/// Every field's literals.
fn rule_literals(dir: &Path) -> Literals {
    let mut files = Vec::new();
    yaml_files(&dir.join("sigma/rules/windows"), &mut files);
    files.sort();
    let mut out = Literals::new();
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else { continue };
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let Ok(doc) = <serde_yaml::Value as serde::Deserialize>::deserialize(doc) else { continue };
            if let Some(detection) = doc.get("detection") {
                walk(detection, &mut out);
            }
        }
    }
    for literals in out.values_mut() {
        literals.sort();
        literals.dedup();
    }
    out
}

/// Per event, its non-empty string values of the fields in `fields` as (field index,
/// lower-cased value).
fn events(dir: &Path, fields: &[&str]) -> Events {
    let file = std::fs::File::open(dir.join("bench/hsample_flat.jsonl.gz")).expect("corpus events");
    let reader = BufReader::new(flate2::read::GzDecoder::new(file));
    let mut out = Vec::new();
    for line in reader.lines() {
        let Ok(line) = line else { break };
        let Ok(serde_json::Value::Object(event)) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
        let values: Vec<(usize, Vec<u8>)> = fields
            .iter()
            .enumerate()
            .filter_map(|(k, f)| event.get(*f).and_then(serde_json::Value::as_str).map(|v| (k, v)))
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k, v.to_lowercase().into_bytes()))
            .collect();
        out.push(values);
    }
    out
}

/// A deterministic stand-in when the corpus is absent: literals and values made of the
/// same command-line-like words.
fn synthetic() -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    const WORDS: &[&str] = &[
        "powershell",
        ".exe",
        " -enc",
        " -nop",
        "\\windows\\",
        "system32",
        "cmd",
        " /c ",
        "rundll32",
        "http://",
        "invoke-",
        "webclient",
        "download",
        "temp\\",
        "\\appdata\\",
        "reg",
        " add ",
        "hklm",
        "schtasks",
        " /create",
        "certutil",
        "-urlcache",
        "bitsadmin",
        "mshta",
        "vbscript",
        "wscript",
        "base64",
        "frombase64string",
        "iex",
        "%",
    ];
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let mut patterns = Vec::new();
    for _ in 0..3000 {
        let mut p = Vec::new();
        for _ in 0..1 + next(3) {
            p.extend_from_slice(WORDS[next(WORDS.len())].as_bytes());
        }
        let cut = next(p.len().min(4));
        p.drain(..cut);
        p.extend_from_slice(format!("{}", next(1000)).as_bytes());
        if p.len() >= 3 {
            patterns.push(p);
        }
    }
    patterns.sort();
    patterns.dedup();
    let mut hays = Vec::new();
    for _ in 0..3000 {
        let mut h = Vec::new();
        for _ in 0..2 + next(12) {
            h.extend_from_slice(WORDS[next(WORDS.len())].as_bytes());
            h.extend_from_slice(format!("{} ", next(5000)).as_bytes());
        }
        hays.push(h);
    }
    (patterns, hays)
}

/// One field's literals and their three matchers.
struct Field {
    name: String,
    grams: FieldAutomaton,
    nfa: nfa::contiguous::NFA,
    dfa: dfa::DFA,
}

impl Field {
    fn new(name: String, literals: &[Vec<u8>], verbose: bool) -> Field {
        let refs: Vec<&[u8]> = literals.iter().map(Vec::as_slice).collect();
        let (grams, t_grams) = timed(|| FieldAutomaton::build(&refs));
        let (nfa, t_nfa) = timed(|| {
            nfa::contiguous::NFA::builder().match_kind(MatchKind::Standard).prefilter(false).build(&refs).unwrap()
        });
        let (dfa, t_dfa) =
            timed(|| dfa::DFA::builder().match_kind(MatchKind::Standard).prefilter(false).build(&refs).unwrap());
        if verbose {
            let kind = match &grams {
                FieldAutomaton::Grams(_) => "grams",
                FieldAutomaton::Dfa(_) => "fallback dfa",
                FieldAutomaton::Nfa(_) => "fallback nfa",
            };
            eprintln!(
                "{name}: {} literals ({} bytes, {} of length 3)",
                literals.len(),
                literals.iter().map(Vec::len).sum::<usize>(),
                literals.iter().filter(|p| p.len() == 3).count(),
            );
            eprintln!("  {kind:>12}: build {t_grams:>10.3?}, {:>9} bytes", grams.memory_usage());
            eprintln!("  {:>12}: build {t_nfa:>10.3?}, {:>9} bytes", "nfa", nfa.memory_usage());
            eprintln!("  {:>12}: build {t_dfa:>10.3?}, {:>9} bytes", "dfa", dfa.memory_usage());
        }
        Field { name, grams, nfa, dfa }
    }
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Grams,
    Nfa,
    Dfa,
}

const KINDS: [Kind; 3] = [Kind::Grams, Kind::Nfa, Kind::Dfa];

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Grams => "grams",
            Kind::Nfa => "nfa",
            Kind::Dfa => "dfa",
        }
    }
}

fn run<A: Automaton>(automaton: &A, hay: &[u8], mut f: impl FnMut(usize, usize, usize)) {
    let input = Input::new(hay);
    let mut state = OverlappingState::start();
    while automaton.try_find_overlapping(&input, &mut state).is_ok() {
        match state.get_match() {
            Some(m) => f(m.pattern().as_usize(), m.start(), m.end()),
            None => return,
        }
    }
}

/// Scans each `(field, value)` with that field's matcher of `kind`; returns (matches, a
/// checksum of their positions).
fn scan_all(fields: &[Field], hays: &[(usize, &[u8])], kind: Kind) -> (usize, usize) {
    let (mut n, mut sum) = (0usize, 0usize);
    let mut f = |p: usize, s: usize, e: usize| {
        n += 1;
        sum = sum.wrapping_add(p.wrapping_mul(31).wrapping_add(s * 7).wrapping_add(e));
    };
    for &(field, hay) in hays {
        let field = &fields[field];
        match kind {
            Kind::Grams => field.grams.for_each_match(hay, &mut f),
            Kind::Nfa => run(&field.nfa, hay, &mut f),
            Kind::Dfa => run(&field.dfa, hay, &mut f),
        }
    }
    (n, sum)
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let t = Instant::now();
    let v = f();
    (v, t.elapsed())
}

fn bench(c: &mut Criterion) {
    let (literals, events): (FieldLiterals, Events) = match corpus_dir() {
        Some(dir) => {
            let literals: FieldLiterals = rule_literals(&dir).into_iter().collect();
            let names: Vec<&str> = literals.iter().map(|(n, _)| n.as_str()).collect();
            let events = events(&dir, &names);
            (literals, events)
        }
        None => {
            eprintln!("literals bench: corpus not found, using a synthetic set");
            let (p, h) = synthetic();
            (vec![("synthetic".to_string(), p)], h.into_iter().map(|h| vec![(0, h)]).collect())
        }
    };
    let benched = |name: &str| FIELDS.contains(&name) || name == "synthetic";
    let fields: Vec<Field> =
        literals.iter().map(|(name, lits)| Field::new(name.clone(), lits, benched(name))).collect();

    let fallbacks = fields.iter().filter(|f| !matches!(f.grams, FieldAutomaton::Grams(_))).count();
    eprintln!("{} fields with literals, {fallbacks} of them on the Aho-Corasick fallback", fields.len());

    let mut scenarios: Scenarios = Vec::new();
    for (k, field) in fields.iter().enumerate().filter(|(_, f)| benched(&f.name)) {
        let hays: Vec<(usize, &[u8])> = events
            .iter()
            .flatten()
            .filter(|(f, _)| *f == k)
            .map(|(f, v)| (*f, v.as_slice()))
            .take(MAX_HAYSTACKS)
            .collect();
        scenarios.push((field.name.clone(), hays));
    }
    if fields.len() > 1 {
        let hays: Vec<(usize, &[u8])> = events.iter().flatten().map(|(f, v)| (*f, v.as_slice())).collect();
        scenarios.push(("all fields, per event".to_string(), hays));
    }

    for (name, hays) in &scenarios {
        if hays.is_empty() {
            continue;
        }
        let bytes: usize = hays.iter().map(|(_, h)| h.len()).sum();
        let counts = KINDS.map(|k| scan_all(&fields, hays, k));
        eprintln!("{name}: {} haystacks, {bytes} bytes, {} matches", hays.len(), counts[0].0);
        assert_eq!(counts[0], counts[1], "{name}: the gram matcher and the NFA disagree");
        assert_eq!(counts[2], counts[1], "{name}: the DFA and the NFA disagree");
        let mut group = c.benchmark_group(format!("literals/{name}"));
        group.throughput(Throughput::Bytes(bytes as u64));
        for kind in KINDS {
            group
                .bench_function(BenchmarkId::from_parameter(kind.name()), |b| b.iter(|| scan_all(&fields, hays, kind)));
        }
        group.finish();
    }

    if let Some((name, hays)) = scenarios.first() {
        let bytes: usize = hays.iter().map(|(_, h)| h.len()).sum();
        let mut other = vec![0u64; COLD_BYTES / 8];
        let mut group = c.benchmark_group(format!("literals/{name}, cold"));
        group.throughput(Throughput::Bytes(bytes as u64));
        for kind in KINDS {
            group.bench_function(BenchmarkId::from_parameter(kind.name()), |b| {
                b.iter_custom(|iters| {
                    let mut scanning = Duration::ZERO;
                    for _ in 0..iters {
                        for batch in hays.chunks(COLD_BATCH) {
                            for (k, word) in other.iter_mut().enumerate() {
                                *word = word.wrapping_add(k as u64);
                            }
                            std::hint::black_box(&other);
                            let t = Instant::now();
                            std::hint::black_box(scan_all(&fields, batch, kind));
                            scanning += t.elapsed();
                        }
                    }
                    scanning
                })
            });
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
