//! `vigil hunt`: run rules over files, in parallel, with detections printed in input
//! order and correlations evaluated on one thread in that same order.

use crate::output::{self, CorrelationOutput, Detection, Format};
use anyhow::{bail, Context};
use clap::Args;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;
use vigil_event::{parse_timestamp, LogSource, Timestamp};
use vigil_formats::{discover, read_file, BadRecord, Batch, ReadOptions};
use vigil_sigma::correlate::{CorrelationDetection, Correlator, PendingObservation};
use vigil_sigma::{Evaluator, RuleSet};

#[derive(Args)]
pub struct HuntArgs {
    /// Rule files or directories (one or more). A following path that is neither a
    /// directory nor a .yml/.yaml file is taken as an input.
    #[arg(long = "rules", short = 'r', required = true, num_args = 1..)]
    rules: Vec<PathBuf>,
    /// Processing pipeline YAML (repeatable); applied after the built-in Windows one.
    #[arg(long = "pipeline")]
    pipelines: Vec<PathBuf>,
    /// Do not load the built-in Windows pipeline.
    #[arg(long)]
    no_builtin_pipeline: bool,
    /// Worker threads (0: one per core).
    #[arg(long, short = 'j', default_value_t = 0)]
    jobs: usize,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Only events at or after this time (ISO 8601; UTC unless a zone is given).
    #[arg(long)]
    from: Option<String>,
    /// Only events before this time.
    #[arg(long)]
    to: Option<String>,
    /// Logsource for events that carry none (no Windows Channel), as
    /// product[/category[/service]], e.g. `linux/process_creation`.
    #[arg(long)]
    logsource: Option<String>,
    /// Print a summary of detections per rule to stderr at the end.
    #[arg(long)]
    stats: bool,
    /// Event files or directories (JSON, JSONL, .gz, EVTX).
    inputs: Vec<PathBuf>,
}

fn is_rule_path(p: &Path) -> bool {
    p.is_dir() || matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml"))
}

/// What a worker hands back for one batch.
struct BatchResult {
    output: Vec<u8>,
    observations: Vec<PendingObservation>,
    detections: Vec<(u32, u64)>,
    invalid: Vec<BadRecord>,
}

struct HuntContext<'a> {
    set: &'a RuleSet,
    format: Format,
    from: Option<Timestamp>,
    to: Option<Timestamp>,
    logsource: Option<LogSource>,
    sources: Vec<String>,
}

pub fn run(mut args: HuntArgs) -> anyhow::Result<ExitCode> {
    // `--rules a b data.jsonl`: inputs that clap took as rules.
    let (rules, extra): (Vec<PathBuf>, Vec<PathBuf>) = args.rules.drain(..).partition(|p| is_rule_path(p));
    args.inputs.splice(0..0, extra);
    if rules.is_empty() {
        bail!("no rule directory or .yml/.yaml file given to --rules");
    }
    if args.inputs.is_empty() {
        bail!("no input given");
    }
    let started = Instant::now();
    let pipelines = crate::rules::pipelines(&args.pipelines, !args.no_builtin_pipeline)?;
    let compiled = crate::rules::compile(&rules, &pipelines)?;
    if !compiled.errors.is_empty() {
        eprintln!(
            "vigil: {} rule documents rejected (see `vigil rules check`); {} loaded",
            compiled.errors.len(),
            compiled.rules.rules().len() + compiled.rules.correlations().len()
        );
    }
    let set = compiled.rules;
    let parse_time = |t: &Option<String>, what: &str| -> anyhow::Result<Option<Timestamp>> {
        t.as_deref()
            .map(|s| parse_timestamp(s).with_context(|| format!("--{what} `{s}` is not an ISO 8601 time")))
            .transpose()
    };
    let from = parse_time(&args.from, "from")?;
    let to = parse_time(&args.to, "to")?;
    let logsource = args.logsource.as_deref().map(|s| {
        let mut parts = s.split('/').map(|p| Some(p).filter(|p| !p.is_empty() && *p != "*"));
        LogSource::new(parts.next().flatten(), parts.next().flatten(), parts.next().flatten())
    });
    let discovered = discover(&args.inputs).context("reading inputs")?;
    for (path, reason) in &discovered.skipped {
        eprintln!("vigil: skipped {}: {reason}", path.display());
    }
    let files = discovered.files;
    let total_bytes: u64 = files.iter().map(|f| f.size).sum();
    let ctx = HuntContext {
        set: &set,
        format: args.format,
        from,
        to,
        logsource,
        sources: files.iter().map(|f| f.path.display().to_string()).collect(),
    };

    let progress = indicatif::ProgressBar::with_draw_target(Some(total_bytes), indicatif::ProgressDrawTarget::stderr());
    progress.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
            .expect("valid template"),
    );
    // Short hunts don't need a bar.
    if total_bytes < 64 * 1024 * 1024 {
        progress.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }

    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(256 * 1024, stdout.lock());
    output::header(&mut out, args.format)?;
    let mut correlator = Correlator::new(&set);
    let mut summary = Summary::default();
    let bad_records = Mutex::new(Vec::<BadRecord>::new());
    let bad_count = AtomicU64::new(0);
    let opts = ReadOptions::default();
    let jobs =
        if args.jobs == 0 { std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) } else { args.jobs };

    let on_bad = |bad: BadRecord| {
        bad_count.fetch_add(1, Ordering::Relaxed);
        let mut list = bad_records.lock().expect("not poisoned");
        if list.len() < 100 {
            list.push(bad);
        }
    };

    if jobs <= 1 {
        // One thread reads, evaluates and prints.
        let mut evaluator = Evaluator::new(&set);
        evaluator.set_default_logsource(ctx.logsource.clone());
        let mut io_result = Ok(());
        for (source, file) in files.iter().enumerate() {
            let mut on_batch = |batch: Batch| {
                progress.inc(batch.bytes_read);
                let result = process_batch(&ctx, &mut evaluator, &batch);
                io_result = finish_batch(&ctx, result, &mut correlator, &mut summary, &mut out);
                io_result.is_ok()
            };
            let mut on_bad_local = |b: BadRecord| on_bad(b);
            read_file(file, source as u32, &opts, &mut on_batch, &mut on_bad_local)
                .with_context(|| format!("reading {}", file.path.display()))?;
            io_result.as_ref().map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        summary.stats(&evaluator);
    } else {
        let (batch_tx, batch_rx) = crossbeam_channel::bounded::<(u64, Batch)>(jobs * 2);
        let (result_tx, result_rx) = crossbeam_channel::bounded::<(u64, BatchResult)>(jobs * 2);
        let stats = Mutex::new(Summary::default());
        std::thread::scope(|scope| -> anyhow::Result<()> {
            let reader = scope.spawn(|| -> anyhow::Result<()> {
                let mut seq = 0u64;
                for (source, file) in files.iter().enumerate() {
                    let mut on_batch = |batch: Batch| {
                        progress.inc(batch.bytes_read);
                        let sent = batch_tx.send((seq, batch)).is_ok();
                        seq += 1;
                        sent
                    };
                    let mut on_bad_local = |b: BadRecord| on_bad(b);
                    read_file(file, source as u32, &opts, &mut on_batch, &mut on_bad_local)
                        .with_context(|| format!("reading {}", file.path.display()))?;
                }
                drop(batch_tx);
                Ok(())
            });
            for _ in 0..jobs {
                let batch_rx = batch_rx.clone();
                let result_tx = result_tx.clone();
                let ctx = &ctx;
                let stats = &stats;
                scope.spawn(move || {
                    let mut evaluator = Evaluator::new(ctx.set);
                    evaluator.set_default_logsource(ctx.logsource.clone());
                    for (seq, batch) in batch_rx {
                        let result = process_batch(ctx, &mut evaluator, &batch);
                        if result_tx.send((seq, result)).is_err() {
                            break;
                        }
                    }
                    stats.lock().expect("not poisoned").stats(&evaluator);
                });
            }
            drop(result_tx);
            drop(batch_rx);
            // Print in input order: hold results until their predecessors arrived.
            let mut pending = BTreeMap::new();
            let mut next = 0u64;
            let mut failure = None;
            for (seq, result) in result_rx {
                pending.insert(seq, result);
                while let Some(result) = pending.remove(&next) {
                    if failure.is_none() {
                        if let Err(e) = finish_batch(&ctx, result, &mut correlator, &mut summary, &mut out) {
                            failure = Some(e);
                        }
                    }
                    next += 1;
                }
            }
            reader.join().expect("reader thread")?;
            if let Some(e) = failure {
                return Err(e.into());
            }
            Ok(())
        })?;
        summary.merge_stats(&stats.into_inner().expect("not poisoned"));
    }
    progress.finish_and_clear();

    let mut hits = Vec::new();
    correlator.finish(&mut hits);
    for hit in &hits {
        write_correlation(&ctx, hit, &mut summary, &mut out)?;
    }
    out.flush()?;
    drop(out);

    let bad = bad_count.load(Ordering::Relaxed);
    for b in bad_records.lock().expect("not poisoned").iter().take(10) {
        eprintln!(
            "vigil: unreadable record {}:{}: {}",
            ctx.sources.get(b.source as usize).map(String::as_str).unwrap_or("?"),
            b.position,
            b.reason
        );
    }
    eprintln!(
        "vigil: {} events in {} files, {} detections from {} rules, {} unreadable, {} without a logsource, {:.2}s",
        summary.events,
        files.len(),
        summary.detections,
        summary.per_rule.len(),
        bad + summary.invalid,
        summary.unrouted,
        started.elapsed().as_secs_f64()
    );
    if summary.unrouted > 0 && ctx.logsource.is_none() {
        eprintln!("vigil: events without a Windows Channel are checked by no rule; give --logsource product[/category[/service]]");
    }
    if args.stats {
        eprintln!(
            "vigil: {} rule evaluations after candidate selection ({:.2} per event)",
            summary.rule_evaluations,
            summary.rule_evaluations as f64 / summary.events.max(1) as f64
        );
        let mut rows: Vec<_> = summary.per_rule.iter().collect();
        rows.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        for (title, n) in rows {
            eprintln!("{n:>8}  {title}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Default)]
struct Summary {
    events: u64,
    invalid: u64,
    unrouted: u64,
    detections: u64,
    rule_evaluations: u64,
    per_rule: BTreeMap<String, u64>,
}

impl Summary {
    fn stats(&mut self, e: &Evaluator) {
        let s = e.stats();
        self.events += s.events;
        self.unrouted += s.unrouted;
        self.rule_evaluations += s.rule_evaluations;
    }

    fn merge_stats(&mut self, other: &Summary) {
        self.events += other.events;
        self.unrouted += other.unrouted;
        self.rule_evaluations += other.rule_evaluations;
    }
}

fn in_range(ctx: &HuntContext, ts: Option<Timestamp>) -> bool {
    match (ctx.from, ctx.to, ts) {
        (None, None, _) => true,
        (_, _, None) => false,
        (from, to, Some(t)) => from.is_none_or(|f| t >= f) && to.is_none_or(|e| t < e),
    }
}

fn event_ref(source: u32, position: u64) -> u64 {
    ((source as u64) << 40) | (position & ((1 << 40) - 1))
}

fn describe_ref(ctx: &HuntContext, r: u64) -> String {
    let source = (r >> 40) as usize;
    let position = r & ((1 << 40) - 1);
    format!("{}:{position}", ctx.sources.get(source).map(String::as_str).unwrap_or("?"))
}

fn process_batch(ctx: &HuntContext, evaluator: &mut Evaluator, batch: &Batch) -> BatchResult {
    let mut result =
        BatchResult { output: Vec::new(), observations: Vec::new(), detections: Vec::new(), invalid: Vec::new() };
    let mut matched = Vec::new();
    let wants_time = ctx.from.is_some() || ctx.to.is_some();
    for (position, text) in batch.iter() {
        matched.clear();
        if let Err(e) = evaluator.evaluate_json(text, None, &mut matched) {
            result.invalid.push(BadRecord {
                source: batch.source,
                position,
                reason: e.to_string(),
                raw: text.as_bytes()[..text.len().min(vigil_formats::BAD_RAW_CAP)].to_vec(),
            });
            continue;
        }
        if matched.is_empty() {
            continue;
        }
        let ts = evaluator.timestamp();
        if wants_time && !in_range(ctx, ts) {
            continue;
        }
        let reference = event_ref(batch.source, position);
        evaluator.correlation_observations(&matched, reference, &mut result.observations);
        let time_text = ts.map(format_time);
        for &rule_idx in &matched {
            let rule = &ctx.set.rules()[rule_idx as usize];
            if !rule.emit {
                continue;
            }
            result.detections.push((rule_idx, reference));
            let d = Detection {
                rule_id: rule.meta.id.as_deref(),
                rule_title: &rule.meta.title,
                level: rule.meta.level.as_deref(),
                timestamp: time_text.clone(),
                tags: &rule.meta.tags,
                source: describe_ref(ctx, reference),
                correlation: None,
            };
            output::render(&mut result.output, ctx.format, &d, Some(text), &rule.meta.fields);
        }
    }
    result
}

fn format_time(t: Timestamp) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn finish_batch(
    ctx: &HuntContext,
    result: BatchResult,
    correlator: &mut Correlator,
    summary: &mut Summary,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    out.write_all(&result.output)?;
    for (rule_idx, _) in &result.detections {
        summary.detections += 1;
        *summary.per_rule.entry(ctx.set.rules()[*rule_idx as usize].meta.title.clone()).or_default() += 1;
    }
    summary.invalid += result.invalid.len() as u64;
    for bad in result.invalid.iter().take(3) {
        eprintln!(
            "vigil: {}:{}: {}",
            ctx.sources.get(bad.source as usize).map(String::as_str).unwrap_or("?"),
            bad.position,
            bad.reason
        );
    }
    let mut hits = Vec::new();
    for obs in &result.observations {
        correlator.observe(obs, &mut hits);
    }
    for hit in &hits {
        write_correlation(ctx, hit, summary, out)?;
    }
    Ok(())
}

fn write_correlation(
    ctx: &HuntContext,
    hit: &CorrelationDetection,
    summary: &mut Summary,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let corr = &ctx.set.correlations()[hit.correlation as usize];
    summary.detections += 1;
    *summary.per_rule.entry(corr.meta.title.clone()).or_default() += 1;
    let ms = |ms: i64| chrono::DateTime::from_timestamp_millis(ms).map(format_time);
    let group = hit
        .group
        .iter()
        .map(|(k, v)| (k.clone(), v.clone().map(serde_json::Value::String).unwrap_or(serde_json::Value::Null)))
        .collect();
    let d = Detection {
        rule_id: corr.meta.id.as_deref(),
        rule_title: &corr.meta.title,
        level: corr.meta.level.as_deref(),
        timestamp: ms(hit.last_ms),
        tags: &corr.meta.tags,
        source: hit.event_refs.first().map(|r| describe_ref(ctx, *r)).unwrap_or_default(),
        correlation: Some(CorrelationOutput {
            kind: serde_json::to_value(corr.kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(),
            group,
            event_count: hit.event_count,
            value: hit.value,
            first: ms(hit.first_ms),
            last: ms(hit.last_ms),
            events: hit.event_refs.iter().map(|r| describe_ref(ctx, *r)).collect(),
        }),
    };
    let mut buf = Vec::new();
    output::render(&mut buf, ctx.format, &d, None, &[]);
    out.write_all(&buf)
}
