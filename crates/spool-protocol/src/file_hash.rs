//! File hashes as pyspool's `File` makes them: the address-shaped identifiers of a piece.
//!
//! - `file_hash` = base58check(version, hash160(md5 hex of the content, as ASCII));
//! - `file_hash_metadata` = the same over the text Python prints for the list
//!   `[u'<value>', ..., '<md5 hex>']` (metadata values ordered by key, each in Python 3's `repr`
//!   with a `u` prefix), or `file_hash` when there is no metadata.
//!
//! The version byte is 0 on mainnet and 111 on testnet, testnet4, signet and regtest. Content is
//! streamed through MD5 in fixed-size blocks, so memory use does not grow with the file.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Read;

use bitcoin::hashes::{hash160, Hash};
use bitcoin::Network;
use md5::{Digest, Md5};
use serde::Serialize;
use unicode_general_category::{get_general_category, GeneralCategory};

/// Size of the blocks the content is read in.
const BLOCK: usize = 64 * 1024;

/// Whether `network` uses testnet's address version (111): everything but mainnet.
pub fn is_testnet_like(network: Network) -> bool {
    !matches!(network, Network::Bitcoin)
}

/// The P2PKH version byte pyspool uses for file hashes: 0 on mainnet, 111 elsewhere.
pub fn address_version(network: Network) -> u8 {
    if is_testnet_like(network) {
        111
    } else {
        0
    }
}

/// base58check(version, hash160(text)): how pyspool turns a text into an address-shaped hash.
pub fn hash_text(text: &str, network: Network) -> String {
    let digest = hash160::Hash::hash(text.as_bytes());
    let mut payload = Vec::with_capacity(21);
    payload.push(address_version(network));
    payload.extend_from_slice(digest.as_byte_array());
    bitcoin::base58::encode_check(&payload)
}

/// A Python 3 `repr` of `text`: single quotes unless the text has `'` and no `"`; backslash,
/// the quote, `\t`, `\n`, `\r` escaped; other control and non-printable characters as `\xNN`,
/// `\uNNNN` or `\UNNNNNNNN`; printable non-ASCII text kept as it is.
pub fn python_repr(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            c if c.is_ascii() => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if python_printable(c) => out.push(c),
            c if (c as u32) <= 0xff => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if (c as u32) <= 0xffff => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push(quote);
    out
}

/// Python's `str.isprintable` for one non-ASCII character: not in categories Cc, Cf, Cs, Co,
/// Cn, Zl, Zp or Zs.
fn python_printable(c: char) -> bool {
    !matches!(
        get_general_category(c),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::Surrogate
            | GeneralCategory::PrivateUse
            | GeneralCategory::Unassigned
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
            | GeneralCategory::SpaceSeparator
    )
}

/// The exact text pyspool hashes for `file_hash_metadata`, e.g.
/// `[u'Rodolphe Marques', u'ascribe', 'fc036b292c4b27f22d77a5ed79793455']`.
pub fn metadata_text(md5_hex: &str, metadata: &BTreeMap<String, String>) -> String {
    let mut items: Vec<String> = metadata
        .values()
        .map(|value| format!("u{}", python_repr(value)))
        .collect();
    items.push(python_repr(md5_hex));
    format!("[{}]", items.join(", "))
}

/// The two hashes that identify a piece.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct FileHashes {
    /// base58check of hash160 of the content's MD5 hex: the piece address.
    pub file_hash: String,
    /// The same over the metadata text, or `file_hash` when there is no metadata.
    pub file_hash_metadata: String,
}

impl FileHashes {
    /// Hashes content read from `reader` in fixed-size blocks (constant memory).
    pub fn from_reader<R: Read>(
        mut reader: R,
        network: Network,
        metadata: &BTreeMap<String, String>,
    ) -> std::io::Result<FileHashes> {
        let mut md5 = Md5::new();
        let mut block = vec![0u8; BLOCK];
        loop {
            match reader.read(&mut block) {
                Ok(0) => break,
                Ok(n) => md5.update(&block[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(FileHashes::from_md5_hex(
            &md5_hex(md5.finalize().as_slice()),
            network,
            metadata,
        ))
    }

    /// Hashes content already in memory.
    pub fn from_bytes(
        content: &[u8],
        network: Network,
        metadata: &BTreeMap<String, String>,
    ) -> FileHashes {
        FileHashes::from_md5_hex(&md5_hex(&Md5::digest(content)), network, metadata)
    }

    /// The hashes from the content's MD5 in lowercase hex.
    pub fn from_md5_hex(
        md5_hex: &str,
        network: Network,
        metadata: &BTreeMap<String, String>,
    ) -> FileHashes {
        let file_hash = hash_text(md5_hex, network);
        let file_hash_metadata = if metadata.is_empty() {
            file_hash.clone()
        } else {
            hash_text(&metadata_text(md5_hex, metadata), network)
        };
        FileHashes {
            file_hash,
            file_hash_metadata,
        }
    }
}

fn md5_hex(digest: &[u8]) -> String {
    bitcoin::hex::DisplayHex::to_lower_hex_string(digest)
}
