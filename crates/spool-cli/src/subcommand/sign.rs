//! `spool sign PSBT [--out FILE]`: signs and finalizes an unsigned action's PSBT with the
//! wallet's secret, on a machine that needs no backend and no network. It says what it
//! signs (verb, piece, edition, recipients, fee and fee rate), refuses inputs whose key the
//! secret does not hold and a PSBT whose OP_RETURN is not a SPOOL verb (unless
//! `--allow-non-spool`), and never broadcasts.

use std::path::PathBuf;

use anyhow::Context;
use bitcoin::psbt::Psbt;
use bitcoin::{Address, Amount, Network, Transaction};
use clap::Args;
use serde::{Deserialize, Serialize};
use spool_protocol::operation::{Denominations, Operation};
use spool_protocol::payload::Flaw;
use spool_tx::psbt::{self, PsbtOrTx};
use spool_wallet::{LeafPath, Wallet};

use crate::cli::exit;
use crate::cli::options::Settings;
use crate::cli::output::Outcome;
use crate::cli::secret::{parse_path, SecretArgs};

/// `spool sign`'s arguments.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// The unsigned PSBT (base64 or binary; `-`: stdin).
    #[arg(value_name = "PSBT")]
    pub psbt: PathBuf,
    /// Where to write the signed, finalized PSBT (base64) [default: stdout].
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Where the wallet's master secret comes from.
    #[command(flatten)]
    pub secret: SecretArgs,
    /// The signer's leaf path, for inputs without a BIP 32 derivation (PSBTs made with
    /// --from) [default: the root ""].
    #[arg(long, value_name = "P", value_parser = parse_path)]
    pub path: Option<LeafPath>,
    /// Sign even when an OP_RETURN is not a SPOOL verb.
    #[arg(long)]
    pub allow_non_spool: bool,
}

/// What was signed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Output {
    /// The signed transaction's id.
    pub txid: String,
    /// The PSBT's unsigned txid (its reservation's key on the online machine).
    pub unsigned_txid: String,
    /// The verb (null when the transaction has no OP_RETURN, as refill-main).
    pub verb: Option<String>,
    /// The piece's address, for a verb about a piece.
    pub piece: Option<String>,
    /// The edition the verb acts on.
    pub edition: Option<u64>,
    /// The outputs in order: address (or script) and satoshi.
    pub recipients: Vec<Recipient>,
    /// The fee, in satoshi.
    pub fee: u64,
    /// The fee rate, in sat/vB of the signed transaction.
    pub fee_rate: f64,
    /// The signed, finalized PSBT, base64.
    pub psbt: String,
    /// The signed transaction, hex.
    pub hex: String,
}

/// One output of the transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipient {
    /// Its address, or `OP_RETURN <text>` / the script in hex.
    pub to: String,
    /// Its value in satoshi.
    pub sat: u64,
}

/// Reads a PSBT file (`-`: stdin).
pub(crate) fn read_input(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    if path.as_os_str() == "-" {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes)
            .context("cannot read stdin")?;
        return Ok(bytes);
    }
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

fn describe_output(out: &bitcoin::TxOut, network: Network) -> String {
    if let Ok(address) = Address::from_script(&out.script_pubkey, network) {
        return address.to_string();
    }
    if let Ok(data) = spool_protocol::payload::op_return_payload(&out.script_pubkey) {
        return format!("OP_RETURN {}", String::from_utf8_lossy(data));
    }
    format!("script {}", out.script_pubkey.to_hex_string())
}

/// What the transaction does, from the protocol crate: `(verb, piece, edition)`.
fn spool_meaning(
    tx: &Transaction,
    network: Network,
    allow_non_spool: bool,
) -> anyhow::Result<(Option<String>, Option<String>, Option<u64>)> {
    match spool_protocol::payload::find_verb(tx) {
        Ok((_, verb)) => {
            let piece = Operation::decipher(tx, network, Denominations::default())
                .ok()
                .and_then(|op| op.piece().map(ToString::to_string));
            Ok((Some(verb.to_string()), piece, verb.edition()))
        }
        // No OP_RETURN at all: a plain payment (refill-main), no verb to check.
        Err(Flaw::NoOpReturn { .. }) => Ok((None, None, None)),
        Err(flaw) if allow_non_spool => {
            eprintln!("warning: signing a transaction that is not a SPOOL action ({flaw})");
            Ok((None, None, None))
        }
        Err(flaw) => Err(exit::input(format_args!(
            "refusing to sign: the PSBT's OP_RETURN is not a valid SPOOL verb ({flaw}); give \
             --allow-non-spool to sign it anyway"
        ))),
    }
}

impl SignArgs {
    /// Runs `spool sign`: reads the PSBT and the secret, says what it signs, signs,
    /// finalizes and writes the signed PSBT. Touches no backend.
    ///
    /// # Errors
    ///
    /// An unreadable PSBT, a wrong secret or path, a non-SPOOL OP_RETURN, or a file that
    /// cannot be written; nothing is signed then.
    pub fn run(&self, settings: &Settings) -> anyhow::Result<Outcome> {
        let network = settings.network.network();
        let bytes = read_input(&self.psbt)?;
        let mut psbt: Psbt = match psbt::read(&bytes).map_err(|e| {
            exit::as_input(anyhow::Error::new(e).context(format!("{}", self.psbt.display())))
        })? {
            PsbtOrTx::Psbt(psbt) => psbt,
            PsbtOrTx::Tx(_) => {
                return Err(exit::input(format_args!(
                    "{} is a raw transaction, not a psbt: nothing to sign",
                    self.psbt.display()
                )))
            }
        };
        let prevouts = psbt::check_previous(&psbt).map_err(|e| exit::as_input(e.into()))?;
        let unsigned_txid = psbt.unsigned_tx.compute_txid();
        let (verb, piece, edition) =
            spool_meaning(&psbt.unsigned_tx, network, self.allow_non_spool)?;
        let inputs: Amount = prevouts.iter().map(|o| o.value).sum();
        let outputs: Amount = psbt.unsigned_tx.output.iter().map(|o| o.value).sum();
        let fee = inputs.checked_sub(outputs).ok_or_else(|| {
            exit::input(format_args!(
                "the psbt's outputs ({outputs}) exceed its inputs ({inputs})"
            ))
        })?;
        let recipients: Vec<Recipient> = psbt
            .unsigned_tx
            .output
            .iter()
            .map(|o| Recipient {
                to: describe_output(o, network),
                sat: o.value.to_sat(),
            })
            .collect();
        let secret = self.secret.read()?;
        let wallet = Wallet::from_secret(&secret, network)?;
        drop(secret);
        let path = self.path.clone().unwrap_or_else(LeafPath::root);
        psbt::sign_psbt(&mut psbt, &wallet, &path)
            .map_err(|e| exit::as_input(anyhow::Error::new(e).context("refusing to sign")))?;
        let tx = psbt::finalize(&mut psbt)?;
        let vsize = tx.vsize();
        // What is signed, once the secret is known to hold its keys (before it is written).
        eprintln!(
            "signing {} {}{}{}, fee {} sat ({:.2} sat/vB), outputs: {}",
            verb.as_deref().unwrap_or("a transaction without a verb"),
            unsigned_txid,
            piece
                .as_deref()
                .map(|p| format!(", piece {p}"))
                .unwrap_or_default(),
            edition
                .map(|e| format!(", edition {e}"))
                .unwrap_or_default(),
            fee.to_sat(),
            fee.to_sat() as f64 / vsize as f64,
            recipients
                .iter()
                .map(|r| format!("{} ({} sat)", r.to, r.sat))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let text = psbt::to_base64(&psbt);
        let output = Output {
            txid: tx.compute_txid().to_string(),
            unsigned_txid: unsigned_txid.to_string(),
            verb,
            piece,
            edition,
            recipients,
            fee: fee.to_sat(),
            fee_rate: (fee.to_sat() as f64 / vsize as f64 * 100.0).round() / 100.0,
            psbt: text.clone(),
            hex: bitcoin::consensus::encode::serialize_hex(&tx),
        };
        let human = match &self.out {
            Some(out) if out.as_os_str() != "-" => {
                crate::subcommand::psbt_out::write_file(out, &text)?;
                format!(
                    "signed {} {} ({} sat/vB) written to {}; broadcast it online with `spool \
                     broadcast {}`\n",
                    output.verb.as_deref().unwrap_or("transaction"),
                    output.txid,
                    output.fee_rate,
                    out.display(),
                    out.display()
                )
            }
            _ => format!("{text}\n"),
        };
        Outcome::new(&output, human)
    }
}
