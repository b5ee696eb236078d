//! `/piece/{piece_address}/edition/{n}`: one edition's rights, loans, provenance graph and
//! chain of events. The page is a list of sections, each rendered by its own function from
//! [`EditionPage`]; a new section is one more function and one more line in [`render`].

use std::collections::BTreeSet;

use maud::{html, Markup};
use spool_protocol::history::{Event, History};
use spool_protocol::state::EditionSummary;
use spool_protocol::verb::LoanDate;

use super::piece::active_loan;
use super::{address_link, event_table, inline_svg, layout, piece_link, row, Site};
use crate::model::{capitalized, edition_name, loan_date};
use crate::svg::{provenance_svg, GraphOptions};

/// What the edition page's sections read.
pub(crate) struct EditionPage<'a> {
    /// The piece's verified history.
    pub history: &'a History,
    /// The edition (0 = the master edition).
    pub edition: u64,
    /// Its state, when it is registered or has events.
    pub summary: Option<EditionSummary>,
    /// Its chain of events.
    pub chain: Vec<&'a Event>,
    /// Today, for active loans.
    pub today: LoanDate,
}

/// The edition page, or `None` when the edition has neither a registration nor an event.
pub(crate) fn render(
    site: &Site<'_>,
    history: &History,
    edition: u64,
    today: LoanDate,
) -> Option<Markup> {
    let summary: Option<EditionSummary> = history
        .state()
        .editions
        .into_iter()
        .find(|e| e.edition == edition);
    let chain = history.chain(edition);
    if chain.is_empty() && summary.as_ref().is_none_or(|s| !s.registered) {
        return None;
    }
    let page = EditionPage {
        history,
        edition,
        summary,
        chain,
        today,
    };
    let body = html! {
        (title_block(&page))
        (certificate_links(&page))
        (loans(&page))
        (graph(&page))
        (chain_of_events(&page))
    };
    let name = edition_name(edition);
    Some(layout(
        site,
        &format!("{name} of {}", history.piece_address()),
        body,
    ))
}

/// The heading and the edition's rights: owner, consignee, borrower today.
fn title_block(page: &EditionPage<'_>) -> Markup {
    let piece = page.history.piece_address();
    html! {
        section.title-block {
            h1 { (capitalized(&edition_name(page.edition))) " of piece " span.hash { (piece) } }
            dl.facts {
                (row("Piece", piece_link(piece)))
                @if let Some(s) = &page.summary {
                    (row("Owner", html! {
                        span #owner {
                            @match &s.owner {
                                Some(owner) => (address_link(owner)),
                                None => span.muted { "not registered" },
                            }
                        }
                    }))
                    (row("Consigned to", html! {
                        @match &s.consignee {
                            Some(c) => (address_link(c)),
                            None => span.muted { "not consigned" },
                        }
                    }))
                    (row("Borrower today", html! {
                        @match active_loan(s, page.today) {
                            Some(loan) => (address_link(&loan.borrower)),
                            None => span.muted { "none" },
                        }
                    }))
                }
            }
        }
    }
}

/// The edition's certificate: the file, and the printable certificate of authenticity.
fn certificate_links(page: &EditionPage<'_>) -> Markup {
    let base = format!(
        "/piece/{}/edition/{}/certificate",
        page.history.piece_address(),
        page.edition
    );
    html! {
        section #certificate {
            h2 { "Certificate" }
            p {
                "A file that proves this edition's provenance to anyone, checked without trusting this site ("
                code { "spool verify" }
                "). "
                a #download-certificate href={ (base) ".spoolcert" } download { "Download certificate" }
                " · "
                a #certificate-page href=(base) { "Certificate of authenticity (printable)" }
            }
        }
    }
}

/// The current holder's loans, when there are any.
fn loans(page: &EditionPage<'_>) -> Markup {
    let Some(s) = page.summary.as_ref().filter(|s| !s.loans.is_empty()) else {
        return html! {};
    };
    html! {
        section #loans {
            h2 { "Loans by the current holder" }
            table {
                thead { tr { th { "Borrower" } th { "From" } th { "To" } } }
                tbody {
                    @for loan in &s.loans {
                        tr {
                            td data-label="Borrower" { (address_link(&loan.borrower)) }
                            td data-label="From" { (loan_date(&loan.start)) }
                            td data-label="To" { (loan_date(&loan.end)) }
                        }
                    }
                }
            }
        }
    }
}

/// The provenance graph of this edition's lane alone.
fn graph(page: &EditionPage<'_>) -> Markup {
    let piece = page.history.piece_address();
    let svg = provenance_svg(
        page.history,
        &GraphOptions {
            tx_link_prefix: Some("/tx/".to_owned()),
            editions: Some(BTreeSet::from([page.edition])),
        },
    );
    html! {
        section #graph {
            h2 { "Provenance graph" }
            div.graph { (inline_svg(svg)) }
            p { a href={ "/piece/" (piece) "/graph" } { "The whole graph, every edition" } }
        }
    }
}

/// Every event of the edition's chain.
fn chain_of_events(page: &EditionPage<'_>) -> Markup {
    html! {
        section #chain {
            h2 { "Chain of events" }
            (event_table(&page.chain, false))
        }
    }
}
