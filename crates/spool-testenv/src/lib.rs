//! # spool-testenv
//!
//! Test support for spool-rs: every integration test that needs a blockchain gets a real,
//! fresh `bitcoind -regtest -txindex=1` (no wallet) in a temporary data directory, on free
//! loopback ports, with cookie authentication. The node is stopped and its directory
//! deleted when the [`Node`] is dropped, also when the test panics. Many nodes can run side
//! by side.
//!
//! The binary comes from `BITCOIND_EXE`, else `bitcoind` on `PATH`, else the cache that
//! `cargo xtask bitcoind` fills. When none exists the test fails loudly: it is never skipped.
//!
//! This crate is a dev-dependency only; no library crate may depend on it in normal builds.

#[cfg(feature = "browser")]
pub mod browser;
pub mod esplora;
mod exe;
mod node;
pub mod scenario;

pub use exe::{bitcoind_exe, cache_root};
pub use node::{Node, NodeError};

pub use bitcoincore_rpc;
