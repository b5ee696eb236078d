//! `--psbt-out FILE` of every action: the same pre-check, selection, reservation and claim
//! as a signed action, from the signer's public side only (`--xpub` with `--path`, or
//! `--from`), written as an unsigned PSBT for a signer elsewhere. No secret is read.

use std::io::Write;

use anyhow::Context;
use spool_engine::{Request, SendOptions};
use spool_wallet::{LeafPath, WatchKey, WatchWallet};

use crate::cli::connect;
use crate::cli::options::Settings;
use crate::cli::output::Outcome;
use crate::subcommand::action::{CommonArgs, Output};

/// The signer's public side from `--xpub` (at `--path`) or `--from`.
fn watch_key(settings: &Settings, common: &CommonArgs) -> anyhow::Result<WatchKey> {
    public_side(
        settings,
        &common.secret,
        common.xpub.as_deref(),
        common.from.as_ref(),
        common.path.as_ref(),
    )
}

/// The signer's public side from `xpub` (at `path`) or `from`, refusing a secret source.
pub(crate) fn public_side(
    settings: &Settings,
    secret: &crate::cli::secret::SecretArgs,
    xpub: Option<&str>,
    from: Option<&crate::cli::args::AddressArg>,
    path: Option<&LeafPath>,
) -> anyhow::Result<WatchKey> {
    let network = settings.network.network();
    if secret.secret_env.is_some() || secret.secret_file.is_some() || secret.secret_fd.is_some() {
        return Err(crate::cli::exit::input(
            "--psbt-out builds an unsigned transaction from the public side: give --xpub or \
             --from, and no secret (sign it elsewhere with `spool sign`)",
        ));
    }
    if let Some(xpub) = xpub {
        let path = path.cloned().unwrap_or_else(LeafPath::root);
        let wallet = WatchWallet::from_xpub(xpub, network)
            .map_err(|e| crate::cli::exit::as_input(anyhow::Error::new(e).context("--xpub")))?;
        return Ok(wallet.key(&path)?);
    }
    let Some(from) = from else {
        return Err(crate::cli::exit::input(
            "--psbt-out needs the signer's public side: --xpub XPUB (with --path) or --from ADDRESS",
        ));
    };
    let address = from.on(network, "--from")?;
    WatchKey::from_address(address, network)
        .map_err(|e| crate::cli::exit::as_input(anyhow::Error::new(e).context("--from")))
}

/// Pre-checks, selects, reserves and claims as a signed action, and writes the PSBT.
pub(crate) async fn execute(
    settings: &Settings,
    common: &CommonArgs,
    request: Request,
) -> anyhow::Result<Outcome> {
    let target = common.psbt_out.clone().expect("called with --psbt-out");
    let key = watch_key(settings, common)?;
    let federation = connect::federation(settings, &common.federation)?;
    let min_conf = common.min_conf.or(settings.min_conf).unwrap_or(6);
    let options = SendOptions {
        min_conf,
        check: !common.no_check,
        fee_rate: common.fee_rate.or(settings.fee_rate),
        dry_run: common.dry_run,
    };
    let backend = connect::checked_backend(settings, connect::Purpose::Action).await?;
    let spool = connect::spool_over(settings, backend, federation)?;
    let prepared = spool.prepare(&request, &key, &options).await?;
    let written = async {
        let previous = spool.previous_transactions(&prepared).await?;
        let psbt = spool_tx::psbt::to_psbt(prepared.built(), &previous, &key)?;
        let text = spool_tx::psbt::to_base64(&psbt);
        if target.as_os_str() != "-" {
            write_file(&target, &text)?;
        }
        Ok::<_, anyhow::Error>(text)
    }
    .await;
    let text = match written {
        Ok(text) => text,
        Err(err) => {
            // Nothing will be signed: the reservation would only block the outputs.
            if !common.dry_run {
                let _ = spool.reservations().release_tx(&prepared.txid());
            }
            return Err(
                err.context("the unsigned action was not written; its outputs are released")
            );
        }
    };
    let output = Output {
        txid: prepared.txid().to_string(),
        verb: request.verb().map(|verb| verb.to_string()),
        fee: prepared.fee().to_sat(),
        hex: prepared.hex(),
        from_address: key.address().to_string(),
        to_address: request.destination().to_string(),
        broadcast: false,
        confirmed: false,
        checked: prepared.checked(),
        psbt: Some(text.clone()),
    };
    let human = if target.as_os_str() == "-" {
        format!("{text}\n")
    } else {
        format!(
            "unsigned {} {} written to {}; its outputs are reserved. Sign it offline with \
             `spool sign {}`, then send the signed file with `spool broadcast FILE` (or drop \
             it with `spool reservations release {}`)\n",
            output.verb.as_deref().unwrap_or("refill-main"),
            output.txid,
            target.display(),
            target.display(),
            output.txid
        )
    };
    Outcome::new(&output, human)
}

/// Writes `text` to `path` (created `0600`, as PSBTs say what a wallet spends), durably.
pub(crate) fn write_file(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
