//! The `resnext` command line: `classify`, `info`, `preprocess`, `bench` and `eval`.
//!
//! Modules: `args` and `engine_flags` (the flags), `loading` (what the subcommands share),
//! `commands` (classify, info, preprocess), `bench`, `eval`; only this file dispatches to them.
//!
//! Output contract: human-readable text by default; with `--json`, one JSON object per line.
//! Errors print one line to stderr (`resnext: error: ...`) and exit with status 1 (2 for usage
//! errors); a panic is reported the same way, never as a backtrace. The SDK's log records go
//! to stderr as `resnext: warning: ...` lines (warnings and errors by default; `RESNEXT_LOG=info`
//! or `debug` shows more, e.g. how long a TensorRT engine took to build).

mod args;
mod bench;
mod commands;
mod engine_flags;
mod eval;
mod loading;

use clap::Parser;

/// Writes the SDK's log records to stderr, one line each.
struct StderrLog;

impl log::Log for StderrLog {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) && record.target().starts_with("resnext") {
            let level = record.level().as_str().to_ascii_lowercase();
            eprintln!("resnext: {level}: {}", record.args());
        }
    }

    fn flush(&self) {}
}

fn init_log() {
    let level = match std::env::var("RESNEXT_LOG").as_deref() {
        Ok("off") => log::LevelFilter::Off,
        Ok("error") => log::LevelFilter::Error,
        Ok("info") => log::LevelFilter::Info,
        Ok("debug") => log::LevelFilter::Debug,
        Ok("trace") => log::LevelFilter::Trace,
        _ => log::LevelFilter::Warn,
    };
    if log::set_logger(&StderrLog).is_ok() {
        log::set_max_level(level);
    }
}

/// Runs one subcommand; returns the exit status.
fn dispatch(cli: args::Cli) -> resnext::Result<i32> {
    use args::Command;
    match cli.command {
        Command::Classify(args) => commands::classify(args),
        Command::Info(args) => commands::info(args),
        Command::Preprocess(args) => commands::preprocess(args),
        Command::Bench(args) => bench::bench(args),
        Command::Eval(args) => eval::eval(args),
    }
}

/// Runs the CLI with the process arguments and returns the exit status.
fn run_cli() -> i32 {
    // Panics are reported once, as one line, by the catch below (no backtrace).
    std::panic::set_hook(Box::new(|_| {}));
    init_log();
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    match std::panic::catch_unwind(|| dispatch(cli)) {
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
