//! pyspool's own signed transactions (vectors/transactions.json): in compatibility mode
//! spool-tx reproduces `unsigned_hex` and `signed_hex` byte for byte.

mod common;

use bitcoin::consensus::encode::serialize_hex;
use bitcoin::{Address, Amount, Network, OutPoint, Txid};
use serde::Deserialize;
use spool_tx::{build_spool_tx, sign, TxParams, Utxo};
use spool_wallet::{LeafPath, MasterSecret, Wallet};

#[derive(Deserialize)]
struct Input {
    txid: String,
    vout: u32,
    amount: u64,
}

#[derive(Deserialize)]
struct Output {
    address: Option<String>,
    script: Option<String>,
    value: u64,
}

#[derive(Deserialize)]
struct Vector {
    secret: String,
    path: String,
    network: String,
    from_address: String,
    inputs: Vec<Input>,
    outputs: Vec<Output>,
    verb: String,
    unsigned_hex: String,
    signed_hex: String,
}

#[test]
fn compat_mode_reproduces_every_pyspool_signed_transaction() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../vectors/transactions.json"
    );
    let vectors: Vec<Vector> =
        serde_json::from_str(&std::fs::read_to_string(path).expect("read vectors")).unwrap();
    assert_eq!(vectors.len(), 8);
    let params = TxParams::compat();
    for (i, v) in vectors.iter().enumerate() {
        let network = match v.network.as_str() {
            "mainnet" => Network::Bitcoin,
            "testnet" => Network::Testnet,
            other => panic!("network {other}"),
        };
        let wallet = Wallet::from_secret(&MasterSecret::new(v.secret.clone()), network).unwrap();
        let key = wallet
            .signing_key(&LeafPath::parse(&v.path).unwrap())
            .unwrap();
        assert_eq!(key.address().to_string(), v.from_address, "vector {i}");
        let utxo = |inp: &Input| Utxo {
            outpoint: OutPoint::new(inp.txid.parse::<Txid>().unwrap(), inp.vout),
            value: Amount::from_sat(inp.amount),
            script_pubkey: key.address().script_pubkey(),
            confirmations: 1,
            is_coinbase: false,
        };
        let fuel: Vec<Utxo> = v
            .inputs
            .iter()
            .filter(|i| i.amount == 30_000)
            .map(utxo)
            .collect();
        let tokens: Vec<Utxo> = v
            .inputs
            .iter()
            .filter(|i| i.amount == 3_000)
            .map(utxo)
            .collect();
        assert_eq!(fuel.len() + tokens.len(), v.inputs.len());
        let recipients: Vec<Address> = v
            .outputs
            .iter()
            .filter_map(|o| o.address.as_ref())
            .map(|a| {
                a.parse::<Address<_>>()
                    .unwrap()
                    .require_network(network)
                    .unwrap()
            })
            .collect();
        let verb = common::verb(&v.verb);
        let op_return = v.outputs.last().unwrap();
        assert_eq!(op_return.value, 0);
        assert_eq!(
            Some(hex(verb.op_return_script().as_bytes())),
            op_return.script.clone(),
            "vector {i}"
        );

        let built = build_spool_tx(&params, &verb, &recipients, &fuel, &tokens, &key)
            .unwrap_or_else(|e| panic!("vector {i} {}: {e}", v.verb));
        assert_eq!(
            serialize_hex(&built.tx),
            v.signed_hex,
            "vector {i} {}",
            v.verb
        );
        let mut unsigned = built.tx.clone();
        for input in &mut unsigned.input {
            input.script_sig = bitcoin::ScriptBuf::new();
        }
        assert_eq!(serialize_hex(&unsigned), v.unsigned_hex, "vector {i}");
        assert_eq!(built.fee, Amount::from_sat(30_000 * fuel.len() as u64));
        assert_eq!(built.spent.len(), v.inputs.len());
        for (o, want) in built.tx.output.iter().zip(&v.outputs) {
            assert_eq!(o.value.to_sat(), want.value);
        }

        // The independent verifier accepts pyspool's own bytes too.
        let tx: bitcoin::Transaction =
            bitcoin::consensus::encode::deserialize_hex(&v.signed_hex).unwrap();
        let prevouts: Vec<_> = fuel
            .iter()
            .chain(&tokens)
            .map(|u| bitcoin::TxOut {
                value: u.value,
                script_pubkey: u.script_pubkey.clone(),
            })
            .collect();
        sign::verify_all(&tx, &prevouts).unwrap();
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
