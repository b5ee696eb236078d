//! The document `reservations.json`: since version 4 a small pointer to the log; versions 2
//! and 3 held the records themselves and are read once, to migrate them into the log.

use std::fs;
use std::path::Path;

use bitcoin::hashes::{sha256, Hash};
use serde::{Deserialize, Serialize};

use super::{io, replace_file, Record, StoreError, FORMAT, FORMAT_VERSION, LOG_FILE};

/// What is in `reservations.json`.
pub(super) enum Found {
    /// No such file.
    Missing,
    /// The version-4 pointer to the log.
    Pointer,
    /// A document of version 2 or 3, with its records.
    Records {
        /// Its version.
        version: u32,
        /// Its records.
        records: Vec<Record>,
    },
}

/// The fields of every version (`transactions` holds the records up to version 3; in the
/// pointer it is a note, present so that a reader of version 3 parses the pointer and
/// refuses its version instead of calling it corrupt).
#[derive(Debug, Serialize, Deserialize)]
struct Document {
    format: String,
    version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    checksum: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    log: Option<String>,
    #[serde(default)]
    transactions: serde_json::Value,
}

/// Reads the document at `path`.
pub(super) fn read(path: &Path) -> Result<Found, StoreError> {
    let text = match fs::read(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Found::Missing),
        Err(e) => return Err(io(path, "read")(e)),
    };
    let corrupt = |reason: String| StoreError::Corrupt {
        path: path.to_owned(),
        reason,
    };
    let document: Document = serde_json::from_slice(&text)
        .map_err(|e| corrupt(format!("not a spool reservation file ({e})")))?;
    if document.format != FORMAT {
        return Err(corrupt(format!(
            "not a spool reservation file (format {:?})",
            document.format
        )));
    }
    match (document.version, &document.checksum) {
        (FORMAT_VERSION, _) => {
            return match document.log.as_deref() {
                Some(LOG_FILE) => Ok(Found::Pointer),
                other => Err(corrupt(format!(
                    "it names the log {other:?}, not {LOG_FILE:?}"
                ))),
            }
        }
        (2, _) => {}
        (3, Some(sum)) => {
            if *sum != checksum(&document.transactions) {
                return Err(corrupt(
                    "its checksum does not match its content (changed on disk)".to_owned(),
                ));
            }
        }
        (3, None) => return Err(corrupt("its checksum is missing".to_owned())),
        (version, _) => {
            return Err(StoreError::UnknownVersion {
                path: path.to_owned(),
                version,
            })
        }
    }
    let records = serde_json::from_value(document.transactions)
        .map_err(|e| corrupt(format!("a transaction entry is malformed ({e})")))?;
    Ok(Found::Records {
        version: document.version,
        records,
    })
}

/// Writes the version-4 pointer at `path` (in `dir`): a temporary file, fsynced, renamed
/// over `path`, the directory fsynced.
pub(super) fn write_pointer(dir: &Path, path: &Path) -> Result<(), StoreError> {
    let document = Document {
        format: FORMAT.to_owned(),
        version: FORMAT_VERSION,
        checksum: None,
        log: Some(LOG_FILE.to_owned()),
        transactions: format!("in {LOG_FILE}, one line per change").into(),
    };
    let mut text = serde_json::to_vec_pretty(&document).expect("plain data serialises");
    text.push(b'\n');
    replace_file(dir, path, &text)
}

/// The sha256 of the `transactions` value as canonical compact JSON (object keys sorted, so
/// that the sum does not depend on how a reader's JSON library orders maps): version 3.
pub(super) fn checksum(transactions: &serde_json::Value) -> String {
    let mut text = String::new();
    canonical(transactions, &mut text);
    sha256::Hash::hash(text.as_bytes()).to_string()
}

fn canonical(value: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}
