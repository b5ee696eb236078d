//! SPOOL action transactions in pyspool's shape: n fuel inputs of exactly FEE and k token
//! inputs of exactly TOKEN; TOKEN to each recipient in order, then the OP_RETURN; no change.

use bitcoin::{Address, TxOut};
use spool_protocol::verb::Verb;
use spool_wallet::Spender;

use crate::select::{check_network, estimate_vsize, fee_for, finish, fuel_and_tokens, Spendable};
use crate::sign::Kind;
use crate::{BuiltTx, Shortage, TxError, TxParams, Utxo};

/// Upper bound on fuel inputs tried before declaring the fee rate unpayable.
pub(crate) const MAX_FUEL_INPUTS: usize = 1_000;

fn action_outputs(params: &TxParams, verb: &Verb, recipients: &[Address]) -> Vec<TxOut> {
    recipients
        .iter()
        .map(|r| TxOut {
            value: params.token,
            script_pubkey: r.script_pubkey(),
        })
        .chain(std::iter::once(TxOut {
            value: bitcoin::Amount::ZERO,
            script_pubkey: verb.op_return_script(),
        }))
        .collect()
}

/// Smallest number of fuel inputs (at least `min`) whose value pays `rate` on the signed
/// size; the fee paid is `(total - fixed) * FEE`. `fuel_kinds` are the available fuel
/// inputs in order (later ones are assumed P2PKH).
pub(crate) fn fuel_for_rate(
    params: &TxParams,
    fixed: usize,
    fuel_kinds: &[Kind],
    token_kinds: &[Kind],
    outputs: &[TxOut],
) -> Result<usize, TxError> {
    for paying in 1..=MAX_FUEL_INPUTS {
        let total = fixed + paying;
        let kinds = (0..total)
            .map(|i| fuel_kinds.get(i).copied().unwrap_or(Kind::P2pkh))
            .chain(token_kinds.iter().copied());
        let vsize = estimate_vsize(kinds.collect::<Vec<_>>().into_iter(), outputs);
        if params.fee * paying as u64 >= fee_for(params, vsize) {
            return Ok(total);
        }
    }
    Err(TxError::FeeRateTooHigh {
        rate: params.fee_rate,
        fee: params.fee,
    })
}

/// Builds and signs (or, for a [`spool_wallet::WatchKey`], leaves unsigned for a PSBT with its
/// fee rate met by any signature) the SPOOL action `verb` from `key`'s address to `recipients`, choosing
/// fuel and tokens among `utxos` (in their order; pass only unreserved ones, or use
/// spool-engine's reservation store). The recipient count must be pyspool's for the
/// verb (see [`Verb::recipient_count`]). Spends at least one fuel output and enough that the fee
/// meets `params.fee_rate` on the signed size.
///
/// # Errors
///
/// [`TxError::WrongRecipientCount`], [`TxError::WrongNetwork`], [`TxError::NoSpendableOutputs`]
/// or [`TxError::NotEnoughOutputs`] (what is missing), [`TxError::FeeRateTooHigh`], or a
/// signing or standardness error.
pub fn build_action(
    params: &TxParams,
    verb: &Verb,
    recipients: &[Address],
    utxos: &[Utxo],
    key: &(impl Spender + ?Sized),
) -> Result<BuiltTx, TxError> {
    let signer = key.signer();
    let key = &key.watch();
    if let Some(expected) = verb.recipient_count() {
        if recipients.len() != expected {
            return Err(TxError::WrongRecipientCount {
                verb: verb.to_string(),
                expected,
                got: recipients.len(),
            });
        }
    }
    if recipients.is_empty() {
        return Err(TxError::NothingToSend {
            what: "no recipients",
        });
    }
    check_network(recipients, key)?;
    let (fuel, tokens) = fuel_and_tokens(utxos, key, params)?;
    let outputs = action_outputs(params, verb, recipients);
    let k = recipients.len();
    let fuel_kinds: Vec<Kind> = fuel.iter().map(|s| s.kind).collect();
    let token_kinds: Vec<Kind> = tokens.iter().take(k).map(|s| s.kind).collect();
    let n = fuel_for_rate(params, 0, &fuel_kinds, &token_kinds, &outputs)?;
    if fuel.len() < n || tokens.len() < k {
        return Err(Shortage::of(
            key,
            params,
            (n, k),
            (fuel.len(), tokens.len()),
        ));
    }
    let inputs: Vec<&Utxo> = fuel[..n]
        .iter()
        .chain(&tokens[..k])
        .map(|s: &Spendable| s.utxo)
        .collect();
    finish(params, &inputs, outputs, key, signer)
}

/// pyspool's `simple_spool_transaction` with the inputs chosen by the caller: spends exactly
/// `fuel` (each worth FEE) then `tokens` (each worth TOKEN, one per recipient), pays TOKEN to
/// each recipient in order and ends with the OP_RETURN of `verb`. The recipient count is not
/// checked against the verb. Fails if the fee (all the fuel) is below `params.fee_rate`.
///
/// # Errors
///
/// [`TxError::InvalidDenominations`], [`TxError::NotEnoughOutputs`],
/// [`TxError::WrongDenomination`], [`TxError::FeeBelowRate`], or a signing or standardness
/// error.
pub fn build_spool_tx(
    params: &TxParams,
    verb: &Verb,
    recipients: &[Address],
    fuel: &[Utxo],
    tokens: &[Utxo],
    key: &(impl Spender + ?Sized),
) -> Result<BuiltTx, TxError> {
    let signer = key.signer();
    let key = &key.watch();
    crate::select::check_denominations(params)?;
    if recipients.is_empty() {
        return Err(TxError::NothingToSend {
            what: "no recipients",
        });
    }
    if fuel.is_empty() {
        return Err(Shortage::of(
            key,
            params,
            (1, recipients.len()),
            (0, tokens.len()),
        ));
    }
    if tokens.len() != recipients.len() {
        return Err(Shortage::of(
            key,
            params,
            (fuel.len(), recipients.len()),
            (fuel.len(), tokens.len()),
        ));
    }
    check_network(recipients, key)?;
    for (role, list, expected) in [("fuel", fuel, params.fee), ("token", tokens, params.token)] {
        if let Some(bad) = list.iter().find(|u| u.value != expected) {
            return Err(TxError::WrongDenomination {
                outpoint: bad.outpoint,
                value: bad.value,
                role,
                expected,
            });
        }
    }
    let inputs: Vec<&Utxo> = fuel.iter().chain(tokens).collect();
    finish(
        params,
        &inputs,
        action_outputs(params, verb, recipients),
        key,
        signer,
    )
}
