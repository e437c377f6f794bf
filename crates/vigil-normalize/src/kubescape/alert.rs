//! Kubescape node-agent runtime alerts → OCSF Detection Finding (2004).

use crate::json_check::{not_value_safe, value_safe};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use vigil_event::{LogSource, Timestamp};

use super::catalogue;
use super::{has, is_go_zero_time, node_agent_severity, parse_error, stable_uid, text, Kind, Text};
use crate::ocsf::{self, Class, K8sContext, Process};
use crate::{DeadLetterReason, DecodeError, Decoder, Normalized, RawRecord, SourceKind};

/// Largest record accepted: an HTTP envelope holds up to a bulk of alerts (node-agent's
/// default bulk is 50) each with a process tree; 16 MiB is far beyond that.
const MAX_RECORD: usize = 16 << 20;
/// Alerts decoded from one envelope at most.
const MAX_ALERTS: usize = 10_000;
/// Process-tree nodes visited at most when looking for the infected process.
const MAX_TREE_NODES: usize = 4_096;

/// Stateless: every record is self-contained. (Braced, so `decoder_for`'s `::default()`
/// is not a lint on a unit struct.)
#[derive(Default)]
pub(crate) struct KubescapeAlertDecoder {}

impl Decoder for KubescapeAlertDecoder {
    fn kind(&self) -> SourceKind {
        SourceKind::KubescapeAlert
    }

    fn decode(&mut self, record: &str, out: &mut Vec<Normalized>) -> Result<(), DecodeError> {
        if record.len() > MAX_RECORD {
            return Err(DecodeError::new(
                DeadLetterReason::TooLarge,
                format!("Kubescape alert record of {} bytes exceeds the {} byte limit", record.len(), MAX_RECORD),
            ));
        }
        let record = record.trim();
        // The shape decides the struct; each test is a byte search, not a parse.
        if has(record, "\"BaseRuntimeMetadata\"") {
            decode_stdout(record, out)
        } else if has(record, "\"spec\"") && has(record, "\"alerts\"") {
            decode_envelope(record, out)
        } else {
            decode_flat(record, None, "alert", out)
        }
    }
}

// ---------------------------------------------------------------------------------------
// Wire shapes. Only the fields Vigil uses are named; everything else is skipped.

/// `armotypes.BaseRuntimeAlert`: `BaseRuntimeMetadata` in stdout lines, inlined at the top
/// of an HTTP alert.
#[derive(Deserialize, Default)]
struct Base<'a> {
    #[serde(rename = "alertName", borrow)]
    alert_name: Option<Text<'a>>,
    /// Rule-specific: `path`/`flags` (file rules), `exec`/`args` (exec rules), `syscall`,
    /// `capability`, `domain`/`addresses`/`port`/`protocol`, `opcode`… Small; kept whole.
    arguments: Option<Value>,
    #[serde(rename = "infectedPID")]
    infected_pid: Option<u64>,
    severity: Option<i64>,
    #[serde(borrow)]
    timestamp: Option<Text<'a>>,
    #[serde(rename = "uniqueID", borrow)]
    unique_id: Option<Text<'a>>,
    #[serde(rename = "md5Hash", borrow)]
    md5: Option<Text<'a>>,
    #[serde(rename = "sha1Hash", borrow)]
    sha1: Option<Text<'a>>,
    #[serde(rename = "sha256Hash", borrow)]
    sha256: Option<Text<'a>>,
    /// Free-form per alert kind; parsed leniently in [`Identifiers::parse`].
    #[serde(borrow)]
    identifiers: Option<&'a RawValue>,
}

/// `armotypes.RuntimeAlertK8sDetails`.
#[derive(Deserialize, Default)]
struct K8sDetails<'a> {
    #[serde(rename = "clusterName", borrow)]
    cluster_name: Option<Text<'a>>,
    #[serde(rename = "containerName", borrow)]
    container_name: Option<Text<'a>>,
    #[serde(borrow)]
    image: Option<Text<'a>>,
    #[serde(borrow)]
    namespace: Option<Text<'a>>,
    #[serde(rename = "nodeName", borrow)]
    node_name: Option<Text<'a>>,
    #[serde(rename = "containerID", borrow)]
    container_id: Option<Text<'a>>,
    #[serde(rename = "podName", borrow)]
    pod_name: Option<Text<'a>>,
    #[serde(rename = "podNamespace", borrow)]
    pod_namespace: Option<Text<'a>>,
    #[serde(rename = "podUID", borrow)]
    pod_uid: Option<Text<'a>>,
    #[serde(rename = "workloadName", borrow)]
    workload_name: Option<Text<'a>>,
    #[serde(rename = "workloadNamespace", borrow)]
    workload_namespace: Option<Text<'a>>,
    #[serde(rename = "workloadKind", borrow)]
    workload_kind: Option<Text<'a>>,
    #[serde(rename = "workloadUID", borrow)]
    workload_uid: Option<Text<'a>>,
}

/// `armotypes.ProcessTree`: `RuntimeProcessDetails` in stdout lines, `spec.processTree`
/// in the HTTP envelope (and `processTree` of malware alerts).
#[derive(Deserialize, Default)]
struct TreeHolder<'a> {
    #[serde(rename = "processTree", borrow)]
    process_tree: Option<Node<'a>>,
}

/// `armotypes.Process`: one process and its descendants.
#[derive(Deserialize, Default)]
struct Node<'a> {
    pid: Option<u64>,
    #[serde(borrow)]
    cmdline: Option<Text<'a>>,
    #[serde(borrow)]
    comm: Option<Text<'a>>,
    ppid: Option<u64>,
    #[serde(borrow)]
    pcomm: Option<Text<'a>>,
    #[serde(borrow)]
    hardlink: Option<Text<'a>>,
    uid: Option<u64>,
    #[serde(rename = "userName", borrow)]
    user_name: Option<Text<'a>>,
    #[serde(borrow)]
    cwd: Option<Text<'a>>,
    #[serde(borrow)]
    path: Option<Text<'a>>,
    /// Current shape: `{"comm␟pid": Process}`.
    #[serde(rename = "childrenMap", borrow, default)]
    children_map: Children<'a>,
    /// Deprecated shape (older node-agents): `[Process]`.
    #[serde(borrow, default)]
    children: Children<'a>,
}

/// Child processes, from either the map or the array shape (keys are ignored: the pid is
/// in the value too).
#[derive(Default)]
struct Children<'a>(Vec<Node<'a>>);

impl<'de: 'a, 'a> Deserialize<'de> for Children<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ChildrenVisitor<'a>(std::marker::PhantomData<Node<'a>>);
        impl<'de: 'a, 'a> Visitor<'de> for ChildrenVisitor<'a> {
            type Value = Children<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map or array of processes")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Children(Vec::new()))
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut nodes = Vec::new();
                while let Some((IgnoredAny, node)) = map.next_entry::<IgnoredAny, Node<'a>>()? {
                    nodes.push(node);
                }
                Ok(Children(nodes))
            }
            fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Self::Value, S::Error> {
                let mut nodes = Vec::new();
                while let Some(node) = seq.next_element::<Node<'a>>()? {
                    nodes.push(node);
                }
                Ok(Children(nodes))
            }
        }
        deserializer.deserialize_any(ChildrenVisitor(std::marker::PhantomData))
    }
}

/// A stdout exporter line.
#[derive(Deserialize)]
struct StdoutAlert<'a> {
    #[serde(rename = "BaseRuntimeMetadata", borrow)]
    base: Option<Base<'a>>,
    #[serde(rename = "RuleID", borrow)]
    rule_id: Option<Text<'a>>,
    #[serde(rename = "RuntimeK8sDetails", borrow)]
    k8s: Option<K8sDetails<'a>>,
    #[serde(rename = "RuntimeProcessDetails", borrow)]
    process: Option<TreeHolder<'a>>,
    /// The trigger event: its shape depends on the event type, so it is read leniently.
    #[serde(borrow)]
    event: Option<&'a RawValue>,
    #[serde(borrow)]
    message: Option<Text<'a>>,
    /// logrus' write time (second precision): the last-resort event time.
    #[serde(borrow)]
    time: Option<Text<'a>>,
}

/// What Vigil reads of the trigger event of a stdout line.
#[derive(Deserialize, Default)]
struct TriggerEvent<'a> {
    #[serde(borrow)]
    k8s: Option<TriggerK8s<'a>>,
    /// Epoch nanoseconds.
    timestamp: Option<f64>,
}

#[derive(Deserialize, Default)]
struct TriggerK8s<'a> {
    #[serde(borrow)]
    node: Option<Text<'a>>,
}

/// The parts of a flat (HTTP exporter) alert that are not in [`Base`] / [`K8sDetails`].
#[derive(Deserialize)]
struct FlatExtra<'a> {
    #[serde(rename = "ruleID", borrow)]
    rule_id: Option<Text<'a>>,
    #[serde(borrow)]
    message: Option<Text<'a>>,
    /// Malware alerts carry their own process tree.
    #[serde(rename = "processTree", borrow)]
    process_tree: Option<TreeHolder<'a>>,
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    spec: Option<Spec<'a>>,
}

#[derive(Deserialize)]
struct Spec<'a> {
    #[serde(borrow)]
    alerts: Option<Vec<&'a RawValue>>,
    #[serde(rename = "processTree", borrow)]
    process_tree: Option<TreeHolder<'a>>,
}

/// `BaseRuntimeMetadata.identifiers` (node-agent ≥ 0.2.3xx): what the alert is about.
#[derive(Deserialize, Default)]
struct Identifiers<'a> {
    #[serde(borrow)]
    dns: Option<IdDns<'a>>,
    #[serde(borrow)]
    network: Option<IdNetwork<'a>>,
}

#[derive(Deserialize, Default)]
struct IdDns<'a> {
    #[serde(borrow)]
    domain: Option<Text<'a>>,
}

#[derive(Deserialize, Default)]
struct IdNetwork<'a> {
    #[serde(rename = "dstIP", borrow)]
    dst_ip: Option<Text<'a>>,
    #[serde(rename = "dstPort")]
    dst_port: Option<u64>,
    #[serde(borrow)]
    protocol: Option<Text<'a>>,
}

impl<'a> Identifiers<'a> {
    /// Lenient: an unexpected shape means "no identifiers", never a dead letter.
    fn parse(raw: Option<&'a RawValue>) -> Self {
        raw.and_then(|r| serde_json::from_str(r.get()).ok()).unwrap_or_default()
    }
}

/// Fields whose type is checked when a typed parse fails, to name the culprit.
const STDOUT_FIELDS: &[(&str, Kind)] = &[
    ("BaseRuntimeMetadata", Kind::Obj),
    ("BaseRuntimeMetadata.alertName", Kind::Str),
    ("BaseRuntimeMetadata.infectedPID", Kind::Num),
    ("BaseRuntimeMetadata.severity", Kind::Num),
    ("BaseRuntimeMetadata.timestamp", Kind::Str),
    ("BaseRuntimeMetadata.uniqueID", Kind::Str),
    ("RuleID", Kind::Str),
    ("RuntimeK8sDetails", Kind::Obj),
    ("RuntimeProcessDetails", Kind::Obj),
    ("RuntimeProcessDetails.processTree", Kind::Obj),
    ("RuntimeProcessDetails.processTree.pid", Kind::Num),
    ("RuntimeProcessDetails.processTree.cmdline", Kind::Str),
    ("message", Kind::Str),
    ("time", Kind::Str),
];

const FLAT_FIELDS: &[(&str, Kind)] = &[
    ("alertName", Kind::Str),
    ("infectedPID", Kind::Num),
    ("severity", Kind::Num),
    ("timestamp", Kind::Str),
    ("ruleID", Kind::Str),
    ("message", Kind::Str),
    ("podName", Kind::Str),
    ("namespace", Kind::Str),
    ("containerID", Kind::Str),
    ("processTree", Kind::Obj),
];

const ENVELOPE_FIELDS: &[(&str, Kind)] =
    &[("spec", Kind::Obj), ("spec.alerts", Kind::Arr), ("spec.processTree", Kind::Obj)];

// ---------------------------------------------------------------------------------------
// Decoding.

/// One alert, whatever shape it came in.
struct Alert<'r, 'a> {
    rule_id: Option<&'r str>,
    base: &'r Base<'a>,
    k8s: &'r K8sDetails<'a>,
    tree: Option<&'r Node<'a>>,
    message: Option<&'r str>,
    node: Option<&'r str>,
    /// Event time from outside `BaseRuntimeMetadata` (trigger event, logrus time).
    fallback_time: Option<Timestamp>,
}

fn decode_stdout(record: &str, out: &mut Vec<Normalized>) -> Result<(), DecodeError> {
    let line: StdoutAlert<'_> =
        serde_json::from_str(record).map_err(|e| parse_error(&e, record, "a Kubescape stdout alert", STDOUT_FIELDS))?;
    if !value_safe(record) {
        return Err(not_value_safe("the alert"));
    }
    let trigger: TriggerEvent<'_> = line.event.and_then(|raw| serde_json::from_str(raw.get()).ok()).unwrap_or_default();
    let fallback_time = trigger
        .timestamp
        .and_then(|ns| vigil_event::from_epoch(ns / 1e6))
        .filter(|t| !is_go_zero_time(t))
        .or_else(|| text(&line.time).and_then(vigil_event::parse_timestamp));
    let base = line.base.unwrap_or_default();
    let k8s = line.k8s.unwrap_or_default();
    let node = trigger.k8s.as_ref().and_then(|k| text(&k.node)).or_else(|| text(&k8s.node_name));
    let alert = Alert {
        rule_id: text(&line.rule_id),
        base: &base,
        k8s: &k8s,
        tree: line.process.as_ref().and_then(|p| p.process_tree.as_ref()),
        message: text(&line.message),
        node,
        fallback_time,
    };
    out.push(build(&alert, "BaseRuntimeMetadata.", record)?);
    Ok(())
}

fn decode_envelope(record: &str, out: &mut Vec<Normalized>) -> Result<(), DecodeError> {
    let envelope: Envelope<'_> = serde_json::from_str(record)
        .map_err(|e| parse_error(&e, record, "a Kubescape RuntimeAlerts envelope", ENVELOPE_FIELDS))?;
    let spec = envelope.spec.ok_or_else(|| DecodeError::missing("spec"))?;
    let alerts = spec.alerts.ok_or_else(|| DecodeError::missing("spec.alerts"))?;
    if alerts.len() > MAX_ALERTS {
        return Err(DecodeError::new(
            DeadLetterReason::TooLarge,
            format!("RuntimeAlerts envelope holds {} alerts, more than {MAX_ALERTS}", alerts.len()),
        ));
    }
    let shared_tree = spec.process_tree.as_ref().and_then(|t| t.process_tree.as_ref());
    // An envelope is one record: a bad alert makes it a dead letter, but the good alerts
    // before it are still appended to `out` for callers that keep partial results.
    for (i, raw) in alerts.iter().enumerate() {
        decode_flat(raw.get(), shared_tree, &format!("spec.alerts[{i}]"), out)?;
    }
    Ok(())
}

/// A flat `RuntimeAlert` (HTTP exporter). Parsed in three passes over the same small
/// object (base, Kubernetes details, the rest) instead of `#[serde(flatten)]`, which would
/// buffer every value and could not borrow.
fn decode_flat(
    record: &str,
    shared_tree: Option<&Node<'_>>,
    what: &str,
    out: &mut Vec<Normalized>,
) -> Result<(), DecodeError> {
    let located = |e: serde_json::Error| {
        let mut err = parse_error(&e, record, "a Kubescape alert", FLAT_FIELDS);
        if what != "alert" {
            err.message = format!("{what}: {}", err.message);
        }
        err
    };
    let base: Base<'_> = serde_json::from_str(record).map_err(located)?;
    let k8s: K8sDetails<'_> = serde_json::from_str(record).map_err(located)?;
    let extra: FlatExtra<'_> = serde_json::from_str(record).map_err(located)?;
    if !value_safe(record) {
        let mut err = not_value_safe("the alert");
        if what != "alert" {
            err.message = format!("{what}: {}", err.message);
        }
        return Err(err);
    }
    let own_tree = extra.process_tree.as_ref().and_then(|t| t.process_tree.as_ref()).filter(|n| n.pid.is_some());
    let alert = Alert {
        rule_id: text(&extra.rule_id),
        base: &base,
        k8s: &k8s,
        tree: own_tree.or(shared_tree),
        message: text(&extra.message),
        node: text(&k8s.node_name),
        fallback_time: None,
    };
    out.push(build(&alert, "", record).map_err(|mut e| {
        if what != "alert" {
            e.message = format!("{what}: {}", e.message);
        }
        e
    })?);
    Ok(())
}

/// The infected process in the tree (node-agent sends the tree from the container's
/// first process down) and its parent node. Iterative and bounded.
fn find_process<'r, 'a>(root: &'r Node<'a>, pid: Option<u64>) -> Option<(&'r Node<'a>, Option<&'r Node<'a>>)> {
    let Some(pid) = pid else {
        return Some((root, None));
    };
    let mut stack: Vec<(&Node<'a>, Option<&Node<'a>>)> = vec![(root, None)];
    let mut visited = 0;
    while let Some((node, parent)) = stack.pop() {
        if node.pid == Some(pid) {
            return Some((node, parent));
        }
        visited += 1;
        if visited >= MAX_TREE_NODES {
            break;
        }
        for child in node.children_map.0.iter().chain(node.children.0.iter()) {
            stack.push((child, Some(node)));
        }
    }
    None
}

/// A process node's executable and command line, and the emulator that ran it if any.
/// Under Rosetta (x86-64 emulation on Apple-silicon hosts: kind / k3d on a Mac) the
/// kernel's executable for every emulated process is Rosetta itself
/// (`/mnt/rv/[rosetta]`); the program is then the first path of the command line, which
/// is either the program's argv (`/usr/sbin/sshd -D -R`) or Rosetta's
/// (`[rosetta] /usr/sbin/sshd /usr/sbin/sshd -D`).
fn program<'r>(node: &'r Node<'_>) -> (Option<&'r str>, Option<&'r str>, Option<&'r str>) {
    let path = text(&node.path).or(text(&node.hardlink));
    let cmd = text(&node.cmdline).map(str::trim_end).filter(|c| !c.is_empty());
    let (Some(path), Some(cmd)) = (path, cmd) else {
        return (path, cmd, None);
    };
    if ocsf::basename(path) != "[rosetta]" {
        return (Some(path), Some(cmd), None);
    }
    let (program, argv) = match cmd.strip_prefix("[rosetta] ") {
        Some(rest) => {
            let (program, tail) = rest.split_once(' ').unwrap_or((rest, ""));
            let tail = tail.trim_start();
            (program, if tail.is_empty() { program } else { tail })
        }
        None => (cmd.split(' ').next().unwrap_or(cmd), cmd),
    };
    if program.starts_with('/') {
        (Some(program), Some(argv), Some(path))
    } else {
        (Some(path), Some(cmd), None)
    }
}

/// The event time: `timestamp` of the alert, else the trigger event's, else logrus'.
/// node-agent always writes `timestamp` (no `omitempty`), Go's zero time when unset, so
/// a record without any time was cut short.
fn event_time(alert: &Alert<'_, '_>, prefix: &str) -> Result<Option<Timestamp>, DecodeError> {
    if let Some(s) = text(&alert.base.timestamp) {
        match vigil_event::parse_timestamp(s) {
            Some(t) if is_go_zero_time(&t) => {}
            Some(t) => return Ok(Some(t)),
            None => {
                return Err(DecodeError::new(
                    DeadLetterReason::InvalidField,
                    format!("field `{prefix}timestamp` is not a timestamp: {s:?}"),
                ))
            }
        }
    }
    if alert.base.timestamp.is_none() && alert.fallback_time.is_none() {
        return Err(DecodeError::new(
            DeadLetterReason::MissingField,
            format!("required field `{prefix}timestamp` is absent and the record carries no other event time"),
        ));
    }
    Ok(alert.fallback_time)
}

fn build(alert: &Alert<'_, '_>, prefix: &str, raw: &str) -> Result<Normalized, DecodeError> {
    let base = alert.base;
    let alert_name = text(&base.alert_name);
    let rule = alert.rule_id.and_then(catalogue::lookup);
    let Some(title) = alert_name.or(rule.map(|r| r.name)).or(alert.rule_id) else {
        return Err(DecodeError::new(
            DeadLetterReason::MissingField,
            format!("required field `{prefix}alertName` is absent and there is no rule id"),
        ));
    };
    let time = event_time(alert, prefix)?;
    let args = base.arguments.as_ref().and_then(Value::as_object);
    let arg_str = |key: &str| args.and_then(|a| a.get(key)).and_then(Value::as_str).filter(|s| !s.is_empty());
    let identifiers = Identifiers::parse(base.identifiers);

    // The process the alert is about, and its parent.
    let found = alert.tree.and_then(|root| find_process(root, base.infected_pid));
    let (proc_node, parent_node) = match found {
        Some((n, p)) => (Some(n), p),
        None => (None, None),
    };
    let exec_path = arg_str("exec").filter(|p| p.starts_with('/'));
    let (node_image, node_cmd, emulator) = proc_node.map(program).unwrap_or_default();
    let image = node_image.or(exec_path);
    let argv_line = args
        .and_then(|a| a.get("args"))
        .and_then(Value::as_array)
        .map(|argv| argv.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" "));
    let cmd_line = node_cmd.or(argv_line.as_deref().filter(|s| !s.is_empty()));
    let pid = proc_node.and_then(|n| n.pid).or(base.infected_pid);
    let comm = proc_node.and_then(|n| text(&n.comm));
    let uid = proc_node.and_then(|n| n.uid);
    let user_name = proc_node.and_then(|n| text(&n.user_name));
    let cwd = proc_node.and_then(|n| text(&n.cwd));
    let ppid = proc_node.and_then(|n| n.ppid).or(parent_node.and_then(|p| p.pid));
    let (parent_image, parent_cmd, _) = parent_node.map(program).unwrap_or_default();
    let parent_comm = proc_node.and_then(|n| text(&n.pcomm)).or(parent_node.and_then(|p| text(&p.comm)));
    let target_file = arg_str("path");
    // DNS names as Sysmon's QueryName has them: without the root's trailing dot.
    let domain = arg_str("domain")
        .or(identifiers.dns.as_ref().and_then(|d| text(&d.domain)))
        .map(|d| d.strip_suffix('.').unwrap_or(d))
        .filter(|d| !d.is_empty());
    // For DNS alerts `identifiers.network` holds the resolved address, not a connection
    // the process made: only network alerts (egress, SSH, mining port) map it.
    let network = identifiers.network.as_ref().filter(|_| domain.is_none());
    let dst_ip = network.and_then(|n| text(&n.dst_ip));
    let dst_port = network.and_then(|n| n.dst_port);
    let protocol = network.and_then(|n| text(&n.protocol));

    // OCSF.
    let mut event = ocsf::base(Class::DetectionFinding, ocsf::activity::FINDING_CREATE, time, "Kubescape");
    let severity = base.severity.or(rule.map(|r| i64::from(r.severity)));
    ocsf::set_severity(&mut event, severity.map(node_agent_severity).unwrap_or(0));
    ocsf::set(&mut event, "message", alert.message.unwrap_or(title));
    ocsf::set(&mut event, "metadata.product.feature.name", "node-agent");
    if let Some(id) = alert.rule_id {
        ocsf::set(&mut event, "metadata.event_code", id);
    }
    let uid_parts = [
        alert.rule_id.unwrap_or(title),
        text(&base.timestamp).unwrap_or(""),
        &pid.map(|p| p.to_string()).unwrap_or_default(),
        text(&alert.k8s.container_id).unwrap_or(""),
        text(&base.unique_id).unwrap_or(""),
        target_file.unwrap_or(""),
    ];
    let mut finding = Map::new();
    finding.insert("uid".into(), stable_uid(&uid_parts).into());
    finding.insert("title".into(), title.into());
    if let Some(m) = alert.message {
        finding.insert("desc".into(), m.into());
    }
    let mut analytic = Map::new();
    if let Some(id) = alert.rule_id {
        analytic.insert("uid".into(), id.into());
    }
    analytic.insert("name".into(), rule.map(|r| r.name).unwrap_or(title).into());
    analytic.insert("type_id".into(), 1.into());
    analytic.insert("type".into(), "Rule".into());
    finding.insert("analytic".into(), Value::Object(analytic));
    if let Some(rule) = rule {
        let mut attack = json!({
            "technique": {"uid": rule.technique.0, "name": rule.technique.1},
            "tactic": {"uid": rule.tactic.0, "name": rule.tactic.1},
        });
        if let Some((uid, name)) = rule.sub_technique {
            attack["sub_technique"] = json!({"uid": uid, "name": name});
        }
        finding.insert("attacks".into(), Value::Array(vec![attack]));
    }
    event.insert("finding_info", Value::Object(finding));

    let mut evidence = Map::new();
    if pid.is_some() || image.is_some() || comm.is_some() || cmd_line.is_some() {
        let mut process =
            Process { pid, path: image, cmd_line, cwd, user_name, user_uid: uid, ..Process::default() }.to_value();
        if let Value::Object(p) = &mut process {
            // `comm` is the kernel's name for the process; the path may be an interpreter
            // or emulator (e.g. Rosetta's `/mnt/rv/[rosetta]`).
            if let Some(comm) = comm {
                p.insert("name".into(), comm.into());
            }
            let hashes: Vec<Value> = [(1, &base.md5), (2, &base.sha1), (3, &base.sha256)]
                .into_iter()
                .filter_map(|(alg, h)| text(h).map(|v| json!({"algorithm_id": alg, "value": v})))
                .collect();
            // node-agent hashes the infected process's executable.
            if let (false, Some(Value::Object(file))) = (hashes.is_empty(), p.get_mut("file")) {
                file.insert("hashes".into(), Value::Array(hashes));
            }
            let parent = Process {
                pid: ppid,
                path: parent_image,
                cmd_line: parent_cmd,
                cwd: parent_node.and_then(|n| text(&n.cwd)),
                user_uid: parent_node.and_then(|n| n.uid),
                user_name: parent_node.and_then(|n| text(&n.user_name)),
                ..Process::default()
            }
            .to_value();
            if let Value::Object(mut pp) = parent {
                if let Some(pcomm) = parent_comm {
                    pp.insert("name".into(), pcomm.into());
                }
                if !pp.is_empty() {
                    p.insert("parent_process".into(), Value::Object(pp));
                }
            }
        }
        evidence.insert("process".into(), process);
    }
    if let Some(path) = target_file {
        evidence.insert("file".into(), json!({"path": path, "name": ocsf::basename(path)}));
    }
    if let Some(domain) = domain {
        evidence.insert("query".into(), json!({"hostname": domain}));
    }
    if dst_ip.is_some() || dst_port.is_some() {
        evidence.insert("dst_endpoint".into(), ocsf::endpoint(dst_ip, dst_port, None));
    }
    if let Some(proto) = protocol {
        evidence.insert("connection_info".into(), json!({"protocol_name": proto.to_ascii_lowercase()}));
    }
    if !evidence.is_empty() {
        event.insert("evidences", Value::Array(vec![Value::Object(evidence)]));
    }

    let k8s = alert.k8s;
    let namespace = text(&k8s.namespace).or(text(&k8s.pod_namespace));
    let workload = text(&k8s.workload_name);
    if workload.is_some() || text(&k8s.pod_name).is_some() {
        let mut resource = Map::new();
        let (kind, name) = match workload {
            Some(w) => (text(&k8s.workload_kind), w),
            None => (Some("Pod"), text(&k8s.pod_name).unwrap_or_default()),
        };
        resource.insert("name".into(), name.into());
        if let Some(kind) = kind {
            resource.insert("type".into(), kind.into());
        }
        if let Some(ns) = text(&k8s.workload_namespace).or(namespace) {
            resource.insert("namespace".into(), ns.into());
        }
        if let Some(uid) = text(&k8s.workload_uid).filter(|_| workload.is_some()) {
            resource.insert("uid".into(), uid.into());
        }
        event.insert("resources", Value::Array(vec![Value::Object(resource)]));
    }
    ocsf::k8s_context(
        &mut event,
        &K8sContext {
            cluster: text(&k8s.cluster_name),
            node: alert.node,
            namespace,
            pod: text(&k8s.pod_name),
            pod_uid: text(&k8s.pod_uid),
            container: text(&k8s.container_name),
            container_id: text(&k8s.container_id),
            image: text(&k8s.image),
            workload,
            workload_kind: text(&k8s.workload_kind),
        },
    );
    if let Some(args) = &base.arguments {
        ocsf::set(&mut event, "unmapped.kubescape.arguments", args.clone());
    }
    if let Some(emulator) = emulator {
        ocsf::set(&mut event, "unmapped.kubescape.emulator", emulator);
    }
    if let Some(u) = text(&base.unique_id) {
        ocsf::set(&mut event, "unmapped.kubescape.unique_id", u);
    }

    // Sigma taxonomy.
    let mut sigma = Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            sigma.insert(k.to_owned(), v);
        }
    };
    put("Image", image.map(Value::from));
    put("CommandLine", cmd_line.map(Value::from));
    put("Comm", comm.map(Value::from));
    put("ProcessId", pid.map(Value::from));
    put("ParentImage", parent_image.map(Value::from));
    put("ParentCommandLine", parent_cmd.map(Value::from));
    put("ParentProcessId", ppid.map(Value::from));
    put("User", user_name.map(Value::from).or(uid.map(|u| Value::from(u.to_string()))));
    put("CurrentDirectory", cwd.map(Value::from));
    put("TargetFilename", target_file.map(Value::from));
    put("QueryName", domain.map(Value::from));
    put("DestinationIp", dst_ip.map(Value::from));
    put("DestinationPort", dst_port.map(Value::from));
    put("Protocol", protocol.map(|p| Value::from(p.to_ascii_lowercase())));
    put("RuleID", alert.rule_id.map(Value::from));
    put("AlertName", alert_name.map(Value::from));
    put("Severity", base.severity.map(Value::from));

    Ok(Normalized {
        source: SourceKind::KubescapeAlert,
        time,
        logsource: LogSource::new(Some("kubescape"), None, Some("node-agent")),
        ocsf: event,
        sigma: sigma.into(),
        raw: RawRecord::Json(raw.to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(record: &str) -> Result<Vec<Normalized>, DecodeError> {
        let mut out = Vec::new();
        KubescapeAlertDecoder::default().decode(record, &mut out).map(|()| out)
    }

    const STDOUT: &str = r#"{"BaseRuntimeMetadata":{"alertName":"Unexpected Service Account Token Access","arguments":{"flags":["O_RDONLY"],"path":"/run/secrets/kubernetes.io/serviceaccount/token"},"infectedPID":39380,"severity":8,"timestamp":"2025-07-10T14:37:22.126882853Z"},"RuleID":"R0006","RuntimeK8sDetails":{"clusterName":"c1","containerName":"app","namespace":"web","containerID":"abc","podName":"web-1","workloadName":"web","workloadKind":"Deployment"},"RuntimeProcessDetails":{"processTree":{"pid":39319,"cmdline":"/bin/sh -c cat token","comm":"sh","ppid":32597,"pcomm":"apache2","uid":33,"cwd":"/var/www","path":"/bin/dash","childrenMap":{"cat␟39380":{"pid":39380,"cmdline":"/bin/cat token","comm":"cat","ppid":39319,"pcomm":"sh","uid":33,"path":"/bin/cat"}}}},"event":{"k8s":{"node":"node-1"},"timestamp":1752158242126882800},"level":"error","message":"Unexpected access to service account token","msg":"Unexpected Service Account Token Access","time":"2025-07-10T14:37:22Z"}"#;

    #[test]
    fn stdout_alert_finds_the_infected_process_in_the_tree() {
        let out = decode(STDOUT).unwrap();
        let n = &out[0];
        assert_eq!(n.sigma["Image"], "/bin/cat");
        assert_eq!(n.sigma["CommandLine"], "/bin/cat token");
        assert_eq!(n.sigma["ParentImage"], "/bin/dash");
        assert_eq!(n.sigma["ParentCommandLine"], "/bin/sh -c cat token");
        assert_eq!(n.sigma["ProcessId"], 39380);
        assert_eq!(n.sigma["ParentProcessId"], 39319);
        assert_eq!(n.sigma["User"], "33");
        assert_eq!(n.sigma["TargetFilename"], "/run/secrets/kubernetes.io/serviceaccount/token");
        assert_eq!(n.ocsf["severity_id"], 4);
        assert_eq!(n.ocsf["finding_info"]["attacks"][0]["technique"]["uid"], "T1528");
        assert_eq!(n.ocsf["finding_info"]["attacks"][0]["tactic"]["name"], "Credential Access");
        assert_eq!(n.ocsf["device"]["hostname"], "node-1");
        assert_eq!(n.time.unwrap().timestamp_nanos_opt(), Some(1_752_158_242_126_882_853));
    }

    #[test]
    fn envelope_yields_one_event_per_alert_with_the_shared_tree() {
        let record = r#"{"kind":"RuntimeAlerts","apiVersion":"kubescape.io/v1","spec":{"alerts":[
            {"alertName":"Unexpected process launched","arguments":{"exec":"/usr/bin/nc","args":["/usr/bin/nc","-e","/bin/sh"]},"infectedPID":7,"severity":5,"timestamp":"2025-01-01T00:00:00Z","ruleID":"R0001","podName":"p","namespace":"ns","nodeName":"n1","kind":{"Group":"","Version":"","Kind":""},"processTree":{"processTree":{}},"hostName":"h","message":"nc launched"},
            {"alertName":"Unexpected file access","arguments":{"path":"/etc/shadow"},"infectedPID":7,"severity":1,"timestamp":"2025-01-01T00:00:01Z","ruleID":"R0002","hostName":"h","message":"m"}],
            "processTree":{"processTree":{"pid":1,"comm":"sh","path":"/bin/sh","children":[{"pid":7,"comm":"nc","ppid":1,"cmdline":"nc -e /bin/sh","path":"/usr/bin/nc"}]}},"cloudMetadata":{}}}"#;
        let out = decode(record).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].sigma["Image"], "/usr/bin/nc");
        assert_eq!(out[0].sigma["ParentImage"], "/bin/sh");
        assert_eq!(out[0].sigma["RuleID"], "R0001");
        assert_eq!(out[0].ocsf["device"]["hostname"], "n1");
        assert_eq!(out[1].sigma["TargetFilename"], "/etc/shadow");
        assert!(
            matches!(&out[1].raw, RawRecord::Json(r) if r.starts_with("{\"alertName\":\"Unexpected file access\""))
        );
    }

    #[test]
    fn without_a_tree_the_exec_arguments_give_image_and_command_line() {
        let record = r#"{"BaseRuntimeMetadata":{"alertName":"Unexpected process launched","arguments":{"args":["/bin/ls","-l"],"exec":"/bin/ls","retval":0},"infectedPID":6972,"severity":5,"timestamp":"2025-05-22T17:16:24Z"}}"#;
        let n = &decode(record).unwrap()[0];
        assert_eq!(n.sigma["Image"], "/bin/ls");
        assert_eq!(n.sigma["CommandLine"], "/bin/ls -l");
        assert!(n.sigma.as_value().get("RuleID").is_none());
        assert!(n.ocsf["finding_info"].get("attacks").is_none());
    }

    #[test]
    fn bad_records_get_the_right_reason() {
        let reason = |r: &str| decode(r).unwrap_err().reason;
        assert_eq!(reason(&STDOUT[..STDOUT.len() / 2]), DeadLetterReason::InvalidJson);
        assert_eq!(
            reason(r#"{"BaseRuntimeMetadata":{"alertName":"x","infectedPID":1}}"#),
            DeadLetterReason::MissingField
        );
        assert_eq!(
            reason(r#"{"BaseRuntimeMetadata":{"infectedPID":1,"timestamp":"2025-01-01T00:00:00Z"}}"#),
            DeadLetterReason::MissingField
        );
        let e = decode(&STDOUT.replace("\"infectedPID\":39380", "\"infectedPID\":\"x\"")).unwrap_err();
        assert_eq!(e.reason, DeadLetterReason::InvalidField);
        assert!(e.message.contains("BaseRuntimeMetadata.infectedPID"), "{}", e.message);
        let e = decode(&STDOUT.replace("2025-07-10T14:37:22.126882853Z", "soon")).unwrap_err();
        assert_eq!(e.reason, DeadLetterReason::InvalidField);
        assert_eq!(
            reason(r#"{"kind":"RuntimeAlerts","spec":{"alerts":[{"alertName":"x"}]}}"#),
            DeadLetterReason::MissingField
        );
        assert_eq!(reason(r#"["BaseRuntimeMetadata"]"#), DeadLetterReason::UnknownFormat);
        assert_eq!(reason(&STDOUT.replace("\"level\":\"error\"", "\"level\":1e999")), DeadLetterReason::InvalidField);
    }

    #[test]
    fn rosetta_emulated_processes_show_the_program() {
        let node = |cmdline: &'static str| Node {
            path: Some(Text("/mnt/rv/[rosetta]".into())),
            cmdline: Some(Text(cmdline.into())),
            ..Node::default()
        };
        let sshd = node("/usr/sbin/sshd -D -R");
        assert_eq!(program(&sshd), (Some("/usr/sbin/sshd"), Some("/usr/sbin/sshd -D -R"), Some("/mnt/rv/[rosetta]")));
        let wrapped = node("[rosetta] /usr/sbin/sshd /usr/sbin/sshd -D");
        assert_eq!(program(&wrapped).0, Some("/usr/sbin/sshd"));
        assert_eq!(program(&wrapped).1, Some("/usr/sbin/sshd -D"));
        let bash = node("/bin/bash ");
        assert_eq!(program(&bash), (Some("/bin/bash"), Some("/bin/bash"), Some("/mnt/rv/[rosetta]")));
        let odd = node("sshd: [accepted]");
        assert_eq!(program(&odd), (Some("/mnt/rv/[rosetta]"), Some("sshd: [accepted]"), None));
    }

    #[test]
    fn go_zero_time_means_unknown_not_missing() {
        let record = r#"{"alertName":"AlertLimitReached","severity":1000,"timestamp":"0001-01-01T00:00:00Z","hostName":"h","message":"Alert limit reached"}"#;
        let n = &decode(record).unwrap()[0];
        assert!(n.time.is_none());
        assert_eq!(n.ocsf["severity_id"], 1);
    }

    #[test]
    fn deep_trees_do_not_overflow() {
        let mut record = String::from(
            r#"{"BaseRuntimeMetadata":{"alertName":"x","infectedPID":9,"timestamp":"2025-01-01T00:00:00Z"},"RuntimeProcessDetails":{"processTree":"#,
        );
        for i in 0..200 {
            record.push_str(&format!(r#"{{"pid":{i},"children":["#));
        }
        for _ in 0..200 {
            record.push_str("]}");
        }
        record.push_str("}}");
        assert_eq!(decode(&record).unwrap_err().reason, DeadLetterReason::InvalidJson);
    }
}
