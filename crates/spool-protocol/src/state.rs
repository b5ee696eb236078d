//! The current state of a piece as a summary ([`PieceState`]: who registered it, who holds
//! each edition, to whom it is consigned, who borrows it) and what one address holds across
//! pieces ([`Holding`]). Both are read off a verified [`History`]: only valid events count.

use serde::{Deserialize, Serialize};

use crate::history::History;
use crate::verb::{LoanDate, Verb};

/// One loan made by an edition's current holder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoanSummary {
    /// Who borrows the edition.
    pub borrower: String,
    /// First day of the loan, `YYMMDD`.
    pub start: String,
    /// Last day of the loan, `YYMMDD`.
    pub end: String,
}

/// One edition of a piece (0 = the master edition) as the valid events leave it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditionSummary {
    /// The edition number (0 = the master edition).
    pub edition: u64,
    /// Whether a valid registration of this edition exists.
    pub registered: bool,
    /// The owner: the last recipient with loans set aside, or, while the edition is
    /// consigned, the consignor (a consignee holds an edition but does not own it).
    pub owner: Option<String>,
    /// Who holds the edition: the owner, or the consignee while it is consigned (the address
    /// that may act on it next).
    #[serde(default)]
    pub holder: Option<String>,
    /// Who the edition is consigned to, while it is consigned.
    pub consignee: Option<String>,
    /// The current holder's loans, in chain order.
    pub loans: Vec<LoanSummary>,
}

/// The current state of a piece.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PieceState {
    /// The piece address.
    pub piece_address: String,
    /// The number of editions from the valid EDITIONS event, if any.
    pub number_editions: Option<u64>,
    /// The sender of the valid registration of the master edition (the federation).
    pub registered_by: Option<String>,
    /// The owner of the master edition (its consignor while it is consigned).
    pub master_owner: Option<String>,
    /// The master edition, then editions 1..=number_editions (registered or not), then any
    /// other registered edition, ascending.
    pub editions: Vec<EditionSummary>,
}

/// What an address holds of an edition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The address owns the edition: it holds it unconsigned, or consigned it to another.
    Owner,
    /// The edition is consigned to the address.
    Consignee,
    /// The address borrows the edition on the day asked about.
    Borrower,
}

/// One edition an address holds, and how.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Holding {
    /// The piece address.
    pub piece_address: String,
    /// The edition (0 = the master edition).
    pub edition: u64,
    /// How the address holds it.
    pub role: Role,
}

impl History {
    /// The piece's current state, from its valid events.
    pub fn state(&self) -> PieceState {
        let registered_by = self
            .valid_events()
            .find(|event| {
                matches!(
                    event.typed_verb(),
                    Ok(Verb::Piece | Verb::ConsignedRegistration | Verb::Register { edition: 0 })
                )
            })
            .map(|event| event.from_address.clone());
        let mut numbers: Vec<u64> = (0..=self.number_editions().unwrap_or(0)).collect();
        numbers.extend(self.registered_editions());
        numbers.sort_unstable();
        numbers.dedup();
        let editions = numbers
            .into_iter()
            .map(|edition| self.edition_summary(edition))
            .collect();
        PieceState {
            piece_address: self.piece_address().to_owned(),
            number_editions: self.number_editions(),
            registered_by,
            master_owner: self.owner(0).map(str::to_owned),
            editions,
        }
    }

    fn edition_summary(&self, edition: u64) -> EditionSummary {
        let state = self.ledger.editions.get(&edition);
        EditionSummary {
            edition,
            registered: state.is_some(),
            owner: state.map(|s| s.owner().to_owned()),
            holder: state.map(|s| s.holder.clone()),
            consignee: state
                .and_then(|s| s.consignment.as_ref())
                .map(|c| c.consignee.clone()),
            loans: state
                .map(|s| {
                    s.loans
                        .iter()
                        .map(|l| LoanSummary {
                            borrower: l.borrower.clone(),
                            start: l.start.to_string(),
                            end: l.end.to_string(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// What `address` holds of this piece on `today`: `Owner` of each edition it owns
    /// (holds unconsigned, or consigned to someone else), `Consignee` of each edition
    /// consigned to it, `Borrower` of each edition
    /// whose latest loan covering `today` names it. Sorted by edition, then role.
    pub fn holdings(&self, address: &str, today: LoanDate) -> Vec<Holding> {
        let mut held = Vec::new();
        for (&edition, state) in &self.ledger.editions {
            let mut push = |role| {
                held.push(Holding {
                    piece_address: self.piece_address().to_owned(),
                    edition,
                    role,
                })
            };
            match &state.consignment {
                Some(c) if c.consignee == address => push(Role::Consignee),
                Some(c) if c.consignor == address => push(Role::Owner),
                None if state.holder == address => push(Role::Owner),
                _ => {}
            }
            let borrower = state
                .loans
                .iter()
                .rev()
                .find(|l| l.start <= today && today <= l.end)
                .map(|l| l.borrower.as_str());
            if borrower == Some(address) {
                push(Role::Borrower);
            }
        }
        held.sort();
        held
    }
}
