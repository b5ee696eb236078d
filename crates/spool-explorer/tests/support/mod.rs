//! Helpers shared by the explorer's integration tests.
#![allow(dead_code)]

pub mod browser;
pub mod http;
pub mod regtest;
pub mod synthetic;
