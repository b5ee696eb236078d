//! Leaf paths: non-hardened BIP32 paths such as `0/1/2/3/4/5`, the root `""`, and
//! pyspool's time paths `YYYY/M/D/h/m/s/microsecond`.

use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use bitcoin::bip32::ChildNumber;

use crate::WalletError;

/// A non-hardened derivation path below a wallet's master key. The root is the empty path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct LeafPath(Vec<u32>);

impl LeafPath {
    /// The root path `""` (the master key itself).
    pub fn root() -> LeafPath {
        LeafPath(Vec::new())
    }

    /// Parses a `/`-separated path of decimal indices below 2^31, e.g. `0/1/2`; `""` is
    /// the root. Hardened markers, empty components and numbers >= 2^31 are errors.
    ///
    /// # Errors
    ///
    /// A [`crate::WalletError`] naming the path when it is not a run of `/`-separated
    /// non-hardened indices.
    pub fn parse(path: &str) -> Result<LeafPath, WalletError> {
        if path.is_empty() {
            return Ok(LeafPath::root());
        }
        let mut indices = Vec::new();
        for (index, component) in path.split('/').enumerate() {
            if component.is_empty() {
                return Err(WalletError::EmptyComponent {
                    path: path.to_owned(),
                    index,
                });
            }
            let digits = component.trim_end_matches(['\'', 'h', 'H', 'p']);
            if digits.len() != component.len() {
                return Err(WalletError::HardenedComponent {
                    path: path.to_owned(),
                    component: component.to_owned(),
                });
            }
            if !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(WalletError::InvalidComponent {
                    path: path.to_owned(),
                    component: component.to_owned(),
                });
            }
            let too_large = || WalletError::ComponentTooLarge {
                path: path.to_owned(),
                component: component.to_owned(),
            };
            let value: u64 = digits.parse().map_err(|_| too_large())?;
            if value >= 1 << 31 {
                return Err(too_large());
            }
            indices.push(value as u32);
        }
        Ok(LeafPath(indices))
    }

    /// Builds a path from indices, each of which must be below 2^31.
    ///
    /// # Errors
    ///
    /// A [`crate::WalletError`] for a hardened index.
    pub fn from_indices(indices: &[u32]) -> Result<LeafPath, WalletError> {
        if let Some(bad) = indices.iter().find(|i| **i >= 1 << 31) {
            return Err(WalletError::ComponentTooLarge {
                path: join(indices),
                component: bad.to_string(),
            });
        }
        Ok(LeafPath(indices.to_vec()))
    }

    /// A fresh time path `YYYY/M/D/h/m/s/microsecond` (UTC, no zero padding) as pyspool
    /// makes for each new piece. Never returns the same path twice in this process, even
    /// when called in the same microsecond from many threads: a call that would repeat or
    /// go back in time takes the next free microsecond instead.
    pub fn unique() -> LeafPath {
        static LAST: Mutex<u64> = Mutex::new(0);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros() as u64)
            .unwrap_or(0);
        let micros = {
            let mut last = LAST.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let next = if now > *last { now } else { *last + 1 };
            *last = next;
            next
        };
        LeafPath::time_path(micros)
    }

    /// The time path of a moment given as microseconds since the Unix epoch (UTC).
    pub fn time_path(unix_micros: u64) -> LeafPath {
        let micro = (unix_micros % 1_000_000) as u32;
        let secs = unix_micros / 1_000_000;
        let days = (secs / 86_400) as i64;
        let in_day = (secs % 86_400) as u32;
        let (year, month, day) = civil_from_days(days);
        LeafPath(vec![
            year as u32,
            month,
            day,
            in_day / 3600,
            in_day % 3600 / 60,
            in_day % 60,
            micro,
        ])
    }

    /// Whether this is the root path.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The indices of the path, outermost first.
    pub fn indices(&self) -> &[u32] {
        &self.0
    }

    /// The path as BIP32 child numbers (all normal).
    pub fn child_numbers(&self) -> impl Iterator<Item = ChildNumber> + '_ {
        self.0.iter().map(|i| ChildNumber::Normal { index: *i })
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn join(indices: &[u32]) -> String {
    indices
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join("/")
}

impl fmt::Display for LeafPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&join(&self.0))
    }
}

impl FromStr for LeafPath {
    type Err = WalletError;
    fn from_str(s: &str) -> Result<LeafPath, WalletError> {
        LeafPath::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn parses_and_displays() {
        assert!(LeafPath::parse("").unwrap().is_root());
        let p = LeafPath::parse("0/1/2/3/4/5").unwrap();
        assert_eq!(p.indices(), &[0, 1, 2, 3, 4, 5]);
        assert_eq!(p.to_string(), "0/1/2/3/4/5");
        assert_eq!(
            LeafPath::parse("2147483647").unwrap().indices(),
            &[2_147_483_647]
        );
        assert_eq!(
            "2015/5/28/9/28/44/982190"
                .parse::<LeafPath>()
                .unwrap()
                .to_string(),
            "2015/5/28/9/28/44/982190"
        );
    }

    #[test]
    fn rejects_bad_paths_naming_the_problem() {
        for (input, want) in [
            ("0//1", "component 1 is empty"),
            ("/0", "component 0 is empty"),
            ("0/", "component 1 is empty"),
            ("0/1'", "\"1'\" is hardened"),
            ("0/1h", "\"1h\" is hardened"),
            ("5H", "\"5H\" is hardened"),
            ("2p", "\"2p\" is hardened"),
            ("2147483648", "\"2147483648\" is not below 2^31"),
            ("99999999999999999999999", "is not below 2^31"),
            ("a", "\"a\" is not a decimal number"),
            ("-1", "\"-1\" is not a decimal number"),
            ("+1", "\"+1\" is not a decimal number"),
            (" 1", "\" 1\" is not a decimal number"),
            ("m/0", "\"m\" is not a decimal number"),
        ] {
            let err = LeafPath::parse(input).unwrap_err().to_string();
            assert!(err.contains(want), "{input:?}: {err}");
            assert!(err.contains(&format!("{input:?}")), "{input:?}: {err}");
        }
        assert!(LeafPath::from_indices(&[1, 1 << 31]).is_err());
    }

    #[test]
    fn time_path_matches_calendar() {
        // 2015-05-28T09:28:44.982190Z
        let micros = 1_432_805_324_982_190;
        assert_eq!(
            LeafPath::time_path(micros).to_string(),
            "2015/5/28/9/28/44/982190"
        );
        // leap day and year boundaries
        assert_eq!(
            LeafPath::time_path(951_782_400_000_000).to_string(),
            "2000/2/29/0/0/0/0"
        );
        assert_eq!(
            LeafPath::time_path(1_735_689_599_999_999).to_string(),
            "2024/12/31/23/59/59/999999"
        );
    }

    #[test]
    fn unique_never_repeats_across_threads() {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                std::thread::spawn(|| (0..2000).map(|_| LeafPath::unique()).collect::<Vec<_>>())
            })
            .collect();
        let mut seen = HashSet::new();
        for h in handles {
            for p in h.join().unwrap() {
                assert_eq!(p.indices().len(), 7);
                assert!(p.indices().iter().all(|i| *i < 1 << 31));
                assert!(seen.insert(p.clone()), "repeated path {p}");
            }
        }
        assert_eq!(seen.len(), 16_000);
    }
}
