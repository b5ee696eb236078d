//! `GET /api/v1/openapi.json` (issue 18, item 5) against every route: the document's
//! operations are exactly the router's (read from `routes` in src/api/mod.rs, the one list
//! of the routes), each answers on a live server (no "no such route"), and every schema the
//! document refers to is defined in it.

mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use common::chain;
use serde_json::Value;
use spool_testenv::Node;

fn request(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).unwrap();
    let reply = String::from_utf8_lossy(&reply).to_string();
    let status = reply[9..12].parse().unwrap();
    let (_, body) = reply.split_once("\r\n\r\n").unwrap();
    (status, body.to_string())
}

/// `(METHOD, /api/v1/path)` of every `.route(...)` in the API's route list.
fn router_routes() -> BTreeSet<(String, String)> {
    let source = include_str!("../src/api/mod.rs");
    let start = source.find("pub fn routes(").expect("fn routes");
    let body = &source[start..];
    let body = &body[..body.find("\n}\n").expect("end of fn routes")];
    let mut routes = BTreeSet::new();
    let mut rest = body;
    while let Some(i) = rest.find(".route(") {
        rest = &rest[i + ".route(".len()..];
        let open = rest.find('"').expect("a path");
        let close = open + 1 + rest[open + 1..].find('"').expect("end of path");
        let path = &rest[open + 1..close];
        let after = &rest[close + 1..];
        let chain = &after[..after.find(".route(").unwrap_or(after.len())];
        if path == "/metrics" {
            continue;
        }
        // The method routers of the route: `get(..)`, `.post(..)`, `delete(..)`.
        for method in ["get", "post", "put", "delete", "patch"] {
            let called = chain.match_indices(&format!("{method}(")).any(|(at, _)| {
                at == 0
                    || !chain.as_bytes()[at - 1].is_ascii_alphanumeric()
                        && chain.as_bytes()[at - 1] != b'_'
            });
            if called {
                routes.insert((method.to_ascii_uppercase(), format!("/api/v1{path}")));
            }
        }
    }
    routes
}

fn refs(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                if key == "$ref" {
                    out.insert(v.as_str().unwrap().to_owned());
                }
                refs(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_describes_every_route_and_only_those() {
    let node = Node::start().expect("regtest node");
    chain::mine(&node, 2);
    let dir = tempfile::tempdir().unwrap();
    let running = common::serve(&node, &dir.path().join("index.sqlite"), &[], &[]).await;
    running.wait_round().await;
    let addr = running.addr();

    let (status, body) = request(addr, "GET", "/api/v1/openapi.json", "");
    assert_eq!(status, 200, "{body}");
    let doc: Value = serde_json::from_str(&body).expect("JSON");
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );
    assert!(
        doc.get("indexed_height").is_none(),
        "the document is served as generated"
    );

    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                documented.insert((method.to_ascii_uppercase(), path.clone()));
            }
        }
    }
    let routed = router_routes();
    assert!(routed.len() >= 18, "the route list was read: {routed:?}");
    assert_eq!(
        documented, routed,
        "the document and the router list the same operations"
    );

    // Each documented operation answers (whatever the status, never the fallback's).
    let piece = chain::hash_address().to_string();
    for (method, path) in &documented {
        let concrete = path
            .replace("{piece}", &piece)
            .replace("{address}", &piece)
            .replace("{txid}", &"ab".repeat(32))
            .replace("{height}", "1");
        let concrete = if concrete.ends_with("/certificate") && method == "GET" {
            format!("{concrete}?edition=1")
        } else {
            concrete
        };
        let (status, body) = request(addr, method, &concrete, "00");
        assert!(
            !body.contains("no such route") && status != 405,
            "{method} {concrete}: {status} {body}"
        );
    }

    // Every schema referred to is defined.
    let mut wanted = BTreeSet::new();
    refs(&doc, &mut wanted);
    let defined: BTreeSet<String> = doc["components"]["schemas"]
        .as_object()
        .expect("schemas")
        .keys()
        .map(|k| format!("#/components/schemas/{k}"))
        .collect();
    assert!(
        wanted.contains("#/components/schemas/HistoryReply"),
        "{wanted:?}"
    );
    for r in &wanted {
        assert!(defined.contains(r), "{r} is referred to but not defined");
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer",
        "the write token is declared"
    );
}
