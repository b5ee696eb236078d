//! The index answers exactly as the direct Core backend: a generated regtest chain of more
//! than 200 SPOOL transactions (valid, invalid and forged events, several per block, some in
//! the mempool), indexed partly by catch-up and partly by following; then every piece's
//! History JSON, every watched wallet's UTXOs, single transactions, the tip, holdings and
//! broadcast, through the HTTP API and the `ServerBackend` client.

mod common;

use std::collections::BTreeSet;

use bitcoin::{Address, Amount, Network, TxOut};
use common::chain::{self, Funder};
use common::{core, piece_life, serve, Parties};
use spool_backend::server::{HistoryReply, ServerBackend};
use spool_backend::{Backend, BackendError};
use spool_index::api::{history_reply, HoldingsReply};
use spool_protocol::chain::TxPlace;
use spool_protocol::verb::{LoanDate, Verb};
use spool_testenv::Node;

fn history_json(
    piece: &Address,
    txs: &[spool_protocol::chain::ChainTx],
    federation: &[String],
) -> String {
    let history = spool_index::api::build_history(piece, Network::Regtest, txs, federation);
    serde_json::to_string_pretty(&history_reply(&history, None)).unwrap()
}

async fn get<T: serde::de::DeserializeOwned>(server: &ServerBackend, path: &str) -> T {
    server
        .get_json(path)
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_answers_as_the_core_backend() {
    let node = Node::start().expect("regtest node");
    let funder = Funder::new(&node, 8);
    let mut parties = Parties::new(&node, &funder, 120);
    let fed = vec![parties.federation.address().to_string()];

    // Half the chain exists before the index starts (catch-up), half after (following).
    let mut pieces = Vec::new();
    for i in 0..8 {
        pieces.push(piece_life(&node, &mut parties, 1 + i % 4));
    }
    chain::mine(&node, 1);
    let dir = tempfile::tempdir().unwrap();
    let index = dir.path().join("regtest").join("index.sqlite");
    let watch = parties.addresses();
    let running = serve(&node, &index, &watch, &[parties.federation.address()]).await;
    for i in 0..7 {
        pieces.push(piece_life(&node, &mut parties, 2 + i % 3));
    }
    // The last piece's events stay partly in the mempool.
    pieces.push(piece_life(&node, &mut parties, 0));
    running.wait_round().await;

    let server = ServerBackend::new(&running.url(), Network::Regtest).unwrap();
    let core = core(&node);
    assert_eq!(server.tip_height().await.unwrap(), chain::tip(&node), "tip");

    let mut events = 0;
    let mut narrower = 0;
    let mut invalid = 0;
    let mut unconfirmed = 0;
    for piece in &pieces {
        let direct = core.address_transactions(piece).await.unwrap();
        let indexed = server.address_transactions(piece).await.unwrap();
        assert_eq!(indexed, direct, "same ChainTx list for {piece}");
        // What one edition's pre-check reads: the server selects it (`?edition=N`) exactly
        // as the protocol's Scope does over the direct backend's list.
        for edition in 0..4 {
            let scope = spool_protocol::scope::Scope::edition(edition);
            let selected = server.piece_transactions(piece, scope).await.unwrap();
            assert_eq!(
                selected,
                core.piece_transactions(piece, scope).await.unwrap(),
                "the scope of edition {edition} of {piece}"
            );
            narrower += usize::from(selected.len() < direct.len());
        }
        for federation in [fed.clone(), Vec::new()] {
            assert_eq!(
                history_json(piece, &indexed, &federation),
                history_json(piece, &direct, &federation),
                "same history of {piece} with federation {federation:?}"
            );
        }
        // The API's history is `spool history --json` from the direct backend: confirmations
        // counted against the node's tip.
        let options = spool_protocol::history::BuildOptions {
            federation: fed.clone(),
            tip_height: Some(chain::tip(&node)),
            min_conf: 0,
        };
        let expected = history_reply(
            &spool_index::api::build_history_with(piece, Network::Regtest, &direct, &options),
            None,
        );
        let api: HistoryReply = get(&server, &format!("/piece/{piece}/history")).await;
        assert_eq!(api, expected, "API history of {piece} (default federation)");
        let api: HistoryReply = get(
            &server,
            &format!("/piece/{piece}/history?federation={}", fed[0]),
        )
        .await;
        assert_eq!(api, expected, "API history of {piece} (federation given)");
        events += expected.events.len();
        invalid += expected.events.iter().filter(|e| !e.valid).count();
        unconfirmed += expected
            .events
            .iter()
            .filter(|e| e.block_height.is_none())
            .count();
        assert!(
            expected.events.iter().any(|e| e
                .reason
                .as_ref()
                .is_some_and(|r| r.to_string().contains("federation"))),
            "the forged registration of {piece} is refused for its sender"
        );
    }
    eprintln!(
        "{} pieces, {events} events, {invalid} invalid, {unconfirmed} unconfirmed",
        pieces.len()
    );
    assert!(narrower > 0, "some scope left transactions out");
    assert!(events >= 200, "at least 200 SPOOL transactions ({events})");
    assert!(
        invalid >= 4 * pieces.len(),
        "invalid events present ({invalid})"
    );
    assert!(unconfirmed > 0, "mempool events present");

    // Holdings: the protocol's holdings over the direct histories.
    let today = LoanDate::parse("260601").unwrap();
    for who in parties.addresses() {
        let mut expected = Vec::new();
        for piece in &pieces {
            let direct = core.address_transactions(piece).await.unwrap();
            let history = spool_index::api::build_history(piece, Network::Regtest, &direct, &fed);
            expected.extend(history.holdings(&who.to_string(), today));
        }
        expected.sort();
        let mut api: HoldingsReply =
            get(&server, &format!("/address/{who}/holdings?date=260601")).await;
        api.holdings.sort();
        assert_eq!(api.holdings, expected, "holdings of {who}");
    }

    // UTXOs of every watched wallet, at 0 and 1 confirmations.
    for who in parties.addresses() {
        for min_conf in [0, 1, 3] {
            let mut direct = core.utxos(who, min_conf).await.unwrap();
            let mut indexed = server.utxos(who, min_conf).await.unwrap();
            direct.sort_by_key(|u| u.outpoint);
            indexed.sort_by_key(|u| u.outpoint);
            assert_eq!(indexed, direct, "utxos of {who} at min_conf {min_conf}");
        }
    }
    // An address the index does not watch is refused, not answered wrongly.
    let stranger = chain::hash_address();
    match server.utxos(&stranger, 0).await {
        Err(BackendError::NotFound { what }) => assert!(what.contains("not watched"), "{what}"),
        other => panic!("unwatched utxos gave {other:?}"),
    }

    // Single transactions: confirmed, in the mempool, a coinbase (from the node), unknown.
    let some = core.address_transactions(&pieces[0]).await.unwrap();
    let last = core
        .address_transactions(pieces.last().unwrap())
        .await
        .unwrap();
    let pending = last
        .iter()
        .find(|t| t.place == TxPlace::Unconfirmed)
        .expect("a mempool event");
    for chain_tx in [&some[0], &some[5], pending] {
        assert_eq!(
            server.transaction(&chain_tx.txid()).await.unwrap(),
            core.transaction(&chain_tx.txid()).await.unwrap()
        );
    }
    let coinbase: bitcoin::Txid = node
        .call(
            "getblock",
            &[
                node.call("getblockhash", &[serde_json::json!(1)]).unwrap(),
                serde_json::json!(1),
            ],
        )
        .unwrap()["tx"][0]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        server.transaction(&coinbase).await.unwrap(),
        core.transaction(&coinbase).await.unwrap(),
        "a transaction the index does not hold comes from the node"
    );
    let unknown: bitcoin::Txid = "11".repeat(32).parse().unwrap();
    assert!(matches!(
        server.transaction(&unknown).await,
        Err(BackendError::NotFound { .. })
    ));
    let status: spool_backend::server::TxStatusReply =
        get(&server, &format!("/tx/{}/status", pending.txid())).await;
    assert_eq!(status.status, "mempool");

    // Broadcast through the server: the spent coin disappears from the UTXOs at once.
    let coin = parties.federation.take_coin();
    let spent = coin.0;
    let piece = chain::hash_address();
    let tx = chain::spool_tx(
        &parties.federation.key,
        coin.clone(),
        &[&piece, parties.alice.address()],
        Verb::Piece,
    );
    assert_eq!(server.broadcast(&tx).await.unwrap(), tx.compute_txid());
    assert_eq!(
        server.broadcast(&tx).await.unwrap(),
        tx.compute_txid(),
        "rebroadcast is success"
    );
    let after = server.utxos(parties.federation.address(), 0).await.unwrap();
    assert!(
        after.iter().all(|u| u.outpoint != spent),
        "the broadcast's input is spent at once"
    );
    assert_eq!(
        server.address_transactions(&piece).await.unwrap().len(),
        1,
        "the broadcast is indexed at once"
    );
    // A spend of an output that does not exist: the node refuses it, with its reason.
    let missing = bitcoin::OutPoint {
        txid: "33".repeat(32).parse().unwrap(),
        vout: 0,
    };
    let conflict = chain::signed(
        &parties.federation.key,
        &[(
            missing,
            TxOut {
                value: Amount::from_sat(10_000),
                script_pubkey: parties.federation.key.script(),
            },
        )],
        vec![TxOut {
            value: Amount::from_sat(9000),
            script_pubkey: piece.script_pubkey(),
        }],
    );
    match server.broadcast(&conflict).await {
        Err(BackendError::Rejected { txid, reason }) => {
            assert_eq!(txid, conflict.compute_txid());
            assert!(reason.contains("missing"), "{reason}");
        }
        other => panic!("conflicting broadcast gave {other:?}"),
    }

    // Everything mined: the answers still agree, all confirmed.
    chain::mine(&node, 1);
    running.wait_round().await;
    for piece in pieces.iter().chain([&piece]) {
        let direct = core.address_transactions(piece).await.unwrap();
        assert_eq!(server.address_transactions(piece).await.unwrap(), direct);
        assert!(direct
            .iter()
            .all(|t| matches!(t.place, TxPlace::Confirmed { .. })));
    }
    for who in parties.addresses() {
        let mut direct = core.utxos(who, 0).await.unwrap();
        let mut indexed = server.utxos(who, 0).await.unwrap();
        direct.sort_by_key(|u| u.outpoint);
        indexed.sort_by_key(|u| u.outpoint);
        assert_eq!(indexed, direct, "utxos of {who} after mining");
    }
    // An address first seen in a SPOOL transaction while serving is watched from then on,
    // by every read connection.
    let newcomer = chain::Key::random();
    parties.federation.send(
        &node,
        &[&piece, &newcomer.address],
        Verb::Transfer { edition: 0 },
    );
    chain::mine(&node, 1);
    running.wait_round().await;
    let direct = core.utxos(&newcomer.address, 0).await.unwrap();
    assert_eq!(direct.len(), 1, "the newcomer's token");
    assert_eq!(
        server.utxos(&newcomer.address, 0).await.unwrap(),
        direct,
        "utxos of a newcomer"
    );

    let pieces_page: spool_index::api::PiecesReply = get(&server, "/pieces?limit=100").await;
    assert_eq!(
        pieces_page.pieces.len(),
        pieces.len() + 1,
        "every registered piece listed"
    );
    let listed: BTreeSet<String> = pieces_page
        .pieces
        .iter()
        .map(|p| p.piece_address.clone())
        .collect();
    assert!(pieces.iter().all(|p| listed.contains(&p.to_string())));
    assert_eq!(pieces_page.next_offset, None, "one page holds them all");
    assert!(
        pieces_page.total > listed.len() as u64,
        "forged candidates are counted but not listed"
    );
    // Small pages, following next_offset: full pages until the last, the same pieces in
    // the same order, although candidates without a valid registration are skipped.
    let mut paged = Vec::new();
    let mut offset = 0;
    let mut skipped = false;
    loop {
        let page: spool_index::api::PiecesReply =
            get(&server, &format!("/pieces?limit=3&offset={offset}")).await;
        paged.extend(page.pieces.iter().map(|p| p.piece_address.clone()));
        match page.next_offset {
            Some(next) => {
                assert_eq!(page.pieces.len(), 3, "a page before the last is full");
                assert!(next > offset, "next_offset moves on");
                skipped |= next - offset > 3;
                offset = next;
            }
            None => break,
        }
    }
    let whole: Vec<String> = pieces_page
        .pieces
        .iter()
        .map(|p| p.piece_address.clone())
        .collect();
    assert_eq!(paged, whole, "paging lists every piece once, in order");
    assert!(skipped, "some page read past a candidate it did not list");
    running.shutdown().await.unwrap();
}
