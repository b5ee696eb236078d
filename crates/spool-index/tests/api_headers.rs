//! Every API reply, including those that echo a request's input, tells browsers not to sniff
//! it into markup and not to load or frame anything (issue 17, item 6).

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use common::chain;
use spool_testenv::Node;

/// One raw HTTP/1.1 GET: (status, lower-cased head, body).
fn get(addr: SocketAddr, path: &str) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    let head = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).unwrap();
    let reply = String::from_utf8_lossy(&reply).to_string();
    let status = reply[9..12].parse().unwrap();
    let (head, body) = reply.split_once("\r\n\r\n").unwrap();
    (status, head.to_ascii_lowercase(), body.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_replies_carry_nosniff_and_a_restrictive_csp() {
    let node = Node::start().expect("regtest node");
    chain::mine(&node, 2);
    let dir = tempfile::tempdir().unwrap();
    let running = common::serve(&node, &dir.path().join("index.sqlite"), &[], &[]).await;
    running.wait_round().await;
    let addr = running.addr();
    let piece = chain::hash_address();
    for (path, status) in [
        ("/api/v1/search?q=%3Cscript%3Ealert(1)%3C/script%3E", None),
        ("/api/v1/status", Some(200)),
        (&*format!("/api/v1/piece/{piece}/history"), Some(200)),
        ("/api/v1/tx/%3Cscript%3E", Some(400)),
        ("/api/v1/nope%3Cb%3E", Some(404)),
    ] {
        let (got, head, body) = get(addr, path);
        if let Some(status) = status {
            assert_eq!(got, status, "{path}: {body}");
        }
        assert!(
            head.contains("content-type: application/json"),
            "{path}: {head}"
        );
        assert!(
            head.contains("x-content-type-options: nosniff"),
            "{path} lacks nosniff: {head}"
        );
        assert!(
            head.contains("content-security-policy: default-src 'none'; frame-ancestors 'none'"),
            "{path} lacks the CSP: {head}"
        );
    }
}
