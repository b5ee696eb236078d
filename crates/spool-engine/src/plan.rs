//! The pure planning core: from a request and plain data to a signed transaction, or a typed
//! refusal. No I/O, no clock, no async: the driver ([`crate::Spool`]) fetches the data, and
//! tests hand it fixtures.
//!
//! - [`precheck`], pyspool's ownership pre-check (its `dispatch`) against the piece's
//!   verified history, plus the federation rule when a federation set is known;
//! - [`build`], input selection among the unreserved UTXOs, build and sign;
//! - and [`plan()`], which runs both.

use bitcoin::{Address, Amount, FeeRate};
use spool_protocol::history::History;
use spool_protocol::operation::Operation;
use spool_protocol::ownership::{Check, Ownership};
use spool_protocol::reason::Reason;
use spool_protocol::verb::{Action, Verb};
use spool_tx::{BuiltTx, ReservationSet, Shortage, TxError, TxParams, Utxo};
use spool_wallet::Spender;

use crate::Request;

/// Why the core will not (or cannot) produce a transaction. Nothing is ever broadcast
/// after one of these.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// The ownership pre-check refused the action (pyspool's reason).
    #[error("{action} refused: {reason}")]
    Refused {
        /// The action refused.
        action: Action,
        /// Why.
        reason: Reason,
    },
    /// The signer's address lacks fuel or tokens.
    #[error(
        "not enough fuel at {}: needs {} fuel outputs of {} sat and {} token outputs of {} sat \
         with at least {min_conf} confirmations, found {} and {} unreserved",
        .shortage.address,
        .shortage.need_fuel,
        .shortage.fee.to_sat(),
        .shortage.need_tokens,
        .shortage.token.to_sat(),
        .shortage.found_fuel,
        .shortage.found_tokens
    )]
    NotEnoughFuel {
        /// What is needed and what was found.
        shortage: Shortage,
        /// The confirmations asked for.
        min_conf: u32,
    },
    /// The signer's address has nothing spendable at all.
    #[error(
        "no spendable outputs found at {address} with at least {min_conf} confirmations \
         (coinbases need 100)"
    )]
    NoSpendableOutputs {
        /// The signer's address.
        address: Address,
        /// The confirmations asked for.
        min_conf: u32,
    },
    /// The refill wallet's balance is too small for a main-wallet refill.
    #[error(
        "not enough funds at {address}: needs {} sat (outputs plus fee), found {} sat in \
         {found_outputs} outputs with at least {min_conf} confirmations (coinbases need 100)",
        .needed.to_sat(),
        .found.to_sat()
    )]
    NotEnoughFunds {
        /// The refill wallet's address.
        address: Address,
        /// Total needed.
        needed: Amount,
        /// Total found.
        found: Amount,
        /// Outputs found.
        found_outputs: usize,
        /// The confirmations asked for.
        min_conf: u32,
    },
    /// The fee rate is not a usable number (told in sat/vB, the unit it was given in).
    #[error(
        "fee rate {rate} sat/vB is not usable: give a positive number up to {} sat/vB",
        MAX_FEE_RATE
    )]
    BadFeeRate {
        /// The rate given.
        rate: f64,
    },
    /// Building or signing failed.
    #[error("cannot build the transaction")]
    Build(#[source] TxError),
}

/// What the signer can spend: its UTXOs (listed with at least `min_conf` confirmations) and
/// the outpoints already reserved by transactions in flight.
#[derive(Debug, Clone, Copy)]
pub struct Funds<'a> {
    /// The signer's UTXOs.
    pub utxos: &'a [Utxo],
    /// Outpoints that must not be spent again.
    pub reserved: &'a ReservationSet,
    /// The confirmations the UTXOs were listed with (for the error texts).
    pub min_conf: u32,
}

/// A signed transaction, and whether the pre-check ran and passed.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The signed transaction.
    pub built: BuiltTx,
    /// Whether the ownership pre-check ran (and passed).
    pub checked: bool,
}

/// The highest fee rate accepted, in sat/vB (far above any real fee market; a typo such as
/// `1e9` is refused in the unit it was typed in, not reported later in sat/kWU).
pub const MAX_FEE_RATE: f64 = 100_000.0;

/// `params` with the fee rate given in sat/vB (`None` keeps `params`'s).
///
/// # Errors
///
/// [`PlanError::BadFeeRate`] for a rate that is not a positive finite number.
pub fn with_fee_rate(params: TxParams, rate: Option<f64>) -> Result<TxParams, PlanError> {
    let Some(rate) = rate else {
        return Ok(params);
    };
    if !(rate.is_finite() && rate > 0.0 && rate <= MAX_FEE_RATE) {
        return Err(PlanError::BadFeeRate { rate });
    }
    Ok(TxParams {
        fee_rate: FeeRate::from_sat_per_kwu((rate * 250.0).ceil() as u64),
        ..params
    })
}

fn verdict(check: Check) -> Result<(), Reason> {
    match (check.allowed, check.reason) {
        (false, Some(reason)) => Err(reason),
        _ => Ok(()),
    }
}

/// pyspool's pre-check of `operation` sent from `from`, against the piece's `history`.
/// Beyond pyspool, and only when a federation set is known, a federated verb from outside
/// the federation is refused (the history would judge it invalid); a consigned registration
/// must find the master unregistered, and a migration an edition that its previous address
/// holds (pyspool checked neither). FUEL has no rule.
///
/// # Errors
///
/// The [`Reason`] of the refusal.
pub fn precheck(
    operation: &Operation,
    from: &str,
    history: &History,
    federation: &[String],
) -> Result<(), Reason> {
    if operation.is_federated() && !federation.is_empty() && !federation.iter().any(|f| f == from) {
        return Err(Reason::NotAFederationAddress {
            from: from.to_owned(),
            federation: federation.to_vec(),
        });
    }
    let to = operation.destination().to_string();
    match operation.verb() {
        Verb::Piece | Verb::ConsignedRegistration | Verb::Register { edition: 0 } => {
            verdict(Ownership::new(history, &to, 0).can_register_master())
        }
        Verb::Register { edition } => verdict(Ownership::new(history, &to, edition).can_register()),
        Verb::Editions { .. } => verdict(Ownership::new(history, &to, 0).can_editions()),
        Verb::Transfer { edition } => {
            verdict(Ownership::new(history, from, edition).can_transfer())
        }
        Verb::Consign { edition } => verdict(Ownership::new(history, from, edition).can_consign()),
        Verb::Loan { edition, .. } => verdict(Ownership::new(history, from, edition).can_loan()),
        Verb::Unconsign { edition } => {
            let ownership = Ownership::new(history, from, edition);
            verdict(ownership.can_unconsign())?;
            verdict(ownership.unconsign_to_allowed(&to))
        }
        Verb::Migrate { edition } => {
            // Recipients: the piece, the previous address, the new one.
            let recipients = operation.recipients();
            let prev = recipients[recipients.len().saturating_sub(2)].to_string();
            match Ownership::new(history, &prev, edition).holder() {
                None => Err(Reason::EditionNotFound { edition }),
                Some(owner) if owner != prev => Err(Reason::NotOwner {
                    address: prev,
                    edition,
                }),
                Some(_) => Ok(()),
            }
        }
        Verb::Fuel => Ok(()),
    }
}

/// Selects inputs among the unreserved `funds`, builds and signs `request` with `key` (a
/// [`spool_wallet::WatchKey`] builds it unsigned, for a PSBT).
///
/// # Errors
///
/// [`PlanError::NotEnoughFuel`], [`PlanError::NoSpendableOutputs`] and
/// [`PlanError::NotEnoughFunds`] say what the signer lacks; [`PlanError::Build`] anything
/// else the builder refused.
pub fn build(
    request: &Request,
    key: &(impl Spender + ?Sized),
    params: &TxParams,
    funds: &Funds<'_>,
) -> Result<BuiltTx, PlanError> {
    let free = funds.reserved.available(funds.utxos);
    let built = match request {
        Request::RefillMain(refill) => {
            let (fees, tokens) = refill.counts();
            spool_tx::build_refill_main(
                params,
                refill.to(),
                fees as usize,
                tokens as usize,
                &free,
                key,
            )
        }
        Request::Operation(operation) => match operation.refill_counts() {
            Some((fees, tokens)) => spool_tx::build_refill(
                params,
                operation.destination(),
                fees as usize,
                tokens as usize,
                &free,
                key,
            ),
            None => spool_tx::build_action(
                params,
                &operation.verb(),
                operation.recipients(),
                &free,
                key,
            ),
        },
    };
    built.map_err(|err| build_error(err, request, params, funds.min_conf))
}

/// The whole plan: the pre-check against `history` when one is given (and the request has a
/// piece), then [`build`].
///
/// # Errors
///
/// [`PlanError::Refused`] from the pre-check, else [`build`]'s errors.
pub fn plan(
    request: &Request,
    key: &(impl Spender + ?Sized),
    params: &TxParams,
    history: Option<(&History, &[String])>,
    funds: &Funds<'_>,
) -> Result<Plan, PlanError> {
    let checked = match (request.operation(), history) {
        (Some(operation), Some((history, federation))) if operation.piece().is_some() => {
            refuse(operation, key.watch().address(), history, federation)?;
            true
        }
        _ => false,
    };
    Ok(Plan {
        built: build(request, key, params, funds)?,
        checked,
    })
}

/// [`precheck`] as a [`PlanError::Refused`].
pub(crate) fn refuse(
    operation: &Operation,
    from: &Address,
    history: &History,
    federation: &[String],
) -> Result<(), PlanError> {
    precheck(operation, &from.to_string(), history, federation).map_err(|reason| {
        PlanError::Refused {
            action: operation.action(),
            reason,
        }
    })
}

fn build_error(err: TxError, request: &Request, params: &TxParams, min_conf: u32) -> PlanError {
    let shortage = match err {
        TxError::NotEnoughOutputs(shortage) => shortage,
        // An action from an empty address: say what it needs at the least.
        TxError::NoSpendableOutputs { address } => match request.operation() {
            Some(operation) => {
                let (need_fuel, need_tokens) = match operation.refill_counts() {
                    Some((fees, tokens)) => (fees as usize + 1, tokens as usize),
                    None => (1, operation.recipients().len()),
                };
                Shortage {
                    address,
                    need_fuel,
                    found_fuel: 0,
                    need_tokens,
                    found_tokens: 0,
                    fee: params.fee,
                    token: params.token,
                }
            }
            None => return PlanError::NoSpendableOutputs { address, min_conf },
        },
        TxError::NotEnoughFunds {
            address,
            needed,
            found,
            found_outputs,
        } => {
            return PlanError::NotEnoughFunds {
                address,
                needed,
                found,
                found_outputs,
                min_conf,
            }
        }
        other => return PlanError::Build(other),
    };
    PlanError::NotEnoughFuel { shortage, min_conf }
}
