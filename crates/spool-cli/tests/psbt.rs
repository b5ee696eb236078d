//! Keys off the online machine, against a real regtest node: the seed's walkthrough with
//! the federation's secret only on an "offline" signer (`spool sign` in a process whose
//! backend is a closed port), the online processes holding only its xpub; Bitcoin Core's
//! wallet-less PSBT RPCs agree with our PSBTs; rust-bitcoin's own signer is accepted; and
//! tampered PSBTs, wrong secrets and lying previous transactions are refused.

mod support;

use std::cell::RefCell;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use bitcoin::psbt::Psbt;
use bitcoin::{Amount, Network, TxOut};
use serde_json::Value;
use spool_cli::subcommand::{action, history, sign, wallet};
use spool_tx::psbt::{self as spsbt, PsbtOrTx};
use support::{Driver, Env, Run, Scenario, Step, Wallet, FEDERATION, SPOOL, STRANGER, USER1};

/// A port nothing listens on.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    port
}

fn read_psbt(path: &Path) -> Psbt {
    match spsbt::read(&std::fs::read(path).unwrap()).unwrap() {
        PsbtOrTx::Psbt(psbt) => psbt,
        PsbtOrTx::Tx(_) => panic!("{} is not a psbt", path.display()),
    }
}

fn write_psbt(path: &Path, psbt: &Psbt) {
    std::fs::write(path, spsbt::to_base64(psbt)).unwrap();
}

/// The offline machine: `spool` with only `wallet`'s secret in its environment and its
/// backend settings pointing to a closed port, its own data directory.
fn offline(dir: &Path, wallet: &Wallet, args: &[&str]) -> Run {
    let mut command = Command::new(SPOOL);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("XDG_CONFIG_HOME", dir.join("no-config"))
        .env(wallet.env, wallet.secret)
        .args(["--network", "regtest", "--rpc-url"])
        .arg(format!("http://127.0.0.1:{}", closed_port()))
        .arg("--data-dir")
        .arg(dir.join("offline-data"))
        .args(args);
    let run = Run::from_output(command.output().expect("spawn spool"));
    assert!(!run.stdout.contains(wallet.secret) && !run.stderr.contains(wallet.secret));
    run
}

/// The online machine: `spool` against the node, without `wallet`'s secret.
fn online(env: &Env, without: &Wallet, args: &[&str]) -> Run {
    let mut command = env.command(args);
    command.env_remove(without.env);
    Run::from_output(command.output().expect("spawn spool"))
}

fn json<T: serde::de::DeserializeOwned>(run: &Run, what: &str) -> T {
    assert!(run.ok, "{what} failed: {run:?}");
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{what}: {e}: {}", run.stdout))
}

/// Core's view of a PSBT.
fn analyze(env: &Env, base64: &str) -> Value {
    env.node
        .call("analyzepsbt", &[Value::from(base64)])
        .expect("analyzepsbt")
}

/// The federation's steps go through the air gap: `--psbt-out --xpub` online (without
/// the secret), `spool sign` offline, `spool broadcast` online. Everyone else signs online.
struct AirGapped<'e> {
    env: &'e Env,
    dir: PathBuf,
    xpub: String,
    count: RefCell<u32>,
}

impl AirGapped<'_> {
    /// One federation step through the air gap; its txid.
    fn send_offline(&self, path: &str, step: &Step) -> String {
        let n = {
            let mut count = self.count.borrow_mut();
            *count += 1;
            *count
        };
        let unsigned_file = self.dir.join(format!("step{n}.psbt"));
        let signed_file = self.dir.join(format!("step{n}.signed.psbt"));
        let mut args: Vec<String> = vec!["--json".into()];
        args.extend(step.cli_args());
        args.extend(
            [
                "--psbt-out",
                unsigned_file.to_str().unwrap(),
                "--xpub",
                &self.xpub,
                "--path",
                path,
                "--min-conf",
                "1",
            ]
            .map(String::from),
        );
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let unsigned: action::Output = json(&online(self.env, &FEDERATION, &args), "--psbt-out");
        assert!(!unsigned.broadcast);
        support::check_verb(step, &unsigned);
        let base64 = std::fs::read_to_string(&unsigned_file).unwrap();
        assert_eq!(Some(base64.trim()), unsigned.psbt.as_deref());
        assert!(!self.env.mempool().contains(&unsigned.txid));

        // Core reads it and says the signer is next, every input with its utxo.
        let analysis = analyze(self.env, base64.trim());
        assert_eq!(analysis["next"], "signer", "{analysis}");
        for input in analysis["inputs"].as_array().unwrap() {
            assert_eq!(input["has_utxo"], true, "{analysis}");
            assert_eq!(input["is_final"], false, "{analysis}");
            assert_eq!(input["next"], "signer", "{analysis}");
        }
        let decoded = self
            .env
            .node
            .call("decodepsbt", &[Value::from(base64.trim())])
            .expect("decodepsbt");
        assert_eq!(decoded["tx"]["txid"], unsigned.txid.as_str());
        let derivation = &decoded["inputs"][0]["bip32_derivs"][0];
        let fingerprint = self.fingerprint();
        assert_eq!(derivation["master_fingerprint"], fingerprint.as_str());
        assert_eq!(
            derivation["path"],
            format!("m/{path}").trim_end_matches('/')
        );
        let verb_hex = decoded["tx"]["vout"].as_array().unwrap().last().unwrap()["scriptPubKey"]
            ["asm"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(verb_hex.starts_with("OP_RETURN "), "{verb_hex}");

        // Offline: no backend, only the secret.
        let signed: sign::Output = json(
            &offline(
                &self.dir,
                &FEDERATION,
                &[
                    "--json",
                    "sign",
                    unsigned_file.to_str().unwrap(),
                    "--out",
                    signed_file.to_str().unwrap(),
                    "--secret-env",
                    FEDERATION.env,
                ],
            ),
            "sign",
        );
        assert_eq!(signed.unsigned_txid, unsigned.txid);
        assert_eq!(signed.verb, unsigned.verb);
        assert_eq!(signed.fee, unsigned.fee);
        assert!(signed.fee_rate >= 1.0, "{}", signed.fee_rate);

        // Core's finalizer agrees with ours.
        let signed_base64 = std::fs::read_to_string(&signed_file).unwrap();
        let finalized = self
            .env
            .node
            .call("finalizepsbt", &[Value::from(signed_base64.trim())])
            .expect("finalizepsbt");
        assert_eq!(finalized["complete"], true);
        assert_eq!(finalized["hex"], signed.hex.as_str());

        // Online again, still without the secret.
        let sent: action::Output = json(
            &online(
                self.env,
                &FEDERATION,
                &["--json", "broadcast", signed_file.to_str().unwrap()],
            ),
            "broadcast",
        );
        assert!(sent.broadcast);
        assert_eq!(sent.txid, signed.txid);
        assert_eq!(sent.verb, unsigned.verb);
        assert_eq!(sent.fee, unsigned.fee);
        assert!(self.env.mempool().contains(&sent.txid));
        sent.txid
    }

    fn fingerprint(&self) -> String {
        let out: wallet::XpubOutput =
            self.env
                .json(&["wallet", "xpub", "--secret-env", FEDERATION.env]);
        out.fingerprint
    }
}

impl Driver for AirGapped<'_> {
    fn address(&self, party: &Wallet, path: &str) -> String {
        self.env.address(party, path)
    }
    fn send(&self, party: &Wallet, path: &str, step: &Step) -> String {
        if *party == FEDERATION {
            self.send_offline(path, step)
        } else {
            self.env.send(party, path, step)
        }
    }
    fn mine(&self, n: u64) {
        self.env.mine(n);
    }
    fn mine_to(&self, address: &str, n: u64) {
        self.env.mine_to(address, n);
    }
}

/// (verb, from, to, valid) of every event of a piece's history.
fn events(env: &Env, piece: &str) -> Vec<(String, String, String, bool)> {
    let h: history::Output = env.json(&["history", piece]);
    h.events
        .iter()
        .map(|e| {
            (
                e.verb.clone(),
                e.from_address.clone(),
                e.to_address.clone(),
                e.valid,
            )
        })
        .collect()
}

fn federation_xpub(env: &Env) -> String {
    let out: wallet::XpubOutput = env.json(&["wallet", "xpub", "--secret-env", FEDERATION.env]);
    assert!(out.xpub.starts_with("tpub"), "{}", out.xpub);
    out.xpub
}

#[test]
fn walkthrough_with_the_federation_key_offline_matches_the_signed_one() {
    let env = Env::start();
    let dir = tempfile::tempdir().unwrap();
    let airgapped = AirGapped {
        env: &env,
        dir: dir.path().to_path_buf(),
        xpub: federation_xpub(&env),
        count: RefCell::new(0),
    };
    // The same walkthrough twice on two pieces: signed online, then air-gapped.
    let signed_piece = env.address(&STRANGER, "9/1");
    let offline_piece = env.address(&STRANGER, "9/2");
    let mut scenario = Scenario::funded(&env, 40, 80);
    scenario.walkthrough(&signed_piece);
    let mut scenario = Scenario::funded(&airgapped, 40, 80);
    let sent = scenario.walkthrough(&offline_piece);
    assert_eq!(sent.events.len(), 7);
    // REGISTER0, EDITIONS10, REGISTER1 and the four refills went through the air gap.
    assert_eq!(*airgapped.count.borrow(), 7);
    let signed = events(&env, &signed_piece);
    let offline = events(&env, &offline_piece);
    assert_eq!(signed.len(), 7);
    let strip = |events: Vec<(String, String, String, bool)>, piece: &str| {
        events
            .into_iter()
            .map(|(verb, from, to, valid)| (verb, from.replace(piece, "PIECE"), to, valid))
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(offline, &offline_piece), strip(signed, &signed_piece));
    // Nothing is left reserved once everything confirmed.
    env.mine(1);
    let list: Value = env.json(&["reservations", "list"]);
    let pending = list["reservations"].as_array().map_or(0, Vec::len);
    assert!(
        list["reservations"]
            .as_array()
            .is_none_or(|r| r.iter().all(|r| r["state"] != "unsigned")),
        "{list}"
    );
    let _ = pending;
}
