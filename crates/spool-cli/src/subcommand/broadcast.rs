//! `spool broadcast FILE`: sends the signed form (a finalized or signed PSBT, or raw hex)
//! of an unsigned action made in this data directory, after checking it against the
//! template its reservation recorded and every input's previous transaction against its
//! txid. Same output and exit codes as an action.

use std::path::PathBuf;

use bitcoin::Address;
use clap::Args;
use spool_protocol::operation::{Denominations, Operation};
use spool_tx::psbt::{self, PsbtOrTx};

use crate::cli::connect;
use crate::cli::exit;
use crate::cli::options::Settings;
use crate::cli::output::Outcome;
use crate::subcommand::action::Output;

/// `spool broadcast`'s arguments.
#[derive(Debug, Args)]
pub struct BroadcastArgs {
    /// The signed PSBT (base64 or binary) or raw transaction (hex); `-`: stdin.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

impl BroadcastArgs {
    /// Runs `spool broadcast`.
    ///
    /// # Errors
    ///
    /// An unreadable or unsigned file, a transaction that differs from its template or is
    /// not an unsigned action of this data directory (nothing is sent), or the failures of
    /// a broadcast.
    pub async fn run(&self, settings: &Settings) -> anyhow::Result<Outcome> {
        let network = settings.network.network();
        let bytes = crate::subcommand::sign::read_input(&self.file)?;
        let read = psbt::read(&bytes).map_err(|e| {
            exit::as_input(anyhow::Error::new(e).context(format!("{}", self.file.display())))
        })?;
        let tx = match read {
            PsbtOrTx::Tx(tx) => tx,
            PsbtOrTx::Psbt(mut psbt) => psbt::finalize(&mut psbt).map_err(|e| {
                exit::as_input(
                    anyhow::Error::new(e)
                        .context(format!("{} cannot be finalized", self.file.display())),
                )
            })?,
        };
        connect::server_sync_gate(settings, connect::Purpose::Action).await?;
        let spool = connect::spool(settings, Vec::new()).await?;
        let operation = Operation::decipher(&tx, network, Denominations::default()).ok();
        let to_address = operation
            .as_ref()
            .map(|op| op.destination().to_string())
            .or_else(|| {
                tx.output
                    .first()
                    .and_then(|o| Address::from_script(&o.script_pubkey, network).ok())
                    .map(|a| a.to_string())
            })
            .unwrap_or_default();
        let prepared = spool.broadcast_signed(tx).await?;
        let output = Output {
            txid: prepared.txid().to_string(),
            verb: operation.as_ref().map(|op| op.verb().to_string()),
            fee: prepared.fee().to_sat(),
            hex: prepared.hex(),
            from_address: prepared.from().to_string(),
            to_address,
            broadcast: true,
            confirmed: false,
            checked: false,
            psbt: None,
        };
        let text = format!(
            "{} {}\n",
            output.verb.as_deref().unwrap_or("refill-main"),
            output.txid
        );
        Ok(Outcome::new(&output, text)?.broadcast(output.txid.clone()))
    }
}
