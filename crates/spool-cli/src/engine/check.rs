//! The ownership pre-check, as pyspool's `dispatch` did it before sending.

use spool_protocol::history::History;
use spool_protocol::ownership::{Check, Ownership};

use super::Request;

/// Checks `request`, sent from `from`, against `history` (the piece's). `Err` holds
/// pyspool's reason. Refills have no rule. Beyond pyspool, and only when a federation set
/// is known, a federated verb from outside the federation is refused (the history would
/// judge it invalid); a consigned registration must find the master unregistered, and a
/// migration an edition that exists.
pub fn precheck(
    request: &Request,
    from: &str,
    history: &History,
    federation: &[String],
) -> Result<(), String> {
    let federated = request.verb().is_some_and(|verb| verb.is_federated());
    if federated && !federation.is_empty() && !federation.iter().any(|f| f == from) {
        return Err(format!(
            "Address {from} is not a federation address ({})",
            federation.join(", ")
        ));
    }
    let verdict = |check: Check| match check.allowed {
        true => Ok(()),
        false => Err(check
            .reason
            .unwrap_or_else(|| "not allowed by the piece's history".to_string())),
    };
    match request {
        Request::RegisterPiece { to, .. }
        | Request::ConsignedRegistration { to, .. }
        | Request::Register { to, edition: 0, .. } => {
            verdict(Ownership::new(history, &to.to_string(), 0).can_register_master())
        }
        Request::Register { to, edition, .. } => {
            verdict(Ownership::new(history, &to.to_string(), *edition).can_register())
        }
        Request::Editions { to, .. } => {
            verdict(Ownership::new(history, &to.to_string(), 0).can_editions())
        }
        Request::Transfer { edition, .. } => {
            verdict(Ownership::new(history, from, *edition).can_transfer())
        }
        Request::Consign { edition, .. } => {
            verdict(Ownership::new(history, from, *edition).can_consign())
        }
        Request::Loan { edition, .. } => {
            verdict(Ownership::new(history, from, *edition).can_loan())
        }
        Request::Unconsign { to, edition, .. } => {
            let ownership = Ownership::new(history, from, *edition);
            verdict(ownership.can_unconsign())?;
            verdict(ownership.unconsign_to_allowed(&to.to_string()))
        }
        Request::Migrate { edition, .. } => match Ownership::new(history, from, *edition).owner() {
            Some(_) => Ok(()),
            None => Err(format!(
                "The edition number {edition} does not exist in the blockchain"
            )),
        },
        Request::RefillMain { .. } | Request::Refill { .. } => Ok(()),
    }
}

/// Whether `request` has a pre-check rule.
pub fn has_rule(request: &Request) -> bool {
    matches!(
        request,
        Request::RegisterPiece { .. }
            | Request::Register { .. }
            | Request::Editions { .. }
            | Request::Transfer { .. }
            | Request::Consign { .. }
            | Request::Loan { .. }
            | Request::Unconsign { .. }
            | Request::ConsignedRegistration { .. }
            | Request::Migrate { .. }
    )
}
