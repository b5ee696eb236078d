//! The wallet: a BIP32 tree from a master secret (or an xprv), or a single WIF key.

use std::fmt;
use std::str::FromStr;

use bitcoin::bip32::{self, ChainCode, Fingerprint, Xpriv, Xpub};
use bitcoin::hashes::{sha512, Hash, HashEngine, Hmac, HmacEngine};
use bitcoin::secp256k1::{Scalar, SecretKey};
use bitcoin::{Address, Network, NetworkKind, PrivateKey};

use crate::{secp, KeyOrigin, LeafPath, MasterSecret, SigningKey, WalletError, WatchKey};

/// A pyspool-compatible wallet on one network.
///
/// Made from a master secret (pyspool's password) it is the BIP32 tree whose master key is
/// HMAC-SHA512("Bitcoin seed", secret bytes), exactly pycoin's `from_master_secret`; its
/// addresses are P2PKH of compressed keys. `Debug` never shows key material.
#[derive(Clone)]
pub struct Wallet {
    network: Network,
    keys: Keys,
}

#[derive(Clone)]
enum Keys {
    Tree(Box<Xpriv>),
    Single(SigningKey),
}

impl Drop for Keys {
    fn drop(&mut self) {
        if let Keys::Tree(xpriv) = self {
            xpriv.private_key.non_secure_erase();
        }
    }
}

fn default_network(kind: NetworkKind) -> Network {
    match kind {
        NetworkKind::Main => Network::Bitcoin,
        NetworkKind::Test => Network::Testnet,
    }
}

impl Wallet {
    /// The wallet of a master secret on `network` (mainnet, testnet, signet or regtest).
    ///
    /// # Errors
    ///
    /// A [`crate::WalletError`] when the secret gives no valid BIP32 master key.
    pub fn from_secret(secret: &MasterSecret, network: Network) -> Result<Wallet, WalletError> {
        let master = Xpriv::new_master(network, secret.expose_bytes())
            .map_err(WalletError::InvalidMasterKey)?;
        Ok(Wallet {
            network,
            keys: Keys::Tree(Box::new(master)),
        })
    }

    /// A single-key wallet from a WIF private key: only its root path `""` exists. A
    /// test-network WIF gives a testnet wallet; use [`Wallet::with_network`] for regtest or
    /// signet. Uncompressed WIF keys are refused.
    ///
    /// # Errors
    ///
    /// A [`crate::WalletError`] for a malformed WIF key.
    pub fn from_wif(wif: &str) -> Result<Wallet, WalletError> {
        let key = PrivateKey::from_wif(wif.trim()).map_err(WalletError::InvalidWif)?;
        if !key.compressed {
            return Err(WalletError::UncompressedWif);
        }
        let network = default_network(key.network);
        Ok(Wallet {
            network,
            keys: Keys::Single(SigningKey::new(key.inner, network)),
        })
    }

    /// A tree wallet whose master is an extended private key (`xprv...` or `tprv...`);
    /// paths are derived below it. A `tprv` gives a testnet wallet; see
    /// [`Wallet::with_network`].
    ///
    /// # Errors
    ///
    /// A [`crate::WalletError`] for a malformed extended private key.
    pub fn from_xprv(xprv: &str) -> Result<Wallet, WalletError> {
        let master = Xpriv::from_str(xprv.trim()).map_err(WalletError::InvalidXprv)?;
        Ok(Wallet {
            network: default_network(master.network),
            keys: Keys::Tree(Box::new(master)),
        })
    }

    /// The same keys on another network of the same kind (e.g. testnet -> regtest).
    ///
    /// # Errors
    ///
    /// [`WalletError::NetworkMismatch`] for a network of another kind.
    pub fn with_network(mut self, network: Network) -> Result<Wallet, WalletError> {
        let kind = NetworkKind::from(self.network);
        if NetworkKind::from(network) != kind {
            return Err(WalletError::NetworkMismatch {
                key_kind: kind,
                network,
            });
        }
        self.network = network;
        if let Keys::Single(key) = &mut self.keys {
            key.set_network(network);
        }
        Ok(self)
    }

    /// The network of this wallet's addresses.
    pub fn network(&self) -> Network {
        self.network
    }

    /// Whether leaf paths can be derived (false for a single WIF key).
    pub fn is_tree(&self) -> bool {
        matches!(self.keys, Keys::Tree(_))
    }

    /// The root address (pyspool's path `""`).
    pub fn root_address(&self) -> Address {
        match &self.keys {
            Keys::Tree(master) => SigningKey::new(master.private_key, self.network).address(),
            Keys::Single(key) => key.address(),
        }
    }

    /// The P2PKH address at `path`.
    ///
    /// # Errors
    ///
    /// A [`crate::WalletError`] when the path cannot be derived.
    pub fn address(&self, path: &LeafPath) -> Result<Address, WalletError> {
        Ok(self.signing_key(path)?.address())
    }

    /// The master extended public key of a tree wallet (`None` for a single WIF key): it
    /// derives every leaf address ([`crate::WatchWallet`]) and nothing can be signed with it.
    pub fn xpub(&self) -> Option<Xpub> {
        match &self.keys {
            Keys::Tree(master) => {
                let mut xpub = Xpub::from_priv(secp(), master);
                xpub.network = NetworkKind::from(self.network);
                Some(xpub)
            }
            Keys::Single(_) => None,
        }
    }

    /// The fingerprint of the master key (of the single key for a WIF wallet).
    pub fn fingerprint(&self) -> Fingerprint {
        match &self.keys {
            Keys::Tree(master) => master.fingerprint(secp()),
            Keys::Single(key) => {
                let id = bitcoin::hashes::hash160::Hash::hash(&key.public_key().to_bytes());
                Fingerprint::from(<[u8; 4]>::try_from(&id[..4]).expect("4 bytes"))
            }
        }
    }

    /// The public side of the key at `path`, with its BIP 32 origin (this wallet's master
    /// fingerprint and `path`).
    ///
    /// # Errors
    ///
    /// A [`crate::WalletError`] when the path cannot be derived.
    pub fn watch_key(&self, path: &LeafPath) -> Result<WatchKey, WalletError> {
        let key = self.signing_key(path)?;
        Ok(WatchKey::new(
            key.public_key(),
            Some(KeyOrigin {
                fingerprint: self.fingerprint(),
                path: path.clone(),
            }),
            self.network,
        ))
    }

    /// The signing key at `path` (the root key for [`LeafPath::root`]).
    ///
    /// # Errors
    ///
    /// A [`crate::WalletError`] when the path cannot be derived.
    pub fn signing_key(&self, path: &LeafPath) -> Result<SigningKey, WalletError> {
        match &self.keys {
            Keys::Tree(master) => {
                let secret = derive(master, path).map_err(|source| WalletError::Derivation {
                    path: path.to_string(),
                    source,
                })?;
                Ok(SigningKey::new(secret, self.network))
            }
            Keys::Single(key) if path.is_root() => Ok(key.clone()),
            Keys::Single(_) => Err(WalletError::NotATree {
                path: path.to_string(),
            }),
        }
    }
}

/// Non-hardened BIP32 private derivation (CKDpriv) along `path`. Same result as
/// `Xpriv::derive_priv`, without computing each parent's fingerprint (a second public-key
/// multiplication per step that a leaf key does not need).
fn derive(master: &Xpriv, path: &LeafPath) -> Result<SecretKey, bip32::Error> {
    let mut secret = master.private_key;
    let mut chain_code = master.chain_code;
    for index in path.indices() {
        let public = secret.public_key(secp());
        let mut engine: HmacEngine<sha512::Hash> = HmacEngine::new(chain_code.as_bytes());
        engine.input(&public.serialize());
        engine.input(&index.to_be_bytes());
        let hmac = Hmac::<sha512::Hash>::from_engine(engine);
        let bytes = hmac.as_byte_array();
        let tweak = Scalar::from_be_bytes(bytes[..32].try_into().expect("32 bytes"))
            .map_err(|_| bip32::Error::Secp256k1(bitcoin::secp256k1::Error::InvalidTweak))?;
        let child = secret.add_tweak(&tweak).map_err(bip32::Error::Secp256k1)?;
        secret.non_secure_erase();
        secret = child;
        chain_code = ChainCode::from(<[u8; 32]>::try_from(&bytes[32..]).expect("32 bytes"));
    }
    Ok(secret)
}

impl fmt::Debug for Wallet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wallet")
            .field("network", &self.network)
            .field("root_address", &self.root_address().to_string())
            .field("keys", &"<redacted>")
            .finish()
    }
}
