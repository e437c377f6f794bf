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
use vigil_normalize::SourceKind;
use vigil_pipeline::decode::{DeadLetter, DeadLetterCounts, FileDecoder, Prepared};
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
    /// Decode every record as this source instead of detecting it per record
    /// (tetragon, kubescape, kubescape-scan, falco, cowrie, k8s-audit, syslog, auditd,
    /// windows, json).
    #[arg(long)]
    source: Option<SourceKind>,
    /// Write records that could not be read or decoded here, one JSON object per line
    /// (file, position, reason, message, raw).
    #[arg(long, value_name = "FILE")]
    dead_letter: Option<PathBuf>,
    /// Re-run the rules over the events stored by `vigil run` in this data directory
    /// (with --from / --to: that time range, UTC) instead of reading files.
    #[arg(long, value_name = "DIR", conflicts_with = "inputs")]
    store: Option<PathBuf>,
    /// Event files or directories (JSON, JSONL, .gz, EVTX, text logs).
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
    dead: Vec<DeadLetter>,
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
    if args.inputs.is_empty() && args.store.is_none() {
        bail!("no input given (files, directories, or --store DIR)");
    }
    let store = match &args.store {
        Some(dir) => {
            if !dir.join("vigil.db").is_file() {
                bail!("{} holds no Vigil store (no vigil.db)", dir.display());
            }
            Some(
                vigil_store::Store::open(dir, vigil_store::StoreOptions::default())
                    .with_context(|| format!("opening the store in {}", dir.display()))?,
            )
        }
        None => None,
    };
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
    let logsource = args.logsource.as_deref().map(LogSource::from_path);
    let files = if store.is_some() {
        Vec::new()
    } else {
        let discovered = discover(&args.inputs).context("reading inputs")?;
        for (path, reason) in &discovered.skipped {
            eprintln!("vigil: skipped {}: {reason}", path.display());
        }
        discovered.files
    };
    let total_bytes: u64 = files.iter().map(|f| f.size).sum();
    let ctx = HuntContext {
        set: &set,
        format: args.format,
        from,
        to,
        logsource,
        sources: match &args.store {
            Some(dir) => vec![format!("store:{}", dir.display())],
            None => files.iter().map(|f| f.path.display().to_string()).collect(),
        },
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
    // Correlations see events in event-time order, whatever the order of the input files
    // (a rotated auth.log.1 after auth.log, a folder sorted by name): observations are
    // collected during the scan, sorted by time, and replayed at the end.
    let mut observations: Vec<PendingObservation> = Vec::new();
    let mut summary = Summary::default();
    let bad_records = Mutex::new(Vec::<BadRecord>::new());
    let bad_count = AtomicU64::new(0);
    let dead_letters = match &args.dead_letter {
        Some(path) => Some(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => None,
    };
    let dead_letters = Mutex::new(dead_letters);
    let write_dead = |d: &DeadLetter| -> std::io::Result<()> {
        if let Some(w) = dead_letters.lock().expect("not poisoned").as_mut() {
            let file = ctx.sources.get(d.source as usize).map(String::as_str).unwrap_or("?");
            let mut line = serde_json::to_vec(&serde_json::json!({"file": file})).expect("serializes");
            line.pop();
            let body = serde_json::to_vec(d).expect("dead letters serialize");
            line.push(b',');
            line.extend_from_slice(&body[1..]);
            line.push(b'\n');
            w.write_all(&line)?;
        }
        Ok(())
    };
    let forced = args.source;
    let opts = ReadOptions::default();
    let jobs = if store.is_some() {
        1
    } else if args.jobs == 0 {
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    } else {
        args.jobs
    };

    let on_bad = |bad: BadRecord| {
        bad_count.fetch_add(1, Ordering::Relaxed);
        // A failed dead-letter write is reported when the file is flushed at the end.
        let _ = write_dead(&DeadLetter::from_bad_record(&bad));
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
        if let Some(store) = &store {
            hunt_store(store, &ctx, &mut evaluator, &mut observations, &mut summary, &mut out, &write_dead)?;
        }
        for (source, file) in files.iter().enumerate() {
            let mut decoder = FileDecoder::new(forced);
            let mut last_position = 0;
            let mut on_batch = |batch: Batch| {
                progress.inc(batch.bytes_read);
                last_position = batch.iter().last().map(|(p, _)| p).unwrap_or(last_position);
                let result = process_batch(&ctx, &mut evaluator, decoder.prepare(batch));
                io_result = finish_batch(&ctx, result, &mut observations, &mut summary, &mut out, &write_dead);
                io_result.is_ok()
            };
            let mut on_bad_local = |b: BadRecord| on_bad(b);
            read_file(file, source as u32, &opts, &mut on_batch, &mut on_bad_local)
                .with_context(|| format!("reading {}", file.path.display()))?;
            io_result.as_ref().map_err(|e| anyhow::anyhow!("{e}"))?;
            let result = process_batch(&ctx, &mut evaluator, decoder.finish(source as u32, last_position));
            finish_batch(&ctx, result, &mut observations, &mut summary, &mut out, &write_dead)?;
        }
        summary.stats(&evaluator);
    } else {
        let (batch_tx, batch_rx) = crossbeam_channel::bounded::<(u64, Prepared)>(jobs * 2);
        let (result_tx, result_rx) = crossbeam_channel::bounded::<(u64, BatchResult)>(jobs * 2);
        let stats = Mutex::new(Summary::default());
        std::thread::scope(|scope| -> anyhow::Result<()> {
            let reader = scope.spawn(|| -> anyhow::Result<()> {
                // Batches are numbered in read order so results can be printed in it.
                let mut seq = 0u64;
                let mut send = |prepared: Prepared| {
                    let sent = batch_tx.send((seq, prepared)).is_ok();
                    seq += 1;
                    sent
                };
                for (source, file) in files.iter().enumerate() {
                    // Decoding happens here, in file order, because decoders keep state
                    // across records; detection, the expensive part, runs on the workers.
                    let mut decoder = FileDecoder::new(forced);
                    let mut last_position = 0;
                    let mut on_batch = |batch: Batch| {
                        progress.inc(batch.bytes_read);
                        last_position = batch.iter().last().map(|(p, _)| p).unwrap_or(last_position);
                        send(decoder.prepare(batch))
                    };
                    let mut on_bad_local = |b: BadRecord| on_bad(b);
                    read_file(file, source as u32, &opts, &mut on_batch, &mut on_bad_local)
                        .with_context(|| format!("reading {}", file.path.display()))?;
                    if !send(decoder.finish(source as u32, last_position)) {
                        break;
                    }
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
                    for (seq, prepared) in batch_rx {
                        let result = process_batch(ctx, &mut evaluator, prepared);
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
                        if let Err(e) =
                            finish_batch(&ctx, result, &mut observations, &mut summary, &mut out, &write_dead)
                        {
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

    // Stable: events of the same millisecond keep their input order.
    observations.sort_by_key(|o| o.timestamp_ms);
    let mut correlator = Correlator::new(&set);
    let mut hits = Vec::new();
    for obs in &observations {
        correlator.observe(obs, &mut hits);
    }
    correlator.finish(&mut hits);
    for hit in &hits {
        write_correlation(&ctx, hit, &mut summary, &mut out)?;
    }
    out.flush()?;
    drop(out);
    if let Some(mut w) = dead_letters.into_inner().expect("not poisoned") {
        w.flush().context("writing the dead-letter file")?;
    }

    let bad = bad_count.load(Ordering::Relaxed);
    for b in bad_records.lock().expect("not poisoned").iter().take(10) {
        eprintln!(
            "vigil: unreadable record {}:{}: {}",
            ctx.sources.get(b.source as usize).map(String::as_str).unwrap_or("?"),
            b.position,
            b.reason
        );
    }
    let dead_total = bad + summary.invalid + summary.dead.total();
    if bad > 0 {
        summary.dead.0.insert("unreadable", bad);
    }
    let dead_detail = if dead_total > 0 { format!(" ({})", summary.dead.describe()) } else { String::new() };
    eprintln!(
        "vigil: {} events in {} files, {} detections from {} rules, {} dead letters{}, {} without a logsource, {:.2}s",
        summary.events,
        files.len(),
        summary.detections,
        summary.per_rule.len(),
        dead_total,
        dead_detail,
        summary.unrouted,
        started.elapsed().as_secs_f64()
    );
    if summary.unrouted > 0 && ctx.logsource.is_none() {
        eprintln!(
            "vigil: events of no known source and without a Windows Channel are checked by no rule; give --source, \
             or --logsource product[/category[/service]]"
        );
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
    // The process ends right after: freeing the rule set's many small allocations one by
    // one would only delay the exit (measured: ~4 % of start-up with 2,400 rules).
    drop(correlator);
    drop(ctx);
    std::mem::forget(set);
    Ok(ExitCode::SUCCESS)
}

/// Static mode over the store: stored events are decoded again from their raw form, as
/// the source that first decoded them, and evaluated in time order.
fn hunt_store(
    store: &vigil_store::Store,
    ctx: &HuntContext,
    evaluator: &mut Evaluator,
    observations: &mut Vec<PendingObservation>,
    summary: &mut Summary,
    out: &mut dyn Write,
    write_dead: &dyn Fn(&DeadLetter) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    let mut decoders: BTreeMap<String, FileDecoder> = BTreeMap::new();
    let mut ordinal = 0u64;
    let mut failure = None;
    let mut each = |rows: Vec<vigil_store::EventRow>| {
        for row in rows {
            ordinal += 1;
            let decoder = decoders
                .entry(row.source.clone())
                .or_insert_with(|| FileDecoder::new(row.source.parse::<SourceKind>().ok()));
            // auditd events are stored as their joined lines.
            let prepared = decoder.prepare_lines(0, row.raw.lines().map(|line| (ordinal, line)));
            let result = process_batch(ctx, evaluator, prepared);
            if let Err(e) = finish_batch(ctx, result, observations, summary, out, write_dead) {
                failure = Some(e);
                return false;
            }
        }
        true
    };
    let from = ctx.from.map(|t| t.timestamp_millis());
    let to = ctx.to.map(|t| t.timestamp_millis());
    store.scan_events(from, to, 2_000, &mut each).context("reading the store")?;
    if let Some(e) = failure {
        return Err(e.into());
    }
    for decoder in decoders.values_mut() {
        let result = process_batch(ctx, evaluator, decoder.finish(0, ordinal));
        finish_batch(ctx, result, observations, summary, out, write_dead)?;
    }
    Ok(())
}

#[derive(Default)]
struct Summary {
    events: u64,
    invalid: u64,
    unrouted: u64,
    detections: u64,
    rule_evaluations: u64,
    per_rule: BTreeMap<String, u64>,
    dead: DeadLetterCounts,
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

fn process_batch(ctx: &HuntContext, evaluator: &mut Evaluator, mut prepared: Prepared) -> BatchResult {
    let mut result = BatchResult {
        output: Vec::new(),
        observations: Vec::new(),
        detections: Vec::new(),
        dead: std::mem::take(&mut prepared.dead),
    };
    let mut matched = Vec::new();
    let source = prepared.source;
    let mut evaluate = |position: u64, text: &str, declared: Option<&LogSource>, time: Option<Timestamp>| {
        matched.clear();
        if let Err(e) = evaluator.evaluate_json(text, declared, &mut matched) {
            result.dead.push(DeadLetter::unevaluable(source, position, e.to_string(), text));
            return;
        }
        if !matched.is_empty() {
            report(ctx, evaluator, &matched, position, source, text, time, &mut result);
        }
    };
    match &prepared.raw {
        Some(batch) => batch.iter().for_each(|(position, text)| evaluate(position, text, None, None)),
        None => prepared.decoded.iter().for_each(|e| evaluate(e.position, &e.sigma_json, e.logsource.as_ref(), e.time)),
    }
    result
}

/// Records the detections of one event: output lines, correlation observations.
#[allow(clippy::too_many_arguments)]
fn report(
    ctx: &HuntContext,
    evaluator: &Evaluator,
    matched: &[u32],
    position: u64,
    source: u32,
    text: &str,
    time: Option<Timestamp>,
    result: &mut BatchResult,
) {
    let ts = time.or_else(|| evaluator.timestamp());
    if (ctx.from.is_some() || ctx.to.is_some()) && !in_range(ctx, ts) {
        return;
    }
    let reference = event_ref(source, position);
    evaluator.correlation_observations(matched, reference, ts.map(|t| t.timestamp_millis()), &mut result.observations);
    let time_text = ts.map(format_time);
    for &rule_idx in matched {
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

fn format_time(t: Timestamp) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn finish_batch(
    ctx: &HuntContext,
    result: BatchResult,
    observations: &mut Vec<PendingObservation>,
    summary: &mut Summary,
    out: &mut dyn Write,
    write_dead: &dyn Fn(&DeadLetter) -> std::io::Result<()>,
) -> std::io::Result<()> {
    out.write_all(&result.output)?;
    for (rule_idx, _) in &result.detections {
        summary.detections += 1;
        *summary.per_rule.entry(ctx.set.rules()[*rule_idx as usize].meta.title.clone()).or_default() += 1;
    }
    for dead in &result.dead {
        if summary.dead.total() < 10 {
            eprintln!(
                "vigil: dead letter {}:{}: {}: {}",
                ctx.sources.get(dead.source as usize).map(String::as_str).unwrap_or("?"),
                dead.position,
                dead.reason,
                dead.message
            );
        }
        summary.dead.add(dead.reason);
        write_dead(dead)?;
    }
    observations.extend(result.observations);
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
