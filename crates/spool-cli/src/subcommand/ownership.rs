//! `spool ownership ADDRESS PIECE_ADDRESS --edition N`: what an address may do with an
//! edition, with pyspool's reasons.

use clap::Args;
use spool_protocol::ownership::Ownership;

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

/// `{"owner", "can_...", "reasons": {"can_...": "..."}}`: the protocol's report, the same
/// type the index's API serves, so `--server` and direct mode answer identically.
pub use spool_protocol::ownership::OwnershipReport as Output;

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
        connect::server_sync_gate(settings, connect::Purpose::Read).await?;
        let spool = connect::reader(settings, federation)?;
        let history = connect::history(&spool, &piece, self.min_conf).await?;
        let ownership = Ownership::new(&history, &address.to_string(), self.edition);
        let output = Output::new(&ownership);
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
        for (name, allowed) in output.checks() {
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
