//! Unspent outputs of a watched script: the whole list, or a sample of each value for an
//! action to choose its inputs from.
//!
//! Both read the partial index `outputs_unspent` (outputs not spent in a block, by script,
//! value and outpoint), so their cost follows the unspent outputs they return, not every
//! output the script ever received. The sample starts each value's run at a random outpoint
//! and stops as soon as it holds enough: a federation with tens of thousands of unspent
//! outputs is sampled as fast as one with a few hundred.

use bitcoin::hashes::Hash;
use bitcoin::{Amount, OutPoint, Script, Txid};
use rusqlite::types::Value as SqlValue;
use spool_protocol::chain::Utxo;

use super::Store;
use crate::error::IndexError;

/// The outputs of one value from `start` (a txid-sized position) to the end, then (the
/// second) from the beginning to `start`: together, the whole list's order rotated.
const RUNS: [&str; 2] = [
    "SELECT o.txid, o.vout, o.height, o.coinbase FROM outputs o
     WHERE o.script = ?1 AND o.spent_by IS NULL AND o.value = ?2 AND o.txid >= ?3
       AND (?4 IS NULL OR o.height <= ?4)
       AND NOT EXISTS (SELECT 1 FROM mempool_spends m WHERE m.txid = o.txid AND m.vout = o.vout)
     ORDER BY o.txid, o.vout",
    "SELECT o.txid, o.vout, o.height, o.coinbase FROM outputs o
     WHERE o.script = ?1 AND o.spent_by IS NULL AND o.value = ?2 AND o.txid < ?3
       AND (?4 IS NULL OR o.height <= ?4)
       AND NOT EXISTS (SELECT 1 FROM mempool_spends m WHERE m.txid = o.txid AND m.vout = o.vout)
     ORDER BY o.txid, o.vout",
];

/// The next value above `?2` among the unspent outputs of a script.
const NEXT_VALUE: &str = "SELECT min(value) FROM outputs
     WHERE script = ?1 AND spent_by IS NULL AND value > ?2";

/// The highest height whose outputs have `min_conf` confirmations at `tip`: `None` when every
/// output counts (`min_conf` 0), `Some(-1)` when none can.
fn deepest(min_conf: u32, tip: u64) -> Option<i64> {
    (min_conf > 0).then(|| (tip as i64 + 1) - i64::from(min_conf))
}

impl Store {
    /// Unspent outputs paying `script` with at least `min_conf` confirmations at `tip`
    /// (0 includes the mempool), never one a mempool transaction spends.
    ///
    /// # Errors
    /// [`IndexError::Database`], [`IndexError::Corrupt`].
    pub fn utxos(&self, script: &Script, min_conf: u32, tip: u64) -> Result<Vec<Utxo>, IndexError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT o.txid, o.vout, o.value, o.height, o.coinbase FROM outputs o
                 WHERE o.script = ?1 AND o.spent_by IS NULL AND NOT EXISTS
                   (SELECT 1 FROM mempool_spends m WHERE m.txid = o.txid AND m.vout = o.vout)
                 ORDER BY o.txid, o.vout",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([script.as_bytes()], |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, u32>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                    r.get::<_, bool>(4)?,
                ))
            })
            .map_err(self.err())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.err())?;
        let mut utxos = Vec::new();
        for (txid, vout, value, height, coinbase) in rows {
            let utxo = self.utxo(script, &txid, vout, value, height, coinbase, tip)?;
            if utxo.confirmations >= min_conf {
                utxos.push(utxo);
            }
        }
        Ok(utxos)
    }

    /// At most `per_value` unspent outputs of each value paying `script`, chosen as
    /// [`Store::utxos`] would list them (`min_conf` at `tip`, none spent in the mempool), not
    /// `held` and spendable (no coinbase output with fewer than 100 confirmations). Each value's run starts at the first outpoint from `start` (32 bytes
    /// compared with the txids; random for a random sample) and wraps around, so callers with
    /// different starts rarely draw the same outputs. Values come in increasing order.
    ///
    /// # Errors
    /// [`IndexError::Database`], [`IndexError::Corrupt`].
    pub fn utxo_sample(
        &self,
        script: &Script,
        min_conf: u32,
        tip: u64,
        per_value: usize,
        start: &[u8; 32],
        held: &dyn Fn(&OutPoint) -> bool,
    ) -> Result<Vec<Utxo>, IndexError> {
        let deepest = deepest(min_conf, tip);
        let mut sample = Vec::new();
        let mut next = self.conn.prepare_cached(NEXT_VALUE).map_err(self.err())?;
        if per_value == 0 {
            return Ok(sample);
        }
        let mut below: i64 = -1;
        loop {
            let value: Option<i64> = next
                .query_row(rusqlite::params![script.as_bytes(), below], |r| r.get(0))
                .map_err(self.err())?;
            let Some(value) = value else { break };
            below = value;
            let mut taken = 0;
            for sql in RUNS {
                let mut run = self.conn.prepare_cached(sql).map_err(self.err())?;
                let mut rows = run
                    .query(rusqlite::params![
                        script.as_bytes(),
                        value,
                        SqlValue::Blob(start.to_vec()),
                        deepest,
                    ])
                    .map_err(self.err())?;
                while taken < per_value {
                    let Some(row) = rows.next().map_err(self.err())? else {
                        break;
                    };
                    let txid: Vec<u8> = row.get(0).map_err(self.err())?;
                    let vout: u32 = row.get(1).map_err(self.err())?;
                    let height: Option<i64> = row.get(2).map_err(self.err())?;
                    let coinbase: bool = row.get(3).map_err(self.err())?;
                    let utxo = self.utxo(script, &txid, vout, value, height, coinbase, tip)?;
                    // A sample is for spending: a coinbase output not yet mature would
                    // take the place of one that can be spent.
                    let immature =
                        utxo.is_coinbase && utxo.confirmations < spool_tx::COINBASE_MATURITY;
                    if immature || held(&utxo.outpoint) {
                        continue;
                    }
                    sample.push(utxo);
                    taken += 1;
                }
            }
        }
        Ok(sample)
    }

    /// One row of `outputs` as a [`Utxo`] (an output confirmed above `tip`, in a block the
    /// caller's tip does not include yet, counts no confirmation).
    #[allow(clippy::too_many_arguments)]
    fn utxo(
        &self,
        script: &Script,
        txid: &[u8],
        vout: u32,
        value: i64,
        height: Option<i64>,
        coinbase: bool,
        tip: u64,
    ) -> Result<Utxo, IndexError> {
        let txid = Txid::from_slice(txid).map_err(|_| self.corrupt("a txid is not 32 bytes"))?;
        let value = u64::try_from(value)
            .map_err(|_| self.corrupt(format!("output {txid}:{vout} has a negative value")))?;
        let confirmations = match height {
            Some(h) => (tip + 1).saturating_sub(h.max(0) as u64),
            None => 0,
        };
        Ok(Utxo {
            outpoint: OutPoint { txid, vout },
            value: Amount::from_sat(value),
            script_pubkey: script.to_owned(),
            confirmations: u32::try_from(confirmations).unwrap_or(u32::MAX),
            is_coinbase: coinbase,
        })
    }
}
