//! The persistent outpoint reservations: 1,000 transactions from one wallet on 8 threads
//! never share an outpoint; reservations survive a restart and are shared with another
//! process; a corrupt store is an error, never a reset.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use bitcoin::hashes::Hash;
use bitcoin::{Address, Amount, Network, OutPoint, Txid};
use spool_engine::store::{Reservations, StoreError, TxState};
use spool_protocol::chain::TxStatus;
use spool_protocol::verb::Verb;
use spool_tx::{build_action, BuiltTx, TxError, TxParams, Utxo};
use spool_wallet::{LeafPath, MasterSecret, SigningKey, Wallet};

/// A made-up output of `address` (outpoint from `seed` and `vout`).
fn fake_utxo(address: &Address, value: u64, seed: u32, vout: u32) -> Utxo {
    let mut bytes = [0u8; 32];
    bytes[..4].copy_from_slice(&seed.to_le_bytes());
    bytes[31] = 0xAA;
    Utxo {
        outpoint: OutPoint::new(Txid::from_byte_array(bytes), vout),
        value: Amount::from_sat(value),
        script_pubkey: address.script_pubkey(),
        confirmations: 6,
        is_coinbase: false,
    }
}

/// A build that failed, or the store that failed around it.
#[derive(Debug, thiserror::Error)]
enum Error {
    #[error(transparent)]
    Tx(#[from] TxError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn alice() -> SigningKey {
    Wallet::from_secret(&MasterSecret::new("alice-secret"), Network::Regtest)
        .unwrap()
        .signing_key(&LeafPath::parse("7").unwrap())
        .unwrap()
}

fn recipients() -> [Address; 2] {
    let w = Wallet::from_secret(&MasterSecret::new("bob"), Network::Regtest).unwrap();
    [
        w.root_address(),
        w.address(&LeafPath::parse("1").unwrap()).unwrap(),
    ]
}

/// `n` fuel and `2n` token outputs of alice: exactly enough for `n` transfers.
fn utxos(n: u32) -> Vec<Utxo> {
    let a = alice().address();
    (0..n)
        .map(|i| fake_utxo(&a, 30_000, 1, i))
        .chain((0..2 * n).map(|i| fake_utxo(&a, 3_000, 2, i)))
        .collect()
}

/// Builds a transfer from the unreserved outputs and reserves what it spends, atomically.
fn transfer(res: &Reservations, utxos: &[Utxo], key: &SigningKey) -> Result<BuiltTx, Error> {
    let to = recipients();
    res.update(|set| {
        let built = build_action(
            &TxParams::default(),
            &Verb::Transfer { edition: 1 },
            &to,
            &set.available(utxos),
            key,
        )?;
        set.reserve(built.txid(), &built.spent, 0)
            .map_err(StoreError::from)?;
        Ok(built)
    })
}

#[test]
fn thousand_transactions_on_eight_threads_never_share_an_outpoint() {
    let dir = tempfile::tempdir().unwrap();
    // Two handles on the same directory behave like two processes: separate file locks.
    let handles = [
        Arc::new(Reservations::open(dir.path()).unwrap()),
        Arc::new(Reservations::open(dir.path()).unwrap()),
    ];
    let utxos = Arc::new(utxos(1000));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let res = Arc::clone(&handles[t % 2]);
            let utxos = Arc::clone(&utxos);
            std::thread::spawn(move || {
                let key = alice();
                (0..125)
                    .map(|_| transfer(&res, &utxos, &key).unwrap())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let built: Vec<BuiltTx> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    assert_eq!(built.len(), 1000);
    let mut seen = HashSet::new();
    for b in &built {
        assert_eq!(b.spent.len(), 3);
        for op in &b.spent {
            assert!(seen.insert(*op), "outpoint {op} spent twice");
        }
    }
    assert_eq!(
        seen.len(),
        3000,
        "every fuel and token output used exactly once"
    );
    let txids: HashSet<_> = built.iter().map(BuiltTx::txid).collect();
    assert_eq!(txids.len(), 1000);
    for res in &handles {
        assert_eq!(res.len().unwrap(), 3000);
    }
    // The wallet is exhausted: every output is reserved, so the next build finds nothing
    // spendable (pyspool's error) and reserves nothing.
    let err = transfer(&handles[0], &utxos, &alice()).unwrap_err();
    assert!(
        err.to_string().starts_with("No spendable outputs found"),
        "{err}"
    );
    assert_eq!(handles[1].len().unwrap(), 3000);
}

#[test]
fn reservations_survive_restart_and_release_on_confirmation() {
    let dir = tempfile::tempdir().unwrap();
    let utxos = utxos(3);
    let key = alice();
    let first = {
        let res = Reservations::open(dir.path()).unwrap();
        transfer(&res, &utxos, &key).unwrap()
        // dropped: the "process" ends
    };
    let res = Reservations::open(dir.path()).unwrap();
    for op in &first.spent {
        assert!(res.is_reserved(op).unwrap(), "{op} forgotten after restart");
        assert_eq!(res.holder(op).unwrap(), Some(first.txid()));
    }
    let second = transfer(&res, &utxos, &key).unwrap();
    assert!(second.spent.iter().all(|op| !first.spent.contains(op)));
    assert_eq!(res.available(&utxos).unwrap().len(), 3);
    // A conflicting reservation is refused, naming the holder.
    let err = res.reserve(second.txid(), &first.spent[..1]).unwrap_err();
    assert!(matches!(err, StoreError::Conflict(c) if c.holder == first.txid()));
    // Still in the mempool: kept. Confirmed: released, also for the next process.
    assert_eq!(
        res.apply_status(&first.txid(), TxStatus::InMempool)
            .unwrap(),
        0
    );
    assert_eq!(
        res.apply_status(&first.txid(), TxStatus::Confirmed)
            .unwrap(),
        3
    );
    drop(res);
    let res = Reservations::open(dir.path()).unwrap();
    assert!(!res.is_reserved(&first.spent[0]).unwrap());
    assert_eq!(res.len().unwrap(), 3);
    // Unknown to the node while this (live) process has not broadcast it: kept.
    assert_eq!(res.apply_status(&second.txid(), TxStatus::Gone).unwrap(), 0);
    res.mark_sending(&second.txid(), &second.hex()).unwrap();
    assert_eq!(res.apply_status(&second.txid(), TxStatus::Gone).unwrap(), 0);
    // Accepted by the node, then unknown to it: dropped, released.
    res.mark_broadcast(&second.txid()).unwrap();
    assert_eq!(res.apply_status(&second.txid(), TxStatus::Gone).unwrap(), 3);
    assert!(res.is_empty().unwrap());
}

#[test]
fn corrupt_store_is_an_error_not_a_reset() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("reservations.json");
    // A valid store with one record, then cut short.
    {
        let res = Reservations::open(dir.path()).unwrap();
        res.reserve(Hash::all_zeros(), &[OutPoint::new(Hash::all_zeros(), 1)])
            .unwrap();
    }
    let mut bytes = std::fs::read(&file).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&file, &bytes).unwrap();
    let err = Reservations::open(dir.path()).unwrap_err();
    assert!(err.to_string().contains("is corrupt"), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), bytes, "left untouched");
    std::fs::write(&file, b"{not ours").unwrap();
    let err = Reservations::open(dir.path()).unwrap_err();
    assert!(
        err.to_string().contains("mv "),
        "the remedy is named: {err}"
    );
    let err = Reservations::open(dir.path()).unwrap_err();
    assert!(
        err.to_string().contains("not a spool reservation file"),
        "{err}"
    );
}

const CHILD_DIR: &str = "SPOOL_ENGINE_TEST_RESERVATION_DIR";
const CHILD_EXCLUDE: &str = "SPOOL_ENGINE_TEST_PARENT_OUTPOINTS";

/// Runs as the parent normally; re-run by itself in a child process (with `CHILD_DIR` set)
/// it plays the second process.
#[test]
fn reservations_are_shared_with_a_child_process() {
    let key = alice();
    let utxos = utxos(4);
    if let Ok(dir) = std::env::var(CHILD_DIR) {
        // Child: sees the parent's reservations and builds around them.
        let res = Reservations::open(Path::new(&dir)).unwrap();
        let parent: Vec<OutPoint> = std::env::var(CHILD_EXCLUDE)
            .unwrap()
            .split(',')
            .map(|s| s.parse().unwrap())
            .collect();
        for op in &parent {
            assert!(res.is_reserved(op).unwrap(), "child cannot see {op}");
        }
        let built = transfer(&res, &utxos, &key).unwrap();
        assert!(built.spent.iter().all(|op| !parent.contains(op)));
        println!("CHILD-TXID {}", built.txid());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let res = Reservations::open(dir.path()).unwrap();
    let mine = transfer(&res, &utxos, &key).unwrap();
    let list: Vec<String> = mine.spent.iter().map(OutPoint::to_string).collect();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "reservations_are_shared_with_a_child_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR, dir.path())
        .env(CHILD_EXCLUDE, list.join(","))
        .output()
        .expect("spawn the child test process");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let child_txid = stdout
        .lines()
        .find_map(|l| l.split_once("CHILD-TXID ").map(|(_, txid)| txid))
        .unwrap_or_else(|| panic!("child did not report its txid: {stdout}"))
        .trim()
        .parse()
        .unwrap();
    // The parent sees what the child reserved, and builds around both.
    let pending = res.pending().unwrap();
    assert_eq!(pending.len(), 2);
    assert!(pending
        .iter()
        .any(|(txid, ops)| *txid == child_txid && ops.len() == 3));
    let third = transfer(&res, &utxos, &key).unwrap();
    let taken: HashSet<OutPoint> = pending.iter().flat_map(|(_, ops)| ops.clone()).collect();
    assert!(third.spent.iter().all(|op| !taken.contains(op)));
    assert_eq!(res.len().unwrap(), 9);
}

/// Item 1 of issue 12: a reservation of a live process that has not broadcast yet is never
/// released because the node does not know its transaction; a dead owner's is.
#[test]
fn gone_releases_only_a_broadcast_or_a_dead_owners_reservation() {
    let dir = tempfile::tempdir().unwrap();
    let res = Reservations::open(dir.path()).unwrap();
    let utxos = utxos(2);
    let mine = transfer(&res, &utxos, &alice()).unwrap();
    let record = res.record(&mine.txid()).unwrap().unwrap();
    assert_eq!(record.state, TxState::Reserved);
    assert_eq!(record.owner.unwrap().pid, std::process::id());
    assert_eq!(record.owner.unwrap().is_alive(), Some(true));
    assert_eq!(res.apply_status(&mine.txid(), TxStatus::Gone).unwrap(), 0);

    // The same reservation as if made by a process that has exited since.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    rewrite_log_line(dir.path(), 2, |commit| {
        commit["put"][0]["owner"]["pid"] = dead.into();
    });
    let res = Reservations::open(dir.path()).unwrap();
    let owner = res.record(&mine.txid()).unwrap().unwrap().owner.unwrap();
    assert_eq!(owner.is_alive(), Some(false));
    assert_eq!(res.apply_status(&mine.txid(), TxStatus::Gone).unwrap(), 3);
}

/// The lines of the log in `dir`.
fn log_lines(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("reservations.log"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// A log line of `json` as a writer makes it: the sha256 of the text, a space, the text.
fn log_line(json: &serde_json::Value) -> String {
    use bitcoin::hashes::sha256;
    let text = json.to_string();
    format!("{} {text}\n", sha256::Hash::hash(text.as_bytes()))
}

/// Changes line `number` (1: the header) of the log in `dir` with `change`, with a matching
/// checksum (as a writer would).
fn rewrite_log_line(dir: &Path, number: usize, change: impl FnOnce(&mut serde_json::Value)) {
    let mut lines = log_lines(dir);
    let (sum, json) = lines[number - 1].split_once(' ').unwrap();
    assert_eq!(sum.len(), 64);
    let mut json: serde_json::Value = serde_json::from_str(json).unwrap();
    change(&mut json);
    lines[number - 1] = log_line(&json).trim_end().to_owned();
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(dir.join("reservations.log"), text).unwrap();
}

/// Writes `doc` back with a matching checksum (as a writer of version 3 did): sha256 of the
/// transactions as compact JSON with object keys sorted.
fn rewrite_with_checksum(file: &Path, doc: &mut serde_json::Value) {
    use bitcoin::hashes::sha256;
    fn sorted(value: &serde_json::Value) -> String {
        match value {
            serde_json::Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                let fields: Vec<String> = keys
                    .into_iter()
                    .map(|k| {
                        format!(
                            "{}:{}",
                            serde_json::Value::from(k.as_str()),
                            sorted(&map[k])
                        )
                    })
                    .collect();
                format!("{{{}}}", fields.join(","))
            }
            serde_json::Value::Array(items) => {
                let items: Vec<String> = items.iter().map(sorted).collect();
                format!("[{}]", items.join(","))
            }
            other => other.to_string(),
        }
    }
    let text = sorted(&doc["transactions"]);
    doc["checksum"] = sha256::Hash::hash(text.as_bytes()).to_string().into();
    std::fs::write(file, serde_json::to_vec_pretty(doc).unwrap()).unwrap();
}

/// Item 8: a bit flipped anywhere in a value is detected (the checksum), and the error says
/// how to recover.
#[test]
fn a_flipped_bit_is_detected_and_the_remedy_named() {
    let dir = tempfile::tempdir().unwrap();
    let res = Reservations::open(dir.path()).unwrap();
    transfer(&res, &utxos(1), &alice()).unwrap();
    drop(res);
    // The last line of the log: still JSON with the bit flipped, so not a line cut short.
    let file = dir.path().join("reservations.log");
    let good = std::fs::read(&file).unwrap();
    let text = String::from_utf8(good.clone()).unwrap();
    assert_eq!(
        text.lines().count(),
        2,
        "the header and the transfer: {text}"
    );
    // Flip one bit of the first outpoint's vout digit ("...:0" -> "...:1").
    let at = text.find(":0\"").expect("an outpoint with vout 0") + 1;
    let mut bad = good.clone();
    bad[at] ^= 1;
    std::fs::write(&file, &bad).unwrap();
    let err = Reservations::open(dir.path()).unwrap_err().to_string();
    assert!(err.contains("checksum does not match"), "{err}");
    assert!(err.contains("at line 2"), "{err}");
    let moved = format!("mv {} {}.corrupt", file.display(), file.display());
    assert!(err.contains(&moved), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), bad, "left as it was");
}

/// Item 5: the directory is 0700 and its files 0600 whatever the umask.
#[cfg(unix)]
#[test]
fn store_is_private_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("regtest");
    // A child with umask 000 creates the store (the umask is per process).
    let out = std::process::Command::new("sh")
        .args([
            "-c",
            "umask 000 && exec \"$0\" --exact umask_child --test-threads=1",
        ])
        .arg(std::env::current_exe().unwrap())
        .env(UMASK_CHILD_DIR, &store)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&store), 0o700);
    for entry in std::fs::read_dir(&store).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
    assert!(store.join("reservations.json").exists());
    assert!(store.join("reservations.log").exists());
    assert!(store.join("broadcasts.jsonl").exists());
}

const UMASK_CHILD_DIR: &str = "SPOOL_ENGINE_TEST_UMASK_DIR";

/// The child of `store_is_private_whatever_the_umask` (does nothing in a normal run).
#[test]
fn umask_child() {
    let Ok(dir) = std::env::var(UMASK_CHILD_DIR) else {
        return;
    };
    // Runs under umask 000 (set by the parent's `sh`); a directory made before is widened.
    std::fs::create_dir_all(&dir).unwrap();
    let res = Reservations::open(Path::new(&dir)).unwrap();
    let built = transfer(&res, &utxos(1), &alice()).unwrap();
    res.mark_sending(&built.txid(), &built.hex()).unwrap();
}

/// Item 5: a lock held by another process is waited for a bounded time and the error names
/// the holder's pid.
#[test]
fn a_held_lock_gives_up_naming_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    drop(Reservations::open(dir.path()).unwrap());
    let lock = dir.path().join("reservations.lock");
    let mut holder = std::process::Command::new("flock")
        .arg(&lock)
        .args(["sleep", "3"])
        .spawn()
        .expect("flock(1) from util-linux");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let started = std::time::Instant::now();
    let err = Reservations::open_with_lock_wait(dir.path(), std::time::Duration::from_secs(1))
        .unwrap_err()
        .to_string();
    let waited = started.elapsed();
    holder.wait().unwrap();
    assert!(waited < std::time::Duration::from_secs(10), "{waited:?}");
    assert!(err.contains("is locked by another process (pid "), "{err}");
    assert!(err.contains("reservations.lock"), "{err}");
}

/// Item 2: a pending claim refuses another action on the same edition unless its pre-check
/// saw the claiming transaction.
#[test]
fn a_pending_claim_refuses_a_second_action_on_the_same_edition() {
    use spool_engine::store::{Claim, NewReservation};
    let dir = tempfile::tempdir().unwrap();
    let res = Reservations::open(dir.path()).unwrap();
    let utxos = utxos(3);
    let key = alice();
    let claim = Claim {
        piece: "mhXeWEMLnEwVNnyqKrqUDPAYSuwhfyNXA7".into(),
        edition: Some(1),
    };
    let claimed = |seen: &HashSet<Txid>| {
        res.reserve_claimed(std::slice::from_ref(&claim), seen, |set| {
            let built = build_action(
                &TxParams::default(),
                &Verb::Transfer { edition: 1 },
                &recipients(),
                &set.available(&utxos),
                &key,
            )?;
            let new = NewReservation {
                txid: built.txid(),
                outpoints: built.spent.clone(),
                claims: vec![claim.clone()],
                template: None,
                replaces: Vec::new(),
            };
            Ok::<_, Error>((built, new))
        })
    };
    let first = claimed(&HashSet::new()).unwrap();
    let err = claimed(&HashSet::new()).unwrap_err().to_string();
    assert!(
        err.contains("edition 1 of piece mhXeWEMLnEwVNnyqKrqUDPAYSuwhfyNXA7 has a pending action"),
        "{err}"
    );
    assert!(err.contains(&first.txid().to_string()), "{err}");
    assert_eq!(
        res.len().unwrap(),
        3,
        "nothing reserved for the refused one"
    );
    // A pre-check that saw the first transaction judged it: no conflict.
    let seen: HashSet<Txid> = [first.txid()].into();
    claimed(&seen).unwrap();
}

/// A store with three transactions (as actions leave them) in `dir`; their txids.
fn three_actions(dir: &Path) -> Vec<Txid> {
    let res = Reservations::open(dir).unwrap();
    let utxos = utxos(3);
    let key = alice();
    let built: Vec<BuiltTx> = (0..3)
        .map(|_| transfer(&res, &utxos, &key).unwrap())
        .collect();
    res.mark_sending(&built[0].txid(), &built[0].hex()).unwrap();
    res.mark_broadcast(&built[0].txid()).unwrap();
    built.iter().map(BuiltTx::txid).collect()
}

/// A last line cut short by a crash is a commit that never returned: ignored when reading,
/// cut off before the next append.
#[test]
fn a_torn_last_line_is_ignored_then_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("reservations.log");
    three_actions(dir.path());
    let records = Reservations::open(dir.path()).unwrap().records().unwrap();
    let good = std::fs::read(&log).unwrap();
    let key = alice();
    for torn in [
        // No newline: the write stopped inside the line.
        &b"3f2a9c {\"put\":[{\"txid\":\"ab"[..],
        // Zeros where the line was not written, then its newline.
        &b"\0\0\0\0\0\0\0\0\n"[..],
    ] {
        let mut bytes = good.clone();
        bytes.extend_from_slice(torn);
        std::fs::write(&log, &bytes).unwrap();
        let res = Reservations::open(dir.path()).unwrap();
        assert_eq!(res.records().unwrap(), records);
        assert_eq!(
            std::fs::read(&log).unwrap(),
            bytes,
            "reading changes nothing"
        );
        // The next write cuts the torn line off and appends after the good ones.
        let built = transfer(&res, &utxos(4), &key).unwrap();
        let after = std::fs::read(&log).unwrap();
        assert_eq!(&after[..good.len()], &good[..]);
        assert!(after.ends_with(b"\n"));
        assert_eq!(
            after[good.len()..].iter().filter(|b| **b == b'\n').count(),
            1
        );
        assert!(!after.windows(4).any(|w| w == b"\0\0\0\0"));
        let reopened = Reservations::open(dir.path()).unwrap();
        assert_eq!(reopened.records().unwrap().len(), 4);
        assert!(reopened.record(&built.txid()).unwrap().is_some());
        std::fs::write(&log, &good).unwrap();
    }
}

/// A bad line before the last is corruption: the error names the log, the line and the
/// remedy, and nothing is written.
#[test]
fn a_corrupt_middle_line_is_reported_not_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("reservations.log");
    three_actions(dir.path());
    let lines = log_lines(dir.path());
    assert!(lines.len() >= 5, "{lines:?}");
    let text = |lines: &[String]| -> String { lines.iter().map(|l| format!("{l}\n")).collect() };
    // A digit of line 3 changed (the text is still JSON; the checksum fails).
    let mut changed = lines.clone();
    let at = changed[2].find("\"reserved_at\":").unwrap() + 14;
    let mut bytes = changed[2].clone().into_bytes();
    bytes[at] ^= 1;
    changed[2] = String::from_utf8(bytes).unwrap();
    // A line cut short in the middle of the log (a later line was written after it).
    let mut cut = lines.clone();
    let half = cut[1].len() / 2;
    cut[1].truncate(half);
    for (bad, reason) in [
        (
            text(&changed),
            "its checksum does not match its content at line 3",
        ),
        (text(&cut), "line 2 is not a checksummed entry"),
    ] {
        std::fs::write(&log, &bad).unwrap();
        let err = Reservations::open(dir.path()).unwrap_err();
        assert!(
            matches!(err, StoreError::Corrupt { ref path, .. } if *path == log),
            "{err}"
        );
        let err = err.to_string();
        assert!(
            err.contains(&format!("{} is corrupt", log.display())),
            "{err}"
        );
        assert!(err.contains(reason), "{err}");
        let moved = format!("mv {} {}.corrupt", log.display(), log.display());
        assert!(err.contains(&moved), "{err}");
        assert_eq!(
            std::fs::read_to_string(&log).unwrap(),
            bad,
            "left as it was"
        );
    }
    // The remedy works: with the log moved aside the store is empty and usable.
    std::fs::rename(&log, dir.path().join("reservations.log.corrupt")).unwrap();
    let res = Reservations::open(dir.path()).unwrap();
    assert!(res.is_empty().unwrap());
    transfer(&res, &utxos(1), &alice()).unwrap();
    assert_eq!(Reservations::open(dir.path()).unwrap().len().unwrap(), 3);
}

/// Compaction rewrites the log with exactly the records it replays to.
#[test]
fn compaction_keeps_exactly_the_records() {
    let dir = tempfile::tempdir().unwrap();
    let txids = three_actions(dir.path());
    let res = Reservations::open(dir.path()).unwrap();
    let other = Reservations::open(dir.path()).unwrap();
    let before = res.records().unwrap();
    assert_eq!(before.len(), 3);
    assert_eq!(
        before
            .iter()
            .filter(|r| r.state == TxState::Broadcast)
            .count(),
        1
    );
    // Marking the broadcast transaction broadcast again appends a line that changes
    // nothing; past 256 entries more than the records the log is compacted to one line per
    // record.
    let mut lines = log_lines(dir.path()).len();
    let mut compacted = false;
    for _ in 0..300 {
        res.mark_broadcast(&txids[0]).unwrap();
        let now = log_lines(dir.path()).len();
        if now < lines {
            compacted = true;
            break;
        }
        lines = now;
    }
    assert!(compacted, "{lines} lines");
    assert_eq!(
        log_lines(dir.path()).len(),
        4,
        "the header and one line per record"
    );
    assert_eq!(res.records().unwrap(), before);
    // A handle that read the log before it was replaced, and a new one.
    assert_eq!(other.records().unwrap(), before);
    drop((res, other));
    let reopened = Reservations::open(dir.path()).unwrap();
    assert_eq!(reopened.records().unwrap(), before);
    assert_eq!(reopened.len().unwrap(), 9);
}

/// A store of version 3 (the records in reservations.json, with its checksum) moves into the
/// log on first open, every field kept; the document is kept beside it.
#[test]
fn a_version_3_store_is_migrated_with_every_field() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("reservations.json");
    let tx = |n: u8| Txid::from_byte_array([n; 32]).to_string();
    let mut doc = serde_json::json!({
        "format": "spool-rs reservations",
        "version": 3,
        "transactions": [
            {
                "txid": tx(1),
                "reserved_at": 1_700_000_000u64,
                "outpoints": [format!("{}:0", tx(9)), format!("{}:3", tx(9))],
                "owner": { "pid": 4242, "started": 123_456 },
                "state": "sending",
                "sent_at": 1_700_000_001u64,
                "claims": [
                    { "piece": "mhXeWEMLnEwVNnyqKrqUDPAYSuwhfyNXA7", "edition": 2 },
                    { "piece": "mhXeWEMLnEwVNnyqKrqUDPAYSuwhfyNXA7", "edition": null }
                ]
            },
            {
                "txid": tx(2),
                "reserved_at": 1_700_000_100u64,
                "outpoints": [format!("{}:1", tx(9))],
                "owner": { "pid": 7, "started": null },
                "state": "unsure",
                "sent_at": null,
                "claims": []
            },
            {
                "txid": tx(3),
                "reserved_at": 1_700_000_200u64,
                "outpoints": [format!("{}:2", tx(9))],
                "owner": null,
                "state": "broadcast",
                "sent_at": 1_700_000_201u64,
                "claims": [{ "piece": "mhXeWEMLnEwVNnyqKrqUDPAYSuwhfyNXA7", "edition": 0 }]
            }
        ]
    });
    rewrite_with_checksum(&file, &mut doc);
    let v3 = std::fs::read(&file).unwrap();
    let expected: Vec<spool_engine::store::Record> =
        serde_json::from_value(doc["transactions"].clone()).unwrap();
    let res = Reservations::open(dir.path()).unwrap();
    assert_eq!(res.records().unwrap(), expected);
    assert_eq!(expected[0].claims.len(), 2);
    assert_eq!(expected[0].owner.unwrap().started, Some(123_456));
    assert_eq!(res.len().unwrap(), 4);
    assert_eq!(
        std::fs::read(dir.path().join("reservations.json.v3")).unwrap(),
        v3
    );
    let pointer: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(pointer["version"], 4);
    assert_eq!(log_lines(dir.path()).len(), 4);
    drop(res);
    // Read back from the log alone.
    assert_eq!(
        Reservations::open(dir.path()).unwrap().records().unwrap(),
        expected
    );
}

/// A reader of version 3 parses the pointer document (it finds every field it requires) and
/// sees version 4: it refuses the store as an unknown version instead of reading no
/// reservations or calling the store corrupt.
#[test]
fn an_older_reader_sees_version_4() {
    /// The document as spool-rs up to version 3 declared it.
    #[derive(serde::Deserialize)]
    struct OldDocument {
        format: String,
        version: u32,
        #[serde(default)]
        #[allow(dead_code)]
        checksum: Option<String>,
        #[allow(dead_code)]
        transactions: serde_json::Value,
    }
    let dir = tempfile::tempdir().unwrap();
    let res = Reservations::open(dir.path()).unwrap();
    transfer(&res, &utxos(1), &alice()).unwrap();
    let file = dir.path().join("reservations.json");
    assert_eq!(res.path(), Some(file.as_path()));
    let old: OldDocument = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(old.format, "spool-rs reservations");
    assert_eq!(old.version, 4);
    let pointer: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(pointer["log"], "reservations.log");
    assert!(!pointer["transactions"].is_array(), "{pointer}");
    // And a version this build does not know is refused the same way.
    let mut newer = pointer.clone();
    newer["version"] = 5.into();
    std::fs::write(&file, newer.to_string()).unwrap();
    let err = Reservations::open(dir.path()).unwrap_err();
    assert!(
        matches!(err, StoreError::UnknownVersion { version: 5, .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("unknown format version 5"),
        "{err}"
    );
}
