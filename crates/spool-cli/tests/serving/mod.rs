//! Test support for `spool serve`: the server as a child process (announcing its address on
//! its first line), plain HTTP GETs, waiting for the index to reach the node's tip, and the
//! seed's walkthrough sent through the CLI with `--server`.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub use crate::support::{Driver, Scenario, Step, LEAF1, LEAF2, LEAF3};
use crate::support::{Env, Wallet, FEDERATION, REFILL, STRANGER, USER1, USER2, USER3};

/// A running `spool serve`.
pub struct Server {
    child: Child,
    /// Its base URL, `http://127.0.0.1:PORT`.
    pub url: String,
}

impl Server {
    /// Starts `spool serve --http 127.0.0.1:0 --poll-ms 50 EXTRA...` against the env's node
    /// and data directory and waits for its `listening on URL` line.
    pub fn start(env: &Env, extra: &[&str]) -> Server {
        Server::start_with_env(env, extra, &[])
    }

    /// [`Server::start`] with extra environment variables (test hooks).
    pub fn start_with_env(env: &Env, extra: &[&str], vars: &[(&str, &str)]) -> Server {
        Server::spawn(env, extra, vars, Stdio::inherit())
    }

    /// [`Server::start`] at the most verbose logging (`-vv`), its stderr written to `log`.
    pub fn start_logged(env: &Env, extra: &[&str], log: &std::path::Path) -> Server {
        let file = std::fs::File::create(log).expect("create the server's log file");
        let mut all = vec!["-vv"];
        all.extend_from_slice(extra);
        Server::spawn(env, &all, &[], Stdio::from(file))
    }

    /// [`Server::start`] listening on `http` (e.g. the port of a server killed before).
    pub fn start_at(env: &Env, http: &str, extra: &[&str]) -> Server {
        Server::spawn_at(env, http, extra, &[], Stdio::inherit())
    }

    fn spawn(env: &Env, extra: &[&str], vars: &[(&str, &str)], stderr: Stdio) -> Server {
        Server::spawn_at(env, "127.0.0.1:0", extra, vars, stderr)
    }

    fn spawn_at(
        env: &Env,
        http: &str,
        extra: &[&str],
        vars: &[(&str, &str)],
        stderr: Stdio,
    ) -> Server {
        let mut args = vec!["serve", "--http", http, "--poll-ms", "50"];
        args.extend_from_slice(extra);
        let mut child = env
            .command(&args)
            .envs(vars.iter().copied())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn spool serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read the first line of spool serve");
        let url = line
            .strip_prefix("listening on ")
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| {
                let _ = child.kill();
                panic!("spool serve's first line is not `listening on URL`: {line:?}")
            })
            .to_string();
        Server { child, url }
    }

    /// `GET path`: the status code and the body.
    pub fn get(&self, path: &str) -> (u16, String) {
        get(&self.url, path)
    }

    /// `GET path` as JSON, asserting 200.
    pub fn json(&self, path: &str) -> Value {
        let (status, body) = self.get(path);
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }

    /// Waits (at most 60 s) until the index holds the node's tip and mempool.
    pub fn wait_synced(&self, env: &Env) {
        let started = Instant::now();
        loop {
            let tip = env
                .node
                .call("getblockcount", &[])
                .expect("getblockcount")
                .as_u64()
                .expect("height");
            let (status, body) = self.get("/api/v1/status");
            if status == 200 {
                let value: Value = serde_json::from_str(&body).expect("status JSON");
                if value["indexed_height"].as_u64() == Some(tip)
                    && value["synced"].as_bool() == Some(true)
                {
                    return;
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "spool serve did not reach height {tip} within 60 s: {body}"
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// SIGKILL: no destructor, no graceful shutdown.
    pub fn kill9(mut self) {
        self.child.kill().expect("kill -9 spool serve");
        self.child.wait().expect("reap spool serve");
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain HTTP/1.1 GET of `base` + `path`: the status code and the body.
pub fn get(base: &str, path: &str) -> (u16, String) {
    request(base, "GET", path, None)
}

/// A plain HTTP/1.1 POST of `body` (text/plain, no credentials) to `base` + `path`.
pub fn post(base: &str, path: &str, body: &str) -> (u16, String) {
    request(base, "POST", path, Some(body))
}

fn request(base: &str, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    let host = base.strip_prefix("http://").expect("an http:// URL");
    let mut stream = TcpStream::connect(host).unwrap_or_else(|e| panic!("connect {host}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let body = body.map_or(String::new(), |b| {
        format!(
            "Content-Type: text/plain\r\nContent-Length: {}\r\n\r\n{b}",
            b.len()
        )
    });
    let end = if body.is_empty() { "\r\n" } else { "" };
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n{body}{end}"
    )
    .expect("send the request");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read the answer");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("headers and body");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    assert!(
        !head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "this helper reads only bodies with a length: {head}"
    );
    (status, body.to_string())
}

/// The parties and the piece of the walkthrough.
pub struct Parties {
    /// The refill wallet's root address.
    pub refill: String,
    /// The federation's root address.
    pub federation: String,
    /// user1's root address (the artist; holds the master edition).
    pub user1: String,
    /// user1's leaf.
    pub user1_leaf: String,
    /// user2's leaf (the collector).
    pub user2_leaf: String,
    /// user3's leaf (consignee, borrower).
    pub user3_leaf: String,
    /// A stranger's root.
    pub stranger: String,
    /// `--piece FILE_HASH,FILE_HASH_METADATA`.
    pub piece: String,
    /// The piece address (file hash).
    pub file_hash: String,
    /// The piece address with metadata.
    pub file_hash_metadata: String,
}

impl Parties {
    /// The walkthrough's addresses and piece (vectors/ascribe.png, title "ascribe").
    pub fn new(env: &Env) -> Parties {
        let image = concat!(env!("CARGO_MANIFEST_DIR"), "/../../vectors/ascribe.png");
        let hashes: spool_cli::subcommand::hash::Output =
            env.json(&["hash", image, "--meta", "title=ascribe"]);
        Parties {
            refill: env.address(&REFILL, ""),
            federation: env.address(&FEDERATION, ""),
            user1: env.address(&USER1, ""),
            user1_leaf: env.address(&USER1, LEAF1),
            user2_leaf: env.address(&USER2, LEAF2),
            user3_leaf: env.address(&USER3, LEAF3),
            stranger: env.address(&STRANGER, ""),
            piece: format!("{},{}", hashes.file_hash, hashes.file_hash_metadata),
            file_hash: hashes.file_hash,
            file_hash_metadata: hashes.file_hash_metadata,
        }
    }

    /// `--watch` for every wallet that spends (so the index lists their outputs).
    pub fn watch_args(&self) -> Vec<String> {
        [
            &self.refill,
            &self.federation,
            &self.user1_leaf,
            &self.user2_leaf,
            &self.user3_leaf,
            &self.stranger,
        ]
        .iter()
        .flat_map(|a| ["--watch".to_string(), (*a).clone()])
        .collect()
    }
}

/// What the walkthrough sent.
pub struct Sent {
    /// The piece's events in order: REGISTER0, EDITIONS10, REGISTER1, TRANSFER1, CONSIGN1,
    /// UNCONSIGN1, LOAN1.
    pub events: Vec<String>,
    /// The refills (FUEL) of the users, in order.
    pub refills: Vec<String>,
}

/// The scenario's steps through `spool serve`: every action with `--server URL`, every
/// block indexed before the next step.
pub struct Via<'a> {
    /// The node and the CLI's data directory.
    pub env: &'a Env,
    /// The server the actions go through.
    pub server: &'a Server,
}

impl Driver for Via<'_> {
    fn address(&self, party: &Wallet, path: &str) -> String {
        self.env.address(party, path)
    }

    fn send(&self, party: &Wallet, path: &str, step: &Step) -> String {
        let args = step.cli_args();
        let mut all = vec!["--server", self.server.url.as_str()];
        all.extend(args.iter().map(String::as_str));
        let out = self.env.act(party, path, &all);
        crate::support::check_verb(step, &out);
        out.txid
    }

    fn mine(&self, n: u64) {
        self.env.mine(n);
        self.server.wait_synced(self.env);
    }

    fn mine_to(&self, address: &str, n: u64) {
        self.env.mine_to(address, n);
        self.server.wait_synced(self.env);
    }
}

/// The seed's walkthrough (pyspool's documentation example) through the CLI, every command
/// with `--server URL`, each transaction mined and indexed before the next command.
pub fn walkthrough(env: &Env, server: &Server, p: &Parties) -> Sent {
    let via = Via { env, server };
    let mut scenario = Scenario::funded(&via, 30, 60);
    let sent = scenario.walkthrough(&p.piece);
    Sent {
        events: sent.events,
        refills: sent.refills,
    }
}
