//! `vigil validate <config>`, driven through the real binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repo root")
}

/// Runs `vigil validate <config>` from the repository root with `env` and no `VIGIL_*`
/// variables inherited, so the developer's environment cannot change the outcome.
fn validate_with(config: &Path, env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vigil"));
    command.arg("validate").arg(config).current_dir(repo_root());
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("VIGIL_") {
            command.env_remove(name);
        }
    }
    command.envs(env.iter().copied());
    command.output().expect("vigil runs")
}

fn validate(config: &Path) -> Output {
    validate_with(config, &[])
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_example_config_is_valid() {
    let output = validate(Path::new("examples/vigil.toml"));
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert!(output.status.success(), "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.starts_with("ok: "), "{stdout}");
    assert!(stdout.contains("syslog udp 127.0.0.1:5514 + tcp 127.0.0.1:5514"), "{stdout}");
    assert!(stdout.contains("api: http://127.0.0.1:8080"), "{stdout}");
}

/// Every line of this file but the headers holds a different mistake.
const BROKEN: &str = r#"[store]
retention_max_age = 7
[rules]
paths = ["no-such-rules-dir"]
[detect]
aggregation_windw = "5m"
default_logsource = "linux auth"
[api]
listen = "127.0.0.1:5514"
max_body_bytes = "16 megs"
[[sources.file]]
paths = []
source = "tetragn"
start_at = "middle"
[sources.syslog]
tcp = "127.0.0.1:5514"
"#;

#[test]
fn every_mistake_is_reported_with_its_line() {
    let dir = std::env::temp_dir().join(format!("vigil-config-validate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config = dir.join("broken.toml");
    std::fs::write(&config, BROKEN).expect("write config");
    let output = validate(&config);
    std::fs::remove_dir_all(&dir).ok();

    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let expected: &[(usize, &str)] = &[
        (2, "store.retention_max_age: `7` has no unit"),
        (4, "rules.paths: rules path `no-such-rules-dir` does not exist"),
        (6, "unknown key `aggregation_windw` in [detect] (did you mean `aggregation_window`?)"),
        (7, "detect.default_logsource: `linux auth` is not product[/category[/service]]"),
        (10, "api.max_body_bytes: invalid size `16 megs`"),
        (12, "sources.file[0].paths: the list is empty"),
        (13, "sources.file[0].source: unknown decoder `tetragn` (did you mean `tetragon`?)"),
        (14, "sources.file[0].start_at: `middle` is neither `beginning` nor `end`"),
        (16, "sources.syslog.tcp: 127.0.0.1:5514 collides with api.listen 127.0.0.1:5514"),
    ];
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), expected.len() + 1, "{stderr}");
    let prefix = format!("{}:", config.display());
    for ((line, message), reported) in expected.iter().zip(&lines) {
        let place = reported.strip_prefix(&prefix).unwrap_or_else(|| panic!("no file name: {reported}"));
        assert!(place.starts_with(&format!("{line}:")), "expected line {line}: {reported}");
        assert!(reported.contains(message), "expected `{message}` in: {reported}");
    }
    assert_eq!(lines.last(), Some(&"9 mistakes"));
}

#[test]
fn environment_mistakes_are_reported() {
    let env = [("VIGIL_STORE_FOO", "1"), ("VIGIL_API_LISTEN", "nowhere"), ("VIGIL_CORPUS", "not configuration")];
    let output = validate_with(Path::new("examples/vigil.toml"), &env);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("env VIGIL_API_LISTEN: api.listen: `nowhere` is not an address"), "{stderr}");
    assert!(stderr.contains("env VIGIL_STORE_FOO: unknown setting `store.foo`"), "{stderr}");
    assert!(!stderr.contains("VIGIL_CORPUS"), "{stderr}");
    assert!(stderr.ends_with("2 mistakes\n"), "{stderr}");
}

#[test]
fn a_missing_config_file_is_a_mistake() {
    let output = validate(Path::new("no-such-vigil.toml"));
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.starts_with("no-such-vigil.toml: cannot read"), "{stderr}");
}
