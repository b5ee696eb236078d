//! The reservation rules, written once: what an action claims, when a claim conflicts with a
//! pending transaction, the states a reserved transaction goes through, and when its
//! reservation is released.
//!
//! Pure (no files, no clock, no network): the engine's file store (one data directory) and
//! `spool serve`'s SQLite store (every operator of one server) both apply these functions,
//! as two implementations of [`ReservationStore`]. [`crate::ReservationSet`] beside it holds
//! the outpoints themselves.
//!
//! A record's life: [`TxState::Reserved`] (built, not handed to the node) → `Sending`
//! (journalled, being handed over) → `Broadcast` (the node took it) or `Unsure` (the call
//! failed without a refusal). It is released when its transaction confirms; when the node
//! does not know it, once it may have reached the node (`Broadcast`, `Unsure`) or once its
//! maker is known to be gone (a dead process, or a server lease that expired); and when its
//! maker releases it (a refused broadcast, an abandoned unsigned action).

use std::collections::HashSet;

use bitcoin::{OutPoint, Txid};
use serde::{Deserialize, Serialize};
use spool_protocol::chain::TxStatus;

/// Something an action changes: an edition of a piece (0 = the master edition), or the
/// piece's number of editions (`edition: None`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Claim {
    /// The piece's address.
    pub piece: String,
    /// The edition, or `None` for the number of editions.
    pub edition: Option<u64>,
}

impl std::fmt::Display for Claim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.edition {
            Some(0) => write!(f, "the master edition of piece {}", self.piece),
            Some(edition) => write!(f, "edition {edition} of piece {}", self.piece),
            None => write!(f, "the number of editions of piece {}", self.piece),
        }
    }
}

/// Where a reserved transaction is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TxState {
    /// Built and reserved; not yet handed to the node.
    Reserved,
    /// Journalled and being handed to the node: it may have reached it.
    Sending,
    /// The node accepted it.
    Broadcast,
    /// Handing it to the node failed without a refusal (unreachable, no answer): the node
    /// may or may not have it. Released once the node is seen not to know it.
    Unsure,
    /// An unsigned action (a PSBT written for a signer elsewhere), keyed by its unsigned
    /// txid: it lives until its signed form is broadcast (`spool broadcast`) or it is
    /// released by hand. Never released because the node does not know it.
    Unsigned,
}

impl TxState {
    /// Whether the transaction may be in the node's hands (anything after `Reserved`).
    pub fn may_have_reached_the_node(self) -> bool {
        !matches!(self, TxState::Reserved | TxState::Unsigned)
    }
}

impl std::fmt::Display for TxState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TxState::Reserved => "reserved, not yet broadcast",
            TxState::Sending => "being broadcast",
            TxState::Broadcast => "broadcast",
            TxState::Unsure => "broadcast attempted, outcome unknown",
            TxState::Unsigned => "unsigned, waiting for its signed form",
        })
    }
}

/// Whether the maker of a reservation may still hand its transaction to the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Maker {
    /// It may (a live process; a server lease not yet expired).
    Alive,
    /// It provably cannot (a dead process; an expired lease).
    Gone,
    /// Nobody can tell (a system without process information).
    Unknown,
}

/// A pending transaction as the claim rule sees it.
#[derive(Debug, Clone, Copy)]
pub struct Pending<'a> {
    /// The transaction.
    pub txid: Txid,
    /// Its state.
    pub state: TxState,
    /// What its action changes.
    pub claims: &'a [Claim],
}

/// A claim refused: another pending transaction, unseen by the action's pre-check, changes
/// the same thing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{claim} has a pending action in transaction {holder} ({state}) that has not confirmed; \
     wait for it (spool wait {holder}) and try again"
)]
pub struct ClaimConflict {
    /// The contested claim.
    pub claim: Claim,
    /// The pending transaction holding it.
    pub holder: Txid,
    /// Its state.
    pub state: TxState,
}

/// The claim rule: an action may claim `wanted` unless a pending transaction that its
/// pre-check did not see (`seen`: the transactions the pre-check's history held) claims one
/// of them. The first conflict found is returned.
///
/// # Errors
/// [`ClaimConflict`] naming the claim and the pending transaction.
pub fn check_claims<'a>(
    wanted: &[Claim],
    seen: &HashSet<Txid>,
    pending: impl IntoIterator<Item = Pending<'a>>,
) -> Result<(), ClaimConflict> {
    for record in pending {
        if seen.contains(&record.txid) {
            continue;
        }
        if let Some(claim) = record.claims.iter().find(|c| wanted.contains(c)) {
            return Err(ClaimConflict {
                claim: claim.clone(),
                holder: record.txid,
                state: record.state,
            });
        }
    }
    Ok(())
}

/// The overlap rule: whether two actions with these claims may be in flight at once, one
/// prepared (pre-checked, reserved, signed) while the other is being sent, because neither's
/// pre-check reads what the other changes. That holds for actions on different pieces, and
/// for actions on two different numbered editions of one piece (each edition's rules read
/// only its own events and the piece's). An action on the master edition or the number of
/// editions is read by every edition of its piece, and an action that claims nothing (a
/// refill) is never known to be independent: those wait for the one before.
pub fn independent(a: &[Claim], b: &[Claim]) -> bool {
    !a.is_empty()
        && !b.is_empty()
        && a.iter().all(|x| {
            b.iter().all(|y| {
                x.piece != y.piece
                    || matches!((x.edition, y.edition), (Some(e), Some(f)) if e != f && e != 0 && f != 0)
            })
        })
}

/// The release rule: whether the node's `status` of a reserved transaction in `state`,
/// made by `maker`, releases its reservation. Confirmed always does; unknown to the node
/// (`Gone`) only once it may have reached the node and been dropped, or once its maker
/// provably cannot send it any more; in the mempool (or an unknown status) never.
pub fn released_by(state: TxState, status: TxStatus, maker: Maker) -> bool {
    match status {
        TxStatus::Confirmed => true,
        // An unsigned action is unknown to the node by nature: only its maker releases it.
        TxStatus::Gone if state == TxState::Unsigned => false,
        TxStatus::Gone => {
            matches!(state, TxState::Broadcast | TxState::Unsure) || maker == Maker::Gone
        }
        TxStatus::InMempool | TxStatus::Unknown => false,
    }
}

/// The lease rule of a reservation held for another machine: one whose transaction was never
/// handed over (`Reserved`) lapses `lease` seconds after it was taken; the maker is then
/// [`Maker::Gone`] for [`released_by`]. Times are seconds since the Unix epoch.
pub fn lease_maker(state: TxState, reserved_at: u64, now: u64, lease: u64) -> Maker {
    if state == TxState::Reserved && now >= reserved_at.saturating_add(lease) {
        Maker::Gone
    } else {
        Maker::Alive
    }
}

/// A reservation asked of a store: the transaction, the outpoints it spends, what its action
/// claims, and the pending transactions its pre-check saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReservationRequest {
    /// The transaction.
    pub txid: Txid,
    /// The outpoints it spends.
    pub outpoints: Vec<OutPoint>,
    /// What its action changes.
    pub claims: Vec<Claim>,
    /// Pending transactions the action's pre-check saw (their claims do not conflict).
    #[serde(default)]
    pub seen: Vec<Txid>,
    /// Who asks: the same transaction asked again by the same maker is held once; by another
    /// maker, it is refused like any other pending transaction.
    #[serde(default)]
    pub maker: String,
}

/// Why a store refused a reservation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// A claim is held by another pending transaction.
    #[error(transparent)]
    Claimed(#[from] ClaimConflict),
    /// An outpoint is reserved by another transaction.
    #[error("outpoint {outpoint} is already reserved by transaction {holder}")]
    Outpoint {
        /// The outpoint.
        outpoint: OutPoint,
        /// The transaction holding it.
        holder: Txid,
    },
}

/// What every reservation store offers, whatever keeps it: the engine's file log (one data
/// directory, shared by its processes) and `spool serve`'s SQLite tables (every operator of
/// one server). Both decide with [`check_claims`], [`released_by`] and, for the server,
/// [`lease_maker`].
pub trait ReservationStore {
    /// The store's own failure (files, database).
    type Error;

    /// Reserves `request`'s outpoints and claims together, or refuses naming the holder.
    ///
    /// # Errors
    /// `Ok(Err(refusal))` for a conflict (nothing reserved); `Err` when the store fails.
    fn reserve(&self, request: &ReservationRequest) -> Result<Result<(), Refusal>, Self::Error>;

    /// Notes that `txid` was handed to the node and accepted.
    ///
    /// # Errors
    /// The store's failure.
    fn mark_broadcast(&self, txid: &Txid) -> Result<(), Self::Error>;

    /// Releases `txid`'s reservation (its outpoints and claims); returns whether it held one.
    ///
    /// # Errors
    /// The store's failure.
    fn release(&self, txid: &Txid) -> Result<bool, Self::Error>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::hashes::Hash;

    fn txid(n: u8) -> Txid {
        Txid::from_byte_array([n; 32])
    }

    fn claim(edition: Option<u64>) -> Claim {
        Claim {
            piece: "piece".into(),
            edition,
        }
    }

    #[test]
    fn only_numbered_editions_or_other_pieces_overlap() {
        let other = Claim {
            piece: "other".into(),
            edition: None,
        };
        let yes = [
            (vec![claim(Some(1))], vec![claim(Some(2))]),
            (vec![claim(Some(7))], vec![other.clone()]),
            (vec![claim(None)], vec![other.clone()]),
        ];
        for (a, b) in yes {
            assert!(independent(&a, &b), "{a:?} and {b:?}");
            assert!(independent(&b, &a), "{b:?} and {a:?}");
        }
        let no = [
            (vec![claim(Some(1))], vec![claim(Some(1))]),
            (vec![claim(Some(1))], vec![claim(Some(0))]),
            (vec![claim(Some(1))], vec![claim(None)]),
            (vec![claim(Some(1))], vec![]),
            (vec![], vec![]),
            (vec![claim(Some(3))], vec![other, claim(Some(3))]),
        ];
        for (a, b) in no {
            assert!(!independent(&a, &b), "{a:?} and {b:?}");
            assert!(!independent(&b, &a), "{b:?} and {a:?}");
        }
    }

    #[test]
    fn a_claim_conflicts_with_an_unseen_pending_one_only() {
        let held = [claim(Some(1))];
        let pending = [Pending {
            txid: txid(1),
            state: TxState::Broadcast,
            claims: &held,
        }];
        let err = check_claims(&[claim(Some(1))], &HashSet::new(), pending).unwrap_err();
        assert_eq!(err.holder, txid(1));
        assert!(err
            .to_string()
            .starts_with("edition 1 of piece piece has a pending action in transaction"));
        assert!(check_claims(&[claim(Some(2))], &HashSet::new(), pending).is_ok());
        assert!(check_claims(&[claim(Some(1))], &HashSet::from([txid(1)]), pending).is_ok());
    }

    #[test]
    fn release_follows_the_state_and_the_maker() {
        use TxState::*;
        for state in [Reserved, Sending, Broadcast, Unsure] {
            assert!(released_by(state, TxStatus::Confirmed, Maker::Alive));
            assert!(!released_by(state, TxStatus::InMempool, Maker::Gone));
            assert!(released_by(state, TxStatus::Gone, Maker::Gone));
        }
        assert!(!released_by(Reserved, TxStatus::Gone, Maker::Alive));
        assert!(!released_by(Sending, TxStatus::Gone, Maker::Unknown));
        assert!(released_by(Broadcast, TxStatus::Gone, Maker::Alive));
        assert!(released_by(Unsure, TxStatus::Gone, Maker::Alive));
        // An unsigned action is never in the node's hands: only a release by hand (or its
        // signed form's broadcast) ends it, whoever made it.
        for maker in [Maker::Alive, Maker::Gone, Maker::Unknown] {
            assert!(!released_by(Unsigned, TxStatus::Gone, maker));
            assert!(!released_by(Unsigned, TxStatus::Unknown, maker));
        }
        assert!(!Unsigned.may_have_reached_the_node());
    }

    #[test]
    fn a_lease_lapses_only_before_the_broadcast() {
        assert_eq!(lease_maker(TxState::Reserved, 100, 159, 60), Maker::Alive);
        assert_eq!(lease_maker(TxState::Reserved, 100, 160, 60), Maker::Gone);
        assert_eq!(
            lease_maker(TxState::Broadcast, 100, 1_000, 60),
            Maker::Alive
        );
    }
}
