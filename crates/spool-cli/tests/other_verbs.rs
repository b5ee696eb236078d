//! PIECE, CONSIGNEDREGISTRATION and MIGRATE through the `spool` binary on a real regtest
//! node, and the federation rule beyond pyspool.

mod support;

use spool_cli::subcommand::{history, ownership};
use support::{Env, Scenario, FEDERATION, USER1, USER2};

const PIECE_A: &str = "mhXeWEMLnEwVNnyqKrqUDPAYSuwhfyNXA7";
const PIECE_B: &str = "mzQxP43Y4A6PfYeArV2mGBEucJfDtsyCk5";
const PIECE_C: &str = "mv5yDkR5dnjGHxietq7CH78WHk8vzsu4vH";

#[test]
fn register_piece_consigned_registration_migrate_and_the_federation_rule() {
    let env = Env::start();
    let federation = env.address(&FEDERATION, "");
    let artist = env.address(&USER1, "");
    let heir = env.address(&USER2, "");
    Scenario::funded(&env, 12, 30);
    let fed = |args: &[&str]| {
        let out = env.act(&FEDERATION, "", args);
        env.mine(1);
        out
    };

    let piece = fed(&["register-piece", "--piece", PIECE_A, "--to", &artist]);
    assert_eq!(piece.verb.as_deref(), Some("ASCRIBESPOOL01PIECE"));
    let args = [
        "consigned-registration",
        "--piece",
        PIECE_A,
        "--to",
        &artist,
        "--secret-env",
        FEDERATION.env,
        "--min-conf",
        "1",
    ];
    env.run(&args)
        .assert_error("Master piece already registered in the blockchain");
    let consigned = fed(&[
        "consigned-registration",
        "--piece",
        PIECE_B,
        "--to",
        &artist,
    ]);
    assert_eq!(
        consigned.verb.as_deref(),
        Some("ASCRIBESPOOL01CONSIGNEDREGISTRATION")
    );

    fed(&[
        "editions", "--piece", PIECE_A, "--to", &artist, "--count", "2",
    ]);
    fed(&[
        "register",
        "--piece",
        PIECE_A,
        "--to",
        &artist,
        "--edition",
        "1",
    ]);
    let migrate = fed(&[
        "migrate",
        "--piece",
        PIECE_A,
        "--prev",
        &artist,
        "--new",
        &heir,
        "--edition",
        "1",
    ]);
    assert_eq!(migrate.verb.as_deref(), Some("ASCRIBESPOOL01MIGRATE1"));
    assert_eq!(migrate.to_address, heir);
    env.run(&[
        "migrate",
        "--piece",
        PIECE_A,
        "--prev",
        &artist,
        "--new",
        &heir,
        "--edition",
        "2",
        "--secret-env",
        FEDERATION.env,
        "--min-conf",
        "1",
    ])
    .assert_error("The edition number 2 does not exist in the blockchain");
    assert!(env.mempool().is_empty());

    let h: history::Output = env.json(&["history", PIECE_A]);
    let verbs: Vec<&str> = h.events.iter().map(|e| e.verb.as_str()).collect();
    assert_eq!(
        verbs,
        [
            "ASCRIBESPOOL01PIECE",
            "ASCRIBESPOOL01EDITIONS2",
            "ASCRIBESPOOL01REGISTER1",
            "ASCRIBESPOOL01MIGRATE1"
        ]
    );
    assert!(h.events.iter().all(|e| e.valid), "{:#?}", h.events);
    let o: ownership::Output = env.json(&["ownership", &heir, PIECE_A, "--edition", "1"]);
    assert_eq!(o.owner.as_deref(), Some(heir.as_str()));
    assert!(o.can_transfer);
    let h: history::Output = env.json(&["history", PIECE_B]);
    assert_eq!(h.events.len(), 1);
    assert_eq!(h.events[0].action, "CONSIGNEDREGISTRATION");
    assert_eq!(h.events[0].edition_number, None);

    // Beyond pyspool: with a federation set, a registration signed by someone else is
    // refused before sending; forced with --no-check, history judges it invalid.
    env.act(
        &FEDERATION,
        "",
        &["refill", "--to", &artist, "--fees", "1", "--tokens", "3"],
    );
    env.mine(1);
    let register = [
        "register-piece",
        "--piece",
        PIECE_C,
        "--to",
        &artist,
        "--federation",
        &federation,
        "--secret-env",
        USER1.env,
        "--min-conf",
        "1",
    ];
    env.run(&register).assert_error(&format!(
        "Address {artist} is not a federation address ({federation})"
    ));
    assert!(env.mempool().is_empty());
    let mut forced = register.to_vec();
    forced.push("--no-check");
    let rogue: spool_cli::subcommand::action::Output = env.json(&forced);
    assert!(rogue.broadcast && !rogue.checked);
    env.mine(1);
    let judged: history::Output = env.json(&["history", PIECE_C, "--federation", &federation]);
    assert_eq!(judged.events.len(), 1);
    assert!(!judged.events[0].valid);
    assert!(judged.events[0].reason.is_some());
    let unjudged: history::Output = env.json(&["history", PIECE_C]);
    assert!(
        unjudged.events[0].valid,
        "no federation set: not checked for its sender"
    );
}
