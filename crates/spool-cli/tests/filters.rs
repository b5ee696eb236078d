//! `spool index --filters` on a real regtest node: a federation-scoped index reports its
//! mode, the blocks its filters matched and their false positives; continuing it without
//! `--filters` is refused, as is `--filters` without a federation or against a node that
//! keeps no compact block filters.

mod serving;
mod support;

use std::time::{Duration, Instant};

use serving::Parties;
use spool_cli::subcommand::index;
use support::{Env, Scenario, FEDERATION};

fn tip(env: &Env) -> u64 {
    env.node
        .call("getblockcount", &[])
        .unwrap()
        .as_u64()
        .unwrap()
}

/// Waits until the node's filter index holds the tip.
fn filters_built(env: &Env) {
    let started = Instant::now();
    loop {
        let info = env.node.call("getindexinfo", &[]).unwrap();
        if info["basic block filter index"]["best_block_height"].as_u64() == Some(tip(env)) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the node's filter index did not catch up: {info}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn index_with_filters_reports_its_mode_and_keeps_it() {
    let env = Env::start_with_args(&["-blockfilterindex=1"]);
    let p = Parties::new(&env);
    Scenario::funded(&env, 20, 40);
    env.act(
        &FEDERATION,
        "",
        &[
            "register",
            "--piece",
            &p.piece,
            "--to",
            &p.user1,
            "--edition",
            "0",
        ],
    );
    env.mine(1);
    env.mine(50);
    filters_built(&env);

    let run = env.run(&["index", "--filters"]);
    assert!(!run.ok, "--filters without a federation on regtest");
    assert!(
        run.stderr.contains("give --federation ADDR"),
        "{}",
        run.stderr
    );

    let out: index::Output = env.json(&["index", "--filters", "--federation", &p.federation]);
    assert_eq!(out.indexed_height, Some(tip(&env)));
    assert!(out.mode.starts_with("filters "), "{}", out.mode);
    let matched = out
        .blocks_matched
        .expect("a filtered index counts its matches");
    assert!(
        matched >= 2 && matched < tip(&env) / 2,
        "{matched} blocks matched"
    );
    assert!(out.false_positives.is_some());

    let run = env.run(&["index"]);
    assert!(!run.ok, "a filtered index continued as a full one");
    assert!(
        run.stderr.contains("was made in mode") && run.stderr.contains("not \"full\""),
        "{}",
        run.stderr
    );
}

#[test]
fn index_with_filters_needs_a_node_with_filters() {
    let env = Env::start();
    let p = Parties::new(&env);
    let run = env.run(&["index", "--filters", "--federation", &p.federation]);
    assert!(!run.ok);
    assert!(run.stderr.contains("-blockfilterindex=1"), "{}", run.stderr);
}
