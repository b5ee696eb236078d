//! A pyspool secret that ends in a newline reaches pyspool's wallet (issue 17, item 1):
//! `--secret-exact` takes `--secret-env` and `--secret-file` verbatim, `--secret-fd` reads a
//! descriptor byte for byte, and the convenience rule (one trailing newline dropped) says so
//! on stderr. The addresses are pyspool's own (vectors/wallets_newline.json).

use std::io::Write;
use std::process::{Command, Output};

use serde_json::Value;

const SPOOL: &str = env!("CARGO_BIN_EXE_spool");

fn vectors(name: &str) -> Vec<Value> {
    let path = format!("{}/../../vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

/// The pyspool address of `secret` on mainnet at `path`, from `file`.
fn pyspool_address(file: &str, secret: &str, path: &str) -> String {
    vectors(file)
        .into_iter()
        .find(|v| v["secret"] == secret && v["network"] == "mainnet" && v["path"] == path)
        .unwrap_or_else(|| panic!("no vector for {secret:?} {path:?} in {file}"))["address"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// `spool --network mainnet --json wallet address ARGS` (through `sh -c` so that a test can
/// open a descriptor), checked for the secret never appearing.
fn address(shell_args: &str, env: &[(&str, &str)], secret: &str) -> (String, String) {
    let output: Output = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "exec \"$SPOOL\" --network mainnet --json wallet address {shell_args}"
        ))
        .env("SPOOL", SPOOL)
        .envs(env.iter().copied())
        .env_remove("SPOOL_CONFIG")
        .env("XDG_CONFIG_HOME", "/nonexistent")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(output.status.success(), "{shell_args}: {stderr}");
    let bare = secret.trim_end();
    assert!(
        !stdout.contains(bare) && !stderr.contains(bare),
        "the secret leaked: {stdout} {stderr}"
    );
    let json: Value = serde_json::from_str(&stdout).unwrap();
    (json["address"].as_str().unwrap().to_owned(), stderr)
}

#[test]
fn the_default_drops_one_newline_and_says_so() {
    let secret = "federation-secret\n";
    let (got, stderr) = address("--secret-env SECRET", &[("SECRET", secret)], secret);
    assert_eq!(
        got,
        pyspool_address("wallets.json", "federation-secret", ""),
        "the convenience rule: the wallet of the secret without its newline"
    );
    assert!(
        stderr.contains("one trailing newline was dropped") && stderr.contains("--secret-exact"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
}

#[test]
fn secret_exact_reaches_pyspools_wallet_from_a_variable_and_a_file() {
    let secret = "federation-secret\n";
    let (got, stderr) = address(
        "--secret-env SECRET --secret-exact",
        &[("SECRET", secret)],
        secret,
    );
    assert_eq!(got, pyspool_address("wallets_newline.json", secret, ""));
    assert!(stderr.is_empty(), "nothing dropped, nothing said: {stderr}");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secret");
    let secret = "MaStErPaSsWoRd\r\n";
    std::fs::write(&file, secret).unwrap();
    let (got, _) = address(
        &format!(
            "--secret-file '{}' --secret-exact --path 1/2/3",
            file.display()
        ),
        &[],
        secret,
    );
    assert_eq!(
        got,
        pyspool_address("wallets_newline.json", secret, "1/2/3")
    );
}

#[test]
fn secret_fd_reads_a_descriptor_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secret");
    let secret = "alice-secret\n\n";
    std::fs::File::create(&file)
        .unwrap()
        .write_all(secret.as_bytes())
        .unwrap();
    let path = "2015/5/28/9/28/44/982190";
    let (got, stderr) = address(
        &format!("--secret-fd 3 --path {path} 3<'{}'", file.display()),
        &[],
        secret,
    );
    assert_eq!(got, pyspool_address("wallets_newline.json", secret, path));
    assert!(stderr.is_empty(), "{stderr}");
    // From a pipe too.
    let (got, _) = address("--secret-fd 3 3<<'EOF'\nbob\nEOF", &[], "bob\n");
    assert_eq!(got, pyspool_address("wallets_newline.json", "bob\n", ""));
}

#[test]
fn a_closed_descriptor_is_a_one_line_error() {
    let output = Command::new(SPOOL)
        .args([
            "--network",
            "mainnet",
            "wallet",
            "address",
            "--secret-fd",
            "9",
        ])
        .env_remove("SPOOL_CONFIG")
        .env("XDG_CONFIG_HOME", "/nonexistent")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("file descriptor 9"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}
