//! # spool-cli
//!
//! The library half of the `spool` binary: the orchestration of SPOOL actions (pyspool's
//! `Spool` class: ownership pre-check, input selection through the backend trait, build,
//! sign, broadcast, wait), generic over [`spool_backend`]'s trait so that a service can
//! embed it without the command line.
//!
//! Nothing below this crate may depend on it.
