//! The engine's async driver embedded as a library (no CLI): a service drives
//! `Spool<CoreBackend>` directly on a real regtest node.

use std::str::FromStr;
use std::time::Duration;

use bitcoin::{Address, Network};
use spool_backend::core::{CoreAuth, CoreBackend};
use spool_engine::plan::PlanError;
use spool_engine::request::MainRefill;
use spool_engine::store::Reservations;
use spool_engine::{EngineError, Request, SendOptions, Spool};
use spool_protocol::operation::{Operation, PieceHashes};
use spool_protocol::reason::Reason;
use spool_protocol::verb::Action;
use spool_wallet::{LeafPath, MasterSecret, Wallet};

fn wallet(secret: &str) -> Wallet {
    Wallet::from_secret(&MasterSecret::new(secret), Network::Regtest).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_engine_registers_checks_and_refuses() {
    let node = spool_testenv::Node::start().unwrap_or_else(|e| panic!("regtest node needed: {e}"));
    let backend = CoreBackend::new(
        &node.rpc_url(),
        CoreAuth::Cookie(node.cookie_file()),
        Network::Regtest,
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::new(backend, Reservations::open(dir.path()).unwrap());

    let refill = wallet("engine refill")
        .signing_key(&LeafPath::root())
        .unwrap();
    let federation = wallet("engine federation")
        .signing_key(&LeafPath::root())
        .unwrap();
    let artist = wallet("engine artist");
    let artist_root = artist.root_address();
    let piece = Address::from_str("mhXeWEMLnEwVNnyqKrqUDPAYSuwhfyNXA7")
        .unwrap()
        .require_network(Network::Regtest)
        .unwrap();
    let piece = PieceHashes {
        file_hash: piece.clone(),
        file_hash_metadata: piece,
    };
    let options = SendOptions {
        min_conf: 1,
        ..SendOptions::default()
    };
    let mine = |n| node.mine_to(&refill.address(), n).unwrap();

    mine(101);
    let funded = spool
        .send(
            &Request::RefillMain(MainRefill::new(federation.address(), 4, 6).unwrap()),
            &refill,
            &options,
        )
        .await
        .unwrap();
    mine(1);
    spool
        .wait_confirmed(&funded.txid(), 1, Duration::from_secs(30))
        .await
        .unwrap();

    let register = Request::from(Operation::register_piece(&piece, artist_root.clone()));
    let sent = spool.send(&register, &federation, &options).await.unwrap();
    assert!(sent.checked());
    assert_eq!(sent.from(), &federation.address());
    // Still in the mempool: the pre-check already sees it, and refuses a second master.
    let again = spool
        .prepare(&register, &federation, &options)
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
