//! Exit codes, in one place. `0` success; [`FAILURE`] (1) a failure outside the user's input
//! (node unreachable, missing fuel, a file system error); [`INPUT`] (2) anything the user must
//! correct: usage errors, malformed values, addresses of another network, a node or server
//! of another chain than `--network`, settings that contradict each other, requests the
//! protocol or the pre-check refuses. Codes 3 and up are reserved for outcomes after a
//! broadcast.

use std::fmt;

use spool_backend::BackendError;
use spool_engine::plan::PlanError;
use spool_engine::EngineError;
use spool_protocol::history::HistoryError;
use spool_protocol::operation::OperationError;
use spool_protocol::payload::PayloadError;
use spool_protocol::verb::VerbError;

/// A failure outside the user's input.
pub const FAILURE: u8 = 1;
/// An input the user must correct (also clap's usage errors).
pub const INPUT: u8 = 2;
/// A wait did not end in a confirmation (`--wait` after a broadcast, or `spool wait`); the
/// action's output is still printed on stdout (`broadcast: true, confirmed: false`), the
/// reason on stderr.
pub const WAIT_INCOMPLETE: u8 = 3;
/// The transaction was broadcast but its output could not be printed (stdout closed or
/// full); its txid is on stderr. Do not repeat the action: it was sent.
pub const BROADCAST_NOT_PRINTED: u8 = 4;

/// A transaction was sent but the connection dropped before the answer, and its outcome
/// could not be learned afterwards: it may be in the mempool. Its txid is on stderr; run
/// `spool wait TXID`, and do not repeat the action.
pub const BROADCAST_UNKNOWN: u8 = 5;

/// An error caused by the user's input: it displays as the error it wraps and keeps that
/// error's causes.
#[derive(Debug)]
pub struct InputError(anyhow::Error);

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::error::Error for InputError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// Marks `err` as caused by the user's input (exit code [`INPUT`]).
pub fn as_input(err: anyhow::Error) -> anyhow::Error {
    if err.downcast_ref::<InputError>().is_some() {
        return err;
    }
    anyhow::Error::new(InputError(err))
}

/// A new error about the user's input.
pub fn input(message: impl fmt::Display) -> anyhow::Error {
    as_input(anyhow::anyhow!("{message}"))
}

/// The exit code of a failed run.
pub fn code(err: &anyhow::Error) -> u8 {
    if err.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<EngineError>(),
            Some(EngineError::BroadcastUnknown { .. })
        )
    }) {
        BROADCAST_UNKNOWN
    } else if err.chain().any(is_input) {
        INPUT
    } else {
        FAILURE
    }
}

fn is_input(cause: &(dyn std::error::Error + 'static)) -> bool {
    if cause.is::<InputError>()
        || cause.is::<HistoryError>()
        || cause.is::<OperationError>()
        || cause.is::<VerbError>()
        || cause.is::<PayloadError>()
        || cause.is::<clap::Error>()
        || cause.is::<crate::cli::connect::NeedsServer>()
    {
        return true;
    }
    if let Some(plan) = cause.downcast_ref::<PlanError>() {
        return plan_is_input(plan);
    }
    if let Some(backend) = cause.downcast_ref::<BackendError>() {
        return backend_is_input(backend);
    }
    match cause.downcast_ref::<EngineError>() {
        Some(EngineError::Plan(plan)) => plan_is_input(plan),
        Some(EngineError::History(_))
        | Some(EngineError::NoTemplate { .. })
        | Some(EngineError::NotTemplate { .. })
        | Some(EngineError::Bump { .. }) => true,
        // Another pending action holds what this one changes: refused up front, nothing
        // sent; the user waits for it (the message names it) rather than retrying blindly.
        Some(EngineError::Pending(_)) => true,
        Some(EngineError::ReservedElsewhere { .. }) => true,
        Some(EngineError::Backend(backend))
        | Some(EngineError::BackendAt {
            source: backend, ..
        }) => backend_is_input(backend),
        _ => false,
    }
}

fn plan_is_input(plan: &PlanError) -> bool {
    matches!(
        plan,
        PlanError::Refused { .. }
            | PlanError::BadFeeRate { .. }
            | PlanError::Build(spool_tx::TxError::TooManyOutputs { .. })
    )
}

fn backend_is_input(backend: &BackendError) -> bool {
    matches!(
        backend,
        BackendError::WrongNetwork { .. } | BackendError::ChainMismatch { .. }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_errors_keep_their_text_and_causes_and_give_2() {
        let inner = anyhow::anyhow!("root cause").context("bad --thing");
        let err = as_input(inner);
        assert_eq!(code(&err), INPUT);
        let chain: Vec<String> = err.chain().map(ToString::to_string).collect();
        assert_eq!(chain, vec!["bad --thing", "root cause"]);
        let wrapped = err.context("outer");
        assert_eq!(code(&wrapped), INPUT);
        assert_eq!(code(&as_input(wrapped)), INPUT);
    }

    #[test]
    fn other_failures_give_1() {
        assert_eq!(code(&anyhow::anyhow!("node unreachable")), FAILURE);
        let backend = BackendError::Unreachable {
            url: "http://x".into(),
            source: "connection refused".into(),
        };
        assert_eq!(code(&anyhow::Error::new(backend)), FAILURE);
    }
}
