//! Verification: every proof in the file, then the rules replayed on the proven
//! transactions.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use bitcoin::address::NetworkUnchecked;
use bitcoin::block::Header;
use bitcoin::blockdata::opcodes::all::{OP_PUSHNUM_1, OP_PUSHNUM_16};
use bitcoin::blockdata::script::Instruction;
use bitcoin::params::Params;
use bitcoin::{Address, Block, BlockHash, Network, Transaction, TxOut, Txid};
use serde::Serialize;

use super::document::{Certificate, CertifiedLoan, CertifiedState};
use super::proof::{
    header_from_hex, merkle_block_from_hex, root_from_coinbase, tree_depth, tx_from_hex,
};
use crate::chain::{ChainTx, TxPlace};
use crate::history::{BuildOptions, History, HistoryError};
use crate::ownership::Ownership;
use crate::scope::Scope;

/// What an offline check cannot prove, said in every report.
pub const OFFLINE_TRUSTS: [&str; 2] = [
    "that these headers are on the best chain (the work in them is proven, not that no heavier chain exists): check them against a node with `spool verify --rpc-url`",
    "that no later event changed the edition after the certificate's tip (completeness): ask a node or index for the piece's later events",
];

/// Why a certificate does not verify: the failing part, named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// A field could not be decoded.
    #[error("malformed {part}: {detail}")]
    Malformed {
        /// Which part (e.g. `event 2's transaction`).
        part: String,
        /// What is wrong.
        detail: String,
    },
    /// The piece address is not one of the certificate's network.
    #[error("piece address {address} is not an address of {network}")]
    WrongNetwork {
        /// The piece address.
        address: String,
        /// The certificate's network.
        network: Network,
    },
    /// A header's hash does not meet the target its own bits give.
    #[error("header at height {height} fails its proof of work")]
    ProofOfWork {
        /// The header's height.
        height: u64,
    },
    /// A header's bits ask for less work than the network allows.
    #[error("header at height {height} claims a target above {network}'s limit")]
    TargetAboveLimit {
        /// The header's height.
        height: u64,
        /// The network.
        network: Network,
    },
    /// A header does not name the previous one as its parent.
    #[error("header at height {height} does not extend the header before it")]
    BrokenChain {
        /// The header's height.
        height: u64,
    },
    /// Two headers are given for one height.
    #[error("two different headers for height {height}")]
    ConflictingHeaders {
        /// The height.
        height: u64,
    },
    /// A header the proofs need is missing.
    #[error("no header at height {height}")]
    MissingHeader {
        /// The height.
        height: u64,
    },
    /// An event's block is not among the blocks (coinbase and branch).
    #[error("no coinbase proof for the block at height {height}")]
    MissingBlock {
        /// The height.
        height: u64,
    },
    /// A block's coinbase and branch do not give its header's merkle root.
    #[error("the coinbase branch of the block at height {height} does not give its merkle root")]
    CoinbaseBranch {
        /// The height.
        height: u64,
    },
    /// A block's coinbase does not carry the block's height (BIP 34).
    #[error("the coinbase of the block at height {height} says height {found:?}")]
    CoinbaseHeight {
        /// The claimed height.
        height: u64,
        /// What the coinbase says, if anything.
        found: Option<u64>,
    },
    /// An event's proof has another depth than its block's tree: a 64-byte transaction posing
    /// as an inner node, or a forged tree.
    #[error(
        "the proof of {txid} is {proof_depth} levels deep, but its block's tree is {tree_depth}"
    )]
    DepthMismatch {
        /// The event.
        txid: Txid,
        /// Levels in the event's proof.
        proof_depth: usize,
        /// Levels the coinbase branch proves.
        tree_depth: usize,
    },
    /// An event's merkle proof does not lead to its header's merkle root, or does not match
    /// exactly its transaction.
    #[error("transaction {txid} is not proven in the block at height {height}")]
    NotIncluded {
        /// The event.
        txid: Txid,
        /// The block's height.
        height: u64,
    },
    /// An event's proof is for another block than the header of its height.
    #[error("the proof of {txid} is for another block than the header at height {height}")]
    WrongBlock {
        /// The event.
        txid: Txid,
        /// The height claimed.
        height: u64,
    },
    /// An event's raw transaction does not hash to its txid.
    #[error("event {txid}'s transaction hashes to {computed}")]
    TxidMismatch {
        /// The txid claimed.
        txid: Txid,
        /// What the transaction hashes to.
        computed: Txid,
    },
    /// The events are not in chain order.
    #[error("event {txid} is out of chain order")]
    Ordering {
        /// The event out of order.
        txid: Txid,
    },
    /// A transaction an event spends from is missing.
    #[error("transaction {txid} spends from {previous}, which the certificate lacks")]
    MissingPrevious {
        /// The event.
        txid: Txid,
        /// The missing transaction.
        previous: Txid,
    },
    /// An event is not one the edition's rules read: another piece's, or no SPOOL event.
    #[error(
        "transaction {txid} is not an event of piece {piece} that edition {edition} depends on"
    )]
    ForeignTransaction {
        /// The transaction.
        txid: Txid,
        /// The piece.
        piece: String,
        /// The edition.
        edition: u64,
    },
    /// The claimed state is not what the rules give on the proven events.
    #[error("the certificate claims {field} {claimed}, but the rules give {replayed}")]
    StateMismatch {
        /// Which field (owner, consignee, loans, registered).
        field: &'static str,
        /// The claim.
        claimed: String,
        /// What the replay gives.
        replayed: String,
    },
    /// The tip is below an event.
    #[error("the tip at height {tip} is below the event at height {height}")]
    TipBelowEvent {
        /// The tip.
        tip: u64,
        /// The event's height.
        height: u64,
    },
    /// The history could not be built.
    #[error("history: {0}")]
    History(String),
}

/// What [`Certificate::verify`] proved, and what it had to trust.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// The network.
    pub network: Network,
    /// The piece.
    pub piece: String,
    /// The edition.
    pub edition: u64,
    /// The state proven: the rules replayed on the proven events give it.
    pub state: CertifiedState,
    /// Events proven in their blocks.
    pub events: usize,
    /// Blocks whose coinbase, depth and height were checked.
    pub blocks: usize,
    /// Headers whose proof of work and links were checked.
    pub headers: usize,
    /// The fewest headers proven on top of an event's block (its burial), if any event.
    pub min_burial: Option<u64>,
    /// Unconfirmed events the issuer left out (never proven).
    pub unconfirmed_left_out: u64,
    /// The issuer's tip.
    pub tip_height: u64,
    /// What was checked, one line each.
    pub checked: Vec<String>,
    /// What an offline check cannot prove.
    pub trusted: Vec<String>,
}

/// The proven transactions and the state the rules give on them.
pub(crate) struct Replayed {
    pub state: CertifiedState,
    pub headers: usize,
    pub min_burial: Option<u64>,
}

impl Certificate {
    /// Checks every proof in the certificate and replays the ownership rules on the proven
    /// transactions (pure, offline).
    ///
    /// # Errors
    ///
    /// [`VerifyError`] naming the first failing part.
    pub fn verify(&self) -> Result<VerifyReport, VerifyError> {
        let replayed = replay(self)?;
        check_state(&self.state, &replayed.state)?;
        Ok(VerifyReport {
            network: self.network,
            piece: self.piece.clone(),
            edition: self.edition,
            state: replayed.state,
            events: self.events.len(),
            blocks: self.blocks.len(),
            headers: replayed.headers,
            min_burial: replayed.min_burial,
            unconfirmed_left_out: self.unconfirmed_left_out,
            tip_height: self.tip.height,
            checked: vec![
                format!("{} headers: proof of work against their own bits and {}'s limit, each linked to its parent", replayed.headers, self.network),
                format!("{} blocks: coinbase branch to the merkle root, tree depth, BIP 34 height", self.blocks.len()),
                format!("{} events: txid, merkle inclusion under their block's root, chain order", self.events.len()),
                "senders: every spent output read from a previous transaction that hashes to its txid".to_owned(),
                format!("state: the ownership rules replayed on the proven events give the claimed owner, consignee and loans of edition {}", self.edition),
            ],
            trusted: OFFLINE_TRUSTS.iter().map(|t| (*t).to_owned()).collect(),
        })
    }
}

fn malformed(part: impl Into<String>, detail: impl ToString) -> VerifyError {
    VerifyError::Malformed {
        part: part.into(),
        detail: detail.to_string(),
    }
}

/// Checks the headers: proof of work, the network's limit, links; the header of each height.
fn check_headers(cert: &Certificate) -> Result<(BTreeMap<u64, Header>, usize), VerifyError> {
    let limit = Params::new(cert.network).max_attainable_target;
    let mut by_height: BTreeMap<u64, Header> = BTreeMap::new();
    let mut count = 0;
    for run in &cert.headers {
        let mut parent: Option<BlockHash> = None;
        for (i, hex) in run.headers.iter().enumerate() {
            let height = run.start + i as u64;
            let header = header_from_hex(hex)
                .map_err(|e| malformed(format!("header at height {height}"), e))?;
            let target = header.target();
            if target > limit {
                return Err(VerifyError::TargetAboveLimit {
                    height,
                    network: cert.network,
                });
            }
            header
                .validate_pow(target)
                .map_err(|_| VerifyError::ProofOfWork { height })?;
            if let Some(parent) = parent {
                if header.prev_blockhash != parent {
                    return Err(VerifyError::BrokenChain { height });
                }
            }
            parent = Some(header.block_hash());
            if let Some(existing) = by_height.insert(height, header) {
                if existing != header {
                    return Err(VerifyError::ConflictingHeaders { height });
                }
            } else {
                count += 1;
            }
        }
    }
    Ok((by_height, count))
}

/// Every check but the claimed state's; the state the rules give on the proven events.
pub(crate) fn replay(cert: &Certificate) -> Result<Replayed, VerifyError> {
    let piece = Address::<NetworkUnchecked>::from_str(&cert.piece)
        .map_err(|e| malformed("piece address", e))?;
    let piece = piece
        .require_network(cert.network)
        .map_err(|_| VerifyError::WrongNetwork {
            address: cert.piece.clone(),
            network: cert.network,
        })?;
    let (headers, header_count) = check_headers(cert)?;

    // Blocks: the coinbase branch gives the header's merkle root; its length is the depth.
    let mut depths: HashMap<u64, usize> = HashMap::new();
    for block in &cert.blocks {
        let height = block.height;
        let header = headers
            .get(&height)
            .ok_or(VerifyError::MissingHeader { height })?;
        let coinbase = tx_from_hex(&block.coinbase)
            .map_err(|e| malformed(format!("coinbase at height {height}"), e))?;
        if !coinbase.is_coinbase()
            || root_from_coinbase(coinbase.compute_txid(), &block.coinbase_branch)
                != header.merkle_root
        {
            return Err(VerifyError::CoinbaseBranch { height });
        }
        let found = bip34_height(header, coinbase);
        if found != Some(height) {
            return Err(VerifyError::CoinbaseHeight { height, found });
        }
        depths.insert(height, block.coinbase_branch.len());
    }

    // Previous transactions, by txid (their hash is their name).
    let mut previous: HashMap<Txid, Transaction> = HashMap::new();
    for (i, hex) in cert.previous.iter().enumerate() {
        let tx = tx_from_hex(hex).map_err(|e| malformed(format!("previous transaction {i}"), e))?;
        previous.insert(tx.compute_txid(), tx);
    }

    // How many linked headers lie above each height, computed once from the top down.
    let hashes: BTreeMap<u64, BlockHash> = headers
        .iter()
        .map(|(h, header)| (*h, header.block_hash()))
        .collect();
    let mut burial: HashMap<u64, u64> = HashMap::new();
    for (height, header) in headers.iter().rev() {
        let above = headers.get(&(height + 1)).filter(|next| {
            hashes
                .get(height)
                .is_some_and(|hash| next.prev_blockhash == *hash)
        });
        let count = match above {
            Some(_) => 1 + burial.get(&(height + 1)).copied().unwrap_or(0),
            None => 0,
        };
        let _ = header;
        burial.insert(*height, count);
    }

    // Events: depth, inclusion, txid, order; then as chain transactions.
    let tip = cert.tip.height;
    let mut txs: Vec<ChainTx> = Vec::with_capacity(cert.events.len());
    let mut last: Option<(u64, u32)> = None;
    let mut min_burial: Option<u64> = None;
    for event in &cert.events {
        let txid = event.txid;
        let height = event.height;
        if height > tip {
            return Err(VerifyError::TipBelowEvent { tip, height });
        }
        let header = headers
            .get(&height)
            .ok_or(VerifyError::MissingHeader { height })?;
        let tree = *depths
            .get(&height)
            .ok_or(VerifyError::MissingBlock { height })?;
        let proof = merkle_block_from_hex(&event.proof)
            .map_err(|e| malformed(format!("proof of {txid}"), e))?;
        if proof.header != *header {
            return Err(VerifyError::WrongBlock { txid, height });
        }
        let proof_depth = tree_depth(proof.txn.num_transactions());
        if proof_depth != tree {
            return Err(VerifyError::DepthMismatch {
                txid,
                proof_depth,
                tree_depth: tree,
            });
        }
        let (mut matches, mut indexes) = (Vec::new(), Vec::new());
        let root = proof
            .txn
            .extract_matches(&mut matches, &mut indexes)
            .map_err(|_| VerifyError::NotIncluded { txid, height })?;
        if root != header.merkle_root || matches != [txid] {
            return Err(VerifyError::NotIncluded { txid, height });
        }
        let tx = tx_from_hex(&event.tx).map_err(|e| malformed(format!("transaction {txid}"), e))?;
        let computed = tx.compute_txid();
        if computed != txid {
            return Err(VerifyError::TxidMismatch { txid, computed });
        }
        let position = indexes[0];
        if last.is_some_and(|last| last >= (height, position)) {
            return Err(VerifyError::Ordering { txid });
        }
        last = Some((height, position));
        let prevouts = tx
            .input
            .iter()
            .map(|input| {
                let prev = input.previous_output;
                previous
                    .get(&prev.txid)
                    .and_then(|p| p.output.get(prev.vout as usize))
                    .cloned()
                    .ok_or(VerifyError::MissingPrevious {
                        txid,
                        previous: prev.txid,
                    })
            })
            .collect::<Result<Vec<TxOut>, VerifyError>>()?;
        // The burial: consecutive proven headers above the event's block.
        let buried = burial.get(&height).copied().unwrap_or(0);
        min_burial = Some(min_burial.map_or(buried, |m: u64| m.min(buried)));
        txs.push(ChainTx {
            tx,
            prevouts,
            place: TxPlace::Confirmed {
                height,
                position,
                time: u64::from(header.time),
            },
        });
    }

    // Every event is one the edition's rules read: it pays the piece and carries a verb the
    // scope reads (as `Scope::select` keeps confirmed transactions).
    let scope = Scope::edition(cert.edition);
    let piece_script = piece.script_pubkey();
    for (chain_tx, event) in txs.iter().zip(&cert.events) {
        let pays = chain_tx
            .tx
            .output
            .iter()
            .any(|o| o.script_pubkey == piece_script);
        let read =
            crate::payload::find_verb(&chain_tx.tx).is_ok_and(|(_, verb)| scope.reads(&verb));
        if !pays || !read {
            return Err(VerifyError::ForeignTransaction {
                txid: event.txid,
                piece: cert.piece.clone(),
                edition: cert.edition,
            });
        }
    }

    let options = BuildOptions {
        federation: cert.federation.clone(),
        tip_height: Some(tip),
        min_conf: 0,
    };
    let history = History::build_with(&piece, cert.network, &txs, &options)
        .map_err(|e: HistoryError| VerifyError::History(e.to_string()))?;
    Ok(Replayed {
        state: certified_state(&history, cert.edition),
        headers: header_count,
        min_burial,
    })
}

/// The height a coinbase carries (BIP 34): its scriptSig's first push, a minimal number,
/// or `OP_1`..`OP_16` as Bitcoin Core writes heights up to 16.
fn bip34_height(header: &Header, coinbase: Transaction) -> Option<u64> {
    let first = coinbase
        .input
        .first()
        .and_then(|input| input.script_sig.instructions_minimal().next());
    if let Some(Ok(Instruction::Op(op))) = first {
        let code = op.to_u8();
        if (OP_PUSHNUM_1.to_u8()..=OP_PUSHNUM_16.to_u8()).contains(&code) {
            return Some(u64::from(code - OP_PUSHNUM_1.to_u8() + 1));
        }
    }
    Block {
        header: *header,
        txdata: vec![coinbase],
    }
    .bip34_block_height()
    .ok()
}

/// The state of `edition` by the rules.
pub(crate) fn certified_state(history: &History, edition: u64) -> CertifiedState {
    let ownership = Ownership::new(history, "", edition);
    CertifiedState {
        registered: history.holder(edition).is_some(),
        owner: ownership.owner(),
        consignee: ownership.consignee(),
        loans: ownership
            .loans()
            .into_iter()
            .map(|l| CertifiedLoan {
                borrower: l.borrower,
                start: l.start,
                end: l.end,
            })
            .collect(),
    }
}

fn check_state(claimed: &CertifiedState, replayed: &CertifiedState) -> Result<(), VerifyError> {
    let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".to_owned());
    if claimed.registered != replayed.registered {
        return Err(VerifyError::StateMismatch {
            field: "registered",
            claimed: claimed.registered.to_string(),
            replayed: replayed.registered.to_string(),
        });
    }
    if claimed.owner != replayed.owner {
        return Err(VerifyError::StateMismatch {
            field: "owner",
            claimed: show(&claimed.owner),
            replayed: show(&replayed.owner),
        });
    }
    if claimed.consignee != replayed.consignee {
        return Err(VerifyError::StateMismatch {
            field: "consignee",
            claimed: show(&claimed.consignee),
            replayed: show(&replayed.consignee),
        });
    }
    if claimed.loans != replayed.loans {
        let list = |loans: &[CertifiedLoan]| {
            loans
                .iter()
                .map(|l| format!("{} {}-{}", l.borrower, l.start, l.end))
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(VerifyError::StateMismatch {
            field: "loans",
            claimed: list(&claimed.loans),
            replayed: list(&replayed.loans),
        });
    }
    Ok(())
}
