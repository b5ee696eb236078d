//! # spool-tx
//!
//! The SPOOL transaction builder and signer: fixed-denomination fuel and token inputs,
//! token outputs in pyspool's order, the verb in an OP_RETURN, no change; refills; and the
//! persistent reservation of spent outpoints that keeps rapid-fire actions from spending
//! the same output twice.
//!
//! It takes UTXOs and returns signed transactions. It must never depend on a backend
//! client (RPC, HTTP, async runtime); where it needs chain data it asks through a trait
//! ([`reserve::TxStatusSource`]).
//!
//! Entry points: [`build_action`] (a SPOOL action from a wallet's fuel and tokens),
//! [`build_spool_tx`] (the same shape from inputs chosen by the caller), [`build_refill`]
//! (federation -> user FUEL), [`build_refill_main`] (refill wallet -> federation, with
//! change), and [`Reservations`].

mod action;
mod built;
mod error;
mod params;
mod refill;
pub mod reserve;
mod select;
pub mod sign;
pub mod standard;
pub mod utxo;

pub use action::{build_action, build_spool_tx, recipient_count};
pub use built::BuiltTx;
pub use error::TxError;
pub use params::TxParams;
pub use refill::{build_refill, build_refill_main};
pub use reserve::{ReservationError, Reservations, TxStatus, TxStatusSource};
pub use utxo::Utxo;

/// Confirmations a coinbase output needs before it can be spent.
pub const COINBASE_MATURITY: u32 = 100;
