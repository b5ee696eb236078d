//! `spool bump TXID --fee-rate R`: replaces an unconfirmed transaction sent from this data
//! directory by the same action paying more (BIP 125), signed with the usual secret
//! sources; the replacement takes over its reservation and claim.

use bitcoin::Txid;
use clap::Args;
use serde::{Deserialize, Serialize};
use spool_protocol::operation::{Denominations, Operation};
use spool_wallet::{LeafPath, Wallet};

use crate::cli::connect;
use crate::cli::options::Settings;
use crate::cli::output::Outcome;
use crate::cli::secret::{parse_path, SecretArgs};

/// `spool bump`'s arguments.
#[derive(Debug, Args)]
pub struct BumpArgs {
    /// The unconfirmed transaction to replace.
    #[arg(value_name = "TXID")]
    pub txid: Txid,
    /// The new fee rate in sat/vB (the replacement pays at least this and more than the
    /// original in fee and rate).
    #[arg(long, value_name = "SAT_PER_VB")]
    pub fee_rate: f64,
    /// Where the signer's master secret comes from.
    #[command(flatten)]
    pub secret: SecretArgs,
    /// The signer's leaf path (default: the root address "").
    #[arg(long, value_name = "P", value_parser = parse_path)]
    pub path: Option<LeafPath>,
    /// Add only fuel outputs with at least this many confirmations (at least 1: BIP 125
    /// admits no new unconfirmed input) [default: 6].
    #[arg(long, value_name = "N")]
    pub min_conf: Option<u32>,
}

/// `{"txid", "replaces", "verb", "fee", "hex", "broadcast"}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Output {
    /// The replacement's txid.
    pub txid: String,
    /// The transaction it replaces.
    pub replaces: String,
    /// The verb in its OP_RETURN (null for refill-main).
    pub verb: Option<String>,
    /// The replacement's fee, in satoshi (0 when a journalled bump was sent again).
    pub fee: u64,
    /// The signed replacement, hex.
    pub hex: String,
    /// Whether it was broadcast.
    pub broadcast: bool,
}

impl BumpArgs {
    /// Runs `spool bump`.
    ///
    /// # Errors
    ///
    /// Why the transaction cannot be bumped (nothing is sent), missing confirmed fuel, the
    /// failures of a broadcast.
    pub async fn run(&self, settings: &Settings) -> anyhow::Result<Outcome> {
        let network = settings.network.network();
        let secret = self.secret.read()?;
        let wallet = Wallet::from_secret(&secret, network)?;
        drop(secret);
        let path = self.path.clone().unwrap_or_else(LeafPath::root);
        let key = wallet.signing_key(&path)?;
        let min_conf = self.min_conf.or(settings.min_conf).unwrap_or(6);
        connect::server_sync_gate(settings, connect::Purpose::Action).await?;
        let spool = connect::spool(settings, Vec::new()).await?;
        let prepared = spool
            .bump(&self.txid, &key, self.fee_rate, min_conf)
            .await?;
        let tx = &prepared.built().tx;
        let output = Output {
            txid: prepared.txid().to_string(),
            replaces: self.txid.to_string(),
            verb: Operation::decipher(tx, network, Denominations::default())
                .ok()
                .map(|op| op.verb().to_string()),
            fee: prepared.fee().to_sat(),
            hex: prepared.hex(),
            broadcast: true,
        };
        let text = format!(
            "{} {} replaces {}\n",
            output.verb.as_deref().unwrap_or("refill-main"),
            output.txid,
            output.replaces
        );
        Ok(Outcome::new(&output, text)?.broadcast(output.txid.clone()))
    }
}
