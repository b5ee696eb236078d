//! The conformance suite against every backend on one real regtest chain.

mod common;

use bitcoin::Network;
use common::chain::Funder;
use spool_backend::core::{CoreAuth, CoreBackend};
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
async fn conformance_core() {
    let node = Node::start().expect("regtest node");
    let funder = Funder::new(&node, 10);
    let core = core_backend(&node);
    common::suite::run("core", &node, &funder, &core).await;
}
