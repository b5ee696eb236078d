//! Issue 12's fuzz-style test: 1,000 generated command lines (random subcommands, options,
//! sizes, unicode and control bytes) run by the `spool` binary against a real regtest node,
//! every action in `--dry-run` mode. None may panic or abort; every failure is a non-zero
//! exit with exactly one `error: ...` line on stderr and nothing on stdout; no stderr line is
//! longer than 1 KB, nor any stdout line but a dry run's signed transaction (its hex is the
//! output asked for). Nothing is ever broadcast. The generator is a fixed-seed xorshift, so
//! a failure names a command line that reproduces it.

mod support;

use support::{Env, Run, FEDERATION};

/// xorshift64*: small, deterministic, good enough to pick test inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const SUBCOMMANDS: &[&str] = &[
    "refill-main",
    "refill",
    "register-piece",
    "register",
    "editions",
    "consigned-registration",
    "migrate",
    "transfer",
    "consign",
    "unconsign",
    "loan",
    "history",
    "ownership",
    "verb",
    "hash",
    "wallet",
    "reservations",
    "sell",
    "",
    "--help",
];

const FLAGS: &[&str] = &[
    "--to",
    "--piece",
    "--edition",
    "--count",
    "--fees",
    "--tokens",
    "--prev",
    "--new",
    "--start",
    "--end",
    "--fee-rate",
    "--min-conf",
    "--path",
    "--federation",
    "--format",
    "--meta",
    "--hex",
    "--no-check",
    "--unique",
    "--bogus",
];

/// A random value: numbers of every size, addresses of every network, unicode, control
/// bytes, very long text.
fn value(rng: &mut Rng) -> String {
    const FIXED: &[&str] = &[
        "0",
        "1",
        "2",
        "7",
        "-1",
        "18446744073709551615",
        "18446744073709551616",
        "4294967295",
        "4294967296",
        "100000000",
        "1e9",
        "NaN",
        "inf",
        "0.0001",
        "",
        " ",
        "mhXeWEMLnEwVNnyqKrqUDPAYSuwhfyNXA7",
        "mhRJqLG3BwXXG7YADQD3Ng3c6coZVwoFo6",
        "19XyEM554GKKAPHihuGS4J3kCbFEBvqcYz",
        "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080",
        "mhXeWEMLnEwVNnyqKrqUDPAYSuwhfyNXA7,mhRJqLG3BwXXG7YADQD3Ng3c6coZVwoFo6",
        "150526",
        "991332",
        "TRANSFER",
        "ASCRIBESPOOL01TRANSFER1",
        "json",
        "dot",
        "table",
        "1/2/3",
        "2147483648",
        "k=v",
        "édition",
        "日本語のテキスト",
        "🎨🖼️",
        "\u{202e}reversed",
        "a\u{1}b\u{7}c\u{1b}[31mred\u{1b}[0m",
        "line\nbreak",
        "tab\there",
        "\r",
        "%s%n%x",
        "'; DROP TABLE pieces; --",
        "../../../../etc/passwd",
    ];
    match rng.below(10) {
        0 => "x".repeat(1 + rng.below(5000)),
        1 => {
            // Random printable and control characters (no NUL: argv cannot carry it).
            (0..1 + rng.below(64))
                .map(|_| char::from_u32(1 + rng.below(0x2FF) as u32).unwrap_or('?'))
                .collect()
        }
        2 => rng.next().to_string(),
        _ => rng.pick(FIXED).to_owned(),
    }
}

fn command_line(rng: &mut Rng) -> Vec<String> {
    let mut args = Vec::new();
    let sub = rng.pick(SUBCOMMANDS);
    if !sub.is_empty() {
        args.push(sub.to_owned());
    }
    match sub {
        "verb" => args.push(rng.pick(&["encode", "decode", "x"]).to_owned()),
        "wallet" => args.push(rng.pick(&["address", "y"]).to_owned()),
        "reservations" => args.push(rng.pick(&["list", "release", "z"]).to_owned()),
        _ => {}
    }
    for _ in 0..rng.below(4) {
        args.push(value(rng));
    }
    for _ in 0..rng.below(9) {
        let flag = rng.pick(FLAGS);
        args.push(flag.to_owned());
        if !matches!(flag, "--no-check" | "--unique") && rng.below(8) != 0 {
            args.push(value(rng));
        }
    }
    if rng.below(4) != 0 {
        args.extend(["--secret-env".to_owned(), FEDERATION.env.to_owned()]);
    }
    if rng.below(3) == 0 {
        args.push("--json".to_owned());
    }
    // Never broadcast: every action runs dry.
    args.push("--dry-run".to_owned());
    args
}

fn check(args: &[String], run: &Run) {
    let shown = format!("{args:?}");
    let shown = &shown[..shown.len().min(600)];
    let code = run
        .code
        .unwrap_or_else(|| panic!("killed by a signal (abort?): {shown}: {run:?}"));
    assert_ne!(code, 101, "panicked: {shown}: {}", run.stderr);
    for line in run.stderr.lines() {
        assert!(
            line.len() <= 1024,
            "stderr line of {} bytes: {shown}",
            line.len()
        );
    }
    if run.ok {
        for line in run.stdout.lines() {
            let hex = line
                .trim()
                .trim_start_matches("\"hex\": ")
                .trim_matches(['"', ',']);
            let is_hex = !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit());
            assert!(
                line.len() <= 1024 || is_hex,
                "stdout line of {} bytes: {shown}",
                line.len()
            );
        }
    } else {
        let lines: Vec<&str> = run.stderr.lines().collect();
        assert_eq!(
            lines.len(),
            1,
            "not one line on stderr: {shown}: {:?}",
            run.stderr
        );
        assert!(lines[0].starts_with("error: "), "{shown}: {:?}", run.stderr);
        assert!(
            run.stdout.is_empty(),
            "stdout on failure: {shown}: {:?}",
            run.stdout
        );
    }
}

#[test]
fn a_thousand_generated_command_lines_never_panic_and_fail_in_one_line() {
    let env = Env::start();
    // Some funds, so that well-formed dry runs get as far as signing.
    let refill = env.address(&support::REFILL, "");
    let federation = env.address(&FEDERATION, "");
    env.mine_to(&refill, 101);
    env.act(
        &support::REFILL,
        "",
        &[
            "refill-main",
            "--to",
            &federation,
            "--fees",
            "5",
            "--tokens",
            "5",
        ],
    );
    env.mine(1);
    let before = env.mempool();
    let mut rng = Rng(0x5EED_5B00_1234_9876);
    let (mut failures, mut successes) = (0, 0);
    for _ in 0..1000 {
        let args = command_line(&mut rng);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = env.run(&refs);
        check(&args, &run);
        if run.ok {
            successes += 1;
        } else {
            failures += 1;
        }
    }
    eprintln!("{successes} succeeded, {failures} failed");
    assert_eq!(env.mempool(), before, "a dry run broadcast something");
    // The generator reaches both outcomes (otherwise it tests nothing).
    assert!(
        successes >= 10 && failures >= 500,
        "{successes} ok, {failures} failed"
    );
}
