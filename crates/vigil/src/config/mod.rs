//! Loading `vigil.toml`: the file, `VIGIL_*` environment overrides (also from a `.env`
//! file), and a validation that reports every mistake with its place — `file:line:col`
//! for the file, `env VIGIL_X` for the environment — before anything starts.
//!
//! The file is first read into a tree that remembers where each value was written
//! (`tree`), overrides are written into that tree (`env`), the tree is checked against
//! the schema (`schema`), and only a tree without mistakes is deserialized into the
//! typed [`Config`].

mod env;
mod model;
mod schema;
mod tree;
pub mod units;
pub mod validate_cmd;

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

pub use model::*;

use tree::Origin;

/// Largest configuration file read; real ones are a few kilobytes.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// What `location` says when there is no configuration file.
const NO_FILE_LABEL: &str = "(defaults)";

/// One mistake in the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// `path:line:column` for the file, `env VIGIL_X` for an environment variable,
    /// the bare path (or `.env:line`) when no finer place is known.
    pub location: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Every mistake found, in file order, then the environment's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors {
    pub errors: Vec<ConfigError>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, error) in self.errors.iter().enumerate() {
            if index > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl ConfigErrors {
    fn single(location: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigErrors { errors: vec![ConfigError { location: location.into(), message: message.into() }] }
    }
}

/// Loads the configuration: `.env` from the current directory (variables already in
/// the environment win), the TOML file at `path` (defaults when `None`), `VIGIL_*`
/// overrides, then validation. Relative paths in the configuration are relative to the
/// current directory, which is where `vigil run` opens them.
pub fn load(path: Option<&Path>) -> Result<Config, ConfigErrors> {
    let base_dir = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let (dotenv, dotenv_error) = match env::read_dotenv(Path::new(".env")) {
        Ok(vars) => (vars, None),
        Err(error) => (Vec::new(), Some(error)),
    };
    let vars = env::merge(dotenv, std::env::vars_os());
    let result = load_from(path, &vars, &base_dir);
    match (dotenv_error, result) {
        (None, result) => result,
        (Some(error), Ok(_)) => Err(ConfigErrors { errors: vec![error] }),
        (Some(error), Err(mut errors)) => {
            errors.errors.insert(0, error);
            Err(errors)
        }
    }
}

/// [`load`] with the environment given (`.env` already merged in) and relative paths
/// resolved against `base_dir`.
pub(crate) fn load_from(
    path: Option<&Path>,
    vars: &[(String, String)],
    base_dir: &Path,
) -> Result<Config, ConfigErrors> {
    let (label, text) = match path {
        Some(path) => {
            let label = path.display().to_string();
            match read_bounded(path) {
                Ok(text) => (label, text),
                Err(message) => return Err(ConfigErrors::single(label, message)),
            }
        }
        None => (NO_FILE_LABEL.to_string(), String::new()),
    };
    let mut diagnostics = Diagnostics::new(&label, &text);
    let mut root = match tree::parse(&text) {
        Ok(root) => root,
        Err((message, span)) => {
            let origin = span.map_or(Origin::Unknown, Origin::File);
            let message = message.trim_end().lines().collect::<Vec<_>>().join("; ");
            diagnostics.error(&origin, message);
            return Err(diagnostics.into_errors());
        }
    };
    // Mistakes of the whole file (nothing to read, …) name the file, not its line 1.
    root.origin = Origin::Unknown;
    env::apply(&mut root, vars, &mut diagnostics);
    schema::validate(&root, base_dir, &mut diagnostics);
    if !diagnostics.is_empty() {
        return Err(diagnostics.into_errors());
    }
    // The schema mirrors the model, so this only fails if they drift apart.
    root.value.to_toml().try_into::<Config>().map_err(|e| ConfigErrors::single(label, e.to_string().trim_end()))
}

fn read_bounded(path: &Path) -> Result<String, String> {
    let file = File::open(path).map_err(|e| format!("cannot read: {e}"))?;
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_BYTES + 1).read_to_end(&mut bytes).map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(format!("larger than {MAX_CONFIG_BYTES} bytes; this is not a configuration file"));
    }
    String::from_utf8(bytes).map_err(|e| format!("not UTF-8 (byte {})", e.utf8_error().valid_up_to()))
}

/// `text` with control characters escaped: messages quote keys and values from the
/// file and the environment, and each mistake must stay one line that cannot drive the
/// terminal.
fn one_line(text: &str) -> String {
    text.chars().flat_map(|c| if c.is_control() { c.escape_default().collect() } else { vec![c] }).collect()
}

/// Sort order of mistakes: those without a line, then the file's by position, then
/// the environment's.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Rank {
    Unlocated,
    File(usize),
    /// By variable name, so that the order does not depend on the environment's.
    Env(String),
}

/// Collects mistakes and turns origins into locations.
pub(crate) struct Diagnostics<'t> {
    label: &'t str,
    text: &'t str,
    entries: Vec<(Rank, ConfigError)>,
}

impl<'t> Diagnostics<'t> {
    fn new(label: &'t str, text: &'t str) -> Self {
        Diagnostics { label, text, entries: Vec::new() }
    }

    pub(crate) fn error(&mut self, origin: &Origin, message: String) {
        let (rank, location) = match origin {
            Origin::File(span) => {
                let (line, column) = tree::line_column(self.text, span.start);
                (Rank::File(span.start), format!("{}:{line}:{column}", self.label))
            }
            Origin::Env(name) => (Rank::Env(name.clone()), format!("env {name}")),
            Origin::Unknown => (Rank::Unlocated, self.label.to_string()),
        };
        let error = ConfigError { location: one_line(&location), message: one_line(&message) };
        self.entries.push((rank, error));
    }

    fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn into_errors(mut self) -> ConfigErrors {
        // Stable: mistakes at one place keep the order they were found in.
        self.entries.sort_by(|(a, _), (b, _)| a.cmp(b));
        ConfigErrors { errors: self.entries.into_iter().map(|(_, error)| error).collect() }
    }
}

#[cfg(test)]
mod tests;
