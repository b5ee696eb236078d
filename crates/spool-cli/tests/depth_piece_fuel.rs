//! Depth, `piece` and `fuel` end to end through the `spool` binary on a real regtest node:
//! the seed's walkthrough with a transfer left in the mempool (pending with `--min-conf 1`,
//! counted once mined, flagged replaceable while it signals RBF), the piece's state at the
//! end, and an address's fuel before and after an action.

mod support;

use serde_json::Value;
use spool_cli::subcommand::{fuel, history, ownership, piece};
use support::{Env, Scenario, Step, FEDERATION, LEAF1, LEAF2, LEAF3, USER1, USER2, USER3};

/// How many of `txid`'s inputs spend a fuel output and a token output (from the node).
fn spent_kinds(env: &Env, txid: &str) -> (u64, u64) {
    let raw = |txid: &str| {
        env.node
            .call("getrawtransaction", &[Value::from(txid), Value::from(true)])
            .expect("getrawtransaction")
    };
    let tx = raw(txid);
    let sats: Vec<u64> = tx["vin"]
        .as_array()
        .unwrap()
        .iter()
        .map(|vin| {
            let parent = raw(vin["txid"].as_str().unwrap());
            let value = &parent["vout"][vin["vout"].as_u64().unwrap() as usize]["value"];
            (value.as_f64().unwrap() * 1e8).round() as u64
        })
        .collect();
    (
        sats.iter().filter(|s| **s == 30_000).count() as u64,
        sats.iter().filter(|s| **s == 3_000).count() as u64,
    )
}

fn fuel(env: &Env, address: &str, min_conf: u32) -> fuel::Output {
    env.json(&["fuel", address, "--min-conf", &min_conf.to_string()])
}

#[test]
fn walkthrough_with_depth_then_piece_state_and_fuel() {
    let env = Env::start();
    let federation = env.address(&FEDERATION, "");
    let user1 = env.address(&USER1, "");
    let user1_leaf = env.address(&USER1, LEAF1);
    let user2_leaf = env.address(&USER2, LEAF2);
    let user3_leaf = env.address(&USER3, LEAF3);
    let image = concat!(env!("CARGO_MANIFEST_DIR"), "/../../vectors/ascribe.png");
    let hashes: spool_cli::subcommand::hash::Output =
        env.json(&["hash", image, "--meta", "title=ascribe"]);
    let piece = format!("{},{}", hashes.file_hash, hashes.file_hash_metadata);
    let file_hash = hashes.file_hash.clone();

    let mut scenario = Scenario::funded(&env, 30, 60);

    // Fuel before and after an action: exactly what the action spent is gone.
    let before = fuel(&env, &federation, 1);
    assert_eq!(before.address, federation);
    assert_eq!(
        before.fuel,
        fuel::Tally {
            count: 30,
            total_sat: 900_000
        }
    );
    assert_eq!(
        before.tokens,
        fuel::Tally {
            count: 60,
            total_sat: 180_000
        }
    );
    assert_eq!(before.other.count, 0);
    assert_eq!(before.reserved.count, 0);
    let master = env.act(
        &FEDERATION,
        "",
        &[
            "register",
            "--piece",
            &piece,
            "--to",
            &user1,
            "--edition",
            "0",
        ],
    );
    let (fuel_spent, tokens_spent) = spent_kinds(&env, &master.txid);
    assert!(
        fuel_spent >= 1 && tokens_spent >= 1,
        "{fuel_spent} {tokens_spent}"
    );
    let after = fuel(&env, &federation, 0);
    assert_eq!(after.fuel.count, 30 - fuel_spent);
    assert_eq!(after.tokens.count, 60 - tokens_spent);
    assert_eq!(after.fuel.total_sat, after.fuel.count * 30_000);
    // The outputs the mempool transaction spends are gone at --min-conf 1 too.
    let confirmed_only = fuel(&env, &federation, 1);
    assert_eq!(confirmed_only.fuel.count, 30 - fuel_spent);
    let text = env.run(&["fuel", &federation]);
    assert!(text.ok && text.stdout.contains("fuel:"), "{text:?}");
    env.mine(1);

    for args in [
        vec![
            "editions", "--piece", &piece, "--to", &user1, "--count", "10",
        ],
        vec![
            "register",
            "--piece",
            &piece,
            "--to",
            &user1_leaf,
            "--edition",
            "1",
        ],
        vec![
            "refill",
            "--to",
            &user1_leaf,
            "--fees",
            "1",
            "--tokens",
            "1",
        ],
    ] {
        env.act(&FEDERATION, "", &args);
        env.mine(1);
    }

    // A transfer left in the mempool.
    let transfer = env.act(
        &USER1,
        LEAF1,
        &[
            "transfer",
            "--piece",
            &piece,
            "--to",
            &user2_leaf,
            "--edition",
            "1",
        ],
    );
    let deep: history::Output = env.json(&["history", &file_hash, "--min-conf", "1"]);
    let last = deep.events.last().unwrap();
    assert_eq!(last.txid, transfer.txid);
    assert!(last.pending && last.valid, "{last:?}");
    assert_eq!(last.confirmations, 0);
    assert!(
        last.replaceable,
        "spool signals RBF outside --compat: {last:?}"
    );
    assert!(deep.events[..deep.events.len() - 1]
        .iter()
        .all(|e| !e.pending && !e.replaceable && e.confirmations >= 1));
    assert_eq!(
        deep.events[0].confirmations, 4,
        "REGISTER0, then 3 more blocks"
    );
    assert_eq!(deep.min_conf, 1);
    let o: ownership::Output = env.json(&[
        "ownership",
        &user1_leaf,
        &file_hash,
        "--edition",
        "1",
        "--min-conf",
        "1",
    ]);
    assert_eq!(o.owner.as_deref(), Some(user1_leaf.as_str()), "not counted");
    assert!(o.can_transfer);
    let p: piece::Output = env.json(&["piece", &file_hash, "--min-conf", "1"]);
    assert_eq!(p.editions[1].owner.as_deref(), Some(user1_leaf.as_str()));
    // Without --min-conf the mempool counts.
    let o: ownership::Output = env.json(&["ownership", &user2_leaf, &file_hash, "--edition", "1"]);
    assert_eq!(o.owner.as_deref(), Some(user2_leaf.as_str()));
    let shallow: history::Output = env.json(&["history", &file_hash]);
    assert!(shallow.events.iter().all(|e| !e.pending));
    // The table marks it; an explicit --format wins over --json.
    let table = env.run(&[
        "--json",
        "history",
        &file_hash,
        "--min-conf",
        "1",
        "--format",
        "table",
    ]);
    assert!(table.ok, "{}", table.stderr);
    let row = table
        .stdout
        .lines()
        .find(|l| l.contains(&transfer.txid))
        .unwrap();
    assert!(
        row.contains("mempool") && row.contains("0 rbf") && row.contains("valid (pending)"),
        "{row}"
    );
    assert!(
        table.stdout.contains("1 pending event(s)"),
        "{}",
        table.stdout
    );
    // The pre-check still counts the signer's own unconfirmed transfer: a second one is
    // refused (user1 no longer owns edition 1), and nothing is broadcast.
    env.run(&[
        "transfer",
        "--piece",
        &piece,
        "--to",
        &user3_leaf,
        "--edition",
        "1",
        "--secret-env",
        USER1.env,
        "--path",
        LEAF1,
        "--min-conf",
        "0",
    ])
    .assert_error("does not own the edition number 1");
    assert_eq!(env.mempool(), vec![transfer.txid.clone()]);

    // Once mined it counts, and is no longer replaceable.
    env.mine(1);
    let mined: history::Output = env.json(&["history", &file_hash, "--min-conf", "1"]);
    let last = mined.events.last().unwrap();
    assert!(!last.pending && !last.replaceable && last.valid);
    assert_eq!(last.confirmations, 1);
    let o: ownership::Output = env.json(&[
        "ownership",
        &user2_leaf,
        &file_hash,
        "--edition",
        "1",
        "--min-conf",
        "1",
    ]);
    assert_eq!(o.owner.as_deref(), Some(user2_leaf.as_str()));
    let deeper: history::Output = env.json(&["history", &file_hash, "--min-conf", "2"]);
    assert!(deeper.events.last().unwrap().pending);

    // The rest of the seed's walkthrough, then the piece's state.
    scenario.refill(&user2_leaf, 1, 1);
    scenario.by(&USER2, LEAF2, &Step::consign(&piece, &user3_leaf, 1));
    scenario.refill(&user3_leaf, 1, 1);
    scenario.by(&USER3, LEAF3, &Step::unconsign(&piece, &user2_leaf, 1));
    scenario.refill(&user2_leaf, 1, 1);
    scenario.by(
        &USER2,
        LEAF2,
        &Step::loan(&piece, &user3_leaf, 1, "150522", "150523"),
    );

    let state: piece::Output = env.json(&["piece", &file_hash]);
    assert_eq!(state.piece_address, file_hash);
    assert_eq!(state.number_editions, Some(10));
    assert_eq!(state.registered_by.as_deref(), Some(federation.as_str()));
    assert_eq!(state.master_owner.as_deref(), Some(user1.as_str()));
    assert_eq!(state.editions.len(), 11, "master + 10");
    let one = &state.editions[1];
    assert_eq!(one.edition, 1);
    assert!(one.registered);
    assert_eq!(one.owner.as_deref(), Some(user2_leaf.as_str()));
    assert_eq!(one.consignee, None, "unconsigned");
    assert_eq!(one.loans.len(), 1);
    assert_eq!(
        (
            one.loans[0].borrower.as_str(),
            one.loans[0].start.as_str(),
            one.loans[0].end.as_str()
        ),
        (user3_leaf.as_str(), "150522", "150523")
    );
    assert!(state.editions[2..]
        .iter()
        .all(|e| !e.registered && e.owner.is_none()));
    let json: Value = env.json(&["piece", &file_hash]);
    let keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "piece_address",
            "number_editions",
            "registered_by",
            "master_owner",
            "editions"
        ]
    );
    let table = env.run(&["piece", &file_hash]);
    assert!(table.ok, "{}", table.stderr);
    assert!(
        table
            .stdout
            .contains(&format!("{user3_leaf} 150522-150523")),
        "{}",
        table.stdout
    );
    assert!(table.stdout.contains("warning: no federation set"));
}
