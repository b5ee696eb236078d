//! # spool-engine
//!
//! The orchestration of SPOOL actions (pyspool's `Spool` class), for the command line and for
//! any service that embeds it. Two layers, in the manner of BDK's pure `TxGraph` with the
//! network in extension traits:
//!
//! - [`plan`]: the pure core. From plain data (a [`Request`], the piece's verified
//!   [`History`](spool_protocol::history::History), the signer's UTXOs, the set of reserved
//!   outpoints) it returns a signed transaction or a typed refusal ([`plan::PlanError`]). No
//!   I/O, no async: tested with fixtures and proptest, without a node.
//! - [`Spool`]: the async driver over [`spool_backend::Backend`]: it fetches the part of the
//!   history its action reads and the UTXOs, settles and takes reservations
//!   ([`store::Reservations`], an append-only log shared by processes), runs the core,
//!   broadcasts and waits.
//!
//! Nothing here speaks a user interface's language: errors carry typed data
//! ([`EngineError`]) that the CLI renders (its refill hint, its subcommand names).
//!
//! ```no_run
//! # async fn demo(backend: spool_backend::core::CoreBackend, key: spool_wallet::SigningKey,
//! #               request: spool_engine::Request) -> Result<(), Box<dyn std::error::Error>> {
//! use spool_engine::store::Reservations;
//! use spool_engine::{SendOptions, Spool};
//!
//! let spool = Spool::new(backend, Reservations::in_memory());
//! let prepared = spool.prepare(&request, &key, &SendOptions::default()).await?;
//! let txid = spool.broadcast(&prepared).await?;
//! spool.wait_confirmed(&txid, 1, std::time::Duration::from_secs(600)).await?;
//! # Ok(()) }
//! ```

mod driver;
mod error;
pub mod plan;
pub mod request;
pub mod store;

pub use driver::{
    claims_of, Prepared, SendOptions, Spool, PAUSE_BEFORE_BROADCAST, UNREACHABLE_GRACE,
};
pub use error::{BumpRefusal, EngineError};
pub use request::Request;
