//! `pixie` jobs: every poll runs
//!
//! ```text
//! import px
//! df = px.DataFrame(table='<tablename>', start_time=<watermark ns>)
//! df.pod = df.ctx['pod']
//! df.namespace = df.ctx['namespace']
//! df = df[df.namespace == '<namespace>']          # when given
//! df = df[df.pod == '<namespace>/<podname>']      # when given (see `pod_filter`)
//! px.display(df, 'vigil_etl')
//! ```
//!
//! through Vizier's `ExecuteScript`, turns every row of the columnar answer into one JSON
//! object (column names as keys, plus `"pixie_table"`), and submits them with origin
//! `pixie:<job id>`.
//!
//! Watermark and the boundary: `start_time` is inclusive, and several rows can share one
//! nanosecond. The watermark is the newest `time_` seen (not +1 ns, which would lose a
//! row with that same time arriving in a later poll) together with fingerprints of the
//! rows already read at exactly that time; the next poll starts at that time and skips
//! those rows. So a row is read once even when it shares its time with the boundary.
//! Rows older than the watermark that reach Pixie late are not read (inherent to polling
//! by time). If more than [`MAX_BOUNDARY_ROWS`] rows share the newest time, the next
//! poll starts 1 ns later instead (rows arriving later with that time would be missed).

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use serde_json::{json, Map, Value};
use tokio::sync::watch;
use tonic::metadata::{AsciiMetadataValue, MetadataMap};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use vigil_pipeline::submit::EventSubmitter;

use crate::spec::PixieSpec;
use crate::submit::{submit_until_accepted, Interrupted, SUBMIT_CHUNK};
use crate::vizierpb::column::ColData;
use crate::vizierpb::execute_script_response::Result as ResponseResult;
use crate::vizierpb::vizier_service_client::VizierServiceClient;
use crate::vizierpb::{Column, ExecuteScriptRequest, Relation, RowBatchData};
use crate::{JobError, PixieOptions, DEFAULT_PIXIE_TIMEOUT};

/// Most rows at the newest time whose fingerprints the watermark keeps.
pub const MAX_BOUNDARY_ROWS: usize = 4096;
/// Largest gRPC message accepted from Vizier (one row batch).
const MAX_MESSAGE_BYTES: usize = 64 << 20;
/// The name `px.display` gives the output table.
const OUTPUT_TABLE: &str = "vigil_etl";

/// Where a `pixie` job is: rows with `time_ >= time_ns` are next, except those whose
/// fingerprint is in `boundary` (rows at exactly `time_ns`, read already).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PixieWatermark {
    pub time_ns: i64,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub boundary: BTreeSet<String>,
}

impl PixieWatermark {
    pub fn starting_at(time_ns: i64) -> PixieWatermark {
        PixieWatermark { time_ns, boundary: BTreeSet::new() }
    }

    fn already_read(&self, time_ns: i64, fingerprint: &str) -> bool {
        time_ns < self.time_ns || (time_ns == self.time_ns && self.boundary.contains(fingerprint))
    }
}

/// Tracks the newest time of a poll's rows and the fingerprints at it.
struct NewestRows {
    time_ns: i64,
    fingerprints: BTreeSet<String>,
    overflowed: bool,
}

impl NewestRows {
    fn from(watermark: &PixieWatermark) -> NewestRows {
        NewestRows { time_ns: watermark.time_ns, fingerprints: watermark.boundary.clone(), overflowed: false }
    }

    fn saw(&mut self, time_ns: i64, fingerprint: String) {
        if time_ns > self.time_ns {
            self.time_ns = time_ns;
            self.fingerprints.clear();
            self.overflowed = false;
        }
        if time_ns == self.time_ns && !self.overflowed {
            if self.fingerprints.len() < MAX_BOUNDARY_ROWS {
                self.fingerprints.insert(fingerprint);
            } else {
                self.overflowed = true;
                self.fingerprints.clear();
            }
        }
    }

    fn into_watermark(self) -> PixieWatermark {
        if self.overflowed {
            PixieWatermark::starting_at(self.time_ns.saturating_add(1))
        } else {
            PixieWatermark { time_ns: self.time_ns, boundary: self.fingerprints }
        }
    }
}

/// Quotes text as a PxL (Python) single-quoted string literal. The validated inputs
/// never need it, but the script must stay well-formed whatever reaches it.
pub fn pxl_string(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('\'');
    for c in text.chars() {
        match c {
            '\\' => quoted.push_str("\\\\"),
            '\'' => quoted.push_str("\\'"),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            '\t' => quoted.push_str("\\t"),
            c if c.is_control() => quoted.push_str(&format!("\\u{:04x}", c as u32)),
            c => quoted.push(c),
        }
    }
    quoted.push('\'');
    quoted
}

/// The PxL script of one poll. `spec.table` is a validated identifier; the filters are
/// quoted with [`pxl_string`].
pub(crate) fn script(spec: &PixieSpec, start_ns: i64) -> String {
    let mut script = format!(
        "import px\n\
         df = px.DataFrame(table={}, start_time={start_ns})\n\
         df.pod = df.ctx['pod']\n\
         df.namespace = df.ctx['namespace']\n",
        pxl_string(&spec.table)
    );
    if let Some(namespace) = &spec.namespace {
        script.push_str(&format!("df = df[df.namespace == {}]\n", pxl_string(namespace)));
    }
    if let Some(pod) = &spec.pod {
        script.push_str(&pod_filter(pod, spec.namespace.as_deref()));
    }
    script.push_str(&format!("px.display(df, {})\n", pxl_string(OUTPUT_TABLE)));
    script
}

/// Pixie names pods `namespace/name`. A `podname` with a `/` is compared as is; a bare
/// name is joined to the namespace when one is given, and otherwise matched in any
/// namespace with an anchored regular expression (the validated name's only regex
/// metacharacter is `.`, escaped).
fn pod_filter(pod: &str, namespace: Option<&str>) -> String {
    match (pod.contains('/'), namespace) {
        (true, _) => format!("df = df[df.pod == {}]\n", pxl_string(pod)),
        (false, Some(namespace)) => format!("df = df[df.pod == {}]\n", pxl_string(&format!("{namespace}/{pod}"))),
        (false, None) => {
            let pattern = format!("[^/]+/{}", pod.replace('.', "\\."));
            format!("df = df[px.regex_match({}, df.pod)]\n", pxl_string(&pattern))
        }
    }
}

/// A connected client plus the metadata every call carries.
pub(crate) struct PixieClient {
    client: VizierServiceClient<Channel>,
    metadata: MetadataMap,
    cluster_id: String,
    timeout: Duration,
}

impl PixieClient {
    /// Checks the options; must run inside a tokio runtime (the channel connects lazily,
    /// on the first call, and reconnects by itself).
    pub(crate) fn new(options: &PixieOptions) -> Result<PixieClient, JobError> {
        let endpoint = endpoint(options)?;
        let metadata = metadata(options)?;
        let client = VizierServiceClient::new(endpoint.connect_lazy())
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        let timeout = if options.request_timeout.is_zero() { DEFAULT_PIXIE_TIMEOUT } else { options.request_timeout };
        Ok(PixieClient { client, metadata, cluster_id: options.cluster_id.clone(), timeout })
    }
}

/// Validates the address (and TLS settings) without connecting.
pub(crate) fn endpoint(options: &PixieOptions) -> Result<Endpoint, JobError> {
    let address = options.address.as_deref().ok_or_else(|| JobError::Config("no Pixie address".into()))?;
    let config = |why: String| JobError::Config(format!("Pixie address `{address}`: {why}"));
    let mut endpoint = Endpoint::from_shared(address.to_owned())
        .map_err(|err| config(err.to_string()))?
        .connect_timeout(Duration::from_secs(10))
        .tcp_keepalive(Some(Duration::from_secs(60)));
    if address.starts_with("https://") {
        let mut tls = ClientTlsConfig::new().with_webpki_roots();
        if let Some(ca_file) = &options.tls_ca_file {
            let pem = std::fs::read(ca_file).map_err(|err| config(format!("{}: {err}", ca_file.display())))?;
            tls = tls.ca_certificate(Certificate::from_pem(pem));
        }
        endpoint = endpoint.tls_config(tls).map_err(|err| config(err.to_string()))?;
    } else if !address.starts_with("http://") {
        return Err(config("must start with http:// or https://".into()));
    }
    Ok(endpoint)
}

fn metadata(options: &PixieOptions) -> Result<MetadataMap, JobError> {
    let mut metadata = MetadataMap::new();
    if let Some(key) = &options.api_key {
        let value = AsciiMetadataValue::try_from(key.as_str())
            .map_err(|_| JobError::Config("the Pixie API key is not valid header text".into()))?;
        metadata.insert("pixie-api-key", value);
    }
    let client = if options.api_client.is_empty() { "vigil" } else { options.api_client.as_str() };
    let value = AsciiMetadataValue::try_from(client)
        .map_err(|_| JobError::Config("the Pixie API client name is not valid header text".into()))?;
    metadata.insert("pixie-api-client", value);
    Ok(metadata)
}

/// What one successful poll did.
#[derive(Debug)]
pub(crate) struct PollResult {
    pub watermark: PixieWatermark,
    pub rows: u64,
}

/// Why a poll failed; the watermark stays where it was.
#[derive(Debug)]
pub(crate) enum PollError {
    /// Recorded as the job's last error; the job keeps polling. `rows` were submitted
    /// before the failure (they will be read again: at least once).
    Failed {
        message: String,
        rows: u64,
    },
    Interrupted(Interrupted),
}

/// Runs one poll: the script from `watermark`, every new row submitted in chunks.
pub(crate) async fn poll(
    client: &mut PixieClient,
    spec: &PixieSpec,
    watermark: &PixieWatermark,
    submitter: &dyn EventSubmitter,
    origin: &str,
    stop: &mut watch::Receiver<bool>,
) -> Result<PollResult, PollError> {
    let mut rows_submitted = 0u64;
    let timeout = client.timeout;
    let run = poll_stream(client, spec, watermark, submitter, origin, stop, &mut rows_submitted);
    match tokio::time::timeout(timeout, run).await {
        Ok(Ok(result)) => Ok(result),
        Ok(Err(PollError::Failed { message, .. })) => Err(PollError::Failed { message, rows: rows_submitted }),
        Ok(Err(other)) => Err(other),
        Err(_) => Err(PollError::Failed {
            message: format!("the script did not finish within {} s", timeout.as_secs()),
            rows: rows_submitted,
        }),
    }
}

fn failed(message: impl Into<String>) -> PollError {
    PollError::Failed { message: message.into(), rows: 0 }
}

/// An output table announced by `meta_data`.
struct OutputTable {
    relation: Relation,
    time_column: usize,
}

async fn poll_stream(
    client: &mut PixieClient,
    spec: &PixieSpec,
    watermark: &PixieWatermark,
    submitter: &dyn EventSubmitter,
    origin: &str,
    stop: &mut watch::Receiver<bool>,
    rows_submitted: &mut u64,
) -> Result<PollResult, PollError> {
    let mut request = tonic::Request::new(ExecuteScriptRequest {
        query_str: script(spec, watermark.time_ns),
        cluster_id: client.cluster_id.clone(),
        ..ExecuteScriptRequest::default()
    });
    *request.metadata_mut() = client.metadata.clone();
    let mut stream = client
        .client
        .execute_script(request)
        .await
        .map_err(|status| failed(format!("ExecuteScript: {}: {}", status.code(), status.message())))?
        .into_inner();

    let mut tables: HashMap<String, OutputTable> = HashMap::new();
    let mut newest = NewestRows::from(watermark);
    let mut pending: Vec<String> = Vec::new();
    loop {
        let message = stream
            .message()
            .await
            .map_err(|status| failed(format!("ExecuteScript stream: {}: {}", status.code(), status.message())))?;
        let Some(message) = message else { break };
        if let Some(status) = &message.status {
            if status.code != 0 {
                return Err(failed(format!("Pixie status {}: {}", status.code, status.message)));
            }
        }
        match message.result {
            Some(ResponseResult::MetaData(meta)) => {
                let relation = meta.relation.unwrap_or_default();
                let time_column = relation.columns.iter().position(|c| c.column_name == "time_").ok_or_else(|| {
                    failed(format!("output table `{}` has no `time_` column: no watermark possible", meta.name))
                })?;
                tables.insert(meta.id, OutputTable { relation, time_column });
            }
            Some(ResponseResult::Data(data)) => {
                if !data.encrypted_batch.is_empty() {
                    return Err(failed("Vizier sent an encrypted batch, which was not asked for"));
                }
                let Some(batch) = data.batch else { continue };
                let table = tables
                    .get(&batch.table_id)
                    .ok_or_else(|| failed(format!("a row batch for unannounced table `{}`", batch.table_id)))?;
                for (time_ns, row) in decode_batch(&batch, table, &spec.table)? {
                    let text = row.to_string();
                    let fingerprint = fingerprint(&text);
                    if watermark.already_read(time_ns, &fingerprint) {
                        continue;
                    }
                    newest.saw(time_ns, fingerprint);
                    pending.push(text);
                    if pending.len() >= SUBMIT_CHUNK {
                        let count = pending.len() as u64;
                        submit_until_accepted(submitter, origin, std::mem::take(&mut pending), stop)
                            .await
                            .map_err(PollError::Interrupted)?;
                        *rows_submitted += count;
                    }
                }
            }
            None => {}
        }
    }
    let count = pending.len() as u64;
    submit_until_accepted(submitter, origin, pending, stop).await.map_err(PollError::Interrupted)?;
    *rows_submitted += count;
    Ok(PollResult { watermark: newest.into_watermark(), rows: *rows_submitted })
}

/// FNV-1a 64 of a row's JSON text: stable across builds and Rust versions, as a
/// persisted fingerprint must be.
fn fingerprint(text: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// The rows of a columnar batch as JSON objects with their `time_`.
fn decode_batch(batch: &RowBatchData, table: &OutputTable, table_name: &str) -> Result<Vec<(i64, Value)>, PollError> {
    let columns = &table.relation.columns;
    if batch.cols.len() != columns.len() {
        return Err(failed(format!("a row batch has {} columns, the relation {}", batch.cols.len(), columns.len())));
    }
    let rows = usize::try_from(batch.num_rows).map_err(|_| failed("a row batch has a negative row count"))?;
    for (info, column) in columns.iter().zip(&batch.cols) {
        if column_len(column) < rows {
            return Err(failed(format!("column `{}` has fewer values than the batch's {rows} rows", info.column_name)));
        }
    }
    let Some(ColData::Time64nsData(times)) = &batch.cols[table.time_column].col_data else {
        return Err(failed("the `time_` column is not of type TIME64NS"));
    };
    let mut out = Vec::with_capacity(rows);
    for row in 0..rows {
        let mut object = Map::with_capacity(columns.len() + 1);
        for (info, column) in columns.iter().zip(&batch.cols) {
            object.insert(info.column_name.clone(), cell(column, row));
        }
        object.insert("pixie_table".to_owned(), Value::String(table_name.to_owned()));
        out.push((times.data[row], Value::Object(object)));
    }
    Ok(out)
}

fn column_len(column: &Column) -> usize {
    match &column.col_data {
        Some(ColData::BooleanData(c)) => c.data.len(),
        Some(ColData::Int64Data(c)) => c.data.len(),
        Some(ColData::Uint128Data(c)) => c.data.len(),
        Some(ColData::Time64nsData(c)) => c.data.len(),
        Some(ColData::Float64Data(c)) => c.data.len(),
        Some(ColData::StringData(c)) => c.data.len(),
        // A column without data reads as nulls.
        None => usize::MAX,
    }
}

/// One value: TIME64NS as integer ns, UINT128 (UPIDs) as a UUID string like Pixie's
/// own clients show it, non-finite floats as null, strings as (lossy) UTF-8.
fn cell(column: &Column, row: usize) -> Value {
    match &column.col_data {
        Some(ColData::BooleanData(c)) => Value::Bool(c.data[row]),
        Some(ColData::Int64Data(c)) => json!(c.data[row]),
        Some(ColData::Time64nsData(c)) => json!(c.data[row]),
        Some(ColData::Float64Data(c)) => serde_json::Number::from_f64(c.data[row]).map_or(Value::Null, Value::Number),
        Some(ColData::StringData(c)) => Value::String(String::from_utf8_lossy(&c.data[row]).into_owned()),
        Some(ColData::Uint128Data(c)) => {
            let value = (u128::from(c.data[row].high) << 64) | u128::from(c.data[row].low);
            Value::String(uuid::Uuid::from_u128(value).hyphenated().to_string())
        }
        None => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(pod: Option<&str>, namespace: Option<&str>) -> PixieSpec {
        PixieSpec {
            table: "http_events".into(),
            start_ns: 0,
            pod: pod.map(str::to_owned),
            namespace: namespace.map(str::to_owned),
            poll_interval: Duration::from_secs(1),
        }
    }

    #[test]
    fn pxl_strings_cannot_be_escaped() {
        assert_eq!(pxl_string("a'b\\c\nd"), r"'a\'b\\c\nd'");
        assert_eq!(pxl_string("\u{1}"), r"'\u0001'");
    }

    #[test]
    fn script_carries_start_time_and_filters() {
        let text = script(&spec(Some("web-1"), Some("prod")), 42);
        assert!(text.contains("px.DataFrame(table='http_events', start_time=42)\n"), "{text}");
        assert!(text.contains("df = df[df.namespace == 'prod']\n"), "{text}");
        assert!(text.contains("df = df[df.pod == 'prod/web-1']\n"), "{text}");
        let any_namespace = script(&spec(Some("web.v2"), None), 7);
        assert!(any_namespace.contains(r"df = df[px.regex_match('[^/]+/web\\.v2', df.pod)]"), "{any_namespace}");
        let qualified = script(&spec(Some("ns/web"), None), 7);
        assert!(qualified.contains("df = df[df.pod == 'ns/web']\n") && !qualified.contains("df.namespace =="));
        let plain = script(&spec(None, None), 7);
        assert_eq!(plain.matches("df = df[").count(), 0, "{plain}");
    }

    #[test]
    fn watermark_keeps_boundary_rows_until_time_moves_on() {
        let start = PixieWatermark::starting_at(10);
        let mut newest = NewestRows::from(&start);
        newest.saw(12, "a".into());
        newest.saw(11, "b".into());
        newest.saw(12, "c".into());
        let watermark = newest.into_watermark();
        assert_eq!(watermark.time_ns, 12);
        assert_eq!(watermark.boundary.iter().map(String::as_str).collect::<Vec<_>>(), ["a", "c"]);
        assert!(watermark.already_read(12, "a") && watermark.already_read(11, "z"));
        assert!(!watermark.already_read(12, "d") && !watermark.already_read(13, "a"));

        // A later poll with more rows at the same time adds to the boundary.
        let mut again = NewestRows::from(&watermark);
        again.saw(12, "d".into());
        assert_eq!(again.into_watermark().boundary.len(), 3);
    }

    #[test]
    fn too_many_rows_at_one_time_move_the_watermark_past_it() {
        let mut newest = NewestRows::from(&PixieWatermark::starting_at(0));
        for i in 0..=MAX_BOUNDARY_ROWS {
            newest.saw(5, format!("{i}"));
        }
        assert_eq!(newest.into_watermark(), PixieWatermark::starting_at(6));
    }

    #[test]
    fn fingerprints_are_stable() {
        // FNV-1a 64 reference values.
        assert_eq!(fingerprint(""), "cbf29ce484222325");
        assert_eq!(fingerprint("a"), "af63dc4c8601ec8c");
    }
}
