//! The API under abuse: unknown routes, malformed paths, queries and bodies get a 4xx JSON
//! error naming the problem; broadcast bodies are bounded; the node's credentials never
//! appear in an answer; the default address is loopback.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use common::chain;
use serde_json::Value;
use spool_testenv::Node;

/// One raw HTTP/1.1 exchange: (status, body).
fn http(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    // A server may answer (413) and close before reading a too-large body.
    let _ = stream.write_all(body);
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply);
    let reply = String::from_utf8_lossy(&reply).to_string();
    let status = reply[9..12].parse().unwrap();
    let body = reply
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn error_of(addr: SocketAddr, method: &str, path: &str, body: &[u8], status: u16) -> String {
    let (got, text) = http(addr, method, path, body);
    assert_eq!(got, status, "{method} {path}: {text}");
    let json: Value = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("{method} {path} answered non-JSON {text:?}"));
    json["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error field in {text}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_json_errors() {
    assert_eq!(
        spool_index::DEFAULT_HTTP,
        "127.0.0.1:8338",
        "loopback by default"
    );
    let node = Node::start().expect("regtest node");
    chain::mine(&node, 2);
    let dir = tempfile::tempdir().unwrap();
    // Served with an extra page beside the API, as the explorer will be.
    let running = spool_index::start_with(
        spool_index::ServeConfig {
            index_path: dir.path().join("index.sqlite"),
            follower: common::follower_config(&node, &[]),
            http: "127.0.0.1:0".parse().unwrap(),
            federation: Vec::new(),
            api_token: None,
            reservation_lease: spool_index::reservations::DEFAULT_LEASE,
        },
        // Unknown paths outside the API: the API's JSON 404, as the extra router's fallback.
        |state| {
            axum::Router::new()
                .route(
                    "/hello",
                    axum::routing::get(move || async move {
                        format!("indexed {:?}", state.sync_state().indexed.map(|(h, _)| h))
                    }),
                )
                .fallback(spool_index::api::not_found)
        },
    )
    .await
    .unwrap();
    running.wait_round().await;
    let addr = running.addr();
    assert!(addr.ip().is_loopback());
    let piece = chain::hash_address();
    let mut answers = Vec::new();
    let mut expect = |method: &str, path: &str, body: &[u8], status: u16, needle: &str| {
        let error = error_of(addr, method, path, body, status);
        assert!(
            error.contains(needle),
            "{method} {path}: {error:?} does not say {needle:?}"
        );
        answers.push(error);
    };
    expect("GET", "/nope", b"", 404, "no such route: GET /nope");
    expect(
        "GET",
        "/api/v1/address/xyz/txs",
        b"",
        400,
        "\"xyz\" is not a bitcoin address",
    );
    expect(
        "GET",
        "/api/v1/address/1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMH/utxos",
        b"",
        400,
        "not valid for regtest",
    );
    expect(
        "GET",
        &format!("/api/v1/address/{piece}/utxos"),
        b"",
        404,
        "not watched",
    );
    expect(
        "GET",
        &format!("/api/v1/address/{piece}/utxos?min_conf=-1"),
        b"",
        400,
        "bad query",
    );
    expect("GET", "/api/v1/tx/abc", b"", 400, "is not a txid");
    expect(
        "GET",
        &format!("/api/v1/tx/{}", "ab".repeat(32)),
        b"",
        404,
        "is unknown",
    );
    expect(
        "GET",
        &format!("/api/v1/piece/{piece}/ownership?edition=1"),
        b"",
        400,
        "`address` is missing",
    );
    expect(
        "GET",
        &format!("/api/v1/piece/{piece}/history?federation=zz"),
        b"",
        400,
        "federation address \"zz\"",
    );
    expect(
        "GET",
        "/api/v1/pieces?limit=1000",
        b"",
        400,
        "limit must be between",
    );
    expect("GET", "/api/v1/pieces?offset=x", b"", 400, "bad query");
    expect(
        "GET",
        &format!("/api/v1/address/{piece}/txs?edition=-1"),
        b"",
        400,
        "bad query",
    );
    expect("GET", "/api/v1/search", b"", 400, "`q` is missing");
    expect(
        "POST",
        "/api/v1/tx",
        b"not hex",
        400,
        "not a raw transaction",
    );
    expect(
        "POST",
        "/api/v1/tx",
        &vec![b'0'; 400_001],
        413,
        "bad broadcast body",
    );
    expect(
        "GET",
        "/api/v1/tx",
        b"",
        405,
        "method GET is not allowed for /api/v1/tx",
    );

    let (status, text) = http(addr, "GET", "/hello", b"");
    assert_eq!(
        (status, text.as_str()),
        (200, "indexed Some(2)"),
        "an extra page"
    );

    // Good answers are JSON too, and nothing ever shows the node's credentials.
    let (status, text) = http(addr, "GET", "/api/v1/status", b"");
    assert_eq!(status, 200);
    let json: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["indexed_height"], 2);
    assert_eq!(json["network"], "regtest");
    let (status, text) = http(addr, "GET", &format!("/api/v1/search?q={piece}"), b"");
    assert_eq!(
        (
            status,
            serde_json::from_str::<Value>(&text).unwrap()["kind"].clone()
        ),
        (200, "address".into())
    );
    answers.push(text);
    let cookie = std::fs::read_to_string(node.cookie_file()).unwrap();
    let password = cookie.trim().split_once(':').unwrap().1.to_string();
    for answer in &answers {
        assert!(
            !answer.contains(&password),
            "an answer reveals the node's password"
        );
    }

    // A client that never finishes its headers is cut off.
    let slow = std::thread::spawn(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .write_all(b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\n")
            .unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .unwrap();
        let started = std::time::Instant::now();
        let mut buf = Vec::new();
        let _ = stream.read_to_end(&mut buf);
        started.elapsed()
    });
    let waited = tokio::task::spawn_blocking(move || slow.join().unwrap())
        .await
        .unwrap();
    assert!(
        waited >= std::time::Duration::from_secs(5)
            && waited < spool_index::api::HEADER_TIMEOUT + std::time::Duration::from_secs(5),
        "a slow client is cut off after the header timeout, not at once nor never ({waited:?})"
    );
    running.shutdown().await.unwrap();
}
