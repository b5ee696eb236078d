//! `spool pieces`: the pieces registered on chain (by the federation when one is set), from
//! a `spool serve` index (`--server`).

use clap::Args;
use serde::{Deserialize, Serialize};
use spool_index::api::{PieceRow, PiecesReply, MAX_PAGE};

use crate::cli::args::AddressArg;
use crate::cli::connect;
use crate::cli::options::Settings;
use crate::cli::output::Outcome;

/// `spool pieces`'s arguments.
#[derive(Debug, Args)]
pub struct PiecesArgs {
    /// Federation addresses [default: ascribe's on mainnet, none elsewhere].
    #[arg(long, value_name = "ADDR")]
    pub federation: Vec<AddressArg>,
}

/// `{"pieces": [{"piece_address", "number_editions", "registered_by", "block_height"}]}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    /// Every registered piece, in order of first appearance on chain.
    pub pieces: Vec<PieceRow>,
}

impl PiecesArgs {
    /// Runs the command, reading every page of the server's list.
    ///
    /// # Errors
    ///
    /// No `--server` ([`connect::NeedsServer`]), or the server's failure.
    pub async fn run(&self, settings: &Settings) -> anyhow::Result<Outcome> {
        let server = connect::server(settings, "pieces")?;
        connect::server_sync_gate(settings, connect::Purpose::Read).await?;
        let federation = connect::federation(settings, &self.federation)?.join(",");
        let mut pieces = Vec::new();
        let mut offset = 0;
        loop {
            let page: PiecesReply = server
                .get_json(&format!(
                    "/pieces?offset={offset}&limit={MAX_PAGE}&federation={federation}"
                ))
                .await?;
            pieces.extend(page.pieces);
            match page.next_offset {
                Some(next) if next > offset => offset = next,
                _ => break,
            }
        }
        let output = Output { pieces };
        let mut text = String::new();
        for row in &output.pieces {
            text.push_str(&format!(
                "{}  editions {}  registered by {} at {}\n",
                row.piece_address,
                row.number_editions.map_or("-".into(), |n| n.to_string()),
                row.registered_by.as_deref().unwrap_or("-"),
                row.block_height.map_or("mempool".into(), |h| h.to_string()),
            ));
        }
        if output.pieces.is_empty() {
            text.push_str("(no pieces)\n");
        }
        Outcome::new(&output, text)
    }
}
