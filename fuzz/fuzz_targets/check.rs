//! The property the `decode_verb` fuzz target checks, shared with the corpus replay test in
//! `crates/spool-protocol/tests/fuzz_corpus.rs`: decoding arbitrary bytes never panics, and
//! whatever decodes re-encodes to a verb that decodes to itself.

use spool_protocol::bitcoin::absolute::LockTime;
use spool_protocol::bitcoin::transaction::Version;
use spool_protocol::bitcoin::{Amount, ScriptBuf, Transaction, TxOut};
use spool_protocol::payload::{decipher, op_return_payload, op_return_script};
use spool_protocol::verb::{DecodedVerb, Verb};

/// Runs every decoder over `data`; panics if a property does not hold.
pub fn check(data: &[u8]) {
    let typed = Verb::decode_bytes(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let faithful = DecodedVerb::parse(text);
        if let Ok(verb) = &typed {
            assert!(
                faithful.is_ok(),
                "typed decode accepted what the grammar refuses"
            );
            let again = verb.to_string();
            assert_eq!(
                Verb::decode(&again).as_ref(),
                Ok(verb),
                "re-encoding changed the verb"
            );
        }
        if let Err(e) = &typed {
            assert!(!e.to_string().is_empty());
        }
    }
    // The same bytes as an OP_RETURN payload, and as a raw output script.
    if let Ok(script) = op_return_script(data) {
        assert_eq!(op_return_payload(&script).unwrap(), data);
        let tx = |script: ScriptBuf| Transaction {
            version: Version::ONE,
            lock_time: LockTime::ZERO,
            input: vec![],
            output: vec![TxOut {
                value: Amount::ZERO,
                script_pubkey: script,
            }],
        };
        assert_eq!(decipher(&tx(script)).ok(), typed.clone().ok());
        let _ = decipher(&tx(ScriptBuf::from_bytes(data.to_vec())));
    }
}
