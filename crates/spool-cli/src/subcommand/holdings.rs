//! `spool holdings ADDRESS`: what an address holds (owner, consignee or borrower), from a
//! `spool serve` index (`--server`).

use clap::Args;
use spool_index::api::HoldingsReply;
use spool_protocol::state::Role;

use crate::cli::args::AddressArg;
use crate::cli::connect;
use crate::cli::options::Settings;
use crate::cli::output::Outcome;

/// `spool holdings`'s arguments.
#[derive(Debug, Args)]
pub struct HoldingsArgs {
    /// The address asked about.
    pub address: AddressArg,
    /// Federation addresses [default: ascribe's on mainnet, none elsewhere].
    #[arg(long, value_name = "ADDR")]
    pub federation: Vec<AddressArg>,
}

/// `{"address", "holdings": [{"piece_address", "edition", "role"}]}`: the index's own reply
/// type, so the CLI and the API print the same document.
pub type Output = HoldingsReply;

impl HoldingsArgs {
    /// Runs the command.
    ///
    /// # Errors
    ///
    /// No `--server` ([`connect::NeedsServer`]), a bad address, or the server's failure.
    pub async fn run(&self, settings: &Settings) -> anyhow::Result<Outcome> {
        let server = connect::server(settings, "holdings")?;
        connect::server_sync_gate(settings, connect::Purpose::Read).await?;
        let network = settings.network.network();
        let address = self.address.on(network, "address")?;
        let federation = connect::federation(settings, &self.federation)?;
        let output: Output = server
            .get_json(&format!(
                "/address/{address}/holdings?federation={}",
                federation.join(",")
            ))
            .await?;
        let mut text = format!("holdings of {}:\n", output.address);
        for holding in &output.holdings {
            let role = match holding.role {
                Role::Owner => "owner",
                Role::Consignee => "consignee",
                Role::Borrower => "borrower",
            };
            let edition = match holding.edition {
                0 => "master edition".to_string(),
                n => format!("edition {n}"),
            };
            text.push_str(&format!("  {} {edition}: {role}\n", holding.piece_address));
        }
        if output.holdings.is_empty() {
            text.push_str("  (nothing)\n");
        }
        Outcome::new(&output, text)
    }
}
