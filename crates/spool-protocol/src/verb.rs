//! SPOOL verbs: the typed actions and their exact pyspool text, e.g. `ASCRIBESPOOL01TRANSFER1`.

use std::fmt;

use bitcoin::script::{Builder, PushBytesBuf};
use bitcoin::ScriptBuf;

/// The protocol's meta tag.
pub const META: &str = "ASCRIBESPOOL";
/// The protocol version spool-rs writes.
pub const VERSION: &str = "01";

/// A loan date as pyspool writes it: six ASCII digits `YYMMDD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LoanDate(pub [u8; 6]);

impl fmt::Display for LoanDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for digit in self.0 {
            write!(f, "{}", digit as char)?;
        }
        Ok(())
    }
}

/// A SPOOL action with its arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verb {
    /// `PIECE`: registers the master edition of a piece (pyspool's `register_piece`).
    Piece,
    /// `REGISTER<n>`: registers edition `n` (0 = the master edition).
    Register {
        /// Edition number.
        edition: u64,
    },
    /// `EDITIONS<n>`: fixes the number of editions of a piece.
    Editions {
        /// Number of editions.
        count: u64,
    },
    /// `TRANSFER<n>`: transfers edition `n`.
    Transfer {
        /// Edition number.
        edition: u64,
    },
    /// `CONSIGN<n>`: consigns edition `n`.
    Consign {
        /// Edition number.
        edition: u64,
    },
    /// `UNCONSIGN<n>`: returns consigned edition `n` to its consignor.
    Unconsign {
        /// Edition number.
        edition: u64,
    },
    /// `LOAN<n>/<start><end>`: loans edition `n` (0 = the whole piece) between two dates.
    Loan {
        /// Edition number.
        edition: u64,
        /// First day of the loan.
        start: LoanDate,
        /// Last day of the loan.
        end: LoanDate,
    },
    /// `MIGRATE<n>`: moves edition `n` from a previous address to a new one.
    Migrate {
        /// Edition number.
        edition: u64,
    },
    /// `CONSIGNEDREGISTRATION`: registers a piece on behalf of its owner.
    ConsignedRegistration,
    /// `FUEL`: a refill of fuel and tokens from the federation.
    Fuel,
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{META}{VERSION}")?;
        match self {
            Verb::Piece => write!(f, "PIECE"),
            Verb::Register { edition } => write!(f, "REGISTER{edition}"),
            Verb::Editions { count } => write!(f, "EDITIONS{count}"),
            Verb::Transfer { edition } => write!(f, "TRANSFER{edition}"),
            Verb::Consign { edition } => write!(f, "CONSIGN{edition}"),
            Verb::Unconsign { edition } => write!(f, "UNCONSIGN{edition}"),
            Verb::Loan {
                edition,
                start,
                end,
            } => write!(f, "LOAN{edition}/{start}{end}"),
            Verb::Migrate { edition } => write!(f, "MIGRATE{edition}"),
            Verb::ConsignedRegistration => write!(f, "CONSIGNEDREGISTRATION"),
            Verb::Fuel => write!(f, "FUEL"),
        }
    }
}

impl Verb {
    /// The OP_RETURN output script carrying this verb: `6a`, one length byte, the verb.
    pub fn op_return_script(&self) -> ScriptBuf {
        let text = self.to_string();
        let push = PushBytesBuf::try_from(text.into_bytes())
            .expect("a typed verb is far shorter than any push limit");
        Builder::new()
            .push_opcode(bitcoin::opcodes::all::OP_RETURN)
            .push_slice(push)
            .into_script()
    }
}
