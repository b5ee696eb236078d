//! Bad input gets a one-line error naming the problem, a non-zero exit, and nothing
//! broadcast. Offline cases run the binary alone; the others a real regtest node.

mod support;

use std::process::Command;

use spool_cli::subcommand::{action, wallet};
use support::{Env, Run, Scenario, FEDERATION, REFILL, SPOOL, USER1};

const PIECE: &str = "mhXeWEMLnEwVNnyqKrqUDPAYSuwhfyNXA7";
const TO: &str = "mhRJqLG3BwXXG7YADQD3Ng3c6coZVwoFo6";
const MAINNET: &str = "19XyEM554GKKAPHihuGS4J3kCbFEBvqcYz";

/// `spool` with no node behind it (a port nobody listens on).
fn offline(args: &[&str]) -> Run {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(SPOOL)
        .args([
            "--network",
            "regtest",
            "--rpc-cookie",
            "/nonexistent/.cookie",
        ])
        .arg("--rpc-url")
        .arg(format!("http://127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(args)
        .env("SPOOL_T_SECRET", "offline secret")
        .env("XDG_CONFIG_HOME", dir.path())
        .env_remove("SPOOL_CONFIG")
        .output()
        .unwrap();
    let run = Run::from_output(output);
    assert!(!run.stderr.contains("offline secret"));
    run
}

fn transfer(extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "transfer",
        "--secret-env",
        "SPOOL_T_SECRET",
        "--min-conf",
        "1",
    ]
    .map(String::from)
    .to_vec();
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

fn offline_transfer(extra: &[&str]) -> Run {
    let args = transfer(extra);
    offline(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

#[test]
fn unknown_action_and_unknown_command() {
    offline(&["verb", "encode", "SELL", "--edition", "1"]).assert_error("unknown action \"SELL\"");
    let run = offline(&["sell", "--edition", "1"]);
    run.assert_error("unrecognized subcommand 'sell'");
    assert_eq!(run.code, Some(2));
}

#[test]
fn address_of_another_network() {
    offline_transfer(&["--piece", PIECE, "--to", MAINNET, "--edition", "1"]).assert_error(
        &format!("--to {MAINNET} is an address of another network, not regtest"),
    );
    offline_transfer(&["--piece", MAINNET, "--to", TO, "--edition", "1"])
        .assert_error("another network");
    offline(&["ownership", MAINNET, PIECE, "--edition", "1"]).assert_error("another network");
}

#[test]
fn malformed_piece_hash() {
    let run = offline_transfer(&["--piece", "QmNotAHash!", "--to", TO, "--edition", "1"]);
    run.assert_error("malformed piece hash \"QmNotAHash!\"");
    offline_transfer(&[
        "--piece",
        &format!("{PIECE},{PIECE},{PIECE}"),
        "--to",
        TO,
        "--edition",
        "1",
    ])
    .assert_error("at most two");
}

#[test]
fn edition_zero_cannot_be_transferred() {
    offline_transfer(&["--piece", PIECE, "--to", TO, "--edition", "0"])
        .assert_error("cannot transfer edition 0");
}

#[test]
fn dates_that_are_not_dates() {
    let loan = |start: &str, end: &str| {
        offline(&[
            "loan",
            "--piece",
            PIECE,
            "--to",
            TO,
            "--edition",
            "1",
            "--start",
            start,
            "--end",
            end,
            "--secret-env",
            "SPOOL_T_SECRET",
        ])
    };
    loan("150230", "150301").assert_error("--start \"150230\" is not a date");
    loan("150522", "15052").assert_error("--end \"15052\" is not a date");
    loan("150523", "150522").assert_error("ends (150522) before it starts (150523)");
    offline(&[
        "verb",
        "encode",
        "loan",
        "--edition",
        "1",
        "--start",
        "151332",
        "--end",
        "151401",
    ])
    .assert_error("151332");
}

#[test]
fn secret_never_from_argv_and_missing_secret_is_named() {
    offline_transfer(&[
        "--piece",
        PIECE,
        "--to",
        TO,
        "--edition",
        "1",
        "--secret",
        "x",
    ])
    .assert_error("unexpected argument '--secret'");
    let run = offline(&["wallet", "address", "--secret-env", "SPOOL_T_UNSET_VAR"]);
    run.assert_error("environment variable SPOOL_T_UNSET_VAR (from --secret-env) is not set");
    // No terminal to prompt on (stdin is not a tty here).
    offline(&["wallet", "address"]).assert_error("--secret-env");
}

#[test]
fn node_unreachable_names_the_url() {
    let run = offline_transfer(&["--piece", PIECE, "--to", TO, "--edition", "1"]);
    run.assert_error("cannot reach http://127.0.0.1:");
    offline(&["history", PIECE]).assert_error("cannot reach http://127.0.0.1:");
}

#[test]
fn options_from_config_env_and_flags_in_that_order() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("spool.toml");
    std::fs::write(&config, "network = \"mainnet\"\njson = true\n").unwrap();
    let address = |env: &[(&str, &str)], args: &[&str]| -> wallet::Output {
        let output = Command::new(SPOOL)
            .arg("--config")
            .arg(&config)
            .args(["wallet", "address", "--secret-env", "SPOOL_T_SECRET"])
            .args(args)
            .env("SPOOL_T_SECRET", "MaStErPaSsWoRd")
            .env_remove("SPOOL_NETWORK")
            .envs(env.iter().copied())
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        serde_json::from_slice(&output.stdout).unwrap()
    };
    // The config file alone (json = true from it too).
    assert_eq!(
        address(&[], &[]).address,
        "19XyEM554GKKAPHihuGS4J3kCbFEBvqcYz"
    );
    // The environment beats the config file.
    let from_env = address(&[("SPOOL_NETWORK", "testnet")], &[]);
    assert_eq!(from_env.address, "mp3vXQA3sHkZwVmLRUEotDG54aqwBVYTLd");
    // A flag beats both, also after the subcommand.
    let from_flag = address(
        &[("SPOOL_NETWORK", "testnet")],
        &["--network", "mainnet", "--path", "0/1/2/3/4/5"],
    );
    assert_eq!(from_flag.address, "1F2AMKyeV2DCdehRfDj3Qq1jhaZS8MSzMq");
    assert_eq!(from_flag.path, "0/1/2/3/4/5");

    std::fs::write(&config, "network = \"regtest\"\nrpc-password = \"x\"\n").unwrap();
    let output = Command::new(SPOOL)
        .arg("--config")
        .arg(&config)
        .args(["verb", "decode", "ASCRIBESPOOL01PIECE"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown field `rpc-password`"), "{stderr}");
}

#[test]
fn wrong_credentials_are_named() {
    let env = Env::start();
    let output = Command::new(SPOOL)
        .args(["--network", "regtest", "--rpc-url"])
        .arg(env.node.rpc_url())
        .args(["--rpc-user", "nobody", "--data-dir"])
        .arg(env.data_dir.path())
        .args(["history", PIECE])
        .env("SPOOL_RPC_PASSWORD", "wrong-password-123")
        .output()
        .unwrap();
    let run = Run::from_output(output);
    run.assert_error("refused the credentials");
    assert!(run.stderr.contains(&env.node.rpc_url()));
    assert!(!run.stderr.contains("wrong-password-123"));
}

#[test]
fn a_node_of_another_network_is_refused_and_nothing_is_sent() {
    let env = Env::start();
    let user1 = env.address(&USER1, "");
    env.mine_to(&user1, 101);
    // A testnet-format piece and recipient are valid regtest strings too: only the node's own
    // answer tells the chains apart.
    let output = Command::new(SPOOL)
        .args(["--network", "testnet", "--rpc-url"])
        .arg(env.node.rpc_url())
        .arg("--rpc-cookie")
        .arg(env.node.cookie_file())
        .arg("--data-dir")
        .arg(env.data_dir.path())
        .args([
            "transfer",
            "--piece",
            PIECE,
            "--to",
            TO,
            "--edition",
            "1",
            "--no-check",
        ])
        .args(["--min-conf", "1", "--secret-env", USER1.env])
        .env(USER1.env, USER1.secret)
        .env_remove("SPOOL_CONFIG")
        .output()
        .unwrap();
    let run = Run::from_output(output);
    run.assert_error("serves the \"regtest\" chain, not testnet");
    assert!(run.stderr.contains(&env.node.rpc_url()));
    assert!(env.mempool().is_empty(), "nothing was broadcast");
}

#[test]
fn not_enough_fuel_says_needed_and_found_and_suggests_refill() {
    let env = Env::start();
    let user1 = env.address(&USER1, "");
    let federation = env.address(&FEDERATION, "");

    // Nothing at all.
    let run = env.run(&[
        "transfer",
        "--piece",
        PIECE,
        "--to",
        TO,
        "--edition",
        "1",
        "--no-check",
        "--secret-env",
        USER1.env,
        "--min-conf",
        "1",
    ]);
    run.assert_error(&format!(
        "not enough fuel at {user1}: needs 1 fuel outputs of 30000 sat and 2 token outputs of 3000 sat"
    ));
    assert!(run.stderr.contains("found 0 and 0"), "{}", run.stderr);
    assert!(run.stderr.contains(&format!("spool refill --to {user1}")));

    // Some fuel, no tokens.
    Scenario::funded(&env, 5, 5);
    env.act(
        &FEDERATION,
        "",
        &["refill", "--to", &user1, "--fees", "1", "--tokens", "0"],
    );
    env.mine(1);
    let run = env.run(&[
        "transfer",
        "--piece",
        PIECE,
        "--to",
        TO,
        "--edition",
        "1",
        "--no-check",
        "--secret-env",
        USER1.env,
        "--min-conf",
        "1",
    ]);
    run.assert_error("found 1 and 0 unreserved");
    assert!(env.mempool().is_empty());

    // Immature coinbases are not spendable (min-conf satisfied, maturity not).
    let fresh = env.address(&REFILL, "7");
    env.mine_to(&fresh, 1);
    env.mine(5);
    let run = env.run(&[
        "refill-main",
        "--to",
        &federation,
        "--fees",
        "1",
        "--tokens",
        "1",
        "--secret-env",
        REFILL.env,
        "--path",
        "7",
        "--min-conf",
        "1",
    ]);
    assert!(!run.ok);
    assert!(run.stderr.contains(&fresh), "{}", run.stderr);
    assert!(env.mempool().is_empty());
}

#[test]
fn dry_run_broadcasts_nothing_and_reserves_nothing_then_wait_confirms() {
    let env = Env::start();
    let user1 = env.address(&USER1, "");
    Scenario::funded(&env, 3, 6);

    let args = [
        "register",
        "--piece",
        PIECE,
        "--to",
        &user1,
        "--edition",
        "0",
        "--secret-env",
        FEDERATION.env,
        "--min-conf",
        "1",
    ];
    let dry: action::Output = env.json(&[&args[..], &["--dry-run"]].concat());
    assert!(!dry.broadcast);
    assert_eq!(dry.verb.as_deref(), Some("ASCRIBESPOOL01REGISTER0"));
    assert!(dry.fee >= 30_000);
    assert!(dry.hex.len() > 100);
    assert!(env.mempool().is_empty());
    // A higher fee rate spends more fuel (fuel is never split: the fee grows by whole FEEs).
    let pricier: action::Output =
        env.json(&[&args[..], &["--dry-run", "--fee-rate", "60"]].concat());
    assert!(pricier.fee >= 60_000, "fee {} at 60 sat/vB", pricier.fee);
    assert_eq!(pricier.fee % 30_000, 0);
    env.run(&[&args[..], &["--dry-run", "--fee-rate", "0"]].concat())
        .assert_error("fee rate 0 sat/vB is not usable");
    assert!(env.mempool().is_empty());

    // The real one may use the very same inputs: the dry run reserved nothing. A thread
    // mines while --wait waits.
    let node_url = env.node.rpc_url();
    let cookie = env.node.cookie_file();
    let sink = env.sink.clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let miner = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            use bitcoincore_rpc::RpcApi;
            let client =
                bitcoincore_rpc::Client::new(&node_url, bitcoincore_rpc::Auth::CookieFile(cookie))
                    .unwrap();
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                std::thread::sleep(std::time::Duration::from_millis(700));
                let _ = client.generate_to_address(1, &sink);
            }
        })
    };
    let real: action::Output =
        env.json(&[&args[..], &["--wait", "--wait-timeout", "120"]].concat());
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    miner.join().unwrap();
    assert!(real.broadcast && real.confirmed && real.checked);
    assert_eq!(
        real.txid, dry.txid,
        "same inputs, same deterministic signature"
    );
    assert!(env.confirmations(&real.txid) >= 1);
}

#[test]
fn rapid_fire_actions_never_spend_an_outpoint_twice() {
    let env = Env::start();
    Scenario::funded(&env, 4, 4);
    // Refills with no block in between: each must find fresh fuel and tokens (each spends
    // one fuel, pyspool's extra one, and two tokens).
    let mut txids = Vec::new();
    for i in 0..2 {
        let user = env.address(&USER1, &i.to_string());
        let out = env.act(
            &FEDERATION,
            "",
            &["refill", "--to", &user, "--fees", "0", "--tokens", "2"],
        );
        txids.push(out.txid);
    }
    // Now the tokens are spent (2 refills x 2): the third is refused with what it found.
    let user = env.address(&USER1, "9");
    let run = env.run(&[
        "refill",
        "--to",
        &user,
        "--fees",
        "0",
        "--tokens",
        "1",
        "--secret-env",
        FEDERATION.env,
        "--min-conf",
        "1",
    ]);
    run.assert_error("found 2 and 0 unreserved");
    let mempool = env.mempool();
    for txid in &txids {
        assert!(mempool.contains(txid));
    }
    env.mine(1);
    for txid in &txids {
        assert_eq!(env.confirmations(txid), 1);
    }
}
