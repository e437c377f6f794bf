//! `vigil sink`: event, alert and dead-letter lines in, committed to a Vigil store in
//! batches — one transaction per batch, alert changes applied in input order.

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use vigil_store::{AlertChange, Store, StoreOptions, WriteBatch};

use super::{
    AlertLine, DeadLetterLine, EnrichedEvent, Feed, InputLine, InvalidLines, LineFeed, LineKind, HOLD_AT_MOST,
    IDLE_FLUSH, MAX_LINE_BYTES,
};

#[derive(Args)]
pub struct SinkArgs {
    /// The store's data directory (created when absent), as `vigil run` uses it.
    #[arg(long, value_name = "DIR")]
    store: PathBuf,
    /// Lines per store transaction; a batch is also committed at the end of input and
    /// when input pauses.
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    batch: u64,
}

/// A batch is committed once its lines hold this much text, whatever `--batch` says.
const MAX_PENDING_BYTES: usize = 256 << 20;

/// Attempts at one commit before giving up (the store may be busy: another writer).
const COMMIT_ATTEMPTS: u32 = 5;

pub fn run(args: SinkArgs) -> anyhow::Result<ExitCode> {
    let store = Store::open(&args.store, StoreOptions::default())
        .with_context(|| format!("opening the store in {}", args.store.display()))?;
    let mut sink = Sink {
        store: &store,
        batch_lines: args.batch as usize,
        pending: WriteBatch::default(),
        pending_lines: 0,
        pending_bytes: 0,
        oldest_pending: None,
        invalid: InvalidLines::default(),
        counts: Counts::default(),
    };
    let feed = LineFeed::spawn(io::stdin(), MAX_LINE_BYTES, IDLE_FLUSH);
    while let Some(item) = feed.next() {
        match item.context("reading stdin")? {
            Feed::Lines(lines) => {
                for line in lines {
                    sink.line(line)?;
                }
                if sink.oldest_pending.is_some_and(|t| t.elapsed() >= HOLD_AT_MOST) {
                    sink.commit()?;
                }
            }
            Feed::Idle => sink.commit()?,
        }
    }
    sink.commit()?;
    let c = &sink.counts;
    eprintln!(
        "vigil sink: stored {} events ({} of them stored before), {} new alerts, {} repeats, {} dead letters in {} commits; \
         {} invalid lines",
        c.events,
        store.duplicates_ignored(),
        c.alerts_new,
        c.repeats,
        c.dead_letters,
        c.commits,
        sink.invalid.count
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(Default)]
struct Counts {
    events: u64,
    alerts_new: u64,
    repeats: u64,
    dead_letters: u64,
    commits: u64,
}

struct Sink<'s> {
    store: &'s Store,
    batch_lines: usize,
    pending: WriteBatch,
    pending_lines: usize,
    pending_bytes: usize,
    oldest_pending: Option<Instant>,
    invalid: InvalidLines,
    counts: Counts,
}

impl Sink<'_> {
    fn line(&mut self, line: InputLine) -> anyhow::Result<()> {
        let text = match &line.text {
            Ok(text) if text.trim().is_empty() => return Ok(()),
            Ok(text) => text,
            Err(bad) => {
                self.invalid.report("sink", line.number, &bad.message);
                return Ok(());
            }
        };
        let added = LineKind::of_line(text).and_then(|kind| match kind {
            LineKind::Event => EnrichedEvent::from_line(text).map(|e| self.pending.events.push(e.into_new_event())),
            LineKind::Alert => AlertLine::from_line(text).map(|a| self.pending.alerts.push(a.into_change())),
            LineKind::DeadLetter => {
                DeadLetterLine::from_line(text).map(|d| self.pending.dead_letters.push(d.into_new_dead_letter()))
            }
            LineKind::Raw => Err("a raw event: decode it with `vigil parse` first".into()),
        });
        if let Err(why) = added {
            self.invalid.report("sink", line.number, &why);
            return Ok(());
        }
        self.pending_lines += 1;
        self.pending_bytes += text.len();
        self.oldest_pending.get_or_insert_with(Instant::now);
        if self.pending_lines >= self.batch_lines || self.pending_bytes >= MAX_PENDING_BYTES {
            self.commit()?;
        }
        Ok(())
    }

    fn commit(&mut self) -> anyhow::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut backoff = Duration::from_millis(50);
        let mut attempt = 1;
        while let Err(e) = self.store.write_batch(&self.pending) {
            if attempt == COMMIT_ATTEMPTS {
                bail!(
                    "store commit failed {attempt} times, last: {e}; {} lines of this batch were not stored",
                    self.pending_lines
                );
            }
            eprintln!("vigil sink: store commit failed (attempt {attempt}), retrying: {e}");
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(Duration::from_secs(2));
            attempt += 1;
        }
        let batch = std::mem::take(&mut self.pending);
        self.counts.commits += 1;
        self.counts.events += batch.events.len() as u64;
        self.counts.dead_letters += batch.dead_letters.len() as u64;
        for change in &batch.alerts {
            match change {
                AlertChange::New(_) => self.counts.alerts_new += 1,
                AlertChange::Repeat { count, .. } => self.counts.repeats += count,
            }
        }
        self.pending_lines = 0;
        self.pending_bytes = 0;
        self.oldest_pending = None;
        Ok(())
    }
}
