//! Write authentication of `spool serve` (issue 18, item 3): once `--api-token-file` is
//! given, a broadcast needs the token (from SPOOL_SERVER_TOKEN or `--server-token-file`);
//! reads stay open; a missing or wrong token gets a JSON 401 and one clear CLI line, and
//! nothing is broadcast; a non-loopback `--http` without a token is refused. The token is
//! then searched for in every output of the run, the server's most verbose log included.

mod serving;
mod support;

use std::process::Stdio;

use serving::{Parties, Server};
use support::{Env, Run, Scenario, FEDERATION};

const TOKEN: &str = "tok-9f2c81d7e4a0b5c3-never-shown";

#[test]
fn writes_need_the_token_reads_do_not_and_the_token_is_never_shown() {
    let env = Env::start();
    let p = Parties::new(&env);
    Scenario::funded(&env, 4, 10);
    let dir = env.data_path();
    let token_file = dir.join("api-token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let log = dir.join("serve.log");
    let token_path = token_file.to_string_lossy().to_string();
    let server = Server::start_logged(
        &env,
        &["--watch", &p.federation, "--api-token-file", &token_path],
        &log,
    );
    server.wait_synced(&env);
    let via = ["--server", server.url.as_str()];
    let register = |edition: &str| -> Vec<String> {
        [
            &via[..],
            &[
                "register",
                "--piece",
                &p.piece,
                "--to",
                &p.user1,
                "--edition",
                edition,
                "--secret-env",
                FEDERATION.env,
                "--min-conf",
                "1",
            ],
        ]
        .concat()
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let mut outputs: Vec<Run> = Vec::new();
    let run = |args: &[String], vars: &[(&str, &str)]| -> Run {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = env
            .command(&args)
            .envs(vars.iter().copied())
            .stdin(Stdio::null())
            .output()
            .expect("spawn spool");
        Run::from_output(output)
    };

    // Reads stay open.
    let read = run(
        &[&via[..], &["history", &p.file_hash]]
            .concat()
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>(),
        &[],
    );
    assert!(read.ok, "{}", read.stderr);
    outputs.push(read);

    // No token: a JSON 401 from the API, one line from the CLI, nothing broadcast.
    let before = env.mempool();
    let missing = run(&register("0"), &[]);
    missing.assert_error("refused the credentials");
    assert!(
        missing
            .stderr
            .contains("SPOOL_SERVER_TOKEN or --server-token-file"),
        "{}",
        missing.stderr
    );
    assert_eq!(env.mempool(), before, "nothing was broadcast");
    outputs.push(missing);
    let wrong = run(
        &register("0"),
        &[("SPOOL_SERVER_TOKEN", "tok-wrong-wrong-wrong-wrong")],
    );
    wrong.assert_error("the API token sent was refused: the API token is wrong");
    assert_eq!(env.mempool(), before, "nothing was broadcast");
    outputs.push(wrong);
    let (status, body) = serving::post(&server.url, "/api/v1/tx", "00");
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("\"error\""), "{body}");

    // The token from the environment, then from a file: both broadcast.
    let by_env = run(&register("0"), &[("SPOOL_SERVER_TOKEN", TOKEN)]);
    assert!(by_env.ok, "{}", by_env.stderr);
    outputs.push(by_env);
    env.mine(1);
    server.wait_synced(&env);
    let by_file: Vec<String> = [
        "--server-token-file",
        &token_path,
        "--server",
        &server.url,
        "editions",
        "--piece",
        &p.piece,
        "--to",
        &p.user1,
        "--count",
        "10",
        "--secret-env",
        FEDERATION.env,
        "--min-conf",
        "1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let by_file_run = run(&by_file, &[]);
    assert!(by_file_run.ok, "{}", by_file_run.stderr);
    assert_eq!(
        env.mempool().len(),
        1,
        "the second registration is in the mempool"
    );
    outputs.push(by_file_run);

    // A token unfit for a header is refused by the client, without being shown.
    let unfit = run(
        &register("2"),
        &[("SPOOL_SERVER_TOKEN", "has a space in it, never-shown")],
    );
    unfit.assert_error("the API token from SPOOL_SERVER_TOKEN is unusable: character 4");
    assert!(!unfit.stderr.contains("never-shown"), "{}", unfit.stderr);
    outputs.push(unfit);

    // A non-loopback address without a token is refused before anything is served.
    let open = run(
        &["serve", "--http", "0.0.0.0:0"]
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>(),
        &[],
    );
    open.assert_error("a non-loopback address needs --api-token-file FILE");
    outputs.push(open);

    drop(server);
    let log_text = std::fs::read_to_string(&log).expect("the server's log");
    assert!(
        log_text.contains("write refused"),
        "the refusals are logged: {log_text}"
    );
    assert!(
        !log_text.contains(TOKEN),
        "the token is in the server's log"
    );
    for out in &outputs {
        assert!(
            !out.stdout.contains(TOKEN) && !out.stderr.contains(TOKEN),
            "the token leaked: {out:?}"
        );
    }
}
