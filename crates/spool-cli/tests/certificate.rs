//! Provenance certificates end to end on a real regtest node (issue 21): the seed's
//! walkthrough edition certified through Bitcoin Core, verified offline with the protocol
//! crate alone while the node is down, then online through Core, `spool serve` and Esplora
//! (the three issue the same proof); Core's own `verifytxoutproof` accepts every proof in
//! the file; a later transfer supersedes it; a reorganisation takes its blocks off the best
//! chain; a tampered file is refused.

mod serving;
mod support;

use std::process::Command;

use serde_json::Value;
use spool_cli::subcommand::certificate;
use spool_protocol::certificate::Certificate;
use support::{Env, Scenario, Step, LEAF2, LEAF3, SPOOL, USER2, USER3};

#[test]
fn the_walkthrough_edition_certified_verified_offline_online_and_superseded() {
    let mut env = Env::start();
    let image = concat!(env!("CARGO_MANIFEST_DIR"), "/../../vectors/ascribe.png");
    let hashes: spool_cli::subcommand::hash::Output =
        env.json(&["hash", image, "--meta", "title=ascribe"]);
    let piece = format!("{},{}", hashes.file_hash, hashes.file_hash_metadata);
    let user2_leaf = env.address(&USER2, LEAF2);
    let user3_leaf = env.address(&USER3, LEAF3);
    {
        let mut scenario = Scenario::funded(&env, 30, 60);
        scenario.walkthrough(&piece);
        scenario.mine(6);
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("edition1.spoolcert");
    let file_text = file.to_string_lossy().to_string();
    let issued: certificate::Output = env.json(&[
        "certificate",
        &hashes.file_hash,
        "--edition",
        "1",
        "--out",
        &file_text,
    ]);
    assert_eq!(issued.owner.as_deref(), Some(user2_leaf.as_str()));
    assert_eq!(issued.consignee, None);
    assert_eq!(
        issued.events, 7,
        "REGISTER0, EDITIONS10 and edition 1's five events"
    );
    let text = std::fs::read_to_string(&file).unwrap();

    // Core's own verifytxoutproof accepts every proof in the file.
    let cert = Certificate::from_json(&text).unwrap();
    for event in &cert.events {
        let proven = env
            .node
            .call("verifytxoutproof", &[Value::from(event.proof.clone())])
            .unwrap();
        assert_eq!(proven, serde_json::json!([event.txid.to_string()]));
    }

    // The node stops: the file is verified with the protocol crate alone...
    env.node.stop().unwrap();
    let report = Certificate::from_json(&text).unwrap().verify().unwrap();
    assert_eq!(report.state.owner.as_deref(), Some(user2_leaf.as_str()));
    assert_eq!(report.state.loans.len(), 1);
    assert_eq!(report.state.loans[0].borrower, user3_leaf);
    assert!(report.min_burial.unwrap() >= 6);
    // ...and by `spool verify`, offline by default (no backend named), saying what it trusts.
    let offline = Command::new(SPOOL)
        .args(["--network", "regtest", "verify"])
        .arg(&file)
        .env_remove("SPOOL_CONFIG")
        .env("XDG_CONFIG_HOME", dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&offline.stdout);
    assert!(
        offline.status.success(),
        "{}",
        String::from_utf8_lossy(&offline.stderr)
    );
    assert!(
        stdout.contains(&format!("is owned by {user2_leaf}")),
        "{stdout}"
    );
    assert!(
        stdout.contains("best chain") && stdout.contains("no later event"),
        "{stdout}"
    );

    // Online through Core: on its best chain, and current.
    env.node.restart().unwrap();
    let online: Value = env.json(&["verify", &file_text]);
    assert_eq!(online["proven"], true);
    assert_eq!(online["online"]["current"], true, "{online}");
    assert!(online["online"]["headers_on_best_chain"].as_u64().unwrap() >= 7);

    // Through `spool serve`, at the same tip: the same proof (only the issuer's own fields
    // differ), from the CLI's --server and from the API's route; verified through it too.
    let server = serving::Server::start(&env, &[]);
    server.wait_synced(&env);
    let same_proof = |other: &str| {
        let mut other = Certificate::from_json(other).unwrap();
        assert_ne!(other.issuer, cert.issuer);
        other.issuer = cert.issuer.clone();
        other.issued_at = cert.issued_at;
        assert_eq!(other, cert, "the same proof as through Core");
    };
    let via_server = dir.path().join("via-server.spoolcert");
    let via_server_text = via_server.to_string_lossy().to_string();
    let _: certificate::Output = env.json(&[
        "--server",
        &server.url,
        "certificate",
        &hashes.file_hash,
        "--edition",
        "1",
        "--out",
        &via_server_text,
    ]);
    same_proof(&std::fs::read_to_string(&via_server).unwrap());
    let (status, body) = server.get(&format!(
        "/api/v1/piece/{}/certificate?edition=1&federation=",
        hashes.file_hash
    ));
    assert_eq!(status, 200, "{body}");
    assert!(!body.contains("indexed_height"), "the document alone");
    same_proof(&body);
    let through_server: Value = env.json(&["--server", &server.url, "verify", &file_text]);
    assert_eq!(
        through_server["online"]["current"], true,
        "{through_server}"
    );

    // Through an Esplora API serving the same chain: the same proof, and verified through it.
    let esplora = spool_testenv::esplora::EsploraServer::start(&env.node)
        .unwrap_or_else(|e| panic!("esplora test server: {e}"));
    let via = ["--backend", "esplora", "--esplora-url", esplora.url()];
    let via_esplora = dir.path().join("via-esplora.spoolcert");
    let via_esplora_text = via_esplora.to_string_lossy().to_string();
    let _: certificate::Output = env.json(
        &[
            &via[..],
            &[
                "certificate",
                &hashes.file_hash,
                "--edition",
                "1",
                "--out",
                &via_esplora_text,
            ],
        ]
        .concat(),
    );
    same_proof(&std::fs::read_to_string(&via_esplora).unwrap());
    let through_esplora: Value = env.json(&[&via[..], &["verify", &file_text]].concat());
    assert_eq!(
        through_esplora["online"]["current"], true,
        "{through_esplora}"
    );

    // A later transfer supersedes it: exit 2, naming the transfer.
    let mut scenario = Scenario::funded(&env, 2, 2);
    scenario.refill(&user2_leaf, 1, 2);
    let transfer = scenario.by(&USER2, LEAF2, &Step::transfer(&piece, &user3_leaf, 1));
    let run = env.run(&["verify", &file_text]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(
        run.stderr.contains("superseded") && run.stderr.contains(&transfer),
        "{}",
        run.stderr
    );
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);

    // A reorganisation that takes the certificate's blocks away: "not in the best chain".
    let first_block = cert.blocks[0].hash.to_string();
    env.node
        .call("invalidateblock", &[Value::from(first_block.clone())])
        .unwrap();
    env.mine(cert.tip.height - cert.blocks[0].height + 3);
    let run = env.run(&["verify", &file_text]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(
        run.stderr.contains("not in the best chain") && run.stderr.contains(&first_block),
        "{}",
        run.stderr
    );
    // Offline, the file still proves its work: only a node can tell the chain moved on.
    assert!(Certificate::from_json(&text).unwrap().verify().is_ok());

    // A tampered file fails with its reason on one line.
    let tampered = text.replace(&user2_leaf, &user3_leaf);
    let bad = dir.path().join("tampered.spoolcert");
    std::fs::write(&bad, tampered).unwrap();
    let run = env.run(&["verify", &bad.to_string_lossy()]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(run.stderr.contains("invalid certificate"), "{}", run.stderr);
}
