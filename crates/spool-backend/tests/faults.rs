//! Faults against a real regtest node that the tests stop, restart and cut off: a node that
//! is down, a node restarted during an operation, a broadcast whose reply is lost, bad
//! credentials.

mod common;

use std::time::Duration;

use bitcoin::{Amount, Network, TxOut};
use common::chain::{self, hash_address, outputs_to, Funder, Key, TOKEN};
use common::proxy::LossyProxy;
use spool_backend::core::{CoreAuth, CoreBackend};
use spool_backend::esplora::EsploraBackend;
use spool_backend::{Backend, BackendError, RetryPolicy};
use spool_protocol::chain::TxPlace;
use spool_testenv::esplora::EsploraServer;
use spool_testenv::Node;

fn core(url: &str, node: &Node) -> CoreBackend {
    CoreBackend::new(url, CoreAuth::Cookie(node.cookie_file()), Network::Regtest).unwrap()
}

fn quick() -> RetryPolicy {
    RetryPolicy {
        attempts: 2,
        first_delay: Duration::from_millis(100),
        max_delay: Duration::from_millis(100),
    }
}

/// A transaction paying a fresh address, not yet broadcast.
fn payment(node: &Node, funder: &Funder) -> bitcoin::Transaction {
    let owner = Key::random();
    let funding = funder.fan_out(node, &owner.address, TOKEN * 10, 1);
    chain::signed(
        &owner,
        &outputs_to(&funding, &owner.address),
        vec![TxOut {
            value: Amount::from_sat(20_000),
            script_pubkey: hash_address().script_pubkey(),
        }],
    )
}

fn assert_unreachable(err: BackendError, url: &str) {
    assert!(err.is_retryable(), "{err:?} should be retryable");
    assert!(matches!(err, BackendError::Unreachable { .. }), "{err:?}");
    let shown = err.to_string();
    assert!(shown.contains(url), "error {shown:?} names {url}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_down_is_a_retryable_error_naming_the_url() {
    let mut node = Node::start().unwrap();
    let url = node.rpc_url();
    let by_cookie = core(&url, &node).retry_policy(quick());
    let cookie = std::fs::read_to_string(node.cookie_file()).unwrap();
    let (user, password) = cookie.trim().split_once(':').unwrap();
    let by_password = CoreBackend::new(
        &url,
        CoreAuth::UserPass {
            user: user.into(),
            password: password.into(),
        },
        Network::Regtest,
    )
    .unwrap()
    .retry_policy(quick());
    let server = EsploraServer::start(&node).unwrap();
    let esplora = EsploraBackend::new(server.url(), Network::Regtest)
        .unwrap()
        .retry_policy(quick());
    assert_eq!(by_password.tip_height().await.unwrap(), 0);
    assert_eq!(esplora.tip_height().await.unwrap(), 0);

    node.stop().unwrap();
    // The cookie is gone with the node; the password still applies but nobody listens.
    assert_unreachable(by_cookie.tip_height().await.unwrap_err(), &url);
    assert_unreachable(by_password.tip_height().await.unwrap_err(), &url);
    assert_eq!(
        spool_backend::tx_status(&by_password, &"11".repeat(32).parse().unwrap()).await,
        spool_protocol::chain::TxStatus::Unknown,
        "an unreachable node never makes a reservation look gone"
    );
    let err = by_password
        .address_transactions(&hash_address())
        .await
        .unwrap_err();
    eprintln!("core, node down: {err}");
    assert_unreachable(err, &url);
    // The Esplora server answers 503 while its node is down.
    let err = esplora.tip_height().await.unwrap_err();
    eprintln!("esplora, node down: {err}");
    assert_unreachable(err, server.url());
    // And with the Esplora server itself gone.
    let esplora_url = server.url().to_string();
    drop(server);
    let err = esplora.tip_height().await.unwrap_err();
    eprintln!("esplora, server down: {err}");
    assert_unreachable(err, &esplora_url);

    node.restart().unwrap();
    // The same backend objects work again (the cookie is re-read).
    assert_eq!(by_cookie.tip_height().await.unwrap(), 0);
    // The password taken from the old cookie is now refused, clearly.
    assert!(matches!(
        by_password.tip_height().await,
        Err(BackendError::Unauthorized { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_rides_out_a_node_restart() {
    let node = Node::start().unwrap();
    let funder = Funder::new(&node, 2);
    let tx = payment(&node, &funder);
    let backend = core(&node.rpc_url(), &node);
    let txid = backend.broadcast(&tx).await.unwrap();

    // Restart the node (gracefully: the mempool survives in mempool.dat) while the wait runs,
    // then mine.
    let restarter = tokio::task::spawn_blocking(move || {
        let mut node = node;
        std::thread::sleep(Duration::from_millis(500));
        node.restart().unwrap();
        std::thread::sleep(Duration::from_millis(500));
        chain::mine(&node, 1);
        node
    });
    let place = backend
        .wait_confirmed(&txid, 1, Duration::from_secs(90))
        .await
        .expect("the wait resumes after the restart");
    let node = restarter.await.unwrap();
    assert_eq!(
        chain::place_of(&node, &txid).map(|(h, _, _)| h),
        place.height()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_during_a_restart_resumes_or_fails_cleanly() {
    let node = Node::start().unwrap();
    let funder = Funder::new(&node, 2);
    let piece = hash_address();
    let owner = Key::random();
    let funding = funder.fan_out(&node, &owner.address, TOKEN * 20, 3);
    chain::mine(&node, 1);
    for coin in outputs_to(&funding, &owner.address) {
        let tx = chain::spool_tx(
            &owner,
            coin,
            &[&piece, &owner.address],
            spool_protocol::verb::Verb::Piece,
        );
        chain::send(&node, &tx);
    }
    chain::mine(&node, 1);
    let backend = core(&node.rpc_url(), &node).retry_policy(RetryPolicy::none());
    let expected = backend.address_transactions(&piece).await.unwrap();
    assert_eq!(expected.len(), 3);

    let restarter = tokio::task::spawn_blocking(move || {
        let mut node = node;
        node.restart().unwrap();
        node
    });
    // Query in a loop while the node goes down and comes back: every answer is either the
    // full, correct history or a retryable error.
    let (mut ok, mut failed) = (0, 0);
    while !restarter.is_finished() {
        match backend.address_transactions(&piece).await {
            Ok(history) => {
                assert_eq!(history, expected);
                ok += 1;
            }
            Err(err) => {
                assert!(err.is_retryable(), "unclean failure: {err:?}");
                failed += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _node = restarter.await.unwrap();
    eprintln!("during restart: {ok} answers, {failed} retryable failures");
    assert!(failed > 0, "the restart was observed");
    // With the default policy the next call just works.
    let backend = backend.retry_policy(RetryPolicy::default());
    assert_eq!(
        backend.address_transactions(&piece).await.unwrap(),
        expected
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_whose_reply_is_lost_succeeds_on_retry() {
    let node = Node::start().unwrap();
    let funder = Funder::new(&node, 3);

    // Core: the proxy swallows the replies to the first two sendrawtransaction requests (the
    // JSON-RPC client itself resends once on a fresh connection).
    let proxy = LossyProxy::start(
        node.rpc_url()
            .trim_start_matches("http://")
            .parse()
            .unwrap(),
        b"sendrawtransaction",
        2,
    )
    .await;
    let backend = core(&proxy.url(), &node);
    let tx = payment(&node, &funder);
    let txid = backend.broadcast(&tx).await.expect("broadcast succeeds");
    assert_eq!(txid, tx.compute_txid());
    assert!(chain::in_mempool(&node, &txid));
    assert!(
        proxy.marked.load(std::sync::atomic::Ordering::SeqCst) >= 3,
        "the request was sent again after its replies were lost"
    );

    // Esplora: the reply to the first POST /tx is lost.
    let server = EsploraServer::start(&node).unwrap();
    let proxy = LossyProxy::start(server.addr(), b"POST /tx", 1).await;
    let esplora = EsploraBackend::new(&proxy.url(), Network::Regtest).unwrap();
    let tx = payment(&node, &funder);
    let txid = esplora.broadcast(&tx).await.expect("broadcast succeeds");
    assert!(chain::in_mempool(&node, &txid));
    assert!(proxy.marked.load(std::sync::atomic::Ordering::SeqCst) >= 2);

    // And once mined, broadcasting again is still success.
    chain::mine(&node, 1);
    assert_eq!(esplora.broadcast(&tx).await.unwrap(), txid);
    assert!(matches!(
        esplora.transaction(&txid).await.unwrap().place,
        TxPlace::Confirmed { .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_are_a_clear_error() {
    let node = Node::start().unwrap();
    let url = node.rpc_url();
    let wrong = CoreBackend::new(
        &url,
        CoreAuth::UserPass {
            user: "__cookie__".into(),
            password: "not-the-password".into(),
        },
        Network::Regtest,
    )
    .unwrap();
    let err = wrong.tip_height().await.unwrap_err();
    eprintln!("bad password: {err}");
    assert!(matches!(err, BackendError::Unauthorized { .. }), "{err:?}");
    assert!(!err.is_retryable());
    let shown = err.to_string();
    assert!(
        shown.contains(&url) && shown.contains("__cookie__"),
        "{shown}"
    );
    assert!(
        !shown.contains("not-the-password") && !format!("{err:?}").contains("not-the-password")
    );
    assert!(!format!("{wrong:?}").contains("not-the-password"));

    // A stale cookie file (from another node) is refused the same way.
    let dir = tempfile::tempdir().unwrap();
    let stale = dir.path().join(".cookie");
    std::fs::write(&stale, "__cookie__:0123456789abcdef").unwrap();
    let err = CoreBackend::new(&url, CoreAuth::Cookie(stale.clone()), Network::Regtest)
        .unwrap()
        .tip_height()
        .await
        .unwrap_err();
    assert!(matches!(err, BackendError::Unauthorized { .. }), "{err:?}");
    assert!(err.to_string().contains(&stale.display().to_string()));

    // A malformed URL is refused at construction.
    assert!(matches!(
        CoreBackend::new("not a url", CoreAuth::Cookie(stale), Network::Regtest),
        Err(BackendError::Config { .. })
    ));
    assert!(matches!(
        EsploraBackend::new("ftp://example", Network::Regtest),
        Err(BackendError::Config { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_of_another_chain_is_refused_before_anything_is_read() {
    let node = Node::start().unwrap();
    let url = node.rpc_url();
    let address = Key::random().address;
    for network in [Network::Testnet, Network::Signet, Network::Bitcoin] {
        let backend =
            CoreBackend::new(&url, CoreAuth::Cookie(node.cookie_file()), network).unwrap();
        let err = backend.tip_height().await.unwrap_err();
        assert!(
            matches!(&err, BackendError::ChainMismatch { actual, expected, .. }
                if actual == "regtest" && *expected == network),
            "{err:?}"
        );
        assert!(!err.is_retryable(), "a wrong chain is final: {err:?}");
        let shown = err.to_string();
        assert!(shown.contains(&url) && shown.contains("regtest"), "{shown}");
        // Every entry point is guarded, not only the first one called.
        let err = backend.utxos(&address, 0).await.unwrap_err();
        assert!(
            matches!(
                err,
                BackendError::ChainMismatch { .. } | BackendError::WrongNetwork { .. }
            ),
            "{err:?}"
        );
    }
    let server = EsploraServer::start(&node).unwrap();
    for network in [Network::Testnet, Network::Bitcoin] {
        let backend = EsploraBackend::new(server.url(), network).unwrap();
        let err = backend.tip_height().await.unwrap_err();
        assert!(
            matches!(&err, BackendError::ChainMismatch { actual, expected, .. }
                if actual == "regtest" && *expected == network),
            "{err:?}"
        );
        assert!(err.to_string().contains(server.url()), "{err}");
    }
    let esplora = EsploraBackend::new(server.url(), Network::Regtest).unwrap();
    assert_eq!(esplora.tip_height().await.unwrap(), 0);

    let regtest = core(&url, &node);
    assert_eq!(regtest.tip_height().await.unwrap(), 0);
    assert_eq!(
        regtest.rpc_counts().calls,
        2,
        "the chain is checked once, then cached"
    );
    regtest.tip_height().await.unwrap();
    assert_eq!(regtest.rpc_counts().calls, 3);
}
