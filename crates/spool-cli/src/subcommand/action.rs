//! The actions that write to the chain: refills, registrations, owner actions. Each one
//! parses its arguments and builds a [`Request`] with the protocol's checked constructors
//! (which hold every input rule), then lets the engine pre-check, select inputs, build, sign,
//! broadcast and (with `--wait`) wait. Output: `{"txid", "verb", "fee", "hex", ...}`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use bitcoin::Address;
use clap::Args;
use serde::{Deserialize, Serialize};
use spool_backend::WaitProgress;
use spool_engine::{Request, SendOptions};
use spool_protocol::operation::{Operation, OperationError, PieceHashes};
use spool_protocol::verb::LoanDate;
use spool_wallet::{LeafPath, Wallet};

use crate::cli::args::{AddressArg, PieceArg};
use crate::cli::connect;
use crate::cli::options::Settings;
use crate::cli::output::{Incomplete, Outcome};
use crate::cli::progress::Progress;
use crate::cli::secret::{parse_path, SecretArgs};

/// How a refill's arguments become a request (`refill` and `refill-main`).
pub type MakeRefill = fn(Address, u32, u32) -> Result<Request, OperationError>;
/// How a registration's arguments become an operation (`register-piece`,
/// `consigned-registration`).
pub type MakeRegistration = fn(&PieceHashes, Address) -> Operation;
/// How an owner action's arguments become an operation (`transfer`, `consign`, `unconsign`).
pub type MakeOwnerAction = fn(&PieceHashes, Address, u64) -> Result<Operation, OperationError>;

/// An input rule the protocol's constructors refused, in the command line's terms.
fn refused_input(err: OperationError) -> anyhow::Error {
    crate::cli::exit::as_input(match err {
        OperationError::NothingToRefill => {
            anyhow::anyhow!("nothing to refill: give --fees and/or --tokens above 0")
        }
        OperationError::NoEditions => {
            anyhow::anyhow!("--count 0: a piece has at least one edition")
        }
        OperationError::EditionZero { action } => anyhow::anyhow!(
            "cannot {} edition 0: editions are numbered from 1 (0 is the master edition)",
            action.as_str().to_lowercase()
        ),
        other => anyhow::Error::new(other),
    })
}

/// Options every action takes.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Where the signer's master secret comes from.
    #[command(flatten)]
    pub secret: SecretArgs,
    /// The signer's leaf path (default: the root address "").
    #[arg(long, value_name = "P", value_parser = parse_path)]
    pub path: Option<LeafPath>,
    /// Spend only outputs with at least this many confirmations [default: 6].
    #[arg(long, value_name = "N")]
    pub min_conf: Option<u32>,
    /// Skip the ownership pre-check (pyspool's ownership=False).
    #[arg(long)]
    pub no_check: bool,
    /// Block until the transaction has a confirmation (pyspool's sync=True).
    #[arg(long)]
    pub wait: bool,
    /// How long --wait waits, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
    pub wait_timeout: u64,
    /// Fee rate in sat/vB [default: the builder's].
    #[arg(long, value_name = "SAT_PER_VB")]
    pub fee_rate: Option<f64>,
    /// Build and sign, print the transaction, broadcast nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Federation addresses the history is judged by [default: ascribe's on mainnet, none
    /// elsewhere].
    #[arg(long, value_name = "ADDR")]
    pub federation: Vec<AddressArg>,
    /// Write the action as an unsigned PSBT (base64) to FILE (`-`: stdout) instead of
    /// signing it: no secret is read; give the signer's --xpub (with --path) or --from. Its
    /// outputs are reserved as a signed action's; sign it with `spool sign`, send it with
    /// `spool broadcast`, or drop it with `spool reservations release TXID`.
    #[arg(
        long,
        value_name = "FILE",
        requires = "signer_public",
        conflicts_with = "dry_run"
    )]
    pub psbt_out: Option<PathBuf>,
    /// The signer wallet's extended public key (`spool wallet xpub`), for --psbt-out: the
    /// signer's address is derived at --path, and the PSBT carries BIP 32 derivations.
    #[arg(
        long,
        value_name = "XPUB",
        group = "signer_public",
        requires = "psbt_out"
    )]
    pub xpub: Option<String>,
    /// The signer's address, for --psbt-out without an xpub (`spool sign` then needs
    /// the --path of the address).
    #[arg(
        long,
        value_name = "ADDR",
        group = "signer_public",
        requires = "psbt_out",
        conflicts_with = "path"
    )]
    pub from: Option<AddressArg>,
}

/// `refill-main` and `refill`.
#[derive(Debug, Args)]
pub struct RefillArgs {
    /// The address to refill.
    #[arg(long, value_name = "ADDR")]
    pub to: AddressArg,
    /// Number of fuel outputs.
    #[arg(long, value_name = "N")]
    pub fees: u32,
    /// Number of token outputs.
    #[arg(long, value_name = "N")]
    pub tokens: u32,
    /// Common options.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// `register-piece` and `consigned-registration`.
#[derive(Debug, Args)]
pub struct RegisterPieceArgs {
    /// The piece: file hash, optionally with the metadata hash (H or H,HM).
    #[arg(long, value_name = "H[,HM]")]
    pub piece: PieceArg,
    /// The owner's address.
    #[arg(long, value_name = "ADDR")]
    pub to: AddressArg,
    /// Common options.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// `register`.
#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// The piece (H or H,HM).
    #[arg(long, value_name = "H[,HM]")]
    pub piece: PieceArg,
    /// The owner's address.
    #[arg(long, value_name = "ADDR")]
    pub to: AddressArg,
    /// The edition (0 = the master edition).
    #[arg(
        long,
        value_name = "N",
        required_unless_present = "editions",
        conflicts_with = "editions"
    )]
    pub edition: Option<u64>,
    /// A range of editions `A..B` (both included), registered as one batch (`spool batch`:
    /// one JSON line each, resumable after a crash).
    #[arg(long, value_name = "A..B", value_parser = edition_range)]
    pub editions: Option<(u64, u64)>,
    /// Common options.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// `--editions A..B`.
fn edition_range(text: &str) -> Result<(u64, u64), String> {
    let (a, b) = text
        .split_once("..")
        .ok_or_else(|| format!("{text:?} is not a range: give A..B, e.g. 1..100"))?;
    let a: u64 = a
        .trim()
        .parse()
        .map_err(|_| format!("{a:?} is not an edition number"))?;
    let b: u64 = b
        .trim()
        .trim_start_matches('=')
        .parse()
        .map_err(|_| format!("{b:?} is not an edition number"))?;
    if a > b {
        return Err(format!("{text}: the range is empty (A must not exceed B)"));
    }
    if b - a >= 100_000 {
        return Err(format!("{text}: at most 100,000 editions in one run"));
    }
    Ok((a, b))
}

/// `editions`.
#[derive(Debug, Args)]
pub struct EditionsArgs {
    /// The piece (H or H,HM).
    #[arg(long, value_name = "H[,HM]")]
    pub piece: PieceArg,
    /// The owner's address.
    #[arg(long, value_name = "ADDR")]
    pub to: AddressArg,
    /// Number of editions.
    #[arg(long, value_name = "N")]
    pub count: u64,
    /// Common options.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// `migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The piece (H or H,HM).
    #[arg(long, value_name = "H[,HM]")]
    pub piece: PieceArg,
    /// The previous address.
    #[arg(long, value_name = "ADDR")]
    pub prev: AddressArg,
    /// The new address.
    #[arg(long, value_name = "ADDR")]
    pub new: AddressArg,
    /// The edition.
    #[arg(long, value_name = "N")]
    pub edition: u64,
    /// Common options.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// `transfer`, `consign`, `unconsign`.
#[derive(Debug, Args)]
pub struct OwnerArgs {
    /// The piece (H or H,HM).
    #[arg(long, value_name = "H[,HM]")]
    pub piece: PieceArg,
    /// The recipient's address.
    #[arg(long, value_name = "ADDR")]
    pub to: AddressArg,
    /// The edition (1 or more).
    #[arg(long, value_name = "N")]
    pub edition: u64,
    /// Common options.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// `loan`.
#[derive(Debug, Args)]
pub struct LoanArgs {
    /// The piece (H or H,HM).
    #[arg(long, value_name = "H[,HM]")]
    pub piece: PieceArg,
    /// The borrower's address.
    #[arg(long, value_name = "ADDR")]
    pub to: AddressArg,
    /// The edition (0 = the whole piece).
    #[arg(long, value_name = "N")]
    pub edition: u64,
    /// First day of the loan, YYMMDD.
    #[arg(long, value_name = "YYMMDD")]
    pub start: String,
    /// Last day of the loan, YYMMDD.
    #[arg(long, value_name = "YYMMDD")]
    pub end: String,
    /// Common options.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// `{"txid", "verb", "fee", "hex"}` and more.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Output {
    /// The transaction id.
    pub txid: String,
    /// The verb in its OP_RETURN (null for refill-main).
    pub verb: Option<String>,
    /// The fee paid, in satoshi.
    pub fee: u64,
    /// The signed transaction, hex.
    pub hex: String,
    /// The signer's address (all inputs come from it).
    pub from_address: String,
    /// The recipient (`--to`, or `--new` for migrate).
    pub to_address: String,
    /// Whether it was broadcast (false with --dry-run).
    pub broadcast: bool,
    /// Whether it was seen confirmed (with --wait).
    pub confirmed: bool,
    /// Whether the ownership pre-check ran (false with --no-check or for refills).
    pub checked: bool,
    /// With --psbt-out: the unsigned PSBT, base64 (`txid` is then its unsigned txid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psbt: Option<String>,
}

impl RefillArgs {
    /// Runs `refill-main` or `refill`: `make` turns the arguments into the request.
    ///
    /// # Errors
    ///
    /// Bad input (refused before anything is built), the engine's refusal or failure, or the
    /// backend's; nothing is broadcast unless the error comes after the broadcast.
    pub async fn run(&self, settings: &Settings, make: MakeRefill) -> anyhow::Result<Outcome> {
        let network = settings.network.network();
        let to = self.to.on(network, "--to")?;
        let request = make(to, self.fees, self.tokens).map_err(refused_input)?;
        execute(settings, &self.common, request).await
    }
}

impl RegisterPieceArgs {
    /// Runs `register-piece` or `consigned-registration`: `make` builds the operation.
    ///
    /// # Errors
    ///
    /// Bad input (refused before anything is built), the engine's refusal or failure, or the
    /// backend's; nothing is broadcast unless the error comes after the broadcast.
    pub async fn run(
        &self,
        settings: &Settings,
        make: MakeRegistration,
    ) -> anyhow::Result<Outcome> {
        let network = settings.network.network();
        let piece = self.piece.on(network)?;
        let to = self.to.on(network, "--to")?;
        execute(settings, &self.common, make(&piece, to).into()).await
    }
}

impl RegisterArgs {
    /// Runs `register`.
    ///
    /// # Errors
    ///
    /// Bad input (refused before anything is built), the engine's refusal or failure, or the
    /// backend's; nothing is broadcast unless the error comes after the broadcast.
    pub async fn run(&self, settings: &Settings) -> anyhow::Result<Outcome> {
        let network = settings.network.network();
        let piece = self.piece.on(network)?;
        let to = self.to.on(network, "--to")?;
        if let Some((first, last)) = self.editions {
            let piece_text = format!("{},{}", piece.file_hash, piece.file_hash_metadata);
            let mut text = String::new();
            for edition in first..=last {
                text.push_str(
                    &serde_json::json!({
                        "action": "register",
                        "piece": piece_text,
                        "to": to.to_string(),
                        "edition": edition,
                    })
                    .to_string(),
                );
                text.push('\n');
            }
            let batch = super::batch::BatchArgs {
                file: format!("register --editions {first}..{last}"),
                keep_going: false,
                common: self.common.clone(),
            };
            return batch.run_text(settings, &text).await;
        }
        let edition = self.edition.unwrap_or_default();
        let operation = Operation::register(&piece, to, edition);
        execute(settings, &self.common, operation.into()).await
    }
}

impl EditionsArgs {
    /// Runs `editions`.
    ///
    /// # Errors
    ///
    /// Bad input (refused before anything is built), the engine's refusal or failure, or the
    /// backend's; nothing is broadcast unless the error comes after the broadcast.
    pub async fn run(&self, settings: &Settings) -> anyhow::Result<Outcome> {
        let network = settings.network.network();
        let piece = self.piece.on(network)?;
        let to = self.to.on(network, "--to")?;
        let operation = Operation::editions(&piece, to, self.count).map_err(refused_input)?;
        execute(settings, &self.common, operation.into()).await
    }
}

impl MigrateArgs {
    /// Runs `migrate`.
    ///
    /// # Errors
    ///
    /// Bad input (refused before anything is built), the engine's refusal or failure, or the
    /// backend's; nothing is broadcast unless the error comes after the broadcast.
    pub async fn run(&self, settings: &Settings) -> anyhow::Result<Outcome> {
        let network = settings.network.network();
        let piece = self.piece.on(network)?;
        let prev = self.prev.on(network, "--prev")?;
        let new = self.new.on(network, "--new")?;
        if prev == new {
            anyhow::bail!("--prev and --new are the same address {prev}: a migration moves an edition to another address");
        }
        let operation = Operation::migrate(&piece, prev, new, self.edition);
        execute(settings, &self.common, operation.into()).await
    }
}

impl OwnerArgs {
    /// Runs `transfer`, `consign` or `unconsign`: `make` builds the operation.
    ///
    /// # Errors
    ///
    /// Bad input (refused before anything is built), the engine's refusal or failure, or the
    /// backend's; nothing is broadcast unless the error comes after the broadcast.
    pub async fn run(&self, settings: &Settings, make: MakeOwnerAction) -> anyhow::Result<Outcome> {
        let network = settings.network.network();
        let piece = self.piece.on(network)?;
        let to = self.to.on(network, "--to")?;
        let operation = make(&piece, to, self.edition).map_err(refused_input)?;
        execute(settings, &self.common, operation.into()).await
    }
}

impl LoanArgs {
    /// Runs `loan`.
    ///
    /// # Errors
    ///
    /// Bad input (refused before anything is built), the engine's refusal or failure, or the
    /// backend's; nothing is broadcast unless the error comes after the broadcast.
    pub async fn run(&self, settings: &Settings) -> anyhow::Result<Outcome> {
        let network = settings.network.network();
        let start = loan_date("--start", &self.start)?;
        let end = loan_date("--end", &self.end)?;
        let piece = self.piece.on(network)?;
        let to = self.to.on(network, "--to")?;
        let operation =
            Operation::loan(&piece, to, self.edition, start, end).map_err(refused_input)?;
        execute(settings, &self.common, operation.into()).await
    }
}

fn loan_date(flag: &str, text: &str) -> anyhow::Result<LoanDate> {
    LoanDate::parse_checked(text).map_err(|_| {
        crate::cli::exit::input(format_args!(
            "{flag} {text:?} is not a date: expected YYMMDD, a real day"
        ))
    })
}

/// Pre-check, build, sign, and unless `--dry-run` broadcast (and with `--wait` wait).
async fn execute(
    settings: &Settings,
    common: &CommonArgs,
    request: Request,
) -> anyhow::Result<Outcome> {
    if common.psbt_out.is_some() {
        return crate::subcommand::psbt_out::execute(settings, common, request).await;
    }
    let network = settings.network.network();
    let federation = connect::federation(settings, &common.federation)?;
    let secret = common.secret.read()?;
    let wallet = Wallet::from_secret(&secret, network)?;
    drop(secret);
    let path = common.path.clone().unwrap_or_else(LeafPath::root);
    let key = wallet
        .signing_key(&path)
        .with_context(|| format!("cannot derive the signer's key at path {path:?}"))?;
    let min_conf = common.min_conf.or(settings.min_conf).unwrap_or(6);
    let options = SendOptions {
        min_conf,
        check: !common.no_check,
        fee_rate: common.fee_rate.or(settings.fee_rate),
        dry_run: common.dry_run,
    };
    // The node must serve --network before this network's data directory is created.
    // (Every backend error names the node's URL.)
    // (A server's status, read by the gate, names its network.)
    let backend = connect::checked_backend(settings, connect::Purpose::Action).await?;
    let spool = connect::spool_over(settings, backend, federation)?;
    let prepared = spool.prepare(&request, &key, &options).await?;
    let mut output = Output {
        txid: prepared.txid().to_string(),
        verb: request.verb().map(|verb| verb.to_string()),
        fee: prepared.fee().to_sat(),
        hex: prepared.hex(),
        from_address: key.address().to_string(),
        to_address: request.destination().to_string(),
        broadcast: false,
        confirmed: false,
        checked: prepared.checked(),
        psbt: None,
    };
    let mut wait_failed = None;
    if !common.dry_run {
        spool.broadcast(&prepared).await?;
        output.broadcast = true;
        if common.wait {
            let progress = Progress::start(
                settings.json,
                format!("waiting for {} to confirm", output.txid),
            );
            let report = |p: WaitProgress| {
                progress.set_message(format!(
                    "waiting for {}: {} of {} confirmation(s){}",
                    p.txid,
                    p.confirmations,
                    p.wanted,
                    if p.seen { "" } else { " (not seen yet)" }
                ))
            };
            let waited = spool
                .wait_confirmed_with_progress(
                    &prepared.txid(),
                    1,
                    Duration::from_secs(common.wait_timeout),
                    &report,
                )
                .await;
            progress.finish();
            match waited {
                Ok(_) => output.confirmed = true,
                // Broadcast all the same: the output is printed, the exit code says the
                // wait failed.
                Err(err) => wait_failed = Some(anyhow::Error::new(err)),
            }
        }
    }
    let text = format!(
        "{}{} {}\n",
        if output.broadcast {
            ""
        } else {
            "(dry run, not broadcast) "
        },
        output.verb.as_deref().unwrap_or("refill-main"),
        output.txid
    );
    let text = if output.broadcast {
        text
    } else {
        format!("{text}{}\n", output.hex)
    };
    let outcome = Outcome::new(&output, text)?;
    if !output.broadcast {
        return Ok(outcome);
    }
    let outcome = outcome.broadcast(output.txid.clone());
    Ok(match wait_failed {
        None => outcome,
        Some(err) => outcome.incomplete(Incomplete {
            message: format!(
                "transaction {txid} was broadcast but not seen confirmed: {}; wait for it \
                 with: spool wait {txid}",
                crate::cli::one_line(&err, "wait"),
                txid = output.txid
            ),
            code: crate::cli::exit::WAIT_INCOMPLETE,
        }),
    })
}
