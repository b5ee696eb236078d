//! Builder settings: denominations, fee rate, compatibility mode and safety limits.

use bitcoin::{Amount, FeeRate};

/// How transactions are built. `Default` is pyspool's denominations (FEE 30000 sat, TOKEN
/// 3000 sat) with a 10 sat/vB minimum fee rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxParams {
    /// Value of one fuel output (pyspool's FEE).
    pub fee: Amount,
    /// Value of one token output (pyspool's TOKEN).
    pub token: Amount,
    /// The minimum fee rate: enough fuel is spent that fee >= rate * signed vsize.
    pub fee_rate: FeeRate,
    /// pyspool compatibility: version 1, sequence 0xffffffff, locktime 0 (signed bytes then
    /// match pyspool exactly). Otherwise version 2 and sequence 0xfffffffd (opt-in RBF).
    pub compat: bool,
    /// A fee above this is refused as absurd.
    pub max_fee: Amount,
    /// The dust relay fee rate used for the dust check (Bitcoin Core default 3 sat/vB).
    pub dust_relay_fee: FeeRate,
}

impl Default for TxParams {
    fn default() -> TxParams {
        TxParams {
            fee: Amount::from_sat(30_000),
            token: Amount::from_sat(3_000),
            fee_rate: FeeRate::from_sat_per_vb_u32(10),
            compat: false,
            max_fee: Amount::from_sat(1_000_000),
            dust_relay_fee: FeeRate::from_sat_per_vb_u32(3),
        }
    }
}

impl TxParams {
    /// pyspool's settings with compatibility on (version 1, final sequences).
    pub fn compat() -> TxParams {
        TxParams {
            compat: true,
            ..TxParams::default()
        }
    }

    pub(crate) fn version(&self) -> bitcoin::transaction::Version {
        if self.compat {
            bitcoin::transaction::Version::ONE
        } else {
            bitcoin::transaction::Version::TWO
        }
    }

    pub(crate) fn sequence(&self) -> bitcoin::Sequence {
        if self.compat {
            bitcoin::Sequence::MAX
        } else {
            bitcoin::Sequence::ENABLE_RBF_NO_LOCKTIME
        }
    }
}
