//! A piece of 300 editions as a collector meets it in the explorer (issue 21, item 6): the
//! federation registers 300 editions on `bitcoind -regtest` through the CLI, the artist
//! transfers one, consigns one and lends one; `spool serve` indexes them and headless
//! Chromium reads the piece page, the whole graph and an edition's page. The piece page must
//! fit the window's width and stay within a few screens; PNGs go under
//! `target/explorer-screenshots/`.

mod serving;
mod support;

use serving::{Parties, Server};
use spool_testenv::browser::Browser;
use spool_testenv::scenario::{Scenario, Step};
use support::{Env, USER1};

/// How many editions the piece has.
const EDITIONS: u64 = 300;
/// The window's height, in CSS pixels (the harness's window is 1440 x 900).
const SCREEN: f64 = 900.0;

#[test]
fn a_piece_of_300_editions_reads_in_a_few_screens() {
    let env = Env::start();
    let p = Parties::new(&env);
    // The federation registers the master edition, EDITIONS 300 and each edition to the
    // artist (user1's root), 20 registrations per block; each takes a fuel output and three
    // tokens.
    let mut s = Scenario::funded(&env, 320, 930);
    s.register_piece(&p.piece, &p.user1, EDITIONS);
    s.unmined();
    for edition in 1..=EDITIONS {
        s.federation(&Step::register(&p.piece, &p.user1, edition));
        if edition % 20 == 0 {
            s.mine(1);
        }
    }
    s.mine(1);
    s.mined();
    // The artist transfers edition 7 to user2, consigns edition 150 to user3 and lends
    // edition 200 to user3 (2025 to 2068: today is in it).
    s.refill(&p.user1, 3, 3);
    s.by(&USER1, "", &Step::transfer(&p.piece, &p.user2_leaf, 7));
    s.by(&USER1, "", &Step::consign(&p.piece, &p.user3_leaf, 150));
    s.by(
        &USER1,
        "",
        &Step::loan(&p.piece, &p.user3_leaf, 200, "250101", "681231"),
    );

    let mut args: Vec<String> = p.watch_args();
    args.push("--watch".to_owned());
    args.push(p.user1.clone());
    args.extend(["--federation".to_owned(), p.federation.clone()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Server::start(&env, &args);
    server.wait_synced(&env);

    // The API's state of the consigned edition: the owner is the consignor (issue 17).
    let state = server.json(&format!("/api/v1/piece/{}/state", p.file_hash));
    let editions = state["editions"].as_array().expect("editions");
    assert_eq!(editions.len(), EDITIONS as usize + 1);
    let consigned = editions
        .iter()
        .find(|e| e["edition"] == 150)
        .expect("edition 150");
    assert_eq!(consigned["owner"], p.user1.as_str(), "{consigned}");
    assert_eq!(consigned["consignee"], p.user3_leaf.as_str(), "{consigned}");
    assert_eq!(consigned["holder"], p.user3_leaf.as_str(), "{consigned}");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(browse(&server.url, &p));
}

async fn browse(base: &str, p: &Parties) {
    let browser = Browser::start().await;
    let piece = &p.file_hash;

    // The piece page: the counts first, then the editions in runs, then a small graph.
    browser.open(&format!("{base}/piece/{piece}")).await;
    assert_eq!(browser.text("#registered").await, "300");
    assert_eq!(
        browser.text("#held-by-artist").await,
        "298",
        "all but the transferred and the consigned one"
    );
    assert_eq!(browser.text("#transferred").await, "1");
    assert_eq!(browser.text("#consigned").await, "1");
    assert_eq!(browser.text("#on-loan").await, "1");
    let order = browser
        .eval("[document.querySelector('#summary').getBoundingClientRect().top, document.querySelector('#editions').getBoundingClientRect().top]")
        .await;
    assert!(
        order[0].as_f64() < order[1].as_f64(),
        "summary first: {order}"
    );

    // master, 1-6, 7 (user2), 8-149, 150 (consigned), 151-199, 200 (lent), 201-300.
    assert_eq!(browser.count("table.editions tbody tr").await, 8);
    let first = browser.text("table.editions tbody tr:nth-child(2)").await;
    assert!(first.contains("editions 1–6"), "{first}");
    assert!(first.contains(&p.user1), "{first}");
    let last = browser.text("table.editions tbody tr:last-child").await;
    assert!(last.contains("editions 201–300"), "{last}");
    assert!(last.contains("100"), "{last}");
    let consigned = browser
        .text(r#"table.editions tbody tr[data-first="150"]"#)
        .await;
    assert!(
        consigned.contains(&p.user1) && consigned.contains(&p.user3_leaf),
        "owner and consignee apart: {consigned}"
    );

    // The graph draws the master and the three editions with a story, each node dated.
    assert_eq!(browser.count("#graph g.lane").await, 4);
    let lanes: Vec<String> = browser
        .eval("Array.from(document.querySelectorAll('#graph g.lane')).map(g => g.dataset.edition)")
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(lanes, ["0", "7", "150", "200"]);
    let times = browser.count("#graph text.time").await;
    assert_eq!(
        times,
        browser.count("#graph g.event").await,
        "every node has its block time"
    );
    let time = browser.text("#graph text.time").await;
    assert!(time.ends_with(" UTC") && time.len() == 20, "{time}");

    // It fits the window's width, and its height is a few screens, not 300 rows.
    assert!(!browser.overflows_horizontally().await);
    let height = browser
        .eval("document.documentElement.scrollHeight")
        .await
        .as_f64()
        .unwrap();
    let bytes = browser
        .eval("document.documentElement.outerHTML.length")
        .await
        .as_f64()
        .unwrap();
    eprintln!(
        "piece page of {EDITIONS} editions: {height} px high ({:.2} screens), {bytes} bytes",
        height / SCREEN
    );
    assert!(
        height <= 4.0 * SCREEN,
        "the piece page is {height} px high, more than 4 screens"
    );
    browser.screenshot_page("many-editions-piece").await;

    // A phone: still no horizontal scrolling.
    browser.size(390, 844).await;
    browser.open(&format!("{base}/piece/{piece}")).await;
    assert!(!browser.overflows_horizontally().await);
    browser.screenshot("many-editions-piece-narrow").await;
    browser.size(1440, 900).await;

    // The whole graph has a page of its own: every edition's lane, scrolling inside its box.
    browser.open(&format!("{base}/piece/{piece}")).await;
    let path = browser.submit("#whole-graph").await;
    assert_eq!(path, format!("/piece/{piece}/graph"));
    assert_eq!(browser.count("g.lane").await, EDITIONS as usize + 1);
    assert!(!browser.overflows_horizontally().await);
    browser.screenshot("many-editions-whole-graph").await;

    // An edition's page draws its own lane: the consigned edition, owner and consignee apart.
    browser
        .open(&format!("{base}/piece/{piece}/edition/150"))
        .await;
    assert_eq!(browser.text("#owner").await, p.user1);
    assert_eq!(browser.count("#graph g.lane").await, 1);
    assert_eq!(
        browser.count("#graph g.event").await,
        2,
        "REGISTER, CONSIGN"
    );
    assert!(!browser.overflows_horizontally().await);
    browser.screenshot_page("many-editions-edition").await;

    browser.close().await;
}
