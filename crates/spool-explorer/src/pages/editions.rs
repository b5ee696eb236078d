//! The editions part of a piece page: the counts a collector reads first, then the editions
//! as runs of consecutive numbers in the same hands ("editions 1-300: owned by X"), paged.

use maud::{html, Markup};

use super::address_link;
use crate::model::{edition_name, loan_date};
use crate::overview::{EditionRun, Overview};

/// The counts, as a definition list.
pub(crate) fn summary(overview: &Overview, number_editions: Option<u64>) -> Markup {
    let count = |id: &str, n: usize| html! { span id=(id) { (n) } };
    html! {
        dl.summary #summary {
            div {
                dt { "Registered" }
                dd {
                    (count("registered", overview.registered))
                    @if let Some(n) = number_editions { span.of { " of " (n) } }
                }
            }
            div {
                dt {
                    "Held by the artist"
                    @if let Some(artist) = &overview.artist {
                        br; span.artist { (address_link(artist)) }
                    }
                }
                dd { (count("held-by-artist", overview.held_by_artist)) }
            }
            div { dt { "Transferred" } dd { (count("transferred", overview.transferred)) } }
            div { dt { "Consigned" } dd { (count("consigned", overview.consigned)) } }
            div { dt { "On loan today" } dd { (count("on-loan", overview.on_loan)) } }
        }
    }
}

/// The runs of page `page` (1-based) of `pages`, with links to the other pages.
pub(crate) fn runs_table(piece: &str, runs: &[EditionRun], page: usize, pages: usize) -> Markup {
    html! {
        table.editions {
            thead { tr {
                th { "Editions" } th { "Count" } th { "Owner" } th { "Consignee" } th { "Active loan" }
            } }
            tbody {
                @for run in runs {
                    tr data-first=(run.first) data-last=(run.last) {
                        td data-label="Editions" { (run_name(piece, run)) }
                        td.count data-label="Count" { (run.len()) }
                        td.owner data-label="Owner" {
                            @match &run.owner {
                                Some(owner) => (address_link(owner)),
                                None => span.muted { "not registered" },
                            }
                        }
                        td data-label="Consignee" {
                            @match &run.consignee {
                                Some(c) => (address_link(c)),
                                None => span.muted { "—" },
                            }
                        }
                        td data-label="Active loan" {
                            @match &run.loan {
                                Some((borrower, start, end)) => {
                                    (address_link(borrower))
                                    " " span.muted { "(" (loan_date(start)) " to " (loan_date(end)) ")" }
                                }
                                None => span.muted { "—" },
                            }
                        }
                    }
                }
            }
        }
        @if pages > 1 {
            nav.pager aria-label="pages of editions" {
                @if page > 1 {
                    a rel="prev" href={ "/piece/" (piece) "?page=" (page - 1) "#editions" } { "‹ previous" }
                }
                span.muted { " page " (page) " of " (pages) " " }
                @if page < pages {
                    a rel="next" href={ "/piece/" (piece) "?page=" (page + 1) "#editions" } { "next ›" }
                }
            }
        }
    }
}

/// `master`, `edition 7` or `editions 1–300`, linked to the first edition's page.
fn run_name(piece: &str, run: &EditionRun) -> Markup {
    let link = |edition: u64, text: String| {
        html! { a href={ "/piece/" (piece) "/edition/" (edition) } { (text) } }
    };
    html! {
        @if run.first == run.last {
            (link(run.first, edition_name(run.first)))
        } @else {
            "editions " (link(run.first, run.first.to_string())) "–" (link(run.last, run.last.to_string()))
        }
    }
}
