//! A SPOOL action's on-chain form, in the manner of ord's `Runestone`: the verb, the piece and
//! the ordered token recipients. [`Operation::encipher`] produces the outputs in order (a token
//! to each recipient, then the OP_RETURN); [`Operation::decipher`] reads them back.
//!
//! The checked constructors hold every input rule (editions from 1 for owner actions, at least
//! one edition, a refill of something, loan dates that exist and end after they start), so
//! an application parses its arguments and builds an [`Operation`]: it never has to repeat a
//! rule. [`Operation::decipher`] takes what the chain holds, rules or not.
//!
//! Recipients in pyspool's order: `[file_hash, file_hash_metadata, to]` for PIECE, REGISTER,
//! EDITIONS and CONSIGNEDREGISTRATION; `[file_hash, to]` for TRANSFER, CONSIGN, UNCONSIGN and
//! LOAN; `[file_hash, previous, new]` for MIGRATE. FUEL pays `tokens` tokens then `fees` fuel
//! outputs to one user.

use bitcoin::{Address, Amount, Network, Transaction, TxOut};

use crate::payload::{self, find_verb};
use crate::scope::Scope;
use crate::verb::{Action, LoanDate, Verb};

/// pyspool's two fixed output values: fuel (FEE) and token (TOKEN).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Denominations {
    /// One fuel output (pyspool 0.x: 30,000 sat).
    pub fee: Amount,
    /// One token output (pyspool 0.x: 3,000 sat).
    pub token: Amount,
}

impl Default for Denominations {
    fn default() -> Denominations {
        Denominations {
            fee: Amount::from_sat(30_000),
            token: Amount::from_sat(3_000),
        }
    }
}

/// A piece's two hashes: of the content, and of the content with its metadata. Without
/// metadata both are the same address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PieceHashes {
    /// `file_hash`: the piece address that the history is read from.
    pub file_hash: Address,
    /// `file_hash_metadata`.
    pub file_hash_metadata: Address,
}

/// Why an [`Operation`] cannot be built from its arguments.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OperationError {
    /// A refill of neither fuel nor tokens.
    #[error("nothing to refill: no fuel and no tokens")]
    NothingToRefill,
    /// EDITIONS with a count of 0.
    #[error("a piece has at least one edition, not 0")]
    NoEditions,
    /// An owner action on edition 0 (editions are numbered from 1).
    #[error("cannot {action} edition 0: editions are numbered from 1 (0 is the master edition)")]
    EditionZero {
        /// The action.
        action: Action,
    },
    /// A loan date that names no calendar day.
    #[error("loan date {date} is not a real day")]
    NotADate {
        /// The date.
        date: LoanDate,
    },
    /// A loan that ends before it starts.
    #[error("the loan ends ({end}) before it starts ({start})")]
    LoanEndsBeforeStart {
        /// First day.
        start: LoanDate,
        /// Last day.
        end: LoanDate,
    },
}

/// Why a transaction's outputs are not an [`Operation`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Flaw {
    /// No OP_RETURN holds a SPOOL verb.
    #[error("no spool verb")]
    NoVerb(#[source] payload::Flaw),
    /// The verb is not in the last output.
    #[error("the verb is in output {vout}, not in the last output")]
    VerbNotLast {
        /// The output holding it.
        vout: u32,
    },
    /// A recipient output pays no address of the network.
    #[error("output {vout} pays no {network} address")]
    NotAnAddress {
        /// The output.
        vout: u32,
        /// The network.
        network: Network,
    },
    /// The verb takes another number of recipients.
    #[error("{verb} takes {expected} recipients, the transaction pays {found}")]
    RecipientCount {
        /// The verb.
        verb: Verb,
        /// What it takes.
        expected: usize,
        /// What the transaction pays.
        found: usize,
    },
    /// A FUEL transaction pays more than one address, or nothing.
    #[error("a refill pays exactly one address")]
    RefillPayees,
    /// A FUEL output is neither a fuel nor a token.
    #[error("output {vout} of {value} is neither fuel nor a token")]
    NotADenomination {
        /// The output.
        vout: u32,
        /// Its value.
        value: Amount,
    },
}

/// Who an operation pays.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Payees {
    /// A token to each, in order.
    Tokens(Vec<Address>),
    /// FUEL: `tokens` tokens then `fees` fuel outputs to one user.
    Refill { to: Address, fees: u32, tokens: u32 },
}

/// One SPOOL action with its verb and addresses: the single type of an action's on-chain
/// form (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    verb: Verb,
    payees: Payees,
}

impl Operation {
    fn tokens(verb: Verb, recipients: Vec<Address>) -> Operation {
        Operation {
            verb,
            payees: Payees::Tokens(recipients),
        }
    }

    fn registration(verb: Verb, piece: &PieceHashes, to: Address) -> Operation {
        let recipients = vec![
            piece.file_hash.clone(),
            piece.file_hash_metadata.clone(),
            to,
        ];
        Operation::tokens(verb, recipients)
    }

    /// FUEL: the federation gives `to` `fees` fuel and `tokens` token outputs.
    ///
    /// # Errors
    ///
    /// [`OperationError::NothingToRefill`] when both are 0.
    pub fn refill(to: Address, fees: u32, tokens: u32) -> Result<Operation, OperationError> {
        if fees == 0 && tokens == 0 {
            return Err(OperationError::NothingToRefill);
        }
        Ok(Operation {
            verb: Verb::Fuel,
            payees: Payees::Refill { to, fees, tokens },
        })
    }

    /// PIECE: registers the master edition of `piece` to `to`.
    pub fn register_piece(piece: &PieceHashes, to: Address) -> Operation {
        Operation::registration(Verb::Piece, piece, to)
    }

    /// CONSIGNEDREGISTRATION: registers `piece` on behalf of its owner, consigned to `to`.
    pub fn consigned_registration(piece: &PieceHashes, to: Address) -> Operation {
        Operation::registration(Verb::ConsignedRegistration, piece, to)
    }

    /// `REGISTER<n>`: registers edition `edition` (0 = the master edition) to `to`.
    pub fn register(piece: &PieceHashes, to: Address, edition: u64) -> Operation {
        Operation::registration(Verb::Register { edition }, piece, to)
    }

    /// `EDITIONS<n>`: fixes the number of editions.
    ///
    /// # Errors
    ///
    /// [`OperationError::NoEditions`] when `count` is 0.
    pub fn editions(
        piece: &PieceHashes,
        to: Address,
        count: u64,
    ) -> Result<Operation, OperationError> {
        if count == 0 {
            return Err(OperationError::NoEditions);
        }
        Ok(Operation::registration(Verb::Editions { count }, piece, to))
    }

    /// `MIGRATE<n>`: moves edition `edition` from `prev` to `new`.
    pub fn migrate(piece: &PieceHashes, prev: Address, new: Address, edition: u64) -> Operation {
        let recipients = vec![piece.file_hash.clone(), prev, new];
        Operation::tokens(Verb::Migrate { edition }, recipients)
    }

    /// `TRANSFER<n>`: the owner gives edition `edition` to `to`.
    ///
    /// # Errors
    ///
    /// [`OperationError::EditionZero`] for edition 0.
    pub fn transfer(
        piece: &PieceHashes,
        to: Address,
        edition: u64,
    ) -> Result<Operation, OperationError> {
        Operation::owner_action(|edition| Verb::Transfer { edition }, piece, to, edition)
    }

    /// `CONSIGN<n>`: the owner consigns edition `edition` to `to`.
    ///
    /// # Errors
    ///
    /// [`OperationError::EditionZero`] for edition 0.
    pub fn consign(
        piece: &PieceHashes,
        to: Address,
        edition: u64,
    ) -> Result<Operation, OperationError> {
        Operation::owner_action(|edition| Verb::Consign { edition }, piece, to, edition)
    }

    /// `UNCONSIGN<n>`: the consignee gives edition `edition` back to `to`, the consignor.
    ///
    /// # Errors
    ///
    /// [`OperationError::EditionZero`] for edition 0.
    pub fn unconsign(
        piece: &PieceHashes,
        to: Address,
        edition: u64,
    ) -> Result<Operation, OperationError> {
        Operation::owner_action(|edition| Verb::Unconsign { edition }, piece, to, edition)
    }

    /// `LOAN<n>/<start><end>`: the owner loans edition `edition` (0 = the whole piece) to
    /// `to` from `start` to `end`, both days included.
    ///
    /// # Errors
    ///
    /// [`OperationError::NotADate`] for a date that names no day,
    /// [`OperationError::LoanEndsBeforeStart`] when `end` is before `start`.
    pub fn loan(
        piece: &PieceHashes,
        to: Address,
        edition: u64,
        start: LoanDate,
        end: LoanDate,
    ) -> Result<Operation, OperationError> {
        for date in [start, end] {
            if date.ymd().is_none() {
                return Err(OperationError::NotADate { date });
            }
        }
        if end < start {
            return Err(OperationError::LoanEndsBeforeStart { start, end });
        }
        let verb = Verb::Loan {
            edition,
            start,
            end,
        };
        Ok(Operation::owner(verb, piece, to))
    }

    fn owner(verb: Verb, piece: &PieceHashes, to: Address) -> Operation {
        Operation::tokens(verb, vec![piece.file_hash.clone(), to])
    }

    /// TRANSFER, CONSIGN or UNCONSIGN (`verb` of the edition) of an edition numbered from 1.
    fn owner_action(
        verb: fn(u64) -> Verb,
        piece: &PieceHashes,
        to: Address,
        edition: u64,
    ) -> Result<Operation, OperationError> {
        let verb = verb(edition);
        if edition == 0 {
            return Err(OperationError::EditionZero {
                action: verb.action(),
            });
        }
        Ok(Operation::owner(verb, piece, to))
    }

    /// The verb written in the OP_RETURN.
    pub fn verb(&self) -> Verb {
        self.verb
    }

    /// The action of the verb.
    pub fn action(&self) -> Action {
        self.verb.action()
    }

    /// The edition the verb is about, if any (see [`Verb::edition`]).
    pub fn edition(&self) -> Option<u64> {
        self.verb.edition()
    }

    /// The part of the piece's history this action's rules read (see [`Scope`]).
    pub fn scope(&self) -> Scope {
        Scope::of(&self.verb)
    }

    /// The piece address (`file_hash`) the action is about; `None` for FUEL.
    pub fn piece(&self) -> Option<&Address> {
        match &self.payees {
            Payees::Tokens(recipients) => recipients.first(),
            Payees::Refill { .. } => None,
        }
    }

    /// The token recipients in pyspool's order; empty for FUEL (whose outputs are fuel and
    /// tokens for [`Operation::destination`]).
    pub fn recipients(&self) -> &[Address] {
        match &self.payees {
            Payees::Tokens(recipients) => recipients,
            Payees::Refill { .. } => &[],
        }
    }

    /// The address that receives the action: the last recipient, or the refilled user.
    pub fn destination(&self) -> &Address {
        match &self.payees {
            Payees::Tokens(recipients) => recipients.last().expect("every verb has recipients"),
            Payees::Refill { to, .. } => to,
        }
    }

    /// FUEL's counts: (fuel outputs, token outputs); `None` for the other verbs.
    pub fn refill_counts(&self) -> Option<(u32, u32)> {
        match &self.payees {
            Payees::Tokens(_) => None,
            Payees::Refill { fees, tokens, .. } => Some((*fees, *tokens)),
        }
    }

    /// Whether the federation signs it (see [`Action::is_federated`]).
    pub fn is_federated(&self) -> bool {
        self.verb.is_federated()
    }

    /// The outputs in order: a token to each recipient (FUEL: `tokens` tokens then `fees`
    /// fuel outputs to the user), then the OP_RETURN.
    pub fn encipher(&self, denominations: Denominations) -> Vec<TxOut> {
        let pay = |address: &Address, value: Amount| TxOut {
            value,
            script_pubkey: address.script_pubkey(),
        };
        let mut outputs: Vec<TxOut> = match &self.payees {
            Payees::Tokens(recipients) => recipients
                .iter()
                .map(|r| pay(r, denominations.token))
                .collect(),
            Payees::Refill { to, fees, tokens } => {
                std::iter::repeat_n(denominations.token, *tokens as usize)
                    .chain(std::iter::repeat_n(denominations.fee, *fees as usize))
                    .map(|value| pay(to, value))
                    .collect()
            }
        };
        outputs.push(TxOut {
            value: Amount::ZERO,
            script_pubkey: self.verb.op_return_script(),
        });
        outputs
    }

    /// Reads an operation back from a transaction's outputs: the verb in the last output
    /// (found as pyspool finds it), the recipients before it as addresses of `network`, in
    /// the number the verb takes; for FUEL one user and outputs of the two denominations.
    /// What the chain holds is taken as it is: the constructors' input rules are not applied.
    ///
    /// # Errors
    ///
    /// A [`Flaw`] naming the first thing that does not fit.
    pub fn decipher(
        tx: &Transaction,
        network: Network,
        denominations: Denominations,
    ) -> Result<Operation, Flaw> {
        let (vout, verb) = find_verb(tx).map_err(Flaw::NoVerb)?;
        if vout as usize + 1 != tx.output.len() {
            return Err(Flaw::VerbNotLast { vout });
        }
        let paid = &tx.output[..vout as usize];
        let mut recipients = Vec::with_capacity(paid.len());
        for (i, output) in paid.iter().enumerate() {
            let vout = u32::try_from(i).expect("fewer than 2^32 outputs");
            let address = Address::from_script(&output.script_pubkey, network)
                .map_err(|_| Flaw::NotAnAddress { vout, network })?;
            recipients.push(address);
        }
        let Some(expected) = verb.recipient_count() else {
            return decipher_refill(paid, recipients, denominations);
        };
        if recipients.len() != expected {
            return Err(Flaw::RecipientCount {
                verb,
                expected,
                found: recipients.len(),
            });
        }
        Ok(Operation::tokens(verb, recipients))
    }
}

fn decipher_refill(
    paid: &[TxOut],
    recipients: Vec<Address>,
    denominations: Denominations,
) -> Result<Operation, Flaw> {
    let Some(to) = recipients.first().cloned() else {
        return Err(Flaw::RefillPayees);
    };
    if recipients.iter().any(|r| *r != to) {
        return Err(Flaw::RefillPayees);
    }
    let (mut fees, mut tokens) = (0u32, 0u32);
    for (i, output) in paid.iter().enumerate() {
        match output.value {
            v if v == denominations.fee => fees += 1,
            v if v == denominations.token => tokens += 1,
            value => {
                return Err(Flaw::NotADenomination {
                    vout: u32::try_from(i).expect("fewer than 2^32 outputs"),
                    value,
                })
            }
        }
    }
    Ok(Operation {
        verb: Verb::Fuel,
        payees: Payees::Refill { to, fees, tokens },
    })
}
