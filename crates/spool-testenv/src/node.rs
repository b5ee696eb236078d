//! A regtest `bitcoind` process owned by a test.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bitcoin::{Address, BlockHash};
use bitcoincore_rpc::{Auth, Client, RpcApi};
use serde_json::Value;

use crate::exe::bitcoind_exe;

/// How long a node may take to answer RPC after it was spawned.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(120);
/// How many times a start is retried with fresh ports when another process took them.
const PORT_ATTEMPTS: usize = 5;

/// Why a node could not be provided.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// No bitcoind binary could be found.
    #[error("{0}")]
    NoBitcoind(String),
    /// The process could not be spawned.
    #[error("cannot start {exe}: {source}")]
    Spawn {
        /// The binary.
        exe: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The process exited or never answered RPC.
    #[error("bitcoind did not come up: {reason}\n--- end of debug.log ---\n{log_tail}")]
    Startup {
        /// What went wrong.
        reason: String,
        /// The last lines of the node's debug.log.
        log_tail: String,
    },
    /// An I/O error around the data directory.
    #[error("bitcoind data directory: {0}")]
    Io(#[from] std::io::Error),
    /// An RPC call failed.
    #[error("rpc {method}: {source}")]
    Rpc {
        /// The method called.
        method: String,
        /// The client's error.
        source: bitcoincore_rpc::Error,
    },
}

/// A running `bitcoind -regtest` with its own temporary data directory.
///
/// Dropping it kills the process and deletes the directory.
pub struct Node {
    exe: PathBuf,
    datadir: tempfile::TempDir,
    rpc_port: u16,
    p2p_port: u16,
    extra_args: Vec<String>,
    child: Option<Child>,
    /// Two connections, taken in turn (see [`Node::rpc`]).
    clients: [Client; 2],
    turn: std::sync::atomic::AtomicUsize,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("exe", &self.exe)
            .field("datadir", &self.datadir.path())
            .field("rpc_port", &self.rpc_port)
            .field("pid", &self.child.as_ref().map(Child::id))
            .finish()
    }
}

impl Node {
    /// Starts a fresh regtest node with `-txindex=1` and no wallet.
    pub fn start() -> Result<Node, NodeError> {
        Node::start_with_args(&[])
    }

    /// Starts a fresh regtest node with extra command-line arguments.
    pub fn start_with_args(extra: &[&str]) -> Result<Node, NodeError> {
        let exe = bitcoind_exe()?;
        let datadir = tempfile::Builder::new()
            .prefix("spool-regtest-")
            .tempdir()?;
        let extra_args: Vec<String> = extra.iter().map(|a| a.to_string()).collect();
        let mut last_error = None;
        for _ in 0..PORT_ATTEMPTS {
            let (rpc_port, p2p_port) = (free_port()?, free_port()?);
            match launch(&exe, datadir.path(), rpc_port, p2p_port, &extra_args) {
                Ok((child, clients)) => {
                    return Ok(Node {
                        exe,
                        datadir,
                        rpc_port,
                        p2p_port,
                        extra_args,
                        child: Some(child),
                        clients,
                        turn: std::sync::atomic::AtomicUsize::new(0),
                    })
                }
                Err(err @ NodeError::Startup { .. }) if err.to_string().contains("bind") => {
                    last_error = Some(err);
                }
                Err(err) => return Err(err),
            }
        }
        Err(last_error.expect("at least one attempt was made"))
    }

    /// The RPC client (cookie auth): one of two connections, taken in turn, as spool's own
    /// node clients do (`spool_backend::turns::Turns`, which this crate cannot use: it is a
    /// dev-dependency of spool-backend), so that a call never follows the previous one on
    /// the same connection at once, where Bitcoin Core v31's HTTP server may make it wait
    /// up to 50 ms.
    pub fn rpc(&self) -> &Client {
        let turn = self.turn.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        &self.clients[turn % 2]
    }

    /// The RPC URL, e.g. `http://127.0.0.1:18443`.
    pub fn rpc_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.rpc_port)
    }

    /// The RPC port.
    pub fn rpc_port(&self) -> u16 {
        self.rpc_port
    }

    /// The P2P port.
    pub fn p2p_port(&self) -> u16 {
        self.p2p_port
    }

    /// The cookie file the node writes for RPC authentication.
    pub fn cookie_file(&self) -> PathBuf {
        self.datadir.path().join("regtest").join(".cookie")
    }

    /// A `spool` command (the binary at `spool`) on this node: `--network regtest`, its RPC
    /// URL and cookie, `--data-dir data_dir`, and no configuration file (`SPOOL_CONFIG`
    /// removed, `XDG_CONFIG_HOME` inside `data_dir`). The caller adds the subcommand, its
    /// arguments and the wallet secrets.
    pub fn spool_command(&self, spool: &Path, data_dir: &Path) -> Command {
        let mut command = Command::new(spool);
        command
            .args(["--network", "regtest", "--rpc-url"])
            .arg(self.rpc_url())
            .arg("--rpc-cookie")
            .arg(self.cookie_file())
            .arg("--data-dir")
            .arg(data_dir)
            .env_remove("SPOOL_CONFIG")
            .env("XDG_CONFIG_HOME", data_dir.join("no-config"));
        command
    }

    /// The node's data directory.
    pub fn datadir(&self) -> &Path {
        self.datadir.path()
    }

    /// The process id while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Calls an RPC method untyped (for replies the typed client no longer parses).
    pub fn call(&self, method: &str, params: &[Value]) -> Result<Value, NodeError> {
        self.rpc()
            .call::<Value>(method, params)
            .map_err(|source| NodeError::Rpc {
                method: method.to_string(),
                source,
            })
    }

    /// Mines `blocks` blocks paying their coinbase to `address`.
    pub fn mine_to(&self, address: &Address, blocks: u64) -> Result<Vec<BlockHash>, NodeError> {
        self.rpc()
            .generate_to_address(blocks, address)
            .map_err(|source| NodeError::Rpc {
                method: "generatetoaddress".to_string(),
                source,
            })
    }

    /// Stops the process gracefully (RPC `stop`, then a kill after 30 s), keeping the data.
    pub fn stop(&mut self) -> Result<(), NodeError> {
        if let Some(mut child) = self.child.take() {
            let _ = self.rpc().stop();
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                if child.try_wait()?.is_some() {
                    break;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Ok(())
    }

    /// Kills the process at once (like a crash), keeping the data.
    pub fn kill(&mut self) -> Result<(), NodeError> {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            child.wait()?;
        }
        Ok(())
    }

    /// Starts the process again on the same data directory and ports.
    pub fn restart(&mut self) -> Result<(), NodeError> {
        self.stop()?;
        let (child, clients) = launch(
            &self.exe,
            self.datadir.path(),
            self.rpc_port,
            self.p2p_port,
            &self.extra_args,
        )?;
        self.child = Some(child);
        self.clients = clients;
        Ok(())
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> Result<u16, NodeError> {
    Ok(TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}

fn launch(
    exe: &Path,
    datadir: &Path,
    rpc_port: u16,
    p2p_port: u16,
    extra: &[String],
) -> Result<(Child, [Client; 2]), NodeError> {
    let mut command = Command::new(exe);
    command
        .arg("-regtest")
        .arg(format!("-datadir={}", datadir.display()))
        .arg(format!("-rpcport={rpc_port}"))
        .arg(format!("-port={p2p_port}"))
        .arg(format!("-bind=127.0.0.1:{p2p_port}"))
        .args([
            "-txindex=1",
            "-server=1",
            "-listen=1",
            "-rpcbind=127.0.0.1",
            "-rpcallowip=127.0.0.1",
            "-dnsseed=0",
            "-fixedseeds=0",
            "-discover=0",
            "-listenonion=0",
            "-natpmp=0",
            "-printtoconsole=0",
            "-acceptnonstdtxn=0",
            "-rpcthreads=8",
            "-rpcworkqueue=256",
        ])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = command.spawn().map_err(|source| NodeError::Spawn {
        exe: exe.to_path_buf(),
        source,
    })?;
    match wait_ready(&mut child, datadir, rpc_port) {
        Ok((first, second)) => Ok((child, [first, second])),
        Err(err) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(err)
        }
    }
}

fn wait_ready(
    child: &mut Child,
    datadir: &Path,
    rpc_port: u16,
) -> Result<(Client, Client), NodeError> {
    let cookie = datadir.join("regtest").join(".cookie");
    let url = format!("http://127.0.0.1:{rpc_port}");
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    let mut last = String::from("no cookie file yet");
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait()? {
            let mut stderr = String::new();
            if let Some(mut pipe) = child.stderr.take() {
                use std::io::Read;
                let _ = pipe.read_to_string(&mut stderr);
            }
            return Err(NodeError::Startup {
                reason: format!("bitcoind exited with {status}: {}", stderr.trim()),
                log_tail: log_tail(datadir),
            });
        }
        if cookie.is_file() {
            match Client::new(&url, Auth::CookieFile(cookie.clone())) {
                Ok(client) => match client.call::<Value>("getblockchaininfo", &[]) {
                    Ok(_) => match Client::new(&url, Auth::CookieFile(cookie.clone())) {
                        Ok(second) => return Ok((client, second)),
                        Err(err) => last = err.to_string(),
                    },
                    Err(err) => last = err.to_string(),
                },
                Err(err) => last = err.to_string(),
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(NodeError::Startup {
        reason: format!(
            "no RPC answer at {url} within {}s (last: {last})",
            STARTUP_TIMEOUT.as_secs()
        ),
        log_tail: log_tail(datadir),
    })
}

fn log_tail(datadir: &Path) -> String {
    let log =
        std::fs::read_to_string(datadir.join("regtest").join("debug.log")).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
