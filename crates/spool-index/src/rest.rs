//! Raw blocks through Bitcoin Core's REST interface (`-rest=1`, `GET
//! /rest/block/<hash>.bin`): binary, with no JSON or hex on either side. One kept-alive
//! HTTP/1.1 connection per fetch thread; the follower falls back to RPC `getblock` when
//! the node does not serve REST.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bitcoin::BlockHash;

use crate::error::IndexError;

/// A REST client of one node.
#[derive(Debug)]
pub struct Rest {
    host: String,
    url: String,
    timeout: Duration,
    conn: Option<BufReader<TcpStream>>,
}

impl Rest {
    /// A client of the REST interface on the host and port of the RPC URL `rpc_url`
    /// (nothing is sent yet); `None` for a URL without `http://host:port`.
    pub fn new(rpc_url: &str, timeout: Duration) -> Option<Rest> {
        let rest = rpc_url.strip_prefix("http://")?;
        let host = rest.split('/').next()?.to_string();
        host.contains(':').then(|| Rest {
            url: format!("http://{host}/rest"),
            host,
            timeout,
            conn: None,
        })
    }

    fn error(&self, what: impl Into<String>) -> IndexError {
        IndexError::Rest {
            url: self.url.clone(),
            detail: what.into(),
        }
    }

    /// The raw bytes of block `hash`.
    ///
    /// # Errors
    /// [`IndexError::Rest`] when the node does not answer, refuses (e.g. without `-rest=1`)
    /// or sends no length.
    pub fn raw_block(&mut self, hash: &BlockHash) -> Result<Vec<u8>, IndexError> {
        // A kept-alive connection may have been closed by the node: one retry on a new one.
        match self.try_raw_block(hash) {
            Ok(bytes) => Ok(bytes),
            Err(_) if self.conn.is_some() => {
                self.conn = None;
                self.try_raw_block(hash)
            }
            Err(err) => Err(err),
        }
    }

    fn try_raw_block(&mut self, hash: &BlockHash) -> Result<Vec<u8>, IndexError> {
        let io = |e: std::io::Error| e.to_string();
        if self.conn.is_none() {
            let stream = TcpStream::connect(&self.host).map_err(|e| self.error(io(e)))?;
            stream
                .set_read_timeout(Some(self.timeout))
                .map_err(|e| self.error(io(e)))?;
            let _ = stream.set_nodelay(true);
            self.conn = Some(BufReader::new(stream));
        }
        let host = self.host.clone();
        let result = (|| -> Result<Vec<u8>, String> {
            let conn = self.conn.as_mut().ok_or("no connection")?;
            // One write: a request in pieces waits on the network for each of them.
            let request = format!("GET /rest/block/{hash}.bin HTTP/1.1\r\nHost: {host}\r\n\r\n");
            conn.get_mut().write_all(request.as_bytes()).map_err(io)?;
            let mut line = String::new();
            conn.read_line(&mut line).map_err(io)?;
            let status = line.split_whitespace().nth(1).unwrap_or("").to_string();
            let mut length = None;
            let mut close = false;
            loop {
                line.clear();
                conn.read_line(&mut line).map_err(io)?;
                let header = line.trim_end();
                if header.is_empty() {
                    break;
                }
                if let Some((name, value)) = header.split_once(':') {
                    let value = value.trim();
                    if name.eq_ignore_ascii_case("content-length") {
                        length = value.parse::<usize>().ok();
                    } else if name.eq_ignore_ascii_case("connection") {
                        close = value.eq_ignore_ascii_case("close");
                    }
                }
            }
            let length = length.ok_or("a reply without Content-Length")?;
            let mut body = vec![0; length];
            conn.read_exact(&mut body).map_err(io)?;
            if close {
                self.conn = None;
            }
            if status != "200" {
                return Err(format!(
                    "block {hash}: HTTP {status}: {}",
                    String::from_utf8_lossy(&body[..body.len().min(200)]).trim()
                ));
            }
            Ok(body)
        })();
        result.map_err(|detail| {
            self.conn = None;
            self.error(detail)
        })
    }
}
