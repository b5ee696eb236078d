//! `spool wallet address [--path P | --unique]`: an address of the signer's wallet.

use clap::{Args, Subcommand};
use serde::{Deserialize, Serialize};
use spool_wallet::{LeafPath, Wallet};

use crate::cli::options::Settings;
use crate::cli::output::Outcome;
use crate::cli::secret::{parse_path, SecretArgs};

/// `spool wallet ...`
#[derive(Debug, Subcommand)]
pub enum WalletCommand {
    /// Print the address at a leaf path (default: the root address).
    Address(AddressArgs),
    /// Print the wallet's master extended public key and fingerprint: with it an online
    /// machine derives every leaf address and writes PSBTs (--psbt-out --xpub) that only
    /// the secret can sign.
    Xpub(XpubArgs),
}

/// `spool wallet xpub`'s arguments.
#[derive(Debug, Args)]
pub struct XpubArgs {
    /// Where the master secret comes from.
    #[command(flatten)]
    pub secret: SecretArgs,
}

/// `{"xpub", "fingerprint"}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct XpubOutput {
    /// The master extended public key (xpub on mainnet, tpub on the test networks).
    pub xpub: String,
    /// The master key's fingerprint (hex), as PSBT derivations name it.
    pub fingerprint: String,
}

/// `spool wallet address`'s arguments.
#[derive(Debug, Args)]
pub struct AddressArgs {
    /// Where the master secret comes from.
    #[command(flatten)]
    pub secret: SecretArgs,
    /// Leaf path, e.g. `0/1/2` (default: the root, "").
    #[arg(long, value_name = "P", value_parser = parse_path, conflicts_with = "unique")]
    pub path: Option<LeafPath>,
    /// A fresh time path `YYYY/M/D/h/m/s/microsecond`, as pyspool makes for new pieces.
    #[arg(long)]
    pub unique: bool,
}

/// `{"path", "address"}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    /// The leaf path ("" for the root).
    pub path: String,
    /// The P2PKH address.
    pub address: String,
}

impl WalletCommand {
    /// Runs the command.
    ///
    /// # Errors
    ///
    /// The secret cannot be read, or the path cannot be derived.
    pub fn run(&self, settings: &Settings) -> anyhow::Result<Outcome> {
        match self {
            WalletCommand::Xpub(args) => {
                let secret = args.secret.read()?;
                let wallet = Wallet::from_secret(&secret, settings.network.network())?;
                drop(secret);
                let xpub = wallet
                    .xpub()
                    .ok_or_else(|| anyhow::anyhow!("a single-key wallet has no xpub"))?;
                let output = XpubOutput {
                    xpub: xpub.to_string(),
                    fingerprint: wallet.fingerprint().to_string(),
                };
                let text = format!("{} (fingerprint {})\n", output.xpub, output.fingerprint);
                Outcome::new(&output, text)
            }
            WalletCommand::Address(args) => {
                let read = args.secret.read_reporting()?;
                if read.dropped_newline {
                    eprintln!("{}", crate::cli::secret::DROPPED_NEWLINE_NOTE);
                }
                let secret = read.secret;
                let wallet = Wallet::from_secret(&secret, settings.network.network())?;
                let path = if args.unique {
                    LeafPath::unique()
                } else {
                    args.path.clone().unwrap_or_else(LeafPath::root)
                };
                let address = wallet.address(&path)?;
                let output = Output {
                    path: path.to_string(),
                    address: address.to_string(),
                };
                let text = if output.path.is_empty() {
                    format!("{} (root)\n", output.address)
                } else {
                    format!("{} {}\n", output.address, output.path)
                };
                Outcome::new(&output, text)
            }
        }
    }
}
