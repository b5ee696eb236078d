//! Keys off the online machine, against a real regtest node: the seed's walkthrough with
//! the federation's secret only on an "offline" signer (`spool sign` in a process whose
//! backend is a closed port), the online processes holding only its xpub; Bitcoin Core's
//! wallet-less PSBT RPCs agree with our PSBTs; rust-bitcoin's own signer is accepted; and
//! tampered PSBTs, wrong secrets and lying previous transactions are refused. Through
//! `spool serve`, a signed PSBT's broadcast takes over its unsigned form's reservation.

mod serving;
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

/// `spool sign UNSIGNED --out SIGNED` with the federation's secret on the offline machine.
fn sign_offline(dir: &Path, unsigned: &Path, signed: &Path) -> sign::Output {
    json(
        &offline(
            dir,
            &FEDERATION,
            &[
                "--json",
                "sign",
                unsigned.to_str().unwrap(),
                "--out",
                signed.to_str().unwrap(),
                "--secret-env",
                FEDERATION.env,
            ],
        ),
        "sign",
    )
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
        let signed = sign_offline(&self.dir, &unsigned_file, &signed_file);
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
    // No unsigned action is left waiting: each moved to its signed txid when broadcast.
    let list: spool_cli::subcommand::reservations::ListOutput = env.json(&["reservations", "list"]);
    assert!(
        !list.reservations.is_empty(),
        "the store lists the broadcasts"
    );
    assert!(
        list.reservations
            .iter()
            .all(|r| r.state != spool_engine::store::TxState::Unsigned),
        "{:?}",
        list.reservations
    );
}

/// `--psbt-out` of REGISTER`edition` by the federation (online, xpub only); the file.
fn unsigned_register(
    env: &Env,
    dir: &Path,
    xpub: &str,
    piece: &str,
    to: &str,
    edition: u64,
) -> (PathBuf, action::Output) {
    let file = dir.join(format!("register{edition}.psbt"));
    let edition = edition.to_string();
    let out: action::Output = json(
        &online(
            env,
            &FEDERATION,
            &[
                "--json",
                "register",
                "--piece",
                piece,
                "--to",
                to,
                "--edition",
                &edition,
                "--psbt-out",
                file.to_str().unwrap(),
                "--xpub",
                xpub,
                "--min-conf",
                "1",
            ],
        ),
        "register --psbt-out",
    );
    (file, out)
}

/// The federation's master key, as another signer (rust-bitcoin's `Psbt::sign`) holds it.
fn federation_xpriv() -> bitcoin::bip32::Xpriv {
    bitcoin::bip32::Xpriv::new_master(Network::Regtest, FEDERATION.secret.as_bytes()).unwrap()
}

/// Signs with rust-bitcoin's own signer (partial signatures, not finalized).
fn other_signer(psbt: &mut Psbt) {
    let secp = bitcoin::secp256k1::Secp256k1::new();
    let signed = psbt
        .sign(&federation_xpriv(), &secp)
        .expect("rust-bitcoin signs");
    assert_eq!(signed.len(), psbt.inputs.len());
}

#[test]
fn other_signers_are_accepted_and_tampering_and_wrong_secrets_refused() {
    let env = Env::start();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let xpub = federation_xpub(&env);
    let piece = env.address(&STRANGER, "9/3");
    let user1 = env.address(&USER1, "");
    let mut scenario = Scenario::funded(&env, 20, 40);
    scenario.register_piece(&piece, &user1, 10);

    // A PSBT signed by rust-bitcoin's signer: Core's finalizer and ours give the same
    // transaction as `spool sign`, and `spool broadcast` finalizes and sends it.
    let (file, unsigned) = unsigned_register(&env, dir, &xpub, &piece, &user1, 1);
    let mut theirs = read_psbt(&file);
    other_signer(&mut theirs);
    let theirs_file = dir.join("theirs.psbt");
    write_psbt(&theirs_file, &theirs);
    let core: Value = env
        .node
        .call("finalizepsbt", &[Value::from(spsbt::to_base64(&theirs))])
        .unwrap();
    assert_eq!(core["complete"], true, "{core}");
    let run = offline(
        dir,
        &FEDERATION,
        &[
            "--json",
            "sign",
            file.to_str().unwrap(),
            "--secret-env",
            FEDERATION.env,
        ],
    );
    let ours: sign::Output = json(&run, "sign");
    // It said what it signed: verb, piece, edition, recipients, fee and rate.
    for needle in [
        "signing ASCRIBESPOOL01REGISTER1".to_owned(),
        format!("piece {piece}"),
        "edition 1".to_owned(),
        format!("{user1} (3000 sat)"),
        format!("fee {} sat (", ours.fee),
        " sat/vB)".to_owned(),
    ] {
        assert!(
            run.stderr.contains(&needle),
            "{needle:?} not in {:?}",
            run.stderr
        );
    }
    assert_eq!(
        core["hex"],
        ours.hex.as_str(),
        "Core's finalizer and ours agree"
    );
    assert_eq!(ours.edition, Some(1));
    assert_eq!(ours.piece.as_deref(), Some(piece.as_str()));
    assert_eq!(ours.recipients.len(), 4);
    // A wrong secret is refused by `spool sign`, and nothing is written.
    let wrong_out = dir.join("wrong.psbt");
    let wrong = offline(
        dir,
        &STRANGER,
        &[
            "sign",
            file.to_str().unwrap(),
            "--out",
            wrong_out.to_str().unwrap(),
            "--secret-env",
            STRANGER.env,
        ],
    );
    wrong.assert_error("wrong secret");
    assert_eq!(wrong.code, Some(2));
    assert!(!wrong_out.exists());
    // A lying previous transaction is refused by `spool broadcast`.
    let mut liar = theirs.clone();
    let mut fake = liar.inputs[0].non_witness_utxo.clone().unwrap();
    fake.output[0].value = Amount::from_sat(fake.output[0].value.to_sat() + 1);
    liar.inputs[0].non_witness_utxo = Some(fake);
    let liar_file = dir.join("liar.psbt");
    write_psbt(&liar_file, &liar);
    online(
        &env,
        &FEDERATION,
        &["broadcast", liar_file.to_str().unwrap()],
    )
    .assert_error("lies about what it spends");
    assert!(!env.mempool().iter().any(|t| *t == core_txid(&env, &core)));
    // The other signer's PSBT is sent.
    let sent: action::Output = json(
        &online(
            &env,
            &FEDERATION,
            &["--json", "broadcast", theirs_file.to_str().unwrap()],
        ),
        "broadcast",
    );
    assert_eq!(sent.hex, ours.hex);
    assert_eq!(sent.verb.as_deref(), Some("ASCRIBESPOOL01REGISTER1"));
    assert_ne!(
        sent.txid, unsigned.txid,
        "the signed txid, not the unsigned one"
    );
    assert!(env.mempool().contains(&sent.txid));
    // Sending it again is harmless: the same txid.
    let again: action::Output = json(
        &online(
            &env,
            &FEDERATION,
            &["--json", "broadcast", theirs_file.to_str().unwrap()],
        ),
        "broadcast again",
    );
    assert_eq!(again.txid, sent.txid);
    env.mine(1);

    // Tampered PSBTs, validly signed by another signer: refused by `spool broadcast`,
    // nothing sent.
    for (name, tamper, needle) in [
        (
            "added output",
            Box::new(|psbt: &mut Psbt| {
                let extra = psbt.unsigned_tx.output[1].clone();
                psbt.unsigned_tx.output.insert(2, extra);
                psbt.outputs.insert(2, Default::default());
            }) as Box<dyn Fn(&mut Psbt)>,
            "it has 5 outputs, the template 4",
        ),
        (
            "changed amount",
            Box::new(|psbt: &mut Psbt| {
                psbt.unsigned_tx.output[2].value = Amount::from_sat(2_500);
            }),
            "output 2 pays 2500 sat",
        ),
    ] {
        let edition = if name == "added output" { 2 } else { 3 };
        let (file, _) = unsigned_register(&env, dir, &xpub, &piece, &user1, edition);
        let mut psbt = read_psbt(&file);
        tamper(&mut psbt);
        other_signer(&mut psbt);
        let tampered = dir.join(format!("tampered{edition}.psbt"));
        write_psbt(&tampered, &psbt);
        let before = env.mempool();
        let run = online(
            &env,
            &FEDERATION,
            &["broadcast", tampered.to_str().unwrap()],
        );
        run.assert_error(needle);
        assert_eq!(run.code, Some(2), "{name}");
        assert_eq!(env.mempool(), before, "{name}: nothing was sent");
        // The raw hex of the tampered transaction is refused alike.
        let tx = spsbt::finalize(&mut psbt).unwrap();
        let hex_file = dir.join(format!("tampered{edition}.hex"));
        std::fs::write(&hex_file, bitcoin::consensus::encode::serialize_hex(&tx)).unwrap();
        online(
            &env,
            &FEDERATION,
            &["broadcast", hex_file.to_str().unwrap()],
        )
        .assert_error(needle);
        assert_eq!(env.mempool(), before, "{name}: nothing was sent");
    }

    // A PSBT whose OP_RETURN is not a SPOOL verb is refused by `spool sign` unless
    // --allow-non-spool.
    let (file, abandoned) = unsigned_register(&env, dir, &xpub, &piece, &user1, 4);
    let mut odd = read_psbt(&file);
    let last = odd.unsigned_tx.output.len() - 1;
    odd.unsigned_tx.output[last] = TxOut {
        value: Amount::ZERO,
        script_pubkey: spool_protocol::payload::op_return_script(b"hello").unwrap(),
    };
    let odd_file = dir.join("odd.psbt");
    write_psbt(&odd_file, &odd);
    offline(
        dir,
        &FEDERATION,
        &[
            "sign",
            odd_file.to_str().unwrap(),
            "--secret-env",
            FEDERATION.env,
        ],
    )
    .assert_error("not a valid SPOOL verb");
    let allowed = offline(
        dir,
        &FEDERATION,
        &[
            "sign",
            odd_file.to_str().unwrap(),
            "--secret-env",
            FEDERATION.env,
            "--allow-non-spool",
        ],
    );
    assert!(allowed.ok, "{allowed:?}");

    // An abandoned unsigned action holds its claim until released by hand; then its
    // signed form is no longer accepted, and the action can be made again.
    let again = online(
        &env,
        &FEDERATION,
        &[
            "register",
            "--piece",
            &piece,
            "--to",
            &user1,
            "--edition",
            "4",
            "--psbt-out",
            dir.join("again.psbt").to_str().unwrap(),
            "--xpub",
            &xpub,
            "--min-conf",
            "1",
        ],
    );
    again.assert_error(&abandoned.txid);
    let released: Value = env.json(&["reservations", "release", &abandoned.txid]);
    assert!(released["released"].as_u64().unwrap() > 0, "{released}");
    let signed_file = dir.join("abandoned.signed.psbt");
    let signed = offline(
        dir,
        &FEDERATION,
        &[
            "sign",
            file.to_str().unwrap(),
            "--out",
            signed_file.to_str().unwrap(),
            "--secret-env",
            FEDERATION.env,
        ],
    );
    assert!(signed.ok, "{signed:?}");
    online(
        &env,
        &FEDERATION,
        &["broadcast", signed_file.to_str().unwrap()],
    )
    .assert_error("not the signed form of an unsigned action of this data directory");
    let (_, redone) = unsigned_register(&env, dir, &xpub, &piece, &user1, 4);
    assert_eq!(redone.verb.as_deref(), Some("ASCRIBESPOOL01REGISTER4"));

    // --from: the PSBT carries no derivation; `spool sign` needs the right --path.
    let leaf = env.address(&FEDERATION, "5/5");
    env.mine_to(&leaf, 101);
    let refill_file = dir.join("refill-main.psbt");
    let made: action::Output = json(
        &online(
            &env,
            &FEDERATION,
            &[
                "--json",
                "refill-main",
                "--to",
                &leaf,
                "--fees",
                "2",
                "--tokens",
                "2",
                "--psbt-out",
                refill_file.to_str().unwrap(),
                "--from",
                &leaf,
                "--min-conf",
                "1",
            ],
        ),
        "refill-main --from",
    );
    assert!(made.verb.is_none());
    offline(
        dir,
        &FEDERATION,
        &[
            "sign",
            refill_file.to_str().unwrap(),
            "--secret-env",
            FEDERATION.env,
        ],
    )
    .assert_error("wrong secret or path");
    let signed_refill = dir.join("refill-main.signed.psbt");
    let ok = offline(
        dir,
        &FEDERATION,
        &[
            "sign",
            refill_file.to_str().unwrap(),
            "--secret-env",
            FEDERATION.env,
            "--path",
            "5/5",
            "--out",
            signed_refill.to_str().unwrap(),
        ],
    );
    assert!(ok.ok, "{ok:?}");
    let sent: action::Output = json(
        &online(
            &env,
            &FEDERATION,
            &["--json", "broadcast", signed_refill.to_str().unwrap()],
        ),
        "broadcast refill-main",
    );
    assert!(env.mempool().contains(&sent.txid));

    // Bad input to --psbt-out: a secret, or no public side.
    online(
        &env,
        &FEDERATION,
        &[
            "register",
            "--piece",
            &piece,
            "--to",
            &user1,
            "--edition",
            "5",
            "--psbt-out",
            "x.psbt",
            "--xpub",
            &xpub,
            "--secret-env",
            FEDERATION.env,
        ],
    )
    .assert_error("no secret");
    online(
        &env,
        &FEDERATION,
        &[
            "register",
            "--piece",
            &piece,
            "--to",
            &user1,
            "--edition",
            "5",
            "--psbt-out",
            "x.psbt",
            "--xpub",
            "tpubnonsense",
        ],
    )
    .assert_error("tpubnonsense");
}

fn core_txid(env: &Env, finalized: &Value) -> String {
    let decoded = env
        .node
        .call("decoderawtransaction", &[finalized["hex"].clone()])
        .unwrap();
    decoded["txid"].as_str().unwrap().to_owned()
}

/// Through `spool serve`: an unsigned action reserves its outpoints and claim on the server
/// under its unsigned txid; the broadcast of the PSBT signed offline hands them to the signed
/// txid, as broadcast, so no other operator waits for the lease of a transaction already in
/// the mempool.
#[test]
fn a_signed_psbt_broadcast_through_the_server_takes_over_its_reservation() {
    let env = Env::start();
    let dir = tempfile::tempdir().unwrap();
    let xpub = federation_xpub(&env);
    let piece = env.address(&STRANGER, "9/6");
    let user1 = env.address(&USER1, "");
    let mut scenario = Scenario::funded(&env, 20, 40);
    scenario.register_piece(&piece, &user1, 10);
    let federation = env.address(&FEDERATION, "");
    let server = serving::Server::start(&env, &["--watch", &federation]);
    server.wait_synced(&env);
    let reservations = || -> Vec<(String, String)> {
        server.json("/api/v1/reservations")["reservations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["txid"].as_str().unwrap().to_owned(),
                    r["state"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };

    let file = dir.path().join("register3.psbt");
    let unsigned: action::Output = json(
        &online(
            &env,
            &FEDERATION,
            &[
                "--server",
                &server.url,
                "--json",
                "register",
                "--piece",
                &piece,
                "--to",
                &user1,
                "--edition",
                "3",
                "--psbt-out",
                file.to_str().unwrap(),
                "--xpub",
                &xpub,
                "--min-conf",
                "1",
            ],
        ),
        "register --psbt-out --server",
    );
    assert_eq!(
        reservations(),
        vec![(unsigned.txid.clone(), "reserved".to_owned())]
    );

    let signed_file = dir.path().join("register3.signed.psbt");
    let signed = sign_offline(dir.path(), &file, &signed_file);
    assert_ne!(signed.txid, unsigned.txid);
    let sent: action::Output = json(
        &online(
            &env,
            &FEDERATION,
            &[
                "--server",
                &server.url,
                "--json",
                "broadcast",
                signed_file.to_str().unwrap(),
            ],
        ),
        "broadcast --server",
    );
    assert!(sent.broadcast);
    assert_eq!(sent.txid, signed.txid);
    assert_eq!(
        reservations(),
        vec![(signed.txid.clone(), "broadcast".to_owned())],
        "the signed transaction holds what its unsigned form held"
    );
    assert!(env.mempool().contains(&signed.txid));
}
