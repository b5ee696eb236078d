//! # spool-wallet
//!
//! pyspool-compatible hierarchical deterministic wallets: a BIP32 tree seeded with the
//! user's master secret exactly as pycoin's `BIP32Node.from_master_secret` does, its root
//! and leaf P2PKH addresses, time-based unique paths, and keys from WIF or xprv.
//!
//! This crate owns keys and addresses only. It must never depend on a blockchain backend,
//! an RPC or HTTP client, an async runtime, or the transaction builder.
//!
//! ```
//! use spool_wallet::{LeafPath, MasterSecret, Wallet};
//! use bitcoin::Network;
//!
//! let secret = MasterSecret::new("MaStErPaSsWoRd");
//! let wallet = Wallet::from_secret(&secret, Network::Bitcoin).unwrap();
//! assert_eq!(wallet.root_address().to_string(), "19XyEM554GKKAPHihuGS4J3kCbFEBvqcYz");
//! let leaf = LeafPath::parse("0/1/2/3/4/5").unwrap();
//! assert_eq!(
//!     wallet.address(&leaf).unwrap().to_string(),
//!     "1F2AMKyeV2DCdehRfDj3Qq1jhaZS8MSzMq"
//! );
//! ```

mod error;
mod key;
mod path;
mod secret;
mod wallet;
mod watch;

pub use error::WalletError;
pub use key::SigningKey;
pub use path::LeafPath;
pub use secret::MasterSecret;
pub use wallet::Wallet;
pub use watch::{KeyOrigin, Spender, WatchKey, WatchWallet};

use std::sync::LazyLock;

use bitcoin::secp256k1::{All, Secp256k1};

/// A fresh, never-repeating time path `YYYY/M/D/h/m/s/microsecond` (see [`LeafPath::unique`]).
pub fn unique_path() -> LeafPath {
    LeafPath::unique()
}

/// The process-wide secp256k1 context (signing and verification).
pub fn secp() -> &'static Secp256k1<All> {
    static SECP: LazyLock<Secp256k1<All>> = LazyLock::new(Secp256k1::new);
    &SECP
}
