//! `cargo xtask demo`: the seed's walkthrough (pyspool's documentation example) on a fresh
//! regtest node, run step by step through the `spool` binary and checked on chain.
//!
//! It ends by indexing the demo chain (`spool index`) and writing the piece's provenance
//! graph to `target/demo/piece.svg`; with `--serve` it then runs `spool serve` over the
//! index and keeps node and server up until Ctrl-C, printing the explorer's URL.
//!
//! Secrets reach the binary only through environment variables named by `--secret-env`,
//! never through its arguments.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use spool_testenv::Node;

type Result<T, E = Box<dyn std::error::Error>> = std::result::Result<T, E>;

/// The wallets of the walkthrough: (environment variable, secret).
const REFILL: (&str, &str) = ("SPOOL_DEMO_REFILL_SECRET", "demo refill wallet secret");
const FEDERATION: (&str, &str) = ("SPOOL_DEMO_FEDERATION_SECRET", "demo federation secret");
const USER1: (&str, &str) = ("SPOOL_DEMO_USER1_SECRET", "demo user1 secret");
const USER2: (&str, &str) = ("SPOOL_DEMO_USER2_SECRET", "demo user2 secret");
const USER3: (&str, &str) = ("SPOOL_DEMO_USER3_SECRET", "demo user3 secret");

/// The verbs the walkthrough writes to the piece, in order.
const EXPECTED_VERBS: [&str; 7] = [
    "ASCRIBESPOOL01REGISTER0",
    "ASCRIBESPOOL01EDITIONS10",
    "ASCRIBESPOOL01REGISTER1",
    "ASCRIBESPOOL01TRANSFER1",
    "ASCRIBESPOOL01CONSIGN1",
    "ASCRIBESPOOL01UNCONSIGN1",
    "ASCRIBESPOOL01LOAN1/150522150523",
];

struct Demo<'a> {
    spool: &'a Path,
    node: Node,
    data_dir: PathBuf,
    /// Where blocks between steps are mined to.
    sink: String,
    /// Every transaction the demo sent: (step, txid).
    sent: Vec<(String, String)>,
}

/// What the walkthrough left to show: the piece and the federation.
struct Shown {
    file_hash: String,
    federation: String,
}

/// Runs the walkthrough with the `spool` binary at `spool_exe`, indexes the chain and writes
/// the piece's graph to `svg_out`; with `serve`, serves the explorer until Ctrl-C.
pub fn run(spool_exe: &Path, svg_out: &Path, serve: bool) -> Result<()> {
    eprintln!("demo: starting a fresh regtest node");
    let node = Node::start()?;
    let data_dir = std::env::temp_dir().join(format!("spool-demo-{}", std::process::id()));
    std::fs::create_dir_all(&data_dir)?;
    let mut demo = Demo {
        spool: spool_exe,
        node,
        data_dir: data_dir.clone(),
        sink: String::new(),
        sent: Vec::new(),
    };
    let outcome = demo
        .walkthrough()
        .and_then(|shown| demo.index_and_draw(&shown, svg_out).map(|()| shown))
        .and_then(|shown| if serve { demo.serve(&shown) } else { Ok(()) });
    let stopped = demo.node.stop();
    let _ = std::fs::remove_dir_all(&data_dir);
    outcome?;
    stopped?;
    println!("demo: every step landed on chain; node stopped");
    Ok(())
}

/// Waits for Ctrl-C (SIGINT), which then no longer ends this process: the demo cleans up.
fn wait_for_ctrl_c() -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    runtime.block_on(tokio::signal::ctrl_c())?;
    Ok(())
}

impl Demo<'_> {
    fn command(&self, args: &[&str]) -> Command {
        let mut command = self.node.spool_command(self.spool, &self.data_dir);
        command.args(args);
        for (var, secret) in [REFILL, FEDERATION, USER1, USER2, USER3] {
            command.env(var, secret);
        }
        command
    }

    /// `spool --json ARGS`, parsed.
    fn json(&self, args: &[&str]) -> Result<Value> {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let output = self.command(&all).output()?;
        if !output.status.success() {
            return Err(format!(
                "spool {} failed: {}",
                args.first().unwrap_or(&""),
                String::from_utf8_lossy(&output.stderr).trim()
            )
            .into());
        }
        Ok(serde_json::from_slice(&output.stdout)?)
    }

    /// `spool ARGS`, its text output.
    fn text(&self, args: &[&str]) -> Result<String> {
        let output = self.command(args).output()?;
        if !output.status.success() {
            return Err(format!(
                "spool {} failed: {}",
                args.first().unwrap_or(&""),
                String::from_utf8_lossy(&output.stderr).trim()
            )
            .into());
        }
        Ok(String::from_utf8(output.stdout)?)
    }

    fn field(value: &Value, name: &str) -> Result<String> {
        value[name]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("no {name:?} in {value}").into())
    }

    /// The address of a wallet at a path ("" = root), or at a fresh time path.
    fn address(&self, wallet: (&str, &str), path: Option<&str>) -> Result<(String, String)> {
        let mut args = vec!["wallet", "address", "--secret-env", wallet.0];
        match path {
            Some(path) => args.extend_from_slice(&["--path", path]),
            None => args.push("--unique"),
        }
        let out = self.json(&args)?;
        Ok((Self::field(&out, "path")?, Self::field(&out, "address")?))
    }

    fn mine(&self, address: &str, blocks: u64) -> Result<()> {
        self.node
            .call("generatetoaddress", &[blocks.into(), address.into()])?;
        Ok(())
    }

    /// Runs one action signed by `wallet` at `path`, mines a block, prints the txid.
    fn step(&mut self, title: &str, wallet: (&str, &str), path: &str, args: &[&str]) -> Result<()> {
        let mut all = args.to_vec();
        all.extend_from_slice(&["--secret-env", wallet.0, "--path", path, "--min-conf", "1"]);
        let out = self.json(&all)?;
        let txid = Self::field(&out, "txid")?;
        let verb = out["verb"]
            .as_str()
            .unwrap_or("(no verb: ordinary transaction)");
        println!(
            "{:<52} {verb:<34} {txid}",
            format!("{}. {title}", self.sent.len() + 1)
        );
        self.sent.push((title.to_string(), txid));
        self.mine(&self.sink.clone(), 1)
    }

    /// pyspool's `refill(federation, user, 1, 1)`: one fuel and one token to a user.
    fn refill(&mut self, title: &str, to: &str) -> Result<()> {
        let args = ["refill", "--to", to, "--fees", "1", "--tokens", "1"];
        self.step(title, FEDERATION, "", &args)
    }

    /// `spool index`, then the piece's provenance graph (`history --format svg`) to `out`.
    fn index_and_draw(&self, shown: &Shown, out: &Path) -> Result<()> {
        let indexed = self.json(&["index", "--watch", &shown.federation])?;
        println!(
            "indexed the demo chain to height {} ({} blocks) in {}",
            indexed["indexed_height"],
            indexed["blocks"],
            indexed["index"].as_str().unwrap_or_default()
        );
        let svg = self.text(&[
            "history",
            &shown.file_hash,
            "--federation",
            &shown.federation,
            "--format",
            "svg",
        ])?;
        if !svg.contains("<svg") {
            return Err("history --format svg did not print an SVG document".into());
        }
        if let Some(dir) = out.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(out, svg)?;
        println!("provenance graph of the piece: {}", out.display());
        Ok(())
    }

    /// `spool serve` over the demo's index until Ctrl-C; prints the explorer's URL.
    fn serve(&self, shown: &Shown) -> Result<()> {
        let mut child = self
            .command(&[
                "serve",
                "--http",
                "127.0.0.1:0",
                "--federation",
                &shown.federation,
            ])
            .stdout(Stdio::piped())
            .spawn()?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().ok_or("no stdout from spool serve")?)
            .read_line(&mut line)?;
        let Some(url) = line
            .strip_prefix("listening on ")
            .and_then(|rest| rest.split_whitespace().next())
        else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("spool serve did not start: {line:?}").into());
        };
        println!();
        println!("explorer: {url}/piece/{}", shown.file_hash);
        println!("home:     {url}/   JSON API: {url}/api/v1/status");
        println!(
            "node RPC: {} (cookie {})",
            self.node.rpc_url(),
            self.node.cookie_file().display()
        );
        println!("press Ctrl-C to stop the server and the node");
        let waited = wait_for_ctrl_c();
        // Ctrl-C reached `spool serve` too (same process group); give it a moment to stop.
        let started = Instant::now();
        while child.try_wait()?.is_none() && started.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(50));
        }
        if child.try_wait()?.is_none() {
            let _ = child.kill();
        }
        let _ = child.wait();
        eprintln!("demo: server stopped");
        waited
    }

    fn walkthrough(&mut self) -> Result<Shown> {
        let (_, refill_root) = self.address(REFILL, Some(""))?;
        let (_, federation_root) = self.address(FEDERATION, Some(""))?;
        let (_, user1_root) = self.address(USER1, Some(""))?;
        let (user1_path, user1_leaf) = self.address(USER1, None)?;
        let (user2_path, user2_leaf) = self.address(USER2, None)?;
        let (user3_path, user3_leaf) = self.address(USER3, None)?;
        self.sink = refill_root.clone();

        let image = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join("vectors")
            .join("ascribe.png");
        let image = image
            .to_str()
            .ok_or("non-UTF-8 path to vectors/ascribe.png")?;
        let hashes = self.json(&[
            "hash",
            image,
            "--meta",
            "artist_name=Rodolphe Marques",
            "--meta",
            "title=ascribe",
        ])?;
        let file_hash = Self::field(&hashes, "file_hash")?;
        let file_hash_metadata = Self::field(&hashes, "file_hash_metadata")?;
        let piece = format!("{file_hash},{file_hash_metadata}");

        println!("refill wallet   {refill_root}");
        println!("federation      {federation_root}");
        println!("user1 root      {user1_root}");
        println!("user1 leaf      {user1_leaf} ({user1_path})");
        println!("user2 leaf      {user2_leaf} ({user2_path})");
        println!("user3 leaf      {user3_leaf} ({user3_path})");
        println!("piece           {file_hash} (with metadata {file_hash_metadata})");
        println!();

        eprintln!("demo: mining 101 blocks to the refill wallet (coinbases mature at 100)");
        self.mine(&refill_root, 101)?;

        let f = FEDERATION;
        let fed = federation_root.as_str();

        self.step(
            "refill the federation wallet",
            REFILL,
            "",
            &["refill-main", "--to", fed, "--fees", "20", "--tokens", "20"],
        )?;
        self.step(
            "user1 registers the master edition",
            f,
            "",
            &[
                "register",
                "--piece",
                &piece,
                "--to",
                &user1_root,
                "--edition",
                "0",
            ],
        )?;
        self.step(
            "user1 registers 10 editions",
            f,
            "",
            &[
                "editions",
                "--piece",
                &piece,
                "--to",
                &user1_root,
                "--count",
                "10",
            ],
        )?;
        self.step(
            "user1 registers edition 1 to a leaf",
            f,
            "",
            &[
                "register",
                "--piece",
                &piece,
                "--to",
                &user1_leaf,
                "--edition",
                "1",
            ],
        )?;
        self.refill("refill user1", &user1_leaf)?;
        self.step(
            "user1 transfers edition 1 to user2",
            USER1,
            &user1_path,
            &[
                "transfer",
                "--piece",
                &piece,
                "--to",
                &user2_leaf,
                "--edition",
                "1",
            ],
        )?;
        self.refill("refill user2", &user2_leaf)?;
        self.step(
            "user2 consigns edition 1 to user3",
            USER2,
            &user2_path,
            &[
                "consign",
                "--piece",
                &piece,
                "--to",
                &user3_leaf,
                "--edition",
                "1",
            ],
        )?;
        self.refill("refill user3", &user3_leaf)?;
        self.step(
            "user3 unconsigns edition 1 back to user2",
            USER3,
            &user3_path,
            &[
                "unconsign",
                "--piece",
                &piece,
                "--to",
                &user2_leaf,
                "--edition",
                "1",
            ],
        )?;
        self.refill("refill user2", &user2_leaf)?;
        self.step(
            "user2 loans edition 1 to user3 (150522-150523)",
            USER2,
            &user2_path,
            &[
                "loan",
                "--piece",
                &piece,
                "--to",
                &user3_leaf,
                "--edition",
                "1",
                "--start",
                "150522",
                "--end",
                "150523",
            ],
        )?;

        println!();
        println!(
            "{}",
            self.text(&[
                "history",
                &file_hash,
                "--format",
                "table",
                "--federation",
                &federation_root,
            ])?
        );
        println!(
            "{}",
            self.text(&[
                "ownership",
                &user2_leaf,
                &file_hash,
                "--edition",
                "1",
                "--federation",
                &federation_root,
            ])?
        );

        self.verify(&file_hash, &user2_leaf, &federation_root)?;
        Ok(Shown {
            file_hash,
            federation: federation_root,
        })
    }

    /// Every transaction is confirmed, the piece's history holds exactly the walkthrough's
    /// verbs, all valid, and user2 owns edition 1.
    fn verify(&self, file_hash: &str, user2_leaf: &str, federation: &str) -> Result<()> {
        for (title, txid) in &self.sent {
            let tx = self
                .node
                .call("getrawtransaction", &[txid.as_str().into(), true.into()])?;
            let confirmations = tx["confirmations"].as_u64().unwrap_or(0);
            if confirmations == 0 {
                return Err(format!("{title}: {txid} is not confirmed").into());
            }
        }
        let history = self.json(&["history", file_hash, "--federation", federation])?;
        let events = history["events"]
            .as_array()
            .ok_or("history without events")?;
        let verbs: Vec<&str> = events.iter().filter_map(|e| e["verb"].as_str()).collect();
        if verbs != EXPECTED_VERBS {
            return Err(format!("history verbs {verbs:?}, expected {EXPECTED_VERBS:?}").into());
        }
        if let Some(bad) = events.iter().find(|e| e["valid"] != Value::Bool(true)) {
            return Err(format!("invalid event in the walkthrough: {bad}").into());
        }
        let ownership = self.json(&[
            "ownership",
            user2_leaf,
            file_hash,
            "--edition",
            "1",
            "--federation",
            federation,
        ])?;
        if ownership["owner"].as_str() != Some(user2_leaf) {
            return Err(format!("edition 1 should belong to user2: {ownership}").into());
        }
        for right in ["can_transfer", "can_consign", "can_loan"] {
            if ownership[right] != Value::Bool(true) {
                return Err(format!("user2 should have {right}: {ownership}").into());
            }
        }
        Ok(())
    }
}
