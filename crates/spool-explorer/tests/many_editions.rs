//! A piece of 300 editions over an in-memory source (issue 21, item 6): the piece page opens
//! with the counts, lists the editions as runs in the same hands with paging, draws only the
//! editions with a story, and stays small; the whole graph has its own page; graph nodes
//! carry their block time; an edition's page draws its own lane.

mod support;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;

use bitcoin::hashes::Hash;
use bitcoin::BlockHash;
use spool_explorer::memory::MemorySource;
use spool_explorer::svg::{provenance_svg, GraphOptions};
use spool_explorer::{ExplorerConfig, SyncStatus};
use spool_protocol::history::History;
use spool_protocol::verb::Verb;
use support::http::{get, serve};
use support::synthetic::{Cast, Chain, NET};

const EDITIONS: u64 = 300;

/// 300 editions registered to the artist; `transferred` editions then given to alice.
fn piece(cast: &Cast, transferred: impl IntoIterator<Item = u64>) -> Chain {
    let mut chain = Chain::default();
    let reg = [&cast.piece, &cast.meta, &cast.artist];
    chain.push(&cast.federation, &reg, Verb::Piece);
    chain.push(&cast.federation, &reg, Verb::Editions { count: EDITIONS });
    for edition in 1..=EDITIONS {
        chain.push(&cast.federation, &reg, Verb::Register { edition });
    }
    for edition in transferred {
        chain.push(
            &cast.artist,
            &[&cast.piece, &cast.alice],
            Verb::Transfer { edition },
        );
    }
    chain
}

async fn served(cast: &Cast, chain: Chain) -> SocketAddr {
    let status = SyncStatus {
        indexed_height: 1_000,
        indexed_hash: BlockHash::all_zeros(),
        node_height: 1_000,
        synced: true,
    };
    serve(
        Arc::new(MemorySource::new(NET, status, chain.txs)),
        ExplorerConfig::new(vec![cast.federation.clone()]),
    )
    .await
}

#[tokio::test]
async fn a_piece_of_300_editions_is_a_short_page() {
    let cast = Cast::new();
    let addr = served(&cast, piece(&cast, [7])).await;
    let piece = cast.piece.to_string();
    let page = get(addr, &format!("/piece/{piece}")).await;
    assert_eq!(page.status, 200);
    let html = &page.body;
    assert!(html.contains(r#"<span id="registered">300</span>"#));
    assert!(html.contains(r#"<span id="held-by-artist">299</span>"#));
    assert!(html.contains(r#"<span id="transferred">1</span>"#));
    // master, 1-6, 7, 8-300.
    assert_eq!(html.matches("<tr data-first=").count(), 4);
    assert!(html.contains(r#"<tr data-first="8" data-last="300">"#));
    // The graph: the master's lane (PIECE, EDITIONS) and edition 7's (REGISTER, TRANSFER).
    assert_eq!(html.matches(r#"<g class="lane""#).count(), 2);
    assert_eq!(html.matches(r#"<g class="event "#).count(), 4);
    assert!(html.contains("299 editions with only their registration are left out"));
    // Every event is on the whole graph's page.
    let whole = get(addr, &format!("/piece/{piece}/graph")).await;
    assert_eq!(whole.status, 200);
    assert_eq!(whole.body.matches(r#"<g class="lane""#).count(), 301);
    assert_eq!(whole.body.matches(r#"<g class="event "#).count(), 303);
    // The bound: the whole graph's page, which holds what the piece page used to.
    let ratio = html.len() as f64 / whole.body.len() as f64;
    eprintln!(
        "piece page {} bytes, whole graph page {} bytes: {ratio:.3}",
        html.len(),
        whole.body.len()
    );
    assert!(ratio < 0.1, "the piece page is {ratio:.3} of the whole");
}

#[tokio::test]
async fn editions_in_many_hands_are_paged() {
    let cast = Cast::new();
    // Every odd edition to alice: 300 runs of one edition, and the master.
    let addr = served(&cast, piece(&cast, (1..=EDITIONS).step_by(2))).await;
    let piece = cast.piece.to_string();
    let first = get(addr, &format!("/piece/{piece}")).await.body;
    assert_eq!(first.matches("<tr data-first=").count(), 50);
    assert!(first.contains("page 1 of 7"), "301 runs, 50 a page");
    assert!(first.contains(&format!(r#"href="/piece/{piece}?page=2#editions""#)));
    let last = get(addr, &format!("/piece/{piece}?page=7")).await.body;
    assert_eq!(last.matches("<tr data-first=").count(), 1);
    assert!(last.contains(r#"<tr data-first="300" data-last="300">"#));
    assert!(last.contains(&format!(r#"href="/piece/{piece}?page=6#editions""#)));
    // A page past the end is the last; a page that is no number is a 400 page.
    let past = get(addr, &format!("/piece/{piece}?page=99")).await;
    assert_eq!(past.status, 200);
    assert!(past.body.contains("page 7 of 7"));
    assert_eq!(
        get(addr, &format!("/piece/{piece}?page=x")).await.status,
        400
    );
    // The graph draws at most 8 lanes: the master and the first 7 storied editions.
    assert_eq!(first.matches(r#"<g class="lane""#).count(), 8);
    assert!(first.contains("the first 7 of the 150 editions with events beyond their registration"));
}

#[tokio::test]
async fn an_edition_page_draws_its_own_lane() {
    let cast = Cast::new();
    let addr = served(&cast, piece(&cast, [7])).await;
    let page = get(addr, &format!("/piece/{}/edition/7", cast.piece)).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.body.matches(r#"<g class="lane""#).count(), 1);
    assert!(page.body.contains(r#"<g class="lane" data-edition="7">"#));
    assert_eq!(page.body.matches(r#"<g class="event "#).count(), 2);
}

#[test]
fn graph_nodes_carry_their_block_time_and_only_the_editions_asked_for() {
    let cast = Cast::new();
    let chain = piece(&cast, [7]);
    let history =
        History::build(&cast.piece, NET, &chain.txs, &[cast.federation.to_string()]).unwrap();
    let svg = provenance_svg(
        &history,
        &GraphOptions {
            editions: Some(BTreeSet::from([7])),
            ..GraphOptions::default()
        },
    );
    // Edition 7's registration is the 9th block of the synthetic chain (height 109, time
    // 1_700_000_000 + 9 * 600 = 2023-11-14 23:43:20 UTC).
    assert!(svg.contains(">block 109</text>"), "{svg}");
    assert!(svg.contains(r#"class="detail time""#));
    assert!(svg.contains(">2023-11-14 23:43 UTC</text>"), "{svg}");
    assert_eq!(svg.matches(r#"<g class="lane""#).count(), 1);
    let height: usize = svg
        .split(r#"height=""#)
        .nth(1)
        .and_then(|h| h.split('"').next())
        .unwrap()
        .parse()
        .unwrap();
    let whole = provenance_svg(&history, &GraphOptions::default());
    let whole_height: usize = whole
        .split(r#"height=""#)
        .nth(1)
        .and_then(|h| h.split('"').next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(height * 50 < whole_height, "{height} vs {whole_height}");
}
