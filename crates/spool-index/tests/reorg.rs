//! Reorganisations and the mempool, on real nodes: `invalidateblock` (events go back to the
//! mempool), `reconsiderblock` (they come back), a longer competing branch from a second
//! node that confirms a conflicting spend (the index's mempool event disappears); and a node
//! of another chain or genesis refused. After every change the index answers exactly as the
//! direct Core backend.

mod common;

use std::time::{Duration, Instant};

use bitcoin::{Address, Network};
use common::chain::{self, Funder};
use common::{core, serve, Wallet};
use serde_json::json;
use spool_backend::server::{ServerBackend, StatusReply};
use spool_backend::Backend;
use spool_index::{Follower, IndexError, Running, Store};
use spool_protocol::chain::TxPlace;
use spool_protocol::verb::Verb;
use spool_testenv::Node;

async fn assert_same(
    label: &str,
    node: &Node,
    running: &Running,
    server: &ServerBackend,
    pieces: &[&Address],
    wallets: &[&Address],
) {
    running.wait_round().await;
    let core = core(node);
    for piece in pieces {
        assert_eq!(
            server.address_transactions(piece).await.unwrap(),
            core.address_transactions(piece).await.unwrap(),
            "[{label}] history of {piece}"
        );
    }
    for who in wallets {
        let mut direct = core.utxos(who, 0).await.unwrap();
        let mut indexed = server.utxos(who, 0).await.unwrap();
        direct.sort_by_key(|u| u.outpoint);
        indexed.sort_by_key(|u| u.outpoint);
        assert_eq!(indexed, direct, "[{label}] utxos of {who}");
    }
    let status: StatusReply = server.get_json("/status").await.unwrap();
    let best = node.call("getbestblockhash", &[]).unwrap();
    assert_eq!(
        status.indexed_hash.as_deref(),
        best.as_str(),
        "[{label}] indexed tip"
    );
    assert_eq!(
        status.indexed_height,
        Some(chain::tip(node)),
        "[{label}] indexed height"
    );
    assert!(status.synced, "[{label}] synced");
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn connect(a: &Node, b: &Node) {
    for n in [a, b] {
        n.call("setnetworkactive", &[json!(true)]).unwrap();
    }
    a.call(
        "addnode",
        &[
            json!(format!("127.0.0.1:{}", b.p2p_port())),
            json!("onetry"),
        ],
    )
    .unwrap();
    wait_for("the nodes to agree", || {
        a.call("getbestblockhash", &[]).unwrap() == b.call("getbestblockhash", &[]).unwrap()
    });
}

fn isolate(nodes: &[&Node]) {
    for n in nodes {
        n.call("setnetworkactive", &[json!(false)]).unwrap();
    }
    wait_for("disconnection", || {
        nodes
            .iter()
            .all(|n| n.call("getconnectioncount", &[]).unwrap().as_u64() == Some(0))
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reorgs_and_mempool_drops() {
    let node = Node::start().expect("regtest node");
    let other = Node::start().expect("second regtest node");
    let funder = Funder::new(&node, 3);
    let mut fed = Wallet::funded(&node, &funder, 30);
    let alice = chain::hash_address();
    chain::mine(&node, 1);
    let piece = chain::hash_address();
    fed.send(&node, &[&piece, &alice], Verb::Piece);
    chain::mine(&node, 1);
    fed.send(&node, &[&piece, &alice], Verb::Editions { count: 2 });
    let editions_block = chain::mine(&node, 1);

    let dir = tempfile::tempdir().unwrap();
    let index = dir.path().join("index.sqlite");
    let running = serve(&node, &index, &[fed.address()], &[fed.address()]).await;
    let server = ServerBackend::new(&running.url(), Network::Regtest).unwrap();
    let fed_address = fed.address().clone();
    let wallets = [&fed_address];
    assert_same("caught up", &node, &running, &server, &[&piece], &wallets).await;

    // invalidateblock: EDITIONS goes back to the mempool.
    let hash = node.call("getblockhash", &[json!(editions_block)]).unwrap();
    node.call("invalidateblock", std::slice::from_ref(&hash))
        .unwrap();
    assert_same("invalidated", &node, &running, &server, &[&piece], &wallets).await;
    let history = server.address_transactions(&piece).await.unwrap();
    assert_eq!(
        history[1].place,
        TxPlace::Unconfirmed,
        "EDITIONS is pending again"
    );

    // reconsiderblock: it is confirmed again.
    node.call("reconsiderblock", &[hash]).unwrap();
    assert_same(
        "reconsidered",
        &node,
        &running,
        &server,
        &[&piece],
        &wallets,
    )
    .await;
    assert!(matches!(
        server.address_transactions(&piece).await.unwrap()[1].place,
        TxPlace::Confirmed { .. }
    ));

    // A competing branch: the second node takes our chain, then both go apart.
    connect(&node, &other);
    isolate(&[&node, &other]);
    // Ours: REGISTER1 mined in one block, and a TRANSFER left pending.
    fed.send(&node, &[&piece, &alice], Verb::Register { edition: 1 });
    chain::mine(&node, 1);
    let contested = fed.take_coin();
    let pending = chain::spool_tx(
        &fed.key,
        contested.clone(),
        &[&piece, &alice],
        Verb::Register { edition: 2 },
    );
    chain::send(&node, &pending);
    assert_same(
        "before the fork wins",
        &node,
        &running,
        &server,
        &[&piece],
        &wallets,
    )
    .await;
    assert_eq!(server.address_transactions(&piece).await.unwrap().len(), 4);
    // Theirs: three blocks, one confirming a conflicting spend of the pending event's coin.
    let conflicting = chain::spool_tx(
        &fed.key,
        contested,
        &[&piece, &fed.key.address],
        Verb::Register { edition: 2 },
    );
    chain::send(&other, &conflicting);
    other.mine_to(&chain::hash_address(), 3).unwrap();
    connect(&node, &other);
    assert_same(
        "after the longer branch",
        &node,
        &running,
        &server,
        &[&piece],
        &wallets,
    )
    .await;
    let txids: Vec<_> = server
        .address_transactions(&piece)
        .await
        .unwrap()
        .iter()
        .map(|t| t.txid())
        .collect();
    assert!(
        !txids.contains(&pending.compute_txid()),
        "the dropped mempool event is gone"
    );
    assert!(
        txids.contains(&conflicting.compute_txid()),
        "the winning branch's event is there"
    );
    running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_chain_or_genesis_is_refused() {
    let node = Node::start().expect("regtest node");
    chain::mine(&node, 3);
    let dir = tempfile::tempdir().unwrap();
    let index = dir.path().join("index.sqlite");

    // A regtest node addressed as testnet: refused before the index is created.
    let mut config = common::follower_config(&node, &[]);
    config.network = Network::Testnet;
    match Follower::open(&index, config) {
        Err(err @ IndexError::ChainMismatch { .. }) => {
            assert!(err.to_string().contains("regtest"), "{err}")
        }
        other => panic!("another chain gave {other:?}"),
    }
    assert!(!index.exists(), "nothing written for a refused node");

    // An index built from another genesis.
    let mut follower = Follower::open(&index, common::follower_config(&node, &[])).unwrap();
    follower.step().unwrap();
    assert_eq!(follower.store().tip().unwrap().map(|(h, _)| h), Some(3));
    drop(follower);
    let store = Store::open(&index, Network::Regtest).unwrap();
    store.set_meta("genesis", &"22".repeat(32)).unwrap();
    drop(store);
    match Follower::open(&index, common::follower_config(&node, &[])) {
        Err(err @ IndexError::GenesisMismatch { .. }) => {
            assert!(err.to_string().contains("genesis"), "{err}")
        }
        other => panic!("another genesis gave {other:?}"),
    }
}
