//! OP_RETURN payloads: building the output script and finding the verb in a transaction.
//!
//! pyspool writes `6a <len> <verb>` as the last output and reads a transaction by scanning its
//! outputs from the last: the first OP_RETURN whose payload decodes to a supported verb wins.
//! [`decipher`] does the same, and reports why every OP_RETURN it passed over was refused.

use std::fmt;

use bitcoin::opcodes::all::OP_RETURN;
use bitcoin::script::{Builder, Instruction, PushBytesBuf};
use bitcoin::{Script, ScriptBuf, Transaction};

use crate::verb::{Verb, VerbError};

/// The largest payload relayed by default (`-datacarriersize` 83 bytes of script).
pub const MAX_PAYLOAD: usize = 80;

/// Why a payload cannot be put in, or taken out of, an OP_RETURN script.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// Longer than [`MAX_PAYLOAD`].
    #[error("op_return payload of {len} bytes is longer than the {MAX_PAYLOAD} bytes allowed")]
    TooLong {
        /// Its length.
        len: usize,
    },
    /// The script does not start with OP_RETURN.
    #[error("script {script} is not an op_return")]
    NotOpReturn {
        /// The script in hex.
        script: String,
    },
    /// After OP_RETURN, not exactly one data push.
    #[error("op_return script {script} does not hold exactly one data push")]
    Malformed {
        /// The script in hex.
        script: String,
    },
}

/// The OP_RETURN output script for `payload`: OP_RETURN and one push of the bytes (for a SPOOL
/// verb, `6a`, one length byte, the verb, exactly as pyspool writes it).
///
/// # Errors
///
/// [`PayloadError::TooLong`] for a payload above [`MAX_PAYLOAD`].
pub fn op_return_script(payload: &[u8]) -> Result<ScriptBuf, PayloadError> {
    if payload.len() > MAX_PAYLOAD {
        return Err(PayloadError::TooLong { len: payload.len() });
    }
    let push = PushBytesBuf::try_from(payload.to_vec())
        .map_err(|_| PayloadError::TooLong { len: payload.len() })?;
    Ok(Builder::new()
        .push_opcode(OP_RETURN)
        .push_slice(push)
        .into_script())
}

/// Whether the script starts with OP_RETURN (byte `6a`), as pyspool's check tests it.
pub fn is_op_return(script: &Script) -> bool {
    script.as_bytes().first() == Some(&OP_RETURN.to_u8())
}

/// The data of an OP_RETURN script: OP_RETURN followed by exactly one push (of at most
/// [`MAX_PAYLOAD`] bytes).
///
/// # Errors
///
/// [`PayloadError`] when the script is not OP_RETURN with exactly one push of at most
/// [`MAX_PAYLOAD`] bytes.
pub fn op_return_payload(script: &Script) -> Result<&[u8], PayloadError> {
    let hex = || script.to_hex_string();
    if !is_op_return(script) {
        return Err(PayloadError::NotOpReturn { script: hex() });
    }
    let rest = Script::from_bytes(&script.as_bytes()[1..]);
    let mut instructions = rest.instructions();
    let data = match (instructions.next(), instructions.next()) {
        (Some(Ok(Instruction::PushBytes(data))), None) => data.as_bytes(),
        _ => return Err(PayloadError::Malformed { script: hex() }),
    };
    if data.len() > MAX_PAYLOAD {
        return Err(PayloadError::TooLong { len: data.len() });
    }
    Ok(data)
}

/// Why one OP_RETURN output was passed over.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OutputFlaw {
    /// The script could not be read as a payload.
    #[error(transparent)]
    Payload(#[from] PayloadError),
    /// The payload is not a supported verb.
    #[error(transparent)]
    Verb(#[from] VerbError),
}

/// An OP_RETURN output that was passed over, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedOutput {
    /// Index of the output.
    pub vout: u32,
    /// Why it was passed over.
    pub flaw: OutputFlaw,
}

impl fmt::Display for RejectedOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "output {}: {}", self.vout, self.flaw)
    }
}

/// Why a transaction carries no SPOOL verb (pyspool: `Invalid ascribe transaction`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Flaw {
    /// No output starts with OP_RETURN.
    #[error("invalid ascribe transaction {txid}: no op_return output")]
    NoOpReturn {
        /// The transaction id.
        txid: String,
    },
    /// OP_RETURN outputs exist, but none holds a supported verb.
    #[error("invalid ascribe transaction {txid}: no op_return holds a spool verb ({})", list(.rejected))]
    NoVerb {
        /// The transaction id.
        txid: String,
        /// Every OP_RETURN output, from the last, and why it was refused.
        rejected: Vec<RejectedOutput>,
    },
}

fn list(rejected: &[RejectedOutput]) -> String {
    rejected
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// The output index and verb of a SPOOL transaction: outputs are scanned from the last, and the
/// first OP_RETURN whose payload decodes to a supported verb wins.
///
/// # Errors
///
/// [`Flaw`] when no OP_RETURN output holds a supported verb (every refused one is listed).
pub fn find_verb(tx: &Transaction) -> Result<(u32, Verb), Flaw> {
    let mut rejected = Vec::new();
    for (vout, output) in tx.output.iter().enumerate().rev() {
        if !is_op_return(&output.script_pubkey) {
            continue;
        }
        let vout = u32::try_from(vout).expect("fewer than 2^32 outputs");
        match op_return_payload(&output.script_pubkey)
            .map_err(OutputFlaw::from)
            .and_then(|data| Verb::decode_bytes(data).map_err(OutputFlaw::from))
        {
            Ok(verb) => return Ok((vout, verb)),
            Err(flaw) => rejected.push(RejectedOutput { vout, flaw }),
        }
    }
    let txid = tx.compute_txid().to_string();
    if rejected.is_empty() {
        Err(Flaw::NoOpReturn { txid })
    } else {
        Err(Flaw::NoVerb { txid, rejected })
    }
}

/// The verb of a SPOOL transaction (see [`find_verb`]).
///
/// # Errors
///
/// As [`find_verb`].
pub fn decipher(tx: &Transaction) -> Result<Verb, Flaw> {
    find_verb(tx).map(|(_, verb)| verb)
}
