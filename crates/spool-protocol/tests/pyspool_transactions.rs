//! Real pyspool transactions (`vectors/transactions.json`): the verb is deciphered from the
//! signed bytes, and the history reads pyspool's addresses (from, piece, to) off them.

use serde_json::Value;
use spool_protocol::bitcoin::consensus::encode::deserialize_hex;
use spool_protocol::bitcoin::{Address, Amount, Network, Transaction, TxOut};
use spool_protocol::chain::{ChainTx, TxPlace};
use spool_protocol::history::History;
use spool_protocol::payload::{decipher, find_verb};
use spool_protocol::verb::Verb;

#[test]
fn verbs_and_addresses_of_pyspool_transactions() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../vectors/transactions.json"
    );
    let cases: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(cases.len(), 8);
    for case in &cases {
        let network = match case["network"].as_str().unwrap() {
            "mainnet" => Network::Bitcoin,
            _ => Network::Testnet,
        };
        let tx: Transaction = deserialize_hex(case["signed_hex"].as_str().unwrap()).unwrap();
        let verb_text = case["verb"].as_str().unwrap();
        let verb = decipher(&tx).unwrap();
        assert_eq!(verb.to_string(), verb_text);
        assert_eq!(verb, Verb::decode(verb_text).unwrap());
        assert_eq!(find_verb(&tx).unwrap().0 as usize, tx.output.len() - 1);

        let from = case["from_address"].as_str().unwrap();
        let from_script = from
            .parse::<Address<_>>()
            .unwrap()
            .require_network(network)
            .unwrap()
            .script_pubkey();
        let prevouts = case["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| TxOut {
                value: Amount::from_sat(i["amount"].as_u64().unwrap()),
                script_pubkey: from_script.clone(),
            })
            .collect();
        let outputs = case["outputs"].as_array().unwrap();
        let addresses: Vec<&str> = outputs
            .iter()
            .filter_map(|o| o["address"].as_str())
            .collect();
        let piece = addresses[0];
        let chain_tx = ChainTx {
            tx,
            prevouts,
            place: TxPlace::Unconfirmed,
        };
        let history = History::build(
            &piece.parse::<Address<_>>().unwrap().assume_checked(),
            network,
            &[chain_tx],
            &[],
        )
        .unwrap();
        let events = history.events();
        if verb == Verb::Fuel {
            // A refill pays the user's address first; as a "piece" event it is refused.
            assert_eq!(events.len(), 1);
            assert!(!events[0].valid);
            continue;
        }
        assert_eq!(events.len(), 1, "{verb_text}");
        let event = &events[0];
        assert_eq!(event.verb, verb_text);
        assert_eq!(event.from_address, from);
        assert_eq!(event.piece_address, piece);
        assert_eq!(event.to_address, *addresses.last().unwrap());
        assert_eq!(event.action, verb.action().as_str());
    }
}
