use serde_json::Value;
use vigil_event::{LogSource, Timestamp};

use crate::doc::Doc;
use crate::{ocsf, DecodeError, Decoder, SourceKind};

/// The record an event was decoded from, kept as it arrived.
#[derive(Debug, Clone, PartialEq)]
pub enum RawRecord {
    /// A JSON object's text (a JSON line or document).
    Json(String),
    /// A text line (syslog, auditd); for auditd, the joined lines of one event.
    Text(String),
}

impl RawRecord {
    pub fn as_str(&self) -> &str {
        match self {
            RawRecord::Json(s) | RawRecord::Text(s) => s,
        }
    }
}

/// One decoded event in all three views.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalized {
    pub source: SourceKind,
    /// Event time (when it happened at the source).
    pub time: Option<Timestamp>,
    /// Sigma logsource; empty when the event carries its own routing (Windows `Channel`).
    pub logsource: LogSource,
    /// The OCSF 1.3 event object (`class_uid`, `activity_id`, `time`, `metadata`, …).
    pub ocsf: Doc,
    /// Sigma taxonomy fields at the top level (`Image`, `CommandLine`, `User`, …). For
    /// text sources it also carries the parsed fields (auditd `type`, `a0`, `exe` …).
    /// Member names are literal (`objectRef.resource` is one name, not a path).
    pub sigma: Doc,
    pub raw: RawRecord,
}

impl Normalized {
    /// The JSON document Sigma rules are evaluated on: the taxonomy fields, then — for
    /// JSON records — the raw record's own members, so rules written against the raw
    /// source fields (`verb`, `objectRef.resource`) match as well. The raw members are
    /// spliced in as text, not re-serialized. Taxonomy fields come first; on a name
    /// clash the Sigma evaluator sees both values.
    pub fn sigma_json(&self) -> String {
        let members = match &self.raw {
            RawRecord::Json(raw) => {
                let inner = raw.trim();
                inner.strip_prefix('{').and_then(|s| s.strip_suffix('}')).map(str::trim).filter(|m| !m.is_empty())
            }
            RawRecord::Text(_) => None,
        };
        match members {
            Some(members) if self.sigma.is_empty() => format!("{{{members}}}"),
            Some(members) => {
                let taxonomy = self.sigma.to_json_string();
                // The taxonomy object's closing brace gives way to the raw members.
                let mut out = String::with_capacity(taxonomy.len() + members.len() + 1);
                out.push_str(&taxonomy[..taxonomy.len() - 1]);
                out.push(',');
                out.push_str(members);
                out.push('}');
                out
            }
            None => self.sigma.to_json_string(),
        }
    }

    /// The OCSF object with the raw record attached as `raw_data` — the form Vigil
    /// stores and emits.
    pub fn to_ocsf_json(&self) -> Value {
        let mut object = self.ocsf.to_map();
        object.insert("raw_data".into(), Value::String(self.raw.as_str().to_owned()));
        Value::Object(object)
    }
}

/// Windows events (already in the evtx_dump or flat shape Sigma rules read) and other
/// JSON (ECS or unknown): the record is its own Sigma view. ECS process / network / user
/// fields are added as taxonomy fields when present.
pub(crate) struct PassthroughDecoder {
    kind: SourceKind,
}

impl PassthroughDecoder {
    pub(crate) fn new(kind: SourceKind) -> Self {
        PassthroughDecoder { kind }
    }
}

/// ECS field → Sigma taxonomy name (https://www.elastic.co/guide/en/ecs/current/).
const ECS_TAXONOMY: &[(&str, &str)] = &[
    ("process.executable", "Image"),
    ("process.command_line", "CommandLine"),
    ("process.pid", "ProcessId"),
    ("process.working_directory", "CurrentDirectory"),
    ("process.parent.executable", "ParentImage"),
    ("process.parent.command_line", "ParentCommandLine"),
    ("user.name", "User"),
    ("file.path", "TargetFilename"),
    ("source.ip", "SourceIp"),
    ("source.port", "SourcePort"),
    ("destination.ip", "DestinationIp"),
    ("destination.port", "DestinationPort"),
    ("destination.domain", "DestinationHostname"),
];

impl Decoder for PassthroughDecoder {
    fn kind(&self) -> SourceKind {
        self.kind
    }

    fn decode(&mut self, record: &str, out: &mut Vec<Normalized>) -> Result<(), DecodeError> {
        let value: Value = serde_json::from_str(record).map_err(|e| DecodeError::invalid_json(&e))?;
        let Value::Object(object) = &value else {
            return Err(DecodeError::new(crate::DeadLetterReason::UnknownFormat, "a JSON event must be an object"));
        };
        let time = ["@timestamp", "timestamp", "time", "Event.System.TimeCreated_attributes.SystemTime", "TimeCreated"]
            .iter()
            .find_map(|p| vigil_event::get_path(&value, p))
            .and_then(|v| match v {
                Value::String(s) => vigil_event::parse_timestamp(s),
                Value::Number(n) => n.as_f64().and_then(vigil_event::from_epoch),
                _ => None,
            });
        let mut sigma = Doc::with_capacity(4, 0);
        if self.kind == SourceKind::Json {
            for &(ecs, name) in ECS_TAXONOMY {
                if object.contains_key(name) {
                    continue;
                }
                if let Some(v) = vigil_event::get_path(&value, ecs) {
                    sigma.insert(name, v);
                }
            }
        }
        let product = if self.kind == SourceKind::Windows { "Microsoft Windows" } else { "JSON" };
        let mut event = ocsf::base(ocsf::Class::Base, 0, time, product);
        if self.kind == SourceKind::Windows {
            let eid = vigil_event::get_path(&value, "Event.System.EventID")
                .or_else(|| object.get("EventID"))
                .and_then(|v| v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok())));
            if let Some(eid) = eid {
                ocsf::set(&mut event, "metadata.event_code", eid.to_string());
            }
        }
        out.push(Normalized {
            source: self.kind,
            time,
            logsource: Default::default(),
            ocsf: event,
            sigma,
            raw: RawRecord::Json(record.to_owned()),
        });
        Ok(())
    }
}
