//! `spool verb encode|decode`: SPOOL verbs and their OP_RETURN scripts, offline.

use anyhow::{bail, Context};
use bitcoin::ScriptBuf;
use clap::{Args, Subcommand};
use serde::{Deserialize, Serialize};
use spool_protocol::payload;
use spool_protocol::verb::{Action, DecodedVerb, Verb};

use crate::cli::output::Outcome;

/// `spool verb ...`
#[derive(Debug, Subcommand)]
pub enum VerbCommand {
    /// Build a verb and its OP_RETURN script.
    Encode(EncodeArgs),
    /// Decode a verb as pyspool does, from text or from an OP_RETURN script/payload in hex.
    Decode(DecodeArgs),
}

/// `spool verb encode`'s arguments.
#[derive(Debug, Args)]
pub struct EncodeArgs {
    /// PIECE, REGISTER, EDITIONS, TRANSFER, CONSIGN, UNCONSIGN, LOAN, MIGRATE,
    /// CONSIGNEDREGISTRATION or FUEL (any case).
    pub action: String,
    /// Edition number (REGISTER, TRANSFER, CONSIGN, UNCONSIGN, LOAN, MIGRATE).
    #[arg(long, value_name = "N")]
    pub edition: Option<u64>,
    /// Number of editions (EDITIONS).
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// First day of a LOAN, YYMMDD.
    #[arg(long, value_name = "YYMMDD")]
    pub start: Option<String>,
    /// Last day of a LOAN, YYMMDD.
    #[arg(long, value_name = "YYMMDD")]
    pub end: Option<String>,
}

/// `spool verb decode`'s arguments.
#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// The verb text, e.g. ASCRIBESPOOL01LOAN1/150522150523.
    #[arg(required_unless_present = "hex", conflicts_with = "hex")]
    pub text: Option<String>,
    /// An OP_RETURN script (`6a...`) or the bare payload, in hex.
    #[arg(long, value_name = "SCRIPT_OR_PAYLOAD_HEX")]
    pub hex: Option<String>,
}

/// `spool verb encode` -> `{"verb", "script_hex"}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncodeOutput {
    /// The verb text.
    pub verb: String,
    /// The OP_RETURN output script in hex.
    pub script_hex: String,
}

/// `spool verb decode` -> pyspool's decoded fields, null where pyspool has none: the
/// protocol's own [`DecodedVerb`], printed as it is.
pub use spool_protocol::verb::DecodedVerb as DecodeOutput;

impl VerbCommand {
    /// Runs the command.
    ///
    /// # Errors
    ///
    /// A verb that does not decode, or arguments its action does not take.
    pub fn run(&self) -> anyhow::Result<Outcome> {
        match self {
            VerbCommand::Encode(args) => {
                let verb = args.verb()?;
                let output = EncodeOutput {
                    verb: verb.to_string(),
                    script_hex: verb.op_return_script().to_hex_string(),
                };
                Outcome::fields(&output)
            }
            VerbCommand::Decode(args) => {
                let text = match (&args.text, &args.hex) {
                    (Some(text), None) => text.clone(),
                    (None, Some(hex)) => payload_text(hex)?,
                    _ => bail!("give the verb text or --hex, not both"),
                };
                let decoded = DecodedVerb::parse(&text)?;
                Outcome::fields(&decoded)
            }
        }
    }
}

impl EncodeArgs {
    /// The typed verb these arguments describe.
    ///
    /// # Errors
    ///
    /// Arguments the action does not take, or misses.
    pub fn verb(&self) -> anyhow::Result<Verb> {
        let action: Action = self.action.parse().map_err(|_| {
            anyhow::anyhow!(
                "unknown action {:?}: expected one of {}",
                self.action,
                Action::ALL.map(|a| a.as_str()).join(", ")
            )
        })?;
        let dates = self.start.is_some() || self.end.is_some();
        if dates && action != Action::Loan {
            bail!("--start/--end only apply to LOAN, not {action}");
        }
        if self.count.is_some() && action != Action::Editions {
            bail!("--count only applies to EDITIONS, not {action}");
        }
        match action {
            Action::Piece | Action::ConsignedRegistration | Action::Fuel => {
                if self.edition.is_some() {
                    bail!("{action} takes no --edition");
                }
                Ok(Verb::from_action(action, None)?)
            }
            Action::Editions => {
                if self.edition.is_some() {
                    bail!("EDITIONS takes --count, not --edition");
                }
                let count = self.count.context("EDITIONS needs --count N")?;
                Ok(Verb::from_action(action, Some(count))?)
            }
            Action::Loan => {
                let edition = self.edition.unwrap_or(0);
                let start = self.start.as_deref().context("LOAN needs --start YYMMDD")?;
                let end = self.end.as_deref().context("LOAN needs --end YYMMDD")?;
                Ok(Verb::loan(edition, start, end)?)
            }
            Action::Register
            | Action::Transfer
            | Action::Consign
            | Action::Unconsign
            | Action::Migrate => {
                let edition = self
                    .edition
                    .with_context(|| format!("{action} needs --edition N"))?;
                Ok(Verb::from_action(action, Some(edition))?)
            }
        }
    }
}

/// The verb text inside an OP_RETURN script or a bare payload given in hex.
fn payload_text(hex: &str) -> anyhow::Result<String> {
    use bitcoin::hex::FromHex;
    let bytes = Vec::<u8>::from_hex(hex.trim())
        .map_err(|err| anyhow::anyhow!("--hex {hex:?} is not hex: {err}"))?;
    let script = ScriptBuf::from_bytes(bytes.clone());
    let data = if payload::is_op_return(&script) {
        payload::op_return_payload(&script)?.to_vec()
    } else {
        bytes
    };
    String::from_utf8(data.clone()).map_err(|_| {
        anyhow::anyhow!(
            "invalid spoolverb: payload is not text: {}",
            bitcoin::hex::DisplayHex::to_lower_hex_string(&data[..])
        )
    })
}
