//! The certificate as a document: its fields, and its JSON form.

use bitcoin::{BlockHash, Network, TxMerkleNode, Txid};
use serde::{Deserialize, Serialize};

use super::CertificateParseError;

/// The `format` field of every certificate.
pub const FORMAT: &str = "spoolcert";
/// The version of the document this crate writes and reads.
pub const VERSION: u32 = 1;

/// A provenance certificate (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificate {
    /// Always [`FORMAT`].
    pub format: String,
    /// Always [`VERSION`] for this reader.
    pub version: u32,
    /// The network (`bitcoin`, `testnet`, `testnet4`, `signet`, `regtest`).
    pub network: Network,
    /// The piece address (its file hash).
    pub piece: String,
    /// The edition certified (0 = the master edition).
    pub edition: u64,
    /// The federation the history was judged with (empty: the federation rule was off).
    pub federation: Vec<String>,
    /// The issuer's chain tip when the certificate was issued.
    pub tip: Tip,
    /// When it was issued (seconds since the Unix epoch): the issuer's clock, or the tip
    /// block's time for certificates dated by their tip (the explorer's). Not proven.
    pub issued_at: u64,
    /// Who issued it, free text (e.g. `spool-rs 0.1.0 via bitcoind at ...`).
    pub issuer: String,
    /// The confirmed events the rules read, in chain order, each with its inclusion proof.
    pub events: Vec<EventProof>,
    /// The blocks that hold the events: coinbase and its merkle branch.
    pub blocks: Vec<BlockProof>,
    /// Runs of consecutive headers: each event's block and the blocks that bury it.
    pub headers: Vec<HeaderRun>,
    /// The transactions whose outputs the events spend, raw hex (they prove the senders).
    pub previous: Vec<String>,
    /// How many unconfirmed events of the scope were left out (never proven).
    pub unconfirmed_left_out: u64,
    /// The state claimed: the edition's owner, consignee and loans at `tip`.
    pub state: CertifiedState,
}

/// A chain tip: height and block hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tip {
    /// Height.
    pub height: u64,
    /// Block hash.
    pub hash: BlockHash,
}

/// One confirmed event and the proof that it is in its block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventProof {
    /// The transaction id.
    pub txid: Txid,
    /// The height of its block.
    pub height: u64,
    /// The raw transaction, hex.
    pub tx: String,
    /// The block header and partial merkle tree matching the transaction, hex: the bytes of
    /// Bitcoin Core's `gettxoutproof`, which its `verifytxoutproof` reads.
    pub proof: String,
}

/// A block that holds events: its coinbase and the coinbase's merkle branch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockProof {
    /// Height.
    pub height: u64,
    /// Block hash.
    pub hash: BlockHash,
    /// The coinbase transaction, hex.
    pub coinbase: String,
    /// The coinbase's merkle branch, from the leaf's sibling up to the root's children.
    pub coinbase_branch: Vec<TxMerkleNode>,
}

/// Consecutive block headers starting at `start`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeaderRun {
    /// Height of the first header.
    pub start: u64,
    /// The 80-byte headers, hex, each the parent of the next.
    pub headers: Vec<String>,
}

/// What a certificate claims about its edition.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertifiedState {
    /// Whether the edition is registered.
    pub registered: bool,
    /// The owner (the consignor while consigned).
    pub owner: Option<String>,
    /// The consignee, while consigned.
    pub consignee: Option<String>,
    /// The current holder's loans, in chain order.
    pub loans: Vec<CertifiedLoan>,
}

/// One loan of the edition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertifiedLoan {
    /// The borrower.
    pub borrower: String,
    /// First day, `YYMMDD`.
    pub start: String,
    /// Last day, `YYMMDD`.
    pub end: String,
}

impl Certificate {
    /// The documented JSON form (pretty-printed, ending in a newline).
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a certificate serializes");
        text.push('\n');
        text
    }

    /// Reads the JSON form.
    ///
    /// # Errors
    ///
    /// [`CertificateParseError`] when the text is not a certificate of this format and
    /// version.
    pub fn from_json(text: &str) -> Result<Certificate, CertificateParseError> {
        #[derive(Deserialize)]
        struct Head {
            format: String,
            version: u32,
        }
        let head: Head = serde_json::from_str(text).map_err(|e| CertificateParseError::Json {
            detail: e.to_string(),
        })?;
        if head.format != FORMAT || head.version != VERSION {
            return Err(CertificateParseError::Unsupported {
                format: head.format,
                version: head.version,
            });
        }
        serde_json::from_str(text).map_err(|e| CertificateParseError::Json {
            detail: e.to_string(),
        })
    }

    /// The network.
    pub fn network(&self) -> Network {
        self.network
    }

    /// The piece address.
    pub fn piece(&self) -> &str {
        &self.piece
    }

    /// The edition certified.
    pub fn edition(&self) -> u64 {
        self.edition
    }

    /// The issuer's tip.
    pub fn tip(&self) -> (u64, BlockHash) {
        (self.tip.height, self.tip.hash)
    }

    /// Every (height, block hash) whose header the file holds, ascending: the online check
    /// asks a node that each is on its best chain.
    pub fn block_hashes(&self) -> Vec<(u64, BlockHash)> {
        let mut all: Vec<(u64, BlockHash)> = self
            .headers
            .iter()
            .flat_map(|run| {
                run.headers.iter().enumerate().filter_map(move |(i, hex)| {
                    super::proof::header_from_hex(hex)
                        .ok()
                        .map(|h| (run.start + i as u64, h.block_hash()))
                })
            })
            .collect();
        all.sort();
        all.dedup();
        all
    }

    /// The proven events' txids and heights, in chain order.
    pub fn event_txids(&self) -> Vec<(Txid, u64)> {
        self.events.iter().map(|e| (e.txid, e.height)).collect()
    }

    /// The state claimed.
    pub fn claimed_state(&self) -> &CertifiedState {
        &self.state
    }
}
