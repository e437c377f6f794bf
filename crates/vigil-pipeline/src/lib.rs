//! The running graph: sources read records, decode them per stream, workers evaluate
//! rules, one writer thread correlates, aggregates alerts and commits each batch with
//! its checkpoints to the store. Channels are bounded end to end, so a slow store
//! slows the sources down instead of filling memory.

pub mod decode;
pub mod ingest;
pub mod metrics;
pub mod runtime;
pub mod source;
pub mod submit;
