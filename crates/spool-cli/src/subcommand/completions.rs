//! `spool completions SHELL`: a completion script for bash, zsh, fish or PowerShell on
//! stdout (clap_complete), e.g. `spool completions bash > ~/.local/share/bash-completion/completions/spool`.

use clap::{Args, CommandFactory};
use clap_complete::Shell;
use serde::Serialize;

use crate::cli::output::Outcome;
use crate::cli::Cli;

/// The shells completions are generated for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CompletionShell {
    /// Bash.
    Bash,
    /// Zsh.
    Zsh,
    /// Fish.
    Fish,
    /// PowerShell.
    Powershell,
}

/// `spool completions`'s arguments.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: CompletionShell,
}

/// `{shell, script}` with `--json`; the bare script otherwise.
#[derive(Debug, Clone, Serialize)]
pub struct Output {
    /// The shell.
    pub shell: CompletionShell,
    /// The completion script.
    pub script: String,
}

impl CompletionsArgs {
    /// Runs the command.
    ///
    /// # Errors
    ///
    /// The script is not valid UTF-8 (never for clap_complete's generators).
    pub fn run(&self) -> anyhow::Result<Outcome> {
        let shell = match self.shell {
            CompletionShell::Bash => Shell::Bash,
            CompletionShell::Zsh => Shell::Zsh,
            CompletionShell::Fish => Shell::Fish,
            CompletionShell::Powershell => Shell::PowerShell,
        };
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut Cli::command(), "spool", &mut script);
        let script = String::from_utf8(script)?;
        let output = Output {
            shell: self.shell,
            script: script.clone(),
        };
        Outcome::new(&output, script)
    }
}
