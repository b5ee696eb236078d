//! Every transaction shape, checked input by input and output by output, on synthetic UTXOs.

mod common;

use bitcoin::{Address, Amount, FeeRate, Network, Sequence, TxOut};
use common::fake_utxo;
use spool_protocol::verb::{LoanDate, Verb};
use spool_tx::{
    build_action, build_refill, build_refill_main, build_spool_tx, sign, Shortage, TxError,
    TxParams, Utxo,
};
use spool_wallet::{LeafPath, MasterSecret, SigningKey, Wallet};

const FEE: u64 = 30_000;
const TOKEN: u64 = 3_000;

fn key(secret: &str, path: &str) -> SigningKey {
    Wallet::from_secret(&MasterSecret::new(secret), Network::Regtest)
        .unwrap()
        .signing_key(&LeafPath::parse(path).unwrap())
        .unwrap()
}

fn addr(secret: &str, path: &str) -> Address {
    key(secret, path).address()
}

/// `nfuel` fuel and `ntokens` tokens of `key`, plus noise it must ignore.
fn wallet_utxos(key: &SigningKey, nfuel: u32, ntokens: u32) -> Vec<Utxo> {
    let a = key.address();
    let mut v = Vec::new();
    for i in 0..nfuel {
        v.push(fake_utxo(&a, FEE, 1, i));
    }
    for i in 0..ntokens {
        v.push(fake_utxo(&a, TOKEN, 2, i));
    }
    // Noise: other values, someone else's outputs, an immature coinbase fuel output.
    v.push(fake_utxo(&a, 12_345, 3, 0));
    v.push(fake_utxo(&addr("someone-else", ""), FEE, 3, 1));
    let mut cb = fake_utxo(&a, FEE, 3, 2);
    cb.is_coinbase = true;
    cb.confirmations = 99;
    v.push(cb);
    v
}

fn prevouts(built: &spool_tx::BuiltTx, utxos: &[Utxo]) -> Vec<TxOut> {
    built
        .spent
        .iter()
        .map(|op| {
            let u = utxos.iter().find(|u| u.outpoint == *op).unwrap();
            TxOut {
                value: u.value,
                script_pubkey: u.script_pubkey.clone(),
            }
        })
        .collect()
}

fn all_verbs() -> Vec<(Verb, usize)> {
    let d = |s: &[u8; 6]| LoanDate(*s);
    vec![
        (Verb::Piece, 3),
        (Verb::Register { edition: 0 }, 3),
        (Verb::Register { edition: 7 }, 3),
        (Verb::Editions { count: 10 }, 3),
        (Verb::ConsignedRegistration, 3),
        (Verb::Migrate { edition: 2 }, 3),
        (Verb::Transfer { edition: 1 }, 2),
        (Verb::Consign { edition: 1 }, 2),
        (Verb::Unconsign { edition: 1 }, 2),
        (
            Verb::Loan {
                edition: 4,
                start: d(b"150526"),
                end: d(b"150528"),
            },
            2,
        ),
    ]
}

#[test]
fn every_action_verb_has_pyspools_shape() {
    let params = TxParams::default();
    let sender = key("alice", "0/1/2");
    let utxos = wallet_utxos(&sender, 4, 6);
    for (verb, k) in all_verbs() {
        let recipients: Vec<Address> = (0..k).map(|i| addr("bob", &i.to_string())).collect();
        let built = build_action(&params, &verb, &recipients, &utxos, &sender).unwrap();
        let tx = &built.tx;
        // Inputs: n >= 1 fuel of exactly FEE first, then k tokens of exactly TOKEN, in the
        // wallet's order.
        let n = tx.input.len() - k;
        assert!(n >= 1, "{verb}");
        let expected: Vec<_> = utxos[..n]
            .iter()
            .chain(&utxos[4..4 + k])
            .map(|u| u.outpoint)
            .collect();
        assert_eq!(built.spent, expected, "{verb}");
        let ins: Vec<_> = tx.input.iter().map(|i| i.previous_output).collect();
        assert_eq!(ins, expected, "{verb}");
        // Outputs: TOKEN to each recipient in order, then the OP_RETURN; no change.
        assert_eq!(tx.output.len(), k + 1, "{verb}");
        for (out, r) in tx.output.iter().zip(&recipients) {
            assert_eq!(out.value, Amount::from_sat(TOKEN));
            assert_eq!(out.script_pubkey, r.script_pubkey());
        }
        let last = tx.output.last().unwrap();
        assert_eq!(last.value, Amount::ZERO);
        assert_eq!(last.script_pubkey, verb.op_return_script());
        assert_eq!(
            &last.script_pubkey.as_bytes()[2..],
            verb.to_string().as_bytes()
        );
        // Fee: all the fuel, at least the fee rate on the signed size, minimal n.
        assert_eq!(built.fee, Amount::from_sat(FEE * n as u64));
        assert!(built.fee >= params.fee_rate.fee_vb(tx.vsize() as u64).unwrap());
        assert_eq!(n, 1, "one fuel output pays 10 sat/vB on a small action");
        assert_eq!(tx.version, bitcoin::transaction::Version::TWO);
        assert!(tx
            .input
            .iter()
            .all(|i| i.sequence == Sequence::ENABLE_RBF_NO_LOCKTIME));
        sign::verify_all(tx, &prevouts(&built, &utxos)).unwrap();
    }
}

#[test]
fn recipient_counts_are_enforced() {
    let sender = key("alice", "");
    let utxos = wallet_utxos(&sender, 2, 3);
    let err = build_action(
        &TxParams::default(),
        &Verb::Transfer { edition: 1 },
        &[addr("a", ""), addr("b", ""), addr("c", "")],
        &utxos,
        &sender,
    )
    .unwrap_err();
    assert!(matches!(
        err,
        TxError::WrongRecipientCount {
            expected: 2,
            got: 3,
            ..
        }
    ));
    assert!(err.to_string().contains("ASCRIBESPOOL01TRANSFER1"), "{err}");
}

#[test]
fn fuel_grows_with_fee_rate_and_stays_minimal() {
    let sender = key("alice", "");
    let utxos = wallet_utxos(&sender, 20, 3);
    let recipients = [addr("a", ""), addr("b", ""), addr("c", "")];
    let mut last_n = 0;
    for rate in [1u32, 50, 100, 120] {
        let params = TxParams {
            fee_rate: FeeRate::from_sat_per_vb_u32(rate),
            ..TxParams::default()
        };
        let built = build_action(&params, &Verb::Piece, &recipients, &utxos, &sender).unwrap();
        let n = built.tx.input.len() - 3;
        let needed = params.fee_rate.fee_vb(built.tx.vsize() as u64).unwrap();
        assert!(built.fee >= needed, "rate {rate}");
        // One fuel output less would not pay even the smaller transaction.
        let smaller = built.tx.vsize() as u64 - 147;
        if n > 1 {
            assert!(
                Amount::from_sat(FEE * (n as u64 - 1)) < params.fee_rate.fee_vb(smaller).unwrap(),
                "rate {rate}: {n} fuel inputs is not minimal"
            );
        }
        assert!(n >= last_n);
        last_n = n;
    }
    assert!(
        last_n >= 3,
        "120 sat/vB needs several fuel outputs, got {last_n}"
    );
    // A rate no fuel output can pay for: clear error.
    let params = TxParams {
        fee_rate: FeeRate::from_sat_per_vb_u32(500),
        ..TxParams::default()
    };
    let err = build_action(&params, &Verb::Piece, &recipients, &utxos, &sender).unwrap_err();
    assert!(matches!(err, TxError::FeeRateTooHigh { .. }), "{err}");
}

#[test]
fn pyspool_errors_for_empty_and_short_wallets() {
    let sender = key("alice", "");
    let recipients = [addr("a", ""), addr("b", "")];
    let verb = Verb::Transfer { edition: 3 };
    let err = build_action(&TxParams::default(), &verb, &recipients, &[], &sender).unwrap_err();
    assert!(
        err.to_string().starts_with("No spendable outputs found"),
        "{err}"
    );
    // Only someone else's outputs: still nothing spendable.
    let other = vec![fake_utxo(&addr("x", ""), FEE, 9, 0)];
    let err = build_action(&TxParams::default(), &verb, &recipients, &other, &sender).unwrap_err();
    assert!(
        err.to_string().starts_with("No spendable outputs found"),
        "{err}"
    );

    let short_tokens = wallet_utxos(&sender, 3, 1);
    let err = build_action(
        &TxParams::default(),
        &verb,
        &recipients,
        &short_tokens,
        &sender,
    )
    .unwrap_err();
    match &err {
        TxError::NotEnoughOutputs(Shortage {
            need_fuel,
            found_fuel,
            need_tokens,
            found_tokens,
            ..
        }) => assert_eq!(
            (*need_fuel, *found_fuel, *need_tokens, *found_tokens),
            (1, 3, 2, 1)
        ),
        other => panic!("{other}"),
    }
    let text = err.to_string();
    assert!(
        text.starts_with("Not enough outputs to spend. Refill your wallet"),
        "{text}"
    );
    assert!(
        text.contains("needs 1 fuel") && text.contains("found 3 and 1"),
        "{text}"
    );

    let no_fuel = wallet_utxos(&sender, 0, 5);
    let err =
        build_action(&TxParams::default(), &verb, &recipients, &no_fuel, &sender).unwrap_err();
    assert!(matches!(
        err,
        TxError::NotEnoughOutputs(Shortage {
            need_fuel: 1,
            found_fuel: 0,
            ..
        })
    ));
}

#[test]
fn refill_has_pyspools_shape() {
    let params = TxParams::default();
    let federation = key("federation", "");
    let user = addr("alice", "");
    let utxos = wallet_utxos(&federation, 8, 10);
    let (nfees, ntokens) = (3usize, 5usize);
    let built = build_refill(&params, &user, nfees, ntokens, &utxos, &federation).unwrap();
    let tx = &built.tx;
    // nfees + 1 fuel (one pays the fee), then ntokens tokens.
    assert_eq!(tx.input.len(), nfees + 1 + ntokens);
    let expected: Vec<_> = utxos[..nfees + 1]
        .iter()
        .chain(&utxos[8..8 + ntokens])
        .map(|u| u.outpoint)
        .collect();
    assert_eq!(built.spent, expected);
    // ntokens x TOKEN then nfees x FEE to the user, then OP_RETURN FUEL.
    assert_eq!(tx.output.len(), ntokens + nfees + 1);
    for (i, out) in tx.output.iter().enumerate() {
        if i < ntokens {
            assert_eq!(
                (out.value.to_sat(), &out.script_pubkey),
                (TOKEN, &user.script_pubkey())
            );
        } else if i < ntokens + nfees {
            assert_eq!(
                (out.value.to_sat(), &out.script_pubkey),
                (FEE, &user.script_pubkey())
            );
        } else {
            assert_eq!(out.value, Amount::ZERO);
            assert_eq!(out.script_pubkey, Verb::Fuel.op_return_script());
        }
    }
    assert_eq!(built.fee, Amount::from_sat(FEE));
    sign::verify_all(tx, &prevouts(&built, &utxos)).unwrap();

    let err = build_refill(&params, &user, 8, 5, &utxos, &federation).unwrap_err();
    assert!(matches!(
        err,
        TxError::NotEnoughOutputs(Shortage {
            need_fuel: 9,
            found_fuel: 8,
            ..
        })
    ));
}

#[test]
fn refill_main_pays_federation_with_change() {
    let params = TxParams::default();
    let refill = key("refill", "");
    let federation = addr("federation", "");
    let a = refill.address();
    let mut immature = fake_utxo(&a, 5_000_000_000, 1, 0);
    immature.is_coinbase = true;
    immature.confirmations = 99;
    let mut mature = fake_utxo(&a, 5_000_000_000, 1, 1);
    mature.is_coinbase = true;
    mature.confirmations = 100;
    let small = fake_utxo(&a, 200_000, 1, 2);
    let utxos = vec![immature.clone(), small.clone(), mature.clone()];
    let (nfees, ntokens) = (20usize, 40usize);
    let built = build_refill_main(&params, &federation, nfees, ntokens, &utxos, &refill).unwrap();
    let tx = &built.tx;
    // Largest spendable first: the mature coinbase alone covers it; never the immature one.
    assert_eq!(built.spent, vec![mature.outpoint]);
    assert_eq!(tx.output.len(), nfees + ntokens + 1);
    for out in &tx.output[..nfees] {
        assert_eq!(
            (out.value.to_sat(), &out.script_pubkey),
            (FEE, &federation.script_pubkey())
        );
    }
    for out in &tx.output[nfees..nfees + ntokens] {
        assert_eq!(
            (out.value.to_sat(), &out.script_pubkey),
            (TOKEN, &federation.script_pubkey())
        );
    }
    let change = tx.output.last().unwrap();
    assert_eq!(change.script_pubkey, a.script_pubkey());
    assert!(tx.output.iter().all(|o| !o.script_pubkey.is_op_return()));
    let paid = FEE * nfees as u64 + TOKEN * ntokens as u64;
    assert_eq!(
        built.fee.to_sat(),
        5_000_000_000 - paid - change.value.to_sat()
    );
    let needed = params.fee_rate.fee_vb(tx.vsize() as u64).unwrap();
    assert!(built.fee >= needed && built.fee < needed + Amount::from_sat(200));
    sign::verify_all(tx, &prevouts(&built, &utxos)).unwrap();

    // Only an immature coinbase: nothing spendable.
    let err = build_refill_main(&params, &federation, 1, 1, &[immature], &refill).unwrap_err();
    assert!(
        err.to_string().starts_with("No spendable outputs found"),
        "{err}"
    );
    // Not enough: needed and found.
    let err = build_refill_main(
        &params,
        &federation,
        10,
        0,
        std::slice::from_ref(&small),
        &refill,
    )
    .unwrap_err();
    match err {
        TxError::NotEnoughFunds {
            needed,
            found,
            found_outputs,
            ..
        } => {
            assert!(needed > Amount::from_sat(300_000));
            assert_eq!(found, Amount::from_sat(200_000));
            assert_eq!(found_outputs, 1);
        }
        other => panic!("{other}"),
    }
}

#[test]
fn refill_main_dust_change_goes_to_fee() {
    let params = TxParams::default();
    let refill = key("refill", "");
    let federation = addr("federation", "");
    // One P2PKH input, 2 outputs: fee at 10 sat/vB on 226 vB = 2260. Leave 300 sat over.
    let target = 2 * FEE;
    let fee_no_change = params.fee_rate.fee_vb(10 + 148 + 2 * 34).unwrap().to_sat();
    let utxo = fake_utxo(&refill.address(), target + fee_no_change + 300, 5, 0);
    let built = build_refill_main(
        &params,
        &federation,
        2,
        0,
        std::slice::from_ref(&utxo),
        &refill,
    )
    .unwrap();
    assert_eq!(built.tx.output.len(), 2, "dust change is dropped");
    assert_eq!(built.fee.to_sat(), fee_no_change + 300);
    // With plenty over, change comes back.
    let utxo = fake_utxo(&refill.address(), target + fee_no_change + 10_000, 5, 1);
    let built = build_refill_main(&params, &federation, 2, 0, &[utxo], &refill).unwrap();
    assert_eq!(built.tx.output.len(), 3);
}

#[test]
fn p2wpkh_inputs_sign_and_verify() {
    let params = TxParams::default();
    let sender = key("segwit", "1");
    let w = sender.p2wpkh_address();
    let p = sender.address();
    let utxos = vec![
        fake_utxo(&w, FEE, 1, 0),
        fake_utxo(&p, TOKEN, 1, 1),
        fake_utxo(&w, TOKEN, 1, 2),
    ];
    let recipients = [addr("a", ""), addr("b", "")];
    let built = build_action(
        &params,
        &Verb::Consign { edition: 2 },
        &recipients,
        &utxos,
        &sender,
    )
    .unwrap();
    assert!(!built.tx.input[0].witness.is_empty() && built.tx.input[0].script_sig.is_empty());
    assert!(built.tx.input[1].witness.is_empty() && !built.tx.input[1].script_sig.is_empty());
    assert!(built.fee >= params.fee_rate.fee_vb(built.tx.vsize() as u64).unwrap());
    sign::verify_all(&built.tx, &prevouts(&built, &utxos)).unwrap();
}

#[test]
fn verification_catches_tampering() {
    let sender = key("alice", "");
    let utxos = wallet_utxos(&sender, 1, 2);
    let recipients = [addr("a", ""), addr("b", "")];
    let built = build_action(
        &TxParams::default(),
        &Verb::Transfer { edition: 1 },
        &recipients,
        &utxos,
        &sender,
    )
    .unwrap();
    let prev = prevouts(&built, &utxos);
    let mut tx = built.tx.clone();
    tx.output[0].value = Amount::from_sat(2_999);
    let err = sign::verify_all(&tx, &prev).unwrap_err();
    assert!(err.to_string().contains("does not verify"), "{err}");
    // A prevout of another key: public key mismatch.
    let mut wrong = prev.clone();
    wrong[1].script_pubkey = addr("mallory", "").script_pubkey();
    let err = sign::verify_all(&built.tx, &wrong).unwrap_err();
    assert!(err.to_string().contains("does not match"), "{err}");
}

#[test]
fn standardness_errors_are_clear_and_nothing_is_built() {
    let sender = key("alice", "");
    let recipients = [addr("a", ""), addr("b", "")];
    let verb = Verb::Transfer { edition: 1 };
    // Dust tokens.
    let params = TxParams {
        token: Amount::from_sat(500),
        ..TxParams::default()
    };
    let utxos = vec![
        fake_utxo(&sender.address(), FEE, 1, 0),
        fake_utxo(&sender.address(), 500, 1, 1),
        fake_utxo(&sender.address(), 500, 1, 2),
    ];
    let err = build_action(&params, &verb, &recipients, &utxos, &sender).unwrap_err();
    assert!(matches!(err, TxError::Dust { index: 0, minimum, .. } if minimum.to_sat() == 546));
    // Absurd fee.
    let params = TxParams {
        max_fee: Amount::from_sat(20_000),
        ..TxParams::default()
    };
    let utxos = wallet_utxos(&sender, 1, 2);
    let err = build_action(&params, &verb, &recipients, &utxos, &sender).unwrap_err();
    assert!(err.to_string().starts_with("absurd fee"), "{err}");
    // Mainnet recipient from a regtest key.
    let main = Wallet::from_secret(&MasterSecret::new("m"), Network::Bitcoin)
        .unwrap()
        .root_address();
    let err = build_action(
        &TxParams::default(),
        &verb,
        &[main.clone(), recipients[1].clone()],
        &utxos,
        &sender,
    )
    .unwrap_err();
    assert!(err.to_string().contains(&main.to_string()), "{err}");
    // Equal denominations.
    let params = TxParams {
        token: Amount::from_sat(FEE),
        ..TxParams::default()
    };
    let err = build_action(&params, &verb, &recipients, &utxos, &sender).unwrap_err();
    assert!(matches!(err, TxError::InvalidDenominations { .. }));
}

#[test]
fn explicit_inputs_are_checked() {
    let sender = key("alice", "");
    let a = sender.address();
    let recipients = [addr("a", "")];
    let fuel = [fake_utxo(&a, FEE + 1, 1, 0)];
    let tokens = [fake_utxo(&a, TOKEN, 1, 1)];
    let err = build_spool_tx(
        &TxParams::compat(),
        &Verb::Fuel,
        &recipients,
        &fuel,
        &tokens,
        &sender,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("fuel input must be exactly"),
        "{err}"
    );
    let fuel = [fake_utxo(&a, FEE, 1, 0)];
    let other = [fake_utxo(&addr("b", ""), TOKEN, 1, 1)];
    let err = build_spool_tx(
        &TxParams::compat(),
        &Verb::Fuel,
        &recipients,
        &fuel,
        &other,
        &sender,
    )
    .unwrap_err();
    assert!(matches!(err, TxError::Unspendable { .. }), "{err}");
    // Same outpoint as fuel and token (values differ, so it can only be a caller bug).
    let mut same = fake_utxo(&a, TOKEN, 1, 0);
    same.outpoint = fuel[0].outpoint;
    let err = build_spool_tx(
        &TxParams::compat(),
        &Verb::Fuel,
        &recipients,
        &fuel,
        &[same],
        &sender,
    )
    .unwrap_err();
    assert!(matches!(err, TxError::DuplicateInput(_)), "{err}");
    // Compat mode: version 1 and final sequences.
    let built = build_spool_tx(
        &TxParams::compat(),
        &Verb::Fuel,
        &recipients,
        &fuel,
        &tokens,
        &sender,
    )
    .unwrap();
    assert_eq!(built.tx.version, bitcoin::transaction::Version::ONE);
    assert!(built.tx.input.iter().all(|i| i.sequence == Sequence::MAX));
    assert_eq!(built.tx.lock_time, bitcoin::absolute::LockTime::ZERO);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

    /// For any recipient count, fee rate and wallet order, the FUEL-verb action keeps the
    /// shape: n >= 1 fuel then k tokens in, k tokens then the OP_RETURN out, fee = n x FEE
    /// and fee >= rate x signed vsize.
    #[test]
    fn shape_holds_for_any_rate_and_count(k in 1usize..6, rate in 1u32..110, shuffle in 0u64..1000) {
        let sender = key("prop", "3");
        let mut utxos = wallet_utxos(&sender, 12, 6);
        // A deterministic rotation: selection must not depend on the wallet's order.
        let len = utxos.len();
        utxos.rotate_left(shuffle as usize % len);
        let params = TxParams { fee_rate: FeeRate::from_sat_per_vb_u32(rate), ..TxParams::default() };
        let recipients: Vec<Address> = (0..k).map(|i| addr("r", &i.to_string())).collect();
        let built = build_action(&params, &Verb::Fuel, &recipients, &utxos, &sender).unwrap();
        let n = built.tx.input.len() - k;
        proptest::prop_assert!(n >= 1);
        let values: Vec<u64> = built.spent.iter()
            .map(|op| utxos.iter().find(|u| u.outpoint == *op).unwrap().value.to_sat())
            .collect();
        proptest::prop_assert!(values[..n].iter().all(|v| *v == FEE));
        proptest::prop_assert!(values[n..].iter().all(|v| *v == TOKEN));
        proptest::prop_assert_eq!(built.tx.output.len(), k + 1);
        proptest::prop_assert_eq!(built.fee, Amount::from_sat(FEE * n as u64));
        proptest::prop_assert!(built.fee >= params.fee_rate.fee_vb(built.tx.vsize() as u64).unwrap());
        sign::verify_all(&built.tx, &prevouts(&built, &utxos)).unwrap();
    }
}
