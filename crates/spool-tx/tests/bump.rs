//! Fee bumps: the same outputs, the original inputs kept, more fuel, a higher fee and rate;
//! pyspool-compatibility transactions refused.

use bitcoin::absolute::LockTime;
use bitcoin::transaction::Version;
use bitcoin::{Amount, FeeRate, Network, OutPoint, Transaction, TxIn, TxOut};
use spool_protocol::verb::Verb;
use spool_tx::{build_action, build_bump, TxError, TxParams, Utxo};
use spool_wallet::{LeafPath, MasterSecret, SigningKey, Wallet};

fn key(secret: &str) -> SigningKey {
    Wallet::from_secret(&MasterSecret::new(secret), Network::Regtest)
        .unwrap()
        .signing_key(&LeafPath::root())
        .unwrap()
}

fn utxos(key: &SigningKey, fuel: u32, tokens: u32) -> Vec<Utxo> {
    let params = TxParams::default();
    let tx = Transaction {
        version: Version::TWO,
        lock_time: LockTime::ZERO,
        input: vec![TxIn::default()],
        output: (0..fuel)
            .map(|_| params.fee)
            .chain((0..tokens).map(|_| params.token))
            .map(|value| TxOut {
                value,
                script_pubkey: key.address().script_pubkey(),
            })
            .collect(),
    };
    let txid = tx.compute_txid();
    tx.output
        .iter()
        .enumerate()
        .map(|(i, o)| Utxo {
            outpoint: OutPoint::new(txid, i as u32),
            value: o.value,
            script_pubkey: o.script_pubkey.clone(),
            confirmations: 6,
            is_coinbase: false,
        })
        .collect()
}

#[test]
fn bump_keeps_the_action_and_pays_more() {
    let federation = key("bump federation");
    let all = utxos(&federation, 4, 6);
    let recipients = [
        federation.address(),
        key("piece").address(),
        key("owner").address(),
    ];
    let verb = Verb::Register { edition: 1 };
    let low = TxParams {
        fee_rate: FeeRate::from_sat_per_vb_u32(1),
        ..TxParams::default()
    };
    let original = build_action(&low, &verb, &recipients, &all, &federation).unwrap();
    assert_eq!(original.tx.input.len(), 4, "one fuel and three tokens");
    let spent: Vec<Utxo> = original
        .spent
        .iter()
        .map(|o| all.iter().find(|u| u.outpoint == *o).unwrap().clone())
        .collect();
    let old_rate = original.fee.to_sat() as f64 / original.vsize() as f64;
    let high = TxParams {
        fee_rate: FeeRate::from_sat_per_vb_u32((old_rate as u32) + 20),
        ..TxParams::default()
    };
    let bumped = build_bump(&high, &original.tx, &spent, original.fee, &all, &federation).unwrap();
    assert_eq!(
        bumped.tx.output, original.tx.output,
        "the same outputs in order"
    );
    assert_eq!(bumped.tx.input.len(), 5, "one more fuel input");
    assert_eq!(
        bumped.spent[0], original.spent[0],
        "the original fuel first"
    );
    assert_eq!(
        bumped.spent[2..],
        original.spent[1..],
        "then the tokens, in order"
    );
    assert!(bumped.fee > original.fee + Amount::from_sat(bumped.vsize() as u64));
    assert!(bumped.fee.to_sat() as f64 / bumped.vsize() as f64 > old_rate + 19.0);
    assert!(bumped.tx.is_explicitly_rbf());

    // Not enough confirmed fuel: unconfirmed fuel does not count (BIP 125 rule 2).
    let mut unconfirmed = all.clone();
    for u in &mut unconfirmed {
        if !original.spent.contains(&u.outpoint) {
            u.confirmations = 0;
        }
    }
    let err = build_bump(
        &high,
        &original.tx,
        &spent,
        original.fee,
        &unconfirmed,
        &federation,
    )
    .unwrap_err();
    assert!(matches!(err, TxError::NotEnoughOutputs(_)), "{err}");

    // pyspool-compatibility transactions do not signal replacement.
    let compat = TxParams {
        fee_rate: FeeRate::from_sat_per_vb_u32(1),
        ..TxParams::compat()
    };
    let old = build_action(&compat, &verb, &recipients, &all, &federation).unwrap();
    let err = build_bump(&high, &old.tx, &spent, old.fee, &all, &federation).unwrap_err();
    assert!(matches!(err, TxError::NotReplaceable { .. }), "{err}");
    assert!(err.to_string().contains("pyspool-compatibility"), "{err}");
}
