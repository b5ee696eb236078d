//! Measures a piece's history query on both backends for a piece with 1,000 real SPOOL
//! transactions (spool-tx's builder, signed by a federation wallet) on a fresh regtest node:
//! RPC calls, HTTP round trips and wall time, cold and warm.
//!
//! `cargo run -p spool-backend --example history_load [-- <transactions> <unconfirmed> <per block>]`
//! (defaults 1000, 20 and 100: the last 20 stay in the mempool, the others are mined 100 to a
//! block; with fewer than 16 per block the Core backend fetches them one by one rather than
//! reading whole blocks).

use std::collections::HashSet;
use std::time::Instant;

use bitcoin::{Address, Network, OutPoint};
use spool_backend::core::{CoreAuth, CoreBackend};
use spool_backend::esplora::EsploraBackend;
use spool_backend::Backend;
use spool_protocol::chain::{ChainTx, TxPlace};
use spool_protocol::verb::Verb;
use spool_testenv::esplora::EsploraServer;
use spool_testenv::Node;
use spool_tx::{build_action, build_refill_main, TxParams, Utxo};
use spool_wallet::{LeafPath, MasterSecret, SigningKey, Wallet};

type Error = Box<dyn std::error::Error>;

fn key(secret: &str) -> Result<SigningKey, Error> {
    let wallet = Wallet::from_secret(&MasterSecret::new(secret), Network::Regtest)?;
    Ok(wallet.signing_key(&LeafPath::root())?)
}

fn burn() -> Address {
    use bitcoin::hashes::Hash;
    Address::p2pkh(bitcoin::PubkeyHash::all_zeros(), Network::Regtest)
}

fn piece_address(tag: u8) -> Address {
    use bitcoin::hashes::Hash;
    Address::p2pkh(
        bitcoin::PubkeyHash::hash(&[b'p', b'i', b'e', b'c', b'e', tag]),
        Network::Regtest,
    )
}

fn take(free: &mut Vec<Utxo>, spent: &[OutPoint]) {
    let spent: HashSet<&OutPoint> = spent.iter().collect();
    free.retain(|u| !spent.contains(&u.outpoint));
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let total: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1000);
    let unconfirmed: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(20);
    let per_block: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(100);
    assert!(
        unconfirmed <= total && unconfirmed <= 50,
        "Esplora lists at most 50 mempool txs"
    );

    let node = Node::start()?;
    let core = CoreBackend::new(
        &node.rpc_url(),
        CoreAuth::Cookie(node.cookie_file()),
        Network::Regtest,
    )?;
    let params = TxParams::default();
    let federation = key("history-load federation")?;
    let refill = key("history-load refill")?;
    let (piece, piece_meta, owner) = (piece_address(0), piece_address(1), burn());

    // Fund the federation: refill-main transactions of 125 fuel + 375 tokens each.
    let started = Instant::now();
    node.mine_to(&refill.address(), 20)?;
    node.mine_to(&burn(), 100)?;
    let mut coinbases = core.utxos(&refill.address(), 100).await?;
    let per_refill = 125;
    for _ in 0..total.div_ceil(per_refill) {
        let built = build_refill_main(
            &params,
            &federation.address(),
            per_refill,
            per_refill * 3,
            &coinbases,
            &refill,
        )?;
        take(&mut coinbases, &built.spent);
        core.broadcast(&built.tx).await?;
    }
    node.mine_to(&burn(), 1)?;
    let mut free = core.utxos(&federation.address(), 1).await?;

    // The piece: PIECE, EDITIONS, then REGISTER 1, 2, ...: `per_block` per block, the last
    // `unconfirmed` left in the mempool.
    let recipients = [piece.clone(), piece_meta.clone(), owner.clone()];
    for n in 0..total {
        let verb = match n {
            0 => Verb::Piece,
            1 => Verb::Editions {
                count: total as u64,
            },
            n => Verb::Register {
                edition: n as u64 - 1,
            },
        };
        let built = build_action(&params, &verb, &recipients, &free, &federation)?;
        take(&mut free, &built.spent);
        core.broadcast(&built.tx).await?;
        let sent = n + 1;
        if sent <= total - unconfirmed && (sent % per_block == 0 || sent == total - unconfirmed) {
            node.mine_to(&burn(), 1)?;
        }
    }
    let tip = core.tip_height().await?;
    println!(
        "chain: {total} SPOOL transactions paying {piece} ({unconfirmed} in the mempool), tip {tip}, built in {:.1}s",
        started.elapsed().as_secs_f64()
    );

    let check = |label: &str, history: &[ChainTx]| {
        assert_eq!(history.len(), total, "{label}: every transaction");
        let in_mempool = history
            .iter()
            .filter(|c| c.place == TxPlace::Unconfirmed)
            .count();
        assert_eq!(in_mempool, unconfirmed, "{label}: mempool ones");
        assert!(history.iter().all(|c| c.prevouts.len() == c.tx.input.len()));
    };

    println!("\n| backend | query | RPC calls / HTTP requests | round trips | wall time |");
    println!("|---|---|---|---|---|");
    // Core: a fresh backend (empty mempool cache), then the same one again.
    let core = CoreBackend::new(
        &node.rpc_url(),
        CoreAuth::Cookie(node.cookie_file()),
        Network::Regtest,
    )?;
    let mut core_history = Vec::new();
    for label in ["cold", "warm"] {
        let before = core.rpc_counts();
        let started = Instant::now();
        let history = core.address_transactions(&piece).await?;
        let wall = started.elapsed();
        let used = core.rpc_counts() - before;
        check("core", &history);
        println!(
            "| Core RPC | {label} | {} calls | {} | {:.0} ms |",
            used.calls,
            used.round_trips,
            wall.as_secs_f64() * 1000.0
        );
        core_history = history;
    }

    // Esplora: spool-testenv's server in front of the same node. Its first request indexes
    // the whole chain; that is timed apart.
    let server = EsploraServer::start(&node)?;
    let esplora = EsploraBackend::new(server.url(), Network::Regtest)?;
    let started = Instant::now();
    esplora.tip_height().await?;
    let index_time = started.elapsed();
    for label in ["first", "again"] {
        let before = esplora.request_count();
        let served_before = server.request_count();
        let started = Instant::now();
        let history = esplora.address_transactions(&piece).await?;
        let wall = started.elapsed();
        check("esplora", &history);
        assert_eq!(history, core_history, "both backends give the same history");
        println!(
            "| Esplora (test server) | {label} | {} requests ({} served) | {} | {:.0} ms |",
            esplora.request_count() - before,
            server.request_count() - served_before,
            esplora.request_count() - before,
            wall.as_secs_f64() * 1000.0
        );
    }
    println!(
        "\n(the Esplora test server indexed {} blocks in {:.0} ms before the first query)",
        tip + 1,
        index_time.as_secs_f64() * 1000.0
    );
    let blocks: HashSet<u64> = core_history
        .iter()
        .filter_map(|c| c.place.height())
        .collect();
    // Where the Core query's time goes: the node's own share, call by call.
    let started = Instant::now();
    node.call(
        "scantxoutset",
        &[
            serde_json::json!("start"),
            serde_json::json!([{ "desc": format!("addr({piece})") }]),
        ],
    )?;
    let scan_time = started.elapsed();
    let started = Instant::now();
    for height in &blocks {
        let hash = node.call("getblockhash", &[serde_json::json!(height)])?;
        node.call("getblock", &[hash, serde_json::json!(3)])?;
    }
    println!(
        "node side: scantxoutset {:.0} ms; getblock verbosity 3 of the {} blocks {:.0} ms",
        scan_time.as_secs_f64() * 1000.0,
        blocks.len(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    let inputs: usize = core_history.iter().map(|c| c.tx.input.len()).sum();
    println!(
        "history: {} transactions in {} blocks + mempool, {} inputs in all (a per-input lookup would cost {} calls)",
        core_history.len(),
        blocks.len(),
        inputs,
        core_history.len() + inputs
    );
    Ok(())
}
