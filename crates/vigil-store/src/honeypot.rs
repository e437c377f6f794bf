//! Honeypot analytics over stored Cowrie events: sessions, authentication attempts,
//! commands, downloads, credentials and per-IP intelligence.

/// Schema additions for these queries (the third migration; see `schema.rs`).
pub(crate) const HONEYPOT_MIGRATION: &str = "SELECT 1;";
