//! # spool-wallet
//!
//! pyspool-compatible hierarchical deterministic wallets: a BIP32 tree seeded with the
//! user's master secret exactly as pycoin's `BIP32Node.from_master_secret` does, its root
//! and leaf P2PKH addresses, time-based unique paths, and keys from WIF or xprv.
//!
//! This crate owns keys and addresses only. It must never depend on a blockchain backend,
//! an RPC or HTTP client, an async runtime, or the transaction builder.
