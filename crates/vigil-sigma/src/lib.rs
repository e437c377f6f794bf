//! Sigma v2.1 for Vigil: parse rule documents, adapt them with processing pipelines,
//! compile them once into a shared [`RuleSet`], and evaluate events against it with a
//! per-thread [`Evaluator`]. Correlation rules run on the [`correlation`] state machine.
//!
//! This crate knows nothing of files (beyond reading rule files), HTTP or storage, so it
//! can be benchmarked and fuzzed alone.

pub mod ast;
pub mod compile;
pub mod condition;
pub mod correlate;
pub mod correlation;
pub mod document;
pub mod error;
pub mod eval;
mod keyword_texts;
mod lazy_regex;
mod literals;
pub mod loader;
pub mod parse;
pub mod pipeline;
pub mod value;

pub use compile::{Compiled, CompiledCorrelation, CompiledRule, LoadError, LoadWarning, RuleIdx, RuleSet};
pub use document::{Document, FieldTable};
pub use error::{RuleError, SigmaError};
pub use eval::{EvalError, EvalStats, Evaluator};
pub use pipeline::{Pipeline, PipelineSet};
