//! Verbs against pyspool's own vectors (`vectors/verbs.json`), and every decoding choice.

use serde_json::Value;
use spool_protocol::bitcoin::hex::DisplayHex;
use spool_protocol::verb::{Action, DecodedVerb, LoanDate, Verb, VerbError};

fn vectors() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../vectors/verbs.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    serde_json::from_str(&text).expect("verbs.json is JSON")
}

fn arg(args: &Value, name: &str) -> u64 {
    args[name]
        .as_u64()
        .unwrap_or_else(|| panic!("{name} in {args}"))
}

/// Builds the typed verb for a vector's `action` and `args` through the public constructors.
fn build(action: &str, args: &Value) -> Verb {
    let action: Action = action.parse().expect("vector action is known");
    match action {
        Action::Loan => {
            let start = args["loan_start"].as_str().unwrap();
            let end = args["loan_end"].as_str().unwrap();
            let edition = arg(args, "edition_number");
            match Verb::loan(edition, start, end) {
                Ok(verb) => verb,
                Err(VerbError::LoanEndsBeforeStart { .. }) => {
                    // pyspool writes these; the checked constructor refuses, the raw one builds.
                    Verb::Loan {
                        edition,
                        start: LoanDate::parse(start).unwrap(),
                        end: LoanDate::parse(end).unwrap(),
                    }
                }
                Err(e) => panic!("unexpected loan error {e}"),
            }
        }
        Action::Editions => Verb::from_action(action, Some(arg(args, "num_editions"))).unwrap(),
        a if a.takes_number() => Verb::from_action(a, Some(arg(args, "edition_number"))).unwrap(),
        a => Verb::from_action(a, None).unwrap(),
    }
}

fn decoded_json(decoded: &DecodedVerb) -> Value {
    serde_json::to_value(decoded).unwrap()
}

#[test]
fn every_verb_vector_encodes_scripts_and_decodes_as_pyspool() {
    let v = vectors();
    let verbs = v["verbs"].as_array().unwrap();
    assert_eq!(verbs.len(), 115);
    for case in verbs {
        let text = case["verb"].as_str().unwrap();
        let verb = build(case["action"].as_str().unwrap(), &case["args"]);
        assert_eq!(verb.to_string(), text);
        assert_eq!(
            verb.op_return_script().as_bytes().to_lower_hex_string(),
            case["script_hex"].as_str().unwrap(),
            "{text}"
        );
        let decoded = DecodedVerb::parse(text).unwrap();
        assert_eq!(decoded_json(&decoded), case["decoded"], "{text}");
        assert_eq!(verb.decoded(), decoded);
        // The typed decoder reads it back to the same verb, which re-encodes byte for byte.
        let back = Verb::decode(text).unwrap();
        assert_eq!(back, verb);
        assert_eq!(back.to_string(), text);
        assert_eq!(back.action().as_str(), case["action"].as_str().unwrap());
        assert_eq!(text.parse::<Verb>().unwrap(), verb);
    }
}

#[test]
fn loan_vectors_with_end_before_start_decode_and_reencode_but_checked_constructor_refuses() {
    let v = vectors();
    let mut backwards = 0;
    for case in v["verbs"].as_array().unwrap() {
        if case["action"] != "LOAN" {
            continue;
        }
        let text = case["verb"].as_str().unwrap();
        let start = case["args"]["loan_start"].as_str().unwrap();
        let end = case["args"]["loan_end"].as_str().unwrap();
        let edition = arg(&case["args"], "edition_number");
        let decoded = Verb::decode(text).unwrap();
        assert_eq!(decoded.to_string(), text, "byte for byte");
        let (s, e) = (
            LoanDate::parse(start).unwrap(),
            LoanDate::parse(end).unwrap(),
        );
        if e < s {
            backwards += 1;
            let err = Verb::loan(edition, start, end).unwrap_err();
            assert_eq!(err, VerbError::LoanEndsBeforeStart { start: s, end: e });
            assert!(err.to_string().contains(start) && err.to_string().contains(end));
        } else {
            assert_eq!(Verb::loan(edition, start, end).unwrap(), decoded);
        }
    }
    // 260801>260714, 921004>920601, 870724>870117, 441108>440810, and 280816 (2028) > 970908
    // (1997) under Python's %y century rule.
    assert_eq!(backwards, 5);
}

#[test]
fn checked_loan_refuses_impossible_dates_and_accepts_real_ones() {
    for bad in ["150229", "151301", "150001", "150100", "150431", "000230"] {
        let err = Verb::loan(1, bad, "991231").unwrap_err();
        assert_eq!(
            err,
            VerbError::ImpossibleDate {
                date: bad.to_owned()
            }
        );
        assert!(err.to_string().contains(bad));
    }
    for bad in ["15052", "1505261", "15o526", "", "١٥٠٥٢٦"] {
        let err = Verb::loan(1, "150526", bad).unwrap_err();
        assert!(
            matches!(err, VerbError::MalformedDate { .. }),
            "{bad}: {err}"
        );
    }
    assert_eq!(
        Verb::loan(4, "150526", "150528").unwrap().to_string(),
        "ASCRIBESPOOL01LOAN4/150526150528"
    );
    // Leap days: 2016 and 2000 are leap years; 1900 is out of %y's range.
    assert!(Verb::loan(0, "160229", "160229").is_ok());
    assert!(Verb::loan(0, "000229", "000301").is_ok());
    // A one-day loan is fine; the century rule orders 991231 (1999) before 000101 (2000).
    assert!(Verb::loan(1, "991231", "000101").is_ok());
    assert!(Verb::loan(1, "000101", "991231").is_err());
    assert_eq!(
        LoanDate::from_ymd(2015, 5, 26).unwrap().to_string(),
        "150526"
    );
    assert!(LoanDate::from_ymd(2015, 2, 29).is_err());
    assert!(LoanDate::from_ymd(2100, 1, 1).is_err());
}

#[test]
fn rejects_quote_their_input() {
    let v = vectors();
    for case in v["rejects"].as_array().unwrap() {
        let input = case["input"].as_str().unwrap();
        let pyspool = case["error"].as_str().unwrap();
        assert_eq!(pyspool, format!("Invalid spoolverb: {input}"));
        let typed = Verb::decode(input).unwrap_err();
        let faithful = DecodedVerb::parse(input).unwrap_err();
        for err in [typed.to_string(), faithful.to_string()] {
            assert!(err.contains(input), "{err:?} does not quote {input:?}");
            assert!(err.starts_with("invalid spoolverb"), "{err}");
        }
    }
}

/// What spool-rs does with each of pyspool's quirks. `Ok` = the typed verb it decodes to;
/// `Err` = the error kind; the pyspool-faithful decoder is checked against the vector separately.
#[test]
fn every_quirk_has_a_documented_choice() {
    type Expect = Result<Verb, fn(&VerbError) -> bool>;
    let choices: Vec<(&str, Expect)> = vec![
        // Only pyspool's Unicode \d accepts this; not worth accepting.
        (
            "ASCRIBESPOOL01REGISTER\u{661}",
            Err(|e| matches!(e, VerbError::NonAsciiDigits { .. })),
        ),
        // Leading zeros read as pyspool reads them (the text does not re-encode identically).
        (
            "ASCRIBESPOOL01REGISTER007",
            Ok(Verb::Register { edition: 7 }),
        ),
        // LOAN without an edition is the whole piece, edition 0, like LOAN0.
        (
            "ASCRIBESPOOL01LOAN/150526150528",
            Ok(Verb::loan(0, "150526", "150528").unwrap()),
        ),
        (
            "ASCRIBESPOOL01LOAN0/150526150528",
            Ok(Verb::loan(0, "150526", "150528").unwrap()),
        ),
        // pyspool slices any length; a typed loan needs exactly two six-digit dates.
        (
            "ASCRIBESPOOL01LOAN5/1505261505",
            Err(|e| matches!(e, VerbError::MalformedLoanDates { .. })),
        ),
        (
            "ASCRIBESPOOL01LOAN5/15052615052899",
            Err(|e| matches!(e, VerbError::MalformedLoanDates { .. })),
        ),
        // Numbers after FUEL and PIECE are ignored, as pyspool ignores them.
        ("ASCRIBESPOOL01FUEL5", Ok(Verb::Fuel)),
        ("ASCRIBESPOOL01PIECE12", Ok(Verb::Piece)),
        // pyspool crashes; EDITIONS needs its count.
        (
            "ASCRIBESPOOL01EDITIONS",
            Err(|e| {
                matches!(
                    e,
                    VerbError::MissingNumber {
                        action: Action::Editions,
                        ..
                    }
                )
            }),
        ),
        // pyspool crashes, but pyspool 0.2.0 itself writes edition 0 this way: the master edition.
        ("ASCRIBESPOOL01REGISTER", Ok(Verb::Register { edition: 0 })),
        // Unknown actions, other metas and versions are not SPOOL.
        (
            "ASCRIBESPOOL01FOO3",
            Err(|e| matches!(e, VerbError::UnknownAction { .. })),
        ),
        (
            "OTHERMETA99TRANSFER4",
            Err(|e| matches!(e, VerbError::UnknownMeta { .. })),
        ),
        // Python's `$` matches before one trailing newline; so do we.
        ("ASCRIBESPOOL01FUEL\n", Ok(Verb::Fuel)),
        // A `/<digits>` after a non-LOAN action is ignored, as by pyspool.
        (
            "ASCRIBESPOOL01CONSIGN5/123",
            Ok(Verb::Consign { edition: 5 }),
        ),
        ("A0B1", Err(|e| matches!(e, VerbError::UnknownMeta { .. }))),
        (
            "ASCRIBESPOOL0001TRANSFER1",
            Err(|e| matches!(e, VerbError::UnsupportedVersion { .. })),
        ),
        ("ASCRIBESPOOL01EDITIONS0", Ok(Verb::Editions { count: 0 })),
        // pyspool crashes: a loan needs its dates.
        (
            "ASCRIBESPOOL01LOAN3",
            Err(|e| matches!(e, VerbError::MissingLoanDates { .. })),
        ),
    ];
    let v = vectors();
    let quirks = v["quirks"].as_array().unwrap();
    assert_eq!(quirks.len(), choices.len());
    for (case, (input, expect)) in quirks.iter().zip(&choices) {
        assert_eq!(case["input"].as_str().unwrap(), *input);
        let got = Verb::decode(input);
        match (expect, &got) {
            (Ok(verb), Ok(decoded)) => assert_eq!(verb, decoded, "{input:?}"),
            (Err(kind), Err(err)) => {
                assert!(kind(err), "{input:?}: unexpected error {err:?}");
                assert!(
                    err.to_string().contains(input.trim_end()),
                    "{err} quotes {input:?}"
                );
            }
            _ => panic!("{input:?}: expected {expect:?}, got {got:?}"),
        }
        // The faithful decoder reproduces pyspool wherever pyspool decodes (except Unicode
        // digits), and errors where pyspool crashes -- except a missing edition on REGISTER,
        // read as the master edition.
        let faithful = DecodedVerb::parse(input);
        match (&case["decoded"], &faithful) {
            (Value::Null, Ok(d)) => {
                assert_eq!(case["pyspool_crash"], "TypeError");
                assert_eq!(*input, "ASCRIBESPOOL01REGISTER");
                assert_eq!(d.edition_number, None);
            }
            (Value::Null, Err(_)) => assert_eq!(case["pyspool_crash"], "TypeError"),
            (want, Ok(d)) => assert_eq!(&decoded_json(d), want, "{input:?}"),
            (_, Err(e)) => {
                assert!(
                    matches!(e, VerbError::NonAsciiDigits { .. }),
                    "{input:?}: {e}"
                )
            }
        }
    }
}

#[test]
fn pyspool_zero_edition_encodings_read_as_edition_zero() {
    let v = vectors();
    let zero = v["zero_edition_encoding"].as_object().unwrap();
    for (name, text) in zero {
        let text = text.as_str().unwrap();
        let action: Action = name.parse().unwrap();
        if action == Action::Loan {
            // "LOAN/" with no dates does not match the grammar; with dates it is edition 0.
            assert!(Verb::decode(text).is_err());
            let with_dates = format!("{text}150526150528");
            let verb = Verb::decode(&with_dates).unwrap();
            assert_eq!(verb.edition(), Some(0));
            assert_eq!(verb.to_string(), "ASCRIBESPOOL01LOAN0/150526150528");
            continue;
        }
        let verb = Verb::decode(text).unwrap();
        assert_eq!(verb.action(), action);
        assert_eq!(verb.edition(), Some(0), "{text}");
        // spool-rs writes the number: REGISTER0 for the master edition.
        assert_eq!(verb.to_string(), format!("{text}0"));
        assert_eq!(Verb::decode(&verb.to_string()).unwrap(), verb);
        assert_eq!(DecodedVerb::parse(text).unwrap().edition_number, None);
    }
}

#[test]
fn pyspool_decoder_turns_edition_zero_into_none() {
    for text in [
        "ASCRIBESPOOL01REGISTER0",
        "ASCRIBESPOOL01TRANSFER0",
        "ASCRIBESPOOL01LOAN0/150526150528",
    ] {
        assert_eq!(DecodedVerb::parse(text).unwrap().edition_number, None);
        assert_eq!(Verb::decode(text).unwrap().edition(), Some(0));
    }
}

#[test]
fn actions_parse_case_insensitively_and_know_their_kind() {
    for action in Action::ALL {
        assert_eq!(action.as_str().parse::<Action>().unwrap(), action);
        assert_eq!(
            action.as_str().to_lowercase().parse::<Action>().unwrap(),
            action
        );
        assert_eq!(action.to_string(), action.as_str());
    }
    assert_eq!("Transfer".parse::<Action>().unwrap(), Action::Transfer);
    let err = "steal".parse::<Action>().unwrap_err();
    assert!(err.to_string().contains("steal"));
    let federated: Vec<_> = Action::ALL
        .into_iter()
        .filter(Action::is_federated)
        .collect();
    assert_eq!(
        federated,
        [
            Action::Piece,
            Action::Register,
            Action::Editions,
            Action::Migrate,
            Action::ConsignedRegistration
        ]
    );
    // The typed decoder wants the action as written: upper case.
    assert!(Verb::decode("ASCRIBESPOOL01transfer1").is_err());
    assert!(Verb::Register { edition: 2 }.is_federated());
    assert!(!Verb::Transfer { edition: 2 }.is_federated());
    assert_eq!(Verb::Transfer { edition: 2 }.edition(), Some(2));
    assert_eq!(Verb::Editions { count: 2 }.edition(), None);
}

#[test]
fn from_action_refuses_nonsense() {
    assert!(Verb::from_action(Action::Piece, Some(1)).is_err());
    assert!(Verb::from_action(Action::Transfer, None).is_err());
    assert!(Verb::from_action(Action::Loan, Some(1)).is_err());
    let err = Verb::from_action(Action::Fuel, Some(3)).unwrap_err();
    assert_eq!(err.to_string(), "FUEL takes no number");
    assert_eq!(
        Verb::from_action(Action::Migrate, Some(5))
            .unwrap()
            .to_string(),
        "ASCRIBESPOOL01MIGRATE5"
    );
}

#[test]
fn numbers_beyond_u64_and_non_utf8_bytes_are_refused() {
    let text = "ASCRIBESPOOL01TRANSFER18446744073709551616";
    let err = Verb::decode(text).unwrap_err();
    assert!(matches!(err, VerbError::NumberTooLarge { .. }));
    assert!(err.to_string().contains(text));
    assert_eq!(
        Verb::decode("ASCRIBESPOOL01TRANSFER18446744073709551615")
            .unwrap()
            .edition(),
        Some(u64::MAX)
    );
    let err = Verb::decode_bytes(b"ASCRIBESPOOL01FUEL\xff").unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid spoolverb: not utf-8: 4153435249424553504f4f4c30314655454cff"
    );
    assert_eq!(
        Verb::decode_bytes(b"ASCRIBESPOOL01PIECE").unwrap(),
        Verb::Piece
    );
}

#[test]
fn loan_dates_order_chronologically_and_totally() {
    let d = |t: &str| LoanDate::parse(t).unwrap();
    // 1999 before 2000 under Python's %y rule, whatever the digits say.
    assert!(d("991231") < d("000101"));
    assert!(d("150526") < d("150528"));
    // Digits that name no day sort after every real date, so sorting never sees a cycle.
    let mut dates = [
        d("991399"),
        d("000101"),
        d("150000"),
        d("991231"),
        d("680101"),
    ];
    dates.sort();
    let text: Vec<String> = dates.iter().map(ToString::to_string).collect();
    assert_eq!(text, ["991231", "000101", "680101", "150000", "991399"]);
}
