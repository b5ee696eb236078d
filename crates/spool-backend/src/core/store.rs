//! The Core backend's cache file, `<data-dir>/<network>/core-cache.json`: the decoded mempool
//! (with the previous outputs already resolved), the last `scantxoutset` reply with the block
//! it was taken at, and the addresses recently scanned (scanned together next time).
//!
//! The file is a hint, never trusted: its first line is the SHA-256 of the rest, which is
//! JSON; a file that is missing, half written, corrupt, of another version or of another
//! network is ignored (and rebuilt). Every entry is validated before use: a transaction
//! against its txid and the node's current `getrawmempool`, the scan against the node's
//! current best block. Writes go to a temporary file renamed over the old one, so a reader
//! sees a whole file or the previous one; concurrent processes may each write, the last
//! rename wins, and any of their files is valid.

use std::path::{Path, PathBuf};

use bitcoin::hashes::{sha256, Hash};
use bitcoin::{Amount, BlockHash, OutPoint, ScriptBuf, Transaction, TxOut, Txid};
use serde::{Deserialize, Serialize};

use super::parse::ScannedOutput;

/// The cache file's name inside the per-network data directory.
pub(crate) const FILE_NAME: &str = "core-cache.json";
/// The format written; others are ignored.
const VERSION: u32 = 1;

/// A decoded mempool transaction and, once resolved, the outputs it spends.
#[derive(Debug, Clone)]
pub(crate) struct CachedTx {
    pub tx: Transaction,
    pub prevouts: Option<Vec<TxOut>>,
}

/// A `scantxoutset` reply: the UTXO set at `best_block` for every address in `addresses`.
#[derive(Debug, Clone)]
pub(crate) struct ScanMemo {
    pub best_block: BlockHash,
    pub height: u64,
    pub addresses: Vec<String>,
    pub outputs: Vec<ScannedOutput>,
}

/// What the file holds, decoded.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    pub txs: Vec<(Txid, CachedTx)>,
    pub scan: Option<ScanMemo>,
    pub companions: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct FileOut {
    value: u64,
    script: String,
}

#[derive(Serialize, Deserialize)]
struct FileTx {
    txid: String,
    hex: String,
    prevouts: Option<Vec<FileOut>>,
}

#[derive(Serialize, Deserialize)]
struct FileScanned {
    txid: String,
    vout: u32,
    value: u64,
    script: String,
    height: u64,
    coinbase: bool,
}

#[derive(Serialize, Deserialize)]
struct FileScan {
    best_block: String,
    height: u64,
    addresses: Vec<String>,
    outputs: Vec<FileScanned>,
}

#[derive(Serialize, Deserialize)]
struct FileBody {
    version: u32,
    network: String,
    mempool: Vec<FileTx>,
    scan: Option<FileScan>,
    companions: Vec<String>,
}

/// The cache file of one network.
#[derive(Debug, Clone)]
pub(crate) struct CacheFile {
    path: PathBuf,
    network: String,
}

fn out_to_file(out: &TxOut) -> FileOut {
    FileOut {
        value: out.value.to_sat(),
        script: out.script_pubkey.to_hex_string(),
    }
}

fn out_from_file(out: &FileOut) -> Option<TxOut> {
    Some(TxOut {
        value: Amount::from_sat(out.value),
        script_pubkey: ScriptBuf::from_hex(&out.script).ok()?,
    })
}

impl CacheFile {
    /// The cache file in `dir` for `network` (`dir` is created when first written).
    pub(crate) fn in_dir(dir: &Path, network: bitcoin::Network) -> CacheFile {
        CacheFile {
            path: dir.join(FILE_NAME),
            network: network.to_string(),
        }
    }

    /// Reads the file; anything unusable gives an empty snapshot (logged, never an error).
    pub(crate) fn load(&self) -> Snapshot {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(err) => {
                if err.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(path = %self.path.display(), error = %err, "cache file unreadable; rebuilding");
                }
                return Snapshot::default();
            }
        };
        match self.decode(&bytes) {
            Some(snapshot) => snapshot,
            None => {
                tracing::warn!(path = %self.path.display(), "cache file corrupt or stale; ignoring it");
                Snapshot::default()
            }
        }
    }

    fn decode(&self, bytes: &[u8]) -> Option<Snapshot> {
        let newline = bytes.iter().position(|b| *b == b'\n')?;
        let (sum, body) = (&bytes[..newline], &bytes[newline + 1..]);
        let expected = sha256::Hash::hash(body).to_string();
        if sum != expected.as_bytes() {
            return None;
        }
        let body: FileBody = serde_json::from_slice(body).ok()?;
        if body.version != VERSION || body.network != self.network {
            return None;
        }
        let mut txs = Vec::with_capacity(body.mempool.len());
        for entry in &body.mempool {
            let txid: Txid = entry.txid.parse().ok()?;
            let raw = bitcoin::hex::FromHex::from_hex(&entry.hex).ok();
            let raw: Vec<u8> = raw?;
            let tx: Transaction = bitcoin::consensus::deserialize(&raw).ok()?;
            if tx.compute_txid() != txid {
                return None;
            }
            let prevouts = match &entry.prevouts {
                None => None,
                Some(outs) => {
                    let outs = outs.iter().map(out_from_file).collect::<Option<Vec<_>>>()?;
                    if outs.len() != tx.input.len() {
                        return None;
                    }
                    Some(outs)
                }
            };
            txs.push((txid, CachedTx { tx, prevouts }));
        }
        let scan = match body.scan {
            None => None,
            Some(scan) => Some(ScanMemo {
                best_block: scan.best_block.parse().ok()?,
                height: scan.height,
                addresses: scan.addresses,
                outputs: scan
                    .outputs
                    .iter()
                    .map(|o| {
                        Some(ScannedOutput {
                            outpoint: OutPoint {
                                txid: o.txid.parse().ok()?,
                                vout: o.vout,
                            },
                            value: Amount::from_sat(o.value),
                            script_pubkey: ScriptBuf::from_hex(&o.script).ok()?,
                            height: o.height,
                            coinbase: o.coinbase,
                        })
                    })
                    .collect::<Option<Vec<_>>>()?,
            }),
        };
        Some(Snapshot {
            txs,
            scan,
            companions: body.companions,
        })
    }

    /// Writes the snapshot atomically (temporary file, then rename). A failure is logged
    /// and otherwise ignored: the cache only saves calls.
    pub(crate) fn save<'a>(
        &self,
        txs: impl Iterator<Item = (&'a Txid, &'a CachedTx)>,
        scan: Option<&ScanMemo>,
        companions: &[String],
    ) {
        let body = FileBody {
            version: VERSION,
            network: self.network.clone(),
            mempool: txs
                .map(|(txid, cached)| FileTx {
                    txid: txid.to_string(),
                    hex: bitcoin::consensus::encode::serialize_hex(&cached.tx),
                    prevouts: cached
                        .prevouts
                        .as_ref()
                        .map(|outs| outs.iter().map(out_to_file).collect()),
                })
                .collect(),
            scan: scan.map(|scan| FileScan {
                best_block: scan.best_block.to_string(),
                height: scan.height,
                addresses: scan.addresses.clone(),
                outputs: scan
                    .outputs
                    .iter()
                    .map(|o| FileScanned {
                        txid: o.outpoint.txid.to_string(),
                        vout: o.outpoint.vout,
                        value: o.value.to_sat(),
                        script: o.script_pubkey.to_hex_string(),
                        height: o.height,
                        coinbase: o.coinbase,
                    })
                    .collect(),
            }),
            companions: companions.to_vec(),
        };
        if let Err(err) = self.write(&body) {
            tracing::warn!(path = %self.path.display(), error = %err, "cannot write cache file");
        }
    }

    fn write(&self, body: &FileBody) -> std::io::Result<()> {
        let json = serde_json::to_vec(body).map_err(std::io::Error::other)?;
        let sum = sha256::Hash::hash(&json).to_string();
        let mut bytes = Vec::with_capacity(sum.len() + 1 + json.len());
        bytes.extend_from_slice(sum.as_bytes());
        bytes.push(b'\n');
        bytes.extend_from_slice(&json);
        if let Some(dir) = self.path.parent() {
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder.create(dir)?;
        }
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let tmp = self
            .path
            .with_extension(format!("json.tmp.{}.{nanos}", std::process::id()));
        // Private to this user, like everything in the data directory.
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        std::io::Write::write_all(&mut options.open(&tmp)?, &bytes)?;
        std::fs::rename(&tmp, &self.path).inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
    }
}
