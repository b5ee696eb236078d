//! Unspent outputs as the builder consumes them: the protocol crate's leaf type, re-exported.

pub use spool_protocol::chain::Utxo;
