//! SigmaHQ's Kubernetes audit rules (`$VIGIL_CORPUS/sigma/rules/application/kubernetes`,
//! unedited) fire on the decoded Falco trace-file events built for them — plain, and
//! the same events inside the AKS and GKE wrappers — and not on benign events.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use vigil_normalize::{AutoDecoder, Normalized, SourceKind};
use vigil_sigma::loader::load_paths;
use vigil_sigma::{Compiled, Evaluator, Pipeline, PipelineSet};

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

/// The Kubernetes rules, compiled as `vigil` compiles rules (built-in Windows pipeline
/// on, which must not disturb them).
fn rules(root: &Path) -> Compiled {
    let loaded = load_paths(&[root.join("sigma/rules/application/kubernetes")]).expect("rules load");
    assert_eq!(loaded.files, 16);
    let compiled = loaded.compile(&PipelineSet::new(vec![Pipeline::builtin_windows()]));
    let errors: Vec<String> = compiled.errors.iter().map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    compiled
}

fn decode(record: &str) -> Vec<Normalized> {
    let mut out = Vec::new();
    let kind = AutoDecoder::new(None).decode(record, &mut out).unwrap_or_else(|e| panic!("{e}: {record}"));
    assert_eq!(kind, SourceKind::K8sAudit);
    out
}

/// Titles of the rules that match the decoded record(s).
fn fired(compiled: &Compiled, record: &str) -> BTreeSet<String> {
    let mut evaluator = Evaluator::new(&compiled.rules);
    let mut titles = BTreeSet::new();
    for n in decode(record) {
        let mut out = Vec::new();
        evaluator.evaluate_json(&n.sigma_json(), Some(&n.logsource), &mut out).expect("sigma view is JSON");
        titles.extend(out.iter().map(|r| compiled.rules.rules()[*r as usize].meta.title.clone()));
    }
    titles
}

fn trace_lines(root: &Path, file: &str) -> Vec<String> {
    let path = root.join("samples/k8s-audit/falco-trace-files").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

/// Which rules each Falco trace-file event must trigger (every line of the file); files
/// not listed trigger none. The SigmaHQ set has no rule for attach, cluster-role
/// creation, NodePort services, hostNetwork, or `securityContext.privileged` (its
/// "Privileged Container Deployed" rule keys on added `capabilities`, which none of
/// these pods has — see `privileged_rule_fires_on_added_capabilities`).
const EXPECTED: &[(&str, &[&str])] = &[
    ("attach_cluster_admin_role.json", &[ROLEBINDING]),
    ("create_clusterrolebinding.json", &[ROLEBINDING]),
    ("delete_clusterrolebinding.json", &[ROLEBINDING]),
    ("create_kube_system_secret.json", &[SECRETS]),
    ("create_secret.json", &[SECRETS]),
    ("create_service_account_token_secret.json", &[SECRETS]),
    ("delete_secret.json", &[SECRETS]),
    ("create_nginx_pod_sensitive_mount.json", &[HOST_PATH]),
    ("create_nginx_pod_sensitive_mount_2nd_container.json", &[HOST_PATH]),
    ("create_pod_kube_system_namespace.json", &[SYSTEM_POD]),
    ("create_serviceaccount.json", &[SERVICE_ACCOUNT]),
    ("create_serviceaccount_kube_public_namespace.json", &[SERVICE_ACCOUNT]),
    ("create_serviceaccount_kube_system_namespace.json", &[SERVICE_ACCOUNT]),
    ("delete_deployment.json", &["Deployment Deleted From Kubernetes Cluster"]),
    ("exec_pod.json", &[EXEC]),
];
const ROLEBINDING: &str = "Kubernetes Rolebinding Modification";
const SECRETS: &str = "Kubernetes Secrets Modified or Deleted";
const HOST_PATH: &str = "Container With A hostPath Mount Created";
const SYSTEM_POD: &str = "Creation Of Pod In System Namespace";
const SERVICE_ACCOUNT: &str = "New Kubernetes Service Account Created";
const EXEC: &str = "Potential Remote Command Execution In Pod Container";
const PRIVILEGED: &str = "Privileged Container Deployed";
const UNAUTHORIZED: &str = "Kubernetes Unauthorized or Unauthenticated Access";

fn set(titles: &[&str]) -> BTreeSet<String> {
    titles.iter().map(|t| (*t).to_owned()).collect()
}

#[test]
fn sigmahq_rules_fire_on_the_trace_files_built_for_them() {
    let Some(root) = corpus() else { return };
    let compiled = rules(&root);
    let dir = root.join("samples/k8s-audit/falco-trace-files");
    let mut files: Vec<String> =
        std::fs::read_dir(&dir).expect("dir").map(|e| e.expect("entry").file_name().to_string_lossy().into()).collect();
    files.sort();
    let mut hits = 0;
    for file in files.iter().filter(|f| *f != "fal_01_003.json") {
        let want = EXPECTED.iter().find(|(f, _)| f == file).map(|(_, t)| set(t)).unwrap_or_default();
        for (i, line) in trace_lines(&root, file).iter().enumerate() {
            assert_eq!(fired(&compiled, line), want, "{file}:{}", i + 1);
            hits += want.len();
        }
    }
    assert_eq!(hits, 15);
}

#[test]
fn benign_events_fire_nothing() {
    let Some(root) = corpus() else { return };
    let compiled = rules(&root);
    for file in ["create_configmap.json", "create_nginx_pod_unprivileged.json", "create_service.json"] {
        for line in trace_lines(&root, file) {
            assert!(fired(&compiled, &line).is_empty(), "{file}");
        }
    }
    for line in std::fs::read_to_string(root.join("samples/k8s-audit/elastic-integrations/test-audit.log"))
        .expect("sample")
        .lines()
        .filter(|l| !l.trim().is_empty())
    {
        // Lease renewals, pod reads and a health check.
        assert!(fired(&compiled, line).is_empty(), "{line}");
    }
}

/// The event inside an AKS diagnostic record: as a JSON string (`kube-audit`) and as
/// an object (`kube-audit-admin`).
fn aks_wrapped(event: &str) -> [String; 2] {
    let escaped = serde_json::to_string(event).expect("a string serializes");
    [
        format!(
            r#"{{"category":"kube-audit","operationName":"Microsoft.ContainerService/managedClusters/diagnosticLogs/Read","properties":{{"log":{escaped},"stream":"stdout","pod":"kube-apiserver-5f8d6c7b9-abcde"}},"resourceId":"/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/AKS-1","time":"2025-10-07T16:19:19.647880072Z"}}"#
        ),
        format!(
            r#"{{"category":"kube-audit-admin","properties":{{"log":{event},"stream":"stdout"}},"time":"2025-10-07T16:19:19Z"}}"#
        ),
    ]
}

/// The same request as GKE logs it: method and resource names, principal, caller IP,
/// the google.rpc code of the HTTP status, the request object.
fn gke_wrapped(event: &str) -> String {
    let e: serde_json::Value = serde_json::from_str(event).expect("event");
    let o = &e["objectRef"];
    let s = |v: &serde_json::Value| v.as_str().map(str::to_owned);
    let group = s(&o["apiGroup"]).filter(|g| !g.is_empty()).unwrap_or_else(|| "core".into());
    let version = s(&o["apiVersion"]).unwrap_or_else(|| "v1".into());
    let resource = s(&o["resource"]).expect("resource");
    let verb = s(&e["verb"]).expect("verb");
    let mut method = format!("io.k8s.{group}.{version}.{resource}");
    let mut name = format!("{group}/{version}");
    if let Some(ns) = s(&o["namespace"]) {
        name.push_str(&format!("/namespaces/{ns}"));
    }
    name.push_str(&format!("/{resource}"));
    if let Some(n) = s(&o["name"]) {
        name.push_str(&format!("/{n}"));
    }
    if let Some(sub) = s(&o["subresource"]) {
        method.push_str(&format!(".{sub}"));
        name.push_str(&format!("/{sub}"));
    }
    method.push_str(&format!(".{verb}"));
    let rpc = match e["responseStatus"]["code"].as_i64() {
        Some(401) => 16,
        Some(403) => 7,
        Some(404) => 5,
        _ => 0,
    };
    let mut payload = serde_json::json!({
        "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
        "authenticationInfo": {"principalEmail": e["user"]["username"]},
        "methodName": method,
        "requestMetadata": {"callerIp": e["sourceIPs"][0], "callerSuppliedUserAgent": e["userAgent"]},
        "resourceName": name,
        "serviceName": "k8s.io",
        "status": if rpc == 0 { serde_json::json!({}) } else { serde_json::json!({"code": rpc}) },
    });
    if let Some(req) = e.get("requestObject") {
        payload["request"] = req.clone();
    }
    serde_json::json!({
        "protoPayload": payload,
        "insertId": "x1",
        "logName": "projects/p/logs/cloudaudit.googleapis.com%2Factivity",
        "operation": {"id": e["auditID"], "producer": "k8s.io", "first": true, "last": true},
        "resource": {"type": "k8s_cluster", "labels": {"cluster_name": "c", "location": "europe-west1", "project_id": "p"}},
        "timestamp": "2025-07-13T08:38:39.127266Z",
    })
    .to_string()
}

#[test]
fn the_same_rules_fire_through_the_aks_and_gke_wrappers() {
    let Some(root) = corpus() else { return };
    let compiled = rules(&root);
    let mut checked = 0;
    for (file, titles) in EXPECTED {
        for line in trace_lines(&root, file) {
            for wrapped in aks_wrapped(&line) {
                assert_eq!(fired(&compiled, &wrapped), set(titles), "AKS {file}: {wrapped}");
            }
            let gke = gke_wrapped(&line);
            assert_eq!(fired(&compiled, &gke), set(titles), "GKE {file}: {gke}");
            checked += 1;
        }
    }
    assert_eq!(checked, 15);
    for wrapped in aks_wrapped(&trace_lines(&root, "create_configmap.json")[0]) {
        assert!(fired(&compiled, &wrapped).is_empty());
    }
}

#[test]
fn privileged_rule_fires_on_added_capabilities() {
    let Some(root) = corpus() else { return };
    let compiled = rules(&root);
    let privileged = trace_lines(&root, "create_nginx_pod_privileged.json").remove(0);
    // `privileged: true` names no capability: the rule (keyed on `capabilities`) stays
    // silent, as it would on the raw event anywhere.
    assert!(fired(&compiled, &privileged).is_empty());
    let with_caps = privileged.replacen(
        r#""securityContext":{"privileged":true}"#,
        r#""securityContext":{"privileged":true,"capabilities":{"add":["SYS_ADMIN","NET_ADMIN"]}}"#,
        1,
    );
    assert_ne!(with_caps, privileged);
    assert_eq!(fired(&compiled, &with_caps), set(&[PRIVILEGED]));
    for wrapped in aks_wrapped(&with_caps) {
        assert_eq!(fired(&compiled, &wrapped), set(&[PRIVILEGED]));
    }
    assert_eq!(fired(&compiled, &gke_wrapped(&with_caps)), set(&[PRIVILEGED]));
    // Dropping capabilities is hardening, not privilege.
    let dropped = privileged.replacen(
        r#""securityContext":{"privileged":true}"#,
        r#""securityContext":{"capabilities":{"drop":["ALL"]}}"#,
        1,
    );
    assert!(fired(&compiled, &dropped).is_empty());
}

#[test]
fn forbidden_requests_fire_the_unauthorized_rule_in_every_shape() {
    let Some(root) = corpus() else { return };
    let compiled = rules(&root);
    let line = trace_lines(&root, "create_configmap.json").remove(0);
    let forbidden = line.replacen(r#""code":201"#, r#""code":403"#, 1);
    assert_ne!(forbidden, line);
    assert_eq!(fired(&compiled, &forbidden), set(&[UNAUTHORIZED]));
    for wrapped in aks_wrapped(&forbidden) {
        assert_eq!(fired(&compiled, &wrapped), set(&[UNAUTHORIZED]));
    }
    assert_eq!(fired(&compiled, &gke_wrapped(&forbidden)), set(&[UNAUTHORIZED]));
}
