//! spool-wallet and spool-tx benchmarks.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion};
use spool_protocol::verb::Verb;

fn op_return(c: &mut Criterion) {
    let verb = Verb::Transfer { edition: 42 };
    c.bench_function("tx/op_return_script", |b| {
        b.iter(|| std::hint::black_box(verb).op_return_script())
    });
}

criterion_group!(benches, op_return);
criterion_main!(benches);
