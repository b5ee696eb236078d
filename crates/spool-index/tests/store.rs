//! The SQLite store without a node: blocks written atomically with their hashes, rollback to
//! a fork point, mempool rows appearing and disappearing, UTXOs of watched scripts, and the
//! file refusing another network.

use std::collections::HashMap;

use bitcoin::block::{Header, Version};
use bitcoin::hashes::Hash;
use bitcoin::{
    absolute, transaction, Amount, Block, BlockHash, CompactTarget, Network, OutPoint, ScriptBuf,
    Sequence, Transaction, TxIn, TxMerkleNode, TxOut, Txid, Witness,
};
use spool_index::store::BlockData;
use spool_index::{IndexError, Store};
use spool_protocol::chain::TxPlace;
use spool_protocol::verb::Verb;

fn script(n: u8) -> ScriptBuf {
    bitcoin::Address::p2pkh(
        bitcoin::PubkeyHash::from_byte_array([n; 20]),
        Network::Regtest,
    )
    .script_pubkey()
}

fn tx(inputs: &[OutPoint], outputs: Vec<TxOut>) -> Transaction {
    Transaction {
        version: transaction::Version::ONE,
        lock_time: absolute::LockTime::ZERO,
        input: inputs
            .iter()
            .map(|op| TxIn {
                previous_output: *op,
                script_sig: ScriptBuf::new(),
                sequence: Sequence::MAX,
                witness: Witness::new(),
            })
            .collect(),
        output: outputs,
    }
}

fn pay(s: &ScriptBuf, sat: u64) -> TxOut {
    TxOut {
        value: Amount::from_sat(sat),
        script_pubkey: s.clone(),
    }
}

fn spool(input: OutPoint, recipients: &[&ScriptBuf], verb: Verb) -> Transaction {
    let mut outs: Vec<TxOut> = recipients.iter().map(|s| pay(s, 3000)).collect();
    outs.push(TxOut {
        value: Amount::ZERO,
        script_pubkey: verb.op_return_script(),
    });
    tx(&[input], outs)
}

fn block(prev: BlockHash, time: u32, txs: Vec<Transaction>) -> Block {
    Block {
        header: Header {
            version: Version::ONE,
            prev_blockhash: prev,
            merkle_root: TxMerkleNode::all_zeros(),
            time,
            bits: CompactTarget::from_consensus(0x207fffff),
            nonce: time,
        },
        txdata: txs,
    }
}

fn coinbase(n: u8) -> Transaction {
    let mut cb = tx(&[OutPoint::null()], vec![pay(&script(200), 50)]);
    cb.input[0].script_sig = ScriptBuf::from_bytes(vec![n, n]);
    cb
}

fn data(height: u64, block: Block, prevouts: &[(Txid, Vec<TxOut>)]) -> BlockData {
    BlockData {
        height,
        block,
        prevouts: prevouts.iter().cloned().collect::<HashMap<_, _>>(),
    }
}

#[test]
fn blocks_rollback_and_mempool() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("regtest/index.sqlite");
    let (fed, alice, bob, piece) = (script(1), script(2), script(3), script(4));
    let mut store = Store::open(&path, Network::Regtest).unwrap();
    store.watch(std::slice::from_ref(&fed)).unwrap();

    // Block 0 funds the federation; block 1 registers a piece with one of its coins.
    let funding = tx(
        &[OutPoint {
            txid: Txid::all_zeros(),
            vout: 9,
        }],
        vec![pay(&fed, 10_000), pay(&fed, 10_000)],
    );
    let b0 = block(
        BlockHash::all_zeros(),
        100,
        vec![coinbase(0), funding.clone()],
    );
    let coin0 = OutPoint {
        txid: funding.compute_txid(),
        vout: 0,
    };
    let coin1 = OutPoint {
        txid: funding.compute_txid(),
        vout: 1,
    };
    let register = spool(coin0, &[&piece, &alice], Verb::Piece);
    let b1 = block(b0.block_hash(), 200, vec![coinbase(1), register.clone()]);
    store
        .apply_blocks(&[
            data(0, b0.clone(), &[]),
            data(
                1,
                b1.clone(),
                &[(register.compute_txid(), vec![pay(&fed, 10_000)])],
            ),
        ])
        .unwrap();
    assert_eq!(store.tip().unwrap(), Some((1, b1.block_hash())));
    let generation = store.generation().unwrap();
    assert!(generation > 0, "every write changes the generation");
    let history = store.txs_paying(&piece).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].tx, register);
    assert_eq!(history[0].prevouts, vec![pay(&fed, 10_000)]);
    assert_eq!(
        history[0].place,
        TxPlace::Confirmed {
            height: 1,
            position: 1,
            time: 200
        }
    );
    // The federation's coin 0 is spent, coin 1 is left; alice became watched by taking part.
    let utxos = store.utxos(&fed, 0, 1).unwrap();
    assert_eq!(
        utxos.iter().map(|u| u.outpoint).collect::<Vec<_>>(),
        vec![coin1]
    );
    assert_eq!(utxos[0].confirmations, 2);
    assert!(store.is_watched(&alice).unwrap());
    assert_eq!(store.utxos(&alice, 0, 1).unwrap().len(), 1, "alice's token");

    // The mempool: a transfer appears, spends coin 1, then the node drops it.
    let transfer = spool(coin1, &[&piece, &bob], Verb::Transfer { edition: 0 });
    store
        .apply_mempool(&[(transfer.clone(), vec![pay(&fed, 10_000)])], &[], 2)
        .unwrap();
    assert_eq!(store.txs_paying(&piece).unwrap().len(), 2);
    assert_eq!(
        store.txs_paying(&piece).unwrap()[1].place,
        TxPlace::Unconfirmed
    );
    assert!(
        store.utxos(&fed, 0, 1).unwrap().is_empty(),
        "coin 1 spent in the mempool"
    );
    store
        .apply_mempool(&[], &[transfer.compute_txid()], 2)
        .unwrap();
    assert_eq!(
        store.txs_paying(&piece).unwrap().len(),
        1,
        "a dropped transaction disappears"
    );
    assert_eq!(store.utxos(&fed, 0, 1).unwrap().len(), 1, "its spend too");

    // It comes back and is mined in block 2: the mempool row becomes a confirmed one.
    store
        .apply_mempool(&[(transfer.clone(), vec![pay(&fed, 10_000)])], &[], 2)
        .unwrap();
    let b2 = block(b1.block_hash(), 300, vec![coinbase(2), transfer.clone()]);
    store
        .apply_blocks(&[data(
            2,
            b2.clone(),
            &[(transfer.compute_txid(), vec![pay(&fed, 10_000)])],
        )])
        .unwrap();
    let history = store.txs_paying(&piece).unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(
        history[1].place,
        TxPlace::Confirmed {
            height: 2,
            position: 1,
            time: 300
        }
    );
    assert!(store.utxos(&fed, 0, 2).unwrap().is_empty());
    assert!(store.is_watched(&bob).unwrap());

    // A fork at height 1: block 2 and what it brought are gone, coin 1 is unspent again,
    // bob (first seen in block 2) is no longer watched.
    store.rollback_to(1).unwrap();
    assert_eq!(store.tip().unwrap(), Some((1, b1.block_hash())));
    assert_eq!(store.txs_paying(&piece).unwrap().len(), 1);
    assert_eq!(store.utxos(&fed, 0, 1).unwrap().len(), 1);
    assert!(!store.is_watched(&bob).unwrap());
    assert!(
        store.is_watched(&fed).unwrap(),
        "the operator's list is never rolled back"
    );
    drop(store);

    // Reopened: the same answers; another network is refused.
    let store = Store::open(&path, Network::Regtest).unwrap();
    assert_eq!(store.tip().unwrap(), Some((1, b1.block_hash())));
    assert_eq!(store.txs_paying(&piece).unwrap().len(), 1);
    assert!(store.is_watched(&alice).unwrap());
    drop(store);
    let reader = Store::open_reader(&path, Network::Regtest).unwrap();
    assert_eq!(
        reader.txs_paying(&piece).unwrap().len(),
        1,
        "a reader sees the same"
    );
    assert!(reader.is_watched(&fed).unwrap());
    drop(reader);
    assert!(matches!(
        Store::open_reader(&path, Network::Testnet),
        Err(IndexError::WrongNetwork { .. })
    ));
    match Store::open(&path, Network::Testnet) {
        Err(err @ IndexError::WrongNetwork { .. }) => {
            assert!(err.to_string().contains("regtest"), "{err}")
        }
        other => panic!("another network gave {other:?}"),
    }
}

#[test]
fn mempool_chains_spend_their_parents() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index.sqlite");
    let fed = script(1);
    let mut store = Store::open(&path, Network::Regtest).unwrap();
    store.watch(std::slice::from_ref(&fed)).unwrap();
    // Parent and child arrive in one mempool read, child first.
    let parent = tx(
        &[OutPoint {
            txid: Txid::all_zeros(),
            vout: 1,
        }],
        vec![pay(&fed, 5000)],
    );
    let child = tx(
        &[OutPoint {
            txid: parent.compute_txid(),
            vout: 0,
        }],
        vec![pay(&script(9), 4000)],
    );
    store
        .apply_mempool(&[(child, vec![]), (parent, vec![])], &[], 0)
        .unwrap();
    assert!(
        store.utxos(&fed, 0, 0).unwrap().is_empty(),
        "the child spends the parent's output"
    );
}

/// `txs_in_scope` answers as `Scope::select` over all the piece's transactions: confirmed
/// and pending events of several editions, a pending chain whose ancestors belong to other
/// editions, and a forgery; also on a file written before the edition column, which is
/// filled on the first open for writing.
#[test]
fn an_editions_scope_is_read_without_the_rest_of_the_piece() {
    use spool_protocol::scope::Scope;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index.sqlite");
    let (fed, piece, alice, bob) = (script(1), script(4), script(2), script(3));
    let piece_address = bitcoin::Address::from_script(&piece, Network::Regtest).unwrap();
    let mut store = Store::open(&path, Network::Regtest).unwrap();
    store.watch(std::slice::from_ref(&fed)).unwrap();
    let coin = |n: u32| OutPoint {
        txid: Txid::all_zeros(),
        vout: n,
    };
    let register0 = spool(coin(1), &[&piece, &alice], Verb::Register { edition: 0 });
    let editions = spool(coin(2), &[&piece, &alice], Verb::Editions { count: 5 });
    let confirmed: Vec<Transaction> = (1..=5)
        .map(|n| {
            spool(
                coin(10 + n),
                &[&piece, &alice],
                Verb::Register { edition: n as u64 },
            )
        })
        .collect();
    let mut txs = vec![coinbase(1), register0, editions];
    txs.extend(confirmed);
    store
        .apply_blocks(&[data(0, block(BlockHash::all_zeros(), 1, txs), &[])])
        .unwrap();
    // Pending: a transfer of edition 2, then one of edition 3 spending its first output,
    // then one of edition 4 spending that: edition 4's scope needs both as ancestors.
    let t2 = spool(coin(30), &[&piece, &bob], Verb::Transfer { edition: 2 });
    let t3 = spool(
        OutPoint {
            txid: t2.compute_txid(),
            vout: 0,
        },
        &[&piece, &bob],
        Verb::Transfer { edition: 3 },
    );
    let t4 = spool(
        OutPoint {
            txid: t3.compute_txid(),
            vout: 0,
        },
        &[&piece, &bob],
        Verb::Transfer { edition: 4 },
    );
    // A forgery of edition 5 paying the piece in its second output.
    let forged = spool(coin(40), &[&bob, &piece], Verb::Transfer { edition: 5 });
    let mempool: Vec<(Transaction, Vec<TxOut>)> = [t2, t3, t4, forged]
        .into_iter()
        .map(|t| (t, vec![pay(&fed, 10_000)]))
        .collect();
    store.apply_mempool(&mempool, &[], 1).unwrap();

    let check = |store: &Store| {
        let all = store.txs_paying(&piece).unwrap();
        for n in 0..=6 {
            let scope = Scope::edition(n);
            let expected: Vec<Txid> = scope
                .select(&piece_address, &all)
                .into_iter()
                .map(|t| t.txid())
                .collect();
            let got: Vec<Txid> = store
                .txs_in_scope(&piece_address, scope)
                .unwrap()
                .iter()
                .map(|t| t.txid())
                .collect();
            assert_eq!(got, expected, "edition {n}");
        }
        let four = store
            .txs_in_scope(&piece_address, Scope::edition(4))
            .unwrap();
        assert_eq!(
            four.len(),
            3 + 3,
            "REGISTER0, EDITIONS, REGISTER4 and three pending"
        );
    };
    check(&store);

    // The same file as an older spool-rs wrote it: no edition column.
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "DROP INDEX spool_scripts_edition;
         ALTER TABLE spool_scripts DROP COLUMN edition;
         DELETE FROM meta WHERE key = 'script_editions';",
    )
    .unwrap();
    drop(conn);
    let store = Store::open(&path, Network::Regtest).unwrap();
    check(&store);
}

/// `utxo_sample` is `utxos` cut to `per_value` outputs of each value, from a start outpoint
/// (rotating the list), without the held ones; it honours `min_conf` and mempool spends.
#[test]
fn a_sample_is_the_list_cut_per_value_from_its_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("index.sqlite"), Network::Regtest).unwrap();
    let (fed, other) = (script(1), script(2));
    store.watch(&[fed.clone(), other.clone()]).unwrap();
    // Forty funding transactions (40 txids to rotate among): each pays the federation a
    // token, a fuel and a stranger's output; block 1 adds twelve tokens more.
    let funding: Vec<Transaction> = (0..40u32)
        .map(|n| {
            tx(
                &[OutPoint {
                    txid: Txid::all_zeros(),
                    vout: n,
                }],
                vec![pay(&fed, 3000), pay(&fed, 30_000), pay(&other, 3000)],
            )
        })
        .collect();
    let b0 = block(
        BlockHash::all_zeros(),
        100,
        std::iter::once(coinbase(0))
            .chain(funding.clone())
            .collect(),
    );
    let late = tx(
        &[OutPoint {
            txid: Txid::all_zeros(),
            vout: 99,
        }],
        (0..12).map(|_| pay(&fed, 3000)).collect(),
    );
    let b1 = block(b0.block_hash(), 200, vec![coinbase(1), late.clone()]);
    store
        .apply_blocks(&[data(0, b0, &[]), data(1, b1, &[])])
        .unwrap();
    // The mempool spends three federation tokens.
    let spent: Vec<OutPoint> = funding[..3]
        .iter()
        .map(|t| OutPoint {
            txid: t.compute_txid(),
            vout: 0,
        })
        .collect();
    let spender = tx(&spent, vec![pay(&other, 8000)]);
    let prevouts = vec![pay(&fed, 3000); 3];
    store.apply_mempool(&[(spender, prevouts)], &[], 2).unwrap();

    let none = |_: &OutPoint| false;
    let outpoints = |u: &[spool_protocol::chain::Utxo]| {
        let mut v: Vec<(u64, OutPoint)> =
            u.iter().map(|u| (u.value.to_sat(), u.outpoint)).collect();
        v.sort();
        v
    };
    for (min_conf, tokens) in [(0, 37 + 12), (1, 37 + 12), (2, 37)] {
        let all = store.utxos(&fed, min_conf, 1).unwrap();
        assert_eq!(all.len(), tokens + 40, "min_conf {min_conf}");
        // A sample as large as the list is the list, from any start.
        for start in [[0u8; 32], [0x80; 32], [0xff; 32]] {
            let sample = store
                .utxo_sample(&fed, min_conf, 1, 1000, &start, &none)
                .unwrap();
            assert_eq!(outpoints(&sample), outpoints(&all), "min_conf {min_conf}");
            assert_eq!(
                sample.iter().map(|u| u.confirmations).sum::<u32>(),
                all.iter().map(|u| u.confirmations).sum::<u32>()
            );
        }
    }
    // Cut to 5 of each value: the first 5 of each value's list (in outpoint order) from the
    // start, wrapping around.
    let all = store.utxos(&fed, 1, 1).unwrap();
    let of_value = |sat: u64| -> Vec<OutPoint> {
        let mut v: Vec<OutPoint> = all
            .iter()
            .filter(|u| u.value.to_sat() == sat)
            .map(|u| u.outpoint)
            .collect();
        v.sort_by_key(|o| (o.txid.to_byte_array(), o.vout));
        v
    };
    for sat in [3000, 30_000] {
        let list = of_value(sat);
        for at in [0, 7, list.len() - 2] {
            let start = list[at].txid.to_byte_array();
            let sample: Vec<OutPoint> = store
                .utxo_sample(&fed, 1, 1, 5, &start, &none)
                .unwrap()
                .into_iter()
                .filter(|u| u.value.to_sat() == sat)
                .map(|u| u.outpoint)
                .collect();
            // The first outpoint at or after the start's txid: a txid's first output.
            let first = list
                .iter()
                .position(|o| o.txid.to_byte_array() >= start)
                .unwrap();
            let want: Vec<OutPoint> = list.iter().cycle().skip(first).take(5).copied().collect();
            assert_eq!(sample, want, "value {sat}, start at {at}");
        }
    }
    // Held outputs are skipped and replaced by the next ones.
    let tokens = of_value(3000);
    let held: std::collections::HashSet<OutPoint> = tokens[..2].iter().copied().collect();
    let sample = store
        .utxo_sample(&fed, 1, 1, 5, &[0; 32], &|o| held.contains(o))
        .unwrap();
    let got: Vec<OutPoint> = sample
        .iter()
        .filter(|u| u.value.to_sat() == 3000)
        .map(|u| u.outpoint)
        .collect();
    assert_eq!(got, tokens[2..7].to_vec());
    // Nothing for a per_value of 0, or for a script without outputs.
    assert!(store
        .utxo_sample(&fed, 1, 1, 0, &[0; 32], &none)
        .unwrap()
        .is_empty());
    assert!(store
        .utxo_sample(&script(9), 0, 1, 5, &[0; 32], &none)
        .unwrap()
        .is_empty());
}

/// A sample is for spending: of a wallet funded by 110 coinbases (a regtest wallet mined to),
/// only the 11 with 100 confirmations or more can be drawn, whatever the start; the full list
/// still holds them all.
#[test]
fn a_sample_leaves_out_coinbases_not_yet_spendable() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("index.sqlite"), Network::Regtest).unwrap();
    let miner = script(200);
    store.watch(std::slice::from_ref(&miner)).unwrap();
    let mut prev = BlockHash::all_zeros();
    let mut blocks = Vec::new();
    for height in 0..110u8 {
        let b = block(prev, 100 + u32::from(height), vec![coinbase(height)]);
        prev = b.block_hash();
        blocks.push(data(u64::from(height), b, &[]));
    }
    store.apply_blocks(&blocks).unwrap();
    let tip = 109;
    assert_eq!(store.utxos(&miner, 1, tip).unwrap().len(), 110);
    let none = |_: &OutPoint| false;
    for start in [[0u8; 32], [0x80; 32], [0xff; 32]] {
        let sample = store
            .utxo_sample(&miner, 1, tip, 64, &start, &none)
            .unwrap();
        assert_eq!(sample.len(), 11, "start {:x}", start[0]);
        assert!(sample
            .iter()
            .all(|u| u.is_coinbase && u.confirmations >= 100));
    }
}
