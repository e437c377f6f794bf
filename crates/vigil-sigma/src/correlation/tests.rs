//! Tests of the correlation engine: hand-written vectors after the specification's
//! examples, and property tests against brute-force models.

use super::*;
use CmpOp::{Eq as CEq, Gt, Gte, Lt, Lte, Neq};
use CorrelationType::*;

const MIN: i64 = 60_000;

fn spec(kind: CorrelationType, inputs: usize, span: i64, cmps: &[(CmpOp, f64)]) -> CorrelationSpec {
    let condition = if cmps.is_empty() {
        None
    } else {
        Some(CorrelationCondition { comparisons: cmps.to_vec(), fields: Vec::new() })
    };
    CorrelationSpec { kind, inputs, timespan_ms: span, condition }
}

/// Drives an engine with auto-numbered event refs (1, 2, 3, ...).
struct H {
    e: CorrelationEngine,
    next_ref: u64,
}

impl H {
    fn new(specs: Vec<CorrelationSpec>) -> Self {
        H { e: CorrelationEngine::new(specs), next_ref: 0 }
    }

    fn feed_group(
        &mut self,
        corr: usize,
        input: usize,
        ts: i64,
        group: &[GroupValue],
        value: Option<&str>,
    ) -> Vec<CorrelationHit> {
        self.next_ref += 1;
        let obs = Observation { correlation: corr, input, timestamp_ms: ts, group, value, event_ref: self.next_ref };
        let mut out = Vec::new();
        self.e.observe(&obs, &mut out);
        out
    }

    fn feed(&mut self, corr: usize, input: usize, ts: i64, group: &str, value: Option<&str>) -> Vec<CorrelationHit> {
        self.feed_group(corr, input, ts, &[GroupValue::from(group)], value)
    }

    fn advance(&mut self, now: i64) -> Vec<CorrelationHit> {
        let mut out = Vec::new();
        self.e.advance(now, &mut out);
        out
    }

    fn finish(&mut self) -> Vec<CorrelationHit> {
        let mut out = Vec::new();
        self.e.finish(&mut out);
        out
    }
}

fn g(s: &str) -> Vec<GroupValue> {
    vec![GroupValue::from(s)]
}

#[test]
fn event_count_gte_threshold_per_group_interleaved() {
    let mut h = H::new(vec![spec(EventCount, 1, 60 * MIN, &[(Gte, 3.0)])]);
    assert!(h.feed(0, 0, 1_000, "a", None).is_empty());
    assert!(h.feed(0, 0, 2_000, "b", None).is_empty());
    assert!(h.feed(0, 0, 3_000, "a", None).is_empty());
    assert!(h.feed(0, 0, 4_000, "b", None).is_empty());
    let hits = h.feed(0, 0, 5_000, "a", None);
    assert_eq!(hits.len(), 1);
    let hit = &hits[0];
    assert_eq!(hit.group, g("a"));
    assert_eq!((hit.first_ms, hit.last_ms, hit.event_count, hit.value), (1_000, 5_000, 3, 3.0));
    assert_eq!(hit.event_refs, vec![1, 3, 5]);
    let hits = h.feed(0, 0, 6_000, "b", None);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].group, g("b"));
    assert_eq!(hits[0].event_refs, vec![2, 4, 6]);
    assert!(h.finish().is_empty(), "sliding conditions report nothing at finish");
}

#[test]
fn event_count_events_spread_wider_than_timespan_do_not_fire() {
    let mut h = H::new(vec![spec(EventCount, 1, 10_000, &[(Gte, 3.0)])]);
    for ts in [0, 6_000, 12_000, 18_000, 24_000] {
        assert!(h.feed(0, 0, ts, "a", None).is_empty(), "at {ts}");
    }
    assert!(h.finish().is_empty());
}

#[test]
fn window_bounds_are_inclusive() {
    let mut h = H::new(vec![spec(EventCount, 1, 10_000, &[(Gte, 3.0)])]);
    h.feed(0, 0, 0, "a", None);
    h.feed(0, 0, 5_000, "a", None);
    assert_eq!(h.feed(0, 0, 10_000, "a", None).len(), 1);
}

#[test]
fn event_count_resets_after_hit() {
    let mut h = H::new(vec![spec(EventCount, 1, 60 * MIN, &[(Gte, 2.0)])]);
    let fired: Vec<usize> = (0..5).map(|i| h.feed(0, 0, i * 1000, "a", None).len()).collect();
    // One hit per fresh pair, not one per event once the threshold is crossed.
    assert_eq!(fired, vec![0, 1, 0, 1, 0]);
    assert_eq!(h.e.stats().hits, 2);
}

#[test]
fn event_count_lt_fires_at_finish() {
    let mut h = H::new(vec![spec(EventCount, 1, 60 * MIN, &[(Lt, 5.0)])]);
    assert_eq!(h.e.specs()[0].evaluation(), Evaluation::WindowClose);
    for i in 0..3 {
        assert!(h.feed(0, 0, i * 1000, "a", None).is_empty());
    }
    for i in 0..6 {
        assert!(h.feed(0, 0, i * 1000, "b", None).is_empty());
    }
    let hits = h.finish();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].group, g("a"));
    assert_eq!((hits[0].value, hits[0].event_count), (3.0, 3));
    assert_eq!(h.e.state_len(), 0);
}

#[test]
fn window_close_on_later_event_of_same_group() {
    let mut h = H::new(vec![spec(EventCount, 1, 10_000, &[(Lt, 5.0)])]);
    h.feed(0, 0, 0, "a", None);
    h.feed(0, 0, 1_000, "a", None);
    let hits = h.feed(0, 0, 20_000, "a", None);
    assert_eq!(hits.len(), 1);
    assert_eq!((hits[0].value, hits[0].first_ms, hits[0].last_ms), (2.0, 0, 1_000));
    let hits = h.finish();
    assert_eq!(hits.len(), 1, "the second window closes at finish");
    assert_eq!((hits[0].value, hits[0].first_ms), (1.0, 20_000));
}

#[test]
fn advance_closes_window_before_finish() {
    let mut h = H::new(vec![spec(EventCount, 1, 10_000, &[(Lt, 5.0)])]);
    h.feed(0, 0, 0, "a", None);
    assert!(h.advance(5_000).is_empty());
    assert!(h.advance(10_000).is_empty(), "window [0, 10000] is still open at 10000");
    assert_eq!(h.advance(10_001).len(), 1);
    assert!(h.finish().is_empty());
}

#[test]
fn allowed_lateness_delays_clock_driven_close() {
    let mut h = H::new(vec![spec(EventCount, 1, 10_000, &[(Lt, 5.0)])]);
    h.e.set_allowed_lateness(5_000);
    h.feed(0, 0, 0, "a", None);
    assert!(h.advance(12_000).is_empty());
    assert_eq!(h.advance(15_001).len(), 1);
}

#[test]
fn value_count_distinct_ignores_duplicates() {
    let mut h = H::new(vec![spec(ValueCount, 1, 5 * MIN, &[(Gt, 3.0)])]);
    for (i, u) in ["u1", "u1", "u2", "u2", "u3", "u3", "u1"].iter().enumerate() {
        assert!(h.feed(0, 0, i as i64 * 1000, "10.0.0.1", Some(u)).is_empty());
    }
    let hits = h.feed(0, 0, 7_000, "10.0.0.1", Some("u4"));
    assert_eq!(hits.len(), 1);
    assert_eq!((hits[0].value, hits[0].event_count), (4.0, 8));
}

#[test]
fn value_count_distinct_values_expire_with_window() {
    let mut h = H::new(vec![spec(ValueCount, 1, 10_000, &[(Gte, 3.0)])]);
    h.feed(0, 0, 0, "h", Some("u1"));
    h.feed(0, 0, 5_000, "h", Some("u2"));
    // u1 has left the window by now; u2 and u3 are only two.
    assert!(h.feed(0, 0, 12_000, "h", Some("u3")).is_empty());
    assert_eq!(h.feed(0, 0, 13_000, "h", Some("u1")).len(), 1);
}

#[test]
fn value_count_multi_field_caller_joined_keys() {
    let mut h = H::new(vec![spec(ValueCount, 1, 5 * MIN, &[(Gte, 3.0)])]);
    assert!(h.feed(0, 0, 0, "h", Some("alice\u{1f}10.0.0.1")).is_empty());
    assert!(h.feed(0, 0, 1, "h", Some("alice\u{1f}10.0.0.2")).is_empty());
    assert!(h.feed(0, 0, 2, "h", Some("alice\u{1f}10.0.0.1")).is_empty());
    let hits = h.feed(0, 0, 3, "h", Some("bob\u{1f}10.0.0.1"));
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].value, 3.0);
}

#[test]
fn value_count_without_value_is_ignored() {
    let mut h = H::new(vec![spec(ValueCount, 1, 5 * MIN, &[(Gte, 1.0)])]);
    assert!(h.feed(0, 0, 0, "h", None).is_empty());
    assert_eq!(h.e.stats().ignored_bad_value, 1);
    assert_eq!(h.e.state_len(), 0);
}

#[test]
fn temporal_unordered_any_order() {
    let mut h = H::new(vec![spec(Temporal, 3, 5 * MIN, &[])]);
    let grp = [GroupValue::from("pc1"), GroupValue::from("bob")];
    assert!(h.feed_group(0, 2, 1_000, &grp, None).is_empty());
    assert!(h.feed_group(0, 0, 2_000, &grp, None).is_empty());
    assert!(h.feed_group(0, 0, 2_500, &grp, None).is_empty());
    let hits = h.feed_group(0, 1, 3_000, &grp, None);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].group, grp.to_vec());
    assert_eq!((hits[0].value, hits[0].event_count), (3.0, 4));
    assert_eq!(hits[0].event_refs, vec![1, 2, 3, 4]);
    // Same rules on another user, too far apart: nothing.
    let other = [GroupValue::from("pc1"), GroupValue::from("eve")];
    h.feed_group(0, 0, 0, &other, None);
    h.feed_group(0, 1, 2 * MIN, &other, None);
    assert!(h.feed_group(0, 2, 6 * MIN, &other, None).is_empty());
}

#[test]
fn temporal_with_condition_gte_2_of_3() {
    let mut h = H::new(vec![spec(Temporal, 3, 5 * MIN, &[(Gte, 2.0)])]);
    assert!(h.feed(0, 0, 0, "h", None).is_empty());
    assert!(h.feed(0, 0, 1, "h", None).is_empty(), "the same rule twice is one input");
    let hits = h.feed(0, 2, 2, "h", None);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].value, 2.0);
}

fn ordered(seq: &[(usize, i64)], inputs: usize, span: i64) -> Vec<CorrelationHit> {
    let mut h = H::new(vec![spec(TemporalOrdered, inputs, span, &[])]);
    let mut all = Vec::new();
    for &(input, ts) in seq {
        all.extend(h.feed(0, input, ts, "u", None));
    }
    all.extend(h.finish());
    all
}

#[test]
fn temporal_ordered_repeat_then_next_fires_once() {
    let hits = ordered(&[(0, 0), (0, 1_000), (1, 2_000)], 2, MIN);
    assert_eq!(hits.len(), 1);
    // The latest A is the one reported: it leaves the most room in the timespan.
    assert_eq!(hits[0].event_refs, vec![2, 3]);
    assert_eq!((hits[0].first_ms, hits[0].last_ms, hits[0].value, hits[0].event_count), (1_000, 2_000, 2.0, 2));
}

#[test]
fn temporal_ordered_wrong_order_no_hit() {
    assert!(ordered(&[(1, 0), (0, 1_000)], 2, MIN).is_empty());
}

#[test]
fn temporal_ordered_gap_longer_than_timespan_no_hit() {
    assert!(ordered(&[(0, 0), (1, MIN + 1)], 2, MIN).is_empty());
    assert_eq!(ordered(&[(0, 0), (1, MIN)], 2, MIN).len(), 1, "inclusive bound");
}

#[test]
fn temporal_ordered_repeated_sequence_two_hits() {
    assert_eq!(ordered(&[(0, 0), (1, 1), (0, 2), (1, 3)], 2, MIN).len(), 2);
    // After a hit the state is reset: a lone B cannot reuse the consumed A.
    assert_eq!(ordered(&[(0, 0), (1, 1), (1, 2)], 2, MIN).len(), 1);
}

#[test]
fn temporal_ordered_three_steps_with_restarts() {
    assert_eq!(ordered(&[(0, 0), (1, 1), (0, 2), (2, 3)], 3, MIN).len(), 1, "A B A C");
    assert!(ordered(&[(0, 0), (2, 1), (1, 2)], 3, MIN).is_empty(), "A C B");
    assert_eq!(ordered(&[(0, 0), (1, 1), (1, 2), (2, 3)], 3, MIN).len(), 1, "A B B C");
    // A restart that is too late must not hide the earlier, still valid chain start.
    let hits = ordered(&[(0, 0), (1, 10), (0, 20), (2, 30)], 3, 30);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].event_refs, vec![1, 2, 4]);
    // Chain A(0) B(10) C(41) is too long; A(20) has no B after it.
    assert!(ordered(&[(0, 0), (1, 10), (0, 20), (2, 41)], 3, 40).is_empty());
}

#[test]
fn temporal_ordered_same_timestamp_counts_in_arrival_order() {
    assert_eq!(ordered(&[(0, 5), (1, 5)], 2, MIN).len(), 1);
}

#[test]
fn temporal_ordered_lt_2_reports_a_not_followed_by_b() {
    let mut h = H::new(vec![spec(TemporalOrdered, 2, MIN, &[(Lt, 2.0)])]);
    assert_eq!(h.e.specs()[0].evaluation(), Evaluation::WindowClose);
    h.feed(0, 0, 0, "x", None);
    h.feed(0, 0, 0, "y", None);
    h.feed(0, 1, 1_000, "y", None);
    h.feed(0, 1, 0, "z", None);
    h.feed(0, 0, 1_000, "z", None);
    let mut groups: Vec<_> = h.finish().into_iter().map(|hit| (hit.group, hit.value)).collect();
    groups.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(groups, vec![(g("x"), 1.0), (g("z"), 1.0)]);
}

#[test]
fn value_sum_gt() {
    let mut h = H::new(vec![spec(ValueSum, 1, 60 * MIN, &[(Gt, 1000.0)])]);
    assert!(h.feed(0, 0, 0, "h", Some("400")).is_empty());
    assert!(h.feed(0, 0, 1, "h", Some(" 400 ")).is_empty());
    assert!(h.feed(0, 0, 2, "h", Some("lots")).is_empty());
    assert!(h.feed(0, 0, 3, "h", None).is_empty());
    assert!(h.feed(0, 0, 4, "h", Some("NaN")).is_empty());
    assert_eq!(h.e.stats().ignored_bad_value, 3);
    let hits = h.feed(0, 0, 5, "h", Some("300.5"));
    assert_eq!(hits.len(), 1);
    assert_eq!((hits[0].value, hits[0].event_count), (1100.5, 3));
    // Values outside the window no longer count.
    assert!(h.feed(0, 0, 0, "k", Some("600")).is_empty());
    assert!(h.feed(0, 0, 61 * MIN, "k", Some("600")).is_empty());
}

#[test]
fn value_avg_gt_evaluated_at_window_close() {
    let mut h = H::new(vec![spec(ValueAvg, 1, 24 * 60 * MIN, &[(Gt, 500.0)])]);
    assert_eq!(h.e.specs()[0].evaluation(), Evaluation::WindowClose);
    // A first large value would fire a per-event evaluation; the window's mean is 400.
    for (i, v) in ["1000", "100", "100"].iter().enumerate() {
        assert!(h.feed(0, 0, i as i64, "a", Some(v)).is_empty());
    }
    for (i, v) in ["600", "700"].iter().enumerate() {
        assert!(h.feed(0, 0, i as i64, "b", Some(v)).is_empty());
    }
    let hits = h.finish();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].group, g("b"));
    assert_eq!((hits[0].value, hits[0].event_count), (650.0, 2));
}

#[test]
fn value_percentile_lte_1_reports_rare_value_only() {
    let mut h = H::new(vec![spec(ValuePercentile, 1, 24 * 60 * MIN, &[(Lte, 1.0)])]);
    for i in 0..150 {
        h.feed(0, 0, i, "pc1", Some("svchost.exe"));
    }
    for i in 0..50 {
        h.feed(0, 0, 200 + i, "pc1", Some("explorer.exe"));
    }
    h.feed(0, 0, 300, "pc1", Some("evil.exe"));
    // Another host where the same image is common is not rare there.
    for i in 0..3 {
        h.feed(0, 0, i, "pc2", Some("evil.exe"));
    }
    let hits = h.finish();
    assert_eq!(hits.len(), 1, "{hits:?}");
    let hit = &hits[0];
    assert_eq!(hit.group, g("pc1"));
    assert_eq!(hit.value_key.as_deref(), Some("evil.exe"));
    assert!((hit.value - 100.0 / 201.0).abs() < 1e-9);
    assert_eq!((hit.event_count, hit.first_ms, hit.last_ms), (1, 300, 300));
    assert_eq!(hit.event_refs, vec![201]);
}

#[test]
fn range_condition_gt_lte_at_window_close() {
    let mut h = H::new(vec![spec(EventCount, 1, 60 * MIN, &[(Gt, 3.0), (Lte, 5.0)])]);
    assert_eq!(h.e.specs()[0].evaluation(), Evaluation::WindowClose);
    for (grp, n) in [("three", 3), ("four", 4), ("five", 5), ("six", 6)] {
        for i in 0..n {
            assert!(h.feed(0, 0, i, grp, None).is_empty());
        }
    }
    let mut got: Vec<_> = h.finish().into_iter().map(|hit| (hit.group, hit.value)).collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(got, vec![(g("five"), 5.0), (g("four"), 4.0)]);
}

#[test]
fn eq_and_neq_conditions() {
    let mut h = H::new(vec![spec(EventCount, 1, MIN, &[(CEq, 2.0)]), spec(EventCount, 1, MIN, &[(Neq, 2.0)])]);
    for corr in 0..2 {
        h.feed(corr, 0, 0, "two", None);
        h.feed(corr, 0, 1, "two", None);
        h.feed(corr, 0, 0, "one", None);
    }
    let mut got: Vec<_> = h.finish().into_iter().map(|hit| (hit.correlation, hit.group)).collect();
    got.sort();
    assert_eq!(got, vec![(0, g("two")), (1, g("one"))]);
}

#[test]
fn out_of_order_timestamps_are_tolerated() {
    let mut h = H::new(vec![spec(EventCount, 1, 10_000, &[(Gte, 3.0)])]);
    h.feed(0, 0, 10_000, "a", None);
    h.feed(0, 0, 5_000, "a", None);
    let hits = h.feed(0, 0, 8_000, "a", None);
    assert_eq!(hits.len(), 1);
    assert_eq!((hits[0].first_ms, hits[0].last_ms), (5_000, 10_000));
    assert_eq!(hits[0].event_refs, vec![2, 3, 1], "refs in event-time order");
    // Older than the group's window: dropped, not counted.
    h.feed(0, 0, 30_000, "b", None);
    assert!(h.feed(0, 0, 1_000, "b", None).is_empty());
    assert_eq!(h.e.stats().dropped_late, 1);
    // Temporal order is judged by event time, not arrival.
    let hits = ordered(&[(1, 10), (0, 5)], 2, MIN);
    assert!(hits.is_empty(), "B arrived first; a later-arriving earlier A cannot precede it");
}

#[test]
fn extreme_inputs_do_not_panic() {
    let kinds = [EventCount, ValueCount, Temporal, TemporalOrdered, ValueSum, ValueAvg, ValuePercentile];
    let mut specs = vec![spec(Temporal, usize::MAX, 10, &[]), spec(TemporalOrdered, usize::MAX, 10, &[(Lt, 3.0)])];
    let conds: [&[(CmpOp, f64)]; 5] =
        [&[(Gte, 1.0)], &[(Lt, 2.0)], &[(Gt, f64::NAN)], &[(Gte, f64::INFINITY), (Neq, f64::NEG_INFINITY)], &[]];
    let spans = [0, -5, i64::MAX, i64::MIN, 1];
    for k in kinds {
        for c in conds {
            for s in spans {
                specs.push(spec(k, 3, s, c));
                specs.push(spec(k, 0, s, c));
            }
        }
    }
    let n = specs.len();
    let mut h = H::new(specs);
    let times = [0, i64::MIN, i64::MAX, -1, i64::MAX - 1, i64::MIN + 1, 42];
    let values = [None, Some("1e308"), Some("1e308"), Some("-1e308"), Some("inf"), Some("NaN"), Some(""), Some("x")];
    let missing = [GroupValue::Missing];
    for corr in 0..n + 2 {
        for (i, &t) in times.iter().enumerate() {
            for (j, &v) in values.iter().enumerate() {
                h.feed(corr, (i + j) % 5, t, "g", v);
                h.feed_group(corr, 0, t, &missing, v);
                h.feed_group(corr, 1, t, &[], v);
            }
        }
        h.advance(i64::MIN);
    }
    h.advance(i64::MAX);
    h.finish();
    assert_eq!(h.e.state_len(), 0);
    assert!(h.e.stats().ignored_invalid > 0);
}

#[test]
fn missing_group_value_is_ignored() {
    let mut h = H::new(vec![spec(EventCount, 1, MIN, &[(Gte, 1.0)])]);
    let grp = [GroupValue::from("host"), GroupValue::Missing];
    assert!(h.feed_group(0, 0, 0, &grp, None).is_empty());
    assert_eq!(h.e.stats().ignored_missing_group, 1);
    assert_eq!(h.e.state_len(), 0);
    // No group-by at all is one global group.
    assert_eq!(h.feed_group(0, 0, 0, &[], None).len(), 1);
}

#[test]
fn group_values_compare_exactly() {
    let mut h = H::new(vec![spec(EventCount, 1, MIN, &[(Gte, 2.0)])]);
    h.feed(0, 0, 0, "Admin", None);
    assert!(h.feed(0, 0, 1, "admin", None).is_empty());
    assert_eq!(h.e.state_len(), 2);
}

#[test]
fn state_evicted_after_advance_far_ahead() {
    let mut h = H::new(vec![spec(EventCount, 1, MIN, &[(Gte, 100.0)]), spec(EventCount, 1, MIN, &[(Lt, 100.0)])]);
    for i in 0..50 {
        h.feed(0, 0, i, &format!("g{i}"), None);
        h.feed(1, 0, i, &format!("g{i}"), None);
    }
    assert_eq!(h.e.state_len(), 100);
    assert!(h.advance(30_000).is_empty());
    assert_eq!(h.e.state_len(), 100);
    let hits = h.advance(10 * MIN);
    assert_eq!(hits.len(), 50, "closing windows report their lt hits");
    assert_eq!(h.e.state_len(), 0);
    assert_eq!(h.e.stats().evicted_groups, 50);
    assert_eq!(h.e.stats().windows_closed, 50);
}

#[test]
fn observe_evicts_idle_groups_without_advance() {
    let mut h = H::new(vec![spec(EventCount, 1, 1_000, &[(Gte, 100.0)])]);
    for i in 0..5_000 {
        h.feed(0, 0, i * 10_000, &format!("g{i}"), None);
        assert_eq!(h.e.state_len(), 1);
    }
    assert_eq!(h.e.stats().evicted_groups, 4_999);
}

#[test]
fn active_group_is_requeued_not_evicted() {
    let mut h = H::new(vec![spec(EventCount, 1, 1_000, &[(Gte, 2.0)])]);
    // Keeps getting events every 600 ms: never idle for a whole timespan.
    let mut hits = 0;
    for i in 0..10 {
        hits += h.feed(0, 0, i * 600, "busy", None).len();
        h.advance(i * 600 + 500);
    }
    assert_eq!(h.e.stats().evicted_groups, 0);
    assert_eq!(hits, 5, "each hit resets; every second event completes a fresh pair");
}

#[test]
fn stored_observations_are_capped() {
    let mut h = H::new(vec![spec(ValueSum, 1, i64::MAX, &[(Gt, 1e18)])]);
    for i in 0..(DEFAULT_GROUP_CAP as i64 + 50) {
        assert!(h.feed(0, 0, i, "h", Some("1")).is_empty());
    }
    assert_eq!(h.e.stats().dropped_over_cap, 50);
}

#[test]
fn large_threshold_raises_the_cap() {
    let mut h = H::new(vec![spec(EventCount, 1, i64::MAX, &[(Gte, 20_000.0)])]);
    let mut hits = 0;
    for i in 0..20_000 {
        hits += h.feed(0, 0, i, "h", None).len();
    }
    assert_eq!(hits, 1);
    assert_eq!(h.e.stats().dropped_over_cap, 0);
}

/// The specification's "multiple failed logins followed by successful login": an
/// event_count correlation whose hits feed a temporal_ordered one, as the caller does.
#[test]
fn chained_failed_logins_then_success() {
    const FAILED: usize = 0; // event_count over failed_login
    const OUTER: usize = 1; // temporal_ordered [multiple_failed_login, successful_login]
    let mut h = H::new(vec![spec(EventCount, 1, 10 * MIN, &[(Gte, 3.0)]), spec(TemporalOrdered, 2, 10 * MIN, &[])]);
    let mut alerts = Vec::new();
    let failed = |h: &mut H, ts: i64, user: &str, alerts: &mut Vec<CorrelationHit>| {
        for inner in h.feed(FAILED, 0, ts, user, None) {
            alerts.extend(h.feed_group(OUTER, 0, inner.last_ms, &inner.group, None));
        }
    };
    let success = |h: &mut H, ts: i64, user: &str, alerts: &mut Vec<CorrelationHit>| {
        alerts.extend(h.feed(OUTER, 1, ts, user, None));
    };
    // bob logs in fine first, then fails a lot: wrong order.
    success(&mut h, 0, "bob", &mut alerts);
    for i in 1..=3 {
        failed(&mut h, i * 1_000, "bob", &mut alerts);
    }
    // alice: two failures are not "multiple" enough, then three, then success.
    failed(&mut h, 10_000, "alice", &mut alerts);
    failed(&mut h, 11_000, "alice", &mut alerts);
    success(&mut h, 12_000, "alice", &mut alerts);
    assert!(alerts.is_empty());
    failed(&mut h, 13_000, "alice", &mut alerts);
    success(&mut h, 14_000, "alice", &mut alerts);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].correlation, OUTER);
    assert_eq!(alerts[0].group, g("alice"));
    assert_eq!((alerts[0].first_ms, alerts[0].last_ms), (13_000, 14_000));
    h.finish();
}

#[test]
fn spec_from_rule_and_defaults() {
    let rule = CorrelationRule {
        meta: Default::default(),
        kind: Temporal,
        rules: vec!["a".into(), "b".into(), "c".into()],
        group_by: vec!["User".into()],
        timespan_ms: 5 * MIN,
        condition: None,
        aliases: Default::default(),
        generate: false,
    };
    let s = CorrelationSpec::from_rule(&rule);
    assert_eq!((s.kind, s.inputs, s.timespan_ms), (Temporal, 3, 5 * MIN));
    assert_eq!(s.evaluation(), Evaluation::Sliding);
    assert_eq!(effective_comparisons(&s), vec![(Gte, 3.0)]);
}

#[test]
fn hit_serializes_missing_as_null() {
    let hit = CorrelationHit {
        correlation: 0,
        group: vec![GroupValue::from("a"), GroupValue::Missing],
        first_ms: 1,
        last_ms: 2,
        event_count: 1,
        value: 1.0,
        event_refs: vec![7],
        value_key: None,
    };
    let json = serde_json::to_string(&hit).unwrap();
    assert!(json.contains(r#""group":["a",null]"#), "{json}");
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    /// Hits of temporal_ordered (default condition) on a time-sorted stream, by brute
    /// force: a chain ending at the current event exists iff picking, backwards, the
    /// latest earlier event of each previous input yields a start within the span.
    fn ordered_oracle(events: &[(usize, i64)], inputs: usize, span: i64) -> usize {
        let mut hits = 0;
        let mut since_reset = 0;
        for (k, &(input, ts)) in events.iter().enumerate() {
            if input + 1 != inputs {
                continue;
            }
            let mut pos = k;
            let mut start = Some(ts);
            for want in (0..input).rev() {
                match (since_reset..pos).rev().find(|&p| events[p].0 == want) {
                    Some(p) => {
                        pos = p;
                        start = Some(events[p].1);
                    }
                    None => {
                        start = None;
                        break;
                    }
                }
            }
            if start.is_some_and(|s| ts - s <= span) {
                hits += 1;
                since_reset = k + 1;
            }
        }
        hits
    }

    proptest! {
        /// Any stream is accepted, sliding event_count never reports more hits than
        /// disjoint sets of `k` events allow, and finish leaves no state.
        #[test]
        fn temporal_ordered_matches_brute_force(
            inputs in 1usize..5,
            span in 0i64..30,
            steps in proptest::collection::vec((0usize..5, 0i64..8), 0..120),
        ) {
            let mut ts = 0;
            let events: Vec<(usize, i64)> = steps
                .into_iter()
                .map(|(i, dt)| { ts += dt; (i % inputs, ts) })
                .collect();
            let got = ordered(&events, inputs, span).len();
            prop_assert_eq!(got, ordered_oracle(&events, inputs, span));
        }

        #[test]
        fn event_count_matches_brute_force(
            k in 1usize..6,
            span in 0i64..30,
            steps in proptest::collection::vec(0i64..8, 0..150),
        ) {
            let mut h = H::new(vec![spec(EventCount, 1, span, &[(Gte, k as f64)])]);
            let mut ts = 0;
            let mut kept: Vec<i64> = Vec::new();
            for dt in steps {
                ts += dt;
                let got = h.feed(0, 0, ts, "g", None).len();
                kept.push(ts);
                kept.retain(|&x| x >= ts - span);
                let expected = usize::from(kept.len() >= k);
                if expected == 1 {
                    kept.clear();
                }
                prop_assert_eq!(got, expected);
            }
        }

        #[test]
        fn random_streams(
            k in 1usize..5,
            span in 0i64..50,
            ops in proptest::collection::vec((0usize..9, 0usize..4, -20i64..200, 0u8..4, proptest::option::of("[0-9a-c]{1,2}")), 0..200),
        ) {
            let cond = [(Gte, k as f64)];
            let specs = vec![
                spec(EventCount, 1, span, &cond),
                spec(ValueCount, 1, span, &cond),
                spec(Temporal, 3, span, &[]),
                spec(TemporalOrdered, 3, span, &[]),
                spec(ValueSum, 1, span, &[(Gt, 10.0)]),
                spec(ValueAvg, 1, span, &[(Lt, 10.0)]),
                spec(ValuePercentile, 1, span, &[(Lte, 30.0)]),
                spec(EventCount, 1, span, &[(Gt, 1.0), (Lte, 3.0)]),
            ];
            let mut h = H::new(specs);
            let mut per_corr = [0usize; 9];
            let mut hits = Vec::new();
            for (corr, input, ts, grp, value) in ops {
                per_corr[corr] += 1;
                let grp = format!("g{grp}");
                hits.extend(h.feed(corr, input, ts, &grp, value.as_deref()));
                if ts % 7 == 0 {
                    hits.extend(h.advance(ts));
                }
            }
            hits.extend(h.finish());
            prop_assert_eq!(h.e.state_len(), 0);
            let ec_hits = hits.iter().filter(|x| x.correlation == 0).count();
            prop_assert!(ec_hits * k <= per_corr[0]);
            for hit in &hits {
                prop_assert!(hit.first_ms <= hit.last_ms);
                prop_assert!(hit.event_refs.len() <= EVENT_REF_CAP);
                prop_assert!(!hit.value.is_nan());
                if hit.correlation == 3 {
                    prop_assert_eq!(hit.event_count, 3);
                    prop_assert!(hit.last_ms - hit.first_ms <= span);
                }
            }
        }
    }
}

#[test]
fn live_groups_are_capped_by_shedding_the_earliest_deadline() {
    let mut h = H::new(vec![spec(EventCount, 1, MIN, &[(Gte, 3.0)]), spec(EventCount, 1, MIN, &[(Gte, 3.0)])]);
    h.e.set_max_live_groups(3);
    h.feed(0, 0, 1_000, "a", None);
    h.feed(1, 0, 2_000, "b", None);
    h.feed(0, 0, 3_000, "c", None);
    // "a" saw a later event: its deadline moved past those of "b" and "c".
    h.feed(0, 0, 4_000, "a", None);
    assert_eq!(h.e.state_len(), 3);
    assert_eq!(h.e.stats().shed_groups, 0);
    // A fourth group sheds "b" (correlation 1, earliest deadline), unevaluated.
    h.feed(0, 0, 5_000, "d", None);
    assert_eq!(h.e.state_len(), 3);
    assert_eq!(h.e.stats().shed_groups, 1);
    // "b" comes back as a new group, which sheds "c".
    h.feed(1, 0, 6_000, "b", None);
    assert_eq!(h.e.stats().shed_groups, 2);
    h.feed(1, 0, 6_500, "b", None);
    assert!(h.feed(0, 0, 7_000, "d", None).is_empty());
    assert_eq!(h.feed(0, 0, 8_000, "a", None).len(), 1, "a kept its three events");
    assert_eq!(h.feed(0, 0, 9_000, "d", None).len(), 1, "d kept its three events");
    assert!(h.feed(1, 0, 9_500, "b", None).len() == 1, "b counted from its return: 6.0, 6.5, 9.5 s");
    // Many spoofed groups stay within the ceiling.
    for i in 0..1_000 {
        h.feed(0, 0, 10_000 + i, &format!("spoofed{i}"), None);
    }
    assert_eq!(h.e.state_len(), 3);
    assert_eq!(h.e.stats().shed_groups, 2 + 1_000);
}
