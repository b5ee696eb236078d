//! The persistent outpoint reservations: 1,000 transactions from one wallet on 8 threads
//! never share an outpoint; reservations survive a restart and are shared with another
//! process; a corrupt store is an error, never a reset.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use bitcoin::hashes::Hash;
use bitcoin::{Address, Amount, Network, OutPoint, Txid};
use spool_engine::store::{Reservations, StoreError};
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
