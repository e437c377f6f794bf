//! Write throughput: batches of 1000 process events (~600-byte raw records, their OCSF
//! JSON, one checkpoint) into a store that keeps growing across iterations, the way
//! the daemon's writer feeds it.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use vigil_store::{Checkpoint, NewEvent, Store, StoreOptions, WriteBatch};

const BATCH: usize = 1000;
const BINARIES: [&str; 6] =
    ["/usr/bin/curl", "/bin/bash", "/usr/bin/python3", "/usr/sbin/sshd", "/usr/bin/kubectl", "/bin/sh"];

/// The id scheme under test: random UUID v4 (what the daemon hands out today) or
/// time-ordered UUID v7, whose inserts land at the right edge of the unique index.
#[derive(Clone, Copy)]
enum Ids {
    V4,
    V7,
}

fn event_id(ids: Ids, n: u64) -> String {
    match ids {
        Ids::V4 => uuid::Uuid::new_v4().to_string(),
        Ids::V7 => {
            let mut rest = [0u8; 10];
            rest[..8].copy_from_slice(&n.to_be_bytes());
            rest[8..].copy_from_slice(&uuid::Uuid::new_v4().as_bytes()[..2]);
            uuid::Builder::from_unix_timestamp_millis(1_700_000_000_000 + n / 20, &rest).into_uuid().to_string()
        }
    }
}

fn realistic_event(n: u64) -> NewEvent {
    let time_ms = 1_700_000_000_000 + (n as i64) * 3;
    let host = format!("node-{:02}", n % 40);
    let pod = format!("api-{:x}-{}", n % 977, n % 13);
    let binary = BINARIES[(n % BINARIES.len() as u64) as usize];
    let src_ip = format!("10.{}.{}.{}", n % 7, (n / 7) % 250, n % 251);
    let user = format!("svc-{}", n % 60);
    let raw = format!(
        r#"{{"process_exec":{{"process":{{"exec_id":"{host}:{n}:{pid}","pid":{pid},"uid":{uid},"cwd":"/srv/app","binary":"{binary}","arguments":"--config /etc/app/config-{cfg}.yaml --listen 0.0.0.0:{port} --peer {src_ip}","flags":"execve clone","start_time":"2023-11-14T22:13:{sec:02}.{ms:03}Z","auid":4294967295,"pod":{{"namespace":"prod","name":"{pod}","container":{{"id":"containerd://{cid:016x}","name":"api","image":{{"name":"registry.local/api:1.{minor}"}}}}}},"docker":"{cid:07x}","parent_exec_id":"{host}:{ppid}"}}}},"node_name":"{host}","time":"2023-11-14T22:13:{sec:02}.{ms:03}Z"}}"#,
        pid = 1000 + n % 30_000,
        uid = n % 2000,
        cfg = n % 17,
        port = 8000 + n % 1000,
        sec = n % 60,
        ms = n % 1000,
        cid = n.wrapping_mul(0x9e37_79b9_7f4a_7c15),
        minor = n % 9,
        ppid = n / 2,
    );
    let ocsf = format!(
        r#"{{"class_uid":1007,"category_uid":1,"activity_id":1,"time":{time_ms},"severity_id":1,"device":{{"hostname":"{host}"}},"actor":{{"user":{{"name":"{user}"}}}},"process":{{"pid":{pid},"file":{{"path":"{binary}"}},"cmd_line":"{binary} --listen 0.0.0.0:{port}"}},"src_endpoint":{{"ip":"{src_ip}"}},"metadata":{{"product":{{"name":"Tetragon"}},"version":"1.3.0"}}}}"#,
        pid = 1000 + n % 30_000,
        port = 8000 + n % 1000,
    );
    NewEvent {
        event_id: String::new(),
        time_ms,
        received_ms: time_ms + 40,
        source: "tetragon".to_string(),
        origin: "file:/var/log/tetragon/tetragon.log".to_string(),
        class_uid: Some(1007),
        host: Some(host),
        src_ip: Some(src_ip),
        user: Some(user),
        ocsf,
        raw,
    }
}

fn batch_of(next: &mut u64, ids: Ids) -> WriteBatch {
    let events: Vec<NewEvent> = (0..BATCH as u64)
        .map(|i| NewEvent { event_id: event_id(ids, *next + i), ..realistic_event(*next + i) })
        .collect();
    *next += BATCH as u64;
    WriteBatch {
        events,
        checkpoints: vec![Checkpoint {
            key: "tetragon-log".to_string(),
            location: "/var/log/tetragon/tetragon.log".to_string(),
            offset: *next * 600,
            updated_ms: 1_700_000_000_000,
        }],
        ..WriteBatch::default()
    }
}

fn write_batches(c: &mut Criterion) {
    write_batches_with(c, "write_batch_1000_events", Ids::V4);
    write_batches_with(c, "write_batch_1000_events_uuid_v7", Ids::V7);
}

fn write_batches_with(c: &mut Criterion, name: &str, ids: Ids) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path(), StoreOptions::default()).expect("open store");
    let mut next = 0u64;
    let average_raw = (0..100).map(|n| realistic_event(n).raw.len()).sum::<usize>() / 100;
    eprintln!("average raw record: {average_raw} bytes");

    let mut group = c.benchmark_group("store");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.sample_size(30);
    group.measurement_time(Duration::from_secs(20));
    group.bench_function(name, |b| {
        b.iter_batched(
            || batch_of(&mut next, ids),
            |batch| store.write_batch(&batch).expect("write"),
            BatchSize::PerIteration,
        )
    });
    group.finish();
    // Full-text indexing runs on a background thread that shares the writer connection,
    // so the rate above includes it as long as it keeps up; what it still owes shows here.
    let started = std::time::Instant::now();
    let query = vigil_store::EventQuery { q: Some("curl".into()), limit: Some(1), ..Default::default() };
    store.events(&query).expect("search");
    eprintln!("full-text catch-up at the end: {:?}", started.elapsed());
    let (events, _, _) = store.counts().expect("counts");
    eprintln!("store holds {events} events, {} bytes", store.size_bytes().expect("size"));
}

criterion_group!(benches, write_batches);
criterion_main!(benches);
