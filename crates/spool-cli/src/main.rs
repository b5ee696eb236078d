//! The `spool` command-line tool; everything lives in the library half, [`spool_cli::cli`].

fn main() -> std::process::ExitCode {
    spool_cli::cli::main()
}
