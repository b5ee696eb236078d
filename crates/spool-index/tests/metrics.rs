//! `GET /metrics` (issue 18, item 5): the index's height and lag behind its node, the
//! mempool, and requests and latency by route template, in the OpenMetrics text format,
//! read back with the format's own rules (one sample a line, `# EOF` last).

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use common::chain;
use spool_testenv::Node;

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

/// The samples of an OpenMetrics text body: `name{labels}` -> value.
fn samples(body: &str) -> BTreeMap<String, f64> {
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines.last(), Some(&"# EOF"), "the body ends with # EOF");
    lines
        .iter()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let (key, value) = l
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("a sample: {l}"));
            (
                key.to_owned(),
                value.parse().unwrap_or_else(|_| panic!("a value: {l}")),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_say_how_far_the_index_is_and_count_requests_by_route() {
    let node = Node::start().expect("regtest node");
    chain::mine(&node, 3);
    let dir = tempfile::tempdir().unwrap();
    let running = common::serve(&node, &dir.path().join("index.sqlite"), &[], &[]).await;
    running.wait_round().await;
    let addr = running.addr();
    let tip = node.call("getblockcount", &[]).unwrap().as_u64().unwrap();
    let piece = chain::hash_address();
    for _ in 0..3 {
        assert_eq!(get(addr, &format!("/api/v1/piece/{piece}/history")).0, 200);
    }
    let other = chain::Key::random().address;
    assert_eq!(get(addr, &format!("/api/v1/piece/{other}/history")).0, 200);
    assert_eq!(get(addr, "/api/v1/tx/nonsense").0, 400);
    assert_eq!(get(addr, "/no/such/path").0, 404);

    let (status, head, body) = get(addr, "/metrics");
    assert_eq!(status, 200, "{body}");
    assert!(
        head.contains("content-type: application/openmetrics-text; version=1.0.0"),
        "{head}"
    );
    let s = samples(&body);
    assert_eq!(s["spool_index_height"], tip as f64, "{body}");
    assert_eq!(s["spool_node_height"], tip as f64, "{body}");
    assert_eq!(s["spool_index_lag_blocks"], 0.0, "{body}");
    assert_eq!(s["spool_index_synced"], 1.0, "{body}");
    assert_eq!(s["spool_index_mempool_transactions"], 0.0, "{body}");
    // A full index tests no filters.
    assert_eq!(s["spool_filters_false_positives"], 0.0, "{body}");
    // Four history requests of two pieces are one route template.
    let history = r#"route="/api/v1/piece/{piece}/history",method="GET""#;
    assert_eq!(
        s[&format!("spool_http_requests_total{{{history},status=\"200\"}}")],
        4.0,
        "{body}"
    );
    assert_eq!(
        s[&format!("spool_http_request_duration_seconds_count{{{history}}}")],
        4.0,
        "{body}"
    );
    assert!(s[&format!("spool_http_request_duration_seconds_sum{{{history}}}")] > 0.0);
    assert_eq!(
        s[r#"spool_http_requests_total{route="/api/v1/tx/{txid}",method="GET",status="400"}"#], 1.0,
        "{body}"
    );
    assert_eq!(
        s[r#"spool_http_requests_total{route="unmatched",method="GET",status="404"}"#], 1.0,
        "{body}"
    );
    assert!(
        !body.contains(&piece.to_string()),
        "paths asked never become labels"
    );
}
