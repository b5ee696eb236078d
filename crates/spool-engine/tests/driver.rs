//! The engine's async driver embedded as a library (no CLI): a service drives
//! `Spool<CoreBackend>` directly on a real regtest node. The chains are set up with
//! spool-testenv's scenario builder, whose steps this harness sends through the engine.

use std::str::FromStr;
use std::time::Duration;

use bitcoin::{Address, Network, Txid};
use spool_backend::core::{CoreAuth, CoreBackend};
use spool_engine::plan::PlanError;
use spool_engine::request::MainRefill;
use spool_engine::store::Reservations;
use spool_engine::{EngineError, Request, SendOptions, Spool};
use spool_protocol::operation::{Operation, PieceHashes};
use spool_protocol::reason::Reason;
use spool_protocol::verb::Action;
use spool_testenv::scenario::{Driver, Party, Scenario, Step, FEDERATION};
use spool_wallet::{LeafPath, MasterSecret, SigningKey, Wallet};

fn wallet(secret: &str) -> Wallet {
    Wallet::from_secret(&MasterSecret::new(secret), Network::Regtest).unwrap()
}

fn address(text: &str) -> Address {
    Address::from_str(text)
        .unwrap()
        .require_network(Network::Regtest)
        .unwrap()
}

/// The piece of a scenario's `--piece FILE_HASH[,FILE_HASH_METADATA]`.
fn piece_hashes(text: &str) -> PieceHashes {
    let (file, meta) = text.split_once(',').unwrap_or((text, text));
    PieceHashes {
        file_hash: address(file),
        file_hash_metadata: address(meta),
    }
}

/// A regtest node and the engine over it, with reservations in a temporary directory; the
/// scenario's steps are sent through `Spool::send` (`--min-conf 1`).
struct Harness {
    node: spool_testenv::Node,
    spool: Spool<CoreBackend>,
    options: SendOptions,
    _dir: tempfile::TempDir,
}

impl Harness {
    fn start() -> Harness {
        let node =
            spool_testenv::Node::start().unwrap_or_else(|e| panic!("regtest node needed: {e}"));
        let backend = CoreBackend::new(
            &node.rpc_url(),
            CoreAuth::Cookie(node.cookie_file()),
            Network::Regtest,
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::new(backend, Reservations::open(dir.path()).unwrap());
        Harness {
            node,
            spool,
            options: SendOptions {
                min_conf: 1,
                ..SendOptions::default()
            },
            _dir: dir,
        }
    }

    fn key(&self, party: &Party, path: &str) -> SigningKey {
        wallet(party.secret)
            .signing_key(&LeafPath::parse(path).unwrap())
            .unwrap()
    }

    fn request(step: &Step) -> Request {
        match step {
            Step::RefillMain { to, fees, tokens } => {
                Request::RefillMain(MainRefill::new(address(to), *fees, *tokens).unwrap())
            }
            Step::Refill { to, fees, tokens } => {
                Request::from(Operation::refill(address(to), *fees, *tokens).unwrap())
            }
            // As the CLI's `register --edition N` (REGISTER0 for the master edition).
            Step::Register { piece, to, edition } => Request::from(Operation::register(
                &piece_hashes(piece),
                address(to),
                *edition,
            )),
            Step::Editions { piece, to, count } => Request::from(
                Operation::editions(&piece_hashes(piece), address(to), *count).unwrap(),
            ),
            other => panic!("the engine harness does not send {other:?} yet"),
        }
    }
}

impl Driver for Harness {
    fn address(&self, party: &Party, path: &str) -> String {
        self.key(party, path).address().to_string()
    }

    fn send(&self, party: &Party, path: &str, step: &Step) -> String {
        let key = self.key(party, path);
        let request = Harness::request(step);
        tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(async {
                self.spool
                    .send(&request, &key, &self.options)
                    .await
                    .unwrap_or_else(|e| panic!("{step:?}: {e}"))
                    .txid()
                    .to_string()
            })
        })
    }

    fn mine(&self, n: u64) {
        let sink = wallet("engine sink").root_address();
        self.node.mine_to(&sink, n).unwrap();
    }

    fn mine_to(&self, to: &str, n: u64) {
        self.node.mine_to(&address(to), n).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_engine_registers_checks_and_refuses() {
    let harness = Harness::start();
    let scenario = Scenario::funded(&harness, 4, 6);
    let spool = &harness.spool;
    let options = &harness.options;
    let federation = harness.key(&FEDERATION, "");
    let artist_root = wallet("engine artist").root_address();
    let piece = piece_hashes("mhXeWEMLnEwVNnyqKrqUDPAYSuwhfyNXA7");
    let mine = |n| harness.mine(n);
    let funded = Txid::from_str(&scenario.sent[0]).unwrap();
    spool
        .wait_confirmed(&funded, 1, Duration::from_secs(30))
        .await
        .unwrap();

    let register = Request::from(Operation::register_piece(&piece, artist_root.clone()));
    let sent = spool.send(&register, &federation, options).await.unwrap();
    assert!(sent.checked());
    assert_eq!(sent.from(), &federation.address());
    // Still in the mempool: the pre-check already sees it, and refuses a second master.
    let again = spool
        .prepare(&register, &federation, options)
        .await
        .unwrap_err();
    match &again {
        EngineError::Plan(PlanError::Refused { action, reason }) => {
            assert_eq!(*action, Action::Piece);
            assert_eq!(*reason, Reason::MasterAlreadyRegistered);
            assert_eq!(
                reason.to_string(),
                "Master piece already registered in the blockchain"
            );
        }
        other => panic!("expected a refusal, got {other}"),
    }
    mine(1);
    let history = spool.history(&piece.file_hash).await.unwrap();
    assert_eq!(history.events().len(), 1);
    assert_eq!(history.events()[0].verb, "ASCRIBESPOOL01PIECE");
    assert_eq!(history.events()[0].to_address, artist_root.to_string());
    assert!(history.events()[0].valid);
    // The confirmed transaction's reservation is released when the engine next settles.
    spool.settle_reservations().await.unwrap();
    assert!(spool.reservations().is_empty().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broadcast_to_a_down_node_keeps_its_reservation_until_proven_gone() {
    let mut node =
        spool_testenv::Node::start().unwrap_or_else(|e| panic!("regtest node needed: {e}"));
    let backend = CoreBackend::new(
        &node.rpc_url(),
        CoreAuth::Cookie(node.cookie_file()),
        Network::Regtest,
    )
    .unwrap()
    .retry_policy(spool_backend::RetryPolicy::none());
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::new(backend, Reservations::open(dir.path()).unwrap());
    let refill = wallet("engine refill 2")
        .signing_key(&LeafPath::root())
        .unwrap();
    let federation = wallet("engine federation 2")
        .signing_key(&LeafPath::root())
        .unwrap();
    let options = SendOptions {
        min_conf: 1,
        ..SendOptions::default()
    };
    node.mine_to(&refill.address(), 101).unwrap();

    let prepared = spool
        .prepare(
            &Request::RefillMain(MainRefill::new(federation.address(), 2, 2).unwrap()),
            &refill,
            &options,
        )
        .await
        .unwrap();
    let spent = prepared.built().spent.clone();
    assert!(!spent.is_empty());

    // The node goes away between build and broadcast: the reply is an error, but the
    // transaction might have reached the node, so nothing it spends may be reused yet.
    node.stop().unwrap();
    let err = spool.broadcast(&prepared).await.unwrap_err();
    assert!(
        err.backend_error().is_some(),
        "expected a backend error, got {err}"
    );
    for outpoint in &spent {
        assert!(spool.reservations().is_reserved(outpoint).unwrap());
    }
    // While the node is still down nothing proves the transaction gone: the reservation stays.
    assert_eq!(spool.settle_reservations().await.unwrap(), 0);
    for outpoint in &spent {
        assert!(spool.reservations().is_reserved(outpoint).unwrap());
    }

    // Back up, the node has never seen it: proven gone, so the outpoints are free again.
    node.restart().unwrap();
    assert!(spool.settle_reservations().await.unwrap() >= 1);
    for outpoint in &spent {
        assert!(!spool.reservations().is_reserved(outpoint).unwrap());
    }
}

/// Before an action the engine settles what stands in its way (its scope's transactions)
/// and two other pending reservations, not every one: reservations of other editions whose
/// transactions confirmed are released a few per action, all of them eventually, while the
/// pending ones stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_action_settles_its_scope_and_two_others() {
    let harness = Harness::start();
    let mut scenario = Scenario::funded(&harness, 12, 30);
    let spool = &harness.spool;
    let federation = harness.key(&FEDERATION, "");
    let options = &harness.options;
    let artist = wallet("engine artist 3").root_address();
    let piece_text = "mv5yDkR5dnjGHxietq7CH78WHk8vzsu4vH";
    let piece = piece_hashes(piece_text);
    let send = |operation: Operation| {
        let federation = &federation;
        async move {
            spool
                .send(&Request::from(operation), federation, options)
                .await
                .unwrap()
                .txid()
        }
    };
    scenario.register_piece(piece_text, &artist.to_string(), 10);
    scenario.unmined();
    let mut old = Vec::new();
    for edition in 1..=4 {
        let txid = scenario.federation(&Step::register(piece_text, &artist.to_string(), edition));
        old.push(Txid::from_str(&txid).unwrap());
    }
    scenario.mine(1);
    // Later reservations are strictly younger (times are in seconds).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let held = |txid| spool.reservations().record(txid).unwrap().is_some();
    assert!(
        old.iter().all(held),
        "confirmed, but nothing settled them yet"
    );

    let new5 = send(Operation::register(&piece, artist.clone(), 5)).await;
    let left = old.iter().filter(|t| held(t)).count();
    assert!(
        (2..=3).contains(&left),
        "the first action settled the oldest and at most one more: {left} of 4 left"
    );
    let mut new = vec![new5];
    for edition in 6..=8 {
        new.push(send(Operation::register(&piece, artist.clone(), edition)).await);
    }
    assert!(
        old.iter().all(|t| !held(t)),
        "each action settled the oldest, so four actions released all four"
    );
    assert!(new.iter().all(held), "the pending ones stay reserved");
    let records = spool.reservations().records().unwrap();
    assert_eq!(
        records.len(),
        4,
        "only the pending registrations: {records:?}"
    );
}
