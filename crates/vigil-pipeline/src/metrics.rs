//! Counters the daemon exposes at `/metrics` (Prometheus text format 0.0.4). Updated
//! per batch, not per event, so the hot path pays one atomic add per batch.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Upper bounds (seconds) of the write latency histograms.
const LATENCY_BOUNDS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];

/// Reads the current length of one channel.
pub type QueueProbe = Box<dyn Fn() -> usize + Send + Sync>;

/// Reads a gauge's current value; `None` leaves it out of this rendering (its source is
/// gone or failed).
pub type GaugeProbe = Box<dyn Fn() -> Option<u64> + Send + Sync>;

#[derive(Default)]
pub struct Metrics {
    /// Records received, per origin class (file, http, syslog, stdin).
    records_in: Mutex<BTreeMap<String, u64>>,
    /// Events decoded, per decoder (tetragon, syslog …).
    events_decoded: Mutex<BTreeMap<&'static str, u64>>,
    /// Dead letters per reason.
    dead_letters: Mutex<BTreeMap<String, u64>>,
    /// Alert occurrences per rule title (new alerts and repeats).
    alerts: Mutex<BTreeMap<String, u64>>,
    pub events_stored: AtomicU64,
    pub alerts_new: AtomicU64,
    pub alerts_repeated: AtomicU64,
    pub commits: AtomicU64,
    pub commit_failures: AtomicU64,
    pub http_rejected_full: AtomicU64,
    /// Event transactions (events, dead letters, checkpoints).
    store_writes: Histogram,
    /// Alert transactions, in the store's alert file.
    alert_writes: Histogram,
    /// Batches waiting in each channel, sampled by the renderer through these probes.
    queue_probes: Mutex<Vec<(&'static str, QueueProbe)>>,
    /// Other gauges: name, help text, probe.
    gauges: Mutex<Vec<(&'static str, &'static str, GaugeProbe)>>,
    /// The correlation engine's state, as last published by the writer thread.
    correlation: CorrelationGauges,
}

/// What the correlation engine holds and what its bounds dropped: group values and
/// observation rates come from the events, so an operator needs to see when the caps
/// bite (a shed group is a window that can no longer fire).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CorrelationState {
    pub live_groups: u64,
    pub shed_groups: u64,
    pub evicted_groups: u64,
    pub dropped_over_cap: u64,
    pub dropped_late: u64,
}

#[derive(Default)]
struct CorrelationGauges {
    live_groups: AtomicU64,
    shed_groups: AtomicU64,
    evicted_groups: AtomicU64,
    dropped_over_cap: AtomicU64,
    dropped_late: AtomicU64,
}

fn add<K: Ord>(map: &Mutex<BTreeMap<K, u64>>, key: K, n: u64) {
    if n > 0 {
        *map.lock().expect("metrics lock").entry(key).or_default() += n;
    }
}

impl Metrics {
    pub fn records_in(&self, origin_class: &str, n: u64) {
        if n > 0 {
            let mut map = self.records_in.lock().expect("metrics lock");
            match map.get_mut(origin_class) {
                Some(v) => *v += n,
                None => {
                    map.insert(origin_class.to_owned(), n);
                }
            }
        }
    }

    pub fn events_decoded(&self, decoder: &'static str, n: u64) {
        add(&self.events_decoded, decoder, n);
    }

    pub fn dead_letter(&self, reason: &str) {
        add(&self.dead_letters, reason.to_owned(), 1);
    }

    pub fn alert(&self, rule_title: &str, n: u64) {
        add(&self.alerts, rule_title.to_owned(), n);
    }

    pub fn store_latency(&self, seconds: f64) {
        self.store_writes.observe(seconds);
    }

    pub fn alert_write_latency(&self, seconds: f64) {
        self.alert_writes.observe(seconds);
    }

    pub fn correlation_state(&self, state: CorrelationState) {
        let g = &self.correlation;
        g.live_groups.store(state.live_groups, Ordering::Relaxed);
        g.shed_groups.store(state.shed_groups, Ordering::Relaxed);
        g.evicted_groups.store(state.evicted_groups, Ordering::Relaxed);
        g.dropped_over_cap.store(state.dropped_over_cap, Ordering::Relaxed);
        g.dropped_late.store(state.dropped_late, Ordering::Relaxed);
    }

    pub fn add_queue_probe(&self, name: &'static str, probe: QueueProbe) {
        self.queue_probes.lock().expect("metrics lock").push((name, probe));
    }

    pub fn add_gauge(&self, name: &'static str, help: &'static str, probe: GaugeProbe) {
        self.gauges.lock().expect("metrics lock").push((name, help, probe));
    }

    pub fn dead_letters_total(&self) -> u64 {
        self.dead_letters.lock().expect("metrics lock").values().sum()
    }

    pub fn records_in_total(&self) -> u64 {
        self.records_in.lock().expect("metrics lock").values().sum()
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        let labelled = |out: &mut String, name: &str, help: &str, label: &str, rows: Vec<(String, u64)>| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (k, v) in rows {
                let _ = writeln!(out, "{name}{{{label}=\"{}\"}} {v}", escape_label(&k));
            }
        };
        let rows = |m: &Mutex<BTreeMap<String, u64>>| {
            m.lock().expect("metrics lock").iter().map(|(k, v)| (k.clone(), *v)).collect::<Vec<_>>()
        };
        labelled(&mut out, "vigil_records_in_total", "Records received, by origin.", "origin", rows(&self.records_in));
        let decoded =
            self.events_decoded.lock().expect("metrics lock").iter().map(|(k, v)| (k.to_string(), *v)).collect();
        labelled(&mut out, "vigil_events_decoded_total", "Events decoded, by source format.", "source", decoded);
        labelled(
            &mut out,
            "vigil_dead_letters_total",
            "Records that could not be decoded or evaluated, by reason.",
            "reason",
            rows(&self.dead_letters),
        );
        labelled(
            &mut out,
            "vigil_alerts_total",
            "Alert occurrences (new and repeated), by rule.",
            "rule",
            rows(&self.alerts),
        );
        for (name, help, v) in [
            ("vigil_events_stored_total", "Events committed to the store.", &self.events_stored),
            ("vigil_alerts_new_total", "Alerts created.", &self.alerts_new),
            ("vigil_alerts_repeated_total", "Occurrences folded into an existing alert.", &self.alerts_repeated),
            ("vigil_store_commits_total", "Store transactions committed.", &self.commits),
            ("vigil_store_commit_failures_total", "Store transactions that failed.", &self.commit_failures),
            ("vigil_http_rejected_full_total", "HTTP ingest requests refused with 429.", &self.http_rejected_full),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", v.load(Ordering::Relaxed));
        }
        let c = &self.correlation;
        let _ = writeln!(
            out,
            "# HELP vigil_correlation_groups Live correlation groups (windows being counted).\n\
             # TYPE vigil_correlation_groups gauge\nvigil_correlation_groups {}",
            c.live_groups.load(Ordering::Relaxed)
        );
        for (name, help, v) in [
            (
                "vigil_correlation_groups_shed_total",
                "Correlation groups dropped before their deadline because the engine's group ceiling was reached.",
                &c.shed_groups,
            ),
            ("vigil_correlation_groups_evicted_total", "Idle correlation groups dropped.", &c.evicted_groups),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", v.load(Ordering::Relaxed));
        }
        let _ = writeln!(
            out,
            "# HELP vigil_correlation_observations_dropped_total Correlation observations dropped, by reason.\n\
             # TYPE vigil_correlation_observations_dropped_total counter\n\
             vigil_correlation_observations_dropped_total{{reason=\"over_cap\"}} {}\n\
             vigil_correlation_observations_dropped_total{{reason=\"late\"}} {}",
            c.dropped_over_cap.load(Ordering::Relaxed),
            c.dropped_late.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP vigil_queue_depth Batches waiting in a pipeline channel.\n# TYPE vigil_queue_depth gauge"
        );
        for (name, probe) in self.queue_probes.lock().expect("metrics lock").iter() {
            let _ = writeln!(out, "vigil_queue_depth{{queue=\"{name}\"}} {}", probe());
        }
        for (name, help, probe) in self.gauges.lock().expect("metrics lock").iter() {
            if let Some(value) = probe() {
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
            }
        }
        self.store_writes.render(
            &mut out,
            "vigil_store_write_seconds",
            "Store transaction latency (events, dead letters, checkpoints).",
        );
        self.alert_writes.render(
            &mut out,
            "vigil_alert_write_seconds",
            "Alert transaction latency (the store's alert file): what a new alert waits for once detected.",
        );
        out
    }
}

/// A latency histogram with [`LATENCY_BOUNDS`].
#[derive(Default)]
struct Histogram {
    buckets: [AtomicU64; LATENCY_BOUNDS.len()],
    count: AtomicU64,
    sum_us: AtomicU64,
}

impl Histogram {
    fn observe(&self, seconds: f64) {
        for (bound, bucket) in LATENCY_BOUNDS.iter().zip(&self.buckets) {
            if seconds <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (bound, bucket) in LATENCY_BOUNDS.iter().zip(&self.buckets) {
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {}", bucket.load(Ordering::Relaxed));
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum {}", self.sum_us.load(Ordering::Relaxed) as f64 / 1e6);
        let _ = writeln!(out, "{name}_count {count}");
    }
}

/// Label values are attacker-influenced (rule titles are not, origins are): escape per
/// the exposition format.
fn escape_label(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histogram_and_escaped_labels() {
        let m = Metrics::default();
        m.records_in("file", 3);
        m.records_in("file", 2);
        m.dead_letter("invalid_json");
        m.alert("Rule \"x\"\nnext", 2);
        m.store_latency(0.003);
        m.alert_write_latency(0.0004);
        m.alert_write_latency(0.3);
        m.add_queue_probe("decoded", Box::new(|| 7));
        m.add_gauge("vigil_backlog", "Things behind.", Box::new(|| Some(42)));
        m.add_gauge("vigil_gone", "A source that went away.", Box::new(|| None));
        m.correlation_state(CorrelationState {
            live_groups: 12,
            shed_groups: 3,
            evicted_groups: 4,
            dropped_over_cap: 5,
            dropped_late: 6,
        });
        let text = m.render();
        assert!(text.contains("# TYPE vigil_correlation_groups gauge\nvigil_correlation_groups 12\n"), "{text}");
        assert!(text.contains("vigil_correlation_groups_shed_total 3\n"));
        assert!(text.contains("vigil_correlation_groups_evicted_total 4\n"));
        assert!(text.contains("vigil_correlation_observations_dropped_total{reason=\"over_cap\"} 5\n"));
        assert!(text.contains("vigil_correlation_observations_dropped_total{reason=\"late\"} 6\n"));
        assert!(text.contains("vigil_records_in_total{origin=\"file\"} 5"), "{text}");
        assert!(text.contains("vigil_dead_letters_total{reason=\"invalid_json\"} 1"));
        assert!(text.contains("vigil_alerts_total{rule=\"Rule \\\"x\\\"\\nnext\"} 2"));
        assert!(text.contains("vigil_store_write_seconds_bucket{le=\"0.0025\"} 0"));
        assert!(text.contains("vigil_store_write_seconds_bucket{le=\"0.005\"} 1"));
        assert!(text.contains("vigil_store_write_seconds_count 1"));
        assert!(text.contains("vigil_alert_write_seconds_bucket{le=\"0.001\"} 1"), "{text}");
        assert!(text.contains("vigil_alert_write_seconds_bucket{le=\"0.25\"} 1"));
        assert!(text.contains("vigil_alert_write_seconds_bucket{le=\"0.5\"} 2"));
        assert!(text.contains("vigil_alert_write_seconds_sum 0.3004"), "{text}");
        assert!(text.contains("vigil_alert_write_seconds_count 2"));
        assert!(text.contains("vigil_queue_depth{queue=\"decoded\"} 7"));
        assert!(text.contains("# TYPE vigil_backlog gauge\nvigil_backlog 42\n"), "{text}");
        assert!(!text.contains("vigil_gone"), "a gauge without a value is left out: {text}");
    }
}
