//! One scenario builder for the regtest tests, reading like the seed's walkthrough: the
//! cast (each wallet known by the environment variable holding its secret), the funding of
//! the federation, a piece and its editions, refills and the owners' actions, forgeries by
//! someone with no rights.
//!
//! ```text
//! let mut s = Scenario::funded(&driver, 10, 20);      // refill wallet mined, federation refilled
//! s.register_piece(&piece, &user1, 10);              // REGISTER0 then EDITIONS10, each mined
//! s.federation(&Step::register(&piece, &user1, 1));  // REGISTER1
//! s.refill(&user1_leaf, 1, 1);                       // FUEL
//! s.by(&USER1, LEAF1, &Step::transfer(&piece, &user2_leaf, 1));
//! ```
//!
//! A [`Driver`] carries the steps to the chain: the CLI tests send them through the `spool`
//! binary, the engine's tests through `spool_engine::Spool` in process. The steps are said
//! once here, in the CLI's words ([`Step::cli_args`]); a driver turns them into its own.

/// A wallet of the tests, known by the environment variable that holds its secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Party {
    /// The environment variable name (what `--secret-env` gets).
    pub env: &'static str,
    /// The master secret (set in a child's environment only).
    pub secret: &'static str,
}

/// The refill wallet: mined coinbases, then `refill-main` to the federation.
pub const REFILL: Party = Party {
    env: "SPOOL_T_REFILL",
    secret: "refill wallet secret",
};
/// The federation: registers pieces and editions, refills users.
pub const FEDERATION: Party = Party {
    env: "SPOOL_T_FEDERATION",
    secret: "federation secret",
};
/// The artist.
pub const USER1: Party = Party {
    env: "SPOOL_T_USER1",
    secret: "user1 secret",
};
/// The collector.
pub const USER2: Party = Party {
    env: "SPOOL_T_USER2",
    secret: "user2 secret",
};
/// The consignee and borrower.
pub const USER3: Party = Party {
    env: "SPOOL_T_USER3",
    secret: "user3 secret",
};
/// Someone with no rights at all (forgeries).
pub const STRANGER: Party = Party {
    env: "SPOOL_T_STRANGER",
    secret: "stranger secret",
};
/// The whole cast.
pub const CAST: [Party; 6] = [REFILL, FEDERATION, USER1, USER2, USER3, STRANGER];

/// The leaf paths of the walkthrough (pyspool's documentation example).
pub const LEAF1: &str = "2015/5/28/9/28/44/982190";
/// user2's leaf.
pub const LEAF2: &str = "2015/5/28/9/28/45/184623";
/// user3's leaf.
pub const LEAF3: &str = "2015/5/28/9/28/45/387493";

/// One on-chain step, in the CLI's words (addresses as text; `piece` is the CLI's
/// `--piece FILE_HASH[,FILE_HASH_METADATA]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// `refill-main --to TO --fees F --tokens T` (an ordinary transaction with change).
    RefillMain {
        /// Recipient.
        to: String,
        /// Fuel outputs.
        fees: u32,
        /// Token outputs.
        tokens: u32,
    },
    /// `refill --to TO --fees F --tokens T` (verb FUEL, from the federation).
    Refill {
        /// Recipient.
        to: String,
        /// Fuel outputs.
        fees: u32,
        /// Token outputs.
        tokens: u32,
    },
    /// `register --piece P --to TO --edition N` (0 = the master edition).
    Register {
        /// The piece.
        piece: String,
        /// Recipient.
        to: String,
        /// Edition.
        edition: u64,
    },
    /// `editions --piece P --to TO --count N`.
    Editions {
        /// The piece.
        piece: String,
        /// Recipient.
        to: String,
        /// Number of editions.
        count: u64,
    },
    /// An owner's action on an edition: `transfer`, `consign` or `unconsign`.
    Owner {
        /// `transfer`, `consign` or `unconsign`.
        verb: &'static str,
        /// The piece.
        piece: String,
        /// Recipient.
        to: String,
        /// Edition.
        edition: u64,
    },
    /// `loan --piece P --to TO --edition N --start YYMMDD --end YYMMDD`.
    Loan {
        /// The piece.
        piece: String,
        /// Borrower.
        to: String,
        /// Edition.
        edition: u64,
        /// First day.
        start: String,
        /// Last day.
        end: String,
    },
}

impl Step {
    /// `register` of `edition` of `piece` to `to`.
    pub fn register(piece: &str, to: &str, edition: u64) -> Step {
        Step::Register {
            piece: piece.to_owned(),
            to: to.to_owned(),
            edition,
        }
    }

    /// `editions` of `piece` to `to`.
    pub fn editions(piece: &str, to: &str, count: u64) -> Step {
        Step::Editions {
            piece: piece.to_owned(),
            to: to.to_owned(),
            count,
        }
    }

    /// `transfer` of `edition` to `to`.
    pub fn transfer(piece: &str, to: &str, edition: u64) -> Step {
        Step::owner("transfer", piece, to, edition)
    }

    /// `consign` of `edition` to `to`.
    pub fn consign(piece: &str, to: &str, edition: u64) -> Step {
        Step::owner("consign", piece, to, edition)
    }

    /// `unconsign` of `edition` back to `to`.
    pub fn unconsign(piece: &str, to: &str, edition: u64) -> Step {
        Step::owner("unconsign", piece, to, edition)
    }

    fn owner(verb: &'static str, piece: &str, to: &str, edition: u64) -> Step {
        Step::Owner {
            verb,
            piece: piece.to_owned(),
            to: to.to_owned(),
            edition,
        }
    }

    /// `loan` of `edition` to `to` from `start` to `end` (`YYMMDD`).
    pub fn loan(piece: &str, to: &str, edition: u64, start: &str, end: &str) -> Step {
        Step::Loan {
            piece: piece.to_owned(),
            to: to.to_owned(),
            edition,
            start: start.to_owned(),
            end: end.to_owned(),
        }
    }

    /// The `spool` subcommand and its arguments (without the signer's secret and path).
    pub fn cli_args(&self) -> Vec<String> {
        let words = |list: &[&str]| list.iter().map(|w| (*w).to_owned()).collect::<Vec<_>>();
        match self {
            Step::RefillMain { to, fees, tokens } | Step::Refill { to, fees, tokens } => {
                let verb = if matches!(self, Step::RefillMain { .. }) {
                    "refill-main"
                } else {
                    "refill"
                };
                words(&[
                    verb,
                    "--to",
                    to,
                    "--fees",
                    &fees.to_string(),
                    "--tokens",
                    &tokens.to_string(),
                ])
            }
            Step::Register { piece, to, edition } => words(&[
                "register",
                "--piece",
                piece,
                "--to",
                to,
                "--edition",
                &edition.to_string(),
            ]),
            Step::Editions { piece, to, count } => words(&[
                "editions",
                "--piece",
                piece,
                "--to",
                to,
                "--count",
                &count.to_string(),
            ]),
            Step::Owner {
                verb,
                piece,
                to,
                edition,
            } => words(&[
                verb,
                "--piece",
                piece,
                "--to",
                to,
                "--edition",
                &edition.to_string(),
            ]),
            Step::Loan {
                piece,
                to,
                edition,
                start,
                end,
            } => words(&[
                "loan",
                "--piece",
                piece,
                "--to",
                to,
                "--edition",
                &edition.to_string(),
                "--start",
                start,
                "--end",
                end,
            ]),
        }
    }
}

/// How a scenario's steps reach the chain.
pub trait Driver {
    /// The address of `party` at leaf `path` (`""` = the root).
    fn address(&self, party: &Party, path: &str) -> String;
    /// Sends `step` signed by `party` at `path`; the txid. Panics when it is not sent.
    fn send(&self, party: &Party, path: &str, step: &Step) -> String;
    /// Mines `n` blocks to an address nobody needs.
    fn mine(&self, n: u64);
    /// Mines `n` blocks to `address`.
    fn mine_to(&self, address: &str, n: u64);
}

/// A scenario in progress: its driver and the txids sent so far, in order.
pub struct Scenario<'d, D: Driver + ?Sized> {
    driver: &'d D,
    /// The refill wallet's root address.
    pub refill: String,
    /// The federation's root address.
    pub federation: String,
    /// Every txid sent through this scenario, in order.
    pub sent: Vec<String>,
    mine_each: bool,
}

impl<'d, D: Driver + ?Sized> Scenario<'d, D> {
    /// A scenario whose federation holds `fees` fuel and `tokens` token outputs, confirmed:
    /// 101 blocks mined to the refill wallet, then `refill-main` to the federation, mined.
    /// Each later step is mined into its own block (see [`Scenario::unmined`]).
    pub fn funded(driver: &'d D, fees: u32, tokens: u32) -> Scenario<'d, D> {
        let federation = driver.address(&FEDERATION, "");
        Scenario::funding(driver, &federation, fees, tokens)
    }

    /// [`Scenario::funded`], with the refill going to `to` instead of the federation (e.g.
    /// a stranger who then acts without rights).
    pub fn funding(driver: &'d D, to: &str, fees: u32, tokens: u32) -> Scenario<'d, D> {
        let refill = driver.address(&REFILL, "");
        let federation = driver.address(&FEDERATION, "");
        driver.mine_to(&refill, 101);
        let mut scenario = Scenario {
            driver,
            refill,
            federation,
            sent: Vec::new(),
            mine_each: true,
        };
        let to = to.to_owned();
        scenario.by(&REFILL, "", &Step::RefillMain { to, fees, tokens });
        scenario
    }

    /// Later steps stay in the mempool until [`Scenario::mine`].
    pub fn unmined(&mut self) -> &mut Self {
        self.mine_each = false;
        self
    }

    /// Later steps are each mined into a block of their own (the default).
    pub fn mined(&mut self) -> &mut Self {
        self.mine_each = true;
        self
    }

    /// The driver.
    pub fn driver(&self) -> &'d D {
        self.driver
    }

    /// Mines `n` blocks.
    pub fn mine(&self, n: u64) {
        self.driver.mine(n);
    }

    /// `step` signed by `party` at `path`; its txid (mined unless [`Scenario::unmined`]).
    pub fn by(&mut self, party: &Party, path: &str, step: &Step) -> String {
        let txid = self.driver.send(party, path, step);
        if self.mine_each {
            self.driver.mine(1);
        }
        self.sent.push(txid.clone());
        txid
    }

    /// `step` signed by the federation's root.
    pub fn federation(&mut self, step: &Step) -> String {
        self.by(&FEDERATION, "", step)
    }

    /// The master edition of `piece` registered to `to`, then `editions` editions
    /// (REGISTER0, EDITIONS); their txids.
    pub fn register_piece(&mut self, piece: &str, to: &str, editions: u64) -> [String; 2] {
        [
            self.federation(&Step::register(piece, to, 0)),
            self.federation(&Step::editions(piece, to, editions)),
        ]
    }

    /// A FUEL refill of `to` by the federation.
    pub fn refill(&mut self, to: &str, fees: u32, tokens: u32) -> String {
        self.federation(&Step::Refill {
            to: to.to_owned(),
            fees,
            tokens,
        })
    }

    /// The seed's walkthrough after the funding: the master edition and 10 editions to
    /// user1, edition 1 registered to user1's leaf and transferred to user2's, consigned to
    /// user3's and unconsigned back, then loaned to user3 (each owner refilled first). The
    /// piece's events, in order: REGISTER0, EDITIONS10, REGISTER1, TRANSFER1, CONSIGN1,
    /// UNCONSIGN1, LOAN1; and the refills.
    pub fn walkthrough(&mut self, piece: &str) -> Walkthrough {
        let user1 = self.driver.address(&USER1, "");
        let user1_leaf = self.driver.address(&USER1, LEAF1);
        let user2_leaf = self.driver.address(&USER2, LEAF2);
        let user3_leaf = self.driver.address(&USER3, LEAF3);
        let mut events = self.register_piece(piece, &user1, 10).to_vec();
        events.push(self.federation(&Step::register(piece, &user1_leaf, 1)));
        let mut refills = vec![self.refill(&user1_leaf, 1, 1)];
        events.push(self.by(&USER1, LEAF1, &Step::transfer(piece, &user2_leaf, 1)));
        refills.push(self.refill(&user2_leaf, 1, 1));
        events.push(self.by(&USER2, LEAF2, &Step::consign(piece, &user3_leaf, 1)));
        refills.push(self.refill(&user3_leaf, 1, 1));
        events.push(self.by(&USER3, LEAF3, &Step::unconsign(piece, &user2_leaf, 1)));
        refills.push(self.refill(&user2_leaf, 1, 1));
        events.push(self.by(
            &USER2,
            LEAF2,
            &Step::loan(piece, &user3_leaf, 1, "150522", "150523"),
        ));
        Walkthrough { events, refills }
    }
}

/// What [`Scenario::walkthrough`] sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Walkthrough {
    /// The piece's events in order: REGISTER0, EDITIONS10, REGISTER1, TRANSFER1, CONSIGN1,
    /// UNCONSIGN1, LOAN1.
    pub events: Vec<String>,
    /// The FUEL refills of the owners, in order.
    pub refills: Vec<String>,
}
