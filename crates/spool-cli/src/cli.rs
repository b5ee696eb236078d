//! The command line: parsing, settings, output and exit codes. `main.rs` only calls [`main`].

pub mod args;
pub mod config;
pub mod connect;
pub mod exit;
pub mod options;
pub mod output;
pub mod progress;
pub mod secret;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser};
use spool_backend::core::redact_url;
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
/// Errors are one line on stderr (`error: ...`) and a non-zero exit ([`exit`]): 2 for
/// every input the user must correct, 1 for failures outside the user's input.
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
        Err(err) => return fail(&exit::as_input(err), &command),
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
    let outcome = match runtime.block_on(cli.command.run(&settings)) {
        Ok(outcome) => outcome,
        Err(err) => return fail(&err, &command),
    };
    finish(&outcome, settings.json, &command)
}

/// Prints `outcome` and picks the exit code (0, or [`exit::WAIT_INCOMPLETE`],
/// [`exit::BROADCAST_NOT_PRINTED`], 1).
fn finish(outcome: &output::Outcome, json: bool, command: &str) -> ExitCode {
    use std::io::Write;
    if let Err(err) = outcome.print(json) {
        return match outcome.broadcast_txid() {
            Some(txid) => {
                let _ = writeln!(
                    std::io::stderr(),
                    "error: transaction {txid} was broadcast, but its output could not be printed ({}); do not repeat the action",
                    one_line(&err, command)
                );
                ExitCode::from(exit::BROADCAST_NOT_PRINTED)
            }
            None => fail(&err, command),
        };
    }
    match outcome.incomplete_reason() {
        Some(incomplete) => {
            let _ = writeln!(
                std::io::stderr(),
                "error: {}",
                printable(&incomplete.message)
            );
            ExitCode::from(incomplete.code)
        }
        None => ExitCode::SUCCESS,
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
                ExitCode::from(exit::INPUT)
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
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "error: {}", printable(line));
            ExitCode::from(exit::INPUT)
        }
    }
}

/// Prints an error and its causes on one line of stderr; the exit code says whose it is
/// ([`exit::code`]).
fn fail(err: &anyhow::Error, command: &str) -> ExitCode {
    use std::io::Write;
    // A closed stderr must not turn into a panic.
    let _ = writeln!(
        std::io::stderr(),
        "error: {}",
        printable(&one_line(err, command))
    );
    ExitCode::from(exit::code(err))
}

/// Longest error line printed, in characters after escaping (the rest is cut, and counted).
pub const MAX_ERROR_CHARS: usize = 400;

/// An error line made safe to print: credentials in URLs removed (`scheme://***@host`),
/// control characters escaped, and cut to [`MAX_ERROR_CHARS`] characters.
pub fn printable(line: &str) -> String {
    let line = redact_urls(line);
    let mut out = String::new();
    let mut written = 0;
    let total = line.chars().count();
    for (used, c) in line.chars().enumerate() {
        if written >= MAX_ERROR_CHARS {
            out.push_str(&format!("... ({} more characters)", total - used));
            break;
        }
        if c.is_control() {
            let escaped: String = c.escape_default().collect();
            written += escaped.chars().count();
            out.push_str(&escaped);
        } else {
            written += 1;
            out.push(c);
        }
    }
    out
}

/// `text` with the `user:password@` part of every `scheme://` URL replaced by `***@`
/// (each URL, up to white space or a quote, through the backend's [`redact_url`]).
fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        let end = after
            .find(|c: char| c.is_whitespace() || c == '"')
            .unwrap_or(after.len());
        out.push_str(&redact_url(&after[..end]));
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// An error and its chain of causes as one line, `outer: inner: root`. Each error says only
/// what it adds (none repeats its source), so every cause is printed once. The engine's
/// typed errors are told in `command`'s terms, with the command that would help.
pub fn one_line(err: &anyhow::Error, command: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let text = match plan_error(cause) {
            Some(plan) => render_plan_error(plan, command),
            None => cause.to_string(),
        }
        .replace('\n', " ");
        // Some errors (I/O, HTTP clients) repeat their source in their own text: each cause
        // is printed once.
        if text.is_empty() || parts.iter().any(|part| part.contains(&text)) {
            continue;
        }
        parts.push(text);
    }
    parts.join(": ")
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
    use std::io::IsTerminal;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .without_time()
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_redacts_every_url_in_a_line_and_escapes_control_bytes() {
        let line = "cannot reach http://alice:pw@127.0.0.1:8332/wallet and \
                    \"https://u@esplora.example/api\" nor http://plain:1\n";
        assert_eq!(
            printable(line),
            "cannot reach http://***@127.0.0.1:8332/wallet and \
             \"https://***@esplora.example/api\" nor http://plain:1\\n"
        );
        assert!(!printable(line).contains("pw"));
    }

    /// An error whose text repeats its source's, as I/O and HTTP client errors do.
    #[derive(Debug)]
    struct Repeating(std::io::Error);

    impl std::fmt::Display for Repeating {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{}", self.0)
        }
    }

    impl std::error::Error for Repeating {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn one_line_prints_each_cause_once() {
        // issue 17: `Connection refused (os error 111): Connection refused (os error 111)`.
        let io = std::io::Error::from_raw_os_error(111);
        let text = io.to_string();
        let err = anyhow::Error::new(Repeating(io)).context("cannot reach http://127.0.0.1:1");
        let line = one_line(&err, "history");
        assert_eq!(line, format!("cannot reach http://127.0.0.1:1: {text}"));
        assert_eq!(line.matches(&text).count(), 1, "{line}");
        // Distinct causes are all kept, in order.
        let err = anyhow::anyhow!("root").context("middle").context("outer");
        assert_eq!(one_line(&err, "history"), "outer: middle: root");
    }
}
