//! Ownership (pyspool's `Ownership`): what an address may do with an edition of a piece, with
//! pyspool's reason texts, computed from the valid events of a [`History`] only.
//!
//! Semantics as pyspool's: `can_register_master`, `can_editions` and `can_register` are about the
//! piece's state (the subject address plays no part); `can_transfer`, `can_consign` and
//! `can_loan` ask whether the address is the last recipient of the edition with loans set
//! aside (the owner, or the consignee while the edition is consigned); `can_unconsign` whether
//! the edition is consigned to the address. Edition 0 is the master edition (registered by
//! PIECE, REGISTER0 or CONSIGNEDREGISTRATION) -- where pyspool, whose decoder turns edition 0
//! into `''` and files EDITIONS under 0, would look at the EDITIONS records instead.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::history::History;
use crate::ledger::{EditionState, LoanRecord};
use crate::reason::Reason;
use crate::verb::LoanDate;

/// The answer to a "can ...?" question: allowed, or not with pyspool's reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Whether the action is allowed.
    pub allowed: bool,
    /// Why not (`None` when allowed).
    pub reason: Option<Reason>,
}

impl Check {
    fn from(result: Result<(), Reason>) -> Check {
        match result {
            Ok(()) => Check {
                allowed: true,
                reason: None,
            },
            Err(reason) => Check {
                allowed: false,
                reason: Some(reason),
            },
        }
    }
}

/// A loan of an edition in force with its current holder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Loan {
    /// Who borrows it.
    pub borrower: String,
    /// First day.
    pub start: String,
    /// Last day.
    pub end: String,
}

/// What `address` may do with edition `edition` of a piece.
#[derive(Debug, Clone)]
pub struct Ownership<'h> {
    history: &'h History,
    address: String,
    edition: u64,
}

impl<'h> Ownership<'h> {
    /// The rights of `address` over `edition` (0 = the master edition) in `history`.
    pub fn new(history: &'h History, address: &str, edition: u64) -> Ownership<'h> {
        Ownership {
            history,
            address: address.to_owned(),
            edition,
        }
    }

    fn state(&self) -> Option<&'h EditionState> {
        self.history.ledger.editions.get(&self.edition)
    }

    /// Whether the master edition may be registered (it is not yet).
    pub fn can_register_master(&self) -> Check {
        Check::from(self.history.ledger.check_register_master())
    }

    /// Whether the number of editions may be registered (master registered, editions not).
    pub fn can_editions(&self) -> Check {
        Check::from(self.history.ledger.check_editions())
    }

    /// Whether this edition may be registered (edition 0: as [`Self::can_register_master`]).
    pub fn can_register(&self) -> Check {
        Check::from(self.history.ledger.check_register(self.edition))
    }

    /// Whether the address may transfer the edition.
    pub fn can_transfer(&self) -> Check {
        Check::from(
            self.history
                .ledger
                .check_transfer(&self.address, self.edition),
        )
    }

    /// Whether the address may consign the edition (same rule as transfer).
    pub fn can_consign(&self) -> Check {
        self.can_transfer()
    }

    /// Whether the address may loan the edition (same rule as transfer).
    pub fn can_loan(&self) -> Check {
        self.can_transfer()
    }

    /// Whether the address may unconsign the edition (it is consigned to the address).
    pub fn can_unconsign(&self) -> Check {
        Check::from(
            self.history
                .ledger
                .check_unconsign(&self.address, self.edition),
        )
    }

    /// Whether an unconsign may go to `to`: only back to the consignor
    /// (`You can only unconsign to {consignor}`).
    pub fn unconsign_to_allowed(&self, to: &str) -> Check {
        Check::from(self.history.ledger.check_unconsign_to(self.edition, to))
    }

    /// The owner: the last recipient with loans set aside, or the consignor while the
    /// edition is consigned (a consignee holds an edition, it does not own it).
    pub fn owner(&self) -> Option<String> {
        self.state().map(|s| s.owner().to_owned())
    }

    /// The holder: the last recipient with loans set aside, so the consignee while the
    /// edition is consigned (the address that may transfer, loan or unconsign it next).
    pub fn holder(&self) -> Option<String> {
        self.state().map(|s| s.holder.clone())
    }

    /// Who consigned the edition, while it is consigned.
    pub fn consignor(&self) -> Option<String> {
        self.state()
            .and_then(|s| s.consignment.as_ref())
            .map(|c| c.consignor.clone())
    }

    /// Who the edition is consigned to, while it is consigned.
    pub fn consignee(&self) -> Option<String> {
        self.state()
            .and_then(|s| s.consignment.as_ref())
            .map(|c| c.consignee.clone())
    }

    /// The valid loans made by the current holder (since the last transfer, consign,
    /// unconsign, migrate or registration), in chain order.
    pub fn loans(&self) -> Vec<Loan> {
        self.state()
            .map(|s| s.loans.iter().map(loan).collect())
            .unwrap_or_default()
    }

    /// Who borrows the edition on `date`: the latest of the current holder's loans whose
    /// period (both days included) covers the date.
    pub fn borrower_on(&self, date: LoanDate) -> Option<String> {
        self.state()?
            .loans
            .iter()
            .rev()
            .find(|l| l.start <= date && date <= l.end)
            .map(|l| l.borrower.clone())
    }

    /// The address asked about.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The edition asked about.
    pub fn edition(&self) -> u64 {
        self.edition
    }
}

/// An ownership answer as `spool ownership --json` prints it and the index's
/// `GET /api/v1/piece/{piece}/ownership` serves it: one type, so both answer identically.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnershipReport {
    /// The address asked about.
    pub address: String,
    /// The piece address.
    pub piece_address: String,
    /// The edition asked about.
    pub edition_number: u64,
    /// The edition's owner, if registered: the last recipient with loans set aside, or the
    /// consignor while it is consigned.
    pub owner: Option<String>,
    /// Who holds the edition: the owner, or the consignee while it is consigned.
    #[serde(default)]
    pub holder: Option<String>,
    /// Who the edition is consigned to, while consigned.
    pub consignee: Option<String>,
    /// pyspool's `can_register_master`.
    pub can_register_master: bool,
    /// pyspool's `can_editions`.
    pub can_editions: bool,
    /// pyspool's `can_register` (of this edition).
    pub can_register: bool,
    /// pyspool's `can_transfer`.
    pub can_transfer: bool,
    /// pyspool's `can_consign`.
    pub can_consign: bool,
    /// pyspool's `can_loan`.
    pub can_loan: bool,
    /// pyspool's `can_unconsign`.
    pub can_unconsign: bool,
    /// pyspool's reason for every `false`, keyed by the field name.
    pub reasons: BTreeMap<String, String>,
}

impl OwnershipReport {
    /// The report of `ownership`: every check, and the reason of each refused one.
    pub fn new(ownership: &Ownership<'_>) -> OwnershipReport {
        let mut reasons = BTreeMap::new();
        let mut record = |name: &str, check: Check| {
            if let (false, Some(reason)) = (check.allowed, check.reason) {
                reasons.insert(name.to_string(), reason.to_string());
            }
            check.allowed
        };
        OwnershipReport {
            address: ownership.address().to_string(),
            piece_address: ownership.history.piece_address().to_string(),
            edition_number: ownership.edition(),
            owner: ownership.owner(),
            holder: ownership.holder(),
            consignee: ownership.consignee(),
            can_register_master: record("can_register_master", ownership.can_register_master()),
            can_editions: record("can_editions", ownership.can_editions()),
            can_register: record("can_register", ownership.can_register()),
            can_transfer: record("can_transfer", ownership.can_transfer()),
            can_consign: record("can_consign", ownership.can_consign()),
            can_loan: record("can_loan", ownership.can_loan()),
            can_unconsign: record("can_unconsign", ownership.can_unconsign()),
            reasons,
        }
    }

    /// The checks in pyspool's order, as `(field name, allowed)`.
    pub fn checks(&self) -> [(&'static str, bool); 7] {
        [
            ("can_register_master", self.can_register_master),
            ("can_editions", self.can_editions),
            ("can_register", self.can_register),
            ("can_transfer", self.can_transfer),
            ("can_consign", self.can_consign),
            ("can_loan", self.can_loan),
            ("can_unconsign", self.can_unconsign),
        ]
    }
}

fn loan(record: &LoanRecord) -> Loan {
    Loan {
        borrower: record.borrower.clone(),
        start: record.start.to_string(),
        end: record.end.to_string(),
    }
}
