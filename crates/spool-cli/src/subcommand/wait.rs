//! `spool wait TXID [--min-conf N] [--timeout S]`: waits until a transaction has enough
//! confirmations (e.g. after `--wait` timed out). Output: `{txid, confirmations,
//! block_height}`. A wait that ends without them exits with
//! [`EXIT_WAIT_INCOMPLETE`](crate::cli::exit::WAIT_INCOMPLETE).

use std::time::Duration;

use anyhow::Context;
use bitcoin::Txid;
use clap::Args;
use serde::{Deserialize, Serialize};
use spool_backend::Backend;
use spool_protocol::chain::TxPlace;

use crate::cli::connect;
use crate::cli::options::Settings;
use crate::cli::output::{Incomplete, Outcome};

/// `spool wait`'s arguments.
#[derive(Debug, Args)]
pub struct WaitArgs {
    /// The transaction id.
    #[arg(value_name = "TXID", value_parser = parse_txid)]
    pub txid: Txid,
    /// Confirmations to wait for.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub min_conf: u32,
    /// How long to wait, in seconds.
    #[arg(long, value_name = "S", default_value_t = 3600)]
    pub timeout: u64,
}

/// `{"txid", "confirmations", "block_height"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    /// The transaction id.
    pub txid: String,
    /// Its confirmations when the wait ended.
    pub confirmations: u64,
    /// The height of the block holding it (null while unconfirmed).
    pub block_height: Option<u64>,
}

fn parse_txid(text: &str) -> Result<Txid, String> {
    text.parse()
        .map_err(|_| "not a transaction id: expected 64 hexadecimal digits".to_owned())
}

impl WaitArgs {
    /// Runs `spool wait`. Once confirmed, the transaction's reservation (if this data
    /// directory holds one) is released.
    ///
    /// # Errors
    ///
    /// The backend's failure before anything could be looked at.
    pub async fn run(&self, settings: &Settings) -> anyhow::Result<Outcome> {
        let spool = match settings.data_dir {
            Some(_) => connect::spool(settings, Vec::new()).await?,
            None => connect::reader(settings, Vec::new())?,
        };
        let waited = spool
            .wait_confirmed(
                &self.txid,
                self.min_conf.max(1),
                Duration::from_secs(self.timeout),
            )
            .await;
        let (place, failed) = match waited {
            Ok(place) => (Some(place), None),
            Err(err) => {
                // Where is it now, if the node answers at all?
                let now = spool.backend().transaction(&self.txid).await.ok();
                (now.map(|tx| tx.place), Some(err))
            }
        };
        let (confirmations, block_height) = match place {
            Some(TxPlace::Confirmed { height, .. }) => {
                let tip = spool
                    .backend()
                    .tip_height()
                    .await
                    .context("cannot read the tip height")?;
                (tip.saturating_sub(height) + 1, Some(height))
            }
            _ => (0, None),
        };
        let output = Output {
            txid: self.txid.to_string(),
            confirmations,
            block_height,
        };
        let text = match block_height {
            Some(height) => format!(
                "{}: {confirmations} confirmation(s), block {height}\n",
                output.txid
            ),
            None => format!("{}: unconfirmed\n", output.txid),
        };
        let outcome = Outcome::new(&output, text)?;
        Ok(match failed {
            None => outcome,
            Some(err) => outcome.incomplete(Incomplete {
                message: format!(
                    "{} did not reach {} confirmation(s): {}",
                    self.txid,
                    self.min_conf.max(1),
                    crate::cli::one_line(&anyhow::Error::new(err), "wait")
                ),
                code: crate::cli::exit::WAIT_INCOMPLETE,
            }),
        })
    }
}
