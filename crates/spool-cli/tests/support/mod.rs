//! Test support: a real regtest node and the built `spool` binary run against it.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};
use std::str::FromStr;

use bitcoin::{Address, Network};
use serde::de::DeserializeOwned;
use serde_json::Value;
use spool_testenv::Node;

/// The `spool` binary cargo built for these tests.
pub const SPOOL: &str = env!("CARGO_BIN_EXE_spool");

/// A wallet known to the tests by the environment variable holding its secret; the cast
/// and the scenario builder are spool-testenv's.
#[allow(unused_imports)]
pub use spool_testenv::scenario::{
    Driver, Party as Wallet, Scenario, Step, FEDERATION, LEAF1, LEAF2, LEAF3, REFILL, STRANGER,
    USER1, USER2, USER3,
};

const ALL: [Wallet; 6] = spool_testenv::scenario::CAST;

/// A running node plus the data directory the CLI uses against it.
pub struct Env {
    /// The node.
    pub node: Node,
    /// The CLI's data directory.
    pub data_dir: tempfile::TempDir,
    /// Where mined coinbases go when nobody needs them.
    pub sink: Address,
}

/// What one `spool` run did.
#[derive(Debug)]
pub struct Run {
    /// Exit status success.
    pub ok: bool,
    /// Exit code.
    pub code: Option<i32>,
    /// Stdout.
    pub stdout: String,
    /// Stderr.
    pub stderr: String,
}

impl Run {
    /// What a finished `spool` process did.
    pub fn from_output(output: Output) -> Run {
        Run {
            ok: output.status.success(),
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Asserts the run failed with a one-line error on stderr containing `needle`.
    pub fn assert_error(&self, needle: &str) {
        assert!(!self.ok, "expected failure, got success: {self:?}");
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "error must be one line: {:?}", self.stderr);
        assert!(lines[0].starts_with("error: "), "{:?}", self.stderr);
        assert!(
            self.stderr.contains(needle),
            "stderr {:?} lacks {needle:?}",
            self.stderr
        );
        assert!(
            self.stdout.is_empty(),
            "nothing on stdout on error: {:?}",
            self.stdout
        );
    }
}

impl Env {
    /// Starts a fresh node (fails loudly if bitcoind is missing).
    pub fn start() -> Env {
        Env::start_with_args(&[])
    }

    /// Starts a fresh node with extra bitcoind options (e.g. `-blockfilterindex=1`).
    pub fn start_with_args(args: &[&str]) -> Env {
        let node =
            Node::start_with_args(args).unwrap_or_else(|e| panic!("regtest node needed: {e}"));
        let sink = Address::from_str("mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn")
            .unwrap()
            .require_network(Network::Regtest)
            .unwrap();
        Env {
            node,
            data_dir: tempfile::tempdir().unwrap(),
            sink,
        }
    }

    /// A `spool` command with the global options for this node (before the subcommand).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = self
            .node
            .spool_command(std::path::Path::new(SPOOL), self.data_dir.path());
        command.args(args);
        for wallet in ALL {
            command.env(wallet.env, wallet.secret);
        }
        command
    }

    /// Runs `spool ARGS`.
    pub fn run(&self, args: &[&str]) -> Run {
        let output = self.command(args).output().expect("spawn spool");
        let run = Run::from_output(output);
        for wallet in ALL {
            assert!(
                !run.stderr.contains(wallet.secret) && !run.stdout.contains(wallet.secret),
                "a secret leaked into the output of {args:?}"
            );
        }
        run
    }

    /// Runs `spool --json ARGS`, asserts success and parses stdout.
    pub fn json<T: DeserializeOwned>(&self, args: &[&str]) -> T {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let run = self.run(&all);
        assert!(run.ok, "spool {args:?} failed: {}", run.stderr);
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| {
            panic!(
                "spool {args:?}: stdout is not one JSON document ({e}): {}",
                run.stdout
            )
        })
    }

    /// The address of `wallet` at `path` ("" = root), through `spool wallet address`.
    pub fn address(&self, wallet: &Wallet, path: &str) -> String {
        let out: spool_cli::subcommand::wallet::Output = self.json(&[
            "wallet",
            "address",
            "--secret-env",
            wallet.env,
            "--path",
            path,
        ]);
        assert_eq!(out.path, path);
        out.address
    }

    /// Mines `n` blocks to the sink.
    pub fn mine(&self, n: u64) {
        self.node.mine_to(&self.sink, n).expect("generatetoaddress");
    }

    /// Mines `n` blocks to `address`.
    pub fn mine_to(&self, address: &str, n: u64) {
        let address = Address::from_str(address)
            .unwrap()
            .require_network(Network::Regtest)
            .unwrap();
        self.node.mine_to(&address, n).expect("generatetoaddress");
    }

    /// The txids in the node's mempool.
    pub fn mempool(&self) -> Vec<String> {
        let value: Value = self.node.call("getrawmempool", &[]).expect("getrawmempool");
        value
            .as_array()
            .expect("array")
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    }

    /// Confirmations of a transaction (0 = mempool), via the node.
    pub fn confirmations(&self, txid: &str) -> u64 {
        let value = self
            .node
            .call("getrawtransaction", &[Value::from(txid), Value::from(true)])
            .expect("getrawtransaction");
        value["confirmations"].as_u64().unwrap_or(0)
    }

    /// Runs an action (`--json --min-conf 1` and the signer) and returns its output; asserts
    /// it landed in the mempool.
    pub fn act(
        &self,
        wallet: &Wallet,
        path: &str,
        args: &[&str],
    ) -> spool_cli::subcommand::action::Output {
        let mut all: Vec<&str> = args.to_vec();
        all.extend_from_slice(&[
            "--secret-env",
            wallet.env,
            "--path",
            path,
            "--min-conf",
            "1",
        ]);
        let out: spool_cli::subcommand::action::Output = self.json(&all);
        assert!(out.broadcast, "{args:?} was not broadcast");
        assert!(
            self.mempool().contains(&out.txid),
            "{args:?}: {} is not in the mempool",
            out.txid
        );
        out
    }

    /// The data directory as a path.
    pub fn data_path(&self) -> PathBuf {
        self.data_dir.path().to_path_buf()
    }
}

/// The scenario builder's steps go through the `spool` binary (`--json --min-conf 1`).
impl spool_testenv::scenario::Driver for Env {
    fn address(&self, party: &Wallet, path: &str) -> String {
        Env::address(self, party, path)
    }

    fn send(&self, party: &Wallet, path: &str, step: &Step) -> String {
        let args = step.cli_args();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = self.act(party, path, &args);
        check_verb(step, &out);
        out.txid
    }

    fn mine(&self, n: u64) {
        Env::mine(self, n);
    }

    fn mine_to(&self, address: &str, n: u64) {
        Env::mine_to(self, address, n);
    }
}

/// Asserts that an action's output carries the verb its step asks for.
pub fn check_verb(step: &Step, out: &spool_cli::subcommand::action::Output) {
    let expected = match step {
        Step::RefillMain { .. } => return,
        Step::Refill { .. } => "ASCRIBESPOOL01FUEL".to_owned(),
        Step::Register { edition, .. } => format!("ASCRIBESPOOL01REGISTER{edition}"),
        Step::Editions { count, .. } => format!("ASCRIBESPOOL01EDITIONS{count}"),
        Step::Owner { verb, edition, .. } => {
            format!("ASCRIBESPOOL01{}{edition}", verb.to_uppercase())
        }
        Step::Loan {
            edition,
            start,
            end,
            ..
        } => format!("ASCRIBESPOOL01LOAN{edition}/{start}{end}"),
    };
    assert_eq!(out.verb.as_deref(), Some(expected.as_str()), "{step:?}");
}
