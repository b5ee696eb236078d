//! The subcommands, one module each, each with its own `Output` (Serialize) for `--json`.

pub mod action;
pub mod batch;
pub mod broadcast;
pub mod bump;
pub mod certificate;
pub mod completions;
pub mod fuel;
pub mod hash;
pub mod history;
pub mod holdings;
pub mod index;
pub mod index_source;
pub mod ownership;
pub mod piece;
pub mod pieces;
pub mod psbt_out;
pub mod reservations;
pub mod serve;
pub mod sign;
pub mod verb;
pub mod verify;
pub mod wait;
pub mod wallet;

use spool_engine::request::MainRefill;
use spool_engine::Request;
use spool_protocol::operation::Operation;

use crate::cli::exit;
use crate::cli::options::Settings;
use crate::cli::output::Outcome;

/// Every `spool` subcommand.
#[derive(Debug, clap::Subcommand)]
pub enum Subcommand {
    /// Wallet addresses.
    #[command(subcommand)]
    Wallet(wallet::WalletCommand),
    /// A file's SPOOL hashes (pyspool's File).
    Hash(hash::HashArgs),
    /// Encode or decode a SPOOL verb (offline).
    #[command(subcommand)]
    Verb(verb::VerbCommand),
    /// Refill the federation from the refill wallet (ordinary transaction with change).
    RefillMain(action::RefillArgs),
    /// Give a user fuel and tokens from the federation (verb FUEL).
    Refill(action::RefillArgs),
    /// Register a piece's master edition (verb PIECE), signed by the federation.
    RegisterPiece(action::RegisterPieceArgs),
    /// Register an edition (verb REGISTER<n>; 0 = the master edition), signed by the federation.
    Register(action::RegisterArgs),
    /// Fix the number of editions (verb EDITIONS<n>), signed by the federation.
    Editions(action::EditionsArgs),
    /// Register a piece on behalf of its owner (verb CONSIGNEDREGISTRATION).
    ConsignedRegistration(action::RegisterPieceArgs),
    /// Move an edition from a previous address to a new one (verb MIGRATE<n>).
    Migrate(action::MigrateArgs),
    /// Transfer an edition (verb TRANSFER<n>), signed by its owner.
    Transfer(action::OwnerArgs),
    /// Consign an edition (verb CONSIGN<n>), signed by its owner.
    Consign(action::OwnerArgs),
    /// Give a consigned edition back to its consignor (verb UNCONSIGN<n>), signed by the consignee.
    Unconsign(action::OwnerArgs),
    /// Loan an edition between two dates (verb LOAN<n>/<start><end>), signed by its owner.
    Loan(action::LoanArgs),
    /// Many actions from a JSON-lines file (one a line; `-` for stdin) in one process, one
    /// JSON line each; a rerun of the same file after a crash skips what was broadcast.
    Batch(batch::BatchArgs),
    /// Sign and finalize an unsigned action's PSBT with the wallet's secret (offline: no
    /// backend, no network; never broadcasts).
    Sign(sign::SignArgs),
    /// Broadcast the signed form of an unsigned action (a signed PSBT or raw hex), checked
    /// against the template its reservation recorded.
    Broadcast(broadcast::BroadcastArgs),
    /// Replace an unconfirmed transaction of this data directory by the same action at a
    /// higher fee rate (BIP 125).
    Bump(bump::BumpArgs),
    /// A piece's provenance: every event, valid or not, in chain order.
    History(history::HistoryArgs),
    /// What an address may do with an edition, with pyspool's reasons.
    Ownership(ownership::OwnershipArgs),
    /// A piece's current state: who holds each edition, consignees and loans.
    Piece(piece::PieceArgs),
    /// A provenance certificate of an edition (`.spoolcert`), provable without trusting us.
    Certificate(certificate::CertificateArgs),
    /// Check a provenance certificate: offline, and with a backend against its best chain.
    Verify(verify::VerifyArgs),
    /// An address's fuel, tokens, other and reserved outputs.
    Fuel(fuel::FuelArgs),
    /// A shell completion script (bash, zsh, fish, powershell) on stdout.
    Completions(completions::CompletionsArgs),
    /// Wait until a transaction has confirmations: {txid, confirmations, block_height}.
    Wait(wait::WaitArgs),
    /// This data directory's outpoint reservations and broadcast journal.
    #[command(subcommand)]
    Reservations(reservations::ReservationsCommand),
    /// What an address holds, edition by edition (needs --server).
    Holdings(holdings::HoldingsArgs),
    /// The registered pieces (needs --server).
    Pieces(pieces::PiecesArgs),
    /// Bring the chain index up to the node's tip, then exit.
    Index(index::IndexArgs),
    /// Follow the node into the index and serve the JSON API and the explorer.
    Serve(serve::ServeArgs),
}

impl Subcommand {
    /// Runs the subcommand.
    ///
    /// # Errors
    ///
    /// The subcommand's failure, with its causes.
    pub async fn run(&self, settings: &Settings) -> anyhow::Result<Outcome> {
        match self {
            // Offline and about the arguments only: every failure is the user's to correct.
            Subcommand::Wallet(command) => command.run(settings).map_err(exit::as_input),
            Subcommand::Hash(args) => args.run(settings).map_err(exit::as_input),
            Subcommand::Verb(command) => command.run().map_err(exit::as_input),
            Subcommand::RefillMain(args) => {
                let make: action::MakeRefill =
                    |to, fees, tokens| Ok(Request::RefillMain(MainRefill::new(to, fees, tokens)?));
                args.run(settings, make).await
            }
            Subcommand::Refill(args) => {
                let make: action::MakeRefill =
                    |to, fees, tokens| Ok(Operation::refill(to, fees, tokens)?.into());
                args.run(settings, make).await
            }
            Subcommand::RegisterPiece(args) => args.run(settings, Operation::register_piece).await,
            Subcommand::Register(args) => args.run(settings).await,
            Subcommand::Editions(args) => args.run(settings).await,
            Subcommand::ConsignedRegistration(args) => {
                args.run(settings, Operation::consigned_registration).await
            }
            Subcommand::Migrate(args) => args.run(settings).await,
            Subcommand::Transfer(args) => args.run(settings, Operation::transfer).await,
            Subcommand::Consign(args) => args.run(settings, Operation::consign).await,
            Subcommand::Unconsign(args) => args.run(settings, Operation::unconsign).await,
            Subcommand::Loan(args) => args.run(settings).await,
            Subcommand::Batch(args) => args.run(settings).await,
            Subcommand::Sign(args) => args.run(settings),
            Subcommand::Broadcast(args) => args.run(settings).await,
            Subcommand::Bump(args) => args.run(settings).await,
            Subcommand::History(args) => args.run(settings).await,
            Subcommand::Ownership(args) => args.run(settings).await,
            Subcommand::Piece(args) => args.run(settings).await,
            Subcommand::Certificate(args) => args.run(settings).await,
            Subcommand::Verify(args) => args.run(settings).await,
            Subcommand::Fuel(args) => args.run(settings).await,
            Subcommand::Completions(args) => args.run(),
            Subcommand::Wait(args) => args.run(settings).await,
            Subcommand::Reservations(command) => command.run(settings).await,
            Subcommand::Holdings(args) => args.run(settings).await,
            Subcommand::Pieces(args) => args.run(settings).await,
            Subcommand::Index(args) => args.run(settings).await,
            Subcommand::Serve(args) => args.run(settings).await,
        }
    }
}
