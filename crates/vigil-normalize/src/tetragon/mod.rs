//! Cilium Tetragon events: the JSON export (`tetra getevents -o json`, the
//! `export-filename` file, one `GetEventsResponse` per line; also pretty-printed
//! documents, arrays of events, and the Vector-wrapped form
//! `{time, node_name, type, payload}`) and the protobuf stream (length-delimited
//! `GetEventsResponse` messages, [`decode_protobuf_stream`]).
//!
//! Both inputs land in one typed model (`model.rs`) and are normalized by the same code
//! (`normalize.rs`), so an event gives the same OCSF and Sigma views whichever way it
//! arrived. See `docs/sources/tetragon.md` for the mapping.

mod fast;
mod model;
mod normalize;
pub mod proto;

use memchr::memmem;
use serde::de::DeserializeSeed;
use serde_json::value::RawValue;

use crate::{DeadLetterReason, DecodeError, Decoder, Normalized, RawRecord, SourceKind};
use model::{BodySeed, Envelope};

/// Records larger than this are refused (a Tetragon event is a few KiB; kprobe byte
/// arguments are capped by the policy).
pub const MAX_RECORD_BYTES: usize = 16 << 20;

/// Event members Tetragon writes (`GetEventsResponse` oneof names and the legacy
/// network events), after the `"process_` prefix, each followed by the closing quote.
const PROCESS_KEYS: [&[u8]; 13] = [
    b"exec\"",
    b"exit\"",
    b"kprobe\"",
    b"tracepoint\"",
    b"lsm\"",
    b"uprobe\"",
    b"usdt\"",
    b"loader\"",
    b"throttle\"",
    b"connect\"",
    b"accept\"",
    b"close\"",
    b"listen\"",
];

/// Whether `record` (trimmed, starting with `{` or `[`) is a Tetragon event: a
/// `"process_<type>"` member name (or Vector `type` value), `"rate_limit_info"`, or
/// the `test` event (`"test"` with `"arg0"` and `"node_name"`).
pub(crate) fn looks_like(record: &str) -> bool {
    let bytes = record.as_bytes();
    for pos in memmem::find_iter(bytes, b"\"process_") {
        if let Some(rest) = bytes.get(pos + 9..) {
            if PROCESS_KEYS.iter().any(|k| rest.starts_with(k)) {
                return true;
            }
        }
    }
    let has = |needle: &[u8]| memmem::find(bytes, needle).is_some();
    has(b"\"rate_limit_info\"") || (has(b"\"test\"") && has(b"\"arg0\"") && has(b"\"node_name\""))
}

/// Maps a serde_json error: syntax → invalid JSON; a value of the wrong type or range
/// → invalid field (serde names what was expected, with line and column).
fn json_error(e: &serde_json::Error, context: &str) -> DecodeError {
    let reason = match e.classify() {
        serde_json::error::Category::Data => DeadLetterReason::InvalidField,
        _ => DeadLetterReason::InvalidJson,
    };
    DecodeError::new(reason, format!("{context}{e}"))
}

/// Decodes one JSON object text into events.
fn decode_object(record: &str, out: &mut Vec<Normalized>) -> Result<(), DecodeError> {
    // The fast reader builds the same envelope as serde or declines; serde then decides
    // (and words any error).
    let mut env = Envelope::default();
    if let Err(fast::Decline) = fast::envelope_into(record, &mut env) {
        env = serde_json::from_str(record).map_err(|e| json_error(&e, ""))?;
    }
    if env.body.is_none() {
        if let Some(payload) = env.payload {
            // Vector-wrapped: `type` names the event member `payload` holds.
            let kind = env.wrapper_type.as_deref().ok_or_else(|| DecodeError::missing("type"))?;
            if !model::is_event_key(kind) {
                return Err(DecodeError::new(
                    DeadLetterReason::InvalidField,
                    format!("`type` is {kind:?}, expected a Tetragon event type such as \"process_exec\""),
                ));
            }
            env.body = Some(match fast::payload_body(payload, kind) {
                Ok(body) => body,
                Err(fast::Decline) => {
                    let mut de = serde_json::Deserializer::from_str(payload);
                    BodySeed(kind).deserialize(&mut de).map_err(|e| json_error(&e, "`payload`: "))?
                }
            });
        }
    }
    out.push(normalize::normalize(&env, RawRecord::Json(record.to_owned()))?);
    Ok(())
}

/// For the differential fuzz target (`fuzz/fuzz_targets/tetragon_fast_vs_serde.rs`):
/// when the fast reader takes `record` (one JSON object's text) — the envelope, and a
/// Vector payload if there is one — the serde reader must take it too and read the same
/// model (but for the members the fast reader only checks), and both models must
/// normalize to the same event or error. Returns what differs, or `None`. Not API.
#[doc(hidden)]
pub fn fast_reader_disagreement(record: &str) -> Option<String> {
    let mut fast_env = fast::envelope(record).ok()?;
    let mut serde_env: Envelope<'_> = match serde_json::from_str(record) {
        Ok(env) => env,
        Err(e) => return Some(format!("serde refuses the record the fast reader took: {e}")),
    };
    // Payloads resolved as the decoder resolves them (the fast envelope may hold its
    // payload's event already).
    if let (None, Some(payload), Some(kind)) = (&fast_env.body, fast_env.payload, fast_env.wrapper_type.as_deref()) {
        if model::is_event_key(kind) {
            // A payload the fast reader declines goes to serde in the decoder: nothing to
            // compare.
            fast_env.body = Some(fast::payload_body(payload, kind).ok()?);
        }
    }
    if let (None, Some(payload), Some(kind)) = (&serde_env.body, serde_env.payload, serde_env.wrapper_type.as_deref()) {
        if model::is_event_key(kind) {
            let mut de = serde_json::Deserializer::from_str(payload);
            match BodySeed(kind).deserialize(&mut de) {
                Ok(body) => serde_env.body = Some(body),
                Err(e) => return Some(format!("serde refuses the payload the fast reader took: {e}")),
            }
        }
    }
    let full_serde_env = serde_env.clone();
    fast::forget_unread(&mut serde_env);
    if fast_env != serde_env {
        return Some(format!("the readers differ\nfast:  {fast_env:?}\nserde: {serde_env:?}"));
    }
    let raw = || RawRecord::Json(record.to_owned());
    let (fast_event, serde_event) =
        (normalize::normalize(&fast_env, raw()), normalize::normalize(&full_serde_env, raw()));
    let text = |e: &Result<Normalized, DecodeError>| {
        e.as_ref().map(|n| (n.ocsf.to_json_string(), n.sigma.to_json_string(), n.time, n.logsource.clone())).ok()
    };
    if fast_event != serde_event || text(&fast_event) != text(&serde_event) {
        return Some(format!("the normalized events differ\nfast:  {fast_event:?}\nserde: {serde_event:?}"));
    }
    None
}

/// Tetragon JSON export decoder. It keeps no state across records (the field only
/// makes it a braced struct, so `TetragonDecoder::default()` in lib.rs is no unit-struct
/// default).
#[derive(Default)]
pub(crate) struct TetragonDecoder {
    _stateless: (),
}

impl Decoder for TetragonDecoder {
    fn kind(&self) -> SourceKind {
        SourceKind::Tetragon
    }

    fn decode(&mut self, record: &str, out: &mut Vec<Normalized>) -> Result<(), DecodeError> {
        if record.len() > MAX_RECORD_BYTES {
            return Err(DecodeError::new(
                DeadLetterReason::TooLarge,
                format!("record is {} bytes, more than the {MAX_RECORD_BYTES} a Tetragon event may have", record.len()),
            ));
        }
        let trimmed = record.trim_matches(|c: char| c.is_ascii_whitespace() || c == '\u{feff}');
        match trimmed.as_bytes().first() {
            Some(b'{') => decode_object(trimmed, out),
            Some(b'[') => {
                // A JSON array of events (a saved `getevents` list): each element is one
                // event; good elements are kept, the first bad one is reported.
                let items: Vec<&RawValue> = serde_json::from_str(trimmed).map_err(|e| json_error(&e, ""))?;
                let mut first_error = None;
                for (i, item) in items.iter().enumerate() {
                    if let Err(mut e) = decode_object(item.get(), out) {
                        e.message = format!("array element {i}: {}", e.message);
                        first_error.get_or_insert(e);
                    }
                }
                first_error.map_or(Ok(()), Err)
            }
            _ => Err(DecodeError::new(DeadLetterReason::UnknownFormat, "a Tetragon record must be a JSON object")),
        }
    }
}

/// Decodes a stream of length-delimited `tetragon.GetEventsResponse` messages (each
/// prefixed by its varint length, as prost's `encode_length_delimited` and
/// protobuf's `writeDelimitedTo` write them) and appends the normalized events to
/// `out`, in the same form as the JSON export gives. Returns the number of events
/// appended; responses without an event (or with an event type newer than this API)
/// are skipped. The raw record of each event is its JSON export form.
///
/// Stops at the first bad message: `InvalidProtobuf` (or `TooLarge`) with the byte
/// offset of its length prefix; events before it stay in `out`.
pub fn decode_protobuf_stream(bytes: &[u8], out: &mut Vec<Normalized>) -> Result<usize, DecodeError> {
    use prost::Message as _;
    let mut offset = 0usize;
    let mut count = 0usize;
    while let Some(mut rest) = bytes.get(offset..).filter(|r| !r.is_empty()) {
        let before = rest.len();
        let len = prost::decode_length_delimiter(&mut rest).map_err(|e| {
            DecodeError::new(DeadLetterReason::InvalidProtobuf, format!("length prefix at byte offset {offset}: {e}"))
        })?;
        let header = before - rest.len();
        if len > MAX_RECORD_BYTES {
            return Err(DecodeError::new(
                DeadLetterReason::TooLarge,
                format!("message at byte offset {offset} claims {len} bytes, more than {MAX_RECORD_BYTES}"),
            ));
        }
        let Some(body) = rest.get(..len) else {
            return Err(DecodeError::new(
                DeadLetterReason::InvalidProtobuf,
                format!("message at byte offset {offset} is truncated: {len} bytes announced, {} left", rest.len()),
            ));
        };
        let msg = proto::GetEventsResponse::decode(body).map_err(|e| {
            DecodeError::new(DeadLetterReason::InvalidProtobuf, format!("message at byte offset {offset}: {e}"))
        })?;
        let env = proto::envelope(&msg);
        if env.body.is_some() {
            let raw = serde_json::to_string(&env).map_err(|e| {
                DecodeError::new(DeadLetterReason::InvalidProtobuf, format!("message at byte offset {offset}: {e}"))
            })?;
            let event = normalize::normalize(&env, RawRecord::Json(raw)).map_err(|mut e| {
                e.message = format!("message at byte offset {offset}: {}", e.message);
                e
            })?;
            out.push(event);
            count += 1;
        }
        offset += header + len;
    }
    Ok(count)
}

/// Every Tetragon record of the corpus samples (`VIGIL_CORPUS`): each line of the
/// `.jsonl` files and each `.json` document, trimmed. `None`, after saying so, when the
/// corpus is not set (which fails under CI=true).
#[cfg(test)]
pub(crate) fn corpus_records() -> Option<Vec<String>> {
    let Some(root) = std::env::var_os("VIGIL_CORPUS").map(std::path::PathBuf::from) else {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "VIGIL_CORPUS must be set when CI=true");
        eprintln!("skipped: VIGIL_CORPUS not set");
        return None;
    };
    let root = if root.is_absolute() {
        root
    } else {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(root)
    };
    let mut records = Vec::new();
    let mut dirs = vec![root.join("samples/tetragon")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("samples dir").flatten() {
            let p = entry.path();
            let text = || std::fs::read_to_string(&p).expect("UTF-8 sample");
            match p.extension().and_then(|e| e.to_str()) {
                _ if p.is_dir() => dirs.push(p),
                Some("jsonl") => records.extend(text().lines().filter(|l| !l.trim().is_empty()).map(str::to_owned)),
                Some("json") => records.push(text().trim().to_owned()),
                _ => {}
            }
        }
    }
    Some(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(record: &str) -> Result<Vec<Normalized>, DecodeError> {
        let mut out = Vec::new();
        TetragonDecoder::default().decode(record, &mut out)?;
        Ok(out)
    }

    const EXEC: &str = r#"{"process_exec":{"process":{"exec_id":"aWQ=","pid":42,"uid":1000,"cwd":"/home/u","binary":"/usr/bin/curl","arguments":"-s http://x","start_time":"2024-01-01T00:00:00.5Z","pod":{"namespace":"ns","name":"web-1","container":{"id":"containerd://abc123","name":"web","image":{"id":"i@sha256:1","name":"nginx:1"},"pid":7},"pod_labels":{"app":"web"},"workload":"web","workload_kind":"Deployment"}},"parent":{"exec_id":"cA==","pid":41,"binary":"/bin/sh","arguments":"-c x"}},"node_name":"n1","time":"2024-01-01T00:00:01Z"}"#;

    #[test]
    fn sniffs_event_members_and_not_lookalikes() {
        assert!(looks_like(EXEC));
        assert!(looks_like(r#"{"time":"t","node_name":"n","type":"process_kprobe","payload":{}}"#));
        assert!(looks_like(r#"{"rate_limit_info":{},"node_name":"n"}"#));
        assert!(looks_like(r#"{"test":{"arg0":"1"},"node_name":"n"}"#));
        assert!(!looks_like(r#"{"process_name":"bash","node_name":"n"}"#));
        assert!(!looks_like(r#"{"node_name":"n","output":"x"}"#));
        assert_eq!(crate::sniff_record(EXEC), Some(SourceKind::Tetragon));
    }

    #[test]
    fn exec_becomes_process_launch_with_sigma_fields() {
        let out = decode(EXEC).unwrap();
        let e = &out[0];
        assert_eq!(e.ocsf["class_uid"], 1007);
        assert_eq!(e.ocsf["activity_id"], 1);
        assert_eq!(e.sigma["Image"], "/usr/bin/curl");
        assert_eq!(e.sigma["CommandLine"], "/usr/bin/curl -s http://x");
        assert_eq!(e.sigma["ParentCommandLine"], "/bin/sh -c x");
        assert_eq!(e.sigma["User"], "1000");
        assert_eq!(e.ocsf["process"]["user"]["uid"], "1000");
        assert_eq!(e.ocsf["container"]["uid"], "abc123");
        assert_eq!(e.ocsf["container"]["runtime"], "containerd");
        assert_eq!(e.ocsf["unmapped"]["k8s"]["pod_labels"]["app"], "web");
        assert_eq!(e.logsource, vigil_event::LogSource::new(Some("linux"), Some("process_creation"), None));
        assert_eq!(e.time.map(|t| t.timestamp()), Some(1704067201));
    }

    #[test]
    fn integers_may_be_strings_and_escaped_strings_decode() {
        let rec = r#"{"process_exec":{"process":{"pid":"42","binary":"/bin/e\"cho","arguments":"a\\b"}},"time":"2024-01-01T00:00:00Z"}"#;
        let e = &decode(rec).unwrap()[0];
        assert_eq!(e.sigma["ProcessId"], 42);
        assert_eq!(e.sigma["CommandLine"], "/bin/e\"cho a\\b");
    }

    #[test]
    fn bad_records_get_the_right_reason() {
        let reason = |r: &str| decode(r).unwrap_err().reason;
        assert_eq!(reason(r#"{"process_exec":{"process":{"pid":"x"}}}"#), DeadLetterReason::InvalidField);
        assert_eq!(reason(r#"{"process_exec":{"process":{"pid":-1}}}"#), DeadLetterReason::InvalidField);
        assert_eq!(reason(r#"{"process_exec":{"process":{}"#), DeadLetterReason::InvalidJson);
        assert_eq!(reason(r#"{"node_name":"n","time":"2024-01-01T00:00:00Z"}"#), DeadLetterReason::MissingField);
        assert_eq!(reason(r#"{"process_exec":{"parent":{}}}"#), DeadLetterReason::MissingField);
        assert_eq!(reason(r#"{"process_exit":{"process":{}},"time":"soon"}"#), DeadLetterReason::InvalidField);
        assert_eq!(reason(r#"{"type":"nope","payload":{}}"#), DeadLetterReason::InvalidField);
        assert_eq!(reason(r#"{"type":5,"payload":{}}"#), DeadLetterReason::InvalidField);
        assert_eq!(reason(r#"{"payload":{"process":{}}}"#), DeadLetterReason::MissingField);
        assert_eq!(reason("\"process_exec\""), DeadLetterReason::UnknownFormat);
    }

    #[test]
    fn arrays_decode_element_by_element() {
        let rec = format!("[{EXEC}, {{\"process_exit\":{{\"process\":{{\"pid\":1}}}}}}]");
        assert_eq!(decode(&rec).unwrap().len(), 2);
    }

    #[test]
    fn protobuf_stream_errors_carry_the_offset() {
        let mut out = Vec::new();
        let err = decode_protobuf_stream(&[0x05, 0x0a, 0x01], &mut out).unwrap_err();
        assert_eq!(err.reason, DeadLetterReason::InvalidProtobuf);
        assert!(err.message.contains("offset 0"), "{}", err.message);
        assert_eq!(decode_protobuf_stream(&[], &mut out), Ok(0));
        let err = decode_protobuf_stream(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], &mut out)
            .unwrap_err();
        assert_eq!(err.reason, DeadLetterReason::InvalidProtobuf);
    }
}
