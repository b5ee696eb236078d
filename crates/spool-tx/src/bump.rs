//! Fee bumps under BIP 125: the same action (the same outputs in the same order, the same
//! inputs) paying a higher fee with additional confirmed fuel inputs of the same key.

use bitcoin::{Amount, FeeRate, Transaction, TxOut};
use spool_wallet::Spender;

use crate::select::{estimate_vsize, fee_for, finish, fuel_and_tokens, Spendable};
use crate::sign::{KeyScripts, Kind};
use crate::{BuiltTx, TxError, TxParams, Utxo};

/// BIP 125's incremental relay fee, Bitcoin Core's default: 1 sat/vB.
pub const INCREMENTAL_RELAY_FEE: FeeRate = FeeRate::from_sat_per_kwu(250);

/// The replacement of `original` (unconfirmed, spending `spent`, the outputs its inputs
/// spend in input order, and paying `old_fee`) at `params.fee_rate`: its inputs and its
/// outputs unchanged and in the same order, with as few additional fuel inputs from
/// `utxos` (each confirmed: BIP 125 admits no new unconfirmed input) as make the fee
/// meet the rate, exceed the old fee by the incremental relay fee on the new size, and the
/// rate exceed the old one. The new fuel goes right after the original's fuel inputs
/// (pyspool's shape: fuel, then tokens).
///
/// # Errors
///
/// [`TxError::NotReplaceable`] when `original` does not signal replacement (built in
/// pyspool-compatibility mode), [`TxError::NotEnoughOutputs`] when the confirmed fuel
/// cannot pay it, or a signing or standardness error.
pub fn build_bump(
    params: &TxParams,
    original: &Transaction,
    spent: &[Utxo],
    old_fee: Amount,
    utxos: &[Utxo],
    key: &(impl Spender + ?Sized),
) -> Result<BuiltTx, TxError> {
    let signer = key.signer();
    let key = &key.watch();
    if !original.is_explicitly_rbf() {
        return Err(TxError::NotReplaceable {
            txid: original.compute_txid(),
        });
    }
    if spent.len() != original.input.len()
        || spent
            .iter()
            .zip(&original.input)
            .any(|(u, i)| u.outpoint != i.previous_output)
    {
        return Err(TxError::PrevoutCount {
            inputs: original.input.len(),
            prevouts: spent.len(),
        });
    }
    let scripts = KeyScripts::of(key);
    let old_vsize = original.vsize() as u64;
    let old_rate = old_fee.to_sat() as f64 / old_vsize as f64;
    let outputs: Vec<TxOut> = original.output.clone();
    // Confirmed fuel of the key, not already spent by the original.
    let confirmed: Vec<Utxo> = utxos
        .iter()
        .filter(|u| u.confirmations > 0 && !spent.iter().any(|s| s.outpoint == u.outpoint))
        .cloned()
        .collect();
    let (fuel, _) = fuel_and_tokens(&confirmed, key, params).unwrap_or_default();
    let fuel: Vec<Spendable> = fuel;
    let original_kinds: Vec<Kind> = spent
        .iter()
        .map(|u| scripts.kind(&u.script_pubkey).unwrap_or(Kind::P2pkh))
        .collect();
    let in_value: Amount = spent.iter().map(|u| u.value).sum();
    let out_value: Amount = outputs.iter().map(|o| o.value).sum();
    for extra in 1..=fuel.len() {
        let kinds: Vec<Kind> = original_kinds
            .iter()
            .copied()
            .chain(fuel[..extra].iter().map(|s| s.kind))
            .collect();
        let vsize = estimate_vsize(kinds.into_iter(), &outputs);
        let added: Amount = fuel[..extra].iter().map(|s| s.utxo.value).sum();
        let Some(fee) = (in_value + added).checked_sub(out_value) else {
            continue;
        };
        let needed = fee_for(params, vsize).max(
            old_fee
                + INCREMENTAL_RELAY_FEE
                    .fee_vb(vsize)
                    .unwrap_or(Amount::MAX_MONEY),
        );
        // The signed size is at most the estimate; the rate is judged on the smallest.
        let worst_rate = fee.to_sat() as f64 / vsize as f64;
        if fee >= needed && fee > old_fee && worst_rate > old_rate {
            let first_token = spent
                .iter()
                .position(|u| u.value != params.fee)
                .unwrap_or(spent.len());
            let inputs: Vec<&Utxo> = spent[..first_token]
                .iter()
                .chain(fuel[..extra].iter().map(|s| s.utxo))
                .chain(&spent[first_token..])
                .collect();
            return finish(params, &inputs, outputs, key, signer);
        }
    }
    Err(TxError::NotEnoughOutputs(crate::Shortage {
        address: key.address().clone(),
        need_fuel: fuel.len() + 1,
        found_fuel: fuel.len(),
        need_tokens: 0,
        found_tokens: 0,
        fee: params.fee,
        token: params.token,
    }))
}
