//! `spool hash FILE [--meta KEY=VALUE]...`: a piece's file hashes, as pyspool's `File`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use serde::{Deserialize, Serialize};
use spool_protocol::file_hash::FileHashes;

use crate::cli::options::Settings;
use crate::cli::output::Outcome;

/// `spool hash`'s arguments.
#[derive(Debug, Args)]
pub struct HashArgs {
    /// The file (read as a stream; any size).
    pub file: PathBuf,
    /// Metadata, e.g. `--meta artist_name="Rodolphe Marques" --meta title=ascribe`.
    #[arg(long = "meta", value_name = "KEY=VALUE", value_parser = parse_meta)]
    pub meta: Vec<(String, String)>,
}

/// `{"file_hash", "file_hash_metadata"}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    /// The hash of the content.
    pub file_hash: String,
    /// The hash of the content and the metadata (= `file_hash` without metadata).
    pub file_hash_metadata: String,
}

fn parse_meta(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => Err(format!("metadata {text:?} is not KEY=VALUE")),
    }
}

impl HashArgs {
    /// Runs the command.
    ///
    /// # Errors
    ///
    /// The file cannot be read, or a `--meta` value is malformed.
    pub fn run(&self, settings: &Settings) -> anyhow::Result<Outcome> {
        let mut metadata = BTreeMap::new();
        for (key, value) in &self.meta {
            if metadata.insert(key.clone(), value.clone()).is_some() {
                anyhow::bail!("metadata key {key:?} is given twice");
            }
        }
        let file = std::fs::File::open(&self.file)
            .with_context(|| format!("cannot open {}", self.file.display()))?;
        let reader = std::io::BufReader::with_capacity(1 << 16, file);
        let hashes = FileHashes::from_reader(reader, settings.network.network(), &metadata)
            .with_context(|| format!("cannot hash {}", self.file.display()))?;
        let output = Output {
            file_hash: hashes.file_hash.to_string(),
            file_hash_metadata: hashes.file_hash_metadata.to_string(),
        };
        Outcome::fields(&output)
    }
}
