//! # spool-explorer
//!
//! The SPOOL provenance explorer: pages and pictures a collector can read.
//!
//! - [`svg`]: the provenance graph of a piece as SVG, drawn by our own code from a
//!   [`History`](spool_protocol::history::History) (pure; the CLI's `history --format svg`
//!   uses it too);
//! - [`source`]: the small, synchronous [`ExplorerSource`] trait the pages read chain data
//!   through (the index implements it; [`memory::MemorySource`] holds a list of transactions);
//! - [`router`](mod@router): an axum [`Router`](axum::Router) serving the HTML pages (home with search and
//!   file upload, piece, the whole provenance graph, edition, address, transaction, status, 404/400) and one stylesheet,
//!   rendered on the server with maud: no JavaScript, fonts or CDNs.
//!
//! Validity on every page follows the federation set the router is configured with
//! ([`ExplorerConfig::federation`]), as `spool history` does.

pub mod memory;
mod model;
mod overview;
mod pages;
pub mod router;
pub mod source;
pub mod svg;
mod upload;

pub use router::{router, ExplorerConfig};
pub use source::{ExplorerSource, ReplacedTx, SourceError, SyncStatus};
