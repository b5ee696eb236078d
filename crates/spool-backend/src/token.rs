//! The bearer token that guards `spool serve`'s writes, shared by the server (which checks
//! it) and [`crate::server::ServerBackend`] (which sends it).
//!
//! A token is a secret: it never appears in `Debug` output, errors or logs, and it is read
//! from a file or an environment variable, never from the command line.

use std::path::{Path, PathBuf};

/// The fewest characters a token may have.
pub const MIN_TOKEN_LEN: usize = 16;

/// The environment variable clients read the token from.
pub const TOKEN_ENV: &str = "SPOOL_SERVER_TOKEN";

/// A write token for `spool serve`'s API.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiToken(String);

impl std::fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiToken(<secret>)")
    }
}

/// Why a token could not be read. Never carries the token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The file could not be read.
    #[error("cannot read the API token file {path}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The token is not a usable bearer token.
    #[error("the API token from {from} is unusable: {problem}")]
    Unusable {
        /// Where it came from (a file path or an environment variable's name).
        from: String,
        /// What is wrong with it (never the token itself).
        problem: String,
    },
}

impl ApiToken {
    /// A token from `text` read from `from` (named in errors): one trailing newline (`\n` or
    /// `\r\n`) is dropped, as a file written by `echo` ends; the rest must be at least
    /// [`MIN_TOKEN_LEN`] visible ASCII characters (what an HTTP header can carry).
    ///
    /// # Errors
    /// [`TokenError::Unusable`] for an empty, short or non-printable token.
    pub fn parse(text: &str, from: &str) -> Result<ApiToken, TokenError> {
        let token = text
            .strip_suffix("\r\n")
            .or_else(|| text.strip_suffix('\n'))
            .unwrap_or(text);
        let unusable = |problem: String| TokenError::Unusable {
            from: from.to_owned(),
            problem,
        };
        if token.is_empty() {
            return Err(unusable("it is empty".to_owned()));
        }
        if let Some(position) = token.chars().position(|c| !c.is_ascii_graphic()) {
            return Err(unusable(format!(
                "character {} is not visible ASCII (spaces and line breaks cannot be sent in a header)",
                position + 1
            )));
        }
        if token.len() < MIN_TOKEN_LEN {
            return Err(unusable(format!(
                "it has {} characters; a token needs at least {MIN_TOKEN_LEN}",
                token.len()
            )));
        }
        Ok(ApiToken(token.to_owned()))
    }

    /// The token in the file at `path` (see [`ApiToken::parse`]).
    ///
    /// # Errors
    /// [`TokenError`]: the file cannot be read, or its token is unusable.
    pub fn from_file(path: &Path) -> Result<ApiToken, TokenError> {
        let text = std::fs::read_to_string(path).map_err(|source| TokenError::Unreadable {
            path: path.to_owned(),
            source,
        })?;
        ApiToken::parse(&text, &path.display().to_string())
    }

    /// The `Authorization` header's value: `Bearer <token>`.
    pub fn header_value(&self) -> String {
        format!("Bearer {}", self.0)
    }

    /// Whether an `Authorization` header's value presents this token, compared in time that
    /// does not depend on where the first difference is.
    pub fn accepts(&self, authorization: &[u8]) -> bool {
        let Some(presented) = authorization.strip_prefix(b"Bearer ") else {
            return false;
        };
        let expected = self.0.as_bytes();
        if presented.len() != expected.len() {
            return false;
        }
        presented
            .iter()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_checked_and_never_shown() {
        let token = ApiToken::parse("s3cret-token-0123456789\n", "file t").unwrap();
        assert_eq!(format!("{token:?}"), "ApiToken(<secret>)");
        assert!(token.accepts(b"Bearer s3cret-token-0123456789"));
        assert!(!token.accepts(b"Bearer s3cret-token-012345678X"));
        assert!(!token.accepts(b"Bearer s3cret"));
        assert!(!token.accepts(b"s3cret-token-0123456789"));
        let short = ApiToken::parse("short", "file t").unwrap_err().to_string();
        assert_eq!(
            short,
            "the API token from file t is unusable: it has 5 characters; a token needs at least 16"
        );
        let spaced = ApiToken::parse("with a space in the token", "E")
            .unwrap_err()
            .to_string();
        assert!(
            spaced.contains("character 5 is not visible ASCII"),
            "{spaced}"
        );
        assert!(!spaced.contains("with a space"), "{spaced}");
        assert!(ApiToken::parse("\n", "E")
            .unwrap_err()
            .to_string()
            .ends_with("it is empty"));
    }
}
