//! Every wallet vector computed by pyspool (vectors/wallets.json): address and WIF.

use bitcoin::Network;
use serde::Deserialize;
use spool_wallet::{LeafPath, MasterSecret, Wallet};

#[derive(Deserialize)]
struct Vector {
    secret: String,
    network: String,
    path: String,
    address: String,
    wif: String,
}

fn vectors() -> Vec<Vector> {
    read_vectors(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../vectors/wallets.json"
    ))
}

fn read_vectors(path: &str) -> Vec<Vector> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    serde_json::from_str(&text).expect("wallets.json parses")
}

fn network(name: &str) -> Network {
    match name {
        "mainnet" => Network::Bitcoin,
        "testnet" => Network::Testnet,
        other => panic!("unknown network {other} in vectors"),
    }
}

#[test]
fn all_wallet_vectors_match_address_and_wif() {
    let vectors = vectors();
    assert!(vectors.len() >= 100, "expected the full vector set");
    for v in &vectors {
        let wallet =
            Wallet::from_secret(&MasterSecret::new(v.secret.clone()), network(&v.network)).unwrap();
        let path = LeafPath::parse(&v.path).unwrap();
        let key = wallet.signing_key(&path).unwrap();
        let ctx = format!("{:?} {} {:?}", v.secret, v.network, v.path);
        assert_eq!(
            wallet.address(&path).unwrap().to_string(),
            v.address,
            "{ctx}"
        );
        assert_eq!(key.address().to_string(), v.address, "{ctx}");
        assert_eq!(*key.to_wif(), v.wif, "{ctx}");
        if path.is_root() {
            assert_eq!(wallet.root_address().to_string(), v.address, "{ctx}");
        }
        // The WIF gives back the same address.
        let single = Wallet::from_wif(&v.wif).unwrap();
        assert_eq!(single.root_address().to_string(), v.address, "{ctx}");
    }
}

/// pyspool's wallets for master secrets that end in newlines, taken verbatim
/// (vectors/wallets_newline.json, from vectors/generate/newline_wallets.py): the wallet crate
/// derives them from the exact bytes (issue 17: no secret source reached them).
#[test]
fn secrets_ending_in_newlines_derive_pyspools_wallets_from_their_exact_bytes() {
    let vectors = read_vectors(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../vectors/wallets_newline.json"
    ));
    assert_eq!(vectors.len(), 24);
    for v in &vectors {
        assert!(v.secret.ends_with('\n'), "{:?}", v.secret);
        let wallet =
            Wallet::from_secret(&MasterSecret::new(v.secret.clone()), network(&v.network)).unwrap();
        let path = LeafPath::parse(&v.path).unwrap();
        let ctx = format!("{:?} {} {:?}", v.secret, v.network, v.path);
        assert_eq!(
            wallet.address(&path).unwrap().to_string(),
            v.address,
            "{ctx}"
        );
        assert_eq!(*wallet.signing_key(&path).unwrap().to_wif(), v.wif, "{ctx}");
        // Without its newline the secret is another wallet.
        let trimmed = v.secret.trim_end_matches(['\r', '\n']).to_owned();
        let other = Wallet::from_secret(&MasterSecret::new(trimmed), network(&v.network)).unwrap();
        assert_ne!(
            other.address(&path).unwrap().to_string(),
            v.address,
            "{ctx}"
        );
    }
}

#[test]
fn regtest_and_signet_use_test_addresses() {
    let secret = MasterSecret::new("MaStErPaSsWoRd");
    let path = LeafPath::parse("0/1/2/3/4/5").unwrap();
    for net in [Network::Testnet, Network::Regtest, Network::Signet] {
        let w = Wallet::from_secret(&secret, net).unwrap();
        assert_eq!(
            w.root_address().to_string(),
            "mp3vXQA3sHkZwVmLRUEotDG54aqwBVYTLd"
        );
        assert_eq!(
            w.address(&path).unwrap().to_string(),
            "muY7eP4dJ3eTQmB3NnhREkE4ZaA92pgsAW"
        );
        assert_eq!(w.network(), net);
    }
}

#[test]
fn xprv_of_master_secret_derives_the_same_tree() {
    // Same seed via bip32 directly, serialized as xprv: the wallet must derive identical leaves.
    let secret = MasterSecret::new("alice-secret");
    let master = bitcoin::bip32::Xpriv::new_master(Network::Bitcoin, b"alice-secret").unwrap();
    let from_xprv = Wallet::from_xprv(&master.to_string()).unwrap();
    let from_secret = Wallet::from_secret(&secret, Network::Bitcoin).unwrap();
    assert_eq!(from_xprv.root_address(), from_secret.root_address());
    let p = LeafPath::parse("2015/5/28/9/28/44/982190").unwrap();
    assert_eq!(
        from_xprv.address(&p).unwrap().to_string(),
        "1FwjjYkMsQrMoCK7tgh2eF6Cb9Mtaysymi"
    );
    let tprv = bitcoin::bip32::Xpriv::new_master(Network::Testnet, b"alice-secret").unwrap();
    let t = Wallet::from_xprv(&tprv.to_string()).unwrap();
    assert_eq!(
        t.root_address().to_string(),
        "mpe22RcPPP1qdNgwLJRPWUcNhbgb8SWGRc"
    );
    let r = t.with_network(Network::Regtest).unwrap();
    assert_eq!(r.network(), Network::Regtest);
    assert!(from_xprv.with_network(Network::Regtest).is_err());
}

#[test]
fn wif_wallet_has_only_a_root() {
    let w = Wallet::from_wif("cSXdwuZ7nwVYeQKgsWKjjtCWQ3c2chY2gXmkguvUE6YM2j7SmqN3").unwrap();
    assert_eq!(w.network(), Network::Testnet);
    assert_eq!(
        w.root_address().to_string(),
        "mp3vXQA3sHkZwVmLRUEotDG54aqwBVYTLd"
    );
    let err = w.address(&LeafPath::parse("0").unwrap()).unwrap_err();
    assert!(err.to_string().contains("only the root path"), "{err}");
    let w = w.with_network(Network::Regtest).unwrap();
    assert_eq!(
        w.signing_key(&LeafPath::root()).unwrap().network(),
        Network::Regtest
    );
}

#[test]
fn bad_keys_are_refused_without_echoing_them() {
    let bad = "cSXdwuZ7nwVYeQKgsWKjjtCWQ3c2chY2gXmkguvUE6YM2j7SmqN4";
    let err = Wallet::from_wif(bad).unwrap_err();
    assert!(!format!("{err} {err:?}").contains(bad));
    // uncompressed WIF (the well-known key 1)
    let err = Wallet::from_wif("5HpHagT65TZzG1PH3CSu63k8DbpvD8s5ip4nEB3kEsreAnchuDf").unwrap_err();
    assert!(err.to_string().contains("uncompressed"), "{err}");
    let bad_x = "xprv9s21ZrQH143K3QTDL4LXw2F7HEK3wJUD2nW2nRk4stbPy6cq3jPPqjiChkVvvNKmPGJxWUtg6LL";
    let err = Wallet::from_xprv(bad_x).unwrap_err();
    assert!(!format!("{err} {err:?}").contains(bad_x));
}

#[test]
fn debug_never_shows_key_material() {
    let secret = MasterSecret::new("MaStErPaSsWoRd");
    let w = Wallet::from_secret(&secret, Network::Testnet).unwrap();
    let key = w.signing_key(&LeafPath::root()).unwrap();
    let text = format!("{secret:?} {w:?} {key:?} {w:#?}");
    assert!(!text.contains("MaStErPaSsWoRd"));
    assert!(!text.contains("cSXdwuZ7nwVYeQKgsWKjjtCWQ3c2chY2gXmkguvUE6YM2j7SmqN3"));
    assert!(text.contains("mp3vXQA3sHkZwVmLRUEotDG54aqwBVYTLd"));
}

#[test]
fn derivation_matches_the_bip32_library() {
    let secp = bitcoin::secp256k1::Secp256k1::new();
    let master = bitcoin::bip32::Xpriv::new_master(Network::Testnet, b"cross-check").unwrap();
    let wallet = Wallet::from_secret(&MasterSecret::new("cross-check"), Network::Testnet).unwrap();
    for path in [
        "",
        "0",
        "2147483647",
        "1/2/3/4/5/6/7/8/9/10/11/12",
        "2026/11/24/19/45/0/123456",
    ] {
        let leaf = LeafPath::parse(path).unwrap();
        let children: Vec<_> = leaf.child_numbers().collect();
        let expected = master.derive_priv(&secp, &children).unwrap().to_priv();
        assert_eq!(
            *wallet.signing_key(&leaf).unwrap().to_wif(),
            expected.to_wif(),
            "{path}"
        );
    }
}
