//! SPOOL verbs: the typed actions and their exact pyspool text, e.g. `ASCRIBESPOOL01TRANSFER1`.
//!
//! Two views of a verb live here:
//! - [`Verb`], the typed form spool-rs writes and reasons about. [`Verb::decode`] accepts what
//!   pyspool's decoder accepts *and* gives a meaning to (meta `ASCRIBESPOOL`, version `01`, a
//!   supported action with the arguments it needs); everything else is a [`VerbError`] that
//!   quotes the input.
//! - [`DecodedVerb`], pyspool's decoder field for field (any meta and version, unknown actions,
//!   pyspool's `''` edition shown as `None`), for conformance checks and diagnostics.
//!
//! The grammar both share is pyspool's
//! `^[A-Z]+\d+[A-Z]+(\d+)?(/\d+)?$` (Python's `re.match`, so one trailing `\n` is tolerated),
//! except that only ASCII digits count: Python's Unicode `\d` also matches e.g. Arabic-Indic
//! digits, which no SPOOL writer ever produced.
//!
//! ```
//! use spool_protocol::verb::{Action, Verb};
//!
//! let verb: Verb = "ASCRIBESPOOL01LOAN4/150526150528".parse()?;
//! assert_eq!((verb.action(), verb.edition()), (Action::Loan, Some(4)));
//! assert_eq!(verb.to_string(), "ASCRIBESPOOL01LOAN4/150526150528");
//! // The checked constructor refuses a loan that ends before it starts.
//! assert!(Verb::loan(4, "150528", "150526").is_err());
//! # Ok::<(), spool_protocol::verb::VerbError>(())
//! ```

use std::fmt;
use std::str::FromStr;

use bitcoin::ScriptBuf;
use serde::{Deserialize, Serialize};

/// The protocol's meta tag.
pub const META: &str = "ASCRIBESPOOL";
/// The protocol version spool-rs writes.
pub const VERSION: &str = "01";

/// A loan date as pyspool writes it: six ASCII digits `YYMMDD`.
///
/// The field is public for compatibility; [`LoanDate::parse`] checks the digits and
/// [`LoanDate::parse_checked`] also checks that the date exists on the calendar. Years follow
/// Python's `%y`: `69`..=`99` are 1969..=1999, `00`..=`68` are 2000..=2068.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LoanDate(pub [u8; 6]);

impl fmt::Display for LoanDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for digit in self.0 {
            write!(f, "{}", digit as char)?;
        }
        Ok(())
    }
}

impl LoanDate {
    /// Six ASCII digits, as found on chain (the calendar is not checked).
    ///
    /// # Errors
    ///
    /// [`VerbError::MalformedDate`] unless the text is six ASCII digits.
    pub fn parse(text: &str) -> Result<LoanDate, VerbError> {
        let bytes = text.as_bytes();
        if bytes.len() != 6 || !bytes.iter().all(u8::is_ascii_digit) {
            return Err(VerbError::MalformedDate {
                date: text.to_owned(),
            });
        }
        let mut digits = [0u8; 6];
        digits.copy_from_slice(bytes);
        Ok(LoanDate(digits))
    }

    /// Six ASCII digits naming a day that exists (e.g. `160229` yes, `150229` no).
    ///
    /// # Errors
    ///
    /// [`VerbError::MalformedDate`] as [`LoanDate::parse`], [`VerbError::ImpossibleDate`] for
    /// digits that name no day.
    pub fn parse_checked(text: &str) -> Result<LoanDate, VerbError> {
        let date = LoanDate::parse(text)?;
        if date.ymd().is_none() {
            return Err(VerbError::ImpossibleDate {
                date: text.to_owned(),
            });
        }
        Ok(date)
    }

    /// Builds the date of a calendar day (years 1969..=2068, the range `YY` can express).
    ///
    /// # Errors
    ///
    /// [`VerbError::ImpossibleDate`] outside 1969..=2068 or for a day that does not exist.
    pub fn from_ymd(year: i32, month: u8, day: u8) -> Result<LoanDate, VerbError> {
        let text = format!("{:02}{:02}{:02}", year.rem_euclid(100), month, day);
        if !(1969..=2068).contains(&year) {
            return Err(VerbError::ImpossibleDate {
                date: format!("{year:04}-{month:02}-{day:02}"),
            });
        }
        LoanDate::parse_checked(&text)
    }

    /// The calendar day `(year, month, day)`, or `None` if the digits name no real day.
    pub fn ymd(&self) -> Option<(i32, u8, u8)> {
        let [y1, y2, m1, m2, d1, d2] = self.0.map(|c| c.wrapping_sub(b'0'));
        if self.0.iter().any(|c| !c.is_ascii_digit()) {
            return None;
        }
        let yy = i32::from(y1 * 10 + y2);
        let year = if yy >= 69 { 1900 + yy } else { 2000 + yy };
        let month = m1 * 10 + m2;
        let day = d1 * 10 + d2;
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some((year, month, day))
    }
}

fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

impl PartialOrd for LoanDate {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for LoanDate {
    /// Chronological order for real dates (with `%y`'s century rule); digits that name no
    /// day come after every real date, in digit order. A total order.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let key = |d: &LoanDate| match d.ymd() {
            Some((y, m, day)) => (0u8, y, m, day, [0u8; 6]),
            None => (1, 0, 0, 0, d.0),
        };
        key(self).cmp(&key(other))
    }
}

/// A SPOOL action with its arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verb {
    /// `PIECE`: registers the master edition of a piece (pyspool's `register_piece`).
    Piece,
    /// `REGISTER<n>`: registers edition `n` (0 = the master edition).
    Register {
        /// Edition number.
        edition: u64,
    },
    /// `EDITIONS<n>`: fixes the number of editions of a piece.
    Editions {
        /// Number of editions.
        count: u64,
    },
    /// `TRANSFER<n>`: transfers edition `n`.
    Transfer {
        /// Edition number.
        edition: u64,
    },
    /// `CONSIGN<n>`: consigns edition `n`.
    Consign {
        /// Edition number.
        edition: u64,
    },
    /// `UNCONSIGN<n>`: returns consigned edition `n` to its consignor.
    Unconsign {
        /// Edition number.
        edition: u64,
    },
    /// `LOAN<n>/<start><end>`: loans edition `n` (0 = the whole piece) between two dates.
    Loan {
        /// Edition number.
        edition: u64,
        /// First day of the loan.
        start: LoanDate,
        /// Last day of the loan.
        end: LoanDate,
    },
    /// `MIGRATE<n>`: moves edition `n` from a previous address to a new one.
    Migrate {
        /// Edition number.
        edition: u64,
    },
    /// `CONSIGNEDREGISTRATION`: registers a piece on behalf of its owner.
    ConsignedRegistration,
    /// `FUEL`: a refill of fuel and tokens from the federation.
    Fuel,
}

/// The ten actions of SPOOL, without arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Action {
    /// `PIECE`
    Piece,
    /// `REGISTER`
    Register,
    /// `EDITIONS`
    Editions,
    /// `TRANSFER`
    Transfer,
    /// `CONSIGN`
    Consign,
    /// `UNCONSIGN`
    Unconsign,
    /// `LOAN`
    Loan,
    /// `MIGRATE`
    Migrate,
    /// `CONSIGNEDREGISTRATION`
    #[serde(rename = "CONSIGNEDREGISTRATION")]
    ConsignedRegistration,
    /// `FUEL`
    Fuel,
}

impl Action {
    /// Every action, in a fixed order.
    pub const ALL: [Action; 10] = [
        Action::Piece,
        Action::Register,
        Action::Editions,
        Action::Transfer,
        Action::Consign,
        Action::Unconsign,
        Action::Loan,
        Action::Migrate,
        Action::ConsignedRegistration,
        Action::Fuel,
    ];

    /// The action as written in a verb: `"PIECE"`, `"REGISTER"`, ...
    pub fn as_str(&self) -> &'static str {
        match self {
            Action::Piece => "PIECE",
            Action::Register => "REGISTER",
            Action::Editions => "EDITIONS",
            Action::Transfer => "TRANSFER",
            Action::Consign => "CONSIGN",
            Action::Unconsign => "UNCONSIGN",
            Action::Loan => "LOAN",
            Action::Migrate => "MIGRATE",
            Action::ConsignedRegistration => "CONSIGNEDREGISTRATION",
            Action::Fuel => "FUEL",
        }
    }

    /// Whether the federation (not the owner) signs this action: PIECE, REGISTER, EDITIONS,
    /// MIGRATE and CONSIGNEDREGISTRATION.
    pub fn is_federated(&self) -> bool {
        matches!(
            self,
            Action::Piece
                | Action::Register
                | Action::Editions
                | Action::Migrate
                | Action::ConsignedRegistration
        )
    }

    /// Whether the verb text carries a number after the action (all but PIECE,
    /// CONSIGNEDREGISTRATION and FUEL).
    pub fn takes_number(&self) -> bool {
        !matches!(
            self,
            Action::Piece | Action::ConsignedRegistration | Action::Fuel
        )
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Action {
    type Err = VerbError;

    /// Case-insensitive: `"transfer"`, `"Transfer"` and `"TRANSFER"` all give
    /// [`Action::Transfer`].
    fn from_str(text: &str) -> Result<Action, VerbError> {
        Action::ALL
            .into_iter()
            .find(|action| action.as_str().eq_ignore_ascii_case(text))
            .ok_or_else(|| VerbError::UnknownAction {
                input: text.to_owned(),
                action: text.to_owned(),
            })
    }
}

/// Why a verb could not be decoded or built. Every variant carries the offending input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerbError {
    /// The text does not match pyspool's grammar (pyspool's own `Invalid spoolverb: ...`).
    #[error("invalid spoolverb: {input}")]
    Invalid {
        /// The text.
        input: String,
    },
    /// The bytes are not UTF-8 (shown as lowercase hex).
    #[error("invalid spoolverb: not utf-8: {hex}")]
    NotUtf8 {
        /// The bytes in hex.
        hex: String,
    },
    /// A number uses non-ASCII digits that only Python's Unicode `\d` accepts.
    #[error("invalid spoolverb: non-ascii digits in {input}")]
    NonAsciiDigits {
        /// The text.
        input: String,
    },
    /// The meta tag is not `ASCRIBESPOOL`.
    #[error("invalid spoolverb: meta {meta:?} is not {META:?} in {input}")]
    UnknownMeta {
        /// The text.
        input: String,
        /// The meta tag found.
        meta: String,
    },
    /// The version is not `01`.
    #[error("invalid spoolverb: version {version:?} is not {VERSION:?} in {input}")]
    UnsupportedVersion {
        /// The text.
        input: String,
        /// The version found.
        version: String,
    },
    /// The action is not one of the ten SPOOL actions.
    #[error("invalid spoolverb: unknown action {action:?} in {input}")]
    UnknownAction {
        /// The text.
        input: String,
        /// The action found.
        action: String,
    },
    /// The action needs a number and has none (pyspool crashes on these).
    #[error("invalid spoolverb: {action} needs a number in {input}")]
    MissingNumber {
        /// The text.
        input: String,
        /// The action.
        action: Action,
    },
    /// A number does not fit in 64 bits.
    #[error("invalid spoolverb: number {digits} is too large in {input}")]
    NumberTooLarge {
        /// The text.
        input: String,
        /// The digits.
        digits: String,
    },
    /// A LOAN without its `/<start><end>` dates (pyspool crashes on these).
    #[error("invalid spoolverb: LOAN needs /<start><end> dates in {input}")]
    MissingLoanDates {
        /// The text.
        input: String,
    },
    /// LOAN dates that are not two runs of six digits.
    #[error("invalid spoolverb: loan dates {dates:?} are not YYMMDDYYMMDD in {input}")]
    MalformedLoanDates {
        /// The text.
        input: String,
        /// The text after `/`.
        dates: String,
    },
    /// A date that is not six ASCII digits.
    #[error("invalid loan date {date:?}: expected six digits YYMMDD")]
    MalformedDate {
        /// The date text.
        date: String,
    },
    /// Six digits that name no calendar day.
    #[error("impossible loan date {date:?}")]
    ImpossibleDate {
        /// The date text.
        date: String,
    },
    /// A loan that ends before it starts.
    #[error("loan ends ({end}) before it starts ({start})")]
    LoanEndsBeforeStart {
        /// First day.
        start: LoanDate,
        /// Last day.
        end: LoanDate,
    },
    /// A number given to an action that takes none, or none to one that needs it.
    #[error("{action} {problem}")]
    BadArguments {
        /// The action.
        action: Action,
        /// What is wrong.
        problem: &'static str,
    },
}

/// pyspool's decoder, field for field: what `Spoolverb.from_verb` returns.
///
/// `edition_number` is `None` where pyspool has `''`: for PIECE, FUEL, CONSIGNEDREGISTRATION,
/// EDITIONS, and for edition 0 (pyspool turns edition 0 into `''`). `loan_start` is the first six
/// characters after `/` and `loan_end` the rest, as pyspool slices them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecodedVerb {
    /// The meta tag (any run of `A`-`Z`).
    pub meta: String,
    /// The version (any run of digits).
    pub version: String,
    /// The action (any run of `A`-`Z`, also unknown ones).
    pub action: String,
    /// The edition, `None` for pyspool's `''`.
    pub edition_number: Option<u64>,
    /// The number of editions (EDITIONS only).
    pub num_editions: Option<u64>,
    /// LOAN: the first six characters after `/`.
    pub loan_start: Option<String>,
    /// LOAN: the characters after those six.
    pub loan_end: Option<String>,
}

/// The pieces of pyspool's pattern, found without a regex.
struct Parts<'a> {
    meta: &'a str,
    version: &'a str,
    action: &'a str,
    arg1: Option<&'a str>,
    arg2: Option<&'a str>,
}

/// Splits `text` by pyspool's grammar: `[A-Z]+ \d+ [A-Z]+ (\d+)? (/\d+)?` then the end, or one
/// `\n` and the end. Digits are ASCII only.
fn split(text: &str) -> Result<Parts<'_>, VerbError> {
    let invalid = || {
        if text.chars().any(is_unicode_only_digit) {
            VerbError::NonAsciiDigits {
                input: text.to_owned(),
            }
        } else {
            VerbError::Invalid {
                input: text.to_owned(),
            }
        }
    };
    let body = text.strip_suffix('\n').unwrap_or(text);
    let bytes = body.as_bytes();
    let run = |from: usize, pred: fn(&u8) -> bool| {
        from + bytes[from..].iter().take_while(|b| pred(b)).count()
    };
    let upper = |b: &u8| b.is_ascii_uppercase();
    let digit = |b: &u8| b.is_ascii_digit();

    let meta_end = run(0, upper);
    let version_end = run(meta_end, digit);
    let action_end = run(version_end, upper);
    if meta_end == 0 || version_end == meta_end || action_end == version_end {
        return Err(invalid());
    }
    let arg1_end = run(action_end, digit);
    let mut arg2 = None;
    let mut end = arg1_end;
    if bytes.get(arg1_end) == Some(&b'/') {
        let arg2_end = run(arg1_end + 1, digit);
        if arg2_end == arg1_end + 1 {
            return Err(invalid());
        }
        arg2 = Some(&body[arg1_end + 1..arg2_end]);
        end = arg2_end;
    }
    if end != bytes.len() {
        return Err(invalid());
    }
    Ok(Parts {
        meta: &body[..meta_end],
        version: &body[meta_end..version_end],
        action: &body[version_end..action_end],
        arg1: (arg1_end > action_end).then(|| &body[action_end..arg1_end]),
        arg2,
    })
}

/// A decimal digit (category Nd) that Python's `\d` accepts but ASCII does not have.
fn is_unicode_only_digit(c: char) -> bool {
    !c.is_ascii_digit()
        && unicode_general_category::get_general_category(c)
            == unicode_general_category::GeneralCategory::DecimalNumber
}

fn number(input: &str, digits: &str) -> Result<u64, VerbError> {
    digits.parse().map_err(|_| VerbError::NumberTooLarge {
        input: input.to_owned(),
        digits: digits.to_owned(),
    })
}

impl DecodedVerb {
    /// Decodes `text` as pyspool does. Where pyspool crashes (EDITIONS, REGISTER, TRANSFER, ...
    /// without a number; LOAN without dates) this returns an error instead; except that a
    /// missing number on REGISTER, TRANSFER, CONSIGN, UNCONSIGN and MIGRATE reads as edition 0
    /// (`None`), which is what pyspool 0.2.0 itself writes for edition 0.
    ///
    /// # Errors
    ///
    /// A [`VerbError`] quoting the input when it does not match the grammar, or where pyspool
    /// would crash.
    pub fn parse(text: &str) -> Result<DecodedVerb, VerbError> {
        let parts = split(text)?;
        let mut decoded = DecodedVerb {
            meta: parts.meta.to_owned(),
            version: parts.version.to_owned(),
            action: parts.action.to_owned(),
            edition_number: None,
            num_editions: None,
            loan_start: None,
            loan_end: None,
        };
        let known = parts.action.parse::<Action>().ok();
        let edition = |arg: Option<&str>| -> Result<Option<u64>, VerbError> {
            Ok(match arg {
                Some(digits) => Some(number(text, digits)?).filter(|n| *n != 0),
                None => None,
            })
        };
        match known {
            Some(Action::Editions) => {
                let digits = parts.arg1.ok_or_else(|| VerbError::MissingNumber {
                    input: text.to_owned(),
                    action: Action::Editions,
                })?;
                decoded.num_editions = Some(number(text, digits)?);
            }
            Some(Action::Loan) => {
                let dates = parts.arg2.ok_or_else(|| VerbError::MissingLoanDates {
                    input: text.to_owned(),
                })?;
                decoded.edition_number = edition(parts.arg1)?;
                let cut = dates.len().min(6);
                decoded.loan_start = Some(dates[..cut].to_owned());
                decoded.loan_end = Some(dates[cut..].to_owned());
            }
            Some(Action::Fuel | Action::Piece | Action::ConsignedRegistration) => {}
            Some(_) => decoded.edition_number = edition(parts.arg1)?,
            None => match parts.arg1 {
                // pyspool would crash (int(None)); an unknown action without a number
                // carries nothing to show.
                None => {
                    return Err(VerbError::UnknownAction {
                        input: text.to_owned(),
                        action: parts.action.to_owned(),
                    })
                }
                Some(_) => decoded.edition_number = edition(parts.arg1)?,
            },
        }
        Ok(decoded)
    }
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{META}{VERSION}")?;
        match self {
            Verb::Piece => write!(f, "PIECE"),
            Verb::Register { edition } => write!(f, "REGISTER{edition}"),
            Verb::Editions { count } => write!(f, "EDITIONS{count}"),
            Verb::Transfer { edition } => write!(f, "TRANSFER{edition}"),
            Verb::Consign { edition } => write!(f, "CONSIGN{edition}"),
            Verb::Unconsign { edition } => write!(f, "UNCONSIGN{edition}"),
            Verb::Loan {
                edition,
                start,
                end,
            } => write!(f, "LOAN{edition}/{start}{end}"),
            Verb::Migrate { edition } => write!(f, "MIGRATE{edition}"),
            Verb::ConsignedRegistration => write!(f, "CONSIGNEDREGISTRATION"),
            Verb::Fuel => write!(f, "FUEL"),
        }
    }
}

impl FromStr for Verb {
    type Err = VerbError;

    fn from_str(text: &str) -> Result<Verb, VerbError> {
        Verb::decode(text)
    }
}

impl Verb {
    /// Decodes a verb as found on chain.
    ///
    /// Accepts pyspool's grammar with these choices (each one tested):
    /// - meta must be `ASCRIBESPOOL` and version `01` (pyspool accepts any);
    /// - the action must be one of the ten (pyspool accepts any);
    /// - leading zeros are read as pyspool reads them (`REGISTER007` is edition 7);
    /// - a number after PIECE, FUEL or CONSIGNEDREGISTRATION is ignored, as pyspool ignores it,
    ///   and so is a `/<digits>` after actions other than LOAN;
    /// - REGISTER, TRANSFER, CONSIGN, UNCONSIGN and MIGRATE without a number are edition 0
    ///   (pyspool 0.2.0 writes edition 0 that way); EDITIONS without a number is refused;
    /// - LOAN without a number is edition 0; LOAN needs `/` and exactly twelve digits (pyspool
    ///   slices any length); the dates are not checked against the calendar or each other,
    ///   because pyspool writes such loans (see [`Verb::loan`] for the checked constructor);
    /// - one trailing `\n` is tolerated, as by Python's `$`;
    /// - numbers must fit in a `u64` and use ASCII digits.
    ///
    /// # Errors
    ///
    /// A [`VerbError`] quoting the input for each refusal listed above.
    pub fn decode(text: &str) -> Result<Verb, VerbError> {
        let parts = split(text)?;
        if parts.meta != META {
            return Err(VerbError::UnknownMeta {
                input: text.to_owned(),
                meta: parts.meta.to_owned(),
            });
        }
        if parts.version != VERSION {
            return Err(VerbError::UnsupportedVersion {
                input: text.to_owned(),
                version: parts.version.to_owned(),
            });
        }
        let action: Action = parts
            .action
            .parse()
            .ok()
            .filter(|a: &Action| a.as_str() == parts.action)
            .ok_or_else(|| VerbError::UnknownAction {
                input: text.to_owned(),
                action: parts.action.to_owned(),
            })?;
        let edition = || -> Result<u64, VerbError> {
            parts.arg1.map_or(Ok(0), |digits| number(text, digits))
        };
        Ok(match action {
            Action::Piece => Verb::Piece,
            Action::Fuel => Verb::Fuel,
            Action::ConsignedRegistration => Verb::ConsignedRegistration,
            Action::Editions => {
                let digits = parts.arg1.ok_or_else(|| VerbError::MissingNumber {
                    input: text.to_owned(),
                    action,
                })?;
                Verb::Editions {
                    count: number(text, digits)?,
                }
            }
            Action::Register => Verb::Register {
                edition: edition()?,
            },
            Action::Transfer => Verb::Transfer {
                edition: edition()?,
            },
            Action::Consign => Verb::Consign {
                edition: edition()?,
            },
            Action::Unconsign => Verb::Unconsign {
                edition: edition()?,
            },
            Action::Migrate => Verb::Migrate {
                edition: edition()?,
            },
            Action::Loan => {
                let dates = parts.arg2.ok_or_else(|| VerbError::MissingLoanDates {
                    input: text.to_owned(),
                })?;
                let malformed = || VerbError::MalformedLoanDates {
                    input: text.to_owned(),
                    dates: dates.to_owned(),
                };
                if dates.len() != 12 {
                    return Err(malformed());
                }
                let start = LoanDate::parse(&dates[..6]).map_err(|_| malformed())?;
                let end = LoanDate::parse(&dates[6..]).map_err(|_| malformed())?;
                Verb::Loan {
                    edition: edition()?,
                    start,
                    end,
                }
            }
        })
    }

    /// Decodes verb bytes from an OP_RETURN payload (UTF-8, as pyspool decodes them).
    ///
    /// # Errors
    ///
    /// [`VerbError::NotUtf8`], or [`Verb::decode`]'s errors.
    pub fn decode_bytes(bytes: &[u8]) -> Result<Verb, VerbError> {
        let text = std::str::from_utf8(bytes).map_err(|_| VerbError::NotUtf8 {
            hex: bitcoin::hex::DisplayHex::to_lower_hex_string(bytes),
        })?;
        Verb::decode(text)
    }

    /// A checked LOAN: both dates `YYMMDD` and real days, the end not before the start.
    ///
    /// # Errors
    ///
    /// A date error as [`LoanDate::parse_checked`], or [`VerbError::LoanEndsBeforeStart`].
    pub fn loan(edition: u64, start: &str, end: &str) -> Result<Verb, VerbError> {
        let start = LoanDate::parse_checked(start)?;
        let end = LoanDate::parse_checked(end)?;
        if end < start {
            return Err(VerbError::LoanEndsBeforeStart { start, end });
        }
        Ok(Verb::Loan {
            edition,
            start,
            end,
        })
    }

    /// A checked verb from an action and its number: the edition (or, for EDITIONS, the
    /// count). PIECE, FUEL and CONSIGNEDREGISTRATION take no number; LOAN is built with
    /// [`Verb::loan`].
    ///
    /// # Errors
    ///
    /// [`VerbError::BadArguments`] when the number does not fit the action.
    pub fn from_action(action: Action, number: Option<u64>) -> Result<Verb, VerbError> {
        let bad = |problem| VerbError::BadArguments { action, problem };
        match (action, number) {
            (Action::Piece, None) => Ok(Verb::Piece),
            (Action::Fuel, None) => Ok(Verb::Fuel),
            (Action::ConsignedRegistration, None) => Ok(Verb::ConsignedRegistration),
            (Action::Piece | Action::Fuel | Action::ConsignedRegistration, Some(_)) => {
                Err(bad("takes no number"))
            }
            (Action::Loan, _) => Err(bad("needs dates: use Verb::loan")),
            (_, None) => Err(bad("needs a number")),
            (Action::Register, Some(edition)) => Ok(Verb::Register { edition }),
            (Action::Editions, Some(count)) => Ok(Verb::Editions { count }),
            (Action::Transfer, Some(edition)) => Ok(Verb::Transfer { edition }),
            (Action::Consign, Some(edition)) => Ok(Verb::Consign { edition }),
            (Action::Unconsign, Some(edition)) => Ok(Verb::Unconsign { edition }),
            (Action::Migrate, Some(edition)) => Ok(Verb::Migrate { edition }),
        }
    }

    /// The action of this verb.
    pub fn action(&self) -> Action {
        match self {
            Verb::Piece => Action::Piece,
            Verb::Register { .. } => Action::Register,
            Verb::Editions { .. } => Action::Editions,
            Verb::Transfer { .. } => Action::Transfer,
            Verb::Consign { .. } => Action::Consign,
            Verb::Unconsign { .. } => Action::Unconsign,
            Verb::Loan { .. } => Action::Loan,
            Verb::Migrate { .. } => Action::Migrate,
            Verb::ConsignedRegistration => Action::ConsignedRegistration,
            Verb::Fuel => Action::Fuel,
        }
    }

    /// The edition this verb is about: `Some(n)` for REGISTER, TRANSFER, CONSIGN, UNCONSIGN,
    /// LOAN and MIGRATE (0 = the master edition), `None` for PIECE, EDITIONS,
    /// CONSIGNEDREGISTRATION and FUEL.
    pub fn edition(&self) -> Option<u64> {
        match self {
            Verb::Register { edition }
            | Verb::Transfer { edition }
            | Verb::Consign { edition }
            | Verb::Unconsign { edition }
            | Verb::Loan { edition, .. }
            | Verb::Migrate { edition } => Some(*edition),
            Verb::Piece | Verb::Editions { .. } | Verb::ConsignedRegistration | Verb::Fuel => None,
        }
    }

    /// Whether the federation signs this verb (see [`Action::is_federated`]).
    pub fn is_federated(&self) -> bool {
        self.action().is_federated()
    }

    /// pyspool's decoded form of this verb (see [`DecodedVerb`]).
    pub fn decoded(&self) -> DecodedVerb {
        DecodedVerb::parse(&self.to_string()).expect("a typed verb always decodes")
    }

    /// The OP_RETURN output script carrying this verb: `6a`, one length byte, the verb.
    pub fn op_return_script(&self) -> ScriptBuf {
        crate::payload::op_return_script(self.to_string().as_bytes())
            .expect("a typed verb is far shorter than the payload limit")
    }

    /// How many token recipients pyspool gives this verb: 3 for PIECE, REGISTER, EDITIONS,
    /// CONSIGNEDREGISTRATION (file hash, metadata hash, to) and MIGRATE (file hash, previous,
    /// new); 2 for TRANSFER, CONSIGN, UNCONSIGN, LOAN (file hash, to); `None` for FUEL (its
    /// outputs are fuel and tokens for one user).
    pub fn recipient_count(&self) -> Option<usize> {
        match self {
            Verb::Piece
            | Verb::Register { .. }
            | Verb::Editions { .. }
            | Verb::ConsignedRegistration
            | Verb::Migrate { .. } => Some(3),
            Verb::Transfer { .. }
            | Verb::Consign { .. }
            | Verb::Unconsign { .. }
            | Verb::Loan { .. } => Some(2),
            Verb::Fuel => None,
        }
    }
}
