//! `spool history PIECE_ADDRESS`: every SPOOL event of a piece in chain order, each marked
//! valid or not with a reason; as JSON, a table, or a Graphviz provenance graph.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use clap::{Args, ValueEnum};
use spool_explorer::svg::{provenance_svg, GraphOptions};
use spool_protocol::history::History;

use crate::cli::args::AddressArg;
use crate::cli::connect;
use crate::cli::options::Settings;
use crate::cli::output::Outcome;
use crate::cli::progress::Progress;

/// Output formats of `spool history`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One JSON document.
    Json,
    /// A table for people.
    Table,
    /// A Graphviz digraph: editions as lanes, owners as nodes, verbs on the edges.
    Dot,
    /// The provenance graph as a standalone SVG (the explorer's renderer): one lane per
    /// edition, one node per event, invalid events marked with their reason.
    Svg,
}

/// `spool history`'s arguments.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The piece address (its file hash).
    pub piece_address: AddressArg,
    /// Only the events of this edition (0 = the master edition and EDITIONS).
    #[arg(long, value_name = "N")]
    pub edition: Option<u64>,
    /// Federation addresses [default: ascribe's on mainnet, none elsewhere].
    #[arg(long, value_name = "ADDR")]
    pub federation: Vec<AddressArg>,
    /// Output format [default: table, or json with --json].
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

/// One event as `history` prints it: the protocol's own record (pyspool's fields plus
/// spool-rs's verification), so the JSON and the verifier can never drift apart.
pub use spool_protocol::history::Event as EventOutput;

/// `{"piece_address", "number_editions", "events": [...]}`: the type the index's API serves
/// (`GET /api/v1/piece/{piece}/history`), so `--server` and direct mode print the same JSON.
pub use spool_backend::server::HistoryReply as Output;

impl HistoryArgs {
    /// Runs the command.
    ///
    /// # Errors
    ///
    /// A bad address, or the backend's failure.
    pub async fn run(&self, settings: &Settings) -> anyhow::Result<Outcome> {
        let network = settings.network.network();
        let piece = self.piece_address.on(network, "piece address")?;
        let federation = connect::federation(settings, &self.federation)?;
        let format = match (settings.json, self.format) {
            (true, _) => Format::Json,
            (false, Some(format)) => format,
            (false, None) => Format::Table,
        };
        let progress = Progress::start(settings.json, format!("reading the history of {piece}"));
        // With a server, the server's verified history (one request, cached there per index
        // generation, built by the same rules and function), except for the graph, which
        // needs the whole History.
        if settings.server.is_some() && format != Format::Svg {
            let server = connect::server(settings, "history")?;
            let mut path = format!("/piece/{piece}/history?federation={}", federation.join(","));
            if let Some(edition) = self.edition {
                path.push_str(&format!("&edition={edition}"));
            }
            let output: Result<Output, _> = server.get_json(&path).await;
            progress.finish();
            return render(&output?, format);
        }
        let spool = connect::reader(settings, federation)?;
        let history = spool.history(&piece).await;
        progress.finish();
        let history = history?;
        let output = output(&history, self.edition);
        if format == Format::Svg {
            let text = provenance_svg(&history, &GraphOptions::default());
            return Outcome::new(&output, text);
        }
        render(&output, format)
    }
}

/// The output in `format` (all but the SVG graph, which needs the whole History).
fn render(output: &Output, format: Format) -> anyhow::Result<Outcome> {
    let text = match format {
        Format::Json => format!("{}\n", serde_json::to_string_pretty(output)?),
        Format::Table => table(output),
        Format::Dot => dot(output),
        Format::Svg => anyhow::bail!("the SVG graph is drawn from the whole history"),
    };
    Outcome::new(output, text)
}

/// The history as the JSON output, optionally only one edition's events (the index's
/// own function, so both filter alike).
pub fn output(history: &History, edition: Option<u64>) -> Output {
    spool_index::api::history_reply(history, edition)
}

/// A table for people, one event a line.
pub fn table(output: &Output) -> String {
    let mut text = format!(
        "piece {}  editions {}\n",
        output.piece_address,
        output
            .number_editions
            .map_or("-".to_string(), |n| n.to_string())
    );
    let rows: Vec<[String; 7]> = output
        .events
        .iter()
        .map(|e| {
            [
                e.block_height.map_or("mempool".into(), |h| h.to_string()),
                e.action.clone(),
                e.edition_number.map_or("-".into(), |n| n.to_string()),
                e.from_address.clone(),
                e.to_address.clone(),
                if e.valid {
                    "valid".into()
                } else {
                    format!(
                        "INVALID: {}",
                        e.reason.as_ref().map_or("?".into(), ToString::to_string)
                    )
                },
                e.txid.clone(),
            ]
        })
        .collect();
    let header = [
        "HEIGHT", "ACTION", "EDITION", "FROM", "TO", "STATUS", "TXID",
    ]
    .map(String::from);
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
    if rows.is_empty() {
        text.push_str("(no events)\n");
    }
    text
}

/// A Graphviz digraph: one cluster (lane) per edition, each holder a node in its lane,
/// each event an edge labelled with its verb; invalid events dashed red.
pub fn dot(output: &Output) -> String {
    // Lanes in numeric order: the master edition first, then editions 1, 2, ..., 10 (not as
    // strings, where "edition 10" sorts before "edition 2"), refills last.
    let mut lanes: BTreeMap<(u8, u64), (String, Vec<&EventOutput>)> = BTreeMap::new();
    for event in &output.events {
        // pyspool's keys: '' (None) for the master edition's registration, 0 for EDITIONS.
        let (key, lane) = match event.edition_number {
            None if event.action == "FUEL" => ((2, 0), "fuel".to_string()),
            None | Some(0) => ((0, 0), "master edition".to_string()),
            Some(n) => ((1, n), format!("edition {n}")),
        };
        lanes
            .entry(key)
            .or_insert_with(|| (lane, Vec::new()))
            .1
            .push(event);
    }
    let mut text = String::new();
    let _ = writeln!(text, "digraph provenance {{");
    let _ = writeln!(text, "  rankdir=LR;");
    let _ = writeln!(
        text,
        "  label=\"piece {} ({} editions)\";",
        output.piece_address,
        output
            .number_editions
            .map_or("?".to_string(), |n| n.to_string())
    );
    let _ = writeln!(text, "  node [shape=box, fontname=monospace];");
    for (index, (lane, events)) in lanes.values().enumerate() {
        let _ = writeln!(text, "  subgraph cluster_{index} {{");
        let _ = writeln!(text, "    label=\"{lane}\";");
        let node = |address: &str| format!("\"{index}:{address}\"");
        let mut seen = Vec::new();
        for event in events {
            for address in [&event.from_address, &event.to_address] {
                if !seen.contains(address) {
                    seen.push(address.clone());
                    let _ = writeln!(text, "    {} [label=\"{address}\"];", node(address));
                }
            }
        }
        for event in events {
            let height = event
                .block_height
                .map_or("mempool".to_string(), |h| format!("#{h}"));
            let style = if event.valid {
                String::new()
            } else {
                format!(
                    ", style=dashed, color=red, tooltip=\"{}\"",
                    event
                        .reason
                        .as_ref()
                        .map_or("invalid".into(), ToString::to_string)
                        .replace('"', "'")
                )
            };
            let _ = writeln!(
                text,
                "    {} -> {} [label=\"{} {height}{}\"{style}];",
                node(&event.from_address),
                node(&event.to_address),
                event.verb,
                if event.valid { "" } else { " (invalid)" }
            );
        }
        let _ = writeln!(text, "  }}");
    }
    let _ = writeln!(text, "}}");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(
        txid: &str,
        action: &str,
        edition: Option<u64>,
        from: &str,
        to: &str,
        valid: bool,
    ) -> EventOutput {
        EventOutput {
            txid: txid.into(),
            verb: format!(
                "ASCRIBESPOOL01{action}{}",
                edition.map_or(String::new(), |n| n.to_string())
            ),
            action: action.into(),
            edition_number: edition,
            from_address: from.into(),
            to_address: to.into(),
            piece_address: "piece".into(),
            number_editions: Some(2),
            block_height: Some(7),
            timestamp_utc: Some(1),
            valid,
            reason: (!valid).then(|| spool_protocol::reason::Reason::NotOwner {
                address: "x".into(),
                edition: 1,
            }),
        }
    }

    fn sample() -> Output {
        Output {
            piece_address: "piece".into(),
            number_editions: Some(2),
            events: vec![
                event("a", "REGISTER", None, "fed", "artist", true),
                event("b", "EDITIONS", Some(0), "fed", "artist", true),
                event("c", "REGISTER", Some(1), "fed", "artist", true),
                event("d", "TRANSFER", Some(1), "artist", "collector", true),
                event("e", "TRANSFER", Some(1), "thief", "thief", false),
            ],
        }
    }

    #[test]
    fn table_has_a_header_a_row_per_event_and_reasons() {
        let text = table(&sample());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2 + 5);
        assert!(lines[0].starts_with("piece piece  editions 2"));
        assert!(lines[1].starts_with("HEIGHT  ACTION"));
        assert!(lines[6].contains("INVALID: Address x does not own the edition number 1"));
        assert!(lines[5].contains("artist") && lines[5].contains("collector"));
    }

    #[test]
    fn dot_has_lanes_per_edition_and_marks_invalid_edges() {
        let text = dot(&sample());
        assert!(text.starts_with("digraph provenance {"));
        assert!(text.trim_end().ends_with('}'));
        assert!(text.contains("label=\"master edition\""));
        assert!(text.contains("label=\"edition 1\""));
        assert_eq!(text.matches("subgraph cluster_").count(), 2);
        assert_eq!(text.matches(" -> ").count(), 5);
        assert_eq!(text.matches("style=dashed, color=red").count(), 1);
        assert!(text.contains("ASCRIBESPOOL01TRANSFER1 #7 (invalid)"));
    }

    #[test]
    fn dot_lanes_are_in_numeric_order() {
        let mut output = sample();
        output
            .events
            .push(event("f", "REGISTER", Some(10), "fed", "artist", true));
        output
            .events
            .push(event("g", "REGISTER", Some(2), "fed", "artist", true));
        let text = dot(&output);
        let at = |lane: &str| text.find(&format!("label=\"{lane}\"")).unwrap();
        assert!(at("master edition") < at("edition 1"));
        assert!(at("edition 1") < at("edition 2"));
        assert!(at("edition 2") < at("edition 10"));
    }
}
