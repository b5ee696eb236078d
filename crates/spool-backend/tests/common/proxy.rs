//! A TCP proxy on loopback that forwards everything to a target, except that it can swallow
//! the reply to a request containing a marker (the request does reach the target): a reply
//! lost in the network.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub struct LossyProxy {
    pub addr: SocketAddr,
    /// Requests seen that contained the marker.
    pub marked: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for LossyProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl LossyProxy {
    /// Proxies to `target`; the replies to the first `lose` requests containing `marker` are
    /// never delivered (the connection is closed instead).
    pub async fn start(target: SocketAddr, marker: &'static [u8], lose: usize) -> LossyProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let marked = Arc::new(AtomicUsize::new(0));
        let to_lose = Arc::new(AtomicUsize::new(lose));
        let counter = marked.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                let counter = counter.clone();
                let to_lose = to_lose.clone();
                tokio::spawn(async move {
                    let Ok(upstream) = TcpStream::connect(target).await else {
                        return;
                    };
                    pipe(client, upstream, marker, counter, to_lose).await;
                });
            }
        });
        LossyProxy { addr, marked, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

async fn pipe(
    client: TcpStream,
    upstream: TcpStream,
    marker: &'static [u8],
    counter: Arc<AtomicUsize>,
    to_lose: Arc<AtomicUsize>,
) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut up_read, mut up_write) = upstream.into_split();
    let down = tokio::spawn(async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match up_read.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if client_write.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            }
        }
    });
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match client_read.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let chunk = &buf[..n];
        let is_marked = chunk.windows(marker.len()).any(|w| w == marker);
        if is_marked {
            counter.fetch_add(1, Ordering::SeqCst);
        }
        let lose = is_marked
            && to_lose
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
        if lose {
            // Stop relaying replies first, then let the request reach the target.
            down.abort();
            let _ = up_write.write_all(chunk).await;
            tokio::time::sleep(Duration::from_millis(500)).await;
            return;
        }
        if up_write.write_all(chunk).await.is_err() {
            break;
        }
    }
    down.abort();
}
