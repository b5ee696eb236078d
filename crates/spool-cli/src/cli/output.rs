//! What a subcommand produces: a JSON document for `--json`, and text for people.

use std::io::Write;

use serde::Serialize;

/// The result of a subcommand, printed once on stdout.
#[derive(Debug)]
pub struct Outcome {
    json: serde_json::Value,
    text: String,
    /// Print the text even with `--json` (an explicitly chosen format, a script).
    text_only: bool,
    broadcast: Option<String>,
    incomplete: Option<Incomplete>,
}

/// Why a subcommand's output is printed but the run still fails (a wait that did not end
/// in a confirmation): the line for stderr, and the exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incomplete {
    /// The one-line error for stderr (without `error: `).
    pub message: String,
    /// The exit code.
    pub code: u8,
}

impl Outcome {
    /// An outcome from its JSON form and its human-readable text.
    ///
    /// # Errors
    ///
    /// The output cannot be serialised as JSON.
    pub fn new(output: &impl Serialize, text: impl Into<String>) -> anyhow::Result<Outcome> {
        Ok(Outcome {
            json: serde_json::to_value(output)?,
            text: text.into(),
            text_only: false,
            broadcast: None,
            incomplete: None,
        })
    }

    /// An outcome whose human-readable form is `key: value` lines of its JSON object.
    ///
    /// # Errors
    ///
    /// The output cannot be serialised as JSON.
    pub fn fields(output: &impl Serialize) -> anyhow::Result<Outcome> {
        let json = serde_json::to_value(output)?;
        let mut text = String::new();
        if let serde_json::Value::Object(map) = &json {
            for (key, value) in map {
                let shown = match value {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Null => "-".to_string(),
                    other => other.to_string(),
                };
                text.push_str(&format!("{key}: {shown}\n"));
            }
        }
        Ok(Outcome {
            json,
            text,
            text_only: false,
            broadcast: None,
            incomplete: None,
        })
    }

    /// With `true`, [`Outcome::print`] prints the text whether or not `--json` was given.
    pub fn text_only(mut self, text_only: bool) -> Outcome {
        self.text_only = text_only;
        self
    }

    /// Marks the outcome as reporting transaction `txid`, broadcast: if printing it fails,
    /// the txid goes to stderr and the exit code says so.
    pub fn broadcast(mut self, txid: impl Into<String>) -> Outcome {
        self.broadcast = Some(txid.into());
        self
    }

    /// Marks the outcome as printed but failed, with `incomplete`'s line and exit code.
    pub fn incomplete(mut self, incomplete: Incomplete) -> Outcome {
        self.incomplete = Some(incomplete);
        self
    }

    /// The broadcast transaction's id, when the outcome reports one.
    pub fn broadcast_txid(&self) -> Option<&str> {
        self.broadcast.as_deref()
    }

    /// Why the run fails although its output is printed, if it does.
    pub fn incomplete_reason(&self) -> Option<&Incomplete> {
        self.incomplete.as_ref()
    }

    /// The JSON form.
    pub fn json(&self) -> &serde_json::Value {
        &self.json
    }

    /// Prints the outcome: exactly one JSON document with `json`, else the text.
    ///
    /// # Errors
    ///
    /// Writing to stdout failed.
    pub fn print(&self, json: bool) -> anyhow::Result<()> {
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        if json && !self.text_only {
            serde_json::to_writer_pretty(&mut out, &self.json)?;
            writeln!(out)?;
        } else {
            write!(out, "{}", self.text)?;
            if !self.text.is_empty() && !self.text.ends_with('\n') {
                writeln!(out)?;
            }
        }
        out.flush()?;
        Ok(())
    }
}
