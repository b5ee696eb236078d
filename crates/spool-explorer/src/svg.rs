//! The provenance graph of a piece as SVG, drawn by our own code (no Graphviz, no script).
//!
//! One vertical lane per edition in numeric order, the master edition first (EDITIONS sits
//! on the master's lane); one node per event, one row per event in chain order, showing its
//! action, block height and block time (UTC). Between consecutive events of a lane an arrow
//! carries the holder of the edition after the first of them, and the last event of a lane
//! points to the current holder. Invalid events are drawn dashed in red with their reason in the node's `<title>` (a
//! tooltip); pending (unconfirmed) events are drawn dotted and say `pending`.
//! [`GraphOptions::editions`] draws only some editions' lanes (a piece with hundreds of
//! editions), with only their events as rows. Every event node is a `<g class="event ...">` carrying `data-txid`, `data-edition` and
//! `data-action`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use spool_protocol::history::{Event, History};

use crate::model::{
    edition_name, format_time, is_pending, lane_of, moves_edition, reason_text, short,
};

/// Width of one lane.
const LANE_W: usize = 200;
/// An event node's size.
const NODE_W: usize = 156;
const NODE_H: usize = 54;
/// Height of one row (one event).
const ROW_H: usize = 80;
/// Space above the first row (lane titles).
const TOP: usize = 44;
/// Space below the last row (the current holders).
const BOTTOM: usize = 52;
const MARGIN: usize = 12;

/// How the graph is rendered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GraphOptions {
    /// When set, each event node links to `<prefix><txid>` (e.g. `/tx/` in the explorer).
    pub tx_link_prefix: Option<String>,
    /// When set, only these editions' lanes are drawn, with only their events as rows (the
    /// piece-wide EDITIONS sits on the master's lane, 0); `None` draws every edition.
    pub editions: Option<BTreeSet<u64>>,
}

impl GraphOptions {
    /// Whether `edition`'s lane is drawn.
    fn draws(&self, edition: u64) -> bool {
        self.editions
            .as_ref()
            .is_none_or(|only| only.contains(&edition))
    }
}

/// The provenance graph of `history` as a standalone SVG document (it carries its own
/// styles, light and dark).
pub fn provenance_svg(history: &History, options: &GraphOptions) -> String {
    let events: Vec<&Event> = history
        .events()
        .iter()
        .filter(|event| options.draws(lane_of(event)))
        .collect();
    let lanes: BTreeMap<u64, usize> = {
        let mut editions: Vec<u64> = events.iter().map(|e| lane_of(e)).collect();
        editions.sort_unstable();
        editions.dedup();
        editions
            .into_iter()
            .enumerate()
            .map(|(i, e)| (e, i))
            .collect()
    };
    let height = TOP + ROW_H * events.len() + BOTTOM;
    // Arrows first, so that nodes are drawn over them.
    let mut last_in_lane: BTreeMap<u64, (usize, Option<&str>)> = BTreeMap::new();
    let mut arrows = String::new();
    // The rightmost point any label reaches: the canvas is sized to its content.
    let mut right = 0;
    for (row, event) in events.iter().enumerate() {
        let edition = lane_of(event);
        if let Some(&(prev_row, holder)) = last_in_lane.get(&edition) {
            right = right.max(arrow(&mut arrows, lanes[&edition], prev_row, row, holder));
        }
        let previous = last_in_lane.get(&edition).and_then(|&(_, h)| h);
        let holder = if moves_edition(event) {
            Some(event.to_address.as_str())
        } else {
            previous
        };
        last_in_lane.insert(edition, (row, holder));
    }
    for (edition, (row, holder)) in &last_in_lane {
        let cx = lane_x(lanes[edition]);
        let y1 = row_y(*row) + NODE_H;
        let y2 = TOP + ROW_H * events.len() + 4;
        let _ = write!(
            arrows,
            r#"<g class="current" data-edition="{edition}"><line class="arrow" x1="{cx}" y1="{y1}" x2="{cx}" y2="{y2}" marker-end="url(#arrowhead)"/>"#
        );
        right = right.max(holder_label(
            &mut arrows,
            cx,
            y2 + 16,
            *holder,
            "now held by",
        ));
        arrows.push_str("</g>");
    }
    let width = (MARGIN * 2 + LANE_W * lanes.len().max(1))
        .max(right + MARGIN)
        .max(360);
    let piece = history.piece_address();

    let mut out = String::with_capacity(600 + events.len() * 900);
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="provenance" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="Provenance graph of piece {p}" data-piece="{p}" data-events="{n}">"#,
        p = esc(piece),
        n = events.len(),
    );
    let _ = write!(out, "<title>Provenance of piece {}</title>", esc(piece));
    out.push_str(STYLE);
    out.push_str(r#"<defs><marker id="arrowhead" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="head"/></marker></defs>"#);
    let _ = write!(
        out,
        r#"<rect class="bg" x="0" y="0" width="{width}" height="{height}"/>"#
    );
    if events.is_empty() {
        let _ = write!(
            out,
            r#"<text class="empty" x="{x}" y="{y}">No SPOOL events for this piece</text></svg>"#,
            x = MARGIN,
            y = TOP,
        );
        return out;
    }

    // Lane titles and guide lines.
    for (&edition, &lane) in &lanes {
        let cx = lane_x(lane);
        let _ = write!(
            out,
            r#"<g class="lane" data-edition="{edition}"><text class="lane-title" x="{cx}" y="{ty}" text-anchor="middle">{name}</text><line class="lane-line" x1="{cx}" y1="{y1}" x2="{cx}" y2="{y2}"/></g>"#,
            ty = TOP - 18,
            name = esc(&edition_name(edition)),
            y1 = TOP - 8,
            y2 = height - 8,
        );
    }

    out.push_str(&arrows);

    for (row, event) in events.iter().enumerate() {
        node(&mut out, event, lanes[&lane_of(event)], row, options);
    }
    out.push_str("</svg>");
    out
}

fn lane_x(lane: usize) -> usize {
    MARGIN + lane * LANE_W + LANE_W / 2
}

fn row_y(row: usize) -> usize {
    TOP + row * ROW_H
}

/// Draws the arrow between two events of a lane with its holder label; returns the label's
/// right edge.
fn arrow(
    out: &mut String,
    lane: usize,
    from_row: usize,
    to_row: usize,
    holder: Option<&str>,
) -> usize {
    let cx = lane_x(lane);
    let y1 = row_y(from_row) + NODE_H;
    let y2 = row_y(to_row) - 2;
    let _ = write!(
        out,
        r#"<g class="hold"><line class="arrow" x1="{cx}" y1="{y1}" x2="{cx}" y2="{y2}" marker-end="url(#arrowhead)"/>"#
    );
    let right = holder_label(out, cx + 6, y1 + 15, holder, "held by");
    out.push_str("</g>");
    right
}

/// A generous estimate of the width of `text` at the labels' 11px: wide enough for the
/// widest common sans-serif glyphs of an address, so the canvas never cuts a label.
fn label_width(text: &str) -> usize {
    text.chars().count() * 8
}

/// Writes a holder label at `x` (its start, or its middle for the final one); returns its
/// right edge.
fn holder_label(out: &mut String, x: usize, y: usize, holder: Option<&str>, what: &str) -> usize {
    let start = what == "held by";
    let anchor = if start { "start" } else { "middle" };
    let shown = holder.map_or_else(|| "no holder".to_owned(), short);
    let width = label_width(&shown);
    let right = if start { x + width } else { x + width / 2 };
    match holder {
        Some(holder) => {
            let _ = write!(
                out,
                r#"<text class="holder" x="{x}" y="{y}" text-anchor="{anchor}" data-holder="{h}"><title>{what} {h}</title>{s}</text>"#,
                h = esc(holder),
                s = esc(&shown),
            );
        }
        None => {
            let _ = write!(
                out,
                r#"<text class="holder none" x="{x}" y="{y}" text-anchor="{anchor}">no holder</text>"#
            );
        }
    }
    right
}

fn node(out: &mut String, event: &Event, lane: usize, row: usize, options: &GraphOptions) {
    let pending = is_pending(event);
    let reason = reason_text(event);
    let mut class = String::from("event");
    class.push_str(if event.valid { " valid" } else { " invalid" });
    if pending {
        class.push_str(" pending");
    }
    let x = lane_x(lane) - NODE_W / 2;
    let y = row_y(row);
    let txid = esc(&event.txid);
    let _ = write!(
        out,
        r#"<g class="{class}" data-txid="{txid}" data-edition="{edition}" data-action="{action}">"#,
        edition = lane_of(event),
        action = esc(&event.action),
    );
    if let Some(prefix) = &options.tx_link_prefix {
        let _ = write!(out, r#"<a href="{}{txid}">"#, esc(prefix));
    }
    let _ = write!(out, "<title>{}", esc(&event.verb));
    let _ = write!(out, "\ntx {txid}");
    let _ = write!(out, "\nfrom {}", esc(&event.from_address));
    let _ = write!(out, "\nto {}", esc(&event.to_address));
    match event.block_height {
        Some(height) => {
            let _ = write!(out, "\nblock {height}");
        }
        None => out.push_str("\npending: not in a block yet"),
    }
    match &reason {
        Some(reason) => {
            let _ = write!(out, "\ninvalid: {}", esc(reason));
        }
        None if event.valid => out.push_str("\nvalid"),
        None => out.push_str("\ninvalid"),
    }
    out.push_str("</title>");
    let _ = write!(
        out,
        r#"<rect x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="7"/>"#
    );
    let cx = x + NODE_W / 2;
    let mark = if event.valid { "" } else { "✗ " };
    let _ = write!(
        out,
        r#"<text class="action" x="{cx}" y="{ty}" text-anchor="middle">{mark}{action}</text>"#,
        ty = y + 17,
        action = esc(&event.action),
    );
    let (detail, time) = match (event.block_height, event.timestamp_utc) {
        (Some(height), Some(time)) => (format!("block {height}"), format_time(time)),
        (Some(height), None) => (format!("block {height}"), String::new()),
        (None, _) => ("pending".to_owned(), "not in a block yet".to_owned()),
    };
    let _ = write!(
        out,
        r#"<text class="detail" x="{cx}" y="{ty}" text-anchor="middle">{detail}</text>"#,
        ty = y + 32,
    );
    if !time.is_empty() {
        let _ = write!(
            out,
            r#"<text class="detail time" x="{cx}" y="{ty}" text-anchor="middle">{time}</text>"#,
            ty = y + 46,
        );
    }
    if options.tx_link_prefix.is_some() {
        out.push_str("</a>");
    }
    out.push_str("</g>");
}

/// Text escaped for XML content and attribute values when displayed; runs without special
/// characters (addresses, txids) are written as they are, without allocating.
struct Esc<'a>(&'a str);

impl std::fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..at])?;
            f.write_str(match rest.as_bytes()[at] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[at + 1..];
        }
        f.write_str(rest)
    }
}

fn esc(text: &str) -> Esc<'_> {
    Esc(text)
}

const STYLE: &str = "<style>\
.provenance{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;font-size:12px}\
.provenance .bg{fill:#ffffff}\
.provenance .lane-title{font-weight:600;fill:#1f2933}\
.provenance .lane-line{stroke:#d5dbe1;stroke-width:1}\
.provenance .arrow{stroke:#52606d;stroke-width:1.5}\
.provenance .head{fill:#52606d}\
.provenance .holder{fill:#334e68;font-size:11px}\
.provenance .holder.none{fill:#9aa5b1}\
.provenance .event rect{fill:#e6f6ff;stroke:#2680c2;stroke-width:1.5}\
.provenance .event .action{font-weight:600;fill:#102a43}\
.provenance .event .detail{fill:#486581;font-size:11px}\
.provenance .event.invalid rect{fill:#ffe3e3;stroke:#cf1124;stroke-dasharray:6 3;stroke-width:2}\
.provenance .event.invalid .action{fill:#a61b1b}\
.provenance .event.pending rect{fill:#fffbea;stroke:#cb6e17;stroke-dasharray:2 3}\
.provenance .empty{fill:#52606d}\
@media (prefers-color-scheme:dark){\
.provenance .bg{fill:#1a1f24}\
.provenance .lane-title{fill:#e4e7eb}\
.provenance .lane-line{stroke:#3e4c59}\
.provenance .arrow{stroke:#9aa5b1}\
.provenance .head{fill:#9aa5b1}\
.provenance .holder{fill:#bcccdc}\
.provenance .event rect{fill:#102a43;stroke:#47a3f3}\
.provenance .event .action{fill:#f0f4f8}\
.provenance .event .detail{fill:#bcccdc}\
.provenance .event.invalid rect{fill:#3d0b0b;stroke:#ff6b6b}\
.provenance .event.invalid .action{fill:#ffc9c9}\
.provenance .event.pending rect{fill:#3a2a06;stroke:#f0b429}\
.provenance .empty{fill:#bcccdc}\
}\
</style>";

#[cfg(test)]
mod tests {
    use super::esc;

    #[test]
    fn escapes_markup_characters_only() {
        assert_eq!(
            esc(r#"a<b>&"c'd"#).to_string(),
            "a&lt;b&gt;&amp;&quot;c&#39;d"
        );
        assert_eq!(
            esc("mv5yDkR5dnjGHxietq7CH78WHk8vzsu4vH").to_string(),
            "mv5yDkR5dnjGHxietq7CH78WHk8vzsu4vH"
        );
        assert_eq!(esc("").to_string(), "");
        assert_eq!(esc("é<").to_string(), "é&lt;");
    }
}
