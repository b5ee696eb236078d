//! `/piece/{piece_address}/edition/{n}`: one edition's chain of events and its rights.

use maud::{html, Markup};
use spool_protocol::history::History;
use spool_protocol::state::EditionSummary;
use spool_protocol::verb::LoanDate;

use super::piece::active_loan;
use super::{address_link, event_table, layout, piece_link, row, Site};
use crate::model::{capitalized, edition_name, loan_date};

/// The edition page, or `None` when the edition has neither a registration nor an event.
pub(crate) fn render(
    site: &Site<'_>,
    history: &History,
    edition: u64,
    today: LoanDate,
) -> Option<Markup> {
    let state = history.state();
    let chain = history.chain(edition);
    let summary: Option<EditionSummary> = state.editions.into_iter().find(|e| e.edition == edition);
    if chain.is_empty() && summary.as_ref().is_none_or(|s| !s.registered) {
        return None;
    }
    let piece = history.piece_address();
    let name = edition_name(edition);
    let body = html! {
        section.title-block {
            h1 { (capitalized(&name)) " of piece " span.hash { (piece) } }
            dl.facts {
                (row("Piece", piece_link(piece)))
                @if let Some(s) = &summary {
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
                        @match active_loan(s, today) {
                            Some(loan) => (address_link(&loan.borrower)),
                            None => span.muted { "none" },
                        }
                    }))
                }
            }
        }
        @if let Some(s) = &summary {
            @if !s.loans.is_empty() {
                section {
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
        section {
            h2 { "Chain of events" }
            (event_table(&chain, false))
        }
    };
    Some(layout(site, &format!("{name} of {piece}"), body))
}
