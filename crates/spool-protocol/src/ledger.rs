//! The state of a piece as its valid events build it up, and pyspool's rules over that state
//! (with pyspool's reason texts). Shared by the history's verification and by ownership.

use std::collections::HashMap;

use crate::reason::Reason;
use crate::verb::{LoanDate, Verb};

/// A consignment in force: who consigned the edition, and to whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Consignment {
    pub consignor: String,
    pub consignee: String,
}

/// A valid loan made since the last non-loan event of its edition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LoanRecord {
    pub borrower: String,
    pub start: LoanDate,
    pub end: LoanDate,
}

/// One edition (0 = the master edition): the last recipient with loans set aside, the
/// consignment in force, and the loans since.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EditionState {
    pub holder: String,
    pub consignment: Option<Consignment>,
    pub loans: Vec<LoanRecord>,
}

impl EditionState {
    /// The owner: the consignor while consigned, else the holder.
    pub fn owner(&self) -> &str {
        self.consignment
            .as_ref()
            .map_or(self.holder.as_str(), |c| c.consignor.as_str())
    }
}

/// Everything the rules need to know about a piece.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Ledger {
    pub number_editions: Option<u64>,
    pub editions: HashMap<u64, EditionState>,
}

impl Ledger {
    pub fn master_registered(&self) -> bool {
        self.editions.contains_key(&0)
    }

    /// pyspool's `can_register_master`.
    pub fn check_register_master(&self) -> Result<(), Reason> {
        if self.master_registered() {
            return Err(Reason::MasterAlreadyRegistered);
        }
        Ok(())
    }

    /// pyspool's `can_editions`.
    pub fn check_editions(&self) -> Result<(), Reason> {
        if !self.master_registered() {
            return Err(Reason::MasterNotRegistered);
        }
        if self.number_editions.is_some() {
            return Err(Reason::EditionsAlreadyRegistered);
        }
        Ok(())
    }

    /// pyspool's `can_register` for edition `n` (edition 0 is the master's rule).
    pub fn check_register(&self, n: u64) -> Result<(), Reason> {
        if n == 0 {
            return self.check_register_master();
        }
        if !self.master_registered() {
            return Err(Reason::MasterNotRegistered);
        }
        let Some(count) = self.number_editions else {
            return Err(Reason::EditionsNotRegistered);
        };
        if n > count {
            return Err(Reason::TooManyEditions { count, edition: n });
        }
        if self.editions.contains_key(&n) {
            return Err(Reason::EditionAlreadyRegistered { edition: n });
        }
        Ok(())
    }

    /// pyspool's `can_transfer` (also `can_consign` and `can_loan`).
    pub fn check_transfer(&self, address: &str, n: u64) -> Result<(), Reason> {
        let Some(state) = self.editions.get(&n) else {
            return Err(Reason::EditionNotFound { edition: n });
        };
        if state.holder != address {
            return Err(Reason::NotOwner {
                address: address.to_owned(),
                edition: n,
            });
        }
        Ok(())
    }

    /// pyspool's `can_unconsign`.
    pub fn check_unconsign(&self, address: &str, n: u64) -> Result<(), Reason> {
        let Some(state) = self.editions.get(&n) else {
            return Err(Reason::MasterNotRegistered);
        };
        match &state.consignment {
            Some(c) if c.consignee == address => Ok(()),
            _ => Err(Reason::NotConsignedTo {
                edition: n,
                address: address.to_owned(),
            }),
        }
    }

    /// The unconsign-only-back-to-the-consignor rule.
    pub fn check_unconsign_to(&self, n: u64, to: &str) -> Result<(), Reason> {
        let consignor = self
            .editions
            .get(&n)
            .and_then(|s| s.consignment.as_ref())
            .map(|c| c.consignor.as_str());
        match consignor {
            Some(consignor) if consignor == to => Ok(()),
            Some(consignor) => Err(Reason::UnconsignOnlyTo {
                consignor: consignor.to_owned(),
            }),
            None => Err(Reason::NotConsigned { edition: n }),
        }
    }

    /// Whether `verb` from `from` to `to` is allowed now (federation checks are the caller's).
    pub fn check(&self, verb: &Verb, from: &str, to: &str) -> Result<(), Reason> {
        match *verb {
            Verb::Fuel => Err(Reason::FuelIsNotAPieceAction),
            Verb::Piece | Verb::ConsignedRegistration => self.check_register_master(),
            Verb::Register { edition } => self.check_register(edition),
            Verb::Editions { .. } => self.check_editions(),
            Verb::Transfer { edition } | Verb::Consign { edition } => {
                self.check_transfer(from, edition)
            }
            Verb::Loan {
                edition,
                start,
                end,
            } => {
                self.check_transfer(from, edition)?;
                match (start.ymd(), end.ymd()) {
                    (None, _) => Err(Reason::LoanStartNotADate { start }),
                    (_, None) => Err(Reason::LoanEndNotADate { end }),
                    _ if end < start => Err(Reason::LoanEndsBeforeStart { start, end }),
                    _ => Ok(()),
                }
            }
            Verb::Unconsign { edition } => {
                self.check_unconsign(from, edition)?;
                self.check_unconsign_to(edition, to)
            }
            Verb::Migrate { edition } => {
                if self.editions.contains_key(&edition) {
                    Ok(())
                } else {
                    Err(Reason::EditionNotFound { edition })
                }
            }
        }
    }

    /// Records a valid event.
    pub fn apply(&mut self, verb: &Verb, to: &str) {
        let fresh = |holder: &str| EditionState {
            holder: holder.to_owned(),
            consignment: None,
            loans: Vec::new(),
        };
        match *verb {
            Verb::Fuel => {}
            Verb::Piece | Verb::ConsignedRegistration => {
                self.editions.insert(0, fresh(to));
            }
            Verb::Register { edition } => {
                self.editions.insert(edition, fresh(to));
            }
            Verb::Editions { count } => self.number_editions = Some(count),
            Verb::Transfer { edition }
            | Verb::Unconsign { edition }
            | Verb::Migrate { edition } => {
                self.editions.insert(edition, fresh(to));
            }
            Verb::Consign { edition } => {
                if let Some(state) = self.editions.get_mut(&edition) {
                    let consignor = std::mem::replace(&mut state.holder, to.to_owned());
                    state.consignment = Some(Consignment {
                        consignor,
                        consignee: to.to_owned(),
                    });
                    state.loans.clear();
                }
            }
            Verb::Loan {
                edition,
                start,
                end,
            } => {
                if let Some(state) = self.editions.get_mut(&edition) {
                    state.loans.push(LoanRecord {
                        borrower: to.to_owned(),
                        start,
                        end,
                    });
                }
            }
        }
    }
}
