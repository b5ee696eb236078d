//! The engine's errors. None carries secret material; none repeats its source's text (the
//! source is reachable through [`std::error::Error::source`]).

use spool_protocol::history::HistoryError;

use crate::plan::PlanError;
use crate::store::StoreError;

/// Why the engine did not (or could not) carry out an action. Whenever one of these is
/// returned before [`crate::Spool::broadcast`] succeeded, nothing was broadcast.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The planning core refused or failed (pre-check, funds, build).
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The reservation store failed.
    #[error("outpoint reservations")]
    Reservations(#[source] StoreError),
    /// What the action changes is claimed by another pending action
    /// ([`StoreError::Claimed`]): refused before anything was built.
    #[error(transparent)]
    Pending(StoreError),
    /// The backend failed; its error names the backend's URL.
    #[error(transparent)]
    Backend(spool_backend::BackendError),
    /// The backend failed; `at` describes it (its error does not name it).
    #[error("{at}")]
    BackendAt {
        /// The backend's description, e.g. `bitcoind at http://127.0.0.1:18443`.
        at: String,
        /// What went wrong.
        #[source]
        source: spool_backend::BackendError,
    },
    /// The piece's history cannot be built.
    #[error(transparent)]
    History(#[from] HistoryError),
}

impl From<StoreError> for EngineError {
    fn from(err: StoreError) -> EngineError {
        match err {
            StoreError::Claimed { .. } => EngineError::Pending(err),
            other => EngineError::Reservations(other),
        }
    }
}

impl EngineError {
    /// The backend's error, when the backend failed.
    pub fn backend_error(&self) -> Option<&spool_backend::BackendError> {
        match self {
            EngineError::Backend(source) | EngineError::BackendAt { source, .. } => Some(source),
            _ => None,
        }
    }
}
