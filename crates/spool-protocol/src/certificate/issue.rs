//! Issuing: from what a backend gathered to a checked certificate.

use std::collections::{BTreeMap, BTreeSet};

use bitcoin::block::Header;
use bitcoin::consensus::encode::serialize_hex;
use bitcoin::{Address, BlockHash, Network, Transaction, Txid};

use super::document::{BlockProof, Certificate, EventProof, HeaderRun, Tip, FORMAT, VERSION};
use super::verify::{replay, VerifyError};
use crate::chain::{ChainTx, TxInclusion, TxPlace};
use crate::scope::Scope;

/// How many blocks after each event's block a certificate carries the headers of (fewer
/// when the chain is not that long yet).
pub const BURIAL_HEADERS: u64 = 6;

/// Everything an issuer gathered; [`Certificate::issue`] checks and assembles it.
#[derive(Debug, Clone, Copy)]
pub struct IssueInput<'a> {
    /// The network.
    pub network: Network,
    /// The piece address.
    pub piece: &'a Address,
    /// The edition to certify.
    pub edition: u64,
    /// The federation the history is judged with.
    pub federation: &'a [String],
    /// The issuer's tip height.
    pub tip_height: u64,
    /// The issuer's tip hash.
    pub tip_hash: BlockHash,
    /// When (seconds since the Unix epoch).
    pub issued_at: u64,
    /// Who issues it (free text).
    pub issuer: &'a str,
    /// The piece's transactions the edition's rules read ([`Scope::edition`]'s selection),
    /// confirmed and unconfirmed.
    pub txs: &'a [ChainTx],
    /// Every transaction whose outputs the confirmed ones spend.
    pub previous: &'a [Transaction],
    /// One inclusion proof per confirmed transaction of `txs`.
    pub inclusions: &'a BTreeMap<Txid, TxInclusion>,
    /// The headers of heights `h ..= min(h + 6, tip_height)` for each confirmed height `h`.
    pub headers: &'a BTreeMap<u64, Header>,
}

/// Why a certificate could not be issued from what was gathered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IssueError {
    /// No inclusion proof was gathered for a confirmed event.
    #[error("no inclusion proof for transaction {txid}")]
    MissingInclusion {
        /// The event.
        txid: Txid,
    },
    /// A header the certificate needs was not gathered.
    #[error("no header at height {height}")]
    MissingHeader {
        /// The height.
        height: u64,
    },
    /// A transaction an event spends from was not gathered.
    #[error("transaction {txid} spends from {previous}, which was not gathered")]
    MissingPrevious {
        /// The event.
        txid: Txid,
        /// The transaction it spends from.
        previous: Txid,
    },
    /// What was gathered does not verify (a backend answered inconsistently).
    #[error("the gathered proofs do not verify")]
    Invalid(#[source] VerifyError),
}

impl Certificate {
    /// Assembles a certificate from what an issuer gathered, and checks it.
    ///
    /// # Errors
    ///
    /// [`IssueError`] naming what is missing, or why the result does not verify.
    pub fn issue(input: IssueInput<'_>) -> Result<Certificate, IssueError> {
        let selected = Scope::edition(input.edition).select(input.piece, input.txs);
        let mut confirmed: Vec<(u64, u32, &ChainTx)> = selected
            .iter()
            .filter_map(|t| match t.place {
                TxPlace::Confirmed {
                    height, position, ..
                } => Some((height, position, *t)),
                TxPlace::Unconfirmed => None,
            })
            .collect();
        confirmed.sort_by_key(|(h, p, _)| (*h, *p));
        confirmed.dedup_by_key(|(_, _, t)| t.txid());
        let unconfirmed = selected
            .iter()
            .filter(|t| t.place == TxPlace::Unconfirmed)
            .count() as u64;

        let previous: BTreeMap<Txid, &Transaction> = input
            .previous
            .iter()
            .map(|tx| (tx.compute_txid(), tx))
            .collect();
        let mut events = Vec::new();
        let mut blocks: BTreeMap<u64, BlockProof> = BTreeMap::new();
        let mut needed: BTreeSet<u64> = BTreeSet::new();
        let mut spent_from: BTreeSet<Txid> = BTreeSet::new();
        for (height, _, chain_tx) in &confirmed {
            let txid = chain_tx.txid();
            let inclusion = input
                .inclusions
                .get(&txid)
                .ok_or(IssueError::MissingInclusion { txid })?;
            for input_ in &chain_tx.tx.input {
                let prev = input_.previous_output.txid;
                if !previous.contains_key(&prev) {
                    return Err(IssueError::MissingPrevious {
                        txid,
                        previous: prev,
                    });
                }
                spent_from.insert(prev);
            }
            events.push(EventProof {
                txid,
                height: *height,
                tx: serialize_hex(&chain_tx.tx),
                proof: serialize_hex(&inclusion.merkle_block),
            });
            blocks.entry(*height).or_insert_with(|| BlockProof {
                height: *height,
                hash: inclusion.merkle_block.header.block_hash(),
                coinbase: serialize_hex(&inclusion.coinbase),
                coinbase_branch: inclusion.coinbase_branch.clone(),
            });
            needed.extend(*height..=(*height + BURIAL_HEADERS).min(input.tip_height.max(*height)));
        }
        let mut headers: Vec<HeaderRun> = Vec::new();
        for height in needed {
            let header = input
                .headers
                .get(&height)
                .ok_or(IssueError::MissingHeader { height })?;
            match headers.last_mut() {
                Some(run) if run.start + run.headers.len() as u64 == height => {
                    run.headers.push(serialize_hex(header));
                }
                _ => headers.push(HeaderRun {
                    start: height,
                    headers: vec![serialize_hex(header)],
                }),
            }
        }
        let mut certificate = Certificate {
            format: FORMAT.to_owned(),
            version: VERSION,
            network: input.network,
            piece: input.piece.to_string(),
            edition: input.edition,
            federation: input.federation.to_vec(),
            tip: Tip {
                height: input.tip_height,
                hash: input.tip_hash,
            },
            issued_at: input.issued_at,
            issuer: input.issuer.to_owned(),
            events,
            blocks: blocks.into_values().collect(),
            headers,
            previous: spent_from
                .iter()
                .map(|txid| serialize_hex(previous[txid]))
                .collect(),
            unconfirmed_left_out: unconfirmed,
            state: Default::default(),
        };
        let replayed = replay(&certificate).map_err(IssueError::Invalid)?;
        certificate.state = replayed.state;
        certificate.verify().map_err(IssueError::Invalid)?;
        Ok(certificate)
    }
}
