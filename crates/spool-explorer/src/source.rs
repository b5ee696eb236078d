//! What the explorer reads from the chain, and how a reader reports failure.
//!
//! The trait is synchronous and small on purpose: the index answers from SQLite, and the
//! router calls it inside `tokio::task::spawn_blocking`.

use bitcoin::{Address, BlockHash, Network, Txid};
use spool_protocol::certificate::Certificate;
use spool_protocol::chain::ChainTx;

/// How far the data source has followed the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncStatus {
    /// Height of the last block the source holds.
    pub indexed_height: u64,
    /// Hash of that block.
    pub indexed_hash: BlockHash,
    /// Height of the node's best block.
    pub node_height: u64,
    /// Whether the source holds the node's tip and mempool.
    pub synced: bool,
}

/// A SPOOL transaction that left the mempool because another transaction spent its
/// outpoints (a fee bump of the same action, or a double spend), while the source still
/// knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplacedTx {
    /// The transaction as it was in the mempool (it never confirmed).
    pub transaction: ChainTx,
    /// The transaction that spent its outpoints.
    pub replaced_by: Txid,
}

/// Why the data source could not answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// Reading failed (a database or node error); `source()` gives the cause.
    #[error("cannot read {what} from the data source")]
    Read {
        /// What was being read, e.g. `the transactions of piece mv5y...`.
        what: String,
        /// The underlying failure.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The source cannot answer yet (e.g. the index is still being created).
    #[error("the data source is not ready: {reason}")]
    NotReady {
        /// Why not.
        reason: String,
    },
}

/// The chain data the explorer's pages need. Implemented by the index (through an adapter) and
/// by [`crate::memory::MemorySource`].
///
/// Every list holds transactions with their previous outputs and places, exactly as the
/// history rules of `spool-protocol` consume them; the explorer builds and verifies each
/// piece's history itself, with the federation set it is configured with.
pub trait ExplorerSource: Send + Sync + 'static {
    /// The network the source follows.
    fn network(&self) -> Network;

    /// How far the source has followed the node.
    ///
    /// # Errors
    /// [`SourceError`] when the source cannot be read.
    fn status(&self) -> Result<SyncStatus, SourceError>;

    /// Every transaction that pays `piece` (confirmed and unconfirmed), in any order.
    ///
    /// # Errors
    /// [`SourceError`] when the source cannot be read.
    fn piece_transactions(&self, piece: &Address) -> Result<Vec<ChainTx>, SourceError>;

    /// One transaction, or `None` when the source does not know it.
    ///
    /// # Errors
    /// [`SourceError`] when the source cannot be read.
    fn transaction(&self, txid: &Txid) -> Result<Option<ChainTx>, SourceError>;

    /// The pieces (their addresses, i.e. file hashes) whose SPOOL transactions involve
    /// `address` as sender or recipient, each once, in any order. A transaction's piece is
    /// its first output; refills (FUEL) belong to no piece.
    ///
    /// # Errors
    /// [`SourceError`] when the source cannot be read.
    fn address_pieces(&self, address: &Address) -> Result<Vec<Address>, SourceError>;

    /// The latest transactions carrying a SPOOL verb (refills included), newest first: the
    /// mempool, then the chain by descending (height, position); at most `limit`.
    ///
    /// # Errors
    /// [`SourceError`] when the source cannot be read.
    fn latest_transactions(&self, limit: usize) -> Result<Vec<ChainTx>, SourceError>;

    /// `txid`, when it is a SPOOL transaction that the source knew in the mempool and that
    /// another transaction replaced, or `None` (the default: the source keeps no such record).
    ///
    /// # Errors
    /// [`SourceError`] when the source cannot be read.
    fn replaced_transaction(&self, txid: &Txid) -> Result<Option<ReplacedTx>, SourceError> {
        let _ = txid;
        Ok(None)
    }

    /// A provenance certificate of `edition` of `piece`, judged with `federation`, issued at
    /// the source's tip and dated by that tip's block time (so that the same tip gives the
    /// same file, byte for byte), or `None` when this source cannot issue certificates (the
    /// default: an in-memory source holds no proofs).
    ///
    /// # Errors
    /// [`SourceError`] when the source cannot read the transactions, proofs or headers.
    fn certificate(
        &self,
        piece: &Address,
        edition: u64,
        federation: &[Address],
    ) -> Result<Option<Certificate>, SourceError> {
        let _ = (piece, edition, federation);
        Ok(None)
    }
}
