//! `spool batch` (issue 18, item 4) on regtest: 1,000 registrations of one piece from one
//! file through `spool serve`, killed with -9 in the middle (a real kill, then the test hook
//! between a line's journal and its send, and after a send with the next line prepared
//! alongside) and rerun: exactly 1,000 registrations, none
//! doubled, every line answered once with its JSON line. Also `register --editions A..B`,
//! a failing line (stops, or `--keep-going`), and a malformed file refused before anything
//! is sent.

mod serving;
mod support;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use serving::{Parties, Server};
use spool_cli::subcommand::batch::LineOutput;
use spool_cli::subcommand::history;
use support::{Env, Run, Scenario, Step, FEDERATION, REFILL};

const COUNT: u64 = 1_000;

fn batch(env: &Env, server: &Server, file: &Path, extra: &[&str]) -> Command {
    let file = file.to_string_lossy().to_string();
    let mut args = vec!["--server", server.url.as_str(), "batch", file.as_str()];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--secret-env", FEDERATION.env, "--min-conf", "1"]);
    let mut command = env.command(&args);
    command.stdin(Stdio::null());
    command
}

fn lines_of(stdout: &str) -> Vec<LineOutput> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn a_thousand_registrations_survive_kill_9_and_a_rerun_without_a_double() {
    let env = Env::start();
    let p = Parties::new(&env);
    let mut scenario = Scenario::funded(&env, (COUNT + 20) as u32, 1_000);
    scenario.by(
        &REFILL,
        "",
        &Step::RefillMain {
            to: p.federation.clone(),
            fees: 0,
            tokens: (3 * COUNT + 100 - 1_000) as u32,
        },
    );
    scenario.register_piece(&p.piece, &p.user1, COUNT);
    let server = Server::start(&env, &["--watch", &p.federation]);
    server.wait_synced(&env);

    let file = env.data_path().join("registrations.jsonl");
    let text: String = (1..=COUNT)
        .map(|n| {
            format!(
                "{{\"id\":\"r{n}\",\"action\":\"register\",\"piece\":\"{}\",\"to\":\"{}\",\"edition\":{n}}}\n",
                p.piece, p.user1
            )
        })
        .collect();
    std::fs::write(&file, text).unwrap();

    // A real kill -9 after 300 answered lines.
    let mut child = batch(&env, &server, &file, &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn spool batch");
    let mut answered = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        answered.push(line.unwrap());
        if answered.len() == 300 {
            child.kill().expect("kill -9");
            break;
        }
    }
    let _ = child.wait();
    assert_eq!(answered.len(), 300);

    // Then the hook: abort right after journalling line 700, before its send.
    let second = batch(&env, &server, &file, &[])
        .env(spool_cli::subcommand::batch::ABORT_AFTER_JOURNAL, "700")
        .output()
        .unwrap();
    assert!(!second.status.success());
    let second = lines_of(&String::from_utf8_lossy(&second.stdout));
    assert!(second.len() >= 699 - 300, "{}", second.len());
    assert!(second.iter().all(|l| l.status != "error"), "{second:?}");

    // Then the other hook: abort right after line 850 was sent, with line 851 prepared
    // alongside (reserved here and with the server, signed, never journalled). The rerun
    // must release that reservation, with the server too, before it registers 851 again:
    // otherwise the server's claim on edition 851 refuses it until its lease lapses.
    let overlapped = batch(&env, &server, &file, &[])
        .env(spool_cli::subcommand::batch::ABORT_AFTER_SEND, "850")
        .output()
        .unwrap();
    assert!(!overlapped.status.success());
    let overlapped = lines_of(&String::from_utf8_lossy(&overlapped.stdout));
    assert_eq!(
        overlapped.last().map(|l| l.line),
        Some(850),
        "{overlapped:?}"
    );
    assert!(overlapped.iter().all(|l| l.status != "error"));
    let resent = overlapped.iter().find(|l| l.line == 700).unwrap();
    assert_eq!(
        resent.status, "resent",
        "the journalled line 700, never sent: sent once"
    );

    // The rerun finishes the file.
    let third = Run::from_output(batch(&env, &server, &file, &[]).output().unwrap());
    assert!(third.ok, "{}", third.stderr);
    let third = lines_of(&third.stdout);
    assert_eq!(third.len(), COUNT as usize, "every line answered once");
    assert!(
        third[..850].iter().all(|l| l.status == "skipped"),
        "{:?}",
        third.iter().find(|l| l.status != "skipped")
    );
    assert!(
        third[850..].iter().all(|l| l.status == "broadcast"),
        "{:?}",
        &third[850]
    );
    assert_eq!(third[0].id, Some(serde_json::json!("r1")));

    env.mine(1);
    server.wait_synced(&env);
    let h: history::Output = env.json(&[
        "--server",
        &server.url,
        "history",
        &p.file_hash,
        "--federation",
        &p.federation,
    ]);
    let mut editions = BTreeSet::new();
    let mut registers = 0;
    for event in h.events.iter().filter(|e| e.action == "REGISTER") {
        if matches!(event.edition_number, None | Some(0)) {
            continue;
        }
        registers += 1;
        assert!(event.valid, "{event:?}");
        assert!(editions.insert(event.edition_number), "a double: {event:?}");
    }
    let odd: Vec<_> = editions
        .iter()
        .filter(|e| !matches!(e, Some(n) if (1..=COUNT).contains(n)))
        .collect();
    assert!(odd.is_empty(), "registrations outside 1..={COUNT}: {odd:?}");
    assert_eq!(registers, COUNT as usize, "exactly 1,000 registrations");
}

#[test]
fn register_editions_runs_a_batch_and_a_failure_stops_it_unless_keep_going() {
    let env = Env::start();
    let p = Parties::new(&env);
    let mut scenario = Scenario::funded(&env, 30, 90);
    scenario.register_piece(&p.piece, &p.user1, 10);
    let server = Server::start(&env, &["--watch", &p.federation]);
    server.wait_synced(&env);
    let via = ["--server", server.url.as_str()];

    let run = env.run(
        &[
            &via[..],
            &[
                "register",
                "--piece",
                &p.piece,
                "--to",
                &p.user1,
                "--editions",
                "1..3",
                "--secret-env",
                FEDERATION.env,
                "--min-conf",
                "1",
            ],
        ]
        .concat(),
    );
    assert!(run.ok, "{}", run.stderr);
    let lines = lines_of(&run.stdout);
    assert_eq!(
        lines.iter().map(|l| l.status.as_str()).collect::<Vec<_>>(),
        ["broadcast"; 3]
    );
    assert!(
        run.stderr.contains("batch: 3 done, 0 skipped"),
        "{}",
        run.stderr
    );
    env.mine(1);
    server.wait_synced(&env);

    // Edition 11 does not exist: the line fails, the batch stops there (exit 2).
    let file = env.data_path().join("mixed.jsonl");
    let line = |edition: u64| {
        format!(
            "{{\"action\":\"register\",\"piece\":\"{}\",\"to\":\"{}\",\"edition\":{edition}}}\n",
            p.piece, p.user1
        )
    };
    std::fs::write(&file, [line(4), line(11), line(5)].concat()).unwrap();
    let stopped = Run::from_output(batch(&env, &server, &file, &[]).output().unwrap());
    assert_eq!(stopped.code, Some(2), "{stopped:?}");
    let lines = lines_of(&stopped.stdout);
    assert_eq!(lines.len(), 2, "stopped at the failure: {lines:?}");
    assert_eq!(lines[1].status, "error");
    assert_eq!(lines[1].exit, 2);
    let kept = Run::from_output(
        batch(&env, &server, &file, &["--keep-going"])
            .output()
            .unwrap(),
    );
    assert_eq!(kept.code, Some(2));
    let lines = lines_of(&kept.stdout);
    assert_eq!(
        lines.iter().map(|l| l.status.as_str()).collect::<Vec<_>>(),
        ["skipped", "error", "broadcast"]
    );

    // A malformed file: refused before anything is sent.
    let bad = env.data_path().join("bad.jsonl");
    std::fs::write(
        &bad,
        [
            line(6),
            "{\"action\": \"register\", \"edtion\": 7}\n".to_string(),
        ]
        .concat(),
    )
    .unwrap();
    let before = env.mempool();
    let refused = Run::from_output(batch(&env, &server, &bad, &[]).output().unwrap());
    assert_eq!(refused.code, Some(2));
    assert!(refused.stderr.contains("line 2 of"), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("unknown field `edtion`"),
        "{}",
        refused.stderr
    );
    assert_eq!(env.mempool(), before, "nothing sent");
}
