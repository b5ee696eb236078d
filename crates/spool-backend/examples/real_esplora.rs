//! Checks [`EsploraBackend`] against a real Esplora (Blockstream, mempool.space, a
//! self-hosted electrs), where the regtest conformance suite cannot run. Read-only unless a
//! funded key is given.
//!
//! ```text
//! SPOOL_ESPLORA_URL=https://mempool.space/signet/api \
//! SPOOL_ESPLORA_NETWORK=signet \
//! SPOOL_ESPLORA_ADDRESS=<an address with more than 25 transactions, to exercise paging> \
//! [SPOOL_ESPLORA_WIF=<WIF of a funded P2PKH/P2WPKH key on that network>] \
//! [SPOOL_ESPLORA_WAIT_SECS=1800] \
//! cargo run -p spool-backend --example real_esplora
//! ```
//!
//! Checks: the tip; the address's whole history (every page) is free of duplicates, sorted by
//! place, pays the address, and each entry agrees with a single-transaction lookup (body,
//! prevouts, place); its UTXOs pay the address and are not spent; an unknown txid is
//! `NotFound`; rebroadcasting a transaction already in the chain is success. With a WIF: a
//! refill-main style payment to itself (spool-tx) is broadcast, broadcast again (success),
//! its spent outputs vanish from the UTXOs at min_conf 0, and with `SPOOL_ESPLORA_WAIT_SECS`
//! it is waited for until confirmed.

use std::collections::HashSet;
use std::time::Duration;

use bitcoin::{Address, Network, Txid};
use spool_backend::esplora::EsploraBackend;
use spool_backend::{Backend, BackendError};
use spool_protocol::chain::TxPlace;

type Error = Box<dyn std::error::Error>;

fn env(name: &str) -> Result<String, Error> {
    std::env::var(name).map_err(|_| format!("{name} is not set (see the example's doc)").into())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let url = env("SPOOL_ESPLORA_URL")?;
    let network: Network = std::env::var("SPOOL_ESPLORA_NETWORK")
        .unwrap_or_else(|_| "testnet".into())
        .parse()?;
    let address: Address = env("SPOOL_ESPLORA_ADDRESS")?
        .parse::<Address<_>>()?
        .require_network(network)?;
    let backend = EsploraBackend::new(&url, network)?;
    println!("{}", backend.describe());

    let tip = backend.tip_height().await?;
    assert!(tip > 0);
    println!("tip height {tip}");

    let requests = backend.request_count();
    let history = backend.address_transactions(&address).await?;
    println!(
        "history of {address}: {} transactions ({} requests)",
        history.len(),
        backend.request_count() - requests
    );
    let script = address.script_pubkey();
    let mut seen = HashSet::new();
    for pair in history.windows(2) {
        let key = |c: &spool_protocol::chain::ChainTx| match c.place {
            TxPlace::Confirmed {
                height, position, ..
            } => (0, height, position),
            TxPlace::Unconfirmed => (1, 0, 0),
        };
        assert!(key(&pair[0]) <= key(&pair[1]), "history sorted by place");
    }
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

    let utxos = backend.utxos(&address, 0).await?;
    println!("{} UTXOs at min_conf 0", utxos.len());
    for utxo in &utxos {
        assert_eq!(utxo.script_pubkey, script);
    }
    let deep = backend.utxos(&address, 6).await?;
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

    if let Ok(wif) = std::env::var("SPOOL_ESPLORA_WIF") {
        let secret = bitcoin::PrivateKey::from_wif(&wif)?;
        let key = spool_wallet::SigningKey::new(secret.inner, network);
        let own = key.address();
        let funds = backend.utxos(&own, 1).await?;
        let params = spool_tx::TxParams::default();
        let built = spool_tx::build_refill_main(&params, &own, 1, 1, &funds, &key)?;
        let txid = backend.broadcast(&built.tx).await?;
        assert_eq!(
            backend.broadcast(&built.tx).await?,
            txid,
            "rebroadcast is success"
        );
        println!("broadcast {txid}");
        let after = backend.utxos(&own, 0).await?;
        assert!(after.iter().all(|u| !built.spent.contains(&u.outpoint)));
        if let Ok(secs) = std::env::var("SPOOL_ESPLORA_WAIT_SECS") {
            let place = backend
                .wait_confirmed_with_progress(&txid, 1, Duration::from_secs(secs.parse()?), &|p| {
                    println!("  {} confirmations after {:?}", p.confirmations, p.elapsed)
                })
                .await?;
            println!("confirmed: {place:?}");
        }
    }
    println!("real Esplora checks passed");
    Ok(())
}
