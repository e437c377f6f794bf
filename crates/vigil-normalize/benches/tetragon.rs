//! Tetragon decode + normalize throughput (events/s, one core) on a realistic mix:
//! every Tetragon sample record of `$VIGIL_CORPUS/samples/tetragon` as one JSON line
//! (the export is one event per line; pretty-printed documents are compacted),
//! replicated to 10,000 events — 36 % exec, 27 % kprobe, 13 % exit, legacy network,
//! Vector-wrapped and the synthetic hook types. Without `VIGIL_CORPUS` a built-in
//! exec / kprobe / exit trio stands in.
//!
//! `VIGIL_CORPUS=../shared/corpus cargo bench -p vigil-normalize --bench tetragon`

use std::path::{Path, PathBuf};

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use vigil_normalize::{decoder_for, AutoDecoder, SourceKind};

const EVENTS: usize = 10_000;
/// Events are consumed (dropped) in batches of this size, as a pipeline stage would
/// hand them on, rather than all 10,000 kept alive at once.
const BATCH: usize = 256;

const FALLBACK: [&str; 3] = [
    r#"{"process_exec":{"process":{"exec_id":"Z2tlOjEzNjY1ODIyNjI0ODU2OjY4Nzkw","pid":68790,"uid":0,"cwd":"/","binary":"/usr/bin/netserver","arguments":"-D","flags":"execve rootcwd clone","start_time":"2022-10-18T03:16:18.273546829Z","auid":4294967295,"pod":{"namespace":"default","name":"tiefighter","container":{"id":"containerd://19a02291e106ce6227b684197be232ea57c4e1a5ab2604a12608c325d701c7f4","name":"spaceship","image":{"id":"docker.io/tgraf/netperf@sha256:8e86f744bfea165fd4ce68caa05abc96500f40130b857773186401926af7e9e6","name":"docker.io/tgraf/netperf:latest"},"start_time":"2022-10-18T03:16:18Z","pid":1},"pod_labels":{"app.kubernetes.io/name":"tiefighter","class":"tiefighter","org":"empire"}},"docker":"19a02291e106ce6227b684197be232e","parent_exec_id":"Z2tlOjEzNjYwNDgwNjUxNTk1OjY4NTk4","refcnt":1},"parent":{"exec_id":"Z2tlOjEzNjYwNDgwNjUxNTk1OjY4NTk4","pid":68598,"uid":0,"cwd":"/","binary":"/usr/bin/containerd-shim-runc-v2","arguments":"-namespace k8s.io -id c97e298d5d44 -address /run/containerd/containerd.sock","flags":"execve clone","start_time":"2022-10-18T03:16:12.931574263Z","auid":4294967295,"parent_exec_id":"Z2tlOjEzNjYwNDY4NzIyNTI4OjY4NTg3","refcnt":3}},"node_name":"my-node","time":"2022-10-18T03:16:18.274Z"}"#,
    r#"{"process_kprobe":{"process":{"exec_id":"a2luZDoxMjg0Mjc4MzM1MDY4NDo3Mzg2MA==","pid":73860,"uid":0,"cwd":"/","binary":"/usr/bin/cat","arguments":"/etc/passwd","flags":"execve rootcwd clone","start_time":"2023-07-06T10:13:33.834390020Z","auid":4294967295,"pod":{"namespace":"default","name":"xwing","container":{"id":"containerd://cfb961400ff2","name":"spaceship","image":{"id":"docker.io/tgraf/netperf@sha256:8e86","name":"docker.io/tgraf/netperf:latest"},"start_time":"2023-07-06T08:07:30Z","pid":171}},"docker":"cfb961400ff25811d22d139a10f6a62","parent_exec_id":"a2luZDoxMjg0MjEyNzEyMDk3Mjo3Mzg1MA==","tid":73860},"parent":{"exec_id":"a2luZDoxMjg0MjEyNzEyMDk3Mjo3Mzg1MA==","pid":73850,"uid":0,"cwd":"/","binary":"/bin/bash","flags":"execve rootcwd clone","start_time":"2023-07-06T10:13:33.178160018Z","auid":4294967295,"tid":73850},"function_name":"security_file_permission","args":[{"file_arg":{"path":"/etc/passwd"}},{"int_arg":4}],"return":{"int_arg":0},"action":"KPROBE_ACTION_POST","policy_name":"file-monitoring"},"node_name":"kind-control-plane","time":"2023-07-06T10:13:33.834882128Z"}"#,
    r#"{"process_exit":{"process":{"exec_id":"a2luZDoxMTQyODYxNTYzNjkwMTo1MTU4Mw==","pid":51583,"uid":0,"cwd":"/","binary":"/usr/bin/whoami","arguments":"--version","flags":"execve rootcwd clone","start_time":"2022-05-11T12:54:45.615Z","auid":4294967295,"docker":"1fb931d2f6e5e4cfdbaf30fdb8e2fdd","parent_exec_id":"a2luZDo5MDc5MjI1NjIzMjY5OjQzODcy"},"parent":{"exec_id":"a2luZDo5MDc5MjI1NjIzMjY5OjQzODcy","pid":43872,"uid":0,"cwd":"/","binary":"/bin/bash","flags":"execve rootcwd clone","start_time":"2022-05-11T12:15:36.225Z","auid":4294967295}},"node_name":"kind-control-plane","time":"2022-05-11T12:54:45.616Z"}"#,
];

/// Every Tetragon sample record as one compact JSON line.
fn sample_lines() -> Vec<String> {
    let Some(root) = std::env::var_os("VIGIL_CORPUS").map(PathBuf::from) else {
        eprintln!("VIGIL_CORPUS not set: benchmarking the built-in exec / kprobe / exit trio");
        return FALLBACK.iter().map(|s| (*s).to_owned()).collect();
    };
    let root = if root.is_absolute() { root } else { Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(root) };
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<PathBuf> =
            std::fs::read_dir(dir).expect("samples dir").flatten().map(|e| e.path()).collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(&root.join("samples/tetragon"), &mut files);
    let mut lines = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("UTF-8 sample");
        match f.extension().and_then(|e| e.to_str()) {
            Some("jsonl") => lines.extend(text.lines().filter(|l| !l.trim().is_empty()).map(str::to_owned)),
            Some("json") => {
                let v: serde_json::Value = serde_json::from_str(&text).expect("sample JSON");
                lines.push(v.to_string());
            }
            _ => {}
        }
    }
    lines
}

fn bench(c: &mut Criterion) {
    let samples = sample_lines();
    let events: Vec<&str> = samples.iter().map(String::as_str).cycle().take(EVENTS).collect();
    let bytes: usize = events.iter().map(|e| e.len()).sum();
    eprintln!("{} distinct records, {EVENTS} events, {} bytes/event on average", samples.len(), bytes / EVENTS);

    let mut group = c.benchmark_group("tetragon");
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.bench_function("decode_normalize_json", |b| {
        let mut decoder = decoder_for(SourceKind::Tetragon);
        let mut out = Vec::with_capacity(BATCH);
        b.iter(|| {
            let mut n = 0;
            for e in &events {
                decoder.decode(e, &mut out).expect("sample decodes");
                if out.len() >= BATCH {
                    n += out.len();
                    out.clear();
                }
            }
            n += out.len();
            out.clear();
            black_box(n)
        })
    });
    group.bench_function("sniff_decode_normalize_json", |b| {
        let mut decoder = AutoDecoder::new(None);
        let mut out = Vec::with_capacity(BATCH);
        b.iter(|| {
            let mut n = 0;
            for e in &events {
                decoder.decode(e, &mut out).expect("sample decodes");
                if out.len() >= BATCH {
                    n += out.len();
                    out.clear();
                }
            }
            n += out.len();
            out.clear();
            black_box(n)
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
