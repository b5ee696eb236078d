//! OP_RETURN scripts and finding the verb in a transaction.

use spool_protocol::bitcoin::absolute::LockTime;
use spool_protocol::bitcoin::hex::DisplayHex;
use spool_protocol::bitcoin::opcodes::all::OP_RETURN;
use spool_protocol::bitcoin::script::{Builder, PushBytesBuf};
use spool_protocol::bitcoin::transaction::Version;
use spool_protocol::bitcoin::{Amount, ScriptBuf, Transaction, TxOut};
use spool_protocol::payload::{
    decipher, find_verb, op_return_payload, op_return_script, Flaw, OutputFlaw, PayloadError,
    MAX_PAYLOAD,
};
use spool_protocol::verb::{Verb, VerbError};

fn tx(outputs: Vec<ScriptBuf>) -> Transaction {
    Transaction {
        version: Version::ONE,
        lock_time: LockTime::ZERO,
        input: vec![],
        output: outputs
            .into_iter()
            .map(|script_pubkey| TxOut {
                value: Amount::from_sat(3000),
                script_pubkey,
            })
            .collect(),
    }
}

fn p2pkh() -> ScriptBuf {
    ScriptBuf::from_hex("76a914000102030405060708090a0b0c0d0e0f1011121388ac").unwrap()
}

fn verb_script(text: &str) -> ScriptBuf {
    op_return_script(text.as_bytes()).unwrap()
}

#[test]
fn op_return_script_is_6a_length_verb() {
    let script = op_return_script(b"ASCRIBESPOOL01PIECE").unwrap();
    assert_eq!(
        script.as_bytes().to_lower_hex_string(),
        "6a134153435249424553504f4f4c30315049454345"
    );
    assert_eq!(script, Verb::Piece.op_return_script());
    assert_eq!(op_return_payload(&script).unwrap(), b"ASCRIBESPOOL01PIECE");
}

#[test]
fn payloads_up_to_80_bytes_build_and_longer_ones_are_refused() {
    for len in [0, 1, 75, 76, MAX_PAYLOAD] {
        let payload = vec![b'A'; len];
        let script = op_return_script(&payload).unwrap();
        assert_eq!(op_return_payload(&script).unwrap(), payload.as_slice());
    }
    let err = op_return_script(&[b'A'; 81]).unwrap_err();
    assert_eq!(err, PayloadError::TooLong { len: 81 });
    assert!(err.to_string().contains("81 bytes"));
    // A longer push found on chain is refused as well.
    let long = Builder::new()
        .push_opcode(OP_RETURN)
        .push_slice(PushBytesBuf::try_from(vec![b'A'; 100]).unwrap())
        .into_script();
    assert_eq!(
        op_return_payload(&long).unwrap_err(),
        PayloadError::TooLong { len: 100 }
    );
}

#[test]
fn malformed_op_returns_are_named() {
    let bare = ScriptBuf::from_hex("6a").unwrap();
    assert!(matches!(
        op_return_payload(&bare),
        Err(PayloadError::Malformed { .. })
    ));
    let two = ScriptBuf::from_hex("6a01410142").unwrap();
    let err = op_return_payload(&two).unwrap_err();
    assert_eq!(
        err.to_string(),
        "op_return script 6a01410142 does not hold exactly one data push"
    );
    // A push that claims more bytes than the script has.
    let short = ScriptBuf::from_hex("6a0541").unwrap();
    assert!(matches!(
        op_return_payload(&short),
        Err(PayloadError::Malformed { .. })
    ));
    assert!(matches!(
        op_return_payload(&p2pkh()),
        Err(PayloadError::NotOpReturn { .. })
    ));
}

#[test]
fn decipher_takes_the_last_supported_verb_scanning_from_the_end() {
    // The usual shape: tokens, then the verb last.
    let t = tx(vec![
        p2pkh(),
        p2pkh(),
        verb_script("ASCRIBESPOOL01TRANSFER3"),
    ]);
    assert_eq!(decipher(&t).unwrap(), Verb::Transfer { edition: 3 });
    assert_eq!(find_verb(&t).unwrap().0, 2);

    // Two verbs: the later output wins.
    let t = tx(vec![
        verb_script("ASCRIBESPOOL01TRANSFER3"),
        p2pkh(),
        verb_script("ASCRIBESPOOL01CONSIGN4"),
    ]);
    assert_eq!(find_verb(&t).unwrap(), (2, Verb::Consign { edition: 4 }));

    // Unsupported payloads after a good one are passed over.
    let t = tx(vec![
        p2pkh(),
        verb_script("ASCRIBESPOOL01LOAN2/150526150528"),
        verb_script("hello world"),
        verb_script("ASCRIBESPOOL01FOO3"),
        p2pkh(),
    ]);
    assert_eq!(
        find_verb(&t).unwrap(),
        (1, Verb::loan(2, "150526", "150528").unwrap())
    );
}

#[test]
fn decipher_explains_why_a_transaction_carries_no_verb() {
    let t = tx(vec![p2pkh(), p2pkh()]);
    let err = decipher(&t).unwrap_err();
    assert!(matches!(err, Flaw::NoOpReturn { .. }));
    assert!(err.to_string().starts_with("invalid ascribe transaction"));
    assert!(err.to_string().contains(&t.compute_txid().to_string()));

    let long = Builder::new()
        .push_opcode(OP_RETURN)
        .push_slice(PushBytesBuf::try_from(vec![b'A'; 81]).unwrap())
        .into_script();
    let t = tx(vec![verb_script("OTHERMETA99TRANSFER4"), long, p2pkh()]);
    let Flaw::NoVerb { rejected, .. } = decipher(&t).unwrap_err() else {
        panic!("expected NoVerb");
    };
    assert_eq!(rejected.len(), 2);
    assert_eq!(rejected[0].vout, 1);
    assert_eq!(
        rejected[0].flaw,
        OutputFlaw::Payload(PayloadError::TooLong { len: 81 })
    );
    assert_eq!(rejected[1].vout, 0);
    assert!(matches!(
        rejected[1].flaw,
        OutputFlaw::Verb(VerbError::UnknownMeta { .. })
    ));
    let text = decipher(&t).unwrap_err().to_string();
    assert!(
        text.contains("output 1: op_return payload of 81 bytes"),
        "{text}"
    );
    assert!(text.contains("OTHERMETA99TRANSFER4"), "{text}");
}

#[test]
fn every_typed_verb_round_trips_through_a_transaction() {
    let verbs = [
        Verb::Piece,
        Verb::Fuel,
        Verb::ConsignedRegistration,
        Verb::Register { edition: 0 },
        Verb::Editions { count: 10 },
        Verb::Transfer { edition: u64::MAX },
        Verb::Consign { edition: 1 },
        Verb::Unconsign { edition: 1 },
        Verb::Migrate { edition: 9 },
        Verb::loan(u64::MAX, "991231", "681231").unwrap(),
    ];
    for verb in verbs {
        let t = tx(vec![p2pkh(), verb.op_return_script()]);
        assert_eq!(decipher(&t).unwrap(), verb);
        assert!(verb.to_string().len() <= MAX_PAYLOAD);
    }
}
