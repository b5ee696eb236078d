//! Property tests (`cargo xtask proptest [CASES]` runs them with many more cases).

mod support;

use proptest::prelude::*;
use spool_protocol::chain::{ChainTx, TxPlace};
use spool_protocol::history::{BuildOptions, History};
use spool_protocol::payload::{decipher, op_return_script};
use spool_protocol::verb::{DecodedVerb, LoanDate, Verb};
use support::{addr, confirmed, spool_tx, NET};

fn loan_date() -> impl Strategy<Value = LoanDate> {
    proptest::array::uniform6(b'0'..=b'9').prop_map(LoanDate)
}

fn verb() -> impl Strategy<Value = Verb> {
    prop_oneof![
        Just(Verb::Piece),
        Just(Verb::Fuel),
        Just(Verb::ConsignedRegistration),
        any::<u64>().prop_map(|edition| Verb::Register { edition }),
        any::<u64>().prop_map(|count| Verb::Editions { count }),
        any::<u64>().prop_map(|edition| Verb::Transfer { edition }),
        any::<u64>().prop_map(|edition| Verb::Consign { edition }),
        any::<u64>().prop_map(|edition| Verb::Unconsign { edition }),
        any::<u64>().prop_map(|edition| Verb::Migrate { edition }),
        (any::<u64>(), loan_date(), loan_date()).prop_map(|(edition, start, end)| Verb::Loan {
            edition,
            start,
            end
        }),
    ]
}

/// Strings close to the grammar, so that decoding goes past the first character.
fn verbish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("ASCRIBESPOOL".to_owned()),
        Just("01".to_owned()),
        Just("LOAN".to_owned()),
        Just("REGISTER".to_owned()),
        Just("EDITIONS".to_owned()),
        Just("/".to_owned()),
        Just("\n".to_owned()),
        Just("\u{661}".to_owned()),
        "[0-9]{0,25}",
        "[A-Z]{0,4}",
        ".{0,3}",
    ];
    proptest::collection::vec(piece, 0..8).prop_map(|v| v.concat())
}

proptest! {
    #[test]
    fn proptest_encode_then_decode_is_the_identity(verb in verb()) {
        let text = verb.to_string();
        prop_assert_eq!(Verb::decode(&text), Ok(verb));
        prop_assert_eq!(Verb::decode_bytes(text.as_bytes()), Ok(verb));
        let decoded = DecodedVerb::parse(&text).unwrap();
        prop_assert_eq!(&decoded.action, verb.action().as_str());
        prop_assert_eq!(decoded.edition_number, verb.edition().filter(|n| *n != 0));
        let script = verb.op_return_script();
        prop_assert_eq!(&script, &op_return_script(text.as_bytes()).unwrap());
        let tx = spool_tx(&addr("a"), &[&addr("p")], &text, TxPlace::Unconfirmed, 1).tx;
        prop_assert_eq!(decipher(&tx), Ok(verb));
    }

    #[test]
    fn proptest_decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
        let typed = Verb::decode_bytes(&bytes);
        let text = String::from_utf8_lossy(&bytes);
        let _ = DecodedVerb::parse(&text);
        if let Ok(verb) = typed {
            // Whatever decodes re-encodes to something that decodes to the same verb.
            prop_assert_eq!(Verb::decode(&verb.to_string()), Ok(verb));
        }
        if bytes.len() <= 80 {
            let script = op_return_script(&bytes).unwrap();
            let mut tx = spool_tx(&addr("a"), &[&addr("p")], "x", TxPlace::Unconfirmed, 1).tx;
            tx.output.last_mut().unwrap().script_pubkey = script;
            prop_assert_eq!(decipher(&tx).ok(), Verb::decode_bytes(&bytes).ok());
        }
    }

    #[test]
    fn proptest_decoding_verb_like_text_never_panics(text in verbish()) {
        let typed = Verb::decode(&text);
        let faithful = DecodedVerb::parse(&text);
        match &typed {
            Ok(verb) => {
                prop_assert_eq!(Verb::decode(&verb.to_string()), Ok(*verb));
                // Whatever the typed decoder accepts, pyspool's grammar accepts too.
                prop_assert!(faithful.is_ok(), "{:?}", text);
            }
            Err(e) => prop_assert!(e.to_string().contains(text.trim_end_matches('\n')) || e.to_string().contains("loan dates")),
        }
    }

    #[test]
    fn proptest_checked_loans_are_real_and_ordered(start in "[0-9]{6}", end in "[0-9]{6}") {
        match Verb::loan(1, &start, &end) {
            Ok(Verb::Loan { start: s, end: e, .. }) => {
                prop_assert!(s.ymd().is_some() && e.ymd().is_some());
                prop_assert!(s <= e);
            }
            Ok(other) => prop_assert!(false, "not a loan: {}", other),
            Err(_) => {
                let (s, e) = (LoanDate::parse(&start).unwrap(), LoanDate::parse(&end).unwrap());
                prop_assert!(s.ymd().is_none() || e.ymd().is_none() || e < s);
            }
        }
    }
}

/// A random piece history: actions drawn from a small cast, some in the same block, some
/// unconfirmed; many of them invalid, which is the point.
fn random_history() -> impl Strategy<Value = Vec<ChainTx>> {
    let verbs = [
        "ASCRIBESPOOL01PIECE",
        "ASCRIBESPOOL01EDITIONS3",
        "ASCRIBESPOOL01REGISTER1",
        "ASCRIBESPOOL01REGISTER2",
        "ASCRIBESPOOL01TRANSFER1",
        "ASCRIBESPOOL01TRANSFER0",
        "ASCRIBESPOOL01CONSIGN1",
        "ASCRIBESPOOL01UNCONSIGN1",
        "ASCRIBESPOOL01LOAN1/150101150201",
        "ASCRIBESPOOL01MIGRATE1",
    ];
    let event = (0usize..verbs.len(), 0usize..4, 0usize..4, 0u64..6, 0u32..3);
    proptest::collection::vec(event, 1..25).prop_map(move |events| {
        let cast: Vec<String> = ["federation", "alice", "bob", "carol"]
            .iter()
            .map(|n| addr(n))
            .collect();
        let piece = addr("piece");
        events
            .into_iter()
            .enumerate()
            .map(|(i, (v, from, to, height, position))| {
                let place = if height == 5 {
                    TxPlace::Unconfirmed
                } else {
                    confirmed(height, position)
                };
                spool_tx(&cast[from], &[&piece, &cast[to]], verbs[v], place, i as u64)
            })
            .collect()
    })
}

proptest! {
    #[test]
    fn proptest_history_does_not_depend_on_input_order(
        (txs, shuffled) in random_history().prop_flat_map(|txs| {
            let shuffled = Just(txs.clone()).prop_shuffle();
            (Just(txs), shuffled)
        })
    ) {
        let federation = [addr("federation")];
        let piece = addr("piece");
        let a = History::build(&support::typed(&piece), NET, &txs, &federation).unwrap();
        let b = History::build(&support::typed(&piece), NET, &shuffled, &federation).unwrap();
        prop_assert_eq!(a.events(), b.events());
        prop_assert_eq!(a.number_editions(), b.number_editions());
        prop_assert_eq!(a.events().len(), txs.len());
        // Confirmed before unconfirmed; confirmed by (height, position).
        let keys: Vec<(bool, Option<u64>)> = a.events().iter().map(|e| (e.block_height.is_none(), e.block_height)).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        prop_assert_eq!(keys, sorted);
    }
}

proptest! {
    /// `min_conf` is "as if the shallower events did not exist": the state, the counted
    /// events and their verdicts are those of the history without them.
    #[test]
    fn proptest_pending_events_count_as_if_they_did_not_exist(
        txs in random_history(),
        tip in 4u64..8,
        min_conf in 0u64..5,
    ) {
        let piece = support::typed(&addr("piece"));
        let federation = vec![addr("federation")];
        let options = BuildOptions { federation: federation.clone(), tip_height: Some(tip), min_conf };
        let with = History::build_with(&piece, NET, &txs, &options).unwrap();
        let deep: Vec<ChainTx> = txs
            .iter()
            .filter(|t| t.place.confirmations(tip) >= min_conf)
            .cloned()
            .collect();
        let options = BuildOptions { min_conf: 0, ..options };
        let without = History::build_with(&piece, NET, &deep, &options).unwrap();
        prop_assert_eq!(with.state(), without.state());
        prop_assert_eq!(with.number_editions(), without.number_editions());
        let counted: Vec<_> = with.valid_events().map(|e| &e.txid).collect();
        let all_valid: Vec<_> = without.valid_events().map(|e| &e.txid).collect();
        prop_assert_eq!(counted, all_valid);
        for event in with.events() {
            prop_assert_eq!(event.pending, event.confirmations < min_conf);
        }
        let prefix: Vec<_> = with.events().iter().filter(|e| !e.pending).map(|e| (&e.txid, e.valid)).collect();
        let same: Vec<_> = without.events().iter().map(|e| (&e.txid, e.valid)).collect();
        prop_assert_eq!(prefix, same);
    }
}

/// A random piece history with several editions, some events unconfirmed and spending an
/// earlier unconfirmed event (so that their order follows what they spend).
fn random_chained_history() -> impl Strategy<Value = Vec<ChainTx>> {
    let verbs = [
        "ASCRIBESPOOL01PIECE",
        "ASCRIBESPOOL01EDITIONS4",
        "ASCRIBESPOOL01REGISTER0",
        "ASCRIBESPOOL01REGISTER1",
        "ASCRIBESPOOL01REGISTER2",
        "ASCRIBESPOOL01REGISTER3",
        "ASCRIBESPOOL01TRANSFER1",
        "ASCRIBESPOOL01TRANSFER2",
        "ASCRIBESPOOL01TRANSFER0",
        "ASCRIBESPOOL01CONSIGN2",
        "ASCRIBESPOOL01UNCONSIGN2",
        "ASCRIBESPOOL01LOAN1/150101150201",
        "ASCRIBESPOOL01MIGRATE3",
        "ASCRIBESPOOL01FUEL",
    ];
    let event = (
        0usize..verbs.len(),
        0usize..4,
        0usize..4,
        0u64..6,
        0u32..3,
        proptest::option::of(0usize..30),
    );
    proptest::collection::vec(event, 1..30).prop_map(move |events| {
        let cast: Vec<String> = ["federation", "alice", "bob", "carol"]
            .iter()
            .map(|n| addr(n))
            .collect();
        let piece = addr("piece");
        let mut txs: Vec<ChainTx> = Vec::new();
        for (i, (v, from, to, height, position, parent)) in events.into_iter().enumerate() {
            let place = if height >= 4 {
                TxPlace::Unconfirmed
            } else {
                confirmed(height, position)
            };
            let mut tx = spool_tx(&cast[from], &[&piece, &cast[to]], verbs[v], place, i as u64);
            if place == TxPlace::Unconfirmed {
                let earlier: Vec<usize> = (0..txs.len())
                    .filter(|&j| txs[j].place == TxPlace::Unconfirmed)
                    .collect();
                if let (Some(pick), false) = (parent, earlier.is_empty()) {
                    let parent = txs[earlier[pick % earlier.len()]].clone();
                    // Output 1 pays the parent's recipient: the child is sent from there.
                    support::spend(&mut tx, &parent, 1);
                }
            }
            txs.push(tx);
        }
        txs
    })
}

proptest! {
    /// A history built from what a [`Scope`] selects judges every selected event, and
    /// answers every check about the scope's edition and the master edition, exactly as the
    /// history built from all of the piece's transactions.
    #[test]
    fn proptest_a_scope_reads_all_its_rules_need(
        txs in random_chained_history(),
        edition in 0u64..5,
        min_conf in 0u64..3,
    ) {
        use spool_protocol::ownership::Ownership;
        use spool_protocol::scope::Scope;
        let piece = support::typed(&addr("piece"));
        let options = BuildOptions { federation: vec![addr("federation")], tip_height: Some(4), min_conf };
        let scope = Scope::edition(edition);
        let selected: Vec<ChainTx> = scope.select(&piece, &txs).into_iter().cloned().collect();
        let full = History::build_with(&piece, NET, &txs, &options).unwrap();
        let part = History::build_with(&piece, NET, &selected, &options).unwrap();
        // Every event the scope reads is selected, and judged the same.
        let judged = |h: &History| -> Vec<(String, bool, bool)> {
            h.events().iter().map(|e| (e.txid.clone(), e.valid, e.pending)).collect()
        };
        let in_part = judged(&part);
        for event in full.events() {
            let verb = event.typed_verb();
            if verb.as_ref().is_ok_and(|v| scope.reads(v)) {
                prop_assert!(in_part.contains(&(event.txid.clone(), event.valid, event.pending)),
                    "event {} ({}) judged differently or left out", event.txid, event.verb);
            }
        }
        // Those it keeps only for their order (unconfirmed ancestors of other editions) lack
        // their own edition's past: their verdicts are not the scope's to give.
        for event in part.events() {
            if event.typed_verb().is_ok_and(|v| scope.reads(&v)) {
                let same = full.events().iter().find(|e| e.txid == event.txid);
                prop_assert_eq!(Some(event), same);
            }
        }
        prop_assert_eq!(full.number_editions(), part.number_editions());
        prop_assert_eq!(full.master_registered(), part.master_registered());
        let cast: Vec<String> = ["federation", "alice", "bob", "carol", "piece"].iter().map(|n| addr(n)).collect();
        for n in [0, edition] {
            prop_assert_eq!(full.holder(n), part.holder(n));
            for address in &cast {
                let (a, b) = (Ownership::new(&full, address, n), Ownership::new(&part, address, n));
                prop_assert_eq!(a.can_register_master(), b.can_register_master());
                prop_assert_eq!(a.can_editions(), b.can_editions());
                prop_assert_eq!(a.can_register(), b.can_register());
                prop_assert_eq!(a.can_transfer(), b.can_transfer());
                prop_assert_eq!(a.can_unconsign(), b.can_unconsign());
                prop_assert_eq!(a.owner(), b.owner());
                prop_assert_eq!(a.consignor(), b.consignor());
                prop_assert_eq!(a.consignee(), b.consignee());
                prop_assert_eq!(a.loans(), b.loans());
                for to in &cast {
                    prop_assert_eq!(a.unconsign_to_allowed(to), b.unconsign_to_allowed(to));
                }
            }
        }
    }
}
