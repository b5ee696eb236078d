//! Admission control of `spool serve` (issue 18, item 2): a transaction that would replace a
//! pending SPOOL transaction is refused with a JSON 409 naming it, before the node sees it,
//! unless it is a fee bump of the same action (the same outputs, paid with more fuel).

mod serving;
mod support;

use std::str::FromStr;

use bitcoin::consensus::encode::{deserialize_hex, serialize_hex};
use bitcoin::{Address, Network, OutPoint, Transaction, TxIn, TxOut};
use serde_json::Value;
use serving::{Parties, Server};
use spool_cli::subcommand::history;
use spool_wallet::{LeafPath, MasterSecret, Wallet};
use support::{Env, Scenario, FEDERATION};

fn raw_tx(env: &Env, txid: &str) -> Transaction {
    let hex = env
        .node
        .call("getrawtransaction", &[Value::from(txid)])
        .expect("getrawtransaction");
    deserialize_hex(hex.as_str().unwrap()).unwrap()
}

fn prevout(env: &Env, outpoint: &OutPoint) -> TxOut {
    raw_tx(env, &outpoint.txid.to_string()).output[outpoint.vout as usize].clone()
}

/// `tx` with its inputs re-signed by the federation's root key.
fn signed(env: &Env, mut tx: Transaction) -> Transaction {
    let wallet = Wallet::from_secret(&MasterSecret::new(FEDERATION.secret), Network::Regtest)
        .expect("the federation's wallet");
    let key = wallet.signing_key(&LeafPath::root()).expect("root key");
    for input in &mut tx.input {
        input.script_sig = bitcoin::ScriptBuf::new();
    }
    let prevouts: Vec<TxOut> = tx
        .input
        .iter()
        .map(|i| prevout(env, &i.previous_output))
        .collect();
    spool_tx::sign::sign_all(&mut tx, &prevouts, &key).expect("sign");
    tx
}

#[test]
fn a_replacement_of_another_pending_action_is_refused_and_a_fee_bump_admitted() {
    let env = Env::start();
    let p = Parties::new(&env);
    Scenario::funded(&env, 6, 12);
    let server = Server::start(&env, &["--watch", &p.federation]);
    server.wait_synced(&env);
    let via = ["--server", server.url.as_str()];
    let first = env.act(
        &FEDERATION,
        "",
        &[
            &via[..],
            &[
                "register",
                "--piece",
                &p.piece,
                "--to",
                &p.user1,
                "--edition",
                "0",
            ],
        ]
        .concat(),
    );
    server.wait_synced(&env);
    let pending = raw_tx(&env, &first.txid);

    // Another action on the same outputs: the master edition to a stranger instead.
    let mut other = pending.clone();
    let last_recipient = other.output.len() - 2;
    other.output[last_recipient].script_pubkey = Address::from_str(&p.stranger)
        .unwrap()
        .assume_checked()
        .script_pubkey();
    let other = signed(&env, other);
    let (status, body) = serving::post(&server.url, "/api/v1/tx", &serialize_hex(&other));
    assert_eq!(status, 409, "{body}");
    let reply: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(reply["conflict"], first.txid.as_str(), "{body}");
    let error = reply["error"].as_str().unwrap();
    assert!(
        error.contains(&format!("pending SPOOL transaction {}", first.txid))
            && error.contains("ASCRIBESPOOL01REGISTER0"),
        "{error}"
    );
    assert_eq!(
        env.mempool(),
        vec![first.txid.clone()],
        "the node never saw it"
    );

    // A fee bump of the same action: the same outputs, one more fuel input.
    let utxos = server.json(&format!("/api/v1/address/{}/utxos", p.federation));
    let spent: Vec<OutPoint> = pending.input.iter().map(|i| i.previous_output).collect();
    let fuel = utxos["utxos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| OutPoint::from_str(u["outpoint"].as_str().expect("an outpoint")).unwrap())
        .find(|o| !spent.contains(o) && prevout(&env, o).value.to_sat() == 30_000)
        .expect("another fuel output");
    let mut bump = pending.clone();
    bump.input.push(TxIn {
        previous_output: fuel,
        sequence: pending.input[0].sequence,
        ..TxIn::default()
    });
    let bump = signed(&env, bump);
    let (status, body) = serving::post(&server.url, "/api/v1/tx", &serialize_hex(&bump));
    assert_eq!(status, 200, "{body}");
    let bumped = bump.compute_txid().to_string();
    assert_eq!(env.mempool(), vec![bumped.clone()], "the bump replaced it");

    env.mine(1);
    server.wait_synced(&env);
    let h: history::Output = env.json(&["history", &p.file_hash]);
    let registers: Vec<_> = h.events.iter().filter(|e| e.action == "REGISTER").collect();
    assert_eq!(registers.len(), 1, "{:?}", h.events);
    assert_eq!(registers[0].txid, bumped);
}
