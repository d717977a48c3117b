//! The `resnext` command line: `classify`, `info` and `preprocess`.
//!
//! Output contract: human-readable text by default; with `--json`, one JSON object per line.
//! Errors print one line to stderr (`resnext: error: ...`) and exit with status 1 (2 for usage
//! errors); a panic is reported the same way, never as a backtrace.

mod args;
mod bench;
mod commands;
mod eval;

use clap::Parser;

/// Runs the CLI with the process arguments and returns the exit status.
fn run_cli() -> i32 {
    // Panics are reported once, as one line, by the catch below (no backtrace).
    std::panic::set_hook(Box::new(|_| {}));
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    match std::panic::catch_unwind(|| commands::run(cli)) {
        Ok(Ok(status)) => status,
        Ok(Err(e)) => {
            eprintln!("resnext: error: {} [{}]", e.message(), e.code().name());
            1
        }
        Err(payload) => {
            eprintln!(
                "resnext: error: {} [PANIC]",
                resnext::Error::from_panic(payload.as_ref()).message()
            );
            1
        }
    }
}

fn main() {
    std::process::exit(run_cli());
}
