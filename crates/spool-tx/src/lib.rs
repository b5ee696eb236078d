//! # spool-tx
//!
//! The SPOOL transaction builder and signer: fixed-denomination fuel and token inputs,
//! token outputs in pyspool's order, the verb in an OP_RETURN, no change; refills; and the
//! set of reserved outpoints that keeps rapid-fire actions from spending the same output
//! twice.
//!
//! It takes UTXOs and returns signed transactions. It must never depend on a backend
//! client (RPC, HTTP, async runtime) or touch files: chain statuses come in as values
//! ([`spool_protocol::chain::TxStatus`]).
//!
//! Entry points: [`build_action`] (a SPOOL action from a wallet's fuel and tokens),
//! [`build_spool_tx`] (the same shape from inputs chosen by the caller), [`build_refill`]
//! (federation -> user FUEL), [`build_refill_main`] (refill wallet -> federation, with
//! change), and the pure reservation set ([`ReservationSet`]; the persistent store that
//! shares it between processes lives in spool-engine).

mod action;
mod built;
pub mod bump;
pub mod claims;
mod error;
mod params;
pub mod psbt;
mod refill;
pub mod reserve;
mod select;
pub mod sign;
pub mod standard;
pub mod utxo;

pub use action::{build_action, build_spool_tx};
pub use built::BuiltTx;
pub use bump::build_bump;
pub use error::{Shortage, TxError};
pub use params::TxParams;
pub use refill::{build_refill, build_refill_main, MAX_REFILL_OUTPUTS};
pub use reserve::{Reservation, ReservationConflict, ReservationSet};
pub use utxo::Utxo;

/// Confirmations a coinbase output needs before it can be spent.
pub const COINBASE_MATURITY: u32 = 100;
