//! The Esplora-compatible test server, checked endpoint by endpoint through esplora-client
//! against what the node itself says.

use bitcoin::hashes::{sha256d, Hash};
use bitcoin::{Address, Amount, BlockHash, Network, Txid};
use serde_json::{json, Value};
use spool_testenv::esplora::EsploraServer;
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
    assert!(client
        .get_block_status(&BlockHash::all_zeros())
        .await
        .is_err());

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
