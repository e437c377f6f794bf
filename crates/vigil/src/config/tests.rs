//! Loading and validating whole configurations: the example file, every kind of
//! mistake with its line, environment overrides and `.env`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::*;

/// A directory under the system temp dir, removed on drop.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new(name: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let unique = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("vigil-config-{name}-{}-{unique}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }

    /// A base directory holding a `rules` directory, so the default rules path exists.
    fn with_rules(name: &str) -> TempDir {
        let dir = TempDir::new(name);
        std::fs::create_dir(dir.path().join("rules")).expect("create rules dir");
        dir
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).expect("write temp file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect()
}

/// Loads `text` as `vigil.toml` in a fresh base directory that has `rules/`.
fn load_text(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigErrors> {
    let dir = TempDir::with_rules("load");
    let path = dir.write("vigil.toml", text);
    load_from(Some(&path), &vars(env), dir.path())
}

fn errors_of(text: &str, env: &[(&str, &str)]) -> Vec<ConfigError> {
    match load_text(text, env) {
        Ok(config) => panic!("expected mistakes, got {config:#?}"),
        Err(errors) => errors.errors,
    }
}

/// The single mistake of `text`, as `line:column: message` (file name stripped).
fn single_error(text: &str) -> String {
    let errors = errors_of(text, &[]);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let error = &errors[0];
    let (_, place) = error.location.split_once("vigil.toml:").unwrap_or(("", &error.location));
    format!("{place}: {}", error.message)
}

#[test]
fn the_example_validates_clean() {
    let root = repo_root();
    let config = load_from(Some(&root.join("examples/vigil.toml")), &[], &root).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.store.dir, PathBuf::from("./vigil-data"));
    assert_eq!(config.rules.paths, vec![PathBuf::from("rules")]);
    assert_eq!(config.api.listen, "127.0.0.1:8080".parse::<SocketAddr>().unwrap());
    let syslog = config.sources.syslog.as_ref().expect("syslog source");
    assert_eq!(syslog.udp, Some("127.0.0.1:5514".parse().unwrap()));
    assert_eq!(syslog.tcp, Some("127.0.0.1:5514".parse().unwrap()));
    assert!(config
        .sources
        .file
        .iter()
        .any(|f| f.paths == ["/var/log/auth.log"] && f.source.as_deref() == Some("syslog")));
    assert!(config.sources.file.iter().any(|f| f.source.as_deref() == Some("tetragon")));
}

#[test]
fn no_file_means_defaults() {
    let dir = TempDir::with_rules("defaults");
    assert_eq!(load_from(None, &[], dir.path()), Ok(Config::default()));
}

#[test]
fn an_empty_file_means_defaults() {
    assert_eq!(load_text("# nothing set\n", &[]), Ok(Config::default()));
}

#[test]
fn every_setting_reaches_the_typed_config() {
    let dir = TempDir::with_rules("full");
    dir.write("windows.yml", "name: x\n");
    let text = r#"
[store]
dir = "data"
retention_max_age = "off"
retention_max_bytes = 1048576
retention_interval = "1m"

[rules]
paths = ["rules"]
pipelines = ["windows.yml"]

[detect]
workers = 4
aggregation_window = "0s"
correlation_lateness = "10s"
default_logsource = "linux/auth"

[api]
enabled = true
listen = "0.0.0.0:9000"
write_token = "0123456789abcdef0123"
read_token = ""
max_body_bytes = "1MiB"
max_events_per_request = 500

[[sources.file]]
paths = ["/var/log/*.log"]
start_at = "end"
poll_interval = "1s"

[sources.stdin]
enabled = true
source = "JSON"

[sources.syslog]
udp = "[::1]:5514"
"#;
    let path = dir.write("vigil.toml", text);
    let config = load_from(Some(&path), &[], dir.path()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.store.retention_max_age, None);
    assert_eq!(config.store.retention_max_bytes, Some(1 << 20));
    assert_eq!(config.store.retention_interval, Duration::from_secs(60));
    assert_eq!(config.rules.pipelines, vec![PathBuf::from("windows.yml")]);
    assert_eq!(config.detect.workers, 4);
    assert_eq!(config.detect.aggregation_window, Duration::ZERO);
    assert_eq!(config.detect.default_logsource.as_deref(), Some("linux/auth"));
    assert_eq!(config.api.listen.port(), 9000);
    assert_eq!(config.api.write_token.as_deref(), Some("0123456789abcdef0123"));
    assert_eq!(config.api.read_token.as_deref(), Some(""));
    assert_eq!(config.api.max_body_bytes, 1 << 20);
    assert_eq!(config.api.max_events_per_request, 500);
    let file = &config.sources.file[0];
    assert_eq!(
        (file.start_at, file.poll_interval, file.source.as_deref()),
        (StartAt::End, Duration::from_secs(1), None)
    );
    assert_eq!(config.sources.stdin, Some(StdinSourceConfig { enabled: true, source: Some("JSON".into()) }));
    assert_eq!(config.sources.syslog, Some(SyslogSourceConfig { udp: Some("[::1]:5514".parse().unwrap()), tcp: None }));
}

/// A file with a dozen different mistakes: each is reported, at its line, in file order.
const BROKEN: &str = r#"[store]
dir = "./data"
retention_max_age = 7
retention_interval = "5 minutes"

[rules]
paths = ["rules", "no-such-rules-dir"]

[detect]
aggregation_windw = "5m"
default_logsource = "linux auth"

[api]
listen = "127.0.0.1:5514"
max_body_bytes = "16 megs"
enabled = "true"

[[sources.file]]
paths = []
source = "tetragn"
start_at = "middle"

[[sources.file]]
path = ["/var/log/syslog"]
poll_interval = 2024-01-01T00:00:00Z

[sources.syslog]
tcp = "127.0.0.1:5514"
"#;

#[test]
fn every_mistake_is_reported_with_its_line() {
    let errors = errors_of(BROKEN, &[]);
    let expected: &[(usize, &str)] = &[
        (3, "store.retention_max_age: `7` has no unit"),
        (7, "rules.paths: rules path `no-such-rules-dir` does not exist"),
        (10, "unknown key `aggregation_windw` in [detect] (did you mean `aggregation_window`?)"),
        (11, "detect.default_logsource: `linux auth` is not product[/category[/service]]"),
        (15, "api.max_body_bytes: invalid size `16 megs`: unknown unit `megs`"),
        (16, "api.enabled: expected true or false, found a string (write it without quotes)"),
        (19, "sources.file[0].paths: the list is empty"),
        (20, "sources.file[0].source: unknown decoder `tetragn` (did you mean `tetragon`?)"),
        (21, "sources.file[0].start_at: `middle` is neither `beginning` nor `end`"),
        (24, "unknown key `path` in [[sources.file]] #2 (did you mean `paths`?)"),
        (25, "sources.file[1].poll_interval: expected a duration such as \"30s\", found a date-time"),
        (28, "sources.syslog.tcp: 127.0.0.1:5514 collides with api.listen 127.0.0.1:5514"),
    ];
    let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), expected.len(), "{lines:#?}");
    for ((line, message), error) in expected.iter().zip(&errors) {
        let location_line: usize = error.location.split(':').nth(1).and_then(|l| l.parse().ok()).unwrap_or(0);
        assert!(
            location_line == *line && error.message.starts_with(message),
            "expected line {line}: {message}\n     got {error}\n all: {lines:#?}"
        );
    }
}

#[test]
fn columns_point_at_the_value_or_key() {
    assert_eq!(
        single_error("[api]\n  listen = 'nowhere'\n"),
        "2:12: api.listen: `nowhere` is not an address; expected ip:port such as 127.0.0.1:8080 or [::1]:8080"
    );
    assert!(single_error("[api]\n  lisen = '127.0.0.1:1'\n")
        .starts_with("2:3: unknown key `lisen` in [api] (did you mean `listen`?)"));
}

#[test]
fn unknown_sections_are_named() {
    assert_eq!(
        single_error("[storage]\ndir = 'x'\n"),
        "1:2: unknown section `storage` at the top level (did you mean `store`?)"
    );
}

#[test]
fn a_syntax_error_is_one_mistake_with_its_place() {
    let message = single_error("[store]\ndir = \"x\"\nretention_interval = \"5m\n");
    assert!(message.starts_with("3:"), "{message}");
}

#[test]
fn a_key_given_twice_is_a_syntax_error() {
    assert!(single_error("[api]\nenabled = true\nenabled = false\n").starts_with("3:"));
}

#[test]
fn a_missing_file_is_a_mistake() {
    let dir = TempDir::with_rules("missing");
    let path = dir.path().join("absent.toml");
    let errors = load_from(Some(&path), &[], dir.path()).unwrap_err();
    assert_eq!(errors.errors.len(), 1);
    assert_eq!(errors.errors[0].location, path.display().to_string());
    assert!(errors.errors[0].message.starts_with("cannot read"));
}

#[test]
fn oversized_and_binary_files_are_refused() {
    let dir = TempDir::with_rules("oversized");
    let big = dir.write("big.toml", &"# padding\n".repeat(200_000));
    let errors = load_from(Some(&big), &[], dir.path()).unwrap_err();
    assert!(errors.errors[0].message.contains("larger than"), "{errors}");
    let binary = dir.path().join("binary.toml");
    std::fs::write(&binary, [b'a', 0xff, 0xfe]).unwrap();
    assert!(load_from(Some(&binary), &[], dir.path()).unwrap_err().errors[0].message.contains("not UTF-8"));
}

#[test]
fn sources_mistakes() {
    assert!(single_error("[sources.syslog]\n").starts_with("1:1: sources.syslog: set `udp`, `tcp` or both"));
    assert_eq!(
        single_error("[[sources.file]]\nsource = 'syslog'\n"),
        "1:1: missing key `paths` in [[sources.file]] #1"
    );
    assert!(single_error("[sources.stdin]\nsource = 'json'\n").ends_with("missing key `enabled` in [sources.stdin]"));
    assert!(single_error("[sources]\nfile = { paths = ['a'] }\n")
        .contains("expected an array of tables ([[sources.file]])"));
    assert!(single_error("[[sources.file]]\npaths = '/var/log/syslog'\n").contains("write [\"/var/log/syslog\"]"));
    assert!(single_error("[[sources.file]]\npaths = ['']\n").contains("empty path"));
}

#[test]
fn a_misspelled_required_key_is_reported_once() {
    let errors = errors_of("[[sources.file]]\npath = ['/var/log/syslog']\n", &[]);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(errors[0].message.contains("did you mean `paths`"));
}

#[test]
fn syslog_and_api_may_share_a_port_on_different_addresses_or_protocols() {
    assert!(load_text("[sources.syslog]\nudp = '127.0.0.1:8080'\n", &[]).is_ok());
    assert!(load_text("[sources.syslog]\ntcp = '127.0.0.2:8080'\n", &[]).is_ok());
    assert!(load_text("[api]\nenabled = false\n[sources.syslog]\ntcp = '127.0.0.1:8080'\n", &[]).is_ok());
    // The API's default address counts.
    assert!(
        single_error("[sources.syslog]\ntcp = '0.0.0.0:8080'\n").contains("collides with api.listen 127.0.0.1:8080")
    );
}

#[test]
fn ranges_and_units_are_checked() {
    assert!(single_error("[detect]\nworkers = 100000\n").contains("out of range (0 to 1024)"));
    assert!(single_error("[detect]\nworkers = -1\n").contains("out of range"));
    assert!(single_error("[detect]\ncorrelation_lateness = '2h'\n").contains("at most 1h"));
    assert!(single_error("[store]\nretention_interval = '0s'\n").contains("at least 1s"));
    assert!(single_error("[store]\nretention_max_age = '0s'\n").contains("write \"off\""));
    assert!(single_error("[store]\nretention_max_bytes = 0\n").contains("write \"off\""));
    assert!(single_error("[store]\nretention_max_bytes = -5\n").contains("negative"));
    assert!(single_error("[api]\nmax_body_bytes = '2GiB'\n").contains("out of range (1KiB to 1GiB)"));
    assert!(single_error("[api]\nmax_events_per_request = 0\n").contains("out of range"));
    assert!(single_error("[api]\nwrite_token = 'secret'\n").contains("too short"));
    assert!(single_error("[api]\nlisten = 'localhost:8080'\n").contains("host names are not resolved"));
    assert!(single_error("[store]\nretention_interval = 1.5\n").contains("found a float"));
}

#[test]
fn paths_are_checked_against_the_base_directory() {
    let dir = TempDir::with_rules("paths");
    dir.write("not-a-dir", "x");
    dir.write("pipeline.yml", "name: p\n");
    let text =
        "[store]\ndir = 'not-a-dir'\n[rules]\npaths = ['rules', '~/rules']\npipelines = ['pipeline.yml', 'rules']\n";
    let path = dir.write("vigil.toml", text);
    let errors: Vec<String> =
        load_from(Some(&path), &[], dir.path()).unwrap_err().errors.iter().map(|e| e.message.clone()).collect();
    assert_eq!(
        errors,
        [
            "store.dir: `not-a-dir` exists and is not a directory",
            "rules.paths: rules path `~/rules` does not exist (`~` is not expanded; write the full path)",
            "rules.pipelines: pipeline `rules` is not a file",
        ]
    );
}

#[test]
fn a_missing_default_rules_directory_is_reported() {
    let dir = TempDir::new("no-rules");
    let errors = load_from(None, &[], dir.path()).unwrap_err();
    assert_eq!(errors.errors.len(), 1);
    assert_eq!(errors.errors[0].location, "(defaults)");
    assert!(errors.errors[0].message.starts_with("rules.paths: the default `rules` does not exist"));
}

#[test]
fn a_daemon_needs_something_to_read() {
    assert!(single_error("[api]\nenabled = false\n").contains("nothing to read"));
    assert!(single_error("[api]\nenabled = false\n[sources.stdin]\nenabled = false\n").contains("nothing to read"));
    assert!(load_text("[api]\nenabled = false\n[sources.stdin]\nenabled = true\n", &[]).is_ok());
}

#[test]
fn environment_overrides_win_over_the_file() {
    let dir = TempDir::with_rules("env");
    std::fs::create_dir(dir.path().join("more-rules")).unwrap();
    let path = dir.write(
        "vigil.toml",
        "[store]\ndir = 'from-file'\n[api]\nlisten = '127.0.0.1:1'\nread_token = '0123456789abcdef'\n",
    );
    let env = vars(&[
        ("VIGIL_STORE_DIR", "from-env"),
        ("VIGIL_API_LISTEN", "127.0.0.1:9999"),
        ("VIGIL_API_WRITE_TOKEN", "abcdefghijklmnopqrstuvwxyz"),
        ("VIGIL_API_READ_TOKEN", ""),
        ("VIGIL_API_ENABLED", "TRUE"),
        ("VIGIL_DETECT_AGGREGATION_WINDOW", "1h"),
        ("VIGIL_DETECT_WORKERS", "3"),
        ("VIGIL_RULES_PATHS", "rules, more-rules,"),
        ("VIGIL_CORPUS", "/wherever"),
        ("VIGIL_LOG", "debug"),
        ("PATH", "/usr/bin"),
    ]);
    let config = load_from(Some(&path), &env, dir.path()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.store.dir, PathBuf::from("from-env"));
    assert_eq!(config.api.listen.port(), 9999);
    assert_eq!(config.api.write_token.as_deref(), Some("abcdefghijklmnopqrstuvwxyz"));
    assert_eq!(config.api.read_token, None, "an empty variable clears an optional setting");
    assert_eq!(config.detect.aggregation_window, Duration::from_secs(3600));
    assert_eq!(config.detect.workers, 3);
    assert_eq!(config.rules.paths, vec![PathBuf::from("rules"), PathBuf::from("more-rules")]);
}

#[test]
fn environment_overrides_apply_without_a_file() {
    let dir = TempDir::with_rules("env-only");
    let config = load_from(None, &vars(&[("VIGIL_STORE_RETENTION_MAX_BYTES", "off")]), dir.path()).unwrap();
    assert_eq!(config.store.retention_max_bytes, None);
}

#[test]
fn environment_mistakes_name_the_variable() {
    let env = [
        ("VIGIL_STORE_FOO", "x"),
        ("VIGIL_API_LISTN", "127.0.0.1:1"),
        ("VIGIL_API_LISTEN", "nowhere"),
        ("VIGIL_DETECT_WORKERS", "many"),
        ("VIGIL_API_ENABLED", "maybe"),
        ("VIGIL_RULES_PATHS", "rules,absent-rules"),
        ("VIGIL_SOURCES_FILE", "/var/log/syslog"),
        ("VIGIL_CORPUS", "ignored"),
    ];
    let errors: Vec<String> =
        errors_of("[store]\nretention_max_age = 'soon'\n", &env).iter().map(ToString::to_string).collect();
    let expected = [
        "vigil.toml:2:21: store.retention_max_age: invalid duration `soon`",
        "env VIGIL_API_ENABLED: api.enabled: `maybe` is not true or false",
        "env VIGIL_API_LISTEN: api.listen: `nowhere` is not an address",
        "env VIGIL_API_LISTN: unknown setting `api.listn` (did you mean VIGIL_API_LISTEN?)",
        "env VIGIL_DETECT_WORKERS: detect.workers: `many` is not a whole number",
        "env VIGIL_RULES_PATHS: rules.paths: rules path `absent-rules` does not exist",
        "env VIGIL_SOURCES_FILE: sources cannot be set from the environment",
        "env VIGIL_STORE_FOO: unknown setting `store.foo`",
    ];
    assert_eq!(errors.len(), expected.len(), "{errors:#?}");
    for (error, expected) in errors.iter().zip(expected) {
        assert!(error.contains(expected), "expected {expected}\n     got {error}\n all: {errors:#?}");
    }
}

#[test]
fn dotenv_files_are_read_and_the_environment_wins() {
    let dir = TempDir::new("dotenv");
    let path = dir.write(".env", "# settings\nVIGIL_STORE_DIR=from-dotenv\nVIGIL_API_LISTEN=\"127.0.0.1:7000\"\n");
    let dotenv = env::read_dotenv(&path).unwrap();
    assert_eq!(dotenv, vars(&[("VIGIL_STORE_DIR", "from-dotenv"), ("VIGIL_API_LISTEN", "127.0.0.1:7000")]));
    let process = [("VIGIL_STORE_DIR".into(), "from-process".into()), ("HOME".into(), "/root".into())];
    let merged = env::merge(dotenv, process.into_iter());
    assert_eq!(
        merged,
        vars(&[("VIGIL_STORE_DIR", "from-process"), ("HOME", "/root"), ("VIGIL_API_LISTEN", "127.0.0.1:7000")])
    );
}

#[test]
fn a_missing_dotenv_file_is_no_mistake() {
    let dir = TempDir::new("dotenv-missing");
    assert_eq!(env::read_dotenv(&dir.path().join(".env")), Ok(Vec::new()));
}

#[test]
fn a_broken_dotenv_line_is_located() {
    let dir = TempDir::new("dotenv-broken");
    let path = dir.write(".env", "A=1\n\nB C\n");
    let error = env::read_dotenv(&path).unwrap_err();
    assert_eq!(error.location, format!("{}:3", path.display()));
    assert!(error.message.contains("`B C`"), "{}", error.message);
}

#[test]
fn errors_display_one_line_each() {
    let errors = ConfigErrors {
        errors: vec![
            ConfigError { location: "a.toml:1:2".into(), message: "first".into() },
            ConfigError { location: "env VIGIL_API_LISTEN".into(), message: "second".into() },
        ],
    };
    assert_eq!(errors.to_string(), "a.toml:1:2: first\nenv VIGIL_API_LISTEN: second");
}

#[test]
fn load_reports_the_path_it_was_given() {
    let path = Path::new("/nonexistent/vigil-config-test.toml");
    let errors = load(Some(path)).unwrap_err();
    assert!(errors
        .errors
        .iter()
        .any(|e| e.location == path.display().to_string() && e.message.starts_with("cannot read")));
}

#[test]
fn each_mistake_stays_on_one_line() {
    let message = single_error("[api]\n\"bad\\nkey\\u001b[31m\" = 1\n");
    assert!(!message.contains('\n') && !message.contains('\u{1b}'), "{message}");
    assert!(message.contains("bad\\nkey\\u{1b}[31m"), "{message}");
    let env = errors_of("", &[("VIGIL_API_LISTEN", "x\ny")]);
    assert!(env[0].message.contains("x\\ny"), "{env:?}");
}
