//! Plain chain data as the history rules consume it: a transaction, the outputs it spends,
//! and where it sits in the chain. Backends produce these; nothing here performs I/O.

use bitcoin::{Amount, OutPoint, ScriptBuf, Transaction, TxOut, Txid};
use serde::{Deserialize, Serialize};

/// Where a transaction is: in a block (with its position), or still in the mempool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TxPlace {
    /// Mined in a block.
    Confirmed {
        /// Height of the block.
        height: u64,
        /// Index of the transaction inside the block (0 = coinbase).
        position: u32,
        /// The block's header time (seconds since the Unix epoch).
        time: u64,
    },
    /// Waiting in the mempool.
    Unconfirmed,
}

impl TxPlace {
    /// The block height, if confirmed.
    pub fn height(&self) -> Option<u64> {
        match self {
            TxPlace::Confirmed { height, .. } => Some(*height),
            TxPlace::Unconfirmed => None,
        }
    }

    /// Number of confirmations given the chain tip height (0 when unconfirmed).
    pub fn confirmations(&self, tip_height: u64) -> u64 {
        match self {
            TxPlace::Confirmed { height, .. } if *height <= tip_height => tip_height - height + 1,
            TxPlace::Confirmed { .. } => 0,
            TxPlace::Unconfirmed => 0,
        }
    }
}

/// A transaction with the outputs its inputs spend (same order as `tx.input`) and its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainTx {
    /// The transaction itself.
    pub tx: Transaction,
    /// The previous outputs spent by `tx.input`, index for index (empty for a coinbase).
    pub prevouts: Vec<TxOut>,
    /// Where the transaction is.
    pub place: TxPlace,
}

impl ChainTx {
    /// The transaction id.
    pub fn txid(&self) -> Txid {
        self.tx.compute_txid()
    }
}

/// An unspent transaction output that a wallet can spend. Backends and the index produce
/// these; the transaction builder consumes them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Utxo {
    /// The output being spent.
    pub outpoint: OutPoint,
    /// Its value.
    pub value: Amount,
    /// Its locking script (P2PKH or P2WPKH for spool wallets).
    pub script_pubkey: ScriptBuf,
    /// Confirmations at the time it was listed (0 = in the mempool).
    pub confirmations: u32,
    /// Whether it is a coinbase output (spendable only after 100 confirmations).
    pub is_coinbase: bool,
}

/// What the chain says about a transaction we sent: the status that decides whether the
/// outpoints it spends are still reserved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TxStatus {
    /// In a block: its outpoints are spent for good.
    Confirmed,
    /// In the mempool: it may still confirm.
    InMempool,
    /// Proven gone: neither in a block nor in the mempool (a conflicting transaction spent
    /// one of its inputs, or it was never accepted).
    Gone,
    /// The source could not tell (unreachable, timed out).
    Unknown,
}

/// What a backend gives to prove that a confirmed transaction is in a block: the block's
/// header with a partial merkle tree (the form of Bitcoin Core's `gettxoutproof`), the
/// block's height, and its coinbase with the coinbase's merkle branch (which pins the tree's
/// depth and, through BIP 34, the height). Backends produce it; the certificate consumes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxInclusion {
    /// Height of the block.
    pub height: u64,
    /// The block header and the partial merkle tree that matches the transaction.
    pub merkle_block: bitcoin::MerkleBlock,
    /// The block's coinbase transaction (position 0).
    pub coinbase: Transaction,
    /// The coinbase's merkle branch: the sibling hash at each level, from the leaf up to
    /// (not including) the root. Empty for a block with one transaction.
    pub coinbase_branch: Vec<bitcoin::TxMerkleNode>,
}
