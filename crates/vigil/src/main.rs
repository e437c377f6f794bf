//! `vigil`: argument parsing and wiring. The work happens in the library crates.

mod cmd;
mod decode;
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Hunt(args) => cmd::hunt::run(args),
        Command::Rules(command) => cmd::rules_cmd::run(command),
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
