//! The pure planning core, without a node: fixtures of chain data (histories made of
//! enciphered operations) and wallets of made-up outputs. Every action plans; every refusal
//! the core gives is reached; reserved outpoints are never spent (proptest).

use bitcoin::hashes::Hash;
use bitcoin::{
    absolute::LockTime, transaction::Version, Address, Amount, Network, OutPoint, ScriptBuf,
    Sequence, Transaction, TxIn, TxOut, Txid, Witness,
};
use proptest::prelude::*;
use spool_engine::plan::{self, Funds, PlanError};
use spool_engine::request::MainRefill;
use spool_engine::Request;
use spool_protocol::chain::{ChainTx, TxPlace};
use spool_protocol::history::History;
use spool_protocol::operation::{Denominations, Operation, PieceHashes};
use spool_protocol::reason::Reason;
use spool_protocol::verb::{Action, LoanDate};
use spool_tx::{ReservationSet, Shortage, TxError, TxParams, Utxo};
use spool_wallet::{LeafPath, MasterSecret, SigningKey, Wallet};

const NET: Network = Network::Regtest;

fn key(name: &str) -> SigningKey {
    Wallet::from_secret(&MasterSecret::new(name), NET)
        .unwrap()
        .signing_key(&LeafPath::root())
        .unwrap()
}

/// Everyone in the fixtures.
struct Cast {
    federation: SigningKey,
    alice: SigningKey,
    bob: SigningKey,
    carol: SigningKey,
    piece: PieceHashes,
}

fn cast() -> Cast {
    Cast {
        federation: key("plan federation"),
        alice: key("plan alice"),
        bob: key("plan bob"),
        carol: key("plan carol"),
        piece: PieceHashes {
            file_hash: key("plan piece").address(),
            file_hash_metadata: key("plan piece metadata").address(),
        },
    }
}

/// A confirmed chain transaction: `operation` sent by `from`.
fn event(operation: &Operation, from: &Address, height: u64) -> ChainTx {
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&height.to_le_bytes());
    seed[31] = 0x77;
    ChainTx {
        tx: Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: vec![TxIn {
                previous_output: OutPoint::new(Txid::from_byte_array(seed), 0),
                script_sig: ScriptBuf::new(),
                sequence: Sequence::MAX,
                witness: Witness::new(),
            }],
            output: operation.encipher(Denominations::default()),
        },
        prevouts: vec![TxOut {
            value: Amount::from_sat(30_000),
            script_pubkey: from.script_pubkey(),
        }],
        place: TxPlace::Confirmed {
            height,
            position: 1,
            time: 1_600_000_000 + height * 600,
        },
    }
}

/// The verified history of `events` (operation, sender), in order.
fn history(c: &Cast, events: &[(Operation, &SigningKey)]) -> History {
    let txs: Vec<ChainTx> = events
        .iter()
        .enumerate()
        .map(|(i, (op, from))| event(op, &from.address(), 100 + i as u64))
        .collect();
    History::build(
        &c.piece.file_hash,
        NET,
        &txs,
        &[c.federation.address().to_string()],
    )
    .unwrap()
}

/// `fuel` fuel and `tokens` token outputs of `key`, each a distinct made-up outpoint.
fn utxos(key: &SigningKey, fuel: u32, tokens: u32) -> Vec<Utxo> {
    let make = |value: u64, vout: u32| {
        let mut seed = [0u8; 32];
        seed[..4].copy_from_slice(&vout.to_le_bytes());
        seed[4] = u8::from(value == 3_000);
        seed[31] = 0x55;
        Utxo {
            outpoint: OutPoint::new(Txid::from_byte_array(seed), vout),
            value: Amount::from_sat(value),
            script_pubkey: key.address().script_pubkey(),
            confirmations: 6,
            is_coinbase: false,
        }
    };
    (0..fuel)
        .map(|i| make(30_000, i))
        .chain((0..tokens).map(|i| make(3_000, i)))
        .collect()
}

/// A piece's events: each operation with its sender.
type Events<'a> = Vec<(Operation, &'a SigningKey)>;

#[allow(clippy::result_large_err)] // as the core returns it
fn run(
    c: &Cast,
    request: &Request,
    signer: &SigningKey,
    events: &[(Operation, &SigningKey)],
    utxos: &[Utxo],
    reserved: &ReservationSet,
) -> Result<plan::Plan, PlanError> {
    let history = history(c, events);
    let federation = [c.federation.address().to_string()];
    let funds = Funds {
        utxos,
        reserved,
        min_conf: 1,
    };
    plan::plan(
        request,
        signer,
        &TxParams::default(),
        Some((&history, &federation)),
        &funds,
    )
}

fn date(text: &str) -> LoanDate {
    LoanDate::parse_checked(text).unwrap()
}

/// The piece's walkthrough up to edition 1 owned by alice: PIECE, EDITIONS 2, REGISTER 1.
fn registered(c: &Cast) -> Events<'_> {
    let p = &c.piece;
    let alice = c.alice.address();
    vec![
        (Operation::register_piece(p, alice.clone()), &c.federation),
        (
            Operation::editions(p, alice.clone(), 2).unwrap(),
            &c.federation,
        ),
        (Operation::register(p, alice, 1), &c.federation),
    ]
}

#[test]
fn every_action_plans_and_its_transaction_deciphers_to_it() {
    let c = cast();
    let p = &c.piece;
    let (alice, bob, carol) = (c.alice.address(), c.bob.address(), c.carol.address());
    let consigned = {
        let mut events = registered(&c);
        events.push((Operation::consign(p, bob.clone(), 1).unwrap(), &c.alice));
        events
    };
    let cases: Vec<(Request, &SigningKey, Events)> = vec![
        (
            Request::RefillMain(MainRefill::new(c.federation.address(), 3, 4).unwrap()),
            &c.carol,
            vec![],
        ),
        (
            Operation::refill(alice.clone(), 2, 3).unwrap().into(),
            &c.federation,
            vec![],
        ),
        (
            Operation::register_piece(p, alice.clone()).into(),
            &c.federation,
            vec![],
        ),
        (
            Operation::consigned_registration(p, bob.clone()).into(),
            &c.federation,
            vec![],
        ),
        (
            Operation::register(p, alice.clone(), 0).into(),
            &c.federation,
            vec![],
        ),
        (
            Operation::editions(p, alice.clone(), 2).unwrap().into(),
            &c.federation,
            registered(&c)[..1].to_vec(),
        ),
        (
            Operation::register(p, bob.clone(), 2).into(),
            &c.federation,
            registered(&c),
        ),
        (
            Operation::transfer(p, bob.clone(), 1).unwrap().into(),
            &c.alice,
            registered(&c),
        ),
        (
            Operation::consign(p, bob.clone(), 1).unwrap().into(),
            &c.alice,
            registered(&c),
        ),
        (
            Operation::loan(p, carol.clone(), 1, date("150526"), date("150528"))
                .unwrap()
                .into(),
            &c.alice,
            registered(&c),
        ),
        (
            Operation::unconsign(p, alice.clone(), 1).unwrap().into(),
            &c.bob,
            consigned,
        ),
        (
            Operation::migrate(p, alice.clone(), carol.clone(), 1).into(),
            &c.federation,
            registered(&c),
        ),
    ];
    let mut actions = std::collections::BTreeSet::new();
    for (request, signer, events) in &cases {
        let funds = utxos(signer, 4, 6);
        let plan = run(&c, request, signer, events, &funds, &ReservationSet::new())
            .unwrap_or_else(|e| panic!("{request:?}: {e}"));
        let tx = &plan.built.tx;
        assert!(plan
            .built
            .spent
            .iter()
            .all(|o| funds.iter().any(|u| u.outpoint == *o)));
        match request {
            Request::Operation(operation) => {
                actions.insert(operation.action());
                assert_eq!(plan.checked, operation.piece().is_some());
                assert_eq!(tx.output, operation.encipher(Denominations::default()));
                let read = Operation::decipher(tx, NET, Denominations::default()).unwrap();
                assert_eq!(&read, operation);
            }
            Request::RefillMain(refill) => {
                assert!(!plan.checked);
                let paid = tx
                    .output
                    .iter()
                    .filter(|o| o.script_pubkey == refill.to().script_pubkey())
                    .count();
                assert_eq!(paid, 7);
            }
        }
    }
    assert_eq!(
        actions.len(),
        Action::ALL.len(),
        "every action: {actions:?}"
    );
}

#[test]
fn every_refusal_of_the_precheck_carries_its_reason() {
    let c = cast();
    let p = &c.piece;
    let (alice, bob, carol) = (c.alice.address(), c.bob.address(), c.carol.address());
    let master = registered(&c)[..1].to_vec();
    let with_editions = registered(&c)[..2].to_vec();
    let consigned = {
        let mut events = registered(&c);
        events.push((Operation::consign(p, bob.clone(), 1).unwrap(), &c.alice));
        events
    };
    let cases: Vec<(Operation, &SigningKey, Events, Reason)> = vec![
        (
            Operation::register_piece(p, alice.clone()),
            &c.federation,
            master.clone(),
            Reason::MasterAlreadyRegistered,
        ),
        (
            Operation::editions(p, alice.clone(), 3).unwrap(),
            &c.federation,
            vec![],
            Reason::MasterNotRegistered,
        ),
        (
            Operation::editions(p, alice.clone(), 3).unwrap(),
            &c.federation,
            with_editions.clone(),
            Reason::EditionsAlreadyRegistered,
        ),
        (
            Operation::register(p, alice.clone(), 1),
            &c.federation,
            master.clone(),
            Reason::EditionsNotRegistered,
        ),
        (
            Operation::register(p, alice.clone(), 3),
            &c.federation,
            with_editions.clone(),
            Reason::TooManyEditions {
                count: 2,
                edition: 3,
            },
        ),
        (
            Operation::register(p, bob.clone(), 1),
            &c.federation,
            registered(&c),
            Reason::EditionAlreadyRegistered { edition: 1 },
        ),
        (
            Operation::transfer(p, bob.clone(), 2).unwrap(),
            &c.alice,
            registered(&c),
            Reason::EditionNotFound { edition: 2 },
        ),
        (
            Operation::migrate(p, alice.clone(), bob.clone(), 2),
            &c.federation,
            registered(&c),
            Reason::EditionNotFound { edition: 2 },
        ),
        // Issue 12 item 10: a --prev that does not hold the edition (pyspool did not check).
        (
            Operation::migrate(p, bob.clone(), carol.clone(), 1),
            &c.federation,
            registered(&c),
            Reason::NotOwner {
                address: bob.to_string(),
                edition: 1,
            },
        ),
        (
            Operation::consign(p, carol.clone(), 1).unwrap(),
            &c.bob,
            registered(&c),
            Reason::NotOwner {
                address: bob.to_string(),
                edition: 1,
            },
        ),
        (
            Operation::loan(p, carol.clone(), 1, date("160101"), date("160102")).unwrap(),
            &c.carol,
            registered(&c),
            Reason::NotOwner {
                address: carol.to_string(),
                edition: 1,
            },
        ),
        (
            Operation::unconsign(p, alice.clone(), 1).unwrap(),
            &c.carol,
            consigned.clone(),
            Reason::NotConsignedTo {
                edition: 1,
                address: carol.to_string(),
            },
        ),
        (
            Operation::unconsign(p, carol.clone(), 1).unwrap(),
            &c.bob,
            consigned,
            Reason::UnconsignOnlyTo {
                consignor: alice.to_string(),
            },
        ),
        (
            Operation::register_piece(p, alice.clone()),
            &c.alice,
            vec![],
            Reason::NotAFederationAddress {
                from: alice.to_string(),
                federation: vec![c.federation.address().to_string()],
            },
        ),
    ];
    for (operation, signer, events, want) in cases {
        let funds = utxos(signer, 4, 6);
        let request = Request::from(operation.clone());
        match run(
            &c,
            &request,
            signer,
            &events,
            &funds,
            &ReservationSet::new(),
        ) {
            Err(PlanError::Refused { action, reason }) => {
                assert_eq!(action, operation.action());
                assert_eq!(reason, want, "{operation:?}");
            }
            other => panic!("{operation:?}: expected {want}, got {other:?}"),
        }
    }
}

#[test]
fn shortages_and_bad_settings_are_typed() {
    let c = cast();
    let p = &c.piece;
    let transfer = Request::from(Operation::transfer(p, c.bob.address(), 1).unwrap());
    let none = ReservationSet::new();
    // Nothing at all: the least an action needs.
    let err = run(&c, &transfer, &c.alice, &registered(&c), &[], &none).unwrap_err();
    assert!(
        matches!(
            err,
            PlanError::NotEnoughFuel {
                shortage: Shortage {
                    need_fuel: 1,
                    found_fuel: 0,
                    need_tokens: 2,
                    found_tokens: 0,
                    ..
                },
                min_conf: 1,
            }
        ),
        "{err:?}"
    );
    // Fuel but one token short.
    let err = run(
        &c,
        &transfer,
        &c.alice,
        &registered(&c),
        &utxos(&c.alice, 2, 1),
        &none,
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            PlanError::NotEnoughFuel {
                shortage: Shortage {
                    need_tokens: 2,
                    found_tokens: 1,
                    found_fuel: 2,
                    ..
                },
                ..
            }
        ),
        "{err:?}"
    );
    // A refill needs its fuel plus one.
    let refill = Request::from(Operation::refill(c.alice.address(), 3, 2).unwrap());
    let err = run(&c, &refill, &c.federation, &[], &[], &none).unwrap_err();
    assert!(
        matches!(
            err,
            PlanError::NotEnoughFuel {
                shortage: Shortage {
                    need_fuel: 4,
                    need_tokens: 2,
                    ..
                },
                ..
            }
        ),
        "{err:?}"
    );
    // A main-wallet refill from an empty wallet, then from too little.
    let main = Request::RefillMain(MainRefill::new(c.federation.address(), 10, 10).unwrap());
    let err = run(&c, &main, &c.carol, &[], &[], &none).unwrap_err();
    assert!(
        matches!(err, PlanError::NoSpendableOutputs { .. }),
        "{err:?}"
    );
    let err = run(&c, &main, &c.carol, &[], &utxos(&c.carol, 1, 0), &none).unwrap_err();
    assert!(
        matches!(
            err,
            PlanError::NotEnoughFunds {
                found_outputs: 1,
                ..
            }
        ),
        "{err:?}"
    );
    // A fee rate that is no number, and one no fuel output can pay.
    for rate in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let err = plan::with_fee_rate(TxParams::default(), Some(rate)).unwrap_err();
        assert!(matches!(err, PlanError::BadFeeRate { .. }), "{rate}");
    }
    let params = plan::with_fee_rate(TxParams::default(), Some(10_000.0)).unwrap();
    let funds = utxos(&c.alice, 4, 6);
    let err = plan::build(
        &transfer,
        &c.alice,
        &params,
        &Funds {
            utxos: &funds,
            reserved: &none,
            min_conf: 1,
        },
    )
    .unwrap_err();
    assert!(
        matches!(err, PlanError::Build(TxError::FeeRateTooHigh { .. })),
        "{err:?}"
    );
    // Without a history nothing is checked.
    let plan = plan::plan(
        &transfer,
        &c.alice,
        &TxParams::default(),
        None,
        &Funds {
            utxos: &funds,
            reserved: &none,
            min_conf: 1,
        },
    )
    .unwrap();
    assert!(!plan.checked);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Whatever is reserved is never spent: the plan spends only free outputs, or says
    /// exactly how many free ones it found.
    #[test]
    fn proptest_reserved_outpoints_are_never_spent(
        fuel in 0u32..5,
        tokens in 0u32..6,
        reserved_mask in any::<u16>(),
    ) {
        let c = cast();
        let funds = utxos(&c.alice, fuel, tokens);
        let mut reserved = ReservationSet::new();
        let taken: Vec<OutPoint> = funds
            .iter()
            .enumerate()
            .filter(|(i, _)| reserved_mask & (1 << i) != 0)
            .map(|(_, u)| u.outpoint)
            .collect();
        reserved.reserve(Txid::all_zeros(), &taken, 0).unwrap();
        let free_fuel = funds.iter().filter(|u| u.value.to_sat() == 30_000 && !taken.contains(&u.outpoint)).count();
        let free_tokens = funds.iter().filter(|u| u.value.to_sat() == 3_000 && !taken.contains(&u.outpoint)).count();
        let transfer = Request::from(Operation::transfer(&c.piece, c.bob.address(), 1).unwrap());
        match run(&c, &transfer, &c.alice, &registered(&c), &funds, &reserved) {
            Ok(plan) => {
                prop_assert!(plan.built.spent.iter().all(|o| !taken.contains(o)));
                prop_assert!(free_fuel >= 1 && free_tokens >= 2);
            }
            Err(PlanError::NotEnoughFuel { shortage, .. }) => {
                prop_assert!(free_fuel < 1 || free_tokens < 2);
                if free_fuel + free_tokens > 0 {
                    prop_assert_eq!(
                        (shortage.found_fuel, shortage.found_tokens),
                        (free_fuel, free_tokens)
                    );
                }
            }
            Err(other) => prop_assert!(false, "unexpected {other:?}"),
        }
    }
}
