//! Falco alerts (`json_output: true`) → OCSF Detection Finding (2004). See
//! `docs/sources/falco.md`.
//!
//! An alert is `{"time","rule","priority","output","source","tags","hostname",
//! "output_fields":{…}}` (Falco's `json_include_*` options decide which optional members
//! exist). `output_fields` keys are Falco field names (`proc.cmdline`, `fd.name`,
//! `ka.verb`…) whose values are strings, numbers, arrays or null depending on the field
//! and the Falco version, so they are read leniently ([`Scalar`]).

use crate::json_check::{not_value_safe, value_safe};
use std::borrow::Cow;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use vigil_event::LogSource;

use crate::ocsf::{self, Class, K8sContext, Process};
use crate::{DeadLetterReason, DecodeError, Decoder, Normalized, RawRecord, SourceKind};

/// Falco caps an output line well below this; anything bigger is not an alert.
const MAX_RECORD: usize = 1 << 20;
/// ATT&CK entries built from one alert's tags at most.
const MAX_ATTACKS: usize = 32;

fn has(record: &str, needle: &str) -> bool {
    memchr::memmem::find(record.as_bytes(), needle.as_bytes()).is_some()
}

/// Whether `record` (trimmed, starting with `{` for JSON sources) is from this source:
/// every Falco JSON alert has `priority`, `output` and `rule`; `output_fields` (on by
/// default) also identifies one whose `rule` went missing, so that it becomes a dead
/// letter naming the field rather than generic JSON.
pub(crate) fn looks_like(record: &str) -> bool {
    has(record, "\"priority\"")
        && has(record, "\"output\"")
        && (has(record, "\"rule\"") || has(record, "\"output_fields\""))
}

/// Stateless: every record is self-contained. (Braced, so `decoder_for`'s `::default()`
/// is not a lint on a unit struct.)
#[derive(Default)]
pub(crate) struct FalcoDecoder {}

impl Decoder for FalcoDecoder {
    fn kind(&self) -> SourceKind {
        SourceKind::Falco
    }

    fn decode(&mut self, record: &str, out: &mut Vec<Normalized>) -> Result<(), DecodeError> {
        if record.len() > MAX_RECORD {
            return Err(DecodeError::new(
                DeadLetterReason::TooLarge,
                format!("Falco alert of {} bytes exceeds the {} byte limit", record.len(), MAX_RECORD),
            ));
        }
        let alert: Alert<'_> = serde_json::from_str(record).map_err(|e| parse_error(&e, record))?;
        if !value_safe(record) {
            return Err(not_value_safe("the alert"));
        }
        out.push(build(&alert, record.trim())?);
        Ok(())
    }
}

/// A JSON string borrowed from the record when it has no escapes (a bare
/// `Option<Cow<str>>` field would always be copied).
#[derive(Deserialize)]
#[serde(transparent)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

#[derive(Deserialize)]
struct Alert<'a> {
    #[serde(borrow)]
    rule: Option<Text<'a>>,
    #[serde(borrow)]
    priority: Option<Text<'a>>,
    #[serde(borrow)]
    output: Option<Text<'a>>,
    #[serde(borrow)]
    time: Option<Text<'a>>,
    #[serde(borrow)]
    source: Option<Text<'a>>,
    #[serde(borrow)]
    hostname: Option<Text<'a>>,
    #[serde(borrow)]
    tags: Option<Vec<Text<'a>>>,
    /// Falco ≥ 0.38 (and falcosidekick) give each alert a UUID.
    #[serde(borrow)]
    uuid: Option<Text<'a>>,
    #[serde(borrow)]
    output_fields: Option<Fields<'a>>,
}

/// An `output_fields` value: Falco prints a field as a string, a number, null, or (for
/// list fields such as `container.image.digest`) an array, and the type of a field has
/// changed between versions. Arrays and objects are skipped.
enum Scalar<'a> {
    Str(Cow<'a, str>),
    U(u64),
    I(i64),
    F(f64),
    Other,
}

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScalarVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for ScalarVisitor<'a> {
            type Value = Scalar<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a Falco field value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Owned(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Scalar::U(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Scalar::I(v))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Scalar::F(v))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Scalar::Other)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Scalar::Other)
            }
            fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Self::Value, S::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Scalar::Other)
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Scalar::Other)
            }
        }
        deserializer.deserialize_any(ScalarVisitor(std::marker::PhantomData))
    }
}

impl Scalar<'_> {
    /// The text of a string value; Falco's "not available" markers count as absent.
    fn str(&self) -> Option<&str> {
        match self {
            Scalar::Str(s) if !s.is_empty() && s != "<NA>" && s != "N/A" => Some(s),
            _ => None,
        }
    }

    /// A non-negative integer, given as a number or as digits.
    fn uint(&self) -> Option<u64> {
        match self {
            Scalar::U(v) => Some(*v),
            Scalar::I(v) => u64::try_from(*v).ok(),
            Scalar::F(v) if v.fract() == 0.0 && *v >= 0.0 && *v < 1.8e19 => Some(*v as u64),
            Scalar::Str(s) => s.parse().ok(),
            Scalar::F(_) | Scalar::Other => None,
        }
    }

    /// Numbers as their decimal text, strings as they are (for identifiers such as uids).
    fn text(&self) -> Option<Cow<'_, str>> {
        match self {
            Scalar::U(v) => Some(Cow::Owned(v.to_string())),
            Scalar::I(v) => Some(Cow::Owned(v.to_string())),
            Scalar::Str(_) => self.str().map(Cow::Borrowed),
            Scalar::F(_) | Scalar::Other => None,
        }
    }
}

/// The `output_fields` Vigil maps (Falco field reference:
/// https://falco.org/docs/reference/rules/supported-fields/). Others stay in the raw
/// record.
#[derive(Deserialize, Default)]
struct Fields<'a> {
    #[serde(rename = "evt.type", borrow)]
    evt_type: Option<Scalar<'a>>,
    #[serde(rename = "proc.exepath", borrow)]
    proc_exepath: Option<Scalar<'a>>,
    #[serde(rename = "proc.exe", borrow)]
    proc_exe: Option<Scalar<'a>>,
    #[serde(rename = "proc.name", borrow)]
    proc_name: Option<Scalar<'a>>,
    #[serde(rename = "proc.cmdline", borrow)]
    proc_cmdline: Option<Scalar<'a>>,
    #[serde(rename = "proc.pid", borrow)]
    proc_pid: Option<Scalar<'a>>,
    #[serde(rename = "proc.cwd", borrow)]
    proc_cwd: Option<Scalar<'a>>,
    #[serde(rename = "proc.ppid", borrow)]
    proc_ppid: Option<Scalar<'a>>,
    #[serde(rename = "proc.pname", borrow)]
    proc_pname: Option<Scalar<'a>>,
    #[serde(rename = "proc.pexepath", borrow)]
    proc_pexepath: Option<Scalar<'a>>,
    #[serde(rename = "proc.pexe", borrow)]
    proc_pexe: Option<Scalar<'a>>,
    #[serde(rename = "proc.pcmdline", borrow)]
    proc_pcmdline: Option<Scalar<'a>>,
    #[serde(rename = "user.name", borrow)]
    user_name: Option<Scalar<'a>>,
    #[serde(rename = "user.uid", borrow)]
    user_uid: Option<Scalar<'a>>,
    #[serde(rename = "container.id", borrow)]
    container_id: Option<Scalar<'a>>,
    #[serde(rename = "container.name", borrow)]
    container_name: Option<Scalar<'a>>,
    #[serde(rename = "container.image", borrow)]
    container_image: Option<Scalar<'a>>,
    #[serde(rename = "container.image.repository", borrow)]
    container_image_repository: Option<Scalar<'a>>,
    #[serde(rename = "container.image.tag", borrow)]
    container_image_tag: Option<Scalar<'a>>,
    #[serde(rename = "k8s.ns.name", borrow)]
    k8s_ns: Option<Scalar<'a>>,
    #[serde(rename = "k8s.pod.name", borrow)]
    k8s_pod: Option<Scalar<'a>>,
    #[serde(rename = "k8s.pod.uid", borrow)]
    k8s_pod_uid: Option<Scalar<'a>>,
    #[serde(rename = "fd.name", borrow)]
    fd_name: Option<Scalar<'a>>,
    #[serde(rename = "fd.type", borrow)]
    fd_type: Option<Scalar<'a>>,
    #[serde(rename = "fd.sip", borrow)]
    fd_sip: Option<Scalar<'a>>,
    #[serde(rename = "fd.sport", borrow)]
    fd_sport: Option<Scalar<'a>>,
    #[serde(rename = "fd.cip", borrow)]
    fd_cip: Option<Scalar<'a>>,
    #[serde(rename = "fd.cport", borrow)]
    fd_cport: Option<Scalar<'a>>,
    #[serde(rename = "fd.rip", borrow)]
    fd_rip: Option<Scalar<'a>>,
    #[serde(rename = "fd.rport", borrow)]
    fd_rport: Option<Scalar<'a>>,
    #[serde(rename = "fd.l4proto", borrow)]
    fd_l4proto: Option<Scalar<'a>>,
    #[serde(rename = "ka.user.name", borrow)]
    ka_user: Option<Scalar<'a>>,
    #[serde(rename = "ka.verb", borrow)]
    ka_verb: Option<Scalar<'a>>,
    #[serde(rename = "ka.uri", borrow)]
    ka_uri: Option<Scalar<'a>>,
    #[serde(rename = "ka.target.resource", borrow)]
    ka_resource: Option<Scalar<'a>>,
    #[serde(rename = "ka.target.subresource", borrow)]
    ka_subresource: Option<Scalar<'a>>,
    #[serde(rename = "ka.target.namespace", borrow)]
    ka_namespace: Option<Scalar<'a>>,
    #[serde(rename = "ka.target.name", borrow)]
    ka_name: Option<Scalar<'a>>,
    #[serde(rename = "ka.useragent", borrow)]
    ka_useragent: Option<Scalar<'a>>,
    #[serde(rename = "ka.auth.decision", borrow)]
    ka_auth_decision: Option<Scalar<'a>>,
    #[serde(rename = "ka.auth.reason", borrow)]
    ka_auth_reason: Option<Scalar<'a>>,
    #[serde(rename = "ka.response.code", borrow)]
    ka_response_code: Option<Scalar<'a>>,
}

fn s<'r>(field: &'r Option<Scalar<'_>>) -> Option<&'r str> {
    field.as_ref().and_then(Scalar::str)
}

fn n(field: &Option<Scalar<'_>>) -> Option<u64> {
    field.as_ref().and_then(Scalar::uint)
}

/// An absolute path, or nothing (Falco's `proc.exe` is argv[0], often relative).
fn abs(path: Option<&str>) -> Option<&str> {
    path.filter(|p| p.starts_with('/'))
}

/// Falco priority → OCSF `severity_id`. Falco's eight syslog-style levels
/// (falcosecurity/falco `falco_common::priority_type`) in OCSF's five: Emergency / Alert /
/// Critical → Critical, Error → High, Warning → Medium, Notice → Low, Informational /
/// Debug → Informational.
fn severity_id(priority: &str) -> Option<u8> {
    const LEVELS: &[(&str, u8)] = &[
        ("emergency", 5),
        ("alert", 5),
        ("critical", 5),
        ("error", 4),
        ("warning", 3),
        ("notice", 2),
        ("informational", 1),
        ("info", 1),
        ("debug", 1),
    ];
    LEVELS.iter().find(|(name, _)| name.eq_ignore_ascii_case(priority)).map(|(_, id)| *id)
}

/// ATT&CK Enterprise tactics by the shortname Falco's `mitre_*` tags use (with `_` for
/// `-`). Names and ids from MITRE ATT&CK (mitre/cti `x-mitre-tactic`; © The MITRE
/// Corporation).
const TACTICS: &[(&str, &str, &str)] = &[
    ("reconnaissance", "TA0043", "Reconnaissance"),
    ("resource_development", "TA0042", "Resource Development"),
    ("initial_access", "TA0001", "Initial Access"),
    ("execution", "TA0002", "Execution"),
    ("persistence", "TA0003", "Persistence"),
    ("privilege_escalation", "TA0004", "Privilege Escalation"),
    ("defense_evasion", "TA0005", "Defense Evasion"),
    ("credential_access", "TA0006", "Credential Access"),
    ("discovery", "TA0007", "Discovery"),
    ("lateral_movement", "TA0008", "Lateral Movement"),
    ("collection", "TA0009", "Collection"),
    ("command_and_control", "TA0011", "Command and Control"),
    ("exfiltration", "TA0010", "Exfiltration"),
    ("impact", "TA0040", "Impact"),
];

/// `T1059` or `T1059.004`.
fn is_technique(tag: &str) -> bool {
    let b = tag.as_bytes();
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    match b.len() {
        5 => b[0] == b'T' && digits(&b[1..]),
        9 => b[0] == b'T' && digits(&b[1..5]) && b[5] == b'.' && digits(&b[6..]),
        _ => false,
    }
}

/// OCSF `attacks` from Falco's tags: each technique tag (`T1059.004`) with each tactic tag
/// (`mitre_execution`); a lone technique or tactic still makes an entry.
fn attacks(tags: &[&str]) -> Vec<Value> {
    let techniques: Vec<Value> = tags
        .iter()
        .filter(|t| is_technique(t))
        .map(|t| match t.split_once('.') {
            Some((parent, _)) => json!({"technique": {"uid": parent}, "sub_technique": {"uid": t}}),
            None => json!({"technique": {"uid": t}}),
        })
        .collect();
    let tactics: Vec<Value> = tags
        .iter()
        .filter_map(|t| t.strip_prefix("mitre_"))
        .filter_map(|short| TACTICS.iter().find(|(s, _, _)| *s == short))
        .map(|(_, uid, name)| json!({"uid": uid, "name": name}))
        .collect();
    let mut out = Vec::new();
    match (techniques.is_empty(), tactics.is_empty()) {
        (true, true) => {}
        (false, true) => out.extend(techniques),
        (true, false) => out.extend(tactics.into_iter().map(|t| json!({"tactic": t}))),
        (false, false) => {
            for technique in &techniques {
                for tactic in &tactics {
                    let mut entry = technique.clone();
                    entry["tactic"] = tactic.clone();
                    out.push(entry);
                }
            }
        }
    }
    out.truncate(MAX_ATTACKS);
    out
}

/// A stable identifier from the parts that make an alert unique (FNV-1a, 64 bit, hex).
fn stable_uid(parts: &[&str]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain(std::iter::once(0x1f)) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

fn build(alert: &Alert<'_>, raw: &str) -> Result<Normalized, DecodeError> {
    let text = |t: &Option<Text<'_>>| -> Option<String> { t.as_ref().map(|t| t.0.to_string()) };
    let rule = alert
        .rule
        .as_ref()
        .map(|t| t.0.as_ref())
        .filter(|r| !r.is_empty())
        .ok_or_else(|| DecodeError::missing("rule"))?;
    let time_text = alert.time.as_ref().map(|t| t.0.as_ref()).ok_or_else(|| DecodeError::missing("time"))?;
    let time = vigil_event::parse_timestamp(time_text).ok_or_else(|| {
        DecodeError::new(DeadLetterReason::InvalidField, format!("field `time` is not a timestamp: {time_text:?}"))
    })?;
    let priority = alert.priority.as_ref().map(|t| t.0.as_ref());
    let severity = match priority {
        Some(p) => Some(severity_id(p).ok_or_else(|| {
            DecodeError::new(
                DeadLetterReason::InvalidField,
                format!(
                    "field `priority` is {p:?}; expected one of Emergency, Alert, Critical, Error, Warning, Notice, \
                     Informational, Debug"
                ),
            )
        })?),
        None => None,
    };
    let output = alert.output.as_ref().map(|t| t.0.as_ref()).filter(|o| !o.is_empty());
    let source = alert.source.as_ref().map(|t| t.0.as_ref()).filter(|o| !o.is_empty());
    let hostname = alert.hostname.as_ref().map(|t| t.0.as_ref()).filter(|o| !o.is_empty());
    let tags: Vec<&str> = alert.tags.iter().flatten().map(|t| t.0.as_ref()).collect();
    let empty = Fields::default();
    let f = alert.output_fields.as_ref().unwrap_or(&empty);

    // Process: `proc.exepath` is the executable's full path; `proc.exe` is argv[0] and
    // counts only when absolute.
    let image = s(&f.proc_exepath).or(abs(s(&f.proc_exe)));
    let parent_image = s(&f.proc_pexepath).or(abs(s(&f.proc_pexe)));
    let cmd_line = s(&f.proc_cmdline);
    let parent_cmd = s(&f.proc_pcmdline);
    let pid = n(&f.proc_pid);
    let ppid = n(&f.proc_ppid);
    let cwd = s(&f.proc_cwd);
    let user_name = s(&f.user_name);
    let user_uid = n(&f.user_uid);
    let evt_type = s(&f.evt_type);
    // `fd.name` is a path for files, `ip:port->ip:port` for sockets.
    let fd_is_file = matches!(s(&f.fd_type), None | Some("file" | "directory"));
    let target_file = abs(s(&f.fd_name)).filter(|_| fd_is_file);
    let server_ip = s(&f.fd_sip);
    let client_ip = s(&f.fd_cip);
    let server_port = n(&f.fd_sport);
    let client_port = n(&f.fd_cport);
    // The process initiated the connection on connect/sendto; it accepted it on accept.
    let initiated = match evt_type {
        Some("connect" | "sendto" | "sendmsg") => Some(true),
        Some(t) if t.starts_with("accept") => Some(false),
        _ => None,
    };
    let dst_ip = server_ip.or(if initiated == Some(true) { s(&f.fd_rip) } else { None });
    let dst_port = server_port.or(if initiated == Some(true) { n(&f.fd_rport) } else { None });
    let protocol = s(&f.fd_l4proto);
    let ka_user = s(&f.ka_user);

    let mut event = ocsf::base(Class::DetectionFinding, ocsf::activity::FINDING_CREATE, Some(time), "Falco");
    ocsf::set_severity(&mut event, severity.unwrap_or(0));
    ocsf::set(&mut event, "message", output.unwrap_or(rule));
    if let Some(source) = source {
        ocsf::set(&mut event, "metadata.log_name", source);
    }
    if let Some(h) = hostname {
        ocsf::set(&mut event, "device.hostname", h);
    }
    let uid = match alert.uuid.as_ref().map(|t| t.0.as_ref()).filter(|u| !u.is_empty()) {
        Some(u) => u.to_owned(),
        None => stable_uid(&[hostname.unwrap_or(""), time_text, rule, output.unwrap_or("")]),
    };
    let mut info = Map::new();
    info.insert("uid".into(), uid.into());
    info.insert("title".into(), rule.into());
    if let Some(o) = output {
        info.insert("desc".into(), o.into());
    }
    // The ATT&CK tags become `attacks`; the others say what kind of finding it is.
    let types: Vec<&str> = tags.iter().copied().filter(|t| !is_technique(t) && !t.starts_with("mitre_")).collect();
    if !types.is_empty() {
        info.insert("types".into(), json!(types));
    }
    info.insert("analytic".into(), json!({"name": rule, "type_id": 1, "type": "Rule"}));
    let attacks = attacks(&tags);
    if !attacks.is_empty() {
        info.insert("attacks".into(), Value::Array(attacks));
    }
    event.insert("finding_info", Value::Object(info));

    let mut evidence = Map::new();
    if image.is_some() || cmd_line.is_some() || pid.is_some() || s(&f.proc_name).is_some() {
        let mut process =
            Process { pid, path: image, cmd_line, cwd, user_name, user_uid, ..Process::default() }.to_value();
        if let Value::Object(p) = &mut process {
            if let Some(name) = s(&f.proc_name) {
                p.insert("name".into(), name.into());
            }
            let mut parent =
                Process { pid: ppid, path: parent_image, cmd_line: parent_cmd, ..Process::default() }.to_value();
            if let Value::Object(pp) = &mut parent {
                if let Some(pname) = s(&f.proc_pname) {
                    pp.insert("name".into(), pname.into());
                }
                if !pp.is_empty() {
                    p.insert("parent_process".into(), parent);
                }
            }
        }
        evidence.insert("process".into(), process);
    }
    if let Some(path) = target_file {
        evidence.insert("file".into(), json!({"path": path, "name": ocsf::basename(path)}));
    }
    if client_ip.is_some() || client_port.is_some() {
        evidence.insert("src_endpoint".into(), ocsf::endpoint(client_ip, client_port, None));
    }
    if dst_ip.is_some() || dst_port.is_some() {
        evidence.insert("dst_endpoint".into(), ocsf::endpoint(dst_ip, dst_port, None));
    }
    if let Some(proto) = protocol {
        evidence.insert("connection_info".into(), json!({"protocol_name": proto.to_ascii_lowercase()}));
    }
    // Kubernetes audit source: the API call and who made it.
    if let Some(verb) = s(&f.ka_verb) {
        let mut api = json!({"operation": verb});
        if let Some(code) = n(&f.ka_response_code) {
            api["response"] = json!({"code": code});
        }
        evidence.insert("api".into(), api);
    }
    if let Some(user) = ka_user {
        evidence.insert("actor".into(), json!({"user": {"name": user}}));
    }
    if !evidence.is_empty() {
        event.insert("evidences", Value::Array(vec![Value::Object(evidence)]));
    }
    if let Some(resource) = s(&f.ka_resource) {
        let mut r = Map::new();
        r.insert("type".into(), resource.into());
        if let Some(name) = s(&f.ka_name) {
            r.insert("name".into(), name.into());
        }
        if let Some(ns) = s(&f.ka_namespace) {
            r.insert("namespace".into(), ns.into());
        }
        event.insert("resources", Value::Array(vec![Value::Object(r)]));
    }
    // Audit fields OCSF has no place for, under their Falco names.
    let mut extra = Map::new();
    for (name, value) in [
        ("ka.uri", s(&f.ka_uri)),
        ("ka.useragent", s(&f.ka_useragent)),
        ("ka.target.subresource", s(&f.ka_subresource)),
        ("ka.auth.decision", s(&f.ka_auth_decision)),
        ("ka.auth.reason", s(&f.ka_auth_reason)),
    ] {
        if let Some(v) = value {
            extra.insert(name.to_owned(), v.into());
        }
    }
    if !extra.is_empty() {
        ocsf::set(&mut event, "unmapped.falco", Value::Object(extra));
    }

    // Container and Kubernetes: `container.id` is `host` for processes outside containers.
    let container_id = s(&f.container_id).filter(|id| *id != "host");
    let image_ref: Option<Cow<'_, str>> = s(&f.container_image).map(Cow::Borrowed).or_else(|| {
        let repo = s(&f.container_image_repository)?;
        Some(match s(&f.container_image_tag) {
            Some(tag) => Cow::Owned(format!("{repo}:{tag}")),
            None => Cow::Borrowed(repo),
        })
    });
    ocsf::k8s_context(
        &mut event,
        &K8sContext {
            namespace: s(&f.k8s_ns),
            pod: s(&f.k8s_pod),
            pod_uid: s(&f.k8s_pod_uid),
            container: container_id.and(s(&f.container_name)),
            container_id,
            image: container_id.and(image_ref.as_deref()),
            ..K8sContext::default()
        },
    );

    let mut sigma = Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            sigma.insert(k.to_owned(), v);
        }
    };
    put("Image", image.map(Value::from));
    put("CommandLine", cmd_line.map(Value::from));
    put("ParentImage", parent_image.map(Value::from));
    put("ParentCommandLine", parent_cmd.map(Value::from));
    put("ProcessId", pid.map(Value::from));
    put("ParentProcessId", ppid.map(Value::from));
    put("CurrentDirectory", cwd.map(Value::from));
    let uid_text = f.user_uid.as_ref().and_then(Scalar::text);
    put("User", user_name.or(ka_user).map(Value::from).or(uid_text.map(|u| Value::from(u.into_owned()))));
    put("TargetFilename", target_file.map(Value::from));
    put("SourceIp", client_ip.map(Value::from));
    put("SourcePort", client_port.map(Value::from));
    put("DestinationIp", dst_ip.map(Value::from));
    put("DestinationPort", dst_port.map(Value::from));
    put("Protocol", protocol.map(|p| Value::from(p.to_ascii_lowercase())));
    put("Initiated", initiated.map(|i| Value::from(if i { "true" } else { "false" })));
    put("Rule", Some(rule.into()));
    put("Priority", text(&alert.priority).map(Value::from));
    put("Tags", (!tags.is_empty()).then(|| json!(tags)));

    Ok(Normalized {
        source: SourceKind::Falco,
        time: Some(time),
        logsource: LogSource::new(Some("falco"), None, Some("alerts")),
        ocsf: event,
        sigma: sigma.into(),
        raw: RawRecord::Json(raw.to_owned()),
    })
}

/// A top-level member, its type test, and the expected type for the message.
type TypeCheck = (&'static str, fn(&Value) -> bool, &'static str);

/// Syntax errors are `invalid_json`; type errors name the member when it is a top-level
/// one (checked on an untyped re-parse, only for bad records).
fn parse_error(err: &serde_json::Error, record: &str) -> DecodeError {
    if !err.is_data() {
        return DecodeError::invalid_json(err);
    }
    let Ok(value) = serde_json::from_str::<Value>(record) else {
        return DecodeError::invalid_json(err);
    };
    let Value::Object(object) = &value else {
        return DecodeError::new(DeadLetterReason::UnknownFormat, "a Falco alert must be a JSON object");
    };
    let expect: &[TypeCheck] = &[
        ("rule", Value::is_string, "a string"),
        ("priority", Value::is_string, "a string"),
        ("output", Value::is_string, "a string"),
        ("time", Value::is_string, "a string"),
        ("source", Value::is_string, "a string"),
        ("hostname", Value::is_string, "a string"),
        ("uuid", Value::is_string, "a string"),
        ("tags", |v| v.as_array().is_some_and(|a| a.iter().all(Value::is_string)), "an array of strings"),
        ("output_fields", Value::is_object, "an object"),
    ];
    for (key, ok, what) in expect {
        if let Some(v) = object.get(*key) {
            if !v.is_null() && !ok(v) {
                return DecodeError::new(DeadLetterReason::InvalidField, format!("field `{key}` must be {what}"));
            }
        }
    }
    DecodeError::new(DeadLetterReason::InvalidField, format!("a Falco alert field has an unexpected type ({err})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(record: &str) -> Result<Normalized, DecodeError> {
        let mut out = Vec::new();
        FalcoDecoder::default().decode(record, &mut out)?;
        assert_eq!(out.len(), 1);
        Ok(out.remove(0))
    }

    const SHELL: &str = r#"{"hostname":"h1","output":"Shell spawned","priority":"Notice","rule":"Run shell untrusted","source":"syscall","tags":["T1059.004","container","mitre_execution"],"time":"2024-05-07T18:54:27.767673017Z","output_fields":{"container.id":"9656db3bb358","container.name":"gen","evt.type":"execve","proc.cmdline":"bash -c ls","proc.exepath":"/bin/bash","proc.name":"bash","proc.pcmdline":"httpd run","proc.pexe":"/tmp/httpd","proc.pexepath":"/bin/event-generator","proc.pname":"httpd","proc.pid":4242,"user.name":"root","user.uid":0,"container.image.digest":["sha256:d9"]}}"#;

    #[test]
    fn syscall_alert_maps_process_and_attack() {
        let n = decode(SHELL).unwrap();
        assert_eq!(n.sigma["Image"], "/bin/bash");
        assert_eq!(n.sigma["ParentImage"], "/bin/event-generator");
        assert_eq!(n.sigma["CommandLine"], "bash -c ls");
        assert_eq!(n.sigma["User"], "root");
        assert_eq!(n.sigma["ProcessId"], 4242);
        assert_eq!(n.ocsf["severity_id"], 2);
        let attack = &n.ocsf["finding_info"]["attacks"][0];
        assert_eq!(attack["technique"]["uid"], "T1059");
        assert_eq!(attack["sub_technique"]["uid"], "T1059.004");
        assert_eq!(attack["tactic"]["uid"], "TA0002");
        assert_eq!(n.ocsf["container"]["uid"], "9656db3bb358");
        assert_eq!(n.logsource, LogSource::new(Some("falco"), None, Some("alerts")));
    }

    #[test]
    fn network_fields_follow_the_direction() {
        let record = r#"{"output":"o","priority":"Warning","rule":"Outbound","time":"2024-01-01T00:00:00Z","output_fields":{"evt.type":"connect","fd.name":"10.0.0.1:40000->1.2.3.4:443","fd.type":"ipv4","fd.cip":"10.0.0.1","fd.cport":40000,"fd.sip":"1.2.3.4","fd.sport":443,"fd.l4proto":"tcp","user.uid":1000}}"#;
        let n = decode(record).unwrap();
        assert_eq!(n.sigma["DestinationIp"], "1.2.3.4");
        assert_eq!(n.sigma["DestinationPort"], 443);
        assert_eq!(n.sigma["SourcePort"], 40000);
        assert_eq!(n.sigma["Initiated"], "true");
        assert_eq!(n.sigma["User"], "1000");
        assert!(n.sigma.as_value().get("TargetFilename").is_none());
    }

    #[test]
    fn bad_alerts_get_the_right_reason() {
        let reason = |r: &str| decode(r).unwrap_err().reason;
        assert_eq!(reason(&SHELL[..60]), DeadLetterReason::InvalidJson);
        assert_eq!(reason(&SHELL.replace("\"rule\":\"Run shell untrusted\",", "")), DeadLetterReason::MissingField);
        assert_eq!(reason(&SHELL.replace("\"Notice\"", "\"Loud\"")), DeadLetterReason::InvalidField);
        assert_eq!(
            reason(&SHELL.replace("2024-05-07T18:54:27.767673017Z", "yesterday")),
            DeadLetterReason::InvalidField
        );
        let e = decode(&SHELL.replace("\"Run shell untrusted\"", "42")).unwrap_err();
        assert_eq!((e.reason, e.message.as_str()), (DeadLetterReason::InvalidField, "field `rule` must be a string"));
        assert_eq!(reason("[1,2]"), DeadLetterReason::UnknownFormat);
        assert_eq!(reason(&SHELL.replace("\"proc.pid\":4242", "\"evt.num\":1E999")), DeadLetterReason::InvalidField);
    }

    #[test]
    fn technique_tags_are_recognised_exactly() {
        assert!(is_technique("T1059") && is_technique("T1059.004"));
        assert!(
            !is_technique("T105") && !is_technique("T1059.04") && !is_technique("TA0002") && !is_technique("Tabcd")
        );
        assert_eq!(attacks(&["mitre_discovery"]), vec![json!({"tactic": {"uid": "TA0007", "name": "Discovery"}})]);
    }
}
