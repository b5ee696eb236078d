//! Answers from an index that is still catching up say so (issue 17, item 4): every API
//! reply carries `indexed_height`, `node_height` and `synced`; the CLI warns on reads,
//! refuses an action's pre-check ("server is indexing: block X of Y"), and `--wait-sync`
//! waits. The follower is held before its first block with its test hook
//! (`SPOOL_TEST_HOLD_FOLLOWER`), so the server is caught mid-sync deterministically.

mod serving;
mod support;

use std::time::{Duration, Instant};

use serde_json::Value;
use serving::{Parties, Server};
use support::{Env, Scenario, FEDERATION};

#[test]
fn a_server_behind_its_node_says_so_warns_refuses_actions_and_can_be_waited_for() {
    let env = Env::start();
    let p = Parties::new(&env);
    Scenario::funded(&env, 2, 4);
    let tip = env
        .node
        .call("getblockcount", &[])
        .unwrap()
        .as_u64()
        .unwrap();

    let hold = env.data_path().join("hold-follower");
    let hold_text = hold.to_string_lossy().to_string();
    let server = Server::start_with_env(
        &env,
        &["--watch", &p.federation],
        &[("SPOOL_TEST_HOLD_FOLLOWER", hold_text.as_str())],
    );
    let via = ["--server", server.url.as_str()];

    // The API: every reply says how far the index is.
    let started = Instant::now();
    let reply = loop {
        let reply = server.json(&format!("/api/v1/piece/{}/history", p.file_hash));
        if reply["node_height"] == tip || started.elapsed() > Duration::from_secs(30) {
            break reply;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(reply["synced"], false, "{reply}");
    assert_eq!(reply["node_height"], tip, "{reply}");
    assert_eq!(reply["indexed_height"], Value::Null, "{reply}");
    assert!(reply["events"].as_array().unwrap().is_empty());

    // A read warns (and still answers).
    let read = env.run(&[&via[..], &["history", &p.file_hash]].concat());
    assert!(read.ok, "{}", read.stderr);
    assert!(
        read.stderr.contains(&format!(
            "warning: the server's index is behind its node (block 0 of {tip})"
        )),
        "{}",
        read.stderr
    );

    // An action's pre-check is refused: exit 1, nothing sent.
    let action = env.run(
        &[
            &via[..],
            &[
                "register",
                "--piece",
                &p.piece,
                "--to",
                &p.user1,
                "--edition",
                "0",
                "--secret-env",
                FEDERATION.env,
                "--min-conf",
                "1",
            ],
        ]
        .concat(),
    );
    assert_eq!(action.code, Some(1), "{}", action.stderr);
    assert!(
        action
            .stderr
            .contains(&format!("server is indexing: block 0 of {tip}")),
        "{}",
        action.stderr
    );
    assert!(env.mempool().is_empty(), "nothing was broadcast");

    // --wait-sync waits until the index has caught up, then answers without a warning.
    let waiting = env
        .command(
            &[
                &via[..],
                &["--wait-sync", "--json", "history", &p.file_hash],
            ]
            .concat(),
        )
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    std::fs::write(&hold, "").unwrap();
    let waited = support::Run::from_output(waiting.wait_with_output().unwrap());
    assert!(waited.ok, "{}", waited.stderr);
    assert!(
        waited.stderr.contains("waiting for the server's index"),
        "{}",
        waited.stderr
    );
    assert!(!waited.stderr.contains("warning"), "{}", waited.stderr);
    server.wait_synced(&env);
    let reply = server.json(&format!("/api/v1/piece/{}/history", p.file_hash));
    assert_eq!(reply["synced"], true, "{reply}");
    assert_eq!(reply["indexed_height"], tip, "{reply}");
}
