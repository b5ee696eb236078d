//! `spool bump TXID --fee-rate R`: replaces an unconfirmed transaction sent from this data
//! directory by the same action paying more (BIP 125), signed with the usual secret
//! sources; the replacement takes over its reservation and claim.

use bitcoin::{Network, Txid};
use clap::Args;
use serde::{Deserialize, Serialize};
use spool_engine::Prepared;
use spool_protocol::operation::{Denominations, Operation};
use spool_wallet::{LeafPath, Spender, Wallet};

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
    /// Write the replacement as an unsigned PSBT to FILE (`-`: stdout) instead of signing
    /// it (give --xpub or --from, no secret); sign it with `spool sign` and send it with
    /// `spool broadcast`, which then moves the reservation and claim to it.
    #[arg(long, value_name = "FILE", requires = "bump_public")]
    pub psbt_out: Option<std::path::PathBuf>,
    /// The signer wallet's extended public key, for --psbt-out.
    #[arg(
        long,
        value_name = "XPUB",
        group = "bump_public",
        requires = "psbt_out"
    )]
    pub xpub: Option<String>,
    /// The signer's address, for --psbt-out without an xpub.
    #[arg(
        long,
        value_name = "ADDR",
        group = "bump_public",
        requires = "psbt_out"
    )]
    pub from: Option<crate::cli::args::AddressArg>,
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
    /// Whether it was broadcast (false with --psbt-out: `txid` is then the unsigned txid).
    pub broadcast: bool,
    /// With --psbt-out: the unsigned PSBT, base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psbt: Option<String>,
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
        if let Some(target) = &self.psbt_out {
            return self.unsigned(settings, target).await;
        }
        let secret = self.secret.read()?;
        let wallet = Wallet::from_secret(&secret, network)?;
        drop(secret);
        let path = self.path.clone().unwrap_or_else(LeafPath::root);
        let key = wallet.signing_key(&path)?;
        let (_, prepared) = self.prepare(settings, &key).await?;
        let output = self.output(&prepared, network, None);
        let text = format!(
            "{} {} replaces {}\n",
            output.verb.as_deref().unwrap_or("refill-main"),
            output.txid,
            output.replaces
        );
        Ok(Outcome::new(&output, text)?.broadcast(output.txid.clone()))
    }

    /// The replacement built by `key` (signed, or unsigned for a watch key) after the
    /// server's sync gate, with the engine that built it.
    async fn prepare(
        &self,
        settings: &Settings,
        key: &(impl Spender + ?Sized),
    ) -> anyhow::Result<(spool_engine::Spool<connect::AnyBackend>, Prepared)> {
        let min_conf = self.min_conf.or(settings.min_conf).unwrap_or(6);
        connect::server_sync_gate(settings, connect::Purpose::Action).await?;
        let spool = connect::spool(settings, Vec::new()).await?;
        let prepared = spool.bump(&self.txid, key, self.fee_rate, min_conf).await?;
        Ok((spool, prepared))
    }

    /// The answer for `prepared`: broadcast, or (with `psbt`) written unsigned.
    fn output(&self, prepared: &Prepared, network: Network, psbt: Option<String>) -> Output {
        Output {
            txid: prepared.txid().to_string(),
            replaces: self.txid.to_string(),
            verb: Operation::decipher(&prepared.built().tx, network, Denominations::default())
                .ok()
                .map(|op| op.verb().to_string()),
            fee: prepared.fee().to_sat(),
            hex: prepared.hex(),
            broadcast: psbt.is_none(),
            psbt,
        }
    }

    /// `--psbt-out`: the replacement unsigned, its new fuel reserved, written as a PSBT.
    async fn unsigned(
        &self,
        settings: &Settings,
        target: &std::path::Path,
    ) -> anyhow::Result<Outcome> {
        let network = settings.network.network();
        let key = crate::subcommand::psbt_out::public_side(
            settings,
            &self.secret,
            self.xpub.as_deref(),
            self.from.as_ref(),
            self.path.as_ref(),
        )?;
        let (spool, prepared) = self.prepare(settings, &key).await?;
        let written = async {
            let previous = spool.previous_transactions(&prepared).await?;
            let psbt = spool_tx::psbt::to_psbt(prepared.built(), &previous, &key)?;
            let text = spool_tx::psbt::to_base64(&psbt);
            if target.as_os_str() != "-" {
                crate::subcommand::psbt_out::write_file(target, &text)?;
            }
            Ok::<_, anyhow::Error>(text)
        }
        .await;
        let text = match written {
            Ok(text) => text,
            Err(err) => {
                let _ = spool.reservations().release_tx(&prepared.txid());
                return Err(err.context("the unsigned bump was not written; its fuel is released"));
            }
        };
        let output = self.output(&prepared, network, Some(text.clone()));
        let human = if target.as_os_str() == "-" {
            format!("{text}\n")
        } else {
            format!(
                "unsigned bump {} of {} written to {}; sign it with `spool sign {}`, then \
                 `spool broadcast FILE`\n",
                output.txid,
                output.replaces,
                target.display(),
                target.display()
            )
        };
        Outcome::new(&output, human)
    }
}
