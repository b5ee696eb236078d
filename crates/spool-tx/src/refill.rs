//! Refills: FUEL from the federation to a user, and the refill wallet topping up the
//! federation.

use bitcoin::{Address, Amount, TxOut};
use spool_protocol::verb::Verb;
use spool_wallet::Spender;

use crate::action::fuel_for_rate;
use crate::select::{
    check_denominations, check_network, estimate_vsize, fee_for, finish, fuel_and_tokens, spendable,
};
use crate::sign::Kind;
use crate::{BuiltTx, Shortage, TxError, TxParams, Utxo};

/// The most fuel and token outputs one refill can hold: P2PKH outputs of 34 bytes (136
/// weight units) within Bitcoin Core's standard weight limit, less a header and one input.
pub const MAX_REFILL_OUTPUTS: usize =
    ((crate::standard::MAX_STANDARD_WEIGHT - 4 * (10 + 148)) / (4 * 34)) as usize;

/// Refuses at once a refill that cannot fit in one standard transaction (before anything
/// is allocated for it).
fn check_output_count(nfees: usize, ntokens: usize) -> Result<(), TxError> {
    let requested = nfees.saturating_add(ntokens);
    if requested > MAX_REFILL_OUTPUTS {
        return Err(TxError::TooManyOutputs {
            requested: requested as u64,
            limit: MAX_REFILL_OUTPUTS as u64,
            weight: crate::standard::MAX_STANDARD_WEIGHT,
        });
    }
    Ok(())
}

fn denominated_outputs(
    to: &Address,
    first: (Amount, usize),
    second: (Amount, usize),
) -> Vec<TxOut> {
    let script = to.script_pubkey();
    std::iter::repeat_n(first.0, first.1)
        .chain(std::iter::repeat_n(second.0, second.1))
        .map(|value| TxOut {
            value,
            script_pubkey: script.clone(),
        })
        .collect()
}

/// pyspool's `refill` (verb FUEL), federation -> `user`: spends `nfees` + m fuel outputs and
/// `ntokens` token outputs of `key`; pays `ntokens` x TOKEN then `nfees` x FEE to `user`,
/// then the OP_RETURN `ASCRIBESPOOL01FUEL`. m >= 1 is pyspool's one extra fuel output, more
/// when the fee rate asks for it; the fee is m x FEE.
///
/// # Errors
///
/// As [`crate::build_action`]: what is missing, an unpayable fee rate, or a signing or
/// standardness error.
pub fn build_refill(
    params: &TxParams,
    user: &Address,
    nfees: usize,
    ntokens: usize,
    utxos: &[Utxo],
    key: &(impl Spender + ?Sized),
) -> Result<BuiltTx, TxError> {
    let signer = key.signer();
    let key = &key.watch();
    if nfees + ntokens == 0 {
        return Err(TxError::NothingToSend {
            what: "a refill of zero fuel and zero tokens",
        });
    }
    check_output_count(nfees, ntokens)?;
    check_network(std::slice::from_ref(user), key)?;
    let (fuel, tokens) = fuel_and_tokens(utxos, key, params)?;
    let mut outputs = denominated_outputs(user, (params.token, ntokens), (params.fee, nfees));
    outputs.push(TxOut {
        value: Amount::ZERO,
        script_pubkey: Verb::Fuel.op_return_script(),
    });
    let fuel_kinds: Vec<Kind> = fuel.iter().map(|s| s.kind).collect();
    let token_kinds: Vec<Kind> = tokens.iter().take(ntokens).map(|s| s.kind).collect();
    let n = fuel_for_rate(params, nfees, &fuel_kinds, &token_kinds, &outputs)?;
    if fuel.len() < n || tokens.len() < ntokens {
        return Err(Shortage::of(
            key,
            params,
            (n, ntokens),
            (fuel.len(), tokens.len()),
        ));
    }
    let inputs: Vec<&Utxo> = fuel[..n]
        .iter()
        .chain(&tokens[..ntokens])
        .map(|s| s.utxo)
        .collect();
    finish(params, &inputs, outputs, key, signer)
}

/// pyspool's `refill_main_wallet`, refill wallet -> `federation`: an ordinary transaction
/// paying `nfees` x FEE then `ntokens` x TOKEN to the federation, with change back to
/// `key`'s P2PKH address, no OP_RETURN. Spends any of `key`'s UTXOs (largest first;
/// coinbase outputs only once they have 100 confirmations). The fee follows
/// `params.fee_rate`; change below the dust limit is left to the fee.
///
/// # Errors
///
/// [`TxError::NoSpendableOutputs`], [`TxError::NotEnoughFunds`], or a signing or standardness
/// error.
pub fn build_refill_main(
    params: &TxParams,
    federation: &Address,
    nfees: usize,
    ntokens: usize,
    utxos: &[Utxo],
    key: &(impl Spender + ?Sized),
) -> Result<BuiltTx, TxError> {
    let signer = key.signer();
    let key = &key.watch();
    check_denominations(params)?;
    if nfees + ntokens == 0 {
        return Err(TxError::NothingToSend {
            what: "a refill of zero fuel and zero tokens",
        });
    }
    check_output_count(nfees, ntokens)?;
    check_network(std::slice::from_ref(federation), key)?;
    let mut candidates = spendable(utxos, key);
    if candidates.is_empty() {
        return Err(TxError::NoSpendableOutputs {
            address: key.address().clone(),
        });
    }
    // Largest first; the sort is stable so equal values keep the caller's order.
    candidates.sort_by_key(|s| std::cmp::Reverse(s.utxo.value));
    let mut outputs = denominated_outputs(federation, (params.fee, nfees), (params.token, ntokens));
    let target: Amount = outputs.iter().map(|o| o.value).sum();
    let change_script = key.address().script_pubkey();
    let change_out = TxOut {
        value: Amount::ZERO,
        script_pubkey: change_script.clone(),
    };
    let dust = change_script.minimal_non_dust_custom(params.dust_relay_fee);
    let change_cost = fee_for(params, change_out.size() as u64);

    let mut sum = Amount::ZERO;
    for count in 1..=candidates.len() {
        sum += candidates[count - 1].utxo.value;
        let kinds: Vec<Kind> = candidates[..count].iter().map(|s| s.kind).collect();
        let fee_no_change = fee_for(params, estimate_vsize(kinds.into_iter(), &outputs));
        let Some(excess) = sum.checked_sub(target + fee_no_change) else {
            continue;
        };
        if let Some(change) = excess.checked_sub(change_cost) {
            if change >= dust {
                outputs.push(TxOut {
                    value: change,
                    script_pubkey: change_script,
                });
            }
        }
        let inputs: Vec<&Utxo> = candidates[..count].iter().map(|s| s.utxo).collect();
        return finish(params, &inputs, outputs, key, signer);
    }
    let kinds: Vec<Kind> = candidates.iter().map(|s| s.kind).collect();
    let fee_all = fee_for(params, estimate_vsize(kinds.into_iter(), &outputs));
    Err(TxError::NotEnoughFunds {
        address: key.address().clone(),
        needed: target + fee_all,
        found: sum,
        found_outputs: candidates.len(),
    })
}
