//! `vigil generate`: synthetic traffic in the real source formats, with labelled attacks.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use vigil_event::now_ms;
use vigil_generate::{Attack, Format, GeneratedRecord, Generator, GeneratorConfig, Injection};

#[derive(Args)]
pub struct GenerateArgs {
    /// Background records per second.
    #[arg(long, default_value_t = 100)]
    rate: u32,
    /// How long to generate, in seconds of event time.
    #[arg(long, default_value_t = 60)]
    duration: u64,
    /// Attacks to inject, comma-separated (`all` for every one): brute_force_ssh,
    /// password_spray, port_scan, reverse_shell, …
    #[arg(long, value_delimiter = ',')]
    inject: Vec<String>,
    /// Seconds between two instances of the same attack.
    #[arg(long, default_value_t = 60)]
    attack_interval: u64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Generate as fast as possible (event times still advance a second per slice).
    #[arg(long)]
    fast: bool,
    /// Write every record to stdout, one per line (formats mixed; Vigil sniffs each).
    #[arg(long, group = "output")]
    stdout: bool,
    /// Write one file per format into this directory (auth.log, tetragon.jsonl,
    /// cowrie.json, k8s-audit.jsonl), appending.
    #[arg(long, value_name = "DIR", group = "output")]
    out_dir: Option<PathBuf>,
    /// POST the JSON formats to a Vigil daemon (`http://127.0.0.1:8080`); auth.log lines
    /// are text and are left out. The token comes from --token or VIGIL_API_WRITE_TOKEN.
    #[arg(long, value_name = "URL", group = "output")]
    target: Option<String>,
    #[arg(long)]
    token: Option<String>,
    /// Write the injected attacks (labels) here as JSON, for scoring.
    #[arg(long, value_name = "FILE")]
    labels: Option<PathBuf>,
}

pub fn parse_attacks(names: &[String]) -> anyhow::Result<Vec<Attack>> {
    if names.iter().any(|n| n == "all") {
        return Ok(Attack::ALL.to_vec());
    }
    names
        .iter()
        .filter(|n| !n.trim().is_empty())
        .map(|n| n.parse::<Attack>().map_err(|e| anyhow::anyhow!("--inject: {e}")))
        .collect()
}

pub fn file_name(format: Format) -> &'static str {
    match format {
        Format::AuthLog => "auth.log",
        Format::Tetragon => "tetragon.jsonl",
        Format::Cowrie => "cowrie.json",
        Format::K8sAudit => "k8s-audit.jsonl",
    }
}

/// Appends records to one file per format.
pub struct DirWriter {
    files: BTreeMap<Format, std::io::BufWriter<std::fs::File>>,
    dir: PathBuf,
}

impl DirWriter {
    pub fn new(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(DirWriter { files: BTreeMap::new(), dir: dir.to_owned() })
    }

    pub fn write(&mut self, records: &[GeneratedRecord]) -> anyhow::Result<()> {
        for r in records {
            let file = match self.files.entry(r.format) {
                std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::btree_map::Entry::Vacant(e) => {
                    let path = self.dir.join(file_name(r.format));
                    let f = std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&path)
                        .with_context(|| format!("opening {}", path.display()))?;
                    e.insert(std::io::BufWriter::new(f))
                }
            };
            file.write_all(r.line.as_bytes())?;
            file.write_all(b"\n")?;
        }
        for f in self.files.values_mut() {
            f.flush()?;
        }
        Ok(())
    }
}

pub fn injections_json(injections: &[Injection]) -> serde_json::Value {
    serde_json::Value::Array(
        injections
            .iter()
            .map(|i| {
                serde_json::json!({
                    "attack": i.attack.as_str(),
                    "instance": i.instance,
                    "format": i.format.as_str(),
                    "start_ms": i.start_ms,
                    "end_ms": i.end_ms,
                    "records": i.records,
                    "actor": i.actor,
                    "target": i.target,
                    "expected_rule_ids": i.expected_rule_ids,
                })
            })
            .collect(),
    )
}

pub fn run(args: GenerateArgs) -> anyhow::Result<ExitCode> {
    let attacks = parse_attacks(&args.inject)?;
    if !args.stdout && args.out_dir.is_none() && args.target.is_none() {
        bail!("say where the traffic goes: --stdout, --out-dir DIR or --target URL");
    }
    let start_ms = now_ms() - if args.fast { args.duration as i64 * 1000 } else { 0 };
    let mut generator = Generator::new(GeneratorConfig {
        seed: args.seed,
        rate_per_sec: args.rate,
        attacks,
        attack_interval_ms: args.attack_interval as i64 * 1000,
        start_ms,
        ..GeneratorConfig::default()
    });
    let mut dir_writer = args.out_dir.as_deref().map(DirWriter::new).transpose()?;
    let token = args.token.clone().or_else(|| std::env::var("VIGIL_API_WRITE_TOKEN").ok());
    if args.target.is_some() && token.is_none() {
        bail!("--target needs a write token: --token or VIGIL_API_WRITE_TOKEN");
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let started = Instant::now();
    let mut total = 0usize;
    let slice_start = start_ms - start_ms.rem_euclid(1000);
    for second in 0..args.duration as i64 {
        let from = slice_start + second * 1000;
        let records = generator.records_for(from, from + 1000);
        total += records.len();
        if args.stdout {
            for r in &records {
                out.write_all(r.line.as_bytes())?;
                out.write_all(b"\n")?;
            }
            out.flush()?;
        }
        if let Some(w) = dir_writer.as_mut() {
            w.write(&records)?;
        }
        if let (Some(url), Some(token)) = (&args.target, &token) {
            post(url, token, &records)?;
        }
        if !args.fast {
            let due = Duration::from_secs(second as u64 + 1);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
    }
    if let Some(path) = &args.labels {
        let text = serde_json::to_string_pretty(&injections_json(generator.injections()))?;
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    eprintln!(
        "vigil: generated {total} records, {} attack instances, in {:.1}s",
        generator.injections().len(),
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

/// Sends the JSON records of one slice as NDJSON, retrying while the daemon says 429.
fn post(url: &str, token: &str, records: &[GeneratedRecord]) -> anyhow::Result<()> {
    let body: String =
        records.iter().filter(|r| r.format != Format::AuthLog).flat_map(|r| [r.line.as_str(), "\n"]).collect();
    if body.is_empty() {
        return Ok(());
    }
    let endpoint = format!("{}/events", url.trim_end_matches('/'));
    for _ in 0..60 {
        let response = ureq::post(&endpoint)
            .set("Authorization", &format!("Bearer {token}"))
            .set("Content-Type", "application/x-ndjson")
            .send_string(&body);
        match response {
            Ok(_) => return Ok(()),
            Err(ureq::Error::Status(429, r)) => {
                let wait = r.header("Retry-After").and_then(|v| v.parse::<u64>().ok()).unwrap_or(1);
                std::thread::sleep(Duration::from_secs(wait.min(10)));
            }
            Err(e) => bail!("POST {endpoint}: {e}"),
        }
    }
    bail!("POST {endpoint}: still refused (429) after 60 tries")
}
