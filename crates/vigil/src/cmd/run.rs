//! `vigil run`: the daemon, until SIGINT or SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use crate::daemon::Daemon;

#[derive(Args)]
pub struct RunArgs {
    /// Configuration file (TOML); see examples/vigil.toml. Without it, defaults apply
    /// (store in ./vigil-data, rules from ./rules, API on 127.0.0.1:8080), with
    /// VIGIL_* environment overrides and a .env file in the current directory.
    #[arg(long, short = 'c')]
    config: Option<PathBuf>,
    /// Also tail these files, directories or globs.
    #[arg(long = "file", value_name = "PATH")]
    files: Vec<String>,
    /// Also read events from stdin.
    #[arg(long)]
    stdin: bool,
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let mut config = crate::config::load(args.config.as_deref()).map_err(|e| anyhow::anyhow!("{e}"))?;
    if !args.files.is_empty() {
        config.sources.file.push(crate::config::FileSourceConfig {
            paths: args.files,
            source: None,
            start_at: crate::config::StartAt::Beginning,
            poll_interval: std::time::Duration::from_millis(250),
        });
    }
    if args.stdin {
        config.sources.stdin = Some(crate::config::StdinSourceConfig { enabled: true, source: None });
    }
    let daemon = Daemon::start(&config)?;
    eprintln!(
        "vigil: running; store {}, {} rules loaded ({} rejected), {} file sources",
        config.store.dir.display(),
        daemon.rules_loaded,
        daemon.rules_rejected,
        config.sources.file.len()
    );
    if let Some(addr) = daemon.api_addr {
        eprintln!("vigil: API on http://{addr}");
        if config.api.write_token.as_deref().is_none_or(str::is_empty) {
            eprintln!("vigil: write token (generated; set api.write_token to fix it): {}", daemon.write_token);
        }
    }
    wait_for_signal().context("waiting for a signal")?;
    eprintln!("vigil: stopping; draining in-flight events");
    let report = daemon.stop();
    eprintln!(
        "vigil: stopped; {} events stored, {} alerts ({} repeats folded), {} dead letters",
        report.events_stored, report.alerts_new, report.alerts_repeated, report.dead_letters
    );
    Ok(if report.commit_failures > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// Blocks until SIGINT (Ctrl-C) or SIGTERM.
pub fn wait_for_signal() -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        #[cfg(unix)]
        {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
            tokio::select! {
                r = tokio::signal::ctrl_c() => r,
                _ = term.recv() => Ok(()),
            }
        }
        #[cfg(not(unix))]
        {
            tokio::signal::ctrl_c().await
        }
    })
}
