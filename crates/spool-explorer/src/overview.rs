//! A piece's editions as a collector takes them in when there are hundreds: counts first
//! ([`Overview`]), then runs of consecutive editions in the same hands ([`EditionRun`]), and
//! which editions have a story beyond their registration (the ones a graph draws).

use std::collections::{BTreeMap, BTreeSet};

use spool_protocol::history::History;
use spool_protocol::state::{EditionSummary, PieceState};
use spool_protocol::verb::LoanDate;

use crate::model::{is_pending, is_registration, is_transfer, lane_of, moves_edition};
use crate::pages::piece::active_loan;

/// How many runs of editions one page of a piece lists.
pub(crate) const RUNS_PER_PAGE: usize = 50;

/// The counts a piece page opens with (numbered editions only; the master is apart).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Overview {
    /// The artist: who the master edition was registered to.
    pub artist: Option<String>,
    /// Numbered editions with a valid registration.
    pub registered: usize,
    /// Registered editions the artist owns and has not consigned.
    pub held_by_artist: usize,
    /// Registered editions with at least one valid TRANSFER.
    pub transferred: usize,
    /// Editions consigned now.
    pub consigned: usize,
    /// Editions lent out today.
    pub on_loan: usize,
}

/// Consecutive editions in the same hands: the same owner, consignee and borrower today.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EditionRun {
    /// The first edition of the run.
    pub first: u64,
    /// The last edition of the run (equal to `first` for one edition).
    pub last: u64,
    /// Whether the editions are registered.
    pub registered: bool,
    /// Their owner (the consignor while consigned).
    pub owner: Option<String>,
    /// Whom they are consigned to.
    pub consignee: Option<String>,
    /// Who borrows them today, with the loan's first and last day (`YYMMDD`).
    pub loan: Option<(String, String, String)>,
}

impl EditionRun {
    /// How many editions the run holds.
    pub fn len(&self) -> u64 {
        self.last - self.first + 1
    }
}

/// The artist of a piece: the recipient of the master edition's valid registration.
pub(crate) fn artist(history: &History) -> Option<String> {
    history
        .events()
        .iter()
        .find(|e| lane_of(e) == 0 && is_registration(e) && moves_edition(e))
        .map(|e| e.to_address.clone())
}

/// The piece's counts.
pub(crate) fn overview(history: &History, state: &PieceState, today: LoanDate) -> Overview {
    let artist = artist(history);
    let transferred: BTreeSet<u64> = history
        .events()
        .iter()
        .filter(|e| is_transfer(e))
        .map(lane_of)
        .collect();
    let mut counts = Overview {
        artist: artist.clone(),
        ..Overview::default()
    };
    for edition in state
        .editions
        .iter()
        .filter(|e| e.edition != 0 && e.registered)
    {
        counts.registered += 1;
        if edition.consignee.is_some() {
            counts.consigned += 1;
        } else if artist.is_some() && edition.owner == artist {
            counts.held_by_artist += 1;
        }
        if transferred.contains(&edition.edition) {
            counts.transferred += 1;
        }
        if active_loan(edition, today).is_some() {
            counts.on_loan += 1;
        }
    }
    counts
}

/// The editions as runs of consecutive numbers in the same hands, the master alone first.
pub(crate) fn runs(editions: &[EditionSummary], today: LoanDate) -> Vec<EditionRun> {
    let mut runs: Vec<EditionRun> = Vec::new();
    for edition in editions {
        let run = EditionRun {
            first: edition.edition,
            last: edition.edition,
            registered: edition.registered,
            owner: edition.owner.clone(),
            consignee: edition.consignee.clone(),
            loan: active_loan(edition, today)
                .map(|l| (l.borrower.clone(), l.start.clone(), l.end.clone())),
        };
        match runs.last_mut() {
            Some(prev)
                if prev.first != 0
                    && run.first != 0
                    && prev.last + 1 == run.first
                    && prev.registered == run.registered
                    && prev.owner == run.owner
                    && prev.consignee == run.consignee
                    && prev.loan == run.loan =>
            {
                prev.last = run.last;
            }
            _ => runs.push(run),
        }
    }
    runs
}

/// The editions with an event beyond their confirmed registration (a transfer, a
/// consignment, a loan, an invalid attempt, anything still pending...), ascending; the
/// master's lane (which carries EDITIONS) is always one of them.
pub(crate) fn storied_editions(history: &History) -> BTreeSet<u64> {
    let mut lanes: BTreeMap<u64, bool> = BTreeMap::new();
    lanes.insert(0, true);
    for event in history.events() {
        let storied = lanes.entry(lane_of(event)).or_insert(false);
        *storied |= !is_registration(event) || is_pending(event);
    }
    lanes
        .into_iter()
        .filter_map(|(edition, storied)| storied.then_some(edition))
        .collect()
}

/// The 1-based page `asked` clamped to the pages `count` items fill (at least one), and the
/// number of pages.
pub(crate) fn page_of(asked: Option<usize>, count: usize, per_page: usize) -> (usize, usize) {
    let pages = count.div_ceil(per_page).max(1);
    (asked.unwrap_or(1).clamp(1, pages), pages)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(edition: u64, owner: &str, consignee: Option<&str>) -> EditionSummary {
        EditionSummary {
            edition,
            registered: !owner.is_empty(),
            owner: (!owner.is_empty()).then(|| owner.to_owned()),
            holder: None,
            consignee: consignee.map(str::to_owned),
            loans: Vec::new(),
        }
    }

    #[test]
    fn runs_group_consecutive_editions_in_the_same_hands() {
        let today = LoanDate(*b"150522");
        let editions = [
            summary(0, "artist", None),
            summary(1, "artist", None),
            summary(2, "artist", None),
            summary(3, "alice", None),
            summary(4, "artist", None),
            summary(5, "artist", Some("gallery")),
            summary(6, "artist", Some("gallery")),
            summary(7, "", None),
            summary(9, "", None),
        ];
        let got: Vec<(u64, u64)> = runs(&editions, today)
            .iter()
            .map(|r| (r.first, r.last))
            .collect();
        assert_eq!(
            got,
            [(0, 0), (1, 2), (3, 3), (4, 4), (5, 6), (7, 7), (9, 9)]
        );
    }

    #[test]
    fn pages_are_clamped() {
        assert_eq!(page_of(None, 0, 50), (1, 1));
        assert_eq!(page_of(Some(0), 120, 50), (1, 3));
        assert_eq!(page_of(Some(3), 120, 50), (3, 3));
        assert_eq!(page_of(Some(9), 120, 50), (3, 3));
    }
}
