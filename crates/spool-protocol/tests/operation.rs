//! One action's on-chain form: the checked constructors hold the input rules, `encipher`
//! writes the outputs in pyspool's order and `decipher` reads them back.

mod support;

use proptest::prelude::*;
use spool_protocol::bitcoin::{
    absolute::LockTime, transaction::Version, Address, Amount, Transaction, TxOut,
};
use spool_protocol::operation::{Denominations, Flaw, Operation, OperationError, PieceHashes};
use spool_protocol::verb::{Action, LoanDate, Verb};
use support::{addr, typed, NET};

fn piece() -> PieceHashes {
    PieceHashes {
        file_hash: typed(&addr("piece")),
        file_hash_metadata: typed(&addr("piece-meta")),
    }
}

fn who(name: &str) -> Address {
    typed(&addr(name))
}

fn tx(output: Vec<TxOut>) -> Transaction {
    Transaction {
        version: Version::TWO,
        lock_time: LockTime::ZERO,
        input: vec![],
        output,
    }
}

#[test]
fn constructors_hold_the_input_rules() {
    let p = piece();
    assert_eq!(
        Operation::refill(who("a"), 0, 0),
        Err(OperationError::NothingToRefill)
    );
    assert_eq!(
        Operation::editions(&p, who("a"), 0),
        Err(OperationError::NoEditions)
    );
    for (action, made) in [
        (Action::Transfer, Operation::transfer(&p, who("b"), 0)),
        (Action::Consign, Operation::consign(&p, who("b"), 0)),
        (Action::Unconsign, Operation::unconsign(&p, who("b"), 0)),
    ] {
        assert_eq!(made, Err(OperationError::EditionZero { action }));
    }
    let date = |t| LoanDate::parse(t).unwrap();
    assert_eq!(
        Operation::loan(&p, who("b"), 1, date("150528"), date("150526")),
        Err(OperationError::LoanEndsBeforeStart {
            start: date("150528"),
            end: date("150526")
        })
    );
    assert_eq!(
        Operation::loan(&p, who("b"), 1, date("150229"), date("150301")),
        Err(OperationError::NotADate {
            date: date("150229")
        })
    );
    // A loan of the whole piece (edition 0) is allowed, as pyspool writes it.
    assert!(Operation::loan(&p, who("b"), 0, date("150526"), date("150526")).is_ok());
}

#[test]
fn recipients_are_in_pyspools_order() {
    let p = piece();
    let reg = Operation::register(&p, who("to"), 3);
    assert_eq!(
        reg.recipients(),
        &[p.file_hash.clone(), p.file_hash_metadata.clone(), who("to")]
    );
    let migrate = Operation::migrate(&p, who("prev"), who("new"), 1);
    assert_eq!(
        migrate.recipients(),
        &[p.file_hash.clone(), who("prev"), who("new")]
    );
    assert_eq!(migrate.destination(), &who("new"));
    let transfer = Operation::transfer(&p, who("to"), 1).unwrap();
    assert_eq!(transfer.recipients(), &[p.file_hash.clone(), who("to")]);
    assert_eq!(transfer.piece(), Some(&p.file_hash));
    let refill = Operation::refill(who("user"), 2, 1).unwrap();
    assert_eq!(refill.piece(), None);
    assert_eq!(refill.refill_counts(), Some((2, 1)));
    let out = refill.encipher(Denominations::default());
    let values: Vec<u64> = out.iter().map(|o| o.value.to_sat()).collect();
    assert_eq!(values, [3_000, 30_000, 30_000, 0]);
    assert_eq!(out[3].script_pubkey, Verb::Fuel.op_return_script());
}

#[test]
fn decipher_names_what_does_not_fit() {
    let p = piece();
    let d = Denominations::default();
    let transfer = Operation::transfer(&p, who("to"), 1).unwrap();
    let mut outputs = transfer.encipher(d);
    assert!(matches!(
        Operation::decipher(&tx(vec![]), NET, d),
        Err(Flaw::NoVerb(_))
    ));
    // One recipient too many.
    outputs.insert(0, outputs[0].clone());
    assert_eq!(
        Operation::decipher(&tx(outputs.clone()), NET, d),
        Err(Flaw::RecipientCount {
            verb: Verb::Transfer { edition: 1 },
            expected: 2,
            found: 3
        })
    );
    // The verb not last.
    let mut moved = transfer.encipher(d);
    moved.rotate_right(1);
    assert_eq!(
        Operation::decipher(&tx(moved), NET, d),
        Err(Flaw::VerbNotLast { vout: 0 })
    );
    // A refill of something that is neither fuel nor token.
    let mut refill = Operation::refill(who("u"), 1, 1).unwrap().encipher(d);
    refill[0].value = Amount::from_sat(1234);
    assert_eq!(
        Operation::decipher(&tx(refill), NET, d),
        Err(Flaw::NotADenomination {
            vout: 0,
            value: Amount::from_sat(1234)
        })
    );
}

fn any_operation() -> impl Strategy<Value = Operation> {
    let p = piece();
    (
        0u8..10,
        1u64..1_000,
        1u32..20,
        0u32..20,
        0u16..3_000,
        0u16..400,
    )
        .prop_map(move |(kind, n, fees, tokens, start, len)| {
            let (a, b) = (who("a"), who("b"));
            let day = |offset: u16| {
                let (mut y, mut m, mut d) = (2001i32, 1u8, 1u8);
                for _ in 0..offset {
                    d += 1;
                    if LoanDate::from_ymd(y, m, d).is_err() {
                        d = 1;
                        m += 1;
                        if m > 12 {
                            m = 1;
                            y += 1;
                        }
                    }
                }
                LoanDate::from_ymd(y, m, d).unwrap()
            };
            match kind {
                0 => Operation::refill(a, fees, tokens).unwrap(),
                1 => Operation::register_piece(&p, a),
                2 => Operation::consigned_registration(&p, a),
                3 => Operation::register(&p, a, n - 1),
                4 => Operation::editions(&p, a, n).unwrap(),
                5 => Operation::migrate(&p, a, b, n),
                6 => Operation::transfer(&p, a, n).unwrap(),
                7 => Operation::consign(&p, a, n).unwrap(),
                8 => Operation::unconsign(&p, a, n).unwrap(),
                _ => Operation::loan(&p, a, n - 1, day(start), day(start + len)).unwrap(),
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn proptest_encipher_then_decipher_is_the_identity(operation in any_operation()) {
        let d = Denominations::default();
        let outputs = operation.encipher(d);
        prop_assert_eq!(outputs.len(), match operation.refill_counts() {
            Some((fees, tokens)) => (fees + tokens) as usize + 1,
            None => operation.verb().recipient_count().unwrap() + 1,
        });
        prop_assert_eq!(Operation::decipher(&tx(outputs), NET, d), Ok(operation));
    }
}
