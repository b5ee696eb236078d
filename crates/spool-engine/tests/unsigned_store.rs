//! Unsigned actions and fee bumps in the persistent store: an unsigned action's
//! reservation survives its owner and the node not knowing it, moves to its signed txid in
//! one commit (with what an unsigned bump replaces merged in), and a bump's takeover is
//! undone when the node refuses it; all of it as another process reads it from disk.

use std::collections::HashSet;

use bitcoin::hashes::Hash;
use bitcoin::{Address, Amount, Network, OutPoint, Txid};
use spool_engine::store::{
    Claim, NewReservation, Replacement, Reservations, StoreError, Template, TxState,
};
use spool_protocol::chain::TxStatus;

fn txid(n: u8) -> Txid {
    Txid::from_byte_array([n; 32])
}

fn outpoint(n: u8, vout: u32) -> OutPoint {
    OutPoint::new(txid(n), vout)
}

fn address() -> Address {
    "mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn"
        .parse::<Address<_>>()
        .unwrap()
        .require_network(Network::Regtest)
        .unwrap()
}

fn claim(edition: u64) -> Claim {
    Claim {
        piece: "piece".to_owned(),
        edition: Some(edition),
    }
}

fn template() -> Template {
    let tx = bitcoin::Transaction {
        version: bitcoin::transaction::Version::TWO,
        lock_time: bitcoin::absolute::LockTime::ZERO,
        input: Vec::new(),
        output: Vec::new(),
    };
    Template::new(&tx, Amount::from_sat(30_000), &address())
}

fn reserve(
    store: &Reservations,
    tx: Txid,
    outpoints: Vec<OutPoint>,
    claims: Vec<Claim>,
    template: Option<Template>,
    replaces: Vec<Txid>,
) {
    store
        .reserve_claimed::<_, StoreError>(&claims.clone(), &HashSet::new(), |_| {
            Ok((
                (),
                NewReservation {
                    txid: tx,
                    outpoints,
                    claims,
                    template,
                    replaces,
                },
            ))
        })
        .unwrap();
}

#[test]
fn unsigned_action_lives_until_its_signed_form_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let store = Reservations::open(dir.path()).unwrap();
    let unsigned = txid(1);
    reserve(
        &store,
        unsigned,
        vec![outpoint(9, 0), outpoint(9, 1)],
        vec![claim(1)],
        Some(template()),
        Vec::new(),
    );
    let record = store.record(&unsigned).unwrap().unwrap();
    assert_eq!(record.state, TxState::Unsigned);
    // The node never knows an unsigned txid: that releases nothing (its owner is gone).
    let released = store.apply_status(&unsigned, TxStatus::Gone).unwrap();
    assert_eq!(released, 0);
    assert!(!record.released_by(TxStatus::Gone));
    // Another process sees it, template and claim.
    let other = Reservations::open(dir.path()).unwrap();
    let seen = other.record(&unsigned).unwrap().unwrap();
    assert_eq!(seen.template, Some(template()));
    assert_eq!(seen.claims, vec![claim(1)]);

    // Its signed form moves the reservation in one commit, journalled.
    let signed = txid(2);
    store.mark_sending_signed(&unsigned, &signed, "00").unwrap();
    let other = Reservations::open(dir.path()).unwrap();
    assert!(other.record(&unsigned).unwrap().is_none());
    let moved = other.record(&signed).unwrap().unwrap();
    assert_eq!(moved.state, TxState::Sending);
    assert_eq!(moved.outpoints, vec![outpoint(9, 0), outpoint(9, 1)]);
    assert_eq!(moved.claims, vec![claim(1)]);
    assert!(other.journal().unwrap().iter().any(|e| e.txid == signed));
    // Twice is refused: it is no longer an unsigned action.
    assert!(matches!(
        store.mark_sending_signed(&unsigned, &signed, "00"),
        Err(StoreError::NotReserved { .. })
    ));
}

#[test]
fn signed_unsigned_bump_takes_over_what_it_replaces() {
    let dir = tempfile::tempdir().unwrap();
    let store = Reservations::open(dir.path()).unwrap();
    let original = txid(3);
    reserve(
        &store,
        original,
        vec![outpoint(9, 0)],
        vec![claim(2)],
        None,
        Vec::new(),
    );
    store.mark_broadcast(&original).unwrap();
    // The unsigned bump holds only its new fuel.
    let unsigned = txid(4);
    reserve(
        &store,
        unsigned,
        vec![outpoint(9, 5)],
        Vec::new(),
        Some(template()),
        vec![original],
    );
    assert_eq!(store.holder(&outpoint(9, 0)).unwrap(), Some(original));
    let signed = txid(5);
    store.mark_sending_signed(&unsigned, &signed, "00").unwrap();
    let other = Reservations::open(dir.path()).unwrap();
    assert!(other.record(&original).unwrap().is_none());
    let record = other.record(&signed).unwrap().unwrap();
    let mut outpoints = record.outpoints.clone();
    outpoints.sort();
    assert_eq!(outpoints, vec![outpoint(9, 0), outpoint(9, 5)]);
    assert_eq!(record.claims, vec![claim(2)]);
    assert_eq!(record.replaces, vec![original]);
}

#[test]
fn bump_takeover_is_undone_when_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Reservations::open(dir.path()).unwrap();
    let original = txid(6);
    reserve(
        &store,
        original,
        vec![outpoint(8, 0), outpoint(8, 1)],
        vec![claim(3)],
        None,
        Vec::new(),
    );
    store.mark_broadcast(&original).unwrap();
    let before = store.record(&original).unwrap().unwrap();
    let bump = txid(7);
    store
        .replace_with::<_, StoreError>(&original, |set| {
            assert!(set.is_reserved(&outpoint(8, 0)));
            Ok((
                (),
                Replacement {
                    txid: bump,
                    outpoints: vec![outpoint(8, 0), outpoint(8, 2), outpoint(8, 1)],
                    hex: "0011".to_owned(),
                },
            ))
        })
        .unwrap();
    let other = Reservations::open(dir.path()).unwrap();
    assert!(other.record(&original).unwrap().is_none());
    let record = other.record(&bump).unwrap().unwrap();
    assert_eq!(record.state, TxState::Sending);
    assert_eq!(record.replaces, vec![original]);
    assert_eq!(record.claims, vec![claim(3)]);
    assert_eq!(other.holder(&outpoint(8, 2)).unwrap(), Some(bump));
    assert!(other
        .journal()
        .unwrap()
        .iter()
        .any(|e| e.txid == bump && e.hex == "0011"));
    assert_eq!(other.replacement_of(&original).unwrap().unwrap().txid, bump);
    // Refused by the node: the original's reservation comes back as it was.
    store.restore_replaced(&bump, before.clone()).unwrap();
    let other = Reservations::open(dir.path()).unwrap();
    assert_eq!(other.record(&original).unwrap(), Some(before));
    assert!(other.record(&bump).unwrap().is_none());
    assert_eq!(other.holder(&outpoint(8, 2)).unwrap(), None);
    // Unknown transactions cannot be replaced.
    let err = store
        .replace_with::<(), StoreError>(&txid(99), |_| unreachable!("not built"))
        .unwrap_err();
    assert!(matches!(err, StoreError::NotReserved { .. }));
}
