//! # spool-index
//!
//! An embedded SQLite index of SPOOL transactions that follows a Bitcoin Core node, and the
//! JSON API (`spool serve`) answering from it.
//!
//! - [`store`]: the SQLite file (`<data-dir>/<network>/index.sqlite`, WAL mode): schema,
//!   per-batch atomic block commits, rollback to a fork point, mempool rows, queries;
//! - [`node`]: the follower's JSON-RPC client (raw blocks, batches, filters);
//! - [`rest`]: raw blocks through the node's REST interface when it offers one;
//! - [`follower`]: catch-up over batched raw blocks (the next batch fetched while the
//!   current one is written), tip and mempool polling, reorg rollback, chain checks;
//! - [`api`]: the axum JSON API under `/api/v1`;
//! - [`serve`]: follower and API started and stopped together (`spool serve`).
//!
//! History, ownership and holdings are computed by spool-protocol's rules from the stored
//! transactions: the index stores chain data, never verdicts.

pub mod api;
mod busy;
pub mod certificate;
mod error;
pub mod follower;
pub mod metrics;
pub mod node;
mod prefilter;
pub mod reservations;
pub mod rest;
pub mod serve;
pub mod store;

pub use error::IndexError;
pub use follower::{Follower, FollowerConfig, Progress, SharedState, SyncState};
pub use node::{NodeConfig, NodeRpc};
pub use serve::{start, start_with, Running, ServeConfig, DEFAULT_HTTP};
pub use store::{index_path, Store};
