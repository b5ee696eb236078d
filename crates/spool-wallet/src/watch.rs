//! The public side of a wallet: watch-only keys that build unsigned transactions, and the
//! extended public key (xpub) that derives pyspool's leaf addresses without the secret.

use std::fmt;
use std::str::FromStr;

use bitcoin::bip32::{DerivationPath, Fingerprint, Xpub};
use bitcoin::{Address, CompressedPublicKey, Network, NetworkKind};

use crate::{secp, LeafPath, SigningKey, WalletError};

/// Where a key comes from in BIP 32 terms: the fingerprint of the wallet's master key and
/// the derivation path below it (pyspool's leaf path, all indices non-hardened).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyOrigin {
    /// The fingerprint of the master key (its BIP 32 key identifier's first four bytes).
    pub fingerprint: Fingerprint,
    /// The leaf path below the master key.
    pub path: LeafPath,
}

impl KeyOrigin {
    /// The leaf path as a BIP 32 derivation path (`m/...`).
    pub fn derivation_path(&self) -> DerivationPath {
        self.path.child_numbers().collect()
    }
}

/// The public side of one wallet address: what an unsigned action needs to select, build
/// and describe its inputs. Made from a signing key ([`SigningKey::watch`]), from an xpub
/// ([`WatchWallet::key`]) or from a bare P2PKH address ([`WatchKey::from_address`]; then
/// only P2PKH outputs are spendable and no BIP 32 derivation is known).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchKey {
    address: Address,
    public: Option<CompressedPublicKey>,
    origin: Option<KeyOrigin>,
    network: Network,
}

impl WatchKey {
    /// The watch key of a public key at `origin` (if known) on `network`.
    pub fn new(
        public: CompressedPublicKey,
        origin: Option<KeyOrigin>,
        network: Network,
    ) -> WatchKey {
        WatchKey {
            address: Address::p2pkh(public.pubkey_hash(), network),
            public: Some(public),
            origin,
            network,
        }
    }

    /// The watch key of a P2PKH address (the public key and its origin are unknown).
    ///
    /// # Errors
    ///
    /// [`WalletError::NotP2pkh`] for an address of another kind.
    pub fn from_address(address: Address, network: Network) -> Result<WatchKey, WalletError> {
        if !address.script_pubkey().is_p2pkh() {
            return Err(WalletError::NotP2pkh {
                address: address.to_string(),
            });
        }
        Ok(WatchKey {
            address,
            public: None,
            origin: None,
            network,
        })
    }

    /// The P2PKH address.
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// The compressed public key, when known.
    pub fn public_key(&self) -> Option<CompressedPublicKey> {
        self.public
    }

    /// The BIP 32 origin of the key, when known.
    pub fn origin(&self) -> Option<&KeyOrigin> {
        self.origin.as_ref()
    }

    /// The network of the address.
    pub fn network(&self) -> Network {
        self.network
    }
}

/// A key that can spend a wallet address's outputs, or only describe them: what the
/// transaction builder takes. [`SigningKey`] signs; [`WatchKey`] builds unsigned
/// transactions (for PSBTs).
pub trait Spender: fmt::Debug + Send + Sync {
    /// The public side of the key.
    fn watch(&self) -> WatchKey;
    /// The key that signs, if this one can.
    fn signer(&self) -> Option<&SigningKey>;
}

impl Spender for SigningKey {
    fn watch(&self) -> WatchKey {
        SigningKey::watch(self)
    }
    fn signer(&self) -> Option<&SigningKey> {
        Some(self)
    }
}

impl Spender for WatchKey {
    fn watch(&self) -> WatchKey {
        self.clone()
    }
    fn signer(&self) -> Option<&SigningKey> {
        None
    }
}

/// A wallet's public tree: its master extended public key, deriving the public key (and
/// P2PKH address) of every leaf path as the secret's wallet does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchWallet {
    xpub: Xpub,
    network: Network,
}

impl WatchWallet {
    /// The public tree of an extended public key (`xpub...`, or `tpub...` for the test
    /// networks) on `network`.
    ///
    /// # Errors
    ///
    /// [`WalletError::InvalidXpub`] for a malformed key, [`WalletError::NetworkMismatch`]
    /// for a key of the other kind of network.
    pub fn from_xpub(xpub: &str, network: Network) -> Result<WatchWallet, WalletError> {
        let xpub = Xpub::from_str(xpub.trim()).map_err(|source| WalletError::InvalidXpub {
            xpub: xpub.trim().to_owned(),
            source,
        })?;
        if xpub.network != NetworkKind::from(network) {
            return Err(WalletError::NetworkMismatch {
                key_kind: xpub.network,
                network,
            });
        }
        Ok(WatchWallet { xpub, network })
    }

    /// The extended public key.
    pub fn xpub(&self) -> &Xpub {
        &self.xpub
    }

    /// The fingerprint of the tree's master key.
    pub fn fingerprint(&self) -> Fingerprint {
        self.xpub.fingerprint()
    }

    /// The watch key at `path` (public derivation), with its BIP 32 origin.
    ///
    /// # Errors
    ///
    /// [`WalletError::Derivation`] when the path cannot be derived (probability ~2^-127).
    pub fn key(&self, path: &LeafPath) -> Result<WatchKey, WalletError> {
        let children: Vec<_> = path.child_numbers().collect();
        let derived =
            self.xpub
                .derive_pub(secp(), &children)
                .map_err(|source| WalletError::Derivation {
                    path: path.to_string(),
                    source,
                })?;
        Ok(WatchKey::new(
            CompressedPublicKey(derived.public_key),
            Some(KeyOrigin {
                fingerprint: self.fingerprint(),
                path: path.clone(),
            }),
            self.network,
        ))
    }

    /// The P2PKH address at `path`.
    ///
    /// # Errors
    ///
    /// As [`WatchWallet::key`].
    pub fn address(&self, path: &LeafPath) -> Result<Address, WalletError> {
        Ok(self.key(path)?.address().clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MasterSecret, Wallet};

    #[test]
    fn xpub_derives_the_secrets_leaf_addresses() {
        for network in [Network::Bitcoin, Network::Regtest] {
            let wallet =
                Wallet::from_secret(&MasterSecret::new("MaStErPaSsWoRd"), network).unwrap();
            let xpub = wallet.xpub().unwrap().to_string();
            let watch = WatchWallet::from_xpub(&xpub, network).unwrap();
            assert_eq!(watch.fingerprint(), wallet.fingerprint());
            for path in ["", "0/1/2/3/4/5", "2015/5/28/9/28/44/982190"] {
                let path = LeafPath::parse(path).unwrap();
                assert_eq!(
                    watch.address(&path).unwrap(),
                    wallet.address(&path).unwrap()
                );
                let key = watch.key(&path).unwrap();
                assert_eq!(key, wallet.watch_key(&path).unwrap());
                assert_eq!(key.origin().unwrap().path, path);
            }
        }
        let mainnet =
            Wallet::from_secret(&MasterSecret::new("MaStErPaSsWoRd"), Network::Bitcoin).unwrap();
        let watch =
            WatchWallet::from_xpub(&mainnet.xpub().unwrap().to_string(), Network::Bitcoin).unwrap();
        assert_eq!(
            watch
                .address(&LeafPath::parse("0/1/2/3/4/5").unwrap())
                .unwrap()
                .to_string(),
            "1F2AMKyeV2DCdehRfDj3Qq1jhaZS8MSzMq"
        );
    }

    #[test]
    fn refuses_bad_xpubs_naming_them() {
        let err = WatchWallet::from_xpub("xpubnonsense", Network::Bitcoin).unwrap_err();
        assert!(err.to_string().contains("\"xpubnonsense\""), "{err}");
        let wallet = Wallet::from_secret(&MasterSecret::new("x"), Network::Bitcoin).unwrap();
        let xpub = wallet.xpub().unwrap().to_string();
        assert!(WatchWallet::from_xpub(&xpub, Network::Regtest).is_err());
        assert!(wallet.xpub().unwrap().to_string().starts_with("xpub"));
    }
}
