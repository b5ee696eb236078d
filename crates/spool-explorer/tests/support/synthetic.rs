//! Synthetic SPOOL transactions (unsigned, never on a chain) for tests that need a history
//! without a node: the history rules read addresses and verbs, not signatures.

use bitcoin::absolute::LockTime;
use bitcoin::hashes::{hash160, Hash};
use bitcoin::transaction::Version;
use bitcoin::{
    Address, Amount, Network, OutPoint, PubkeyHash, ScriptBuf, Sequence, Transaction, TxIn, TxOut,
    Txid, Witness,
};
use spool_protocol::chain::{ChainTx, TxPlace};
use spool_protocol::verb::Verb;

pub const NET: Network = Network::Regtest;

/// A regtest P2PKH address named after `name` (hash160 of the name).
pub fn addr(name: &str) -> Address {
    Address::p2pkh(
        PubkeyHash::from_raw_hash(hash160::Hash::hash(name.as_bytes())),
        NET,
    )
}

/// Builds a chain of SPOOL transactions, one per block unless told otherwise.
#[derive(Default)]
pub struct Chain {
    pub txs: Vec<ChainTx>,
    height: u64,
}

impl Chain {
    /// A transaction from `from` paying TOKEN to each recipient, then the verb's OP_RETURN,
    /// mined in the next block.
    pub fn push(&mut self, from: &Address, recipients: &[&Address], verb: Verb) -> Txid {
        self.height += 1;
        let place = TxPlace::Confirmed {
            height: 100 + self.height,
            position: 1,
            time: 1_700_000_000 + self.height * 600,
        };
        self.push_at(from, recipients, verb, place)
    }

    /// The same, left in the mempool.
    pub fn push_pending(&mut self, from: &Address, recipients: &[&Address], verb: Verb) -> Txid {
        self.push_at(from, recipients, verb, TxPlace::Unconfirmed)
    }

    fn push_at(
        &mut self,
        from: &Address,
        recipients: &[&Address],
        verb: Verb,
        place: TxPlace,
    ) -> Txid {
        let seed = self.txs.len() as u64;
        let mut output: Vec<TxOut> = recipients
            .iter()
            .map(|r| TxOut {
                value: Amount::from_sat(3_000),
                script_pubkey: r.script_pubkey(),
            })
            .collect();
        output.push(TxOut {
            value: Amount::ZERO,
            script_pubkey: verb.op_return_script(),
        });
        let chain_tx = ChainTx {
            tx: Transaction {
                version: Version::ONE,
                lock_time: LockTime::ZERO,
                input: vec![TxIn {
                    previous_output: OutPoint::new(Txid::hash(&seed.to_le_bytes()), 0),
                    script_sig: ScriptBuf::new(),
                    sequence: Sequence::MAX,
                    witness: Witness::new(),
                }],
                output,
            },
            prevouts: vec![TxOut {
                value: Amount::from_sat(30_000),
                script_pubkey: from.script_pubkey(),
            }],
            place,
        };
        let txid = chain_tx.txid();
        self.txs.push(chain_tx);
        txid
    }
}

/// The cast of the standard synthetic piece.
pub struct Cast {
    pub federation: Address,
    pub piece: Address,
    pub meta: Address,
    pub artist: Address,
    pub alice: Address,
    pub bob: Address,
    pub mallory: Address,
}

impl Cast {
    pub fn new() -> Cast {
        Cast {
            federation: addr("federation"),
            piece: addr("piece"),
            meta: addr("piece meta"),
            artist: addr("artist"),
            alice: addr("alice"),
            bob: addr("bob"),
            mallory: addr("mallory"),
        }
    }
}

/// A piece with 10 editions, registered out of numeric order (10 before 2), edition 1
/// transferred artist -> alice -> bob, a forged transfer of edition 1 by mallory, and a
/// pending transfer of edition 2. Returns the chain; the forged txid is the second value and
/// the pending txid the third.
pub fn standard_piece(cast: &Cast) -> (Chain, Txid, Txid) {
    let mut chain = Chain::default();
    let reg = [&cast.piece, &cast.meta, &cast.artist];
    chain.push(&cast.federation, &reg, Verb::Piece);
    chain.push(&cast.federation, &reg, Verb::Editions { count: 10 });
    for edition in [1, 10, 2, 3, 4, 5, 6, 7, 8, 9] {
        chain.push(&cast.federation, &reg, Verb::Register { edition });
    }
    chain.push(
        &cast.artist,
        &[&cast.piece, &cast.alice],
        Verb::Transfer { edition: 1 },
    );
    chain.push(
        &cast.alice,
        &[&cast.piece, &cast.bob],
        Verb::Transfer { edition: 1 },
    );
    let forged = chain.push(
        &cast.mallory,
        &[&cast.piece, &cast.mallory],
        Verb::Transfer { edition: 1 },
    );
    let pending = chain.push_pending(
        &cast.artist,
        &[&cast.piece, &cast.alice],
        Verb::Transfer { edition: 2 },
    );
    (chain, forged, pending)
}
