//! The few places where the explorer meets the protocol crate's types: building a history,
//! reading an event's reason and whether it is pending, today's date, and how an event moves
//! an edition. Each lives in one function so that changes to the protocol's signatures touch
//! one line here.

use std::time::{SystemTime, UNIX_EPOCH};

use bitcoin::{Address, Network};
use spool_protocol::chain::ChainTx;
use spool_protocol::history::{Event, History};
use spool_protocol::verb::{LoanDate, Verb};

/// Builds and verifies the history of `piece` from `txs` with the `federation` set.
pub(crate) fn build_history(
    piece: &Address,
    network: Network,
    txs: &[ChainTx],
    federation: &[Address],
) -> History {
    let federation: Vec<String> = federation.iter().map(ToString::to_string).collect();
    // Every address reaching here was checked for the explorer's network (`parse_address`, or
    // an output of this network's chain), the one condition under which `build` refuses.
    History::build(piece, network, txs, &federation)
        .expect("piece addresses are checked for the explorer's network first")
}

/// Why an event is invalid, as text (`None` for a valid event).
pub(crate) fn reason_text(event: &Event) -> Option<String> {
    event.reason.as_ref().map(ToString::to_string)
}

/// Whether an event is not in a block yet.
pub(crate) fn is_pending(event: &Event) -> bool {
    event.block_height.is_none()
}

/// The edition lane an event belongs to: its edition in spool-rs's terms (0 = master), with
/// the piece-wide EDITIONS (and any FUEL paying the piece) on the master's lane.
pub(crate) fn lane_of(event: &Event) -> u64 {
    event.edition().unwrap_or(0)
}

/// Whether a valid event makes its recipient the edition's holder (registrations,
/// transfers, consignments, unconsignments, migrations); loans, EDITIONS and FUEL do not.
pub(crate) fn moves_edition(event: &Event) -> bool {
    event.valid
        && matches!(
            event.typed_verb(),
            Ok(Verb::Piece
                | Verb::ConsignedRegistration
                | Verb::Register { .. }
                | Verb::Transfer { .. }
                | Verb::Consign { .. }
                | Verb::Unconsign { .. }
                | Verb::Migrate { .. })
        )
}

/// Whether an event is a valid registration of its edition (the master's registration
/// included): what every edition of a piece has, and what a graph of many editions leaves out.
pub(crate) fn is_registration(event: &Event) -> bool {
    event.valid
        && matches!(
            event.typed_verb(),
            Ok(Verb::Piece | Verb::ConsignedRegistration | Verb::Register { .. })
        )
}

/// Whether an event is a valid TRANSFER.
pub(crate) fn is_transfer(event: &Event) -> bool {
    event.valid && matches!(event.typed_verb(), Ok(Verb::Transfer { .. }))
}

/// Today's date (UTC) as a loan date, for holdings and active loans.
pub(crate) fn today() -> LoanDate {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (y, m, d, _, _) = civil(secs);
    LoanDate::from_ymd(y, m, d).unwrap_or(LoanDate(*b"000101"))
}

/// `(year, month, day, hour, minute)` in UTC of a Unix time (Howard Hinnant's
/// days-to-civil algorithm).
pub(crate) fn civil(secs: u64) -> (i32, u8, u8, u8, u8) {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
    (
        year,
        month,
        day,
        (rem / 3_600) as u8,
        (rem % 3_600 / 60) as u8,
    )
}

/// A block time as `YYYY-MM-DD HH:MM UTC`.
pub(crate) fn format_time(secs: u64) -> String {
    let (y, m, d, h, min) = civil(secs);
    format!("{y:04}-{m:02}-{d:02} {h:02}:{min:02} UTC")
}

/// A long address or txid shortened to its first 8 and last 6 characters.
pub(crate) fn short(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= 16 {
        return text.to_owned();
    }
    let head: String = chars[..8].iter().collect();
    let tail: String = chars[chars.len() - 6..].iter().collect();
    format!("{head}…{tail}")
}

/// An edition number for people: `master` for 0, `edition n` otherwise.
pub(crate) fn edition_name(edition: u64) -> String {
    if edition == 0 {
        "master".to_owned()
    } else {
        format!("edition {edition}")
    }
}

/// A loan date `YYMMDD` as `YYYY-MM-DD` when it names a real day, else as it is.
pub(crate) fn loan_date(text: &str) -> String {
    match LoanDate::parse(text).ok().and_then(|d| d.ymd()) {
        Some((y, m, d)) => format!("{y:04}-{m:02}-{d:02}"),
        None => text.to_owned(),
    }
}

/// `text` with its first letter in upper case (for headings).
pub(crate) fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil(0), (1970, 1, 1, 0, 0));
        // 2015-05-22 12:34 UTC
        assert_eq!(civil(1_432_298_040), (2015, 5, 22, 12, 34));
        // 2024-02-29 23:59 UTC (leap day)
        assert_eq!(civil(1_709_251_140), (2024, 2, 29, 23, 59));
        assert_eq!(format_time(1_432_298_040), "2015-05-22 12:34 UTC");
    }

    #[test]
    fn loan_dates_and_headings() {
        assert_eq!(loan_date("150522"), "2015-05-22");
        assert_eq!(loan_date("150229"), "150229");
        assert_eq!(capitalized("edition 1"), "Edition 1");
        assert_eq!(capitalized(""), "");
    }

    #[test]
    fn short_keeps_short_text() {
        assert_eq!(short("abc"), "abc");
        assert_eq!(
            short("mv5yDkR5dnjGHxietq7CH78WHk8vzsu4vH"),
            "mv5yDkR5…zsu4vH"
        );
    }
}
