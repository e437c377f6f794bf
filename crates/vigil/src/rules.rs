//! Loading rules and pipelines from the command line's paths.

use anyhow::Context;
use std::path::PathBuf;
use vigil_sigma::loader::load_paths;
use vigil_sigma::{Compiled, Pipeline, PipelineSet};

/// Pipelines: the built-in Windows one unless disabled, then the user's files.
pub fn pipelines(files: &[PathBuf], builtin: bool) -> anyhow::Result<PipelineSet> {
    let mut list = Vec::new();
    if builtin {
        list.push(Pipeline::builtin_windows());
    }
    for f in files {
        let text = std::fs::read_to_string(f).with_context(|| format!("reading pipeline {}", f.display()))?;
        let mut p = Pipeline::from_yaml(&text).with_context(|| format!("pipeline {}", f.display()))?;
        // User pipelines come after the built-in one unless they say otherwise.
        if p.priority == 0 {
            p.priority = 100;
        }
        list.push(p);
    }
    Ok(PipelineSet::new(list))
}

/// Loads and compiles every rule under `paths`.
pub fn compile(paths: &[PathBuf], pipelines: &PipelineSet) -> anyhow::Result<Compiled> {
    let loaded = load_paths(paths).context("loading rules")?;
    Ok(loaded.compile(pipelines))
}
