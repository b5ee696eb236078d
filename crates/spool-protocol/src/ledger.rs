//! The state of a piece as its valid events build it up, and pyspool's rules over that state
//! (with pyspool's reason texts). Shared by the history's verification and by ownership.

use std::collections::HashMap;

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

/// Everything the rules need to know about a piece.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Ledger {
    pub number_editions: Option<u64>,
    pub editions: HashMap<u64, EditionState>,
}

pub(crate) const MASTER_NOT_REGISTERED: &str = "Master edition not yet registered";

impl Ledger {
    pub fn master_registered(&self) -> bool {
        self.editions.contains_key(&0)
    }

    /// pyspool's `can_register_master`.
    pub fn check_register_master(&self) -> Result<(), String> {
        if self.master_registered() {
            return Err("Master piece already registered in the blockchain".to_owned());
        }
        Ok(())
    }

    /// pyspool's `can_editions`.
    pub fn check_editions(&self) -> Result<(), String> {
        if !self.master_registered() {
            return Err(MASTER_NOT_REGISTERED.to_owned());
        }
        if self.number_editions.is_some() {
            return Err("Number of editions was already registered for this piece".to_owned());
        }
        Ok(())
    }

    /// pyspool's `can_register` for edition `n` (edition 0 is the master's rule).
    pub fn check_register(&self, n: u64) -> Result<(), String> {
        if n == 0 {
            return self.check_register_master();
        }
        if !self.master_registered() {
            return Err(MASTER_NOT_REGISTERED.to_owned());
        }
        let Some(count) = self.number_editions else {
            return Err("Number of editions not yet registered".to_owned());
        };
        if n > count {
            return Err(format!(
                "You can only register {count} editions. You are trying to register edition {n}"
            ));
        }
        if self.editions.contains_key(&n) {
            return Err(format!(
                "Edition number {n} is already registered in the blockchain"
            ));
        }
        Ok(())
    }

    /// pyspool's `can_transfer` (also `can_consign` and `can_loan`).
    pub fn check_transfer(&self, address: &str, n: u64) -> Result<(), String> {
        let Some(state) = self.editions.get(&n) else {
            return Err(format!(
                "The edition number {n} does not exist in the blockchain"
            ));
        };
        if state.holder != address {
            return Err(format!(
                "Address {address} does not own the edition number {n}"
            ));
        }
        Ok(())
    }

    /// pyspool's `can_unconsign`.
    pub fn check_unconsign(&self, address: &str, n: u64) -> Result<(), String> {
        let Some(state) = self.editions.get(&n) else {
            return Err(MASTER_NOT_REGISTERED.to_owned());
        };
        match &state.consignment {
            Some(c) if c.consignee == address => Ok(()),
            _ => Err(format!("Edition number {n} is not consigned to {address}")),
        }
    }

    /// The unconsign-only-back-to-the-consignor rule.
    pub fn check_unconsign_to(&self, n: u64, to: &str) -> Result<(), String> {
        let consignor = self
            .editions
            .get(&n)
            .and_then(|s| s.consignment.as_ref())
            .map(|c| c.consignor.as_str());
        match consignor {
            Some(consignor) if consignor == to => Ok(()),
            Some(consignor) => Err(format!("You can only unconsign to {consignor}")),
            None => Err(format!("Edition number {n} is not consigned")),
        }
    }

    /// Whether `verb` from `from` to `to` is allowed now (federation checks are the caller's).
    pub fn check(&self, verb: &Verb, from: &str, to: &str) -> Result<(), String> {
        match *verb {
            Verb::Fuel => Err("FUEL is a refill, not an action on a piece".to_owned()),
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
                    (None, _) => Err(format!("Loan start {start} is not a real date")),
                    (_, None) => Err(format!("Loan end {end} is not a real date")),
                    _ if end < start => {
                        Err(format!("Loan ends ({end}) before it starts ({start})"))
                    }
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
                    Err(format!(
                        "The edition number {edition} does not exist in the blockchain"
                    ))
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
