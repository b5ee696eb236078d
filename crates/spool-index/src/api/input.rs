//! A request's input: path and query extraction, addresses, txids, the federation, dates.

use std::str::FromStr;

use super::{ApiConfig, ApiError};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query};
use bitcoin::address::NetworkUnchecked;
use bitcoin::{Address, Network, Txid};
use serde::Deserialize;
use spool_protocol::verb::LoanDate;

pub(crate) fn path<T>(p: Result<Path<T>, PathRejection>) -> Result<T, ApiError> {
    p.map(|Path(v)| v)
        .map_err(|e| ApiError::bad(format!("bad path: {}", e.body_text())))
}

pub(crate) fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(v)| v)
        .map_err(|e| ApiError::bad(format!("bad query: {}", e.body_text())))
}

pub(crate) fn parse_address(text: &str, network: Network, what: &str) -> Result<Address, ApiError> {
    let unchecked = Address::<NetworkUnchecked>::from_str(text)
        .map_err(|_| ApiError::bad(format!("{what} {text:?} is not a bitcoin address")))?;
    unchecked
        .require_network(network)
        .map_err(|_| ApiError::bad(format!("{what} {text} is not valid for {network}")))
}

pub(crate) fn parse_txid(text: &str) -> Result<Txid, ApiError> {
    Txid::from_str(text)
        .map_err(|_| ApiError::bad(format!("{text:?} is not a txid (64 hex digits)")))
}

/// The federation asked for: `federation=A,B` (empty: none), or the server's default.
pub(crate) fn federation(
    asked: &Option<String>,
    config: &ApiConfig,
) -> Result<Vec<String>, ApiError> {
    match asked {
        None => Ok(config.federation.clone()),
        Some(list) => list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|a| parse_address(a, config.network, "federation address").map(|a| a.to_string()))
            .collect(),
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct FederationQuery {
    pub(super) federation: Option<String>,
    pub(super) date: Option<String>,
}

/// Today's date (UTC) as a loan date.
pub(super) fn today() -> LoanDate {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    LoanDate::from_ymd(y as i32, m as u8, d as u8).unwrap_or(LoanDate(*b"000101"))
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::civil_from_days;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(20_507), (2026, 2, 23));
    }
}
