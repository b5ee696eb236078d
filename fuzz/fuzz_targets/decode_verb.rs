//! Fuzzes the verb decoders and the OP_RETURN reader: `cargo +nightly fuzz run decode_verb`.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod check;

fuzz_target!(|data: &[u8]| check::check(data));
