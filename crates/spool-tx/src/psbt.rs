//! PSBT (BIP 174) for keys kept off the online machine, with rust-bitcoin's own `psbt`
//! module: [`to_psbt`] (creator and updater: each input's previous transaction and BIP 32
//! derivation), [`sign_psbt`] (signer, from a wallet's secret), [`finalize`] (finalizer and
//! extractor for P2PKH and P2WPKH inputs, with every signature verified) and
//! [`check_previous`] (every `non_witness_utxo` is the transaction its input names:
//! rust-bitcoin does not check it).

use std::collections::BTreeMap;

use bitcoin::bip32::{ChildNumber, DerivationPath, Fingerprint};
use bitcoin::psbt::{Input, Psbt};
use bitcoin::script::{Builder, Instruction};
use bitcoin::{OutPoint, PublicKey, ScriptBuf, Transaction, TxOut, Txid, Witness};
use spool_wallet::{LeafPath, SigningKey, Wallet, WatchKey};

use crate::sign::{sign_all, verify_all};
use crate::{BuiltTx, TxError};

/// What is wrong with a PSBT (or what keeps it from being signed or finalized).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PsbtError {
    /// The text is neither a base64 PSBT, a binary PSBT nor a raw transaction in hex.
    #[error("not a psbt (base64 or binary) nor a raw transaction in hex: {reason}")]
    Unreadable {
        /// Why it does not decode.
        reason: String,
    },
    /// The previous transaction of an input is missing.
    #[error("input {index} ({outpoint}) carries no previous transaction (non_witness_utxo)")]
    MissingPrevious {
        /// The input.
        index: usize,
        /// What it spends.
        outpoint: OutPoint,
    },
    /// An input's `non_witness_utxo` is another transaction than the one it spends.
    #[error(
        "input {index} spends {outpoint} but its non_witness_utxo is transaction {actual}: \
         the psbt lies about what it spends"
    )]
    WrongPrevious {
        /// The input.
        index: usize,
        /// What it spends.
        outpoint: OutPoint,
        /// The txid of the transaction it carries.
        actual: Txid,
    },
    /// An input's previous transaction has no output at the index spent.
    #[error("input {index} spends {outpoint}, an output its previous transaction does not have")]
    NoSuchOutput {
        /// The input.
        index: usize,
        /// What it spends.
        outpoint: OutPoint,
    },
    /// An input's BIP 32 derivation is for another master key than the secret's.
    #[error(
        "input {index} is to be signed by master key {expected} (path m{}{path}), but the \
         secret's master key is {actual}: wrong secret",
        if path.is_empty() { "" } else { "/" }
    )]
    WrongMasterKey {
        /// The input.
        index: usize,
        /// The fingerprint the PSBT names.
        expected: Fingerprint,
        /// The secret's fingerprint.
        actual: Fingerprint,
        /// The path the PSBT names.
        path: DerivationPath,
    },
    /// The key the secret derives does not match the input (derivation's public key, or the
    /// address the input spends).
    #[error(
        "input {index} spends {spends}, but the secret's key at path {path:?} is {derived}: \
         wrong secret or path"
    )]
    WrongKey {
        /// The input.
        index: usize,
        /// What the input spends (its script, as an address when it is one).
        spends: String,
        /// The leaf path used.
        path: String,
        /// The address of the derived key.
        derived: String,
    },
    /// A BIP 32 derivation path with a hardened step (pyspool's paths have none).
    #[error("input {index}: derivation path {path} has a hardened step; spool paths have none")]
    HardenedPath {
        /// The input.
        index: usize,
        /// The path.
        path: DerivationPath,
    },
    /// An input has no signature to finalize.
    #[error("input {index} ({outpoint}) is not signed")]
    NotSigned {
        /// The input.
        index: usize,
        /// What it spends.
        outpoint: OutPoint,
    },
    /// Deriving the signing key failed.
    #[error("cannot derive the signing key")]
    Wallet(#[from] spool_wallet::WalletError),
    /// Signing or verifying failed.
    #[error(transparent)]
    Tx(#[from] TxError),
}

/// The unsigned PSBT of an unsigned transaction built by this crate for `key`: each input
/// carries its previous transaction (`non_witness_utxo`, and `witness_utxo` for P2WPKH) and,
/// when the key's origin is known, its BIP 32 derivation (the master fingerprint and the
/// leaf path). `previous` holds the transactions the inputs spend.
///
/// # Errors
///
/// [`PsbtError::MissingPrevious`] when `previous` lacks one, or the checks of
/// [`check_previous`].
pub fn to_psbt(
    built: &BuiltTx,
    previous: &[Transaction],
    key: &WatchKey,
) -> Result<Psbt, PsbtError> {
    let mut unsigned = built.tx.clone();
    for input in &mut unsigned.input {
        input.script_sig = ScriptBuf::new();
        input.witness = Witness::new();
    }
    let mut psbt = Psbt::from_unsigned_tx(unsigned).map_err(|e| PsbtError::Unreadable {
        reason: e.to_string(),
    })?;
    let by_txid: BTreeMap<Txid, &Transaction> =
        previous.iter().map(|tx| (tx.compute_txid(), tx)).collect();
    for (index, (txin, input)) in psbt
        .unsigned_tx
        .input
        .iter()
        .zip(psbt.inputs.iter_mut())
        .enumerate()
    {
        let outpoint = txin.previous_output;
        let prev = by_txid
            .get(&outpoint.txid)
            .ok_or(PsbtError::MissingPrevious { index, outpoint })?;
        let out = prev
            .output
            .get(outpoint.vout as usize)
            .ok_or(PsbtError::NoSuchOutput { index, outpoint })?;
        if out.script_pubkey.is_p2wpkh() {
            input.witness_utxo = Some(out.clone());
        }
        input.non_witness_utxo = Some((*prev).clone());
        if let (Some(public), Some(origin)) = (key.public_key(), key.origin()) {
            input
                .bip32_derivation
                .insert(public.0, (origin.fingerprint, origin.derivation_path()));
        }
    }
    check_previous(&psbt)?;
    Ok(psbt)
}

/// The outputs the inputs of `psbt` spend, read from their `non_witness_utxo`, after
/// checking that each is the transaction its input names (its txid) and has the output.
///
/// # Errors
///
/// [`PsbtError::MissingPrevious`], [`PsbtError::WrongPrevious`] or
/// [`PsbtError::NoSuchOutput`].
pub fn check_previous(psbt: &Psbt) -> Result<Vec<TxOut>, PsbtError> {
    let mut prevouts = Vec::with_capacity(psbt.inputs.len());
    for (index, (txin, input)) in psbt.unsigned_tx.input.iter().zip(&psbt.inputs).enumerate() {
        let outpoint = txin.previous_output;
        let prev = input
            .non_witness_utxo
            .as_ref()
            .ok_or(PsbtError::MissingPrevious { index, outpoint })?;
        let actual = prev.compute_txid();
        if actual != outpoint.txid {
            return Err(PsbtError::WrongPrevious {
                index,
                outpoint,
                actual,
            });
        }
        let out = prev
            .output
            .get(outpoint.vout as usize)
            .ok_or(PsbtError::NoSuchOutput { index, outpoint })?;
        if let Some(witness_utxo) = &input.witness_utxo {
            if witness_utxo != out {
                return Err(PsbtError::WrongPrevious {
                    index,
                    outpoint,
                    actual,
                });
            }
        }
        prevouts.push(out.clone());
    }
    Ok(prevouts)
}

/// The leaf path of a BIP 32 derivation path (all steps non-hardened).
fn leaf_path(index: usize, path: &DerivationPath) -> Result<LeafPath, PsbtError> {
    let mut indices = Vec::with_capacity(path.len());
    for step in path {
        match step {
            ChildNumber::Normal { index: i } => indices.push(*i),
            ChildNumber::Hardened { .. } => {
                return Err(PsbtError::HardenedPath {
                    index,
                    path: path.clone(),
                })
            }
        }
    }
    Ok(LeafPath::from_indices(&indices)?)
}

fn describe_script(script: &ScriptBuf, wallet: &Wallet) -> String {
    bitcoin::Address::from_script(script, wallet.network())
        .map(|a| a.to_string())
        .unwrap_or_else(|_| format!("script {script}"))
}

/// The key that signs input `index`: from its BIP 32 derivation when it has one (its
/// fingerprint must be the wallet's), else from `path`; either way the key must be the one
/// of the output the input spends.
fn key_for(
    index: usize,
    input: &Input,
    prevout: &TxOut,
    wallet: &Wallet,
    path: &LeafPath,
) -> Result<SigningKey, PsbtError> {
    let path = match input.bip32_derivation.iter().next() {
        Some((_, (fingerprint, derivation))) => {
            if *fingerprint != wallet.fingerprint() {
                return Err(PsbtError::WrongMasterKey {
                    index,
                    expected: *fingerprint,
                    actual: wallet.fingerprint(),
                    path: derivation.clone(),
                });
            }
            leaf_path(index, derivation)?
        }
        None => path.clone(),
    };
    let key = wallet.signing_key(&path)?;
    let matches_derivation = input
        .bip32_derivation
        .keys()
        .next()
        .is_none_or(|public| *public == key.public_key().0);
    let spk = &prevout.script_pubkey;
    let matches_script =
        *spk == key.address().script_pubkey() || *spk == key.p2wpkh_address().script_pubkey();
    if !(matches_derivation && matches_script) {
        return Err(PsbtError::WrongKey {
            index,
            spends: describe_script(spk, wallet),
            path: path.to_string(),
            derived: key.address().to_string(),
        });
    }
    Ok(key)
}

/// Signs every input of `psbt` with `wallet`'s keys (SIGHASH_ALL), adding each signature to
/// the input's `partial_sigs`. An input with a BIP 32 derivation is signed by the key it
/// names, which must be the wallet's (same master fingerprint, same public key); one without
/// by the key at `path`, which must be the key of the output it spends. The previous
/// transactions are checked first ([`check_previous`]).
///
/// # Errors
///
/// [`PsbtError::WrongMasterKey`] or [`PsbtError::WrongKey`] (wrong secret), a check of
/// [`check_previous`], or a derivation or signing error.
pub fn sign_psbt(psbt: &mut Psbt, wallet: &Wallet, path: &LeafPath) -> Result<(), PsbtError> {
    let prevouts = check_previous(psbt)?;
    let mut keys = Vec::with_capacity(prevouts.len());
    for (index, (input, prevout)) in psbt.inputs.iter().zip(&prevouts).enumerate() {
        keys.push(key_for(index, input, prevout, wallet, path)?);
    }
    // Sign input by input with our own signer (RFC6979, low-S, verified), then keep the
    // signatures as partial signatures.
    for (index, key) in keys.iter().enumerate() {
        let mut tx = psbt.unsigned_tx.clone();
        sign_one(&mut tx, &prevouts, index, key)?;
        let (signature, public) = read_signature(&tx, index)?;
        psbt.inputs[index].partial_sigs.insert(public, signature);
    }
    Ok(())
}

/// Signs input `index` of `tx` with `key` (the other inputs keep their scripts).
fn sign_one(
    tx: &mut Transaction,
    prevouts: &[TxOut],
    index: usize,
    key: &SigningKey,
) -> Result<(), TxError> {
    // sign_all signs every input with one key; for one input, sign a copy whose other
    // prevouts are this key's script (their sighashes are not used).
    let script = prevouts[index].script_pubkey.clone();
    let mine: Vec<TxOut> = prevouts
        .iter()
        .map(|p| TxOut {
            value: p.value,
            script_pubkey: script.clone(),
        })
        .collect();
    let mut copy = tx.clone();
    // The legacy sighash of input `index` depends only on its own prevout's script, and the
    // segwit one on its own value: the copy's signature for `index` is the real one.
    match sign_all(&mut copy, &mine, key) {
        Ok(()) => {}
        Err(TxError::BadSignature { .. }) => {}
        Err(other) => return Err(other),
    }
    tx.input[index] = copy.input[index].clone();
    Ok(())
}

fn read_signature(
    tx: &Transaction,
    index: usize,
) -> Result<(bitcoin::ecdsa::Signature, PublicKey), PsbtError> {
    let input = &tx.input[index];
    let bad = || {
        PsbtError::Tx(TxError::BadSignature {
            index,
            reason: "signer produced no signature".to_owned(),
        })
    };
    let (sig, pk): (Vec<u8>, Vec<u8>) = if input.witness.is_empty() {
        let pushes: Vec<_> = input
            .script_sig
            .instructions()
            .collect::<Result<_, _>>()
            .map_err(|_| bad())?;
        match pushes.as_slice() {
            [Instruction::PushBytes(s), Instruction::PushBytes(p)] => {
                (s.as_bytes().to_vec(), p.as_bytes().to_vec())
            }
            _ => return Err(bad()),
        }
    } else {
        let items: Vec<&[u8]> = input.witness.iter().collect();
        match items.as_slice() {
            [s, p] => (s.to_vec(), p.to_vec()),
            _ => return Err(bad()),
        }
    };
    let signature = bitcoin::ecdsa::Signature::from_slice(&sig).map_err(|_| bad())?;
    let public = PublicKey::from_slice(&pk).map_err(|_| bad())?;
    Ok((signature, public))
}

/// Finalizes every input of `psbt` (P2PKH: `<signature> <pubkey>` scriptSig; P2WPKH: the
/// witness) from its partial signature, unless it already has final scripts, clears the
/// fields a finalizer clears, and returns the signed transaction after verifying every
/// input's signature against the output it spends (read from the checked
/// `non_witness_utxo`).
///
/// # Errors
///
/// [`PsbtError::NotSigned`], a check of [`check_previous`], or [`TxError::BadSignature`].
pub fn finalize(psbt: &mut Psbt) -> Result<Transaction, PsbtError> {
    let prevouts = check_previous(psbt)?;
    for (index, (input, prevout)) in psbt.inputs.iter_mut().zip(&prevouts).enumerate() {
        if input.final_script_sig.is_none() && input.final_script_witness.is_none() {
            let outpoint = psbt.unsigned_tx.input[index].previous_output;
            let (public, signature) = input
                .partial_sigs
                .iter()
                .next()
                .ok_or(PsbtError::NotSigned { index, outpoint })?;
            if prevout.script_pubkey.is_p2wpkh() {
                let compressed = bitcoin::CompressedPublicKey::try_from(*public).map_err(|_| {
                    TxError::BadSignature {
                        index,
                        reason: "p2wpkh key is not compressed".to_owned(),
                    }
                })?;
                input.final_script_witness = Some(Witness::p2wpkh(signature, &compressed.0));
            } else {
                input.final_script_sig = Some(
                    Builder::new()
                        .push_slice(signature.serialize())
                        .push_key(public)
                        .into_script(),
                );
            }
        }
        input.partial_sigs.clear();
        input.bip32_derivation.clear();
        input.sighash_type = None;
        input.redeem_script = None;
        input.witness_script = None;
    }
    let mut tx = psbt.unsigned_tx.clone();
    for (txin, input) in tx.input.iter_mut().zip(&psbt.inputs) {
        txin.script_sig = input.final_script_sig.clone().unwrap_or_default();
        txin.witness = input.final_script_witness.clone().unwrap_or_default();
    }
    verify_all(&tx, &prevouts)?;
    Ok(tx)
}

/// The unsigned form of a transaction (every scriptSig and witness emptied): its txid is the
/// txid of the PSBT it was signed from.
pub fn unsigned_form(tx: &Transaction) -> Transaction {
    let mut tx = tx.clone();
    for input in &mut tx.input {
        input.script_sig = ScriptBuf::new();
        input.witness = Witness::new();
    }
    tx
}

/// The base64 text of a PSBT (BIP 174's usual exchange form, as Bitcoin Core prints it).
pub fn to_base64(psbt: &Psbt) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(psbt.serialize())
}

/// Reads a PSBT (base64 text or binary) or a raw transaction (hex).
///
/// # Errors
///
/// [`PsbtError::Unreadable`] when it is none of them.
pub fn read(bytes: &[u8]) -> Result<PsbtOrTx, PsbtError> {
    if bytes.starts_with(b"psbt\xff") {
        return Psbt::deserialize(bytes)
            .map(PsbtOrTx::Psbt)
            .map_err(|e| PsbtError::Unreadable {
                reason: e.to_string(),
            });
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| PsbtError::Unreadable {
            reason: "binary data that does not start with the psbt magic".to_owned(),
        })?
        .trim();
    if text.starts_with("cHNidP") {
        use base64::Engine;
        let binary = base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|e| PsbtError::Unreadable {
                reason: format!("bad base64: {e}"),
            })?;
        return read(&binary);
    }
    bitcoin::consensus::encode::deserialize_hex::<Transaction>(text)
        .map(PsbtOrTx::Tx)
        .map_err(|e| PsbtError::Unreadable {
            reason: e.to_string(),
        })
}

/// What [`read`] found.
#[derive(Debug, Clone)]
pub enum PsbtOrTx {
    /// A PSBT.
    Psbt(Psbt),
    /// A raw signed transaction.
    Tx(Transaction),
}
