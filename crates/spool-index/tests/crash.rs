//! Crash safety: `kill -9` of the server (the `spool-index-serve` stand-in for `spool serve`)
//! during catch-up and during following, then a restart, gives the same index as an
//! uninterrupted run.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bitcoin::{Address, Network};
use common::chain::{self, Funder};
use common::{piece_life, Parties};
use spool_index::{Follower, Store};
use spool_testenv::Node;

struct Server {
    child: Child,
}

impl Server {
    fn start(node: &Node, index: &Path, watch: &[&Address]) -> Server {
        Server::start_with(node, index, watch, &[])
    }

    /// `filters`: the roots of a federation-scoped index (`--filters`), none for a full one.
    fn start_with(node: &Node, index: &Path, watch: &[&Address], filters: &[&Address]) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_spool-index-serve"));
        for f in filters {
            cmd.args(["--filters", &f.to_string()]);
        }
        cmd.args(["--index", index.to_str().unwrap(), "--rpc", &node.rpc_url()])
            .args(["--cookie", node.cookie_file().to_str().unwrap()])
            .args(["--http", "127.0.0.1:0", "--poll-ms", "20"]);
        for w in watch {
            cmd.args(["--watch", &w.to_string()]);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .spawn()
            .expect("spool-index-serve starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(
            line.starts_with("listening on"),
            "unexpected first line {line:?}"
        );
        Server { child }
    }

    fn kill9(mut self) {
        // SIGKILL: no destructor, no graceful shutdown.
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn indexed_height(index: &Path) -> Option<u64> {
    Store::open(index, Network::Regtest)
        .ok()?
        .tip()
        .ok()?
        .map(|(h, _)| h)
}

/// The reference: an uninterrupted index of the same chain, built in this process.
fn reference(node: &Node, dir: &Path, watch: &[&Address]) -> std::path::PathBuf {
    reference_with(node, dir, watch, &[])
}

fn reference_with(
    node: &Node,
    dir: &Path,
    watch: &[&Address],
    filters: &[&Address],
) -> std::path::PathBuf {
    let path = dir.join(format!(
        "reference-{}-{}.sqlite",
        chain::tip(node),
        filters.len()
    ));
    let mut config = common::follower_config(node, watch);
    if !filters.is_empty() {
        config.filters = Some(spool_index::follower::FilterScope {
            federation: filters.iter().map(|a| a.script_pubkey()).collect(),
        });
    }
    let mut follower = Follower::open(&path, config).unwrap();
    follower.step().unwrap();
    path
}

fn assert_same_index(label: &str, got: &Path, want: &Path, pieces: &[Address], watch: &[&Address]) {
    let got = Store::open(got, Network::Regtest).unwrap();
    let want = Store::open(want, Network::Regtest).unwrap();
    assert_eq!(got.tip().unwrap(), want.tip().unwrap(), "[{label}] tip");
    let tip = want.tip().unwrap().unwrap().0;
    assert_eq!(
        got.spool_tx_count().unwrap(),
        want.spool_tx_count().unwrap(),
        "[{label}] SPOOL count"
    );
    for piece in pieces {
        assert_eq!(
            got.txs_paying(&piece.script_pubkey()).unwrap(),
            want.txs_paying(&piece.script_pubkey()).unwrap(),
            "[{label}] history of {piece}"
        );
    }
    for who in watch {
        assert_eq!(
            got.utxos(&who.script_pubkey(), 1, tip).unwrap(),
            want.utxos(&who.script_pubkey(), 1, tip).unwrap(),
            "[{label}] confirmed utxos of {who}"
        );
    }
}

fn wait_indexed(index: &Path, height: u64) {
    let start = Instant::now();
    while indexed_height(index) != Some(height) {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "index never reached {height}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until a filtered index has read every discovered script's earlier outputs.
fn wait_scanned(index: &Path) {
    let start = Instant::now();
    while !Store::open_reader(index, Network::Regtest)
        .and_then(|s| s.unscanned())
        .is_ok_and(|u| u.is_empty())
    {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the discovered scripts were never scanned"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn kill_9_during_catch_up_and_following() {
    let node = Node::start().expect("regtest node");
    let funder = Funder::new(&node, 6);
    let mut parties = Parties::new(&node, &funder, 60);
    let mut pieces = Vec::new();
    for i in 0..4 {
        pieces.push(piece_life(&node, &mut parties, 2 + i));
        chain::mine(&node, 150);
    }
    let tip = chain::tip(&node);
    let watch_owned: Vec<Address> = parties.addresses().into_iter().cloned().collect();
    let watch: Vec<&Address> = watch_owned.iter().collect();
    let dir = tempfile::tempdir().unwrap();
    let index = dir.path().join("index.sqlite");

    // Catch-up, killed again and again part-way.
    let mut partial_kills = 0;
    let mut delay = 30;
    for _ in 0..8 {
        let server = Server::start(&node, &index, &watch);
        std::thread::sleep(Duration::from_millis(delay));
        server.kill9();
        let height = indexed_height(&index);
        eprintln!("killed after {delay} ms at height {height:?} of {tip}");
        if height.is_some_and(|h| h < tip) {
            partial_kills += 1;
        }
        delay += 40;
    }
    assert!(
        partial_kills >= 1,
        "at least one kill landed during catch-up"
    );
    let server = Server::start(&node, &index, &watch);
    wait_indexed(&index, tip);
    server.kill9();
    let want = reference(&node, dir.path(), &watch);
    assert_same_index("after catch-up kills", &index, &want, &pieces, &watch);

    // Following: new events and blocks while the server is killed at moments.
    for round in 0..4u64 {
        let server = Server::start(&node, &index, &watch);
        pieces.push(piece_life(&node, &mut parties, 3));
        chain::mine(&node, 2);
        std::thread::sleep(Duration::from_millis(15 * round));
        server.kill9();
    }
    chain::mine(&node, 1);
    let server = Server::start(&node, &index, &watch);
    wait_indexed(&index, chain::tip(&node));
    drop(server);
    let want = reference(&node, dir.path(), &watch);
    assert_same_index("after following kills", &index, &want, &pieces, &watch);
}

/// The same for a federation-scoped index (`--filters`): killed during its filter catch-up
/// and while following, it ends equal to an uninterrupted filtered index, counters aside.
#[test]
fn kill_9_of_a_filtered_index() {
    let node = Node::start_with_args(&["-blockfilterindex=1"]).expect("regtest node");
    let funder = Funder::new(&node, 6);
    let mut parties = Parties::new(&node, &funder, 60);
    let mut pieces = Vec::new();
    for i in 0..4 {
        pieces.push(piece_life(&node, &mut parties, 2 + i));
        chain::mine(&node, 800);
    }
    let tip = chain::tip(&node);
    let root = parties.federation.address().clone();
    let roots = [&root];
    let discovered_owned: Vec<Address> = parties.addresses().into_iter().cloned().collect();
    let discovered: Vec<&Address> = discovered_owned.iter().collect();
    let dir = tempfile::tempdir().unwrap();
    let index = dir.path().join("index.sqlite");

    let mut partial_kills = 0;
    let mut delay = 20;
    for _ in 0..8 {
        let server = Server::start_with(&node, &index, &[], &roots);
        std::thread::sleep(Duration::from_millis(delay));
        server.kill9();
        let height = indexed_height(&index);
        eprintln!("killed after {delay} ms at height {height:?} of {tip}");
        if height.is_some_and(|h| h < tip) {
            partial_kills += 1;
        }
        delay += 25;
    }
    assert!(
        partial_kills >= 1,
        "at least one kill landed during catch-up"
    );
    let server = Server::start_with(&node, &index, &[], &roots);
    wait_indexed(&index, tip);
    // The UTXO-set scan follows the last block: let it finish before the comparison.
    wait_scanned(&index);
    server.kill9();
    let want = reference_with(&node, dir.path(), &[], &roots);
    assert_same_index(
        "filtered, after catch-up kills",
        &index,
        &want,
        &pieces,
        &discovered,
    );

    for round in 0..4u64 {
        let server = Server::start_with(&node, &index, &[], &roots);
        pieces.push(piece_life(&node, &mut parties, 3));
        chain::mine(&node, 2);
        std::thread::sleep(Duration::from_millis(15 * round));
        server.kill9();
    }
    chain::mine(&node, 1);
    let server = Server::start_with(&node, &index, &[], &roots);
    wait_indexed(&index, chain::tip(&node));
    wait_scanned(&index);
    drop(server);
    let want = reference_with(&node, dir.path(), &[], &roots);
    assert_same_index(
        "filtered, after following kills",
        &index,
        &want,
        &pieces,
        &discovered,
    );
}
