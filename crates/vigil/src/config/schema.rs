//! What `vigil.toml` may contain, and the walk that checks a located tree against it,
//! reporting every mistake with its origin. The typed model (`model.rs`) is the final
//! word on shapes; this schema mirrors it field for field and adds the checks serde
//! cannot make (paths that must exist, value ranges, cross-field conflicts).

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use vigil_normalize::SourceKind;

use super::tree::{Located, Node, Origin};
use super::units;
use super::Diagnostics;

/// Longest list (of paths, of file sources) a configuration may hold.
const MAX_LIST_LEN: usize = 1024;
/// Longest path or string setting.
const MAX_TEXT_LEN: usize = 4096;
/// Shortest accepted API token: shorter ones can be guessed.
const MIN_TOKEN_LEN: usize = 16;

/// The shape and checks of one setting.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// The store's data directory: a path that is a directory when it exists.
    DataDir,
    /// A list of files or directories that must exist.
    ExistingPaths {
        allow_empty: bool,
        files_only: bool,
        noun: &'static str,
    },
    /// A non-empty list of file paths or globs (they may appear later).
    Globs,
    Bool,
    Count {
        min: i64,
        max: i64,
    },
    Duration {
        min: Duration,
        max: Duration,
    },
    /// A duration or `"off"`.
    OptDuration,
    Size {
        min: u64,
        max: u64,
    },
    /// A size or `"off"`.
    OptSize,
    Address,
    /// An optional bearer token; empty means none.
    Token,
    /// An optional decoder name (`vigil_normalize::SourceKind`).
    Decoder,
    StartAt,
    /// An optional logsource, `product[/category[/service]]`.
    Logsource,
    /// An optional string; empty means none.
    Text,
    /// An optional `http://` or `https://` address such as `http://127.0.0.1:51400`.
    Url,
    /// An optional path to a file that must exist.
    ExistingFile,
    Section(&'static [Field]),
    /// An array of tables (`[[sources.file]]`).
    Sections(&'static [Field]),
}

impl Kind {
    /// Whether the model holds this setting in an `Option`, so that an empty
    /// environment variable can clear it.
    pub fn is_optional_value(self) -> bool {
        matches!(self, Kind::Token | Kind::Logsource | Kind::Decoder | Kind::Text | Kind::Url | Kind::ExistingFile)
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
}

const fn optional(name: &'static str, kind: Kind) -> Field {
    Field { name, kind, required: false }
}

const fn required(name: &'static str, kind: Kind) -> Field {
    Field { name, kind, required: true }
}

const fn duration(min: Duration, max: Duration) -> Kind {
    Kind::Duration { min, max }
}

const ONE_MS: Duration = Duration::from_millis(1);
const ONE_SECOND: Duration = Duration::from_secs(1);
const ONE_HOUR: Duration = Duration::from_secs(3600);
const THIRTY_DAYS: Duration = Duration::from_secs(30 * 24 * 3600);

pub const STORE: &[Field] = &[
    optional("dir", Kind::DataDir),
    optional("retention_max_age", Kind::OptDuration),
    optional("retention_max_bytes", Kind::OptSize),
    optional("retention_interval", duration(ONE_SECOND, THIRTY_DAYS)),
    optional("commit_interval", duration(ONE_MS, ONE_SECOND)),
];

pub const RULES: &[Field] = &[
    optional("paths", Kind::ExistingPaths { allow_empty: false, files_only: false, noun: "rules path" }),
    optional("pipelines", Kind::ExistingPaths { allow_empty: true, files_only: true, noun: "pipeline" }),
];

pub const DETECT: &[Field] = &[
    optional("workers", Kind::Count { min: 0, max: 1024 }),
    optional("aggregation_window", duration(Duration::ZERO, THIRTY_DAYS)),
    optional("correlation_lateness", duration(Duration::ZERO, ONE_HOUR)),
    optional("default_logsource", Kind::Logsource),
];

pub const API: &[Field] = &[
    optional("enabled", Kind::Bool),
    optional("listen", Kind::Address),
    optional("write_token", Kind::Token),
    optional("read_token", Kind::Token),
    optional("max_body_bytes", Kind::Size { min: 1 << 10, max: 1 << 30 }),
    optional("max_events_per_request", Kind::Count { min: 1, max: 1_000_000 }),
];

pub const ETL: &[Field] = &[
    optional("enabled", Kind::Bool),
    optional("file_roots", Kind::ExistingPaths { allow_empty: true, files_only: false, noun: "file root" }),
    optional("max_jobs", Kind::Count { min: 1, max: 1024 }),
    optional("pixie_address", Kind::Url),
    optional("pixie_cluster_id", Kind::Text),
    optional("pixie_api_key", Kind::Text),
    optional("pixie_tls_ca_file", Kind::ExistingFile),
    optional("pixie_timeout", duration(ONE_SECOND, ONE_HOUR)),
];

pub const HONEYPOT: &[Field] =
    &[optional("geoip_databases", Kind::ExistingPaths { allow_empty: true, files_only: true, noun: "GeoIP database" })];

const FILE_SOURCE: &[Field] = &[
    required("paths", Kind::Globs),
    optional("source", Kind::Decoder),
    optional("start_at", Kind::StartAt),
    optional("poll_interval", duration(ONE_MS, ONE_HOUR)),
];

const STDIN_SOURCE: &[Field] = &[required("enabled", Kind::Bool), optional("source", Kind::Decoder)];

const SYSLOG_SOURCE: &[Field] = &[optional("udp", Kind::Address), optional("tcp", Kind::Address)];

const SOURCES: &[Field] = &[
    optional("file", Kind::Sections(FILE_SOURCE)),
    optional("stdin", Kind::Section(STDIN_SOURCE)),
    optional("syslog", Kind::Section(SYSLOG_SOURCE)),
];

const ROOT: &[Field] = &[
    optional("store", Kind::Section(STORE)),
    optional("rules", Kind::Section(RULES)),
    optional("detect", Kind::Section(DETECT)),
    optional("api", Kind::Section(API)),
    optional("sources", Kind::Section(SOURCES)),
    optional("etl", Kind::Section(ETL)),
    optional("honeypot", Kind::Section(HONEYPOT)),
];

/// The sections `VIGIL_<SECTION>_<KEY>` may override.
pub const ENV_SECTIONS: &[(&str, &[Field])] =
    &[("store", STORE), ("rules", RULES), ("detect", DETECT), ("api", API), ("etl", ETL), ("honeypot", HONEYPOT)];

/// The closest of `candidates` to a misspelled `word`, when one is close enough to be
/// what was meant: a small edit distance, or one containing the other (`window` for
/// `aggregation_window`).
pub fn closest<'c>(word: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    let word = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .filter_map(|candidate| {
            let distance = edit_distance(&word, candidate);
            let close = distance <= (word.len().max(candidate.len()) / 3).max(1);
            let contained = word.len() >= 4 && (candidate.contains(word.as_str()) || word.contains(candidate));
            (close || contained).then_some((distance, candidate))
        })
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance over characters. Inputs are config keys and names, bounded by
/// the config file size; longer words are cut so that a huge key cannot cost much.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().take(64).collect();
    let b: Vec<char> = b.chars().take(64).collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

/// Validates the whole tree, then the checks that span several settings.
pub fn validate(root: &Located<Node>, base_dir: &Path, diagnostics: &mut Diagnostics) {
    let mut validator = Validator { base_dir, diagnostics };
    let root_origin = root.origin.clone();
    validator.check_table(root, &root_origin, ROOT, "", "at the top level");
    validator.check_across(root);
}

/// `origin` unless it is unknown, then `fallback`.
fn effective<'o>(origin: &'o Origin, fallback: &'o Origin) -> &'o Origin {
    match origin {
        Origin::Unknown => fallback,
        known => known,
    }
}

fn dotted(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

struct Validator<'v, 'd> {
    base_dir: &'v Path,
    diagnostics: &'v mut Diagnostics<'d>,
}

impl Validator<'_, '_> {
    fn error(&mut self, origin: &Origin, message: String) {
        self.diagnostics.error(origin, message);
    }

    fn wrong_type(&mut self, origin: &Origin, name: &str, expected: &str, found: &Node) {
        let hint = match (expected, found) {
            ("true or false", Node::String(s)) if s == "true" || s == "false" => " (write it without quotes)",
            (_, Node::Integer(_)) if expected.starts_with("a duration") => " (durations need a unit)",
            _ => "",
        };
        self.error(origin, format!("{name}: expected {expected}, found {}{hint}", found.kind_name()));
    }

    fn check_table(&mut self, table: &Located<Node>, parent: &Origin, fields: &[Field], path: &str, title: &str) {
        let origin = effective(&table.origin, parent);
        let Node::Table(entries) = &table.value else {
            let expected = if path.is_empty() { "a table" } else { "a table (a [section])" };
            self.wrong_type(origin, path, expected, &table.value);
            return;
        };
        let mut suggested = Vec::new();
        for (key, value) in entries {
            let key_origin = effective(&key.origin, origin);
            match fields.iter().find(|field| field.name == key.value) {
                Some(field) => self.check_value(value, key_origin, field, &dotted(path, field.name)),
                None => {
                    let suggestion = closest(&key.value, fields.iter().map(|field| field.name));
                    let hint = suggestion.map(|name| format!(" (did you mean `{name}`?)")).unwrap_or_default();
                    suggested.extend(suggestion);
                    let what = if path.is_empty() { "section" } else { "key" };
                    self.error(key_origin, format!("unknown {what} `{}` {title}{hint}", key.value));
                }
            }
        }
        for field in fields.iter().filter(|field| field.required) {
            let present = entries.iter().any(|(key, _)| key.value == field.name);
            // A misspelling already reported with this name as the suggestion says it all.
            if !present && !suggested.contains(&field.name) {
                self.error(origin, format!("missing key `{}` {title}", field.name));
            }
        }
    }

    fn check_value(&mut self, value: &Located<Node>, parent: &Origin, field: &Field, name: &str) {
        let origin = effective(&value.origin, parent);
        let node = &value.value;
        match field.kind {
            Kind::Section(fields) => self.check_table(value, parent, fields, name, &format!("in [{name}]")),
            Kind::Sections(fields) => self.check_sections(value, origin, fields, name),
            Kind::DataDir => {
                if let Some(text) = self.string(origin, name, "a directory path", node) {
                    self.check_data_dir(origin, name, text);
                }
            }
            Kind::ExistingPaths { allow_empty, files_only, noun } => {
                for (item_origin, path) in self.string_list(value, origin, name, allow_empty) {
                    self.check_existing(&item_origin, name, noun, files_only, &path);
                }
            }
            Kind::Globs => {
                self.string_list(value, origin, name, false);
            }
            Kind::Bool => {
                if !matches!(node, Node::Boolean(_)) {
                    self.wrong_type(origin, name, "true or false", node);
                }
            }
            Kind::Count { min, max } => match node {
                Node::Integer(n) if (min..=max).contains(n) => {}
                Node::Integer(n) => self.error(origin, format!("{name}: {n} is out of range ({min} to {max})")),
                other => self.wrong_type(origin, name, "a whole number", other),
            },
            Kind::Duration { min, max } => {
                if let Some(duration) = self.duration(origin, name, node, false) {
                    self.check_duration_range(origin, name, duration, min, max);
                }
            }
            Kind::OptDuration => {
                if let Some(duration) = self.duration(origin, name, node, true) {
                    if duration.is_zero() {
                        self.error(origin, format!("{name}: 0s would keep nothing; write \"off\" for no limit"));
                    }
                }
            }
            Kind::Size { min, max } => {
                if let Some(bytes) = self.size(origin, name, node, false) {
                    if !(min..=max).contains(&bytes) {
                        let (low, high) = (units::format_bytes(min), units::format_bytes(max));
                        self.error(
                            origin,
                            format!("{name}: {} is out of range ({low} to {high})", units::format_bytes(bytes)),
                        );
                    }
                }
            }
            Kind::OptSize => {
                if self.size(origin, name, node, true) == Some(0) {
                    self.error(origin, format!("{name}: 0 bytes would keep nothing; write \"off\" for no limit"));
                }
            }
            Kind::Address => {
                if let Some(text) = self.string(origin, name, "an address such as \"127.0.0.1:8080\"", node) {
                    if let Err(message) = parse_address(text) {
                        self.error(origin, format!("{name}: {message}"));
                    }
                }
            }
            Kind::Token => {
                if let Some(text) = self.string(origin, name, "a string", node) {
                    if let Err(message) = check_token(text) {
                        self.error(origin, format!("{name}: {message}"));
                    }
                }
            }
            Kind::Decoder => {
                if let Some(text) = self.string(origin, name, "a decoder name such as \"syslog\"", node) {
                    if let Err(message) = check_decoder(text) {
                        self.error(origin, format!("{name}: {message}"));
                    }
                }
            }
            Kind::StartAt => {
                if let Some(text) = self.string(origin, name, "\"beginning\" or \"end\"", node) {
                    if text != "beginning" && text != "end" {
                        let hint = closest(text, ["beginning", "end"])
                            .map(|s| format!(" (did you mean `{s}`?)"))
                            .unwrap_or_default();
                        self.error(origin, format!("{name}: `{text}` is neither `beginning` nor `end`{hint}"));
                    }
                }
            }
            Kind::Logsource => {
                if let Some(text) = self.string(origin, name, "a logsource such as \"linux/auth\"", node) {
                    if let Err(message) = check_logsource(text) {
                        self.error(origin, format!("{name}: {message}"));
                    }
                }
            }
            Kind::Text => {
                self.string(origin, name, "a string", node);
            }
            Kind::Url => {
                if let Some(text) = self.string(origin, name, "an address such as \"http://127.0.0.1:51400\"", node) {
                    let is_url = text.starts_with("http://") || text.starts_with("https://");
                    if !text.is_empty() && !is_url {
                        self.error(origin, format!("{name}: `{text}` must start with http:// or https://"));
                    }
                }
            }
            Kind::ExistingFile => {
                if let Some(text) = self.string(origin, name, "a file path", node) {
                    if !text.is_empty() {
                        self.check_existing(origin, name, "file", true, text);
                    }
                }
            }
        }
    }

    fn check_sections(&mut self, value: &Located<Node>, origin: &Origin, fields: &[Field], name: &str) {
        let Node::Array(items) = &value.value else {
            self.wrong_type(origin, name, &format!("an array of tables ([[{name}]])"), &value.value);
            return;
        };
        if items.len() > MAX_LIST_LEN {
            self.error(origin, format!("{name}: more than {MAX_LIST_LEN} entries"));
            return;
        }
        for (index, item) in items.iter().enumerate() {
            let item_name = format!("{name}[{index}]");
            self.check_table(item, origin, fields, &item_name, &format!("in [[{name}]] #{}", index + 1));
        }
    }

    /// The string in `node`, or a type error.
    fn string<'n>(&mut self, origin: &Origin, name: &str, expected: &str, node: &'n Node) -> Option<&'n str> {
        match node {
            Node::String(text) if text.len() > MAX_TEXT_LEN => {
                self.error(origin, format!("{name}: longer than {MAX_TEXT_LEN} bytes"));
                None
            }
            Node::String(text) => Some(text),
            other => {
                self.wrong_type(origin, name, expected, other);
                None
            }
        }
    }

    /// The non-empty strings of a list, each with its origin.
    fn string_list(
        &mut self,
        value: &Located<Node>,
        origin: &Origin,
        name: &str,
        allow_empty: bool,
    ) -> Vec<(Origin, String)> {
        let items = match &value.value {
            Node::Array(items) => items,
            Node::String(text) => {
                self.error(origin, format!("{name}: expected a list, found a string (write [\"{text}\"])"));
                return Vec::new();
            }
            other => {
                self.wrong_type(origin, name, "a list of paths", other);
                return Vec::new();
            }
        };
        if items.is_empty() && !allow_empty {
            self.error(origin, format!("{name}: the list is empty; give at least one path"));
        }
        if items.len() > MAX_LIST_LEN {
            self.error(origin, format!("{name}: more than {MAX_LIST_LEN} entries"));
            return Vec::new();
        }
        let mut strings = Vec::new();
        for item in items {
            let item_origin = effective(&item.origin, origin).clone();
            match self.string(&item_origin, name, "a path string", &item.value) {
                Some("") => self.error(&item_origin, format!("{name}: empty path")),
                Some(text) => strings.push((item_origin, text.to_string())),
                None => {}
            }
        }
        strings
    }

    fn duration(&mut self, origin: &Origin, name: &str, node: &Node, off_allowed: bool) -> Option<Duration> {
        let expected = if off_allowed { "a duration such as \"7d\", or \"off\"" } else { "a duration such as \"30s\"" };
        match node {
            Node::String(text) if off_allowed && units::is_off(text) => None,
            Node::String(text) => match units::parse_duration(text) {
                Ok(duration) => Some(duration),
                Err(message) => {
                    self.error(origin, format!("{name}: {message}"));
                    None
                }
            },
            Node::Integer(n) => {
                self.error(origin, format!("{name}: `{n}` has no unit; write a string such as \"{n}s\""));
                None
            }
            other => {
                self.wrong_type(origin, name, expected, other);
                None
            }
        }
    }

    fn check_duration_range(&mut self, origin: &Origin, name: &str, duration: Duration, min: Duration, max: Duration) {
        if duration < min {
            self.error(origin, format!("{name}: must be at least {}", units::format_duration(min)));
        } else if duration > max {
            self.error(origin, format!("{name}: must be at most {}", units::format_duration(max)));
        }
    }

    fn size(&mut self, origin: &Origin, name: &str, node: &Node, off_allowed: bool) -> Option<u64> {
        match node {
            Node::String(text) if off_allowed && units::is_off(text) => None,
            Node::String(text) => match units::parse_bytes(text) {
                Ok(bytes) => Some(bytes),
                Err(message) => {
                    self.error(origin, format!("{name}: {message}"));
                    None
                }
            },
            Node::Integer(n) => match u64::try_from(*n) {
                Ok(bytes) => Some(bytes),
                Err(_) => {
                    self.error(origin, format!("{name}: size {n} is negative"));
                    None
                }
            },
            other => {
                self.wrong_type(origin, name, "a size such as \"16MiB\" or a number of bytes", other);
                None
            }
        }
    }

    fn check_data_dir(&mut self, origin: &Origin, name: &str, text: &str) {
        if text.is_empty() {
            self.error(origin, format!("{name}: empty path"));
            return;
        }
        let path = self.base_dir.join(text);
        if path.exists() && !path.is_dir() {
            self.error(origin, format!("{name}: `{text}` exists and is not a directory"));
        }
    }

    fn check_existing(&mut self, origin: &Origin, name: &str, noun: &str, files_only: bool, text: &str) {
        let path = self.base_dir.join(text);
        if !path.exists() {
            let hint = if text.starts_with('~') { " (`~` is not expanded; write the full path)" } else { "" };
            self.error(origin, format!("{name}: {noun} `{text}` does not exist{hint}"));
        } else if files_only && !path.is_file() {
            self.error(origin, format!("{name}: {noun} `{text}` is not a file"));
        }
    }

    /// Checks that involve several settings: a syslog source with no listener, the API
    /// and the syslog TCP listener on the same port, a default rules directory that is
    /// not there, a daemon with nothing to read.
    fn check_across(&mut self, root: &Located<Node>) {
        let root_origin = &root.origin;
        let section = |name: &str| root.value.get(name);
        let api = section("api");
        let api_enabled = match api.and_then(|api| api.value.get("enabled")).map(|v| &v.value) {
            Some(Node::Boolean(enabled)) => *enabled,
            _ => true,
        };
        let api_listen = match api.and_then(|api| api.value.get("listen")) {
            Some(listen) => match &listen.value {
                Node::String(text) => parse_address(text).ok(),
                _ => None,
            },
            None => Some(SocketAddr::from(([127, 0, 0, 1], 8080))),
        };

        let sources = section("sources");
        let syslog = sources.and_then(|sources| sources.value.get("syslog"));
        if let Some(syslog) = syslog.filter(|syslog| matches!(syslog.value, Node::Table(_))) {
            let origin =
                effective(&syslog.origin, effective(&sources.expect("syslog is in sources").origin, root_origin));
            let udp = syslog.value.get("udp");
            let tcp = syslog.value.get("tcp");
            if udp.is_none() && tcp.is_none() {
                self.error(origin, "sources.syslog: set `udp`, `tcp` or both (e.g. udp = \"127.0.0.1:5514\")".into());
            }
            let tcp_address = tcp.and_then(|tcp| match &tcp.value {
                Node::String(text) => parse_address(text).ok().map(|address| (address, effective(&tcp.origin, origin))),
                _ => None,
            });
            if let (true, Some(listen), Some((tcp_address, tcp_origin))) = (api_enabled, api_listen, tcp_address) {
                if addresses_collide(listen, tcp_address) {
                    self.error(
                        tcp_origin,
                        format!("sources.syslog.tcp: {tcp_address} collides with api.listen {listen} (same TCP port)"),
                    );
                }
            }
        }

        if section("rules").and_then(|rules| rules.value.get("paths")).is_none()
            && !self.base_dir.join("rules").exists()
        {
            self.error(
                root_origin,
                format!(
                    "rules.paths: the default `rules` does not exist in {}; set [rules] paths",
                    self.base_dir.display()
                ),
            );
        }

        let has_source = sources.is_some_and(|sources| {
            let files =
                matches!(&sources.value.get("file").map(|f| &f.value), Some(Node::Array(items)) if !items.is_empty());
            let stdin = sources.value.get("stdin").is_some_and(|stdin| {
                !matches!(stdin.value.get("enabled").map(|e| &e.value), Some(Node::Boolean(false)))
            });
            files || stdin || sources.value.get("syslog").is_some()
        });
        if !has_source && !api_enabled {
            self.error(root_origin, "nothing to read: no [sources] and the API is disabled".into());
        }
    }
}

/// Two listeners collide when they share a port and an address, counting the
/// unspecified address (0.0.0.0, ::) as every address. Port 0 picks a free port.
fn addresses_collide(a: SocketAddr, b: SocketAddr) -> bool {
    a.port() != 0 && a.port() == b.port() && (a.ip() == b.ip() || a.ip().is_unspecified() || b.ip().is_unspecified())
}

/// An `ip:port` socket address; host names are refused because nothing resolves them.
pub fn parse_address(text: &str) -> Result<SocketAddr, String> {
    if let Ok(address) = SocketAddr::from_str(text) {
        return Ok(address);
    }
    if let Some((host, port)) = text.rsplit_once(':') {
        let host_is_ip = IpAddr::from_str(host.trim_start_matches('[').trim_end_matches(']')).is_ok();
        if !host_is_ip && !host.is_empty() && port.parse::<u16>().is_ok() {
            return Err(format!("`{text}`: use an IP address, host names are not resolved (e.g. 127.0.0.1:{port})"));
        }
    }
    Err(format!("`{text}` is not an address; expected ip:port such as 127.0.0.1:8080 or [::1]:8080"))
}

fn check_token(text: &str) -> Result<(), String> {
    if text.is_empty() {
        return Ok(());
    }
    if !text.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("tokens are printable ASCII without spaces".into());
    }
    if text.len() < MIN_TOKEN_LEN {
        return Err(format!(
            "too short to be safe ({} characters, at least {MIN_TOKEN_LEN}); leave it out to have one generated",
            text.len()
        ));
    }
    Ok(())
}

fn check_decoder(text: &str) -> Result<(), String> {
    if SourceKind::from_str(text).is_ok() {
        return Ok(());
    }
    let names: Vec<&str> = SourceKind::ALL.iter().map(|kind| kind.as_str()).collect();
    let hint = closest(text, names.iter().copied()).map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default();
    Err(format!("unknown decoder `{text}`{hint}; known: {}", names.join(", ")))
}

/// `product[/category[/service]]`, as `vigil hunt --logsource` takes it: an empty part or
/// `*` means any.
pub fn check_logsource(text: &str) -> Result<(), String> {
    let shape_error =
        || format!("`{text}` is not product[/category[/service]] (e.g. `linux/auth` or `windows//security`)");
    let parts: Vec<&str> = text.split('/').collect();
    if parts.len() > 3 {
        return Err(shape_error());
    }
    let valid_part = |part: &&str| {
        part.is_empty() || *part == "*" || part.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
    };
    if !parts.iter().all(valid_part) || parts.iter().all(|part| part.is_empty() || *part == "*") {
        return Err(shape_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_find_near_misses_and_fragments() {
        let keys = API.iter().map(|field| field.name);
        assert_eq!(closest("listn", keys.clone()), Some("listen"));
        assert_eq!(closest("LISTEN_", keys.clone()), Some("listen"));
        assert_eq!(closest("write_tokn", keys.clone()), Some("write_token"));
        assert_eq!(closest("colour", keys), None);
        assert_eq!(closest("window", DETECT.iter().map(|field| field.name)), Some("aggregation_window"));
        assert_eq!(closest("storage", ROOT.iter().map(|field| field.name)), Some("store"));
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }

    #[test]
    fn addresses() {
        assert_eq!(parse_address("127.0.0.1:5514"), Ok(SocketAddr::from(([127, 0, 0, 1], 5514))));
        assert!(parse_address("[::1]:80").is_ok());
        assert!(parse_address("localhost:8080").unwrap_err().contains("host names are not resolved"));
        assert!(parse_address("127.0.0.1").unwrap_err().contains("ip:port"));
        assert!(parse_address("127.0.0.1:99999").unwrap_err().contains("ip:port"));
    }

    #[test]
    fn collisions_need_the_same_port_and_an_overlapping_address() {
        let at = |text: &str| parse_address(text).unwrap();
        assert!(addresses_collide(at("127.0.0.1:8080"), at("127.0.0.1:8080")));
        assert!(addresses_collide(at("0.0.0.0:8080"), at("127.0.0.1:8080")));
        assert!(!addresses_collide(at("127.0.0.1:8080"), at("127.0.0.2:8080")));
        assert!(!addresses_collide(at("127.0.0.1:8080"), at("127.0.0.1:8081")));
        assert!(!addresses_collide(at("127.0.0.1:0"), at("127.0.0.1:0")));
    }

    #[test]
    fn tokens() {
        assert!(check_token("").is_ok());
        assert!(check_token("0123456789abcdef").is_ok());
        assert!(check_token("short").unwrap_err().contains("too short"));
        assert!(check_token("0123456789 abcdef").unwrap_err().contains("without spaces"));
        assert!(check_token("0123456789abcdef\n").is_err());
    }

    #[test]
    fn decoders_match_the_normalizer() {
        for kind in SourceKind::ALL {
            assert!(check_decoder(kind.as_str()).is_ok(), "{kind}");
        }
        let message = check_decoder("tetragn").unwrap_err();
        assert!(message.contains("did you mean `tetragon`") && message.contains("k8s-audit"), "{message}");
    }

    #[test]
    fn logsources() {
        for good in ["linux", "linux/auth", "windows//security", "linux/*/sshd", "k8s-audit/process_creation"] {
            assert!(check_logsource(good).is_ok(), "{good}");
        }
        for bad in ["", "/", "*", "a/b/c/d", "linux auth", "linux/au th", "a/b\n"] {
            assert!(check_logsource(bad).is_err(), "{bad:?}");
        }
    }
}
