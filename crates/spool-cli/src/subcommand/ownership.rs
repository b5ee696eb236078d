//! `spool ownership ADDRESS PIECE_ADDRESS --edition N`: what an address may do with an
//! edition, with pyspool's reasons.

use std::collections::BTreeMap;

use clap::Args;
use serde::{Deserialize, Serialize};
use spool_protocol::ownership::{Check, Ownership};

use crate::cli::args::AddressArg;
use crate::cli::connect;
use crate::cli::options::Settings;
use crate::cli::output::Outcome;

/// `spool ownership`'s arguments.
#[derive(Debug, Args)]
pub struct OwnershipArgs {
    /// The address asked about.
    pub address: AddressArg,
    /// The piece address (its file hash).
    pub piece_address: AddressArg,
    /// The edition (0 = the master edition).
    #[arg(long, value_name = "N")]
    pub edition: u64,
    /// Federation addresses [default: SPOOL_FEDERATION, the config file's `federation`,
    /// else ascribe's on mainnet and none elsewhere].
    #[arg(long, value_name = "ADDR")]
    pub federation: Vec<AddressArg>,
    /// Events with fewer confirmations do not count.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub min_conf: u32,
}

/// `{"owner", "can_...", "reasons": {"can_...": "..."}}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    /// The address asked about.
    pub address: String,
    /// The piece address.
    pub piece_address: String,
    /// The edition asked about.
    pub edition_number: u64,
    /// The edition's owner (the last recipient, loans set aside), if registered.
    pub owner: Option<String>,
    /// Who the edition is consigned to, while consigned.
    pub consignee: Option<String>,
    /// pyspool's `can_register_master`.
    pub can_register_master: bool,
    /// pyspool's `can_editions`.
    pub can_editions: bool,
    /// pyspool's `can_register` (of this edition).
    pub can_register: bool,
    /// pyspool's `can_transfer`.
    pub can_transfer: bool,
    /// pyspool's `can_consign`.
    pub can_consign: bool,
    /// pyspool's `can_loan`.
    pub can_loan: bool,
    /// pyspool's `can_unconsign`.
    pub can_unconsign: bool,
    /// pyspool's reason for every `false`, keyed by the field name.
    pub reasons: BTreeMap<String, String>,
}

impl OwnershipArgs {
    /// Runs the command.
    ///
    /// # Errors
    ///
    /// A bad address, or the backend's failure.
    pub async fn run(&self, settings: &Settings) -> anyhow::Result<Outcome> {
        let network = settings.network.network();
        let address = self.address.on(network, "address")?;
        let piece = self.piece_address.on(network, "piece address")?;
        let federation = connect::federation(settings, &self.federation)?;
        let spool = connect::reader(settings, federation)?;
        let history = connect::history(&spool, &piece, self.min_conf).await?;
        let ownership = Ownership::new(&history, &address.to_string(), self.edition);
        let output = output(&ownership, &piece.to_string());
        let mut text = format!(
            "edition {} of {}: owner {}\n",
            self.edition,
            piece,
            output.owner.as_deref().unwrap_or("(not registered)")
        );
        if let Some(consignee) = &output.consignee {
            text.push_str(&format!("consigned to {consignee}\n"));
        }
        text.push_str(&format!("rights of {address}:\n"));
        for (name, allowed) in [
            ("can_register_master", output.can_register_master),
            ("can_editions", output.can_editions),
            ("can_register", output.can_register),
            ("can_transfer", output.can_transfer),
            ("can_consign", output.can_consign),
            ("can_loan", output.can_loan),
            ("can_unconsign", output.can_unconsign),
        ] {
            match output.reasons.get(name) {
                Some(reason) if !allowed => text.push_str(&format!("  {name}: no ({reason})\n")),
                _ => text.push_str(&format!(
                    "  {name}: {}\n",
                    if allowed { "yes" } else { "no" }
                )),
            }
        }
        Outcome::new(&output, text)
    }
}

/// The JSON output of an ownership question.
pub fn output(ownership: &Ownership<'_>, piece_address: &str) -> Output {
    let mut reasons = BTreeMap::new();
    let mut record = |name: &str, check: Check| {
        if let (false, Some(reason)) = (check.allowed, check.reason) {
            reasons.insert(name.to_string(), reason.to_string());
        }
        check.allowed
    };
    Output {
        address: ownership.address().to_string(),
        piece_address: piece_address.to_string(),
        edition_number: ownership.edition(),
        owner: ownership.owner(),
        consignee: ownership.consignee(),
        can_register_master: record("can_register_master", ownership.can_register_master()),
        can_editions: record("can_editions", ownership.can_editions()),
        can_register: record("can_register", ownership.can_register()),
        can_transfer: record("can_transfer", ownership.can_transfer()),
        can_consign: record("can_consign", ownership.can_consign()),
        can_loan: record("can_loan", ownership.can_loan()),
        can_unconsign: record("can_unconsign", ownership.can_unconsign()),
        reasons,
    }
}
