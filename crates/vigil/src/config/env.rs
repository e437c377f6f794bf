//! `VIGIL_<SECTION>_<KEY>` overrides and the `.env` file that may supply them.
//!
//! Overrides are written into the located tree before validation, each value marked
//! with its variable's name, so that a bad override is reported as `env VIGIL_X: …`
//! by the same checks as the file.

use std::ffi::OsString;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use super::schema::{closest, Field, Kind, ENV_SECTIONS};
use super::tree::{Located, Node, Origin};
use super::{ConfigError, Diagnostics};

/// Largest `.env` file read; it holds a few settings, never megabytes.
const MAX_DOTENV_BYTES: u64 = 1 << 20;

/// Prefix of every variable Vigil reads.
const PREFIX: &str = "VIGIL_";

/// The variables of the `.env` file at `path` (none when there is no file), in file
/// order, or the first mistake in it.
pub fn read_dotenv(path: &Path) -> Result<Vec<(String, String)>, ConfigError> {
    let label = path.display().to_string();
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(ConfigError { location: label, message: format!("cannot read: {e}") }),
    };
    let mut bytes = Vec::new();
    file.take(MAX_DOTENV_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| ConfigError { location: label.clone(), message: format!("cannot read: {e}") })?;
    if bytes.len() as u64 > MAX_DOTENV_BYTES {
        return Err(ConfigError { location: label, message: format!("larger than {MAX_DOTENV_BYTES} bytes") });
    }
    let mut vars = Vec::new();
    for item in dotenvy::from_read_iter(bytes.as_slice()) {
        match item {
            Ok(pair) => vars.push(pair),
            Err(dotenvy::Error::LineParse(line, index)) => {
                // The parser names the offending text, not its line: find it.
                let text = String::from_utf8_lossy(&bytes);
                let first_line = line.lines().next().unwrap_or_default();
                let location = match text.lines().position(|l| !first_line.is_empty() && l == first_line) {
                    Some(n) => format!("{label}:{}", n + 1),
                    None => label,
                };
                let message = format!("cannot parse `{}` (at character {})", first_line.trim_end(), index + 1);
                return Err(ConfigError { location, message });
            }
            Err(e) => return Err(ConfigError { location: label, message: e.to_string() }),
        }
    }
    Ok(vars)
}

/// The process environment with the `.env` variables added underneath: a variable set
/// in the environment wins over the file. Variables whose name is not Unicode are
/// dropped (none of them can be Vigil's); a `VIGIL_` value that is not Unicode is kept
/// lossily converted, so that validation reports it instead of silently ignoring it.
pub fn merge(
    dotenv: Vec<(String, String)>,
    process: impl Iterator<Item = (OsString, OsString)>,
) -> Vec<(String, String)> {
    let mut vars: Vec<(String, String)> = process
        .filter_map(|(name, value)| {
            let name = name.into_string().ok()?;
            let value = value.into_string().unwrap_or_else(|raw| raw.to_string_lossy().into_owned());
            Some((name, value))
        })
        .collect();
    for (name, value) in dotenv {
        if !vars.iter().any(|(existing, _)| *existing == name) {
            vars.push((name, value));
        }
    }
    vars
}

/// Applies every `VIGIL_<SECTION>_<KEY>` variable of `vars` to `root`. Variables that
/// name no section (`VIGIL_CORPUS`) are not configuration and are left alone.
pub fn apply(root: &mut Located<Node>, vars: &[(String, String)], diagnostics: &mut Diagnostics) {
    let mut overrides: Vec<&(String, String)> = vars.iter().filter(|(name, _)| name.starts_with(PREFIX)).collect();
    // Sorted, so that the result and the error order do not depend on the environment's order.
    overrides.sort();
    for (name, value) in overrides {
        let origin = Origin::Env(name.clone());
        let rest = &name[PREFIX.len()..];
        if rest.starts_with("SOURCES_") {
            diagnostics.error(&origin, "sources cannot be set from the environment; use the config file".into());
            continue;
        }
        let Some((section, fields, key)) = ENV_SECTIONS.iter().find_map(|(section, fields)| {
            let key = rest.strip_prefix(section.to_ascii_uppercase().as_str())?.strip_prefix('_')?;
            Some((*section, *fields, key.to_ascii_lowercase()))
        }) else {
            continue;
        };
        let Some(field) = fields.iter().find(|field| field.name == key) else {
            let hint = closest(&key, fields.iter().map(|field| field.name))
                .map(|s| format!(" (did you mean VIGIL_{}_{}?)", section.to_ascii_uppercase(), s.to_ascii_uppercase()))
                .unwrap_or_default();
            diagnostics.error(&origin, format!("unknown setting `{section}.{key}`{hint}"));
            continue;
        };
        match env_value(field, value, &origin) {
            Ok(node) => set(root, section, field.name, node, &origin),
            Err(message) => diagnostics.error(&origin, format!("{section}.{}: {message}", field.name)),
        }
    }
}

/// The tree value for `text` set on `field`: `None` clears an optional setting.
fn env_value(field: &Field, text: &str, origin: &Origin) -> Result<Option<Node>, String> {
    let node = match field.kind {
        _ if field.kind.is_optional_value() && text.is_empty() => return Ok(None),
        Kind::Bool => match text.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Node::Boolean(true),
            "false" | "0" | "no" | "off" => Node::Boolean(false),
            _ => return Err(format!("`{text}` is not true or false")),
        },
        Kind::Count { .. } => {
            Node::Integer(text.trim().parse().map_err(|_| format!("`{text}` is not a whole number"))?)
        }
        Kind::ExistingPaths { .. } | Kind::Globs => Node::Array(
            text.split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(|item| Located::new(origin.clone(), Node::String(item.to_string())))
                .collect(),
        ),
        Kind::Section(_) | Kind::Sections(_) => return Err("cannot be set from the environment".into()),
        _ => Node::String(text.to_string()),
    };
    Ok(Some(node))
}

/// Sets (or with `None`, removes) `[section] key` in `root`. A section the file gave as
/// something other than a table is left for validation to report.
fn set(root: &mut Located<Node>, section: &str, key: &str, node: Option<Node>, origin: &Origin) {
    let Node::Table(sections) = &mut root.value else { return };
    let index = match sections.iter().position(|(name, _)| name.value == section) {
        Some(index) => index,
        None if node.is_none() => return,
        None => {
            let name = Located::new(origin.clone(), section.to_string());
            sections.push((name, Located::new(origin.clone(), Node::Table(Vec::new()))));
            sections.len() - 1
        }
    };
    let Node::Table(entries) = &mut sections[index].1.value else { return };
    let existing = entries.iter().position(|(name, _)| name.value == key);
    match (existing, node) {
        (Some(index), Some(node)) => entries[index].1 = Located::new(origin.clone(), node),
        (Some(index), None) => {
            entries.remove(index);
        }
        (None, Some(node)) => {
            entries.push((Located::new(origin.clone(), key.to_string()), Located::new(origin.clone(), node)))
        }
        (None, None) => {}
    }
}
