//! A consigned edition's owner is its consignor, not its consignee (issue 17, item 2):
//! `piece`, `ownership` and `holdings` name the owner as the owner, the consignee as the
//! consignee and the holder as the holder, directly and through `spool serve`.

mod support;

use spool_cli::subcommand::{ownership, piece};
use support::{Env, Scenario, FEDERATION, LEAF1, LEAF2, USER1, USER2};

#[test]
fn a_consigned_edition_is_owned_by_its_consignor() {
    let env = Env::start();
    let owner = env.address(&USER1, LEAF1);
    let consignee = env.address(&USER2, LEAF2);
    let image = concat!(env!("CARGO_MANIFEST_DIR"), "/../../vectors/ascribe.png");
    let hashes: spool_cli::subcommand::hash::Output =
        env.json(&["hash", image, "--meta", "title=consigned"]);
    let piece = &format!("{},{}", hashes.file_hash, hashes.file_hash_metadata);
    let file_hash = hashes.file_hash.as_str();

    Scenario::funded(&env, 10, 20);
    for args in [
        vec![
            "register",
            "--piece",
            piece,
            "--to",
            &owner,
            "--edition",
            "0",
        ],
        vec!["editions", "--piece", piece, "--to", &owner, "--count", "2"],
        vec![
            "register",
            "--piece",
            piece,
            "--to",
            &owner,
            "--edition",
            "1",
        ],
        vec!["refill", "--to", &owner, "--fees", "1", "--tokens", "1"],
    ] {
        env.act(&FEDERATION, "", &args);
        env.mine(1);
    }
    env.act(
        &USER1,
        LEAF1,
        &[
            "consign",
            "--piece",
            piece,
            "--to",
            &consignee,
            "--edition",
            "1",
        ],
    );
    env.mine(1);

    let state: piece::Output = env.json(&["piece", file_hash]);
    let one = &state.editions[1];
    assert_eq!(one.owner.as_deref(), Some(owner.as_str()), "owner: {one:?}");
    assert_eq!(one.consignee.as_deref(), Some(consignee.as_str()));
    assert_eq!(one.holder.as_deref(), Some(consignee.as_str()));
    let table = env.run(&["piece", file_hash]);
    let row = table
        .stdout
        .lines()
        .find(|l| l.starts_with("1 "))
        .unwrap_or_else(|| panic!("no row for edition 1: {}", table.stdout));
    assert!(
        row.find(&owner) < row.find(&consignee),
        "the OWNER column names the consignor: {row}"
    );

    let asked: ownership::Output =
        env.json(&["ownership", &consignee, file_hash, "--edition", "1"]);
    assert_eq!(asked.owner.as_deref(), Some(owner.as_str()));
    assert_eq!(asked.consignee.as_deref(), Some(consignee.as_str()));
}
