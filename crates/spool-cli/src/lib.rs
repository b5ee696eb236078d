//! # spool-cli
//!
//! The library half of the `spool` binary: the command line in [`cli`] (parsing, settings,
//! rendering, exit codes) and [`subcommand`] (one module per subcommand, each with its
//! `--json` output type). The orchestration it drives is spool-engine's; this crate holds
//! only the user-facing text around it.
//!
//! Nothing below this crate may depend on it.

pub mod cli;
pub mod subcommand;
