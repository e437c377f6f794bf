//! `vigil validate <config>`: loads the configuration exactly as `vigil run` would and
//! prints every mistake (exit code 1) or a one-line summary of what would run (exit 0).

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use super::units::{format_bytes, format_duration};
use super::{Config, ConfigErrors};

pub fn run(path: &Path) -> anyhow::Result<ExitCode> {
    let result = super::load(Some(path));
    let code = report(&result, &mut io::stdout().lock(), &mut io::stderr().lock())?;
    Ok(code)
}

/// Writes the outcome: the summary on `out`, or each mistake and their count on `err`.
fn report(result: &Result<Config, ConfigErrors>, out: &mut impl Write, err: &mut impl Write) -> io::Result<ExitCode> {
    match result {
        Ok(config) => {
            writeln!(out, "ok: {}", summary(config))?;
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            for error in &errors.errors {
                writeln!(err, "{error}")?;
            }
            let count = errors.errors.len();
            writeln!(err, "{count} {}", if count == 1 { "mistake" } else { "mistakes" })?;
            Ok(ExitCode::from(1))
        }
    }
}

/// What the configuration sets up, in one line: sources, rules, store, API.
pub fn summary(config: &Config) -> String {
    let mut sources = Vec::new();
    let files = &config.sources.file;
    if !files.is_empty() {
        let paths: usize = files.iter().map(|file| file.paths.len()).sum();
        sources.push(format!("{} file tail{} ({paths} path{})", files.len(), plural(files.len()), plural(paths)));
    }
    if let Some(syslog) = &config.sources.syslog {
        let listeners: Vec<String> = [("udp", syslog.udp), ("tcp", syslog.tcp)]
            .into_iter()
            .filter_map(|(protocol, address)| address.map(|address| format!("{protocol} {address}")))
            .collect();
        sources.push(format!("syslog {}", listeners.join(" + ")));
    }
    if config.sources.stdin.as_ref().is_some_and(|stdin| stdin.enabled) {
        sources.push("stdin".to_string());
    }
    if sources.is_empty() {
        sources.push("none".to_string());
    }

    let rules: Vec<String> = config.rules.paths.iter().map(|path| path.display().to_string()).collect();
    let pipelines = config.rules.pipelines.len();
    let pipelines =
        if pipelines == 0 { String::new() } else { format!(" + {pipelines} pipeline{}", plural(pipelines)) };

    let store = &config.store;
    let age = store.retention_max_age.map_or("forever".to_string(), format_duration);
    let size = store
        .retention_max_bytes
        .map_or("no size limit".to_string(), |bytes| format!("at most {}", format_bytes(bytes)));

    let api = if config.api.enabled { format!("http://{}", config.api.listen) } else { "off".to_string() };
    format!(
        "sources: {}; rules: {}{pipelines}; store: {} (keep {age}, {size}); api: {api}",
        sources.join(", "),
        rules.join(", "),
        store.dir.display(),
    )
}

fn plural(count: usize) -> &'static str {
    if count == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ApiConfig, ConfigError, StoreConfig};

    fn rendered(result: &Result<Config, ConfigErrors>) -> (ExitCode, String, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = report(result, &mut out, &mut err).unwrap();
        (code, String::from_utf8(out).unwrap(), String::from_utf8(err).unwrap())
    }

    #[test]
    fn mistakes_go_to_stderr_with_their_count() {
        let errors = ConfigErrors {
            errors: vec![
                ConfigError { location: "v.toml:3:1".into(), message: "unknown key `x`".into() },
                ConfigError { location: "env VIGIL_API_LISTEN".into(), message: "bad".into() },
            ],
        };
        let (code, out, err) = rendered(&Err(errors));
        assert_eq!(code, ExitCode::from(1));
        assert_eq!(out, "");
        assert_eq!(err, "v.toml:3:1: unknown key `x`\nenv VIGIL_API_LISTEN: bad\n2 mistakes\n");
    }

    #[test]
    fn one_mistake_is_singular() {
        let errors = ConfigErrors { errors: vec![ConfigError { location: "a".into(), message: "b".into() }] };
        assert!(rendered(&Err(errors)).2.ends_with("\n1 mistake\n"));
    }

    #[test]
    fn a_valid_config_prints_its_summary() {
        let (code, out, err) = rendered(&Ok(Config::default()));
        assert_eq!(code, ExitCode::SUCCESS);
        assert_eq!(err, "");
        assert_eq!(
            out,
            "ok: sources: none; rules: rules; store: vigil-data (keep 7d, at most 10GiB); api: http://127.0.0.1:8080\n"
        );
    }

    #[test]
    fn the_summary_names_every_source() {
        let sources = toml::from_str(
            "[[file]]\npaths = ['/var/log/auth.log', '/var/log/syslog']\n[[file]]\npaths = ['t.json']\n\
             [syslog]\nudp = '127.0.0.1:5514'\ntcp = '127.0.0.1:5514'\n[stdin]\nenabled = true\n",
        )
        .unwrap();
        let defaults = Config::default();
        let config = Config {
            sources,
            store: StoreConfig { retention_max_age: None, ..defaults.store },
            api: ApiConfig { enabled: false, ..defaults.api },
            ..defaults
        };
        let text = summary(&config);
        assert!(text.contains("2 file tails (3 paths)"), "{text}");
        assert!(text.contains("syslog udp 127.0.0.1:5514 + tcp 127.0.0.1:5514"), "{text}");
        assert!(text.contains(", stdin;"), "{text}");
        assert!(text.contains("keep forever"), "{text}");
        assert!(text.ends_with("api: off"), "{text}");
    }

    #[test]
    fn run_reports_a_missing_file_as_a_mistake() {
        let missing = std::env::temp_dir().join(format!("vigil-validate-missing-{}.toml", std::process::id()));
        assert_eq!(run(&missing).unwrap(), ExitCode::from(1));
    }

    #[test]
    fn run_accepts_a_valid_file() {
        let dir = crate::config::tests::TempDir::new("validate-run");
        let rules = dir.path().join("rules");
        std::fs::create_dir(&rules).unwrap();
        let config = dir.path().join("vigil.toml");
        let rules_toml = toml::Value::String(rules.display().to_string());
        std::fs::write(&config, format!("[rules]\npaths = [{rules_toml}]\n")).unwrap();
        assert_eq!(run(&config).unwrap(), ExitCode::SUCCESS);
    }
}
