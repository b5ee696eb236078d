//! History paging against the two public Esplora flavours, on a real regtest chain:
//! Blockstream's first page holds up to 25 confirmed transactions after the mempool ones,
//! mempool.space's fills up to 50 transactions in all; Esplora lists at most 50 unconfirmed
//! transactions of an address; a page after a full one may be empty, also when the last
//! transaction seen left the chain.

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

/// An HTTP front for `upstream` that answers the first request for `stale_path` with
/// `stale_body` (a page read before a reorganisation) and relays everything else. Records the
/// paths asked.
struct StaleFront {
    url: String,
    asked: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for StaleFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl StaleFront {
    async fn start(upstream: std::net::SocketAddr, stale_path: String, stale_body: String) -> Self {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let log = asked.clone();
        let stale = std::sync::Arc::new(std::sync::Mutex::new(Some(stale_body)));
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                let (log, stale, stale_path) = (log.clone(), stale.clone(), stale_path.clone());
                tokio::spawn(async move {
                    // GET requests only (the history has no body): read the head.
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        if client.read(&mut byte).await.unwrap_or(0) == 0 {
                            return;
                        }
                        head.push(byte[0]);
                    }
                    let head = String::from_utf8_lossy(&head).to_string();
                    let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
                    log.lock().unwrap().push(path.clone());
                    let canned = (path == stale_path)
                        .then(|| stale.lock().unwrap().take())
                        .flatten();
                    let reply = match canned {
                        Some(body) => format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        )
                        .into_bytes(),
                        None => {
                            let mut up = tokio::net::TcpStream::connect(upstream).await.unwrap();
                            let request = format!(
                                "GET {path} HTTP/1.1\r\nHost: esplora\r\nConnection: close\r\n\r\n"
                            );
                            up.write_all(request.as_bytes()).await.unwrap();
                            let mut reply = Vec::new();
                            up.read_to_end(&mut reply).await.unwrap();
                            reply
                        }
                    };
                    let _ = client.write_all(&reply).await;
                    let _ = client.shutdown().await;
                });
            }
        });
        StaleFront { url, asked, task }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reorganisation_under_the_paging_restarts_the_reading() {
    let node = Node::start().unwrap();
    let funder = Funder::new(&node, 1);
    let owner = Key::random();
    let fan = funder.fan_out(&node, &owner.address, Amount::from_sat(100_000), 26);
    chain::mine(&node, 1);
    let spends: BTreeSet<Txid> = pay_back(&node, &owner, &outputs_to(&fan, &owner.address))
        .into_iter()
        .collect();
    let tip = chain::mine(&node, 1);
    let server = EsploraServer::start(&node).unwrap();

    // The first page as read just before the block of the 26 spends is reorganised away: 25
    // of them, confirmed; the last one listed is among those that leave the chain.
    let path = format!("/address/{}/txs", owner.address);
    let client = esplora_client::Builder::new(server.url())
        .build_async()
        .unwrap();
    let page = client.get_address_txs(&owner.address, None).await.unwrap();
    assert_eq!(page.len(), 25);
    let last = page[24].txid;
    assert!(spends.contains(&last));
    let body = raw_get(server.addr(), &path).await;
    let hash = node.call("getblockhash", &[tip.into()]).unwrap();
    node.call("invalidateblock", &[hash]).unwrap();

    let front = StaleFront::start(server.addr(), path.clone(), body).await;
    let esplora = EsploraBackend::new(&front.url, Network::Regtest).unwrap();
    let history = esplora.address_transactions(&owner.address).await.unwrap();
    // Read again from the start: the fan-out confirmed, the 26 spends back in the mempool.
    assert_eq!(history.len(), 27);
    assert_eq!(unconfirmed(&history), 26);
    let asked = front.asked.lock().unwrap().clone();
    let status = format!("/tx/{last}/status");
    let at = asked
        .iter()
        .position(|p| *p == status)
        .expect("status asked");
    assert_eq!(asked[at - 1], format!("{path}/chain/{last}"), "{asked:?}");
    assert_eq!(asked[at + 1], path, "started over: {asked:?}");
}

/// The raw body of `GET path` from the server at `addr`.
async fn raw_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: esplora\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await.unwrap();
    reply.split_once("\r\n\r\n").unwrap().1.to_string()
}
