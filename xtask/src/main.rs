//! `cargo xtask`: project automation for spool-rs.
//!
//! - `cargo xtask bitcoind`: make `bitcoind` and `bitcoin-cli` available; prints the absolute
//!   path of `bitcoind` as the last line of stdout.
//! - `cargo xtask test`: formatting, clippy with `-D warnings`, the crate map's layering rules,
//!   every test of the workspace.
//! - `cargo xtask proptest [CASES]`: the property tests with many more cases.
//! - `cargo xtask bench [ARGS]`: the criterion benchmarks (ARGS go to criterion); without
//!   ARGS, `bench-cli 1000` after them.
//! - `cargo xtask bench-cli [COUNT]`: the release `spool` binary against `spool serve`:
//!   rapid-fire registrations and history of a COUNT-event piece, one process per call.
//! - `cargo xtask demo [--serve]`: the seed's walkthrough on a fresh regtest node, indexed,
//!   with the piece's provenance graph in `target/demo/piece.svg`; `--serve` then serves the
//!   explorer over it until Ctrl-C.
//! - `cargo xtask deny`: cargo-deny's bans, licenses and sources checks (needs cargo-deny).
//! - `cargo xtask layering`: the crate map's dependency rules, on `cargo tree`.

mod bitcoind;
mod cli_bench;
mod demo;
mod layering;
mod run;

use std::path::PathBuf;
use std::process::ExitCode;

type Result<T, E = Box<dyn std::error::Error>> = std::result::Result<T, E>;

const USAGE: &str =
    "usage: cargo xtask <bitcoind|test|proptest [CASES]|bench [ARGS]|demo [--serve]|bench-cli [COUNT]|deny|layering>";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.first().map(String::as_str) {
        Some("bitcoind") => bitcoind::provision().map(|exe| println!("{}", exe.display())),
        Some("test") => test(),
        Some("proptest") => proptest(args.get(1).map(String::as_str)),
        Some("bench") => bench(&args[1..]),
        Some("demo") => match args.get(1).map(String::as_str) {
            None => demo_task(false),
            Some("--serve") => demo_task(true),
            Some(other) => Err(format!("unknown demo option {other:?}; {USAGE}").into()),
        },
        Some("bench-cli") => bench_cli(args.get(1).map(String::as_str)),
        // Internal: bench-cli runs it from a release build of xtask.
        Some("sign-bound") => args
            .get(1)
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| "sign-bound COUNT".into())
            .map(|count| println!("{}", cli_bench::sign_bound(count).as_nanos())),
        Some("deny") => deny(),
        Some("layering") => layering::check(),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(USAGE.into()),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: {err}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (the parent of this crate's directory).
fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives inside the workspace")
        .to_path_buf()
}

fn test() -> Result<()> {
    let bitcoind = bitcoind::provision()?;
    run::cargo(
        &["fmt", "--all", "--", "--check"],
        "formatting check (cargo fmt)",
    )?;
    run::cargo(
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
        "clippy -D warnings",
    )?;
    layering::check()?;
    let env = [("BITCOIND_EXE", bitcoind.as_os_str())];
    if run::has_nextest() {
        run::cargo_env(
            &["nextest", "run", "--workspace", "--no-fail-fast"],
            &env,
            "tests (cargo nextest)",
        )?;
    } else {
        eprintln!("xtask: cargo-nextest not found, running the tests with cargo test");
        run::cargo_env(
            &[
                "test",
                "--workspace",
                "--no-fail-fast",
                "--lib",
                "--bins",
                "--tests",
            ],
            &env,
            "tests (cargo test)",
        )?;
    }
    run::cargo_env(&["test", "--workspace", "--doc"], &env, "doc tests")?;
    Ok(())
}

fn proptest(cases: Option<&str>) -> Result<()> {
    let cases = cases.unwrap_or("20000");
    cases
        .parse::<u32>()
        .map_err(|_| format!("proptest: CASES must be a number, got {cases:?}"))?;
    let env = [("PROPTEST_CASES", std::ffi::OsStr::new(cases))];
    run::cargo_env(
        &["test", "--workspace", "--release", "proptest"],
        &env,
        "property tests",
    )
}

fn bench(extra: &[String]) -> Result<()> {
    let mut args = vec!["bench", "-p", "spool-benches"];
    // `cargo xtask bench -- ARGS` and `cargo xtask bench ARGS` both pass ARGS to criterion:
    // the separator is ours to add, once.
    let extra = match extra.first().map(String::as_str) {
        Some("--") => &extra[1..],
        _ => extra,
    };
    if !extra.is_empty() {
        args.push("--");
        args.extend(extra.iter().map(String::as_str));
    }
    // The regtest benches (index sync and load, rapid fire) need a node and the release
    // `spool` binary, which `cargo bench` does not build.
    let spool = node_and_release_spool()?;
    std::env::set_var("SPOOL_BIN", &spool);
    run::cargo(&args, "benchmarks")?;
    // Without ARGS, every benchmark: the CLI's too (a filter names criterion benches only).
    if extra.is_empty() {
        cli_bench::run(&spool, 1_000)?;
    }
    Ok(())
}

fn demo_task(serve: bool) -> Result<()> {
    let bitcoind = bitcoind::provision()?;
    // The demo's node comes from spool-testenv, which honours BITCOIND_EXE.
    std::env::set_var("BITCOIND_EXE", &bitcoind);
    run::cargo(
        &["build", "--package", "spool-cli", "--bin", "spool"],
        "build the spool binary",
    )?;
    let spool = run::target_dir().join("debug").join("spool");
    if !spool.is_file() {
        return Err(format!("the spool binary is not at {}", spool.display()).into());
    }
    let svg = run::target_dir().join("demo").join("piece.svg");
    demo::run(&spool, &svg, serve)
}

/// `cargo xtask bench-cli [COUNT]`: the release `spool` binary against `spool serve`.
fn bench_cli(count: Option<&str>) -> Result<()> {
    let count: u64 = match count {
        None => 1_000,
        Some(text) => text
            .parse()
            .ok()
            .filter(|n| *n >= 10)
            .ok_or_else(|| format!("bench-cli COUNT must be a number >= 10, not {text:?}"))?,
    };
    let spool = node_and_release_spool()?;
    cli_bench::run(&spool, count)
}

/// Provisions bitcoind (exported as `BITCOIND_EXE` for spool-testenv) and builds the release
/// `spool` binary; its path.
fn node_and_release_spool() -> Result<PathBuf> {
    let bitcoind = bitcoind::provision()?;
    std::env::set_var("BITCOIND_EXE", &bitcoind);
    run::cargo(
        &[
            "build",
            "--release",
            "--package",
            "spool-cli",
            "--bin",
            "spool",
        ],
        "build the spool binary (release)",
    )?;
    let spool = run::target_dir().join("release").join("spool");
    if !spool.is_file() {
        return Err(format!("the spool binary is not at {}", spool.display()).into());
    }
    Ok(spool)
}

fn deny() -> Result<()> {
    if !run::has_subcommand("deny") {
        return Err(
            "cargo-deny is not installed; install it with `cargo install --locked cargo-deny`"
                .into(),
        );
    }
    // The advisories check needs the RustSec database from GitHub, which CI machines cannot
    // reach; run `cargo deny check advisories` where it is reachable (see the README).
    run::cargo(
        &["deny", "check", "bans", "licenses", "sources"],
        "cargo deny check bans licenses sources",
    )
}
