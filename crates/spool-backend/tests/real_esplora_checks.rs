//! The real-Esplora checks (`examples/real_esplora.rs`) against spool-testenv's Esplora
//! server, so that they are known to work before anyone points them at a public Esplora.

mod common;

use std::time::Duration;

use bitcoin::Network;
use common::chain::{self, hash_address, outputs_to, spool_tx, Funder, Key, FEE, TOKEN};
use common::esplora_checks::{check, Funded};
use spool_backend::esplora::EsploraBackend;
use spool_protocol::verb::Verb;
use spool_testenv::esplora::EsploraServer;
use spool_testenv::Node;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_esplora_checks_pass_against_the_test_server() {
    let node = Node::start().unwrap();
    let funder = Funder::new(&node, 3);
    // A piece with 30 confirmed transactions (two pages) and 2 in the mempool.
    let owner = Key::random();
    let piece = hash_address();
    let funding = funder.fan_out(&node, &owner.address, FEE + TOKEN * 2, 32);
    chain::mine(&node, 1);
    for (n, coin) in outputs_to(&funding, &owner.address).into_iter().enumerate() {
        let verb = Verb::Transfer { edition: 1 };
        chain::send(
            &node,
            &spool_tx(&owner, coin, &[&piece, &owner.address], verb),
        );
        if n % 7 == 6 && n < 30 {
            chain::mine(&node, 1);
        }
        if n == 29 {
            chain::mine(&node, 1);
        }
    }
    // A funded P2PKH key of spool-wallet's kind: coinbases mined to it, matured.
    let secret = bitcoin::secp256k1::SecretKey::new(&mut bitcoin::secp256k1::rand::thread_rng());
    let key = spool_wallet::SigningKey::new(secret, Network::Regtest);
    node.mine_to(&key.address(), 2).unwrap();
    node.mine_to(&hash_address(), 100).unwrap();

    let server = EsploraServer::start(&node).unwrap();
    let backend = EsploraBackend::new(server.url(), Network::Regtest).unwrap();
    // The wait needs a block: mine one shortly after the broadcast.
    let (url, cookie) = (node.rpc_url(), node.cookie_file());
    let miner = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(3));
        let rpc =
            bitcoincore_rpc::Client::new(&url, bitcoincore_rpc::Auth::CookieFile(cookie)).unwrap();
        bitcoincore_rpc::RpcApi::generate_to_address(&rpc, 1, &hash_address()).unwrap();
    });
    check(
        &backend,
        &piece,
        Some(Funded {
            key,
            wait: Some(Duration::from_secs(60)),
        }),
    )
    .await
    .unwrap();
    miner.join().unwrap();
}
