//! Parsing of argument values that need the network: addresses and piece hashes.

use std::str::FromStr;

use bitcoin::address::NetworkUnchecked;
use bitcoin::{Address, Network};

use spool_protocol::operation::PieceHashes;

/// An address as typed, checked against the network once the network is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressArg {
    text: String,
    parsed: Address<NetworkUnchecked>,
}

impl FromStr for AddressArg {
    type Err = String;
    fn from_str(text: &str) -> Result<AddressArg, String> {
        let parsed =
            Address::from_str(text).map_err(|err| format!("malformed address {text:?}: {err}"))?;
        Ok(AddressArg {
            text: text.to_string(),
            parsed,
        })
    }
}

impl AddressArg {
    /// The address, if it belongs to `network`.
    ///
    /// # Errors
    ///
    /// The address belongs to another network.
    pub fn on(&self, network: Network, what: &str) -> anyhow::Result<Address> {
        check_network(&self.parsed, &self.text, network, what)
    }
}

fn check_network(
    parsed: &Address<NetworkUnchecked>,
    text: &str,
    network: Network,
    what: &str,
) -> anyhow::Result<Address> {
    if !parsed.is_valid_for_network(network) {
        return Err(crate::cli::exit::input(format_args!(
            "{what} {text} is an address of another network, not {}",
            network_name(network)
        )));
    }
    Ok(parsed.clone().assume_checked())
}

/// `--piece H[,HM]`: the piece's file hash and, optionally, its file hash with metadata
/// (without metadata both are the file hash, as pyspool's `File` gives them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PieceArg {
    file_hash: AddressArg,
    file_hash_metadata: AddressArg,
}

impl FromStr for PieceArg {
    type Err = String;
    fn from_str(text: &str) -> Result<PieceArg, String> {
        let parse = |part: &str| {
            AddressArg::from_str(part.trim()).map_err(|_| {
                format!("malformed piece hash {part:?}: expected a base58 file hash (H or H,HM)")
            })
        };
        let mut parts = text.split(',');
        let first = parts.next().unwrap_or_default();
        let second = parts.next();
        if parts.next().is_some() {
            return Err(format!(
                "malformed piece hash {text:?}: expected H or H,HM (at most two hashes)"
            ));
        }
        let file_hash = parse(first)?;
        let file_hash_metadata = match second {
            Some(part) => parse(part)?,
            None => file_hash.clone(),
        };
        Ok(PieceArg {
            file_hash,
            file_hash_metadata,
        })
    }
}

impl PieceArg {
    /// Both hashes, checked against the network.
    ///
    /// # Errors
    ///
    /// A hash of another network, or one that is not a P2PKH-style file hash.
    pub fn on(&self, network: Network) -> anyhow::Result<PieceHashes> {
        let file_hash = self.file_hash.on(network, "piece hash")?;
        let file_hash_metadata = self.file_hash_metadata.on(network, "piece hash")?;
        for (hash, text) in [
            (&file_hash, &self.file_hash.text),
            (&file_hash_metadata, &self.file_hash_metadata.text),
        ] {
            if hash.address_type() != Some(bitcoin::AddressType::P2pkh) {
                return Err(crate::cli::exit::input(format_args!(
                    "malformed piece hash {text}: a file hash is a base58 p2pkh-style hash"
                )));
            }
        }
        Ok(PieceHashes {
            file_hash,
            file_hash_metadata,
        })
    }
}

/// The CLI name of a network.
pub fn network_name(network: Network) -> &'static str {
    match network {
        Network::Bitcoin => "mainnet",
        Network::Testnet => "testnet",
        Network::Testnet4 => "testnet4",
        Network::Signet => "signet",
        Network::Regtest => "regtest",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn piece_with_and_without_metadata_hash() {
        let one: PieceArg = "mhXeWEMLnEwVNnyqKrqUDPAYSuwhfyNXA7".parse().unwrap();
        let hashes = one.on(Network::Regtest).unwrap();
        assert_eq!(hashes.file_hash, hashes.file_hash_metadata);
        let two: PieceArg = "mhXeWEMLnEwVNnyqKrqUDPAYSuwhfyNXA7,mzQxP43Y4A6PfYeArV2mGBEucJfDtsyCk5"
            .parse()
            .unwrap();
        let hashes = two.on(Network::Testnet).unwrap();
        assert_eq!(
            hashes.file_hash_metadata.to_string(),
            "mzQxP43Y4A6PfYeArV2mGBEucJfDtsyCk5"
        );
    }

    #[test]
    fn malformed_and_foreign_hashes_are_named() {
        let err = "not-a-hash".parse::<PieceArg>().unwrap_err();
        assert!(err.contains("malformed piece hash \"not-a-hash\""), "{err}");
        let err = "a,b,c".parse::<PieceArg>().unwrap_err();
        assert!(err.contains("at most two"), "{err}");
        let mainnet: PieceArg = "19XyEM554GKKAPHihuGS4J3kCbFEBvqcYz".parse().unwrap();
        let err = mainnet.on(Network::Regtest).unwrap_err().to_string();
        assert!(err.contains("another network, not regtest"), "{err}");
    }
}
