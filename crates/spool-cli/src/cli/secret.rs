//! Where a wallet's master secret comes from: an environment variable named by
//! `--secret-env`, a file named by `--secret-file`, or a prompt on the terminal. Never argv;
//! never echoed, logged or put in an error message.
//!
//! One rule for the variable and the file: a single trailing newline (`\n` or `\r\n`) is
//! not part of the secret; everything else is, byte for byte.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;
use spool_wallet::{LeafPath, MasterSecret};

/// The signer's secret source and leaf path.
#[derive(Debug, Clone, Default, Args)]
pub struct SecretArgs {
    /// Name of the environment variable holding the wallet's master secret (one trailing
    /// newline is ignored).
    #[arg(long, value_name = "VAR", conflicts_with = "secret_file")]
    pub secret_env: Option<String>,
    /// File holding the wallet's master secret (one trailing newline is ignored).
    #[arg(long, value_name = "PATH")]
    pub secret_file: Option<PathBuf>,
}

impl SecretArgs {
    /// Reads the secret from the chosen source, or prompts on a terminal.
    ///
    /// # Errors
    ///
    /// The secret's source cannot be read or is empty.
    pub fn read(&self) -> anyhow::Result<MasterSecret> {
        self.read_source().map_err(crate::cli::exit::as_input)
    }

    fn read_source(&self) -> anyhow::Result<MasterSecret> {
        if let Some(var) = &self.secret_env {
            if !valid_variable_name(var) {
                // The value is not echoed: it may be the secret itself, typed by mistake.
                bail!(
                    "the value given to --secret-env is not a valid environment variable name \
                     (letters, digits and _, not starting with a digit)"
                );
            }
            return match std::env::var_os(var) {
                Some(value) => {
                    let bytes = strip_one_newline(os_bytes(value)?);
                    if bytes.is_empty() {
                        bail!("environment variable {var} (from --secret-env) is empty");
                    }
                    Ok(MasterSecret::new(bytes))
                }
                None => bail!("environment variable {var} (from --secret-env) is not set"),
            };
        }
        if let Some(path) = &self.secret_file {
            warn_if_readable_by_others(path);
            let bytes = std::fs::read(path)
                .with_context(|| format!("cannot read secret file {}", path.display()))?;
            let bytes = strip_one_newline(bytes);
            if bytes.is_empty() {
                bail!("secret file {} is empty", path.display());
            }
            return Ok(MasterSecret::new(bytes));
        }
        if !std::io::stdin().is_terminal() {
            bail!("no wallet secret: give --secret-env VAR or --secret-file PATH (there is no terminal to prompt on)");
        }
        let typed = rpassword::prompt_password("wallet master secret: ")
            .context("cannot read the secret from the terminal")?;
        if typed.is_empty() {
            bail!("empty wallet secret");
        }
        Ok(MasterSecret::new(typed))
    }
}

/// The bytes of an environment value: any bytes on Unix, Unicode elsewhere.
#[cfg(unix)]
fn os_bytes(value: std::ffi::OsString) -> anyhow::Result<Vec<u8>> {
    use std::os::unix::ffi::OsStringExt;
    Ok(value.into_vec())
}

/// The bytes of an environment value: any bytes on Unix, Unicode elsewhere.
#[cfg(not(unix))]
fn os_bytes(value: std::ffi::OsString) -> anyhow::Result<Vec<u8>> {
    match value.into_string() {
        Ok(text) => Ok(text.into_bytes()),
        Err(_) => bail!("the secret's environment variable is not valid Unicode"),
    }
}

/// Whether `name` is a portable environment variable name: `[A-Za-z_][A-Za-z0-9_]*`.
fn valid_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The secret without one trailing `\n` or `\r\n` (the documented rule for both sources).
fn strip_one_newline(mut bytes: Vec<u8>) -> Vec<u8> {
    if bytes.ends_with(b"\n") {
        bytes.pop();
        if bytes.ends_with(b"\r") {
            bytes.pop();
        }
    }
    bytes
}

/// Warns on stderr when other users may read the secret file.
fn warn_if_readable_by_others(path: &std::path::Path) {
    #[cfg(unix)]
    {
        use std::io::Write;
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                let _ = writeln!(
                    std::io::stderr(),
                    "warning: secret file {} can be read by other users (mode {mode:04o}); \
                     chmod 600 it",
                    path.display()
                );
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// Parses `--path`: a non-hardened leaf path, `""` for the root.
///
/// # Errors
///
/// A path that is not `/`-separated non-hardened indices.
pub fn parse_path(text: &str) -> Result<LeafPath, String> {
    LeafPath::parse(text).map_err(|err| err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_from_file_without_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secret");
        std::fs::write(&file, "sesame\n").unwrap();
        let args = SecretArgs {
            secret_env: None,
            secret_file: Some(file),
        };
        assert_eq!(args.read().unwrap().expose_bytes(), b"sesame");
    }

    #[test]
    fn one_newline_rule_for_variable_and_file_and_names_checked() {
        assert_eq!(strip_one_newline(b"a\n".to_vec()), b"a");
        assert_eq!(strip_one_newline(b"a\r\n".to_vec()), b"a");
        assert_eq!(strip_one_newline(b"a\n\n".to_vec()), b"a\n");
        assert!(valid_variable_name("SPOOL_SECRET_1") && valid_variable_name("_x"));
        assert!(!valid_variable_name("1X") && !valid_variable_name("my secret words"));
        let args = SecretArgs {
            secret_env: Some("my secret words".into()),
            secret_file: None,
        };
        let err = args.read().unwrap_err().to_string();
        assert!(
            err.contains("not a valid environment variable name"),
            "{err}"
        );
        assert!(!err.contains("secret words"), "{err}");
    }

    #[test]
    fn errors_name_the_variable_never_the_value() {
        let args = SecretArgs {
            secret_env: Some("SPOOL_TEST_SURELY_UNSET_VARIABLE".into()),
            secret_file: None,
        };
        let err = args.read().unwrap_err().to_string();
        assert!(err.contains("SPOOL_TEST_SURELY_UNSET_VARIABLE"), "{err}");
    }
}
