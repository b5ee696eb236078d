//! PSBTs of unsigned actions: built from the public side only, signed from the secret,
//! finalized to the very transaction the signing builder makes; wrong secrets and lying
//! previous transactions refused.

use bitcoin::absolute::LockTime;
use bitcoin::transaction::Version;
use bitcoin::{Address, Amount, Network, OutPoint, Transaction, TxIn, TxOut};
use spool_protocol::verb::Verb;
use spool_tx::psbt::{self, PsbtError};
use spool_tx::{build_action, TxParams, Utxo};
use spool_wallet::{LeafPath, MasterSecret, Wallet, WatchKey, WatchWallet};

fn wallet(secret: &str) -> Wallet {
    Wallet::from_secret(&MasterSecret::new(secret), Network::Regtest).unwrap()
}

/// One previous transaction paying `n` fuel outputs then `n` tokens to `to`, and its UTXOs.
fn funding(to: &Address, n: u32, salt: u32) -> (Transaction, Vec<Utxo>) {
    let params = TxParams::default();
    let mut output = Vec::new();
    for _ in 0..n {
        output.push(TxOut {
            value: params.fee,
            script_pubkey: to.script_pubkey(),
        });
    }
    for _ in 0..n {
        output.push(TxOut {
            value: params.token,
            script_pubkey: to.script_pubkey(),
        });
    }
    let tx = Transaction {
        version: Version::TWO,
        lock_time: LockTime::from_consensus(salt),
        input: vec![TxIn::default()],
        output,
    };
    let txid = tx.compute_txid();
    let utxos = tx
        .output
        .iter()
        .enumerate()
        .map(|(vout, out)| Utxo {
            outpoint: OutPoint::new(txid, vout as u32),
            value: out.value,
            script_pubkey: out.script_pubkey.clone(),
            confirmations: 10,
            is_coinbase: false,
        })
        .collect();
    (tx, utxos)
}

#[test]
fn unsigned_psbt_signs_to_the_signed_builders_transaction() {
    let secret = wallet("psbt federation");
    let path = LeafPath::parse("0/1/2").unwrap();
    let xpub = secret.xpub().unwrap().to_string();
    let watch = WatchWallet::from_xpub(&xpub, Network::Regtest)
        .unwrap()
        .key(&path)
        .unwrap();
    let (prev, utxos) = funding(watch.address(), 3, 1);
    let recipient = wallet("owner").root_address();
    let verb = Verb::Register { edition: 1 };
    let piece = wallet("piece").root_address();
    let recipients = [watch.address().clone(), piece, recipient];
    let params = TxParams::default();
    let unsigned = build_action(&params, &verb, &recipients, &utxos, &watch).unwrap();
    assert!(unsigned.tx.input.iter().all(|i| i.script_sig.is_empty()));
    let signed = build_action(
        &params,
        &verb,
        &recipients,
        &utxos,
        &secret.signing_key(&path).unwrap(),
    )
    .unwrap();
    assert_eq!(psbt::unsigned_form(&signed.tx), unsigned.tx);
    assert_eq!(signed.fee, unsigned.fee);

    let mut p = psbt::to_psbt(&unsigned, std::slice::from_ref(&prev), &watch).unwrap();
    for input in &p.inputs {
        let (fingerprint, derivation) = input.bip32_derivation.values().next().unwrap();
        assert_eq!(*fingerprint, secret.fingerprint());
        assert_eq!(derivation.to_string(), "0/1/2");
        assert_eq!(input.non_witness_utxo.as_ref(), Some(&prev));
    }
    // Through base64 and back.
    let text = psbt::to_base64(&p);
    let psbt::PsbtOrTx::Psbt(read) = psbt::read(text.as_bytes()).unwrap() else {
        panic!("not read back as a psbt")
    };
    assert_eq!(read, p);

    // The wrong secret is refused, naming the input and the fingerprints.
    let err = psbt::sign_psbt(&mut p.clone(), &wallet("not the federation"), &path).unwrap_err();
    assert!(
        matches!(err, PsbtError::WrongMasterKey { index: 0, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("wrong secret"), "{err}");

    psbt::sign_psbt(&mut p, &secret, &LeafPath::root()).unwrap();
    let tx = psbt::finalize(&mut p).unwrap();
    assert_eq!(tx, signed.tx);
}

#[test]
fn address_only_psbt_is_signed_at_the_given_path() {
    let secret = wallet("address only");
    let path = LeafPath::parse("7").unwrap();
    let address = secret.address(&path).unwrap();
    let watch = WatchKey::from_address(address.clone(), Network::Regtest).unwrap();
    let (prev, utxos) = funding(&address, 2, 2);
    let params = TxParams::default();
    let verb = Verb::Transfer { edition: 1 };
    let recipients = [wallet("p").root_address(), wallet("q").root_address()];
    let unsigned = build_action(&params, &verb, &recipients, &utxos, &watch).unwrap();
    let mut p = psbt::to_psbt(&unsigned, &[prev], &watch).unwrap();
    assert!(p.inputs.iter().all(|i| i.bip32_derivation.is_empty()));
    // The root key is not the one that spends these outputs.
    let err = psbt::sign_psbt(&mut p.clone(), &secret, &LeafPath::root()).unwrap_err();
    assert!(matches!(err, PsbtError::WrongKey { .. }), "{err}");
    assert!(err.to_string().contains(&address.to_string()), "{err}");
    psbt::sign_psbt(&mut p, &secret, &path).unwrap();
    let tx = psbt::finalize(&mut p).unwrap();
    let signed = build_action(
        &params,
        &verb,
        &recipients,
        &utxos,
        &secret.signing_key(&path).unwrap(),
    )
    .unwrap();
    assert_eq!(tx, signed.tx);
}

#[test]
fn lying_previous_transaction_is_refused() {
    let secret = wallet("liar");
    let watch = secret.watch_key(&LeafPath::root()).unwrap();
    let (prev, utxos) = funding(watch.address(), 2, 3);
    let params = TxParams::default();
    let recipients = [wallet("p").root_address(), wallet("q").root_address()];
    let unsigned = build_action(
        &params,
        &Verb::Transfer { edition: 2 },
        &recipients,
        &utxos,
        &watch,
    )
    .unwrap();
    let mut p = psbt::to_psbt(&unsigned, &[prev], &watch).unwrap();
    // A previous transaction that claims a bigger output: not the transaction spent.
    let mut fake = p.inputs[0].non_witness_utxo.clone().unwrap();
    fake.output[0].value = Amount::from_sat(10_000_000);
    p.inputs[0].non_witness_utxo = Some(fake);
    let err = psbt::check_previous(&p).unwrap_err();
    assert!(
        matches!(err, PsbtError::WrongPrevious { index: 0, .. }),
        "{err}"
    );
    assert!(psbt::sign_psbt(&mut p, &secret, &LeafPath::root()).is_err());
    // Unsigned inputs are not finalized.
    let mut fresh = psbt::to_psbt(&unsigned, &[funding(watch.address(), 2, 3).0], &watch).unwrap();
    assert!(matches!(
        psbt::finalize(&mut fresh).unwrap_err(),
        PsbtError::NotSigned { index: 0, .. }
    ));
}
