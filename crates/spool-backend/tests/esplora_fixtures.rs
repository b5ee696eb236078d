//! Real Bitcoin mainnet Esplora responses, published by mempool.space (its REST API docs and
//! its repository's test data), replayed over HTTP through esplora-client and
//! `EsploraBackend`: the same parsing path as against a live server. The sources of every
//! file are in `tests/fixtures/esplora/README.md` and named again at each use below.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use bitcoin::{Address, Amount, BlockHash, Network, ScriptBuf, Txid};
use esplora_client::{EsploraTx, OutputStatus, TxStatus, Utxo};
use spool_backend::esplora::EsploraBackend;
use spool_backend::{Backend, BackendError, RetryPolicy};
use spool_protocol::chain::{ChainTx, TxPlace};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// mempool/mempool, frontend/src/app/docs/api-docs/api-docs-data.ts @ 3b6ed8bd (the examples
/// of https://mempool.space/docs/api/rest), keys quoted and `...` elisions dropped.
const DOCS_TX_STATUS: &str = include_str!("fixtures/esplora/docs-tx-status.json");
const DOCS_MERKLE_PROOF: &str = include_str!("fixtures/esplora/docs-tx-merkle-proof.json");
const DOCS_OUTSPEND: &str = include_str!("fixtures/esplora/docs-tx-outspend.json");
const DOCS_OUTSPENDS: &str = include_str!("fixtures/esplora/docs-tx-outspends.json");
const DOCS_UTXO: &str = include_str!("fixtures/esplora/docs-address-utxo.json");
const DOCS_TIP_HEIGHT: &str = include_str!("fixtures/esplora/docs-blocks-tip-height.txt");
const DOCS_BLOCK_HEIGHT_615615: &str =
    include_str!("fixtures/esplora/docs-block-height-615615.txt");
const DOCS_BLOCK_TXID_218: &str = include_str!("fixtures/esplora/docs-block-txid-218.txt");
/// mempool/mempool, frontend/cypress/fixtures/mainnet_tx_cached.json @ 3b6ed8bd: a
/// mempool.space `GET /api/tx/21518a98...` body.
const MEMPOOL_TX_CACHED: &str =
    include_str!("fixtures/esplora/mempool-cypress-mainnet_tx_cached.json");
/// mempool/mempool, backend/src/__tests__/api/test-data/transactions-random.json @ 3b6ed8bd:
/// four mempool.space `GET /api/tx/:txid` bodies.
const MEMPOOL_TXS_RANDOM: &str =
    include_str!("fixtures/esplora/mempool-backend-transactions-random.json");

/// The transaction of the docs' `/tx/:txid/...` examples.
const DOCS_TXID: &str = "15e10745f15593a899cef391191bdd3d7c12412cc4696b7bcb669d0feadc8521";

/// One canned answer.
#[derive(Clone)]
struct Canned {
    status: u16,
    content_type: &'static str,
    body: String,
}

fn json(body: &str) -> Canned {
    Canned {
        status: 200,
        content_type: "application/json",
        body: body.to_string(),
    }
}

fn text(status: u16, body: &str) -> Canned {
    Canned {
        status,
        content_type: "text/plain",
        body: body.to_string(),
    }
}

/// An HTTP server answering `(method, path)` with canned replies, and electrs' 404
/// `endpoint does not exist` to anything else. Records the paths asked.
struct Replay {
    addr: SocketAddr,
    asked: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Replay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Replay {
    async fn start(routes: Vec<(&str, String, Canned)>) -> Replay {
        let routes: Arc<HashMap<(String, String), Canned>> = Arc::new(
            routes
                .into_iter()
                .map(|(method, path, canned)| ((method.to_string(), path), canned))
                .collect(),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let asked = Arc::new(Mutex::new(Vec::new()));
        let log = asked.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let routes = routes.clone();
                let log = log.clone();
                tokio::spawn(async move {
                    let Some((method, path)) = read_request(&mut stream).await else {
                        return;
                    };
                    log.lock().unwrap().push(format!("{method} {path}"));
                    let canned = routes
                        .get(&(method, path.clone()))
                        .cloned()
                        .unwrap_or_else(|| text(404, &format!("endpoint does not exist {path:?}")));
                    let head = format!(
                        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        canned.status,
                        if canned.status == 200 { "OK" } else { "Error" },
                        canned.content_type,
                        canned.body.len()
                    );
                    let _ = stream.write_all(head.as_bytes()).await;
                    let _ = stream.write_all(canned.body.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        Replay { addr, asked, task }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }

    fn client(&self) -> esplora_client::AsyncClient {
        esplora_client::Builder::new(&self.url())
            .max_retries(0)
            .build_async()
            .unwrap()
    }

    fn backend(&self, network: Network) -> EsploraBackend {
        EsploraBackend::new(&self.url(), network)
            .unwrap()
            .retry_policy(RetryPolicy::none())
    }
}

/// Reads one request's method and path (and skips its body).
async fn read_request(stream: &mut tokio::net::TcpStream) -> Option<(String, String)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let mut first = head.lines().next()?.split_whitespace();
    Some((first.next()?.to_string(), first.next()?.to_string()))
}

/// `GET /block-height/0` answered with mainnet's genesis hash, which the backend checks first.
fn mainnet_genesis() -> (&'static str, String, Canned) {
    let genesis = bitcoin::constants::genesis_block(Network::Bitcoin).block_hash();
    (
        "GET",
        "/block-height/0".to_string(),
        text(200, &genesis.to_string()),
    )
}

/// The four transactions of `transactions-random.json`, by txid, as raw JSON values.
fn random_txs() -> HashMap<String, serde_json::Value> {
    let all: Vec<serde_json::Value> = serde_json::from_str(MEMPOOL_TXS_RANDOM).unwrap();
    all.into_iter()
        .map(|t| (t["txid"].as_str().unwrap().to_string(), t))
        .collect()
}

fn txid(s: &str) -> Txid {
    Txid::from_str(s).unwrap()
}

fn script(hex: &str) -> ScriptBuf {
    ScriptBuf::from_hex(hex).unwrap()
}

#[tokio::test]
async fn esplora_client_reads_the_documented_replies() {
    let tx = |rest: &str| format!("/tx/{DOCS_TXID}{rest}");
    let block = "000000000000000015dc777b3ff2611091336355d3f0ee9766a2cf3be8e4b1ce";
    let utxo_address = "1KFHE7w8BhaENAswwryaoccDb6qcT6DbYY";
    let replay = Replay::start(vec![
        ("GET", tx("/status"), json(DOCS_TX_STATUS)),
        ("GET", tx("/merkle-proof"), json(DOCS_MERKLE_PROOF)),
        ("GET", tx("/outspend/3"), json(DOCS_OUTSPEND)),
        ("GET", tx("/outspends"), json(DOCS_OUTSPENDS)),
        (
            "GET",
            format!("/address/{utxo_address}/utxo"),
            json(DOCS_UTXO),
        ),
        (
            "GET",
            "/blocks/tip/height".into(),
            text(200, DOCS_TIP_HEIGHT),
        ),
        (
            "GET",
            "/block-height/615615".into(),
            text(200, DOCS_BLOCK_HEIGHT_615615),
        ),
        (
            "GET",
            format!("/block/{block}/txid/218"),
            text(200, DOCS_BLOCK_TXID_218),
        ),
    ])
    .await;
    let client = replay.client();
    let docs_txid = txid(DOCS_TXID);

    let status = client.get_tx_status(&docs_txid).await.unwrap();
    assert_eq!(
        status,
        TxStatus {
            confirmed: true,
            block_height: Some(363_348),
            block_hash: Some(
                BlockHash::from_str(
                    "0000000000000000139385d7aa78ffb45469e0c715b8d6ea6cb2ffa98acc7171"
                )
                .unwrap()
            ),
            block_time: Some(1_435_754_650),
        }
    );

    let proof = client.get_merkle_proof(&docs_txid).await.unwrap().unwrap();
    assert_eq!((proof.block_height, proof.pos), (363_348, 1465));
    assert_eq!(
        proof.merkle.len(),
        11,
        "a block of 1025 to 2048 transactions"
    );
    assert_eq!(
        proof.merkle[0],
        txid("acf931fe8980c6165b32fe7a8d25f779af7870a638599db1977d5309e24d2478")
    );

    let spend = client
        .get_output_status(&docs_txid, 3)
        .await
        .unwrap()
        .unwrap();
    assert!(spend.spent);
    assert_eq!(
        spend.txid,
        Some(txid(
            "2a1b8ec06d68096911da82b02806c3848c415b0044a0046850c4a97cbffac7b1"
        ))
    );
    assert_eq!(spend.vin, Some(1));
    assert_eq!(spend.status.and_then(|s| s.block_height), Some(363_354));

    let spends: Vec<OutputStatus> = client.get_tx_outspends(&docs_txid).await.unwrap();
    assert_eq!(spends.len(), 1, "the docs print the first output's only");
    assert_eq!(spends[0].vin, Some(12));
    assert_eq!(
        spends[0]
            .status
            .as_ref()
            .map(|s| (s.confirmed, s.block_height)),
        Some((true, Some(363_349)))
    );

    let address = Address::from_str(utxo_address)
        .unwrap()
        .require_network(Network::Bitcoin)
        .unwrap();
    let utxos: Vec<Utxo> = client.get_address_utxos(&address).await.unwrap();
    assert_eq!(utxos.len(), 1);
    assert_eq!(
        utxos[0].txid,
        txid("12f96289f8f9cd51ccfe390879a46d7eeb0435d9e0af9297776e6bdf249414ff")
    );
    assert_eq!(utxos[0].vout, 0);
    assert_eq!(utxos[0].value, Amount::from_sat(644_951_084));
    assert!(utxos[0].status.confirmed);
    assert_eq!(utxos[0].status.block_height, Some(698_642));
    assert_eq!(utxos[0].status.block_time, Some(1_630_561_459));

    assert_eq!(client.get_height().await.unwrap(), 698_767);
    assert_eq!(
        client.get_block_hash(615_615).await.unwrap(),
        BlockHash::from_str(DOCS_BLOCK_HEIGHT_615615).unwrap()
    );
    assert_eq!(
        client
            .get_txid_at_block_index(&BlockHash::from_str(block).unwrap(), 218)
            .await
            .unwrap(),
        Some(txid(DOCS_BLOCK_TXID_218))
    );
    assert_eq!(replay.asked().len(), 8, "one request per call");
}

#[tokio::test]
async fn published_transactions_hash_to_their_txids() {
    // Every complete body parses into esplora-client's transaction and rebuilds the very
    // transaction its txid names (so nothing is lost between JSON and consensus bytes).
    let mut bodies: Vec<serde_json::Value> = serde_json::from_str(MEMPOOL_TXS_RANDOM).unwrap();
    bodies.push(serde_json::from_str(MEMPOOL_TX_CACHED).unwrap());
    assert_eq!(bodies.len(), 5);
    for body in bodies {
        let tx: EsploraTx = serde_json::from_value(body.clone()).unwrap();
        assert_eq!(tx.to_tx().compute_txid(), tx.txid, "{}", tx.txid);
        assert_eq!(tx.fee.to_sat(), body["fee"].as_u64().unwrap());
        assert_eq!(tx.weight.to_wu(), body["weight"].as_u64().unwrap());
    }
}

#[tokio::test]
async fn backend_replays_published_mainnet_transactions() {
    let random = random_txs();
    let mut routes = vec![
        mainnet_genesis(),
        // mempool.space docs, `GET /blocks/tip/height`.
        (
            "GET",
            "/blocks/tip/height".into(),
            text(200, DOCS_TIP_HEIGHT),
        ),
        // mempool/mempool frontend/cypress/fixtures/mainnet_tx_cached.json.
        (
            "GET",
            "/tx/21518a98d1aa9df524865d2f88c578499f524eb1d0c4d3e70312ab863508692f".into(),
            json(MEMPOOL_TX_CACHED),
        ),
        // The same transaction as the only one of its output address's history.
        (
            "GET",
            "/address/bc1qak63vld8a97884unr6epxzkrud8xs3dfdqswy2/txs".into(),
            json(&format!("[{MEMPOOL_TX_CACHED}]")),
        ),
    ];
    // mempool/mempool backend/src/__tests__/api/test-data/transactions-random.json.
    for (id, body) in &random {
        routes.push(("GET", format!("/tx/{id}"), json(&body.to_string())));
    }
    // Made up, not published: no merkle proof of the two confirmed transactions is public,
    // and the backend reads only `pos` from it (the height and time come from the
    // transaction's own `status`, which is real).
    for (id, height, pos) in [
        (
            "20b984492b5264162a4c92c9a34bc7fa08b67d669de7b4c5982ad3cb28aaecf6",
            848_136,
            7,
        ),
        (
            "b10c0000004da5a9d1d9b4ae32e09f0b3e62d21a5cce5428d4ad714fb444eb5d",
            850_000,
            9,
        ),
    ] {
        routes.push((
            "GET",
            format!("/tx/{id}/merkle-proof"),
            json(&format!(
                r#"{{"block_height":{height},"merkle":[],"pos":{pos}}}"#
            )),
        ));
    }
    let replay = Replay::start(routes).await;
    let backend = replay.backend(Network::Bitcoin);

    assert_eq!(backend.tip_height().await.unwrap(), 698_767);

    // Unconfirmed, one P2WPKH input and output.
    let cached = backend
        .transaction(&txid(
            "21518a98d1aa9df524865d2f88c578499f524eb1d0c4d3e70312ab863508692f",
        ))
        .await
        .unwrap();
    assert_eq!(cached.place, TxPlace::Unconfirmed);
    assert_eq!(
        cached.prevouts,
        vec![bitcoin::TxOut {
            value: Amount::from_sat(253_017_648),
            script_pubkey: script("0014d98654186b90d95da7e31a30929f5b5b6a0af250"),
        }]
    );
    assert_eq!(cached.tx.output.len(), 1);
    assert_eq!(cached.tx.output[0].value, Amount::from_sat(253_008_854));
    assert_eq!(
        cached.tx.input[0].previous_output.vout, 144,
        "spends output 144 of 1e3bd5c6..."
    );
    assert_eq!(fee(&cached), 8_794);

    // Unconfirmed with nine inputs: every prevout, in input order.
    let nine = backend
        .transaction(&txid(
            "8e89b20f8a7fadb0e4cdbe57a00eee224f5076bac5387fc276916724e7c4a16a",
        ))
        .await
        .unwrap();
    assert_eq!(nine.place, TxPlace::Unconfirmed);
    assert_eq!(nine.prevouts.len(), 9);
    assert_eq!(nine.prevouts[0].value, Amount::from_sat(1_528_924));
    assert_eq!(nine.prevouts[1].value, Amount::from_sat(436_523));
    assert_eq!(nine.tx.output[0].value, Amount::from_sat(5_500_000));
    assert_eq!(fee(&nine), 691);

    let two = backend
        .transaction(&txid(
            "13f007241d78e8b0b4e57d2ae3fd37bcfe3226534d7cadeba5a549860d960db0",
        ))
        .await
        .unwrap();
    assert_eq!(two.place, TxPlace::Unconfirmed);
    assert_eq!(
        two.tx
            .output
            .iter()
            .map(|o| o.value.to_sat())
            .collect::<Vec<_>>(),
        vec![344_697, 265_396]
    );
    assert_eq!(fee(&two), 584);

    // Confirmed in block 848136, an OP_RETURN output first.
    let op_return = backend
        .transaction(&txid(
            "20b984492b5264162a4c92c9a34bc7fa08b67d669de7b4c5982ad3cb28aaecf6",
        ))
        .await
        .unwrap();
    assert_eq!(
        op_return.place,
        TxPlace::Confirmed {
            height: 848_136,
            position: 7,
            time: 1_718_517_071,
        }
    );
    assert!(op_return.tx.output[0].script_pubkey.is_op_return());
    assert_eq!(op_return.tx.output[0].value, Amount::ZERO);
    assert_eq!(op_return.prevouts[0].value, Amount::from_sat(27_619));
    assert_eq!(fee(&op_return), 4_000);

    // Confirmed in block 850000: ten inputs and one output of each script type (P2PK,
    // P2PKH, bare multisig, P2SH, P2WPKH, P2WSH, P2TR, an unknown one, OP_RETURN).
    let every_kind = backend
        .transaction(&txid(
            "b10c0000004da5a9d1d9b4ae32e09f0b3e62d21a5cce5428d4ad714fb444eb5d",
        ))
        .await
        .unwrap();
    assert_eq!(every_kind.place.height(), Some(850_000));
    assert_eq!(every_kind.prevouts.len(), 10);
    assert_eq!(every_kind.prevouts[0].value, Amount::from_sat(6_102));
    assert!(every_kind.prevouts[0].script_pubkey.is_p2pk());
    let outputs = &every_kind.tx.output;
    assert_eq!(
        outputs.iter().map(|o| o.value.to_sat()).collect::<Vec<_>>(),
        vec![576, 546, 582, 540, 294, 330, 330, 240, 0]
    );
    assert!(outputs[0].script_pubkey.is_p2pk());
    assert!(outputs[1].script_pubkey.is_p2pkh());
    assert!(outputs[2].script_pubkey.is_multisig());
    assert!(outputs[3].script_pubkey.is_p2sh());
    assert!(outputs[4].script_pubkey.is_p2wpkh());
    assert!(outputs[5].script_pubkey.is_p2wsh());
    assert!(outputs[6].script_pubkey.is_p2tr());
    assert!(outputs[8].script_pubkey.is_op_return());
    assert_eq!(fee(&every_kind), 71_294);

    // A history of one unconfirmed transaction: one page, nothing more asked.
    let address = Address::from_str("bc1qak63vld8a97884unr6epxzkrud8xs3dfdqswy2")
        .unwrap()
        .require_network(Network::Bitcoin)
        .unwrap();
    let before = replay.asked().len();
    let history = backend.address_transactions(&address).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0], cached);
    assert_eq!(
        replay.asked()[before..],
        ["GET /address/bc1qak63vld8a97884unr6epxzkrud8xs3dfdqswy2/txs".to_string()]
    );
}

/// What a transaction pays in fees, from its prevouts.
fn fee(tx: &ChainTx) -> u64 {
    let spent: u64 = tx.prevouts.iter().map(|o| o.value.to_sat()).sum();
    let paid: u64 = tx.tx.output.iter().map(|o| o.value.to_sat()).sum();
    spent - paid
}

#[tokio::test]
async fn backend_reads_electrs_error_replies() {
    let tx: EsploraTx = serde_json::from_str(MEMPOOL_TX_CACHED).unwrap();
    let unknown = txid("0000000000000000000000000000000000000000000000000000000000000001");
    // Blockstream's electrs (src/rest.rs and its tests) and mempool.space's wording of a
    // refused broadcast.
    for refusal in [
        "sendrawtransaction RPC error -26: min relay fee not met",
        r#"sendrawtransaction RPC error: {"code":-26,"message":"min relay fee not met"}"#,
    ] {
        let replay = Replay::start(vec![
            mainnet_genesis(),
            (
                "GET",
                format!("/tx/{unknown}"),
                text(404, "Transaction not found"),
            ),
            ("POST", "/tx".into(), text(400, refusal)),
        ])
        .await;
        let backend = replay.backend(Network::Bitcoin);
        let missing = backend.transaction(&unknown).await.unwrap_err();
        assert!(missing.is_not_found(), "{missing}");
        match backend.broadcast(&tx.to_tx()).await {
            Err(BackendError::Rejected { txid, reason }) => {
                assert_eq!(txid, tx.txid);
                assert_eq!(reason, refusal);
            }
            other => panic!("expected a rejection, got {other:?}"),
        }
        // After the refusal the backend asked whether the transaction was known anyway.
        assert!(replay.asked().contains(&format!("GET /tx/{}", tx.txid)));
    }
}

#[tokio::test]
async fn backend_refuses_a_mainnet_server_for_another_network() {
    let replay = Replay::start(vec![mainnet_genesis()]).await;
    match replay.backend(Network::Testnet).tip_height().await {
        Err(BackendError::ChainMismatch {
            expected, actual, ..
        }) => {
            assert_eq!(expected, Network::Testnet);
            assert_eq!(actual, "bitcoin");
        }
        other => panic!("expected a chain mismatch, got {other:?}"),
    }
    assert_eq!(replay.asked(), ["GET /block-height/0".to_string()]);
}
