//! The actions the engine performs, as typed requests.

use bitcoin::Address;
use spool_protocol::verb::{LoanDate, Verb};

/// A piece's two hashes: of the content, and of the content with its metadata. Without
/// metadata both are the same address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PieceHashes {
    /// `file_hash`: the piece address that the history is read from.
    pub file_hash: Address,
    /// `file_hash_metadata`.
    pub file_hash_metadata: Address,
}

/// One SPOOL action (or a refill) with its arguments, as pyspool's `Spool` methods take them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Request {
    /// pyspool's `refill_main_wallet`: an ordinary transaction with change from the refill
    /// wallet to the federation, `fees` x FEE and `tokens` x TOKEN, no OP_RETURN.
    RefillMain {
        /// The federation address.
        to: Address,
        /// Number of fuel outputs.
        fees: u32,
        /// Number of token outputs.
        tokens: u32,
    },
    /// pyspool's `refill` (verb FUEL): federation -> a user.
    Refill {
        /// The user's address.
        to: Address,
        /// Number of fuel outputs.
        fees: u32,
        /// Number of token outputs.
        tokens: u32,
    },
    /// `register_piece` (verb PIECE).
    RegisterPiece {
        /// The piece.
        piece: PieceHashes,
        /// The owner.
        to: Address,
    },
    /// `register` (verb REGISTER<n>); edition 0 is the master edition.
    Register {
        /// The piece.
        piece: PieceHashes,
        /// The owner.
        to: Address,
        /// The edition.
        edition: u64,
    },
    /// `editions` (verb EDITIONS<n>).
    Editions {
        /// The piece.
        piece: PieceHashes,
        /// The owner.
        to: Address,
        /// How many editions.
        count: u64,
    },
    /// `consigned_registration` (verb CONSIGNEDREGISTRATION).
    ConsignedRegistration {
        /// The piece.
        piece: PieceHashes,
        /// The consignee.
        to: Address,
    },
    /// `migrate` (verb MIGRATE<n>).
    Migrate {
        /// The piece.
        piece: PieceHashes,
        /// The previous address.
        prev: Address,
        /// The new address.
        new: Address,
        /// The edition.
        edition: u64,
    },
    /// `transfer` (verb TRANSFER<n>).
    Transfer {
        /// The piece.
        piece: PieceHashes,
        /// The new owner.
        to: Address,
        /// The edition.
        edition: u64,
    },
    /// `consign` (verb CONSIGN<n>).
    Consign {
        /// The piece.
        piece: PieceHashes,
        /// The consignee.
        to: Address,
        /// The edition.
        edition: u64,
    },
    /// `unconsign` (verb UNCONSIGN<n>), back to the consignor.
    Unconsign {
        /// The piece.
        piece: PieceHashes,
        /// The consignor.
        to: Address,
        /// The edition.
        edition: u64,
    },
    /// `loan` (verb LOAN<n>/<start><end>).
    Loan {
        /// The piece.
        piece: PieceHashes,
        /// The borrower.
        to: Address,
        /// The edition (0 = the whole piece).
        edition: u64,
        /// First day.
        start: LoanDate,
        /// Last day.
        end: LoanDate,
    },
}

impl Request {
    /// The verb written in the OP_RETURN (none for a main-wallet refill).
    pub fn verb(&self) -> Option<Verb> {
        Some(match self {
            Request::RefillMain { .. } => return None,
            Request::Refill { .. } => Verb::Fuel,
            Request::RegisterPiece { .. } => Verb::Piece,
            Request::Register { edition, .. } => Verb::Register { edition: *edition },
            Request::Editions { count, .. } => Verb::Editions { count: *count },
            Request::ConsignedRegistration { .. } => Verb::ConsignedRegistration,
            Request::Migrate { edition, .. } => Verb::Migrate { edition: *edition },
            Request::Transfer { edition, .. } => Verb::Transfer { edition: *edition },
            Request::Consign { edition, .. } => Verb::Consign { edition: *edition },
            Request::Unconsign { edition, .. } => Verb::Unconsign { edition: *edition },
            Request::Loan {
                edition,
                start,
                end,
                ..
            } => Verb::Loan {
                edition: *edition,
                start: *start,
                end: *end,
            },
        })
    }

    /// The piece the action is about (none for refills).
    pub fn piece(&self) -> Option<&PieceHashes> {
        match self {
            Request::RefillMain { .. } | Request::Refill { .. } => None,
            Request::RegisterPiece { piece, .. }
            | Request::Register { piece, .. }
            | Request::Editions { piece, .. }
            | Request::ConsignedRegistration { piece, .. }
            | Request::Migrate { piece, .. }
            | Request::Transfer { piece, .. }
            | Request::Consign { piece, .. }
            | Request::Unconsign { piece, .. }
            | Request::Loan { piece, .. } => Some(piece),
        }
    }

    /// The token recipients in pyspool's order: [file_hash, file_hash_metadata, to] for
    /// registrations, [file_hash, to] for owner actions, [file_hash, prev, new] for
    /// migrate; empty for refills (their outputs are fuel and tokens, not recipients).
    pub fn recipients(&self) -> Vec<Address> {
        match self {
            Request::RefillMain { .. } | Request::Refill { .. } => Vec::new(),
            Request::RegisterPiece { piece, to }
            | Request::Register { piece, to, .. }
            | Request::Editions { piece, to, .. }
            | Request::ConsignedRegistration { piece, to } => vec![
                piece.file_hash.clone(),
                piece.file_hash_metadata.clone(),
                to.clone(),
            ],
            Request::Migrate {
                piece, prev, new, ..
            } => vec![piece.file_hash.clone(), prev.clone(), new.clone()],
            Request::Transfer { piece, to, .. }
            | Request::Consign { piece, to, .. }
            | Request::Unconsign { piece, to, .. }
            | Request::Loan { piece, to, .. } => vec![piece.file_hash.clone(), to.clone()],
        }
    }

    /// The address that receives the action (the last recipient, or the refilled address).
    pub fn destination(&self) -> &Address {
        match self {
            Request::RefillMain { to, .. }
            | Request::Refill { to, .. }
            | Request::RegisterPiece { to, .. }
            | Request::Register { to, .. }
            | Request::Editions { to, .. }
            | Request::ConsignedRegistration { to, .. }
            | Request::Transfer { to, .. }
            | Request::Consign { to, .. }
            | Request::Unconsign { to, .. }
            | Request::Loan { to, .. } => to,
            Request::Migrate { new, .. } => new,
        }
    }

    /// The edition the action is about, if any.
    pub fn edition(&self) -> Option<u64> {
        self.verb().and_then(|verb| verb.edition())
    }

    /// Amounts this request moves to its destination, for display: (fuel, tokens).
    pub fn refill_counts(&self) -> Option<(u32, u32)> {
        match self {
            Request::RefillMain { fees, tokens, .. } | Request::Refill { fees, tokens, .. } => {
                Some((*fees, *tokens))
            }
            _ => None,
        }
    }
}
