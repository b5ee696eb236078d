//! Signing of P2PKH and P2WPKH inputs (SIGHASH_ALL, RFC6979, low-S) and independent
//! verification of every signed input against its prevout.

use bitcoin::ecdsa::Signature;
use bitcoin::hashes::Hash;
use bitcoin::script::{Builder, Instruction};
use bitcoin::secp256k1::{ecdsa, Message};
use bitcoin::sighash::{EcdsaSighashType, SighashCache};
use bitcoin::{CompressedPublicKey, PublicKey, Script, Transaction, TxOut, Witness};
use spool_wallet::{SigningKey, WatchKey};

use crate::TxError;

/// Upper bound of a DER signature plus its sighash byte with low-S (R may be 33 bytes).
const MAX_SIG_LEN: usize = 72;

/// Which kind of key-hash script a prevout is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    P2pkh,
    P2wpkh,
}

/// The two scripts a key can spend, computed once per build.
#[derive(Debug, Clone)]
pub(crate) struct KeyScripts {
    p2pkh: bitcoin::ScriptBuf,
    p2wpkh: bitcoin::ScriptBuf,
}

impl KeyScripts {
    pub(crate) fn new(key: &SigningKey) -> KeyScripts {
        KeyScripts::of(&key.watch())
    }

    /// The scripts of a watch key: P2WPKH only when its public key is known.
    pub(crate) fn of(key: &WatchKey) -> KeyScripts {
        KeyScripts {
            p2pkh: key.address().script_pubkey(),
            p2wpkh: key
                .public_key()
                .map(|pk| bitcoin::ScriptBuf::new_p2wpkh(&pk.wpubkey_hash()))
                .unwrap_or_default(),
        }
    }

    /// How the key would spend `script`, or `None` when it cannot.
    pub(crate) fn kind(&self, script: &Script) -> Option<Kind> {
        if script == self.p2pkh.as_script() {
            Some(Kind::P2pkh)
        } else if !self.p2wpkh.is_empty() && script == self.p2wpkh.as_script() {
            Some(Kind::P2wpkh)
        } else {
            None
        }
    }
}

/// Fills every input with placeholder data of the largest signed size, so that `vsize()`
/// gives an upper bound of the signed transaction's virtual size.
pub(crate) fn with_dummy_signatures(tx: &Transaction, kinds: &[Kind]) -> Transaction {
    let mut tx = tx.clone();
    use bitcoin::script::PushBytesBuf;
    let sig = PushBytesBuf::try_from(vec![0u8; MAX_SIG_LEN]).expect("small");
    let pk = PushBytesBuf::try_from(vec![2u8; 33]).expect("small");
    for (input, kind) in tx.input.iter_mut().zip(kinds) {
        match kind {
            Kind::P2pkh => {
                input.script_sig = Builder::new()
                    .push_slice(&sig)
                    .push_slice(&pk)
                    .into_script();
            }
            Kind::P2wpkh => {
                input.witness = Witness::from_slice(&[sig.as_bytes(), pk.as_bytes()]);
            }
        }
    }
    tx
}

/// Signs every input of `tx` with `key` (SIGHASH_ALL). `prevouts[i]` is the output spent by
/// input `i`; each must be the P2PKH or P2WPKH script of `key`. Then verifies every input.
///
/// # Errors
///
/// [`TxError::PrevoutCount`], [`TxError::UnsupportedScript`] or [`TxError::Sighash`].
pub fn sign_all(tx: &mut Transaction, prevouts: &[TxOut], key: &SigningKey) -> Result<(), TxError> {
    if prevouts.len() != tx.input.len() {
        return Err(TxError::PrevoutCount {
            inputs: tx.input.len(),
            prevouts: prevouts.len(),
        });
    }
    let scripts = KeyScripts::new(key);
    let mut kinds = Vec::with_capacity(prevouts.len());
    for (index, prevout) in prevouts.iter().enumerate() {
        match scripts.kind(&prevout.script_pubkey) {
            Some(kind) => kinds.push(kind),
            None => {
                return Err(TxError::UnsupportedScript {
                    index,
                    script: prevout.script_pubkey.clone(),
                })
            }
        }
    }
    let messages = sighashes(tx, prevouts, &kinds)?;
    let pubkey = key.public_key();
    for ((input, kind), msg) in tx.input.iter_mut().zip(&kinds).zip(messages) {
        let signature = Signature {
            signature: key.sign_ecdsa(&msg),
            sighash_type: EcdsaSighashType::All,
        };
        match kind {
            Kind::P2pkh => {
                input.script_sig = Builder::new()
                    .push_slice(signature.serialize())
                    .push_slice(pubkey.to_bytes())
                    .into_script();
                input.witness = Witness::new();
            }
            Kind::P2wpkh => {
                input.script_sig = bitcoin::ScriptBuf::new();
                input.witness = Witness::p2wpkh(&signature, &pubkey.0);
            }
        }
    }
    verify_all(tx, prevouts)
}

fn sighashes(
    tx: &Transaction,
    prevouts: &[TxOut],
    kinds: &[Kind],
) -> Result<Vec<Message>, TxError> {
    let mut cache = SighashCache::new(tx);
    let mut out = Vec::with_capacity(kinds.len());
    for (index, (prevout, kind)) in prevouts.iter().zip(kinds).enumerate() {
        let digest = match kind {
            Kind::P2pkh => cache
                .legacy_signature_hash(
                    index,
                    &prevout.script_pubkey,
                    EcdsaSighashType::All.to_u32(),
                )
                .map(|h| h.to_byte_array())
                .map_err(|e| TxError::Sighash {
                    index,
                    source: Box::new(e),
                })?,
            Kind::P2wpkh => cache
                .p2wpkh_signature_hash(
                    index,
                    &prevout.script_pubkey,
                    prevout.value,
                    EcdsaSighashType::All,
                )
                .map(|h| h.to_byte_array())
                .map_err(|e| TxError::Sighash {
                    index,
                    source: Box::new(e),
                })?,
        };
        out.push(Message::from_digest(digest));
    }
    Ok(out)
}

/// Verifies every input of `tx` against its prevout: the key in the scriptSig or witness
/// must hash to the prevout's key hash, and the ECDSA signature (strict DER, low-S,
/// SIGHASH_ALL) must be valid for the input's sighash. Supports P2PKH and P2WPKH prevouts.
///
/// # Errors
///
/// [`TxError::PrevoutCount`], [`TxError::UnsupportedScript`] or [`TxError::BadSignature`].
pub fn verify_all(tx: &Transaction, prevouts: &[TxOut]) -> Result<(), TxError> {
    if prevouts.len() != tx.input.len() {
        return Err(TxError::PrevoutCount {
            inputs: tx.input.len(),
            prevouts: prevouts.len(),
        });
    }
    let mut cache = SighashCache::new(tx);
    for (index, (input, prevout)) in tx.input.iter().zip(prevouts).enumerate() {
        let bad = |reason: &str| TxError::BadSignature {
            index,
            reason: reason.to_owned(),
        };
        let spk = &prevout.script_pubkey;
        let (sig_bytes, pk_bytes, digest) = if spk.is_p2pkh() {
            if !input.witness.is_empty() {
                return Err(bad("p2pkh input has a witness"));
            }
            let pushes: Vec<_> = input
                .script_sig
                .instructions()
                .collect::<Result<_, _>>()
                .map_err(|_| bad("scriptSig does not parse"))?;
            let (sig, pk) = match pushes.as_slice() {
                [Instruction::PushBytes(sig), Instruction::PushBytes(pk)] => {
                    (sig.as_bytes().to_vec(), pk.as_bytes().to_vec())
                }
                _ => return Err(bad("scriptSig is not <signature> <pubkey>")),
            };
            let pk_hash = PublicKey::from_slice(&pk)
                .map_err(|_| bad("invalid public key"))?
                .pubkey_hash();
            if spk.as_bytes()[3..23] != pk_hash.to_byte_array() {
                return Err(bad("public key does not match the prevout's key hash"));
            }
            let digest = cache
                .legacy_signature_hash(index, spk, EcdsaSighashType::All.to_u32())
                .map_err(|e| TxError::Sighash {
                    index,
                    source: Box::new(e),
                })?
                .to_byte_array();
            (sig, pk, digest)
        } else if spk.is_p2wpkh() {
            if !input.script_sig.is_empty() {
                return Err(bad("p2wpkh input has a scriptSig"));
            }
            let items: Vec<&[u8]> = input.witness.iter().collect();
            let [sig, pk] = items.as_slice() else {
                return Err(bad("witness is not <signature> <pubkey>"));
            };
            let compressed = CompressedPublicKey::from_slice(pk)
                .map_err(|_| bad("witness public key is not a compressed key"))?;
            if spk.as_bytes()[2..22] != compressed.wpubkey_hash().to_byte_array() {
                return Err(bad("public key does not match the prevout's key hash"));
            }
            let digest = cache
                .p2wpkh_signature_hash(index, spk, prevout.value, EcdsaSighashType::All)
                .map_err(|e| TxError::Sighash {
                    index,
                    source: Box::new(e),
                })?
                .to_byte_array();
            (sig.to_vec(), pk.to_vec(), digest)
        } else {
            return Err(TxError::UnsupportedScript {
                index,
                script: spk.clone(),
            });
        };
        let (sighash_byte, der) = sig_bytes
            .split_last()
            .ok_or_else(|| bad("empty signature"))?;
        if *sighash_byte != EcdsaSighashType::All as u8 {
            return Err(bad("sighash type is not SIGHASH_ALL"));
        }
        let signature =
            ecdsa::Signature::from_der(der).map_err(|_| bad("signature is not strict DER"))?;
        let mut normalized = signature;
        normalized.normalize_s();
        if normalized != signature {
            return Err(bad("signature is not low-S"));
        }
        let pubkey = bitcoin::secp256k1::PublicKey::from_slice(&pk_bytes)
            .map_err(|_| bad("invalid public key"))?;
        spool_wallet::secp()
            .verify_ecdsa(&Message::from_digest(digest), &signature, &pubkey)
            .map_err(|_| bad("ecdsa signature does not verify against the sighash"))?;
    }
    Ok(())
}
