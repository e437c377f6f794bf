//! `POST /events`: one JSON object, a JSON array of objects, or NDJSON. A request is
//! all or nothing: every record is parsed and checked before any is submitted, so a 4xx
//! means nothing of it entered the pipeline and the sender may fix and resend it whole.

use std::cell::Cell;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, HttpBody};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::{DeserializeSeed, Error as _, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use vigil_pipeline::submit::SubmitError;

use crate::auth::WriteAccess;
use crate::error::{ApiError, BodyPosition};
use crate::AppState;

/// The `origin` HTTP records are submitted under.
const HTTP_ORIGIN: &str = "http";
/// A sender that trickles its body slower than this is cut off.
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(60);
/// Largest up-front allocation a declared `Content-Length` may cause.
const MAX_PREALLOCATION: usize = 1 << 20;
/// How much of a refused body is read and discarded before the 413 goes out. Most
/// clients write the whole body before reading the reply; closing on them mid-write makes
/// them see a reset (EPIPE) instead of the 413. Past this, or after
/// [`REFUSED_BODY_DRAIN_TIME`], the connection is simply closed.
const REFUSED_BODY_DRAIN_BYTES: u64 = 1 << 20;
const REFUSED_BODY_DRAIN_TIME: Duration = Duration::from_secs(2);

/// How the body's records are framed, from the `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// Declared NDJSON: one object per line, always answered with a list of ids.
    Ndjson,
    /// Anything else: `[` starts an array; otherwise one object, or NDJSON when more
    /// follows it.
    Sniff,
}

impl Framing {
    pub fn from_headers(headers: &HeaderMap) -> Framing {
        let Some(content_type) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
            return Framing::Sniff;
        };
        let essence = content_type.split(';').next().unwrap_or("").trim();
        const NDJSON_TYPES: [&str; 5] = [
            "application/x-ndjson",
            "application/ndjson",
            "application/jsonl",
            "application/x-jsonlines",
            "application/jsonlines",
        ];
        if NDJSON_TYPES.iter().any(|t| essence.eq_ignore_ascii_case(t)) {
            Framing::Ndjson
        } else {
            Framing::Sniff
        }
    }
}

/// The records of a body, each the exact text of one JSON object within it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ParsedBody<'a> {
    pub records: Vec<&'a str>,
    /// The body was one bare object: answer `{"event_id"}` rather than a list.
    pub single: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum BodyError {
    Empty,
    Malformed { message: String, position: BodyPosition },
    NotAnObject { position: BodyPosition },
    TooManyRecords { max: usize },
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyError::Empty => f.write_str("the body holds no events"),
            BodyError::Malformed { message, .. } => write!(f, "malformed JSON: {message}"),
            BodyError::NotAnObject { .. } => f.write_str("every event must be a JSON object"),
            BodyError::TooManyRecords { max } => write!(f, "more than {max} events in one request"),
        }
    }
}

impl From<BodyError> for ApiError {
    fn from(err: BodyError) -> ApiError {
        let message = err.to_string();
        match err {
            BodyError::Empty => ApiError::bad_request(message),
            BodyError::Malformed { position, .. } | BodyError::NotAnObject { position } => {
                ApiError::bad_request(message).at(position)
            }
            BodyError::TooManyRecords { .. } => ApiError::too_large(message),
        }
    }
}

pub(crate) async fn post_events(
    State(state): State<Arc<AppState>>,
    _: WriteAccess,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_body(body, &headers, state.config.max_body_bytes).await?;
    let framing = Framing::from_headers(&headers);
    let max_records = state.config.max_events_per_request;
    // Parsing up to max_body_bytes of JSON takes milliseconds: off the async threads.
    let (records, single) = tokio::task::spawn_blocking(move || {
        parse_body(&bytes, framing, max_records)
            .map(|parsed| (parsed.records.iter().map(|r| (*r).to_owned()).collect::<Vec<_>>(), parsed.single))
    })
    .await
    .map_err(ApiError::internal)??;

    let record_count = records.len();
    // Submitting decodes every record (the daemon's submitter normalizes them before
    // queueing): also blocking work.
    let submitter = Arc::clone(&state.submitter);
    let submitted = tokio::task::spawn_blocking(move || submitter.submit(HTTP_ORIGIN, records))
        .await
        .map_err(ApiError::internal)?;
    let ids = submitted.map_err(|err| match err {
        SubmitError::Full { retry_after_secs } => {
            ApiError::new(StatusCode::TOO_MANY_REQUESTS, err.to_string()).retry_after(retry_after_secs)
        }
        SubmitError::Closed => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, err.to_string()),
    })?;
    if ids.len() != record_count {
        return Err(ApiError::internal(format_args!(
            "the submitter returned {} ids for {record_count} records",
            ids.len()
        )));
    }
    let body = if single { serde_json::json!({ "event_id": ids[0] }) } else { serde_json::json!({ "event_ids": ids }) };
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

/// Reads the whole body, refusing (413) as soon as it is known to exceed `limit`:
/// from `Content-Length` before reading anything, else while streaming.
pub(crate) async fn read_body(body: Body, headers: &HeaderMap, limit: usize) -> Result<Vec<u8>, ApiError> {
    let too_large = || ApiError::too_large(format!("the body exceeds {limit} bytes"));
    let declared_len =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
    let mut body = body;
    if declared_len.is_some_and(|len| len > limit as u64) {
        if declared_len.is_some_and(|len| len <= REFUSED_BODY_DRAIN_BYTES) {
            drain_refused_body(&mut body, 0).await;
        }
        return Err(too_large());
    }
    let capacity = declared_len.map_or(0, |len| (len as usize).min(MAX_PREALLOCATION));
    let read = async move {
        let mut bytes = Vec::with_capacity(capacity);
        while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
            let frame = frame.map_err(|_| ApiError::bad_request("the request body could not be read"))?;
            if let Ok(data) = frame.into_data() {
                if data.len() > limit - bytes.len() {
                    drain_refused_body(&mut body, (bytes.len() + data.len()) as u64).await;
                    return Err(too_large());
                }
                bytes.extend_from_slice(&data);
            }
        }
        Ok(bytes)
    };
    tokio::time::timeout(BODY_READ_TIMEOUT, read)
        .await
        .map_err(|_| ApiError::new(StatusCode::REQUEST_TIMEOUT, "the request body arrived too slowly"))?
}

/// Reads and discards what is left of a refused body, within the drain bounds, so the
/// client gets to read the refusal. `already_read` counts toward the byte bound.
async fn drain_refused_body(body: &mut Body, already_read: u64) {
    let drain = async {
        let mut read = already_read;
        while let Some(Ok(frame)) = std::future::poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx)).await {
            if let Ok(data) = frame.into_data() {
                read += data.len() as u64;
                if read > REFUSED_BODY_DRAIN_BYTES {
                    return;
                }
            }
        }
    };
    let _ = tokio::time::timeout(REFUSED_BODY_DRAIN_TIME, drain).await;
}

/// Splits a body into records without copying them; see [`Framing`].
pub(crate) fn parse_body(body: &[u8], framing: Framing, max_records: usize) -> Result<ParsedBody<'_>, BodyError> {
    let text = std::str::from_utf8(body).map_err(|err| BodyError::Malformed {
        message: "the body is not valid UTF-8".into(),
        position: position_of(body, err.valid_up_to()),
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let first = text.trim_start().chars().next().ok_or(BodyError::Empty)?;
    if framing == Framing::Ndjson {
        return parse_lines(text, max_records);
    }
    if first == '[' {
        return parse_array(text, max_records);
    }
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value = <&RawValue>::deserialize(&mut deserializer).map_err(|err| malformed(&err, 0))?;
    if deserializer.end().is_ok() {
        let record = require_object(text, value.get())?;
        if max_records == 0 {
            return Err(BodyError::TooManyRecords { max: max_records });
        }
        return Ok(ParsedBody { records: vec![record], single: true });
    }
    parse_lines(text, max_records)
}

fn parse_array(text: &str, max_records: usize) -> Result<ParsedBody<'_>, BodyError> {
    let exceeded = Cell::new(false);
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let elements = BoundedArray { max: max_records, exceeded: &exceeded }
        .deserialize(&mut deserializer)
        .and_then(|elements| deserializer.end().map(|()| elements));
    let elements = match elements {
        Ok(elements) => elements,
        Err(_) if exceeded.get() => return Err(BodyError::TooManyRecords { max: max_records }),
        Err(err) => return Err(malformed(&err, 0)),
    };
    if elements.is_empty() {
        return Err(BodyError::Empty);
    }
    let records = elements.iter().map(|raw| require_object(text, raw.get())).collect::<Result<_, _>>()?;
    Ok(ParsedBody { records, single: false })
}

fn parse_lines(text: &str, max_records: usize) -> Result<ParsedBody<'_>, BodyError> {
    let mut records = Vec::new();
    for (index, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        if records.len() == max_records {
            return Err(BodyError::TooManyRecords { max: max_records });
        }
        let raw: &RawValue = serde_json::from_str(line).map_err(|err| malformed(&err, index))?;
        records.push(require_object(text, raw.get())?);
    }
    if records.is_empty() {
        return Err(BodyError::Empty);
    }
    Ok(ParsedBody { records, single: false })
}

/// `record` must be a slice of `text` (it is: `RawValue`s borrow from the input), which
/// is how its line is found without tracking positions during parsing.
fn require_object<'a>(text: &str, record: &'a str) -> Result<&'a str, BodyError> {
    if record.starts_with('{') {
        return Ok(record);
    }
    let offset = (record.as_ptr() as usize).saturating_sub(text.as_ptr() as usize).min(text.len());
    Err(BodyError::NotAnObject { position: position_of(text.as_bytes(), offset) })
}

/// A parse error of a text that starts on line `line_offset + 1` of the body.
fn malformed(err: &serde_json::Error, line_offset: usize) -> BodyError {
    let text = err.to_string();
    // serde_json appends " at line L column C"; the position travels in its own fields.
    let message = match text.rfind(" at line ") {
        Some(cut) => text[..cut].to_owned(),
        None => text,
    };
    BodyError::Malformed {
        message,
        position: BodyPosition { line: err.line().max(1) + line_offset, column: err.column().max(1) },
    }
}

/// 1-based line and column (in bytes) of `offset` in `bytes`.
fn position_of(bytes: &[u8], offset: usize) -> BodyPosition {
    let before = &bytes[..offset];
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |newline| newline + 1);
    BodyPosition { line: before.iter().filter(|&&b| b == b'\n').count() + 1, column: offset - line_start + 1 }
}

/// Collects an array's elements as raw text, failing once there are more than `max`, so
/// a body of a million tiny elements never allocates a million entries.
struct BoundedArray<'a> {
    max: usize,
    exceeded: &'a Cell<bool>,
}

impl<'de> DeserializeSeed<'de> for BoundedArray<'_> {
    type Value = Vec<&'de RawValue>;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for BoundedArray<'_> {
    type Value = Vec<&'de RawValue>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of JSON objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut elements = Vec::new();
        while let Some(element) = seq.next_element::<&'de RawValue>()? {
            if elements.len() == self.max {
                self.exceeded.set(true);
                return Err(A::Error::custom("too many elements"));
            }
            elements.push(element);
        }
        Ok(elements)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str, framing: Framing) -> Result<ParsedBody<'_>, BodyError> {
        parse_body(body.as_bytes(), framing, 100)
    }

    fn line_of(err: BodyError) -> usize {
        match err {
            BodyError::Malformed { position, .. } | BodyError::NotAnObject { position } => position.line,
            other => panic!("no position in {other:?}"),
        }
    }

    #[test]
    fn single_object_keeps_its_exact_text() {
        let parsed = parse("  {\"a\": 1,  \"b\":[1, 2]}\n", Framing::Sniff).unwrap();
        assert_eq!(parsed, ParsedBody { records: vec!["{\"a\": 1,  \"b\":[1, 2]}"], single: true });
    }

    #[test]
    fn pretty_printed_single_object_is_one_record() {
        let parsed = parse("{\n  \"a\": 1\n}\n", Framing::Sniff).unwrap();
        assert!(parsed.single);
        assert_eq!(parsed.records, vec!["{\n  \"a\": 1\n}"]);
    }

    #[test]
    fn array_elements_in_order() {
        let parsed = parse("[{\"a\":1}, {\"b\" : 2}]", Framing::Sniff).unwrap();
        assert_eq!(parsed, ParsedBody { records: vec!["{\"a\":1}", "{\"b\" : 2}"], single: false });
    }

    #[test]
    fn sniffed_ndjson_skips_blank_lines_and_crlf() {
        let parsed = parse("{\"a\":1}\r\n\r\n   \n{\"b\":2}\n", Framing::Sniff).unwrap();
        assert_eq!(parsed, ParsedBody { records: vec!["{\"a\":1}", "{\"b\":2}"], single: false });
    }

    #[test]
    fn declared_ndjson_of_one_line_is_a_batch() {
        let parsed = parse("{\"a\":1}\n", Framing::Ndjson).unwrap();
        assert_eq!(parsed, ParsedBody { records: vec!["{\"a\":1}"], single: false });
    }

    #[test]
    fn errors_carry_the_line() {
        assert_eq!(line_of(parse("{\"a\":1}\n{\"b\":2}\n\n{\"c\":\n", Framing::Sniff).unwrap_err()), 4);
        assert_eq!(line_of(parse("[{\"a\":1},\n{\"b\":}]", Framing::Sniff).unwrap_err()), 2);
        assert_eq!(line_of(parse("[{\"a\":1},\n\n 7]", Framing::Sniff).unwrap_err()), 3);
        assert_eq!(line_of(parse("{\"a\":1}\n[1]\n", Framing::Sniff).unwrap_err()), 2);
        assert_eq!(line_of(parse("\n\n{\"a\" 1}", Framing::Sniff).unwrap_err()), 3);
        assert_eq!(line_of(parse("[{}] x", Framing::Sniff).unwrap_err()), 1);
    }

    #[test]
    fn malformed_message_has_no_duplicated_position() {
        let BodyError::Malformed { message, position } = parse("{\"a\" 1}", Framing::Sniff).unwrap_err() else {
            panic!("expected Malformed");
        };
        assert!(!message.contains("line"), "{message}");
        assert_eq!(position, BodyPosition { line: 1, column: 6 });
    }

    #[test]
    fn non_objects_are_refused() {
        for body in ["42", "\"text\"", "null", "[1, 2]", "[[{}]]", "[{}, null]"] {
            assert!(matches!(parse(body, Framing::Sniff), Err(BodyError::NotAnObject { .. })), "{body}");
        }
        assert!(matches!(parse("[{}]", Framing::Ndjson), Err(BodyError::NotAnObject { .. })));
    }

    #[test]
    fn empty_bodies_are_refused() {
        for body in ["", "   \n\r\n", "[]", " [ ] ", "\u{feff}"] {
            assert_eq!(parse(body, Framing::Sniff), Err(BodyError::Empty), "{body:?}");
        }
        assert_eq!(parse("\n\n", Framing::Ndjson), Err(BodyError::Empty));
    }

    #[test]
    fn record_count_is_bounded_in_every_framing() {
        let array = format!("[{}{{}}]", "{},".repeat(3));
        assert!(parse_body(array.as_bytes(), Framing::Sniff, 4).is_ok());
        assert_eq!(parse_body(array.as_bytes(), Framing::Sniff, 3), Err(BodyError::TooManyRecords { max: 3 }));
        let lines = "{}\n".repeat(4);
        assert!(parse_body(lines.as_bytes(), Framing::Sniff, 4).is_ok());
        assert_eq!(parse_body(lines.as_bytes(), Framing::Ndjson, 3), Err(BodyError::TooManyRecords { max: 3 }));
        assert_eq!(parse_body(b"{}", Framing::Sniff, 0), Err(BodyError::TooManyRecords { max: 0 }));
    }

    #[test]
    fn invalid_utf8_is_malformed_with_its_line() {
        assert_eq!(line_of(parse_body(b"{\"a\":1}\n{\"b\":\"\xff\"}", Framing::Sniff, 10).unwrap_err()), 2);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!("{}{}", "{\"a\":".repeat(100_000), "}".repeat(100_000));
        assert!(parse(&deep, Framing::Sniff).is_err());
        let deep_array = format!("[{}]", "[".repeat(100_000));
        assert!(parse(&deep_array, Framing::Sniff).is_err());
    }

    #[test]
    fn content_types() {
        let mut headers = HeaderMap::new();
        assert_eq!(Framing::from_headers(&headers), Framing::Sniff);
        headers.insert(header::CONTENT_TYPE, "Application/X-NDJSON; charset=utf-8".parse().unwrap());
        assert_eq!(Framing::from_headers(&headers), Framing::Ndjson);
        headers.insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
        assert_eq!(Framing::from_headers(&headers), Framing::Sniff);
    }
}
