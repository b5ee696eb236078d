//! Depth: confirmations against the tip, replaceable (BIP 125) events, and `min_conf`
//! leaving pending events out of the state.

mod support;

use spool_protocol::bitcoin::Sequence;
use spool_protocol::chain::TxPlace;
use spool_protocol::history::{BuildOptions, History};
use spool_protocol::ownership::Ownership;
use support::{addr, spend, spool_tx, Script, NET};

fn build(s: &Script, tip: u64, min_conf: u64) -> History {
    let options = BuildOptions {
        federation: vec![addr("federation")],
        tip_height: Some(tip),
        min_conf,
    };
    History::build_with(&support::typed(&s.piece), NET, &s.txs, &options).unwrap()
}

/// Registered to alice at heights 101..=103, then alice transfers edition 1 to bob: mined at
/// 104 (`mined`) or still in the mempool.
fn walkthrough(mined: bool) -> Script {
    let (fed, alice, bob) = (addr("federation"), addr("alice"), addr("bob"));
    let mut s = Script::new("piece");
    s.federated(&fed, "ASCRIBESPOOL01PIECE", &alice)
        .federated(&fed, "ASCRIBESPOOL01EDITIONS2", &alice)
        .federated(&fed, "ASCRIBESPOOL01REGISTER1", &alice)
        .owner(&alice, "ASCRIBESPOOL01TRANSFER1", &bob);
    if !mined {
        s.txs.last_mut().unwrap().place = TxPlace::Unconfirmed;
    }
    s
}

#[test]
fn confirmations_are_counted_against_the_tip_and_zero_in_the_mempool() {
    let h = build(&walkthrough(false), 110, 0);
    let confirmations: Vec<u64> = h.events().iter().map(|e| e.confirmations).collect();
    assert_eq!(confirmations, vec![10, 9, 8, 0]);
    assert_eq!(h.tip_height(), 110);
    assert!(h.federation_rule());
    let json = serde_json::to_value(&h.events()[3]).unwrap();
    assert_eq!(json["confirmations"], 0);
    assert_eq!(json["pending"], false);
    assert_eq!(json["replaceable"], false, "final sequences do not signal");
}

#[test]
fn without_a_tip_the_highest_block_given_is_the_tip() {
    let h = History::build(
        &support::typed(&walkthrough(true).piece),
        NET,
        &walkthrough(true).txs,
        &[],
    )
    .unwrap();
    assert_eq!(h.tip_height(), 104);
    assert_eq!(h.events()[3].confirmations, 1);
    assert!(!h.federation_rule());
}

#[test]
fn a_pending_transfer_is_listed_but_not_counted_until_deep_enough() {
    let (alice, bob) = (addr("alice"), addr("bob"));
    let unmined = build(&walkthrough(false), 103, 1);
    let transfer = &unmined.events()[3];
    assert!(transfer.pending && transfer.valid, "{transfer:?}");
    assert_eq!(unmined.holder(1), Some(alice.as_str()), "not counted");
    assert_eq!(unmined.valid_events().count(), 3);
    assert_eq!(
        unmined.state().editions[1].owner.as_deref(),
        Some(alice.as_str())
    );
    assert!(Ownership::new(&unmined, &alice, 1).can_transfer().allowed);

    // min_conf 0 counts the mempool (the engine's pre-check and pyspool do).
    let counted = build(&walkthrough(false), 103, 0);
    assert!(!counted.events()[3].pending);
    assert_eq!(counted.holder(1), Some(bob.as_str()));

    // Mined at 104: one confirmation is enough for min_conf 1, not for min_conf 2.
    let mined = build(&walkthrough(true), 104, 1);
    assert!(!mined.events()[3].pending);
    assert_eq!(mined.holder(1), Some(bob.as_str()));
    let shallow = build(&walkthrough(true), 104, 2);
    assert!(shallow.events()[3].pending);
    assert_eq!(shallow.holder(1), Some(alice.as_str()));
    assert!(!shallow.events()[2].pending, "REGISTER1 at 103 has 2");
}

#[test]
fn later_events_are_judged_as_if_pending_ones_did_not_exist() {
    // EDITIONS is pending: REGISTER1 after it is judged against a state with editions
    // (it is judged as if EDITIONS confirmed) but counts nothing either.
    let (fed, alice, bob) = (addr("federation"), addr("alice"), addr("bob"));
    let mut s = Script::new("piece");
    s.federated(&fed, "ASCRIBESPOOL01PIECE", &alice)
        .federated(&fed, "ASCRIBESPOOL01EDITIONS2", &alice)
        .federated(&fed, "ASCRIBESPOOL01REGISTER1", &alice)
        .owner(&alice, "ASCRIBESPOOL01TRANSFER1", &bob);
    let h = build(&s, 102, 2);
    let pending: Vec<bool> = h.events().iter().map(|e| e.pending).collect();
    assert_eq!(pending, vec![false, true, true, true]);
    assert!(
        h.events().iter().all(|e| e.valid),
        "pending events are judged in order"
    );
    assert_eq!(h.number_editions(), None);
    assert_eq!(h.registered_editions(), vec![0]);
    assert_eq!(h.events()[0].number_editions, None, "counted state only");
    let state = h.state();
    assert_eq!(state.master_owner.as_deref(), Some(alice.as_str()));
    assert_eq!(state.editions.len(), 1);
}

#[test]
fn an_rbf_signalling_event_and_its_unconfirmed_children_are_replaceable() {
    let (fed, alice, bob, carol) = (
        addr("federation"),
        addr("alice"),
        addr("bob"),
        addr("carol"),
    );
    let mut s = Script::new("piece");
    s.federated(&fed, "ASCRIBESPOOL01PIECE", &alice)
        .federated(&fed, "ASCRIBESPOOL01EDITIONS2", &alice)
        .federated(&fed, "ASCRIBESPOOL01REGISTER1", &alice);
    let piece = s.piece.clone();
    let mut transfer = spool_tx(
        &alice,
        &[&piece, &bob],
        "ASCRIBESPOOL01TRANSFER1",
        TxPlace::Unconfirmed,
        900,
    );
    transfer.tx.input[0].sequence = Sequence::ENABLE_RBF_NO_LOCKTIME;
    let mut child = spool_tx(
        &bob,
        &[&piece, &carol],
        "ASCRIBESPOOL01TRANSFER1",
        TxPlace::Unconfirmed,
        901,
    );
    spend(&mut child, &transfer, 1);
    // A final, unconfirmed parent that does not pay the piece: given for ancestry only.
    let mut other_parent = spool_tx(&bob, &[&carol], "x", TxPlace::Unconfirmed, 902);
    other_parent.tx.input[0].sequence = Sequence::ENABLE_RBF_NO_LOCKTIME;
    let mut grandchild = spool_tx(
        &carol,
        &[&piece, &alice],
        "ASCRIBESPOOL01TRANSFER1",
        TxPlace::Unconfirmed,
        903,
    );
    spend(&mut grandchild, &other_parent, 0);
    let mut confirmed_rbf = s.txs[2].clone();
    confirmed_rbf.tx.input[0].sequence = Sequence::ENABLE_RBF_NO_LOCKTIME;
    s.txs[2] = confirmed_rbf;
    s.txs.extend([transfer, child, other_parent, grandchild]);

    let h = build(&s, 103, 0);
    let flags: Vec<(&str, bool)> = h
        .events()
        .iter()
        .map(|e| (e.to_address.as_str(), e.replaceable))
        .collect();
    assert_eq!(h.events().len(), 6, "the other parent is no event");
    assert!(!h.events()[2].replaceable, "confirmed: never replaceable");
    let by_to = |to: &str| flags.iter().find(|(t, _)| *t == to).unwrap().1;
    assert!(by_to(&bob), "signals itself");
    assert!(by_to(&carol), "through its unconfirmed parent");
    assert!(
        h.events().last().unwrap().replaceable,
        "through a parent that does not pay the piece"
    );
}

#[test]
fn a_final_child_of_a_confirmed_signalling_parent_is_not_replaceable() {
    let (alice, bob) = (addr("alice"), addr("bob"));
    let s = walkthrough(false);
    let mut txs = s.txs.clone();
    txs[2].tx.input[0].sequence = Sequence::ENABLE_RBF_NO_LOCKTIME;
    let parent = txs[2].clone();
    spend(&mut txs[3], &parent, 2);
    let h = History::build_with(
        &support::typed(&s.piece),
        NET,
        &txs,
        &BuildOptions::with_federation(&[addr("federation")]),
    )
    .unwrap();
    let transfer = &h.events()[3];
    assert_eq!(
        (transfer.from_address.as_str(), transfer.to_address.as_str()),
        (alice.as_str(), bob.as_str())
    );
    assert!(!transfer.replaceable);
}
