//! Global options: flags (before or after the subcommand), `SPOOL_*` environment variables
//! and the TOML config file, resolved into [`Settings`]. Flags win over the environment,
//! the environment over the config file, the config file over the defaults.

#[cfg(test)]
use std::path::Path;
use std::path::PathBuf;

use anyhow::bail;
use bitcoin::Network;
use clap::{Args, ValueEnum};

use super::config::ConfigFile;

/// The networks the CLI speaks, by their CLI names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkName {
    /// Bitcoin mainnet.
    Mainnet,
    /// Testnet (version 3).
    Testnet,
    /// Testnet version 4 (BIP 94).
    Testnet4,
    /// Signet.
    Signet,
    /// Regtest.
    Regtest,
}

impl NetworkName {
    /// The `bitcoin` crate's network.
    pub fn network(self) -> Network {
        match self {
            NetworkName::Mainnet => Network::Bitcoin,
            NetworkName::Testnet => Network::Testnet,
            NetworkName::Testnet4 => Network::Testnet4,
            NetworkName::Signet => Network::Signet,
            NetworkName::Regtest => Network::Regtest,
        }
    }

    /// The CLI name (`mainnet`, `testnet`, `testnet4`, `signet`, `regtest`).
    pub fn as_str(self) -> &'static str {
        match self {
            NetworkName::Mainnet => "mainnet",
            NetworkName::Testnet => "testnet",
            NetworkName::Testnet4 => "testnet4",
            NetworkName::Signet => "signet",
            NetworkName::Regtest => "regtest",
        }
    }
}

/// Which blockchain backend to talk to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// Bitcoin Core's JSON-RPC (needs `-txindex=1`).
    Core,
    /// An Esplora HTTP API.
    Esplora,
}

/// Options accepted by every subcommand, before or after it.
#[derive(Debug, Clone, Default, Args)]
pub struct GlobalOptions {
    /// Network [default: mainnet].
    #[arg(long, global = true, env = "SPOOL_NETWORK", value_enum)]
    pub network: Option<NetworkName>,
    /// Blockchain backend [default: core].
    #[arg(long, global = true, env = "SPOOL_BACKEND", value_enum)]
    pub backend: Option<BackendKind>,
    /// Bitcoin Core RPC URL [default: http://127.0.0.1:<the network's RPC port>].
    #[arg(long, global = true, env = "SPOOL_RPC_URL", value_name = "URL")]
    pub rpc_url: Option<String>,
    /// Bitcoin Core cookie file [default: ~/.bitcoin/<network>/.cookie, unless --rpc-user].
    #[arg(long, global = true, env = "SPOOL_RPC_COOKIE", value_name = "PATH")]
    pub rpc_cookie: Option<PathBuf>,
    /// Bitcoin Core RPC user; the password comes from SPOOL_RPC_PASSWORD.
    #[arg(long, global = true, env = "SPOOL_RPC_USER", value_name = "USER")]
    pub rpc_user: Option<String>,
    /// Esplora API base URL (for --backend esplora).
    #[arg(long, global = true, env = "SPOOL_ESPLORA_URL", value_name = "URL")]
    pub esplora_url: Option<String>,
    /// Directory for reservations and other state [default: the user's data directory,
    /// e.g. ~/.local/share/spool]; a subdirectory per network is used inside it.
    #[arg(long, global = true, env = "SPOOL_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// TOML config file [default: ~/.config/spool/config.toml when it exists].
    #[arg(long, global = true, env = "SPOOL_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// A `spool serve` to read chain state from and broadcast through, instead of the node
    /// or Esplora (e.g. http://127.0.0.1:8338).
    #[arg(long, global = true, env = "SPOOL_SERVER", value_name = "URL")]
    pub server: Option<String>,
    /// With --server: when the server's index is behind its node, wait until it has caught
    /// up instead of warning (reads) or refusing (actions).
    #[arg(long, global = true)]
    pub wait_sync: bool,
    /// With --server: a file holding the server's write token (`spool serve
    /// --api-token-file`); SPOOL_SERVER_TOKEN gives the token itself instead.
    #[arg(long, global = true, value_name = "PATH")]
    pub server_token_file: Option<PathBuf>,
    /// Deadline of one Bitcoin Core RPC call, in seconds [default: 30; `scantxoutset` gets
    /// at least 600].
    #[arg(long, global = true, env = "SPOOL_RPC_TIMEOUT", value_name = "SECONDS",
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub rpc_timeout: Option<u64>,
    /// Print exactly one JSON document on stdout (`--json=false` or `--no-json` turn off
    /// SPOOL_JSON's or a config file's `json = true`).
    #[arg(
        long,
        global = true,
        value_name = "BOOL",
        value_parser = clap::builder::BoolishValueParser::new(),
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        overrides_with = "no_json"
    )]
    pub json: Option<bool>,
    /// Human-readable output, whatever the config file or SPOOL_JSON say.
    #[arg(long, global = true, overrides_with = "json")]
    pub no_json: bool,
    /// More logging on stderr (-v, -vv).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// How to authenticate to Bitcoin Core. The password is never printed.
#[derive(Clone)]
pub enum RpcAuth {
    /// A cookie file.
    Cookie(PathBuf),
    /// User and password.
    UserPass {
        /// The user.
        user: String,
        /// The password (from SPOOL_RPC_PASSWORD).
        password: String,
    },
}

impl std::fmt::Debug for RpcAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RpcAuth::Cookie(path) => f.debug_tuple("Cookie").field(path).finish(),
            RpcAuth::UserPass { user, .. } => f
                .debug_struct("UserPass")
                .field("user", user)
                .field("password", &"<redacted>")
                .finish(),
        }
    }
}

/// The resolved settings of one run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The network.
    pub network: NetworkName,
    /// The backend.
    pub backend: BackendKind,
    /// Core RPC URL.
    pub rpc_url: String,
    /// Core RPC authentication.
    pub rpc_auth: RpcAuth,
    /// Esplora URL, when given.
    pub esplora_url: Option<String>,
    /// The `spool serve` URL (`--server`), when given: it replaces the backend.
    pub server: Option<String>,
    /// `--wait-sync`: wait for a server's index to catch up with its node.
    pub wait_sync: bool,
    /// The server's write token (`--server-token-file`, else SPOOL_SERVER_TOKEN); never
    /// printed.
    pub server_token: Option<spool_backend::ApiToken>,
    /// Whether a backend was named (`--rpc-url`, `--backend`, `--esplora-url`, `--server`,
    /// or their variables or config keys), rather than only the defaults.
    pub backend_named: bool,
    /// Addresses `spool index`/`spool serve` watch from the start (config `watch = [...]`).
    pub watch: Vec<String>,
    /// The per-network data directory (`None` when neither --data-dir nor a home directory gives one;
    /// only commands that keep state need it).
    pub data_dir: Option<PathBuf>,
    /// JSON output.
    pub json: bool,
    /// Verbosity.
    pub verbose: u8,
    /// Default `--min-conf` from the config file.
    pub min_conf: Option<u32>,
    /// Default `--fee-rate` from the config file.
    pub fee_rate: Option<f64>,
    /// `--rpc-timeout`, in seconds (`None`: the backend's default).
    pub rpc_timeout: Option<u64>,
    /// Federation addresses from `SPOOL_FEDERATION` (comma-separated), else the config
    /// file's `federation`; unchecked (see [`crate::cli::connect::federation`]).
    pub federation: Option<Vec<String>>,
}

impl GlobalOptions {
    /// Resolves flags and environment (already merged by clap), the config file and defaults.
    ///
    /// # Errors
    ///
    /// A config file that cannot be read, or settings that contradict each other.
    pub fn resolve(&self) -> anyhow::Result<Settings> {
        let config = match &self.config {
            Some(path) => ConfigFile::load(path)?,
            None => match default_config_path().filter(|p| p.is_file()) {
                Some(path) => ConfigFile::load(&path)?,
                None => ConfigFile::default(),
            },
        };
        let network = self
            .network
            .or(config.network)
            .unwrap_or(NetworkName::Mainnet);
        let backend = self.backend.or(config.backend).unwrap_or(BackendKind::Core);
        let rpc_url_from_config = config.rpc_url.is_some();
        let rpc_url = self
            .rpc_url
            .clone()
            .or(config.rpc_url)
            .unwrap_or_else(|| format!("http://127.0.0.1:{}", default_rpc_port(network)));
        let rpc_auth = match (&self.rpc_user, &self.rpc_cookie) {
            (Some(_), Some(_)) => bail!("give either --rpc-cookie or --rpc-user, not both"),
            (Some(user), None) => user_pass(user.clone())?,
            (None, Some(cookie)) => RpcAuth::Cookie(cookie.clone()),
            (None, None) => match (config.rpc_user, config.rpc_cookie) {
                (Some(_), Some(_)) => {
                    bail!("the config file gives both rpc-cookie and rpc-user; keep one")
                }
                (Some(user), None) => user_pass(user)?,
                (None, Some(cookie)) => RpcAuth::Cookie(cookie),
                (None, None) => RpcAuth::Cookie(default_cookie(network)),
            },
        };
        let backend_named = self.rpc_url.is_some()
            || rpc_url_from_config
            || self.backend.is_some()
            || config.backend.is_some()
            || self.esplora_url.is_some()
            || config.esplora_url.is_some()
            || self.server.is_some()
            || config.server.is_some();
        let esplora_url = self.esplora_url.clone().or(config.esplora_url);
        let base = self
            .data_dir
            .clone()
            .or(config.data_dir)
            .or_else(default_data_dir);
        Ok(Settings {
            network,
            backend,
            rpc_url,
            rpc_auth,
            esplora_url,
            server: self.server.clone().or(config.server),
            wait_sync: self.wait_sync,
            server_token: server_token(self.server_token_file.as_deref())?,
            backend_named,
            watch: config.watch.unwrap_or_default(),
            data_dir: base.map(|dir| dir.join(network.as_str())),
            json: if self.no_json {
                false
            } else {
                match self.json {
                    Some(json) => json,
                    None => env_bool("SPOOL_JSON")?.or(config.json).unwrap_or(false),
                }
            },
            verbose: self.verbose,
            min_conf: config.min_conf,
            fee_rate: config.fee_rate,
            federation: env_federation().or(config.federation),
            rpc_timeout: self.rpc_timeout,
        })
    }
}

/// A boolean environment variable: `true/false`, `yes/no`, `on/off`, `1/0` (any case).
fn env_bool(name: &str) -> anyhow::Result<Option<bool>> {
    let Some(value) = std::env::var_os(name) else {
        return Ok(None);
    };
    let text = value.to_string_lossy().trim().to_ascii_lowercase();
    match text.as_str() {
        "true" | "yes" | "on" | "1" => Ok(Some(true)),
        "false" | "no" | "off" | "0" | "" => Ok(Some(false)),
        _ => bail!("{name}={text:?} is not a boolean: give true or false"),
    }
}

/// The server's write token: from `--server-token-file`, else from SPOOL_SERVER_TOKEN.
fn server_token(file: Option<&std::path::Path>) -> anyhow::Result<Option<spool_backend::ApiToken>> {
    use spool_backend::token::TOKEN_ENV;
    if let Some(path) = file {
        return Ok(Some(spool_backend::ApiToken::from_file(path)?));
    }
    match std::env::var(TOKEN_ENV) {
        Ok(text) => Ok(Some(spool_backend::ApiToken::parse(&text, TOKEN_ENV)?)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => {
            bail!("{TOKEN_ENV} is not valid UTF-8")
        }
    }
}

/// `SPOOL_FEDERATION`: comma-separated addresses (empty: no federation rule).
fn env_federation() -> Option<Vec<String>> {
    let text = std::env::var("SPOOL_FEDERATION").ok()?;
    Some(
        text.split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
            .collect(),
    )
}

fn user_pass(user: String) -> anyhow::Result<RpcAuth> {
    match std::env::var("SPOOL_RPC_PASSWORD") {
        Ok(password) => Ok(RpcAuth::UserPass { user, password }),
        Err(_) => bail!(
            "rpc user {user} needs its password in the SPOOL_RPC_PASSWORD environment variable"
        ),
    }
}

/// Bitcoin Core's default RPC port of a network.
pub fn default_rpc_port(network: NetworkName) -> u16 {
    match network {
        NetworkName::Mainnet => 8332,
        NetworkName::Testnet => 18332,
        NetworkName::Testnet4 => 48332,
        NetworkName::Signet => 38332,
        NetworkName::Regtest => 18443,
    }
}

/// Bitcoin Core's default data directory: `~/.bitcoin` on Linux and other Unixes,
/// `~/Library/Application Support/Bitcoin` on macOS, `%APPDATA%\Bitcoin` on Windows.
fn bitcoin_data_dir() -> Option<PathBuf> {
    let base = directories::BaseDirs::new()?;
    if cfg!(any(target_os = "macos", windows)) {
        Some(base.data_dir().join("Bitcoin"))
    } else {
        Some(base.home_dir().join(".bitcoin"))
    }
}

/// Bitcoin Core's default cookie file of a network (relative to the working directory when
/// there is no home directory; reading it then fails with the path in the error).
fn default_cookie(network: NetworkName) -> PathBuf {
    let base = bitcoin_data_dir().unwrap_or_default();
    match network {
        NetworkName::Mainnet => base.join(".cookie"),
        NetworkName::Testnet => base.join("testnet3").join(".cookie"),
        NetworkName::Testnet4 => base.join("testnet4").join(".cookie"),
        NetworkName::Signet => base.join("signet").join(".cookie"),
        NetworkName::Regtest => base.join("regtest").join(".cookie"),
    }
}

fn project_dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "spool")
}

/// The user's data directory for spool (`$XDG_DATA_HOME/spool`, `~/.local/share/spool`,
/// `~/Library/Application Support/spool`, ...).
fn default_data_dir() -> Option<PathBuf> {
    Some(project_dirs()?.data_dir().to_path_buf())
}

/// The user's config file (`$XDG_CONFIG_HOME/spool/config.toml`,
/// `~/.config/spool/config.toml`, `~/Library/Application Support/spool/config.toml`, ...).
fn default_config_path() -> Option<PathBuf> {
    Some(project_dirs()?.config_dir().join("config.toml"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> GlobalOptions {
        GlobalOptions {
            config: Some(PathBuf::from("/nonexistent/spool.toml")),
            ..GlobalOptions::default()
        }
    }

    #[test]
    fn missing_explicit_config_file_is_an_error_naming_it() {
        let err = options().resolve().unwrap_err().to_string();
        assert!(err.contains("/nonexistent/spool.toml"), "{err}");
    }

    #[test]
    fn defaults_per_network_and_cookie_beats_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("c.toml");
        std::fs::write(&config, "network = \"signet\"\n").unwrap();
        let settings = GlobalOptions {
            config: Some(config.clone()),
            data_dir: Some(dir.path().to_path_buf()),
            rpc_cookie: Some(PathBuf::from("/x/.cookie")),
            ..GlobalOptions::default()
        }
        .resolve()
        .unwrap();
        assert_eq!(settings.network, NetworkName::Signet);
        assert_eq!(settings.rpc_url, "http://127.0.0.1:38332");
        assert!(
            matches!(settings.rpc_auth, RpcAuth::Cookie(ref p) if p == Path::new("/x/.cookie"))
        );
        assert_eq!(settings.data_dir, Some(dir.path().join("signet")));
        assert_eq!(settings.backend, BackendKind::Core);

        let both = GlobalOptions {
            config: Some(config),
            rpc_cookie: Some(PathBuf::from("/x/.cookie")),
            rpc_user: Some("u".into()),
            ..GlobalOptions::default()
        }
        .resolve()
        .unwrap_err()
        .to_string();
        assert!(both.contains("either --rpc-cookie or --rpc-user"), "{both}");
    }

    #[test]
    fn rpc_password_is_redacted_in_debug() {
        let auth = RpcAuth::UserPass {
            user: "merlin".into(),
            password: "hunter2-secret".into(),
        };
        let shown = format!("{auth:?}");
        assert!(
            shown.contains("merlin") && !shown.contains("hunter2"),
            "{shown}"
        );
    }
}
