//! Fee bumps against a real regtest node: a low-rate REGISTER replaced in the mempool by
//! `spool bump` and confirmed, with one event in the history and nothing left reserved;
//! the refusals (confirmed, unknown, already replaced); and a bump killed (SIGKILL) between
//! its journal line and its broadcast, through the engine's documented test hook
//! `SPOOL_TEST_PAUSE_BEFORE_BROADCAST` (for a bump it pauses after the journal line):
//! the store stays consistent, no second action gets through, and running the bump again
//! sends the journalled replacement. The explorer of `spool serve` says "replaced by" on the
//! page of a bumped transaction.

mod serving;
mod support;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serving::Server;
use spool_cli::subcommand::reservations::ListOutput;
use spool_cli::subcommand::{action, bump, history};
use support::{Env, Scenario, FEDERATION, STRANGER, USER1};

fn low_register(env: &Env, piece: &str, to: &str, edition: u64) -> action::Output {
    env.json(&[
        "register",
        "--piece",
        piece,
        "--to",
        to,
        "--edition",
        &edition.to_string(),
        "--fee-rate",
        "1",
        "--secret-env",
        FEDERATION.env,
        "--min-conf",
        "1",
    ])
}

fn bump_args(txid: &str) -> Vec<String> {
    [
        "bump",
        txid,
        "--fee-rate",
        "70",
        "--secret-env",
        FEDERATION.env,
        "--min-conf",
        "1",
    ]
    .map(String::from)
    .to_vec()
}

fn registers(env: &Env, piece: &str, edition: u64) -> Vec<String> {
    let h: history::Output = env.json(&["history", piece, "--edition", &edition.to_string()]);
    h.events
        .iter()
        .filter(|e| e.verb == format!("ASCRIBESPOOL01REGISTER{edition}"))
        .map(|e| e.txid.clone())
        .collect()
}

fn list(env: &Env) -> ListOutput {
    env.json(&["reservations", "list"])
}

#[test]
fn bump_replaces_a_low_rate_register_which_confirms_once() {
    let env = Env::start();
    let piece = env.address(&STRANGER, "9/4");
    let user1 = env.address(&USER1, "");
    let mut scenario = Scenario::funded(&env, 20, 40);
    scenario.register_piece(&piece, &user1, 10);
    let refill_main = scenario.sent[0].clone();

    let low = low_register(&env, &piece, &user1, 1);
    let args = bump_args(&low.txid);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let bumped: bump::Output = env.json(&args);
    assert!(bumped.broadcast);
    assert_eq!(bumped.replaces, low.txid);
    assert_eq!(bumped.verb, low.verb);
    assert!(bumped.fee > low.fee, "{} <= {}", bumped.fee, low.fee);
    let rate = |hex: &str, fee: u64| {
        let tx: bitcoin::Transaction = bitcoin::consensus::encode::deserialize_hex(hex).unwrap();
        fee as f64 / tx.vsize() as f64
    };
    assert!(rate(&bumped.hex, bumped.fee) >= 70.0);
    assert!(rate(&bumped.hex, bumped.fee) > rate(&low.hex, low.fee));
    let mempool = env.mempool();
    assert!(
        mempool.contains(&bumped.txid),
        "the replacement is in the mempool"
    );
    assert!(!mempool.contains(&low.txid), "the original left it");
    // The replacement holds the reservation and claim; the original's record is gone.
    let reservations = list(&env).reservations;
    assert!(reservations.iter().all(|r| r.txid != low.txid));
    let record = reservations
        .iter()
        .find(|r| r.txid == bumped.txid)
        .expect("the replacement is reserved");
    let low_tx: bitcoin::Transaction =
        bitcoin::consensus::encode::deserialize_hex(&low.hex).unwrap();
    for input in &low_tx.input {
        assert!(record
            .outpoints
            .contains(&input.previous_output.to_string()));
    }
    let bumped_tx: bitcoin::Transaction =
        bitcoin::consensus::encode::deserialize_hex(&bumped.hex).unwrap();
    assert_eq!(
        bumped_tx.output, low_tx.output,
        "the same outputs in the same order"
    );
    assert!(bumped_tx.input.len() > low_tx.input.len(), "more fuel");
    assert_eq!(record.outpoints.len(), bumped_tx.input.len());
    assert_eq!(record.claims.len(), 1);

    // Refusals, nothing sent: already replaced, confirmed, unknown.
    let again = env.run(&args);
    again.assert_error(&format!("already replaced by {}", bumped.txid));
    assert_eq!(again.code, Some(2));
    let confirmed = bump_args(&refill_main);
    let confirmed: Vec<&str> = confirmed.iter().map(String::as_str).collect();
    env.run(&confirmed).assert_error("it is confirmed");
    let unknown = bump_args(&"11".repeat(32));
    let unknown: Vec<&str> = unknown.iter().map(String::as_str).collect();
    env.run(&unknown)
        .assert_error("unknown to this data directory");
    assert_eq!(env.mempool(), mempool);

    env.mine(1);
    let _: serde_json::Value = env.json(&["wait", &bumped.txid]);
    assert_eq!(
        registers(&env, &piece, 1),
        std::slice::from_ref(&bumped.txid),
        "one REGISTER1"
    );
    let reservations = list(&env).reservations;
    assert!(
        reservations
            .iter()
            .all(|r| r.txid != low.txid && r.txid != bumped.txid),
        "{reservations:?}"
    );

    // With the key off the online machine: the bump as a PSBT (only its new fuel is
    // reserved until its signed form is broadcast), signed elsewhere, then broadcast.
    let low = low_register(&env, &piece, &user1, 3);
    let xpub: spool_cli::subcommand::wallet::XpubOutput =
        env.json(&["wallet", "xpub", "--secret-env", FEDERATION.env]);
    let dir = tempfile::tempdir().unwrap();
    let unsigned_file = dir.path().join("bump.psbt");
    let signed_file = dir.path().join("bump.signed.psbt");
    let mut command = env.command(&[
        "--json",
        "bump",
        &low.txid,
        "--fee-rate",
        "70",
        "--min-conf",
        "1",
        "--psbt-out",
        unsigned_file.to_str().unwrap(),
        "--xpub",
        &xpub.xpub,
    ]);
    command.env_remove(FEDERATION.env);
    let run = support::Run::from_output(command.output().unwrap());
    assert!(run.ok, "{run:?}");
    let unsigned: bump::Output = serde_json::from_str(&run.stdout).unwrap();
    assert!(!unsigned.broadcast);
    assert!(env.mempool().contains(&low.txid));
    assert!(
        list(&env).reservations.iter().any(|r| r.txid == low.txid),
        "the original keeps its reservation"
    );
    let signed: spool_cli::subcommand::sign::Output = env.json(&[
        "sign",
        unsigned_file.to_str().unwrap(),
        "--out",
        signed_file.to_str().unwrap(),
        "--secret-env",
        FEDERATION.env,
    ]);
    assert_eq!(signed.unsigned_txid, unsigned.txid);
    let sent: action::Output = env.json(&["broadcast", signed_file.to_str().unwrap()]);
    assert_eq!(sent.txid, signed.txid);
    let mempool = env.mempool();
    assert!(mempool.contains(&sent.txid) && !mempool.contains(&low.txid));
    let reservations = list(&env).reservations;
    assert!(reservations
        .iter()
        .all(|r| r.txid != low.txid && r.txid != unsigned.txid));
    let record = reservations.iter().find(|r| r.txid == sent.txid).unwrap();
    assert_eq!(record.claims.len(), 1, "the claim moved to the signed bump");
    env.mine(1);
    let _: serde_json::Value = env.json(&["wait", &sent.txid]);
    assert_eq!(registers(&env, &piece, 3), std::slice::from_ref(&sent.txid));
    assert!(list(&env).reservations.iter().all(|r| r.txid != sent.txid));
}

#[test]
fn bump_killed_between_journal_and_broadcast_stays_consistent() {
    let env = Env::start();
    let piece = env.address(&STRANGER, "9/5");
    let user1 = env.address(&USER1, "");
    let mut scenario = Scenario::funded(&env, 20, 40);
    scenario.register_piece(&piece, &user1, 10);
    let low = low_register(&env, &piece, &user1, 2);

    // The bump, paused by the hook after its journal line, then killed with SIGKILL.
    let go = env.data_path().join("go-bump");
    let mut all = vec!["--json".to_owned()];
    all.extend(bump_args(&low.txid));
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    let mut child = env
        .command(&all)
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
            "the bump never paused"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(50));
    let replacement = std::fs::read_to_string(&reserved).unwrap();
    child.kill().expect("SIGKILL");
    let status = child.wait().unwrap();
    assert!(!status.success());

    // Consistent: the replacement is journalled and holds the original's outpoints and
    // claim; the original is still the one in the mempool.
    let listed = list(&env);
    let journal = std::fs::read_to_string(&listed.journal).unwrap();
    assert!(journal.contains(&replacement), "the bump's journal line");
    assert!(listed.reservations.iter().all(|r| r.txid != low.txid));
    let record = listed
        .reservations
        .iter()
        .find(|r| r.txid == replacement)
        .expect("the replacement's reservation");
    let low_tx: bitcoin::Transaction =
        bitcoin::consensus::encode::deserialize_hex(&low.hex).unwrap();
    for input in &low_tx.input {
        assert!(record
            .outpoints
            .contains(&input.previous_output.to_string()));
    }
    let mempool = env.mempool();
    assert!(mempool.contains(&low.txid));
    assert!(!mempool.contains(&replacement));

    // No double action: the claim is still held (even without the pre-check) ...
    env.run(&[
        "register",
        "--piece",
        &piece,
        "--to",
        &user1,
        "--edition",
        "2",
        "--no-check",
        "--secret-env",
        FEDERATION.env,
        "--min-conf",
        "1",
    ])
    .assert_error("pending action");
    // ... and settling (an unrelated action) keeps it while the original is pending.
    let user1_leaf = env.address(&USER1, "1");
    scenario.unmined().refill(&user1_leaf, 1, 1);
    assert!(list(&env)
        .reservations
        .iter()
        .any(|r| r.txid == replacement));
    assert!(env.mempool().contains(&low.txid), "the original is pending");

    // Running the bump again sends the journalled replacement.
    let args = bump_args(&low.txid);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let resent: bump::Output = env.json(&args);
    assert_eq!(resent.txid, replacement);
    let mempool = env.mempool();
    assert!(mempool.contains(&replacement));
    assert!(!mempool.contains(&low.txid));
    env.mine(1);
    let _: serde_json::Value = env.json(&["wait", &replacement]);
    assert_eq!(
        registers(&env, &piece, 2),
        std::slice::from_ref(&replacement),
        "one REGISTER2"
    );
    assert!(list(&env)
        .reservations
        .iter()
        .all(|r| r.txid != low.txid && r.txid != replacement));
}

/// Polls the explorer page `path` (at most 30 s) until its body contains `needle`.
fn page_with(server: &Server, path: &str, needle: &str) -> String {
    let started = Instant::now();
    loop {
        let (status, body) = server.get(path);
        if status == 200 && body.contains(needle) {
            return body;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "GET {path} never showed {needle:?} within 30 s: {status} {body}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_explorer_says_replaced_by_on_a_bumped_transaction() {
    let env = Env::start();
    let piece = env.address(&STRANGER, "9/5");
    let user1 = env.address(&USER1, "");
    let mut scenario = Scenario::funded(&env, 20, 40);
    scenario.register_piece(&piece, &user1, 10);
    let server = Server::start(&env, &[]);
    server.wait_synced(&env);

    let low = low_register(&env, &piece, &user1, 2);
    let low_page = format!("/tx/{}", low.txid);
    page_with(&server, &low_page, "(in the mempool)");
    let args = bump_args(&low.txid);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let bumped: bump::Output = env.json(&args);
    assert!(bumped.broadcast);

    let link = format!(
        r#"Replaced by <a class="hash" href="/tx/{0}">{0}</a>"#,
        bumped.txid
    );
    let body = page_with(&server, &low_page, &link);
    assert!(
        body.contains("(replaced: no longer in the mempool)"),
        "{body}"
    );
    assert!(
        body.contains("ASCRIBESPOOL01REGISTER2"),
        "the original's verb is shown"
    );
    let (status, replacement) = server.get(&format!("/tx/{}", bumped.txid));
    assert_eq!(status, 200);
    assert!(!replacement.contains("replaced-by"), "{replacement}");

    // Once the replacement confirms, the original's page still says what became of it, and
    // the history holds the replacement only.
    env.mine(1);
    server.wait_synced(&env);
    page_with(&server, &format!("/tx/{}", bumped.txid), "(block ");
    let body = page_with(&server, &low_page, &link);
    assert!(
        body.contains(r#"<span id="confirmations">0</span>"#),
        "{body}"
    );
    let history = server.json(&format!("/api/v1/piece/{piece}/history"));
    let text = history.to_string();
    assert!(text.contains(&bumped.txid), "{text}");
    assert!(!text.contains(&low.txid), "{text}");
}
