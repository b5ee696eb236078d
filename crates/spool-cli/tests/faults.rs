//! Issue 12's concurrency and fault cases and issue 11's "never lose a broadcast", each
//! through the `spool` binary against a real regtest node. The concurrency cases run two
//! real `spool` processes and hold the window between reserving and broadcasting open with
//! the engine's documented test hook (`SPOOL_TEST_PAUSE_BEFORE_BROADCAST`).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use spool_cli::subcommand::{action, wait};
use support::{Env, Run, Scenario, Step, FEDERATION, USER1, USER2};

/// Funds the federation with `fees` fuel and `tokens` token outputs, confirmed.
fn fund_federation(env: &Env, fees: &str, tokens: &str) -> String {
    let federation = env.address(&FEDERATION, "");
    Scenario::funded(env, fees.parse().unwrap(), tokens.parse().unwrap());
    federation
}

/// Starts `spool --json ARGS` (signed by the federation) paused by the test hook before it
/// broadcasts; returns the child, the go-file and the txid it reserved.
fn start_paused(env: &Env, args: &[&str]) -> (Child, PathBuf, String) {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--secret-env", FEDERATION.env, "--min-conf", "1"]);
    spawn_paused(env, &format!("go-{}", args[0]), &all)
}

/// Starts `spool ARGS` (complete: signer included) paused by the test hook before it
/// broadcasts, with the go-file `NAME` in the data directory; waits until it has reserved.
fn spawn_paused(env: &Env, name: &str, args: &[&str]) -> (Child, PathBuf, String) {
    let go = env.data_path().join(name);
    let child = env
        .command(args)
        .env(spool_engine::PAUSE_BEFORE_BROADCAST, &go)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn spool");
    let reserved = PathBuf::from(format!("{}.reserved", go.display()));
    let started = Instant::now();
    while !reserved.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the paused process never reserved"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(50));
    let txid = std::fs::read_to_string(&reserved).unwrap();
    (child, go, txid)
}

/// Lets the paused process broadcast and returns what it did.
fn release(child: Child, go: &Path) -> Run {
    std::fs::write(go, b"go").unwrap();
    Run::from_output(child.wait_with_output().unwrap())
}

fn federation_run(env: &Env, args: &[&str]) -> Run {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--secret-env", FEDERATION.env, "--min-conf", "1"]);
    env.run(&all)
}

/// Issue 12 item 1: a second process never releases (and so never double-spends) the
/// outpoints of a first one that reserved them and has not broadcast yet. Exactly both
/// actions land.
#[test]
fn a_live_reservation_is_never_released_by_another_process() {
    let env = Env::start();
    fund_federation(&env, "6", "6");
    let user1 = env.address(&USER1, "");
    let user2 = env.address(&USER2, "");
    let refill =
        |to: &str| ["refill", "--to", to, "--fees", "1", "--tokens", "1"].map(String::from);
    let first_args = refill(&user1);
    let (child, go, first_txid) = start_paused(
        &env,
        &first_args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let second_args = refill(&user2);
    let second = federation_run(
        &env,
        &second_args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert!(second.ok, "second: {}", second.stderr);
    let second: action::Output = serde_json::from_str(&second.stdout).unwrap();
    let first = release(child, &go);
    assert!(first.ok, "first: {}", first.stderr);
    let first: action::Output = serde_json::from_str(&first.stdout).unwrap();
    assert_eq!(first.txid, first_txid);
    let mempool = env.mempool();
    assert!(mempool.contains(&first.txid), "first action lost");
    assert!(mempool.contains(&second.txid), "second action lost");
}

/// Issue 12 item 2: two concurrent registrations of one edition: exactly one lands, the
/// other is refused before anything is built, naming the pending transaction.
#[test]
fn concurrent_actions_on_one_edition_one_lands_the_other_is_refused() {
    let env = Env::start();
    let mut scenario = Scenario::funded(&env, 10, 20);
    let user1 = env.address(&USER1, "");
    let user2 = env.address(&USER2, "");
    let piece = "mhXeWEMLnEwVNnyqKrqUDPAYSuwhfyNXA7";
    scenario.federation(&Step::register(piece, &user1, 0));
    scenario.federation(&Step::editions(piece, &user1, 10));
    let (child, go, first_txid) = start_paused(
        &env,
        &[
            "register",
            "--piece",
            piece,
            "--to",
            &user1,
            "--edition",
            "2",
        ],
    );
    let mempool_before = env.mempool();
    let second = federation_run(
        &env,
        &[
            "register",
            "--piece",
            piece,
            "--to",
            &user2,
            "--edition",
            "2",
        ],
    );
    let mut second_plain = second;
    second_plain.stdout.clear();
    second_plain.assert_error(&format!(
        "edition 2 of piece {piece} has a pending action in transaction {first_txid}"
    ));
    assert_eq!(
        env.mempool(),
        mempool_before,
        "nothing broadcast by the refused one"
    );
    let first = release(child, &go);
    assert!(first.ok, "first: {}", first.stderr);
    assert!(env.mempool().contains(&first_txid));
    env.mine(1);
    let history: Value = env.json(&["history", piece, "--edition", "2"]);
    let registrations: Vec<&Value> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "REGISTER")
        .collect();
    assert_eq!(registrations.len(), 1, "{history}");
    assert_eq!(registrations[0]["valid"], true);
}

/// Issue 12 item 6: stdout on /dev/full after a broadcast: exit 4, the txid on stderr, the
/// transaction journalled and listed by `spool reservations list`; releasing it is refused
/// while it is in the mempool, and `--force` warns.
#[test]
fn a_broadcast_that_cannot_be_printed_exits_4_with_its_txid() {
    let env = Env::start();
    fund_federation(&env, "4", "4");
    let user1 = env.address(&USER1, "");
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let output = env
        .command(&[
            "--json",
            "refill",
            "--to",
            &user1,
            "--fees",
            "1",
            "--tokens",
            "1",
            "--secret-env",
            FEDERATION.env,
            "--min-conf",
            "1",
        ])
        .stdout(full)
        .output()
        .unwrap();
    let run = Run::from_output(output);
    assert_eq!(run.code, Some(4), "{run:?}");
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    let mempool = env.mempool();
    assert_eq!(mempool.len(), 1);
    let txid = &mempool[0];
    assert!(
        run.stderr
            .contains(&format!("transaction {txid} was broadcast")),
        "{}",
        run.stderr
    );

    let list: Value = env.json(&["reservations", "list"]);
    let entries = list["reservations"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{list}");
    assert_eq!(entries[0]["txid"], txid.as_str());
    assert_eq!(entries[0]["state"], "broadcast");
    let journal = std::fs::read_to_string(list["journal"].as_str().unwrap()).unwrap();
    assert!(journal.contains(txid.as_str()), "{journal}");

    let refused = env.run(&["reservations", "release", txid]);
    refused.assert_error("may still be in flight (it is in the node's mempool)");
    let forced = env.run(&["reservations", "release", txid, "--force"]);
    assert!(forced.ok, "{forced:?}");
    assert!(
        forced.stderr.starts_with("warning: releasing"),
        "{}",
        forced.stderr
    );
    let list: Value = env.json(&["reservations", "list"]);
    assert!(
        list["reservations"].as_array().unwrap().is_empty(),
        "{list}"
    );
}

/// Issue 11 item 4: `--wait` timing out after a broadcast (nobody mines) prints the output
/// with `broadcast: true, confirmed: false` and exits 3; `spool wait` returns once a block
/// is mined.
#[test]
fn wait_timeout_after_broadcast_exits_3_and_spool_wait_finishes_it() {
    let env = Env::start();
    fund_federation(&env, "4", "4");
    let user1 = env.address(&USER1, "");
    let run = env.run(&[
        "--json",
        "refill",
        "--to",
        &user1,
        "--fees",
        "1",
        "--tokens",
        "1",
        "--secret-env",
        FEDERATION.env,
        "--min-conf",
        "1",
        "--wait",
        "--wait-timeout",
        "2",
    ]);
    assert_eq!(run.code, Some(3), "{run:?}");
    let out: action::Output = serde_json::from_str(&run.stdout).unwrap();
    assert!(out.broadcast && !out.confirmed, "{out:?}");
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!("spool wait {}", out.txid)),
        "{}",
        run.stderr
    );
    assert!(env.mempool().contains(&out.txid));

    let waiter = env
        .command(&["--json", "wait", &out.txid, "--timeout", "120"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(1));
    env.mine(1);
    let waited = Run::from_output(waiter.wait_with_output().unwrap());
    assert!(waited.ok, "{waited:?}");
    let waited: wait::Output = serde_json::from_str(&waited.stdout).unwrap();
    assert_eq!(waited.txid, out.txid);
    assert_eq!(waited.confirmations, 1);
    let height: u64 = env
        .node
        .call("getblockcount", &[])
        .unwrap()
        .as_u64()
        .unwrap();
    assert_eq!(waited.block_height, Some(height));
    // Confirmed: its reservation is gone.
    let list: Value = env.json(&["reservations", "list"]);
    assert!(
        list["reservations"].as_array().unwrap().is_empty(),
        "{list}"
    );

    // A wait that cannot end: exit 3, the output still printed.
    let short = env.run(&[
        "--json",
        "wait",
        &out.txid,
        "--min-conf",
        "5",
        "--timeout",
        "1",
    ]);
    assert_eq!(short.code, Some(3), "{short:?}");
    let partial: wait::Output = serde_json::from_str(&short.stdout).unwrap();
    assert_eq!(partial.confirmations, 1);
}

/// Issue 12 item 3: a refill too big for one standard transaction is refused at once,
/// naming the limit (it used to abort on a 275 GB allocation, or take 24 s and 800 MB).
#[test]
fn oversized_refills_are_refused_at_once_naming_the_limit() {
    let env = Env::start();
    let user1 = env.address(&USER1, "");
    for (fees, tokens) in [
        ("4294967295", "4294967295"),
        ("100000000", "0"),
        ("10000000", "1"),
    ] {
        let run = env.run(&[
            "refill",
            "--to",
            &user1,
            "--fees",
            fees,
            "--tokens",
            tokens,
            "--dry-run",
            "--secret-env",
            FEDERATION.env,
        ]);
        run.assert_error(&format!(
            "outputs cannot fit in one standard transaction: at most {} outputs",
            spool_tx::MAX_REFILL_OUTPUTS
        ));
    }
}

/// Issue 12 items 4, 7 and 9: against a server that accepts and never answers, a call gives
/// up after `--rpc-timeout`, naming the URL (credentials removed) and the call; a URL that
/// is not one is refused before any lookup.
#[test]
fn a_node_that_never_answers_times_out_naming_url_and_call() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accept and hold connections without ever answering.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let run = |url: &str| {
        let started = Instant::now();
        let output = std::process::Command::new(support::SPOOL)
            .args([
                "--network",
                "regtest",
                "--rpc-timeout",
                "2",
                "--rpc-user",
                "alice",
            ])
            .arg("--rpc-url")
            .arg(url)
            .arg("--data-dir")
            .arg(dir.path())
            .args(["history", "mhXeWEMLnEwVNnyqKrqUDPAYSuwhfyNXA7"])
            .env("SPOOL_RPC_PASSWORD", "pw-in-env")
            .env("XDG_CONFIG_HOME", dir.path())
            .env_remove("SPOOL_CONFIG")
            .output()
            .unwrap();
        (Run::from_output(output), started.elapsed())
    };
    let (silent, took) = run(&format!("http://alice:s3cret-in-url@127.0.0.1:{port}"));
    assert!(took < Duration::from_secs(20), "took {took:?}");
    silent.assert_error(&format!(
        "http://***@127.0.0.1:{port} did not answer getblockchaininfo within 2s"
    ));
    assert!(!silent.stderr.contains("s3cret-in-url") && !silent.stderr.contains("pw-in-env"));

    let (bad, took) = run("not a url");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    bad.assert_error("--rpc-url \"not a url\" is not a URL");
}

/// Issue 12 item 9: a node that stops during `--wait` is reported unreachable (after the
/// engine's grace), not as a timeout after the whole wait; the output is still printed.
#[test]
fn a_node_stopping_during_wait_is_reported_unreachable() {
    let mut env = Env::start();
    fund_federation(&env, "4", "4");
    let user1 = env.address(&USER1, "");
    let child = env
        .command(&[
            "--json",
            "refill",
            "--to",
            &user1,
            "--fees",
            "1",
            "--tokens",
            "1",
            "--secret-env",
            FEDERATION.env,
            "--min-conf",
            "1",
            "--wait",
            "--wait-timeout",
            "600",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while env.mempool().is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "never broadcast"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    env.node.stop().unwrap();
    let stopped = Instant::now();
    let run = Run::from_output(child.wait_with_output().unwrap());
    let took = stopped.elapsed();
    assert!(
        took < spool_engine::UNREACHABLE_GRACE + Duration::from_secs(30),
        "took {took:?}"
    );
    assert_eq!(run.code, Some(3), "{run:?}");
    let out: action::Output = serde_json::from_str(&run.stdout).unwrap();
    assert!(out.broadcast && !out.confirmed);
    assert!(run.stderr.contains("cannot reach"), "{}", run.stderr);
    assert!(!run.stderr.contains("timed out"), "{}", run.stderr);
}

/// Issue 12 items 8 and 5 through the CLI: a bit flipped in the store refuses every action
/// with the remedy; the data directory is private whatever the umask.
#[test]
fn a_corrupt_store_names_the_remedy_and_the_store_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::start();
    fund_federation(&env, "6", "6");
    let user1 = env.address(&USER1, "");
    let refill = [
        "refill",
        "--to",
        &user1,
        "--fees",
        "1",
        "--tokens",
        "1",
        "--secret-env",
        FEDERATION.env,
        "--min-conf",
        "1",
    ];
    // Under umask 000.
    let mut command = std::process::Command::new("sh");
    command
        .args(["-c", "umask 000 && exec \"$0\" \"$@\""])
        .arg(support::SPOOL);
    let inner = env.command(&refill);
    command.args(inner.get_args());
    for (key, value) in inner.get_envs() {
        match value {
            Some(value) => command.env(key, value),
            None => command.env_remove(key),
        };
    }
    let run = Run::from_output(command.output().unwrap());
    assert!(run.ok, "{run:?}");
    let store = env.data_path().join("regtest");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&store), 0o700);
    for entry in std::fs::read_dir(&store).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }

    // Flip a digit of the refill's first record line in the log (line 2, after the header;
    // later lines follow it, so it is not a write cut short).
    let file = store.join("reservations.log");
    let mut bytes = std::fs::read(&file).unwrap();
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(text.lines().count() > 2, "{text}");
    let line2 = text.find('\n').unwrap() + 1;
    // Its second digit (a leading 0 would no longer be JSON).
    let at = line2 + text[line2..].find("\"reserved_at\":").unwrap() + 15;
    bytes[at] ^= 1;
    std::fs::write(&file, &bytes).unwrap();
    let mempool = env.mempool();
    let run = env.run(&refill);
    run.assert_error("is corrupt: its checksum does not match its content at line 2");
    assert!(
        run.stderr.contains(&format!("mv {}", file.display())),
        "{}",
        run.stderr
    );
    assert_eq!(env.mempool(), mempool, "nothing broadcast");
}

/// Issue 12 item 10: migrate refuses `--prev` equal to `--new`, and a `--prev` that does not
/// hold the edition; item 9: a fee rate typed in the wrong unit is echoed in sat/vB; a run
/// refused for the wrong network creates no data directory for it.
#[test]
fn migrate_refusals_fee_rate_unit_and_wrong_network() {
    let env = Env::start();
    let mut scenario = Scenario::funded(&env, 10, 20);
    let user1 = env.address(&USER1, "");
    let user2 = env.address(&USER2, "");
    let piece = "mhXeWEMLnEwVNnyqKrqUDPAYSuwhfyNXA7";
    scenario.federation(&Step::register(piece, &user1, 0));
    scenario.federation(&Step::editions(piece, &user1, 3));
    scenario.federation(&Step::register(piece, &user1, 1));
    let mempool = env.mempool();
    let migrate = |prev: &str, new: &str| {
        env.run(&[
            "migrate",
            "--piece",
            piece,
            "--prev",
            prev,
            "--new",
            new,
            "--edition",
            "1",
            "--secret-env",
            FEDERATION.env,
            "--min-conf",
            "1",
        ])
    };
    migrate(&user1, &user1).assert_error("--prev and --new are the same address");
    migrate(&user2, &user1).assert_error(&format!(
        "migrate refused: Address {user2} does not own the edition number 1"
    ));
    assert_eq!(env.mempool(), mempool, "nothing broadcast");

    env.run(&[
        "refill",
        "--to",
        &user1,
        "--fees",
        "1",
        "--tokens",
        "1",
        "--secret-env",
        FEDERATION.env,
        "--fee-rate",
        "1e9",
        "--dry-run",
    ])
    .assert_error("fee rate 1000000000 sat/vB is not usable");

    let wrong = std::process::Command::new(support::SPOOL)
        .args(["--network", "testnet", "--rpc-url"])
        .arg(env.node.rpc_url())
        .arg("--rpc-cookie")
        .arg(env.node.cookie_file())
        .arg("--data-dir")
        .arg(env.data_path())
        .args([
            "refill",
            "--to",
            "mhRJqLG3BwXXG7YADQD3Ng3c6coZVwoFo6",
            "--fees",
            "1",
            "--tokens",
            "1",
            "--secret-env",
            FEDERATION.env,
        ])
        .env(FEDERATION.env, FEDERATION.secret)
        .env("XDG_CONFIG_HOME", env.data_path().join("no-config"))
        .env_remove("SPOOL_CONFIG")
        .output()
        .unwrap();
    let wrong = Run::from_output(wrong);
    wrong.assert_error("serves the \"regtest\" chain, not testnet");
    assert!(
        !env.data_path().join("testnet").exists(),
        "a testnet data directory was made"
    );
}

/// Issue 12 item 7: a `--secret-env` value that is not a variable name is not echoed; the
/// variable and the file follow one newline rule (same wallet either way).
#[test]
fn secret_sources_follow_one_rule_and_are_never_echoed() {
    let env = Env::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secret");
    std::fs::write(&file, "federation secret\n").unwrap();
    let from_file: Value =
        env.json(&["wallet", "address", "--secret-file", file.to_str().unwrap()]);
    let from_env = env
        .command(&[
            "--json",
            "wallet",
            "address",
            "--secret-env",
            "NEWLINE_SECRET",
        ])
        .env("NEWLINE_SECRET", "federation secret\n")
        .output()
        .unwrap();
    let from_env: Value = serde_json::from_slice(&from_env.stdout).unwrap();
    assert_eq!(from_file["address"], from_env["address"]);
    assert_eq!(from_file["address"], env.address(&FEDERATION, "").as_str());

    let run = env.run(&["wallet", "address", "--secret-env", "correct horse battery"]);
    run.assert_error("is not a valid environment variable name");
    assert!(!run.stderr.contains("horse"), "{}", run.stderr);

    let run = env.run(&["wallet", "address", "--secret-file", file.to_str().unwrap()]);
    assert!(run.ok);
    assert!(
        run.stderr.contains("can be read by other users"),
        "{}",
        run.stderr
    );
}

/// Issue 11 item 6 and issue 12 item 9: `-v` logs each RPC call with its duration, without
/// colour codes when stderr is not a terminal; a 100 KB input with control bytes is echoed
/// as a short, escaped prefix.
#[test]
fn verbose_logs_rpc_calls_plainly_and_errors_stay_short() {
    let env = Env::start();
    let run = env.run(&["-v", "history", "mhXeWEMLnEwVNnyqKrqUDPAYSuwhfyNXA7"]);
    assert!(run.ok, "{run:?}");
    let calls: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("rpc call") || l.contains("rpc batch"))
        .collect();
    assert!(
        calls
            .iter()
            .any(|l| l.contains("method=\"scantxoutset\"") || l.contains("method=scantxoutset")),
        "{}",
        run.stderr
    );
    assert!(
        calls.iter().all(|l| l.contains("elapsed_ms=")),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains('\u{1b}'),
        "colour codes on a pipe: {:?}",
        run.stderr
    );

    let huge = format!("\u{1b}[31m{}", "A\u{7}".repeat(50_000));
    let run = env.run(&["verb", "decode", &huge]);
    run.assert_error("");
    assert!(
        run.stderr.len() < 1024,
        "{} bytes on stderr",
        run.stderr.len()
    );
    assert!(!run.stderr.contains('\u{1b}') && !run.stderr.contains('\u{7}'));
    assert!(run.stderr.contains("more characters)"), "{}", run.stderr);
}

/// Issue 12 item 2, the owner's case: two concurrent transfers of one edition by its owner:
/// one lands, the other is refused.
#[test]
fn concurrent_transfers_of_one_edition_one_lands() {
    let env = Env::start();
    let mut scenario = Scenario::funded(&env, 10, 20);
    let user1 = env.address(&USER1, "");
    let user2 = env.address(&USER2, "");
    let piece = "mhXeWEMLnEwVNnyqKrqUDPAYSuwhfyNXA7";
    scenario.federation(&Step::register(piece, &user1, 0));
    scenario.federation(&Step::editions(piece, &user1, 3));
    scenario.federation(&Step::register(piece, &user1, 1));
    scenario.refill(&user1, 3, 3);
    let transfer = |to: &str| {
        vec![
            "--json".to_owned(),
            "transfer".to_owned(),
            "--piece".to_owned(),
            piece.to_owned(),
            "--to".to_owned(),
            to.to_owned(),
            "--edition".to_owned(),
            "1".to_owned(),
            "--secret-env".to_owned(),
            USER1.env.to_owned(),
            "--min-conf".to_owned(),
            "1".to_owned(),
        ]
    };
    let (first, go, first_txid) = spawn_paused(
        &env,
        "go-transfer",
        &transfer(&user2)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    let stranger = env.address(&support::STRANGER, "");
    let second = env.run(
        &transfer(&stranger)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    let mut second = second;
    second.stdout.clear();
    second.assert_error(&format!(
        "edition 1 of piece {piece} has a pending action in transaction {first_txid}"
    ));
    let first = release(first, &go);
    assert!(first.ok, "{first:?}");
    assert_eq!(env.mempool(), vec![first_txid]);
}

/// Issue 12 item 1, the other half: while its process lives, a reserved transaction cannot
/// be released by hand without `--force`; once that process is killed (-9) before
/// broadcasting, its reservation and claim are released by the next action, which lands.
#[test]
fn a_killed_processs_reservation_and_claim_are_released() {
    let env = Env::start();
    let mut scenario = Scenario::funded(&env, 10, 20);
    let user1 = env.address(&USER1, "");
    let user2 = env.address(&USER2, "");
    let piece = "mhXeWEMLnEwVNnyqKrqUDPAYSuwhfyNXA7";
    scenario.federation(&Step::register(piece, &user1, 0));
    scenario.federation(&Step::editions(piece, &user1, 3));
    let (mut child, _go, txid) = start_paused(
        &env,
        &[
            "register",
            "--piece",
            piece,
            "--to",
            &user1,
            "--edition",
            "2",
        ],
    );
    let refused = env.run(&["reservations", "release", &txid]);
    refused.assert_error(&format!(
        "may still be in flight (process {} reserved it and has not finished broadcasting)",
        child.id()
    ));
    child.kill().unwrap();
    child.wait().unwrap();
    let list: Value = env.json(&["reservations", "list"]);
    assert_eq!(list["reservations"][0]["owner_alive"], false, "{list}");

    let run = federation_run(
        &env,
        &[
            "register",
            "--piece",
            piece,
            "--to",
            &user2,
            "--edition",
            "2",
        ],
    );
    assert!(run.ok, "{}", run.stderr);
    let out: action::Output = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(env.mempool(), vec![out.txid.clone()]);
    let list: Value = env.json(&["reservations", "list"]);
    let entries = list["reservations"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{list}");
    assert_eq!(entries[0]["txid"], out.txid.as_str());
}
