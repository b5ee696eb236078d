//! Typed verdicts: why an event is invalid, or why an action is refused before it is sent.
//!
//! [`Reason`]'s `Display` is pyspool's reason text, unchanged (spool-rs's own checks have
//! texts in the same style); [`Reason::code`] is a stable machine code per variant. JSON
//! carries both: `"reason": "<text>", "code": "<code>"` ([`Reason::from_parts`] reads them
//! back).

use std::fmt;

use crate::verb::{Action, LoanDate};

/// Why an event is invalid, or why a pre-check refuses an action.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// The master edition is registered already (pyspool's `can_register_master`).
    MasterAlreadyRegistered,
    /// The master edition is not registered yet.
    MasterNotRegistered,
    /// The number of editions is registered already (pyspool's `can_editions`).
    EditionsAlreadyRegistered,
    /// The number of editions is not registered yet.
    EditionsNotRegistered,
    /// The edition is above the number of editions.
    TooManyEditions {
        /// The number of editions.
        count: u64,
        /// The edition asked for.
        edition: u64,
    },
    /// The edition is registered already.
    EditionAlreadyRegistered {
        /// The edition.
        edition: u64,
    },
    /// The edition is not registered.
    EditionNotFound {
        /// The edition.
        edition: u64,
    },
    /// The sender does not hold the edition (pyspool's `can_transfer`).
    NotOwner {
        /// The sender.
        address: String,
        /// The edition.
        edition: u64,
    },
    /// The edition is not consigned to the sender (pyspool's `can_unconsign`).
    NotConsignedTo {
        /// The edition.
        edition: u64,
        /// The sender.
        address: String,
    },
    /// An unconsign must go back to the consignor.
    UnconsignOnlyTo {
        /// The consignor.
        consignor: String,
    },
    /// The edition is not consigned at all.
    NotConsigned {
        /// The edition.
        edition: u64,
    },
    /// FUEL is a refill and changes no piece.
    FuelIsNotAPieceAction,
    /// A loan's first day is not a calendar day.
    LoanStartNotADate {
        /// The date as written.
        start: LoanDate,
    },
    /// A loan's last day is not a calendar day.
    LoanEndNotADate {
        /// The date as written.
        end: LoanDate,
    },
    /// A loan ends before it starts.
    LoanEndsBeforeStart {
        /// First day.
        start: LoanDate,
        /// Last day.
        end: LoanDate,
    },
    /// Some inputs' previous outputs are unknown.
    PrevoutsMissing {
        /// Inputs of the transaction.
        inputs: usize,
        /// Previous outputs known.
        prevouts: usize,
    },
    /// The inputs come from more than one address (pyspool's own check).
    SeveralSenders {
        /// The addresses, sorted.
        addresses: Vec<String>,
    },
    /// The verb is not in the last output.
    VerbNotLast {
        /// The output holding it.
        vout: u32,
    },
    /// The first output does not pay the piece address.
    FirstOutputNotPiece {
        /// What the first output pays.
        found: String,
        /// The piece address.
        piece: String,
    },
    /// The only output is the OP_RETURN.
    NoRecipient,
    /// A federated verb from outside the federation, as the history judges it.
    NotFromFederation {
        /// The action.
        action: Action,
        /// The sender.
        from: String,
    },
    /// A federated action signed outside the federation, as the pre-check refuses it.
    NotAFederationAddress {
        /// The signer.
        from: String,
        /// The federation addresses.
        federation: Vec<String>,
    },
}

/// Every reason's code, in the order of [`Reason`]'s variants.
pub const CODES: [&str; 22] = [
    "master_already_registered",
    "master_not_registered",
    "editions_already_registered",
    "editions_not_registered",
    "too_many_editions",
    "edition_already_registered",
    "edition_not_found",
    "not_owner",
    "not_consigned_to",
    "unconsign_only_to",
    "not_consigned",
    "fuel_is_not_a_piece_action",
    "loan_start_not_a_date",
    "loan_end_not_a_date",
    "loan_ends_before_start",
    "prevouts_missing",
    "several_senders",
    "verb_not_last",
    "first_output_not_piece",
    "no_recipient",
    "not_from_federation",
    "not_a_federation_address",
];

/// `{}` marks each argument, in order.
fn template(code: &str) -> Option<&'static str> {
    Some(match code {
        "master_already_registered" => "Master piece already registered in the blockchain",
        "master_not_registered" => "Master edition not yet registered",
        "editions_already_registered" => "Number of editions was already registered for this piece",
        "editions_not_registered" => "Number of editions not yet registered",
        "too_many_editions" => {
            "You can only register {} editions. You are trying to register edition {}"
        }
        "edition_already_registered" => "Edition number {} is already registered in the blockchain",
        "edition_not_found" => "The edition number {} does not exist in the blockchain",
        "not_owner" => "Address {} does not own the edition number {}",
        "not_consigned_to" => "Edition number {} is not consigned to {}",
        "unconsign_only_to" => "You can only unconsign to {}",
        "not_consigned" => "Edition number {} is not consigned",
        "fuel_is_not_a_piece_action" => "FUEL is a refill, not an action on a piece",
        "loan_start_not_a_date" => "Loan start {} is not a real date",
        "loan_end_not_a_date" => "Loan end {} is not a real date",
        "loan_ends_before_start" => "Loan ends ({}) before it starts ({})",
        "prevouts_missing" => "Transaction has {} inputs but {} known previous outputs",
        // The braces around the hole are literal: pyspool prints a Python set.
        "several_senders" => "Transaction should have inputs from only one address {{}}",
        "verb_not_last" => "The verb is in output {}, not in the last output",
        "first_output_not_piece" => "The first output pays {}, not the piece address {}",
        "no_recipient" => "Transaction has no output besides the OP_RETURN",
        "not_from_federation" => "{} must come from a federation address, not {}",
        "not_a_federation_address" => "Address {} is not a federation address ({})",
        _ => return None,
    })
}

impl Reason {
    /// The stable machine code of this reason, e.g. `not_owner`.
    pub fn code(&self) -> &'static str {
        match self {
            Reason::MasterAlreadyRegistered => "master_already_registered",
            Reason::MasterNotRegistered => "master_not_registered",
            Reason::EditionsAlreadyRegistered => "editions_already_registered",
            Reason::EditionsNotRegistered => "editions_not_registered",
            Reason::TooManyEditions { .. } => "too_many_editions",
            Reason::EditionAlreadyRegistered { .. } => "edition_already_registered",
            Reason::EditionNotFound { .. } => "edition_not_found",
            Reason::NotOwner { .. } => "not_owner",
            Reason::NotConsignedTo { .. } => "not_consigned_to",
            Reason::UnconsignOnlyTo { .. } => "unconsign_only_to",
            Reason::NotConsigned { .. } => "not_consigned",
            Reason::FuelIsNotAPieceAction => "fuel_is_not_a_piece_action",
            Reason::LoanStartNotADate { .. } => "loan_start_not_a_date",
            Reason::LoanEndNotADate { .. } => "loan_end_not_a_date",
            Reason::LoanEndsBeforeStart { .. } => "loan_ends_before_start",
            Reason::PrevoutsMissing { .. } => "prevouts_missing",
            Reason::SeveralSenders { .. } => "several_senders",
            Reason::VerbNotLast { .. } => "verb_not_last",
            Reason::FirstOutputNotPiece { .. } => "first_output_not_piece",
            Reason::NoRecipient => "no_recipient",
            Reason::NotFromFederation { .. } => "not_from_federation",
            Reason::NotAFederationAddress { .. } => "not_a_federation_address",
        }
    }

    /// The arguments of the text, in the template's order.
    fn arguments(&self) -> Vec<String> {
        match self {
            Reason::MasterAlreadyRegistered
            | Reason::MasterNotRegistered
            | Reason::EditionsAlreadyRegistered
            | Reason::EditionsNotRegistered
            | Reason::FuelIsNotAPieceAction
            | Reason::NoRecipient => Vec::new(),
            Reason::TooManyEditions { count, edition } => {
                vec![count.to_string(), edition.to_string()]
            }
            Reason::EditionAlreadyRegistered { edition }
            | Reason::EditionNotFound { edition }
            | Reason::NotConsigned { edition } => vec![edition.to_string()],
            Reason::NotOwner { address, edition } => vec![address.clone(), edition.to_string()],
            Reason::NotConsignedTo { edition, address } => {
                vec![edition.to_string(), address.clone()]
            }
            Reason::UnconsignOnlyTo { consignor } => vec![consignor.clone()],
            Reason::LoanStartNotADate { start } => vec![start.to_string()],
            Reason::LoanEndNotADate { end } => vec![end.to_string()],
            Reason::LoanEndsBeforeStart { start, end } => vec![end.to_string(), start.to_string()],
            Reason::PrevoutsMissing { inputs, prevouts } => {
                vec![inputs.to_string(), prevouts.to_string()]
            }
            Reason::SeveralSenders { addresses } => vec![addresses
                .iter()
                .map(|a| format!("'{a}'"))
                .collect::<Vec<_>>()
                .join(", ")],
            Reason::VerbNotLast { vout } => vec![vout.to_string()],
            Reason::FirstOutputNotPiece { found, piece } => vec![found.clone(), piece.clone()],
            Reason::NotFromFederation { action, from } => vec![action.to_string(), from.clone()],
            Reason::NotAFederationAddress { from, federation } => {
                vec![from.clone(), federation.join(", ")]
            }
        }
    }

    /// The reason a `code` and its `text` describe (as JSON carries them), or `None` when
    /// they do not fit together.
    pub fn from_parts(code: &str, text: &str) -> Option<Reason> {
        let args = holes(template(code)?, text)?;
        let number = |i: usize| args.get(i)?.parse::<u64>().ok();
        let string = |i: usize| args.get(i).map(|s| (*s).to_owned());
        let date = |i: usize| LoanDate::parse(args.get(i)?).ok();
        let list = |i: usize, quoted: bool| -> Option<Vec<String>> {
            let joined = args.get(i)?;
            if joined.is_empty() {
                return Some(Vec::new());
            }
            joined
                .split(", ")
                .map(|item| match quoted {
                    true => item
                        .strip_prefix('\'')?
                        .strip_suffix('\'')
                        .map(str::to_owned),
                    false => Some(item.to_owned()),
                })
                .collect()
        };
        let reason = match code {
            "master_already_registered" => Reason::MasterAlreadyRegistered,
            "master_not_registered" => Reason::MasterNotRegistered,
            "editions_already_registered" => Reason::EditionsAlreadyRegistered,
            "editions_not_registered" => Reason::EditionsNotRegistered,
            "too_many_editions" => Reason::TooManyEditions {
                count: number(0)?,
                edition: number(1)?,
            },
            "edition_already_registered" => Reason::EditionAlreadyRegistered {
                edition: number(0)?,
            },
            "edition_not_found" => Reason::EditionNotFound {
                edition: number(0)?,
            },
            "not_owner" => Reason::NotOwner {
                address: string(0)?,
                edition: number(1)?,
            },
            "not_consigned_to" => Reason::NotConsignedTo {
                edition: number(0)?,
                address: string(1)?,
            },
            "unconsign_only_to" => Reason::UnconsignOnlyTo {
                consignor: string(0)?,
            },
            "not_consigned" => Reason::NotConsigned {
                edition: number(0)?,
            },
            "fuel_is_not_a_piece_action" => Reason::FuelIsNotAPieceAction,
            "loan_start_not_a_date" => Reason::LoanStartNotADate { start: date(0)? },
            "loan_end_not_a_date" => Reason::LoanEndNotADate { end: date(0)? },
            "loan_ends_before_start" => Reason::LoanEndsBeforeStart {
                end: date(0)?,
                start: date(1)?,
            },
            "prevouts_missing" => Reason::PrevoutsMissing {
                inputs: number(0)?.try_into().ok()?,
                prevouts: number(1)?.try_into().ok()?,
            },
            "several_senders" => Reason::SeveralSenders {
                addresses: list(0, true)?,
            },
            "verb_not_last" => Reason::VerbNotLast {
                vout: number(0)?.try_into().ok()?,
            },
            "first_output_not_piece" => Reason::FirstOutputNotPiece {
                found: string(0)?,
                piece: string(1)?,
            },
            "no_recipient" => Reason::NoRecipient,
            "not_from_federation" => Reason::NotFromFederation {
                action: args.first()?.parse().ok()?,
                from: string(1)?,
            },
            "not_a_federation_address" => Reason::NotAFederationAddress {
                from: string(0)?,
                federation: list(1, false)?,
            },
            _ => return None,
        };
        (reason.to_string() == text).then_some(reason)
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let template = template(self.code()).expect("every code has a template");
        let mut args = self.arguments().into_iter();
        let mut pieces = template.split("{}");
        f.write_str(pieces.next().unwrap_or_default())?;
        for piece in pieces {
            f.write_str(&args.next().unwrap_or_default())?;
            f.write_str(piece)?;
        }
        Ok(())
    }
}

impl std::error::Error for Reason {}

/// As its text (JSON that wants the code too writes [`Reason::code`] beside it).
impl serde::Serialize for Reason {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The texts that fill the `{}` holes of `template` to give `text`.
fn holes<'t>(template: &str, text: &'t str) -> Option<Vec<&'t str>> {
    let mut pieces = template.split("{}");
    let mut rest = text.strip_prefix(pieces.next()?)?;
    let pieces: Vec<&str> = pieces.collect();
    let mut found = Vec::with_capacity(pieces.len());
    for (i, piece) in pieces.iter().enumerate() {
        let end = if i + 1 == pieces.len() {
            rest.len()
                .checked_sub(piece.len())
                .filter(|&e| rest[e..] == **piece)?
        } else if piece.is_empty() {
            return None;
        } else {
            rest.find(piece)?
        };
        found.push(&rest[..end]);
        rest = &rest[end + piece.len()..];
    }
    rest.is_empty().then_some(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_reason() -> Vec<Reason> {
        let date = |t| LoanDate::parse(t).unwrap();
        vec![
            Reason::MasterAlreadyRegistered,
            Reason::MasterNotRegistered,
            Reason::EditionsAlreadyRegistered,
            Reason::EditionsNotRegistered,
            Reason::TooManyEditions {
                count: 2,
                edition: 3,
            },
            Reason::EditionAlreadyRegistered { edition: 1 },
            Reason::EditionNotFound { edition: 9 },
            Reason::NotOwner {
                address: "mA".into(),
                edition: 1,
            },
            Reason::NotConsignedTo {
                edition: 1,
                address: "mB".into(),
            },
            Reason::UnconsignOnlyTo {
                consignor: "mC".into(),
            },
            Reason::NotConsigned { edition: 4 },
            Reason::FuelIsNotAPieceAction,
            Reason::LoanStartNotADate {
                start: date("150229"),
            },
            Reason::LoanEndNotADate {
                end: date("151399"),
            },
            Reason::LoanEndsBeforeStart {
                start: date("150528"),
                end: date("150526"),
            },
            Reason::PrevoutsMissing {
                inputs: 2,
                prevouts: 1,
            },
            Reason::SeveralSenders {
                addresses: vec!["mA".into(), "mB".into()],
            },
            Reason::VerbNotLast { vout: 0 },
            Reason::FirstOutputNotPiece {
                found: "mX".into(),
                piece: "mP".into(),
            },
            Reason::NoRecipient,
            Reason::NotFromFederation {
                action: Action::Register,
                from: "mZ".into(),
            },
            Reason::NotAFederationAddress {
                from: "mZ".into(),
                federation: vec!["mF".into(), "mG".into()],
            },
        ]
    }

    #[test]
    fn texts_are_pyspools() {
        let texts: Vec<String> = every_reason().iter().map(ToString::to_string).collect();
        assert_eq!(
            texts[0],
            "Master piece already registered in the blockchain"
        );
        assert_eq!(
            texts[4],
            "You can only register 2 editions. You are trying to register edition 3"
        );
        assert_eq!(texts[7], "Address mA does not own the edition number 1");
        assert_eq!(texts[14], "Loan ends (150526) before it starts (150528)");
        assert_eq!(
            texts[16],
            "Transaction should have inputs from only one address {'mA', 'mB'}"
        );
        assert_eq!(
            texts[20],
            "REGISTER must come from a federation address, not mZ"
        );
        assert_eq!(texts[21], "Address mZ is not a federation address (mF, mG)");
    }

    #[test]
    fn every_reason_reads_back_from_its_code_and_text() {
        let all = every_reason();
        let codes: Vec<&str> = all.iter().map(Reason::code).collect();
        assert_eq!(codes, CODES, "one code per variant, in order");
        for reason in all {
            let text = reason.to_string();
            assert_eq!(
                Reason::from_parts(reason.code(), &text),
                Some(reason.clone())
            );
            assert_eq!(Reason::from_parts("not_owner", "something else"), None);
        }
    }
}
