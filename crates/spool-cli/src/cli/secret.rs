//! Where a wallet's master secret comes from: an environment variable named by
//! `--secret-env`, a file named by `--secret-file`, or a prompt on the terminal. Never argv;
//! never echoed, logged or put in an error message.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;
use spool_wallet::{LeafPath, MasterSecret};

/// The signer's secret source and leaf path.
#[derive(Debug, Clone, Default, Args)]
pub struct SecretArgs {
    /// Name of the environment variable holding the wallet's master secret.
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
            return match std::env::var_os(var) {
                Some(value) if !value.is_empty() => Ok(MasterSecret::new(os_bytes(value)?)),
                Some(_) => bail!("environment variable {var} (from --secret-env) is empty"),
                None => bail!("environment variable {var} (from --secret-env) is not set"),
            };
        }
        if let Some(path) = &self.secret_file {
            let mut bytes = std::fs::read(path)
                .with_context(|| format!("cannot read secret file {}", path.display()))?;
            if bytes.ends_with(b"\n") {
                bytes.pop();
                if bytes.ends_with(b"\r") {
                    bytes.pop();
                }
            }
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
    fn errors_name_the_variable_never_the_value() {
        let args = SecretArgs {
            secret_env: Some("SPOOL_TEST_SURELY_UNSET_VARIABLE".into()),
            secret_file: None,
        };
        let err = args.read().unwrap_err().to_string();
        assert!(err.contains("SPOOL_TEST_SURELY_UNSET_VARIABLE"), "{err}");
    }
}
