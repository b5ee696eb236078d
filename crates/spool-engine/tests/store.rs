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
    let file = dir.path().join("reservations.json");
    let mut doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    doc["transactions"][0]["owner"]["pid"] = dead.into();
    rewrite_with_checksum(&file, &mut doc);
    let res = Reservations::open(dir.path()).unwrap();
    let owner = res.record(&mine.txid()).unwrap().unwrap().owner.unwrap();
    assert_eq!(owner.is_alive(), Some(false));
    assert_eq!(res.apply_status(&mine.txid(), TxStatus::Gone).unwrap(), 3);
}

/// Writes `doc` back with a matching checksum (as a newer writer would): sha256 of the
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
    let file = dir.path().join("reservations.json");
    let good = std::fs::read(&file).unwrap();
    let text = String::from_utf8(good.clone()).unwrap();
    // Flip one bit of the first outpoint's vout digit ("...:0" -> "...:1").
    let at = text.find(":0\"").expect("an outpoint with vout 0") + 1;
    let mut bad = good.clone();
    bad[at] ^= 1;
    std::fs::write(&file, &bad).unwrap();
    let err = Reservations::open(dir.path()).unwrap_err().to_string();
    assert!(err.contains("checksum does not match"), "{err}");
    assert!(err.contains("mv ") && err.contains(".corrupt"), "{err}");
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
