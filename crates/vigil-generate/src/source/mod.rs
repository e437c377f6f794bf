//! Writers for the four source formats: each function returns one record exactly as the
//! source writes it (a line of auth.log, a line of a JSON export).

pub(crate) mod auth_log;
pub(crate) mod cowrie;
pub(crate) mod k8s_audit;
pub(crate) mod tetragon;
