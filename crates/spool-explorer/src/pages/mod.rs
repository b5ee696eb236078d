//! The HTML pages, rendered with maud: one module per page, the shared layout and the small
//! pieces every page uses (links to addresses and transactions, the event table).

pub(crate) mod address;
pub(crate) mod certificate;
pub(crate) mod edition;
pub(crate) mod editions;
pub(crate) mod error;
pub(crate) mod home;
pub(crate) mod piece;
pub(crate) mod status;
pub(crate) mod tx;

use bitcoin::{Address, Network};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use spool_protocol::history::Event;

use crate::model::{edition_name, format_time, is_pending, lane_of, reason_text, short};

/// What every page needs to know about the explorer it is served by.
pub(crate) struct Site<'a> {
    /// The network the data source follows.
    pub network: Network,
    /// The federation set validity is judged with (empty: the rule is not applied).
    pub federation: &'a [Address],
}

/// The page around `body`: header with the search box, the stylesheet, a footer.
pub(crate) fn layout(site: &Site<'_>, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                title { (title) " · SPOOL explorer" }
                link rel="stylesheet" href="/style.css";
            }
            body {
                header.site {
                    a.brand href="/" { "SPOOL explorer" }
                    span.network title="network" { (site.network) }
                    form.search action="/search" method="get" role="search" {
                        input type="search" name="q" aria-label="file hash, address or txid"
                            placeholder="file hash, address or txid" required;
                        button type="submit" { "Search" }
                    }
                    nav { a href="/status" { "Status" } }
                }
                main { (body) }
                footer.site {
                    @if site.federation.is_empty() {
                        p.warn { "Federation rule not applied: registrations from any address count as valid." }
                    } @else {
                        p {
                            "Validity judged with the federation "
                            @for (i, member) in site.federation.iter().enumerate() {
                                @if i > 0 { ", " }
                                (address_link(&member.to_string()))
                            }
                            "."
                        }
                    }
                }
            }
        }
    }
}

/// A link to an address's page, shown in full (long values wrap).
pub(crate) fn address_link(address: &str) -> Markup {
    if address.is_empty() {
        return html! { span.muted { "unknown" } };
    }
    if address.starts_with("script:") {
        return html! { span.hash { (address) } };
    }
    html! { a.hash href={ "/address/" (address) } { (address) } }
}

/// A link to a piece's page, shown in full (long values wrap).
pub(crate) fn piece_link(piece: &str) -> Markup {
    html! { a.hash href={ "/piece/" (piece) } { (piece) } }
}

/// A link to a transaction's page, shortened (the full txid in `title`).
pub(crate) fn tx_link(txid: &str) -> Markup {
    html! { a.hash.txid href={ "/tx/" (txid) } title=(txid) { (short(txid)) } }
}

/// Valid, invalid with its reason, and pending, as a person reads them.
pub(crate) fn event_status(event: &Event) -> Markup {
    html! {
        @if event.valid {
            span.badge.ok { "valid" }
        } @else {
            span.badge.bad { "invalid" }
            " "
            span.reason { (reason_text(event).unwrap_or_default()) }
        }
        @if is_pending(event) {
            " " span.badge.pending title="not in a block yet" { "pending" }
        }
    }
}

/// A table of events: height, time, action, edition, from, to, status, transaction.
/// `pieces` adds a column with each event's piece.
pub(crate) fn event_table(events: &[&Event], pieces: bool) -> Markup {
    if events.is_empty() {
        return html! { p.muted { "No events." } };
    }
    html! {
        table.events {
            thead { tr {
                th { "Height" } th { "Time" } th { "Action" }
                @if pieces { th { "Piece" } }
                th { "Edition" } th { "From" } th { "To" } th { "Status" } th { "Transaction" }
            } }
            tbody {
                @for event in events {
                    tr.event.invalid[!event.valid].pending[is_pending(event)] data-txid=(event.txid) {
                        td data-label="Height" {
                            @match event.block_height {
                                Some(h) => (h),
                                None => span.muted { "mempool" },
                            }
                        }
                        td data-label="Time" {
                            @match event.timestamp_utc {
                                Some(t) => (format_time(t)),
                                None => span.muted { "—" },
                            }
                        }
                        td data-label="Action" { code { (event.verb) } }
                        @if pieces { td data-label="Piece" { (piece_link(&event.piece_address)) } }
                        td data-label="Edition" {
                            @if event.action == "EDITIONS" {
                                span.muted { "piece" }
                            } @else {
                                a href={ "/piece/" (event.piece_address) "/edition/" (lane_of(event)) } {
                                    (edition_name(lane_of(event)))
                                }
                            }
                        }
                        td data-label="From" { (address_link(&event.from_address)) }
                        td data-label="To" { (address_link(&event.to_address)) }
                        td.status data-label="Status" { (event_status(event)) }
                        td data-label="Transaction" { (tx_link(&event.txid)) }
                    }
                }
            }
        }
    }
}

/// A definition list row.
pub(crate) fn row(label: &str, value: Markup) -> Markup {
    html! { dt { (label) } dd { (value) } }
}

/// An inline SVG document, trusted because this crate renders it.
pub(crate) fn inline_svg(svg: String) -> Markup {
    PreEscaped(svg)
}
