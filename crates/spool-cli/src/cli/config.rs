//! The TOML config file. Keys are the long option names, e.g.
//!
//! ```toml
//! network = "regtest"
//! backend = "core"
//! rpc-url = "http://127.0.0.1:18443"
//! rpc-cookie = "/home/me/.bitcoin/regtest/.cookie"
//! data-dir = "/var/lib/spool"
//! min-conf = 1
//! fee-rate = 2.0
//! json = false
//! federation = ["mxw...", "n2c..."]  # SPOOL_FEDERATION and --federation win
//! server = "http://127.0.0.1:8338"
//! watch = ["bcrt1q..."]
//! ```
//!
//! No secret belongs in it: the RPC password comes from `SPOOL_RPC_PASSWORD`, wallet secrets
//! from `--secret-env`, `--secret-file` or a prompt.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

use super::options::{BackendKind, NetworkName};

/// The settings a config file may hold; everything is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ConfigFile {
    /// `network`.
    pub network: Option<NetworkName>,
    /// `backend`.
    pub backend: Option<BackendKind>,
    /// `rpc-url`.
    pub rpc_url: Option<String>,
    /// `rpc-cookie`.
    pub rpc_cookie: Option<PathBuf>,
    /// `rpc-user`.
    pub rpc_user: Option<String>,
    /// `esplora-url`.
    pub esplora_url: Option<String>,
    /// `data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `json`.
    pub json: Option<bool>,
    /// `min-conf`: default for actions.
    pub min_conf: Option<u32>,
    /// `fee-rate`: default for actions, sat/vB.
    pub fee_rate: Option<f64>,
    /// `federation`: the federation addresses (an empty list turns the rule off).
    pub federation: Option<Vec<String>>,
    /// `server`: a `spool serve` URL to read and broadcast through.
    pub server: Option<String>,
    /// `watch`: addresses `spool index`/`spool serve` watch from the start.
    pub watch: Option<Vec<String>>,
}

impl ConfigFile {
    /// Reads and parses a config file.
    ///
    /// # Errors
    ///
    /// The file cannot be read or is not valid TOML with known keys.
    pub fn load(path: &Path) -> anyhow::Result<ConfigFile> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        toml::from_str(&text).map_err(|err| {
            anyhow::anyhow!(
                "config file {}: {}",
                path.display(),
                err.message().replace('\n', " ")
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kebab_case_keys_and_rejects_unknown_ones() {
        let config: ConfigFile =
            toml::from_str("network = \"regtest\"\nrpc-url = \"http://x:1\"\nmin-conf = 1\n")
                .unwrap();
        assert_eq!(config.network, Some(NetworkName::Regtest));
        assert_eq!(config.rpc_url.as_deref(), Some("http://x:1"));
        assert_eq!(config.min_conf, Some(1));
        assert!(toml::from_str::<ConfigFile>("rpc-password = \"x\"\n").is_err());
        assert!(toml::from_str::<ConfigFile>("network = \"moon\"\n").is_err());
    }
}
