//! pyspool's ownership scenario, end to end through the `spool` binary on a real regtest
//! node: the seed's walkthrough, then what each party may and may not do afterwards.

mod support;

use spool_cli::subcommand::{history, ownership};
use support::{Env, Scenario, FEDERATION, LEAF1, LEAF2, LEAF3, STRANGER, USER1, USER2, USER3};

fn ownership(env: &Env, address: &str, piece: &str, edition: u64) -> ownership::Output {
    env.json(&[
        "ownership",
        address,
        piece,
        "--edition",
        &edition.to_string(),
    ])
}

#[test]
fn walkthrough_then_pyspool_ownership_rules() {
    let env = Env::start();
    let user1 = env.address(&USER1, "");
    let user1_leaf = env.address(&USER1, LEAF1);
    let user2_leaf = env.address(&USER2, LEAF2);
    let user3_leaf = env.address(&USER3, LEAF3);
    let stranger = env.address(&STRANGER, "");

    // The piece: the hashes of the image pyspool's own tests use.
    let image = concat!(env!("CARGO_MANIFEST_DIR"), "/../../vectors/ascribe.png");
    let hashes: spool_cli::subcommand::hash::Output =
        env.json(&["hash", image, "--meta", "title=ascribe"]);
    let piece = format!("{},{}", hashes.file_hash, hashes.file_hash_metadata);
    let file_hash = hashes.file_hash.clone();

    // The seed's walkthrough through the scenario builder (which checks every action's
    // verb): the refill wallet and the federation funded, the master edition, 10 editions
    // and edition 1 registered, then edition 1 transferred, consigned, unconsigned and
    // loaned, each owner refilled with one fuel and one token first.
    let mut scenario = Scenario::funded(&env, 30, 60);
    let sent = scenario.walkthrough(&piece);
    assert_eq!(sent.events.len(), 7);
    assert_eq!(sent.refills.len(), 4);
    // pyspool's refill of one fuel and one token: with the token the address already
    // received as the edition's recipient, enough for an owner action.
    let mut refill_tokens = |to: &str, tokens: u32| {
        scenario.refill(to, 1, tokens);
    };

    // Every verb landed, in order, and is valid.
    let h: history::Output = env.json(&["history", &file_hash]);
    let verbs: Vec<&str> = h.events.iter().map(|e| e.verb.as_str()).collect();
    assert_eq!(
        verbs,
        [
            "ASCRIBESPOOL01REGISTER0",
            "ASCRIBESPOOL01EDITIONS10",
            "ASCRIBESPOOL01REGISTER1",
            "ASCRIBESPOOL01TRANSFER1",
            "ASCRIBESPOOL01CONSIGN1",
            "ASCRIBESPOOL01UNCONSIGN1",
            "ASCRIBESPOOL01LOAN1/150522150523",
        ]
    );
    assert!(h.events.iter().all(|e| e.valid), "{:#?}", h.events);
    assert!(h.events.iter().all(|e| e.block_height.is_some()));
    let txids: Vec<&str> = h.events.iter().map(|e| e.txid.as_str()).collect();
    assert_eq!(txids, sent.events);
    assert_eq!(
        h.events[3].from_address, user1_leaf,
        "the transfer's sender"
    );
    assert_eq!(h.number_editions, Some(10));

    // user1 cannot register the master, the editions or edition 1 again.
    let o = ownership(&env, &user1, &file_hash, 1);
    assert!(!o.can_register_master);
    assert_eq!(
        o.reasons["can_register_master"],
        "Master piece already registered in the blockchain"
    );
    assert!(!o.can_editions);
    assert_eq!(
        o.reasons["can_editions"],
        "Number of editions was already registered for this piece"
    );
    assert!(!o.can_register);
    assert_eq!(
        o.reasons["can_register"],
        "Edition number 1 is already registered in the blockchain"
    );
    // ...and the CLI refuses to send them, broadcasting nothing.
    for args in [
        vec![
            "register",
            "--piece",
            &piece,
            "--to",
            &user1,
            "--edition",
            "0",
        ],
        vec![
            "editions", "--piece", &piece, "--to", &user1, "--count", "10",
        ],
        vec![
            "register",
            "--piece",
            &piece,
            "--to",
            &user1,
            "--edition",
            "1",
        ],
    ] {
        let mut all = args.clone();
        all.extend_from_slice(&["--secret-env", FEDERATION.env, "--min-conf", "1"]);
        env.run(&all).assert_error("refused");
        assert!(env.mempool().is_empty(), "{args:?} broadcast something");
    }

    // user1 can register editions 2..10, not 11, and cannot transfer them.
    for edition in 2..=10 {
        let o = ownership(&env, &user1, &file_hash, edition);
        assert!(o.can_register, "edition {edition}: {:?}", o.reasons);
        assert!(!o.can_transfer);
        assert_eq!(
            o.reasons["can_transfer"],
            format!("The edition number {edition} does not exist in the blockchain")
        );
    }
    let o = ownership(&env, &user1, &file_hash, 11);
    assert!(!o.can_register);
    assert_eq!(
        o.reasons["can_register"],
        "You can only register 10 editions. You are trying to register edition 11"
    );
    let o = ownership(&env, &user1_leaf, &file_hash, 1);
    assert!(!o.can_transfer);
    assert_eq!(
        o.reasons["can_transfer"],
        format!("Address {user1_leaf} does not own the edition number 1")
    );

    // user2 owns edition 1 and can transfer, consign and loan it.
    let o = ownership(&env, &user2_leaf, &file_hash, 1);
    assert_eq!(o.owner.as_deref(), Some(user2_leaf.as_str()));
    assert!(
        o.can_transfer && o.can_consign && o.can_loan,
        "{:?}",
        o.reasons
    );

    // user3, the borrower, cannot.
    let o = ownership(&env, &user3_leaf, &file_hash, 1);
    assert!(!o.can_transfer && !o.can_consign && !o.can_loan);
    let not_owner = format!("Address {user3_leaf} does not own the edition number 1");
    assert_eq!(o.reasons["can_transfer"], not_owner);

    // A borrower's transfer is refused, with fuel at hand, and nothing is broadcast.
    refill_tokens(&user3_leaf, 1);
    let refused = env.run(&[
        "transfer",
        "--piece",
        &piece,
        "--to",
        &stranger,
        "--edition",
        "1",
        "--secret-env",
        USER3.env,
        "--path",
        LEAF3,
        "--min-conf",
        "1",
    ]);
    refused.assert_error(&format!("transfer refused: {not_owner}"));
    assert!(env.mempool().is_empty());

    // A stranger's --no-check transfer lands, and history marks it invalid.
    // The stranger never received a token: both of the transfer's tokens come from a refill.
    refill_tokens(&stranger, 2);
    let rogue = env.act(
        &STRANGER,
        "",
        &[
            "transfer",
            "--piece",
            &piece,
            "--to",
            &stranger,
            "--edition",
            "1",
            "--no-check",
        ],
    );
    assert!(!rogue.checked);
    env.mine(1);
    assert!(env.confirmations(&rogue.txid) >= 1);
    let h: history::Output = env.json(&["history", &file_hash]);
    let event = h
        .events
        .iter()
        .find(|e| e.txid == rogue.txid)
        .expect("the stranger's transfer is in the history");
    assert!(!event.valid);
    assert!(event.reason.is_some());
    let o = ownership(&env, &user2_leaf, &file_hash, 1);
    assert_eq!(o.owner.as_deref(), Some(user2_leaf.as_str()));
    assert!(o.can_transfer);

    // The other formats render the same history.
    let table = env.run(&["history", &file_hash, "--format", "table"]);
    assert!(table.ok, "{}", table.stderr);
    assert!(table.stdout.contains("INVALID"));
    // Title, the warning that no federation rule applied (regtest), header, one per event.
    assert!(table.stdout.contains("warning: no federation set"));
    assert_eq!(table.stdout.lines().count(), 1 + 1 + 1 + h.events.len());
    let dot = env.run(&["history", &file_hash, "--format", "dot"]);
    assert!(dot.ok);
    assert!(dot.stdout.starts_with("digraph provenance {"));
    assert!(dot.stdout.contains("edition 1"));
    assert!(dot.stdout.contains("ASCRIBESPOOL01TRANSFER1"));
    let only: history::Output = env.json(&["history", &file_hash, "--edition", "1"]);
    assert!(only.events.iter().all(|e| e.edition_number == Some(1)));
    assert_eq!(only.events.len(), 6);

    // The same answers through an Esplora API serving the same chain, and an action sent
    // through it lands.
    let esplora = spool_testenv::esplora::EsploraServer::start(&env.node)
        .unwrap_or_else(|e| panic!("esplora test server: {e}"));
    let via = ["--backend", "esplora", "--esplora-url", esplora.url()];
    let h_esplora: history::Output = env.json(&[&via[..], &["history", &file_hash]].concat());
    assert_eq!(h_esplora, h);
    let o_core = ownership(&env, &user2_leaf, &file_hash, 1);
    let o_esplora: ownership::Output = env.json(
        &[
            &via[..],
            &["ownership", &user2_leaf, &file_hash, "--edition", "1"],
        ]
        .concat(),
    );
    assert_eq!(o_esplora, o_core);
    let fuel = env.act(
        &FEDERATION,
        "",
        &[
            &via[..],
            &[
                "refill",
                "--to",
                &user2_leaf,
                "--fees",
                "1",
                "--tokens",
                "1",
            ],
        ]
        .concat(),
    );
    env.mine(1);
    assert_eq!(env.confirmations(&fuel.txid), 1);
}
