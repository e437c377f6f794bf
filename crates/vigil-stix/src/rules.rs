//! Loading Sigma documents (rules and correlations) for the indicator catalog.

use std::path::Path;

use serde_yaml::Value as Yaml;

use crate::{RuleCatalog, RuleInfo, StixError};

/// Largest rule file read (the largest SigmaHQ rule is well under 1 MiB).
const MAX_RULE_FILE: u64 = 8 * 1024 * 1024;

pub(crate) fn load_path(path: &Path, catalog: &mut RuleCatalog) -> Result<(), StixError> {
    if path.is_dir() {
        let mut files: Vec<_> = walkdir::WalkDir::new(path)
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file() && is_yaml(e.path()))
            .map(|e| e.into_path())
            .collect();
        files.sort();
        for file in files {
            load_file(&file, catalog)?;
        }
        Ok(())
    } else {
        load_file(path, catalog)
    }
}

fn is_yaml(path: &Path) -> bool {
    matches!(path.extension().and_then(|e| e.to_str()), Some("yml" | "yaml"))
}

fn load_file(path: &Path, catalog: &mut RuleCatalog) -> Result<(), StixError> {
    if std::fs::metadata(path)?.len() > MAX_RULE_FILE {
        return Ok(());
    }
    let text = std::fs::read_to_string(path)?;
    for document in split_documents(&text) {
        if let Some(rule) = parse_document(document) {
            catalog.insert(rule);
        }
    }
    Ok(())
}

/// The documents of a YAML stream, as text: separated by `---` lines.
pub(crate) fn split_documents(text: &str) -> Vec<&str> {
    let mut documents = Vec::new();
    let mut start = 0;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_end();
        if trimmed == "---" || trimmed.starts_with("--- ") {
            documents.push(&text[start..offset]);
            start = offset + line.len();
        }
        offset += line.len();
    }
    documents.push(&text[start..]);
    documents.into_iter().filter(|d| !d.trim().is_empty()).collect()
}

/// A rule or correlation document; `None` for anything else (filters, `action: global`
/// fragments, invalid YAML).
pub(crate) fn parse_document(document: &str) -> Option<RuleInfo> {
    let yaml: Yaml = serde_yaml::from_str(document).ok()?;
    let text = |key: &str| yaml.get(key).and_then(Yaml::as_str).map(str::to_owned);
    let list = |key: &str| -> Vec<String> {
        yaml.get(key)
            .and_then(Yaml::as_sequence)
            .map(|s| s.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    };
    if yaml.get("detection").is_none() && yaml.get("correlation").is_none() {
        return None;
    }
    let title = text("title")?;
    Some(RuleInfo {
        id: text("id").unwrap_or_else(|| title.clone()),
        title,
        description: text("description"),
        level: text("level"),
        tags: list("tags"),
        references: list("references"),
        yaml: Some(document.trim().to_owned() + "\n"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: &str = "title: A\nid: 11111111-1111-4111-8111-111111111111\nlevel: high\ntags:\n  - attack.t1110\n\
        logsource:\n  product: linux\ndetection:\n  sel:\n    x: 1\n  condition: sel\n---\n\
        title: B\ncorrelation:\n  type: event_count\n  rules: [A]\n  timespan: 5m\n  condition:\n    gte: 3\n---\n\
        title: not a rule\nfoo: 1\n";

    #[test]
    fn loads_rules_and_correlations_with_their_text() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("r.yml"), TWO).unwrap();
        std::fs::write(dir.path().join("notes.txt"), "title: X\ndetection: {}\n").unwrap();
        let catalog = RuleCatalog::from_rule_paths(&[dir.path()]).unwrap();
        assert_eq!(catalog.len(), 2);
        let a = catalog.get("11111111-1111-4111-8111-111111111111").unwrap();
        assert_eq!(a.title, "A");
        assert_eq!(a.tags, vec!["attack.t1110"]);
        assert!(a.yaml.as_deref().unwrap().contains("condition: sel"));
        assert!(!a.yaml.as_deref().unwrap().contains("title: B"));
        let b = catalog.get("B").expect("a correlation without id is keyed by title");
        assert!(b.yaml.as_deref().unwrap().contains("event_count"));
    }
}
