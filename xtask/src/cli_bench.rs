//! `cargo xtask bench-cli [COUNT]`: the `spool` binary (release build) against `spool serve`
//! on a fresh regtest node, one process per call, as an operator runs it:
//!
//! - rapid-fire issuance: COUNT (1,000) registrations of one piece with `--server`, no
//!   mining in between (editions 1..=COUNT, after REGISTER0 and EDITIONS are mined): the rate
//!   overall, of the first and the last tenth, and rejections (any failure ends the run);
//! - `spool history --server` of that piece (COUNT + 2 events, mined): the time of each whole
//!   process and the HTTP requests it made (counted by the server's `/metrics`).
//!
//! Each figure comes with the bound measured in the same run: a `spool` process that reads
//! nothing (`spool verb encode`), so the ratios say how much an action costs beyond
//! starting the binary. Timings are printed, never asserted: this is a benchmark, not a test.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use spool_testenv::Node;

type Result<T, E = Box<dyn std::error::Error>> = std::result::Result<T, E>;

const REFILL: (&str, &str) = ("SPOOL_BENCH_REFILL_SECRET", "bench refill wallet secret");
const FEDERATION: (&str, &str) = ("SPOOL_BENCH_FEDERATION_SECRET", "bench federation secret");
const ARTIST: (&str, &str) = ("SPOOL_BENCH_ARTIST_SECRET", "bench artist secret");

struct Bench<'a> {
    spool: &'a Path,
    node: Node,
    data_dir: PathBuf,
}

/// Runs the benchmark with the `spool` binary at `spool_exe`.
pub fn run(spool_exe: &Path, count: u64) -> Result<()> {
    let node = Node::start_with_args(&["-checkmempool=0"])?;
    let data_dir = std::env::temp_dir().join(format!("spool-bench-cli-{}", std::process::id()));
    std::fs::create_dir_all(&data_dir)?;
    let mut bench = Bench {
        spool: spool_exe,
        node,
        data_dir: data_dir.clone(),
    };
    let outcome = bench.measure(count);
    let stopped = bench.node.stop();
    let _ = std::fs::remove_dir_all(&data_dir);
    outcome?;
    stopped?;
    Ok(())
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort_unstable();
    times[times.len() / 2]
}

fn rate(times: &[Duration]) -> f64 {
    times.len() as f64 * 60.0 / times.iter().sum::<Duration>().as_secs_f64()
}

impl Bench<'_> {
    fn command(&self, args: &[&str]) -> Command {
        let mut command = self.node.spool_command(self.spool, &self.data_dir);
        command.args(args);
        for (var, secret) in [REFILL, FEDERATION, ARTIST] {
            command.env(var, secret);
        }
        command
    }

    fn json(&self, args: &[&str]) -> Result<Value> {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let output = self.command(&all).stderr(Stdio::piped()).output()?;
        if !output.status.success() {
            return Err(format!(
                "spool {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr).trim()
            )
            .into());
        }
        Ok(serde_json::from_slice(&output.stdout)?)
    }

    fn address(&self, wallet: (&str, &str)) -> Result<String> {
        let out = self.json(&["wallet", "address", "--secret-env", wallet.0, "--path", ""])?;
        Ok(out["address"].as_str().ok_or("no address")?.to_string())
    }

    fn mine(&self, address: &str, blocks: u64) -> Result<()> {
        self.node
            .call("generatetoaddress", &[blocks.into(), address.into()])?;
        Ok(())
    }

    fn tip(&self) -> Result<u64> {
        Ok(self
            .node
            .call("getblockcount", &[])?
            .as_u64()
            .ok_or("block count")?)
    }

    fn wait_synced(&self, url: &str) -> Result<()> {
        let started = Instant::now();
        loop {
            let tip = self.tip()?;
            let status: Value = serde_json::from_str(&get(url, "/api/v1/status")?)?;
            if status["indexed_height"].as_u64() == Some(tip) && status["synced"] == true {
                return Ok(());
            }
            if started.elapsed() > Duration::from_secs(120) {
                return Err(format!("spool serve did not reach height {tip}: {status}").into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn measure(&self, count: u64) -> Result<()> {
        let refill = self.address(REFILL)?;
        let federation = self.address(FEDERATION)?;
        let artist = self.address(ARTIST)?;
        // The piece: the file hash of vectors/ascribe.png (a fresh chain: no earlier events).
        let piece = "mv5yDkR5dnjGHxietq7CH78WHk8vzsu4vH";
        let server = Server::start(self, &["--watch", &refill, "--watch", &federation])?;
        self.mine(&refill, 100 + 8)?;
        server_wait(self, &server)?;
        // One fuel and three tokens per federation action, in transactions of 800 outputs:
        // the rapid fire, two batches (through the server and direct), then the node alone.
        let mut left = 4 * count + 30;
        while left > 0 {
            let n = left.min(200);
            left -= n;
            let fees = n.to_string();
            let tokens = (3 * n).to_string();
            self.json(&[
                "--server",
                &server.url,
                "refill-main",
                "--to",
                &federation,
                "--fees",
                &fees,
                "--tokens",
                &tokens,
                "--secret-env",
                REFILL.0,
                "--min-conf",
                "1",
            ])?;
            self.mine(&refill, 1)?;
            server_wait(self, &server)?;
        }

        // The bound: a `spool` process that reads nothing.
        let mut bare = Vec::new();
        for _ in 0..50 {
            let t = Instant::now();
            let out = self
                .command(&["verb", "encode", "register", "--edition", "1"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()?;
            if !out.success() {
                return Err("spool verb encode failed".into());
            }
            bare.push(t.elapsed());
        }
        let bare = median(&mut bare);

        // The piece's master edition and its number of editions, mined first: pending events
        // have no order among themselves, and the registrations need both to be valid.
        let count_text = count.to_string();
        let setup: [&[&str]; 2] = [
            &[
                "register",
                "--piece",
                piece,
                "--to",
                &artist,
                "--edition",
                "0",
            ],
            &[
                "editions",
                "--piece",
                piece,
                "--to",
                &artist,
                "--count",
                &count_text,
            ],
        ];
        for args in setup {
            let mut all = vec!["--server", server.url.as_str()];
            all.extend_from_slice(args);
            all.extend_from_slice(&["--secret-env", FEDERATION.0, "--min-conf", "1"]);
            self.json(&all)?;
            self.mine(&refill, 1)?;
            server_wait(self, &server)?;
        }

        // SPOOL_BENCH_CLI_ONLY=batch skips to the batches, and =process stops after the
        // one-process-per-action phase (for profiling either alone).
        let only = std::env::var("SPOOL_BENCH_CLI_ONLY").unwrap_or_default();
        if only != "batch" {
            self.rapid_fire_and_history(&server, piece, &artist, &refill, count, bare)?;
        }
        if only == "process" {
            return Ok(());
        }

        // `spool batch`: COUNT registrations of one piece in one process, through the server
        // and direct, against the same process's signing alone (no backend).
        let bound = release_sign_bound(count)?;
        println!(
            "spool batch bound: building and signing {count} registrations in one process without a backend: {bound:.1?} ({:.0}/min)",
            count as f64 * 60.0 / bound.as_secs_f64()
        );
        for (label, via) in [
            ("through --server", Some(server.url.clone())),
            ("direct (Core)", None),
        ] {
            // A piece of its own: the file hash of a file named after the phase.
            let file = self.data_dir.join(format!("piece {label}"));
            std::fs::write(&file, label)?;
            let hashed = self.json(&["hash", &file.to_string_lossy()])?;
            let piece = hashed["file_hash"]
                .as_str()
                .ok_or("no file hash")?
                .to_owned();
            self.batch_phase(
                label,
                via.as_deref(),
                &piece,
                &artist,
                &refill,
                &server,
                count,
                bound,
            )?;
        }
        // The node alone, with the server stopped (its follower would read the mempool).
        let utxos = get(&server.url, &format!("/api/v1/address/{federation}/utxos"))?;
        drop(server);
        self.node_alone(&utxos, count)?;
        Ok(())
    }

    /// The node alone: `count` registrations built and signed here from the federation's
    /// confirmed outputs (`utxos`: the server's listing), then handed straight to the node's `sendrawtransaction` one at a
    /// time (no server, no `spool` process): the node's own time per transaction as its
    /// mempool fills, which bounds how the batch's last tenth can compare with its first.
    fn node_alone(&self, utxos: &str, count: u64) -> Result<()> {
        let reply: Value = serde_json::from_str(utxos)?;
        let utxos: Vec<spool_tx::Utxo> = serde_json::from_value(reply["utxos"].clone())?;
        let hexes: Vec<String> = Registrar::new()?
            .build(utxos, count)?
            .iter()
            .map(bitcoin::consensus::encode::serialize_hex)
            .collect();
        let mut times = Vec::with_capacity(hexes.len());
        for hex in hexes {
            let t = Instant::now();
            self.node.call("sendrawtransaction", &[hex.into()])?;
            times.push(t.elapsed());
        }
        let k = (count as usize / 10).max(1);
        let mean = |t: &[Duration]| 1e3 * t.iter().sum::<Duration>().as_secs_f64() / t.len() as f64;
        let (first, last) = (mean(&times[..k]), mean(&times[times.len() - k..]));
        println!(
            "the node alone (sendrawtransaction of {count} such registrations, built beforehand, no server): first {k} {first:.2} ms each, last {k} {last:.2} ms each: the last at {:.0}% of the first's rate",
            100.0 * first / last
        );
        Ok(())
    }

    /// One process per registration (editions 1..=COUNT of `piece`), no mining, with the
    /// server's per-route times; then the history of the piece, one process per call.
    fn rapid_fire_and_history(
        &self,
        server: &Server,
        piece: &str,
        artist: &str,
        refill: &str,
        count: u64,
        bare: Duration,
    ) -> Result<()> {
        // Requests are counted and timed by the server's own /metrics, read between two
        // processes (outside the timed span): nothing stands between the client and the
        // server.
        let mut times = Vec::with_capacity(count as usize);
        let mut calls = Vec::with_capacity(count as usize);
        let at_start = RouteTimes::read(&server.url)?;
        let tenth = (count / 10).max(1);
        let mut marks = Vec::new();
        let mut before = at_start.requests();
        let started = Instant::now();
        let mut spent = Duration::ZERO;
        for n in 1..=count {
            let edition = n.to_string();
            let args = [
                "--server",
                server.url.as_str(),
                "register",
                "--piece",
                piece,
                "--to",
                artist,
                "--edition",
                &edition,
                "--secret-env",
                FEDERATION.0,
                "--min-conf",
                "1",
            ];
            let t = Instant::now();
            let out = self
                .json(&args)
                .map_err(|e| format!("registration {n} of {count} rejected: {e}"))?;
            times.push(t.elapsed());
            let read = Instant::now();
            let routes_now = RouteTimes::read(&server.url)?;
            let now = routes_now.requests();
            spent += read.elapsed();
            calls.push(now - before);
            before = now;
            // The server's routes over the first and the last tenth.
            if n == tenth || n == count - tenth {
                marks.push(routes_now);
            }
            if out["broadcast"] != true {
                return Err(format!("registration {n} was not broadcast: {out}").into());
            }
        }
        let routes = RouteTimes::read(&server.url)?.since(&at_start);
        let total = started.elapsed() - spent;
        let k = (count as usize / 10).max(1);
        let (first, last) = (rate(&times[..k]), rate(&times[times.len() - k..]));
        let mut per = times.clone();
        let per = median(&mut per);
        println!(
            "rapid-fire through --server: {count} registrations of one piece, no mining, in {total:.1?}: {:.0}/min overall (target >= 1,000/min: {:.2}x); first {k} {first:.0}/min, last {k} {last:.0}/min ({:.0}% of the first; target >= 80%); 0 rejections",
            count as f64 * 60.0 / total.as_secs_f64(),
            count as f64 * 60.0 / total.as_secs_f64() / 1000.0,
            100.0 * last / first
        );
        println!(
            "  median process per registration {per:.1?} = {:.1}x a bare spool process ({bare:.1?}, the bound measured in this run)",
            per.as_secs_f64() / bare.as_secs_f64()
        );
        let mean_calls = |c: &[usize]| c.iter().sum::<usize>() as f64 / c.len() as f64;
        println!(
            "  HTTP requests per registration: first {k} {:.1}, last {k} {:.1}",
            mean_calls(&calls[..k]),
            mean_calls(&calls[calls.len() - k..])
        );
        println!(
            "  server time per registration, by route (count x mean): {}; in all {:.1} ms of the {per:.1?} median process",
            routes.by_route(count as usize),
            routes.millis_per(count as usize)
        );
        if let [after_first, before_last] = &marks[..] {
            let end = RouteTimes::read(&server.url)?;
            for (which, routes) in [
                ("first", after_first.since(&at_start)),
                ("last", end.since(before_last)),
            ] {
                println!(
                    "  server time per registration over the {which} {k}: {:.1} ms ({})",
                    routes.millis_per(k),
                    routes.by_route(k)
                );
            }
        }
        let mempool = self.node.call("getrawmempool", &[])?;
        println!(
            "  node mempool after the run: {} transactions",
            mempool.as_array().map_or(0, Vec::len)
        );

        // History of the COUNT-event piece, mined, one process per call.
        self.mine(refill, 1)?;
        server_wait(self, server)?;
        let mut history = Vec::new();
        let mut requests = Vec::new();
        for _ in 0..20 {
            let before = RouteTimes::read(&server.url)?.requests();
            let t = Instant::now();
            let out = self
                .command(&["--server", &server.url, "--json", "history", piece])
                .stderr(Stdio::null())
                .output()?;
            history.push(t.elapsed());
            if !out.status.success() {
                return Err("spool history --server failed".into());
            }
            let doc: Value = serde_json::from_slice(&out.stdout)?;
            let events = doc["events"].as_array().map_or(0, Vec::len) as u64;
            if events != count + 2 {
                return Err(
                    format!("history holds {events} events, expected {}", count + 2).into(),
                );
            }
            requests.push(RouteTimes::read(&server.url)?.requests() - before);
        }
        let max_requests = requests.iter().copied().max().unwrap_or(0);
        let worst = *history.iter().max().unwrap_or(&Duration::ZERO);
        let history_median = median(&mut history);
        println!(
            "history through --server of a {}-event piece: median {history_median:.1?} per whole process (target < 50 ms: {:.2}x of it), max {worst:.1?}; {:.1}x a bare spool process ({bare:.1?}); at most {max_requests} HTTP request(s) per call (target <= 2)",
            count + 2,
            history_median.as_secs_f64() / 0.050,
            history_median.as_secs_f64() / bare.as_secs_f64()
        );
        // For comparison: the piece's raw transactions, which the engine's path (and the SVG
        // graph) reads instead of the server's verified history.
        let path = format!("/api/v1/address/{piece}/txs");
        let mut raw = Vec::new();
        let mut bytes = 0;
        for _ in 0..20 {
            let t = Instant::now();
            bytes = get(&server.url, &path)?.len();
            raw.push(t.elapsed());
        }
        let raw = median(&mut raw);
        println!(
            "  for comparison, GET {path} (the raw transactions): median {raw:.1?} for {:.1} kB ({:.0}% of a history process)",
            bytes as f64 / 1e3,
            100.0 * raw.as_secs_f64() / history_median.as_secs_f64()
        );
        Ok(())
    }

    /// `spool batch` of `count` registrations of `piece` (after its REGISTER0 and EDITIONS,
    /// mined), through `via` or direct: the rate overall and of the first and last tenth,
    /// from the time each JSON line arrives.
    #[allow(clippy::too_many_arguments)]
    fn batch_phase(
        &self,
        label: &str,
        via: Option<&str>,
        piece: &str,
        artist: &str,
        refill: &str,
        server: &Server,
        count: u64,
        bound: Duration,
    ) -> Result<()> {
        let count_text = count.to_string();
        let prefix: Vec<&str> = match via {
            Some(url) => vec!["--server", url],
            None => Vec::new(),
        };
        for args in [
            vec![
                "register",
                "--piece",
                piece,
                "--to",
                artist,
                "--edition",
                "0",
            ],
            vec![
                "editions",
                "--piece",
                piece,
                "--to",
                artist,
                "--count",
                &count_text,
            ],
        ] {
            let mut all = prefix.clone();
            all.extend_from_slice(&args);
            all.extend_from_slice(&["--secret-env", FEDERATION.0, "--min-conf", "1"]);
            self.json(&all)?;
            self.mine(refill, 1)?;
            server_wait(self, server)?;
        }
        let file = self.data_dir.join(format!("batch-{piece}.jsonl"));
        let text: String = (1..=count)
            .map(|n| {
                format!(
                    "{{\"action\":\"register\",\"piece\":\"{piece}\",\"to\":\"{artist}\",\"edition\":{n}}}\n"
                )
            })
            .collect();
        std::fs::write(&file, text)?;
        let file_text = file.to_string_lossy().to_string();
        let mut all = prefix.clone();
        all.extend_from_slice(&[
            "batch",
            &file_text,
            "--secret-env",
            FEDERATION.0,
            "--min-conf",
            "1",
        ]);
        let started = Instant::now();
        let mut child = self
            .command(&all)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let mut at = Vec::with_capacity(count as usize);
        // The server's time by route over the first and the last tenth (metrics read as the
        // lines arrive: one request each, off the batch's path).
        let k = (count as usize / 10).max(1);
        let mut marks = vec![RouteTimes::read(&server.url)?];
        let pids = [self.node.pid(), Some(server.child.id()), Some(child.id())];
        let mut cpu_marks = vec![pids.map(cpu_seconds)];
        for line in BufReader::new(child.stdout.take().ok_or("stdout")?).lines() {
            let line = line?;
            let doc: Value = serde_json::from_str(&line)?;
            if doc["status"] != "broadcast" {
                return Err(format!("batch line not broadcast: {line}").into());
            }
            at.push(started.elapsed());
            if at.len() == k || at.len() == count as usize - k || at.len() == count as usize {
                marks.push(RouteTimes::read(&server.url)?);
                cpu_marks.push(pids.map(cpu_seconds));
            }
        }
        let status = child.wait()?;
        if !status.success() || at.len() as u64 != count {
            let mut err = String::new();
            if let Some(mut pipe) = child.stderr.take() {
                let _ = pipe.read_to_string(&mut err);
            }
            return Err(
                format!("spool batch {label} failed after {} lines: {err}", at.len()).into(),
            );
        }
        let total = started.elapsed();
        let span = |a: Duration, b: Duration| k as f64 * 60.0 / (b - a).as_secs_f64();
        let first = span(Duration::ZERO, at[k - 1]);
        let last = span(at[at.len() - k - 1], at[at.len() - 1]);
        let overall = count as f64 * 60.0 / total.as_secs_f64();
        println!(
            "spool batch {label}: {count} registrations of one piece in one process in {total:.1?}: {overall:.0}/min (target >= 10,000/min: {:.2}x); first {k} {first:.0}/min, last {k} {last:.0}/min ({:.0}% of the first; target >= 80%); {:.1}x the signing-only bound",
            overall / 10_000.0,
            100.0 * last / first,
            total.as_secs_f64() / bound.as_secs_f64()
        );
        if via.is_some() && marks.len() == 4 {
            let first_ms = 1e3 * at[k - 1].as_secs_f64() / k as f64;
            let last_ms = 1e3 * (at[at.len() - 1] - at[at.len() - k - 1]).as_secs_f64() / k as f64;
            for (label, routes, ms, (a, b)) in [
                ("first", marks[1].since(&marks[0]), first_ms, (0, 1)),
                ("last", marks[3].since(&marks[2]), last_ms, (2, 3)),
            ] {
                let cpu: Vec<String> = ["node", "server", "batch"]
                    .iter()
                    .enumerate()
                    .map(|(p, name)| {
                        format!(
                            "{name} {:.2}",
                            1e3 * (cpu_marks[b][p] - cpu_marks[a][p]) / k as f64
                        )
                    })
                    .collect();
                println!(
                    "  {label} {k}: {ms:.2} ms per line, of which the server {:.2} ms ({}); CPU ms per line: {}",
                    routes.millis_per(k),
                    routes.by_route(k),
                    cpu.join(", ")
                );
            }
        }
        self.mine(refill, 1)?;
        server_wait(self, server)?;
        Ok(())
    }
}

/// [`sign_bound`] measured in a release build of xtask (as `spool` is built), not in this
/// debug one.
fn release_sign_bound(count: u64) -> Result<Duration> {
    let out = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args([
            "run",
            "--release",
            "--quiet",
            "--package",
            "xtask",
            "--",
            "sign-bound",
        ])
        .arg(count.to_string())
        .stderr(Stdio::inherit())
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    match text.trim().parse::<u64>() {
        Ok(nanos) if out.status.success() => Ok(Duration::from_nanos(nanos)),
        _ => Err(format!("the release sign-bound run failed: {text}").into()),
    }
}

/// The federation's root key building registrations as `spool batch` does, with no backend
/// (the bench's two bounds: the signing alone, and the node alone).
struct Registrar {
    key: spool_wallet::SigningKey,
    recipients: [bitcoin::Address; 3],
    params: spool_tx::TxParams,
}

impl Registrar {
    fn new() -> Result<Registrar> {
        use spool_wallet::{LeafPath, MasterSecret, Wallet};
        let wallet =
            Wallet::from_secret(&MasterSecret::new(FEDERATION.1), bitcoin::Network::Regtest)?;
        let to = |p: &str| wallet.address(&LeafPath::parse(p)?);
        Ok(Registrar {
            key: wallet.signing_key(&LeafPath::root())?,
            recipients: [to("1")?, to("2")?, to("3")?],
            params: spool_tx::TxParams::default(),
        })
    }

    /// Registrations of editions 1..=`count`, each built and signed from the outputs of
    /// `utxos` that the ones before it left.
    fn build(
        &self,
        mut utxos: Vec<spool_tx::Utxo>,
        count: u64,
    ) -> Result<Vec<bitcoin::Transaction>> {
        let mut built = Vec::with_capacity(count as usize);
        for edition in 1..=count {
            let action = spool_tx::build_action(
                &self.params,
                &spool_protocol::verb::Verb::Register { edition },
                &self.recipients,
                &utxos,
                &self.key,
            )?;
            let spent: std::collections::HashSet<_> = action.spent.iter().collect();
            utxos.retain(|u| !spent.contains(&u.outpoint));
            built.push(action.tx);
        }
        Ok(built)
    }
}

/// The bound of a batch: building and signing `count` registrations in one process, from a
/// list of outputs kept in memory, with no backend (what `spool batch` does besides asking
/// the backend).
pub fn sign_bound(count: u64) -> Duration {
    use bitcoin::hashes::Hash;
    let registrar = Registrar::new().expect("the bench's wallet");
    let script = registrar.key.address().script_pubkey();
    let utxo = |n: u32, value: u64| spool_tx::Utxo {
        outpoint: bitcoin::OutPoint::new(bitcoin::Txid::from_byte_array([7; 32]), n),
        value: bitcoin::Amount::from_sat(value),
        script_pubkey: script.clone(),
        confirmations: 6,
        is_coinbase: false,
    };
    let n = count as u32;
    let utxos: Vec<spool_tx::Utxo> = (0..n + 1)
        .map(|i| utxo(i, 30_000))
        .chain((n + 1..n + 1 + 3 * n + 3).map(|i| utxo(i, 3_000)))
        .collect();
    let started = Instant::now();
    registrar.build(utxos, count).expect("build");
    started.elapsed()
}

/// The CPU time (user and system, all threads) process `pid` used so far, in seconds; 0
/// when it cannot be read.
fn cpu_seconds(pid: Option<u32>) -> f64 {
    let Some(pid) = pid else { return 0.0 };
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces): utime and stime are the 12th
    // and 13th, in clock ticks.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn server_wait(bench: &Bench<'_>, server: &Server) -> Result<()> {
    bench.wait_synced(&server.url)
}

/// `spool serve` as a child process.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(bench: &Bench<'_>, extra: &[&str]) -> Result<Server> {
        let mut args = vec!["serve", "--http", "127.0.0.1:0", "--poll-ms", "100"];
        args.extend_from_slice(extra);
        let mut child = bench.command(&args).stdout(Stdio::piped()).spawn()?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().ok_or("no stdout")?).read_line(&mut line)?;
        let url = line
            .strip_prefix("listening on ")
            .and_then(|rest| rest.split_whitespace().next())
            .ok_or_else(|| format!("spool serve did not start: {line:?}"))?
            .to_string();
        Ok(Server { child, url })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain HTTP/1.1 GET; the body.
fn get(base: &str, path: &str) -> Result<String> {
    let host = base.strip_prefix("http://").ok_or("an http:// URL")?;
    let mut stream = TcpStream::connect(host)?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )?;
    let mut text = String::new();
    stream.read_to_string(&mut text)?;
    Ok(text
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default())
}

/// The server's answered requests and their total time, by method and route (from the
/// `spool_http_request_duration_seconds` histogram of `GET /metrics`, which is left out).
struct RouteTimes(std::collections::BTreeMap<String, (u64, f64)>);

impl RouteTimes {
    fn read(base: &str) -> Result<RouteTimes> {
        let text = get(base, "/metrics")?;
        let mut routes = std::collections::BTreeMap::new();
        for line in text.lines() {
            let (series, number) = match line.rsplit_once(' ') {
                Some(pair) => pair,
                None => continue,
            };
            let (count, labels) = if let Some(l) =
                series.strip_prefix("spool_http_request_duration_seconds_count{")
            {
                (true, l)
            } else if let Some(l) = series.strip_prefix("spool_http_request_duration_seconds_sum{")
            {
                (false, l)
            } else {
                continue;
            };
            let label = |name: &str| {
                labels
                    .split(&format!("{name}=\""))
                    .nth(1)
                    .and_then(|rest| rest.split('"').next())
                    .unwrap_or("")
                    .to_owned()
            };
            let route = label("route");
            if route == "/metrics" {
                continue;
            }
            let entry = routes
                .entry(format!("{} {route}", label("method")))
                .or_insert((0u64, 0f64));
            if count {
                entry.0 = number.parse()?;
            } else {
                entry.1 = number.parse()?;
            }
        }
        if routes.is_empty() {
            return Err(
                format!("GET {base}/metrics has no spool_http_request_duration_seconds").into(),
            );
        }
        Ok(RouteTimes(routes))
    }

    fn requests(&self) -> usize {
        self.0.values().map(|(n, _)| *n as usize).sum()
    }

    /// Each route's requests and mean time, per one of `actions`, the slowest in all first:
    /// `POST /api/v1/tx 1.00 x 4.92 ms, ...`.
    fn by_route(&self, actions: usize) -> String {
        let mut routes: Vec<_> = self.0.iter().collect();
        routes.sort_by(|a, b| b.1 .1.total_cmp(&a.1 .1));
        let shown: Vec<String> = routes
            .iter()
            .map(|(route, (n, seconds))| {
                format!(
                    "{route} {:.2} x {:.2} ms",
                    *n as f64 / actions as f64,
                    1e3 * seconds / *n as f64
                )
            })
            .collect();
        shown.join(", ")
    }

    /// The server's time in all, in milliseconds per one of `actions`.
    fn millis_per(&self, actions: usize) -> f64 {
        1e3 * self.0.values().map(|(_, s)| s).sum::<f64>() / actions as f64
    }

    /// What was answered since `earlier`.
    fn since(&self, earlier: &RouteTimes) -> RouteTimes {
        RouteTimes(
            self.0
                .iter()
                .map(|(route, (n, s))| {
                    let (n0, s0) = earlier.0.get(route).copied().unwrap_or((0, 0.0));
                    (route.clone(), (n - n0, s - s0))
                })
                .filter(|(_, (n, _))| *n > 0)
                .collect(),
        )
    }
}
