//! A single signing key: the private key at one leaf of a wallet, with its addresses.

use std::fmt;

use bitcoin::secp256k1::{ecdsa, Message};
use bitcoin::{Address, CompressedPublicKey, KnownHrp, Network, PrivateKey, PublicKey};
use zeroize::Zeroizing;

use crate::secp;

/// The private key of one wallet address (always compressed), on one network.
///
/// The secret key is erased from memory on drop; `Debug` shows only the address.
#[derive(Clone)]
pub struct SigningKey {
    key: PrivateKey,
    public: CompressedPublicKey,
    network: Network,
}

impl SigningKey {
    /// Wraps a secp256k1 secret key for use on `network` (the key is used compressed).
    pub fn new(secret: bitcoin::secp256k1::SecretKey, network: Network) -> SigningKey {
        let key = PrivateKey::new(secret, network);
        let public = CompressedPublicKey(secret.public_key(secp()));
        SigningKey {
            key,
            public,
            network,
        }
    }

    /// The network this key's addresses are for.
    pub fn network(&self) -> Network {
        self.network
    }

    pub(crate) fn set_network(&mut self, network: Network) {
        self.key.network = network.into();
        self.network = network;
    }

    /// The compressed public key.
    pub fn public_key(&self) -> CompressedPublicKey {
        self.public
    }

    /// The public key in the `bitcoin::PublicKey` form (compressed).
    pub fn bitcoin_public_key(&self) -> PublicKey {
        PublicKey::from(self.public)
    }

    /// The P2PKH address of this key: the address pyspool uses.
    pub fn address(&self) -> Address {
        Address::p2pkh(self.public.pubkey_hash(), self.network)
    }

    /// The public side of this key (no BIP 32 origin: see [`crate::Wallet::watch_key`]).
    pub fn watch(&self) -> crate::WatchKey {
        crate::WatchKey::new(self.public, None, self.network)
    }

    /// The P2WPKH address of this key (for spending segwit outputs sent to it).
    pub fn p2wpkh_address(&self) -> Address {
        Address::p2wpkh(&self.public, KnownHrp::from(self.network))
    }

    /// Signs a 32-byte message (a sighash) with RFC6979 deterministic nonces; the
    /// signature is low-S normalized.
    pub fn sign_ecdsa(&self, msg: &Message) -> ecdsa::Signature {
        secp().sign_ecdsa(msg, &self.key.inner)
    }

    /// The key in wallet import format (compressed). Treat the result as a secret: it is
    /// wiped when dropped.
    pub fn to_wif(&self) -> Zeroizing<String> {
        Zeroizing::new(self.key.to_wif())
    }
}

impl Drop for SigningKey {
    fn drop(&mut self) {
        self.key.inner.non_secure_erase();
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("address", &self.address().to_string())
            .field("secret", &"<redacted>")
            .finish()
    }
}
