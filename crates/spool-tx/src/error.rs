//! Builder and signer errors.

use bitcoin::{Address, Amount, FeeRate, OutPoint, ScriptBuf};

/// What a wallet lacks for a SPOOL transaction: the fuel and token outputs it needs and the
/// unreserved ones it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shortage {
    /// The spending address.
    pub address: Address,
    /// Fuel outputs needed.
    pub need_fuel: usize,
    /// Fuel outputs available.
    pub found_fuel: usize,
    /// Token outputs needed.
    pub need_tokens: usize,
    /// Token outputs available.
    pub found_tokens: usize,
    /// The fuel denomination.
    pub fee: Amount,
    /// The token denomination.
    pub token: Amount,
}

impl Shortage {
    /// The shortage of `key`'s address at `params`'s denominations: `need` and `found` are
    /// (fuel outputs, token outputs).
    pub(crate) fn of(
        key: &spool_wallet::WatchKey,
        params: &crate::TxParams,
        need: (usize, usize),
        found: (usize, usize),
    ) -> TxError {
        TxError::NotEnoughOutputs(Shortage {
            address: key.address().clone(),
            need_fuel: need.0,
            found_fuel: found.0,
            need_tokens: need.1,
            found_tokens: found.1,
            fee: params.fee,
            token: params.token,
        })
    }
}

/// Everything that can stop a transaction from being built, signed or accepted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TxError {
    /// pyspool's error when the wallet has nothing it can spend.
    #[error("No spendable outputs found at {address}")]
    NoSpendableOutputs {
        /// The address whose outputs were searched.
        address: Address,
    },
    /// pyspool's error when fuel or tokens run short; says what was needed and found.
    #[error(
        "Not enough outputs to spend. Refill your wallet: {} needs {} fuel outputs of {} and {} \
         token outputs of {}, found {} and {} unreserved",
        .0.address, .0.need_fuel, .0.fee, .0.need_tokens, .0.token, .0.found_fuel, .0.found_tokens
    )]
    NotEnoughOutputs(Shortage),
    /// pyspool's error when the refill wallet's balance is too small.
    #[error(
        "Not enough outputs to spend. Refill your wallet: {address} needs {needed} \
         (outputs plus fee), found {found} in {found_outputs} spendable outputs"
    )]
    NotEnoughFunds {
        /// The spending address.
        address: Address,
        /// Total value needed including the fee.
        needed: Amount,
        /// Total spendable value found.
        found: Amount,
        /// Number of spendable outputs found.
        found_outputs: usize,
    },
    /// The verb takes a fixed number of recipients.
    #[error("verb {verb} takes {expected} recipients, got {got}")]
    WrongRecipientCount {
        /// The verb text.
        verb: String,
        /// Recipients the verb takes.
        expected: usize,
        /// Recipients given.
        got: usize,
    },
    /// An action or refill needs at least one recipient / output.
    #[error("nothing to send: {what}")]
    NothingToSend {
        /// What was empty.
        what: &'static str,
    },
    /// A recipient address is for another network than the signing key.
    #[error("recipient {address} is not a {network} address")]
    WrongNetwork {
        /// The address.
        address: Address,
        /// The key's network.
        network: bitcoin::Network,
    },
    /// Fuel and token denominations must differ and both be positive.
    #[error("invalid denominations: fee {fee} and token {token} must be positive and different")]
    InvalidDenominations {
        /// Fuel value.
        fee: Amount,
        /// Token value.
        token: Amount,
    },
    /// An explicitly given input has the wrong value for its role.
    #[error("input {outpoint} is {value}, but a {role} input must be exactly {expected}")]
    WrongDenomination {
        /// The input.
        outpoint: OutPoint,
        /// Its value.
        value: Amount,
        /// "fuel" or "token".
        role: &'static str,
        /// The value it should have.
        expected: Amount,
    },
    /// An input is not spendable by the signing key (wrong script or immature coinbase).
    #[error("input {outpoint} cannot be spent by {address}: {reason}")]
    Unspendable {
        /// The input.
        outpoint: OutPoint,
        /// The signing key's address.
        address: Address,
        /// Why.
        reason: &'static str,
    },
    /// A transaction to replace does not signal replacement (BIP 125): it was built in
    /// pyspool-compatibility mode (final sequences).
    #[error("transaction {txid} does not signal replacement (built in pyspool-compatibility mode): it cannot be bumped")]
    NotReplaceable {
        /// The transaction.
        txid: bitcoin::Txid,
    },
    /// The same outpoint appears twice among the inputs.
    #[error("input {0} is given twice")]
    DuplicateInput(OutPoint),
    /// Each fuel output costs more to spend than it pays at this fee rate.
    #[error("fee rate {rate} is too high: a fuel output of {fee} cannot pay for its own input")]
    FeeRateTooHigh {
        /// The fee rate.
        rate: FeeRate,
        /// The fuel denomination.
        fee: Amount,
    },
    /// The fee of the given inputs is below the configured fee rate.
    #[error("fee {fee} is below {needed} ({rate} on {vsize} vbytes)")]
    FeeBelowRate {
        /// The fee paid.
        fee: Amount,
        /// The fee needed.
        needed: Amount,
        /// The fee rate.
        rate: FeeRate,
        /// The signed virtual size.
        vsize: usize,
    },
    /// The fee exceeds the configured maximum.
    #[error("absurd fee {fee}: above the limit {limit}")]
    AbsurdFee {
        /// The fee.
        fee: Amount,
        /// The limit.
        limit: Amount,
    },
    /// Outputs are worth more than inputs.
    #[error("outputs ({outputs}) exceed inputs ({inputs})")]
    OutputsExceedInputs {
        /// Total input value.
        inputs: Amount,
        /// Total output value.
        outputs: Amount,
    },
    /// An output is below the dust limit of its script.
    #[error("output {index} of {value} is dust (minimum {minimum} for its script)")]
    Dust {
        /// Output index.
        index: usize,
        /// Its value.
        value: Amount,
        /// The dust limit.
        minimum: Amount,
    },
    /// An OP_RETURN carries more than 80 bytes, or there is more than one.
    #[error("output {index}: op_return payload of {len} bytes (at most 80, and one op_return)")]
    OpReturnTooLarge {
        /// Output index.
        index: usize,
        /// Payload length.
        len: usize,
    },
    /// More outputs were asked for than one standard transaction can hold; refused before
    /// anything is built.
    #[error(
        "{requested} outputs cannot fit in one standard transaction: at most {limit} outputs \
         of 34 bytes fit in Bitcoin Core's {weight}-weight-unit limit; split it into several"
    )]
    TooManyOutputs {
        /// Outputs asked for.
        requested: u64,
        /// The most that can fit.
        limit: u64,
        /// The standard weight limit.
        weight: u64,
    },
    /// The transaction is heavier than the standard limit.
    #[error("transaction weight {weight} exceeds the standard limit {limit}")]
    TooHeavy {
        /// Weight units.
        weight: u64,
        /// The limit.
        limit: u64,
    },
    /// A prevout script type that spool cannot sign or verify.
    #[error("input {index}: unsupported prevout script {script}")]
    UnsupportedScript {
        /// Input index.
        index: usize,
        /// The prevout script.
        script: ScriptBuf,
    },
    /// A signed input failed verification against its prevout.
    #[error("input {index}: signature verification failed: {reason}")]
    BadSignature {
        /// Input index.
        index: usize,
        /// What is wrong.
        reason: String,
    },
    /// The number of prevouts does not match the inputs.
    #[error("{inputs} inputs but {prevouts} prevouts")]
    PrevoutCount {
        /// Inputs in the transaction.
        inputs: usize,
        /// Prevouts given.
        prevouts: usize,
    },
    /// Computing a sighash failed.
    #[error("input {index}: cannot compute sighash")]
    Sighash {
        /// Input index.
        index: usize,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}
