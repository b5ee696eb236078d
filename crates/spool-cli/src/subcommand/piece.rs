//! `spool piece PIECE_ADDRESS`: a piece's current state: who registered it, who holds each
//! edition, to whom it is consigned and the holder's loans.

use std::fmt::Write as _;

use clap::Args;
use spool_protocol::state::PieceState;

use crate::cli::args::AddressArg;
use crate::cli::connect;
use crate::cli::options::Settings;
use crate::cli::output::Outcome;

/// `spool piece`'s arguments.
#[derive(Debug, Args)]
pub struct PieceArgs {
    /// The piece address (its file hash).
    pub piece_address: AddressArg,
    /// Federation addresses [default: SPOOL_FEDERATION, the config file's `federation`,
    /// else ascribe's on mainnet and none elsewhere].
    #[arg(long, value_name = "ADDR")]
    pub federation: Vec<AddressArg>,
    /// Events with fewer confirmations do not count.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub min_conf: u32,
}

/// `{piece_address, number_editions, registered_by, master_owner, editions: [{edition,
/// registered, owner, consignee, loans: [{borrower, start, end}]}]}` (edition 0 = the master).
pub type Output = PieceState;

impl PieceArgs {
    /// Runs the command.
    ///
    /// # Errors
    ///
    /// A bad address, or the backend's failure.
    pub async fn run(&self, settings: &Settings) -> anyhow::Result<Outcome> {
        let network = settings.network.network();
        let piece = self.piece_address.on(network, "piece address")?;
        let federation = connect::federation(settings, &self.federation)?;
        connect::server_sync_gate(settings, connect::Purpose::Read).await?;
        let spool = connect::reader(settings, federation)?;
        let history = connect::history(&spool, &piece, self.min_conf).await?;
        let state = history.state();
        let pending = history.events().iter().filter(|e| e.pending).count();
        let mut text = table(&state);
        if !history.federation_rule() {
            text.push_str("warning: no federation set: anyone's registration is accepted\n");
        }
        if pending > 0 {
            let _ = writeln!(
                text,
                "{pending} pending event(s) with fewer than {} confirmations are not counted",
                self.min_conf
            );
        }
        Outcome::new(&state, text)
    }
}

/// The state as a table: a header, then one line per edition.
pub fn table(state: &PieceState) -> String {
    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let mut text = format!(
        "piece {}  editions {}\nregistered by {}  master owner {}\n",
        state.piece_address,
        state
            .number_editions
            .map_or("-".to_string(), |n| n.to_string()),
        dash(&state.registered_by),
        dash(&state.master_owner),
    );
    let header = ["EDITION", "OWNER", "CONSIGNEE", "LOANS"].map(String::from);
    let rows: Vec<[String; 4]> = state
        .editions
        .iter()
        .map(|e| {
            let edition = if e.edition == 0 {
                "0 (master)".to_string()
            } else {
                e.edition.to_string()
            };
            let owner = if e.registered {
                dash(&e.owner)
            } else {
                "(not registered)".to_string()
            };
            let loans = e
                .loans
                .iter()
                .map(|l| format!("{} {}-{}", l.borrower, l.start, l.end))
                .collect::<Vec<_>>()
                .join(", ");
            [
                edition,
                owner,
                dash(&e.consignee),
                if loans.is_empty() { "-".into() } else { loans },
            ]
        })
        .collect();
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.len());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let line = row
            .iter()
            .enumerate()
            .map(|(i, cell)| format!("{cell:<width$}", width = widths[i]))
            .collect::<Vec<_>>()
            .join("  ");
        let _ = writeln!(text, "{}", line.trim_end());
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use spool_protocol::state::{EditionSummary, LoanSummary};

    #[test]
    fn table_lists_every_edition_with_owner_consignee_and_loans() {
        let state = PieceState {
            piece_address: "piece".into(),
            number_editions: Some(2),
            registered_by: Some("fed".into()),
            master_owner: Some("artist".into()),
            editions: vec![
                EditionSummary {
                    edition: 0,
                    registered: true,
                    owner: Some("artist".into()),
                    holder: Some("artist".into()),
                    consignee: None,
                    loans: vec![],
                },
                EditionSummary {
                    edition: 1,
                    registered: true,
                    owner: Some("buyer".into()),
                    holder: Some("gallery".into()),
                    consignee: Some("gallery".into()),
                    loans: vec![LoanSummary {
                        borrower: "museum".into(),
                        start: "260101".into(),
                        end: "260201".into(),
                    }],
                },
                EditionSummary {
                    edition: 2,
                    registered: false,
                    owner: None,
                    holder: None,
                    consignee: None,
                    loans: vec![],
                },
            ],
        };
        let text = table(&state);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3 + 3, "{text}");
        assert_eq!(lines[0], "piece piece  editions 2");
        assert_eq!(lines[1], "registered by fed  master owner artist");
        assert!(lines[2].starts_with("EDITION"));
        assert!(lines[3].starts_with("0 (master)") && lines[3].contains("artist"));
        assert!(lines[4].contains("buyer") && lines[4].contains("gallery"));
        assert!(lines[4].ends_with("museum 260101-260201"), "{}", lines[4]);
        assert!(lines[5].contains("(not registered)"));
    }
}
