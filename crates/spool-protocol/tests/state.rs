//! A piece's current state and an address's holdings, read off the valid events only.

mod support;

use spool_protocol::history::History;
use spool_protocol::state::{EditionSummary, Holding, LoanSummary, Role};
use spool_protocol::verb::LoanDate;
use support::{addr, Script, NET};

fn date(text: &str) -> LoanDate {
    LoanDate::parse_checked(text).unwrap()
}

fn holding(piece: &str, edition: u64, role: Role) -> Holding {
    Holding {
        piece_address: piece.to_owned(),
        edition,
        role,
    }
}

/// PIECE to the artist, 2 editions (1 to alice, 2 to bob), alice consigns 1 to a gallery, bob
/// loans 2 to carol, and a stranger's forged transfer of edition 2 (invalid, ignored).
fn walkthrough() -> (Script, [String; 6]) {
    let [fed, artist, alice, bob, gallery, carol] =
        ["federation", "artist", "alice", "bob", "gallery", "carol"].map(addr);
    let mut s = Script::new("piece");
    s.federated(&fed, "ASCRIBESPOOL01PIECE", &artist)
        .federated(&fed, "ASCRIBESPOOL01EDITIONS2", &artist)
        .federated(&fed, "ASCRIBESPOOL01REGISTER1", &alice)
        .federated(&fed, "ASCRIBESPOOL01REGISTER2", &bob)
        .owner(&alice, "ASCRIBESPOOL01CONSIGN1", &gallery)
        .owner(&bob, "ASCRIBESPOOL01LOAN2/260101261231", &carol)
        .owner(&addr("stranger"), "ASCRIBESPOOL01TRANSFER2", &carol);
    (s, [fed, artist, alice, bob, gallery, carol])
}

#[test]
fn state_lists_every_edition_with_its_owner_holder_consignee_and_loans() {
    let (s, [fed, artist, alice, bob, gallery, carol]) = walkthrough();
    let h = History::build(
        &support::typed(&s.piece),
        NET,
        &s.txs,
        std::slice::from_ref(&fed),
    )
    .unwrap();
    let state = h.state();
    assert_eq!(state.piece_address, s.piece);
    assert_eq!(state.number_editions, Some(2));
    assert_eq!(state.registered_by.as_deref(), Some(fed.as_str()));
    assert_eq!(state.master_owner.as_deref(), Some(artist.as_str()));
    assert_eq!(
        state.editions,
        vec![
            EditionSummary {
                edition: 0,
                registered: true,
                owner: Some(artist.clone()),
                holder: Some(artist.clone()),
                consignee: None,
                loans: vec![],
            },
            EditionSummary {
                edition: 1,
                registered: true,
                // Consigned by alice to the gallery: alice still owns it (issue 17: the
                // consignee was reported as the owner); the gallery holds it.
                owner: Some(alice.clone()),
                holder: Some(gallery.clone()),
                consignee: Some(gallery.clone()),
                loans: vec![],
            },
            EditionSummary {
                edition: 2,
                registered: true,
                owner: Some(bob.clone()),
                holder: Some(bob.clone()),
                consignee: None,
                loans: vec![LoanSummary {
                    borrower: carol.clone(),
                    start: "260101".into(),
                    end: "261231".into(),
                }],
            },
        ]
    );
}

#[test]
fn unregistered_editions_are_listed_as_such() {
    let fed = addr("federation");
    let mut s = Script::new("piece");
    s.federated(&fed, "ASCRIBESPOOL01PIECE", &addr("artist"))
        .federated(&fed, "ASCRIBESPOOL01EDITIONS3", &addr("artist"))
        .federated(&fed, "ASCRIBESPOOL01REGISTER2", &addr("alice"));
    let state = History::build(&support::typed(&s.piece), NET, &s.txs, &[fed])
        .unwrap()
        .state();
    let registered: Vec<(u64, bool)> = state
        .editions
        .iter()
        .map(|e| (e.edition, e.registered))
        .collect();
    assert_eq!(
        registered,
        vec![(0, true), (1, false), (2, true), (3, false)]
    );
    assert_eq!(state.editions[1].owner, None);
}

#[test]
fn an_unregistered_piece_has_an_empty_state() {
    let s = Script::new("piece");
    let state = History::build(&support::typed(&s.piece), NET, &s.txs, &[])
        .unwrap()
        .state();
    assert_eq!(state.registered_by, None);
    assert_eq!(state.master_owner, None);
    assert_eq!(state.number_editions, None);
    assert_eq!(state.editions.len(), 1);
    assert!(!state.editions[0].registered);
}

#[test]
fn holdings_give_each_role_and_loans_only_on_covered_days() {
    let (s, [fed, artist, alice, bob, gallery, carol]) = walkthrough();
    let h = History::build(
        &support::typed(&s.piece),
        NET,
        &s.txs,
        std::slice::from_ref(&fed),
    )
    .unwrap();
    let today = date("260615");
    let p = s.piece.as_str();
    assert_eq!(h.holdings(&artist, today), vec![holding(p, 0, Role::Owner)]);
    // Alice consigned edition 1: she still owns it; the gallery holds it, as consignee.
    assert_eq!(h.holdings(&alice, today), vec![holding(p, 1, Role::Owner)]);
    assert_eq!(
        h.holdings(&gallery, today),
        vec![holding(p, 1, Role::Consignee)]
    );
    // Bob owns edition 2 while carol borrows it.
    assert_eq!(h.holdings(&bob, today), vec![holding(p, 2, Role::Owner)]);
    assert_eq!(
        h.holdings(&carol, today),
        vec![holding(p, 2, Role::Borrower)]
    );
    // Outside the loan's period carol holds nothing; the forged transfer gave her nothing.
    assert_eq!(h.holdings(&carol, date("270101")), vec![]);
    assert_eq!(h.holdings(&addr("stranger"), today), vec![]);
}

#[test]
fn roles_serialise_in_lowercase() {
    let json = serde_json::to_string(&holding("p", 1, Role::Borrower)).unwrap();
    assert_eq!(
        json,
        r#"{"piece_address":"p","edition":1,"role":"borrower"}"#
    );
}
