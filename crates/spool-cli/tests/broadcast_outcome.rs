//! A broadcast whose answer is lost is never reported as a plain failure (issue 17, item 3):
//! the outcome is learned (asking for the transaction, sending it again) or reported with
//! exit code 5 and the txid. And a refusal because the outputs are already spent is told in
//! our words (item 5).
//!
//! The windows are opened deterministically: `spool serve`'s test hook
//! `SPOOL_TEST_ABORT_AFTER_BROADCAST` aborts the server right after its node took the
//! transaction; for a direct node connection, a proxy between `spool` and the node forwards
//! `sendrawtransaction` and drops the connection instead of relaying the answer.

mod serving;
mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::Value;
use serving::{Parties, Server};
use support::{Env, Scenario, FEDERATION, SPOOL};

/// The federation funded through the node directly; the parties of the walkthrough.
fn funded(env: &Env) -> Parties {
    funded_with(env, "5", "10")
}

/// The federation funded with `fees` fuel and `tokens` token outputs.
fn funded_with(env: &Env, fees: &str, tokens: &str) -> Parties {
    let p = Parties::new(env);
    Scenario::funded(env, fees.parse().unwrap(), tokens.parse().unwrap());
    p
}

fn register_args<'a>(p: &'a Parties, edition: &'a str) -> Vec<&'a str> {
    vec![
        "--json",
        "register",
        "--piece",
        &p.piece,
        "--to",
        &p.user1,
        "--edition",
        edition,
        "--secret-env",
        FEDERATION.env,
        "--min-conf",
        "1",
    ]
}

/// The txid named on an error line.
fn txid_in(stderr: &str) -> String {
    stderr
        .split(|c: char| !c.is_ascii_hexdigit())
        .find(|w| w.len() == 64)
        .unwrap_or_else(|| panic!("no txid in {stderr:?}"))
        .to_owned()
}

#[test]
fn a_server_killed_after_forwarding_gives_exit_5_with_the_txid() {
    let env = Env::start();
    let p = funded(&env);
    let server = Server::start_with_env(
        &env,
        &["--watch", &p.federation],
        &[("SPOOL_TEST_ABORT_AFTER_BROADCAST", "1")],
    );
    server.wait_synced(&env);
    let url = server.url.clone();
    let run = env.run(&[&["--server", url.as_str()][..], &register_args(&p, "0")].concat());
    assert_eq!(run.code, Some(5), "exit 5, never 1: {}", run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(
        run.stderr.contains("may have been broadcast") && run.stderr.contains("spool wait"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    let txid = txid_in(&run.stderr);
    assert!(
        env.mempool().contains(&txid),
        "the transaction the client could not confirm is in the node's mempool"
    );
    // The data directory remembers it: reserved and journalled.
    let listed: Value = env.json(&["reservations", "list"]);
    assert!(listed.to_string().contains(&txid), "{listed}");
}

/// A proxy to the node that forwards every request; the first `sendrawtransaction` is
/// forwarded, but its answer is dropped with the connection. With `dead_after`, every later
/// connection is refused too, and every connection already open is cut at its next request
/// (the node stays unreachable: spool's node client keeps two connections).
struct Proxy {
    url: String,
}

impl Proxy {
    fn start(node_addr: std::net::SocketAddr, dead_after: bool) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let dropped = Arc::new(AtomicBool::new(false));
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if dead_after && dropped.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let dropped = dropped.clone();
                std::thread::spawn(move || serve(client, node_addr, &dropped, dead_after));
            }
        });
        Proxy { url }
    }
}

/// One HTTP/1.1 message (head and body by Content-Length), or None at the end.
fn read_message(reader: &mut BufReader<TcpStream>) -> Option<Vec<u8>> {
    let mut head = Vec::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().ok()?;
        }
        head.extend_from_slice(line.as_bytes());
        if line == "\r\n" {
            break;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    head.extend_from_slice(&body);
    Some(head)
}

fn serve(
    client: TcpStream,
    node_addr: std::net::SocketAddr,
    dropped: &AtomicBool,
    dead_after: bool,
) {
    let mut to_client = client.try_clone().unwrap();
    let mut from_client = BufReader::new(client);
    let upstream = TcpStream::connect(node_addr).unwrap();
    let mut to_node = upstream.try_clone().unwrap();
    let mut from_node = BufReader::new(upstream);
    while let Some(request) = read_message(&mut from_client) {
        if dead_after && dropped.load(Ordering::SeqCst) {
            let _ = to_client.shutdown(std::net::Shutdown::Both);
            return;
        }
        to_node.write_all(&request).unwrap();
        let Some(reply) = read_message(&mut from_node) else {
            return;
        };
        let sends = String::from_utf8_lossy(&request).contains("sendrawtransaction");
        if sends && !dropped.swap(true, Ordering::SeqCst) {
            // The node took it; the client never hears so.
            let _ = to_client.shutdown(std::net::Shutdown::Both);
            return;
        }
        if to_client.write_all(&reply).is_err() {
            return;
        }
    }
}

/// `spool` against the node through `proxy`.
fn through(env: &Env, proxy: &Proxy, args: &[&str]) -> support::Run {
    let output = Command::new(SPOOL)
        .args([
            "--network",
            "regtest",
            "--rpc-url",
            &proxy.url,
            "--rpc-cookie",
        ])
        .arg(env.node.cookie_file())
        .arg("--data-dir")
        .arg(env.data_path())
        .args(args)
        .env_remove("SPOOL_CONFIG")
        .env("XDG_CONFIG_HOME", env.data_path().join("no-config"))
        .env(FEDERATION.env, FEDERATION.secret)
        .output()
        .unwrap();
    support::Run::from_output(output)
}

fn node_addr(env: &Env) -> std::net::SocketAddr {
    let url = env.node.rpc_url();
    url.trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap_or_else(|e| panic!("{url}: {e}"))
}

#[test]
fn a_node_connection_dropped_during_sendrawtransaction_is_settled_by_asking_again() {
    let env = Env::start();
    let p = funded(&env);
    let proxy = Proxy::start(node_addr(&env), false);
    let run = through(&env, &proxy, &register_args(&p, "0"));
    assert!(run.ok, "the outcome was learned: {}", run.stderr);
    let out: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(out["broadcast"], true);
    let txid = out["txid"].as_str().unwrap();
    assert!(env.mempool().contains(&txid.to_owned()));
}

#[test]
fn a_node_that_stays_unreachable_after_sendrawtransaction_gives_exit_5() {
    let env = Env::start();
    let p = funded(&env);
    let proxy = Proxy::start(node_addr(&env), true);
    let run = through(&env, &proxy, &register_args(&p, "0"));
    assert_eq!(run.code, Some(5), "exit 5, never 1: {}", run.stderr);
    let txid = txid_in(&run.stderr);
    assert!(
        run.stderr.contains(&format!("spool wait {txid}")),
        "{}",
        run.stderr
    );
    assert!(env.mempool().contains(&txid));
}

#[test]
fn outputs_spent_by_another_transaction_are_told_in_our_words() {
    let env = Env::start();
    // One fuel and the three token outputs a master registration needs: both operators
    // must choose them.
    let p = funded_with(&env, "1", "3");
    // Two data directories (two operators' machines) with one federation wallet. Operator A
    // is held between choosing its outputs and sending (the engine's test hook); operator B
    // chooses the same outputs and sends first.
    let hold = env.data_path().join("hold");
    let mut a = env
        .command(&register_args(&p, "0"))
        .env("SPOOL_TEST_PAUSE_BEFORE_BROADCAST", &hold)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let reserved = env.data_path().join("hold.reserved");
    let started = std::time::Instant::now();
    while !reserved.exists() {
        if let Some(status) = a.try_wait().unwrap() {
            let mut stderr = String::new();
            a.stderr
                .take()
                .unwrap()
                .read_to_string(&mut stderr)
                .unwrap();
            panic!("operator A ended ({status}) before reserving: {stderr}");
        }
        assert!(
            started.elapsed().as_secs() < 60,
            "operator A never reserved"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let other_dir = tempfile::tempdir().unwrap();
    // B registers to another address, so the two transactions differ (identical ones would
    // be one transaction, deterministically signed).
    let mut b_args = register_args(&p, "0");
    b_args[5] = &p.user1_leaf;
    let b = env
        .node
        .spool_command(std::path::Path::new(SPOOL), other_dir.path())
        .args(b_args)
        .env(FEDERATION.env, FEDERATION.secret)
        .output()
        .unwrap();
    let b = support::Run::from_output(b);
    assert!(b.ok, "operator B sends first: {}", b.stderr);
    let b_txid = serde_json::from_str::<Value>(&b.stdout).unwrap()["txid"]
        .as_str()
        .unwrap()
        .to_owned();
    std::fs::write(&hold, "").unwrap();
    let run = support::Run::from_output(a.wait_with_output().unwrap());
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        !run.stderr.contains("rejecting replacement") && !run.stderr.contains("0.00000"),
        "the node's words are not shown alone: {}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains(&format!("already spent by transaction {b_txid}"))
            && run.stderr.contains("someone else")
            && run.stderr.contains("nothing was sent"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
}
