//! Criterion benchmarks for spool-rs live in `benches/benches/`; run them with `cargo xtask bench`.
