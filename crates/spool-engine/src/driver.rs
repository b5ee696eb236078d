//! The async driver: the planning core over a [`Backend`], with the persistent reservations.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bitcoin::{Address, Amount, OutPoint, Transaction, Txid};
use spool_backend::{Backend, BackendError, WaitProgress};
use spool_protocol::chain::{TxPlace, TxStatus};
use spool_protocol::history::History;
use spool_protocol::operation::Operation;
use spool_protocol::verb::Verb;
use spool_tx::Utxo;
use spool_tx::{BuiltTx, TxParams};
use spool_wallet::Spender;

use crate::error::BumpRefusal;
use crate::plan::{self, Funds};
use crate::store::{Claim, NewReservation, Record, Replacement, Reservations, Template, TxState};
use crate::{EngineError, Request};

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

/// This process's id as the maker of server reservations: its pid, start and a hash of the
/// moment, so that two machines (or two runs) never share one.
fn maker_id() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        use bitcoin::hashes::{sha256, Hash};
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let seed = format!("{}:{nanos}:{:p}", std::process::id(), &nanos);
        let hash = sha256::Hash::hash(seed.as_bytes()).to_byte_array();
        hash[..12].iter().map(|b| format!("{b:02x}")).collect()
    })
}

/// How many times an action through a shared server chooses outputs again after another
/// operator reserved the ones it chose.
const SERVER_RESERVATION_ATTEMPTS: u32 = 4;

/// A transaction ready to broadcast, or (built from a watch key) an unsigned action whose
/// PSBT goes to a signer elsewhere.
#[derive(Debug, Clone)]
pub struct Prepared {
    built: BuiltTx,
    from: Address,
    checked: bool,
    reserved: bool,
    signed: bool,
    /// For a bump: the reservation it took over (put back if the node refuses it).
    replaced: Option<crate::store::Record>,
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

    /// Whether it is signed (false for an unsigned action, built from a watch key).
    pub fn signed(&self) -> bool {
        self.signed
    }
}

/// The SPOOL orchestration over a backend (pyspool's `Spool`).
///
/// [`Spool::prepare`] runs the ownership pre-check, lists the signer's UTXOs through the
/// backend, leaves out outpoints reserved by earlier unconfirmed transactions, builds and
/// signs, and reserves what it spends. [`Spool::broadcast`] sends it (releasing the
/// reservation if the node refuses), and [`Spool::wait_confirmed`] waits for confirmations.
/// Nothing is broadcast on any error before `broadcast`.
#[derive(Debug)]
pub struct Spool<B> {
    backend: B,
    reservations: Reservations,
    params: TxParams,
    federation: Vec<String>,
    /// With [`Spool::with_utxo_cache`]: each signer's outputs, listed once and kept.
    utxo_cache: Option<std::sync::Mutex<UtxoCache>>,
    /// Actions prepared, for the pace of settling old reservations in a batch.
    settled: std::sync::atomic::AtomicU64,
}

/// In a batch, old reservations are sampled for settling once every this many actions.
const BATCH_SETTLE_EVERY: u64 = 50;

/// Each signer's unspent outputs by (address, confirmations asked for).
type UtxoCache = HashMap<(Address, u32), Vec<Utxo>>;

impl<B: Backend> Spool<B> {
    /// An engine over `backend`, with pyspool's denominations and no federation set.
    pub fn new(backend: B, reservations: Reservations) -> Spool<B> {
        Spool {
            backend,
            reservations,
            params: TxParams::default(),
            federation: Vec::new(),
            utxo_cache: None,
            settled: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Keeps each signer's unspent outputs in memory between actions (a batch): listed
    /// once, then the outputs each prepared transaction spends are taken out. The list is
    /// read again when it runs short, or when another operator holds an output of it.
    pub fn with_utxo_cache(mut self) -> Spool<B> {
        self.utxo_cache = Some(std::sync::Mutex::new(HashMap::new()));
        self
    }

    /// The signer's outputs: from the cache when it holds them, else from the backend.
    async fn listed_utxos(&self, from: &Address, min_conf: u32) -> Result<Vec<Utxo>, EngineError> {
        let key = (from.clone(), min_conf);
        if let Some(cache) = &self.utxo_cache {
            if let Some(utxos) = cache.lock().expect("utxo cache").get(&key) {
                return Ok(utxos.clone());
            }
        }
        let utxos = self
            .backend
            .spendable_utxos(from, min_conf)
            .await
            .map_err(|e| self.backend_error(e))?;
        if let Some(cache) = &self.utxo_cache {
            cache.lock().expect("utxo cache").insert(key, utxos.clone());
        }
        Ok(utxos)
    }

    /// Takes `spent` out of the cached lists (nothing without a cache).
    fn spent_from_cache(&self, spent: &[OutPoint]) {
        if let Some(cache) = &self.utxo_cache {
            let spent: HashSet<&OutPoint> = spent.iter().collect();
            for utxos in cache.lock().expect("utxo cache").values_mut() {
                utxos.retain(|u| !spent.contains(&u.outpoint));
            }
        }
    }

    /// Whether the backend answers a sample of the outputs (which may run short while the
    /// signer holds more): then a shortage is worth asking again once.
    fn samples_utxos(&self) -> bool {
        self.backend.spendable_is_sample()
    }

    /// Forgets the cached lists, so the next action lists its outputs again; whether there
    /// was anything to forget.
    fn forget_cached_utxos(&self) -> bool {
        self.utxo_cache.as_ref().is_some_and(|cache| {
            let mut cache = cache.lock().expect("utxo cache");
            let had = !cache.is_empty();
            cache.clear();
            had
        })
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
        if named {
            EngineError::Backend(source)
        } else {
            EngineError::BackendAt {
                at: describe,
                source,
            }
        }
    }

    /// The verified history of the piece at `piece_address` (confirmed and mempool).
    ///
    /// # Errors
    ///
    /// The backend's failure, or [`EngineError::History`] for an address of another network.
    pub async fn history(&self, piece_address: &Address) -> Result<History, EngineError> {
        let txs = self
            .backend
            .address_transactions(piece_address)
            .await
            .map_err(|e| self.backend_error(e))?;
        Ok(History::build(
            piece_address,
            self.backend.network(),
            &txs,
            &self.federation,
        )?)
    }

    /// Runs pyspool's pre-check for `request` sent from `from`. `Ok(true)` if a rule
    /// applied and passed, `Ok(false)` if the request has none (refills).
    ///
    /// # Errors
    ///
    /// [`plan::PlanError::Refused`] (as [`EngineError::Plan`]), or a failure reading the
    /// history.
    pub async fn check(&self, request: &Request, from: &Address) -> Result<bool, EngineError> {
        Ok(self.check_seen(request, from).await?.is_some())
    }

    /// [`Spool::check`], returning the transactions of the history it judged by with what
    /// that history says of them: in a block, or in the mempool (`None` when the request has
    /// no rule).
    async fn check_seen(
        &self,
        request: &Request,
        from: &Address,
    ) -> Result<Option<HashMap<Txid, TxStatus>>, EngineError> {
        let Some((operation, piece)) = request
            .operation()
            .and_then(|operation| Some((operation, operation.piece()?)))
        else {
            return Ok(None);
        };
        // Only what the rules of this action's edition read: a piece with thousands of
        // editions costs the same as one with a few.
        let txs = self
            .backend
            .piece_transactions(piece, operation.scope())
            .await
            .map_err(|e| self.backend_error(e))?;
        let history = History::build(piece, self.backend.network(), &txs, &self.federation)?;
        plan::refuse(operation, from, &history, &self.federation)?;
        Ok(Some(
            history
                .events()
                .iter()
                .filter_map(|event| {
                    let status = match event.block_height {
                        Some(_) => TxStatus::Confirmed,
                        None => TxStatus::InMempool,
                    };
                    Some((event.txid.parse().ok()?, status))
                })
                .collect(),
        ))
    }

    /// The status that decides `txid`'s reservation: its own, or for a fee bump whose
    /// replacement the node does not (yet) know, the replaced transactions': one of them in
    /// the mempool keeps the outpoints reserved, one confirmed releases them.
    async fn status_of(&self, txid: &Txid) -> TxStatus {
        let status = spool_backend::tx_status(&self.backend, txid).await;
        if matches!(status, TxStatus::Confirmed | TxStatus::InMempool) {
            return status;
        }
        let Ok(Some(record)) = self.reservations.record(txid) else {
            return status;
        };
        for old in &record.replaces {
            match spool_backend::tx_status(&self.backend, old).await {
                TxStatus::Gone => {}
                other => return other,
            }
        }
        status
    }

    /// Releases reservations of transactions that confirmed or are gone (one status request
    /// per pending transaction).
    ///
    /// # Errors
    ///
    /// A failure of the reservation store (an unreachable backend keeps reservations).
    pub async fn settle_reservations(&self) -> Result<usize, EngineError> {
        let mut statuses = Vec::new();
        for (txid, _) in self.reservations.pending()? {
            // Unknown (backend unreachable) keeps the reservation; only proof releases it.
            statuses.push((txid, self.status_of(&txid).await));
        }
        Ok(self.reservations.apply_statuses(&statuses)?)
    }

    /// Settles, before an action, the reservations that stand in its way, and two others:
    /// those whose status `known` holds (read from the backend moments ago, e.g. the piece's
    /// history), those holding an outpoint that `utxos` lists as unspent (their transaction
    /// is not, or no longer, in the backend's view) or a claim in `claims`; then, of the
    /// rest, the oldest and one picked at random. The rest cannot change this action: they
    /// spend outpoints the backend already counts as spent and claim other editions. So the
    /// requests an action makes do not grow with the number of pending transactions, and the
    /// store still empties as transactions confirm, even behind one that never does.
    async fn settle_in_the_way(
        &self,
        known: &HashMap<Txid, TxStatus>,
        utxos: &[spool_tx::Utxo],
        claims: &[Claim],
    ) -> Result<usize, EngineError> {
        if self.reservations.is_empty()? {
            return Ok(0);
        }
        // The rest are settled a little at a time: two asked per action, or, in a batch (which
        // leaves hundreds pending behind it), two every [`BATCH_SETTLE_EVERY`] actions.
        let sample = self.utxo_cache.is_none()
            || self
                .settled
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                .is_multiple_of(BATCH_SETTLE_EVERY);
        let mut statuses = Vec::new();
        let mut ask = Vec::new();
        // Reservations never handed to the node (few: the actions being prepared).
        let mut unsent = Vec::new();
        // Read in place, by lookups where they can be: an action costs about the same
        // behind a thousand pending transactions.
        self.reservations.inspect(|view| {
            for (txid, status) in known {
                if view.get(txid).is_some() {
                    statuses.push((*txid, *status));
                }
            }
            for utxo in utxos {
                if let Some(holder) = view.holder(&utxo.outpoint) {
                    if !known.contains_key(&holder) {
                        ask.push(holder);
                    }
                }
            }
            // The oldest of the rest (by reservation time, then txid), and how many.
            let mut oldest: Option<(u64, Txid)> = None;
            let mut rest = Vec::new();
            for record in view.iter() {
                if record.state == TxState::Reserved {
                    unsent.push(record.clone());
                }
                if known.contains_key(&record.txid) {
                    continue;
                }
                if record.claims.iter().any(|c| claims.contains(c)) {
                    ask.push(record.txid);
                } else if sample {
                    rest.push(record.txid);
                    let key = (record.reserved_at, record.txid);
                    if oldest.is_none_or(|o| key < o) {
                        oldest = Some(key);
                    }
                }
            }
            ask.sort_unstable();
            ask.dedup();
            rest.retain(|txid| ask.binary_search(txid).is_err());
            if let Some((_, oldest)) = oldest.filter(|(_, o)| ask.binary_search(o).is_err()) {
                let any = rest[random_index(rest.len())];
                ask.push(oldest);
                if any != oldest {
                    ask.push(any);
                }
            }
        })?;
        for txid in ask {
            // Unknown (backend unreachable) keeps the reservation; only proof releases it.
            let status = self.status_of(&txid).await;
            statuses.push((txid, status));
        }
        // A reservation never handed to the node, of a process now dead (a crash between
        // its reservation and its send), is released here; the server's twin of it, which
        // would hold its claim until its lease lapsed, is released with it.
        let status: HashMap<Txid, TxStatus> = statuses.iter().copied().collect();
        let never_sent: Vec<Txid> = unsent
            .iter()
            .filter(|r| status.get(&r.txid).is_some_and(|s| r.released_by(*s)))
            .map(|r| r.txid)
            .collect();
        let released = self.reservations.apply_statuses(&statuses)?;
        for txid in never_sent {
            // A failure leaves the server's lease to release it.
            let _ = self.backend.release_reservation(&txid).await;
        }
        Ok(released)
    }

    /// Gives up `prepared` before it was handed to the node (a batch stopping at a failure
    /// with the next line already prepared): its reservation is released here and with the
    /// backend. Nothing of it was sent.
    ///
    /// # Errors
    ///
    /// The reservation store's failure (the backend's is left to its lease).
    pub async fn abandon(&self, prepared: &Prepared) -> Result<(), EngineError> {
        if !prepared.reserved {
            return Ok(());
        }
        let txid = prepared.txid();
        self.reservations.release_tx(&txid)?;
        let _ = self.backend.release_reservation(&txid).await;
        Ok(())
    }

    /// Pre-checks (unless `options.check` is off), selects inputs, builds and signs
    /// `request` with `key`. Unless `options.dry_run`, the spent outpoints are reserved.
    ///
    /// # Errors
    ///
    /// The pre-check's refusal, missing funds, a builder error, the backend's or the
    /// reservation store's failure; nothing is reserved then.
    pub async fn prepare(
        &self,
        request: &Request,
        key: &(impl Spender + ?Sized),
        options: &SendOptions,
    ) -> Result<Prepared, EngineError> {
        // Through a server shared by several operators, another operator may reserve the
        // outputs chosen between the listing and the reservation: list again (the server no
        // longer offers them) and choose others, a few times.
        let mut attempt = 1;
        loop {
            match self.prepare_once(request, key, options).await {
                Err(EngineError::ReservedElsewhere { claim: false, .. })
                    if attempt < SERVER_RESERVATION_ATTEMPTS =>
                {
                    self.forget_cached_utxos();
                    attempt += 1;
                }
                // A kept list that ran short is read again once.
                Err(EngineError::Plan(
                    plan::PlanError::NotEnoughFuel { .. }
                    | plan::PlanError::NoSpendableOutputs { .. }
                    | plan::PlanError::NotEnoughFunds { .. },
                )) if attempt == 1 && (self.forget_cached_utxos() || self.samples_utxos()) => {
                    attempt += 1;
                }
                Ok(prepared) => {
                    if prepared.reserved {
                        self.spent_from_cache(&prepared.built.spent);
                    }
                    return Ok(prepared);
                }
                result => return result,
            }
        }
    }

    async fn prepare_once(
        &self,
        request: &Request,
        key: &(impl Spender + ?Sized),
        options: &SendOptions,
    ) -> Result<Prepared, EngineError> {
        let from = key.watch().address().clone();
        let signed = key.signer().is_some();
        let params = plan::with_fee_rate(self.params, options.fee_rate)?;
        // A refill too big for one standard transaction is refused before any call.
        if let Some((fees, tokens)) = request.refill_counts() {
            let requested = u64::from(fees) + u64::from(tokens);
            if requested > spool_tx::MAX_REFILL_OUTPUTS as u64 {
                return Err(plan::PlanError::Build(spool_tx::TxError::TooManyOutputs {
                    requested,
                    limit: spool_tx::MAX_REFILL_OUTPUTS as u64,
                    weight: spool_tx::standard::MAX_STANDARD_WEIGHT,
                })
                .into());
            }
        }
        let seen = if options.check {
            self.check_seen(request, &from).await?
        } else {
            None
        };
        let checked = seen.is_some();
        let known = seen.unwrap_or_default();
        let seen: Option<HashSet<Txid>> = checked.then(|| known.keys().copied().collect());
        let seen_list: Vec<Txid> = seen.iter().flatten().copied().collect();
        let utxos = self.listed_utxos(&from, options.min_conf).await?;
        let claims = request.operation().map(claims_of).unwrap_or_default();
        self.settle_in_the_way(&known, &utxos, &claims).await?;
        let build = |reserved: &spool_tx::ReservationSet| {
            let funds = Funds {
                utxos: &utxos,
                reserved,
                min_conf: options.min_conf,
            };
            plan::build(request, key, &params, &funds)
        };
        let built = if options.dry_run {
            build(&self.reservations.snapshot()?)?
        } else {
            // The error is built once per failed action; its size does not matter here.
            #[allow(clippy::result_large_err)]
            self.reservations
                .reserve_claimed(&claims, &seen.unwrap_or_default(), |set| {
                    let built = build(set)?;
                    let new = NewReservation {
                        txid: built.txid(),
                        outpoints: built.spent.clone(),
                        claims: claims.clone(),
                        template: (!signed).then(|| Template::new(&built.tx, built.fee, &from)),
                        replaces: Vec::new(),
                    };
                    Ok::<_, EngineError>((built, new))
                })?
        };
        if !options.dry_run {
            self.reserve_with_backend(&built, &claims, seen_list)
                .await?;
        }
        Ok(Prepared {
            built,
            from,
            checked,
            reserved: !options.dry_run,
            signed,
            replaced: None,
        })
    }

    /// Holds `built`'s outpoints and claims with the backend too, when it keeps reservations
    /// for several operators (`spool serve`); on a refusal or a failure the local
    /// reservation is released and nothing is signed further.
    async fn reserve_with_backend(
        &self,
        built: &BuiltTx,
        claims: &[Claim],
        seen: Vec<Txid>,
    ) -> Result<(), EngineError> {
        let body = spool_backend::server::ReservationBody {
            txid: built.txid(),
            outpoints: built.spent.clone(),
            claims: claims
                .iter()
                .map(|c| spool_backend::server::WireClaim {
                    piece: c.piece.clone(),
                    edition: c.edition,
                })
                .collect(),
            seen,
            maker: maker_id().to_owned(),
        };
        match self.backend.reserve(&body).await {
            Ok(_) => Ok(()),
            Err(err) => {
                let _ = self.reservations.release_tx(&built.txid());
                Err(match err {
                    BackendError::Held {
                        holder,
                        claim,
                        reason,
                    } => EngineError::ReservedElsewhere {
                        holder,
                        claim,
                        reason,
                    },
                    other => self.backend_error(other),
                })
            }
        }
    }

    /// Replaces `txid`, an unconfirmed transaction of this data directory, by the same
    /// action at `fee_rate` sat/vB (BIP 125: its inputs and outputs unchanged, more
    /// confirmed fuel of the same key, a higher fee and rate), signed with `key`, and
    /// broadcasts it. The replacement takes over the reservation and claims of `txid` in
    /// the same commit as its journal line. With a watch key it is built unsigned instead
    /// (for a PSBT; nothing is sent): it then reserves only its new fuel, and takes over
    /// `txid`'s reservation when its signed form goes through [`Spool::broadcast_signed`]. A bump already journalled for `txid` whose
    /// broadcast was cut short (a crash) is sent again instead.
    ///
    /// # Errors
    ///
    /// [`EngineError::Bump`] with why `txid` cannot be bumped, a builder error (as
    /// [`EngineError::Plan`]), or as [`Spool::broadcast`].
    pub async fn bump(
        &self,
        txid: &Txid,
        key: &(impl Spender + ?Sized),
        fee_rate: f64,
        min_conf: u32,
    ) -> Result<Prepared, EngineError> {
        let refuse = |reason: BumpRefusal| EngineError::Bump {
            txid: *txid,
            reason,
        };
        let params = plan::with_fee_rate(self.params, Some(fee_rate))?;
        let record = match self.reservations.record(txid)? {
            Some(record) => record,
            None => {
                if let Some(newer) = self.reservations.replacement_of(txid)? {
                    return self.finish_bump(txid, newer).await;
                }
                return Err(refuse(
                    match spool_backend::tx_status(&self.backend, txid).await {
                        TxStatus::Confirmed => BumpRefusal::Confirmed,
                        _ => BumpRefusal::Unknown,
                    },
                ));
            }
        };
        if record.state == TxState::Unsigned {
            return Err(refuse(BumpRefusal::Unsigned));
        }
        let chain_tx = match self.backend.transaction(txid).await {
            Ok(chain_tx) => chain_tx,
            Err(err) if err.is_not_found() => return Err(refuse(BumpRefusal::NotInMempool)),
            Err(err) => return Err(self.backend_error(err)),
        };
        if !matches!(chain_tx.place, TxPlace::Unconfirmed) {
            return Err(refuse(BumpRefusal::Confirmed));
        }
        let tx = chain_tx.tx;
        let spent: Vec<spool_tx::Utxo> = tx
            .input
            .iter()
            .zip(&chain_tx.prevouts)
            .map(|(input, prevout)| spool_tx::Utxo {
                outpoint: input.previous_output,
                value: prevout.value,
                script_pubkey: prevout.script_pubkey.clone(),
                confirmations: 0,
                is_coinbase: false,
            })
            .collect();
        let paid: Amount = chain_tx.prevouts.iter().map(|o| o.value).sum();
        let out: Amount = tx.output.iter().map(|o| o.value).sum();
        let old_fee = paid.checked_sub(out).unwrap_or(Amount::ZERO);
        let from = key.watch().address().clone();
        let signer_script = from.script_pubkey();
        if let Some(other) = chain_tx
            .prevouts
            .iter()
            .find(|p| p.script_pubkey != signer_script)
        {
            let spends = Address::from_script(&other.script_pubkey, self.backend.network())
                .map(|a| a.to_string())
                .unwrap_or_else(|_| other.script_pubkey.to_hex_string());
            return Err(refuse(BumpRefusal::WrongKey {
                spends,
                key: from.to_string(),
            }));
        }
        let utxos = self
            .backend
            .utxos(&from, min_conf.max(1))
            .await
            .map_err(|e| self.backend_error(e))?;
        if key.signer().is_none() {
            // An unsigned bump (a PSBT): it reserves only its new fuel, under its unsigned
            // txid; the original keeps its reservation until the signed bump is broadcast.
            #[allow(clippy::result_large_err)]
            let built = self
                .reservations
                .reserve_claimed(&[], &HashSet::new(), |set| {
                    let free = set.available(&utxos);
                    let built = spool_tx::build_bump(&params, &tx, &spent, old_fee, &free, key)
                        .map_err(plan::PlanError::Build)?;
                    let new = NewReservation {
                        txid: built.txid(),
                        outpoints: built
                            .spent
                            .iter()
                            .filter(|o| !spent.iter().any(|s| s.outpoint == **o))
                            .copied()
                            .collect(),
                        claims: Vec::new(),
                        template: Some(Template::new(&built.tx, built.fee, &from)),
                        replaces: vec![*txid],
                    };
                    Ok::<_, EngineError>((built, new))
                })?;
            return Ok(Prepared {
                built,
                from,
                checked: false,
                reserved: true,
                signed: false,
                replaced: None,
            });
        }
        #[allow(clippy::result_large_err)]
        let built = self.reservations.replace_with(txid, |set| {
            let free = set.available(&utxos);
            let built = spool_tx::build_bump(&params, &tx, &spent, old_fee, &free, key)
                .map_err(plan::PlanError::Build)?;
            let new = Replacement {
                txid: built.txid(),
                outpoints: built.spent.clone(),
                hex: built.hex(),
            };
            Ok::<_, EngineError>((built, new))
        })?;
        let prepared = Prepared {
            built,
            from,
            checked: false,
            reserved: true,
            signed: true,
            replaced: Some(record),
        };
        // The test hook's pause comes after the journal line here (a kill in it is a crash
        // between journalling the bump and broadcasting it).
        test_hook_pause(&prepared.txid()).await;
        self.send_journalled(&prepared).await?;
        Ok(prepared)
    }

    /// Sends again the bump `newer` of `txid` that was journalled but may not have reached
    /// the node (its process died); refuses when the node already has it.
    async fn finish_bump(&self, txid: &Txid, newer: Record) -> Result<Prepared, EngineError> {
        let refuse = |reason: BumpRefusal| EngineError::Bump {
            txid: *txid,
            reason,
        };
        match spool_backend::tx_status(&self.backend, &newer.txid).await {
            TxStatus::Gone => {}
            TxStatus::Confirmed => return Err(refuse(BumpRefusal::Confirmed)),
            _ => {
                return Err(refuse(BumpRefusal::AlreadyBumped { by: newer.txid }));
            }
        }
        let journal = self.reservations.journal()?;
        let Some(entry) = journal.iter().rev().find(|e| e.txid == newer.txid) else {
            return Err(refuse(BumpRefusal::AlreadyBumped { by: newer.txid }));
        };
        let tx: Transaction =
            bitcoin::consensus::encode::deserialize_hex(&entry.hex).map_err(|e| {
                crate::store::StoreError::BadTemplate {
                    reason: format!("journal line of {}: {e}", newer.txid),
                }
            })?;
        let prepared = Prepared {
            built: BuiltTx {
                tx,
                fee: Amount::ZERO,
                spent: newer.outpoints.clone(),
            },
            from: self.signer_of(&newer.outpoints).await,
            checked: false,
            reserved: true,
            signed: true,
            replaced: None,
        };
        self.send_journalled(&prepared).await?;
        Ok(prepared)
    }

    /// The transactions whose outputs `prepared` spends, in input order without repeats
    /// (each PSBT input carries its previous transaction).
    ///
    /// # Errors
    ///
    /// The backend's failure.
    pub async fn previous_transactions(
        &self,
        prepared: &Prepared,
    ) -> Result<Vec<Transaction>, EngineError> {
        let mut txs: Vec<Transaction> = Vec::new();
        for outpoint in &prepared.built.spent {
            if txs.iter().any(|tx| tx.compute_txid() == outpoint.txid) {
                continue;
            }
            let chain_tx = self
                .backend
                .transaction(&outpoint.txid)
                .await
                .map_err(|e| self.backend_error(e))?;
            txs.push(chain_tx.tx);
        }
        Ok(txs)
    }

    /// Broadcasts the signed form `tx` of an unsigned action of this data directory (from
    /// a signed PSBT or raw hex), after checking it against the template its reservation
    /// recorded: the same inputs in the same order, the same outputs in the same order (so
    /// the same verb), the same version and lock time; only the signatures may differ. Then
    /// it is journalled, its reservation moved to its txid in the same commit, and sent as
    /// [`Spool::broadcast`] sends. Sending again a transaction already journalled sends it
    /// again (idempotent).
    ///
    /// # Errors
    ///
    /// [`EngineError::NoTemplate`] or [`EngineError::NotTemplate`] (nothing is sent), or as
    /// [`Spool::broadcast`].
    pub async fn broadcast_signed(&self, tx: Transaction) -> Result<Prepared, EngineError> {
        let unsigned = spool_tx::psbt::unsigned_form(&tx);
        let unsigned_txid = unsigned.compute_txid();
        let txid = tx.compute_txid();
        let spent: Vec<OutPoint> = tx.input.iter().map(|i| i.previous_output).collect();
        let template = self
            .reservations
            .record(&unsigned_txid)?
            .filter(|r| r.state == TxState::Unsigned)
            .and_then(|r| r.template);
        let Some(template) = template else {
            let holders = self.reservations.holders(&spent)?;
            if let Some(sent) = holders.iter().find(|r| r.txid == txid) {
                // Already journalled: send it again.
                let prepared = Prepared {
                    built: BuiltTx {
                        tx,
                        fee: Amount::ZERO,
                        spent,
                    },
                    from: self.signer_of(&sent.outpoints).await,
                    checked: false,
                    reserved: true,
                    signed: true,
                    replaced: None,
                };
                let sent = self.send_journalled(&prepared).await?;
                debug_assert_eq!(sent, txid);
                return Ok(prepared);
            }
            for holder in &holders {
                if let Some(template) = &holder.template {
                    let expected = template.transaction()?;
                    return Err(EngineError::NotTemplate {
                        txid,
                        template: holder.txid,
                        difference: difference(self.backend.network(), &expected, &unsigned),
                    });
                }
            }
            return Err(EngineError::NoTemplate { txid });
        };
        let expected = template.transaction()?;
        if expected != unsigned {
            return Err(EngineError::NotTemplate {
                txid,
                template: unsigned_txid,
                difference: difference(self.backend.network(), &expected, &unsigned),
            });
        }
        let from = template
            .from
            .parse::<bitcoin::Address<bitcoin::address::NetworkUnchecked>>()
            .ok()
            .and_then(|a| a.require_network(self.backend.network()).ok())
            .ok_or(crate::store::StoreError::BadTemplate {
                reason: format!("signer address {:?}", template.from),
            })?;
        let prepared = Prepared {
            built: BuiltTx {
                tx,
                fee: Amount::from_sat(template.fee),
                spent,
            },
            from,
            checked: false,
            reserved: true,
            signed: true,
            replaced: None,
        };
        test_hook_pause(&txid).await;
        self.reservations
            .mark_sending_signed(&unsigned_txid, &txid, &prepared.hex())?;
        self.send_journalled(&prepared).await?;
        Ok(prepared)
    }

    /// The address whose outputs are `outpoints` (for a transaction sent again), or a
    /// placeholder when the backend cannot tell.
    async fn signer_of(&self, outpoints: &[OutPoint]) -> Address {
        if let Some(first) = outpoints.first() {
            if let Ok(chain_tx) = self.backend.transaction(&first.txid).await {
                if let Some(out) = chain_tx.tx.output.get(first.vout as usize) {
                    if let Ok(address) =
                        Address::from_script(&out.script_pubkey, self.backend.network())
                    {
                        return address;
                    }
                }
            }
        }
        Address::p2pkh(
            bitcoin::PubkeyHash::from_raw_hash(bitcoin::hashes::Hash::all_zeros()),
            self.backend.network(),
        )
    }

    /// Broadcasts a prepared transaction. It is journalled first (`broadcasts.jsonl`, and
    /// its reservation marked `sending`), then sent; once the node accepts it, its
    /// reservation is marked `broadcast`. If the node rejects it, its reservation is
    /// released; on any other failure (node unreachable, timeout) the transaction may have
    /// reached the node, so its outpoints stay reserved until it is proven confirmed or gone
    /// ([`Spool::settle_reservations`]).
    ///
    /// Test hook: when the environment variable [`PAUSE_BEFORE_BROADCAST`] names a path, a
    /// reserved transaction is not sent until a file exists at that path; meanwhile
    /// `<path>.reserved` holds its txid. Tests use it to hold the window between reserving
    /// and broadcasting open; nothing else reads it.
    ///
    /// # Errors
    ///
    /// The backend's failure, or the store's (then nothing was sent).
    pub async fn broadcast(&self, prepared: &Prepared) -> Result<Txid, EngineError> {
        let txid = prepared.txid();
        if !prepared.signed {
            return Err(EngineError::Unsigned { txid });
        }
        if prepared.reserved {
            test_hook_pause(&txid).await;
            self.reservations.mark_sending(&txid, &prepared.hex())?;
        }
        self.send_journalled(prepared).await
    }

    /// Sends a transaction already journalled (or not reserved), handling the node's answer
    /// as [`Spool::broadcast`] says.
    async fn send_journalled(&self, prepared: &Prepared) -> Result<Txid, EngineError> {
        let txid = prepared.txid();
        match self.backend.broadcast(&prepared.built.tx).await {
            Ok(txid) => {
                if prepared.reserved {
                    // The node has it: a failure to note that only delays the release.
                    let _ = self.reservations.mark_broadcast(&txid);
                }
                Ok(txid)
            }
            Err(BackendError::Rejected { reason, .. }) => {
                self.refused(prepared);
                if prepared.reserved {
                    let _ = self.backend.release_reservation(&txid).await;
                }
                Err(self.rejected(prepared, reason).await)
            }
            Err(BackendError::Conflict {
                conflicting,
                reason,
                ..
            }) => {
                // Refused by the server's admission control before the node saw it.
                self.refused(prepared);
                if prepared.reserved {
                    let _ = self.backend.release_reservation(&txid).await;
                }
                Err(self.conflict(txid, Some(conflicting), reason))
            }
            Err(err @ BackendError::Unauthorized { .. }) => {
                // Refused before it reached the node (a server's write token): nothing of
                // it was broadcast.
                self.refused(prepared);
                if prepared.reserved {
                    let _ = self.backend.release_reservation(&txid).await;
                }
                Err(self.backend_error(err))
            }
            Err(err) => {
                if prepared.reserved {
                    // The node may have it: released once proven gone.
                    let _ = self.reservations.mark_unsure(&txid);
                }
                self.resolve_unsure(prepared, err).await
            }
        }
    }

    /// After a broadcast failed in a way that may have reached the node (the connection
    /// dropped, a timeout): learns the outcome by asking for the transaction and sending
    /// it again (sending is idempotent: the node answers that it knows it), for at most
    /// [`UNREACHABLE_GRACE`]. A proven outcome is returned as the broadcast's; otherwise
    /// [`EngineError::BroadcastUnknown`], never a plain failure.
    async fn resolve_unsure(
        &self,
        prepared: &Prepared,
        first: BackendError,
    ) -> Result<Txid, EngineError> {
        let txid = prepared.txid();
        let started = Instant::now();
        drop(first);
        let mut last: BackendError;
        let mut pause = Duration::from_millis(250);
        loop {
            if self.backend.transaction(&txid).await.is_ok() {
                if prepared.reserved {
                    let _ = self.reservations.mark_broadcast(&txid);
                }
                return Ok(txid);
            }
            match self.backend.broadcast(&prepared.built.tx).await {
                Ok(sent) => {
                    if prepared.reserved {
                        let _ = self.reservations.mark_broadcast(&sent);
                    }
                    return Ok(sent);
                }
                Err(BackendError::Rejected { reason, .. }) => {
                    // Definitely not in the mempool or the chain (the transaction index was
                    // asked before calling it rejected): nothing of it was broadcast.
                    self.refused(prepared);
                    return Err(self.rejected(prepared, reason).await);
                }
                Err(err) => last = err,
            }
            if started.elapsed() >= UNREACHABLE_GRACE {
                return Err(EngineError::BroadcastUnknown {
                    txid,
                    at: self.backend.describe(),
                    source: last,
                });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }

    /// After the node refused `prepared`: its reservation is released, or for a bump the
    /// replaced transaction's put back.
    fn refused(&self, prepared: &Prepared) {
        if !prepared.reserved {
            return;
        }
        let txid = prepared.txid();
        let _ = match &prepared.replaced {
            Some(old) => self.reservations.restore_replaced(&txid, old.clone()),
            None => self.reservations.release_tx(&txid).map(drop),
        };
    }

    /// The error of a refused broadcast: a conflict with the transaction that spends the
    /// same outputs (asked of the backend), in our words, or the node's refusal.
    async fn rejected(&self, prepared: &Prepared, reason: String) -> EngineError {
        let txid = prepared.txid();
        let conflict = reason.contains("rejecting replacement")
            || reason.contains("txn-mempool-conflict")
            || reason.contains("bad-txns-inputs-missingorspent")
            || reason.contains("missing-inputs");
        if !conflict {
            return self.backend_error(BackendError::Rejected { txid, reason });
        }
        let mut conflicting = None;
        for input in &prepared.built.tx.input {
            if let Ok(Some(other)) = self.backend.spender(&input.previous_output).await {
                if other != txid {
                    conflicting = Some(other);
                    break;
                }
            }
        }
        self.conflict(txid, conflicting, reason)
    }

    /// [`EngineError::Conflict`]: `txid` conflicts with `conflicting`, which this data
    /// directory sent or not.
    fn conflict(&self, txid: Txid, conflicting: Option<Txid>, reason: String) -> EngineError {
        let ours = conflicting.is_some_and(|other| {
            matches!(self.reservations.record(&other), Ok(Some(_)))
                || self
                    .reservations
                    .journal()
                    .is_ok_and(|journal| journal.iter().any(|entry| entry.txid == other))
        });
        EngineError::Conflict {
            txid,
            conflicting,
            ours,
            node_reason: reason,
        }
    }

    /// Waits until `txid` has `confirmations`; then its reservation is released.
    ///
    /// # Errors
    ///
    /// The backend's failure or timeout, or the reservation store's failure.
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
    ///
    /// A node that cannot be reached is waited for (it may be restarting), but not beyond
    /// [`UNREACHABLE_GRACE`] in a row: then the error says it is unreachable, rather than
    /// reporting a timeout after the whole wait.
    ///
    /// # Errors
    ///
    /// As [`Spool::wait_confirmed`].
    pub async fn wait_confirmed_with_progress(
        &self,
        txid: &Txid,
        confirmations: u32,
        timeout: Duration,
        progress: &(dyn Fn(WaitProgress) + Send + Sync),
    ) -> Result<TxPlace, EngineError> {
        let start = Instant::now();
        let mut pause = Duration::from_millis(200);
        let mut unreachable_since: Option<Instant> = None;
        loop {
            let looked = async {
                let chain_tx = self.backend.transaction(txid).await?;
                let tip = match chain_tx.place {
                    TxPlace::Confirmed { .. } => self.backend.tip_height().await?,
                    TxPlace::Unconfirmed => 0,
                };
                Ok::<_, BackendError>((chain_tx.place, tip))
            }
            .await;
            let mut report = WaitProgress {
                txid: *txid,
                confirmations: 0,
                wanted: confirmations,
                seen: false,
                elapsed: start.elapsed(),
            };
            match looked {
                Ok((place, tip)) => {
                    unreachable_since = None;
                    report.confirmations = place.confirmations(tip);
                    report.seen = true;
                    progress(report);
                    if report.confirmations >= u64::from(confirmations) {
                        self.reservations.release_tx(txid)?;
                        return Ok(place);
                    }
                }
                Err(err) if err.is_not_found() => {
                    unreachable_since = None;
                    progress(report);
                }
                Err(err) if err.is_retryable() => {
                    let since = *unreachable_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= UNREACHABLE_GRACE.min(timeout) {
                        return Err(self.backend_error(err));
                    }
                    progress(report);
                }
                Err(err) => return Err(self.backend_error(err)),
            }
            let elapsed = start.elapsed();
            if elapsed >= timeout {
                return Err(self.backend_error(BackendError::Timeout {
                    what: format!("{confirmations} confirmation(s) of {txid}"),
                    after: elapsed,
                }));
            }
            tokio::time::sleep(pause.min(timeout - elapsed)).await;
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }

    /// Prepares and broadcasts (pyspool's `Spool` methods with `sync=False`).
    ///
    /// # Errors
    ///
    /// As [`Spool::prepare`] and [`Spool::broadcast`].
    pub async fn send(
        &self,
        request: &Request,
        key: &(impl Spender + ?Sized),
        options: &SendOptions,
    ) -> Result<Prepared, EngineError> {
        let prepared = self.prepare(request, key, options).await?;
        if !options.dry_run {
            self.broadcast(&prepared).await?;
        }
        Ok(prepared)
    }
}

/// How long [`Spool::wait_confirmed_with_progress`] waits for an unreachable node, in a row,
/// before it reports it unreachable.
pub const UNREACHABLE_GRACE: Duration = Duration::from_secs(15);

/// An index below `len` (> 0) that differs from process to process and call to call: which
/// of the pending reservations outside an action's way it also settles. Not for secrets.
fn random_index(len: usize) -> usize {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    (hasher.finish() % len as u64) as usize
}

/// The test hook's environment variable: see [`Spool::broadcast`].
pub const PAUSE_BEFORE_BROADCAST: &str = "SPOOL_TEST_PAUSE_BEFORE_BROADCAST";

/// The test hook of [`Spool::broadcast`]: waits (at most 10 minutes) for the file named by
/// [`PAUSE_BEFORE_BROADCAST`], after writing the txid to `<path>.reserved`.
async fn test_hook_pause(txid: &Txid) {
    let Some(path) = std::env::var_os(PAUSE_BEFORE_BROADCAST).map(PathBuf::from) else {
        return;
    };
    let mut reserved = path.clone().into_os_string();
    reserved.push(".reserved");
    let _ = std::fs::write(&reserved, txid.to_string());
    let started = Instant::now();
    while !path.exists() && started.elapsed() < Duration::from_secs(600) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What an operation changes, claimed while its transaction is pending: the edition it
/// acts on (0 for the master edition and piece registrations), or the number of editions.
pub fn claims_of(operation: &Operation) -> Vec<Claim> {
    let Some(piece) = operation.piece() else {
        return Vec::new();
    };
    let edition = match operation.verb() {
        Verb::Piece | Verb::ConsignedRegistration => Some(0),
        Verb::Editions { .. } => None,
        Verb::Fuel => return Vec::new(),
        Verb::Register { edition }
        | Verb::Transfer { edition }
        | Verb::Consign { edition }
        | Verb::Unconsign { edition }
        | Verb::Migrate { edition }
        | Verb::Loan { edition, .. } => Some(edition),
    };
    vec![Claim {
        piece: piece.to_string(),
        edition,
    }]
}

/// The first way `got` (an unsigned form) differs from the template `expected`, in words.
fn difference(network: bitcoin::Network, expected: &Transaction, got: &Transaction) -> String {
    let verb = |tx: &Transaction| {
        spool_protocol::payload::decipher(tx)
            .map(|v| v.to_string())
            .unwrap_or_else(|_| "none".to_owned())
    };
    if verb(expected) != verb(got) {
        return format!(
            "its verb is {}, the template's is {}",
            verb(got),
            verb(expected)
        );
    }
    let outpoints = |tx: &Transaction| -> Vec<OutPoint> {
        tx.input.iter().map(|i| i.previous_output).collect()
    };
    if outpoints(expected) != outpoints(got) {
        let mut a = outpoints(expected);
        let mut b = outpoints(got);
        a.sort();
        b.sort();
        return if a == b {
            "its inputs are in another order than the template's".to_owned()
        } else {
            format!(
                "it spends {} input(s) that differ from the template's {}",
                got.input.len(),
                expected.input.len()
            )
        };
    }
    if expected.output.len() != got.output.len() {
        return format!(
            "it has {} outputs, the template {}",
            got.output.len(),
            expected.output.len()
        );
    }
    for (index, (want, have)) in expected.output.iter().zip(&got.output).enumerate() {
        if want != have {
            let describe = |out: &bitcoin::TxOut| {
                let to = Address::from_script(&out.script_pubkey, network)
                    .map(|a| a.to_string())
                    .unwrap_or_else(|_| format!("script {}", out.script_pubkey.to_hex_string()));
                format!("{} sat to {to}", out.value.to_sat())
            };
            return format!(
                "output {index} pays {}, the template's pays {}",
                describe(have),
                describe(want)
            );
        }
    }
    if expected
        .input
        .iter()
        .map(|i| i.sequence)
        .ne(got.input.iter().map(|i| i.sequence))
    {
        return "its input sequence numbers differ from the template's".to_owned();
    }
    if expected.version != got.version || expected.lock_time != got.lock_time {
        return "its version or lock time differs from the template's".to_owned();
    }
    "it differs from the template".to_owned()
}
