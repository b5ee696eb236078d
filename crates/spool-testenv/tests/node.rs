//! The regtest environment itself, against a real bitcoind.

use bitcoin::secp256k1::{Secp256k1, SecretKey};
use bitcoin::{Address, CompressedPublicKey, Network};
use serde_json::{json, Value};
use spool_testenv::Node;

fn p2pkh_testnet_address(seed: u8) -> Address {
    let secp = Secp256k1::new();
    let secret = SecretKey::from_slice(&[seed; 32]).expect("valid key");
    let public = CompressedPublicKey(secret.public_key(&secp));
    Address::p2pkh(public, Network::Testnet)
}

#[test]
fn mines_to_a_p2pkh_testnet_address_and_finds_mature_coinbases_with_scantxoutset() {
    let node = Node::start().expect("a regtest bitcoind must be available");
    let address = p2pkh_testnet_address(7);
    assert!(address.to_string().starts_with('m') || address.to_string().starts_with('n'));

    let hashes = node.mine_to(&address, 101).expect("mining works");
    assert_eq!(hashes.len(), 101);

    let scan = node
        .call(
            "scantxoutset",
            &[json!("start"), json!([format!("addr({address})")])],
        )
        .expect("scantxoutset answers");
    let tip = node
        .call("getblockcount", &[])
        .expect("tip")
        .as_u64()
        .unwrap();
    assert_eq!(tip, 101);
    let unspents = scan["unspents"].as_array().expect("unspents array");
    assert_eq!(unspents.len(), 101, "one coinbase per block");
    let mature: Vec<&Value> = unspents
        .iter()
        .filter(|u| u["coinbase"].as_bool() == Some(true))
        .filter(|u| tip + 1 - u["height"].as_u64().unwrap() >= 100)
        .collect();
    assert_eq!(mature.len(), 2, "blocks 1 and 2 are spendable in block 102");
    for coin in mature {
        assert_eq!(coin["amount"].as_f64(), Some(50.0));
    }
}

#[test]
fn two_nodes_run_side_by_side_and_are_cleaned_up() {
    let first = Node::start().expect("first node");
    let second = Node::start().expect("second node");
    assert_ne!(first.rpc_port(), second.rpc_port());
    assert_ne!(first.datadir(), second.datadir());

    first.mine_to(&p2pkh_testnet_address(1), 3).unwrap();
    second.mine_to(&p2pkh_testnet_address(2), 5).unwrap();
    let height = |n: &Node| n.call("getblockcount", &[]).unwrap().as_u64().unwrap();
    assert_eq!(height(&first), 3, "the nodes do not share a chain");
    assert_eq!(height(&second), 5);

    let dirs = [
        first.datadir().to_path_buf(),
        second.datadir().to_path_buf(),
    ];
    let pids = [first.pid().unwrap(), second.pid().unwrap()];
    drop(first);
    drop(second);
    for dir in &dirs {
        assert!(!dir.exists(), "{} was not deleted", dir.display());
    }
    for pid in pids {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let zombie_or_gone = status.is_empty() || status.contains("State:\tZ");
        assert!(zombie_or_gone, "bitcoind {pid} still runs");
    }
}

#[test]
fn a_node_restarts_on_its_own_data() {
    let mut node = Node::start().expect("node");
    node.mine_to(&p2pkh_testnet_address(3), 4).unwrap();
    node.restart().expect("restart");
    let height = node.call("getblockcount", &[]).unwrap().as_u64().unwrap();
    assert_eq!(height, 4, "chain survives a restart");
}
