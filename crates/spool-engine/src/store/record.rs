//! What the store keeps of each transaction: its record (owner, state, claims), a new
//! reservation, a broadcast journal line, and the liveness of the process that made it.

use super::*;

/// The process that made a reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    /// Its process id.
    pub pid: u32,
    /// Its start time (Linux: clock ticks since boot), telling a reused pid apart.
    #[serde(default)]
    pub started: Option<u64>,
}

impl Owner {
    /// The running process.
    pub fn this_process() -> Owner {
        let pid = std::process::id();
        Owner {
            pid,
            started: proc_stat(pid).map(|(_, started)| started),
        }
    }

    /// Whether the owner still runs: `Some(false)` only when provably not (no such process,
    /// a zombie, or another process under its pid); `None` when the system does not tell.
    pub fn is_alive(&self) -> Option<bool> {
        // A system without /proc tells nothing.
        proc_stat(std::process::id())?;
        match proc_stat(self.pid) {
            None => Some(false),
            Some((state, _)) if state == 'Z' || state == 'X' => Some(false),
            Some((_, started)) => Some(self.started.is_none_or(|s| s == started)),
        }
    }
}

/// The state letter and start time of process `pid` (Linux `/proc/<pid>/stat`).
pub(super) fn proc_stat(pid: u32) -> Option<(char, u64)> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, after) = text.rsplit_once(')')?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    let started = fields.get(19)?.parse().ok()?;
    Some((state, started))
}

/// One transaction's reservation and what is known about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The transaction.
    pub txid: Txid,
    /// When its outpoints were reserved.
    pub reserved_at: u64,
    /// The outpoints it spends.
    pub outpoints: Vec<OutPoint>,
    /// The process that reserved them (`None` in stores of version 2).
    #[serde(default)]
    pub owner: Option<Owner>,
    /// Its state (stores of version 2: `broadcast`, their old meaning).
    #[serde(default = "legacy_state")]
    pub state: TxState,
    /// When it was handed to the node.
    #[serde(default)]
    pub sent_at: Option<u64>,
    /// What its action changes.
    #[serde(default)]
    pub claims: Vec<Claim>,
    /// The unsigned transaction of an unsigned action ([`TxState::Unsigned`]): the
    /// template its signed form must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<Template>,
    /// The transactions this one replaces (a fee bump): their outpoints are among its own,
    /// held until this one or one of them confirms.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replaces: Vec<Txid>,
}

pub(super) fn legacy_state() -> TxState {
    TxState::Broadcast
}

impl Record {
    pub(super) fn new(txid: Txid, outpoints: Vec<OutPoint>, at: u64) -> Record {
        Record {
            txid,
            reserved_at: at,
            outpoints,
            owner: Some(Owner::this_process()),
            state: TxState::Reserved,
            sent_at: None,
            claims: Vec::new(),
            template: None,
            replaces: Vec::new(),
        }
    }

    /// Whether a status of the node releases this reservation: confirmed always; unknown to
    /// the node (`Gone`) only once broadcast, or when the owner is provably dead.
    pub fn released_by(&self, status: TxStatus) -> bool {
        let maker = match self.owner.map(|owner| owner.is_alive()) {
            None | Some(Some(false)) => spool_tx::claims::Maker::Gone,
            Some(Some(true)) => spool_tx::claims::Maker::Alive,
            Some(None) => spool_tx::claims::Maker::Unknown,
        };
        spool_tx::claims::released_by(self.state, status, maker)
    }
}

/// A new reservation taken by [`Reservations::reserve_claimed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReservation {
    /// The transaction.
    pub txid: Txid,
    /// The outpoints it spends.
    pub outpoints: Vec<OutPoint>,
    /// What its action changes.
    pub claims: Vec<Claim>,
    /// For an unsigned action: its template (the reservation is then [`TxState::Unsigned`]).
    pub template: Option<Template>,
    /// For an unsigned fee bump: the transactions it replaces (their reservations are
    /// merged into its own when its signed form is broadcast).
    pub replaces: Vec<Txid>,
}

/// One line of the broadcast journal.
#[derive(Debug, Serialize)]
pub(super) struct JournalLine<'a> {
    pub(super) txid: Txid,
    pub(super) at: u64,
    pub(super) hex: &'a str,
}

/// One broadcast as the journal (`broadcasts.jsonl`) recorded it, before it was sent.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct JournalEntry {
    /// The transaction.
    pub txid: Txid,
    /// When it was handed to the node (seconds since the Unix epoch).
    pub at: u64,
    /// The signed transaction, hex.
    pub hex: String,
}
