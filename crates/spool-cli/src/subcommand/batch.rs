//! `spool batch FILE`: many actions in one process, one JSON line each.
//!
//! The file holds JSON lines, one action a line, with the fields of the matching subcommand
//! (`{"action": "register", "piece": "H,HM", "to": "ADDR", "edition": 3, "id": "r3"}`; an
//! optional `path` signs with another leaf of the same wallet); `-` reads stdin. The actions
//! run in order in one process: one data-directory session, one wallet unlock, the signer's
//! outputs listed once and kept in memory (`Spool::with_utxo_cache`). Each line answers
//! with one JSON line on stdout: `{line, id, status, txid, verb, error, exit}`.
//!
//! **Resume.** Before a line's transaction is handed to the node, the batch journal
//! `<data-dir>/batches/<sha256 of the file>.jsonl` records `{line, txid, hex}` (fsynced). A
//! rerun of the same file skips the lines it holds: a transaction the backend knows is
//! reported `skipped`; one it does not know (a crash between the journal and the send) is
//! sent again, the very same transaction, so no line is ever broadcast twice.
//!
//! **Failures.** The first failed line stops the batch (its exit class is the run's exit
//! code), unless `--keep-going`, which runs every line and exits with the first failure's
//! class. A line already being sent alongside the failed one (see below) is not called
//! back: it finishes and is answered too.
//!
//! **Overlap.** Through a server, while lines are being sent, the next line is prepared,
//! then sent alongside them, when it is independent of each of them by the claim rules
//! (`spool_tx::claims::independent`: other pieces, or two numbered editions of one piece):
//! at most [`SENDS_IN_FLIGHT`] sends at once, each journalled just before it, answered in
//! the file's order. A line that depends on one in flight waits for it. A line prepared but
//! never sent (the batch stopping at a failure) is released, and one left by a crash is
//! released by the next action that meets it. Test hooks: [`ABORT_AFTER_JOURNAL`],
//! [`ABORT_AFTER_SEND`].

use std::collections::HashMap;
use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::PathBuf;

use anyhow::Context;
use bitcoin::hashes::{sha256, Hash};
use bitcoin::hex::DisplayHex;
use bitcoin::{Address, Network, Transaction};
use clap::Args;
use serde::{Deserialize, Serialize};
use spool_backend::Backend;
use spool_engine::request::MainRefill;
use spool_engine::{Prepared, Request, SendOptions};
use spool_protocol::operation::{Operation, PieceHashes};
use spool_protocol::verb::LoanDate;
use spool_wallet::{LeafPath, Wallet};

use super::action::CommonArgs;
use crate::cli::args::{AddressArg, PieceArg};
use crate::cli::connect;
use crate::cli::exit;
use crate::cli::options::Settings;
use crate::cli::output::Outcome;
use crate::cli::secret::parse_path;

/// Test hook: when this environment variable holds a line number, the batch aborts (as a
/// `kill -9` would) right after journalling that line's transaction and before sending it.
pub const ABORT_AFTER_JOURNAL: &str = "SPOOL_TEST_BATCH_ABORT_AFTER_JOURNAL";

/// Test hook: when this environment variable holds a line number, the batch aborts right
/// after that line was sent and answered, with the next line already prepared (reserved
/// here and with the server, signed, never journalled).
pub const ABORT_AFTER_SEND: &str = "SPOOL_TEST_BATCH_ABORT_AFTER_SEND";

/// `spool batch`'s arguments.
#[derive(Debug, Args)]
pub struct BatchArgs {
    /// The JSON-lines file of actions (`-`: standard input).
    #[arg(value_name = "FILE")]
    pub file: String,
    /// Run every line, even after a failure (the exit code is the first failure's).
    #[arg(long)]
    pub keep_going: bool,
    /// Options every action takes (the signer, confirmations, fee rate, federation).
    #[command(flatten)]
    pub common: CommonArgs,
}

/// One input line.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    action: String,
    #[serde(default)]
    id: Option<serde_json::Value>,
    #[serde(default)]
    piece: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    edition: Option<u64>,
    #[serde(default)]
    count: Option<u64>,
    #[serde(default)]
    fees: Option<u32>,
    #[serde(default)]
    tokens: Option<u32>,
    #[serde(default)]
    start: Option<String>,
    #[serde(default)]
    end: Option<String>,
    #[serde(default)]
    prev: Option<String>,
    #[serde(default)]
    new: Option<String>,
    #[serde(default)]
    path: Option<String>,
}

/// The answer to one line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineOutput {
    /// The line's number in the file (from 1).
    pub line: usize,
    /// The line's `id`, when it gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<serde_json::Value>,
    /// `broadcast`, `skipped` (a rerun: already broadcast), `resent` (a rerun: journalled
    /// but unknown to the backend, sent again), `dry-run` or `error`.
    pub status: String,
    /// The transaction.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub txid: Option<String>,
    /// The verb.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verb: Option<String>,
    /// What went wrong, one line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The exit class of the line (0 done; otherwise as the CLI's exit codes).
    pub exit: u8,
}

/// A journalled line.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Journalled {
    line: usize,
    txid: String,
    hex: String,
}

fn need<T: Clone>(value: &Option<T>, field: &str, action: &str) -> anyhow::Result<T> {
    value
        .clone()
        .ok_or_else(|| exit::input(format!("{action} needs \"{field}\"")))
}

fn address(text: &str, network: Network, field: &str) -> anyhow::Result<Address> {
    let arg: AddressArg = text
        .parse()
        .map_err(|e: String| exit::input(format!("\"{field}\": {e}")))?;
    arg.on(network, field)
}

fn piece(text: &str, network: Network) -> anyhow::Result<PieceHashes> {
    let arg: PieceArg = text
        .parse()
        .map_err(|e: String| exit::input(format!("\"piece\": {e}")))?;
    arg.on(network)
}

fn date(text: &str, field: &str) -> anyhow::Result<LoanDate> {
    LoanDate::parse_checked(text).map_err(|_| {
        exit::input(format!(
            "\"{field}\" {text:?} is not a date: expected YYMMDD, a real day"
        ))
    })
}

/// The request of a line, by the protocol's checked constructors.
fn request_of(line: &Line, network: Network) -> anyhow::Result<Request> {
    let a = line.action.as_str();
    let refused = |e: spool_protocol::operation::OperationError| exit::as_input(e.into());
    Ok(match a {
        "register" => Operation::register(
            &piece(&need(&line.piece, "piece", a)?, network)?,
            address(&need(&line.to, "to", a)?, network, "to")?,
            need(&line.edition, "edition", a)?,
        )
        .into(),
        "editions" => Operation::editions(
            &piece(&need(&line.piece, "piece", a)?, network)?,
            address(&need(&line.to, "to", a)?, network, "to")?,
            need(&line.count, "count", a)?,
        )
        .map_err(refused)?
        .into(),
        "register-piece" | "consigned-registration" => {
            let make = if a == "register-piece" {
                Operation::register_piece
            } else {
                Operation::consigned_registration
            };
            make(
                &piece(&need(&line.piece, "piece", a)?, network)?,
                address(&need(&line.to, "to", a)?, network, "to")?,
            )
            .into()
        }
        "transfer" | "consign" | "unconsign" => {
            let make = match a {
                "transfer" => Operation::transfer,
                "consign" => Operation::consign,
                _ => Operation::unconsign,
            };
            make(
                &piece(&need(&line.piece, "piece", a)?, network)?,
                address(&need(&line.to, "to", a)?, network, "to")?,
                need(&line.edition, "edition", a)?,
            )
            .map_err(refused)?
            .into()
        }
        "loan" => Operation::loan(
            &piece(&need(&line.piece, "piece", a)?, network)?,
            address(&need(&line.to, "to", a)?, network, "to")?,
            need(&line.edition, "edition", a)?,
            date(&need(&line.start, "start", a)?, "start")?,
            date(&need(&line.end, "end", a)?, "end")?,
        )
        .map_err(refused)?
        .into(),
        "migrate" => Operation::migrate(
            &piece(&need(&line.piece, "piece", a)?, network)?,
            address(&need(&line.prev, "prev", a)?, network, "prev")?,
            address(&need(&line.new, "new", a)?, network, "new")?,
            need(&line.edition, "edition", a)?,
        )
        .into(),
        "refill" => Operation::refill(
            address(&need(&line.to, "to", a)?, network, "to")?,
            line.fees.unwrap_or(0),
            line.tokens.unwrap_or(0),
        )
        .map_err(refused)?
        .into(),
        "refill-main" => Request::RefillMain(
            MainRefill::new(
                address(&need(&line.to, "to", a)?, network, "to")?,
                line.fees.unwrap_or(0),
                line.tokens.unwrap_or(0),
            )
            .map_err(refused)?,
        ),
        other => {
            return Err(exit::input(format!(
                "unknown action {other:?}: register, editions, register-piece, consigned-registration, transfer, consign, unconsign, loan, migrate, refill or refill-main"
            )))
        }
    })
}

/// The batch journal of one file.
struct Journal {
    path: PathBuf,
    done: HashMap<usize, Journalled>,
}

impl Journal {
    fn open(data_dir: &std::path::Path, digest: &str) -> anyhow::Result<Journal> {
        let dir = data_dir.join("batches");
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let path = dir.join(format!("{digest}.jsonl"));
        let mut done = HashMap::new();
        if let Ok(file) = std::fs::File::open(&path) {
            for text in std::io::BufReader::new(file).lines() {
                let text = text.with_context(|| format!("cannot read {}", path.display()))?;
                // A last line cut short by a crash was never followed by a send.
                if let Ok(entry) = serde_json::from_str::<Journalled>(&text) {
                    done.insert(entry.line, entry);
                }
            }
        }
        Ok(Journal { path, done })
    }

    fn record(&mut self, entry: Journalled) -> anyhow::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .with_context(|| format!("cannot open {}", self.path.display()))?;
        let mut text = serde_json::to_string(&entry)?;
        text.push('\n');
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        self.done.insert(entry.line, entry);
        Ok(())
    }
}

fn print_line(out: &LineOutput) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer(&mut stdout, out)?;
    writeln!(stdout)?;
    stdout.flush()?;
    Ok(())
}

impl BatchArgs {
    /// Runs the batch.
    ///
    /// # Errors
    ///
    /// A file that cannot be read, a failed line (the first one's class is the exit code),
    /// the backend's or the data directory's failure.
    pub async fn run(&self, settings: &Settings) -> anyhow::Result<Outcome> {
        let text = if self.file == "-" {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("cannot read the batch from standard input")?;
            text
        } else {
            std::fs::read_to_string(&self.file)
                .with_context(|| format!("cannot read the batch file {}", self.file))
                .map_err(exit::as_input)?
        };
        self.run_text(settings, &text).await
    }

    /// Runs the batch whose lines are `text` (`register --editions A..B` makes one).
    ///
    /// # Errors
    ///
    /// As [`BatchArgs::run`].
    pub async fn run_text(&self, settings: &Settings, text: &str) -> anyhow::Result<Outcome> {
        if self.common.wait {
            return Err(exit::input(
                "--wait is not available for batch: wait for the last txid with `spool wait TXID`",
            ));
        }
        if self.common.psbt_out.is_some()
            || self.common.xpub.is_some()
            || self.common.from.is_some()
        {
            return Err(exit::input(
                "--psbt-out, --xpub and --from are not available for batch: a batch signs with the secret; write unsigned actions one at a time",
            ));
        }
        let network = settings.network.network();
        // Every line is read before anything is sent: a malformed line stops nothing halfway.
        let mut lines = Vec::new();
        for (n, raw) in text.lines().enumerate() {
            if raw.trim().is_empty() || raw.trim_start().starts_with('#') {
                continue;
            }
            let line: Line = serde_json::from_str(raw).map_err(|e| {
                exit::input(format!(
                    "line {} of {}: not an action: {e}",
                    n + 1,
                    self.file
                ))
            })?;
            lines.push((n + 1, line));
        }
        let digest = sha256::Hash::hash(text.as_bytes())
            .to_byte_array()
            .to_lower_hex_string();

        let federation = connect::federation(settings, &self.common.federation)?;
        let secret = self.common.secret.read()?;
        let wallet = Wallet::from_secret(&secret, network)?;
        drop(secret);
        let default_path = self.common.path.clone().unwrap_or_else(LeafPath::root);
        let options = SendOptions {
            min_conf: self.common.min_conf.or(settings.min_conf).unwrap_or(6),
            check: !self.common.no_check,
            fee_rate: self.common.fee_rate.or(settings.fee_rate),
            dry_run: self.common.dry_run,
        };
        // (A server's status, read by the gate, names its network.)
        let backend = connect::checked_backend(settings, connect::Purpose::Action).await?;
        let spool = connect::spool_over(settings, backend, federation)?.with_utxo_cache();
        let data_dir = settings
            .data_dir
            .clone()
            .ok_or_else(|| exit::input("no data directory: give --data-dir DIR"))?;
        let mut journal = Journal::open(&data_dir, &digest)?;
        let hook = |name: &str| -> Option<usize> { std::env::var(name).ok()?.parse().ok() };
        let (abort_at, abort_after) = (hook(ABORT_AFTER_JOURNAL), hook(ABORT_AFTER_SEND));

        let bar = (!settings.json && std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::new(lines.len() as u64);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} {per_sec} eta {eta} {msg}",
            ) {
                bar.set_style(style);
            }
            bar
        });
        // While lines are being sent, the next line is prepared (pre-checked, reserved,
        // signed), and sent alongside them, when it is independent of each of them
        // (`spool_tx::claims::independent`): at most [`SENDS_IN_FLIGHT`] sends at once, each
        // journalled just before it, answered in the file's order. Only through a server: a
        // node answers overlapped actions no faster (measured: the batch direct against Core
        // ran 25% slower overlapped).
        let overlap = settings.server.is_some();
        let window = if overlap { SENDS_IN_FLIGHT } else { 1 };
        // What each line's action claims (nothing for a line that does not parse: it fails
        // when its turn comes).
        let claims: Vec<Vec<spool_tx::claims::Claim>> = lines
            .iter()
            .map(|(_, line)| {
                request_of(line, network)
                    .ok()
                    .and_then(|r| r.operation().map(spool_engine::claims_of))
                    .unwrap_or_default()
            })
            .collect();
        let independent_of = |in_flight: &InFlight, i: usize| {
            in_flight
                .iter()
                .all(|(j, _, _)| spool_tx::claims::independent(&claims[*j], &claims[i]))
        };
        let mut ahead: Option<anyhow::Result<Step>> = None;
        let spool = std::sync::Arc::new(spool);
        let ctx = LineContext {
            spool: spool.clone(),
            wallet: std::sync::Arc::new(wallet),
            default_path,
            options,
            network,
        };
        let mut tally = Tally {
            keep_going: self.keep_going,
            bar,
            done: 0,
            skipped: 0,
            failed: 0,
            first_failure: None,
            stop: false,
        };
        let mut in_flight: InFlight = std::collections::VecDeque::new();
        for (i, (n, line)) in lines.iter().enumerate() {
            let first = match ahead.take() {
                Some(first) => first,
                None => {
                    // A line that reads what a line in flight changes waits for it.
                    if !independent_of(&in_flight, i) {
                        tally.drain(&mut in_flight, &lines).await?;
                    }
                    if tally.stop {
                        break;
                    }
                    ctx.prepare(journal.done.get(n).cloned(), *n, line).await
                }
            };
            let (out, prepared) = match first {
                Ok(Step::Ready(out, prepared)) => (out, prepared),
                other => {
                    // Answered without a send (or failed): after those in flight, in order.
                    tally.drain(&mut in_flight, &lines).await?;
                    tally.answer(
                        *n,
                        line,
                        other.map(|step| match step {
                            Step::Answered(out) | Step::Ready(out, _) => out,
                        }),
                    )?;
                    if tally.stop {
                        break;
                    }
                    continue;
                }
            };
            // Independent of every line in flight: prepared ahead only when it was (and those
            // in flight since are fewer), or prepared above once they were drained.
            journal.record(Journalled {
                line: out.line,
                txid: prepared.txid().to_string(),
                hex: prepared.hex(),
            })?;
            if abort_at == Some(*n) {
                std::process::abort();
            }
            let sending = tokio::spawn(send(spool.clone(), out, prepared));
            in_flight.push_back((i, *n, sending));
            // The next line, prepared meanwhile on a task of its own (its reading, signing
            // and writing run on another thread), when independent of every line in flight.
            let preparing = lines
                .get(i + 1)
                .filter(|(m, _)| {
                    overlap && !journal.done.contains_key(m) && independent_of(&in_flight, i + 1)
                })
                .map(|(m, next)| {
                    let (ctx, m, next) = (ctx.clone(), *m, next.clone());
                    (
                        m,
                        tokio::spawn(async move { ctx.prepare(None, m, &next).await }),
                    )
                });
            while in_flight.len() >= window {
                tally.next(&mut in_flight, &lines).await?;
            }
            if let Some((m, preparing)) = preparing {
                ahead = Some(match preparing.await {
                    Ok(prepared_next) => prepared_next,
                    Err(err) => Err(anyhow::anyhow!("the preparation of line {m} ended: {err}")),
                });
            }
            if abort_after == Some(*n) && matches!(ahead, Some(Ok(Step::Ready(..)))) {
                // The test hook: line n sent and answered, the next one prepared only.
                tally.drain(&mut in_flight, &lines).await?;
                std::process::abort();
            }
            if tally.stop {
                tally.drain(&mut in_flight, &lines).await?;
                // The next line, prepared meanwhile, is given up: never journalled nor sent.
                if let Some(Ok(Step::Ready(_, prepared))) = ahead.take() {
                    spool.abandon(&prepared).await?;
                }
                break;
            }
        }
        tally.drain(&mut in_flight, &lines).await?;
        let Tally {
            bar,
            done,
            skipped,
            failed,
            first_failure,
            ..
        } = tally;
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        eprintln!(
            "batch: {done} done, {skipped} skipped (already broadcast), {failed} failed, of {} lines",
            lines.len()
        );
        match first_failure {
            Some(err) => Err(err),
            None => Ok(Outcome::new(&serde_json::json!({}), "")?.text_only(true)),
        }
    }
}

/// A line's first half: answered already (a rerun's line, a dry run), or a transaction ready
/// to be journalled and sent.
enum Step {
    Answered(LineOutput),
    Ready(LineOutput, Box<Prepared>),
}

/// What every line's preparation reads.
#[derive(Clone)]
struct LineContext {
    spool: std::sync::Arc<spool_engine::Spool<connect::AnyBackend>>,
    wallet: std::sync::Arc<Wallet>,
    default_path: LeafPath,
    options: SendOptions,
    network: Network,
}

impl LineContext {
    /// The first half of line `n`: a journalled line (`journalled`, a rerun) is answered
    /// `skipped` when the backend knows its transaction, else sent again as it was; any other
    /// is pre-checked, reserved and signed.
    async fn prepare(
        &self,
        journalled: Option<Journalled>,
        n: usize,
        line: &Line,
    ) -> anyhow::Result<Step> {
        let request = request_of(line, self.network)?;
        let verb = request.verb().map(|v| v.to_string());
        let mut out = LineOutput {
            line: n,
            id: line.id.clone(),
            status: String::new(),
            txid: None,
            verb: verb.clone(),
            error: None,
            exit: 0,
        };
        if let Some(entry) = journalled {
            // A rerun: the line was journalled before its send.
            out.txid = Some(entry.txid.clone());
            let txid: bitcoin::Txid = entry.txid.parse().context("a journalled txid")?;
            if self.spool.backend().transaction(&txid).await.is_ok() {
                out.status = "skipped".into();
                return Ok(Step::Answered(out));
            }
            let tx: Transaction = bitcoin::consensus::encode::deserialize_hex(&entry.hex)
                .context("a journalled transaction")?;
            self.spool.backend().broadcast(&tx).await?;
            out.status = "resent".into();
            return Ok(Step::Answered(out));
        }
        let path = match &line.path {
            Some(text) => parse_path(text).map_err(|e| exit::input(format!("\"path\": {e}")))?,
            None => self.default_path.clone(),
        };
        let key = self
            .wallet
            .signing_key(&path)
            .with_context(|| format!("cannot derive the signer's key at path {path:?}"))?;
        let prepared = self.spool.prepare(&request, &key, &self.options).await?;
        out.txid = Some(prepared.txid().to_string());
        if self.options.dry_run {
            out.status = "dry-run".into();
            return Ok(Step::Answered(out));
        }
        Ok(Step::Ready(out, Box::new(prepared)))
    }
}

/// The second half of a line, once journalled: sends its transaction.
async fn send(
    spool: std::sync::Arc<spool_engine::Spool<connect::AnyBackend>>,
    mut out: LineOutput,
    prepared: Box<Prepared>,
) -> anyhow::Result<LineOutput> {
    spool.broadcast(&prepared).await?;
    out.status = "broadcast".into();
    Ok(out)
}

/// Most lines sent at once through a server (each independent of the others).
pub const SENDS_IN_FLIGHT: usize = 2;

/// The sends in flight, oldest first: each line's index, number and task.
type InFlight = std::collections::VecDeque<(
    usize,
    usize,
    tokio::task::JoinHandle<anyhow::Result<LineOutput>>,
)>;

/// The answers so far: each line's JSON line, the counts, the first failure, and whether the
/// batch stops.
struct Tally {
    keep_going: bool,
    bar: Option<indicatif::ProgressBar>,
    done: usize,
    skipped: usize,
    failed: usize,
    first_failure: Option<anyhow::Error>,
    stop: bool,
}

impl Tally {
    /// Prints line `n`'s answer (`result`) and counts it; a failure stops the batch unless
    /// `--keep-going`.
    fn answer(
        &mut self,
        n: usize,
        line: &Line,
        result: anyhow::Result<LineOutput>,
    ) -> anyhow::Result<()> {
        let out = match result {
            Ok(out) => out,
            Err(err) => {
                let out = LineOutput {
                    line: n,
                    id: line.id.clone(),
                    status: "error".into(),
                    txid: None,
                    verb: None,
                    error: Some(crate::cli::one_line(&err, "batch line")),
                    exit: exit::code(&err),
                };
                if self.first_failure.is_none() {
                    self.first_failure = Some(err.context(format!("line {n} of the batch")));
                }
                out
            }
        };
        match out.status.as_str() {
            "error" => self.failed += 1,
            "skipped" => self.skipped += 1,
            _ => self.done += 1,
        }
        print_line(&out)?;
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
        if out.status == "error" && !self.keep_going {
            self.stop = true;
        }
        Ok(())
    }

    /// Waits for every send in flight, oldest first, and answers each.
    async fn drain(
        &mut self,
        in_flight: &mut InFlight,
        lines: &[(usize, Line)],
    ) -> anyhow::Result<()> {
        while !in_flight.is_empty() {
            self.next(in_flight, lines).await?;
        }
        Ok(())
    }

    /// Waits for the oldest send in flight and answers it.
    async fn next(
        &mut self,
        in_flight: &mut InFlight,
        lines: &[(usize, Line)],
    ) -> anyhow::Result<()> {
        let Some((i, n, task)) = in_flight.pop_front() else {
            return Ok(());
        };
        let result = match task.await {
            Ok(result) => result,
            Err(err) => Err(anyhow::anyhow!(
                "the send of line {n} ended: {err}; it was journalled: run the batch again to learn whether the node has it"
            )),
        };
        self.answer(n, &lines[i].1, result)
    }
}
