//! The conformance suite against every backend on one real regtest chain: the Core backend
//! talking to the node, and the Esplora backend talking to spool-testenv's Esplora-compatible
//! server in front of the same node.

mod common;

use bitcoin::Network;
use common::chain::Funder;
use spool_backend::core::{CoreAuth, CoreBackend};
use spool_backend::Backend;
use spool_backend::esplora::EsploraBackend;
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
    let esplora = EsploraBackend::new(server.url(), Network::Regtest).expect("esplora backend");
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
