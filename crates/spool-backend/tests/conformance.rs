//! The conformance suite against every backend on one real regtest chain: the Core backend
//! talking to the node, and the Esplora backend talking to spool-testenv's Esplora-compatible
//! server in front of the same node.

mod common;

use bitcoin::Network;
use common::chain::Funder;
use spool_backend::core::{CoreAuth, CoreBackend};
use spool_backend::esplora::EsploraBackend;
use spool_backend::Backend;
use spool_testenv::esplora::EsploraServer;
use spool_testenv::Node;

fn core_backend(node: &Node) -> CoreBackend {
    CoreBackend::new(
        &node.rpc_url(),
        CoreAuth::Cookie(node.cookie_file()),
        Network::Regtest,
    )
    .expect("core backend")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_core_and_esplora_on_one_chain() {
    let node = Node::start().expect("regtest node");
    let funder = Funder::new(&node, 10);
    let core = core_backend(&node);
    let core_run = common::suite::run("core", &node, &funder, &core).await;

    let server = EsploraServer::start(&node).expect("esplora server");
    // Through `Arc<dyn Backend>`, as a caller choosing the backend at run time holds it.
    let esplora: std::sync::Arc<dyn Backend> = std::sync::Arc::new(
        EsploraBackend::new(server.url(), Network::Regtest).expect("esplora backend"),
    );
    let esplora_run = common::suite::run("esplora", &node, &funder, &esplora).await;

    // Both backends give the same answers about both runs' data.
    for fx in [&core_run, &esplora_run] {
        assert_eq!(
            core.address_transactions(&fx.piece).await.unwrap(),
            esplora.address_transactions(&fx.piece).await.unwrap(),
            "same piece history"
        );
        for min_conf in [0, 1, 2] {
            assert_eq!(
                core.utxos(&fx.owner.address, min_conf).await.unwrap(),
                esplora.utxos(&fx.owner.address, min_conf).await.unwrap(),
                "same utxos at min_conf {min_conf}"
            );
        }
    }
    assert_eq!(
        core.tip_height().await.unwrap(),
        esplora.tip_height().await.unwrap()
    );
    assert!(server.request_count() > 0);
}

/// A block holding many of a piece's transactions is read whole by the Core backend; the
/// result must equal one-by-one lookups and the Esplora backend's answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dense_block_history_agrees_with_single_lookups_and_esplora() {
    use common::chain::{self, hash_address, outputs_to, spool_tx, Key, FEE, TOKEN};
    use spool_protocol::chain::TxPlace;
    use spool_protocol::verb::Verb;

    let node = Node::start().expect("regtest node");
    let funder = Funder::new(&node, 2);
    let owner = Key::random();
    let piece = hash_address();
    let funding = funder.fan_out(&node, &owner.address, FEE + TOKEN * 2, 31);
    chain::mine(&node, 1);
    let mut coins = outputs_to(&funding, &owner.address);
    let mut send = |n: usize| {
        for _ in 0..n {
            let tx = spool_tx(
                &owner,
                coins.pop().unwrap(),
                &[&piece, &owner.address],
                Verb::Transfer { edition: 1 },
            );
            chain::send(&node, &tx);
        }
    };
    // 18 in one block, 12 in the next (more than one Esplora page of 25), 1 in the mempool.
    send(18);
    chain::mine(&node, 1);
    send(12);
    chain::mine(&node, 1);
    send(1);

    let core = core_backend(&node);
    let before = core.rpc_counts();
    let history = core.address_transactions(&piece).await.unwrap();
    let used = core.rpc_counts() - before;
    assert_eq!(history.len(), 31);
    // 18 of them came from one getblock, not from 18 getrawtransaction calls.
    assert!(used.calls < 31 - 18 + 10, "{used:?}");
    for chain_tx in &history {
        assert_eq!(&core.transaction(&chain_tx.txid()).await.unwrap(), chain_tx);
    }
    let dense_height = history[0].place.height().unwrap();
    assert_eq!(
        history
            .iter()
            .filter(|c| c.place.height() == Some(dense_height))
            .count(),
        18
    );
    assert_eq!(history[30].place, TxPlace::Unconfirmed);
    // Esplora pages through the 30 confirmed ones (25 + 5) and agrees.
    let server = EsploraServer::start(&node).expect("esplora server");
    let esplora = EsploraBackend::new(server.url(), Network::Regtest).unwrap();
    let before = esplora.request_count();
    assert_eq!(esplora.address_transactions(&piece).await.unwrap(), history);
    assert!(esplora.request_count() - before >= 2, "two history pages");
}

/// A block taken back (`invalidateblock`) returns its transactions to the mempool; both
/// backends follow, and agree again once another block confirms them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reorganisation_is_followed_by_both_backends() {
    use common::chain::{self, hash_address, outputs_to, spool_tx, Key, FEE, TOKEN};
    use serde_json::json;
    use spool_protocol::chain::TxPlace;
    use spool_protocol::verb::Verb;

    let node = Node::start().expect("regtest node");
    let funder = Funder::new(&node, 2);
    let owner = Key::random();
    let piece = hash_address();
    let funding = funder.fan_out(&node, &owner.address, FEE + TOKEN * 2, 1);
    chain::mine(&node, 1);
    let tx = spool_tx(
        &owner,
        outputs_to(&funding, &owner.address).remove(0),
        &[&piece, &owner.address],
        Verb::Piece,
    );
    let txid = chain::send(&node, &tx);
    let height = chain::mine(&node, 1);

    let core = core_backend(&node);
    let server = EsploraServer::start(&node).expect("esplora server");
    let esplora = EsploraBackend::new(server.url(), Network::Regtest).unwrap();
    let before = core.address_transactions(&piece).await.unwrap();
    assert_eq!(before[0].place.height(), Some(height));
    assert_eq!(esplora.address_transactions(&piece).await.unwrap(), before);

    let tip_hash = node.call("getbestblockhash", &[]).unwrap();
    node.call("invalidateblock", &[tip_hash]).unwrap();
    assert!(chain::in_mempool(&node, &txid));
    for backend in [&core as &dyn Backend, &esplora] {
        let history = backend.address_transactions(&piece).await.unwrap();
        assert_eq!(history.len(), 1, "{}", backend.describe());
        assert_eq!(
            history[0].place,
            TxPlace::Unconfirmed,
            "{}",
            backend.describe()
        );
        assert_eq!(backend.tip_height().await.unwrap(), height - 1);
        assert_eq!(
            backend.transaction(&txid).await.unwrap().place,
            TxPlace::Unconfirmed
        );
    }

    // Another block at the same height confirms it again.
    node.mine_to(&hash_address(), 1).unwrap();
    let again = core.address_transactions(&piece).await.unwrap();
    assert_eq!(again[0].place.height(), Some(height));
    assert_eq!(esplora.address_transactions(&piece).await.unwrap(), again);
    let new_tip = node.call("getbestblockhash", &[]).unwrap();
    assert_ne!(new_tip, json!(null));
}
