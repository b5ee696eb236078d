//! The offline commands (`verb`, `hash`, `wallet address`) against pyspool's own vectors,
//! through the `spool` binary and its `--json` output.

use std::process::Command;

use serde_json::Value;
use spool_cli::subcommand::{hash, verb, wallet};

const SPOOL: &str = env!("CARGO_BIN_EXE_spool");

fn vectors(name: &str) -> Value {
    let path = format!("{}/../../vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

fn spool(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    Command::new(SPOOL)
        .args(args)
        .envs(env.iter().copied())
        .env_remove("SPOOL_CONFIG")
        .env("XDG_CONFIG_HOME", "/nonexistent")
        .output()
        .unwrap()
}

fn json<T: serde::de::DeserializeOwned>(args: &[&str], env: &[(&str, &str)]) -> T {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let output = spool(&all, env);
    assert!(
        output.status.success(),
        "spool {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn verb_encode_and_decode_match_pyspool_vectors() {
    let vectors = vectors("verbs.json");
    let mut encoded = 0;
    for vector in vectors["verbs"].as_array().unwrap() {
        let text = vector["verb"].as_str().unwrap();
        let script = vector["script_hex"].as_str().unwrap();
        let expected: verb::DecodeOutput =
            serde_json::from_value(vector["decoded"].clone()).unwrap();
        // Decoding: from the text, from the script, from the bare payload.
        let from_text: verb::DecodeOutput = json(&["verb", "decode", text], &[]);
        assert_eq!(from_text, expected, "{text}");
        let from_script: verb::DecodeOutput = json(&["verb", "decode", "--hex", script], &[]);
        assert_eq!(from_script, expected, "{script}");
        let payload = bitcoin::hex::DisplayHex::to_lower_hex_string(text.as_bytes());
        let from_payload: verb::DecodeOutput = json(&["verb", "decode", "--hex", &payload], &[]);
        assert_eq!(from_payload, expected);

        // Encoding, from the action as pyspool names it (any case) and its arguments.
        let action = vector["action"].as_str().unwrap().to_lowercase();
        let args = &vector["args"];
        let mut argv = vec!["verb".to_string(), "encode".to_string(), action.clone()];
        if let Some(n) = args["edition_number"].as_u64() {
            argv.extend(["--edition".to_string(), n.to_string()]);
        }
        if let Some(n) = args["num_editions"].as_u64() {
            argv.extend(["--count".to_string(), n.to_string()]);
        }
        let dates = (args["loan_start"].as_str(), args["loan_end"].as_str());
        if let (Some(start), Some(end)) = dates {
            argv.extend(["--start".into(), start.into(), "--end".into(), end.into()]);
        }
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let mut all = vec!["--json"];
        all.extend_from_slice(&argv);
        let output = spool(&all, &[]);
        let refused_loan = match dates {
            (Some(start), Some(end)) => {
                let (start, end) = (
                    spool_protocol::verb::LoanDate::parse(start).unwrap(),
                    spool_protocol::verb::LoanDate::parse(end).unwrap(),
                );
                start.ymd().is_none() || end.ymd().is_none() || end < start
            }
            _ => false,
        };
        if refused_loan {
            // pyspool wrote such loans; spool-rs refuses to write nonsense dates.
            assert!(!output.status.success(), "{text} should be refused");
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(stderr.lines().count(), 1, "{stderr}");
            continue;
        }
        assert!(
            output.status.success(),
            "{argv:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let out: verb::EncodeOutput = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(out.verb, text);
        assert_eq!(out.script_hex, script);
        encoded += 1;
    }
    assert!(encoded > 50, "only {encoded} vectors encoded");
}

#[test]
fn verb_decode_rejects_with_the_input_quoted() {
    let vectors = vectors("verbs.json");
    let mut checked = 0;
    for reject in vectors["rejects"].as_array().unwrap() {
        let text = reject["input"].as_str().unwrap();
        if text.is_empty() || text.starts_with('-') || text.contains(['\n', '\0']) {
            continue;
        }
        let output = spool(&["verb", "decode", text], &[]);
        assert!(!output.status.success(), "{text:?} accepted");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.starts_with("error: "), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(text), "{stderr} does not quote {text:?}");
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} rejects checked");
}

#[test]
fn hash_matches_pyspool_file_vectors() {
    let image = format!("{}/../../vectors/ascribe.png", env!("CARGO_MANIFEST_DIR"));
    let mut checked = 0;
    for vector in vectors("files.json").as_array().unwrap() {
        if vector["file"].as_str() != Some("ascribe.png") {
            continue;
        }
        let network = if vector["testnet"].as_bool().unwrap() {
            "testnet"
        } else {
            "mainnet"
        };
        let mut args = vec![
            "hash".to_string(),
            image.clone(),
            "--network".into(),
            network.into(),
        ];
        for (key, value) in vector["metadata"].as_object().unwrap() {
            args.extend([
                "--meta".to_string(),
                format!("{key}={}", value.as_str().unwrap()),
            ]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out: hash::Output = json(&args, &[]);
        assert_eq!(out.file_hash, vector["file_hash"].as_str().unwrap());
        assert_eq!(
            out.file_hash_metadata,
            vector["file_hash_metadata"].as_str().unwrap()
        );
        checked += 1;
    }
    assert!(checked >= 2, "only {checked} file vectors for ascribe.png");
}

#[test]
fn wallet_address_matches_pyspool_wallet_vectors() {
    for vector in vectors("wallets.json").as_array().unwrap().iter().take(40) {
        let secret = vector["secret"].as_str().unwrap();
        let path = vector["path"].as_str().unwrap();
        let network = vector["network"].as_str().unwrap();
        let out: wallet::Output = json(
            &[
                "wallet",
                "address",
                "--secret-env",
                "SPOOL_T_VECTOR",
                "--path",
                path,
                "--network",
                network,
            ],
            &[("SPOOL_T_VECTOR", secret)],
        );
        assert_eq!(
            out.address,
            vector["address"].as_str().unwrap(),
            "{path} {network}"
        );
        assert_eq!(out.path, path);
    }
    // --unique: a fresh 7-component time path.
    let out: wallet::Output = json(
        &[
            "wallet",
            "address",
            "--unique",
            "--secret-env",
            "S",
            "--network",
            "testnet",
        ],
        &[("S", "MaStErPaSsWoRd")],
    );
    assert_eq!(out.path.split('/').count(), 7);
    assert!(out.address.starts_with('m') || out.address.starts_with('n'));
}

#[test]
fn secret_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secret");
    std::fs::write(&file, "MaStErPaSsWoRd\n").unwrap();
    let out: wallet::Output = json(
        &[
            "wallet",
            "address",
            "--secret-file",
            file.to_str().unwrap(),
            "--network",
            "testnet",
        ],
        &[],
    );
    assert_eq!(out.address, "mp3vXQA3sHkZwVmLRUEotDG54aqwBVYTLd");
}
