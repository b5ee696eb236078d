//! The command line: parsing, settings, output and exit codes. `main.rs` only calls [`main`].

pub mod args;
pub mod config;
pub mod connect;
pub mod options;
pub mod output;
pub mod progress;
pub mod secret;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser};
use spool_engine::plan::PlanError;
use spool_engine::EngineError;

use crate::subcommand::Subcommand;
use options::GlobalOptions;

/// `spool`: SPOOL (ascribe's Secure Public Online Ownership Ledger) on Bitcoin.
#[derive(Debug, Parser)]
#[command(name = "spool", version, propagate_version = true)]
pub struct Cli {
    /// Options every subcommand accepts, before or after it.
    #[command(flatten)]
    pub options: GlobalOptions,
    /// What to do.
    #[command(subcommand)]
    pub command: Subcommand,
}

/// Runs the CLI with the process's arguments and returns its exit code.
///
/// Errors are one line on stderr (`error: ...`) and a non-zero exit: 2 for usage errors,
/// 1 for everything else.
pub fn main() -> ExitCode {
    let matches = match Cli::command().try_get_matches() {
        Ok(matches) => matches,
        Err(err) => return usage_error(err),
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(err) => return usage_error(err),
    };
    // The subcommand's name, e.g. `register-piece`: refusals are told in its terms.
    let command = matches.subcommand_name().unwrap_or("spool").to_owned();
    let settings = match cli.options.resolve() {
        Ok(settings) => settings,
        Err(err) => return fail(&err, &command),
    };
    init_logging(settings.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            let err = anyhow::Error::new(err).context("cannot start the runtime");
            return fail(&err, &command);
        }
    };
    let outcome = runtime.block_on(cli.command.run(&settings));
    match outcome.and_then(|outcome| outcome.print(settings.json)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => fail(&err, &command),
    }
}

fn usage_error(err: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match err.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = err.print();
            if err.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            }
        }
        _ => {
            let rendered = err.render().to_string();
            let line = rendered
                .lines()
                .map(str::trim)
                .filter(|line| {
                    !line.is_empty()
                        && !line.starts_with("Usage:")
                        && !line.starts_with("For more information")
                })
                .collect::<Vec<_>>()
                .join(" ");
            let line = line.strip_prefix("error: ").unwrap_or(&line);
            eprintln!("error: {line}");
            ExitCode::from(2)
        }
    }
}

/// Prints an error and its causes on one line of stderr; exit code 1 (2 for a command that
/// needs `--server` run without one: a usage error).
fn fail(err: &anyhow::Error, command: &str) -> ExitCode {
    eprintln!("error: {}", one_line(err, command));
    if err.downcast_ref::<connect::NeedsServer>().is_some() {
        return ExitCode::from(2);
    }
    ExitCode::FAILURE
}

/// An error and its chain of causes as one line, `outer: inner: root`. Each error says only
/// what it adds (none repeats its source), so every cause is printed once. The engine's
/// typed errors are told in `command`'s terms, with the command that would help.
pub fn one_line(err: &anyhow::Error, command: &str) -> String {
    err.chain()
        .map(|cause| match plan_error(cause) {
            Some(plan) => render_plan_error(plan, command),
            None => cause.to_string(),
        })
        .map(|text| text.replace('\n', " "))
        .collect::<Vec<_>>()
        .join(": ")
}

fn plan_error<'a>(cause: &'a (dyn std::error::Error + 'static)) -> Option<&'a PlanError> {
    match cause.downcast_ref::<EngineError>() {
        Some(EngineError::Plan(plan)) => Some(plan),
        _ => cause.downcast_ref::<PlanError>(),
    }
}

/// The engine's refusal or shortage, with the CLI's name of the action and its remedy.
fn render_plan_error(err: &PlanError, command: &str) -> String {
    match err {
        PlanError::Refused { reason, .. } => format!("{command} refused: {reason}"),
        PlanError::NotEnoughFuel { shortage, .. } => format!(
            "{err}; refill it: spool refill --to {} --fees {} --tokens {}",
            shortage.address, shortage.need_fuel, shortage.need_tokens
        ),
        PlanError::NoSpendableOutputs { .. } => {
            format!("{err}; refill it (spool refill, or spool refill-main for the federation)")
        }
        other => other.to_string(),
    }
}

fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("SPOOL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time()
        .try_init();
}
