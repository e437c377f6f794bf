//! Honeypot analytics over stored Cowrie events: sessions, authentication attempts,
//! commands, downloads, credentials and per-IP intelligence.
//!
//! Everything is computed with SQL over the stored original records (`raw`, Cowrie's
//! JSON line) of events whose `source` is `cowrie`. The records are attacker-controlled:
//! every `json_extract` is guarded by `json_valid` (a CASE, which SQLite evaluates lazily,
//! so a record SQLite cannot parse reads as absent instead of failing the query), and
//! every list is bounded.

mod commands;

use std::collections::BTreeSet;

use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, Row};
use serde::Serialize;
use serde_json::Value;

pub use commands::{behaviour_score, categorize, Behaviour, Categorized, CommandCategory};

use crate::{Store, StoreError};

/// Schema additions for these queries (the third migration; see `schema.rs`): partial
/// expression indexes over Cowrie records only, by session id (session detail) and by
/// event id and time (login and command counts over a time range). The expressions must
/// stay identical to [`SESSION_ID`] and [`EVENT_ID`] for the planner to use them.
pub(crate) const HONEYPOT_MIGRATION: &str = r#"
CREATE INDEX events_cowrie_session ON events(
    (CASE WHEN json_valid(raw) THEN json_extract(raw, '$.session') END), time_ms
) WHERE source = 'cowrie';
CREATE INDEX events_cowrie_eventid_time ON events(
    (CASE WHEN json_valid(raw) THEN json_extract(raw, '$.eventid') END), time_ms
) WHERE source = 'cowrie';
"#;

/// The Cowrie session id of a stored record (NULL when the record is not JSON).
const SESSION_ID: &str = "(CASE WHEN json_valid(raw) THEN json_extract(raw, '$.session') END)";
/// The Cowrie event id of a stored record (NULL when the record is not JSON).
const EVENT_ID: &str = "(CASE WHEN json_valid(raw) THEN json_extract(raw, '$.eventid') END)";

/// Records of one session read for its detail; a session beyond this is cut.
const MAX_SESSION_RECORDS: usize = 5000;
/// Raw records returned with a session.
const MAX_SESSION_RAW: usize = 500;
/// Auth attempts, commands and files returned with a session, each.
const MAX_SESSION_ITEMS: usize = 1000;
/// Default and largest length of a top list.
pub const DEFAULT_TOP: u32 = 10;
pub const MAX_TOP: u32 = 1000;
/// Distinct command lines of one IP categorized for its intelligence.
const MAX_IP_COMMANDS: i64 = 2000;
/// Longest text value (password, command line) returned in a list; attackers send
/// megabytes.
const MAX_TEXT_CHARS: usize = 4096;

const LOGIN_SUCCESS: &str = "cowrie.login.success";
const LOGIN_FAILED: &str = "cowrie.login.failed";
const COMMAND_INPUT: &str = "cowrie.command.input";
const COMMAND_FAILED: &str = "cowrie.command.failed";
const FILE_DOWNLOAD: &str = "cowrie.session.file_download";
const FILE_UPLOAD: &str = "cowrie.session.file_upload";
const SESSION_CONNECT: &str = "cowrie.session.connect";
const SESSION_CLOSED: &str = "cowrie.session.closed";
const CLIENT_VERSION: &str = "cowrie.client.version";

/// One Cowrie session, from its records.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HoneypotSession {
    pub session: String,
    pub src_ip: Option<String>,
    pub src_port: Option<u64>,
    pub dst_ip: Option<String>,
    pub dst_port: Option<u64>,
    pub sensor: Option<String>,
    pub protocol: Option<String>,
    /// The SSH client's version string (`cowrie.client.version`).
    pub client_version: Option<String>,
    /// `cowrie.client.kex` fingerprint.
    pub hassh: Option<String>,
    /// `cowrie.session.connect` time.
    pub start_ms: Option<i64>,
    /// `cowrie.session.closed` time.
    pub end_ms: Option<i64>,
    /// Seconds: the close record's `duration` (a number or a numeric string, by Cowrie
    /// version), else end minus start.
    pub duration_secs: Option<f64>,
    pub auth_attempts: Vec<AuthAttempt>,
    pub commands: Vec<SessionCommand>,
    pub downloads: Vec<FileTransfer>,
    pub uploads: Vec<FileTransfer>,
    /// Records of the session in the store.
    pub record_count: u64,
    /// The first records (oldest first), as they arrived.
    pub raw: Vec<String>,
    /// Whether a list above was cut at its bound.
    pub truncated: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuthAttempt {
    pub time_ms: i64,
    pub username: Option<String>,
    pub password: Option<String>,
    pub success: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionCommand {
    pub time_ms: i64,
    pub input: String,
    pub category: CommandCategory,
    pub categories: Vec<CommandCategory>,
    /// Cowrie did not know the command (`cowrie.command.failed`).
    pub failed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileTransfer {
    pub time_ms: i64,
    pub url: Option<String>,
    pub filename: Option<String>,
    pub shasum: Option<String>,
    pub outfile: Option<String>,
    pub destfile: Option<String>,
}

/// Totals over `[from_ms, to_ms)` (event time).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HoneypotStats {
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    /// Sessions opened in the range (`cowrie.session.connect`, distinct session ids).
    pub sessions: u64,
    /// Distinct source IPs of any Cowrie record in the range.
    pub unique_src_ips: u64,
    /// `login.success` + `login.failed`.
    pub login_attempts: u64,
    pub failed_logins: u64,
    pub successful_logins: u64,
    /// `command.input` records.
    pub commands: u64,
    /// `command.failed` records (commands the honeypot did not know).
    pub failed_commands: u64,
    pub downloads: u64,
    pub uploads: u64,
    pub top_credentials: Vec<CredentialCount>,
    pub top_usernames: Vec<TopValue>,
    pub top_passwords: Vec<TopValue>,
    pub top_commands: Vec<CommandCount>,
    /// By sessions opened.
    pub top_src_ips: Vec<TopValue>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopValue {
    pub value: Option<String>,
    pub count: u64,
}

/// One (username, password) pair tried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CredentialCount {
    pub username: Option<String>,
    pub password: Option<String>,
    pub count: u64,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    /// Whether any attempt with the pair succeeded.
    pub success: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CommandCount {
    pub input: Option<String>,
    pub count: u64,
    pub category: CommandCategory,
    pub categories: Vec<CommandCategory>,
}

/// What one source IP did to the honeypot, over the whole store.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IpIntel {
    pub ip: String,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    pub records: u64,
    /// Distinct session ids.
    pub sessions: u64,
    pub login_attempts: u64,
    pub successful_logins: u64,
    pub commands: u64,
    pub downloads: u64,
    pub uploads: u64,
    /// Categories of its commands, in priority order.
    pub command_categories: Vec<CommandCategory>,
    /// Its most tried usernames (at most 10).
    pub top_usernames: Vec<TopValue>,
    /// 0–100, see [`behaviour_score`].
    pub score: u8,
}

impl Store {
    /// One Cowrie session by its id; `None` when no record names it.
    pub fn honeypot_session(&self, session_id: &str) -> Result<Option<HoneypotSession>, StoreError> {
        session(&*self.readers.get()?, session_id)
    }

    /// Totals and top lists (`top` entries each, default 10, at most 1000) over
    /// `[from_ms, to_ms)`; an absent bound is open.
    pub fn honeypot_stats(
        &self,
        from_ms: Option<i64>,
        to_ms: Option<i64>,
        top: Option<u32>,
    ) -> Result<HoneypotStats, StoreError> {
        let mut conn = self.readers.get()?;
        // One snapshot, so the totals and the lists agree.
        let tx = conn.transaction()?;
        let stats = stats(&tx, from_ms, to_ms, top)?;
        tx.commit()?;
        Ok(stats)
    }

    /// (username, password) pairs by attempts, most first.
    pub fn honeypot_credentials_top(
        &self,
        from_ms: Option<i64>,
        to_ms: Option<i64>,
        limit: Option<u32>,
    ) -> Result<Vec<CredentialCount>, StoreError> {
        credentials_top(&*self.readers.get()?, &Range::new(from_ms, to_ms), top_limit(limit))
    }

    /// Command lines by times entered, most first, with their categories.
    pub fn honeypot_commands_top(
        &self,
        from_ms: Option<i64>,
        to_ms: Option<i64>,
        limit: Option<u32>,
    ) -> Result<Vec<CommandCount>, StoreError> {
        commands_top(&*self.readers.get()?, &Range::new(from_ms, to_ms), top_limit(limit))
    }

    /// What `ip` did; `None` when no Cowrie record comes from it.
    pub fn honeypot_ip(&self, ip: &str) -> Result<Option<IpIntel>, StoreError> {
        let mut conn = self.readers.get()?;
        let tx = conn.transaction()?;
        let intel = ip_intel(&tx, ip)?;
        tx.commit()?;
        Ok(intel)
    }
}

fn top_limit(limit: Option<u32>) -> i64 {
    i64::from(limit.unwrap_or(DEFAULT_TOP).clamp(1, MAX_TOP))
}

/// `[from_ms, to_ms)` with open ends made explicit.
struct Range {
    from_ms: i64,
    to_ms: i64,
}

impl Range {
    fn new(from_ms: Option<i64>, to_ms: Option<i64>) -> Range {
        Range { from_ms: from_ms.unwrap_or(i64::MIN), to_ms: to_ms.unwrap_or(i64::MAX) }
    }
}

fn stats(
    conn: &Connection,
    from_ms: Option<i64>,
    to_ms: Option<i64>,
    top: Option<u32>,
) -> Result<HoneypotStats, StoreError> {
    let range = Range::new(from_ms, to_ms);
    let top = top_limit(top);
    let sql = format!(
        "SELECT count(DISTINCT CASE WHEN e = '{SESSION_CONNECT}' THEN s END),
                count(DISTINCT src_ip),
                total(e IN ('{LOGIN_SUCCESS}', '{LOGIN_FAILED}')),
                total(e = '{LOGIN_FAILED}'),
                total(e = '{LOGIN_SUCCESS}'),
                total(e = '{COMMAND_INPUT}'),
                total(e = '{COMMAND_FAILED}'),
                total(e = '{FILE_DOWNLOAD}'),
                total(e = '{FILE_UPLOAD}')
         FROM (SELECT {EVENT_ID} AS e, {SESSION_ID} AS s, src_ip FROM events
               WHERE source = 'cowrie' AND time_ms >= ?1 AND time_ms < ?2)"
    );
    let counts: [u64; 9] = conn.prepare_cached(&sql)?.query_row(params![range.from_ms, range.to_ms], |row| {
        let mut counts = [0u64; 9];
        for (i, slot) in counts.iter_mut().enumerate() {
            *slot = count(row, i)?;
        }
        Ok(counts)
    })?;
    let top_usernames = top_values(conn, &range, &login_field_top("username"), top)?;
    let top_passwords = top_values(conn, &range, &login_field_top("password"), top)?;
    let top_src_ips = top_values(
        conn,
        &range,
        &format!(
            "SELECT src_ip, count(DISTINCT {SESSION_ID}) AS n FROM events
             WHERE source = 'cowrie' AND {EVENT_ID} = '{SESSION_CONNECT}' AND time_ms >= ?1 AND time_ms < ?2
             GROUP BY src_ip ORDER BY n DESC, src_ip LIMIT ?3"
        ),
        top,
    )?;
    Ok(HoneypotStats {
        from_ms,
        to_ms,
        sessions: counts[0],
        unique_src_ips: counts[1],
        login_attempts: counts[2],
        failed_logins: counts[3],
        successful_logins: counts[4],
        commands: counts[5],
        failed_commands: counts[6],
        downloads: counts[7],
        uploads: counts[8],
        top_credentials: credentials_top(conn, &range, top)?,
        top_usernames,
        top_passwords,
        top_commands: commands_top(conn, &range, top)?,
        top_src_ips,
    })
}

/// `field` is one of our own literals, never caller input.
fn login_field_top(field: &'static str) -> String {
    format!(
        "SELECT json_extract(raw, '$.{field}') AS v, count(*) AS n FROM events
         WHERE source = 'cowrie' AND {EVENT_ID} IN ('{LOGIN_SUCCESS}', '{LOGIN_FAILED}')
           AND time_ms >= ?1 AND time_ms < ?2
         GROUP BY v ORDER BY n DESC, v LIMIT ?3"
    )
}

fn top_values(conn: &Connection, range: &Range, sql: &str, top: i64) -> Result<Vec<TopValue>, StoreError> {
    let mut select = conn.prepare_cached(sql)?;
    let rows = select.query_map(params![range.from_ms, range.to_ms, top], |row| {
        Ok(TopValue { value: text(row, 0)?, count: count(row, 1)? })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn credentials_top(conn: &Connection, range: &Range, limit: i64) -> Result<Vec<CredentialCount>, StoreError> {
    // The json_extract calls in the select list only run on rows the WHERE kept, whose
    // event id was read, so whose record is valid JSON.
    let sql = format!(
        "SELECT json_extract(raw, '$.username') AS u, json_extract(raw, '$.password') AS p, count(*) AS n,
                min(time_ms), max(time_ms), max({EVENT_ID} = '{LOGIN_SUCCESS}')
         FROM events
         WHERE source = 'cowrie' AND {EVENT_ID} IN ('{LOGIN_SUCCESS}', '{LOGIN_FAILED}')
           AND time_ms >= ?1 AND time_ms < ?2
         GROUP BY u, p ORDER BY n DESC, u, p LIMIT ?3"
    );
    let mut select = conn.prepare_cached(&sql)?;
    let rows = select.query_map(params![range.from_ms, range.to_ms, limit], |row| {
        Ok(CredentialCount {
            username: text(row, 0)?,
            password: text(row, 1)?,
            count: count(row, 2)?,
            first_seen_ms: row.get(3)?,
            last_seen_ms: row.get(4)?,
            success: row.get::<_, Option<i64>>(5)?.unwrap_or(0) != 0,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn commands_top(conn: &Connection, range: &Range, limit: i64) -> Result<Vec<CommandCount>, StoreError> {
    let sql = format!(
        "SELECT json_extract(raw, '$.input') AS c, count(*) AS n FROM events
         WHERE source = 'cowrie' AND {EVENT_ID} = '{COMMAND_INPUT}' AND time_ms >= ?1 AND time_ms < ?2
         GROUP BY c ORDER BY n DESC, c LIMIT ?3"
    );
    let mut select = conn.prepare_cached(&sql)?;
    let rows = select.query_map(params![range.from_ms, range.to_ms, limit], |row| {
        let input: Option<String> = text(row, 0)?;
        let Categorized { primary, all } = categorize(input.as_deref().unwrap_or(""));
        Ok(CommandCount { input, count: count(row, 1)?, category: primary, categories: all })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn ip_intel(conn: &Connection, ip: &str) -> Result<Option<IpIntel>, StoreError> {
    // `src_ip` is the column the decoder filled from Cowrie's `src_ip`; its index serves this.
    let sql = format!(
        "SELECT count(*), min(time_ms), max(time_ms), count(DISTINCT s),
                total(e IN ('{LOGIN_SUCCESS}', '{LOGIN_FAILED}')), total(e = '{LOGIN_SUCCESS}'),
                total(e = '{COMMAND_INPUT}'), total(e = '{FILE_DOWNLOAD}'), total(e = '{FILE_UPLOAD}')
         FROM (SELECT time_ms, {EVENT_ID} AS e, {SESSION_ID} AS s FROM events
               WHERE src_ip = ?1 AND source = 'cowrie')"
    );
    let summary = conn.prepare_cached(&sql)?.query_row([ip], |row| {
        let records = count(row, 0)?;
        if records == 0 {
            return Ok(None);
        }
        let mut rest = [0u64; 6];
        for (i, slot) in rest.iter_mut().enumerate() {
            *slot = count(row, 3 + i)?;
        }
        Ok(Some((records, row.get::<_, i64>(1)?, row.get::<_, i64>(2)?, rest)))
    })?;
    let Some((
        records,
        first_seen_ms,
        last_seen_ms,
        [sessions, login_attempts, successes, commands, downloads, uploads],
    )) = summary
    else {
        return Ok(None);
    };
    let mut categories = BTreeSet::new();
    let mut select = conn.prepare_cached(&format!(
        "SELECT DISTINCT json_extract(raw, '$.input') FROM events
         WHERE src_ip = ?1 AND source = 'cowrie' AND {EVENT_ID} = '{COMMAND_INPUT}' LIMIT ?2"
    ))?;
    for input in select.query_map(params![ip, MAX_IP_COMMANDS], |row| text(row, 0))? {
        categories.extend(categorize(input?.as_deref().unwrap_or("")).all);
    }
    categories.remove(&CommandCategory::Other);
    let command_categories: Vec<CommandCategory> = categories.into_iter().collect();
    let top_usernames = {
        let mut select = conn.prepare_cached(&format!(
            "SELECT json_extract(raw, '$.username') AS v, count(*) AS n FROM events
             WHERE src_ip = ?1 AND source = 'cowrie' AND {EVENT_ID} IN ('{LOGIN_SUCCESS}', '{LOGIN_FAILED}')
             GROUP BY v ORDER BY n DESC, v LIMIT 10"
        ))?;
        let rows = select.query_map([ip], |row| Ok(TopValue { value: text(row, 0)?, count: count(row, 1)? }))?;
        rows.collect::<Result<Vec<_>, _>>()?
    };
    let score = behaviour_score(&Behaviour {
        login_attempts,
        successful_logins: successes,
        commands,
        files: downloads + uploads,
        categories: command_categories.clone(),
    });
    Ok(Some(IpIntel {
        ip: ip.to_owned(),
        first_seen_ms,
        last_seen_ms,
        records,
        sessions,
        login_attempts,
        successful_logins: successes,
        commands,
        downloads,
        uploads,
        command_categories,
        top_usernames,
        score,
    }))
}

fn session(conn: &Connection, session_id: &str) -> Result<Option<HoneypotSession>, StoreError> {
    let record_count: i64 = conn
        .prepare_cached(&format!("SELECT count(*) FROM events WHERE source = 'cowrie' AND {SESSION_ID} = ?1"))?
        .query_row([session_id], |row| row.get(0))?;
    if record_count == 0 {
        return Ok(None);
    }
    let mut select = conn.prepare_cached(&format!(
        "SELECT time_ms, raw FROM events WHERE source = 'cowrie' AND {SESSION_ID} = ?1
         ORDER BY time_ms, id LIMIT ?2"
    ))?;
    let rows = select
        .query_map(params![session_id, MAX_SESSION_RECORDS as i64], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;

    let mut out = HoneypotSession {
        session: session_id.to_owned(),
        src_ip: None,
        src_port: None,
        dst_ip: None,
        dst_port: None,
        sensor: None,
        protocol: None,
        client_version: None,
        hassh: None,
        start_ms: None,
        end_ms: None,
        duration_secs: None,
        auth_attempts: Vec::new(),
        commands: Vec::new(),
        downloads: Vec::new(),
        uploads: Vec::new(),
        record_count: u64::try_from(record_count).unwrap_or(0),
        raw: Vec::new(),
        truncated: record_count as usize > rows.len() || rows.len() > MAX_SESSION_RAW,
    };
    let mut closed_duration = None;
    for (time_ms, raw) in &rows {
        if out.raw.len() < MAX_SESSION_RAW {
            out.raw.push(raw.clone());
        }
        let Ok(Value::Object(record)) = serde_json::from_str::<Value>(raw) else { continue };
        let field = |name: &str| record.get(name).and_then(Value::as_str).map(|s| cap(s).to_owned());
        let time_ms = *time_ms;
        out.src_ip = out.src_ip.take().or_else(|| field("src_ip"));
        out.sensor = out.sensor.take().or_else(|| field("sensor"));
        out.protocol = out.protocol.take().or_else(|| field("protocol"));
        let eventid = record.get("eventid").and_then(Value::as_str).unwrap_or("");
        match eventid {
            SESSION_CONNECT => {
                out.start_ms.get_or_insert(time_ms);
                out.src_port = out.src_port.or_else(|| number(record.get("src_port")).map(|n| n as u64));
                out.dst_ip = out.dst_ip.take().or_else(|| field("dst_ip"));
                out.dst_port = out.dst_port.or_else(|| number(record.get("dst_port")).map(|n| n as u64));
            }
            SESSION_CLOSED => {
                out.end_ms = Some(time_ms);
                closed_duration = number(record.get("duration")).or(closed_duration);
            }
            CLIENT_VERSION => out.client_version = out.client_version.take().or_else(|| field("version")),
            "cowrie.client.kex" => out.hassh = out.hassh.take().or_else(|| field("hassh")),
            LOGIN_SUCCESS | LOGIN_FAILED => push_bounded(
                &mut out.auth_attempts,
                &mut out.truncated,
                AuthAttempt {
                    time_ms,
                    username: field("username"),
                    password: field("password"),
                    success: eventid == LOGIN_SUCCESS,
                },
            ),
            COMMAND_INPUT => {
                let input = field("input").unwrap_or_default();
                let Categorized { primary, all } = categorize(&input);
                push_bounded(
                    &mut out.commands,
                    &mut out.truncated,
                    SessionCommand { time_ms, input, category: primary, categories: all, failed: false },
                );
            }
            COMMAND_FAILED => {
                // Cowrie logs the input, then `failed` for the same line when it does
                // not know the command: mark that input rather than count it twice.
                let input = field("input").unwrap_or_default();
                match out.commands.iter_mut().rev().find(|c| c.input == input && !c.failed) {
                    Some(command) => command.failed = true,
                    None => {
                        let Categorized { primary, all } = categorize(&input);
                        push_bounded(
                            &mut out.commands,
                            &mut out.truncated,
                            SessionCommand { time_ms, input, category: primary, categories: all, failed: true },
                        );
                    }
                }
            }
            FILE_DOWNLOAD | FILE_UPLOAD => {
                let transfer = FileTransfer {
                    time_ms,
                    url: field("url"),
                    filename: field("filename"),
                    shasum: field("shasum"),
                    outfile: field("outfile"),
                    destfile: field("destfile"),
                };
                let list = if eventid == FILE_DOWNLOAD { &mut out.downloads } else { &mut out.uploads };
                push_bounded(list, &mut out.truncated, transfer);
            }
            _ => {}
        }
    }
    out.duration_secs = closed_duration.or_else(|| match (out.start_ms, out.end_ms) {
        (Some(start), Some(end)) if end >= start => Some((end - start) as f64 / 1000.0),
        _ => None,
    });
    Ok(Some(out))
}

fn push_bounded<T>(list: &mut Vec<T>, truncated: &mut bool, item: T) {
    if list.len() < MAX_SESSION_ITEMS {
        list.push(item);
    } else {
        *truncated = true;
    }
}

/// A JSON number or numeric string (Cowrie's `duration` is either, by version); finite
/// and non-negative.
fn number(value: Option<&Value>) -> Option<f64> {
    let n = match value? {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    (n.is_finite() && n >= 0.0).then_some(n)
}

fn cap(s: &str) -> &str {
    match s.char_indices().nth(MAX_TEXT_CHARS) {
        Some((end, _)) => &s[..end],
        None => s,
    }
}

/// A column as text: numbers are written out, blobs and NULL are absent, long text is
/// cut. Attacker JSON may put any type where a string is expected.
fn text(row: &Row<'_>, index: usize) -> rusqlite::Result<Option<String>> {
    Ok(match row.get_ref(index)? {
        ValueRef::Text(bytes) => Some(cap(&String::from_utf8_lossy(bytes)).to_owned()),
        ValueRef::Integer(n) => Some(n.to_string()),
        ValueRef::Real(f) => Some(f.to_string()),
        ValueRef::Null | ValueRef::Blob(_) => None,
    })
}

/// count() gives an integer, total() (used because it cannot overflow) a float holding
/// an exact count.
fn count(row: &Row<'_>, index: usize) -> rusqlite::Result<u64> {
    Ok(match row.get_ref(index)? {
        ValueRef::Integer(n) => u64::try_from(n).unwrap_or(0),
        ValueRef::Real(f) if f >= 0.0 => f as u64,
        _ => 0,
    })
}
