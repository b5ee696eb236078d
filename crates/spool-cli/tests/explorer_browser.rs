//! The explorer in a real browser, served by a real `spool serve` process: the seed's
//! walkthrough sent through the CLI on `bitcoind -regtest`, plus a forged transfer and a
//! registration left pending, read in headless Chromium (fantoccini over chromedriver).
//! Asserts what a person sees and saves a PNG of each page under
//! `target/explorer-screenshots/`.

mod serving;
mod support;

use bitcoin::hashes::{sha256, Hash};
use bitcoin::hex::DisplayHex;
use fantoccini::Locator;
use serving::{walkthrough, Parties, Server, LEAF1};
use spool_cli::subcommand::history;
use spool_protocol::certificate::Certificate;
use spool_testenv::browser::{self, Browser};
use support::{Env, FEDERATION, USER1};

#[test]
fn a_collector_reads_the_walkthrough_served_by_spool_serve() {
    let env = Env::start();
    let p = Parties::new(&env);
    let watch = p.watch_args();
    let mut args: Vec<&str> = watch.iter().map(String::as_str).collect();
    args.extend_from_slice(&["--federation", &p.federation]);
    let server = Server::start(&env, &args);
    let sent = walkthrough(&env, &server, &p);
    let via = ["--server", server.url.as_str()];

    // user1 transfers edition 1 again after giving it away (forged), then the federation
    // registers edition 2, left in the mempool.
    let fuel = env.act(
        &FEDERATION,
        "",
        &[
            &via[..],
            &[
                "refill",
                "--to",
                &p.user1_leaf,
                "--fees",
                "1",
                "--tokens",
                "2",
            ],
        ]
        .concat(),
    );
    env.mine(1);
    server.wait_synced(&env);
    let forged = env.act(
        &USER1,
        LEAF1,
        &[
            &via[..],
            &[
                "transfer",
                "--piece",
                &p.piece,
                "--to",
                &p.stranger,
                "--edition",
                "1",
                "--no-check",
            ],
        ]
        .concat(),
    );
    env.mine(1);
    server.wait_synced(&env);
    let pending = env.act(
        &FEDERATION,
        "",
        &[
            &via[..],
            &[
                "register",
                "--piece",
                &p.piece,
                "--to",
                &p.user1_leaf,
                "--edition",
                "2",
            ],
        ]
        .concat(),
    );
    server.wait_synced(&env);
    let mut piece_txids = sent.events.clone();
    piece_txids.push(forged.txid.clone());
    piece_txids.push(pending.txid.clone());
    let mut refills = sent.refills.clone();
    refills.push(fuel.txid.clone());
    let h: history::Output = env.json(&["history", &p.file_hash, "--federation", &p.federation]);
    assert_eq!(
        h.events.len(),
        9,
        "7 walkthrough events, the forged one, the pending one"
    );
    let height = env
        .node
        .call("getblockcount", &[])
        .unwrap()
        .as_u64()
        .unwrap();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(browse(
        &server.url,
        &p,
        &piece_txids,
        &refills,
        &forged.txid,
        height,
    ));
}

async fn browse(
    base: &str,
    p: &Parties,
    piece_txids: &[String],
    refills: &[String],
    forged: &str,
    height: u64,
) {
    let browser = Browser::start().await;
    let piece = &p.file_hash;
    let user2 = &p.user2_leaf;
    let reason = format!("Address {} does not own the edition number 1", p.user1_leaf);
    let events = piece_txids.len();

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
        events + refills.len(),
        "every SPOOL transaction, refills included"
    );
    assert!(!browser.overflows_horizontally().await);
    browser.screenshot_page("home").await;

    // A refill is a SPOOL transaction but no piece's event.
    browser.open(&format!("{base}/tx/{}", refills[0])).await;
    assert_eq!(browser.text("#verb").await, "ASCRIBESPOOL01FUEL");
    assert_eq!(
        browser.text("#validity").await,
        "not an event of any piece's history"
    );
    browser.open(&format!("{base}/")).await;

    // Search by txid lands on the transaction page, which shows the forged event's reason.
    let q = browser.client.find(Locator::Css("#q")).await.unwrap();
    q.send_keys(forged).await.unwrap();
    assert_eq!(
        browser.submit("form.search-big button").await,
        format!("/tx/{forged}")
    );
    assert_eq!(browser.text("#verb").await, "ASCRIBESPOOL01TRANSFER1");
    let validity = browser.text("#validity").await;
    assert!(validity.contains("invalid"), "{validity}");
    assert!(validity.contains(&reason), "{validity}");
    assert_eq!(browser.text("#confirmations").await, "1");
    browser.screenshot_page("tx-forged").await;

    // The piece page: who holds edition 1, the invalid event's reason, the graph.
    browser.open(&format!("{base}/piece/{piece}")).await;
    assert_eq!(&browser.text("#piece-address").await, piece);
    assert_eq!(browser.text("#number-editions").await, "10");
    assert_eq!(browser.text("#master-owner").await, p.user1);
    assert_eq!(
        &browser.text(r#"tr[data-first="1"] td.owner"#).await,
        user2,
        "edition 1 is held by user2"
    );
    let forged_row = browser
        .text(&format!(r#"tr[data-txid="{forged}"] td.status"#))
        .await;
    assert!(forged_row.contains(&reason), "{forged_row}");
    assert_eq!(browser.count("svg.provenance g.event").await, events);
    assert_eq!(browser.count("svg.provenance g.event.invalid").await, 1);
    assert_eq!(browser.count("svg.provenance g.event.pending").await, 1);
    for txid in piece_txids {
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
    // Edition 2's registration is pending: news, so its lane is drawn.
    assert_eq!(lanes.as_str(), Some("0,1,2"));
    assert!(!browser.overflows_horizontally().await);
    browser.screenshot_page("piece").await;

    // The standalone graph is sized to its content: no label runs past its right edge
    // (issue 17: arrow labels of the last lane were cut), measured by the browser's layout.
    browser
        .open(&format!("{base}/piece/{piece}/graph.svg"))
        .await;
    let cut = browser
        .eval(
            r#"(() => { const svg = document.documentElement; const w = svg.width.baseVal.value;
                return Array.from(svg.querySelectorAll("text"))
                    .filter(t => { const b = t.getBBox(); return b.x < 0 || b.x + b.width > w; })
                    .map(t => t.textContent + " @ " + Math.round(t.getBBox().x + t.getBBox().width) + " > " + w); })()"#,
        )
        .await;
    assert_eq!(cut, serde_json::json!([]), "labels cut at the canvas edge");

    // The same page on a phone: no sideways scrolling of the page.
    browser.size(375, 812).await;
    browser.open(&format!("{base}/piece/{piece}")).await;
    assert!(
        !browser.overflows_horizontally().await,
        "the piece page fits 375 px"
    );
    browser.screenshot_page("piece-375px").await;
    browser.size(1440, 900).await;

    // An edition, an address, the status page.
    browser
        .open(&format!("{base}/piece/{piece}/edition/1"))
        .await;
    assert_eq!(&browser.text("#owner").await, user2);
    // REGISTER1, TRANSFER1, CONSIGN1, UNCONSIGN1, LOAN1 and the forged TRANSFER1.
    assert_eq!(browser.count("table.events tbody tr").await, 6);
    browser.screenshot_page("edition-1").await;
    certificate_of_authenticity(&browser, base, piece, user2).await;

    browser.open(&format!("{base}/address/{user2}")).await;
    let holdings = browser.text("#holdings").await;
    assert!(holdings.contains("edition 1"), "{holdings}");
    assert!(holdings.contains("owner"), "{holdings}");
    // Its events on the piece: TRANSFER1 to it, CONSIGN1, UNCONSIGN1 back, LOAN1; the FUEL
    // refills it received make no piece of the address itself.
    assert_eq!(browser.count("table.events tbody tr").await, 4);
    let events = browser.text("table.events").await;
    assert!(!events.contains("FUEL"), "{events}");
    assert!(!events.contains("invalid"), "{events}");
    browser.screenshot_page("address-user2").await;

    browser.open(&format!("{base}/status")).await;
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
    let image = std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../vectors/ascribe.png"
    ))
    .canonicalize()
    .unwrap();
    let file = browser.client.find(Locator::Css("#file")).await.unwrap();
    file.send_keys(image.to_str().unwrap()).await.unwrap();
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
        format!("/piece/{piece}?file_hash_metadata={}", p.file_hash_metadata)
    );
    assert_eq!(&browser.text("#piece-address").await, piece);
    assert_eq!(piece, "mv5yDkR5dnjGHxietq7CH78WHk8vzsu4vH");
    browser.screenshot("upload-result").await;
    browser.close().await;
}

/// Issue 21, item 5: the edition page offers the certificate; its printable page shows the
/// proven owner, dated provenance, the graph, a QR code of the edition's page and the file's
/// SHA-256, which matches the file downloaded from it; Chromium prints it to a PDF that is
/// rendered to PNG beside the screenshots.
async fn certificate_of_authenticity(browser: &Browser, base: &str, piece: &str, owner: &str) {
    let edition_page = format!("{base}/piece/{piece}/edition/1");
    let certificate_page = format!("{edition_page}/certificate");
    assert_eq!(
        browser.text("#download-certificate").await,
        "Download certificate"
    );
    let href = browser
        .client
        .find(Locator::Css("#certificate-page"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap();
    assert_eq!(
        href.as_deref(),
        Some(&*format!("/piece/{piece}/edition/1/certificate"))
    );

    browser.open(&certificate_page).await;
    assert!(browser.text("#verdict").await.starts_with("Verified"));
    assert_eq!(browser.text("#certified-owner").await, owner);
    assert_eq!(browser.text("#qr-url").await, edition_page);
    assert_eq!(browser.count("figure.qr svg.qr-code path").await, 1);
    // The report's commands are set as code, not shown with their backquotes.
    assert_eq!(browser.count("#trusted li code").await, 1);
    assert!(!browser.text("#trusted").await.contains('`'));
    // The download the page offers is the file whose SHA-256 it prints.
    let download = browser
        .client
        .find(Locator::Css("#download-certificate"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .expect("the download link has an href");
    let (status, file) = serving::get(base, &download);
    assert_eq!(status, 200, "{file}");
    let printed = browser.text("#certificate-sha256").await;
    assert_eq!(
        printed,
        sha256::Hash::hash(file.as_bytes())
            .to_byte_array()
            .to_lower_hex_string()
    );
    let certificate = Certificate::from_json(&file).expect("the download is a certificate");
    let report = certificate.verify().expect("the download verifies offline");
    assert_eq!(report.state.owner.as_deref(), Some(owner));
    // One row per proven event, each dated by its block time.
    assert_eq!(
        browser.count("#provenance tr.proven-event").await,
        certificate.events.len()
    );
    assert!(
        certificate.events.len() >= 5,
        "{}",
        certificate.events.len()
    );
    let dates = browser
        .eval("Array.from(document.querySelectorAll('#provenance tr.proven-event td:first-child')).map(td => td.textContent)")
        .await;
    for date in dates.as_array().unwrap() {
        let date = date.as_str().unwrap();
        assert!(
            date.len() == 20 && date.ends_with(" UTC") && date.as_bytes()[4] == b'-',
            "a block time, not {date:?}"
        );
    }
    assert_eq!(browser.count("#graph svg").await, 1);
    assert!(
        !browser.overflows_horizontally().await,
        "the certificate page fits 1440 px"
    );
    browser.screenshot_page("certificate").await;

    // A download for another tip is refused, not served as if it were the printed file.
    let stale = format!(
        "/piece/{piece}/edition/1/certificate.spoolcert?tip={}",
        "00".repeat(32)
    );
    let (status, page) = serving::get(base, &stale);
    assert_eq!(status, 409, "{page}");
    assert!(page.contains("The chain has moved on"), "{page}");

    // Printed by Chromium: one A4 page with the owner and the file's SHA-256 on it.
    let pdf = browser::print_to_pdf(&certificate_page, "certificate");
    let pages = browser::pdf_pages(&pdf);
    assert!(
        (1..=2).contains(&pages),
        "the certificate prints on {pages} pages"
    );
    let text = browser::pdf_text(&pdf);
    let flat: String = text.split_whitespace().collect();
    assert!(
        flat.contains("Certificateofauthenticity") || flat.contains("CERTIFICATEOFAUTHENTICITY"),
        "{text}"
    );
    assert!(flat.contains(owner), "the owner is printed: {text}");
    assert!(flat.contains(&printed), "the SHA-256 is printed: {text}");
    assert!(
        !flat.contains("Search"),
        "the site's header is not printed: {text}"
    );
    let rendered = browser::pdf_to_png(&pdf, "certificate-pdf");
    assert_eq!(rendered.len(), pages as usize);
}
