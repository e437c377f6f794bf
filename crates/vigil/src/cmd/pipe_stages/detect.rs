//! `vigil detect`: enriched events in, the same events and alert lines out. Rules are
//! evaluated on each event's Sigma view; correlations and alert aggregation run in
//! input order, as the daemon's writer thread runs them.

use std::collections::HashMap;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use serde_json::value::RawValue;
use vigil_detect::{AggregationConfig, AlertOpen, AlertStage, AlertUpdate, EventContext, EventMatcher, MatchResult};

use super::{
    parse_duration, write_line, AlertLine, ChangeKind, DeadLetterLine, EnrichedEvent, Feed, InputLine, InvalidLines,
    LineFeed, LineKind, NewAlertLine, RepeatAlertLine, HOLD_AT_MOST, IDLE_FLUSH, MAX_LINE_BYTES,
};

#[derive(Args)]
pub struct DetectArgs {
    /// Rule files or directories (one or more).
    #[arg(long = "rules", short = 'r', required = true, num_args = 1..)]
    rules: Vec<PathBuf>,
    /// Processing pipeline YAML (repeatable); applied after the built-in Windows one.
    #[arg(long = "pipeline")]
    pipelines: Vec<PathBuf>,
    /// Do not load the built-in Windows pipeline.
    #[arg(long)]
    no_builtin_pipeline: bool,
    /// Hits of one rule for the same host, source address and user within this window
    /// (event time) raise the count of one alert instead of opening new ones; 0 turns
    /// aggregation off.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    aggregation_window: Duration,
    /// How long correlation windows wait for late events before they close.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    correlation_lateness: Duration,
    /// The input is a live stream: when it goes quiet, move the correlation clock on with
    /// the wall clock so windows close on time (as `vigil run` does). Without it the
    /// clock follows event times only, so replaying a file always gives the same alerts.
    #[arg(long)]
    follow: bool,
    /// Write alert lines only, not the events (nor upstream dead letters).
    #[arg(long)]
    alerts_only: bool,
}

pub fn run(args: DetectArgs) -> anyhow::Result<ExitCode> {
    let pipelines = crate::rules::pipelines(&args.pipelines, !args.no_builtin_pipeline)?;
    let compiled = crate::rules::compile(&args.rules, &pipelines)?;
    let set = compiled.rules;
    eprintln!(
        "vigil detect: {} rules and {} correlations loaded, {} rule documents rejected (see `vigil rules check`)",
        set.rules().len(),
        set.correlations().len(),
        compiled.errors.len()
    );
    let aggregation = AggregationConfig {
        window_ms: i64::try_from(args.aggregation_window.as_millis()).unwrap_or(i64::MAX),
        ..AggregationConfig::default()
    };
    let mut stage = AlertStage::new(&set, aggregation);
    stage.set_allowed_lateness(i64::try_from(args.correlation_lateness.as_millis()).unwrap_or(i64::MAX));
    let stdout = io::stdout();
    let mut detector = Detector {
        matcher: EventMatcher::new(&set),
        stage,
        result: MatchResult::default(),
        updates: Vec::new(),
        held: HeldRepeats::default(),
        out: BufWriter::with_capacity(256 << 10, stdout.lock()),
        scratch: Vec::new(),
        alerts_only: args.alerts_only,
        follow: args.follow,
        next_ref: 0,
        watermark: None,
        invalid: InvalidLines::default(),
        counts: Counts::default(),
    };
    let feed = LineFeed::spawn(io::stdin(), MAX_LINE_BYTES, IDLE_FLUSH);
    while let Some(item) = feed.next() {
        match item.context("reading stdin")? {
            Feed::Lines(lines) => {
                for line in lines {
                    detector.line(line)?;
                }
                if detector.held.due() {
                    detector.write_repeats()?;
                }
            }
            Feed::Idle => detector.idle()?,
        }
        detector.out.flush()?;
    }
    detector.finish()?;
    let c = &detector.counts;
    eprintln!(
        "vigil detect: {} events, {} new alerts, {} repeats, {} lines passed through, {} events not evaluable, {} \
         invalid lines",
        c.events, c.alerts_new, c.repeats, c.passed, c.unevaluable, detector.invalid.count
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(Default)]
struct Counts {
    events: u64,
    alerts_new: u64,
    /// Occurrences folded into alerts already written.
    repeats: u64,
    /// Alert and dead-letter lines from upstream, written through.
    passed: u64,
    unevaluable: u64,
}

struct Detector<'r, W: Write> {
    matcher: EventMatcher<'r>,
    stage: AlertStage<'r>,
    result: MatchResult,
    updates: Vec<AlertUpdate>,
    held: HeldRepeats,
    out: W,
    scratch: Vec<u8>,
    alerts_only: bool,
    follow: bool,
    /// The next event's reference for the alert stage (increasing, as it requires).
    next_ref: u64,
    /// Newest event time seen, and when: with `--follow`, the correlation clock moves
    /// on from it with wall time while no events come.
    watermark: Option<(i64, Instant)>,
    invalid: InvalidLines,
    counts: Counts,
}

impl<W: Write> Detector<'_, W> {
    fn line(&mut self, line: InputLine) -> io::Result<()> {
        let text = match &line.text {
            Ok(text) if text.trim().is_empty() => return Ok(()),
            Ok(text) => text,
            Err(bad) => {
                self.invalid.report("detect", line.number, &bad.message);
                return Ok(());
            }
        };
        let checked = LineKind::of_line(text).and_then(|kind| match kind {
            LineKind::Event => EnrichedEvent::from_line(text).map(Checked::Event),
            LineKind::Alert => AlertLine::from_line(text).map(Checked::Alert),
            LineKind::DeadLetter => DeadLetterLine::from_line(text).map(Checked::DeadLetter),
            LineKind::Raw => Err("a raw event: decode it with `vigil parse` first".into()),
        });
        match checked {
            Ok(Checked::Event(event)) => self.event(event),
            Ok(Checked::Alert(alert)) => {
                self.counts.passed += 1;
                match alert {
                    AlertLine::New(l) => write_line(&mut self.out, &mut self.scratch, &l),
                    AlertLine::Repeat(l) => write_line(&mut self.out, &mut self.scratch, &l),
                }
            }
            Ok(Checked::DeadLetter(letter)) => {
                if self.alerts_only {
                    return Ok(());
                }
                self.counts.passed += 1;
                write_line(&mut self.out, &mut self.scratch, &letter)
            }
            Err(why) => {
                self.invalid.report("detect", line.number, &why);
                Ok(())
            }
        }
    }

    fn event(&mut self, mut event: EnrichedEvent) -> io::Result<()> {
        let event_ref = self.next_ref;
        self.next_ref += 1;
        let logsource = event.logsource.to_logsource();
        let evaluated =
            self.matcher.evaluate(event.sigma.get(), logsource.as_ref(), event.time_ms, event_ref, &mut self.result);
        if let Err(e) = evaluated {
            // As in the daemon: an event the evaluator cannot read is a dead letter,
            // not a stored event.
            self.counts.unevaluable += 1;
            let message = format!("event {}: {e}", event.event_id);
            let letter = DeadLetterLine {
                decoder: Some(event.source.clone()),
                ..DeadLetterLine::new(&event.origin, event.received_ms, 0, "invalid_json", message, &event.raw)
            };
            if self.alerts_only {
                eprintln!("vigil detect: {}", letter.message);
                return Ok(());
            }
            return write_line(&mut self.out, &mut self.scratch, &letter);
        }
        self.counts.events += 1;
        // The decoder's time, else the one a rule pipeline's timestamp field gave.
        event.time_ms = event.time_ms.or(self.result.time_ms);
        if let Some(time) = event.time_ms {
            let newest = self.watermark.map_or(time, |(w, _)| w.max(time));
            self.watermark = Some((newest, Instant::now()));
        }
        let matched = !self.result.is_empty();
        if matched {
            let context = EventContext {
                event_ref,
                event_id: &event.event_id,
                time_ms: event.time_ms.unwrap_or(event.received_ms),
                host: event.host.as_deref(),
                src_ip: event.src_ip.as_deref(),
                user: event.user.as_deref(),
            };
            self.stage.on_event(&context, &self.result);
        }
        if !self.alerts_only {
            write_line(&mut self.out, &mut self.scratch, &event)?;
        }
        // Alerts follow the event that completed them.
        if matched {
            self.write_alerts()?;
        }
        Ok(())
    }

    /// New alerts are written at once; repeats are merged per alert and held (see
    /// [`HeldRepeats`]).
    fn write_alerts(&mut self) -> io::Result<()> {
        let mut updates = std::mem::take(&mut self.updates);
        self.stage.drain(&mut updates);
        let mut result = Ok(());
        for update in updates.drain(..) {
            match update {
                AlertUpdate::New(open) => {
                    self.counts.alerts_new += 1;
                    if result.is_ok() {
                        result = write_line(&mut self.out, &mut self.scratch, &new_alert_line(*open));
                    }
                }
                AlertUpdate::Repeat { alert_id, count, last_seen_ms, event_ids } => {
                    self.counts.repeats += count;
                    self.held.add(alert_id, count, last_seen_ms, event_ids);
                }
            }
        }
        self.updates = updates;
        result
    }

    fn write_repeats(&mut self) -> io::Result<()> {
        for repeat in self.held.take() {
            write_line(&mut self.out, &mut self.scratch, &repeat)?;
        }
        Ok(())
    }

    fn idle(&mut self) -> io::Result<()> {
        if self.follow {
            if let Some((watermark, seen)) = self.watermark {
                let quiet = i64::try_from(seen.elapsed().as_millis()).unwrap_or(i64::MAX);
                self.stage.advance(watermark.saturating_add(quiet));
                self.write_alerts()?;
            }
        }
        self.write_repeats()
    }

    /// End of input: close every correlation window and write what is left.
    fn finish(&mut self) -> io::Result<()> {
        self.stage.finish();
        self.write_alerts()?;
        self.write_repeats()?;
        self.out.flush()
    }
}

enum Checked {
    Event(EnrichedEvent),
    Alert(AlertLine),
    DeadLetter(DeadLetterLine),
}

fn new_alert_line(open: AlertOpen) -> NewAlertLine {
    let o = open.occurrence;
    // The alert stage writes `details` with serde_json; an empty object is the fallback.
    let details = RawValue::from_string(o.details).unwrap_or_else(|_| RawValue::from_string("{}".into()).expect("{}"));
    NewAlertLine {
        kind: LineKind::Alert,
        change: ChangeKind::New,
        alert_id: open.alert_id,
        rule_id: o.rule_id,
        rule_title: o.rule_title,
        level: o.level,
        tags: o.tags,
        group_key: o.group_key,
        first_seen_ms: o.time_ms,
        last_seen_ms: o.time_ms,
        count: 1,
        host: o.host,
        src_ip: o.src_ip,
        user: o.user,
        event_ids: o.event_ids,
        details,
    }
}

/// Most alerts with repeats held at once; beyond, they are written.
const MAX_HELD_ALERTS: usize = 10_000;

/// Repeats merged per alert until written: a noisy rule then costs one repeat line per
/// alert per flush (at most [`HOLD_AT_MOST`] apart, and whenever input pauses) instead of
/// one per event. The alert stage caps the event ids linked to one alert, so merged
/// lists stay bounded.
#[derive(Default)]
struct HeldRepeats {
    lines: Vec<RepeatAlertLine>,
    slot: HashMap<String, usize>,
    since: Option<Instant>,
}

impl HeldRepeats {
    fn add(&mut self, alert_id: String, count: u64, last_seen_ms: i64, event_ids: Vec<String>) {
        self.since.get_or_insert_with(Instant::now);
        if let Some(&i) = self.slot.get(&alert_id) {
            let held = &mut self.lines[i];
            held.count = held.count.saturating_add(count);
            held.last_seen_ms = held.last_seen_ms.max(last_seen_ms);
            held.event_ids.extend(event_ids);
            return;
        }
        self.slot.insert(alert_id.clone(), self.lines.len());
        self.lines.push(RepeatAlertLine {
            kind: LineKind::Alert,
            change: ChangeKind::Repeat,
            alert_id,
            count,
            last_seen_ms,
            event_ids,
        });
    }

    fn due(&self) -> bool {
        self.lines.len() >= MAX_HELD_ALERTS || self.since.is_some_and(|t| t.elapsed() >= HOLD_AT_MOST)
    }

    fn take(&mut self) -> Vec<RepeatAlertLine> {
        self.slot.clear();
        self.since = None;
        std::mem::take(&mut self.lines)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_repeats_merge_per_alert_in_first_seen_order() {
        let mut held = HeldRepeats::default();
        assert!(!held.due());
        held.add("a".into(), 1, 10, vec!["e1".into()]);
        held.add("b".into(), 2, 5, vec![]);
        held.add("a".into(), 3, 8, vec!["e2".into()]);
        let lines = held.take();
        let summary: Vec<_> =
            lines.iter().map(|l| (l.alert_id.as_str(), l.count, l.last_seen_ms, l.event_ids.len())).collect();
        assert_eq!(summary, [("a", 4, 10, 2), ("b", 2, 5, 0)]);
        assert!(held.take().is_empty(), "taking empties");
    }
}
