//! The Core backend's cache file (`with_cache_dir`) never makes an answer differ from the
//! node: at every step a fresh cached backend (a new CLI process) and a backend without a
//! cache answer alike, through mempool arrivals, a mined block, a block invalidated (its
//! transactions back in the mempool) and reconsidered, a replaced transaction, and a cache
//! file that is corrupt or half written. And a cached action's RPC calls do not grow with
//! the number of unrelated mempool transactions.

mod common;

use std::path::Path;

use bitcoin::{Address, Amount, Network, Txid};
use common::chain::{self, hash_address, mine, outputs_to, send, spool_tx, Coin, Funder, Key};
use spool_backend::core::{CoreAuth, CoreBackend};
use spool_backend::Backend;
use spool_protocol::chain::ChainTx;
use spool_protocol::verb::Verb;
use spool_testenv::Node;

fn plain(node: &Node) -> CoreBackend {
    CoreBackend::new(
        &node.rpc_url(),
        CoreAuth::Cookie(node.cookie_file()),
        Network::Regtest,
    )
    .expect("core backend")
}

fn cached(node: &Node, dir: &Path) -> CoreBackend {
    plain(node).with_cache_dir(dir)
}

/// What the tests compare: a sorted, comparable rendering of the answers.
#[derive(Debug, PartialEq, Eq)]
struct Answers {
    history: Vec<String>,
    utxos0: Vec<String>,
    utxos1: Vec<String>,
    txs: Vec<String>,
}

fn show(tx: &ChainTx) -> String {
    format!(
        "{} {:?} prevouts={:?}",
        tx.txid(),
        tx.place,
        tx.prevouts
            .iter()
            .map(|p| (p.value.to_sat(), p.script_pubkey.to_hex_string()))
            .collect::<Vec<_>>()
    )
}

async fn answers(
    backend: &CoreBackend,
    piece: &Address,
    sender: &Address,
    txids: &[Txid],
) -> Answers {
    let history = backend
        .address_transactions(piece)
        .await
        .expect("history")
        .iter()
        .map(show)
        .collect();
    let utxos = |min_conf| async move {
        let mut found: Vec<String> = backend
            .utxos(sender, min_conf)
            .await
            .expect("utxos")
            .iter()
            .map(|u| format!("{} {} {}", u.outpoint, u.value, u.confirmations))
            .collect();
        found.sort();
        found
    };
    let utxos0 = utxos(0).await;
    let utxos1 = utxos(1).await;
    let mut txs = Vec::new();
    for txid in txids {
        txs.push(match backend.transaction(txid).await {
            Ok(tx) => show(&tx),
            Err(err) if err.is_not_found() => format!("{txid} not found"),
            Err(err) => panic!("transaction {txid}: {err}"),
        });
    }
    Answers {
        history,
        utxos0,
        utxos1,
        txs,
    }
}

/// A fresh cached backend (as a new process) and the plain one agree.
async fn agree(
    node: &Node,
    dir: &Path,
    piece: &Address,
    sender: &Address,
    txids: &[Txid],
    step: &str,
) -> Answers {
    let expected = answers(&plain(node), piece, sender, txids).await;
    let got = answers(&cached(node, dir), piece, sender, txids).await;
    assert_eq!(
        got, expected,
        "{step}: the cached backend differs from the node"
    );
    // A second process reading what the first one wrote agrees too.
    let again = answers(&cached(node, dir), piece, sender, txids).await;
    assert_eq!(
        again, expected,
        "{step}: the cache file written differs from the node"
    );
    expected
}

fn register(
    sender: &Key,
    coin: Coin,
    piece: &Address,
    owner: &Address,
    n: u64,
) -> bitcoin::Transaction {
    spool_tx(sender, coin, &[piece, owner], Verb::Register { edition: n })
}

/// Unrelated mempool traffic: `count` transactions paying fresh addresses (in clusters of
/// at most 51, within the node's cluster limit).
fn unrelated(node: &Node, funder: &Funder, count: usize) {
    let mut left = count;
    while left > 0 {
        let chunk = left.min(50);
        left -= chunk;
        let key = Key::random();
        let fan = funder.fan_out(node, &key.address, Amount::from_sat(20_000), chunk);
        for coin in outputs_to(&fan, &key.address) {
            let tx = chain::signed(
                &key,
                &[coin],
                vec![bitcoin::TxOut {
                    value: Amount::from_sat(15_000),
                    script_pubkey: hash_address().script_pubkey(),
                }],
            );
            send(node, &tx);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_answers_equal_the_nodes_through_arrivals_drops_reorgs_and_replacement() {
    let node = Node::start().expect("regtest node");
    let funder = Funder::new(&node, 8);
    let dir = tempfile::tempdir().unwrap();
    let sender = Key::random();
    let piece = hash_address();
    let owner = hash_address();
    let fan = funder.fan_out(&node, &sender.address, Amount::from_sat(10_000), 30);
    let mut coins = outputs_to(&fan, &sender.address);
    mine(&node, 1);
    let mut txids = Vec::new();

    // Confirmed history, then unconfirmed arrivals (and unrelated traffic).
    for n in 0..3 {
        txids.push(send(
            &node,
            &register(&sender, coins.pop().unwrap(), &piece, &owner, n),
        ));
    }
    mine(&node, 1);
    let first = agree(
        &node,
        dir.path(),
        &piece,
        &sender.address,
        &txids,
        "confirmed",
    )
    .await;
    assert_eq!(first.history.len(), 3);
    for n in 3..6 {
        txids.push(send(
            &node,
            &register(&sender, coins.pop().unwrap(), &piece, &owner, n),
        ));
    }
    unrelated(&node, &funder, 20);
    let arrivals = agree(
        &node,
        dir.path(),
        &piece,
        &sender.address,
        &txids,
        "arrivals",
    )
    .await;
    assert_eq!(arrivals.history.len(), 6);
    for n in 6..8 {
        txids.push(send(
            &node,
            &register(&sender, coins.pop().unwrap(), &piece, &owner, n),
        ));
    }
    agree(
        &node,
        dir.path(),
        &piece,
        &sender.address,
        &txids,
        "more arrivals",
    )
    .await;

    // Mined: the scan memo is stale (new best block), the mempool entries dropped.
    mine(&node, 1);
    let best = node.call("getbestblockhash", &[]).unwrap();
    let mined = agree(&node, dir.path(), &piece, &sender.address, &txids, "mined").await;
    assert!(
        mined.history.iter().all(|h| h.contains("Confirmed")),
        "{mined:?}"
    );

    // Invalidated: the block's transactions are back in the mempool, the memo's block gone.
    node.call("invalidateblock", std::slice::from_ref(&best))
        .unwrap();
    let back = agree(
        &node,
        dir.path(),
        &piece,
        &sender.address,
        &txids,
        "invalidated",
    )
    .await;
    assert_eq!(
        back.history
            .iter()
            .filter(|h| h.contains("Unconfirmed"))
            .count(),
        5
    );
    node.call("reconsiderblock", &[best]).unwrap();
    agree(
        &node,
        dir.path(),
        &piece,
        &sender.address,
        &txids,
        "reconsidered",
    )
    .await;

    // Replaced: a registration in the cache is replaced (full RBF) by a transaction that
    // does not pay the piece; the cached backend must drop it.
    let coin = coins.pop().unwrap();
    let original = register(&sender, coin.clone(), &piece, &owner, 8);
    txids.push(send(&node, &original));
    let before = agree(
        &node,
        dir.path(),
        &piece,
        &sender.address,
        &txids,
        "before replacement",
    )
    .await;
    assert_eq!(before.history.len(), 9);
    let replacement = spool_tx(&sender, coin, &[&owner], Verb::Register { edition: 8 });
    txids.push(send(&node, &replacement));
    let after = agree(
        &node,
        dir.path(),
        &piece,
        &sender.address,
        &txids,
        "replaced",
    )
    .await;
    assert_eq!(after.history.len(), 8, "the replaced registration is gone");
    assert!(
        after.txs.iter().any(|t| t.ends_with("not found")),
        "{after:?}"
    );

    // A corrupt, a half-written and a tampered cache file are ignored, then rebuilt.
    let file = CoreBackend::cache_file(dir.path());
    let whole = std::fs::read(&file).expect("the cache file was written");
    for (what, bytes) in [
        ("garbage", b"not a cache".to_vec()),
        ("half written", whole[..whole.len() / 2].to_vec()),
        ("tampered", {
            let mut t = whole.clone();
            let at = t.len() - 10;
            t[at] ^= 1;
            t
        }),
    ] {
        std::fs::write(&file, &bytes).unwrap();
        agree(&node, dir.path(), &piece, &sender.address, &txids, what).await;
        assert_ne!(std::fs::read(&file).unwrap(), bytes, "{what}: rebuilt");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the cache file is private");
    }
}

/// Calls of one registration's reads (piece history, the sender's coins, two status
/// checks) by a fresh cached backend whose file is warm.
async fn action_calls(
    node: &Node,
    dir: &Path,
    piece: &Address,
    sender: &Address,
    pending: &[Txid],
) -> u64 {
    let backend = cached(node, dir);
    backend.address_transactions(piece).await.unwrap();
    for txid in pending {
        backend.transaction(txid).await.unwrap();
    }
    backend.utxos(sender, 1).await.unwrap();
    backend.rpc_counts().calls
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_actions_calls_do_not_grow_with_unrelated_mempool_traffic() {
    let node = Node::start().expect("regtest node");
    let funder = Funder::new(&node, 8);
    let dir = tempfile::tempdir().unwrap();
    let sender = Key::random();
    let piece = hash_address();
    let owner = hash_address();
    let fan = funder.fan_out(&node, &sender.address, Amount::from_sat(10_000), 10);
    let mut coins = outputs_to(&fan, &sender.address);
    mine(&node, 1);
    let mut pending = Vec::new();
    for n in 0..2 {
        pending.push(send(
            &node,
            &register(&sender, coins.pop().unwrap(), &piece, &owner, n),
        ));
    }
    // Warm the file (the first process pays for the mempool and the scans).
    action_calls(&node, dir.path(), &piece, &sender.address, &pending).await;
    let few = action_calls(&node, dir.path(), &piece, &sender.address, &pending).await;
    unrelated(&node, &funder, 150);
    action_calls(&node, dir.path(), &piece, &sender.address, &pending).await;
    let many = action_calls(&node, dir.path(), &piece, &sender.address, &pending).await;
    assert_eq!(
        few, many,
        "a warm action's calls are the same with 150 more unrelated mempool transactions"
    );
    // Without the file the same reads fetch every mempool transaction.
    let cold = plain(&node);
    cold.address_transactions(&piece).await.unwrap();
    assert!(cold.rpc_counts().calls > 150, "{:?}", cold.rpc_counts());
    // One scan per action at most: the warm action made none (same best block), and after a
    // block one scan serves both addresses.
    mine(&node, 1);
    let backend = cached(&node, dir.path());
    backend.address_transactions(&piece).await.unwrap();
    let after_history = backend.rpc_counts().calls;
    backend.utxos(&sender.address, 1).await.unwrap();
    let utxo_calls = backend.rpc_counts().calls - after_history;
    // getbestblockhash and gettxspendingprevout: no scantxoutset.
    assert_eq!(
        utxo_calls, 2,
        "the sender's coins came from the history's scan"
    );
}
