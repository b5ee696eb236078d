//! Checks [`EsploraBackend`] against a real Esplora (Blockstream, mempool.space, a
//! self-hosted electrs), where the regtest conformance suite cannot run. Read-only unless a
//! funded key is given.
//!
//! ```text
//! SPOOL_ESPLORA_URL=https://mempool.space/signet/api \
//! SPOOL_ESPLORA_NETWORK=signet \
//! SPOOL_ESPLORA_ADDRESS=<an address with more than 25 transactions, to exercise paging> \
//! [SPOOL_ESPLORA_WIF=<WIF of a funded P2PKH key on that network>] \
//! [SPOOL_ESPLORA_WAIT_SECS=1800] \
//! cargo run -p spool-backend --example real_esplora
//! ```
//!
//! Checks: the tip; the address's whole history (every page) is free of duplicates, sorted by
//! place, pays the address, and each entry agrees with a single-transaction lookup (body,
//! prevouts, place); its UTXOs pay the address; an unknown txid is `NotFound`;
//! rebroadcasting a transaction already in the chain is success. With a WIF: a refill-main
//! style payment to itself (spool-tx) is broadcast, broadcast again (success), the outputs it
//! spends vanish from the UTXOs at min_conf 0 and its own appear, and with
//! `SPOOL_ESPLORA_WAIT_SECS` it is waited for until confirmed. The same checks run in the
//! tests against spool-testenv's Esplora server.

#[path = "../tests/common/esplora_checks.rs"]
mod esplora_checks;

use std::time::Duration;

use bitcoin::{Address, Network};
use esplora_checks::{Error, Funded};
use spool_backend::esplora::EsploraBackend;

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
    let funded = match std::env::var("SPOOL_ESPLORA_WIF") {
        Ok(wif) => Some(Funded {
            key: spool_wallet::SigningKey::new(bitcoin::PrivateKey::from_wif(&wif)?.inner, network),
            wait: std::env::var("SPOOL_ESPLORA_WAIT_SECS")
                .ok()
                .map(|s| s.parse().map(Duration::from_secs))
                .transpose()?,
        }),
        Err(_) => None,
    };
    let backend = EsploraBackend::new(&url, network)?;
    esplora_checks::check(&backend, &address, funded).await
}
