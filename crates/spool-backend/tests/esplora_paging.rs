//! History paging against the two public Esplora flavours, on a real regtest chain:
//! Blockstream's first page holds up to 25 confirmed transactions after the mempool ones,
//! mempool.space's fills up to 50 transactions in all; Esplora lists at most 50 unconfirmed
//! transactions of an address; a page after a full one may be empty.

mod common;

use std::collections::BTreeSet;

use bitcoin::{Amount, Network, Transaction, TxOut, Txid};
use common::chain::{self, outputs_to, Funder, Key};
use spool_backend::core::{CoreAuth, CoreBackend};
use spool_backend::esplora::EsploraBackend;
use spool_backend::{Backend, BackendError};
use spool_testenv::esplora::{EsploraServer, Flavor};
use spool_testenv::Node;

/// Per transaction, paid by the output it spends.
const FEE: Amount = Amount::from_sat(2_000);

/// Spends each of `coins` (outputs to `owner`) back to `owner`, one transaction each, and
/// broadcasts them; returns their txids.
fn pay_back(node: &Node, owner: &Key, coins: &[(bitcoin::OutPoint, TxOut)]) -> Vec<Txid> {
    coins
        .iter()
        .map(|coin| {
            let tx = chain::signed(
                owner,
                std::slice::from_ref(coin),
                vec![TxOut {
                    value: coin.1.value - FEE,
                    script_pubkey: owner.script(),
                }],
            );
            chain::send(node, &tx)
        })
        .collect()
}

fn txids(history: &[spool_protocol::chain::ChainTx]) -> BTreeSet<Txid> {
    history.iter().map(|t| t.txid()).collect()
}

fn unconfirmed(history: &[spool_protocol::chain::ChainTx]) -> usize {
    history
        .iter()
        .filter(|t| t.place.height().is_none())
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn histories_page_alike_on_both_flavours_and_match_core() {
    let node = Node::start().unwrap();
    let funder = Funder::new(&node, 2);
    let owner = Key::random();
    let fan: Transaction = funder.fan_out(&node, &owner.address, Amount::from_sat(100_000), 90);
    chain::mine(&node, 1);
    let coins = outputs_to(&fan, &owner.address);
    let mut expected: BTreeSet<Txid> = [fan.compute_txid()].into();
    // 40 confirmed in one block, then 30 in the mempool: mempool.space's first page holds the
    // 30 and only 20 confirmed ones, short of Blockstream's 25.
    expected.extend(pay_back(&node, &owner, &coins[..40]));
    chain::mine(&node, 1);
    expected.extend(pay_back(&node, &owner, &coins[40..70]));

    let core = CoreBackend::new(
        &node.rpc_url(),
        CoreAuth::Cookie(node.cookie_file()),
        Network::Regtest,
    )
    .unwrap();
    let from_core = core.address_transactions(&owner.address).await.unwrap();
    assert_eq!(txids(&from_core), expected, "core lists them all");
    for flavor in [Flavor::Blockstream, Flavor::MempoolSpace] {
        let server = EsploraServer::start_flavor(&node, flavor).unwrap();
        let esplora = EsploraBackend::new(server.url(), Network::Regtest).unwrap();
        let history = esplora.address_transactions(&owner.address).await.unwrap();
        assert_eq!(history.len(), 71, "{flavor:?}");
        assert_eq!(txids(&history), expected, "{flavor:?}");
        assert_eq!(unconfirmed(&history), 30, "{flavor:?}");
        assert_eq!(
            history, from_core,
            "{flavor:?}: same places and order as core"
        );
    }

    // 50 unconfirmed: Esplora shows no more than that, so the history is refused.
    pay_back(&node, &owner, &coins[70..90]);
    for flavor in [Flavor::Blockstream, Flavor::MempoolSpace] {
        let server = EsploraServer::start_flavor(&node, flavor).unwrap();
        let esplora = EsploraBackend::new(server.url(), Network::Regtest).unwrap();
        match esplora.address_transactions(&owner.address).await {
            Err(err @ BackendError::BadResponse { .. }) => {
                let message = err.to_string();
                assert!(
                    message.contains("lists 50 unconfirmed transactions")
                        && message.contains(&owner.address.to_string()),
                    "{flavor:?}: {message}"
                );
            }
            other => panic!("{flavor:?}: expected a refusal, got {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_history_of_exactly_one_page_ends_on_an_empty_page() {
    let node = Node::start().unwrap();
    let funder = Funder::new(&node, 1);
    let owner = Key::random();
    let fan = funder.fan_out(&node, &owner.address, Amount::from_sat(100_000), 24);
    chain::mine(&node, 1);
    pay_back(&node, &owner, &outputs_to(&fan, &owner.address));
    chain::mine(&node, 1);

    let server = EsploraServer::start(&node).unwrap();
    let esplora = EsploraBackend::new(server.url(), Network::Regtest).unwrap();
    let before = server.request_count();
    let history = esplora.address_transactions(&owner.address).await.unwrap();
    assert_eq!(history.len(), 25);
    assert_eq!(unconfirmed(&history), 0);
    // Genesis check, the full first page, the empty second one, the status of the last
    // transaction seen (still confirmed: the end, not a reorganisation), then the positions:
    // a merkle proof for the fan-out's block (one transaction of the owner's) and the txids
    // of the block holding the other 24.
    assert_eq!(server.request_count() - before, 6);
}
