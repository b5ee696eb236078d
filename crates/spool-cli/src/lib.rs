//! # spool-cli
//!
//! The library half of the `spool` binary: the orchestration of SPOOL actions (pyspool's
//! `Spool` class: ownership pre-check, input selection through the backend trait, build,
//! sign, broadcast, wait) in [`engine`], generic over [`spool_backend::Backend`] so that a
//! service can embed it without the command line; and the command line itself in [`cli`]
//! and [`subcommand`] (one module per subcommand, each with its `--json` output type).
//!
//! Nothing below this crate may depend on it.

pub mod cli;
pub mod engine;
pub mod subcommand;
