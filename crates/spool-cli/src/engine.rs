//! pyspool's `Spool` class in Rust: the orchestration of one SPOOL action, generic over the
//! [`Backend`] trait so that a service can embed it without the command line.
//!
//! [`Spool::prepare`] runs the ownership pre-check (as pyspool's `dispatch`), lists the
//! signer's UTXOs through the backend, leaves out outpoints reserved by earlier unconfirmed
//! transactions, builds and signs with spool-tx and reserves what it spends.
//! [`Spool::broadcast`] sends it (releasing the reservation if the node refuses), and
//! [`Spool::wait_confirmed`] waits for confirmations. Nothing is broadcast on any error
//! before `broadcast`.
//!
//! ```no_run
//! # async fn demo(backend: spool_backend::core::CoreBackend, key: spool_wallet::SigningKey,
//! #               request: spool_cli::engine::Request) -> Result<(), Box<dyn std::error::Error>> {
//! use spool_cli::engine::{SendOptions, Spool};
//! use spool_tx::Reservations;
//!
//! let spool = Spool::new(backend, Reservations::in_memory());
//! let prepared = spool.prepare(&request, &key, &SendOptions::default()).await?;
//! let txid = spool.broadcast(&prepared).await?;
//! spool.wait_confirmed(&txid, 1, std::time::Duration::from_secs(600)).await?;
//! # Ok(()) }
//! ```

mod check;
mod error;
mod request;

use std::time::Duration;

use bitcoin::{Address, Amount, FeeRate, Txid};
use spool_backend::{Backend, BackendError, WaitProgress};
use spool_protocol::chain::TxPlace;
use spool_protocol::history::History;
use spool_protocol::ownership::Ownership;
use spool_tx::{BuiltTx, Reservations, TxError, TxParams};
use spool_wallet::SigningKey;

pub use check::{has_rule, precheck};
pub use error::EngineError;
pub use request::{PieceHashes, Request};

/// How one action is sent.
#[derive(Debug, Clone, PartialEq)]
pub struct SendOptions {
    /// Spend only outputs with at least this many confirmations (pyspool's default 6).
    pub min_conf: u32,
    /// Run the ownership pre-check (pyspool's `ownership=True`).
    pub check: bool,
    /// Fee rate in sat/vB; `None` keeps the builder's.
    pub fee_rate: Option<f64>,
    /// Build and sign only: reserve nothing (the transaction will not be broadcast).
    pub dry_run: bool,
}

impl Default for SendOptions {
    fn default() -> SendOptions {
        SendOptions {
            min_conf: 6,
            check: true,
            fee_rate: None,
            dry_run: false,
        }
    }
}

/// A signed transaction ready to broadcast.
#[derive(Debug, Clone)]
pub struct Prepared {
    built: BuiltTx,
    from: Address,
    checked: bool,
    reserved: bool,
}

impl Prepared {
    /// The transaction id.
    pub fn txid(&self) -> Txid {
        self.built.txid()
    }

    /// The fee it pays.
    pub fn fee(&self) -> Amount {
        self.built.fee
    }

    /// The signed transaction in hex.
    pub fn hex(&self) -> String {
        self.built.hex()
    }

    /// The built transaction.
    pub fn built(&self) -> &BuiltTx {
        &self.built
    }

    /// The signer's address.
    pub fn from(&self) -> &Address {
        &self.from
    }

    /// Whether the ownership pre-check ran (and passed).
    pub fn checked(&self) -> bool {
        self.checked
    }
}

/// The SPOOL orchestration over a backend.
#[derive(Debug)]
pub struct Spool<B> {
    backend: B,
    reservations: Reservations,
    params: TxParams,
    federation: Vec<String>,
}

impl<B: Backend> Spool<B> {
    /// An engine over `backend`, with pyspool's denominations and no federation set.
    pub fn new(backend: B, reservations: Reservations) -> Spool<B> {
        Spool {
            backend,
            reservations,
            params: TxParams::default(),
            federation: Vec::new(),
        }
    }

    /// Sets the federation addresses that histories are verified against.
    pub fn with_federation(mut self, federation: Vec<String>) -> Spool<B> {
        self.federation = federation;
        self
    }

    /// Sets the builder's parameters (denominations, fee rate, limits).
    pub fn with_params(mut self, params: TxParams) -> Spool<B> {
        self.params = params;
        self
    }

    /// The backend.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// The reservations.
    pub fn reservations(&self) -> &Reservations {
        &self.reservations
    }

    /// The federation addresses.
    pub fn federation(&self) -> &[String] {
        &self.federation
    }

    fn backend_error(&self, source: BackendError) -> EngineError {
        let describe = self.backend.describe();
        let text = source.to_string();
        let named = describe
            .split_whitespace()
            .any(|word| word.contains("://") && text.contains(word));
        EngineError::Backend {
            context: if named {
                String::new()
            } else {
                format!("{describe}: ")
            },
            source,
        }
    }

    /// The verified history of the piece at `piece_address` (confirmed and mempool).
    pub async fn history(&self, piece_address: &Address) -> Result<History, EngineError> {
        let txs = self
            .backend
            .address_transactions(piece_address)
            .await
            .map_err(|e| self.backend_error(e))?;
        Ok(History::build(
            &piece_address.to_string(),
            self.backend.network(),
            &txs,
            &self.federation,
        ))
    }

    /// Runs pyspool's pre-check for `request` sent from `from`. `Ok(true)` if a rule
    /// applied and passed, `Ok(false)` if the request has no rule.
    pub async fn check(&self, request: &Request, from: &Address) -> Result<bool, EngineError> {
        let Some(piece) = request.piece().filter(|_| has_rule(request)) else {
            return Ok(false);
        };
        let history = self.history(&piece.file_hash).await?;
        precheck(request, &from.to_string(), &history, &self.federation).map_err(|reason| {
            EngineError::Refused {
                action: action_name(request),
                reason,
            }
        })?;
        Ok(true)
    }

    /// Releases reservations of transactions that confirmed or are gone.
    pub async fn settle_reservations(&self) -> Result<usize, EngineError> {
        let mut released = 0;
        for (txid, _) in self.reservations.pending()? {
            // Unknown (backend unreachable) keeps the reservation; only proof releases it.
            let status = spool_backend::tx_status(&self.backend, &txid).await;
            released += self.reservations.apply_status(&txid, status)?;
        }
        Ok(released)
    }

    /// Pre-checks (unless `options.check` is off), selects inputs, builds and signs
    /// `request` with `key`. Unless `options.dry_run`, the spent outpoints are reserved.
    pub async fn prepare(
        &self,
        request: &Request,
        key: &SigningKey,
        options: &SendOptions,
    ) -> Result<Prepared, EngineError> {
        let from = key.address();
        let mut params = self.params;
        if let Some(rate) = options.fee_rate {
            if !(rate.is_finite() && rate > 0.0) {
                return Err(EngineError::BadFeeRate(rate));
            }
            params.fee_rate = FeeRate::from_sat_per_kwu((rate * 250.0).ceil() as u64);
        }
        let checked = if options.check {
            self.check(request, &from).await?
        } else {
            false
        };
        self.settle_reservations().await?;
        let utxos = self
            .backend
            .utxos(&from, options.min_conf)
            .await
            .map_err(|e| self.backend_error(e))?;
        let build = |free: &[spool_tx::Utxo]| build(&params, request, free, key);
        let built = if options.dry_run {
            build(&self.reservations.available(&utxos)?)
        } else {
            self.reservations.build_reserved(&utxos, build)
        }
        .map_err(|err| build_error(err, request, &self.params, options.min_conf))?;
        Ok(Prepared {
            built,
            from,
            checked,
            reserved: !options.dry_run,
        })
    }

    /// Broadcasts a prepared transaction. If the node rejects it, its reservation is
    /// released; on any other failure (node unreachable, timeout) the transaction may have
    /// reached the node, so its outpoints stay reserved until it is proven confirmed or gone
    /// ([`Spool::settle_reservations`]).
    pub async fn broadcast(&self, prepared: &Prepared) -> Result<Txid, EngineError> {
        match self.backend.broadcast(&prepared.built.tx).await {
            Ok(txid) => Ok(txid),
            Err(err) => {
                if prepared.reserved && matches!(err, BackendError::Rejected { .. }) {
                    let _ = self.reservations.release_tx(&prepared.txid());
                }
                Err(self.backend_error(err))
            }
        }
    }

    /// Waits until `txid` has `confirmations`; then its reservation is released.
    pub async fn wait_confirmed(
        &self,
        txid: &Txid,
        confirmations: u32,
        timeout: Duration,
    ) -> Result<TxPlace, EngineError> {
        self.wait_confirmed_with_progress(txid, confirmations, timeout, &|_| {})
            .await
    }

    /// [`Spool::wait_confirmed`] with a progress callback.
    pub async fn wait_confirmed_with_progress(
        &self,
        txid: &Txid,
        confirmations: u32,
        timeout: Duration,
        progress: &(dyn Fn(WaitProgress) + Send + Sync),
    ) -> Result<TxPlace, EngineError> {
        let place = self
            .backend
            .wait_confirmed_with_progress(txid, confirmations, timeout, progress)
            .await
            .map_err(|e| self.backend_error(e))?;
        self.reservations.release_tx(txid)?;
        Ok(place)
    }

    /// Prepares and broadcasts (pyspool's `Spool` methods with `sync=False`).
    pub async fn send(
        &self,
        request: &Request,
        key: &SigningKey,
        options: &SendOptions,
    ) -> Result<Prepared, EngineError> {
        let prepared = self.prepare(request, key, options).await?;
        if !options.dry_run {
            self.broadcast(&prepared).await?;
        }
        Ok(prepared)
    }
}

/// Re-exported for callers that want the rights of an address without the CLI.
pub fn ownership<'h>(history: &'h History, address: &Address, edition: u64) -> Ownership<'h> {
    Ownership::new(history, &address.to_string(), edition)
}

fn build(
    params: &TxParams,
    request: &Request,
    utxos: &[spool_tx::Utxo],
    key: &SigningKey,
) -> Result<BuiltTx, TxError> {
    match request {
        Request::RefillMain { to, fees, tokens } => {
            spool_tx::build_refill_main(params, to, *fees as usize, *tokens as usize, utxos, key)
        }
        Request::Refill { to, fees, tokens } => {
            spool_tx::build_refill(params, to, *fees as usize, *tokens as usize, utxos, key)
        }
        _ => {
            let verb = request
                .verb()
                .expect("every request but refill-main has a verb");
            spool_tx::build_action(params, &verb, &request.recipients(), utxos, key)
        }
    }
}

fn build_error(err: TxError, request: &Request, params: &TxParams, min_conf: u32) -> EngineError {
    match err {
        // An action from an empty address: say what it needs at the least.
        TxError::NoSpendableOutputs { address }
            if !matches!(request, Request::RefillMain { .. }) =>
        {
            let (need_fuel, need_tokens) = match request.refill_counts() {
                Some((fees, tokens)) => (fees as usize + 1, tokens as usize),
                None => (1, request.recipients().len()),
            };
            EngineError::NotEnoughFuel {
                address,
                need_fuel,
                found_fuel: 0,
                need_tokens,
                found_tokens: 0,
                fee: params.fee,
                token: params.token,
                min_conf,
            }
        }
        TxError::NotEnoughOutputs {
            address,
            need_fuel,
            found_fuel,
            need_tokens,
            found_tokens,
            fee,
            token,
        } => EngineError::NotEnoughFuel {
            address,
            need_fuel,
            found_fuel,
            need_tokens,
            found_tokens,
            fee,
            token,
            min_conf,
        },
        TxError::NoSpendableOutputs { address } => {
            EngineError::NoSpendableOutputs { address, min_conf }
        }
        TxError::NotEnoughFunds {
            address,
            needed,
            found,
            found_outputs,
        } => EngineError::NotEnoughFunds {
            address,
            needed,
            found,
            found_outputs,
            min_conf,
        },
        TxError::Reservation(err) => EngineError::Reservation(err),
        other => EngineError::Build(other),
    }
}

/// The CLI name of a request's action.
pub fn action_name(request: &Request) -> &'static str {
    match request {
        Request::RefillMain { .. } => "refill-main",
        Request::Refill { .. } => "refill",
        Request::RegisterPiece { .. } => "register-piece",
        Request::Register { .. } => "register",
        Request::Editions { .. } => "editions",
        Request::ConsignedRegistration { .. } => "consigned-registration",
        Request::Migrate { .. } => "migrate",
        Request::Transfer { .. } => "transfer",
        Request::Consign { .. } => "consign",
        Request::Unconsign { .. } => "unconsign",
        Request::Loan { .. } => "loan",
    }
}
