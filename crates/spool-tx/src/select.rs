//! Which UTXOs a key can spend, their split into fuel and tokens, size estimates, and the
//! common last step (assemble, sign, verify, check).

use std::collections::HashSet;

use bitcoin::absolute::LockTime;
use bitcoin::{Address, Amount, ScriptBuf, Transaction, TxIn, TxOut, Witness};
use spool_wallet::{SigningKey, WatchKey};

use crate::sign::{sign_all, KeyScripts, Kind};
use crate::{standard, BuiltTx, TxError, TxParams, Utxo, COINBASE_MATURITY};

/// A UTXO the key can spend, with how it spends it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spendable<'a> {
    pub utxo: &'a Utxo,
    pub kind: Kind,
}

/// Why `key` cannot spend `utxo`, if it cannot.
pub(crate) fn unspendable_reason(utxo: &Utxo, scripts: &KeyScripts) -> Option<&'static str> {
    if scripts.kind(&utxo.script_pubkey).is_none() {
        Some("its script is not this key's p2pkh or p2wpkh")
    } else if utxo.is_coinbase && utxo.confirmations < COINBASE_MATURITY {
        Some("it is a coinbase output with fewer than 100 confirmations")
    } else {
        None
    }
}

/// The UTXOs `key` can spend now, in the given order, without duplicate outpoints.
pub(crate) fn spendable<'a>(utxos: &'a [Utxo], key: &WatchKey) -> Vec<Spendable<'a>> {
    let scripts = KeyScripts::of(key);
    let mut seen = HashSet::new();
    utxos
        .iter()
        .filter(|u| unspendable_reason(u, &scripts).is_none() && seen.insert(u.outpoint))
        .map(|utxo| Spendable {
            utxo,
            kind: scripts.kind(&utxo.script_pubkey).expect("filtered"),
        })
        .collect()
}

/// The spendable UTXOs split into fuel (exactly `fee`) and tokens (exactly `token`).
pub(crate) fn fuel_and_tokens<'a>(
    utxos: &'a [Utxo],
    key: &WatchKey,
    params: &TxParams,
) -> Result<(Vec<Spendable<'a>>, Vec<Spendable<'a>>), TxError> {
    check_denominations(params)?;
    let all = spendable(utxos, key);
    if all.is_empty() {
        return Err(TxError::NoSpendableOutputs {
            address: key.address().clone(),
        });
    }
    let fuel = all
        .iter()
        .copied()
        .filter(|s| s.utxo.value == params.fee)
        .collect();
    let tokens = all
        .iter()
        .copied()
        .filter(|s| s.utxo.value == params.token)
        .collect();
    Ok((fuel, tokens))
}

pub(crate) fn check_denominations(params: &TxParams) -> Result<(), TxError> {
    if params.fee == Amount::ZERO || params.token == Amount::ZERO || params.fee == params.token {
        return Err(TxError::InvalidDenominations {
            fee: params.fee,
            token: params.token,
        });
    }
    Ok(())
}

fn varint_len(n: usize) -> u64 {
    match n {
        0..=0xfc => 1,
        0xfd..=0xffff => 3,
        0x1_0000..=0xffff_ffff => 5,
        _ => 9,
    }
}

/// An upper bound of the signed virtual size of a transaction spending inputs of `kinds`
/// with `outputs` (signatures counted at their largest low-S size).
pub(crate) fn estimate_vsize(kinds: impl ExactSizeIterator<Item = Kind>, outputs: &[TxOut]) -> u64 {
    let n_in = kinds.len();
    let mut base = 4 + varint_len(n_in) + varint_len(outputs.len()) + 4;
    let mut witness = 0u64;
    let mut any_witness = false;
    for kind in kinds {
        match kind {
            // outpoint 36 + sequence 4 + script length 1 + <72-byte push> + <33-byte push>
            Kind::P2pkh => {
                base += 36 + 4 + 1 + 107;
                witness += 1;
            }
            Kind::P2wpkh => {
                base += 36 + 4 + 1;
                witness += 1 + 1 + 72 + 1 + 33;
                any_witness = true;
            }
        }
    }
    for out in outputs {
        let len = out.script_pubkey.len();
        base += 8 + varint_len(len) + len as u64;
    }
    let weight = base * 4 + if any_witness { 2 + witness } else { 0 };
    weight.div_ceil(4)
}

/// The fee `rate` asks for on `vsize` vbytes.
pub(crate) fn fee_for(params: &TxParams, vsize: u64) -> Amount {
    params.fee_rate.fee_vb(vsize).unwrap_or(Amount::MAX_MONEY)
}

/// Refuses recipients of another network than the key's.
pub(crate) fn check_network(recipients: &[Address], key: &WatchKey) -> Result<(), TxError> {
    for address in recipients {
        if !address.as_unchecked().is_valid_for_network(key.network()) {
            return Err(TxError::WrongNetwork {
                address: address.clone(),
                network: key.network(),
            });
        }
    }
    Ok(())
}

/// Builds the transaction spending `inputs` (in order) to `outputs`, signs it with `signer`,
/// verifies every input and runs the standardness checks. Without a signer the transaction
/// is left unsigned, and its checks run on a copy with placeholder signatures of the
/// largest size (so the fee rate holds for any signature a signer makes).
pub(crate) fn finish(
    params: &TxParams,
    inputs: &[&Utxo],
    outputs: Vec<TxOut>,
    key: &WatchKey,
    signer: Option<&SigningKey>,
) -> Result<BuiltTx, TxError> {
    let scripts = KeyScripts::of(key);
    let mut seen = HashSet::new();
    for utxo in inputs {
        if !seen.insert(utxo.outpoint) {
            return Err(TxError::DuplicateInput(utxo.outpoint));
        }
        if let Some(reason) = unspendable_reason(utxo, &scripts) {
            return Err(TxError::Unspendable {
                outpoint: utxo.outpoint,
                address: key.address().clone(),
                reason,
            });
        }
    }
    let mut tx = Transaction {
        version: params.version(),
        lock_time: LockTime::ZERO,
        input: inputs
            .iter()
            .map(|u| TxIn {
                previous_output: u.outpoint,
                script_sig: ScriptBuf::new(),
                sequence: params.sequence(),
                witness: Witness::new(),
            })
            .collect(),
        output: outputs,
    };
    standard::check_outputs(&tx, params)?;
    let prevouts: Vec<TxOut> = inputs
        .iter()
        .map(|u| TxOut {
            value: u.value,
            script_pubkey: u.script_pubkey.clone(),
        })
        .collect();
    let fee = match signer {
        Some(signer) => {
            sign_all(&mut tx, &prevouts, signer)?;
            standard::check_signed(&tx, &prevouts, params)?
        }
        None => {
            let kinds: Vec<Kind> = inputs
                .iter()
                .map(|u| scripts.kind(&u.script_pubkey).expect("checked above"))
                .collect();
            let placeholder = crate::sign::with_dummy_signatures(&tx, &kinds);
            standard::check_signed(&placeholder, &prevouts, params)?
        }
    };
    Ok(BuiltTx {
        spent: inputs.iter().map(|u| u.outpoint).collect(),
        tx,
        fee,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sign::with_dummy_signatures;
    use bitcoin::hashes::Hash;
    use bitcoin::{Network, OutPoint, Txid};
    use spool_wallet::{LeafPath, MasterSecret, Wallet};

    #[test]
    fn estimate_equals_dummy_signed_size_and_bounds_real_size() {
        let wallet = Wallet::from_secret(&MasterSecret::new("estimate"), Network::Regtest).unwrap();
        let key = wallet.signing_key(&LeafPath::root()).unwrap();
        for kinds in [
            vec![Kind::P2pkh; 3],
            vec![Kind::P2wpkh; 2],
            vec![Kind::P2pkh, Kind::P2wpkh, Kind::P2pkh],
            vec![Kind::P2pkh; 300],
        ] {
            let utxos: Vec<Utxo> = kinds
                .iter()
                .enumerate()
                .map(|(i, kind)| Utxo {
                    outpoint: OutPoint::new(Txid::from_byte_array([7; 32]), i as u32),
                    value: Amount::from_sat(100_000),
                    script_pubkey: match kind {
                        Kind::P2pkh => key.address().script_pubkey(),
                        Kind::P2wpkh => key.p2wpkh_address().script_pubkey(),
                    },
                    confirmations: 1,
                    is_coinbase: false,
                })
                .collect();
            let outputs = vec![
                TxOut {
                    value: Amount::from_sat(3000),
                    script_pubkey: key.address().script_pubkey(),
                };
                4
            ];
            let params = TxParams {
                fee_rate: bitcoin::FeeRate::from_sat_per_vb_u32(1),
                max_fee: Amount::from_sat(100_000_000),
                ..TxParams::default()
            };
            let refs: Vec<&Utxo> = utxos.iter().collect();
            let built = finish(&params, &refs, outputs.clone(), &key.watch(), Some(&key)).unwrap();
            let estimate = estimate_vsize(kinds.iter().copied(), &outputs);
            let dummy = with_dummy_signatures(&built.tx, &kinds);
            assert_eq!(estimate, dummy.vsize() as u64, "{} inputs", kinds.len());
            assert!(built.tx.vsize() as u64 <= estimate);
            // Low-S signatures are at most one byte shorter per input than the bound.
            assert!(estimate - built.tx.vsize() as u64 <= kinds.len() as u64);
        }
    }
}
