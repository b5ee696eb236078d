//! # spool-tx
//!
//! The SPOOL transaction builder and signer: fixed-denomination fuel and token inputs,
//! token outputs in pyspool's order, the verb in an OP_RETURN, no change; refills; and the
//! persistent reservation of spent outpoints that keeps rapid-fire actions from spending
//! the same output twice.
//!
//! It takes UTXOs and returns signed transactions. It must never depend on a backend
//! client (RPC, HTTP, async runtime); where it needs chain data it asks through a trait.

pub mod utxo;
