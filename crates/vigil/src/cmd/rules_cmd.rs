//! `vigil rules check` and `vigil rules test`.

use clap::{Args, Subcommand};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum RulesCommand {
    /// Load rules and report every one that is rejected, and why.
    Check(CheckArgs),
    /// Run every rule against the test events written in it (`tests:`).
    Test(super::rules_test::TestArgs),
}

#[derive(Args)]
pub struct CheckArgs {
    /// Rule files or directories.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Processing pipeline YAML (repeatable).
    #[arg(long = "pipeline")]
    pipelines: Vec<PathBuf>,
    /// Do not load the built-in Windows pipeline.
    #[arg(long)]
    no_builtin_pipeline: bool,
    /// Also print warnings (e.g. rules without a Windows channel mapping).
    #[arg(long, short)]
    verbose: bool,
}

pub fn run(command: RulesCommand) -> anyhow::Result<ExitCode> {
    match command {
        RulesCommand::Check(args) => check(args),
        RulesCommand::Test(args) => super::rules_test::run(args),
    }
}

fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let pipelines = crate::rules::pipelines(&args.pipelines, !args.no_builtin_pipeline)?;
    let compiled = crate::rules::compile(&args.paths, &pipelines)?;
    let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &compiled.errors {
        println!("rejected: {e}");
        *by_kind.entry(e.error.kind()).or_default() += 1;
    }
    // Hunts build regexes on first use; here every one is built, so none fails later.
    let regex_failures = compiled.rules.force_regexes();
    for (pattern, reason) in &regex_failures {
        println!("rejected: regex `{pattern}` cannot be built and would match nothing: {reason}");
        *by_kind.entry("regex").or_default() += 1;
    }
    if args.verbose {
        for w in &compiled.warnings {
            let path = w.path.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
            println!("warning: {path} [{}]: {}", w.title, w.message);
        }
        for r in compiled.rules.untriggered() {
            let path = r.meta.source.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
            println!("untriggered: {path} [{}] logsource {}", r.meta.title, r.logsource);
        }
    }
    let set = &compiled.rules;
    let loaded = set.rules().len() + set.correlations().len();
    let reasons = by_kind.iter().map(|(k, n)| format!("{n} {k}")).collect::<Vec<_>>().join(", ");
    println!(
        "{loaded} loaded ({} rules, {} correlations), {} rejected{}",
        set.rules().len(),
        set.correlations().len(),
        compiled.errors.len() + regex_failures.len(),
        if reasons.is_empty() { String::new() } else { format!(" ({reasons})") }
    );
    println!(
        "{} warnings; {} distinct literals ({} triggers, {} KiB of automata); {} rules need evaluation on every event of their logsource",
        compiled.warnings.len(),
                set.pattern_count(),
        set.trigger_literal_count(),
        set.automata_memory() / 1024,
        set.untriggered_rules()
    );
    Ok(if compiled.errors.is_empty() && regex_failures.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
