//! Provenance certificates: one self-contained, versioned document (`.spoolcert`, JSON) that
//! proves who owns an edition, checked by anyone with this crate alone.
//!
//! A certificate holds every SPOOL transaction the rules about its edition read (the
//! [`crate::scope::Scope`]: the piece-level events, the master edition's and the edition's
//! own), each with the merkle proof of its inclusion in a block (the partial merkle tree of
//! Bitcoin Core's `gettxoutproof`), the block's coinbase with its merkle branch (which fixes
//! the tree's depth, so that a 64-byte transaction cannot pose as an inner node, and the
//! BIP 34 height), the headers of the blocks that bury it (at least 6 where the chain has
//! them), the previous transactions whose outputs the events spend (which prove the
//! senders), and the state it claims: the edition's owner, consignee and loans.
//!
//! [`Certificate::verify`] checks all of it offline and says, in its [`VerifyReport`], what
//! it proved and what an offline check has to trust: that the headers are on the best chain,
//! and that no later event exists. The online check (`spool verify --rpc-url ...`) asks a
//! node for both. The format is documented field by field in `CERTIFICATE.md`.

mod document;
mod issue;
mod proof;
mod verify;

pub use document::{
    BlockProof, Certificate, CertifiedLoan, CertifiedState, EventProof, HeaderRun, Tip, FORMAT,
    VERSION,
};
pub use issue::{IssueError, IssueInput, BURIAL_HEADERS};
pub use proof::coinbase_branch;
pub use verify::{VerifyError, VerifyReport, OFFLINE_TRUSTS};

/// Why a certificate's text could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CertificateParseError {
    /// The text is not the JSON form of a certificate.
    #[error("not a SPOOL certificate: {detail}")]
    Json {
        /// What the JSON reader said.
        detail: String,
    },
    /// The document names another format or a version this crate does not read.
    #[error("unsupported certificate: format {format:?} version {version} (this reader knows {FORMAT:?} version {VERSION})")]
    Unsupported {
        /// The format named.
        format: String,
        /// The version named.
        version: u32,
    },
}
