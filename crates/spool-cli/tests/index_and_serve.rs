//! `spool index` then `spool serve` on a real regtest node: the index catches up and exits,
//! the server serves `/api/v1/status`, the explorer's pages beside the API, and survives
//! `kill -9` while following: after a restart it answers exactly as direct mode.

mod serving;
mod support;

use serde_json::Value;
use serving::{Parties, Server};
use spool_cli::subcommand::{history, index, ownership};
use support::{Env, Scenario, FEDERATION};

fn tip(env: &Env) -> u64 {
    env.node
        .call("getblockcount", &[])
        .unwrap()
        .as_u64()
        .unwrap()
}

#[test]
fn index_then_serve_then_kill_9_while_following() {
    let env = Env::start();
    let p = Parties::new(&env);
    // A chain to index: the federation funded and the piece registered, directly.
    Scenario::funded(&env, 20, 40);
    let register = |edition: &str| {
        let out = env.act(
            &FEDERATION,
            "",
            &[
                "register",
                "--piece",
                &p.piece,
                "--to",
                &p.user1,
                "--edition",
                edition,
            ],
        );
        env.mine(1);
        out
    };
    register("0");

    // `spool index` catches up and exits.
    let indexed: index::Output = env.json(&["index", "--watch", &p.federation]);
    assert_eq!(indexed.indexed_height, Some(tip(&env)));
    assert_eq!(indexed.blocks, tip(&env) + 1, "every block from genesis");
    assert!(indexed.bytes > 0);
    assert!(indexed.index.ends_with("index.sqlite"));
    assert!(std::path::Path::new(&indexed.index).is_file());
    // Again: nothing new to read.
    let again: index::Output = env.json(&["index"]);
    assert_eq!(again.indexed_height, indexed.indexed_height);
    assert_eq!(again.blocks, 0);

    // `spool serve` serves the status at once, the explorer beside the API.
    let server = Server::start(&env, &[]);
    let status = server.json("/api/v1/status");
    assert_eq!(status["network"], "regtest");
    assert!(status["indexed_height"].as_u64().unwrap() >= indexed.indexed_height.unwrap());
    server.wait_synced(&env);
    let status = server.json("/api/v1/status");
    assert_eq!(status["indexed_height"].as_u64(), Some(tip(&env)));
    assert_eq!(status["node_height"].as_u64(), Some(tip(&env)));
    assert_eq!(status["synced"], Value::Bool(true));
    let (code, home) = server.get("/");
    assert_eq!(code, 200);
    assert!(home.contains("<html"), "{home}");
    let (code, page) = server.get(&format!("/piece/{}", p.file_hash));
    assert_eq!(code, 200);
    assert!(page.contains(&p.file_hash));
    let (code, body) = server.get("/api/v1/no/such/route");
    assert_eq!(code, 404);
    let error: Value = serde_json::from_str(&body).expect("a JSON error");
    assert!(error["error"]
        .as_str()
        .unwrap()
        .contains("/api/v1/no/such/route"));
    let (code, page) = server.get("/no/such/page");
    assert_eq!(code, 404);
    assert!(page.contains("There is no page at /no/such/page"), "{page}");

    // While it follows: an action, a block, and kill -9 right after the next block.
    let via = ["--server", server.url.as_str()];
    env.act(
        &FEDERATION,
        "",
        &[
            &via[..],
            &[
                "editions", "--piece", &p.piece, "--to", &p.user1, "--count", "3",
            ],
        ]
        .concat(),
    );
    env.mine(1);
    server.wait_synced(&env);
    env.act(
        &FEDERATION,
        "",
        &[
            &via[..],
            &[
                "register",
                "--piece",
                &p.piece,
                "--to",
                &p.user1_leaf,
                "--edition",
                "1",
            ],
        ]
        .concat(),
    );
    env.mine(1);
    server.kill9();

    // The chain moves on while the server is down.
    register("2");
    env.mine(3);

    // Restarted, it catches up and answers as direct mode.
    let server = Server::start(&env, &[]);
    server.wait_synced(&env);
    let via = ["--server", server.url.as_str()];
    let h_server: history::Output = env.json(&[&via[..], &["history", &p.file_hash]].concat());
    let h_direct: history::Output = env.json(&["history", &p.file_hash]);
    assert_eq!(h_server, h_direct);
    assert_eq!(h_server.events.len(), 4, "{h_server:#?}");
    assert!(h_server
        .events
        .iter()
        .all(|e| e.valid && e.block_height.is_some()));
    for edition in 0..=3 {
        let args = ["ownership", &p.user1_leaf, &p.file_hash, "--edition"];
        let edition = edition.to_string();
        let direct: ownership::Output = env.json(&[&args[..], &[edition.as_str()]].concat());
        let served: ownership::Output =
            env.json(&[&via[..], &args[..], &[edition.as_str()]].concat());
        assert_eq!(served, direct);
    }
    // The federation's coins, watched since `spool index`, are listed as the node has them:
    // an action through the restarted server still lands.
    env.act(
        &FEDERATION,
        "",
        &[
            &via[..],
            &[
                "register",
                "--piece",
                &p.piece,
                "--to",
                &p.user1,
                "--edition",
                "3",
            ],
        ]
        .concat(),
    );
}
