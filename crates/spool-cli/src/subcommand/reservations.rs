//! `spool reservations list` and `spool reservations release TXID [--force]`: the outpoint
//! reservations and broadcast journal of this data directory (see `spool_engine::store`).

use anyhow::bail;
use bitcoin::Txid;
use clap::{Args, Subcommand};
use serde::{Deserialize, Serialize};
use spool_engine::store::{Claim, Record, TxState};
use spool_protocol::chain::TxStatus;

use crate::cli::connect;
use crate::cli::options::Settings;
use crate::cli::output::Outcome;

/// `spool reservations ...`.
#[derive(Debug, Subcommand)]
pub enum ReservationsCommand {
    /// Every reservation: its transaction, state, owner, outpoints, claims and hex.
    List,
    /// Release a transaction's outpoints so that new actions may spend them again.
    Release(ReleaseArgs),
}

/// `spool reservations release`'s arguments.
#[derive(Debug, Args)]
pub struct ReleaseArgs {
    /// The transaction whose reservation to release.
    #[arg(value_name = "TXID", value_parser = parse_txid)]
    pub txid: Txid,
    /// Release even while the transaction may still be in flight (warns: a new action may
    /// then spend the same outputs, and one of the two will fail).
    #[arg(long)]
    pub force: bool,
}

fn parse_txid(text: &str) -> Result<Txid, String> {
    text.parse()
        .map_err(|_| "not a transaction id: expected 64 hexadecimal digits".to_owned())
}

/// One reservation in `list`'s output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The transaction.
    pub txid: String,
    /// `reserved`, `sending`, `broadcast` or `unsure`.
    pub state: TxState,
    /// The process that reserved (null in stores of before the owner was recorded).
    pub owner_pid: Option<u32>,
    /// Whether that process still runs (null when the system does not tell).
    pub owner_alive: Option<bool>,
    /// When the outpoints were reserved (seconds since the Unix epoch).
    pub reserved_at: u64,
    /// When it was handed to the node.
    pub sent_at: Option<u64>,
    /// The outpoints it spends.
    pub outpoints: Vec<String>,
    /// What its action changes.
    pub claims: Vec<Claim>,
    /// The signed transaction, hex, from the broadcast journal (null if never sent).
    pub hex: Option<String>,
}

/// `list`'s output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListOutput {
    /// The file holding the reservations (the log, `reservations.log`).
    pub file: String,
    /// The broadcast journal (every broadcast, appended before it was sent).
    pub journal: String,
    /// The reservations, by txid.
    pub reservations: Vec<Entry>,
}

/// `release`'s output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseOutput {
    /// The transaction.
    pub txid: String,
    /// Outpoints released.
    pub released: usize,
    /// Whether `--force` overrode an in-flight state.
    pub forced: bool,
}

impl Entry {
    fn new(record: Record, hex: Option<String>) -> Entry {
        Entry {
            txid: record.txid.to_string(),
            state: record.state,
            owner_pid: record.owner.map(|o| o.pid),
            owner_alive: record.owner.and_then(|o| o.is_alive()),
            reserved_at: record.reserved_at,
            sent_at: record.sent_at,
            outpoints: record.outpoints.iter().map(ToString::to_string).collect(),
            claims: record.claims,
            hex,
        }
    }
}

impl ReservationsCommand {
    /// Runs the subcommand.
    ///
    /// # Errors
    ///
    /// The store cannot be opened; `release` of an unknown or in-flight transaction.
    pub async fn run(&self, settings: &Settings) -> anyhow::Result<Outcome> {
        let spool = connect::spool(settings, Vec::new()).await?;
        let store = spool.reservations();
        match self {
            ReservationsCommand::List => {
                let mut sent: std::collections::HashMap<Txid, String> = store
                    .journal()?
                    .into_iter()
                    .map(|entry| (entry.txid, entry.hex))
                    .collect();
                let reservations: Vec<Entry> = store
                    .records()?
                    .into_iter()
                    .map(|record| {
                        let hex = sent.remove(&record.txid);
                        Entry::new(record, hex)
                    })
                    .collect();
                let mut text = String::new();
                for e in &reservations {
                    text.push_str(&format!(
                        "{} {} ({} outpoints, pid {})\n",
                        e.txid,
                        e.state,
                        e.outpoints.len(),
                        e.owner_pid.map_or("-".to_owned(), |p| p.to_string())
                    ));
                }
                if reservations.is_empty() {
                    text.push_str("no reservations\n");
                }
                let output = ListOutput {
                    file: store
                        .log_path()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default(),
                    journal: store
                        .journal_path()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default(),
                    reservations,
                };
                Outcome::new(&output, text)
            }
            ReservationsCommand::Release(args) => {
                let Some(record) = store.record(&args.txid)? else {
                    bail!(
                        "no reservation of transaction {} in this data directory",
                        args.txid
                    );
                };
                let status = spool_backend::tx_status(spool.backend(), &args.txid).await;
                let in_flight = in_flight(&record, status);
                let forced = match (in_flight, args.force) {
                    (None, _) => false,
                    (Some(why), false) => bail!(
                        "transaction {} may still be in flight ({why}); releasing it lets a new \
                         action spend the same outputs: wait for it (spool wait {}) or give \
                         --force",
                        args.txid,
                        args.txid
                    ),
                    (Some(why), true) => {
                        use std::io::Write;
                        let _ = writeln!(
                            std::io::stderr(),
                            "warning: releasing {} although it may still be in flight ({why}); \
                             an action spending the same outputs may fail",
                            args.txid
                        );
                        true
                    }
                };
                let released = store.release_tx(&args.txid)?;
                let output = ReleaseOutput {
                    txid: args.txid.to_string(),
                    released,
                    forced,
                };
                Outcome::fields(&output)
            }
        }
    }
}

/// Why a reservation may still be in flight, if it may.
fn in_flight(record: &Record, status: TxStatus) -> Option<String> {
    match status {
        TxStatus::Confirmed => None,
        TxStatus::InMempool => Some("it is in the node's mempool".to_owned()),
        TxStatus::Unknown => Some("the node cannot be asked".to_owned()),
        TxStatus::Gone => match (record.state, record.owner) {
            (TxState::Broadcast | TxState::Unsure, _) => None,
            // Never sent: its signed form is not broadcast from this data directory.
            (TxState::Unsigned, _) => None,
            (_, Some(owner)) if owner.is_alive() != Some(false) => Some(format!(
                "process {} reserved it and has not finished broadcasting",
                owner.pid
            )),
            _ => None,
        },
    }
}
