//! `spool hash` on a 256 MiB file through the release binary, against `openssl dgst -md5` on
//! the same file in the same run (pyspool hashes with Python's hashlib, that is OpenSSL's
//! MD5). Both read the file from the page cache (a warm-up read comes first). After
//! criterion's two measurements, the best of 5 runs of each gives the ratio printed as
//! `spool hash speed / openssl speed`; 1.0 or more means spool-rs is at least as fast.

#![allow(missing_docs)] // criterion_group! makes an undocumented public function

#[path = "support/spool_bin.rs"]
mod spool_bin;

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};

const SIZE: usize = 256 * 1024 * 1024;

fn file(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("content.bin");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    // Not compressible by anything in the way, and cheap to make: an xorshift stream.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut block = vec![0u8; 1 << 20];
    for _ in 0..SIZE / block.len() {
        for chunk in block.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes());
        }
        out.write_all(&block).unwrap();
    }
    out.flush().unwrap();
    path
}

fn run(command: &mut Command) {
    let output = command.output().expect("spawn");
    assert!(
        output.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn spool_hash(spool: &Path, path: &Path) {
    run(Command::new(spool)
        .args(["--network", "mainnet", "hash"])
        .arg(path));
}

fn openssl_md5(path: &Path) {
    run(Command::new("openssl").args(["dgst", "-md5"]).arg(path));
}

fn best_of(n: usize, mut f: impl FnMut()) -> Duration {
    (0..n)
        .map(|_| {
            let started = Instant::now();
            f();
            started.elapsed()
        })
        .min()
        .unwrap()
}

fn hash_256_mib(c: &mut Criterion) {
    let spool = spool_bin::spool_bin();
    let dir = tempfile::tempdir().unwrap();
    let path = file(dir.path());
    openssl_md5(&path); // into the page cache
    let mut group = c.benchmark_group("hash_256_mib");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(8));
    group.bench_function("spool_hash", |b| b.iter(|| spool_hash(&spool, &path)));
    group.bench_function("openssl_dgst_md5", |b| b.iter(|| openssl_md5(&path)));
    group.finish();
    let ours = best_of(5, || spool_hash(&spool, &path));
    let theirs = best_of(5, || openssl_md5(&path));
    println!(
        "hash 256 MiB, best of 5: spool hash {:.0} ms, openssl dgst -md5 {:.0} ms: \
         spool hash speed / openssl speed = {:.3}",
        ours.as_secs_f64() * 1e3,
        theirs.as_secs_f64() * 1e3,
        theirs.as_secs_f64() / ours.as_secs_f64()
    );
}

criterion_group!(benches, hash_256_mib);
criterion_main!(benches);
