//! The history of a piece (pyspool's `BlockchainSpider`, as pure code), verified.
//!
//! Input: the transactions that paid a piece address, as [`ChainTx`] values. Transactions
//! without a SPOOL verb, or that do not pay the address, are ignored. Each SPOOL transaction
//! becomes an [`Event`] with pyspool's fields and addresses (from = the single input address,
//! piece = the first output, to = the last output before the final one, which is the
//! OP_RETURN), in a deterministic order: confirmed by (height, position in block), then
//! unconfirmed in dependency order (a transaction after those it spends), ties by txid. The
//! order does not depend on the order of the input.
//!
//! Beyond pyspool, every event is checked against the events before it and marked
//! `valid` or invalid with a `reason`: a single input address, the piece as the first output
//! and the verb in the last output; federated verbs only from a federation address (not
//! checked when the federation set is empty), TRANSFER/CONSIGN/LOAN only from the address
//! pyspool's `can_transfer` allows at that point, UNCONSIGN only from the consignee and back to
//! the consignor, EDITIONS once, each edition registered once and within the number of
//! editions. Only valid events change the state that later checks and [`crate::ownership`] see.
//!
//! Depth ([`BuildOptions`]): every event carries its `confirmations` against the chain tip and
//! whether it is `replaceable` (unconfirmed and signalling BIP 125 replacement, itself or
//! through an unconfirmed ancestor among the transactions given). An event with fewer than
//! `min_conf` confirmations is `pending`: it is listed and judged (as if it confirmed next),
//! but it does not count: the state, [`History::valid_events`] and [`crate::ownership`] see
//! the history as if it did not exist.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use bitcoin::{Address, Network, Script, ScriptBuf, Txid};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::chain::{ChainTx, TxPlace};
use crate::ledger::Ledger;
use crate::payload::find_verb;
use crate::reason::Reason;
use crate::verb::{Verb, VerbError};

/// ascribe's mainnet federation address for the first protocol version.
pub const ASCRIBE_FEDERATION_V0: &str = "1JttRRdtAi6cDNM23Uq4BEU61R8kJeANJs";
/// ascribe's mainnet federation address for protocol version `01`.
pub const ASCRIBE_FEDERATION_V01: &str = "1AScRhqdXMrJyxNmjEapMZi1PLFsqmLquG";
/// Both of ascribe's mainnet federation addresses.
pub const ASCRIBE_FEDERATION: [&str; 2] = [ASCRIBE_FEDERATION_V0, ASCRIBE_FEDERATION_V01];

/// ascribe's mainnet federation as the owned set [`History::build`] takes.
pub fn ascribe_federation() -> Vec<String> {
    ASCRIBE_FEDERATION.iter().map(|a| (*a).to_owned()).collect()
}

/// One SPOOL transaction of a piece, with pyspool's record fields and its verification.
///
/// As JSON, `reason` is the text and `code` the reason's machine code (both `null` for a
/// valid event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The transaction id.
    pub txid: String,
    /// The verb text as found on chain.
    pub verb: String,
    /// The action, e.g. `"TRANSFER"`.
    pub action: String,
    /// pyspool's edition key: `None` for PIECE, CONSIGNEDREGISTRATION, FUEL and any edition 0
    /// (pyspool's `''`), `Some(0)` for EDITIONS, `Some(n)` otherwise.
    pub edition_number: Option<u64>,
    /// The address of the inputs.
    pub from_address: String,
    /// The last output before the OP_RETURN.
    pub to_address: String,
    /// The first output.
    pub piece_address: String,
    /// The piece's number of editions (the valid EDITIONS value), copied onto every event.
    pub number_editions: Option<u64>,
    /// Block height, if confirmed.
    pub block_height: Option<u64>,
    /// Block time (seconds since the Unix epoch), if confirmed.
    pub timestamp_utc: Option<u64>,
    /// Whether the event passed verification.
    pub valid: bool,
    /// Why it did not.
    pub reason: Option<Reason>,
    /// Confirmations against the chain tip (0 in the mempool).
    pub confirmations: u64,
    /// Unconfirmed and signalling replacement (BIP 125), itself or through an unconfirmed
    /// ancestor.
    pub replaceable: bool,
    /// Fewer confirmations than the history's `min_conf`: listed, but not counted.
    pub pending: bool,
}

/// [`Event`] as JSON: its fields, the reason as text, and the reason's code.
#[derive(Serialize, Deserialize)]
struct EventJson {
    txid: String,
    verb: String,
    action: String,
    edition_number: Option<u64>,
    from_address: String,
    to_address: String,
    piece_address: String,
    number_editions: Option<u64>,
    block_height: Option<u64>,
    timestamp_utc: Option<u64>,
    valid: bool,
    reason: Option<String>,
    code: Option<String>,
    #[serde(default)]
    confirmations: u64,
    #[serde(default)]
    replaceable: bool,
    #[serde(default)]
    pending: bool,
}

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let event = self.clone();
        EventJson {
            txid: event.txid,
            verb: event.verb,
            action: event.action,
            edition_number: event.edition_number,
            from_address: event.from_address,
            to_address: event.to_address,
            piece_address: event.piece_address,
            number_editions: event.number_editions,
            block_height: event.block_height,
            timestamp_utc: event.timestamp_utc,
            valid: event.valid,
            reason: event.reason.as_ref().map(ToString::to_string),
            code: event.reason.as_ref().map(|r| r.code().to_owned()),
            confirmations: event.confirmations,
            replaceable: event.replaceable,
            pending: event.pending,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Event, D::Error> {
        let json = EventJson::deserialize(deserializer)?;
        let reason = match (&json.code, &json.reason) {
            (None, None) => None,
            (Some(code), Some(text)) => Some(Reason::from_parts(code, text).ok_or_else(|| {
                serde::de::Error::custom(format!("reason {text:?} does not fit code {code:?}"))
            })?),
            _ => {
                return Err(serde::de::Error::custom(
                    "an event's reason and code come together",
                ))
            }
        };
        Ok(Event {
            txid: json.txid,
            verb: json.verb,
            action: json.action,
            edition_number: json.edition_number,
            from_address: json.from_address,
            to_address: json.to_address,
            piece_address: json.piece_address,
            number_editions: json.number_editions,
            block_height: json.block_height,
            timestamp_utc: json.timestamp_utc,
            valid: json.valid,
            reason,
            confirmations: json.confirmations,
            replaceable: json.replaceable,
            pending: json.pending,
        })
    }
}

/// Why a history cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HistoryError {
    /// The piece address belongs to another network than the one asked for.
    #[error("piece address {address} is not an address of {network}")]
    WrongNetwork {
        /// The piece address.
        address: String,
        /// The network asked for.
        network: Network,
    },
}

impl Event {
    /// The typed verb of this event (events built by [`History::build`] always have one).
    ///
    /// # Errors
    ///
    /// The verb text does not decode (never for events [`History::build`] made).
    pub fn typed_verb(&self) -> Result<Verb, VerbError> {
        Verb::decode(&self.verb)
    }

    /// The edition the event is about in spool-rs's terms: 0 for the master edition (PIECE,
    /// CONSIGNEDREGISTRATION, edition 0), `n` for edition `n`; `None` for EDITIONS and FUEL.
    pub fn edition(&self) -> Option<u64> {
        spool_edition(&self.typed_verb().ok()?)
    }
}

/// How [`History::build_with`] judges a piece's transactions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildOptions {
    /// The federation addresses; when empty, federated verbs are not checked for their
    /// sender (the federation rule is not applied).
    pub federation: Vec<String>,
    /// The chain tip's height, which confirmations are counted against; `None` takes the
    /// highest block among the transactions given (a lower bound of the real tip).
    pub tip_height: Option<u64>,
    /// Events with fewer confirmations are pending: listed, but not counted (0 counts the
    /// mempool too).
    pub min_conf: u64,
}

impl BuildOptions {
    /// Options with this federation, the tip taken from the transactions and `min_conf` 0.
    pub fn with_federation(federation: &[String]) -> BuildOptions {
        BuildOptions {
            federation: federation.to_vec(),
            ..BuildOptions::default()
        }
    }
}

/// The verified history of one piece.
#[derive(Debug, Clone)]
pub struct History {
    piece_address: String,
    network: Network,
    federation_rule: bool,
    tip_height: u64,
    min_conf: u64,
    events: Vec<Event>,
    /// The typed verb of each event, index for index.
    verbs: Vec<Verb>,
    pub(crate) ledger: Ledger,
}

/// A SPOOL transaction of the piece, before verification.
struct Candidate<'a> {
    txid: Txid,
    place: TxPlace,
    chain_tx: &'a ChainTx,
    vout: u32,
    verb: Verb,
    verb_text: String,
}

impl History {
    /// Builds and verifies the history of `piece_address` from `txs` (in any order, duplicates
    /// allowed). `federation` is the set of federation addresses; when empty, federated verbs
    /// are not checked for their sender.
    ///
    /// # Errors
    ///
    /// [`HistoryError::WrongNetwork`] when `piece_address` is not an address of `network`.
    pub fn build(
        piece_address: &Address,
        network: Network,
        txs: &[ChainTx],
        federation: &[String],
    ) -> Result<History, HistoryError> {
        History::build_with(
            piece_address,
            network,
            txs,
            &BuildOptions::with_federation(federation),
        )
    }

    /// [`History::build`] with depth: confirmations against `options.tip_height`, and events
    /// with fewer than `options.min_conf` confirmations listed as pending and not counted.
    /// `txs` may also hold transactions that do not pay the piece (e.g. the unconfirmed
    /// ancestors of its events): they are not events, but they tell which events are
    /// replaceable.
    ///
    /// # Errors
    ///
    /// [`HistoryError::WrongNetwork`] when `piece_address` is not an address of `network`.
    pub fn build_with(
        piece_address: &Address,
        network: Network,
        txs: &[ChainTx],
        options: &BuildOptions,
    ) -> Result<History, HistoryError> {
        if !piece_address.as_unchecked().is_valid_for_network(network) {
            return Err(HistoryError::WrongNetwork {
                address: piece_address.to_string(),
                network,
            });
        }
        let piece_script = piece_address.script_pubkey();
        let piece_address = piece_address.to_string();
        let candidates = order(collect(&piece_script, txs));
        let federation: HashSet<&str> = options.federation.iter().map(String::as_str).collect();
        let tip_height = options.tip_height.unwrap_or_else(|| {
            txs.iter()
                .filter_map(|t| t.place.height())
                .max()
                .unwrap_or(0)
        });
        let mut replaceable = Replaceable::new(txs);

        let mut names = Names::new(network);
        // `counted` holds the events deep enough; a pending event is judged against
        // `preview` (the counted state plus the pending events before it) and never changes
        // `counted`.
        let mut counted = Ledger::default();
        let mut preview: Option<Ledger> = None;
        let mut events = Vec::with_capacity(candidates.len());
        for candidate in &candidates {
            let confirmations = candidate.place.confirmations(tip_height);
            let pending = confirmations < options.min_conf;
            let ledger = if pending {
                preview.get_or_insert_with(|| counted.clone())
            } else {
                &mut counted
            };
            let tx = &candidate.chain_tx.tx;
            let sender = sender(candidate.chain_tx, &mut names);
            // pyspool: the outputs without the last one; piece = first, to = last.
            let recipients = &tx.output[..tx.output.len().saturating_sub(1)];
            let piece = recipients.first().map(|o| names.render(&o.script_pubkey));
            let to = recipients
                .last()
                .map(|o| names.render(&o.script_pubkey))
                .unwrap_or_default();
            let from = sender.clone().unwrap_or_else(|e| e.0);

            let verdict = (|| -> Result<(), Reason> {
                sender.as_ref().map_err(|e| e.1.clone())?;
                if candidate.vout as usize + 1 != tx.output.len() {
                    return Err(Reason::VerbNotLast {
                        vout: candidate.vout,
                    });
                }
                match recipients.first() {
                    Some(first) if first.script_pubkey == piece_script => {}
                    Some(first) => {
                        return Err(Reason::FirstOutputNotPiece {
                            found: names.render(&first.script_pubkey),
                            piece: piece_address.clone(),
                        })
                    }
                    None => return Err(Reason::NoRecipient),
                }
                if candidate.verb.is_federated()
                    && !federation.is_empty()
                    && !federation.contains(from.as_str())
                {
                    return Err(Reason::NotFromFederation {
                        action: candidate.verb.action(),
                        from: from.clone(),
                    });
                }
                ledger.check(&candidate.verb, &from, &to)
            })();
            if verdict.is_ok() {
                ledger.apply(&candidate.verb, &to);
                if let (false, Some(preview)) = (pending, preview.as_mut()) {
                    // Only if the chain order were broken: keep the preview a superset.
                    preview.apply(&candidate.verb, &to);
                }
            }
            let (block_height, timestamp_utc) = match candidate.place {
                TxPlace::Confirmed { height, time, .. } => (Some(height), Some(time)),
                TxPlace::Unconfirmed => (None, None),
            };
            events.push(Event {
                txid: candidate.txid.to_string(),
                verb: candidate.verb_text.clone(),
                action: candidate.verb.action().as_str().to_owned(),
                edition_number: pyspool_edition(&candidate.verb),
                from_address: from,
                to_address: to,
                piece_address: piece.unwrap_or_default(),
                number_editions: None,
                block_height,
                timestamp_utc,
                valid: verdict.is_ok(),
                reason: verdict.err(),
                confirmations,
                replaceable: candidate.place == TxPlace::Unconfirmed
                    && replaceable.of(candidate.txid),
                pending,
            });
        }
        for event in &mut events {
            event.number_editions = counted.number_editions;
        }
        Ok(History {
            piece_address,
            network,
            federation_rule: !federation.is_empty(),
            tip_height,
            min_conf: options.min_conf,
            events,
            verbs: candidates.iter().map(|c| c.verb).collect(),
            ledger: counted,
        })
    }

    /// The piece address this history is about.
    pub fn piece_address(&self) -> &str {
        &self.piece_address
    }

    /// The network addresses are rendered for.
    pub fn network(&self) -> Network {
        self.network
    }

    /// Every SPOOL event, valid or not, in chain order.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// Whether federated verbs were checked for their sender (a federation set was given).
    pub fn federation_rule(&self) -> bool {
        self.federation_rule
    }

    /// The tip height confirmations were counted against.
    pub fn tip_height(&self) -> u64 {
        self.tip_height
    }

    /// The confirmations an event needs to count.
    pub fn min_conf(&self) -> u64 {
        self.min_conf
    }

    /// The valid events that count (not pending), in chain order.
    pub fn valid_events(&self) -> impl Iterator<Item = &Event> {
        self.events.iter().filter(|e| e.valid && !e.pending)
    }

    /// The number of editions from the valid EDITIONS event, if any.
    pub fn number_editions(&self) -> Option<u64> {
        self.ledger.number_editions
    }

    /// Whether the master edition is registered (by a valid PIECE, REGISTER0 or
    /// CONSIGNEDREGISTRATION).
    pub fn master_registered(&self) -> bool {
        self.ledger.master_registered()
    }

    /// The editions registered by valid events, ascending (0 = the master edition).
    pub fn registered_editions(&self) -> Vec<u64> {
        let mut editions: Vec<u64> = self.ledger.editions.keys().copied().collect();
        editions.sort_unstable();
        editions
    }

    /// The holder of an edition from the valid events: the last recipient with loans set
    /// aside, so the consignee while it is consigned (see
    /// [`crate::ownership::Ownership::holder`]).
    pub fn holder(&self, edition: u64) -> Option<&str> {
        self.ledger
            .editions
            .get(&edition)
            .map(|state| state.holder.as_str())
    }

    /// The owner of an edition from the valid events: its holder, or its consignor while it
    /// is consigned (see [`crate::ownership::Ownership::owner`]).
    pub fn owner(&self, edition: u64) -> Option<&str> {
        self.ledger
            .editions
            .get(&edition)
            .map(|state| state.owner())
    }

    /// The events of one edition in spool-rs's terms (0 = the master edition), in chain order.
    pub fn chain(&self, edition: u64) -> Vec<&Event> {
        self.events
            .iter()
            .zip(&self.verbs)
            .filter(|(_, verb)| spool_edition(verb) == Some(edition))
            .map(|(event, _)| event)
            .collect()
    }

    /// pyspool's grouping: events by pyspool's edition key (`None` = pyspool's `''`).
    pub fn by_pyspool_edition(&self) -> BTreeMap<Option<u64>, Vec<&Event>> {
        let mut tree: BTreeMap<Option<u64>, Vec<&Event>> = BTreeMap::new();
        for event in &self.events {
            tree.entry(event.edition_number).or_default().push(event);
        }
        tree
    }
}

/// The edition a verb is about in spool-rs's terms (see [`Event::edition`]).
fn spool_edition(verb: &Verb) -> Option<u64> {
    match verb {
        Verb::Piece | Verb::ConsignedRegistration => Some(0),
        verb => verb.edition(),
    }
}

/// Which unconfirmed transactions may be replaced: those signalling BIP 125 (an input's
/// sequence below `0xfffffffe`), and those spending an output of one, through any chain of
/// unconfirmed transactions among those given.
struct Replaceable<'a> {
    unconfirmed: HashMap<Txid, &'a ChainTx>,
    known: HashMap<Txid, bool>,
}

impl<'a> Replaceable<'a> {
    fn new(txs: &'a [ChainTx]) -> Replaceable<'a> {
        Replaceable {
            unconfirmed: txs
                .iter()
                .filter(|t| t.place == TxPlace::Unconfirmed)
                .map(|t| (t.txid(), t))
                .collect(),
            known: HashMap::new(),
        }
    }

    /// Whether the unconfirmed transaction `txid` is replaceable (false if not among them).
    fn of(&mut self, txid: Txid) -> bool {
        // Depth-first without recursion; a transaction on the stack counts as not signalling
        // (cycles cannot happen on a real chain).
        let mut stack = vec![(txid, false)];
        let mut opened = HashSet::new();
        while let Some((id, expanded)) = stack.pop() {
            if self.known.contains_key(&id) || (!expanded && !opened.insert(id)) {
                continue;
            }
            let Some(tx) = self.unconfirmed.get(&id).copied() else {
                self.known.insert(id, false);
                continue;
            };
            let parents = tx.tx.input.iter().map(|i| i.previous_output.txid);
            if expanded {
                let inherited = parents
                    .filter(|p| *p != id)
                    .any(|p| self.known.get(&p).copied().unwrap_or(false));
                self.known.insert(id, signals_rbf(&tx.tx) || inherited);
            } else if signals_rbf(&tx.tx) {
                self.known.insert(id, true);
            } else {
                stack.push((id, true));
                stack.extend(
                    parents
                        .filter(|p| *p != id && !self.known.contains_key(p))
                        .map(|p| (p, false)),
                );
            }
        }
        self.known.get(&txid).copied().unwrap_or(false)
    }
}

/// BIP 125 opt-in: some input's sequence is below `0xfffffffe`.
fn signals_rbf(tx: &bitcoin::Transaction) -> bool {
    tx.input.iter().any(|input| input.sequence.is_rbf())
}

/// pyspool's edition key of a verb (see [`Event::edition_number`]).
fn pyspool_edition(verb: &Verb) -> Option<u64> {
    match verb {
        Verb::Editions { .. } => Some(0),
        _ => verb.edition().filter(|n| *n != 0),
    }
}

/// Output scripts as addresses (or `script:<hex>` when they have none), each rendered once:
/// a piece's history has many events but few addresses.
struct Names {
    network: Network,
    cache: HashMap<ScriptBuf, String>,
}

impl Names {
    fn new(network: Network) -> Names {
        Names {
            network,
            cache: HashMap::new(),
        }
    }

    fn render(&mut self, script: &Script) -> String {
        if let Some(name) = self.cache.get(script) {
            return name.clone();
        }
        let name = match Address::from_script(script, self.network) {
            Ok(address) => address.to_string(),
            Err(_) => format!("script:{}", script.to_hex_string()),
        };
        self.cache.insert(script.to_owned(), name.clone());
        name
    }
}

/// The single address of the inputs, or (what to show as from, why it is invalid).
fn sender(chain_tx: &ChainTx, names: &mut Names) -> Result<String, (String, Reason)> {
    if chain_tx.prevouts.len() != chain_tx.tx.input.len() || chain_tx.prevouts.is_empty() {
        return Err((
            String::new(),
            Reason::PrevoutsMissing {
                inputs: chain_tx.tx.input.len(),
                prevouts: chain_tx.prevouts.len(),
            },
        ));
    }
    let addresses: BTreeSet<String> = chain_tx
        .prevouts
        .iter()
        .map(|o| names.render(&o.script_pubkey))
        .collect();
    let first = names.render(&chain_tx.prevouts[0].script_pubkey);
    if addresses.len() == 1 {
        return Ok(first);
    }
    Err((
        first,
        Reason::SeveralSenders {
            addresses: addresses.into_iter().collect(),
        },
    ))
}

/// The SPOOL transactions that pay the piece, one per txid (the best place wins: confirmed
/// before unconfirmed, lower (height, position) first).
fn collect<'a>(piece_script: &Script, txs: &'a [ChainTx]) -> Vec<Candidate<'a>> {
    let mut best: HashMap<Txid, Candidate<'a>> = HashMap::new();
    for chain_tx in txs {
        if !chain_tx
            .tx
            .output
            .iter()
            .any(|o| o.script_pubkey.as_script() == piece_script)
        {
            continue;
        }
        let Ok((vout, verb)) = find_verb(&chain_tx.tx) else {
            continue;
        };
        let txid = chain_tx.txid();
        if let Some(existing) = best.get(&txid) {
            if place_key(&existing.place) <= place_key(&chain_tx.place) {
                continue;
            }
        }
        let script = &chain_tx.tx.output[vout as usize].script_pubkey;
        let verb_text = crate::payload::op_return_payload(script)
            .ok()
            .and_then(|b| std::str::from_utf8(b).ok())
            .map(str::to_owned)
            .unwrap_or_else(|| verb.to_string());
        best.insert(
            txid,
            Candidate {
                txid,
                place: chain_tx.place,
                chain_tx,
                vout,
                verb,
                verb_text,
            },
        );
    }
    best.into_values().collect()
}

fn place_key(place: &TxPlace) -> (u8, u64, u32) {
    match *place {
        TxPlace::Confirmed {
            height, position, ..
        } => (0, height, position),
        TxPlace::Unconfirmed => (1, 0, 0),
    }
}

/// Confirmed by (height, position, txid); then unconfirmed in dependency order, ties by txid.
fn order(mut candidates: Vec<Candidate<'_>>) -> Vec<Candidate<'_>> {
    candidates.sort_by(|a, b| {
        place_key(&a.place)
            .cmp(&place_key(&b.place))
            .then_with(|| a.txid.cmp(&b.txid))
    });
    let split = candidates
        .iter()
        .position(|c| c.place == TxPlace::Unconfirmed)
        .unwrap_or(candidates.len());
    let unconfirmed = candidates.split_off(split);
    if unconfirmed.len() > 1 {
        candidates.extend(dependency_order(unconfirmed));
    } else {
        candidates.extend(unconfirmed);
    }
    candidates
}

/// Kahn's algorithm over "spends an output of"; among the ready ones the smallest txid first.
/// Cycles (impossible on a real chain) are broken by txid.
fn dependency_order(mut txs: Vec<Candidate<'_>>) -> Vec<Candidate<'_>> {
    let index: HashMap<Txid, usize> = txs.iter().enumerate().map(|(i, c)| (c.txid, i)).collect();
    let mut parents: Vec<HashSet<usize>> = vec![HashSet::new(); txs.len()];
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); txs.len()];
    for (i, c) in txs.iter().enumerate() {
        for input in &c.chain_tx.tx.input {
            if let Some(&p) = index.get(&input.previous_output.txid) {
                if p != i && parents[i].insert(p) {
                    children[p].push(i);
                }
            }
        }
    }
    let mut ready: BTreeSet<(Txid, usize)> = (0..txs.len())
        .filter(|&i| parents[i].is_empty())
        .map(|i| (txs[i].txid, i))
        .collect();
    let mut done = vec![false; txs.len()];
    let mut out = Vec::with_capacity(txs.len());
    while out.len() < txs.len() {
        let next = match ready.pop_first() {
            Some((_, i)) => i,
            // A cycle: take the smallest txid left.
            None => (0..txs.len())
                .filter(|&i| !done[i])
                .min_by_key(|&i| txs[i].txid)
                .expect("some transaction is left"),
        };
        if done[next] {
            continue;
        }
        done[next] = true;
        out.push(next);
        for &child in &children[next] {
            parents[child].remove(&next);
            if parents[child].is_empty() && !done[child] {
                ready.insert((txs[child].txid, child));
            }
        }
    }
    let mut slots: Vec<Option<Candidate<'_>>> = txs.drain(..).map(Some).collect();
    out.into_iter()
        .map(|i| slots[i].take().expect("each index once"))
        .collect()
}
