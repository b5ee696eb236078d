//! File hashes against pyspool's vectors (`vectors/files.json`, 74 cases).

use std::collections::BTreeMap;
use std::io::Read;

use serde_json::Value;
use spool_protocol::bitcoin::hex::FromHex;
use spool_protocol::bitcoin::Network;
use spool_protocol::file_hash::{
    address_version, is_testnet_like, metadata_text, python_repr, FileHashes,
};

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../vectors");

fn content(case: &Value) -> Vec<u8> {
    match case["file"].as_str() {
        Some(name) => {
            let path = format!("{VECTORS}/{name}");
            std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
        }
        None => Vec::from_hex(case["content_hex"].as_str().unwrap()).unwrap(),
    }
}

/// A reader that hands out at most 7 bytes per call, to exercise the streaming loop.
struct Trickle<'a>(&'a [u8]);

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(7).min(self.0.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

#[test]
fn all_74_file_vectors_pass() {
    let path = format!("{VECTORS}/files.json");
    let cases: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(cases.len(), 74);
    for case in &cases {
        let bytes = content(case);
        let metadata: BTreeMap<String, String> = case["metadata"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect();
        let want = FileHashes {
            file_hash: case["file_hash"].as_str().unwrap().to_owned(),
            file_hash_metadata: case["file_hash_metadata"].as_str().unwrap().to_owned(),
        };
        let networks: &[Network] = if case["testnet"].as_bool().unwrap() {
            &[
                Network::Testnet,
                Network::Testnet4,
                Network::Signet,
                Network::Regtest,
            ]
        } else {
            &[Network::Bitcoin]
        };
        for &network in networks {
            assert_eq!(
                FileHashes::from_bytes(&bytes, network, &metadata),
                want,
                "{case}"
            );
            let streamed = FileHashes::from_reader(Trickle(&bytes), network, &metadata).unwrap();
            assert_eq!(streamed, want, "{case}");
        }
    }
}

#[test]
fn the_readme_example_text_is_exact() {
    let metadata = BTreeMap::from([
        ("title".to_owned(), "ascribe".to_owned()),
        ("artist".to_owned(), "Rodolphe Marques".to_owned()),
    ]);
    assert_eq!(
        metadata_text("fc036b292c4b27f22d77a5ed79793455", &metadata),
        "[u'Rodolphe Marques', u'ascribe', 'fc036b292c4b27f22d77a5ed79793455']"
    );
    let png = std::fs::read(format!("{VECTORS}/ascribe.png")).unwrap();
    let hashes = FileHashes::from_reader(png.as_slice(), Network::Bitcoin, &metadata).unwrap();
    assert_eq!(hashes.file_hash, "1Fa1vhL6pmJ1WrF3BG8pTBvBRkYE6CHorQ");
    assert_eq!(
        hashes.file_hash_metadata,
        "1BZ2RZnDJtc8Mv5Ek63NaGmDeJr4ahtexU"
    );
}

#[test]
fn python_repr_matches_python_3() {
    // Expected strings as Python 3 prints them.
    let cases = [
        ("", "''"),
        ("it's", "\"it's\""),
        ("say \"hi\"", "'say \"hi\"'"),
        ("both ' and \"", "'both \\' and \"'"),
        ("back\\slash", "'back\\\\slash'"),
        ("tab\there\r\n", "'tab\\there\\r\\n'"),
        ("\x07bell\x7f\x00", "'\\x07bell\\x7f\\x00'"),
        ("café 日本 🎨", "'café 日本 🎨'"),
        (
            "\u{2028}x\u{a0}\u{ad}\u{e000}\u{e0001}",
            "'\\u2028x\\xa0\\xad\\ue000\\U000e0001'",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(python_repr(text), want, "{text:?}");
    }
}

#[test]
fn version_bytes_by_network() {
    assert!(!is_testnet_like(Network::Bitcoin));
    assert_eq!(address_version(Network::Bitcoin), 0);
    for network in [
        Network::Testnet,
        Network::Testnet4,
        Network::Signet,
        Network::Regtest,
    ] {
        assert!(is_testnet_like(network));
        assert_eq!(address_version(network), 111);
    }
}

#[test]
fn read_errors_are_passed_on() {
    struct Broken;
    impl Read for Broken {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk on fire"))
        }
    }
    let err = FileHashes::from_reader(Broken, Network::Regtest, &BTreeMap::new()).unwrap_err();
    assert_eq!(err.to_string(), "disk on fire");
}

#[test]
fn a_large_stream_hashes_like_the_same_bytes_in_memory() {
    // 5 MiB produced on the fly by a reader: larger than any internal block.
    let len = 5 * 1024 * 1024 + 13;
    let bytes: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
    let metadata = BTreeMap::from([("title".to_owned(), "big".to_owned())]);
    assert_eq!(
        FileHashes::from_reader(bytes.as_slice(), Network::Bitcoin, &metadata).unwrap(),
        FileHashes::from_bytes(&bytes, Network::Bitcoin, &metadata)
    );
}
