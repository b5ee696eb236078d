//! `/piece/{piece_address}`: title block, the editions' counts, the editions in runs (paged),
//! the provenance graph of the editions with a story beyond their registration, and their
//! events. A piece of hundreds of editions stays a page of a few screens; the whole graph
//! has a page of its own ([`graph`]).

use std::collections::BTreeSet;

use maud::{html, Markup};
use spool_protocol::history::{Event, History};
use spool_protocol::state::{EditionSummary, LoanSummary};
use spool_protocol::verb::LoanDate;

use super::editions::{runs_table, summary};
use super::{address_link, event_table, inline_svg, layout, row, Site};
use crate::model::lane_of;
use crate::overview::{overview, page_of, runs, storied_editions, RUNS_PER_PAGE};
use crate::svg::{provenance_svg, GraphOptions};

/// How many editions' lanes the piece page's graph draws at most.
pub(crate) const GRAPH_LANES: usize = 8;
/// How many events the piece page lists at most (the latest).
pub(crate) const LISTED_EVENTS: usize = 40;

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
/// came from the upload form; `page` the page of editions asked for (1-based).
pub(crate) fn render(
    site: &Site<'_>,
    history: &History,
    today: LoanDate,
    uploaded: Option<&str>,
    page: Option<usize>,
) -> Markup {
    let state = history.state();
    let piece = history.piece_address();
    let all_events = history.events();
    let invalid = all_events.iter().filter(|e| !e.valid).count();
    let storied = storied_editions(history);
    let drawn: BTreeSet<u64> = storied.iter().copied().take(GRAPH_LANES).collect();
    let events: Vec<&Event> = all_events
        .iter()
        .filter(|e| drawn.contains(&lane_of(e)))
        .collect();
    let lanes: BTreeSet<u64> = all_events.iter().map(lane_of).collect();
    let left_out = lanes.difference(&storied).count();
    let listed = &events[events.len().saturating_sub(LISTED_EVENTS)..];
    let svg = provenance_svg(
        history,
        &GraphOptions {
            tx_link_prefix: Some("/tx/".to_owned()),
            editions: Some(drawn.clone()),
        },
    );
    let runs = runs(&state.editions, today);
    let (page, pages) = page_of(page, runs.len(), RUNS_PER_PAGE);
    let shown = &runs[(page - 1) * RUNS_PER_PAGE..runs.len().min(page * RUNS_PER_PAGE)];
    let graph_page = format!("/piece/{piece}/graph");
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
                    (all_events.len())
                    @if invalid > 0 { " (" (invalid) " invalid)" }
                }))
            }
            (summary(&overview(history, &state, today), state.number_editions))
        }
        section #editions {
            h2 { "Editions" }
            p.muted { "Consecutive editions in the same hands are one row." }
            (runs_table(piece, shown, page, pages))
        }
        section #graph {
            h2 { "Provenance graph" }
            p.muted {
                @if storied.len() > drawn.len() {
                    "The master edition and the first " (drawn.len() - 1) " of the "
                    (storied.len() - 1) " editions with events beyond their registration. "
                }
                @if left_out > 0 {
                    (left_out) " editions with only their registration are left out; each edition's page draws its own. "
                }
                "Each arrow names who held the edition after the event above it. Invalid events are dashed red (hover for the reason), pending ones dotted."
            }
            div.graph { (inline_svg(svg)) }
            p {
                a #whole-graph href=(graph_page) { "The whole graph, every edition" }
                " · "
                a href={ "/piece/" (piece) "/graph.svg" } download={ (piece) ".svg" } { "Download it as SVG" }
            }
        }
        section #events {
            h2 { "Events" }
            @if listed.len() < all_events.len() {
                p.muted {
                    "The latest " (listed.len()) " events of the editions drawn above, of "
                    (all_events.len()) " in all: "
                    a href=(graph_page) { "every event" } "."
                }
            }
            (event_table(listed, false))
        }
    };
    layout(site, &format!("Piece {piece}"), body)
}

/// `/piece/{piece_address}/graph`: the provenance graph of every edition, and every event.
pub(crate) fn graph(site: &Site<'_>, history: &History) -> Markup {
    let piece = history.piece_address();
    let events: Vec<&Event> = history.events().iter().collect();
    let svg = provenance_svg(
        history,
        &GraphOptions {
            tx_link_prefix: Some("/tx/".to_owned()),
            editions: None,
        },
    );
    let body = html! {
        section.title-block {
            h1 { "Provenance of piece " span.hash { (super::piece_link(piece)) } }
            p.muted { "One lane per edition; each arrow names who held the edition after the event above it. Invalid events are dashed red (hover for the reason), pending ones dotted. The graph scrolls both ways." }
        }
        section {
            div.graph.whole { (inline_svg(svg)) }
            p { a href={ "/piece/" (piece) "/graph.svg" } download={ (piece) ".svg" } { "Download the graph as SVG" } }
        }
        section #events {
            h2 { "Events" }
            (event_table(&events, false))
        }
    };
    layout(site, &format!("Provenance of {piece}"), body)
}
