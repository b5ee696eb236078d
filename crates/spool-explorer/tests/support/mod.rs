//! Helpers shared by the explorer's integration tests.
#![allow(dead_code)]

pub mod http;
pub mod synthetic;
