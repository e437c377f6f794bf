//! Events to alerts. Two stages, because they scale differently:
//!
//! - [`EventMatcher`] evaluates the compiled Sigma rule set on one event. It is the
//!   expensive part and runs on every worker thread, each with its own matcher over the
//!   shared, immutable [`RuleSet`](vigil_sigma::RuleSet).
//! - [`AlertStage`] runs on one thread, in event order: it feeds correlations, and turns
//!   rule and correlation hits into alerts, collapsing repeats of the same alert (rule +
//!   group key) seen within the aggregation window into one alert with a count.
//!
//! State in [`AlertStage`] is keyed by (rule, group), so it could later be partitioned
//! across threads by key.

mod aggregate;
mod alert_stage;
mod matcher;

pub use aggregate::{AggregationConfig, Aggregator, AlertOpen, AlertUpdate, Occurrence};
pub use alert_stage::{AlertStage, EventContext};
pub use matcher::{EventMatcher, MatchResult};
