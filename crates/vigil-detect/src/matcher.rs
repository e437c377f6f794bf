use vigil_event::LogSource;
use vigil_sigma::correlate::PendingObservation;
use vigil_sigma::{EvalError, Evaluator, RuleIdx, RuleSet};

/// What one event matched.
#[derive(Debug, Default, Clone)]
pub struct MatchResult {
    /// Rules that report on their own (`emit`), in rule-set order.
    pub rules: Vec<RuleIdx>,
    /// Inputs for the correlations fed by any matched rule.
    pub observations: Vec<PendingObservation>,
    /// The event time the evaluator settled on (the decoder's, else the rule
    /// pipeline's timestamp fields), in ms.
    pub time_ms: Option<i64>,
}

impl MatchResult {
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty() && self.observations.is_empty()
    }

    pub fn clear(&mut self) {
        self.rules.clear();
        self.observations.clear();
        self.time_ms = None;
    }
}

/// Per-thread rule evaluation over a shared rule set.
pub struct EventMatcher<'r> {
    evaluator: Evaluator<'r>,
    matched: Vec<RuleIdx>,
}

impl<'r> EventMatcher<'r> {
    pub fn new(set: &'r RuleSet) -> Self {
        EventMatcher { evaluator: Evaluator::new(set), matched: Vec::new() }
    }

    /// Logsource for events that carry none.
    pub fn set_default_logsource(&mut self, logsource: Option<LogSource>) {
        self.evaluator.set_default_logsource(logsource);
    }

    pub fn rule_set(&self) -> &'r RuleSet {
        self.evaluator.rule_set()
    }

    /// Evaluates one event's Sigma view. `event_ref` is the caller's handle for the
    /// event; correlations hand it back in their hits. `out` is cleared first.
    pub fn evaluate(
        &mut self,
        sigma_json: &str,
        logsource: Option<&LogSource>,
        time_ms: Option<i64>,
        event_ref: u64,
        out: &mut MatchResult,
    ) -> Result<(), EvalError> {
        out.clear();
        self.matched.clear();
        self.evaluator.evaluate_json(sigma_json, logsource, &mut self.matched)?;
        if self.matched.is_empty() {
            out.time_ms = time_ms;
            return Ok(());
        }
        let time_ms = time_ms.or_else(|| self.evaluator.timestamp().map(|t| t.timestamp_millis()));
        out.time_ms = time_ms;
        self.evaluator.correlation_observations(&self.matched, event_ref, time_ms, &mut out.observations);
        let rules = self.evaluator.rule_set().rules();
        out.rules.extend(self.matched.iter().copied().filter(|&r| rules[r as usize].emit));
        Ok(())
    }

    /// Events evaluated, rule evaluations, events without a logsource.
    pub fn stats(&self) -> vigil_sigma::EvalStats {
        self.evaluator.stats()
    }
}
