//! # spool-backend
//!
//! One async trait for everything SPOOL needs from a blockchain (UTXOs, a piece's history,
//! transactions with their prevouts and place, broadcast, the tip, waiting for
//! confirmations), with a Bitcoin Core RPC implementation and an Esplora one.
//!
//! This crate owns chain access only. It must never depend on the CLI, and the protocol
//! rules it serves stay in spool-protocol.
