//! `vigil demo`: the daemon on a fresh embedded store with the rule pack, fed by the
//! generator (log files it tails, as in production), a live alert summary, then a
//! score of the injected attacks against the alerts, and the API left running.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use vigil_event::now_ms;
use vigil_generate::{Attack, Generator, GeneratorConfig, Injection};
use vigil_store::{AlertQuery, AlertRow};

use crate::cmd::generate::{parse_attacks, DirWriter};
use crate::config::{Config, FileSourceConfig, StartAt};
use crate::daemon::{default_rules_dir, Daemon};

#[derive(Args)]
pub struct DemoArgs {
    /// Seconds of generated traffic.
    #[arg(long, default_value_t = 45)]
    duration: u64,
    /// Background records per second.
    #[arg(long, default_value_t = 200)]
    rate: u32,
    /// Attacks to inject (comma-separated; default all).
    #[arg(long, value_delimiter = ',', default_value = "all")]
    inject: Vec<String>,
    /// Seconds between two instances of the same attack.
    #[arg(long, default_value_t = 20)]
    attack_interval: u64,
    /// API address; another free port is used when this one is taken.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: std::net::SocketAddr,
    /// Data directory (default: a fresh one under the system temp dir).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Exit after the score instead of serving the API until Ctrl-C.
    #[arg(long)]
    exit: bool,
}

pub fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let attacks = parse_attacks(&args.inject)?;
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("vigil-demo-{}-{}", std::process::id(), now_ms())),
    };
    if dir.join("store").exists() {
        anyhow::bail!("{} already holds a store; the demo starts from a fresh one", dir.display());
    }
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
    let mut config = Config::default();
    config.store.dir = dir.join("store");
    config.rules.paths = vec![default_rules_dir()];
    config.api.listen = args.listen;
    config.sources.file.push(FileSourceConfig {
        paths: vec![logs.display().to_string()],
        source: None,
        start_at: StartAt::Beginning,
        poll_interval: Duration::from_millis(100),
    });
    let daemon = match Daemon::start(&config) {
        Ok(d) => d,
        Err(e) if format!("{e:#}").contains("binding the API") => {
            config.api.listen = std::net::SocketAddr::new(args.listen.ip(), 0);
            Daemon::start(&config)?
        }
        Err(e) => return Err(e),
    };
    let api = daemon.api_addr.map(|a| format!("http://{a}")).unwrap_or_default();
    println!("Vigil demo");
    println!("  data      {}", dir.display());
    println!("  rules     {} loaded from {}", daemon.rules_loaded, config.rules.paths[0].display());
    println!("  API       {api}   (write token {})", daemon.write_token);
    println!(
        "  traffic   {} records/s for {} s into {}, attacks: {}",
        args.rate,
        args.duration,
        logs.display(),
        attacks.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(", ")
    );
    println!();

    // The generator writes log files in real time; the daemon tails them.
    let injections = Arc::new(Mutex::new(Vec::<Injection>::new()));
    let written = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let generating = Arc::new(AtomicBool::new(true));
    let generator_thread = {
        let (injections, written, generating) =
            (Arc::clone(&injections), Arc::clone(&written), Arc::clone(&generating));
        let mut writer = DirWriter::new(&logs)?;
        let duration = args.duration;
        let config = GeneratorConfig {
            seed: now_ms() as u64,
            rate_per_sec: args.rate,
            attacks: attacks.clone(),
            attack_interval_ms: args.attack_interval as i64 * 1000,
            start_ms: now_ms(),
            ..GeneratorConfig::default()
        };
        std::thread::spawn(move || -> anyhow::Result<()> {
            let start = config.start_ms - config.start_ms.rem_euclid(1000);
            let mut generator = Generator::new(config);
            let began = Instant::now();
            for second in 0..duration as i64 {
                let from = start + second * 1000;
                let records = generator.records_for(from, from + 1000);
                writer.write(&records)?;
                written.fetch_add(records.len() as u64, Ordering::Relaxed);
                *injections.lock().expect("not poisoned") = generator.injections().to_vec();
                if let Some(wait) = Duration::from_secs(second as u64 + 1).checked_sub(began.elapsed()) {
                    std::thread::sleep(wait);
                }
            }
            // Instances still running when the traffic stopped are not scored.
            let end = start + duration as i64 * 1000;
            injections.lock().expect("not poisoned").retain(|i| i.end_ms < end);
            generating.store(false, Ordering::SeqCst);
            Ok(())
        })
    };

    let live = std::io::stdout().is_terminal();
    let began = Instant::now();
    let metrics = daemon.metrics().expect("running daemon has metrics");
    let mut last_lines = 0;
    loop {
        std::thread::sleep(Duration::from_secs(2));
        let done = !generating.load(Ordering::SeqCst);
        let alerts = daemon.store.alerts(&AlertQuery { limit: Some(1000), ..Default::default() })?.items;
        let summary = render_summary(
            began.elapsed(),
            written.load(Ordering::Relaxed),
            metrics.events_stored.load(Ordering::Relaxed),
            metrics.dead_letters_total(),
            &alerts,
        );
        if live && last_lines > 0 {
            // Redraw in place.
            print!("\x1b[{last_lines}A\x1b[J");
        }
        last_lines = summary.lines().count();
        print!("{summary}");
        std::io::stdout().flush()?;
        if done {
            break;
        }
    }
    generator_thread.join().map_err(|_| anyhow::anyhow!("generator thread panicked"))??;
    // Let the tail and the pipeline catch up with the last lines.
    let total = written.load(Ordering::Relaxed);
    let wait_start = Instant::now();
    while metrics.events_stored.load(Ordering::Relaxed) + metrics.dead_letters_total() < total
        && wait_start.elapsed() < Duration::from_secs(30)
    {
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_millis(500));
    let alerts = daemon.store.alerts(&AlertQuery { limit: Some(1000), ..Default::default() })?.items;
    let injections = injections.lock().expect("not poisoned").clone();
    let score = score(&injections, &alerts);
    println!();
    println!("Injected attacks detected: {}/{} ({:.0} %)", score.detected, score.total, score.recall() * 100.0);
    for (attack, (found, of)) in &score.per_attack {
        println!("  {:<28} {found}/{of}", attack.as_str());
    }
    println!();
    println!("Explore the API (reads need no token; writes need the token above):");
    println!("  curl -s '{api}/api/alerts?limit=5'");
    println!("  curl -s '{api}/api/stats'");
    println!("  curl -s '{api}/api/events?q=Failed&limit=3'");
    println!("  curl -s '{api}/metrics'");
    println!("  curl -s '{api}/api/honeypot/stats'             # Cowrie sessions, logins, top credentials / commands");
    println!("  curl -s '{api}/tetragon/fetch-stix?limit=50'    # STIX 2.1 bundle");
    println!("  curl -s '{api}/taxii2/api/collections/alerts/objects/?limit=5'   # TAXII 2.1");
    println!("  curl -s '{api}/api/openapi.json'                # every endpoint");
    if !args.exit {
        println!("Serving until Ctrl-C.");
        crate::cmd::run::wait_for_signal()?;
    }
    let report = daemon.stop();
    eprintln!(
        "vigil: demo stopped; {} events stored, {} alerts, {} dead letters; data kept in {}",
        report.events_stored,
        report.alerts_new,
        report.dead_letters,
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn render_summary(elapsed: Duration, written: u64, stored: u64, dead: u64, alerts: &[AlertRow]) -> String {
    let mut by_rule: BTreeMap<(&str, &str), (u64, u64)> = BTreeMap::new();
    for a in alerts {
        let e = by_rule.entry((level_rank(&a.level), &a.rule_title)).or_default();
        e.0 += 1;
        e.1 += a.count;
    }
    let occurrences: u64 = alerts.iter().map(|a| a.count).sum();
    let mut s = format!(
        "[{:>3}s] {written} records written, {stored} events stored, {dead} dead letters, {} alerts ({occurrences} occurrences)\n",
        elapsed.as_secs(),
        alerts.len()
    );
    for ((rank, title), (n, occ)) in by_rule {
        let level = &rank[2..];
        s.push_str(&format!("  {level:<13} {n:>4} alerts {occ:>6}×  {title}\n"));
    }
    s
}

/// Sorts critical first.
fn level_rank(level: &str) -> &'static str {
    match level {
        "critical" => "0 critical",
        "high" => "1 high",
        "medium" => "2 medium",
        "low" => "3 low",
        _ => "4 informational",
    }
}

pub struct Score {
    pub detected: usize,
    pub total: usize,
    pub per_attack: BTreeMap<Attack, (usize, usize)>,
}

impl Score {
    pub fn recall(&self) -> f64 {
        if self.total == 0 {
            1.0
        } else {
            self.detected as f64 / self.total as f64
        }
    }
}

/// An injected instance counts as detected when an alert of one of its expected rules
/// was active during it (between its first record and a minute after its last).
pub fn score(injections: &[Injection], alerts: &[AlertRow]) -> Score {
    let mut s = Score { detected: 0, total: 0, per_attack: BTreeMap::new() };
    for i in injections {
        let found = alerts.iter().any(|a| {
            i.expected_rule_ids.contains(&a.rule_id)
                && a.first_seen_ms <= i.end_ms + 60_000
                && a.last_seen_ms >= i.start_ms - 1_000
        });
        s.total += 1;
        let e = s.per_attack.entry(i.attack).or_default();
        e.1 += 1;
        if found {
            s.detected += 1;
            e.0 += 1;
        }
    }
    s
}
