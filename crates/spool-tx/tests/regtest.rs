//! Against a real bitcoind -regtest (spool-testenv, no wallet): fund a refill key with
//! coinbases, refill the federation, refill a user, then sign every SPOOL shape from those
//! real UTXOs; bitcoind's `testmempoolaccept` must accept each one, and after mining, the
//! reservations settle on the node's statuses.

use bitcoin::{Address, Amount, Network, OutPoint, Txid};
use serde_json::{json, Value};
use spool_protocol::chain::TxStatus;
use spool_protocol::verb::{LoanDate, Verb};
use spool_testenv::Node;
use spool_tx::{
    build_action, build_refill, build_refill_main, BuiltTx, ReservationSet, TxError, TxParams, Utxo,
};
use spool_wallet::{LeafPath, MasterSecret, SigningKey, Wallet};

fn wallet(secret: &str) -> Wallet {
    Wallet::from_secret(&MasterSecret::new(secret), Network::Regtest).unwrap()
}

fn root_key(secret: &str) -> SigningKey {
    wallet(secret).signing_key(&LeafPath::root()).unwrap()
}

/// All UTXOs paying `addresses`, found with `scantxoutset` (the node has no wallet).
fn scan(node: &Node, addresses: &[&Address]) -> Vec<Utxo> {
    let descs: Vec<Value> = addresses
        .iter()
        .map(|a| json!({ "desc": format!("addr({a})") }))
        .collect();
    let reply = node
        .call("scantxoutset", &[json!("start"), Value::Array(descs)])
        .expect("scantxoutset");
    let tip = node.call("getblockcount", &[]).unwrap().as_u64().unwrap();
    let mut utxos: Vec<Utxo> = reply["unspents"]
        .as_array()
        .expect("unspents")
        .iter()
        .map(|u| {
            let height = u["height"].as_u64().unwrap();
            Utxo {
                outpoint: OutPoint::new(
                    u["txid"].as_str().unwrap().parse::<Txid>().unwrap(),
                    u["vout"].as_u64().unwrap() as u32,
                ),
                value: Amount::from_sat((u["amount"].as_f64().unwrap() * 1e8).round() as u64),
                script_pubkey: bitcoin::ScriptBuf::from_hex(u["scriptPubKey"].as_str().unwrap())
                    .unwrap(),
                confirmations: if height == 0 {
                    0
                } else {
                    (tip - height + 1) as u32
                },
                is_coinbase: u["coinbase"]
                    .as_bool()
                    .expect("scantxoutset reports coinbase"),
            }
        })
        .collect();
    utxos.sort_by_key(|u| (u.outpoint.txid.to_string(), u.outpoint.vout));
    utxos
}

fn assert_accepted(node: &Node, label: &str, built: &BuiltTx) {
    let reply = node
        .call("testmempoolaccept", &[json!([built.hex()])])
        .expect("testmempoolaccept");
    let result = &reply[0];
    assert_eq!(
        result["allowed"],
        json!(true),
        "{label}: bitcoind rejects {}: {result}",
        built.txid()
    );
    assert_eq!(result["txid"].as_str().unwrap(), built.txid().to_string());
    // bitcoind's own view of the fee matches ours.
    let fee_btc = result["fees"]["base"].as_f64().unwrap();
    assert_eq!(
        Amount::from_sat((fee_btc * 1e8).round() as u64),
        built.fee,
        "{label}"
    );
}

fn send(node: &Node, built: &BuiltTx) {
    let txid = node
        .call("sendrawtransaction", &[json!(built.hex())])
        .expect("sendrawtransaction");
    assert_eq!(txid.as_str().unwrap(), built.txid().to_string());
}

/// The status a backend would report, here straight from the node.
fn status(node: &Node, txid: &Txid) -> TxStatus {
    match node.call("getrawtransaction", &[json!(txid.to_string()), json!(true)]) {
        Ok(tx) if tx["confirmations"].as_u64().unwrap_or(0) > 0 => TxStatus::Confirmed,
        Ok(_) => TxStatus::InMempool,
        Err(_) => TxStatus::Gone,
    }
}

/// Releases the reservations of transactions the node has confirmed (or never had).
fn settle(set: &mut ReservationSet, node: &Node) -> usize {
    set.pending()
        .into_iter()
        .map(|(txid, _)| set.apply_status(&txid, status(node, &txid)))
        .sum()
}

/// Builds from the unreserved outputs and reserves what the transaction spends.
fn build_reserved(
    set: &mut ReservationSet,
    utxos: &[Utxo],
    build: impl FnOnce(&[Utxo]) -> Result<BuiltTx, TxError>,
) -> Result<BuiltTx, TxError> {
    let built = build(&set.available(utxos))?;
    set.reserve(built.txid(), &built.spent, 0)
        .expect("only free outpoints were offered");
    Ok(built)
}

#[test]
fn every_shape_is_accepted_by_bitcoind() {
    let node = Node::start().expect("regtest bitcoind must start (run `cargo xtask bitcoind`)");
    let params = TxParams::default();
    let mut reservations = ReservationSet::new();

    let refill = root_key("refill-secret");
    let federation = root_key("federation-secret");
    let alice_wallet = wallet("alice-secret");
    let alice_path = LeafPath::unique();
    let alice = alice_wallet.signing_key(&alice_path).unwrap();
    let bob = wallet("bob-secret").root_address();
    let (file_hash, file_hash_meta) = (
        wallet("piece")
            .address(&LeafPath::parse("1").unwrap())
            .unwrap(),
        wallet("piece")
            .address(&LeafPath::parse("2").unwrap())
            .unwrap(),
    );

    // Coinbases: 3 to the refill key's P2WPKH address, then 110 to its P2PKH address.
    let refill_p2pkh = refill.address();
    let refill_p2wpkh = refill.p2wpkh_address();
    assert!(refill_p2pkh.to_string().starts_with(['m', 'n']));
    node.mine_to(&refill_p2wpkh, 3).unwrap();
    node.mine_to(&refill_p2pkh, 110).unwrap();
    let coinbases = scan(&node, &[&refill_p2pkh, &refill_p2wpkh]);
    assert_eq!(coinbases.len(), 113);
    assert!(coinbases.iter().all(|u| u.is_coinbase));
    let immature: Vec<Utxo> = coinbases
        .iter()
        .filter(|u| u.confirmations < 100)
        .cloned()
        .collect();
    assert_eq!(
        immature.len(),
        99,
        "113 blocks: heights 15..=113 are immature"
    );
    // Immature coinbases are never spent.
    let err =
        build_refill_main(&params, &federation.address(), 1, 1, &immature, &refill).unwrap_err();
    assert!(
        err.to_string().starts_with("No spendable outputs found"),
        "{err}"
    );

    // Refill main wallet -> federation, from P2PKH coinbases.
    let (fed_fuel, fed_tokens) = (20, 40);
    let main_p2pkh = build_reserved(&mut reservations, &coinbases, |free| {
        build_refill_main(
            &params,
            &federation.address(),
            fed_fuel,
            fed_tokens,
            free,
            &refill,
        )
    })
    .unwrap();
    assert!(coinbases
        .iter()
        .filter(|u| main_p2pkh.spent.contains(&u.outpoint))
        .all(|u| u.confirmations >= 100));
    assert_accepted(&node, "refill main (p2pkh)", &main_p2pkh);
    send(&node, &main_p2pkh);
    // And from the P2WPKH coinbases only.
    let segwit: Vec<Utxo> = coinbases
        .iter()
        .filter(|u| u.script_pubkey.is_p2wpkh())
        .cloned()
        .collect();
    let main_p2wpkh = build_reserved(&mut reservations, &segwit, |free| {
        build_refill_main(&params, &federation.address(), 5, 10, free, &refill)
    })
    .unwrap();
    assert!(!main_p2wpkh.tx.input[0].witness.is_empty());
    assert_accepted(&node, "refill main (p2wpkh)", &main_p2wpkh);
    send(&node, &main_p2wpkh);
    node.mine_to(&bob, 1).unwrap();

    // Refill (FUEL) federation -> alice, from the federation's real UTXOs.
    let fed_utxos = scan(&node, &[&federation.address()]);
    assert_eq!(fed_utxos.len(), fed_fuel + fed_tokens + 15);
    let fuel_tx = build_reserved(&mut reservations, &fed_utxos, |free| {
        build_refill(&params, &alice.address(), 6, 12, free, &federation)
    })
    .unwrap();
    assert_accepted(&node, "refill (FUEL)", &fuel_tx);
    send(&node, &fuel_tx);
    node.mine_to(&bob, 1).unwrap();
    assert_eq!(settle(&mut reservations, &node), {
        main_p2pkh.spent.len() + main_p2wpkh.spent.len() + fuel_tx.spent.len()
    });
    assert!(reservations.is_empty());

    // Every action verb, from real UTXOs: federated ones with the federation's root key,
    // the others with alice's key at her time path.
    let fed_utxos = scan(&node, &[&federation.address()]);
    let alice_utxos = scan(&node, &[&alice.address()]);
    assert_eq!(alice_utxos.len(), 18);
    let alice_new = alice_wallet.address(&LeafPath::unique()).unwrap();
    let three = [file_hash.clone(), file_hash_meta.clone(), alice.address()];
    let two = [file_hash.clone(), bob.clone()];
    let federated: Vec<(Verb, Vec<Address>)> = vec![
        (Verb::Piece, three.to_vec()),
        (Verb::Register { edition: 0 }, three.to_vec()),
        (Verb::Register { edition: 1 }, three.to_vec()),
        (Verb::Editions { count: 5 }, three.to_vec()),
        (Verb::ConsignedRegistration, three.to_vec()),
        (
            Verb::Migrate { edition: 1 },
            vec![file_hash.clone(), alice.address(), alice_new.clone()],
        ),
    ];
    let by_user: Vec<(Verb, Vec<Address>)> = vec![
        (Verb::Transfer { edition: 1 }, two.to_vec()),
        (Verb::Consign { edition: 1 }, two.to_vec()),
        (Verb::Unconsign { edition: 1 }, two.to_vec()),
        (
            Verb::Loan {
                edition: 1,
                start: LoanDate(*b"150526"),
                end: LoanDate(*b"150528"),
            },
            two.to_vec(),
        ),
    ];
    let mut built_all = Vec::new();
    for (verbs, utxos, key) in [
        (&federated, &fed_utxos, &federation),
        (&by_user, &alice_utxos, &alice),
    ] {
        for (verb, recipients) in verbs {
            let built = build_reserved(&mut reservations, utxos, |free| {
                build_action(&params, verb, recipients, free, key)
            })
            .unwrap();
            assert_eq!(built.tx.output.len(), recipients.len() + 1);
            assert_accepted(&node, &verb.to_string(), &built);
            built_all.push(built);
        }
    }
    // pyspool-compatible bytes (version 1, final sequences) are accepted too.
    let compat = build_reserved(&mut reservations, &alice_utxos, |free| {
        build_action(
            &TxParams::compat(),
            &Verb::Transfer { edition: 2 },
            &two,
            free,
            &alice,
        )
    })
    .unwrap();
    assert_eq!(compat.tx.version, bitcoin::transaction::Version::ONE);
    assert_accepted(&node, "compat transfer", &compat);
    built_all.push(compat);

    // No outpoint twice; all of them together enter the mempool and confirm.
    let mut spent: Vec<OutPoint> = built_all.iter().flat_map(|b| b.spent.clone()).collect();
    let total = spent.len();
    spent.sort();
    spent.dedup();
    assert_eq!(spent.len(), total);
    for built in &built_all {
        send(&node, built);
    }
    assert_eq!(settle(&mut reservations, &node), 0, "still in mempool");
    node.mine_to(&bob, 1).unwrap();
    assert_eq!(settle(&mut reservations, &node), total);
    assert!(reservations.is_empty());
    // The piece address received one TOKEN per registration-type action.
    let piece_utxos = scan(&node, &[&file_hash]);
    assert_eq!(piece_utxos.len(), built_all.len());
}
