//! `spool index`: bring the chain index (`<data-dir>/<network>/index.sqlite`) up to the
//! node's tip with a progress bar, then exit. `spool serve` shares its options.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use spool_index::follower::FilterScope;
use spool_index::{Follower, FollowerConfig, NodeConfig};

use crate::cli::args::AddressArg;
use crate::cli::connect;
use crate::cli::options::Settings;
use crate::cli::output::Outcome;

/// The options of the index shared by `spool index` and `spool serve`.
#[derive(Debug, Clone, Args)]
pub struct IndexOptions {
    /// The first block height to index; read only when the index is created [default: 0].
    #[arg(long, value_name = "HEIGHT")]
    pub index_from: Option<u64>,
    /// Watch an address's outputs and spends from the start, e.g. a federation or user
    /// wallet whose fuel and tokens `--server` clients spend (repeatable; config `watch`).
    #[arg(long, value_name = "ADDR")]
    pub watch: Vec<AddressArg>,
    /// Index only the federation's pieces: test each block's compact block filter (BIP 158)
    /// against the federation, `--watch` and the addresses its SPOOL events reach, and fetch
    /// only the blocks that match. Needs a node run with -blockfilterindex=1; an index made
    /// with `--filters` cannot be continued without it, nor the other way round.
    #[arg(long)]
    pub filters: bool,
}

impl IndexOptions {
    /// The index file: `index.sqlite` in the per-network data directory.
    ///
    /// # Errors
    ///
    /// No data directory (neither `--data-dir` nor HOME).
    pub fn index_path(settings: &Settings) -> anyhow::Result<PathBuf> {
        let Some(dir) = &settings.data_dir else {
            bail!("no data directory for the index: give --data-dir DIR (HOME is not set)");
        };
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
        Ok(dir.join(spool_index::store::INDEX_FILE))
    }

    /// The follower's settings: the node from the global options, these options and the
    /// config file's `watch` list.
    ///
    /// # Errors
    ///
    /// A watched address of another network.
    /// `federation`: the federation addresses (`--federation`, the config, or ascribe's on
    /// mainnet), the roots of a `--filters` index.
    pub fn follower(
        &self,
        settings: &Settings,
        poll: Duration,
        federation: &[AddressArg],
    ) -> anyhow::Result<FollowerConfig> {
        let network = settings.network.network();
        let mut watch = Vec::new();
        for text in &settings.watch {
            let arg: AddressArg = text
                .parse()
                .map_err(|err: String| anyhow::anyhow!("config file watch: {err}"))?;
            watch.push(arg.on(network, "watched address (config)")?.script_pubkey());
        }
        for arg in &self.watch {
            watch.push(arg.on(network, "--watch")?.script_pubkey());
        }
        let filters = if self.filters {
            let federation = connect::federation(settings, federation)?
                .iter()
                .map(|text| {
                    let arg: AddressArg = text.parse().map_err(|e: String| anyhow::anyhow!(e))?;
                    Ok(arg.on(network, "--federation")?.script_pubkey())
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            if federation.is_empty() {
                bail!("--filters indexes one federation's pieces: give --federation ADDR");
            }
            Some(FilterScope { federation })
        } else {
            None
        };
        Ok(FollowerConfig {
            node: NodeConfig {
                url: settings.rpc_url.clone(),
                auth: connect::core_auth(settings),
                timeout: Duration::from_secs(60),
            },
            network,
            index_from: self.index_from.unwrap_or(0),
            poll,
            watch,
            filters,
            full_scan: Default::default(),
        })
    }
}

/// `spool index`'s arguments.
#[derive(Debug, Args)]
pub struct IndexArgs {
    /// Federation addresses, the roots of a `--filters` index [default: the config's, or
    /// ascribe's on mainnet].
    #[arg(long, value_name = "ADDR")]
    pub federation: Vec<AddressArg>,
    /// Where and what to index.
    #[command(flatten)]
    pub options: IndexOptions,
}

/// `{"index", "indexed_height", "indexed_hash", "blocks", "bytes", "seconds"}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Output {
    /// The index file.
    pub index: String,
    /// Height of the last indexed block.
    pub indexed_height: Option<u64>,
    /// Its hash.
    pub indexed_hash: Option<String>,
    /// Blocks read in this run.
    pub blocks: u64,
    /// Raw block bytes read in this run.
    pub bytes: u64,
    /// How long the catch-up took, in seconds.
    pub seconds: f64,
    /// `full`, or `filters` and the federation's scripts.
    #[serde(default)]
    pub mode: String,
    /// Filtered index: blocks whose compact block filter matched, fetched (in all runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocks_matched: Option<u64>,
    /// Filtered index: matched blocks found to hold nothing of the scope (in all runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub false_positives: Option<u64>,
}

impl IndexArgs {
    /// Runs the command: opens (or creates) the index, catches up with the node, exits.
    ///
    /// # Errors
    ///
    /// No data directory, a node of another chain, node or database failures.
    pub async fn run(&self, settings: &Settings) -> anyhow::Result<Outcome> {
        let path = IndexOptions::index_path(settings)?;
        let config = self
            .options
            .follower(settings, Duration::from_secs(1), &self.federation)?;
        let show = !settings.json && std::io::stderr().is_terminal();
        let path2 = path.clone();
        let started = std::time::Instant::now();
        let mode = config.mode();
        let scoped = config.filters.is_some();
        let (blocks, bytes, tip, counters) = tokio::task::spawn_blocking(move || {
            let mut follower = Follower::open(&path2, config)
                .with_context(|| format!("cannot open the index {}", path2.display()))?;
            let bar = show.then(|| {
                let bar = ProgressBar::new(0);
                if let Ok(style) = ProgressStyle::with_template(
                    "indexing {bar:30} block {pos}/{len} {msg} ({elapsed}, eta {eta})",
                ) {
                    bar.set_style(style);
                }
                bar
            });
            let (blocks, bytes) = follower.catch_up(&mut |p| match &bar {
                Some(bar) => {
                    bar.set_length(p.node_height);
                    bar.set_position(p.height);
                    bar.set_message(format!("{:.1} MB", p.bytes as f64 / 1e6));
                }
                None => tracing::info!(height = p.height, node = p.node_height, "indexed"),
            })?;
            if let Some(bar) = bar {
                bar.finish_and_clear();
            }
            let tip = follower.store().tip()?;
            let counters = follower.store().scope_counters()?;
            anyhow::Ok((blocks, bytes, tip, counters))
        })
        .await
        .context("the indexing thread failed")??;
        let output = Output {
            index: path.display().to_string(),
            indexed_height: tip.map(|(h, _)| h),
            indexed_hash: tip.map(|(_, hash)| hash.to_string()),
            blocks,
            bytes,
            seconds: started.elapsed().as_secs_f64(),
            mode,
            blocks_matched: scoped.then_some(counters.matched),
            false_positives: scoped.then_some(counters.false_positives),
        };
        let filtered = match (output.blocks_matched, output.false_positives) {
            (Some(matched), Some(false_positives)) => format!(
                ", filters: {matched} blocks matched of {} tested, {false_positives} false positives",
                counters.tested
            ),
            _ => String::new(),
        };
        let text = format!(
            "indexed to height {} ({} blocks, {:.1} MB in {:.1} s{filtered}): {}\n",
            output
                .indexed_height
                .map_or("-".to_string(), |h| h.to_string()),
            blocks,
            bytes as f64 / 1e6,
            output.seconds,
            output.index
        );
        Outcome::new(&output, text)
    }
}
