//! Verifies a provenance certificate (`.spoolcert`) offline, with nothing but
//! spool-protocol and std: `cargo run -p spool-protocol --example verify_certificate -- FILE`.
//!
//! It prints what it checked and what it had to trust, and exits 0 when the certificate is
//! proven, 2 when it is invalid or tampered with (the reason on one line), 1 when the file
//! cannot be read.

use std::process::ExitCode;

use spool_protocol::certificate::Certificate;

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: verify_certificate FILE.spoolcert");
        return ExitCode::from(2);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) => {
            eprintln!("error: cannot read {path}: {err}");
            return ExitCode::from(1);
        }
    };
    let certificate = match Certificate::from_json(&text) {
        Ok(certificate) => certificate,
        Err(err) => {
            eprintln!("invalid: {err}");
            return ExitCode::from(2);
        }
    };
    match certificate.verify() {
        Ok(report) => {
            println!(
                "proven: edition {} of piece {} on {}, as of block {}",
                report.edition, report.piece, report.network, report.tip_height
            );
            println!(
                "  owner: {}",
                report.state.owner.as_deref().unwrap_or("(not registered)")
            );
            if let Some(consignee) = &report.state.consignee {
                println!("  consigned to: {consignee}");
            }
            for loan in &report.state.loans {
                println!(
                    "  loaned to {} from {} to {}",
                    loan.borrower, loan.start, loan.end
                );
            }
            println!("checked:");
            for line in &report.checked {
                println!("  - {line}");
            }
            if let Some(burial) = report.min_burial {
                println!("  - every event buried under at least {burial} proven headers");
            }
            if report.unconfirmed_left_out > 0 {
                println!(
                    "  - {} unconfirmed events left out (not proven)",
                    report.unconfirmed_left_out
                );
            }
            println!("trusted (an offline check cannot prove):");
            for line in &report.trusted {
                println!("  - {line}");
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("invalid: {err}");
            ExitCode::from(2)
        }
    }
}
