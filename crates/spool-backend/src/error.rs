//! The one error type every backend returns.

use std::time::Duration;

/// Why a backend could not answer.
///
/// [`BackendError::is_retryable`] tells the transient failures (the node or server could not
/// be reached, or did not answer in time) from the final ones.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// The transaction, block or other object asked for does not exist.
    #[error("not found: {what}")]
    NotFound {
        /// What was looked up, e.g. `transaction 4a5e...`.
        what: String,
    },
    /// The node refused a transaction; nothing was broadcast.
    #[error("transaction {txid} rejected: {reason}")]
    Rejected {
        /// The refused transaction.
        txid: bitcoin::Txid,
        /// The node's or server's reason, verbatim.
        reason: String,
    },
    /// The backend cannot answer this kind of question.
    #[error("{backend} cannot give {what}")]
    Unsupported {
        /// What was asked (e.g. `merkle proofs`).
        what: String,
        /// The backend's description.
        backend: String,
    },
    /// The server's index has not reached its node's tip yet (it holds no block, or is
    /// behind): its answers would be incomplete.
    #[error("server is indexing: block {indexed} of {node} at {url}")]
    Indexing {
        /// The server's URL.
        url: String,
        /// The last indexed block (0 before the first).
        indexed: u64,
        /// The node's tip.
        node: u64,
    },
    /// The node or server could not be reached, or it closed the connection, or it is still
    /// starting. Retryable.
    #[error("cannot reach {url}")]
    Unreachable {
        /// The URL that was tried.
        url: String,
        /// The underlying transport error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Waiting for something took longer than allowed. Retryable.
    #[error("timed out after {}s waiting for {what}", after.as_secs_f64())]
    Timeout {
        /// What was waited for.
        what: String,
        /// How long was waited.
        after: Duration,
    },
    /// The node accepted the connection but did not answer a call within the deadline (not
    /// retried: a node that hangs would hang every attempt).
    #[error("{url} did not answer {method} within {}s", after.as_secs())]
    NoAnswer {
        /// The node's URL (credentials removed).
        url: String,
        /// The RPC method.
        method: String,
        /// The deadline.
        after: Duration,
    },
    /// The server refused a broadcast before the node saw it: it would replace or spend the
    /// outputs of another pending SPOOL action (admission control of `spool serve`).
    #[error("{txid} was refused by the server: {reason}")]
    Conflict {
        /// The refused transaction.
        txid: bitcoin::Txid,
        /// The pending transaction it conflicts with.
        conflicting: bitcoin::Txid,
        /// The server's words.
        reason: String,
    },
    /// `spool serve` holds an outpoint or a claim of the reservation asked for for another
    /// pending transaction (another operator's): nothing was reserved.
    #[error("{reason}")]
    Held {
        /// The pending transaction holding it.
        holder: bitcoin::Txid,
        /// Whether a claim (an edition, the number of editions) is held, rather than an
        /// outpoint: another action on it must wait; another outpoint can be chosen.
        claim: bool,
        /// The server's words, naming the holder.
        reason: String,
    },
    /// The node or server refused our credentials.
    #[error("{url} refused the credentials ({detail})")]
    Unauthorized {
        /// The URL that refused.
        url: String,
        /// Which credentials were used (never the secret itself) and what was answered.
        detail: String,
    },
    /// The node answered a call with an error that is neither of the above.
    #[error("{url}: {method} failed with code {code}: {message}")]
    Node {
        /// The URL of the node.
        url: String,
        /// The RPC method.
        method: String,
        /// The JSON-RPC error code.
        code: i32,
        /// The node's message, verbatim.
        message: String,
    },
    /// The reply could not be understood.
    #[error("bad response from {url}: {detail}")]
    BadResponse {
        /// The URL that answered.
        url: String,
        /// What was wrong with the reply.
        detail: String,
    },
    /// An address of another network than the backend's was given.
    #[error("address {address} is not valid for {network}")]
    WrongNetwork {
        /// The address given.
        address: String,
        /// The backend's network.
        network: bitcoin::Network,
    },
    /// The node serves another chain than the backend's network (e.g. a regtest node
    /// addressed as testnet): nothing is read from it or sent to it.
    #[error("{url} serves the {actual:?} chain, not {expected}")]
    ChainMismatch {
        /// The node's URL.
        url: String,
        /// The network the backend was created for.
        expected: bitcoin::Network,
        /// The chain the node reports (`getblockchaininfo`'s `chain`).
        actual: String,
    },
    /// The backend could not be set up (bad URL, unreadable cookie file).
    #[error("cannot set up backend for {url}: {detail}")]
    Config {
        /// The URL or path concerned.
        url: String,
        /// What is wrong.
        detail: String,
    },
}

impl BackendError {
    /// Whether trying the same operation again later may succeed (unreachable or timed out).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            BackendError::Unreachable { .. } | BackendError::Timeout { .. }
        )
    }

    /// Whether this error says the object does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, BackendError::NotFound { .. })
    }

    pub(crate) fn unreachable(
        url: &str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> BackendError {
        BackendError::Unreachable {
            url: url.to_string(),
            source: source.into(),
        }
    }

    pub(crate) fn bad_response(url: &str, detail: impl Into<String>) -> BackendError {
        BackendError::BadResponse {
            url: url.to_string(),
            detail: detail.into(),
        }
    }
}
