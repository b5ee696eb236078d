//! Test support for spool-index: spool-backend's regtest transaction helpers, a generated
//! SPOOL chain with valid, invalid and forged events, and an in-process `spool serve`.
#![allow(dead_code, missing_docs)]

#[path = "../../../spool-backend/tests/common/chain.rs"]
pub mod chain;

use std::path::Path;
use std::time::Duration;

use bitcoin::{Address, Amount, Network};
use chain::{hash_address, outputs_to, spool_tx, Coin, Funder, Key};
use spool_backend::core::{CoreAuth, CoreBackend};
use spool_index::{FollowerConfig, NodeConfig, Running, ServeConfig};
use spool_protocol::verb::{LoanDate, Verb};
use spool_testenv::Node;

/// Value of each coin a SPOOL sender spends (tokens + fee).
pub const COIN: Amount = Amount::from_sat(10_000);

pub fn node_config(node: &Node) -> NodeConfig {
    NodeConfig {
        url: node.rpc_url(),
        auth: CoreAuth::Cookie(node.cookie_file()),
        timeout: Duration::from_secs(60),
    }
}

pub fn follower_config(node: &Node, watch: &[&Address]) -> FollowerConfig {
    FollowerConfig {
        node: node_config(node),
        network: Network::Regtest,
        index_from: 0,
        poll: Duration::from_millis(50),
        watch: watch.iter().map(|a| a.script_pubkey()).collect(),
        filters: None,
        full_scan: Default::default(),
    }
}

/// `spool serve` in this process on an ephemeral loopback port.
pub async fn serve(
    node: &Node,
    index: &Path,
    watch: &[&Address],
    federation: &[&Address],
) -> Running {
    spool_index::start(ServeConfig {
        index_path: index.to_path_buf(),
        follower: follower_config(node, watch),
        http: "127.0.0.1:0".parse().unwrap(),
        federation: federation.iter().map(|a| a.to_string()).collect(),
        api_token: None,
        reservation_lease: spool_index::reservations::DEFAULT_LEASE,
    })
    .await
    .expect("spool serve starts")
}

pub fn core(node: &Node) -> CoreBackend {
    CoreBackend::new(
        &node.rpc_url(),
        CoreAuth::Cookie(node.cookie_file()),
        Network::Regtest,
    )
    .expect("core backend")
}

/// A sender with a purse of coins of [`COIN`] each.
pub struct Wallet {
    pub key: Key,
    coins: Vec<Coin>,
}

impl Wallet {
    /// A fresh key funded with `count` coins (unconfirmed until the next block).
    pub fn funded(node: &Node, funder: &Funder, count: usize) -> Wallet {
        let key = Key::random();
        let fan = funder.fan_out(node, &key.address, COIN, count);
        let coins = outputs_to(&fan, &key.address);
        Wallet { key, coins }
    }

    pub fn address(&self) -> &Address {
        &self.key.address
    }

    /// Sends a SPOOL transaction from this wallet paying `recipients`, then `verb`.
    pub fn send(
        &mut self,
        node: &Node,
        recipients: &[&Address],
        verb: Verb,
    ) -> bitcoin::Transaction {
        let coin = self.coins.pop().expect("the wallet has coins left");
        let tx = spool_tx(&self.key, coin, recipients, verb);
        chain::send(node, &tx);
        tx
    }

    /// Builds (without sending) a SPOOL transaction from this wallet paying `recipients`,
    /// then `verb`.
    pub fn build(&mut self, recipients: &[&Address], verb: Verb) -> bitcoin::Transaction {
        let coin = self.coins.pop().expect("the wallet has coins left");
        spool_tx(&self.key, coin, recipients, verb)
    }

    /// The next coin, without spending it.
    pub fn take_coin(&mut self) -> Coin {
        self.coins.pop().expect("the wallet has coins left")
    }
}

/// The parties of a generated chain.
pub struct Parties {
    pub federation: Wallet,
    pub alice: Wallet,
    pub bob: Wallet,
    pub carol: Wallet,
}

impl Parties {
    pub fn new(node: &Node, funder: &Funder, per_party: usize) -> Parties {
        let parties = Parties {
            federation: Wallet::funded(node, funder, per_party * 2),
            alice: Wallet::funded(node, funder, per_party),
            bob: Wallet::funded(node, funder, per_party),
            carol: Wallet::funded(node, funder, per_party),
        };
        chain::mine(node, 1);
        parties
    }

    pub fn addresses(&self) -> [&Address; 4] {
        [
            self.federation.address(),
            self.alice.address(),
            self.bob.address(),
            self.carol.address(),
        ]
    }
}

/// One piece's life, 14 SPOOL transactions: registration by the federation, transfers,
/// a consignment and its return, a loan, and four events that must be refused (a transfer
/// by a non-owner, a forged registration by a non-federation address, a transfer whose
/// first output is not the piece, a second EDITIONS). Mines after some steps (`mine_every`
/// 0: never), so that several events share blocks. Returns the piece address.
pub fn piece_life(node: &Node, p: &mut Parties, mine_every: usize) -> Address {
    let piece = hash_address();
    let (alice, bob, carol) = (
        p.alice.address().clone(),
        p.bob.address().clone(),
        p.carol.address().clone(),
    );
    let mut step = 0;
    let mut tick = |node: &Node| {
        step += 1;
        if mine_every > 0 && step % mine_every == 0 {
            chain::mine(node, 1);
        }
    };
    p.federation.send(node, &[&piece, &alice], Verb::Piece);
    tick(node);
    p.federation
        .send(node, &[&piece, &alice], Verb::Editions { count: 3 });
    tick(node);
    for edition in 1..=3 {
        p.federation
            .send(node, &[&piece, &alice], Verb::Register { edition });
        tick(node);
    }
    p.alice
        .send(node, &[&piece, &bob], Verb::Transfer { edition: 1 });
    tick(node);
    // Invalid: carol does not own edition 2.
    p.carol
        .send(node, &[&piece, &carol], Verb::Transfer { edition: 2 });
    tick(node);
    // Forged: a registration from outside the federation.
    p.carol
        .send(node, &[&piece, &carol], Verb::Register { edition: 2 });
    tick(node);
    p.bob
        .send(node, &[&piece, &carol], Verb::Consign { edition: 1 });
    tick(node);
    p.carol
        .send(node, &[&piece, &bob], Verb::Unconsign { edition: 1 });
    tick(node);
    let start = LoanDate::parse("260101").unwrap();
    let end = LoanDate::parse("261231").unwrap();
    p.alice.send(
        node,
        &[&piece, &bob],
        Verb::Loan {
            edition: 2,
            start,
            end,
        },
    );
    tick(node);
    // Invalid: the first output is not the piece.
    p.alice
        .send(node, &[&bob, &piece], Verb::Transfer { edition: 3 });
    tick(node);
    // Invalid: EDITIONS twice.
    p.federation
        .send(node, &[&piece, &alice], Verb::Editions { count: 9 });
    tick(node);
    p.alice
        .send(node, &[&piece, &carol], Verb::Transfer { edition: 3 });
    tick(node);
    piece
}
