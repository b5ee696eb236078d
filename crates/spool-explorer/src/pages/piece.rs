//! `/piece/{piece_address}`: title block, editions, events and the provenance graph.

use maud::{html, Markup};
use spool_protocol::history::History;
use spool_protocol::state::{EditionSummary, LoanSummary};
use spool_protocol::verb::LoanDate;

use super::{address_link, event_table, inline_svg, layout, row, Site};
use crate::model::{edition_name, loan_date};
use crate::svg::{provenance_svg, GraphOptions};

/// The loan of `edition` whose period includes `today`, if any (the latest such).
pub(crate) fn active_loan(edition: &EditionSummary, today: LoanDate) -> Option<&LoanSummary> {
    edition.loans.iter().rev().find(|loan| {
        match (LoanDate::parse(&loan.start), LoanDate::parse(&loan.end)) {
            (Ok(start), Ok(end)) => start <= today && today <= end,
            _ => false,
        }
    })
}

/// The piece page. `uploaded` is the metadata hash of a file just uploaded, when the visitor
/// came from the upload form.
pub(crate) fn render(
    site: &Site<'_>,
    history: &History,
    today: LoanDate,
    uploaded: Option<&str>,
) -> Markup {
    let state = history.state();
    let piece = history.piece_address();
    let events: Vec<_> = history.events().iter().collect();
    let invalid = events.iter().filter(|e| !e.valid).count();
    let svg = provenance_svg(
        history,
        &GraphOptions {
            tx_link_prefix: Some("/tx/".to_owned()),
        },
    );
    let body = html! {
        section.title-block {
            h1 { "Piece " span.hash { (piece) } }
            dl.facts {
                (row("Piece address (file hash)", html! { span.hash #piece-address { (piece) } }))
                @if let Some(meta) = uploaded {
                    (row("Uploaded file's hash with metadata", html! { span.hash { (meta) } }))
                }
                (row("Editions", html! {
                    span #number-editions {
                        @match state.number_editions {
                            Some(n) => (n),
                            None => span.muted { "not registered" },
                        }
                    }
                }))
                (row("Master owner", html! {
                    span #master-owner {
                        @match &state.master_owner {
                            Some(owner) => (address_link(owner)),
                            None => span.muted { "master edition not registered" },
                        }
                    }
                }))
                (row("Registered by", html! {
                    @match &state.registered_by {
                        Some(by) => (address_link(by)),
                        None => span.muted { "—" },
                    }
                }))
                (row("Events", html! {
                    (events.len())
                    @if invalid > 0 { " (" (invalid) " invalid)" }
                }))
            }
        }
        section {
            h2 { "Editions" }
            (editions_table(piece, &state.editions, today))
        }
        section {
            h2 { "Provenance graph" }
            p.muted { "One lane per edition; each arrow names who held the edition after the event above it. Invalid events are dashed red (hover for the reason), pending ones dotted." }
            div.graph { (inline_svg(svg)) }
            p { a href={ "/piece/" (piece) "/graph.svg" } download={ (piece) ".svg" } { "Download the graph as SVG" } }
        }
        section {
            h2 { "Events" }
            (event_table(&events, false))
        }
    };
    layout(site, &format!("Piece {piece}"), body)
}

fn editions_table(piece: &str, editions: &[EditionSummary], today: LoanDate) -> Markup {
    html! {
        table.editions {
            thead { tr {
                th { "Edition" } th { "Owner" } th { "Consignee" } th { "Active loan" }
            } }
            tbody {
                @for edition in editions {
                    tr data-edition=(edition.edition) {
                        td data-label="Edition" {
                            a href={ "/piece/" (piece) "/edition/" (edition.edition) } {
                                (edition_name(edition.edition))
                            }
                        }
                        td.owner data-label="Owner" {
                            @match &edition.owner {
                                Some(owner) => (address_link(owner)),
                                None => span.muted { "not registered" },
                            }
                        }
                        td data-label="Consignee" {
                            @match &edition.consignee {
                                Some(c) => (address_link(c)),
                                None => span.muted { "—" },
                            }
                        }
                        td data-label="Active loan" {
                            @match active_loan(edition, today) {
                                Some(loan) => {
                                    (address_link(&loan.borrower))
                                    " " span.muted { "(" (loan_date(&loan.start)) " to " (loan_date(&loan.end)) ")" }
                                }
                                None => span.muted { "—" },
                            }
                        }
                    }
                }
            }
        }
    }
}
