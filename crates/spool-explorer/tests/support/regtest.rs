//! The seed's walkthrough on a real `bitcoind -regtest` (pyspool's documentation example,
//! as `cargo xtask demo` runs it), built with spool-wallet and spool-tx and sent through the
//! Core backend, plus a forged transfer and a registration left in the mempool. The chain's
//! transactions are then read back through the Core backend into an in-memory source.

use std::collections::BTreeMap;
use std::path::PathBuf;

use bitcoin::{Address, BlockHash, Network, Txid};
use spool_backend::core::{CoreAuth, CoreBackend};
use spool_backend::Backend;
use spool_explorer::memory::MemorySource;
use spool_explorer::SyncStatus;
use spool_protocol::file_hash::FileHashes;
use spool_protocol::verb::{LoanDate, Verb};
use spool_testenv::Node;
use spool_tx::{build_action, build_refill, build_refill_main, BuiltTx, TxParams};
use spool_wallet::{LeafPath, MasterSecret, SigningKey, Wallet};

const NET: Network = Network::Regtest;

/// What the walkthrough made, to check the pages against.
pub struct Walkthrough {
    pub node: Node,
    pub source: MemorySource,
    pub federation: Address,
    pub image: PathBuf,
    pub piece: Address,
    pub piece_metadata: Address,
    pub user1_root: Address,
    pub user1_leaf: Address,
    pub user2_leaf: Address,
    pub user3_leaf: Address,
    /// The piece's SPOOL transactions in the order they were sent.
    pub piece_txids: Vec<Txid>,
    /// user1's transfer of edition 1 after giving it away.
    pub forged: Txid,
    /// The registration of edition 2, never mined.
    pub pending: Txid,
    /// The federation's refills of the users (FUEL), in order.
    pub refills: Vec<Txid>,
}

fn wallet(secret: &str) -> Wallet {
    Wallet::from_secret(&MasterSecret::new(secret), NET).expect("wallet")
}

struct Sender {
    /// The refills sent, in order.
    refills: std::sync::Mutex<Vec<Txid>>,
    /// Every transaction sent, in order.
    sent: std::sync::Mutex<Vec<Txid>>,
    node: Node,
    backend: CoreBackend,
    params: TxParams,
    sink: Address,
}

impl Sender {
    async fn broadcast(&self, built: BuiltTx, mine: bool) -> Txid {
        let txid = self
            .backend
            .broadcast(&built.tx)
            .await
            .unwrap_or_else(|e| panic!("broadcast {}: {e}", built.txid()));
        self.sent.lock().unwrap().push(txid);
        if mine {
            self.node.mine_to(&self.sink, 1).expect("mine a block");
        }
        txid
    }

    async fn utxos(&self, key: &SigningKey) -> Vec<spool_tx::Utxo> {
        self.backend
            .utxos(&key.address(), 0)
            .await
            .expect("list utxos")
    }

    async fn action(
        &self,
        key: &SigningKey,
        verb: Verb,
        recipients: &[&Address],
        mine: bool,
    ) -> Txid {
        let utxos = self.utxos(key).await;
        let recipients: Vec<Address> = recipients.iter().map(|a| (*a).clone()).collect();
        let built = build_action(&self.params, &verb, &recipients, &utxos, key)
            .unwrap_or_else(|e| panic!("build {verb}: {e}"));
        self.broadcast(built, mine).await
    }

    async fn refill(&self, federation: &SigningKey, to: &Address, tokens: usize) -> Txid {
        let txid = self.refill_unrecorded(federation, to, tokens).await;
        self.refills.lock().unwrap().push(txid);
        txid
    }

    async fn refill_unrecorded(
        &self,
        federation: &SigningKey,
        to: &Address,
        tokens: usize,
    ) -> Txid {
        let utxos = self.utxos(federation).await;
        let built = build_refill(&self.params, to, 1, tokens, &utxos, federation)
            .unwrap_or_else(|e| panic!("refill {to}: {e}"));
        self.broadcast(built, true).await
    }
}

/// Runs the walkthrough on a fresh node.
pub async fn walkthrough() -> Walkthrough {
    let node = Node::start().unwrap_or_else(|e| {
        panic!("a regtest bitcoind is needed (BITCOIND_EXE, PATH or `cargo xtask bitcoind`): {e}")
    });
    let backend = CoreBackend::new(&node.rpc_url(), CoreAuth::Cookie(node.cookie_file()), NET)
        .expect("core backend");
    let refill = wallet("explorer refill")
        .signing_key(&LeafPath::root())
        .unwrap();
    let federation = wallet("explorer federation")
        .signing_key(&LeafPath::root())
        .unwrap();
    let (user1, user2, user3) = (
        wallet("explorer user1"),
        wallet("explorer user2"),
        wallet("explorer user3"),
    );
    let leaf = |w: &Wallet, path: &str| w.signing_key(&LeafPath::parse(path).unwrap()).unwrap();
    let user1_key = leaf(&user1, "2015/5/22/10/0/0/1");
    let user2_key = leaf(&user2, "2015/5/22/10/0/0/2");
    let user3_key = leaf(&user3, "2015/5/22/10/0/0/3");
    let user1_root = user1.root_address();
    let (user1_leaf, user2_leaf, user3_leaf) = (
        user1_key.address(),
        user2_key.address(),
        user3_key.address(),
    );

    let image = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../vectors/ascribe.png");
    let metadata: BTreeMap<String, String> = [
        ("artist_name".to_owned(), "Rodolphe Marques".to_owned()),
        ("title".to_owned(), "ascribe".to_owned()),
    ]
    .into();
    let hashes = FileHashes::from_reader(
        std::fs::File::open(&image).expect("vectors/ascribe.png"),
        NET,
        &metadata,
    )
    .unwrap();
    let parse = |a: &str| {
        a.parse::<Address<_>>()
            .unwrap()
            .require_network(NET)
            .unwrap()
    };
    let piece = parse(&hashes.file_hash);
    let piece_metadata = parse(&hashes.file_hash_metadata);

    let sender = Sender {
        sent: std::sync::Mutex::new(Vec::new()),
        refills: std::sync::Mutex::new(Vec::new()),
        node,
        backend,
        params: TxParams::default(),
        sink: refill.address(),
    };
    sender.node.mine_to(&refill.address(), 101).expect("mine");
    let utxos = sender.utxos(&refill).await;
    let funded = build_refill_main(
        &sender.params,
        &federation.address(),
        40,
        40,
        &utxos,
        &refill,
    )
    .expect("refill the federation");
    sender.broadcast(funded, true).await;

    let p = (&piece, &piece_metadata);
    let mut piece_txids = Vec::new();
    let fed = &federation;
    piece_txids.push(
        sender
            .action(
                fed,
                Verb::Register { edition: 0 },
                &[p.0, p.1, &user1_root],
                true,
            )
            .await,
    );
    piece_txids.push(
        sender
            .action(
                fed,
                Verb::Editions { count: 10 },
                &[p.0, p.1, &user1_root],
                true,
            )
            .await,
    );
    piece_txids.push(
        sender
            .action(
                fed,
                Verb::Register { edition: 1 },
                &[p.0, p.1, &user1_leaf],
                true,
            )
            .await,
    );
    sender.refill(fed, &user1_leaf, 1).await;
    piece_txids.push(
        sender
            .action(
                &user1_key,
                Verb::Transfer { edition: 1 },
                &[p.0, &user2_leaf],
                true,
            )
            .await,
    );
    sender.refill(fed, &user2_leaf, 1).await;
    piece_txids.push(
        sender
            .action(
                &user2_key,
                Verb::Consign { edition: 1 },
                &[p.0, &user3_leaf],
                true,
            )
            .await,
    );
    sender.refill(fed, &user3_leaf, 1).await;
    piece_txids.push(
        sender
            .action(
                &user3_key,
                Verb::Unconsign { edition: 1 },
                &[p.0, &user2_leaf],
                true,
            )
            .await,
    );
    sender.refill(fed, &user2_leaf, 1).await;
    let loan = Verb::Loan {
        edition: 1,
        start: LoanDate::parse("150522").unwrap(),
        end: LoanDate::parse("150523").unwrap(),
    };
    piece_txids.push(
        sender
            .action(&user2_key, loan, &[p.0, &user3_leaf], true)
            .await,
    );
    // Forged: user1 gave edition 1 away, and transfers it again.
    sender.refill(fed, &user1_leaf, 2).await;
    let forged = sender
        .action(
            &user1_key,
            Verb::Transfer { edition: 1 },
            &[p.0, &user3_leaf],
            true,
        )
        .await;
    piece_txids.push(forged);
    // Pending: edition 2 registered, never mined.
    let pending = sender
        .action(
            fed,
            Verb::Register { edition: 2 },
            &[p.0, p.1, &user1_root],
            false,
        )
        .await;
    piece_txids.push(pending);

    // Everything the explorer shows comes back through the backend: the piece's history, and
    // every transaction sent (the backend's address history holds only unspent outputs'
    // transactions, so spent refills are read by txid).
    let mut txs = sender
        .backend
        .address_transactions(&piece)
        .await
        .expect("piece transactions");
    assert_eq!(
        txs.len(),
        piece_txids.len(),
        "every piece transaction is seen"
    );
    for address in [
        &user1_root,
        &user1_leaf,
        &user2_leaf,
        &user3_leaf,
        &federation.address(),
    ] {
        txs.extend(
            sender
                .backend
                .address_transactions(address)
                .await
                .expect("address transactions"),
        );
    }
    let sent = sender.sent.lock().unwrap().clone();
    for txid in &sent {
        txs.push(
            sender
                .backend
                .transaction(txid)
                .await
                .unwrap_or_else(|e| panic!("read back {txid}: {e}")),
        );
    }
    let refills = sender.refills.lock().unwrap().clone();
    let info = sender
        .node
        .call("getblockchaininfo", &[])
        .expect("getblockchaininfo");
    let height = info["blocks"].as_u64().unwrap();
    let hash: BlockHash = info["bestblockhash"].as_str().unwrap().parse().unwrap();
    let status = SyncStatus {
        indexed_height: height,
        indexed_hash: hash,
        node_height: height,
        synced: true,
    };
    let source = MemorySource::new(NET, status, txs);
    Walkthrough {
        node: sender.node,
        source,
        federation: federation.address(),
        image,
        piece,
        piece_metadata,
        user1_root,
        user1_leaf,
        user2_leaf,
        user3_leaf,
        piece_txids,
        forged,
        pending,
        refills,
    }
}
