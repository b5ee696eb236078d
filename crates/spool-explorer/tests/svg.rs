//! The provenance graph, parsed back as XML: lanes in numeric order, one node per event with
//! its txid, invalid and pending events marked, arrows naming the holders.

mod support;

use roxmltree::{Document, Node};
use spool_explorer::svg::{provenance_svg, GraphOptions};
use spool_protocol::history::History;
use spool_protocol::verb::Verb;
use support::synthetic::{standard_piece, Cast, NET};

fn history(cast: &Cast, txs: &[spool_protocol::chain::ChainTx]) -> History {
    History::build(&cast.piece, NET, txs, &[cast.federation.to_string()]).unwrap()
}

fn has_class(node: &Node<'_, '_>, class: &str) -> bool {
    node.attribute("class")
        .is_some_and(|c| c.split_whitespace().any(|c| c == class))
}

fn elements<'a>(doc: &'a Document<'a>, class: &str) -> Vec<Node<'a, 'a>> {
    doc.descendants()
        .filter(|n| n.is_element() && has_class(n, class))
        .collect()
}

fn title_of(node: &Node<'_, '_>) -> String {
    node.descendants()
        .find(|n| n.has_tag_name("title"))
        .and_then(|t| t.text())
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn lanes_are_in_numeric_edition_order_master_first() {
    let cast = Cast::new();
    let (chain, _, _) = standard_piece(&cast);
    let svg = provenance_svg(&history(&cast, &chain.txs), &GraphOptions::default());
    let doc = Document::parse(&svg).expect("well-formed SVG");
    let lanes: Vec<u64> = elements(&doc, "lane")
        .iter()
        .map(|n| n.attribute("data-edition").unwrap().parse().unwrap())
        .collect();
    assert_eq!(lanes, (0..=10).collect::<Vec<u64>>());
    let titles: Vec<String> = elements(&doc, "lane-title")
        .iter()
        .map(|n| n.text().unwrap().to_owned())
        .collect();
    assert_eq!(titles[0], "master");
    assert_eq!(titles[1], "edition 1");
    assert_eq!(titles[2], "edition 2");
    assert_eq!(titles[10], "edition 10");
    // Lanes go left to right in that order.
    let xs: Vec<f64> = elements(&doc, "lane-title")
        .iter()
        .map(|n| n.attribute("x").unwrap().parse().unwrap())
        .collect();
    assert!(xs.windows(2).all(|w| w[0] < w[1]), "{xs:?}");
}

#[test]
fn one_node_per_event_in_chain_order_with_its_txid() {
    let cast = Cast::new();
    let (chain, _, _) = standard_piece(&cast);
    let history = history(&cast, &chain.txs);
    let svg = provenance_svg(&history, &GraphOptions::default());
    let doc = Document::parse(&svg).unwrap();
    let nodes = elements(&doc, "event");
    assert_eq!(nodes.len(), history.events().len());
    assert_eq!(nodes.len(), 16);
    let txids: Vec<&str> = nodes
        .iter()
        .map(|n| n.attribute("data-txid").unwrap())
        .collect();
    let expected: Vec<&str> = history.events().iter().map(|e| e.txid.as_str()).collect();
    assert_eq!(txids, expected);
    // Rows go down in chain order.
    let ys: Vec<f64> = nodes
        .iter()
        .map(|n| {
            let rect = n.descendants().find(|d| d.has_tag_name("rect")).unwrap();
            rect.attribute("y").unwrap().parse().unwrap()
        })
        .collect();
    assert!(ys.windows(2).all(|w| w[0] < w[1]));
    // Each node shows its action and block height.
    let first = &nodes[0];
    let texts: Vec<&str> = first.descendants().filter_map(|d| d.text()).collect();
    assert!(texts.contains(&"PIECE"), "{texts:?}");
    assert!(texts.contains(&"block 101"), "{texts:?}");
    // EDITIONS sits on the master's lane.
    assert_eq!(nodes[1].attribute("data-action"), Some("EDITIONS"));
    assert_eq!(nodes[1].attribute("data-edition"), Some("0"));
}

#[test]
fn invalid_events_carry_their_reason_and_pending_ones_are_marked() {
    let cast = Cast::new();
    let (chain, forged, pending) = standard_piece(&cast);
    let history = history(&cast, &chain.txs);
    let svg = provenance_svg(&history, &GraphOptions::default());
    let doc = Document::parse(&svg).unwrap();

    let invalid = elements(&doc, "invalid");
    assert_eq!(invalid.len(), 1);
    assert_eq!(
        invalid[0].attribute("data-txid"),
        Some(forged.to_string().as_str())
    );
    let reason = format!("Address {} does not own the edition number 1", cast.mallory);
    assert!(
        title_of(&invalid[0]).contains(&reason),
        "{}",
        title_of(&invalid[0])
    );
    let event = history
        .events()
        .iter()
        .find(|e| e.txid == forged.to_string())
        .unwrap();
    assert_eq!(
        event.reason.as_ref().map(ToString::to_string),
        Some(reason.clone())
    );

    let pendings = elements(&doc, "pending");
    assert_eq!(pendings.len(), 1);
    assert_eq!(
        pendings[0].attribute("data-txid"),
        Some(pending.to_string().as_str())
    );
    let texts: Vec<&str> = pendings[0].descendants().filter_map(|d| d.text()).collect();
    assert!(texts.contains(&"pending"), "{texts:?}");
    assert!(has_class(&pendings[0], "valid"));
    // Everything else is valid and confirmed.
    assert_eq!(elements(&doc, "valid").len(), 15);
}

#[test]
fn arrows_name_the_holder_after_each_event() {
    let cast = Cast::new();
    let (chain, _, _) = standard_piece(&cast);
    let history = history(&cast, &chain.txs);
    let svg = provenance_svg(&history, &GraphOptions::default());
    let doc = Document::parse(&svg).unwrap();
    // Edition 1: REGISTER1 -> artist, TRANSFER -> alice, TRANSFER -> bob, forged (no change).
    let lane1: Vec<Node<'_, '_>> = elements(&doc, "hold")
        .into_iter()
        .filter(|g| {
            let x: f64 = g
                .descendants()
                .find(|d| d.has_tag_name("line"))
                .unwrap()
                .attribute("x1")
                .unwrap()
                .parse()
                .unwrap();
            let lane_x: f64 = elements(&doc, "lane")
                .into_iter()
                .find(|l| l.attribute("data-edition") == Some("1"))
                .unwrap()
                .descendants()
                .find(|d| d.has_tag_name("line"))
                .unwrap()
                .attribute("x1")
                .unwrap()
                .parse()
                .unwrap();
            x == lane_x
        })
        .collect();
    let holders: Vec<String> = lane1
        .iter()
        .map(|g| {
            g.descendants()
                .find(|d| has_class(d, "holder"))
                .and_then(|t| t.attribute("data-holder"))
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        holders,
        vec![
            cast.artist.to_string(),
            cast.alice.to_string(),
            cast.bob.to_string()
        ]
    );
    // The current holder of edition 1 stays bob after the forged transfer.
    let current = elements(&doc, "current")
        .into_iter()
        .find(|g| g.attribute("data-edition") == Some("1"))
        .unwrap();
    let holder = current
        .descendants()
        .find(|d| has_class(d, "holder"))
        .unwrap();
    assert_eq!(
        holder.attribute("data-holder"),
        Some(cast.bob.to_string().as_str())
    );
    assert_eq!(history.holder(1), Some(cast.bob.to_string().as_str()));
}

#[test]
fn nodes_link_to_their_transaction_when_asked() {
    let cast = Cast::new();
    let (chain, _, _) = standard_piece(&cast);
    let history = history(&cast, &chain.txs);
    let svg = provenance_svg(
        &history,
        &GraphOptions {
            tx_link_prefix: Some("/tx/".to_owned()),
            ..GraphOptions::default()
        },
    );
    let doc = Document::parse(&svg).unwrap();
    for node in elements(&doc, "event") {
        let link = node.descendants().find(|d| d.has_tag_name("a")).unwrap();
        assert_eq!(
            link.attribute("href"),
            Some(format!("/tx/{}", node.attribute("data-txid").unwrap()).as_str())
        );
    }
    let plain = provenance_svg(&history, &GraphOptions::default());
    assert!(!plain.contains("<a "));
}

#[test]
fn a_piece_without_events_is_an_empty_graph_that_says_so() {
    let cast = Cast::new();
    let history = history(&cast, &[]);
    let svg = provenance_svg(&history, &GraphOptions::default());
    let doc = Document::parse(&svg).unwrap();
    assert!(elements(&doc, "event").is_empty());
    let empty = elements(&doc, "empty");
    assert_eq!(empty[0].text(), Some("No SPOOL events for this piece"));
}

/// The canvas is sized to its content: a "held by" label in the last lane, which starts
/// right of its lane's line, ends inside the canvas (issue 17: the standalone SVG cut arrow
/// labels at its right edge). Widths are the conservative 8 px a glyph of the 11 px labels.
#[test]
fn labels_of_the_last_lane_fit_inside_the_canvas() {
    let cast = Cast::new();
    let mut chain = support::synthetic::Chain::default();
    let reg = [&cast.piece, &cast.meta, &cast.artist];
    chain.push(&cast.federation, &reg, Verb::Piece);
    chain.push(&cast.federation, &reg, Verb::Editions { count: 1 });
    chain.push(&cast.federation, &reg, Verb::Register { edition: 1 });
    chain.push(
        &cast.artist,
        &[&cast.piece, &cast.alice],
        Verb::Transfer { edition: 1 },
    );
    let svg = provenance_svg(&history(&cast, &chain.txs), &GraphOptions::default());
    let doc = Document::parse(&svg).unwrap();
    let width: f64 = doc
        .root_element()
        .attribute("width")
        .unwrap()
        .parse()
        .unwrap();
    let holders = elements(&doc, "holder");
    assert!(!holders.is_empty());
    for label in holders {
        let x: f64 = label.attribute("x").unwrap().parse().unwrap();
        let chars = label
            .children()
            .filter(|n| n.is_text())
            .map(|n| n.text().unwrap().chars().count())
            .sum::<usize>() as f64;
        let right = match label.attribute("text-anchor") {
            Some("middle") => x + chars * 4.0,
            _ => x + chars * 8.0,
        };
        assert!(
            right <= width,
            "label at x {x} with {chars} glyphs ends at {right} past the canvas width {width}"
        );
    }
}
