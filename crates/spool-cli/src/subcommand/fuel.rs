//! `spool fuel ADDRESS`: what an address can spend, by kind: fuel outputs (pyspool's FEE),
//! token outputs (TOKEN), other outputs, and those held back by reservations of this
//! machine's unconfirmed transactions.

use clap::Args;
use serde::{Deserialize, Serialize};
use spool_protocol::chain::Utxo;
use spool_tx::TxParams;

use crate::cli::args::AddressArg;
use crate::cli::connect;
use crate::cli::options::Settings;
use crate::cli::output::Outcome;

/// `spool fuel`'s arguments.
#[derive(Debug, Args)]
pub struct FuelArgs {
    /// The address.
    pub address: AddressArg,
    /// Count only outputs with at least this many confirmations (actions spend with
    /// `--min-conf`, 6 by default).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub min_conf: u32,
}

/// A number of outputs and their total value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// How many outputs.
    pub count: u64,
    /// Their total value in satoshis.
    pub total_sat: u64,
}

impl Tally {
    fn add(&mut self, utxo: &Utxo) {
        self.count += 1;
        self.total_sat += utxo.value.to_sat();
    }
}

/// `{address, min_conf, fuel_sat, token_sat, fuel, tokens, other, reserved}`: every
/// unspent output of the address with at least `min_conf` confirmations is in exactly one
/// of `fuel`, `tokens`, `other` (unreserved, by value) or `reserved`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    /// The address.
    pub address: String,
    /// The confirmations an output needed to be counted.
    pub min_conf: u32,
    /// The value of one fuel output (sat).
    pub fuel_sat: u64,
    /// The value of one token output (sat).
    pub token_sat: u64,
    /// Unreserved outputs worth exactly one fuel.
    pub fuel: Tally,
    /// Unreserved outputs worth exactly one token.
    pub tokens: Tally,
    /// Unreserved outputs of any other value.
    pub other: Tally,
    /// Outputs reserved by a transaction of this machine that is not confirmed yet.
    pub reserved: Tally,
}

impl FuelArgs {
    /// Runs the command.
    ///
    /// # Errors
    ///
    /// A bad address, the backend's or the reservation store's failure.
    pub async fn run(&self, settings: &Settings) -> anyhow::Result<Outcome> {
        let network = settings.network.network();
        let address = self.address.on(network, "address")?;
        connect::server_sync_gate(settings, connect::Purpose::Read).await?;
        let spool = connect::spool(settings, Vec::new()).await?;
        let backend = spool.backend();
        let utxos = backend
            .utxos(&address, self.min_conf)
            .await
            .map_err(|err| anyhow::Error::new(err).context(backend.describe()))?;
        let reserved = spool.reservations().snapshot()?;
        let output = tally(
            address.to_string(),
            self.min_conf,
            &TxParams::default(),
            &utxos,
            |utxo| reserved.is_reserved(&utxo.outpoint),
        );
        let text = format!(
            "{} (outputs with at least {} confirmations)\n\
             fuel:     {:>4} x {} sat = {} sat\n\
             tokens:   {:>4} x {} sat = {} sat\n\
             other:    {:>4} outputs = {} sat\n\
             reserved: {:>4} outputs = {} sat\n",
            output.address,
            output.min_conf,
            output.fuel.count,
            output.fuel_sat,
            output.fuel.total_sat,
            output.tokens.count,
            output.token_sat,
            output.tokens.total_sat,
            output.other.count,
            output.other.total_sat,
            output.reserved.count,
            output.reserved.total_sat,
        );
        Outcome::new(&output, text)
    }
}

/// Sorts `utxos` into fuel, tokens, other and reserved.
pub fn tally(
    address: String,
    min_conf: u32,
    params: &TxParams,
    utxos: &[Utxo],
    is_reserved: impl Fn(&Utxo) -> bool,
) -> Output {
    let mut output = Output {
        address,
        min_conf,
        fuel_sat: params.fee.to_sat(),
        token_sat: params.token.to_sat(),
        fuel: Tally::default(),
        tokens: Tally::default(),
        other: Tally::default(),
        reserved: Tally::default(),
    };
    for utxo in utxos {
        if is_reserved(utxo) {
            output.reserved.add(utxo);
        } else if utxo.value == params.fee {
            output.fuel.add(utxo);
        } else if utxo.value == params.token {
            output.tokens.add(utxo);
        } else {
            output.other.add(utxo);
        }
    }
    output
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::hashes::Hash;
    use bitcoin::{Amount, OutPoint, ScriptBuf, Txid};

    fn utxo(vout: u32, sat: u64) -> Utxo {
        Utxo {
            outpoint: OutPoint {
                txid: Txid::all_zeros(),
                vout,
            },
            value: Amount::from_sat(sat),
            script_pubkey: ScriptBuf::new(),
            confirmations: 1,
            is_coinbase: false,
        }
    }

    #[test]
    fn every_output_is_counted_once_by_kind() {
        let utxos = [
            utxo(0, 30_000),
            utxo(1, 30_000),
            utxo(2, 3_000),
            utxo(3, 12_345),
            utxo(4, 30_000),
        ];
        let out = tally("a".into(), 1, &TxParams::default(), &utxos, |u| {
            u.outpoint.vout == 4
        });
        assert_eq!(
            out.fuel,
            Tally {
                count: 2,
                total_sat: 60_000
            }
        );
        assert_eq!(
            out.tokens,
            Tally {
                count: 1,
                total_sat: 3_000
            }
        );
        assert_eq!(
            out.other,
            Tally {
                count: 1,
                total_sat: 12_345
            }
        );
        assert_eq!(
            out.reserved,
            Tally {
                count: 1,
                total_sat: 30_000
            }
        );
        assert_eq!((out.fuel_sat, out.token_sat), (30_000, 3_000));
    }
}
