//! The engine's errors. None carries secret material.

use bitcoin::{Address, Amount};

/// Why the engine did not (or could not) carry out an action. Whenever one of these is
/// returned before [`crate::engine::Spool::broadcast`] succeeded, nothing was broadcast.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The ownership pre-check refused the action (pyspool's reason text).
    #[error("{action} refused: {reason}")]
    Refused {
        /// The action, e.g. `transfer`.
        action: &'static str,
        /// pyspool's reason.
        reason: String,
    },
    /// The signer's address lacks fuel or tokens.
    #[error(
        "not enough fuel at {address}: needs {need_fuel} fuel outputs of {} sat and {need_tokens} \
         token outputs of {} sat with at least {min_conf} confirmations, found {found_fuel} and \
         {found_tokens} unreserved; refill it: spool refill --to {address} --fees {need_fuel} \
         --tokens {need_tokens}",
        .fee.to_sat(),
        .token.to_sat()
    )]
    NotEnoughFuel {
        /// The signer's address.
        address: Address,
        /// Fuel outputs needed.
        need_fuel: usize,
        /// Fuel outputs found.
        found_fuel: usize,
        /// Token outputs needed.
        need_tokens: usize,
        /// Token outputs found.
        found_tokens: usize,
        /// Fuel denomination.
        fee: Amount,
        /// Token denomination.
        token: Amount,
        /// The confirmations asked for.
        min_conf: u32,
    },
    /// The signer's address has nothing spendable at all.
    #[error(
        "no spendable outputs found at {address} with at least {min_conf} confirmations \
         (coinbases need 100); refill it (spool refill, or spool refill-main for the federation)"
    )]
    NoSpendableOutputs {
        /// The signer's address.
        address: Address,
        /// The confirmations asked for.
        min_conf: u32,
    },
    /// The refill wallet's balance is too small for a main-wallet refill.
    #[error(
        "not enough funds at {address}: needs {} sat (outputs plus fee), found {} sat in \
         {found_outputs} outputs with at least {min_conf} confirmations (coinbases need 100)",
        .needed.to_sat(),
        .found.to_sat()
    )]
    NotEnoughFunds {
        /// The refill wallet's address.
        address: Address,
        /// Total needed.
        needed: Amount,
        /// Total found.
        found: Amount,
        /// Outputs found.
        found_outputs: usize,
        /// The confirmations asked for.
        min_conf: u32,
    },
    /// The fee rate is not a usable number.
    #[error("fee rate {0} sat/vB is not usable: give a positive number")]
    BadFeeRate(f64),
    /// Building or signing failed.
    #[error("cannot build the transaction: {0}")]
    Build(#[source] spool_tx::TxError),
    /// The reservation store failed.
    #[error("outpoint reservations: {0}")]
    Reservation(#[from] spool_tx::ReservationError),
    /// The backend failed.
    #[error("{context}{source}")]
    Backend {
        /// The backend's description followed by `: ` when the error does not already name
        /// its URL, else empty.
        context: String,
        /// What went wrong.
        #[source]
        source: spool_backend::BackendError,
    },
}
