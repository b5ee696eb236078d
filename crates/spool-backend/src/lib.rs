//! # spool-backend
//!
//! One async trait for everything SPOOL needs from a blockchain (UTXOs, a piece's history,
//! transactions with their prevouts and place, broadcast, the tip, waiting for
//! confirmations), with a Bitcoin Core RPC implementation ([`core::CoreBackend`]) and an
//! Esplora one ([`esplora::EsploraBackend`]).
//!
//! This crate owns chain access only. It must never depend on the CLI, and the protocol
//! rules it serves stay in spool-protocol.

mod backend;
pub mod core;
mod error;
pub mod esplora;
mod retry;
mod status;

pub use backend::{Backend, WaitProgress};
pub use error::BackendError;
pub use retry::RetryPolicy;
pub use status::tx_status;
