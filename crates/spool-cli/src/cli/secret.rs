//! Where a wallet's master secret comes from: an environment variable named by
//! `--secret-env`, a file named by `--secret-file`, an open file descriptor given by
//! `--secret-fd`, or a prompt on the terminal. Never argv; never echoed, logged or put in an
//! error message.
//!
//! One convenience rule for the variable and the file: a single trailing newline (`\n` or
//! `\r\n`) is not part of the secret; everything else is, byte for byte. `--secret-exact`
//! turns the rule off, and `--secret-fd` never applies it: pyspool took a secret verbatim,
//! so a pyspool secret that ends in a newline is reached only through these two.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;
use spool_wallet::{LeafPath, MasterSecret};

/// The signer's secret source and leaf path.
#[derive(Debug, Clone, Default, Args)]
pub struct SecretArgs {
    /// Name of the environment variable holding the wallet's master secret (one trailing
    /// newline is ignored unless --secret-exact).
    #[arg(long, value_name = "VAR", conflicts_with_all = ["secret_file", "secret_fd"])]
    pub secret_env: Option<String>,
    /// File holding the wallet's master secret (one trailing newline is ignored unless
    /// --secret-exact).
    #[arg(long, value_name = "PATH", conflicts_with = "secret_fd")]
    pub secret_file: Option<PathBuf>,
    /// An open file descriptor to read the master secret from, byte for byte to its end
    /// (nothing is stripped), e.g. `--secret-fd 3 3<secret.txt` (Unix).
    #[arg(long, value_name = "N")]
    pub secret_fd: Option<u32>,
    /// Take the secret of --secret-env or --secret-file exactly as it is: a trailing newline
    /// is part of it (pyspool took secrets verbatim).
    #[arg(long)]
    pub secret_exact: bool,
}

/// A secret read from its source, and whether a trailing newline was dropped from it.
#[derive(Debug)]
pub struct ReadSecret {
    /// The master secret.
    pub secret: MasterSecret,
    /// Whether one trailing newline was dropped (the convenience rule applied).
    pub dropped_newline: bool,
}

/// What `wallet address` says on stderr when the convenience rule dropped a newline.
pub const DROPPED_NEWLINE_NOTE: &str = "note: one trailing newline was dropped from the secret; \
     give --secret-exact (or --secret-fd) if it is part of the secret, as pyspool took it";

impl SecretArgs {
    /// Reads the secret from the chosen source, or prompts on a terminal.
    ///
    /// # Errors
    ///
    /// The secret's source cannot be read or is empty.
    pub fn read(&self) -> anyhow::Result<MasterSecret> {
        Ok(self.read_reporting()?.secret)
    }

    /// [`SecretArgs::read`], saying whether a trailing newline was dropped.
    ///
    /// # Errors
    ///
    /// The secret's source cannot be read or is empty.
    pub fn read_reporting(&self) -> anyhow::Result<ReadSecret> {
        self.read_source().map_err(crate::cli::exit::as_input)
    }

    /// The bytes as the rule gives them: verbatim with --secret-exact, else without one
    /// trailing newline.
    fn apply_rule(&self, bytes: Vec<u8>) -> (Vec<u8>, bool) {
        if self.secret_exact {
            return (bytes, false);
        }
        let before = bytes.len();
        let bytes = strip_one_newline(bytes);
        let dropped = bytes.len() != before;
        (bytes, dropped)
    }

    fn read_source(&self) -> anyhow::Result<ReadSecret> {
        if let Some(fd) = self.secret_fd {
            let bytes = read_fd(fd)?;
            if bytes.is_empty() {
                bail!("file descriptor {fd} (from --secret-fd) gave an empty secret");
            }
            return Ok(ReadSecret {
                secret: MasterSecret::new(bytes),
                dropped_newline: false,
            });
        }
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
                    let (bytes, dropped_newline) = self.apply_rule(os_bytes(value)?);
                    if bytes.is_empty() {
                        bail!("environment variable {var} (from --secret-env) is empty");
                    }
                    Ok(ReadSecret {
                        secret: MasterSecret::new(bytes),
                        dropped_newline,
                    })
                }
                None => bail!("environment variable {var} (from --secret-env) is not set"),
            };
        }
        if let Some(path) = &self.secret_file {
            warn_if_readable_by_others(path);
            let bytes = std::fs::read(path)
                .with_context(|| format!("cannot read secret file {}", path.display()))?;
            let (bytes, dropped_newline) = self.apply_rule(bytes);
            if bytes.is_empty() {
                bail!("secret file {} is empty", path.display());
            }
            return Ok(ReadSecret {
                secret: MasterSecret::new(bytes),
                dropped_newline,
            });
        }
        if !std::io::stdin().is_terminal() {
            bail!("no wallet secret: give --secret-env VAR, --secret-file PATH or --secret-fd N (there is no terminal to prompt on)");
        }
        let typed = rpassword::prompt_password("wallet master secret: ")
            .context("cannot read the secret from the terminal")?;
        if typed.is_empty() {
            bail!("empty wallet secret");
        }
        Ok(ReadSecret {
            secret: MasterSecret::new(typed),
            dropped_newline: false,
        })
    }
}

/// Every byte readable from the open file descriptor `fd`, through `/dev/fd/N`.
fn read_fd(fd: u32) -> anyhow::Result<Vec<u8>> {
    if !cfg!(unix) {
        bail!("--secret-fd needs a Unix system (/dev/fd)");
    }
    let path = format!("/dev/fd/{fd}");
    std::fs::read(&path).with_context(|| {
        format!("cannot read the secret from file descriptor {fd} (from --secret-fd); open it in the shell, e.g. `{fd}<FILE`")
    })
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
            ..SecretArgs::default()
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
            ..SecretArgs::default()
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
            ..SecretArgs::default()
        };
        let err = args.read().unwrap_err().to_string();
        assert!(err.contains("SPOOL_TEST_SURELY_UNSET_VARIABLE"), "{err}");
    }
}
