//! The router's pages over an in-memory source of synthetic transactions: what each page
//! says, status codes of bad input, search redirects and the file upload.

mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use bitcoin::hashes::Hash;
use bitcoin::{Address, BlockHash};
use spool_explorer::memory::MemorySource;
use spool_explorer::{ExplorerConfig, SyncStatus};
use spool_protocol::file_hash::FileHashes;
use support::http::{get, post_upload, serve};
use support::synthetic::{standard_piece, Cast, NET};

/// The bytes of the test "artwork"; its file hash is the piece address.
const ART: &[u8] = b"a small artwork, for the explorer's upload test";

fn art_piece() -> Address {
    let hashes = FileHashes::from_bytes(ART, NET, &BTreeMap::new());
    hashes
        .file_hash
        .parse::<Address<_>>()
        .unwrap()
        .require_network(NET)
        .unwrap()
}

struct Fixture {
    addr: SocketAddr,
    cast: Cast,
    forged: bitcoin::Txid,
    pending: bitcoin::Txid,
    /// A transaction the pending one replaced in the mempool (its outputs pay less fee).
    replaced: bitcoin::Txid,
}

async fn fixture() -> Fixture {
    let mut cast = Cast::new();
    cast.piece = art_piece();
    let (chain, forged, pending) = standard_piece(&cast);
    let status = SyncStatus {
        indexed_height: 120,
        indexed_hash: BlockHash::all_zeros(),
        node_height: 120,
        synced: true,
    };
    // The pending transaction as it was before a fee bump: the same inputs, one output
    // paying a satoshi more (so a lower fee, and another txid).
    let mut original = chain
        .txs
        .iter()
        .find(|t| t.txid() == pending)
        .expect("the pending transaction")
        .clone();
    original.tx.output[0].value += bitcoin::Amount::from_sat(1);
    let replaced = original.txid();
    let source =
        MemorySource::new(NET, status, chain.txs).with_replaced(vec![spool_explorer::ReplacedTx {
            transaction: original,
            replaced_by: pending,
        }]);
    let addr = serve(
        Arc::new(source),
        ExplorerConfig::new(vec![cast.federation.clone()]),
    )
    .await;
    Fixture {
        addr,
        cast,
        forged,
        pending,
        replaced,
    }
}

/// The text of the table row (or element) that starts at the first `marker` in `html`.
fn row_after<'a>(html: &'a str, marker: &str) -> &'a str {
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} not in page"));
    let end = html[start..]
        .find("</tr>")
        .map_or(html.len(), |e| start + e);
    &html[start..end]
}

#[tokio::test]
async fn piece_page_shows_holders_reasons_and_one_graph_node_per_event() {
    let f = fixture().await;
    let piece = f.cast.piece.to_string();
    let reply = get(f.addr, &format!("/piece/{piece}")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    let csp = reply.header("content-security-policy").unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    let html = &reply.body;
    // Title block.
    assert!(html.contains(&format!(
        r#"<span class="hash" id="piece-address">{piece}</span>"#
    )));
    assert!(html.contains(r#"<span id="number-editions">10</span>"#));
    assert!(row_after(html, r#"id="master-owner""#).contains(&f.cast.artist.to_string()));
    // Editions in runs: edition 1 owned by bob, edition 2 by alice (the pending transfer
    // counts), editions 3-10 by the artist.
    assert!(
        row_after(html, r#"<tr data-first="1" data-last="1">"#).contains(&f.cast.bob.to_string())
    );
    assert!(
        row_after(html, r#"<tr data-first="2" data-last="2">"#).contains(&f.cast.alice.to_string())
    );
    let run = row_after(html, r#"<tr data-first="3" data-last="10">"#);
    assert!(run.contains(&f.cast.artist.to_string()), "{run}");
    assert!(
        run.contains(r#"<td class="count" data-label="Count">8</td>"#),
        "{run}"
    );
    // The counts first: 10 registered, 8 with the artist, 2 transferred (edition 2's
    // pending transfer counts, as it does for its owner).
    assert!(html.find(r#"id="summary""#).unwrap() < html.find(r#"id="editions""#).unwrap());
    assert!(html.contains(r#"<span id="registered">10</span>"#));
    assert!(html.contains(r#"<span id="held-by-artist">8</span>"#));
    assert!(html.contains(r#"<span id="transferred">2</span>"#));
    // The forged event's reason, in the table and in the graph.
    let reason = format!(
        "Address {} does not own the edition number 1",
        f.cast.mallory
    );
    assert!(row_after(html, &format!(r#"data-txid="{}""#, f.forged)).contains(&reason));
    assert_eq!(html.matches(&format!("invalid: {reason}")).count(), 1);
    // The piece page's graph draws the editions with events beyond their registration: the
    // master (PIECE, EDITIONS), edition 1 (4 events) and edition 2 (2): 8 nodes.
    assert_eq!(html.matches(r#"<g class="event "#).count(), 8);
    assert!(html.contains(&format!(
        r#"<g class="event valid pending" data-txid="{}""#,
        f.pending
    )));
    assert!(html.contains("8 editions with only their registration are left out"));
    let lanes: Vec<usize> = (0..=2)
        .map(|e| {
            html.find(&format!(r#"<g class="lane" data-edition="{e}">"#))
                .unwrap()
        })
        .collect();
    assert!(lanes.windows(2).all(|w| w[0] < w[1]));
    assert!(!html.contains(r#"<g class="lane" data-edition="3">"#));

    // The whole graph on a page of its own: one node per event, lanes in numeric order.
    let whole = get(f.addr, &format!("/piece/{piece}/graph")).await;
    assert_eq!(whole.status, 200);
    assert_eq!(whole.body.matches(r#"<g class="event "#).count(), 16);
    assert_eq!(whole.body.matches(r#"<tr class="event"#).count(), 16);
    let lanes: Vec<usize> = (0..=10)
        .map(|e| {
            whole
                .body
                .find(&format!(r#"<g class="lane" data-edition="{e}">"#))
                .unwrap()
        })
        .collect();
    assert!(lanes.windows(2).all(|w| w[0] < w[1]));

    let svg = get(f.addr, &format!("/piece/{piece}/graph.svg")).await;
    assert_eq!(svg.status, 200);
    assert_eq!(svg.header("content-type"), Some("image/svg+xml"));
    assert!(svg.body.starts_with("<svg "));
    assert_eq!(svg.body.matches(r#"<g class="event "#).count(), 16);
}

#[tokio::test]
async fn edition_address_tx_status_and_home_pages() {
    let f = fixture().await;
    let piece = f.cast.piece.to_string();
    let bob = f.cast.bob.to_string();

    let edition = get(f.addr, &format!("/piece/{piece}/edition/1")).await;
    assert_eq!(edition.status, 200);
    assert!(row_after(&edition.body, r#"<span id="owner">"#).contains(&bob));
    assert_eq!(edition.body.matches("<tr class=\"event").count(), 4);
    assert!(edition.body.contains(&format!(
        r#"<a id="download-certificate" href="/piece/{piece}/edition/1/certificate.spoolcert" download>Download certificate</a>"#
    )));

    let address = get(f.addr, &format!("/address/{bob}")).await;
    assert_eq!(address.status, 200);
    let holdings = &address.body[address.body.find(r#"<table id="holdings">"#).unwrap()..];
    let holdings = &holdings[..holdings.find("</table>").unwrap()];
    assert!(holdings.contains("edition 1"), "{holdings}");
    assert!(address.body.contains("<td data-label=\"Role\">owner</td>"));
    assert!(address.body.contains("ASCRIBESPOOL01TRANSFER1"));

    let tx = get(f.addr, &format!("/tx/{}", f.forged)).await;
    assert_eq!(tx.status, 200);
    assert!(tx
        .body
        .contains(r#"<code id="verb">ASCRIBESPOOL01TRANSFER1</code>"#));
    assert!(tx.body.contains("24000 sat"), "fee 30000 - 2 x 3000");
    assert!(tx.body.contains(r#"<span id="confirmations">6</span>"#));
    assert!(row_after(&tx.body, r#"<span id="validity">"#).contains("does not own"));
    assert!(tx.body.contains(r#"<pre class="raw" id="raw">01000000"#));
    let pending = get(f.addr, &format!("/tx/{}", f.pending)).await;
    assert!(pending
        .body
        .contains(r#"<span id="confirmations">0</span> (in the mempool)"#));

    // A transaction replaced in the mempool: its page names the replacement.
    let replaced = get(f.addr, &format!("/tx/{}", f.replaced)).await;
    assert_eq!(replaced.status, 200);
    let notice = row_after(&replaced.body, r#"<p class="warn" id="replaced-by">"#);
    assert!(
        notice.contains(&format!(
            r#"Replaced by <a class="hash" href="/tx/{0}">{0}</a>"#,
            f.pending
        )),
        "{notice}"
    );
    assert!(replaced
        .body
        .contains(r#"<span id="confirmations">0</span> (replaced: no longer in the mempool)"#));
    assert!(row_after(&replaced.body, r#"<span id="validity">"#).contains("it was replaced"));
    assert!(
        !pending.body.contains("replaced-by"),
        "the replacement is not replaced"
    );

    let status = get(f.addr, "/status").await;
    assert_eq!(status.status, 200);
    assert!(status
        .body
        .contains(r#"<span id="indexed-height">120</span>"#));

    let home = get(f.addr, "/").await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains(
        r#"<form id="upload" action="/upload" method="post" enctype="multipart/form-data">"#
    ));
    // Latest activity: newest first, the pending one on top; 16 SPOOL transactions.
    let latest = &home.body[home.body.find(r#"<table id="latest">"#).unwrap()..];
    assert!(
        latest.find(&f.pending.to_string()).unwrap() < latest.find(&f.forged.to_string()).unwrap()
    );
    assert_eq!(latest.matches("<tr data-txid=").count(), 16);

    let css = get(f.addr, "/style.css").await;
    assert_eq!(css.status, 200);
    assert!(css.header("content-type").unwrap().starts_with("text/css"));
    assert!(css.body.contains("prefers-color-scheme: dark"));
}

#[tokio::test]
async fn bad_input_gets_a_400_or_404_page_that_names_the_problem() {
    let f = fixture().await;
    let piece = f.cast.piece.to_string();
    let cases = [
        (
            "/no/such/page",
            404,
            "There is no page at /no/such/page".to_owned(),
        ),
        (
            "/piece/not-an-address",
            400,
            "“not-an-address” is not a valid piece address (file hash)".to_owned(),
        ),
        // A mainnet address on a regtest explorer.
        (
            "/address/1AScRhqdXMrJyxNmjEapMZi1PLFsqmLquG",
            400,
            "is not a regtest address".to_owned(),
        ),
        (
            "/tx/xyz",
            400,
            "“xyz” is not a transaction id (64 hexadecimal digits)".to_owned(),
        ),
        (
            &*format!("/tx/{}", "ab".repeat(32)),
            404,
            format!("Transaction {} is not known", "ab".repeat(32)),
        ),
        (
            &*format!("/piece/{piece}/edition/one"),
            400,
            "“one” is not an edition number".to_owned(),
        ),
        (
            &*format!("/piece/{piece}/edition/11"),
            404,
            format!("Edition 11 of piece {piece} is not registered"),
        ),
        // The in-memory source holds no proofs: no certificate, said plainly.
        (
            &*format!("/piece/{piece}/edition/1/certificate"),
            404,
            "holds no proofs, so it cannot issue certificates".to_owned(),
        ),
        (
            &*format!("/piece/{piece}/edition/1/certificate.spoolcert"),
            404,
            "holds no proofs, so it cannot issue certificates".to_owned(),
        ),
        (
            &*format!("/piece/{piece}/edition/11/certificate"),
            404,
            format!("Edition 11 of piece {piece} is not registered and has no events: there is nothing to certify"),
        ),
        (
            &*format!("/piece/{piece}/edition/x/certificate.spoolcert"),
            400,
            "“x” is not an edition number".to_owned(),
        ),
        (
            &*format!("/piece/{}", f.cast.bob),
            404,
            format!("No SPOOL transaction pays {}", f.cast.bob),
        ),
        ("/search?q=", 400, "Nothing to search for".to_owned()),
        (
            "/piece/%FF",
            400,
            "The path /piece/%FF cannot be read".to_owned(),
        ),
        (
            "/search?q=%FF",
            400,
            "is neither a transaction id".to_owned(),
        ),
        (
            "/piece/x?file_hash_metadata=a&file_hash_metadata=b",
            400,
            "The query file_hash_metadata=a&amp;file_hash_metadata=b cannot be read".to_owned(),
        ),
        (
            "/search?q=hello",
            400,
            "“hello” is neither a transaction id".to_owned(),
        ),
    ];
    for (path, status, problem) in cases {
        let reply = get(f.addr, path).await;
        assert_eq!(reply.status, status, "{path}: {}", reply.body);
        assert!(
            reply
                .header("content-type")
                .unwrap()
                .starts_with("text/html"),
            "{path}"
        );
        let shown = row_after(&reply.body, r#"<p class="problem" id="problem">"#);
        assert!(shown.contains(&problem), "{path}: {shown}");
    }
}

#[tokio::test]
async fn search_lands_on_the_right_page() {
    let f = fixture().await;
    let piece = f.cast.piece.to_string();
    let bob = f.cast.bob.to_string();
    for (q, target) in [
        (f.forged.to_string(), format!("/tx/{}", f.forged)),
        (piece.clone(), format!("/piece/{piece}")),
        (format!("  {piece} "), format!("/piece/{piece}")),
        (bob.clone(), format!("/address/{bob}")),
    ] {
        let reply = get(f.addr, &format!("/search?q={}", q.replace(' ', "+"))).await;
        assert_eq!(reply.status, 303, "{q}");
        assert_eq!(reply.header("location"), Some(target.as_str()), "{q}");
    }
}

#[tokio::test]
async fn an_uploaded_file_opens_its_piece() {
    let f = fixture().await;
    let piece = f.cast.piece.to_string();
    let reply = post_upload(f.addr, "/upload", ART, &[]).await;
    assert_eq!(reply.status, 303, "{}", reply.body);
    assert_eq!(
        reply.header("location"),
        Some(format!("/piece/{piece}").as_str())
    );

    let metadata: BTreeMap<String, String> = [
        ("artist_name".to_owned(), "Rodolphe Marques".to_owned()),
        ("title".to_owned(), "ascribe".to_owned()),
    ]
    .into();
    let expected = FileHashes::from_bytes(ART, NET, &metadata);
    let reply = post_upload(
        f.addr,
        "/upload",
        ART,
        &[("artist_name", "Rodolphe Marques"), ("title", "ascribe")],
    )
    .await;
    assert_eq!(reply.status, 303);
    let location = reply.header("location").unwrap().to_owned();
    assert_eq!(
        location,
        format!(
            "/piece/{piece}?file_hash_metadata={}",
            expected.file_hash_metadata
        )
    );
    let page = get(f.addr, &location).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(&expected.file_hash_metadata));

    // A file nobody registered: the piece page says so.
    let other = post_upload(f.addr, "/upload", b"another file", &[]).await;
    let unknown = get(f.addr, other.header("location").unwrap()).await;
    assert_eq!(unknown.status, 404);
    assert!(unknown
        .body
        .contains("no piece is registered with this file hash"));

    // No file at all.
    let empty = post_upload(f.addr, "/upload", b"", &[]).await;
    assert_eq!(empty.status, 303, "an empty file is still a file");
    let form = get(f.addr, "/upload").await;
    assert_eq!(form.status, 405);
}

/// A source that cannot be read: every page says so with a 5xx status, and shows what was
/// being read but not the underlying error (which may name the node or its files).
struct BrokenSource;

#[derive(Debug, thiserror::Error)]
#[error("database file /secret/path/index.sqlite is locked")]
struct Locked;

impl spool_explorer::ExplorerSource for BrokenSource {
    fn network(&self) -> bitcoin::Network {
        NET
    }
    fn status(&self) -> Result<SyncStatus, spool_explorer::SourceError> {
        Err(spool_explorer::SourceError::NotReady {
            reason: "the index is being created".to_owned(),
        })
    }
    fn piece_transactions(
        &self,
        piece: &Address,
    ) -> Result<Vec<spool_protocol::chain::ChainTx>, spool_explorer::SourceError> {
        Err(spool_explorer::SourceError::Read {
            what: format!("the transactions of piece {piece}"),
            source: Box::new(Locked),
        })
    }
    fn transaction(
        &self,
        _: &bitcoin::Txid,
    ) -> Result<Option<spool_protocol::chain::ChainTx>, spool_explorer::SourceError> {
        Ok(None)
    }
    fn address_pieces(&self, _: &Address) -> Result<Vec<Address>, spool_explorer::SourceError> {
        Ok(Vec::new())
    }
    fn latest_transactions(
        &self,
        _: usize,
    ) -> Result<Vec<spool_protocol::chain::ChainTx>, spool_explorer::SourceError> {
        Ok(Vec::new())
    }
}

#[tokio::test]
async fn a_failing_source_gives_a_5xx_page_that_says_what_failed() {
    let addr = serve(Arc::new(BrokenSource), ExplorerConfig::new(Vec::new())).await;
    let piece = art_piece();
    let reply = get(addr, &format!("/piece/{piece}")).await;
    assert_eq!(reply.status, 500);
    let shown = row_after(&reply.body, r#"<p class="problem" id="problem">"#);
    assert!(
        shown.contains(&format!(
            "cannot read the transactions of piece {piece} from the data source"
        )),
        "{shown}"
    );
    assert!(
        !reply.body.contains("/secret/path"),
        "the cause stays in the log"
    );

    let status = get(addr, "/status").await;
    assert_eq!(status.status, 503);
    assert!(status
        .body
        .contains("the data source is not ready: the index is being created"));
    // Without a federation the footer warns that the rule is not applied.
    assert!(status.body.contains("Federation rule not applied"));
}
