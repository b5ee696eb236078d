//! # spool-backend
//!
//! One async trait, [`Backend`], for everything SPOOL needs from a blockchain: UTXOs of an
//! address (never one a mempool transaction already spends), the transactions that paid an
//! address (a piece's history) with their prevouts and places, one transaction, broadcast
//! (a transaction the node already has is success), the tip, and waiting for confirmations.
//! Two implementations:
//!
//! - [`core::CoreBackend`]: a Bitcoin Core node over JSON-RPC (`-txindex=1`, no wallet
//!   needed, cookie or user/password auth). History and UTXOs come from `scantxoutset` plus
//!   the mempool; calls of a kind are batched; [`core::CoreBackend::rpc_counts`] counts them.
//! - [`esplora::EsploraBackend`]: any Esplora HTTP API, following history pagination.
//!
//! Errors are one [`BackendError`]; [`BackendError::is_retryable`] tells transient failures
//! (unreachable, timed out) from final ones. Both backends retry transient failures per
//! their [`RetryPolicy`]. [`tx_status`] tells whether a sent transaction is confirmed, pending or gone.
//!
//! Measured with `cargo run --release -p spool-backend --example history_load` (a piece with
//! 1,000 SPOOL transactions, 980 in 10 blocks and 20 in the mempool): Core 43 RPC calls in
//! 8 round trips (63 and 9 with a cold mempool cache), Esplora 50 HTTP requests; with the
//! 980 spread 10 to a block (`-- 1000 20 10`): Core 1,101 calls in 8 round trips, Esplora
//! 138 requests.
//!
//! A real Esplora is checked with `cargo run -p spool-backend --example real_esplora`
//! (`SPOOL_ESPLORA_URL`, `SPOOL_ESPLORA_NETWORK`, `SPOOL_ESPLORA_ADDRESS`, optionally a funded
//! `SPOOL_ESPLORA_WIF`; see the example).
//!
//! This crate owns chain access only. It must never depend on the CLI, and the protocol
//! rules it serves stay in spool-protocol.

mod backend;
pub mod certificate;
pub mod core;
mod error;
pub mod esplora;
mod retry;
pub mod server;
mod status;
pub mod token;
pub mod turns;

pub use backend::{Backend, WaitProgress, SPENDABLE_PER_VALUE};
pub use error::BackendError;
pub use retry::RetryPolicy;
pub use status::tx_status;
pub use token::{ApiToken, TokenError};
