//! Test support shared by the integration tests of spool-backend.
#![allow(dead_code, missing_docs)]

pub mod chain;
pub mod esplora_checks;
pub mod proxy;
pub mod suite;
