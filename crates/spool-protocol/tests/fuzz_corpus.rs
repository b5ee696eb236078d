//! Replays the `decode_verb` fuzz corpus (`fuzz/corpus/decode_verb`) through the fuzz
//! target's own check, so that CI runs every input the fuzzer has kept.

#[path = "../../../fuzz/fuzz_targets/check.rs"]
mod check;

#[test]
fn fuzz_corpus_replays_cleanly() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/corpus/decode_verb");
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {dir}: {e}"));
    let mut count = 0;
    let mut decoded = 0;
    for entry in entries {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        check::check(&data);
        count += 1;
        decoded += usize::from(spool_protocol::verb::Verb::decode_bytes(&data).is_ok());
    }
    // The seed corpus alone holds the 172 vector inputs and hand-made edge cases.
    assert!(count >= 172, "only {count} corpus files in {dir}");
    assert!(
        decoded > 100 && decoded < count,
        "{decoded} of {count} decoded"
    );
}
