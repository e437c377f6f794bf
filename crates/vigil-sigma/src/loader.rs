//! Reading rule files from disk: files and directories (recursively, `.yml` / `.yaml`),
//! each document parsed, every failure kept with its file and reason.

use crate::ast::SigmaDocument;
use crate::compile::{Compiled, LoadError, RuleSet};
use crate::error::{RuleError, SigmaError};
use crate::parse::parse_documents_detailed;
use crate::pipeline::PipelineSet;
use std::path::{Path, PathBuf};

/// Parsed documents with their origin, and the documents that failed to parse.
#[derive(Debug, Default)]
pub struct Loaded {
    pub documents: Vec<(Option<PathBuf>, usize, SigmaDocument)>,
    pub errors: Vec<LoadError>,
    /// Rule files read.
    pub files: usize,
}

impl Loaded {
    /// Compiles what loaded; parse errors are carried into the result.
    pub fn compile(self, pipelines: &PipelineSet) -> Compiled {
        let mut compiled = RuleSet::compile(self.documents, pipelines);
        let mut errors = self.errors;
        errors.append(&mut compiled.errors);
        compiled.errors = errors;
        compiled
    }
}

/// Rule files under `paths`, sorted for a deterministic load order.
pub fn rule_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, SigmaError> {
    let mut files = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|source| SigmaError::Io { path: path.clone(), source })?;
        if meta.is_dir() {
            collect_dir(path, &mut files)?;
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

fn collect_dir(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), SigmaError> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|source| SigmaError::Io { path: dir.to_path_buf(), source })?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect_dir(&path, out)?;
        } else if matches!(path.extension().and_then(|e| e.to_str()), Some("yml" | "yaml")) {
            out.push(path);
        }
    }
    Ok(())
}

/// Loads every rule file under `paths`.
pub fn load_paths(paths: &[PathBuf]) -> Result<Loaded, SigmaError> {
    let mut loaded = Loaded::default();
    for file in rule_files(paths)? {
        loaded.files += 1;
        let text = match std::fs::read(&file) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(t) => t,
                Err(_) => {
                    loaded.errors.push(LoadError {
                        path: Some(file),
                        document: 0,
                        title: None,
                        id: None,
                        error: RuleError::Yaml("file is not UTF-8".into()),
                    });
                    continue;
                }
            },
            Err(source) => return Err(SigmaError::Io { path: file, source }),
        };
        load_text(&text, Some(&file), &mut loaded);
    }
    Ok(loaded)
}

/// Parses one rule text into `loaded`.
pub fn load_text(text: &str, path: Option<&Path>, loaded: &mut Loaded) {
    for doc in parse_documents_detailed(text, path) {
        match doc.result {
            Ok(parsed) => loaded.documents.push((path.map(Path::to_path_buf), doc.index, parsed)),
            Err(error) => loaded.errors.push(LoadError {
                path: path.map(Path::to_path_buf),
                document: doc.index,
                title: doc.title,
                id: doc.id,
                error,
            }),
        }
    }
}
