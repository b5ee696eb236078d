//! The ownership pre-check, as pyspool's `dispatch` did it before sending.

use spool_protocol::history::History;
use spool_protocol::ownership::{Check, Ownership};

use super::Request;

/// Checks `request`, sent from `from`, against `history` (the piece's). `Err` holds
/// pyspool's reason. Requests without a rule (refills, migrate, consigned registration)
/// pass.
pub fn precheck(request: &Request, from: &str, history: &History) -> Result<(), String> {
    let verdict = |check: Check| match check.allowed {
        true => Ok(()),
        false => Err(check
            .reason
            .unwrap_or_else(|| "not allowed by the piece's history".to_string())),
    };
    match request {
        Request::RegisterPiece { to, .. } | Request::Register { to, edition: 0, .. } => {
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
        Request::RefillMain { .. }
        | Request::Refill { .. }
        | Request::ConsignedRegistration { .. }
        | Request::Migrate { .. } => Ok(()),
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
    )
}
