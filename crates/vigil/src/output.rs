//! Detection output: `jsonl` for machines, `table` for people, `csv` for spreadsheets.

use serde::Serialize;
use serde_json::Value;
use std::io::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Jsonl,
    Csv,
}

/// One detection, ready to print.
#[derive(Debug, Serialize)]
pub struct Detection<'a> {
    pub rule_id: Option<&'a str>,
    pub rule_title: &'a str,
    pub level: Option<&'a str>,
    pub timestamp: Option<String>,
    pub tags: &'a [String],
    /// `file:position` of the event (line for JSONL, record id for EVTX).
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation: Option<CorrelationOutput>,
}

/// What a correlation detection adds.
#[derive(Debug, Serialize)]
pub struct CorrelationOutput {
    #[serde(rename = "type")]
    pub kind: String,
    pub group: serde_json::Map<String, Value>,
    pub event_count: u64,
    pub value: f64,
    pub first: Option<String>,
    pub last: Option<String>,
    /// Where the events behind the hit came from (capped).
    pub events: Vec<String>,
}

/// Fields shown in the table, in order of preference, after the rule's own `fields:`.
const KEY_FIELDS: &[&str] = &[
    "CommandLine",
    "Image",
    "TargetFilename",
    "TargetObject",
    "ScriptBlockText",
    "QueryName",
    "DestinationIp",
    "ServiceName",
    "TargetUserName",
    "ImageLoaded",
    "PipeName",
];

const HOST_FIELDS: &[&str] = &["Computer", "host", "hostname", "node_name", "Hostname"];

/// Looks a display field up in flat or evtx-shaped events.
fn display_field(event: &Value, name: &str) -> Option<String> {
    let direct = vigil_event::get_path(event, name)
        .or_else(|| event.pointer("/Event/EventData").and_then(|d| d.get(name)))
        .or_else(|| event.pointer("/Event/System").and_then(|d| d.get(name)));
    match direct? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

pub fn header(out: &mut dyn Write, format: Format) -> std::io::Result<()> {
    match format {
        Format::Table => writeln!(out, "{:<24}  {:<8}  {:<50}  {:<20}  details", "time", "level", "rule", "host"),
        Format::Csv => writeln!(out, "timestamp,level,rule_id,rule_title,host,source,details"),
        Format::Jsonl => Ok(()),
    }
}

/// Renders one detection into `buf`.
pub fn render(buf: &mut Vec<u8>, format: Format, d: &Detection, raw_event: Option<&str>, rule_fields: &[String]) {
    match format {
        Format::Jsonl => {
            let head = serde_json::to_vec(d).expect("detections serialize");
            buf.extend_from_slice(&head[..head.len() - 1]);
            if let Some(raw) = raw_event {
                buf.extend_from_slice(b",\"event\":");
                if raw.contains('\n') {
                    // Pretty-printed input: keep one detection per line.
                    match serde_json::from_str::<Value>(raw) {
                        Ok(v) => buf.extend_from_slice(v.to_string().as_bytes()),
                        Err(_) => buf.extend_from_slice(b"null"),
                    }
                } else {
                    buf.extend_from_slice(raw.as_bytes());
                }
            }
            buf.extend_from_slice(b"}\n");
        }
        Format::Table | Format::Csv => {
            let event: Value = raw_event.and_then(|r| serde_json::from_str(r).ok()).unwrap_or(Value::Null);
            let host = HOST_FIELDS.iter().find_map(|f| display_field(&event, f)).unwrap_or_default();
            let mut details: Vec<String> = Vec::new();
            if let Some(c) = &d.correlation {
                let group: Vec<String> = c
                    .group
                    .iter()
                    .map(|(k, v)| format!("{k}={}", v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())))
                    .collect();
                details.push(format!("{} {} events, value {} [{}]", c.kind, c.event_count, c.value, group.join(" ")));
            }
            for name in rule_fields.iter().map(String::as_str).chain(KEY_FIELDS.iter().copied()) {
                if details.len() >= 3 {
                    break;
                }
                if let Some(v) = display_field(&event, name) {
                    let entry = format!("{name}={v}");
                    if !details.contains(&entry) {
                        details.push(entry);
                    }
                }
            }
            let time = d.timestamp.clone().unwrap_or_default();
            let level = d.level.unwrap_or("-");
            if format == Format::Table {
                let line = format!(
                    "{:<24}  {:<8}  {:<50}  {:<20}  {}\n",
                    truncate(&time, 24),
                    level,
                    truncate(d.rule_title, 50),
                    truncate(&host, 20),
                    sanitize(&details.join("  "))
                );
                buf.extend_from_slice(line.as_bytes());
            } else {
                let fields = [
                    time,
                    level.to_string(),
                    d.rule_id.unwrap_or_default().to_string(),
                    d.rule_title.to_string(),
                    host,
                    d.source.clone(),
                    details.join(" | "),
                ];
                let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
                buf.extend_from_slice(line.join(",").as_bytes());
                buf.push(b'\n');
            }
        }
    }
}

fn truncate(s: &str, width: usize) -> String {
    let clean = sanitize(s);
    if clean.chars().count() <= width {
        clean
    } else {
        let mut t: String = clean.chars().take(width - 1).collect();
        t.push('…');
        t
    }
}

/// Terminal output of attacker-controlled text: control characters (escape sequences
/// included) are shown escaped, never interpreted.
fn sanitize(s: &str) -> String {
    s.chars().flat_map(|c| if c.is_control() { c.escape_default().collect::<Vec<_>>() } else { vec![c] }).collect()
}

fn csv_field(s: &str) -> String {
    // Formula injection: spreadsheet apps execute cells starting with these.
    let s = if s.starts_with(['=', '+', '-', '@']) { format!("'{s}") } else { s.to_string() };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_escapes_are_neutralised() {
        assert_eq!(sanitize("a\u{1b}[31mb\n"), "a\\u{1b}[31mb\\n");
    }

    #[test]
    fn csv_quotes_and_blocks_formulas() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("=cmd()"), "'=cmd()");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
