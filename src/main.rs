//! The `tickflow` binary: everything lives in the library; see `tickflow --help`.

fn main() -> std::process::ExitCode {
    tickflow::cli::run()
}
