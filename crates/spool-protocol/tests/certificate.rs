//! Provenance certificates on synthetic regtest chains built in process (real headers mined
//! against regtest's bits, real merkle trees, coinbases with BIP 34 heights, previous
//! transactions that prove the senders): issue, the JSON round trip, offline verification,
//! and every tampering caught by its own typed error.

mod support;

use std::collections::BTreeMap;

use spool_protocol::bitcoin::absolute::LockTime;
use spool_protocol::bitcoin::block::{Header, Version as BlockVersion};
use spool_protocol::bitcoin::consensus::encode::{deserialize_hex, serialize, serialize_hex};
use spool_protocol::bitcoin::hashes::Hash;
use spool_protocol::bitcoin::script::Builder;
use spool_protocol::bitcoin::transaction::Version;
use spool_protocol::bitcoin::{
    Amount, BlockHash, CompactTarget, MerkleBlock, Network, OutPoint, ScriptBuf, Sequence,
    Transaction, TxIn, TxMerkleNode, TxOut, Txid, Witness,
};
use spool_protocol::certificate::{
    coinbase_branch, Certificate, IssueInput, VerifyError, BURIAL_HEADERS,
};
use spool_protocol::chain::{ChainTx, TxInclusion, TxPlace};
use spool_protocol::history::{BuildOptions, History};
use spool_protocol::ownership::Ownership;
use support::{addr, script, typed, Script, NET};

/// A regtest chain holding a script's transactions, each in its own block (with filler
/// transactions so the trees have depth), funded by previous transactions.
struct ProvenChain {
    txs: Vec<ChainTx>,
    previous: Vec<Transaction>,
    inclusions: BTreeMap<Txid, TxInclusion>,
    headers: BTreeMap<u64, Header>,
    blocks: BTreeMap<u64, Vec<Transaction>>,
    tip: (u64, BlockHash),
}

fn coinbase(height: u64) -> Transaction {
    Transaction {
        version: Version::ONE,
        lock_time: LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint::null(),
            script_sig: Builder::new()
                .push_int(height as i64)
                .push_slice([0xab; 4])
                .into_script(),
            sequence: Sequence::MAX,
            witness: Witness::new(),
        }],
        output: vec![TxOut {
            value: Amount::from_sat(50_0000_0000),
            script_pubkey: script(&addr("miner")),
        }],
    }
}

fn filler(height: u64, i: u64) -> Transaction {
    Transaction {
        version: Version::TWO,
        lock_time: LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint {
                txid: Txid::hash(&(height * 1000 + i).to_le_bytes()),
                vout: 0,
            },
            script_sig: ScriptBuf::new(),
            sequence: Sequence::MAX,
            witness: Witness::new(),
        }],
        output: vec![TxOut {
            value: Amount::from_sat(1000 + i),
            script_pubkey: script(&addr("someone")),
        }],
    }
}

/// A header at regtest's bits whose proof of work holds.
fn mine(prev: BlockHash, merkle_root: TxMerkleNode, height: u64) -> Header {
    let mut header = Header {
        version: BlockVersion::from_consensus(0x2000_0000),
        prev_blockhash: prev,
        merkle_root,
        time: 1_600_000_000 + height as u32 * 600,
        bits: CompactTarget::from_consensus(0x207f_ffff),
        nonce: 0,
    };
    while header.validate_pow(header.target()).is_err() {
        header.nonce += 1;
    }
    header
}

fn merkle_root(txids: &[Txid]) -> TxMerkleNode {
    spool_protocol::bitcoin::merkle_tree::calculate_root(
        txids
            .iter()
            .map(|t| TxMerkleNode::from_raw_hash(t.to_raw_hash())),
    )
    .unwrap()
}

/// Puts `script`'s transactions (heights from their places) in mined blocks, adding
/// `extra` transactions beside them in the block of the same height.
fn prove(script: &Script, extra: &[(u64, Transaction)], burial: u64) -> ProvenChain {
    let mut txs = script.txs.clone();
    let mut previous = Vec::new();
    // Each sender funded by a previous transaction: the SPOOL transaction spends it.
    for (i, chain_tx) in txs.iter_mut().enumerate() {
        let funding = Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: vec![TxIn {
                previous_output: OutPoint {
                    txid: Txid::hash(&(9_000_000 + i as u64).to_le_bytes()),
                    vout: 0,
                },
                script_sig: ScriptBuf::new(),
                sequence: Sequence::MAX,
                witness: Witness::new(),
            }],
            output: chain_tx.prevouts.clone(),
        };
        for (vout, input) in chain_tx.tx.input.iter_mut().enumerate() {
            input.previous_output = OutPoint {
                txid: funding.compute_txid(),
                vout: vout as u32,
            };
        }
        previous.push(funding);
    }
    let first = txs.iter().filter_map(|t| t.place.height()).min().unwrap();
    let last = txs.iter().filter_map(|t| t.place.height()).max().unwrap() + burial;
    let mut headers = BTreeMap::new();
    let mut blocks = BTreeMap::new();
    let mut inclusions = BTreeMap::new();
    let mut prev = BlockHash::all_zeros();
    for height in first..=last {
        let mut block = vec![coinbase(height)];
        let ours: Vec<usize> = (0..txs.len())
            .filter(|&i| txs[i].place.height() == Some(height))
            .collect();
        for (k, &i) in ours.iter().enumerate() {
            block.push(filler(height, k as u64));
            block.push(txs[i].tx.clone());
        }
        for (h, tx) in extra {
            if *h == height {
                block.push(tx.clone());
            }
        }
        if block.len() > 1 {
            block.push(filler(height, 99));
        }
        let txids: Vec<Txid> = block.iter().map(Transaction::compute_txid).collect();
        let header = mine(prev, merkle_root(&txids), height);
        prev = header.block_hash();
        for &i in &ours {
            let txid = txs[i].txid();
            let position = txids.iter().position(|t| *t == txid).unwrap() as u32;
            txs[i].place = TxPlace::Confirmed {
                height,
                position,
                time: u64::from(header.time),
            };
        }
        for (position, txid) in txids.iter().enumerate().skip(1) {
            inclusions.insert(
                *txid,
                TxInclusion {
                    height,
                    merkle_block: MerkleBlock::from_header_txids_with_predicate(
                        &header,
                        &txids,
                        |t| t == txid,
                    ),
                    coinbase: block[0].clone(),
                    coinbase_branch: coinbase_branch(&txids),
                },
            );
            let _ = position;
        }
        headers.insert(height, header);
        blocks.insert(height, block);
    }
    ProvenChain {
        txs,
        previous,
        inclusions,
        headers,
        blocks,
        tip: (last, prev),
    }
}

/// The seed's walkthrough for edition 1 (registration, transfer, consign, loan), and a
/// forged transfer by a stranger.
fn walkthrough() -> (Script, [String; 5]) {
    let [fed, artist, alice, gallery, mallory] =
        ["federation", "artist", "alice", "gallery", "mallory"].map(addr);
    let mut s = Script::new("piece");
    s.federated(&fed, "ASCRIBESPOOL01REGISTER0", &artist)
        .federated(&fed, "ASCRIBESPOOL01EDITIONS3", &artist)
        .federated(&fed, "ASCRIBESPOOL01REGISTER1", &artist)
        .federated(&fed, "ASCRIBESPOOL01REGISTER2", &artist)
        .owner(&artist, "ASCRIBESPOOL01TRANSFER1", &alice)
        .owner(&mallory, "ASCRIBESPOOL01TRANSFER1", &mallory)
        .owner(&alice, "ASCRIBESPOOL01CONSIGN1", &gallery)
        .owner(&artist, "ASCRIBESPOOL01TRANSFER2", &mallory);
    (s, [fed, artist, alice, gallery, mallory])
}

fn issue(script: &Script, chain: &ProvenChain, federation: &[String], edition: u64) -> Certificate {
    let piece = typed(&script.piece);
    Certificate::issue(IssueInput {
        network: NET,
        piece: &piece,
        edition,
        federation,
        tip_height: chain.tip.0,
        tip_hash: chain.tip.1,
        issued_at: 1_700_000_000,
        issuer: "certificate tests",
        txs: &chain.txs,
        previous: &chain.previous,
        inclusions: &chain.inclusions,
        headers: &chain.headers,
    })
    .expect("issued")
}

fn certified() -> (Script, ProvenChain, Certificate, [String; 5]) {
    let (script, cast) = walkthrough();
    let chain = prove(&script, &[], BURIAL_HEADERS);
    let cert = issue(&script, &chain, std::slice::from_ref(&cast[0]), 1);
    (script, chain, cert, cast)
}

#[test]
fn issue_round_trip_and_verify_give_the_rules_state() {
    let (script, chain, cert, [fed, _artist, alice, gallery, _]) = certified();
    let text = cert.to_json();
    let parsed = Certificate::from_json(&text).unwrap();
    assert_eq!(parsed, cert);
    let report = parsed.verify().expect("verifies");
    // The owner is the consignor while consigned; the gallery is the consignee.
    assert_eq!(report.state.owner.as_deref(), Some(alice.as_str()));
    assert_eq!(report.state.consignee.as_deref(), Some(gallery.as_str()));
    assert!(report.state.registered);
    // Edition 2's registration and transfer are outside edition 1's scope: 6 of the 8
    // events are proven.
    assert_eq!(report.events, 6);
    assert_eq!(report.min_burial, Some(BURIAL_HEADERS));
    assert_eq!(report.trusted.len(), 2);
    assert!(report.trusted[0].contains("best chain"));
    assert!(report.trusted[1].contains("no later event"));
    // The same state as the whole piece's History.
    let history = History::build_with(
        &typed(&script.piece),
        NET,
        &chain.txs,
        &BuildOptions {
            federation: vec![fed],
            tip_height: Some(chain.tip.0),
            min_conf: 0,
        },
    )
    .unwrap();
    let ownership = Ownership::new(&history, "", 1);
    assert_eq!(report.state.owner, ownership.owner());
    assert_eq!(report.state.consignee, ownership.consignee());
    // What Core's verifytxoutproof reads: the proof is a MerkleBlock's consensus bytes.
    for event in &cert.events {
        let proof: MerkleBlock = deserialize_hex(&event.proof).unwrap();
        assert_eq!(serialize_hex(&proof), event.proof);
    }
}

fn expect(cert: &Certificate, what: &str, check: impl Fn(&VerifyError) -> bool) {
    match cert.verify() {
        Ok(_) => panic!("{what}: the tampered certificate verified"),
        Err(err) => assert!(check(&err), "{what}: wrong error {err:?}"),
    }
}

#[test]
fn a_byte_of_a_transaction() {
    let (_, _, mut cert, _) = certified();
    let mut bytes = spool_protocol::bitcoin::hex::FromHex::from_hex(&cert.events[4].tx)
        .map(|b: Vec<u8>| b)
        .unwrap();
    // version (4), input count (1), one unsigned input (41), output count (1): the first
    // output's value.
    let at = 4 + 1 + 41 + 1;
    bytes[at] ^= 1;
    cert.events[4].tx = spool_protocol::bitcoin::hex::DisplayHex::to_lower_hex_string(&bytes);
    expect(&cert, "a transaction byte", |e| {
        matches!(e, VerifyError::TxidMismatch { .. })
    });
}

#[test]
fn a_merkle_sibling() {
    let (_, _, mut cert, _) = certified();
    let proof: MerkleBlock = deserialize_hex(&cert.events[4].proof).unwrap();
    let mut bytes = serialize(&proof);
    // header (80), transaction count (4), hash count (1), then the hashes: flip one.
    bytes[80 + 4 + 1 + 3] ^= 0x40;
    cert.events[4].proof = spool_protocol::bitcoin::hex::DisplayHex::to_lower_hex_string(&bytes);
    expect(&cert, "a merkle sibling", |e| {
        matches!(e, VerifyError::NotIncluded { .. })
    });
}

#[test]
fn a_64_byte_transaction_presented_as_an_inner_node() {
    let (_, chain, mut cert, _) = certified();
    let event = cert.events[4].clone();
    let block = &chain.blocks[&event.height];
    let txids: Vec<TxMerkleNode> = block
        .iter()
        .map(|t| TxMerkleNode::from_raw_hash(t.compute_txid().to_raw_hash()))
        .collect();
    // The level above the leaves: each node is the hash of 64 bytes (two child hashes).
    let mut inner = Vec::new();
    let mut sixty_four = Vec::new();
    for pair in txids.chunks(2) {
        let right = *pair.get(1).unwrap_or(&pair[0]);
        let mut bytes = [0u8; 64];
        bytes[..32].copy_from_slice(pair[0].as_byte_array());
        bytes[32..].copy_from_slice(right.as_byte_array());
        sixty_four.push(bytes);
        inner.push(Txid::from_raw_hash(
            spool_protocol::bitcoin::hashes::sha256d::Hash::hash(&bytes),
        ));
    }
    // A proof one level shallower whose "transaction" is an inner node: it leads to the
    // same merkle root.
    let header = chain.headers[&event.height];
    let forged = MerkleBlock::from_header_txids_with_predicate(&header, &inner, |t| *t == inner[1]);
    let (mut m, mut i) = (Vec::new(), Vec::new());
    assert!(
        forged.extract_matches(&mut m, &mut i).is_ok(),
        "the forgery's root holds"
    );
    cert.events[4] = spool_protocol::certificate::EventProof {
        txid: inner[1],
        height: event.height,
        tx: spool_protocol::bitcoin::hex::DisplayHex::to_lower_hex_string(&sixty_four[1][..]),
        proof: serialize_hex(&forged),
    };
    expect(&cert, "a 64-byte transaction", |e| {
        matches!(e, VerifyError::DepthMismatch { .. })
    });
}

/// Rewrites the header at `height` in the runs.
fn set_header(cert: &mut Certificate, height: u64, header: &Header) {
    for run in &mut cert.headers {
        if (run.start..run.start + run.headers.len() as u64).contains(&height) {
            run.headers[(height - run.start) as usize] = serialize_hex(header);
        }
    }
}

#[test]
fn a_header_nonce_or_bits() {
    let (_, chain, cert, _) = certified();
    let height = cert.events[4].height + 1;
    let good = chain.headers[&height];
    // A nonce whose hash misses the target.
    let mut bad = good;
    while bad.validate_pow(bad.target()).is_ok() {
        bad.nonce = bad.nonce.wrapping_add(1);
    }
    let mut tampered = cert.clone();
    set_header(&mut tampered, height, &bad);
    expect(
        &tampered,
        "a nonce",
        |e| matches!(e, VerifyError::ProofOfWork { height: h } if *h == height),
    );
    // Bits asking for mainnet's work: the hash does not meet them.
    let mut hard = good;
    hard.bits = CompactTarget::from_consensus(0x1d00_ffff);
    let mut tampered = cert.clone();
    set_header(&mut tampered, height, &hard);
    expect(&tampered, "harder bits", |e| {
        matches!(e, VerifyError::ProofOfWork { .. })
    });
    // Bits above the network's limit.
    let mut easy = good;
    easy.bits = CompactTarget::from_consensus(0x2100_ffff);
    let mut tampered = cert.clone();
    set_header(&mut tampered, height, &easy);
    expect(&tampered, "bits above the limit", |e| {
        matches!(e, VerifyError::TargetAboveLimit { .. })
    });
}

#[test]
fn a_swapped_height() {
    let (_, _, mut cert, _) = certified();
    // Every height moved up by one, consistently: only the coinbases' BIP 34 heights tell.
    for run in &mut cert.headers {
        run.start += 1;
    }
    for block in &mut cert.blocks {
        block.height += 1;
    }
    for event in &mut cert.events {
        event.height += 1;
    }
    cert.tip.height += 1;
    expect(&cert, "a swapped height", |e| {
        matches!(e, VerifyError::CoinbaseHeight { .. })
    });
}

#[test]
fn a_claimed_owner_other_than_the_rules_give() {
    let (_, _, mut cert, [_, _, _, gallery, _]) = certified();
    cert.state.owner = Some(gallery);
    expect(&cert, "another owner", |e| {
        matches!(e, VerifyError::StateMismatch { field: "owner", .. })
    });
}

#[test]
fn a_transaction_of_another_piece_slipped_in() {
    let (script, _) = walkthrough();
    // Another piece's transaction in the same block as the consignment.
    let mut other = Script::new("another piece");
    other.federated(
        &addr("federation"),
        "ASCRIBESPOOL01REGISTER0",
        &addr("artist"),
    );
    let consign_height = script.txs[6].place.height().unwrap();
    // Its sender's funding is in the file too, so that only the scope tells.
    let funding = Transaction {
        version: Version::TWO,
        lock_time: LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint {
                txid: Txid::hash(b"another funding"),
                vout: 0,
            },
            script_sig: ScriptBuf::new(),
            sequence: Sequence::MAX,
            witness: Witness::new(),
        }],
        output: other.txs[0].prevouts.clone(),
    };
    let mut foreign = other.txs[0].tx.clone();
    foreign.input[0].previous_output = OutPoint {
        txid: funding.compute_txid(),
        vout: 0,
    };
    let chain = prove(
        &script,
        &[(consign_height, foreign.clone())],
        BURIAL_HEADERS,
    );
    let mut cert = issue(&script, &chain, &[addr("federation")], 1);
    let txid = foreign.compute_txid();
    let at = cert
        .events
        .iter()
        .position(|e| e.height == consign_height)
        .unwrap()
        + 1;
    cert.events.insert(
        at,
        spool_protocol::certificate::EventProof {
            txid,
            height: consign_height,
            tx: serialize_hex(&foreign),
            proof: serialize_hex(&chain.inclusions[&txid].merkle_block),
        },
    );
    cert.previous.push(serialize_hex(&funding));
    expect(&cert, "another piece's transaction", |e| {
        matches!(e, VerifyError::ForeignTransaction { .. })
    });
}

#[test]
fn another_network() {
    let (_, _, mut cert, _) = certified();
    cert.network = Network::Bitcoin;
    expect(&cert, "another network", |e| {
        matches!(e, VerifyError::WrongNetwork { .. })
    });
}

#[test]
fn unconfirmed_events_are_left_out_and_counted() {
    let (mut script, cast) = walkthrough();
    let mut pending = script.txs[4].clone();
    pending.place = TxPlace::Unconfirmed;
    pending.tx.lock_time = LockTime::from_consensus(7);
    script.txs.push(pending);
    let mut confirmed = clone_script(&script);
    confirmed.txs.truncate(8);
    let mut chain = prove(&confirmed, &[], BURIAL_HEADERS);
    chain.txs.push(script.txs[8].clone());
    let cert = issue(&script, &chain, std::slice::from_ref(&cast[0]), 1);
    assert_eq!(cert.unconfirmed_left_out, 1);
    assert_eq!(cert.events.len(), 6);
    cert.verify().unwrap();
}

fn clone_script(script: &Script) -> Script {
    let mut s = Script::new("piece");
    s.txs = script.txs.clone();
    s
}

mod property {
    use super::*;
    use proptest::prelude::*;

    const VERBS: [&str; 5] = [
        "ASCRIBESPOOL01TRANSFER1",
        "ASCRIBESPOOL01CONSIGN1",
        "ASCRIBESPOOL01UNCONSIGN1",
        "ASCRIBESPOOL01LOAN1/260101261231",
        "ASCRIBESPOOL01TRANSFER2",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Random histories (valid and invalid moves among four parties): issue, serialize,
        /// parse and verify round trip, and the verified state is the whole History's.
        #[test]
        fn issue_serialize_parse_verify_round_trips(
            steps in proptest::collection::vec((0..4usize, 0..VERBS.len(), 0..4usize), 0..18),
            edition in 1u64..=2,
        ) {
            let fed = addr("federation");
            let parties = ["p0", "p1", "p2", "p3"].map(addr);
            let mut script = Script::new("random piece");
            script
                .federated(&fed, "ASCRIBESPOOL01REGISTER0", &parties[0])
                .federated(&fed, "ASCRIBESPOOL01EDITIONS2", &parties[0])
                .federated(&fed, "ASCRIBESPOOL01REGISTER1", &parties[0])
                .federated(&fed, "ASCRIBESPOOL01REGISTER2", &parties[1]);
            for (from, verb, to) in steps {
                script.owner(&parties[from], VERBS[verb], &parties[to]);
            }
            let chain = prove(&script, &[], BURIAL_HEADERS);
            let cert = issue(&script, &chain, std::slice::from_ref(&fed), edition);
            let parsed = Certificate::from_json(&cert.to_json()).unwrap();
            prop_assert_eq!(&parsed, &cert);
            let report = parsed.verify().unwrap();
            let history = History::build_with(
                &typed(&script.piece),
                NET,
                &chain.txs,
                &BuildOptions {
                    federation: vec![fed],
                    tip_height: Some(chain.tip.0),
                    min_conf: 0,
                },
            )
            .unwrap();
            let ownership = Ownership::new(&history, "", edition);
            prop_assert_eq!(report.state.owner, ownership.owner());
            prop_assert_eq!(report.state.consignee, ownership.consignee());
            prop_assert_eq!(
                report.state.loans.iter().map(|l| l.borrower.clone()).collect::<Vec<_>>(),
                ownership.loans().into_iter().map(|l| l.borrower).collect::<Vec<_>>()
            );
        }
    }
}
