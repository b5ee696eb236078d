//! The checks run against a real Esplora (`examples/real_esplora.rs`), where the regtest
//! conformance suite cannot run: read-only ones on any address, and a payment when a funded
//! key is given. Also run against spool-testenv's server (`tests/real_esplora_checks.rs`).

use std::collections::HashSet;
use std::time::Duration;

use bitcoin::{Address, Txid};
use spool_backend::esplora::EsploraBackend;
use spool_backend::{Backend, BackendError};
use spool_protocol::chain::{ChainTx, TxPlace};

pub type Error = Box<dyn std::error::Error>;

/// A funded key and how long to wait for its payment to confirm (`None`: do not wait).
pub struct Funded {
    pub key: spool_wallet::SigningKey,
    pub wait: Option<Duration>,
}

fn order(c: &ChainTx) -> (u8, u64, u32) {
    match c.place {
        TxPlace::Confirmed {
            height, position, ..
        } => (0, height, position),
        TxPlace::Unconfirmed => (1, 0, 0),
    }
}

pub async fn check(
    backend: &EsploraBackend,
    address: &Address,
    funded: Option<Funded>,
) -> Result<(), Error> {
    println!("{}", backend.describe());
    let tip = backend.tip_height().await?;
    assert!(tip > 0);
    println!("tip height {tip}");

    let requests = backend.request_count();
    let history = backend.address_transactions(address).await?;
    println!(
        "history of {address}: {} transactions ({} requests)",
        history.len(),
        backend.request_count() - requests
    );
    let script = address.script_pubkey();
    for pair in history.windows(2) {
        assert!(
            order(&pair[0]) <= order(&pair[1]),
            "history sorted by place"
        );
    }
    let mut seen = HashSet::new();
    for chain_tx in &history {
        assert!(
            seen.insert(chain_tx.txid()),
            "no duplicate {}",
            chain_tx.txid()
        );
        assert!(chain_tx.tx.output.iter().any(|o| o.script_pubkey == script));
        assert!(chain_tx.tx.is_coinbase() || chain_tx.prevouts.len() == chain_tx.tx.input.len());
    }
    for chain_tx in history.iter().take(30) {
        let single = backend.transaction(&chain_tx.txid()).await?;
        assert_eq!(single.tx, chain_tx.tx);
        assert_eq!(single.prevouts, chain_tx.prevouts);
        if chain_tx.place != TxPlace::Unconfirmed {
            assert_eq!(single.place, chain_tx.place);
        }
    }

    let utxos = backend.utxos(address, 0).await?;
    println!("{} UTXOs at min_conf 0", utxos.len());
    assert!(utxos.iter().all(|u| u.script_pubkey == script));
    let deep = backend.utxos(address, 6).await?;
    assert!(deep.iter().all(|u| u.confirmations >= 6));

    let unknown: Txid = "00".repeat(32).parse()?;
    assert!(matches!(
        backend.transaction(&unknown).await,
        Err(BackendError::NotFound { .. })
    ));

    if let Some(confirmed) = history.iter().find(|c| c.place != TxPlace::Unconfirmed) {
        assert_eq!(backend.broadcast(&confirmed.tx).await?, confirmed.txid());
        println!("rebroadcast of confirmed {} is success", confirmed.txid());
    }

    if let Some(funded) = funded {
        let own = funded.key.address();
        let funds = backend.utxos(&own, 1).await?;
        let params = spool_tx::TxParams::default();
        let built = spool_tx::build_refill_main(&params, &own, 1, 1, &funds, &funded.key)?;
        let txid = backend.broadcast(&built.tx).await?;
        assert_eq!(
            backend.broadcast(&built.tx).await?,
            txid,
            "rebroadcast is success"
        );
        println!("broadcast {txid}");
        let after = backend.utxos(&own, 0).await?;
        assert!(after.iter().all(|u| !built.spent.contains(&u.outpoint)));
        assert!(after
            .iter()
            .any(|u| u.outpoint.txid == txid && u.confirmations == 0));
        if let Some(wait) = funded.wait {
            let place = backend
                .wait_confirmed_with_progress(&txid, 1, wait, &|p| {
                    println!("  {} confirmations after {:?}", p.confirmations, p.elapsed)
                })
                .await?;
            println!("confirmed: {place:?}");
        }
    }
    println!("real Esplora checks passed");
    Ok(())
}
