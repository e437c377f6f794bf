//! `vigil stix`: STIX 2.1 bundles from event files or the store, and validated import.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use vigil_detect::{AggregationConfig, Aggregator, AlertStage, AlertUpdate, EventContext, EventMatcher, MatchResult};
use vigil_formats::{discover, read_file, BadRecord, Batch, ReadOptions};
use vigil_normalize::SourceKind;
use vigil_pipeline::decode::{FileDecoder, Prepared};
use vigil_stix::{BundleLimits, RuleCatalog};
use vigil_store::{AlertQuery, AlertRow, AlertStatus, EventRow, Store, StoreOptions};

/// Namespace of the event and alert ids `vigil stix build` derives from file positions,
/// so building twice from the same files gives the same STIX ids.
const BUILD_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x3e0c_9a57_55d1_4c1e_8f2b_7d4a_61b0_c2d9);

/// Events one build holds in memory.
const MAX_BUILD_EVENTS: usize = 2_000_000;

#[derive(Subcommand)]
pub enum StixCommand {
    /// Build STIX 2.1 bundles (observables, indicators, sightings, ATT&CK attack patterns)
    /// from event files, or from the store with --store.
    Build(BuildArgs),
    /// Validate a STIX 2.1 bundle (or object) and store all of its objects, or none.
    Import(ImportArgs),
}

#[derive(Args)]
pub struct BuildArgs {
    /// Sigma rule files or directories: run over the inputs and turned into indicators.
    #[arg(long = "rules", short = 'r', required = true, num_args = 1..)]
    rules: Vec<PathBuf>,
    /// Write bundle-0001.json … here; without it, one bundle per line on stdout.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Read events and alerts from the store in this data directory instead of files.
    #[arg(long, value_name = "DIR", conflicts_with = "inputs")]
    store: Option<PathBuf>,
    /// With --store: events and alerts at or after this time (ISO 8601, UTC by default).
    #[arg(long)]
    from: Option<String>,
    /// With --store: events before this time.
    #[arg(long)]
    to: Option<String>,
    /// Decode every record as this source instead of detecting it per record.
    #[arg(long)]
    source: Option<SourceKind>,
    /// Most objects per bundle.
    #[arg(long, default_value_t = BundleLimits::default().max_objects)]
    max_objects: usize,
    /// Most bytes per bundle.
    #[arg(long, default_value_t = BundleLimits::default().max_bytes)]
    max_bytes: usize,
    /// Event files or directories.
    inputs: Vec<PathBuf>,
}

#[derive(Args)]
pub struct ImportArgs {
    /// The data directory of the store.
    #[arg(long, value_name = "DIR")]
    store: PathBuf,
    /// The STIX 2.1 JSON file.
    file: PathBuf,
}

pub fn run(command: StixCommand) -> anyhow::Result<ExitCode> {
    match command {
        StixCommand::Build(args) => build(args),
        StixCommand::Import(args) => import(args),
    }
}

fn is_rule_path(p: &Path) -> bool {
    p.is_dir() || matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml"))
}

fn build(mut args: BuildArgs) -> anyhow::Result<ExitCode> {
    // `--rules a b data.jsonl`: inputs clap took as rules (as `vigil hunt` does).
    let (rules, extra): (Vec<PathBuf>, Vec<PathBuf>) = args.rules.drain(..).partition(|p| is_rule_path(p));
    args.inputs.splice(0..0, extra);
    if rules.is_empty() {
        bail!("no rule directory or .yml/.yaml file given to --rules");
    }
    let rule_refs: Vec<&Path> = rules.iter().map(PathBuf::as_path).collect();
    let catalog = RuleCatalog::from_rule_paths(&rule_refs).context("loading rules for indicators")?;
    let (events, alerts) = match &args.store {
        Some(dir) => from_store(dir, args.from.as_deref(), args.to.as_deref())?,
        None => {
            if args.inputs.is_empty() {
                bail!("no input given (files, directories, or --store DIR)");
            }
            let pipelines = crate::rules::pipelines(&[], true)?;
            let compiled = crate::rules::compile(&rules, &pipelines)?;
            from_files(&args.inputs, &compiled.rules, args.source)?
        }
    };
    let limits = BundleLimits { max_objects: args.max_objects.max(2), max_bytes: args.max_bytes.max(1024) };
    let bundles = vigil_stix::bundles(&events, &alerts, &catalog, limits);
    match &args.out {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            for (i, bundle) in bundles.iter().enumerate() {
                let path = dir.join(format!("bundle-{:04}.json", i + 1));
                let text = serde_json::to_string_pretty(bundle)?;
                std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
            }
        }
        None => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            for bundle in &bundles {
                serde_json::to_writer(&mut out, bundle)?;
                out.write_all(b"\n")?;
            }
            out.flush()?;
        }
    }
    let objects: usize = bundles.iter().map(|b| b["objects"].as_array().map_or(0, Vec::len)).sum();
    eprintln!(
        "vigil: {} events, {} alerts, {} rules known → {} bundles, {} objects",
        events.len(),
        alerts.len(),
        catalog.len(),
        bundles.len(),
        objects
    );
    Ok(ExitCode::SUCCESS)
}

fn parse_time(text: Option<&str>, what: &str) -> anyhow::Result<Option<i64>> {
    text.map(|s| {
        vigil_event::parse_timestamp(s)
            .map(|t| t.timestamp_millis())
            .with_context(|| format!("--{what} `{s}` is not an ISO 8601 time"))
    })
    .transpose()
}

fn from_store(dir: &Path, from: Option<&str>, to: Option<&str>) -> anyhow::Result<(Vec<EventRow>, Vec<AlertRow>)> {
    if !dir.join(vigil_store::DB_FILE_NAME).is_file() {
        bail!("{} holds no Vigil store (no vigil.db)", dir.display());
    }
    let store = Store::open(dir, StoreOptions::default()).with_context(|| format!("opening {}", dir.display()))?;
    let from_ms = parse_time(from, "from")?;
    let to_ms = parse_time(to, "to")?;
    let mut events = Vec::new();
    let mut too_many = false;
    store
        .scan_events(from_ms, to_ms, 2_000, &mut |rows| {
            events.extend(rows);
            too_many = events.len() > MAX_BUILD_EVENTS;
            !too_many
        })
        .context("reading events")?;
    if too_many {
        bail!("more than {MAX_BUILD_EVENTS} events in the range; give a narrower --from / --to");
    }
    let mut alerts = Vec::new();
    let mut query = AlertQuery { from_ms, to_ms, limit: Some(1000), ..AlertQuery::default() };
    loop {
        let page = store.alerts(&query).context("reading alerts")?;
        alerts.extend(page.items);
        match page.next {
            Some(next) => query.cursor = Some(next),
            None => break,
        }
    }
    // Events linked to alerts of the range but stored outside it.
    let mut known: std::collections::HashSet<String> = events.iter().map(|e| e.event_id.clone()).collect();
    for alert in &alerts {
        for id in &alert.event_ids {
            if known.insert(id.clone()) {
                if let Some(event) = store.event(id).context("reading a linked event")? {
                    events.push(event);
                }
            }
        }
    }
    Ok((events, alerts))
}

/// Decodes the files as the daemon would, runs the rules through the alert stage, and
/// keeps events and alerts as the store would hold them.
fn from_files(
    inputs: &[PathBuf],
    set: &vigil_sigma::RuleSet,
    forced: Option<SourceKind>,
) -> anyhow::Result<(Vec<EventRow>, Vec<AlertRow>)> {
    let discovered = discover(inputs).context("reading inputs")?;
    for (path, reason) in &discovered.skipped {
        eprintln!("vigil: skipped {}: {reason}", path.display());
    }
    let mut alert_counter = 0u64;
    let aggregator = Aggregator::with_id_source(
        AggregationConfig::default(),
        Box::new(move || {
            alert_counter += 1;
            uuid::Uuid::new_v5(&BUILD_NAMESPACE, format!("alert|{alert_counter}").as_bytes()).to_string()
        }),
    );
    let mut stage = AlertStage::with_aggregator(set, aggregator);
    let mut matcher = EventMatcher::new(set);
    let mut matches = MatchResult::default();
    let mut events: Vec<EventRow> = Vec::new();
    let mut alerts: Vec<AlertRow> = Vec::new();
    let mut alert_index: HashMap<String, usize> = HashMap::new();
    let mut updates = Vec::new();
    let mut event_ref = 0u64;
    let opts = ReadOptions::default();
    let now = vigil_event::now_ms();
    for (source, file) in discovered.files.iter().enumerate() {
        let origin = format!("file:{}", file.path.display());
        let mut decoder = FileDecoder::for_store(forced);
        let mut last_position = 0;
        let mut failure: Option<anyhow::Error> = None;
        let mut handle = |prepared: Prepared, events: &mut Vec<EventRow>| -> anyhow::Result<()> {
            let mut ordinal_at: HashMap<u64, u32> = HashMap::new();
            for decoded in prepared.decoded {
                let Some(parts) = decoded.stored else { continue };
                let ordinal = ordinal_at.entry(decoded.position).or_default();
                let event_id = uuid::Uuid::new_v5(
                    &BUILD_NAMESPACE,
                    format!("event|{origin}|{}|{ordinal}", decoded.position).as_bytes(),
                )
                .to_string();
                *ordinal += 1;
                event_ref += 1;
                let time_ms = decoded.time.map(|t| t.timestamp_millis());
                if matcher
                    .evaluate(&decoded.sigma_json, decoded.logsource.as_ref(), time_ms, event_ref, &mut matches)
                    .is_err()
                {
                    continue;
                }
                let time_ms = matches.time_ms.or(time_ms).unwrap_or(now);
                stage.on_event(
                    &EventContext {
                        event_ref,
                        event_id: &event_id,
                        time_ms,
                        host: parts.host.as_deref(),
                        src_ip: parts.src_ip.as_deref(),
                        user: parts.user.as_deref(),
                    },
                    &matches,
                );
                if events.len() >= MAX_BUILD_EVENTS {
                    bail!("more than {MAX_BUILD_EVENTS} events; build from fewer files at a time");
                }
                events.push(EventRow {
                    event_id,
                    time_ms,
                    received_ms: now,
                    source: parts.source.to_owned(),
                    origin: origin.clone(),
                    class_uid: parts.class_uid,
                    host: parts.host,
                    src_ip: parts.src_ip,
                    user: parts.user,
                    ocsf: serde_json::from_str(&parts.ocsf).unwrap_or(serde_json::Value::Null),
                    raw: parts.raw,
                });
            }
            Ok(())
        };
        let mut on_batch = |batch: Batch| {
            last_position = batch.iter().last().map(|(p, _)| p).unwrap_or(last_position);
            if let Err(e) = handle(decoder.prepare(batch), &mut events) {
                failure = Some(e);
                return false;
            }
            true
        };
        let mut on_bad = |bad: BadRecord| {
            eprintln!("vigil: unreadable record {}:{}: {}", file.path.display(), bad.position, bad.reason);
        };
        read_file(file, source as u32, &opts, &mut on_batch, &mut on_bad)
            .with_context(|| format!("reading {}", file.path.display()))?;
        if let Some(e) = failure {
            return Err(e);
        }
        handle(decoder.finish(source as u32, last_position), &mut events)?;
    }
    stage.finish();
    stage.drain(&mut updates);
    for update in updates {
        match update {
            AlertUpdate::New(open) => {
                let o = open.occurrence;
                alert_index.insert(open.alert_id.clone(), alerts.len());
                alerts.push(AlertRow {
                    alert_id: open.alert_id,
                    rule_id: o.rule_id,
                    rule_title: o.rule_title,
                    level: o.level,
                    tags: o.tags,
                    group_key: o.group_key,
                    status: AlertStatus::Open,
                    first_seen_ms: o.time_ms,
                    last_seen_ms: o.time_ms,
                    count: 1,
                    host: o.host,
                    src_ip: o.src_ip,
                    user: o.user,
                    event_ids: o.event_ids,
                    details: serde_json::from_str(&o.details).unwrap_or_else(|_| serde_json::json!({})),
                });
            }
            AlertUpdate::Repeat { alert_id, count, last_seen_ms, event_ids } => {
                if let Some(&i) = alert_index.get(&alert_id) {
                    let alert = &mut alerts[i];
                    alert.count += count;
                    alert.last_seen_ms = alert.last_seen_ms.max(last_seen_ms);
                    alert.event_ids.extend(event_ids);
                }
            }
        }
    }
    Ok((events, alerts))
}

fn import(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let objects = match vigil_stix::parse_for_import(&text) {
        Ok(objects) => objects,
        Err(e) => {
            eprintln!("vigil: {}: {e}; nothing imported", args.file.display());
            return Ok(ExitCode::from(1));
        }
    };
    let store = Store::open(&args.store, StoreOptions::default())
        .with_context(|| format!("opening {}", args.store.display()))?;
    let added = store.import_stix_objects(&objects, vigil_event::now_ms()).context("storing the objects")?;
    eprintln!(
        "vigil: {}: {} objects valid, {} stored ({} already present)",
        args.file.display(),
        objects.len(),
        added,
        objects.len() - added
    );
    Ok(ExitCode::SUCCESS)
}
