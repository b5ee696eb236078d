//! The `spool` command-line tool.

fn main() {
    eprintln!("spool: not yet implemented");
    std::process::exit(2);
}
