//! History of a piece: pyspool's records and addresses, deterministic order, verification.

mod support;

use serde_json::json;
use spool_protocol::bitcoin::hashes::Hash;
use spool_protocol::bitcoin::Address;
use spool_protocol::chain::TxPlace;
use spool_protocol::history::{
    ascribe_federation, History, ASCRIBE_FEDERATION_V0, ASCRIBE_FEDERATION_V01,
};
use spool_protocol::verb::Verb;
use support::{addr, confirmed, spend, spool_tx, spool_tx_from, Script, NET};

fn names() -> (String, String, String, String) {
    (
        addr("federation"),
        addr("alice"),
        addr("bob"),
        addr("carol"),
    )
}

fn build(s: &Script, federation: &[String]) -> History {
    History::build(&support::typed(&s.piece), NET, &s.txs, federation).unwrap()
}

fn reasons(h: &History) -> Vec<Option<String>> {
    h.events()
        .iter()
        .map(|e| e.reason.as_ref().map(ToString::to_string))
        .collect()
}

#[test]
fn a_walkthrough_gives_pyspools_records() {
    let (fed, alice, bob, carol) = names();
    let mut s = Script::new("piece");
    s.federated(&fed, "ASCRIBESPOOL01PIECE", &alice)
        .federated(&fed, "ASCRIBESPOOL01EDITIONS2", &alice)
        .federated(&fed, "ASCRIBESPOOL01REGISTER1", &alice)
        .federated(&fed, "ASCRIBESPOOL01REGISTER2", &bob)
        .owner(&alice, "ASCRIBESPOOL01TRANSFER1", &bob)
        .owner(&bob, "ASCRIBESPOOL01CONSIGN1", &carol)
        .owner(&carol, "ASCRIBESPOOL01UNCONSIGN1", &bob)
        .owner(&bob, "ASCRIBESPOOL01LOAN1/150526150528", &carol);
    let h = build(&s, std::slice::from_ref(&fed));
    assert_eq!(h.events().len(), 8);
    assert!(h.events().iter().all(|e| e.valid), "{:?}", reasons(&h));
    assert_eq!(h.number_editions(), Some(2));
    assert!(h.master_registered());

    let first = &h.events()[0];
    assert_eq!(
        serde_json::to_value(first).unwrap(),
        json!({
            "txid": s.txs[0].txid().to_string(),
            "verb": "ASCRIBESPOOL01PIECE",
            "action": "PIECE",
            "edition_number": null,
            "from_address": fed,
            "to_address": alice,
            "piece_address": s.piece,
            "number_editions": 2,
            "block_height": 101,
            "timestamp_utc": 1_600_000_000u64 + 101 * 600,
            "valid": true,
            "reason": null,
            "code": null,
            "confirmations": 8,
            "replaceable": false,
            "pending": false,
        })
    );
    let transfer = &h.events()[4];
    assert_eq!(transfer.action, "TRANSFER");
    assert_eq!(transfer.edition_number, Some(1));
    assert_eq!(
        (transfer.from_address.as_str(), transfer.to_address.as_str()),
        (alice.as_str(), bob.as_str())
    );
    assert_eq!(transfer.typed_verb(), Ok(Verb::Transfer { edition: 1 }));
    assert_eq!(transfer.edition(), Some(1));
    assert_eq!(
        h.events()[0].edition(),
        Some(0),
        "PIECE is the master edition"
    );
    assert_eq!(
        h.events()[1].edition(),
        None,
        "EDITIONS is about no edition"
    );
    // number_editions is copied onto every record, as pyspool does.
    assert!(h.events().iter().all(|e| e.number_editions == Some(2)));

    // pyspool's keys: PIECE under '' (None), EDITIONS under 0.
    let tree = h.by_pyspool_edition();
    assert_eq!(tree[&None].len(), 1);
    assert_eq!(tree[&Some(0)][0].action, "EDITIONS");
    assert_eq!(tree[&Some(1)].len(), 5);
    assert_eq!(h.chain(1).len(), 5);
    assert_eq!(h.chain(0)[0].action, "PIECE");
    assert_eq!(h.registered_editions(), [0, 1, 2]);
    assert_eq!(h.holder(0), Some(alice.as_str()));
    assert_eq!(
        h.holder(1),
        Some(bob.as_str()),
        "the loan does not change the holder"
    );
    assert_eq!(h.holder(2), Some(bob.as_str()));
    assert_eq!(h.holder(3), None);
}

#[test]
fn register0_and_consigned_registration_register_the_master_like_piece() {
    let (fed, alice, bob, _) = names();
    for verb in [
        "ASCRIBESPOOL01REGISTER0",
        "ASCRIBESPOOL01REGISTER",
        "ASCRIBESPOOL01CONSIGNEDREGISTRATION",
    ] {
        let mut s = Script::new("piece");
        s.federated(&fed, verb, &alice)
            .federated(&fed, "ASCRIBESPOOL01PIECE", &bob)
            .federated(&fed, "ASCRIBESPOOL01EDITIONS1", &alice)
            .owner(&alice, "ASCRIBESPOOL01TRANSFER0", &bob);
        let h = build(&s, std::slice::from_ref(&fed));
        assert_eq!(
            reasons(&h),
            [
                None,
                Some("Master piece already registered in the blockchain".into()),
                None,
                None
            ],
            "{verb}"
        );
        // REGISTER0 and TRANSFER0 live under pyspool's '' key, with PIECE.
        assert_eq!(h.by_pyspool_edition()[&None].len(), 3);
        assert_eq!(h.chain(0).len(), 3);
        assert_eq!(h.events()[3].edition_number, None);
    }
}

#[test]
fn anyone_can_pay_a_piece_address_but_only_valid_events_count() {
    let (fed, alice, bob, carol) = names();
    let thief = addr("mallory");
    let mut s = Script::new("piece");
    s.federated(&fed, "ASCRIBESPOOL01PIECE", &alice)
        .federated(&fed, "ASCRIBESPOOL01EDITIONS2", &alice)
        .federated(&fed, "ASCRIBESPOOL01REGISTER1", &alice)
        // pyspool would believe this: the thief "transfers" edition 1 to himself.
        .owner(&thief, "ASCRIBESPOOL01TRANSFER1", &thief)
        // And registers editions as if he were the federation.
        .federated(&thief, "ASCRIBESPOOL01REGISTER2", &thief)
        .owner(&alice, "ASCRIBESPOOL01TRANSFER1", &bob)
        .owner(&alice, "ASCRIBESPOOL01TRANSFER1", &carol)
        .owner(&bob, "ASCRIBESPOOL01TRANSFER5", &carol);
    let h = build(&s, std::slice::from_ref(&fed));
    assert_eq!(
        reasons(&h),
        [
            None,
            None,
            None,
            Some(format!("Address {thief} does not own the edition number 1")),
            Some(format!(
                "REGISTER must come from a federation address, not {thief}"
            )),
            None,
            Some(format!("Address {alice} does not own the edition number 1")),
            Some("The edition number 5 does not exist in the blockchain".into()),
        ]
    );
    // As JSON an invalid event carries its reason's text and code, and reads back the same.
    let json = serde_json::to_value(&h.events()[4]).unwrap();
    assert_eq!(json["valid"], false);
    assert_eq!(
        json["reason"],
        format!("REGISTER must come from a federation address, not {thief}")
    );
    assert_eq!(json["code"], "not_from_federation");
    let back: spool_protocol::history::Event = serde_json::from_value(json).unwrap();
    assert_eq!(&back, &h.events()[4]);
    let codes: Vec<Option<&str>> = h
        .events()
        .iter()
        .map(|e| e.reason.as_ref().map(|r| r.code()))
        .collect();
    assert_eq!(
        codes,
        [
            None,
            None,
            None,
            Some("not_owner"),
            Some("not_from_federation"),
            None,
            Some("not_owner"),
            Some("edition_not_found"),
        ]
    );
    // With no federation set, the federated REGISTER2 is accepted; the thief's TRANSFER is not.
    let h = build(&s, &[]);
    assert!(h.events()[4].valid);
    assert!(!h.events()[3].valid);
}

#[test]
fn registration_rules_carry_pyspools_reasons() {
    let (fed, alice, _, _) = names();
    let mut s = Script::new("piece");
    s.federated(&fed, "ASCRIBESPOOL01EDITIONS2", &alice)
        .federated(&fed, "ASCRIBESPOOL01REGISTER1", &alice)
        .federated(&fed, "ASCRIBESPOOL01PIECE", &alice)
        .federated(&fed, "ASCRIBESPOOL01REGISTER1", &alice)
        .federated(&fed, "ASCRIBESPOOL01EDITIONS2", &alice)
        .federated(&fed, "ASCRIBESPOOL01EDITIONS3", &alice)
        .federated(&fed, "ASCRIBESPOOL01REGISTER3", &alice)
        .federated(&fed, "ASCRIBESPOOL01REGISTER2", &alice)
        .federated(&fed, "ASCRIBESPOOL01REGISTER2", &alice)
        .federated(&fed, "ASCRIBESPOOL01MIGRATE7", &alice)
        .federated(&fed, "ASCRIBESPOOL01MIGRATE2", &alice);
    let h = build(&s, std::slice::from_ref(&fed));
    let master = Some("Master edition not yet registered".to_owned());
    assert_eq!(
        reasons(&h),
        [
            master.clone(),
            master,
            None,
            Some("Number of editions not yet registered".into()),
            None,
            Some("Number of editions was already registered for this piece".into()),
            Some("You can only register 2 editions. You are trying to register edition 3".into()),
            None,
            Some("Edition number 2 is already registered in the blockchain".into()),
            Some("The edition number 7 does not exist in the blockchain".into()),
            None,
        ]
    );
    assert_eq!(h.number_editions(), Some(2));
    assert!(h.events().iter().all(|e| e.number_editions == Some(2)));
}

#[test]
fn unconsign_only_from_the_consignee_and_back_to_the_consignor() {
    let (fed, alice, bob, carol) = names();
    let mut s = Script::new("piece");
    s.federated(&fed, "ASCRIBESPOOL01PIECE", &alice)
        .federated(&fed, "ASCRIBESPOOL01EDITIONS1", &alice)
        .owner(&alice, "ASCRIBESPOOL01UNCONSIGN1", &alice)
        .federated(&fed, "ASCRIBESPOOL01REGISTER1", &alice)
        .owner(&alice, "ASCRIBESPOOL01UNCONSIGN1", &alice)
        .owner(&alice, "ASCRIBESPOOL01CONSIGN1", &bob)
        .owner(&alice, "ASCRIBESPOOL01UNCONSIGN1", &alice)
        .owner(&bob, "ASCRIBESPOOL01UNCONSIGN1", &carol)
        .owner(&bob, "ASCRIBESPOOL01UNCONSIGN1", &alice);
    let h = build(&s, std::slice::from_ref(&fed));
    assert_eq!(
        reasons(&h),
        [
            None,
            None,
            Some("Master edition not yet registered".into()),
            None,
            Some(format!("Edition number 1 is not consigned to {alice}")),
            None,
            Some(format!("Edition number 1 is not consigned to {alice}")),
            Some(format!("You can only unconsign to {alice}")),
            None,
        ]
    );
}

#[test]
fn malformed_transactions_are_recorded_as_invalid() {
    let (fed, alice, bob, _) = names();
    let mut s = Script::new("piece");
    s.federated(&fed, "ASCRIBESPOOL01PIECE", &alice);
    let piece = s.piece.clone();
    let other = addr("other piece");
    // Inputs from two addresses (pyspool raises on these).
    s.txs.push(spool_tx_from(
        &[&alice, &bob],
        &[&piece, &bob],
        "ASCRIBESPOOL01TRANSFER0",
        confirmed(200, 1),
        200,
    ));
    // Pays the piece, but not as the first output.
    s.txs.push(spool_tx(
        &alice,
        &[&other, &piece],
        "ASCRIBESPOOL01TRANSFER0",
        confirmed(201, 1),
        201,
    ));
    // A refill has nothing to do with a piece.
    s.txs.push(spool_tx(
        &fed,
        &[&piece],
        "ASCRIBESPOOL01FUEL",
        confirmed(202, 1),
        202,
    ));
    // A loan that ends before it starts (pyspool writes those).
    s.txs.push(spool_tx(
        &alice,
        &[&piece, &bob],
        "ASCRIBESPOOL01LOAN0/260801260714",
        confirmed(203, 1),
        203,
    ));
    // The verb is not the last output (pyspool would take the OP_RETURN as the recipient).
    let mut misplaced = spool_tx(
        &alice,
        &[&piece, &bob],
        "ASCRIBESPOOL01TRANSFER0",
        confirmed(204, 1),
        204,
    );
    misplaced.tx.output.swap(1, 2);
    s.txs.push(misplaced);
    let h = build(&s, std::slice::from_ref(&fed));
    let (a, b) = if alice < bob {
        (&alice, &bob)
    } else {
        (&bob, &alice)
    };
    assert_eq!(
        reasons(&h),
        [
            None,
            Some(format!(
                "Transaction should have inputs from only one address {{'{a}', '{b}'}}"
            )),
            Some(format!(
                "The first output pays {other}, not the piece address {piece}"
            )),
            Some("FUEL is a refill, not an action on a piece".into()),
            Some("Loan ends (260714) before it starts (260801)".into()),
            Some("The verb is in output 1, not in the last output".into()),
        ]
    );
    assert_eq!(h.events()[1].from_address, alice);
}

#[test]
fn non_spool_and_unrelated_transactions_are_ignored() {
    let (fed, alice, bob, _) = names();
    let mut s = Script::new("piece");
    s.federated(&fed, "ASCRIBESPOOL01PIECE", &alice);
    let piece = s.piece.clone();
    // Pays the piece, no verb.
    let mut plain = spool_tx(&bob, &[&piece, &bob], "hello", confirmed(300, 2), 300);
    plain.tx.output.pop();
    s.txs.push(plain);
    // Pays the piece, with a non-SPOOL OP_RETURN.
    s.txs.push(spool_tx(
        &bob,
        &[&piece],
        "OTHERMETA99TRANSFER4",
        confirmed(301, 2),
        301,
    ));
    // A SPOOL verb that does not pay the piece.
    s.txs.push(spool_tx(
        &bob,
        &[&bob],
        "ASCRIBESPOOL01TRANSFER0",
        confirmed(302, 2),
        302,
    ));
    let h = build(&s, std::slice::from_ref(&fed));
    assert_eq!(h.events().len(), 1);
    // A piece address of another network is an error, not an empty history.
    let mainnet = Address::p2pkh(
        spool_protocol::bitcoin::PubkeyHash::from_raw_hash(Hash::all_zeros()),
        spool_protocol::bitcoin::Network::Bitcoin,
    );
    let err = History::build(&mainnet, NET, &s.txs, &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("piece address {mainnet} is not an address of regtest")
    );
}

#[test]
fn order_is_height_then_position_then_unconfirmed_by_dependency() {
    let (fed, alice, bob, carol) = names();
    let piece = addr("piece");
    let t = |from: &str, to: &str, verb: &str, place: TxPlace, seed| {
        spool_tx(from, &[&piece, to], verb, place, seed)
    };
    let register = t(&fed, &alice, "ASCRIBESPOOL01PIECE", confirmed(10, 7), 1);
    // Same block, earlier position, but a later block time would not matter: position rules.
    let mut early = t(&alice, &bob, "ASCRIBESPOOL01TRANSFER0", confirmed(11, 5), 2);
    early.place = TxPlace::Confirmed {
        height: 11,
        position: 5,
        time: 9_999_999_999,
    };
    let late = t(&bob, &carol, "ASCRIBESPOOL01TRANSFER0", confirmed(11, 9), 3);
    // Unconfirmed chain: carol -> alice -> bob, where each spends the previous one's output.
    // Seeds are chosen so that txid order alone would put a child before its parent.
    let (u1, u2, u3) = (10..)
        .map(|seed| {
            let u1 = t(
                &carol,
                &alice,
                "ASCRIBESPOOL01TRANSFER0",
                TxPlace::Unconfirmed,
                seed,
            );
            let mut u2 = t(
                &alice,
                &bob,
                "ASCRIBESPOOL01TRANSFER0",
                TxPlace::Unconfirmed,
                5,
            );
            spend(&mut u2, &u1, 1);
            let mut u3 = t(
                &bob,
                &carol,
                "ASCRIBESPOOL01TRANSFER0",
                TxPlace::Unconfirmed,
                6,
            );
            spend(&mut u3, &u2, 1);
            (u1, u2, u3)
        })
        .find(|(u1, u2, u3)| u3.txid() < u2.txid() && u2.txid() < u1.txid())
        .unwrap();
    let in_order = vec![register, early, late, u1, u2, u3];
    let want: Vec<String> = in_order.iter().map(|c| c.txid().to_string()).collect();

    // Every rotation and the reverse, plus duplicates, give the same history.
    let mut inputs = Vec::new();
    for k in 0..in_order.len() {
        let mut v = in_order.clone();
        v.rotate_left(k);
        inputs.push(v.clone());
        v.reverse();
        inputs.push(v);
    }
    let mut dup = in_order.clone();
    dup.extend(in_order.iter().rev().cloned());
    inputs.push(dup);
    for txs in inputs {
        let h = History::build(
            &support::typed(&piece),
            NET,
            &txs,
            std::slice::from_ref(&fed),
        )
        .unwrap();
        let got: Vec<String> = h.events().iter().map(|e| e.txid.clone()).collect();
        assert_eq!(got, want);
        assert!(h.events().iter().all(|e| e.valid), "{:?}", reasons(&h));
        assert_eq!(h.events()[5].block_height, None);
        assert_eq!(h.events()[5].timestamp_utc, None);
    }
}

#[test]
fn a_transaction_seen_confirmed_and_unconfirmed_counts_once_as_confirmed() {
    let (fed, alice, _, _) = names();
    let piece = addr("piece");
    let mut pending = spool_tx(
        &fed,
        &[&piece, &alice],
        "ASCRIBESPOOL01PIECE",
        TxPlace::Unconfirmed,
        1,
    );
    let mined = {
        let mut m = pending.clone();
        m.place = confirmed(50, 3);
        m
    };
    for txs in [
        vec![pending.clone(), mined.clone()],
        vec![mined.clone(), pending.clone()],
    ] {
        let h = History::build(&support::typed(&piece), NET, &txs, &[]).unwrap();
        assert_eq!(h.events().len(), 1);
        assert_eq!(h.events()[0].block_height, Some(50));
    }
    pending.place = TxPlace::Unconfirmed;
    assert_eq!(
        History::build(&support::typed(&piece), NET, &[pending], &[])
            .unwrap()
            .events()[0]
            .block_height,
        None
    );
}

#[test]
fn ascribes_federation_addresses_are_known() {
    assert_eq!(ASCRIBE_FEDERATION_V0, "1JttRRdtAi6cDNM23Uq4BEU61R8kJeANJs");
    assert_eq!(ASCRIBE_FEDERATION_V01, "1AScRhqdXMrJyxNmjEapMZi1PLFsqmLquG");
    assert_eq!(ascribe_federation().len(), 2);
    for a in ascribe_federation() {
        let parsed: spool_protocol::bitcoin::Address<_> = a.parse().unwrap();
        assert!(parsed.is_valid_for_network(spool_protocol::bitcoin::Network::Bitcoin));
    }
}
