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
    /// The provenance graph as a standalone SVG (the explorer's renderer; no Graphviz).
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
    /// Federation addresses [default: SPOOL_FEDERATION, the config file's `federation`,
    /// else ascribe's on mainnet and none elsewhere].
    #[arg(long, value_name = "ADDR")]
    pub federation: Vec<AddressArg>,
    /// Events with fewer confirmations are listed as pending and do not count.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub min_conf: u32,
    /// Output format [default: table, or json with --json; an explicit --format wins].
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

/// One event as `history` prints it: the protocol's own record (pyspool's fields plus
/// spool-rs's verification), so the JSON and the verifier can never drift apart.
pub use spool_protocol::history::Event as EventOutput;

/// `{"piece_address", "number_editions", "federation_rule", "tip_height", "min_conf",
/// "events": [...]}`: the type the index's API serves (`GET /api/v1/piece/{piece}/history`),
/// so `--server` and direct mode print the same JSON.
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
        connect::server_sync_gate(settings, connect::Purpose::Read).await?;
        let format = match (self.format, settings.json) {
            (Some(format), _) => format,
            (None, true) => Format::Json,
            (None, false) => Format::Table,
        };
        let progress = Progress::start(settings.json, format!("reading the history of {piece}"));
        // With a server, its verified history in one request (built there by the same function
        // and rules, against the index's tip, cached per index generation), except for the
        // graph, which needs the whole History.
        if settings.server.is_some() && format != Format::Svg {
            let server = connect::server(settings, "history")?;
            let mut path = format!(
                "/piece/{piece}/history?federation={}&min_conf={}",
                federation.join(","),
                self.min_conf
            );
            if let Some(edition) = self.edition {
                path.push_str(&format!("&edition={edition}"));
            }
            let output: Result<Output, _> = server.get_json(&path).await;
            progress.finish();
            return render(&output?, format, None);
        }
        let spool = connect::reader(settings, federation)?;
        let history = connect::history(&spool, &piece, self.min_conf).await;
        progress.finish();
        let history = history?;
        render(&output(&history, self.edition), format, Some(&history))
    }
}

/// `output` in `format`; the SVG graph is drawn from the whole `history`.
fn render(output: &Output, format: Format, history: Option<&History>) -> anyhow::Result<Outcome> {
    let text = match format {
        Format::Json => format!("{}\n", serde_json::to_string_pretty(output)?),
        Format::Table => table(output),
        Format::Dot => dot(output),
        Format::Svg => match history {
            Some(history) => provenance_svg(history, &GraphOptions::default()),
            None => anyhow::bail!("the SVG graph is drawn from the whole history"),
        },
    };
    // The chosen format is printed as is, even with --json.
    Outcome::new(output, text).map(|outcome| outcome.text_only(format != Format::Json))
}

/// The history as the JSON output, optionally only one edition's events (the index's own
/// function, so both filter alike).
pub fn output(history: &History, edition: Option<u64>) -> Output {
    spool_index::api::history_reply(history, edition)
}

/// The EDITION column: the edition acted on (0 = the master edition), or for EDITIONS the
/// number of editions it fixes (`count N`), never pyspool's internal 0 of that row.
fn edition_cell(event: &EventOutput) -> String {
    use spool_protocol::verb::Verb;
    match event.typed_verb() {
        Ok(Verb::Editions { count }) => format!("count {count}"),
        Ok(Verb::Piece | Verb::ConsignedRegistration) => "0".into(),
        Ok(verb) => verb.edition().map_or("-".into(), |n| n.to_string()),
        Err(_) => event.edition_number.map_or("-".into(), |n| n.to_string()),
    }
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
    if !output.federation_rule {
        text.push_str(
            "warning: no federation set: anyone's registration is accepted \
             (give --federation, SPOOL_FEDERATION or the config file's federation)\n",
        );
    }
    let rows: Vec<[String; 8]> = output
        .events
        .iter()
        .map(|e| {
            [
                e.block_height.map_or("mempool".into(), |h| h.to_string()),
                depth(e),
                e.action.clone(),
                edition_cell(e),
                e.from_address.clone(),
                e.to_address.clone(),
                if e.valid && e.pending {
                    "valid (pending)".into()
                } else if e.valid {
                    "valid".into()
                } else if e.pending {
                    format!(
                        "INVALID (pending): {}",
                        e.reason.as_ref().map_or("?".into(), ToString::to_string)
                    )
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
        "HEIGHT", "CONF", "ACTION", "EDITION", "FROM", "TO", "STATUS", "TXID",
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
    let pending = output.events.iter().filter(|e| e.pending).count();
    if pending > 0 {
        let _ = writeln!(
            text,
            "{pending} pending event(s) with fewer than {} confirmations are not counted",
            output.min_conf
        );
    }
    text
}

/// An event's depth for the table: confirmations, `+rbf` when it may be replaced.
fn depth(event: &EventOutput) -> String {
    let mut text = event.confirmations.to_string();
    if event.replaceable {
        text.push_str(" rbf");
    }
    text
}

/// A DOT lane: the fuel, the master edition, then editions in numeric order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Lane {
    Master,
    Edition(u64),
    Fuel,
}

impl std::fmt::Display for Lane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Lane::Master => write!(f, "master edition"),
            Lane::Edition(n) => write!(f, "edition {n}"),
            Lane::Fuel => write!(f, "fuel"),
        }
    }
}

/// A Graphviz digraph: one cluster (lane) per edition, each holder a node in its lane,
/// each event an edge labelled with its verb; invalid events dashed red.
pub fn dot(output: &Output) -> String {
    let mut lanes: BTreeMap<Lane, Vec<&EventOutput>> = BTreeMap::new();
    for event in &output.events {
        // pyspool's keys: '' (None) for the master edition's registration, 0 for EDITIONS.
        let lane = match event.edition_number {
            None if event.action == "FUEL" => Lane::Fuel,
            None | Some(0) => Lane::Master,
            Some(n) => Lane::Edition(n),
        };
        lanes.entry(lane).or_default().push(event);
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
    for (index, (lane, events)) in lanes.iter().enumerate() {
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
            let style = if event.valid && event.pending {
                ", style=dotted".to_string()
            } else if event.valid {
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
                "    {} -> {} [label=\"{} {height}{}{}\"{style}];",
                node(&event.from_address),
                node(&event.to_address),
                event.verb,
                if event.valid { "" } else { " (invalid)" },
                if event.pending { " (pending)" } else { "" }
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
            verb: match action {
                "EDITIONS" => "ASCRIBESPOOL01EDITIONS2".into(),
                _ => format!(
                    "ASCRIBESPOOL01{action}{}",
                    edition.map_or("0".into(), |n| n.to_string())
                ),
            },
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
            confirmations: 3,
            replaceable: false,
            pending: false,
        }
    }

    fn sample() -> Output {
        Output {
            piece_address: "piece".into(),
            number_editions: Some(2),
            federation_rule: true,
            tip_height: 9,
            min_conf: 0,
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
        assert!(lines[1].starts_with("HEIGHT  CONF  ACTION"));
        assert!(lines[6].contains("INVALID: Address x does not own the edition number 1"));
        assert!(lines[5].contains("artist") && lines[5].contains("collector"));
        // The EDITION column: 0 for the master registration, the count for EDITIONS
        // (issue 17: it showed `-` and `EDITIONS 0`).
        let edition_of = |line: &str| line.split_whitespace().nth(3).unwrap().to_string();
        assert_eq!(edition_of(lines[2]), "0", "{}", lines[2]);
        assert!(lines[3].contains("EDITIONS  count 2"), "{}", lines[3]);
        assert_eq!(edition_of(lines[4]), "1", "{}", lines[4]);
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
    fn dot_lanes_follow_numeric_edition_order() {
        let mut output = sample();
        for n in [10, 2, 1] {
            let mut e = event("x", "TRANSFER", Some(n), "a", "b", true);
            e.txid = format!("t{n}");
            output.events.push(e);
        }
        let text = dot(&output);
        let lanes: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("    label=\""))
            .collect();
        assert_eq!(
            lanes,
            vec![
                "master edition\";",
                "edition 1\";",
                "edition 2\";",
                "edition 10\";"
            ]
        );
    }

    #[test]
    fn table_marks_pending_and_replaceable_events_and_warns_without_federation() {
        let mut output = sample();
        output.federation_rule = false;
        output.min_conf = 1;
        let last = output.events.len() - 2;
        output.events[last].pending = true;
        output.events[last].replaceable = true;
        output.events[last].confirmations = 0;
        let text = table(&output);
        assert!(text.contains("warning: no federation set"), "{text}");
        let row = text.lines().find(|l| l.contains("collector")).unwrap();
        assert!(
            row.contains("0 rbf") && row.contains("valid (pending)"),
            "{row}"
        );
        assert!(text.contains("1 pending event(s) with fewer than 1 confirmations"));
        assert!(!table(&sample()).contains("warning"));
    }
}
