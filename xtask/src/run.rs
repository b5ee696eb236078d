//! Running cargo and other programs, with the step named in every failure.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::{workspace_root, Result};

/// The cargo that runs this xtask.
fn cargo_command() -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.current_dir(workspace_root());
    command
}

/// Runs `cargo ARGS`, failing with `step` named.
pub fn cargo(args: &[&str], step: &str) -> Result<()> {
    cargo_env(args, &[], step)
}

/// Runs `cargo ARGS` with extra environment variables, failing with `step` named.
pub fn cargo_env(args: &[&str], env: &[(&str, &OsStr)], step: &str) -> Result<()> {
    let mut command = cargo_command();
    command.args(args);
    for (key, value) in env {
        command.env(key, value);
    }
    eprintln!("xtask: {step}: cargo {}", args.join(" "));
    status(&mut command, step)
}

/// Runs a command to completion; a non-zero exit is an error naming `step`.
pub fn status(command: &mut Command, step: &str) -> Result<()> {
    let status = command
        .status()
        .map_err(|err| format!("{step}: cannot run {:?}: {err}", command.get_program()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{step} failed ({status})").into())
    }
}

/// Whether `cargo SUB --version` works.
pub fn has_subcommand(sub: &str) -> bool {
    cargo_command()
        .args([sub, "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether cargo-nextest is installed.
pub fn has_nextest() -> bool {
    has_subcommand("nextest")
}

/// The cargo target directory of this workspace.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                workspace_root().join(dir)
            }
        }
        None => workspace_root().join("target"),
    }
}
