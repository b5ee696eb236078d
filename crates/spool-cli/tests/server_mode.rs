//! `--server` mode end to end on a real regtest node: the seed's walkthrough sent through a
//! running `spool serve`, then every read (history, ownership) answered through the server
//! exactly as in direct mode; `holdings` and `pieces`; refusals; a forged event;
//! `history --format svg`.

mod serving;
mod support;

use serde_json::Value;
use serving::{walkthrough, Parties, Server, LEAF3};
use spool_cli::subcommand::{history, holdings, ownership, pieces};
use spool_protocol::state::{Holding, Role};
use support::{Env, FEDERATION, STRANGER, USER3};

#[test]
fn the_ownership_scenario_through_the_server_answers_as_direct_mode() {
    let env = Env::start();
    let p = Parties::new(&env);
    let watch = p.watch_args();
    let watch: Vec<&str> = watch.iter().map(String::as_str).collect();
    let server = Server::start(&env, &watch);
    let via = ["--server", server.url.as_str()];
    let sent = walkthrough(&env, &server, &p);

    // History: through the server as directly.
    let h_server: history::Output = env.json(&[&via[..], &["history", &p.file_hash]].concat());
    let h_direct: history::Output = env.json(&["history", &p.file_hash]);
    assert_eq!(h_server, h_direct);
    let txids: Vec<&str> = h_server.events.iter().map(|e| e.txid.as_str()).collect();
    assert_eq!(
        txids,
        sent.events.iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert!(h_server.events.iter().all(|e| e.valid));
    // One edition's events, and the table, alike.
    let edition: history::Output =
        env.json(&[&via[..], &["history", &p.file_hash, "--edition", "1"]].concat());
    assert_eq!(
        edition,
        env.json::<history::Output>(&["history", &p.file_hash, "--edition", "1"])
    );
    assert_eq!(edition.events.len(), 5);
    let table = |extra: &[&str]| {
        let run = env.run(&[extra, &["history", &p.file_hash, "--format", "table"]].concat());
        assert!(run.ok, "{}", run.stderr);
        run.stdout
    };
    assert_eq!(table(&via), table(&[]));
    // The API serves the very same document.
    let api: history::Output = serde_json::from_value(server.json(&format!(
        "/api/v1/piece/{}/history?federation=",
        p.file_hash
    )))
    .unwrap();
    assert_eq!(api, h_direct);

    // Ownership: every party, every edition that matters, through the server as directly.
    let ownership_of = |extra: &[&str], who: &str, edition: u64| -> ownership::Output {
        env.json(
            &[
                extra,
                &[
                    "ownership",
                    who,
                    &p.file_hash,
                    "--edition",
                    &edition.to_string(),
                ],
            ]
            .concat(),
        )
    };
    for who in [
        &p.user1,
        &p.user1_leaf,
        &p.user2_leaf,
        &p.user3_leaf,
        &p.stranger,
    ] {
        for edition in [0, 1, 2, 10, 11] {
            let direct = ownership_of(&[], who, edition);
            assert_eq!(
                ownership_of(&via, who, edition),
                direct,
                "ownership of edition {edition} for {who}"
            );
            let api: ownership::Output = serde_json::from_value(server.json(&format!(
                "/api/v1/piece/{}/ownership?address={who}&edition={edition}&federation=",
                p.file_hash
            )))
            .unwrap();
            assert_eq!(api, direct, "the API's ownership of {edition} for {who}");
        }
    }
    let o = ownership_of(&via, &p.user2_leaf, 1);
    assert_eq!(o.owner.as_deref(), Some(p.user2_leaf.as_str()));
    assert!(
        o.can_transfer && o.can_consign && o.can_loan,
        "{:?}",
        o.reasons
    );
    let o = ownership_of(&via, &p.user1, 1);
    assert_eq!(
        o.reasons["can_register"],
        "Edition number 1 is already registered in the blockchain"
    );

    // Holdings and pieces need the server, and say so in one line with exit code 2.
    for args in [vec!["holdings", p.user2_leaf.as_str()], vec!["pieces"]] {
        let run = env.run(&args);
        run.assert_error("needs an index: give --server URL");
        assert_eq!(run.code, Some(2), "{args:?}");
    }
    let held: holdings::Output = env.json(&[&via[..], &["holdings", &p.user2_leaf]].concat());
    assert_eq!(held.address, p.user2_leaf);
    assert_eq!(
        held.holdings,
        [Holding {
            piece_address: p.file_hash.clone(),
            edition: 1,
            role: Role::Owner
        }]
    );
    let held: holdings::Output = env.json(&[&via[..], &["holdings", &p.user1]].concat());
    assert_eq!(
        held.holdings,
        [Holding {
            piece_address: p.file_hash.clone(),
            edition: 0,
            role: Role::Owner
        }]
    );
    let held: Value = env.json(&[&via[..], &["holdings", &p.stranger]].concat());
    assert_eq!(held["holdings"], Value::Array(vec![]));
    let listed: pieces::Output = env.json(&[&via[..], &["pieces"]].concat());
    assert_eq!(listed.pieces.len(), 1, "{listed:?}");
    let row = &listed.pieces[0];
    assert_eq!(row.piece_address, p.file_hash);
    assert_eq!(row.number_editions, Some(10));
    assert_eq!(row.registered_by.as_deref(), Some(p.federation.as_str()));
    assert_eq!(row.block_height, h_direct.events[0].block_height);
    // Only registrations by the federation count when one is set.
    let listed: pieces::Output =
        env.json(&[&via[..], &["pieces", "--federation", &p.stranger]].concat());
    assert!(listed.pieces.is_empty(), "{listed:?}");

    // A refusal through the server broadcasts nothing.
    let refused = env.run(&[
        "--server",
        &server.url,
        "transfer",
        "--piece",
        &p.piece,
        "--to",
        &p.stranger,
        "--edition",
        "1",
        "--secret-env",
        USER3.env,
        "--path",
        LEAF3,
        "--min-conf",
        "1",
    ]);
    refused.assert_error(&format!(
        "transfer refused: Address {} does not own the edition number 1",
        p.user3_leaf
    ));
    assert!(env.mempool().is_empty());

    // A stranger's --no-check transfer, sent through the server: history marks it invalid,
    // through the server as directly.
    env.act(
        &FEDERATION,
        "",
        &[
            "--server",
            &server.url,
            "refill",
            "--to",
            &p.stranger,
            "--fees",
            "1",
            "--tokens",
            "2",
        ],
    );
    env.mine(1);
    server.wait_synced(&env);
    let rogue = env.act(
        &STRANGER,
        "",
        &[
            "--server",
            &server.url,
            "transfer",
            "--piece",
            &p.piece,
            "--to",
            &p.stranger,
            "--edition",
            "1",
            "--no-check",
        ],
    );
    // Pending: the server's answer already holds it, as the node's mempool does.
    let pending: history::Output = env.json(&[&via[..], &["history", &p.file_hash]].concat());
    let event = pending
        .events
        .iter()
        .find(|e| e.txid == rogue.txid)
        .unwrap();
    assert_eq!(event.block_height, None);
    assert_eq!(
        pending,
        env.json::<history::Output>(&["history", &p.file_hash])
    );
    env.mine(1);
    server.wait_synced(&env);
    let h_server: history::Output = env.json(&[&via[..], &["history", &p.file_hash]].concat());
    assert_eq!(
        h_server,
        env.json::<history::Output>(&["history", &p.file_hash])
    );
    let event = h_server
        .events
        .iter()
        .find(|e| e.txid == rogue.txid)
        .unwrap();
    assert!(!event.valid);
    assert!(event.reason.is_some());
    let o = ownership_of(&via, &p.user2_leaf, 1);
    assert_eq!(o, ownership_of(&[], &p.user2_leaf, 1));
    assert!(o.can_transfer);

    // The provenance graph as SVG: one node per event, the invalid one marked.
    let svg = env.run(&[&via[..], &["history", &p.file_hash, "--format", "svg"]].concat());
    assert!(svg.ok, "{}", svg.stderr);
    let doc = svg.stdout.trim_start();
    assert!(doc.starts_with("<svg") || doc.starts_with("<?xml"), "{doc}");
    assert!(doc.trim_end().ends_with("</svg>"));
    for e in &h_server.events {
        assert_eq!(
            doc.matches(&format!("data-txid=\"{}\"", e.txid)).count(),
            1,
            "one node for {}",
            e.txid
        );
    }
    assert_eq!(doc.matches("data-txid=").count(), h_server.events.len());
    let direct_svg = env.run(&["history", &p.file_hash, "--format", "svg"]);
    assert_eq!(direct_svg.stdout, svg.stdout);
}
