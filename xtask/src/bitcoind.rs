//! `cargo xtask bitcoind`: find or build `bitcoind` and `bitcoin-cli`.
//!
//! Order: `BITCOIND_EXE`; `bitcoind` on `PATH`; the cache; else a build from the Bitcoin Core
//! source tree that the crates.io package `libbitcoinkernel-sys` ships. The cache lives outside
//! the repository (see [`spool_testenv::cache_root`]) under a directory named after the source
//! package and version, and is only ever moved into place complete: a failed build leaves
//! nothing behind.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::run;
use crate::Result;

/// The source package and the exact version whose Bitcoin Core tree is built.
const SOURCE_PACKAGE: &str = "libbitcoinkernel-sys";
const SOURCE_VERSION: &str = "0.4.1";

/// Debian packages the build needs.
const BUILD_PACKAGES: &[&str] = &[
    "cmake",
    "g++",
    "make",
    "pkg-config",
    "libboost-dev",
    "libevent-dev",
];

/// CMake options: only `bitcoind` and `bitcoin-cli`, no wallet, no GUI, no tests.
const CMAKE_OPTIONS: &[&str] = &[
    "-DBUILD_DAEMON=ON",
    "-DBUILD_CLI=ON",
    "-DENABLE_WALLET=OFF",
    "-DENABLE_IPC=OFF",
    "-DBUILD_TESTS=OFF",
    "-DBUILD_BITCOIN_BIN=OFF",
    "-DBUILD_TX=OFF",
    "-DBUILD_UTIL=OFF",
    "-DWITH_ZMQ=OFF",
    "-DENABLE_EXTERNAL_SIGNER=OFF",
    "-DWITH_EMBEDDED_ASMAP=OFF",
    "-DCMAKE_BUILD_TYPE=Release",
];

/// Runs a build step with its output on stderr: stdout carries only the final path.
fn status(command: &mut Command, step: &str) -> Result<()> {
    command.stdout(Stdio::from(std::io::stderr()));
    run::status(command, step)
}

/// Returns the absolute path of a working `bitcoind`, building it if needed.
pub fn provision() -> Result<PathBuf> {
    if let Some(exe) = std::env::var_os("BITCOIND_EXE").filter(|e| !e.is_empty()) {
        let exe = absolute(Path::new(&exe))?;
        if !exe.is_file() {
            return Err(
                format!("BITCOIND_EXE is {} but no such file exists", exe.display()).into(),
            );
        }
        eprintln!("xtask: using BITCOIND_EXE={}", exe.display());
        return Ok(exe);
    }
    if let Some(exe) = on_path("bitcoind") {
        eprintln!("xtask: using bitcoind on PATH: {}", exe.display());
        return Ok(exe);
    }
    let cache = cache_dir()?;
    let exe = cache.join("bin").join("bitcoind");
    if exe.is_file() && runs(&exe) {
        eprintln!("xtask: using cached {}", exe.display());
        return Ok(exe);
    }
    build(&cache)?;
    Ok(exe)
}

/// `<cache root>/bitcoind/<package>-<version>`.
fn cache_dir() -> Result<PathBuf> {
    let root = spool_testenv::cache_root()
        .ok_or("cannot place the bitcoind cache: set SPOOL_CACHE_DIR, XDG_CACHE_HOME or HOME")?;
    Ok(root
        .join("bitcoind")
        .join(format!("{SOURCE_PACKAGE}-{SOURCE_VERSION}")))
}

fn build(cache: &Path) -> Result<()> {
    let started = std::time::Instant::now();
    eprintln!(
        "xtask: no bitcoind found; building Bitcoin Core from {SOURCE_PACKAGE} {SOURCE_VERSION} into {} (about 15-25 minutes on 2 cores)",
        cache.display()
    );
    install_build_dependencies()?;
    let source = fetch_source()?;

    let parent = cache.parent().expect("cache dir has a parent");
    std::fs::create_dir_all(parent)
        .map_err(|err| format!("step 'create cache dir {}': {err}", parent.display()))?;
    let work = parent.join(format!(
        ".build-{SOURCE_PACKAGE}-{SOURCE_VERSION}-{}",
        std::process::id()
    ));
    let outcome = build_into(&source, &work, cache);
    // Whatever happened, the scratch directory goes; only a complete cache entry stays.
    let _ = std::fs::remove_dir_all(&work);
    outcome?;
    eprintln!(
        "xtask: bitcoind built in {:.1} minutes",
        started.elapsed().as_secs_f64() / 60.0
    );
    Ok(())
}

fn build_into(source: &Path, work: &Path, cache: &Path) -> Result<()> {
    let build_dir = work.join("build");
    let jobs = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut configure = Command::new("cmake");
    configure
        .arg("-S")
        .arg(source)
        .arg("-B")
        .arg(&build_dir)
        .args(CMAKE_OPTIONS);
    status(&mut configure, "step 'cmake configure'")?;
    let mut compile = Command::new("cmake");
    compile
        .arg("--build")
        .arg(&build_dir)
        .arg(format!("-j{jobs}"))
        .args(["--target", "bitcoind", "bitcoin-cli"]);
    status(&mut compile, "step 'cmake build bitcoind bitcoin-cli'")?;

    let stage = work.join("stage");
    let bin = stage.join("bin");
    std::fs::create_dir_all(&bin).map_err(|err| format!("step 'stage binaries': {err}"))?;
    for name in ["bitcoind", "bitcoin-cli"] {
        let built = build_dir.join("bin").join(name);
        std::fs::copy(&built, bin.join(name))
            .map_err(|err| format!("step 'stage binaries': {}: {err}", built.display()))?;
    }
    if !runs(&bin.join("bitcoind")) {
        return Err("step 'check the built bitcoind': `bitcoind -version` failed".into());
    }
    std::fs::write(
        stage.join("SOURCE"),
        format!("{SOURCE_PACKAGE} {SOURCE_VERSION}\n"),
    )
    .map_err(|err| format!("step 'stage binaries': {err}"))?;
    match std::fs::rename(&stage, cache) {
        Ok(()) => Ok(()),
        // Another build finished first: its result is as good as ours.
        Err(_) if cache.join("bin").join("bitcoind").is_file() => Ok(()),
        Err(err) => Err(format!("step 'move the build into {}': {err}", cache.display()).into()),
    }
}

/// Installs the Debian build packages that are missing (as root, with apt-get).
fn install_build_dependencies() -> Result<()> {
    let missing: Vec<&str> = BUILD_PACKAGES
        .iter()
        .copied()
        .filter(|package| !debian_package_installed(package))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if on_path("apt-get").is_none() {
        return Err(format!(
            "step 'install build dependencies': apt-get not found; install {} yourself",
            missing.join(" ")
        )
        .into());
    }
    eprintln!("xtask: installing {}", missing.join(" "));
    let sudo = !is_root();
    let apt = |args: &[&str]| {
        let mut command = if sudo {
            let mut c = Command::new("sudo");
            c.arg("apt-get");
            c
        } else {
            Command::new("apt-get")
        };
        command.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        command
    };
    status(
        &mut apt(&["update", "-qq"]),
        "step 'install build dependencies' (apt-get update)",
    )?;
    let mut install = apt(&["install", "-y", "-qq", "--no-install-recommends"]);
    install.args(&missing);
    status(
        &mut install,
        "step 'install build dependencies' (apt-get install)",
    )
}

fn debian_package_installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("install ok installed"))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// Fetches the source package with cargo (a scratch manifest, never the workspace) and returns
/// the path of its `bitcoin/` folder.
fn fetch_source() -> Result<PathBuf> {
    let scratch = std::env::temp_dir().join(format!("spool-xtask-fetch-{}", std::process::id()));
    std::fs::create_dir_all(scratch.join("src"))
        .map_err(|err| format!("step 'fetch source': {err}"))?;
    std::fs::write(
        scratch.join("Cargo.toml"),
        format!(
            "[package]\nname = \"spool-bitcoind-source\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n\
             [dependencies]\n{SOURCE_PACKAGE} = \"={SOURCE_VERSION}\"\n\n[workspace]\n"
        ),
    )
    .map_err(|err| format!("step 'fetch source': {err}"))?;
    std::fs::write(scratch.join("src").join("lib.rs"), "")
        .map_err(|err| format!("step 'fetch source': {err}"))?;
    let manifest = scratch.join("Cargo.toml");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let outcome = (|| -> Result<PathBuf> {
        status(
            Command::new(&cargo)
                .arg("fetch")
                .arg("--manifest-path")
                .arg(&manifest),
            &format!("step 'cargo fetch {SOURCE_PACKAGE} {SOURCE_VERSION}'"),
        )?;
        let metadata = Command::new(&cargo)
            .args(["metadata", "--format-version", "1", "--manifest-path"])
            .arg(&manifest)
            .stderr(Stdio::inherit())
            .output()
            .map_err(|err| format!("step 'cargo metadata': {err}"))?;
        if !metadata.status.success() {
            return Err("step 'cargo metadata' failed".into());
        }
        let metadata: serde_json::Value = serde_json::from_slice(&metadata.stdout)
            .map_err(|err| format!("step 'cargo metadata': bad JSON: {err}"))?;
        let package_manifest = metadata["packages"]
            .as_array()
            .and_then(|packages| {
                packages
                    .iter()
                    .find(|p| p["name"] == SOURCE_PACKAGE && p["version"] == SOURCE_VERSION)
            })
            .and_then(|p| p["manifest_path"].as_str())
            .ok_or_else(|| format!("step 'cargo metadata': {SOURCE_PACKAGE} not listed"))?;
        let source = Path::new(package_manifest)
            .parent()
            .expect("a manifest has a directory")
            .join("bitcoin");
        if !source.join("CMakeLists.txt").is_file() {
            return Err(format!(
                "step 'fetch source': no Bitcoin Core tree at {}",
                source.display()
            )
            .into());
        }
        Ok(source)
    })();
    let _ = std::fs::remove_dir_all(&scratch);
    outcome
}

fn runs(exe: &Path) -> bool {
    Command::new(exe)
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

fn absolute(path: &Path) -> Result<PathBuf> {
    if path.is_absolute() {
        Ok(path.to_path_buf())
    } else {
        Ok(std::env::current_dir()?.join(path))
    }
}
