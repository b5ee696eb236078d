//! The conformance suite: one set of checks, generic over [`Backend`], run against every
//! implementation on the same regtest chain. Each run makes its own fresh addresses and
//! transactions on the shared node, so runs do not disturb each other.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bitcoin::{Address, Amount, Network, OutPoint, Transaction, Txid};
use spool_backend::{Backend, BackendError};
use spool_protocol::chain::TxPlace;
use spool_protocol::verb::Verb;
use spool_testenv::Node;

use super::chain::{self, hash_address, outputs_to, spool_tx, Coin, Funder, Key, FEE, TOKEN};

/// What one run put on the chain, as the node itself reports it.
pub struct Fixture {
    /// A piece address (nobody has its key).
    pub piece: Address,
    /// The wallet that sends the SPOOL transactions.
    pub owner: Key,
    /// A recipient.
    pub buyer: Address,
    /// The funding transaction of `owner` (confirmed).
    pub fan_out: Transaction,
    /// SPOOL transactions paying `piece`: three confirmed (two in one block), one unconfirmed.
    pub history: Vec<Transaction>,
    /// A mempool transaction spending one of owner's confirmed outputs, not paying `piece`.
    pub mempool_spend: Transaction,
    /// A mempool transaction paying owner a new output.
    pub mempool_pay: Transaction,
    /// Owner's outputs still unspent (confirmed, not spent by the mempool).
    pub owner_unspent: Vec<Coin>,
}

impl Fixture {
    pub fn create(node: &Node, funder: &Funder) -> Fixture {
        let piece = hash_address();
        let owner = Key::random();
        let buyer = hash_address();
        let fan_out = funder.fan_out(node, &owner.address, FEE + TOKEN * 3, 8);
        chain::mine(node, 1);
        let mut coins = outputs_to(&fan_out, &owner.address);
        let first = spool_tx(
            &owner,
            coins.remove(0),
            &[&piece, &piece, &owner.address],
            Verb::Piece,
        );
        chain::send(node, &first);
        chain::mine(node, 2);
        let second = spool_tx(
            &owner,
            coins.remove(0),
            &[&piece, &piece, &owner.address],
            Verb::Editions { count: 5 },
        );
        let third = spool_tx(
            &owner,
            coins.remove(0),
            &[&piece, &buyer],
            Verb::Transfer { edition: 0 },
        );
        chain::send(node, &second);
        chain::send(node, &third);
        chain::mine(node, 1);
        let fourth = spool_tx(
            &owner,
            coins.remove(0),
            &[&piece, &buyer],
            Verb::Consign { edition: 1 },
        );
        chain::send(node, &fourth);
        let mempool_spend = spool_tx(&owner, coins[0].clone(), &[&buyer], Verb::Fuel);
        chain::send(node, &mempool_spend);
        let mempool_pay = funder.fan_out(node, &owner.address, TOKEN, 1);
        // Tokens that `first` and `second` paid back to owner are owner's confirmed outputs too.
        let mut owner_unspent = coins;
        owner_unspent.extend(outputs_to(&first, &owner.address));
        owner_unspent.extend(outputs_to(&second, &owner.address));
        Fixture {
            piece,
            owner,
            buyer,
            fan_out,
            history: vec![first, second, third, fourth],
            mempool_spend,
            mempool_pay,
            owner_unspent,
        }
    }
}

fn outpoints(utxos: &[spool_tx::utxo::Utxo]) -> BTreeSet<OutPoint> {
    utxos.iter().map(|u| u.outpoint).collect()
}

/// Runs every check against `backend`. `label` names the backend in failure messages.
pub async fn run<B: Backend>(label: &str, node: &Node, funder: &Funder, backend: &B) -> Fixture {
    let fx = Fixture::create(node, funder);
    eprintln!("[{label}] {}", backend.describe());
    assert_eq!(backend.network(), Network::Regtest, "[{label}] network");
    assert!(!backend.describe().is_empty());

    // Tip.
    assert_eq!(
        backend.tip_height().await.unwrap(),
        chain::tip(node),
        "[{label}] tip height"
    );

    // One transaction: prevouts and place as the node says.
    let first = &fx.history[0];
    let got = backend.transaction(&first.compute_txid()).await.unwrap();
    assert_eq!(got.tx, *first, "[{label}] transaction body");
    assert_eq!(
        got.prevouts,
        vec![fx.fan_out.output[0].clone()],
        "[{label}] prevouts"
    );
    let (height, position, time) = chain::place_of(node, &first.compute_txid()).unwrap();
    assert_eq!(
        got.place,
        TxPlace::Confirmed {
            height,
            position,
            time
        },
        "[{label}] place"
    );

    // A coinbase: no prevouts, position 0.
    let coinbase_txid = node
        .call(
            "getblock",
            &[
                serde_json::json!(node.call("getblockhash", &[serde_json::json!(1)]).unwrap()),
                serde_json::json!(1),
            ],
        )
        .unwrap()["tx"][0]
        .as_str()
        .unwrap()
        .parse::<Txid>()
        .unwrap();
    let coinbase = backend.transaction(&coinbase_txid).await.unwrap();
    assert!(coinbase.tx.is_coinbase());
    assert!(
        coinbase.prevouts.is_empty(),
        "[{label}] coinbase has no prevouts"
    );
    assert!(
        matches!(
            coinbase.place,
            TxPlace::Confirmed {
                height: 1,
                position: 0,
                ..
            }
        ),
        "[{label}] coinbase place {:?}",
        coinbase.place
    );

    // An unconfirmed one.
    let fourth = &fx.history[3];
    let got = backend.transaction(&fourth.compute_txid()).await.unwrap();
    assert_eq!(got.place, TxPlace::Unconfirmed, "[{label}] mempool place");
    assert_eq!(
        got.prevouts,
        vec![fx.fan_out.output[3].clone()],
        "[{label}] mempool prevouts"
    );

    // Statuses for spool-tx's reservations.
    assert_eq!(
        spool_backend::tx_status(backend, &first.compute_txid()).await,
        spool_protocol::chain::TxStatus::Confirmed
    );
    assert_eq!(
        spool_backend::tx_status(backend, &fourth.compute_txid()).await,
        spool_protocol::chain::TxStatus::InMempool
    );

    // An unknown one.
    let unknown: Txid = "00".repeat(32).parse().unwrap();
    assert_eq!(
        spool_backend::tx_status(backend, &unknown).await,
        spool_protocol::chain::TxStatus::Gone
    );
    match backend.transaction(&unknown).await {
        Err(BackendError::NotFound { what }) => {
            assert!(what.contains(&unknown.to_string()), "{what}")
        }
        other => panic!("[{label}] unknown txid gave {other:?}"),
    }

    // The piece's history: all four, in chain order, the two of one block by position.
    let history = backend.address_transactions(&fx.piece).await.unwrap();
    let got: Vec<Txid> = history.iter().map(|c| c.txid()).collect();
    let mut expected: Vec<(u64, u32, Txid)> = fx.history[..3]
        .iter()
        .map(|tx| {
            let (h, p, _) = chain::place_of(node, &tx.compute_txid()).unwrap();
            (h, p, tx.compute_txid())
        })
        .collect();
    expected.sort();
    let mut expected: Vec<Txid> = expected.into_iter().map(|(_, _, txid)| txid).collect();
    expected.push(fourth.compute_txid());
    assert_eq!(got, expected, "[{label}] piece history");
    for chain_tx in &history {
        assert_eq!(chain_tx.prevouts.len(), chain_tx.tx.input.len());
        match chain_tx.place {
            TxPlace::Confirmed {
                height,
                position,
                time,
            } => {
                assert_eq!(
                    chain::place_of(node, &chain_tx.txid()),
                    Some((height, position, time))
                );
            }
            TxPlace::Unconfirmed => assert!(chain::in_mempool(node, &chain_tx.txid())),
        }
    }
    assert!(
        backend
            .address_transactions(&hash_address())
            .await
            .unwrap()
            .is_empty(),
        "[{label}] empty history"
    );

    // UTXOs: confirmed ones minus what the mempool spends, plus mempool outputs at min_conf 0.
    let spent_by_mempool = fx.mempool_spend.input[0].previous_output;
    let mut confirmed: BTreeSet<OutPoint> = fx.owner_unspent.iter().map(|(op, _)| *op).collect();
    assert!(
        confirmed.remove(&spent_by_mempool),
        "fixture: the mempool spend is of a confirmed output"
    );
    let pay: BTreeSet<OutPoint> = outputs_to(&fx.mempool_pay, &fx.owner.address)
        .into_iter()
        .map(|(op, _)| op)
        .collect();
    let with_mempool: BTreeSet<OutPoint> = confirmed.union(&pay).copied().collect();
    let utxos0 = backend.utxos(&fx.owner.address, 0).await.unwrap();
    assert_eq!(
        outpoints(&utxos0),
        with_mempool,
        "[{label}] utxos min_conf 0"
    );
    let utxos1 = backend.utxos(&fx.owner.address, 1).await.unwrap();
    assert_eq!(outpoints(&utxos1), confirmed, "[{label}] utxos min_conf 1");
    let tip = chain::tip(node);
    for utxo in &utxos0 {
        let expected_conf = match chain::place_of(node, &utxo.outpoint.txid) {
            Some((h, _, _)) => (tip - h + 1) as u32,
            None => 0,
        };
        assert_eq!(
            utxo.confirmations, expected_conf,
            "[{label}] confirmations of {}",
            utxo.outpoint
        );
        assert_eq!(utxo.script_pubkey, fx.owner.script());
        assert!(!utxo.is_coinbase);
        let (_, txout) = fx
            .owner_unspent
            .iter()
            .chain(outputs_to(&fx.mempool_pay, &fx.owner.address).iter())
            .find(|(op, _)| *op == utxo.outpoint)
            .cloned()
            .unwrap();
        assert_eq!(utxo.value, txout.value);
    }
    // Outputs of the fan-out are 4 blocks deep, the SPOOL tokens fewer.
    let deep = backend.utxos(&fx.owner.address, 4).await.unwrap();
    assert!(deep.iter().all(|u| u.confirmations >= 4));
    assert_eq!(
        deep.len(),
        utxos1.iter().filter(|u| u.confirmations >= 4).count(),
        "[{label}] min_conf 4"
    );
    // Coinbases are flagged.
    let funder_utxos = backend.utxos(&funder.key.address, 1).await.unwrap();
    assert!(
        funder_utxos.iter().any(|u| u.is_coinbase),
        "[{label}] coinbase flagged"
    );

    // Wrong network.
    let mainnet = Address::p2pkh(
        bitcoin::PubkeyHash::from_raw_hash(bitcoin::hashes::Hash::all_zeros()),
        Network::Bitcoin,
    );
    assert!(
        matches!(
            backend.utxos(&mainnet, 0).await,
            Err(BackendError::WrongNetwork { .. })
        ),
        "[{label}] wrong network"
    );

    // Broadcast, twice, then again once mined: success every time.
    let coin = outputs_to(&fx.mempool_pay, &fx.owner.address).remove(0);
    let spend_of_unconfirmed = chain::signed(
        &fx.owner,
        &[coin],
        vec![bitcoin::TxOut {
            value: Amount::from_sat(1000),
            script_pubkey: fx.buyer.script_pubkey(),
        }],
    );
    let txid = backend.broadcast(&spend_of_unconfirmed).await.unwrap();
    assert_eq!(txid, spend_of_unconfirmed.compute_txid());
    assert!(
        chain::in_mempool(node, &txid),
        "[{label}] broadcast reached the mempool"
    );
    assert_eq!(
        backend.broadcast(&spend_of_unconfirmed).await.unwrap(),
        txid,
        "[{label}] rebroadcast from mempool"
    );
    // The output it spends no longer shows.
    let after = backend.utxos(&fx.owner.address, 0).await.unwrap();
    assert_eq!(
        outpoints(&after),
        confirmed,
        "[{label}] mempool spend hides the output"
    );

    // A conflicting spend (paying less fee, so no replacement) is rejected with the node's reason and not broadcast.
    let conflict = chain::signed(
        &fx.owner,
        &[outputs_to(&fx.mempool_pay, &fx.owner.address).remove(0)],
        vec![bitcoin::TxOut {
            value: Amount::from_sat(1500),
            script_pubkey: fx.piece.script_pubkey(),
        }],
    );
    match backend.broadcast(&conflict).await {
        Err(BackendError::Rejected { txid, reason }) => {
            assert_eq!(txid, conflict.compute_txid());
            assert!(!reason.is_empty());
            eprintln!("[{label}] conflict rejected: {reason}");
        }
        other => panic!("[{label}] conflicting spend gave {other:?}"),
    }
    assert!(!chain::in_mempool(node, &conflict.compute_txid()));

    // Waiting: a block is mined a moment later by another thread.
    let progress_calls = Arc::new(AtomicUsize::new(0));
    let miner = {
        let url = node.rpc_url();
        let cookie = node.cookie_file();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(700));
            let rpc = bitcoincore_rpc::Client::new(&url, bitcoincore_rpc::Auth::CookieFile(cookie))
                .unwrap();
            bitcoincore_rpc::RpcApi::generate_to_address(&rpc, 1, &hash_address()).unwrap();
        })
    };
    let counter = progress_calls.clone();
    let place = backend
        .wait_confirmed_with_progress(&txid, 1, Duration::from_secs(60), &move |p| {
            assert_eq!(p.wanted, 1);
            counter.fetch_add(1, Ordering::Relaxed);
        })
        .await
        .unwrap();
    miner.join().unwrap();
    assert_eq!(
        place.height(),
        Some(chain::tip(node)),
        "[{label}] waited place"
    );
    assert!(
        progress_calls.load(Ordering::Relaxed) >= 2,
        "[{label}] progress reported while waiting"
    );
    // Rebroadcast of a mined transaction is success too.
    assert_eq!(
        backend.broadcast(&spend_of_unconfirmed).await.unwrap(),
        txid,
        "[{label}] rebroadcast from chain"
    );
    // Three confirmations will not come within half a second.
    match backend
        .wait_confirmed(&txid, 3, Duration::from_millis(500))
        .await
    {
        Err(err @ BackendError::Timeout { .. }) => assert!(err.is_retryable()),
        other => panic!("[{label}] wait for 3 confirmations gave {other:?}"),
    }
    // The whole history again, now with the fourth confirmed.
    let history = backend.address_transactions(&fx.piece).await.unwrap();
    assert_eq!(history.len(), 4);
    assert!(
        history
            .iter()
            .all(|c| matches!(c.place, TxPlace::Confirmed { .. })),
        "[{label}] all confirmed"
    );
    eprintln!("[{label}] conformance suite passed");
    fx
}
