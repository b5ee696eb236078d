//! What the engine is asked to do: a SPOOL operation, or a main-wallet refill.

use bitcoin::Address;
use spool_protocol::operation::{Operation, OperationError};
use spool_protocol::verb::Verb;

/// One request to the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// A SPOOL action (its on-chain form, built by the checked constructors).
    Operation(Operation),
    /// pyspool's `refill_main_wallet`: an ordinary transaction with change from the refill
    /// wallet to the federation, `fees` x FEE and `tokens` x TOKEN, no OP_RETURN.
    RefillMain(MainRefill),
}

/// A main-wallet refill: fuel and tokens for the federation (not a SPOOL verb).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MainRefill {
    to: Address,
    fees: u32,
    tokens: u32,
}

impl MainRefill {
    /// `fees` fuel and `tokens` token outputs for the federation at `to`.
    ///
    /// # Errors
    ///
    /// [`OperationError::NothingToRefill`] when both are 0.
    pub fn new(to: Address, fees: u32, tokens: u32) -> Result<MainRefill, OperationError> {
        if fees == 0 && tokens == 0 {
            return Err(OperationError::NothingToRefill);
        }
        Ok(MainRefill { to, fees, tokens })
    }

    /// The federation's address.
    pub fn to(&self) -> &Address {
        &self.to
    }

    /// (fuel outputs, token outputs).
    pub fn counts(&self) -> (u32, u32) {
        (self.fees, self.tokens)
    }
}

impl From<Operation> for Request {
    fn from(operation: Operation) -> Request {
        Request::Operation(operation)
    }
}

impl Request {
    /// The verb written in the OP_RETURN (none for a main-wallet refill).
    pub fn verb(&self) -> Option<Verb> {
        match self {
            Request::Operation(operation) => Some(operation.verb()),
            Request::RefillMain(_) => None,
        }
    }

    /// The operation, unless this is a main-wallet refill.
    pub fn operation(&self) -> Option<&Operation> {
        match self {
            Request::Operation(operation) => Some(operation),
            Request::RefillMain(_) => None,
        }
    }

    /// The piece the action is about (none for refills).
    pub fn piece(&self) -> Option<&Address> {
        self.operation().and_then(Operation::piece)
    }

    /// The address that receives the action (the last recipient, or the refilled address).
    pub fn destination(&self) -> &Address {
        match self {
            Request::Operation(operation) => operation.destination(),
            Request::RefillMain(refill) => refill.to(),
        }
    }

    /// The fuel and token outputs a refill moves: (fuel, tokens); `None` for the others.
    pub fn refill_counts(&self) -> Option<(u32, u32)> {
        match self {
            Request::Operation(operation) => operation.refill_counts(),
            Request::RefillMain(refill) => Some(refill.counts()),
        }
    }
}
