//! # spool-protocol
//!
//! The pure core of SPOOL, the Secure Public Online Ownership Ledger, as pyspool speaks it:
//! verbs and their OP_RETURN payloads, file hashes, and the history and ownership rules that
//! turn a piece's transactions into provenance. A third party can depend on this crate alone
//! to verify who owns an edition.
//!
//! This crate owns no I/O: it must never depend on async runtimes, HTTP or RPC clients,
//! databases or the file system (readers are taken as `std::io::Read`). Chain data comes in
//! as plain values ([`chain::ChainTx`]).
//!
//! - [`verb`]: typed verbs ([`verb::Verb`]), pyspool's decoder ([`verb::DecodedVerb`]), the
//!   checked constructors;
//! - [`operation`]: one action's on-chain form ([`operation::Operation`]): checked
//!   constructors, `encipher` to outputs and `decipher` back;
//! - [`payload`]: the OP_RETURN script and [`payload::decipher`] for a transaction;
//! - [`file_hash`]: the piece's `file_hash` / `file_hash_metadata`, streamed;
//! - [`history`]: the verified history of a piece ([`history::History`], [`history::Event`]);
//! - [`ownership`]: pyspool's ownership checks over the valid events;
//! - [`scope`]: the part of a piece's history the rules about one edition read;
//! - [`reason`]: typed verdicts ([`reason::Reason`]): pyspool's reason texts with stable codes;
//! - [`certificate`]: provenance certificates: a file that proves who owns an edition,
//!   verified offline ([`certificate::Certificate::verify`]);
//! - [`state`]: a piece's current state ([`state::PieceState`]) and an address's holdings.

pub use bitcoin;

pub mod certificate;
pub mod chain;
pub mod file_hash;
pub mod history;
mod ledger;
pub mod operation;
pub mod ownership;
pub mod payload;
pub mod reason;
pub mod scope;
pub mod state;
pub mod verb;
