//! The federation rule from every source, on a real regtest node: off by default outside
//! mainnet (and said so), on from the config file's `federation`, from `SPOOL_FEDERATION`,
//! from `--federation`, in that order of precedence (flags, environment, config file).

mod support;

use spool_cli::subcommand::history;
use support::{Env, Run, Scenario, FEDERATION, REFILL, STRANGER};

/// A piece (any base58 file hash).
const PIECE: &str = "mhXeWEMLnEwVNnyqKrqUDPAYSuwhfyNXA7";

fn history_with(env: &Env, vars: &[(&str, &str)], args: &[&str]) -> (Run, Option<history::Output>) {
    let mut all = vec!["--json", "history", PIECE];
    all.extend_from_slice(args);
    let output = env
        .command(&all)
        .envs(vars.iter().copied())
        .output()
        .expect("spawn spool");
    let run = Run::from_output(output);
    let parsed = run.ok.then(|| serde_json::from_str(&run.stdout).unwrap());
    (run, parsed)
}

fn rule_and_validity(out: &history::Output) -> (bool, bool, Option<String>) {
    let event = &out.events[0];
    (
        out.federation_rule,
        event.valid,
        event.reason.as_ref().map(|r| r.code().to_owned()),
    )
}

#[test]
fn federation_rule_from_config_file_environment_and_flags() {
    let env = Env::start();
    let refill = env.address(&REFILL, "");
    let federation = env.address(&FEDERATION, "");
    let stranger = env.address(&STRANGER, "");
    Scenario::funding(&env, &stranger, 5, 10);

    // A stranger registers the master edition: with no federation set (regtest's default)
    // the pre-check lets it through.
    env.act(
        &STRANGER,
        "",
        &[
            "register",
            "--piece",
            PIECE,
            "--to",
            &stranger,
            "--edition",
            "0",
        ],
    );
    env.mine(1);

    // No federation: accepted, and the output says the rule was not applied.
    let (_, out) = history_with(&env, &[], &[]);
    assert_eq!(rule_and_validity(&out.unwrap()), (false, true, None));
    let table = env.run(&["history", PIECE]);
    assert!(
        table.stdout.contains("warning: no federation set"),
        "{}",
        table.stdout
    );

    // From the config file.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("spool.toml");
    std::fs::write(&config, format!("federation = [\"{federation}\"]\n")).unwrap();
    let config = config.to_str().unwrap();
    let not_from_federation = (true, false, Some("not_from_federation".to_owned()));
    let (_, out) = history_with(&env, &[], &["--config", config]);
    assert_eq!(rule_and_validity(&out.unwrap()), not_from_federation);
    let table = env.run(&["history", PIECE, "--config", config]);
    assert!(!table.stdout.contains("warning"), "{}", table.stdout);

    // From the environment (comma-separated), also without a config file.
    let two = format!("{stranger}x,{federation}");
    let (run, _) = history_with(&env, &[("SPOOL_FEDERATION", &two)], &[]);
    run.assert_error("malformed address");
    assert_eq!(run.code, Some(2));
    let two = format!("{refill}, {federation}");
    let (_, out) = history_with(&env, &[("SPOOL_FEDERATION", &two)], &[]);
    assert_eq!(rule_and_validity(&out.unwrap()), not_from_federation);

    // The environment beats the config file: an empty SPOOL_FEDERATION turns the rule off,
    // and the stranger as federation makes the registration valid.
    let (_, out) = history_with(&env, &[("SPOOL_FEDERATION", "")], &["--config", config]);
    assert_eq!(rule_and_validity(&out.unwrap()), (false, true, None));
    let (_, out) = history_with(
        &env,
        &[("SPOOL_FEDERATION", &stranger)],
        &["--config", config],
    );
    assert_eq!(rule_and_validity(&out.unwrap()), (true, true, None));

    // A flag beats both.
    let (_, out) = history_with(
        &env,
        &[("SPOOL_FEDERATION", &stranger)],
        &["--config", config, "--federation", &federation],
    );
    assert_eq!(rule_and_validity(&out.unwrap()), not_from_federation);

    // An address of another network in the environment is the user's to correct.
    let (run, _) = history_with(
        &env,
        &[("SPOOL_FEDERATION", "19XyEM554GKKAPHihuGS4J3kCbFEBvqcYz")],
        &[],
    );
    run.assert_error(
        "federation address 19XyEM554GKKAPHihuGS4J3kCbFEBvqcYz is an address of another network",
    );
    assert_eq!(run.code, Some(2));

    // Actions use the same federation: the stranger's registration of edition 0 of another
    // piece is refused with the federation from the config file (exit 2, nothing sent).
    let other = "mzQxP43Y4A6PfYeArV2mGBEucJfDtsyCk5";
    let refused = env.run(&[
        "register",
        "--piece",
        other,
        "--to",
        &stranger,
        "--edition",
        "0",
        "--secret-env",
        STRANGER.env,
        "--min-conf",
        "1",
        "--config",
        config,
    ]);
    refused.assert_error("refused");
    assert_eq!(refused.code, Some(2));
    assert!(env.mempool().is_empty());
}
