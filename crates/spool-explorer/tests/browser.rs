//! The explorer in a real browser: the seed's walkthrough plus a forged transfer and a
//! pending registration on a real `bitcoind -regtest`, served by the explorer's router and
//! read in headless Chromium (fantoccini over chromedriver). Asserts what a person sees and
//! saves a PNG of each page under `target/explorer-screenshots/`.
//!
//! Until the index exists the router reads an in-memory source filled from the node through
//! the Core backend; later this test points at `spool serve`.

mod support;

use std::sync::Arc;

use fantoccini::Locator;
use spool_explorer::ExplorerConfig;
use support::browser::Browser;
use support::http::serve;
use support::regtest::walkthrough;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_reads_the_walkthrough_in_a_browser() {
    let chain = walkthrough().await;
    let addr = serve(
        Arc::new(chain.source.clone()),
        ExplorerConfig::new(vec![chain.federation.clone()]),
    )
    .await;
    let base = format!("http://{addr}");
    let browser = Browser::start().await;
    let piece = chain.piece.to_string();
    let user2 = chain.user2_leaf.to_string();
    let reason = format!(
        "Address {} does not own the edition number 1",
        chain.user1_leaf
    );
    let events = chain.piece_txids.len();
    assert_eq!(
        events, 9,
        "7 walkthrough events, the forged one, the pending one"
    );

    // Home: sync status, latest activity with the pending registration on top.
    browser.open(&format!("{base}/")).await;
    assert!(browser.text("#sync").await.contains("synced"));
    let first_latest = browser.text("#latest tbody tr").await;
    assert!(
        first_latest.contains("ASCRIBESPOOL01REGISTER2"),
        "{first_latest}"
    );
    assert!(first_latest.contains("pending"), "{first_latest}");
    assert_eq!(
        browser.count("#latest tbody tr").await,
        events + chain.refills.len(),
        "every SPOOL transaction, refills included"
    );
    assert!(!browser.overflows_horizontally().await);
    browser.screenshot_page("home").await;

    // A refill is a SPOOL transaction but no piece's event.
    browser
        .open(&format!("{base}/tx/{}", chain.refills[0]))
        .await;
    assert_eq!(browser.text("#verb").await, "ASCRIBESPOOL01FUEL");
    assert_eq!(
        browser.text("#validity").await,
        "not an event of any piece's history"
    );
    assert_eq!(
        browser.count("#outputs tbody tr").await,
        3,
        "token, fuel, verb"
    );
    browser.open(&format!("{base}/")).await;

    // Search by txid lands on the transaction page, which shows the forged event's reason.
    let q = browser.client.find(Locator::Css("#q")).await.unwrap();
    q.send_keys(&chain.forged.to_string()).await.unwrap();
    assert_eq!(
        browser.submit("form.search-big button").await,
        format!("/tx/{}", chain.forged)
    );
    assert_eq!(browser.text("#verb").await, "ASCRIBESPOOL01TRANSFER1");
    let validity = browser.text("#validity").await;
    assert!(validity.contains("invalid"), "{validity}");
    assert!(validity.contains(&reason), "{validity}");
    assert_eq!(browser.text("#confirmations").await, "1");
    browser.screenshot_page("tx-forged").await;

    // The piece page: who holds edition 1, the invalid event's reason, the graph.
    browser.open(&format!("{base}/piece/{piece}")).await;
    assert_eq!(browser.text("#piece-address").await, piece);
    assert_eq!(browser.text("#number-editions").await, "10");
    assert_eq!(
        browser.text("#master-owner").await,
        chain.user1_root.to_string()
    );
    assert_eq!(
        browser.text(r#"tr[data-edition="1"] td.holder"#).await,
        user2,
        "edition 1 is held by user2"
    );
    let forged_row = browser
        .text(&format!(r#"tr[data-txid="{}"] td.status"#, chain.forged))
        .await;
    assert!(forged_row.contains(&reason), "{forged_row}");
    assert_eq!(browser.count("svg.provenance g.event").await, events);
    assert_eq!(browser.count("svg.provenance g.event.invalid").await, 1);
    assert_eq!(browser.count("svg.provenance g.event.pending").await, 1);
    for txid in &chain.piece_txids {
        assert_eq!(
            browser
                .count(&format!(r#"svg.provenance g.event[data-txid="{txid}"]"#))
                .await,
            1,
            "one graph node for {txid}"
        );
    }
    let tooltip = browser
        .eval(r#"document.querySelector("svg.provenance g.event.invalid title").textContent"#)
        .await;
    assert!(tooltip.as_str().unwrap().contains(&reason), "{tooltip}");
    let lanes = browser
        .eval(r#"Array.from(document.querySelectorAll("svg.provenance g.lane")).map(g => g.dataset.edition).join(",")"#)
        .await;
    assert_eq!(lanes.as_str(), Some("0,1,2"));
    assert!(!browser.overflows_horizontally().await);
    browser.screenshot_page("piece").await;

    // The same page on a phone: no sideways scrolling of the page.
    browser.size(375, 812).await;
    browser.open(&format!("{base}/piece/{piece}")).await;
    assert!(
        !browser.overflows_horizontally().await,
        "the piece page fits 375 px"
    );
    assert!(browser
        .text(r#"tr[data-edition="1"] td.holder"#)
        .await
        .contains(&user2));
    browser.screenshot_page("piece-375px").await;
    browser.size(1440, 900).await;

    // An edition, an address, the status page.
    browser
        .open(&format!("{base}/piece/{piece}/edition/1"))
        .await;
    assert_eq!(browser.text("#holder").await, user2);
    // REGISTER1, TRANSFER1, CONSIGN1, UNCONSIGN1, LOAN1 and the forged TRANSFER1.
    assert_eq!(browser.count("table.events tbody tr").await, 6);
    browser.screenshot_page("edition-1").await;

    browser.open(&format!("{base}/address/{user2}")).await;
    let holdings = browser.text("#holdings").await;
    assert!(holdings.contains("edition 1"), "{holdings}");
    assert!(holdings.contains("owner"), "{holdings}");
    browser.screenshot_page("address-user2").await;

    browser.open(&format!("{base}/status")).await;
    let height = chain
        .node
        .call("getblockcount", &[])
        .unwrap()
        .as_u64()
        .unwrap();
    assert_eq!(browser.text("#indexed-height").await, height.to_string());
    browser.screenshot("status").await;

    // Bad input: pages that say what was wrong.
    browser.open(&format!("{base}/piece/not-a-file-hash")).await;
    assert!(browser
        .text("#problem")
        .await
        .contains("“not-a-file-hash” is not a valid piece address"));
    browser.screenshot("400").await;
    browser.open(&format!("{base}/no/such/page")).await;
    assert!(browser
        .text("#problem")
        .await
        .contains("There is no page at /no/such/page"));
    browser.screenshot("404").await;

    // Upload the artwork with its metadata: lands on its piece page.
    browser.open(&format!("{base}/")).await;
    let file = browser.client.find(Locator::Css("#file")).await.unwrap();
    file.send_keys(chain.image.canonicalize().unwrap().to_str().unwrap())
        .await
        .unwrap();
    browser
        .client
        .find(Locator::Css("#artist_name"))
        .await
        .unwrap()
        .send_keys("Rodolphe Marques")
        .await
        .unwrap();
    browser
        .client
        .find(Locator::Css("#title"))
        .await
        .unwrap()
        .send_keys("ascribe")
        .await
        .unwrap();
    assert_eq!(
        browser.submit("#upload button").await,
        format!("/piece/{piece}?file_hash_metadata={}", chain.piece_metadata)
    );
    assert_eq!(browser.text("#piece-address").await, piece);
    // pyspool's published hashes of vectors/ascribe.png on testnet/regtest.
    assert_eq!(piece, "mv5yDkR5dnjGHxietq7CH78WHk8vzsu4vH");
    assert_eq!(
        chain.piece_metadata.to_string(),
        "mr4yicsC7v3P92YrTf1kQByYWJSmXmoaBS"
    );
    browser.screenshot("upload-result").await;

    browser.close().await;

    // Dark mode (the system asks for it): the same page, light text on a dark background.
    let dark = Browser::start_with(&["--blink-settings=preferredColorScheme=0"]).await;
    dark.open(&format!("{base}/piece/{piece}")).await;
    let prefers_dark = dark
        .eval(r#"window.matchMedia("(prefers-color-scheme: dark)").matches"#)
        .await;
    assert_eq!(
        prefers_dark.as_bool(),
        Some(true),
        "the browser asks for dark mode"
    );
    let background = dark
        .eval("getComputedStyle(document.body).backgroundColor")
        .await;
    assert_eq!(
        background.as_str(),
        Some("rgb(18, 22, 26)"),
        "dark background"
    );
    dark.screenshot_page("piece-dark").await;
    dark.close().await;
}
