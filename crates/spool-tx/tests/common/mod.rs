//! Helpers shared by the spool-tx integration tests.
#![allow(dead_code)]

use bitcoin::hashes::Hash;
use bitcoin::{Address, Amount, OutPoint, Txid};
use spool_protocol::verb::{LoanDate, Verb};
use spool_tx::Utxo;

/// Parses the verbs that appear in the test vectors (test-only; the protocol crate owns
/// real decoding).
pub fn verb(text: &str) -> Verb {
    let rest = text
        .strip_prefix("ASCRIBESPOOL01")
        .expect("meta and version");
    let split = rest
        .find(|c: char| c.is_ascii_digit())
        .unwrap_or(rest.len());
    let (action, arg) = rest.split_at(split);
    let num = || arg.parse::<u64>().expect("numeric argument");
    match action {
        "PIECE" => Verb::Piece,
        "FUEL" => Verb::Fuel,
        "CONSIGNEDREGISTRATION" => Verb::ConsignedRegistration,
        "REGISTER" => Verb::Register { edition: num() },
        "EDITIONS" => Verb::Editions { count: num() },
        "TRANSFER" => Verb::Transfer { edition: num() },
        "CONSIGN" => Verb::Consign { edition: num() },
        "UNCONSIGN" => Verb::Unconsign { edition: num() },
        "MIGRATE" => Verb::Migrate { edition: num() },
        "LOAN" => {
            let (ed, dates) = arg.split_once('/').expect("loan dates");
            let d = dates.as_bytes();
            Verb::Loan {
                edition: ed.parse().unwrap(),
                start: LoanDate(d[..6].try_into().unwrap()),
                end: LoanDate(d[6..12].try_into().unwrap()),
            }
        }
        other => panic!("unknown action {other}"),
    }
}

/// A synthetic UTXO paying `address` (for unit-level tests; not on any chain).
pub fn fake_utxo(address: &Address, value: u64, seed: u32, vout: u32) -> Utxo {
    let mut bytes = [0u8; 32];
    bytes[..4].copy_from_slice(&seed.to_le_bytes());
    bytes[31] = 0xAA;
    Utxo {
        outpoint: OutPoint::new(Txid::from_byte_array(bytes), vout),
        value: Amount::from_sat(value),
        script_pubkey: address.script_pubkey(),
        confirmations: 6,
        is_coinbase: false,
    }
}
