//! Command-line conventions, with the binary alone: shell completions, exit codes (2 for
//! input to correct, 1 for failures outside it), boolean config keys overridden on the
//! command line, and testnet4.

mod support;

use std::process::Command;

use support::{Run, SPOOL};

/// `spool ARGS` with no config file, no node and the given environment.
fn spool(args: &[&str], vars: &[(&str, &str)]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let output = Command::new(SPOOL)
        .arg("--rpc-url")
        .arg(format!("http://127.0.0.1:{port}"))
        .args(["--rpc-cookie", "/nonexistent/.cookie", "--data-dir"])
        .arg(dir.path())
        .args(args)
        .env("XDG_CONFIG_HOME", dir.path())
        .env_remove("SPOOL_CONFIG")
        .env_remove("SPOOL_JSON")
        .env_remove("SPOOL_NETWORK")
        .env("SPOOL_T_SECRET", "conventions secret")
        .envs(vars.iter().copied())
        .output()
        .unwrap();
    Run::from_output(output)
}

#[test]
fn completions_are_generated_for_each_shell() {
    for (shell, marker) in [
        ("bash", "complete -F _spool"),
        ("zsh", "#compdef spool"),
        ("fish", "complete -c spool"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let run = spool(&["completions", shell], &[]);
        assert!(run.ok, "{shell}: {}", run.stderr);
        assert!(run.stdout.contains(marker), "{shell}: no {marker:?}");
        for subcommand in ["history", "piece", "fuel", "transfer", "completions"] {
            assert!(
                run.stdout.contains(subcommand),
                "{shell} lacks {subcommand}"
            );
        }
    }
    let run = spool(&["completions", "tcsh"], &[]);
    run.assert_error("invalid value 'tcsh'");
    assert_eq!(run.code, Some(2));
}

#[test]
fn input_to_correct_exits_2_and_other_failures_exit_1() {
    let regtest = ["--network", "regtest"];
    let with = |args: &[&str]| spool(&[&regtest[..], args].concat(), &[]);
    // Usage.
    assert_eq!(with(&["history"]).code, Some(2));
    // Malformed values.
    let run = with(&["history", "not-an-address"]);
    run.assert_error("malformed address");
    assert_eq!(run.code, Some(2));
    let run = with(&["verb", "encode", "SELL", "--edition", "1"]);
    assert_eq!(run.code, Some(2));
    let run = with(&["verb", "decode", "ASCRIBESPOOL01NOTAVERB"]);
    assert_eq!(run.code, Some(2), "{run:?}");
    // An address of another network.
    let run = with(&["history", "19XyEM554GKKAPHihuGS4J3kCbFEBvqcYz"]);
    run.assert_error("another network");
    assert_eq!(run.code, Some(2));
    // Invalid dates, edition 0 of an owner action.
    let transfer = [
        "transfer",
        "--piece",
        "mhXeWEMLnEwVNnyqKrqUDPAYSuwhfyNXA7",
        "--to",
        "mhRJqLG3BwXXG7YADQD3Ng3c6coZVwoFo6",
        "--secret-env",
        "SPOOL_T_SECRET",
    ];
    let run = with(&[&transfer[..], &["--edition", "0"]].concat());
    run.assert_error("edition 0");
    assert_eq!(run.code, Some(2));
    // A missing secret source.
    let run = with(&["wallet", "address", "--secret-env", "SPOOL_T_UNSET"]);
    run.assert_error("SPOOL_T_UNSET");
    assert_eq!(run.code, Some(2));
    // A bad config file.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(&config, "colour = true\n").unwrap();
    let run = with(&["--config", config.to_str().unwrap(), "verb", "decode", "x"]);
    run.assert_error("unknown field `colour`");
    assert_eq!(run.code, Some(2));
    // Outside the user's input: the node cannot be reached.
    let run = with(&["history", "mhXeWEMLnEwVNnyqKrqUDPAYSuwhfyNXA7"]);
    run.assert_error("cannot reach http://127.0.0.1:");
    assert_eq!(run.code, Some(1));
}

#[test]
fn a_config_files_json_can_be_switched_off_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(&config, "json = true\n").unwrap();
    let config = config.to_str().unwrap();
    let decode = |extra: &[&str], vars: &[(&str, &str)]| {
        let args = [
            &["--config", config][..],
            extra,
            &["verb", "decode", "ASCRIBESPOOL01PIECE"],
        ]
        .concat();
        let run = spool(&args, vars);
        assert!(run.ok, "{extra:?}: {}", run.stderr);
        run.stdout.trim_start().starts_with('{')
    };
    assert!(decode(&[], &[]), "json = true from the config file");
    assert!(!decode(&["--json=false"], &[]));
    assert!(!decode(&["--no-json"], &[]));
    assert!(!decode(&[], &[("SPOOL_JSON", "false")]));
    assert!(!decode(&[], &[("SPOOL_JSON", "0")]));
    assert!(!decode(&["--no-json"], &[("SPOOL_JSON", "1")]));
    assert!(decode(&["--json=yes"], &[]));
    assert!(
        decode(&["--json"], &[("SPOOL_JSON", "false")]),
        "a flag beats the environment"
    );
    assert!(decode(&["--no-json", "--json"], &[]), "the last one wins");
    let run = spool(
        &["--json=maybe", "verb", "decode", "ASCRIBESPOOL01PIECE"],
        &[],
    );
    assert_eq!(run.code, Some(2));
    let run = spool(
        &["verb", "decode", "ASCRIBESPOOL01PIECE"],
        &[("SPOOL_JSON", "maybe")],
    );
    run.assert_error("SPOOL_JSON=\"maybe\" is not a boolean");
    assert_eq!(run.code, Some(2));
}

#[test]
fn testnet4_is_a_network() {
    let address = |network: &str| {
        let run = spool(
            &[
                "--network",
                network,
                "--json",
                "wallet",
                "address",
                "--secret-env",
                "SPOOL_T_SECRET",
            ],
            &[],
        );
        assert!(run.ok, "{network}: {}", run.stderr);
        let out: spool_cli::subcommand::wallet::Output = serde_json::from_str(&run.stdout).unwrap();
        out.address
    };
    assert_eq!(
        address("testnet4"),
        address("testnet"),
        "same address format"
    );
    // Its default RPC port is 48332 (nothing listens there in tests).
    let run = Command::new(SPOOL)
        .args(["--network", "testnet4", "--rpc-user", "u"])
        .args(["history", "mhXeWEMLnEwVNnyqKrqUDPAYSuwhfyNXA7"])
        .env("SPOOL_RPC_PASSWORD", "p")
        .env_remove("SPOOL_CONFIG")
        .env_remove("SPOOL_RPC_URL")
        .output()
        .unwrap();
    let run = Run::from_output(run);
    run.assert_error("cannot reach http://127.0.0.1:48332");
    assert_eq!(run.code, Some(1));
}
