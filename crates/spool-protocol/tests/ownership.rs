//! Ownership: pyspool's checks and reason texts, over valid events only.

mod support;

use spool_protocol::history::History;
use spool_protocol::ownership::{Check, Ownership};
use spool_protocol::verb::LoanDate;
use support::{addr, Script, NET};

fn yes() -> Check {
    Check {
        allowed: true,
        reason: None,
    }
}

fn no(reason: impl Into<String>) -> Check {
    Check {
        allowed: false,
        reason: Some(support::reason(&reason.into())),
    }
}

fn date(text: &str) -> LoanDate {
    LoanDate::parse_checked(text).unwrap()
}

#[test]
fn registration_checks_follow_the_piece_state() {
    let fed = addr("federation");
    let alice = addr("alice");
    let mut s = Script::new("piece");
    let empty = History::build(
        &support::typed(&s.piece),
        NET,
        &s.txs,
        std::slice::from_ref(&fed),
    )
    .unwrap();
    let o = Ownership::new(&empty, &alice, 1);
    assert_eq!(o.can_register_master(), yes());
    assert_eq!(o.can_editions(), no("Master edition not yet registered"));
    assert_eq!(o.can_register(), no("Master edition not yet registered"));
    assert_eq!(
        o.can_transfer(),
        no("The edition number 1 does not exist in the blockchain")
    );
    assert_eq!(o.can_unconsign(), no("Master edition not yet registered"));
    assert_eq!(o.owner(), None);

    s.federated(&fed, "ASCRIBESPOOL01PIECE", &alice);
    let h = History::build(
        &support::typed(&s.piece),
        NET,
        &s.txs,
        std::slice::from_ref(&fed),
    )
    .unwrap();
    let o = Ownership::new(&h, "anyone", 1);
    assert_eq!(
        o.can_register_master(),
        no("Master piece already registered in the blockchain")
    );
    assert_eq!(o.can_editions(), yes());
    assert_eq!(
        o.can_register(),
        no("Number of editions not yet registered")
    );
    // Edition 0 is the master edition: registering it is registering the master.
    assert_eq!(
        Ownership::new(&h, "anyone", 0).can_register(),
        no("Master piece already registered in the blockchain")
    );

    s.federated(&fed, "ASCRIBESPOOL01EDITIONS3", &alice)
        .federated(&fed, "ASCRIBESPOOL01REGISTER2", &alice);
    let h = History::build(
        &support::typed(&s.piece),
        NET,
        &s.txs,
        std::slice::from_ref(&fed),
    )
    .unwrap();
    assert_eq!(
        Ownership::new(&h, "anyone", 1).can_editions(),
        no("Number of editions was already registered for this piece")
    );
    assert_eq!(Ownership::new(&h, "anyone", 1).can_register(), yes());
    assert_eq!(
        Ownership::new(&h, "anyone", 2).can_register(),
        no("Edition number 2 is already registered in the blockchain")
    );
    assert_eq!(
        Ownership::new(&h, "anyone", 4).can_register(),
        no("You can only register 3 editions. You are trying to register edition 4")
    );
}

#[test]
fn transfer_consign_loan_and_unconsign_rights() {
    let fed = addr("federation");
    let (alice, bob, carol, dave) = (addr("alice"), addr("bob"), addr("carol"), addr("dave"));
    let mut s = Script::new("piece");
    s.federated(&fed, "ASCRIBESPOOL01PIECE", &alice)
        .federated(&fed, "ASCRIBESPOOL01EDITIONS2", &alice)
        .federated(&fed, "ASCRIBESPOOL01REGISTER1", &alice);
    let h = History::build(
        &support::typed(&s.piece),
        NET,
        &s.txs,
        std::slice::from_ref(&fed),
    )
    .unwrap();
    let a = Ownership::new(&h, &alice, 1);
    assert_eq!(
        (a.can_transfer(), a.can_consign(), a.can_loan()),
        (yes(), yes(), yes())
    );
    assert_eq!(a.owner().as_deref(), Some(alice.as_str()));
    let b = Ownership::new(&h, &bob, 1);
    let not_bob = no(format!("Address {bob} does not own the edition number 1"));
    assert_eq!(b.can_transfer(), not_bob);
    assert_eq!(b.can_consign(), not_bob);
    assert_eq!(b.can_loan(), not_bob);
    assert_eq!(
        b.can_unconsign(),
        no(format!("Edition number 1 is not consigned to {bob}"))
    );

    // Alice consigns to Bob: Bob now holds it (pyspool's can_transfer), Alice is the consignor.
    s.owner(&alice, "ASCRIBESPOOL01CONSIGN1", &bob);
    let h = History::build(
        &support::typed(&s.piece),
        NET,
        &s.txs,
        std::slice::from_ref(&fed),
    )
    .unwrap();
    let b = Ownership::new(&h, &bob, 1);
    assert_eq!(b.can_transfer(), yes());
    assert_eq!(b.can_unconsign(), yes());
    assert_eq!(b.consignor().as_deref(), Some(alice.as_str()));
    assert_eq!(b.consignee().as_deref(), Some(bob.as_str()));
    // While consigned, alice still owns the edition and bob holds it (issue 17: the
    // consignee was reported as the owner).
    assert_eq!(b.owner().as_deref(), Some(alice.as_str()));
    assert_eq!(b.holder().as_deref(), Some(bob.as_str()));
    let report = spool_protocol::ownership::OwnershipReport::new(&b);
    assert_eq!(report.owner.as_deref(), Some(alice.as_str()));
    assert_eq!(report.holder.as_deref(), Some(bob.as_str()));
    assert_eq!(report.consignee.as_deref(), Some(bob.as_str()));
    assert_eq!(b.unconsign_to_allowed(&alice), yes());
    assert_eq!(
        b.unconsign_to_allowed(&carol),
        no(format!("You can only unconsign to {alice}"))
    );
    let a = Ownership::new(&h, &alice, 1);
    assert_eq!(
        a.can_transfer(),
        no(format!("Address {alice} does not own the edition number 1"))
    );

    // Bob unconsigns back; then Alice transfers to Carol.
    s.owner(&bob, "ASCRIBESPOOL01UNCONSIGN1", &alice).owner(
        &alice,
        "ASCRIBESPOOL01TRANSFER1",
        &carol,
    );
    let h = History::build(
        &support::typed(&s.piece),
        NET,
        &s.txs,
        std::slice::from_ref(&fed),
    )
    .unwrap();
    let c = Ownership::new(&h, &carol, 1);
    assert_eq!(c.owner().as_deref(), Some(carol.as_str()));
    assert_eq!(c.consignor(), None);
    assert_eq!(
        Ownership::new(&h, &dave, 1).can_transfer(),
        no(format!("Address {dave} does not own the edition number 1"))
    );
}

#[test]
fn trailing_loans_do_not_change_the_owner_and_name_the_borrower_by_date() {
    let fed = addr("federation");
    let (alice, bob, carol) = (addr("alice"), addr("bob"), addr("carol"));
    let mut s = Script::new("piece");
    s.federated(&fed, "ASCRIBESPOOL01PIECE", &alice)
        .federated(&fed, "ASCRIBESPOOL01EDITIONS1", &alice)
        .federated(&fed, "ASCRIBESPOOL01REGISTER1", &alice)
        .owner(&alice, "ASCRIBESPOOL01LOAN1/150526150528", &bob)
        .owner(&alice, "ASCRIBESPOOL01LOAN1/150601150630", &carol)
        // A loan by the borrower is not valid: loans are set aside when deciding who holds it.
        .owner(&bob, "ASCRIBESPOOL01LOAN1/150527150527", &carol);
    let h = History::build(
        &support::typed(&s.piece),
        NET,
        &s.txs,
        std::slice::from_ref(&fed),
    )
    .unwrap();
    assert_eq!(
        h.events()[5].reason.as_ref().map(ToString::to_string),
        Some(format!("Address {bob} does not own the edition number 1"))
    );
    let a = Ownership::new(&h, &alice, 1);
    assert_eq!(a.owner().as_deref(), Some(alice.as_str()));
    assert_eq!(a.can_transfer(), yes());
    assert!(!Ownership::new(&h, &bob, 1).can_transfer().allowed);
    assert_eq!(a.loans().len(), 2);
    assert_eq!(a.borrower_on(date("150525")), None);
    assert_eq!(a.borrower_on(date("150526")).as_deref(), Some(bob.as_str()));
    assert_eq!(a.borrower_on(date("150528")).as_deref(), Some(bob.as_str()));
    assert_eq!(a.borrower_on(date("150529")), None);
    assert_eq!(
        a.borrower_on(date("150615")).as_deref(),
        Some(carol.as_str())
    );

    // A transfer ends the previous holder's loans.
    s.owner(&alice, "ASCRIBESPOOL01TRANSFER1", &carol);
    let h = History::build(
        &support::typed(&s.piece),
        NET,
        &s.txs,
        std::slice::from_ref(&fed),
    )
    .unwrap();
    let c = Ownership::new(&h, &carol, 1);
    assert_eq!(c.owner().as_deref(), Some(carol.as_str()));
    assert!(c.loans().is_empty());
    assert_eq!(c.borrower_on(date("150615")), None);
}

#[test]
fn the_master_edition_is_edition_zero() {
    let fed = addr("federation");
    let (alice, bob) = (addr("alice"), addr("bob"));
    let mut s = Script::new("piece");
    s.federated(&fed, "ASCRIBESPOOL01REGISTER0", &alice)
        .owner(&alice, "ASCRIBESPOOL01TRANSFER0", &bob)
        .owner(&bob, "ASCRIBESPOOL01LOAN/160101160131", &alice);
    let h = History::build(
        &support::typed(&s.piece),
        NET,
        &s.txs,
        std::slice::from_ref(&fed),
    )
    .unwrap();
    assert!(h.events().iter().all(|e| e.valid));
    let o = Ownership::new(&h, &bob, 0);
    assert_eq!(o.owner().as_deref(), Some(bob.as_str()));
    assert_eq!(o.can_transfer(), yes());
    assert_eq!(
        o.borrower_on(date("160115")).as_deref(),
        Some(alice.as_str())
    );
    assert_eq!(
        serde_json::to_value(o.can_transfer()).unwrap(),
        serde_json::json!({"allowed": true, "reason": null})
    );
}

#[test]
fn ownership_ignores_invalid_events() {
    let fed = addr("federation");
    let (alice, thief) = (addr("alice"), addr("mallory"));
    let mut s = Script::new("piece");
    s.federated(&fed, "ASCRIBESPOOL01PIECE", &alice)
        .owner(&thief, "ASCRIBESPOOL01TRANSFER0", &thief)
        // A fake registration by a non-federation address does not register anything.
        .federated(&thief, "ASCRIBESPOOL01EDITIONS5", &thief);
    let h = History::build(
        &support::typed(&s.piece),
        NET,
        &s.txs,
        std::slice::from_ref(&fed),
    )
    .unwrap();
    assert_eq!(h.number_editions(), None);
    let o = Ownership::new(&h, &thief, 0);
    assert_eq!(o.owner().as_deref(), Some(alice.as_str()));
    assert_eq!(
        o.can_transfer(),
        no(format!("Address {thief} does not own the edition number 0"))
    );
    assert_eq!(o.can_editions(), yes());
}
