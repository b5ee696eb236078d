//! spool-protocol benchmarks.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion};
use spool_protocol::verb::Verb;

fn verb_encode(c: &mut Criterion) {
    let verb = Verb::Transfer { edition: 42 };
    c.bench_function("verb/encode", |b| {
        b.iter(|| std::hint::black_box(verb).to_string())
    });
}

criterion_group!(benches, verb_encode);
criterion_main!(benches);
