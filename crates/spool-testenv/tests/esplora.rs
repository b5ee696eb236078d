//! The Esplora-compatible test server, checked endpoint by endpoint through esplora-client
//! against what the node itself says.

use std::str::FromStr;

use bitcoin::hashes::{sha256d, Hash};
use bitcoin::{Address, Amount, BlockHash, Network, Txid};
use serde_json::{json, Value};
use spool_testenv::esplora::{EsploraServer, Flavor};
use spool_testenv::Node;

fn node_json(node: &Node, method: &str, params: &[Value]) -> Value {
    node.call(method, params).unwrap()
}

/// A P2PKH address nobody holds (the server only indexes; nothing is spent from it here).
fn address(tag: u8) -> Address {
    Address::p2pkh(bitcoin::PubkeyHash::hash(&[tag; 4]), Network::Regtest)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_agree_with_the_node() {
    let node = Node::start().unwrap();
    let miner = address(1);
    let hashes = node.mine_to(&miner, 3).unwrap();
    let server = EsploraServer::start(&node).unwrap();
    let client = esplora_client::Builder::new(server.url())
        .max_retries(0)
        .build_async()
        .unwrap();

    // Tip and blocks.
    assert_eq!(client.get_height().await.unwrap(), 3);
    assert_eq!(client.get_tip_hash().await.unwrap(), hashes[2]);
    assert_eq!(client.get_block_hash(2).await.unwrap(), hashes[1]);
    let raw = node_json(&node, "getblock", &[json!(hashes[1].to_string()), json!(0)]);
    let block: bitcoin::Block =
        bitcoin::consensus::encode::deserialize_hex(raw.as_str().unwrap()).unwrap();
    assert_eq!(
        client.get_block_by_hash(&hashes[1]).await.unwrap(),
        Some(block.clone())
    );
    assert_eq!(
        client.get_header_by_hash(&hashes[1]).await.unwrap(),
        block.header
    );
    let status = client.get_block_status(&hashes[1]).await.unwrap();
    assert!(status.in_best_chain);
    assert_eq!(status.height, Some(2));
    assert_eq!(status.next_best, Some(hashes[2]));
    let info = client.get_block_info(&hashes[1]).await.unwrap();
    assert_eq!((info.id, info.height, info.tx_count), (hashes[1], 2, 1));
    assert_eq!(info.previousblockhash, Some(hashes[0]));
    let coinbase = block.txdata[0].compute_txid();
    assert_eq!(
        client.get_block_txids(&hashes[1]).await.unwrap(),
        vec![coinbase]
    );
    assert_eq!(
        client.get_txid_at_block_index(&hashes[1], 0).await.unwrap(),
        Some(coinbase)
    );
    assert_eq!(
        client.get_txid_at_block_index(&hashes[1], 1).await.unwrap(),
        None
    );
    // electrs cannot tell an unknown block from an orphaned one: 200, not in the best chain.
    let unknown = client
        .get_block_status(&BlockHash::all_zeros())
        .await
        .unwrap();
    assert!(!unknown.in_best_chain);
    assert_eq!((unknown.height, unknown.next_best), (None, None));

    // A coinbase.
    let tx = client.get_tx_info(&coinbase).await.unwrap().unwrap();
    assert!(tx.vin[0].is_coinbase && tx.vin[0].prevout.is_none());
    assert_eq!(tx.to_tx(), block.txdata[0]);
    assert_eq!(tx.status.block_height, Some(2));
    assert_eq!(tx.status.block_time, Some(u64::from(block.header.time)));
    assert_eq!(
        client.get_tx(&coinbase).await.unwrap(),
        Some(block.txdata[0].clone())
    );
    assert_eq!(client.get_tx_info(&Txid::all_zeros()).await.unwrap(), None);

    // Address stats, history and UTXOs of the miner (immature coinbases are still UTXOs).
    let stats = client.get_address_stats(&miner).await.unwrap();
    assert_eq!(stats.chain_stats.tx_count, 3);
    assert_eq!(stats.chain_stats.funded_txo_count, 3);
    assert_eq!(stats.mempool_stats.tx_count, 0);
    let txs = client.get_address_txs(&miner, None).await.unwrap();
    assert_eq!(txs.len(), 3);
    assert_eq!(txs[0].status.block_height, Some(3), "newest first");
    let utxos = client.get_address_utxos(&miner).await.unwrap();
    assert_eq!(utxos.len(), 3);
    assert!(utxos.iter().all(|u| u.value == Amount::from_int_btc(50)));
    let by_script = client
        .get_scripthash_txs(&miner.script_pubkey(), None)
        .await
        .unwrap();
    assert_eq!(by_script.len(), 3);

    // Outspends, merkle proofs and broadcasts: a block with several transactions. The
    // node has no wallet: spend nothing, but mine 101 blocks so that the coinbase of block
    // 1 could be spent, and check proofs for a block of many (coinbase-only) heights.
    node.mine_to(&address(2), 101).unwrap();
    let outspends = client.get_tx_outspends(&coinbase).await.unwrap();
    assert!(outspends.iter().all(|o| !o.spent));
    let proof = client.get_merkle_proof(&coinbase).await.unwrap().unwrap();
    assert_eq!((proof.block_height, proof.pos), (2, 0));
    assert!(proof.merkle.is_empty(), "single-transaction block");
    let refused = client.broadcast(&block.txdata[0]).await;
    assert!(
        matches!(
            refused,
            Err(esplora_client::Error::HttpResponse { status: 400, .. })
        ),
        "a coinbase cannot be broadcast: {refused:?}"
    );
    assert_eq!(client.get_height().await.unwrap(), 104);
    assert!(server.request_count() > 20);
}

#[test]
fn merkle_proofs_hash_to_the_header_root() {
    // The branch computation, checked on a block of many transactions built offline.
    let txids: Vec<Txid> = (0u8..7)
        .map(|i| Txid::from_byte_array(sha256d::Hash::hash(&[i]).to_byte_array()))
        .collect();
    let root = bitcoin::merkle_tree::calculate_root(txids.iter().copied()).unwrap();
    for (position, txid) in txids.iter().enumerate() {
        let branch = spool_testenv::esplora::merkle_branch(&txids, position);
        let mut node = txid.to_byte_array();
        let mut pos = position;
        for sibling in branch {
            let mut both = [0u8; 64];
            if pos % 2 == 0 {
                both[..32].copy_from_slice(&node);
                both[32..].copy_from_slice(&sibling.to_byte_array());
            } else {
                both[..32].copy_from_slice(&sibling.to_byte_array());
                both[32..].copy_from_slice(&node);
            }
            node = sha256d::Hash::hash(&both).to_byte_array();
            pos /= 2;
        }
        assert_eq!(node, root.to_byte_array(), "position {position}");
    }
}

/// A P2WSH address anyone can spend from (witness script `OP_TRUE`): transactions without keys.
fn anyone() -> (Address, bitcoin::ScriptBuf) {
    let script = bitcoin::ScriptBuf::from_bytes(vec![bitcoin::opcodes::OP_TRUE.to_u8()]);
    (Address::p2wsh(&script, Network::Regtest), script)
}

/// Spends `outpoint` (worth `value`, locked to [`anyone`]) to `outputs` outputs back to it.
fn spend(outpoint: bitcoin::OutPoint, value: Amount, outputs: u64) -> bitcoin::Transaction {
    let (address, script) = anyone();
    let each = (value - Amount::from_sat(10_000)) / outputs;
    bitcoin::Transaction {
        version: bitcoin::transaction::Version::TWO,
        lock_time: bitcoin::absolute::LockTime::ZERO,
        input: vec![bitcoin::TxIn {
            previous_output: outpoint,
            script_sig: bitcoin::ScriptBuf::new(),
            sequence: bitcoin::Sequence::MAX,
            witness: bitcoin::Witness::from_slice(&[script.as_bytes()]),
        }],
        output: (0..outputs)
            .map(|_| bitcoin::TxOut {
                value: each,
                script_pubkey: address.script_pubkey(),
            })
            .collect(),
    }
}

fn send(node: &Node, tx: &bitcoin::Transaction) -> Txid {
    let hex = bitcoin::consensus::encode::serialize_hex(tx);
    // maxfeerate 0: no ceiling on the fee rate.
    let txid = node_json(node, "sendrawtransaction", &[json!(hex), json!(0)]);
    Txid::from_str(txid.as_str().unwrap()).unwrap()
}

/// A raw `GET` (or `POST` with `body`): the status and the body, whatever they are.
async fn raw(server: &EsploraServer, method: &str, path: &str, body: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await.unwrap();
    let status = reply[9..12].parse().unwrap();
    let body = reply.split_once("\r\n\r\n").unwrap().1.to_string();
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_order_and_replies_follow_electrs() {
    let node = Node::start().unwrap();
    let (anyone, _) = anyone();
    let coinbase_block = node.mine_to(&anyone, 1).unwrap()[0];
    node.mine_to(&address(9), 100).unwrap();
    let server = EsploraServer::start(&node).unwrap();
    let mempool_space = EsploraServer::start_flavor(&node, Flavor::MempoolSpace).unwrap();
    let client = esplora_client::Builder::new(server.url())
        .max_retries(0)
        .build_async()
        .unwrap();
    let coinbase = client.get_block_txids(&coinbase_block).await.unwrap()[0];
    let fan = spend(
        bitcoin::OutPoint {
            txid: coinbase,
            vout: 0,
        },
        Amount::from_int_btc(50),
        90,
    );
    let fan_txid = send(&node, &fan);
    node.mine_to(&address(9), 1).unwrap();

    // 55 spends, each seen by the server before the next is sent: the mempool list is the
    // first 50 in the order seen (oldest first), whatever API.md's "newest first" says.
    let mut sent = Vec::new();
    for vout in 0..55 {
        let outpoint = bitcoin::OutPoint {
            txid: fan_txid,
            vout,
        };
        sent.push(send(&node, &spend(outpoint, fan.output[0].value, 1)));
        client.get_height().await.unwrap();
    }
    let mempool: Vec<Txid> = client
        .get_mempool_address_txs(&anyone)
        .await
        .unwrap()
        .iter()
        .map(|t| t.txid)
        .collect();
    assert_eq!(mempool, sent[..50]);
    let first = client.get_address_txs(&anyone, None).await.unwrap();
    assert_eq!(
        first.len(),
        52,
        "50 unconfirmed, then the fan-out and the coinbase"
    );
    let on_mempool_space = esplora_client::Builder::new(mempool_space.url())
        .build_async()
        .unwrap()
        .get_address_txs(&anyone, None)
        .await
        .unwrap();
    assert_eq!(on_mempool_space.len(), 50, "mempool.space: 50 in all");

    // Mined: 57 confirmed. Pages of 25, newest block first; within the block of the spends,
    // electrs' index order (descending txid bytes), not the block's.
    let spends_block = node.mine_to(&address(9), 1).unwrap()[0];
    let page1 = client.get_address_txs(&anyone, None).await.unwrap();
    let mut by_bytes = sent.clone();
    by_bytes.sort_by_key(|t| std::cmp::Reverse(t.to_byte_array()));
    assert_eq!(
        page1.iter().map(|t| t.txid).collect::<Vec<_>>(),
        by_bytes[..25]
    );
    let block_order = client.get_block_txids(&spends_block).await.unwrap();
    assert_ne!(
        block_order[1..26],
        by_bytes[..25],
        "the order is not the block's"
    );
    let page2 = client
        .get_address_txs(&anyone, Some(page1[24].txid))
        .await
        .unwrap();
    assert_eq!(
        page2.iter().map(|t| t.txid).collect::<Vec<_>>(),
        by_bytes[25..50]
    );
    let page3 = client
        .get_address_txs(&anyone, Some(page2[24].txid))
        .await
        .unwrap();
    let mut rest: Vec<Txid> = by_bytes[50..].to_vec();
    rest.extend([fan_txid, coinbase]);
    assert_eq!(page3.iter().map(|t| t.txid).collect::<Vec<_>>(), rest);
    // A last_seen not in the history: an empty page; not hex: the first page.
    let stranger = client
        .get_address_txs(&anyone, Some(Txid::all_zeros()))
        .await
        .unwrap();
    assert!(stranger.is_empty());
    let (status, body) = raw(
        &server,
        "GET",
        &format!("/address/{anyone}/txs/chain/nothex"),
        "",
    )
    .await;
    assert_eq!(status, 200);
    let parsed: Vec<Value> = serde_json::from_str(&body).unwrap();
    assert_eq!(parsed.len(), 25);

    // Replies for unknown or malformed things: electrs' status codes and bodies.
    let zeros = Txid::all_zeros();
    let unspent = sent[0];
    let cases = [
        (
            "GET",
            format!("/tx/{zeros}"),
            404,
            "Transaction not found".to_string(),
        ),
        (
            "GET",
            format!("/tx/{zeros}/hex"),
            404,
            "Transaction not found".into(),
        ),
        (
            "GET",
            format!("/tx/{zeros}/status"),
            200,
            r#"{"confirmed":false}"#.into(),
        ),
        (
            "GET",
            format!("/tx/{zeros}/outspend/7"),
            200,
            r#"{"spent":false}"#.into(),
        ),
        (
            "GET",
            format!("/tx/{unspent}/outspend/x"),
            400,
            "Invalid number".into(),
        ),
        ("GET", "/tx/nothex".into(), 400, "Invalid hex string".into()),
        (
            "GET",
            "/block/nothex".into(),
            400,
            "Invalid hex string".into(),
        ),
        (
            "GET",
            format!("/block/{}", BlockHash::all_zeros()),
            404,
            "Block not found".into(),
        ),
        (
            "GET",
            "/block-height/x".into(),
            400,
            "Invalid number".into(),
        ),
        (
            "GET",
            "/block-height/9999".into(),
            404,
            "Block not found".into(),
        ),
        (
            "GET",
            format!("/block/{spends_block}/txid/99"),
            404,
            "tx index out of range".into(),
        ),
        (
            "GET",
            format!("/block/{spends_block}/txs/5"),
            400,
            "start index must be a multiple of 25".into(),
        ),
        (
            "GET",
            format!("/block/{spends_block}/txs/75"),
            404,
            "start index out of range".into(),
        ),
        (
            "GET",
            "/address/bc1qak63vld8a97884unr6epxzkrud8xs3dfdqswy2/txs".into(),
            400,
            "Address on invalid network".into(),
        ),
        (
            "GET",
            "/scripthash/xyz/txs".into(),
            400,
            "Invalid scripthash".into(),
        ),
        (
            "GET",
            "/nowhere".into(),
            404,
            r#"endpoint does not exist "/nowhere""#.into(),
        ),
        (
            "DELETE",
            "/tx".into(),
            404,
            r#"endpoint does not exist "/tx""#.into(),
        ),
    ];
    for (method, path, status, body) in cases {
        assert_eq!(
            raw(&server, method, &path, "").await,
            (status, body),
            "{method} {path}"
        );
    }
    // All 55 are mined now; one more spend waits in the mempool: no merkle proof for it.
    assert!(client.get_tx_status(&sent[50]).await.unwrap().confirmed);
    let last = send(
        &node,
        &spend(
            bitcoin::OutPoint {
                txid: fan_txid,
                vout: 60,
            },
            fan.output[0].value,
            1,
        ),
    );
    assert_eq!(
        raw(&server, "GET", &format!("/tx/{last}/merkle-proof"), "").await,
        (404, "Transaction not found or is unconfirmed".to_string())
    );
    let (status, body) = raw(&server, "POST", "/tx", "00").await;
    assert_eq!(status, 400);
    assert!(
        body.starts_with("sendrawtransaction RPC error -22: "),
        "a refused broadcast names the RPC and its code: {body}"
    );
}
