//! Errors of the reservation store.

use super::*;

/// Errors of the reservation store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Reading, writing or locking a file failed.
    #[error("reservation store {path}: {action} failed")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file of the store (`reservations.json`, a line of `reservations.log` before its
    /// last, or an earlier format's file) does not parse or fails its checksum (the store is
    /// never written in that case). The message says how to recover: move that file aside.
    #[error(
        "reservation file {path} is corrupt: {reason}; to recover, move it aside \
         (mv {path} {path}.corrupt) and run again: this forgets which outputs your unconfirmed \
         spool transactions spend, so let them confirm before the next action from the same \
         wallet (the chain and your wallets are not affected)",
        path = .path.display()
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A file of the store was written in a newer, unknown format version.
    #[error("reservation file {} has unknown format version {version}", .path.display())]
    UnknownVersion {
        /// The file.
        path: PathBuf,
        /// Its version.
        version: u32,
    },
    /// Another process held the store's lock for longer than allowed.
    #[error(
        "reservation store {} is locked by another process{} and stayed locked for {}s; \
         if that process hangs, end it and run again",
        .path.display(),
        .holder.map(|pid| format!(" (pid {pid})")).unwrap_or_default(),
        .waited.as_secs()
    )]
    LockTimeout {
        /// The lock file.
        path: PathBuf,
        /// The process holding it, when the system tells.
        holder: Option<u32>,
        /// How long was waited.
        waited: Duration,
    },
    /// An outpoint is already reserved by another transaction.
    #[error(transparent)]
    Conflict(#[from] ReservationConflict),
    /// What the action changes is claimed by a pending transaction its pre-check did not see.
    #[error(
        "{claim} has a pending action in transaction {holder} ({state}) that has not \
         confirmed; wait for it (spool wait {holder}) and try again"
    )]
    Claimed {
        /// The contested claim.
        claim: Claim,
        /// The pending transaction holding it.
        holder: Txid,
        /// Its state.
        state: TxState,
    },
    /// No reservation of that transaction.
    #[error("no reservation of transaction {txid}")]
    NotReserved {
        /// The transaction asked for.
        txid: Txid,
    },
    /// An unsigned action's template does not decode.
    #[error("the template of an unsigned action does not decode: {reason}")]
    BadTemplate {
        /// Why.
        reason: String,
    },
}
