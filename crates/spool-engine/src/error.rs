//! The engine's errors. None carries secret material; none repeats its source's text (the
//! source is reachable through [`std::error::Error::source`]).

use bitcoin::Txid;
use spool_protocol::history::HistoryError;

use crate::plan::PlanError;
use crate::store::StoreError;

/// Why the engine did not (or could not) carry out an action. Whenever one of these is
/// returned before [`crate::Spool::broadcast`] succeeded, nothing was broadcast.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The planning core refused or failed (pre-check, funds, build).
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The reservation store failed.
    #[error("outpoint reservations")]
    Reservations(#[source] StoreError),
    /// What the action changes is claimed by another pending action
    /// ([`StoreError::Claimed`]): refused before anything was built.
    #[error(transparent)]
    Pending(StoreError),
    /// The backend failed; its error names the backend's URL.
    #[error(transparent)]
    Backend(spool_backend::BackendError),
    /// The backend failed; `at` describes it (its error does not name it).
    #[error("{at}")]
    BackendAt {
        /// The backend's description, e.g. `bitcoind at http://127.0.0.1:18443`.
        at: String,
        /// What went wrong.
        #[source]
        source: spool_backend::BackendError,
    },
    /// The piece's history cannot be built.
    #[error(transparent)]
    History(#[from] HistoryError),
    /// The transaction was sent, but the connection dropped before the answer, and the
    /// backend could not be asked afterwards whether it has it: it may be in the mempool.
    /// Its outpoints stay reserved; `spool wait TXID` learns its fate. Never repeat the
    /// action on this error.
    #[error("transaction {txid} may have been broadcast: sending it to {at} failed before an answer arrived, and asking again did not settle the outcome; its outputs stay reserved. Do not repeat the action: run `spool wait {txid}` to learn its fate")]
    BroadcastUnknown {
        /// The transaction sent.
        txid: Txid,
        /// The backend's description.
        at: String,
        /// The last failure.
        #[source]
        source: spool_backend::BackendError,
    },
    /// The server the action goes through (`spool serve`) holds a claim or an outpoint of it
    /// for another operator's pending transaction: refused before signing, nothing sent.
    #[error("{reason}")]
    ReservedElsewhere {
        /// The pending transaction holding it.
        holder: Txid,
        /// Whether a claim is held (another action on the same thing must wait), rather
        /// than an outpoint (other outputs can be chosen).
        claim: bool,
        /// The server's words, naming the holder.
        reason: String,
    },
    /// The node refused the transaction because another transaction already spends the
    /// outputs it spends; nothing was broadcast and its reservation is released.
    #[error("{}", conflict_text(.txid, .conflicting.as_ref(), *.ours))]
    Conflict {
        /// The refused transaction.
        txid: Txid,
        /// The transaction that spends the same outputs, when the node named it.
        conflicting: Option<Txid>,
        /// Whether `conflicting` was sent from this data directory.
        ours: bool,
        /// The node's words, kept for `-v` and JSON.
        node_reason: String,
    },
    /// An unsigned action cannot be broadcast: its PSBT must be signed first.
    #[error("transaction {txid} is unsigned: write it as a psbt (--psbt-out), sign it (spool sign) and broadcast the signed file (spool broadcast)")]
    Unsigned {
        /// The unsigned transaction.
        txid: Txid,
    },
    /// A signed transaction handed to `broadcast` is not the signed form of an unsigned
    /// action of this data directory: no reservation holds what it spends.
    #[error("transaction {txid} is not the signed form of an unsigned action of this data directory: no reservation holds the outputs it spends (released, already confirmed, or made with another --data-dir); nothing was broadcast")]
    NoTemplate {
        /// The transaction.
        txid: Txid,
    },
    /// A signed transaction spends the outputs of an unsigned action but differs from its
    /// template (another signer reordered or changed it).
    #[error("transaction {txid} does not match unsigned action {template}, whose outputs it spends: {difference}; nothing was broadcast")]
    NotTemplate {
        /// The transaction.
        txid: Txid,
        /// The unsigned action's txid.
        template: Txid,
        /// The first difference, in words.
        difference: String,
    },
    /// `spool bump` cannot bump this transaction; nothing was sent.
    #[error("cannot bump transaction {txid}: {reason}")]
    Bump {
        /// The transaction asked for.
        txid: Txid,
        /// Why.
        reason: BumpRefusal,
    },
}

/// Why a transaction cannot be bumped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BumpRefusal {
    /// It is confirmed: there is nothing to replace.
    #[error("it is confirmed")]
    Confirmed,
    /// This data directory did not send it (no reservation, no journal line).
    #[error("it is unknown to this data directory (only transactions sent from it can be bumped)")]
    Unknown,
    /// The node does not have it.
    #[error("it is not in the node's mempool")]
    NotInMempool,
    /// It is an unsigned action, never broadcast.
    #[error("it is an unsigned action that was never broadcast; sign and broadcast it first")]
    Unsigned,
    /// The key given is not the one that signed it.
    #[error(
        "it spends {spends}, not outputs of the signer {key}; give its signer's secret and --path"
    )]
    WrongKey {
        /// The address its inputs spend.
        spends: String,
        /// The key's address.
        key: String,
    },
    /// It was bumped already, and the replacement is in the mempool.
    #[error("it was already replaced by {by}; bump that one instead")]
    AlreadyBumped {
        /// The replacement.
        by: Txid,
    },
}

/// The words of [`EngineError::Conflict`].
fn conflict_text(txid: &Txid, conflicting: Option<&Txid>, ours: bool) -> String {
    match (conflicting, ours) {
        (Some(other), true) => format!(
            "transaction {txid} was not broadcast: the outputs it spends are already spent by \
             transaction {other}, which this data directory sent earlier; nothing was sent. \
             Wait for it (`spool wait {other}`) and check the piece before acting again"
        ),
        (Some(other), false) => format!(
            "transaction {txid} was not broadcast: the outputs it spends are already spent by \
             transaction {other}, which someone else sent (another operator or wallet using \
             the same outputs); nothing was sent. Check the piece's history (`spool history`), \
             then run the action again if it still applies: it chooses other outputs"
        ),
        (None, _) => format!(
            "transaction {txid} was not broadcast: the outputs it spends are already spent by \
             another transaction; nothing was sent. Run the action again: it chooses other \
             outputs"
        ),
    }
}

impl From<StoreError> for EngineError {
    fn from(err: StoreError) -> EngineError {
        match err {
            StoreError::Claimed { .. } => EngineError::Pending(err),
            other => EngineError::Reservations(other),
        }
    }
}

impl EngineError {
    /// The backend's error, when the backend failed.
    pub fn backend_error(&self) -> Option<&spool_backend::BackendError> {
        match self {
            EngineError::Backend(source)
            | EngineError::BackendAt { source, .. }
            | EngineError::BroadcastUnknown { source, .. } => Some(source),
            _ => None,
        }
    }
}
