//! Wallet errors. None of them ever carries secret material (master secrets, WIF, xprv).

/// Everything that can go wrong creating a wallet, parsing a path or deriving a key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WalletError {
    /// A path component is empty, e.g. `0//1` or a leading or trailing `/`.
    #[error("path {path:?}: component {index} is empty")]
    EmptyComponent {
        /// The path as given.
        path: String,
        /// Zero-based index of the empty component.
        index: usize,
    },
    /// A path component asks for hardened derivation (`'`, `h`, `H` or `p` suffix).
    #[error("path {path:?}: component {component:?} is hardened; spool paths are non-hardened")]
    HardenedComponent {
        /// The path as given.
        path: String,
        /// The offending component.
        component: String,
    },
    /// A path component is a number at or above 2^31 (the hardened range).
    #[error("path {path:?}: component {component:?} is not below 2^31")]
    ComponentTooLarge {
        /// The path as given.
        path: String,
        /// The offending component.
        component: String,
    },
    /// A path component is not a decimal number.
    #[error("path {path:?}: component {component:?} is not a decimal number")]
    InvalidComponent {
        /// The path as given.
        path: String,
        /// The offending component.
        component: String,
    },
    /// The master secret gives an invalid BIP32 master key (probability ~2^-127).
    #[error("the master secret does not give a valid bip32 master key")]
    InvalidMasterKey(#[source] bitcoin::bip32::Error),
    /// A WIF string could not be decoded (the string itself is secret and not shown).
    #[error("invalid wif private key")]
    InvalidWif(#[source] bitcoin::key::FromWifError),
    /// A WIF string encodes an uncompressed key; spool wallets use compressed keys.
    #[error(
        "wif private key is for an uncompressed public key; only compressed keys are supported"
    )]
    UncompressedWif,
    /// An xprv string could not be decoded (the string itself is secret and not shown).
    #[error("invalid extended private key")]
    InvalidXprv(#[source] bitcoin::bip32::Error),
    /// Child key derivation failed (probability ~2^-127 per step).
    #[error("cannot derive path {path}")]
    Derivation {
        /// The path being derived.
        path: String,
        /// The underlying BIP32 error.
        #[source]
        source: bitcoin::bip32::Error,
    },
    /// A wallet made from a single key (WIF) has only its root; it cannot derive leaves.
    #[error("wallet from a single key has no path {path}; only the root path \"\" exists")]
    NotATree {
        /// The requested path.
        path: String,
    },
    /// The requested network is of the wrong kind for the key (mainnet vs test networks).
    #[error("key is for {key_kind:?} networks, cannot use it on {network}")]
    NetworkMismatch {
        /// The kind of network the key is encoded for.
        key_kind: bitcoin::NetworkKind,
        /// The network asked for.
        network: bitcoin::Network,
    },
    /// An extended public key could not be decoded.
    #[error("{xpub:?} is not an extended public key (xpub/tpub)")]
    InvalidXpub {
        /// The key as given (public, so it is shown).
        xpub: String,
        /// Why it does not decode.
        #[source]
        source: bitcoin::bip32::Error,
    },
    /// An address that must be P2PKH (a pyspool wallet address) is of another kind.
    #[error("{address} is not a p2pkh address; spool wallet addresses are p2pkh")]
    NotP2pkh {
        /// The address.
        address: String,
    },
}
