//! Which of a piece's transactions a rule about one edition reads.
//!
//! The rules of [`crate::history`] keep one state per edition: the verdict of an event of
//! edition `n`, and every check about edition `n` ([`crate::ownership`]), read only the
//! piece-level events (PIECE, CONSIGNEDREGISTRATION, EDITIONS and edition 0, the master
//! edition) and the events of edition `n` itself. The only other thing that matters is the
//! order of the unconfirmed events, which follows what they spend; so a [`Scope`] also keeps
//! the unconfirmed SPOOL transactions of the piece that an included one descends from.
//!
//! [`Scope::select`] is what lets a pre-check of one action read a bounded part of a piece
//! with thousands of editions: a history built from the selection judges every event the
//! scope reads, and answers every check about the scope's edition and the master edition,
//! exactly as the history built from all the piece's transactions does (a property test
//! holds it to that); the verdicts of the ancestors kept only for their order are not the
//! scope's to give.

use std::collections::{HashMap, HashSet};

use bitcoin::{Address, Txid};

use crate::chain::{ChainTx, TxPlace};
use crate::payload::find_verb;
use crate::verb::Verb;

/// The part of a piece's history that the rules about one edition read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Scope {
    edition: u64,
}

impl Scope {
    /// The scope of edition `edition` (0: the master edition and the piece-level events).
    pub fn edition(edition: u64) -> Scope {
        Scope { edition }
    }

    /// The scope of an action with `verb`: its edition, or the piece level (edition 0) for
    /// PIECE, CONSIGNEDREGISTRATION, EDITIONS and FUEL.
    pub fn of(verb: &Verb) -> Scope {
        Scope::edition(verb.edition().unwrap_or(0))
    }

    /// The edition this scope is about (0: the piece level).
    pub fn edition_number(&self) -> u64 {
        self.edition
    }

    /// Whether an event with `verb` is read by the rules of this scope: piece-level verbs,
    /// the master edition's, and this edition's.
    pub fn reads(&self, verb: &Verb) -> bool {
        match verb.edition() {
            None | Some(0) => true,
            Some(n) => n == self.edition,
        }
    }

    /// The transactions of `txs` (a piece's, as [`crate::history::History::build`] takes
    /// them) that the rules of this scope read: the SPOOL transactions paying `piece` whose
    /// verb this scope [reads](Scope::reads), and the unconfirmed SPOOL transactions of the
    /// piece they descend from. The order of `txs` is kept; transactions that are not events
    /// of the piece are left out. An ancestor of another edition is there only for the
    /// order: a history built from the selection judges it without its own edition's past,
    /// so only the verdicts of the events the scope reads are meaningful.
    pub fn select<'a>(&self, piece: &Address, txs: &'a [ChainTx]) -> Vec<&'a ChainTx> {
        let piece_script = piece.script_pubkey();
        let ids: Vec<Txid> = txs.iter().map(ChainTx::txid).collect();
        // The piece's SPOOL transactions: whether the scope reads them, and whether they are
        // unconfirmed (no copy of them in a block).
        let mut events: HashMap<Txid, (bool, bool)> = HashMap::new();
        for (chain_tx, txid) in txs.iter().zip(&ids) {
            if !chain_tx
                .tx
                .output
                .iter()
                .any(|o| o.script_pubkey == piece_script)
            {
                continue;
            }
            let Ok((_, verb)) = find_verb(&chain_tx.tx) else {
                continue;
            };
            let entry = events.entry(*txid).or_insert((self.reads(&verb), true));
            if chain_tx.place != TxPlace::Unconfirmed {
                entry.1 = false;
            }
        }
        let unconfirmed: HashMap<Txid, &ChainTx> = txs
            .iter()
            .zip(&ids)
            .filter(|(_, txid)| events.get(*txid).is_some_and(|e| e.1))
            .map(|(t, txid)| (*txid, t))
            .collect();
        let mut keep: HashSet<Txid> = events
            .iter()
            .filter(|(_, (read, _))| *read)
            .map(|(txid, _)| *txid)
            .collect();
        // The unconfirmed ancestors, among the piece's unconfirmed events.
        let mut todo: Vec<Txid> = keep
            .iter()
            .filter(|txid| unconfirmed.contains_key(*txid))
            .copied()
            .collect();
        while let Some(txid) = todo.pop() {
            for input in &unconfirmed[&txid].tx.input {
                let parent = input.previous_output.txid;
                if unconfirmed.contains_key(&parent) && keep.insert(parent) {
                    todo.push(parent);
                }
            }
        }
        txs.iter()
            .zip(&ids)
            .filter(|(_, txid)| keep.contains(*txid))
            .map(|(t, _)| t)
            .collect()
    }
}
