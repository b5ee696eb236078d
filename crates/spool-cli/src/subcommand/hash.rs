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

/// The size of one read: large reads let the kernel read ahead and cost fewer calls.
const READ: usize = 1 << 20;

/// Feeds `file` to `update` in reads of [`READ`] bytes, read once (the metadata variant
/// reuses the content's MD5).
fn each_block(
    mut file: std::fs::File,
    mut update: impl FnMut(&[u8]) -> std::io::Result<()>,
) -> std::io::Result<()> {
    use std::io::Read;
    let mut block = vec![0u8; READ];
    loop {
        match file.read(&mut block) {
            Ok(0) => return Ok(()),
            Ok(n) => update(&block[..n])?,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// The content's MD5 in lowercase hex, by OpenSSL's libcrypto.
#[cfg(feature = "openssl-md5")]
fn content_md5(file: std::fs::File) -> std::io::Result<String> {
    use openssl::hash::{Hasher, MessageDigest};
    let mut hasher = Hasher::new(MessageDigest::md5()).map_err(std::io::Error::other)?;
    each_block(file, |bytes| {
        hasher.update(bytes).map_err(std::io::Error::other)
    })?;
    let digest = hasher.finish().map_err(std::io::Error::other)?;
    Ok(bitcoin::hex::DisplayHex::to_lower_hex_string(&digest[..]))
}

/// The content's MD5 in lowercase hex, by the pure-Rust md-5.
#[cfg(not(feature = "openssl-md5"))]
fn content_md5(file: std::fs::File) -> std::io::Result<String> {
    use md5::{Digest, Md5};
    let mut hasher = Md5::new();
    each_block(file, |bytes| {
        hasher.update(bytes);
        Ok(())
    })?;
    Ok(bitcoin::hex::DisplayHex::to_lower_hex_string(
        hasher.finalize().as_slice(),
    ))
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
        let md5 =
            content_md5(file).with_context(|| format!("cannot hash {}", self.file.display()))?;
        let hashes = FileHashes::from_md5_hex(&md5, settings.network.network(), &metadata);
        let output = Output {
            file_hash: hashes.file_hash.to_string(),
            file_hash_metadata: hashes.file_hash_metadata.to_string(),
        };
        Outcome::fields(&output)
    }
}

#[cfg(test)]
mod md5_tests {
    use super::*;

    /// The content MD5 of the binary (OpenSSL's by default) equals the protocol crate's
    /// pure-Rust one, across read boundaries.
    #[test]
    fn content_md5_equals_the_protocols() {
        let dir = tempfile::tempdir().unwrap();
        for len in [0, 1, 63, 64, READ - 1, READ, READ + 1, 3 * READ + 17] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let path = dir.path().join(format!("f{len}"));
            std::fs::write(&path, &bytes).unwrap();
            let ours = content_md5(std::fs::File::open(&path).unwrap()).unwrap();
            let network = bitcoin::Network::Bitcoin;
            let expected = FileHashes::from_bytes(&bytes, network, &BTreeMap::new());
            assert_eq!(
                FileHashes::from_md5_hex(&ours, network, &BTreeMap::new()),
                expected,
                "{len} bytes"
            );
        }
    }
}
