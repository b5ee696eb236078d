//! The reservations `spool serve` holds for every operator that acts through it, so that
//! operators on different machines never choose the same outputs and never act on the same
//! edition at once.
//!
//! The rules are spool-tx's (`spool_tx::claims`: the claim rule, the states, the release
//! rule, the lease), as in each data directory's own store; this module keeps them in two
//! tables of the index's SQLite file (so they survive a restart or a `kill -9`), with an
//! in-memory copy for answers in microseconds:
//!
//! - `server_reservations(txid, state, reserved_at, sent_at, claims)`: one row a
//!   transaction; `claims` is JSON;
//! - `server_reserved_outpoints(outpoint, txid)`: one row an outpoint held.
//!
//! A reservation is released when its transaction confirms, when the node does not know it
//! once it was broadcast, when its maker releases it (`DELETE`), and, never broadcast, when
//! its lease lapses ([`DEFAULT_LEASE`] unless `spool serve --reservation-lease` says
//! otherwise).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

use bitcoin::{OutPoint, Txid};
use rusqlite::{params, Connection};
use spool_protocol::chain::TxStatus;
use spool_tx::claims::{
    check_claims, lease_maker, released_by, Claim, Pending, Refusal, ReservationRequest,
    ReservationStore, TxState,
};

use crate::error::IndexError;

/// How long a reservation never broadcast is held by default: long enough for an operator to
/// sign and send, short enough that a crashed operator's outputs come back soon.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(600);

/// Seconds between two sweeps asked by listings.
pub const SWEEP_EVERY: u64 = 5;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS server_reservations (
    txid TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    reserved_at INTEGER NOT NULL,
    sent_at INTEGER,
    claims TEXT NOT NULL,
    maker TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS server_reserved_outpoints (
    outpoint TEXT PRIMARY KEY,
    txid TEXT NOT NULL
);
";

/// One reservation held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// The transaction.
    pub txid: Txid,
    /// Its state.
    pub state: TxState,
    /// When it was taken (seconds since the Unix epoch).
    pub reserved_at: u64,
    /// When it was broadcast.
    pub sent_at: Option<u64>,
    /// The outpoints it holds.
    pub outpoints: Vec<OutPoint>,
    /// What its action changes.
    pub claims: Vec<Claim>,
    /// Who asked for it.
    pub maker: String,
}

#[derive(Debug)]
struct Inner {
    conn: Connection,
    held: BTreeMap<Txid, Held>,
    outpoints: HashMap<OutPoint, Txid>,
    /// The reservations holding each claim (kept with `held` by [`Inner::put`] and
    /// [`Inner::take`]): a new reservation's claims are checked against those only, not
    /// against every reservation held.
    claimed: HashMap<Claim, BTreeSet<Txid>>,
}

impl Inner {
    /// Holds `held` (replacing a reservation of the same txid).
    fn put(&mut self, held: Held) {
        self.take(&held.txid);
        for claim in &held.claims {
            self.claimed
                .entry(claim.clone())
                .or_default()
                .insert(held.txid);
        }
        self.held.insert(held.txid, held);
    }

    /// Stops holding `txid`'s reservation and returns it.
    fn take(&mut self, txid: &Txid) -> Option<Held> {
        let held = self.held.remove(txid)?;
        for claim in &held.claims {
            if let Some(holders) = self.claimed.get_mut(claim) {
                holders.remove(txid);
                if holders.is_empty() {
                    self.claimed.remove(claim);
                }
            }
        }
        Some(held)
    }

    /// The reservations holding any of `claims`, by txid.
    fn claiming(&self, claims: &[Claim]) -> BTreeSet<Txid> {
        claims
            .iter()
            .filter_map(|claim| self.claimed.get(claim))
            .flatten()
            .copied()
            .collect()
    }
}

/// The server's reservations (see the module documentation).
#[derive(Debug)]
pub struct ServerReservations {
    inner: Mutex<Inner>,
    lease: u64,
    path: String,
    last_sweep: std::sync::atomic::AtomicU64,
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn state_text(state: TxState) -> &'static str {
    match state {
        TxState::Reserved => "reserved",
        TxState::Sending => "sending",
        TxState::Broadcast => "broadcast",
        TxState::Unsure => "unsure",
        TxState::Unsigned => "unsigned",
    }
}

fn parse_state(text: &str) -> Option<TxState> {
    Some(match text {
        "reserved" => TxState::Reserved,
        "sending" => TxState::Sending,
        "broadcast" => TxState::Broadcast,
        "unsure" => TxState::Unsure,
        "unsigned" => TxState::Unsigned,
        _ => return None,
    })
}

impl ServerReservations {
    /// Opens the reservations kept in the index file at `path` (creating the tables), with
    /// `lease` for reservations never broadcast.
    ///
    /// # Errors
    /// [`IndexError::Database`] when SQLite fails; [`IndexError::Corrupt`] for a row that
    /// does not parse.
    pub fn open(path: &Path, lease: Duration) -> Result<ServerReservations, IndexError> {
        let shown = path.display().to_string();
        let conn = Connection::open(path).map_err(IndexError::db(&shown))?;
        crate::busy::wait_briefly(&conn).map_err(IndexError::db(&shown))?;
        // Every change is on disk before it is answered: a reservation survives kill -9 and
        // a power cut alike.
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(IndexError::db(&shown))?;
        conn.execute_batch(SCHEMA).map_err(IndexError::db(&shown))?;
        let corrupt = |detail: String| IndexError::Corrupt {
            path: shown.clone(),
            detail,
        };
        let mut held = BTreeMap::new();
        {
            let mut stmt = conn
                .prepare(
                    "SELECT txid, state, reserved_at, sent_at, claims, maker FROM server_reservations",
                )
                .map_err(IndexError::db(&shown))?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, Option<i64>>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?,
                    ))
                })
                .map_err(IndexError::db(&shown))?;
            for row in rows {
                let (txid, state, reserved_at, sent_at, claims, maker) =
                    row.map_err(IndexError::db(&shown))?;
                let txid = Txid::from_str(&txid)
                    .map_err(|_| corrupt(format!("reservation txid {txid:?}")))?;
                let state = parse_state(&state)
                    .ok_or_else(|| corrupt(format!("reservation state {state:?}")))?;
                let claims: Vec<Claim> = serde_json::from_str(&claims)
                    .map_err(|e| corrupt(format!("claims of reservation {txid}: {e}")))?;
                held.insert(
                    txid,
                    Held {
                        txid,
                        state,
                        reserved_at: u64::try_from(reserved_at).unwrap_or_default(),
                        sent_at: sent_at.and_then(|t| u64::try_from(t).ok()),
                        outpoints: Vec::new(),
                        claims,
                        maker,
                    },
                );
            }
        }
        let mut outpoints = HashMap::new();
        {
            let mut stmt = conn
                .prepare("SELECT outpoint, txid FROM server_reserved_outpoints")
                .map_err(IndexError::db(&shown))?;
            let rows = stmt
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
                .map_err(IndexError::db(&shown))?;
            for row in rows {
                let (outpoint, txid) = row.map_err(IndexError::db(&shown))?;
                let outpoint = OutPoint::from_str(&outpoint)
                    .map_err(|_| corrupt(format!("reserved outpoint {outpoint:?}")))?;
                let txid = Txid::from_str(&txid)
                    .map_err(|_| corrupt(format!("reserved outpoint's txid {txid:?}")))?;
                if let Some(record) = held.get_mut(&txid) {
                    record.outpoints.push(outpoint);
                }
                outpoints.insert(outpoint, txid);
            }
        }
        Ok(ServerReservations {
            inner: Mutex::new({
                let mut inner = Inner {
                    conn,
                    held: BTreeMap::new(),
                    outpoints,
                    claimed: HashMap::new(),
                };
                for (_, record) in held {
                    inner.put(record);
                }
                inner
            }),
            lease: lease.as_secs(),
            path: shown,
            last_sweep: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// The lease of reservations never broadcast, in seconds.
    pub fn lease_seconds(&self) -> u64 {
        self.lease
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Every reservation held.
    pub fn list(&self) -> Vec<Held> {
        self.lock().held.values().cloned().collect()
    }

    /// The reservation of `txid`, when one is held.
    pub fn get(&self, txid: &Txid) -> Option<Held> {
        self.lock().held.get(txid).cloned()
    }

    /// How many reservations are held.
    pub fn len(&self) -> usize {
        self.lock().held.len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `outpoint` is held by a reservation.
    pub fn holder(&self, outpoint: &OutPoint) -> Option<Txid> {
        self.lock().outpoints.get(outpoint).copied()
    }

    /// Whether a [`ServerReservations::sweep`] is due: at most one every
    /// [`SWEEP_EVERY`] seconds from the listings that call it (a conflict checks its holder
    /// at once, whatever the time).
    pub fn sweep_due(&self) -> bool {
        use std::sync::atomic::Ordering;
        let now = now();
        let last = self.last_sweep.load(Ordering::Relaxed);
        now >= last.saturating_add(SWEEP_EVERY)
            && self
                .last_sweep
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    /// Releases what the rules release: a reservation whose lease lapsed before its
    /// broadcast, and (with `status_of`, the node's status of a transaction) one whose
    /// transaction confirmed, or was dropped after it may have reached the node. Returns how
    /// many were released.
    ///
    /// # Errors
    /// [`IndexError::Database`] when SQLite fails.
    pub fn sweep(&self, status_of: &dyn Fn(&Txid) -> TxStatus) -> Result<usize, IndexError> {
        let now = now();
        let candidates: Vec<(Txid, TxState, u64)> = self
            .lock()
            .held
            .values()
            .map(|h| (h.txid, h.state, h.reserved_at))
            .collect();
        let mut released = 0;
        for (txid, state, reserved_at) in candidates {
            let maker = lease_maker(state, reserved_at, now, self.lease);
            // A reservation never handed over needs no lookup until its lease lapses.
            let status = if state == TxState::Reserved && maker != spool_tx::claims::Maker::Gone {
                continue;
            } else {
                status_of(&txid)
            };
            if released_by(state, status, maker) && self.release_one(&txid)? {
                released += 1;
            }
        }
        Ok(released)
    }

    fn release_one(&self, txid: &Txid) -> Result<bool, IndexError> {
        let mut inner = self.lock();
        let Some(held) = inner.take(txid) else {
            return Ok(false);
        };
        for outpoint in &held.outpoints {
            if inner.outpoints.get(outpoint) == Some(txid) {
                inner.outpoints.remove(outpoint);
            }
        }
        let text = txid.to_string();
        let tx = inner
            .conn
            .transaction()
            .map_err(IndexError::db(&self.path))?;
        tx.execute(
            "DELETE FROM server_reservations WHERE txid = ?1",
            params![text],
        )
        .map_err(IndexError::db(&self.path))?;
        tx.execute(
            "DELETE FROM server_reserved_outpoints WHERE txid = ?1",
            params![text],
        )
        .map_err(IndexError::db(&self.path))?;
        tx.commit().map_err(IndexError::db(&self.path))?;
        Ok(true)
    }

    /// [`ReservationStore::reserve`], asking `status_of` about a holder in the way first: a
    /// holder the rules release (confirmed, dropped, lapsed) is released, not obeyed.
    ///
    /// # Errors
    /// [`IndexError::Database`] when SQLite fails.
    pub fn reserve_checked(
        &self,
        request: &ReservationRequest,
        status_of: &dyn Fn(&Txid) -> TxStatus,
    ) -> Result<Result<(), Refusal>, IndexError> {
        // Each pass releases one holder the rules release, or answers: at most one pass per
        // reservation held.
        let passes = self.len() + 1;
        for _ in 0..passes {
            match self.reserve(request)? {
                Ok(()) => return Ok(Ok(())),
                Err(refusal) => {
                    let holder = match &refusal {
                        Refusal::Claimed(c) => c.holder,
                        Refusal::Outpoint { holder, .. } => *holder,
                        _ => return Ok(Err(refusal)),
                    };
                    let Some((state, reserved_at)) = self
                        .lock()
                        .held
                        .get(&holder)
                        .map(|h| (h.state, h.reserved_at))
                    else {
                        continue;
                    };
                    let maker = lease_maker(state, reserved_at, now(), self.lease);
                    if !(released_by(state, status_of(&holder), maker)
                        && self.release_one(&holder)?)
                    {
                        return Ok(Err(refusal));
                    }
                }
            }
        }
        self.reserve(request)
    }
}

impl ServerReservations {
    /// Marks `tx` broadcast. A transaction signed elsewhere from an unsigned action (a PSBT)
    /// was reserved under its unsigned form's txid: that reservation, its outpoints and
    /// claims, passes to the signed txid in one SQLite transaction, as broadcast.
    ///
    /// # Errors
    /// [`IndexError::Database`] when SQLite fails.
    pub fn mark_broadcast_tx(&self, tx: &bitcoin::Transaction) -> Result<(), IndexError> {
        let txid = tx.compute_txid();
        let unsigned = spool_tx::psbt::unsigned_form(tx).compute_txid();
        {
            let inner = self.lock();
            if inner.held.contains_key(&txid) || !inner.held.contains_key(&unsigned) {
                drop(inner);
                return self.mark_broadcast(&txid);
            }
        }
        let mut inner = self.lock();
        let Some(mut held) = inner.take(&unsigned) else {
            return Ok(());
        };
        let at = now();
        let (from, to) = (unsigned.to_string(), txid.to_string());
        let db = inner
            .conn
            .transaction()
            .map_err(IndexError::db(&self.path))?;
        db.execute(
            "UPDATE server_reservations SET txid = ?2, state = ?3, sent_at = ?4 WHERE txid = ?1",
            params![
                from,
                to,
                state_text(TxState::Broadcast),
                i64::try_from(at).unwrap_or(i64::MAX)
            ],
        )
        .map_err(IndexError::db(&self.path))?;
        db.execute(
            "UPDATE server_reserved_outpoints SET txid = ?2 WHERE txid = ?1",
            params![from, to],
        )
        .map_err(IndexError::db(&self.path))?;
        if let Err(err) = db.commit() {
            inner.put(held);
            return Err(IndexError::db(&self.path)(err));
        }
        for outpoint in &held.outpoints {
            inner.outpoints.insert(*outpoint, txid);
        }
        held.txid = txid;
        held.state = TxState::Broadcast;
        held.sent_at = Some(at);
        inner.put(held);
        Ok(())
    }
}

impl ReservationStore for ServerReservations {
    type Error = IndexError;

    fn reserve(&self, request: &ReservationRequest) -> Result<Result<(), Refusal>, IndexError> {
        let mut inner = self.lock();
        if let Some(same) = inner.held.get(&request.txid) {
            if same.maker == request.maker {
                // The same transaction asked again by its maker (a retried request).
                return Ok(Ok(()));
            }
            // Another maker built the very same transaction: it is the first one's action.
            return Ok(Err(match request.claims.first() {
                Some(claim) => Refusal::Claimed(spool_tx::claims::ClaimConflict {
                    claim: claim.clone(),
                    holder: same.txid,
                    state: same.state,
                }),
                None => Refusal::Outpoint {
                    outpoint: request.outpoints.first().copied().unwrap_or_default(),
                    holder: same.txid,
                },
            }));
        }
        let seen: HashSet<Txid> = request.seen.iter().copied().collect();
        // Only those holding one of its claims can conflict (in txid order, as `held`).
        let claiming = inner.claiming(&request.claims);
        let pending = claiming
            .iter()
            .filter_map(|t| inner.held.get(t))
            .map(|h| Pending {
                txid: h.txid,
                state: h.state,
                claims: &h.claims,
            });
        if let Err(conflict) = check_claims(&request.claims, &seen, pending) {
            return Ok(Err(Refusal::Claimed(conflict)));
        }
        if let Some((outpoint, holder)) = request
            .outpoints
            .iter()
            .find_map(|o| inner.outpoints.get(o).map(|h| (*o, *h)))
        {
            return Ok(Err(Refusal::Outpoint { outpoint, holder }));
        }
        let at = now();
        let text = request.txid.to_string();
        let claims = serde_json::to_string(&request.claims).unwrap_or_else(|_| "[]".into());
        let tx = inner
            .conn
            .transaction()
            .map_err(IndexError::db(&self.path))?;
        tx.execute(
            "INSERT INTO server_reservations (txid, state, reserved_at, sent_at, claims, maker)
             VALUES (?1, 'reserved', ?2, NULL, ?3, ?4)",
            params![
                text,
                i64::try_from(at).unwrap_or(i64::MAX),
                claims,
                request.maker
            ],
        )
        .map_err(IndexError::db(&self.path))?;
        for outpoint in &request.outpoints {
            tx.execute(
                "INSERT INTO server_reserved_outpoints (outpoint, txid) VALUES (?1, ?2)",
                params![outpoint.to_string(), text],
            )
            .map_err(IndexError::db(&self.path))?;
        }
        tx.commit().map_err(IndexError::db(&self.path))?;
        for outpoint in &request.outpoints {
            inner.outpoints.insert(*outpoint, request.txid);
        }
        inner.put(Held {
            txid: request.txid,
            state: TxState::Reserved,
            reserved_at: at,
            sent_at: None,
            outpoints: request.outpoints.clone(),
            claims: request.claims.clone(),
            maker: request.maker.clone(),
        });
        Ok(Ok(()))
    }

    fn mark_broadcast(&self, txid: &Txid) -> Result<(), IndexError> {
        let mut inner = self.lock();
        let Some(held) = inner.held.get_mut(txid) else {
            return Ok(());
        };
        let at = now();
        held.state = TxState::Broadcast;
        held.sent_at = Some(at);
        inner
            .conn
            .execute(
                "UPDATE server_reservations SET state = ?2, sent_at = ?3 WHERE txid = ?1",
                params![
                    txid.to_string(),
                    state_text(TxState::Broadcast),
                    i64::try_from(at).unwrap_or(i64::MAX)
                ],
            )
            .map_err(IndexError::db(&self.path))?;
        Ok(())
    }

    fn release(&self, txid: &Txid) -> Result<bool, IndexError> {
        self.release_one(txid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::hashes::Hash;

    fn txid(n: u8) -> Txid {
        Txid::from_byte_array([n; 32])
    }

    fn request(n: u8, outpoint: u32, edition: u64) -> ReservationRequest {
        ReservationRequest {
            txid: txid(n),
            outpoints: vec![OutPoint::new(txid(200), outpoint)],
            claims: vec![Claim {
                piece: "piece".into(),
                edition: Some(edition),
            }],
            seen: Vec::new(),
            maker: "m".into(),
        }
    }

    #[test]
    fn reservations_refuse_held_outpoints_and_claims_and_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.sqlite");
        let store = ServerReservations::open(&path, DEFAULT_LEASE).unwrap();
        assert_eq!(store.reserve(&request(1, 0, 1)).unwrap(), Ok(()));
        assert_eq!(
            store.reserve(&request(1, 0, 1)).unwrap(),
            Ok(()),
            "idempotent"
        );
        let mut twin = request(1, 0, 1);
        twin.maker = "another".into();
        match store.reserve(&twin).unwrap() {
            Err(Refusal::Claimed(c)) => assert_eq!(c.holder, txid(1)),
            other => panic!("the same transaction by another maker: {other:?}"),
        }
        match store.reserve(&request(2, 0, 2)).unwrap() {
            Err(Refusal::Outpoint { holder, .. }) => assert_eq!(holder, txid(1)),
            other => panic!("{other:?}"),
        }
        match store.reserve(&request(3, 1, 1)).unwrap() {
            Err(Refusal::Claimed(c)) => assert_eq!(c.holder, txid(1)),
            other => panic!("{other:?}"),
        }
        store.mark_broadcast(&txid(1)).unwrap();
        drop(store);
        let store = ServerReservations::open(&path, DEFAULT_LEASE).unwrap();
        let held = store.list();
        assert_eq!(held.len(), 1);
        assert_eq!(held[0].state, TxState::Broadcast);
        assert_eq!(store.holder(&OutPoint::new(txid(200), 0)), Some(txid(1)));
        // Confirmed: released by the sweep.
        assert_eq!(store.sweep(&|_| TxStatus::Confirmed).unwrap(), 1);
        assert!(store.is_empty());
        assert_eq!(store.reserve(&request(2, 0, 2)).unwrap(), Ok(()));
    }

    #[test]
    fn a_signed_psbt_takes_over_its_unsigned_forms_reservation() {
        use bitcoin::{absolute, transaction, Amount, ScriptBuf, Sequence, TxIn, TxOut, Witness};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.sqlite");
        let outpoint = OutPoint::new(txid(200), 7);
        let mut tx = bitcoin::Transaction {
            version: transaction::Version::ONE,
            lock_time: absolute::LockTime::ZERO,
            input: vec![TxIn {
                previous_output: outpoint,
                script_sig: ScriptBuf::new(),
                sequence: Sequence::MAX,
                witness: Witness::new(),
            }],
            output: vec![TxOut {
                value: Amount::from_sat(600),
                script_pubkey: ScriptBuf::new(),
            }],
        };
        let unsigned = tx.compute_txid();
        let held = ServerReservations::open(&path, Duration::from_secs(600)).unwrap();
        let mut request = request(1, 7, 3);
        request.txid = unsigned;
        request.outpoints = vec![outpoint];
        assert!(held.reserve(&request).unwrap().is_ok());
        tx.input[0].script_sig = ScriptBuf::from_bytes(vec![1, 2, 3]);
        let signed = tx.compute_txid();
        assert_ne!(signed, unsigned);
        held.mark_broadcast_tx(&tx).unwrap();
        assert_eq!(held.holder(&outpoint), Some(signed));
        let list = held.list();
        assert_eq!(list.len(), 1);
        assert_eq!((list[0].txid, list[0].state), (signed, TxState::Broadcast));
        assert_eq!(list[0].claims, request.claims);
        // And so after a restart.
        drop(held);
        let again = ServerReservations::open(&path, Duration::from_secs(600)).unwrap();
        assert_eq!(again.holder(&outpoint), Some(signed));
        assert_eq!(again.list()[0].state, TxState::Broadcast);
    }

    #[test]
    fn a_lapsed_lease_releases_a_reservation_never_broadcast() {
        let dir = tempfile::tempdir().unwrap();
        let store = ServerReservations::open(&dir.path().join("i.sqlite"), Duration::ZERO).unwrap();
        assert_eq!(store.reserve(&request(1, 0, 1)).unwrap(), Ok(()));
        // Unknown to the node and lapsed: released; the holder in the way is checked first.
        assert_eq!(
            store
                .reserve_checked(&request(2, 0, 1), &|_| TxStatus::Gone)
                .unwrap(),
            Ok(())
        );
        assert_eq!(store.list().len(), 1);
        assert_eq!(store.list()[0].txid, txid(2));
    }
}
