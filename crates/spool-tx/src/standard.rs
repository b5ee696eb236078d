//! Standardness checks run on every transaction before it is returned: no dust outputs, at
//! most one OP_RETURN of at most 80 bytes, a fee that covers the fee rate but is not absurd,
//! and a standard weight.

use bitcoin::{Amount, Transaction, TxOut};

use crate::{TxError, TxParams};

use spool_protocol::payload::MAX_PAYLOAD;

/// Bitcoin Core's standard transaction weight limit.
pub const MAX_STANDARD_WEIGHT: u64 = 400_000;

/// Checks the outputs (dust, OP_RETURN size and count) of `tx`.
///
/// # Errors
///
/// [`TxError::Dust`] or [`TxError::OpReturnTooLarge`].
pub fn check_outputs(tx: &Transaction, params: &TxParams) -> Result<(), TxError> {
    let mut op_returns = 0;
    for (index, out) in tx.output.iter().enumerate() {
        if out.script_pubkey.is_op_return() {
            op_returns += 1;
            let len = op_return_payload_len(out);
            if len > MAX_PAYLOAD || op_returns > 1 {
                return Err(TxError::OpReturnTooLarge { index, len });
            }
            continue;
        }
        let minimum = out
            .script_pubkey
            .minimal_non_dust_custom(params.dust_relay_fee);
        if out.value < minimum {
            return Err(TxError::Dust {
                index,
                value: out.value,
                minimum,
            });
        }
    }
    Ok(())
}

/// Payload bytes of an OP_RETURN output: everything after the opcode and its push prefix.
fn op_return_payload_len(out: &TxOut) -> usize {
    use bitcoin::script::Instruction;
    out.script_pubkey
        .instructions()
        .skip(1)
        .map(|i| match i {
            Ok(Instruction::PushBytes(p)) => p.len(),
            Ok(Instruction::Op(_)) => 1,
            Err(_) => usize::MAX / 4,
        })
        .sum()
}

/// Checks a signed transaction: outputs, weight, fee >= rate * vsize, fee <= the absurd
/// limit. Returns the fee.
///
/// # Errors
///
/// The first rule broken: [`TxError::OutputsExceedInputs`], [`TxError::FeeBelowRate`],
/// [`TxError::AbsurdFee`] or [`TxError::TooHeavy`], or an output error.
pub fn check_signed(
    tx: &Transaction,
    prevouts: &[TxOut],
    params: &TxParams,
) -> Result<Amount, TxError> {
    check_outputs(tx, params)?;
    let weight = tx.weight().to_wu();
    if weight > MAX_STANDARD_WEIGHT {
        return Err(TxError::TooHeavy {
            weight,
            limit: MAX_STANDARD_WEIGHT,
        });
    }
    let inputs: Amount = prevouts.iter().map(|o| o.value).sum();
    let outputs: Amount = tx.output.iter().map(|o| o.value).sum();
    let fee = inputs
        .checked_sub(outputs)
        .ok_or(TxError::OutputsExceedInputs { inputs, outputs })?;
    let vsize = tx.vsize();
    let needed = params
        .fee_rate
        .fee_vb(vsize as u64)
        .unwrap_or(Amount::MAX_MONEY);
    if fee < needed {
        return Err(TxError::FeeBelowRate {
            fee,
            needed,
            rate: params.fee_rate,
            vsize,
        });
    }
    if fee > params.max_fee {
        return Err(TxError::AbsurdFee {
            fee,
            limit: params.max_fee,
        });
    }
    Ok(fee)
}
