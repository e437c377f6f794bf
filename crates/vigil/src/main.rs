//! `vigil`: argument parsing and wiring. The work happens in the library crates.

mod cmd;
mod config;
mod daemon;
mod output;
mod rules;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "vigil", version, about = "Real-time security-event detection with Sigma rules")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run Sigma rules over event files (JSON, JSONL, .gz, EVTX, directories).
    Hunt(cmd::hunt::HuntArgs),
    /// Rule maintenance: load checks.
    #[command(subcommand)]
    Rules(cmd::rules_cmd::RulesCommand),
    /// Run the daemon: tail files, listen for syslog and HTTP, detect, store, serve the API.
    Run(cmd::run::RunArgs),
    /// One command to see it work: the daemon on a fresh store, fed generated attacks.
    Demo(cmd::demo::DemoArgs),
    /// Emit synthetic traffic in real source formats with labelled attacks.
    Generate(cmd::generate::GenerateArgs),
    /// Pipe stage: decode records (files or stdin) into enriched events, one JSON per line.
    Parse(cmd::pipe_stages::parse::ParseArgs),
    /// Pipe stage: evaluate rules over enriched events from stdin; write them through with alerts.
    Detect(cmd::pipe_stages::detect::DetectArgs),
    /// Pipe stage: store event, alert and dead-letter lines from stdin.
    Sink(cmd::pipe_stages::sink::SinkArgs),
    /// STIX 2.1: build bundles from events and alerts, import validated bundles.
    #[command(subcommand)]
    Stix(cmd::stix::StixCommand),
    /// Check a configuration file and report every mistake with its location.
    Validate {
        /// The configuration file (TOML).
        config: std::path::PathBuf,
    },
}

/// mimalloc rather than glibc's malloc: with decoding, the writer and the committer
/// allocating and freeing event text on different threads, glibc kept ~100 MB more
/// resident over the 525k-record daemon bench (301-419 MB, also with
/// MALLOC_ARENA_MAX=2) than the goal allows; mimalloc 217-243 MB, and +24-31 % events
/// stored per second (scripts/bench/daemon-file.sh, alternating builds, session 9).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Hunt(args) => cmd::hunt::run(args),
        Command::Rules(command) => cmd::rules_cmd::run(command),
        Command::Run(args) => cmd::run::run(args),
        Command::Demo(args) => cmd::demo::run(args),
        Command::Generate(args) => cmd::generate::run(args),
        Command::Parse(args) => cmd::pipe_stages::parse::run(args),
        Command::Detect(args) => cmd::pipe_stages::detect::run(args),
        Command::Sink(args) => cmd::pipe_stages::sink::run(args),
        Command::Stix(command) => cmd::stix::run(command),
        Command::Validate { config } => config::validate_cmd::run(&config),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // A closed pipe (`vigil hunt … | head`) is a normal way to stop.
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("vigil: {e:#}");
            ExitCode::from(2)
        }
    }
}
