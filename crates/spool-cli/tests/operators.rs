//! Two operators, one federation wallet, one `spool serve` (issue 18, items 1 and 2): two
//! real `spool` processes with two data directories act at the same moment through the
//! server. The server holds their reservations: on the same edition, exactly one
//! registration lands and the other is refused up front (exit 2, naming the pending
//! transaction), whatever its fee rate; on different editions both land, never on the same
//! outputs. Reservations survive a `kill -9` of the server between a reservation and its
//! broadcast, and a lapsed lease releases the reservation of an operator that died.

mod serving;
mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use serving::{Parties, Server};
use spool_cli::subcommand::{action, history};
use support::{Env, Run, Scenario, FEDERATION, SPOOL};

/// A `spool` command for the operator whose data directory is `dir`, through `server`.
fn operator(env: &Env, dir: &Path, server: &Server, args: &[&str]) -> Command {
    let mut command = env.node.spool_command(Path::new(SPOOL), dir);
    command
        .args(["--json", "--server", &server.url])
        .args(args)
        .args(["--secret-env", FEDERATION.env, "--min-conf", "1"])
        .env(FEDERATION.env, FEDERATION.secret)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

fn register(piece: &str, to: &str, edition: u64) -> Vec<String> {
    [
        "register",
        "--piece",
        piece,
        "--to",
        to,
        "--edition",
        &edition.to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn spawn(env: &Env, dir: &Path, server: &Server, args: &[String]) -> Child {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    operator(env, dir, server, &args)
        .spawn()
        .expect("spawn spool")
}

fn inputs(env: &Env, txid: &str) -> Vec<String> {
    let tx = env
        .node
        .call("getrawtransaction", &[Value::from(txid), Value::from(true)])
        .expect("getrawtransaction");
    tx["vin"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| format!("{}:{}", i["txid"].as_str().unwrap(), i["vout"]))
        .collect()
}

#[test]
fn two_operators_on_one_server_never_double_register_nor_share_outputs() {
    let env = Env::start();
    let p = Parties::new(&env);
    Scenario::funded(&env, 80, 160);
    let server = Server::start(&env, &["--watch", &p.federation]);
    server.wait_synced(&env);
    let a = env.data_path().join("operator-a");
    let b = env.data_path().join("operator-b");
    // The piece's master edition and editions, then the rounds.
    for step in [
        register(&p.piece, &p.user1, 0),
        [
            "editions", "--piece", &p.piece, "--to", &p.user1, "--count", "40",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
    ] {
        let run = Run::from_output(spawn(&env, &a, &server, &step).wait_with_output().unwrap());
        assert!(run.ok, "{}", run.stderr);
        env.mine(1);
        server.wait_synced(&env);
    }

    let mut told_done: Vec<String> = Vec::new();
    // 20 rounds on the same edition, and one more where the second pays a higher fee rate.
    for round in 1..=21u64 {
        let args = register(&p.piece, &p.user1, round);
        let mut second = args.clone();
        if round == 21 {
            second.extend(["--fee-rate".to_string(), "50".to_string()]);
        }
        let first = spawn(&env, &a, &server, &args);
        let other = spawn(&env, &b, &server, &second);
        let runs = [
            Run::from_output(first.wait_with_output().unwrap()),
            Run::from_output(other.wait_with_output().unwrap()),
        ];
        let landed: Vec<&Run> = runs.iter().filter(|r| r.ok).collect();
        assert_eq!(
            landed.len(),
            1,
            "round {round}: exactly one lands: {runs:?}"
        );
        let refused = runs.iter().find(|r| !r.ok).unwrap();
        assert_eq!(
            refused.code,
            Some(2),
            "round {round}: refused up front: {refused:?}"
        );
        let out: action::Output = serde_json::from_str(&landed[0].stdout).unwrap();
        assert!(
            refused.stderr.contains(&format!(
                "edition {round} of piece {} has a pending action in transaction {}",
                p.file_hash, out.txid
            )),
            "round {round}: the refusal names the pending transaction: {}",
            refused.stderr
        );
        assert!(
            !refused.stderr.contains("rejecting replacement"),
            "{}",
            refused.stderr
        );
        told_done.push(out.txid);
        if round % 5 == 0 {
            env.mine(1);
            server.wait_synced(&env);
        }
    }

    // Different editions at the same moment: both land, on different outputs.
    let mut spent = BTreeSet::new();
    for round in 0..5u64 {
        let children = [
            spawn(
                &env,
                &a,
                &server,
                &register(&p.piece, &p.user1, 22 + 2 * round),
            ),
            spawn(
                &env,
                &b,
                &server,
                &register(&p.piece, &p.user1, 23 + 2 * round),
            ),
        ];
        for child in children {
            let run = Run::from_output(child.wait_with_output().unwrap());
            assert!(run.ok, "round {round}: {}", run.stderr);
            let out: action::Output = serde_json::from_str(&run.stdout).unwrap();
            for input in inputs(&env, &out.txid) {
                assert!(spent.insert(input.clone()), "{input} spent twice");
            }
            told_done.push(out.txid);
        }
    }
    env.mine(1);
    server.wait_synced(&env);

    // Every transaction an operator was told is done confirmed: none was replaced.
    for txid in &told_done {
        assert!(
            env.confirmations(txid) > 0,
            "{txid} was replaced or dropped"
        );
    }
    let h: history::Output = env.json(&["history", &p.file_hash, "--federation", &p.federation]);
    let mut registered = BTreeSet::new();
    for event in h.events.iter().filter(|e| e.action == "REGISTER") {
        assert!(
            registered.insert(event.edition_number),
            "edition {:?} registered twice",
            event.edition_number
        );
    }
    assert_eq!(
        registered.len(),
        1 + 21 + 10,
        "master, 21 rounds, 10 editions"
    );
    // Confirmed: the server releases them at its next sweep (GET reservations sweeps).
    let held = server.json("/api/v1/reservations");
    assert_eq!(held["reservations"].as_array().unwrap().len(), 0, "{held}");
}

/// Waits until `path` exists (the engine's pause hook writes `<go>.reserved`).
fn wait_for(path: &Path, child: &mut Child) {
    let started = Instant::now();
    while !path.exists() {
        if let Ok(Some(status)) = child.try_wait() {
            let mut stderr = String::new();
            if let Some(mut pipe) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
            }
            panic!("the operator exited ({status}) before reserving: {stderr}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(25));
    }
    std::thread::sleep(Duration::from_millis(50));
}

#[test]
fn reservations_survive_a_kill_9_of_the_server_and_a_lapsed_lease_releases_them() {
    let env = Env::start();
    let p = Parties::new(&env);
    Scenario::funded(&env, 10, 20);
    let a = env.data_path().join("operator-a");
    let b = env.data_path().join("operator-b");
    let server = Server::start(&env, &["--watch", &p.federation]);
    server.wait_synced(&env);
    let master = spawn(&env, &a, &server, &register(&p.piece, &p.user1, 0));
    assert!(Run::from_output(master.wait_with_output().unwrap()).ok);
    env.mine(1);
    server.wait_synced(&env);

    // Operator A reserves (through the server) and pauses before its broadcast.
    let go: PathBuf = env.data_path().join("go-a");
    let mut paused = {
        let args = [
            "editions", "--piece", &p.piece, "--to", &p.user1, "--count", "5",
        ];
        let mut command = operator(&env, &a, &server, &args);
        command.env(spool_engine::PAUSE_BEFORE_BROADCAST, &go);
        command.spawn().expect("spawn operator A")
    };
    wait_for(
        &PathBuf::from(format!("{}.reserved", go.display())),
        &mut paused,
    );
    let held = server.json("/api/v1/reservations");
    let reservations = held["reservations"].as_array().unwrap().clone();
    assert_eq!(reservations.len(), 1, "{held}");
    let a_outpoints: BTreeSet<String> = reservations[0]["outpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o.as_str().unwrap().to_owned())
        .collect();

    // kill -9 of the server, then a restart: the reservation is still held.
    let url = server.url.clone();
    server.kill9();
    let port = url.rsplit(':').next().unwrap().to_owned();
    let server = Server::start_at(
        &env,
        &format!("127.0.0.1:{port}"),
        &["--watch", &p.federation],
    );
    server.wait_synced(&env);
    let after = server.json("/api/v1/reservations");
    assert_eq!(
        after["reservations"],
        Value::from(reservations.clone()),
        "{after}"
    );

    // Operator B acts meanwhile: never on A's outputs.
    let b_run = Run::from_output(
        spawn(
            &env,
            &b,
            &server,
            &[
                "refill",
                "--to",
                &p.user2_leaf,
                "--fees",
                "1",
                "--tokens",
                "1",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>(),
        )
        .wait_with_output()
        .unwrap(),
    );
    assert!(b_run.ok, "{}", b_run.stderr);
    let b_out: action::Output = serde_json::from_str(&b_run.stdout).unwrap();
    for input in inputs(&env, &b_out.txid) {
        assert!(
            !a_outpoints.contains(&input),
            "B spent A's reserved {input}"
        );
    }

    // A goes on: its broadcast reaches the restarted server and lands.
    std::fs::write(&go, b"go").unwrap();
    let a_run = Run::from_output(paused.wait_with_output().unwrap());
    assert!(a_run.ok, "{}", a_run.stderr);
    let a_out: action::Output = serde_json::from_str(&a_run.stdout).unwrap();
    env.mine(1);
    server.wait_synced(&env);
    assert!(env.confirmations(&a_out.txid) > 0 && env.confirmations(&b_out.txid) > 0);
    drop(server);

    // An operator that dies after reserving: its reservation lapses with the lease. Leases
    // count whole seconds from the second the reservation was taken in, so a lease of N
    // lapses between N - 1 and N seconds after it: 3 leaves the check below 2 s at least
    // (with 1, a loaded machine crossing a second boundary saw it lapse already).
    let server = Server::start(
        &env,
        &["--watch", &p.federation, "--reservation-lease", "3"],
    );
    server.wait_synced(&env);
    let go = env.data_path().join("go-dead");
    let mut dying = {
        let args = register(&p.piece, &p.user1, 1);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut command = operator(&env, &b, &server, &args);
        command.env(spool_engine::PAUSE_BEFORE_BROADCAST, &go);
        command.spawn().expect("spawn the dying operator")
    };
    wait_for(
        &PathBuf::from(format!("{}.reserved", go.display())),
        &mut dying,
    );
    dying.kill().expect("kill -9 the operator");
    let _ = dying.wait();
    assert_eq!(
        server.json("/api/v1/reservations")["reservations"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    std::thread::sleep(Duration::from_millis(4_100));
    let lapsed = server.json("/api/v1/reservations");
    assert_eq!(
        lapsed["reservations"].as_array().unwrap().len(),
        0,
        "{lapsed}"
    );
}
