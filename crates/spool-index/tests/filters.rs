//! The federation-scoped index (`--filters`) answers as the full index for the federation's
//! pieces, and knows nothing of another federation's: a regtest chain of more than 2,000
//! blocks with ordinary payments, where SPOOL activity is rare: two federations' pieces,
//! forgeries, refills to wallets funded before anyone knew them, a chain of transfers
//! through addresses first seen mid-chain (some in the block that discovers them), and a
//! reorganisation across that chain. Also: an index refuses to continue in the other mode,
//! and a node without `-blockfilterindex` is refused with the option named.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use bitcoin::{Address, Amount, BlockHash, ScriptBuf};
use common::chain::{self, hash_address, Funder, Key};
use common::{follower_config, piece_life, Parties, Wallet};
use serde_json::json;
use spool_index::follower::{FilterScope, FullScan};
use spool_index::{Follower, FollowerConfig, IndexError, Store};
use spool_protocol::verb::Verb;
use spool_testenv::Node;

/// Blocks of ordinary traffic mined in one go, after one ordinary payment.
const STRETCH: u64 = 40;

fn filtered_config(node: &Node, federation: &Address) -> FollowerConfig {
    let mut config = follower_config(node, &[]);
    config.filters = Some(FilterScope {
        federation: vec![federation.script_pubkey()],
    });
    config
}

/// Mines `stretches` stretches of [`STRETCH`] blocks, each after an ordinary payment from
/// the funder to a stranger (nothing to do with SPOOL).
fn ordinary_traffic(node: &Node, funder: &Funder, stretches: usize) {
    for _ in 0..stretches {
        let stranger = Key::random();
        funder.fan_out(node, &stranger.address, Amount::from_sat(50_000), 3);
        chain::mine(node, STRETCH);
    }
}

fn catch_up(follower: &mut Follower) {
    follower.catch_up(&mut |_| {}).expect("catch-up");
}

/// A federation's piece handed on through `chain` (each a wallet nobody has seen before the
/// piece reaches it), edition 1, all in the mempool until the caller mines.
fn transfer_chain(federation: &mut Wallet, chain: &mut [Wallet]) -> Vec<bitcoin::Transaction> {
    let piece = hash_address();
    let mut txs = Vec::new();
    let first = chain[0].address().clone();
    txs.push(federation.build(&[&piece, &first], Verb::Piece));
    txs.push(federation.build(&[&piece, &first], Verb::Editions { count: 1 }));
    txs.push(federation.build(&[&piece, &first], Verb::Register { edition: 1 }));
    for i in 1..chain.len() {
        let next = chain[i].address().clone();
        txs.push(chain[i - 1].build(&[&piece, &next], Verb::Transfer { edition: 1 }));
    }
    txs
}

struct Known {
    pieces: Vec<Address>,
    addresses: Vec<Address>,
}

fn fed_pieces(store: &Store, pieces: &[Address]) -> BTreeSet<String> {
    let wanted: BTreeSet<String> = pieces.iter().map(|a| a.to_string()).collect();
    store
        .pieces(0, 100_000)
        .unwrap()
        .0
        .into_iter()
        .filter(|p| wanted.contains(p))
        .collect()
}

/// Every answer about the first federation's pieces and addresses is the full index's; the
/// scoped index holds nothing of the second federation.
fn assert_same(full: &Store, scoped: &Store, first: &Known, second: &Known, tip: u64) {
    assert_eq!(full.tip().unwrap(), scoped.tip().unwrap(), "same tip");
    assert_eq!(
        full.tip().unwrap().unwrap().0,
        tip,
        "both at the node's tip"
    );
    let mut events = 0;
    for piece in &first.pieces {
        let script = piece.script_pubkey();
        let f = full.txs_paying(&script).unwrap();
        assert!(!f.is_empty(), "the full index has the history of {piece}");
        events += f.len();
        assert_eq!(scoped.txs_paying(&script).unwrap(), f, "history of {piece}");
    }
    assert!(events > 30, "a history worth comparing ({events} events)");
    let full_pieces = fed_pieces(full, &first.pieces);
    assert_eq!(full_pieces.len(), first.pieces.len(), "every piece listed");
    let scoped_all: BTreeSet<String> = scoped.pieces(0, 100_000).unwrap().0.into_iter().collect();
    let full_all: BTreeSet<String> = full.pieces(0, 100_000).unwrap().0.into_iter().collect();
    // Every piece of the federation; besides them only the first outputs of its invalid
    // events (e.g. a transfer whose first output is not the piece), as the full index.
    assert!(scoped_all.is_superset(&full_pieces), "{scoped_all:?}");
    assert!(scoped_all.is_subset(&full_all), "{scoped_all:?}");
    for foreign in second.pieces.iter().chain(&second.addresses) {
        assert!(
            !scoped_all.contains(&foreign.to_string()),
            "{foreign} listed"
        );
    }
    let first_pieces: BTreeSet<String> = first.pieces.iter().map(|a| a.to_string()).collect();
    for address in &first.addresses {
        let script = address.script_pubkey();
        let holdings: BTreeSet<String> = full
            .pieces_involving(&script)
            .unwrap()
            .into_iter()
            .filter(|p| first_pieces.contains(p))
            .collect();
        let scoped_holdings: BTreeSet<String> = scoped
            .pieces_involving(&script)
            .unwrap()
            .into_iter()
            .filter(|p| first_pieces.contains(p))
            .collect();
        assert_eq!(scoped_holdings, holdings, "pieces involving {address}");
    }
    // The UTXOs of every script the scoped index watches (the federation's and every one
    // its events reached), outputs received before discovery included.
    let mut utxos = 0;
    for script in scoped.filter_set() {
        assert!(
            full.is_watched(script).unwrap(),
            "the full index watches {script}"
        );
        let f = full.utxos(script, 0, tip).unwrap();
        utxos += f.len();
        assert_eq!(
            scoped.utxos(script, 0, tip).unwrap(),
            f,
            "UTXOs of {script}"
        );
    }
    assert!(utxos > 20, "UTXOs worth comparing ({utxos})");
    for (i, address) in first.addresses.iter().enumerate() {
        assert!(
            scoped.is_watched(&address.script_pubkey()).unwrap(),
            "{address} (party {i}) was discovered"
        );
    }
    for piece in &second.pieces {
        assert!(
            !full.txs_paying(&piece.script_pubkey()).unwrap().is_empty(),
            "the full index has the second federation's {piece}"
        );
        assert!(
            scoped
                .txs_paying(&piece.script_pubkey())
                .unwrap()
                .is_empty(),
            "the scoped index knows nothing of {piece}"
        );
    }
    for address in &second.addresses {
        assert!(
            !scoped.is_watched(&address.script_pubkey()).unwrap(),
            "the scoped index does not watch {address}"
        );
    }
}

fn block_hash(node: &Node, height: u64) -> BlockHash {
    node.call("getblockhash", &[json!(height)])
        .unwrap()
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

fn open(path: &Path, config: FollowerConfig) -> Result<Follower, IndexError> {
    Follower::open(path, config)
}

/// The full scan through REST with the prefilter answers as the plain one (RPC, every
/// block deserialized), for both federations.
fn assert_same_full(plain: &Store, fast: &Store, pieces: &[Address], watched: &[Address]) {
    assert_eq!(plain.tip().unwrap(), fast.tip().unwrap(), "same tip");
    assert_eq!(
        plain.pieces(0, 100_000).unwrap(),
        fast.pieces(0, 100_000).unwrap()
    );
    assert_eq!(
        plain.spool_tx_count().unwrap(),
        fast.spool_tx_count().unwrap()
    );
    for piece in pieces {
        let script = piece.script_pubkey();
        assert_eq!(
            plain.txs_paying(&script).unwrap(),
            fast.txs_paying(&script).unwrap()
        );
    }
    let tip = plain.tip().unwrap().unwrap().0;
    for address in watched {
        let script = address.script_pubkey();
        assert_eq!(
            plain.utxos(&script, 0, tip).unwrap(),
            fast.utxos(&script, 0, tip).unwrap(),
            "UTXOs of {address}"
        );
    }
}

#[test]
fn filter_sync_answers_as_the_full_index() {
    let node = Node::start_with_args(&["-blockfilterindex=1", "-rest=1"]).expect("regtest node");
    let funder = Funder::new(&node, 140);
    // Everyone is funded now, long before any SPOOL event reaches them.
    let mut first = Parties::new(&node, &funder, 40);
    let mut second = Parties::new(&node, &funder, 20);
    let refilled = Wallet::funded(&node, &funder, 2);
    let mut links: Vec<Wallet> = (0..4).map(|_| Wallet::funded(&node, &funder, 3)).collect();
    let mut same_block: Vec<Wallet> = (0..3).map(|_| Wallet::funded(&node, &funder, 3)).collect();
    let last = Wallet::funded(&node, &funder, 1);
    chain::mine(&node, 1);
    ordinary_traffic(&node, &funder, 15);

    // Both federations' pieces (valid, invalid and forged events), rare among blocks.
    let mut pieces = vec![piece_life(&node, &mut first, 3)];
    let second_pieces = vec![piece_life(&node, &mut second, 4)];
    chain::mine(&node, 1);
    ordinary_traffic(&node, &funder, 15);
    pieces.push(piece_life(&node, &mut first, 5));
    // A refill: fuel from the federation to a wallet funded long ago.
    first
        .federation
        .send(&node, &[refilled.address()], Verb::Fuel);
    chain::mine(&node, 1);
    // A piece handed on through three wallets first seen in the same block.
    let txs = transfer_chain(&mut first.federation, &mut same_block);
    pieces.push(txs[0].output[0].script_pubkey.clone().try_into_address());
    for tx in &txs {
        chain::send(&node, tx);
    }
    chain::mine(&node, 1);
    ordinary_traffic(&node, &funder, 10);

    let dir = tempfile::tempdir().unwrap();
    let full_path = dir.path().join("full.sqlite");
    let scoped_path = dir.path().join("scoped.sqlite");
    let mut watch_all: Vec<&Address> = first.addresses().to_vec();
    watch_all.extend(second.addresses());
    watch_all.push(refilled.address());
    watch_all.extend(links.iter().map(Wallet::address));
    watch_all.extend(same_block.iter().map(Wallet::address));
    watch_all.push(last.address());
    let watch_all: Vec<Address> = watch_all.into_iter().cloned().collect();
    let watch_refs: Vec<&Address> = watch_all.iter().collect();
    let mut full = open(&full_path, follower_config(&node, &watch_refs)).expect("full index");
    let mut scoped = open(
        &scoped_path,
        filtered_config(&node, first.federation.address()),
    )
    .expect("scoped");
    let plain_path = dir.path().join("plain.sqlite");
    let mut plain_config = follower_config(&node, &watch_refs);
    plain_config.full_scan = FullScan {
        rest: false,
        prefilter: false,
    };
    let mut plain = open(&plain_path, plain_config).expect("plain full index");
    catch_up(&mut full);
    catch_up(&mut scoped);
    catch_up(&mut plain);
    assert!(
        full.uses_rest(),
        "the node's REST interface serves the full scan"
    );

    // Then a chain of transfers through wallets first seen mid-chain, one block each,
    // indexed by following; a reorganisation replaces its last blocks.
    let txs = transfer_chain(&mut first.federation, &mut links);
    pieces.push(txs[0].output[0].script_pubkey.clone().try_into_address());
    let mut chain_heights = Vec::new();
    for tx in &txs {
        chain::send(&node, tx);
        chain_heights.push(chain::mine(&node, 1));
        ordinary_traffic(&node, &funder, 1);
    }
    ordinary_traffic(&node, &funder, 5);
    catch_up(&mut full);
    catch_up(&mut scoped);
    let tip = chain::tip(&node);
    assert!(tip >= 2_000, "a chain of at least 2,000 blocks ({tip})");

    let mut first_addresses: Vec<Address> =
        first.addresses().iter().map(|a| (*a).clone()).collect();
    first_addresses.push(refilled.address().clone());
    first_addresses.extend(links.iter().map(|w| w.address().clone()));
    first_addresses.extend(same_block.iter().map(|w| w.address().clone()));
    let known_first = Known {
        pieces: pieces.clone(),
        addresses: first_addresses,
    };
    let known_second = Known {
        pieces: second_pieces.clone(),
        addresses: second.addresses().iter().map(|a| (*a).clone()).collect(),
    };
    assert_same(
        full.store(),
        scoped.store(),
        &known_first,
        &known_second,
        tip,
    );
    let counters = scoped.store().scope_counters().unwrap();
    assert_eq!(counters.tested, tip + 1, "every filter tested once");
    assert!(
        counters.matched > 10,
        "the SPOOL blocks matched: {counters:?}"
    );
    assert!(
        counters.matched * 20 < counters.tested,
        "only a few blocks fetched: {counters:?}"
    );

    // Reorganise from the second link of the transfer chain: its events return to the
    // mempool and are mined again, a block later than before.
    let fork = chain_heights[3];
    node.call(
        "invalidateblock",
        &[json!(block_hash(&node, fork).to_string())],
    )
    .unwrap();
    // The node may not take the disconnected transactions back: send them again.
    for tx in &txs[3..] {
        let _ = node.call(
            "sendrawtransaction",
            &[json!(bitcoin::consensus::encode::serialize_hex(tx))],
        );
    }
    let replaced = chain::mine(&node, 1);
    let block = node
        .call(
            "getblock",
            &[json!(block_hash(&node, replaced).to_string()), json!(1)],
        )
        .unwrap();
    for tx in &txs[3..] {
        let txid = json!(tx.compute_txid().to_string());
        assert!(
            block["tx"].as_array().unwrap().contains(&txid),
            "the transfers are mined again in one block at {replaced}"
        );
    }
    let new_tip = chain::mine(&node, (tip - fork) + 2);
    assert!(new_tip > tip);
    // One more link: the last wallet hands the piece on to one funded at the start.
    links.last_mut().unwrap().send(
        &node,
        &[
            &txs[0].output[0].script_pubkey.clone().try_into_address(),
            last.address(),
        ],
        Verb::Transfer { edition: 1 },
    );
    let tip = chain::mine(&node, 2);
    catch_up(&mut full);
    catch_up(&mut scoped);
    catch_up(&mut plain);
    let all_pieces: Vec<Address> = pieces.iter().chain(&second_pieces).cloned().collect();
    assert_same_full(plain.store(), full.store(), &all_pieces, &watch_all);
    let mut known_first = known_first;
    known_first.addresses.push(last.address().clone());
    assert_same(
        full.store(),
        scoped.store(),
        &known_first,
        &known_second,
        tip,
    );

    // Each index refuses to be continued in the other mode, in one line naming both.
    drop(full);
    drop(scoped);
    let err = open(&scoped_path, follower_config(&node, &[])).unwrap_err();
    assert!(matches!(err, IndexError::ModeMismatch { .. }), "{err}");
    let text = err.to_string();
    assert!(
        !text.contains('\n') && text.contains("filters") && text.contains("full"),
        "{text}"
    );
    let err = open(
        &full_path,
        filtered_config(&node, first.federation.address()),
    )
    .unwrap_err();
    assert!(matches!(err, IndexError::ModeMismatch { .. }), "{err}");
    // Another federation is another mode.
    let err = open(
        &scoped_path,
        filtered_config(&node, second.federation.address()),
    )
    .unwrap_err();
    assert!(matches!(err, IndexError::ModeMismatch { .. }), "{err}");
    // The same mode continues.
    let again = open(
        &scoped_path,
        filtered_config(&node, first.federation.address()),
    );
    assert!(again.is_ok(), "{:?}", again.err());
}

#[test]
fn a_node_without_filters_is_refused_naming_the_option() {
    let node = Node::start().expect("regtest node");
    let dir = tempfile::tempdir().unwrap();
    let federation = Key::random();
    let err = open(
        &dir.path().join("index.sqlite"),
        filtered_config(&node, &federation.address),
    )
    .unwrap_err();
    assert!(matches!(err, IndexError::NoFilterIndex { .. }), "{err}");
    assert!(err.to_string().contains("-blockfilterindex=1"), "{err}");
    // Nothing was recorded: the same file can still become a full index.
    let full = open(
        &dir.path().join("index.sqlite"),
        follower_config(&node, &[]),
    );
    assert!(full.is_ok(), "{:?}", full.err());
}

trait IntoAddress {
    fn try_into_address(self) -> Address;
}

impl IntoAddress for ScriptBuf {
    fn try_into_address(self) -> Address {
        Address::from_script(&self, bitcoin::Network::Regtest).expect("a standard script")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_reports_the_mode_and_the_filter_counters() {
    let node = Node::start_with_args(&["-blockfilterindex=1"]).expect("regtest node");
    let funder = Funder::new(&node, 8);
    let mut parties = Parties::new(&node, &funder, 20);
    piece_life(&node, &mut parties, 3);
    chain::mine(&node, 1);
    ordinary_traffic(&node, &funder, 2);
    let dir = tempfile::tempdir().unwrap();
    let index = dir.path().join("regtest").join("index.sqlite");
    let running = spool_index::start(spool_index::ServeConfig {
        index_path: index.clone(),
        follower: filtered_config(&node, parties.federation.address()),
        http: "127.0.0.1:0".parse().unwrap(),
        federation: vec![parties.federation.address().to_string()],
        api_token: None,
        reservation_lease: spool_index::reservations::DEFAULT_LEASE,
    })
    .await
    .expect("spool serve starts");
    running.wait_round().await;
    let server =
        spool_backend::server::ServerBackend::new(&running.url(), bitcoin::Network::Regtest)
            .unwrap();
    let status = server.status().await.unwrap();
    let counters = {
        let store = Store::open_reader(&index, bitcoin::Network::Regtest).unwrap();
        store.scope_counters().unwrap()
    };
    assert_eq!(
        status.mode,
        Some(filtered_config(&node, parties.federation.address()).mode()),
        "{status:?}"
    );
    assert!(
        status.mode.as_deref().unwrap().starts_with("filters "),
        "{status:?}"
    );
    assert!(
        counters.matched > 0 && counters.tested > counters.matched,
        "{counters:?}"
    );
    assert_eq!(status.blocks_matched, Some(counters.matched), "{status:?}");
    assert_eq!(
        status.false_positives,
        Some(counters.false_positives),
        "{status:?}"
    );
    assert_eq!(status.indexed_height, Some(chain::tip(&node)), "{status:?}");

    // A piece whose whole life is still in the mempool: the filtered server answers as the
    // node (direct Core backend) does, then again once it is mined.
    let piece = piece_life(&node, &mut parties, 0);
    running.wait_round().await;
    running.wait_round().await;
    use spool_backend::Backend;
    let core = common::core(&node);
    let direct = core.address_transactions(&piece).await.unwrap();
    assert_eq!(direct.len(), 14, "the piece's life is in the mempool");
    assert_eq!(server.address_transactions(&piece).await.unwrap(), direct);
    chain::mine(&node, 1);
    running.wait_round().await;
    running.wait_round().await;
    let direct = core.address_transactions(&piece).await.unwrap();
    assert_eq!(server.address_transactions(&piece).await.unwrap(), direct);
    running.shutdown().await.unwrap();
}
