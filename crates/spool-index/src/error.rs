//! The index's one error type.

use bitcoin::{BlockHash, Network};

/// Why the index could not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IndexError {
    /// The SQLite database failed.
    #[error("index database {path}")]
    Database {
        /// The database file.
        path: String,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// The index's directory could not be created.
    #[error("cannot create the index directory {path}")]
    Directory {
        /// The directory.
        path: String,
        /// The file system's error.
        #[source]
        source: std::io::Error,
    },
    /// The database holds something this code cannot read (a bug or a foreign file).
    #[error("index database {path} is corrupt: {detail}")]
    Corrupt {
        /// The database file.
        path: String,
        /// What was wrong.
        detail: String,
    },
    /// The index was built for another network than the one asked for.
    #[error("index {path} was built for {indexed}, not {asked}")]
    WrongNetwork {
        /// The database file.
        path: String,
        /// The network stored in the index.
        indexed: Network,
        /// The network asked for.
        asked: Network,
    },
    /// The node's genesis block is not the one the index was built from.
    #[error("node at {url} has genesis {node}, but the index was built from genesis {indexed}")]
    GenesisMismatch {
        /// The node's URL.
        url: String,
        /// The genesis hash stored in the index.
        indexed: BlockHash,
        /// The node's genesis hash.
        node: BlockHash,
    },
    /// The node serves another chain than the index's network.
    #[error("node at {url} serves the {actual:?} chain, not {expected}")]
    ChainMismatch {
        /// The node's URL.
        url: String,
        /// The index's network.
        expected: Network,
        /// The chain the node reports.
        actual: String,
    },
    /// The node could not be reached or asked (transport or node error).
    #[error("node at {url}: {method}")]
    Node {
        /// The node's URL.
        url: String,
        /// The RPC method.
        method: String,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The node refused a call.
    #[error("node at {url}: {method} failed with code {code}: {message}")]
    NodeRefused {
        /// The node's URL.
        url: String,
        /// The RPC method.
        method: String,
        /// The JSON-RPC error code.
        code: i32,
        /// The node's message.
        message: String,
    },
    /// The node's reply could not be understood.
    #[error("node at {url}: bad reply to {method}: {detail}")]
    BadReply {
        /// The node's URL.
        url: String,
        /// The RPC method.
        method: String,
        /// What was wrong.
        detail: String,
    },
    /// Writes would be open to anyone who can reach a non-loopback address.
    #[error("refusing to serve on {addr} without a write token: a non-loopback address needs --api-token-file FILE (writes would be open to anyone who reaches the port)")]
    WritesUnguarded {
        /// The address asked for.
        addr: std::net::SocketAddr,
    },
    /// The chain reorganised below the first indexed height: the index must be rebuilt.
    #[error("the chain changed at height {height}, below the first indexed height {index_from}")]
    ForkBelowIndex {
        /// The highest height whose block changed.
        height: u64,
        /// The first indexed height.
        index_from: u64,
    },
    /// The index was made in another mode (full scan, or filters for another federation).
    #[error(
        "index {path} was made in mode {indexed:?}, not {asked:?}: use the same mode, or \
         another --data-dir"
    )]
    ModeMismatch {
        /// The index file.
        path: String,
        /// The mode recorded in the index.
        indexed: String,
        /// The mode asked for.
        asked: String,
    },
    /// The node's REST interface failed (the follower then falls back to RPC).
    #[error("node REST interface {url}: {detail}")]
    Rest {
        /// The REST base URL.
        url: String,
        /// What went wrong.
        detail: String,
    },
    /// `--filters` with a node that keeps no compact block filters.
    #[error(
        "node at {url} keeps no compact block filters: restart it with -blockfilterindex=1, \
         or index without --filters"
    )]
    NoFilterIndex {
        /// The node's URL.
        url: String,
    },
}

impl IndexError {
    pub(crate) fn db(path: &str) -> impl Fn(rusqlite::Error) -> IndexError + '_ {
        move |source| IndexError::Database {
            path: path.to_string(),
            source,
        }
    }
}
