//! The `tickflow` command line. Each subcommand lives in its own module; `main.rs` only calls
//! [`run`].

mod cache;
mod gather;
mod normalize;
mod price;
mod schemas;
mod simulate;
mod symbols;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// tickflow: exchange ticker feeds → one canonical, exact, schema-governed stream.
#[derive(Debug, Parser)]
#[command(name = "tickflow", version, about, long_about = None)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Connect to the exchanges and produce canonical ticks to Kafka.
    #[command(about = gather::ABOUT, long_about = gather::LONG_ABOUT, after_help = gather::AFTER_HELP)]
    Gather(gather::GatherArgs),
    /// Keep the Redis last-price cache from Kafka.
    #[command(about = cache::ABOUT, long_about = cache::LONG_ABOUT, after_help = cache::AFTER_HELP)]
    Cache(cache::CacheArgs),
    /// Print the latest price of an instrument from the Redis cache.
    #[command(about = price::ABOUT, long_about = price::LONG_ABOUT, after_help = price::AFTER_HELP)]
    Price(price::PriceArgs),
    /// Check schema compatibility across every released version; register the current one.
    Schemas(schemas::SchemasArgs),
    /// Normalize raw exchange frames from a file or stdin into canonical ticks.
    #[command(about = normalize::ABOUT, long_about = normalize::LONG_ABOUT, after_help = normalize::EXAMPLES)]
    Normalize(normalize::NormalizeArgs),
    /// Run a local WebSocket server that speaks the Upbit, Binance and Bithumb protocols.
    #[command(about = simulate::ABOUT, long_about = simulate::LONG_ABOUT, after_help = simulate::AFTER_HELP)]
    Simulate(simulate::SimulateArgs),
    /// Build the Binance symbol table from an exchangeInfo JSON document.
    #[command(about = symbols::ABOUT, long_about = symbols::LONG_ABOUT, after_help = symbols::AFTER_HELP)]
    Symbols(symbols::SymbolsArgs),
}

/// Parses the command line and runs the chosen subcommand.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let result = match cli.command {
        Command::Gather(args) => gather::run(&args),
        Command::Cache(args) => cache::run(&args),
        Command::Price(args) => price::run(&args),
        Command::Schemas(args) => schemas::run(&args),
        Command::Normalize(args) => normalize::run(&args),
        Command::Simulate(args) => simulate::run(&args),
        Command::Symbols(args) => symbols::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("tickflow: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Log events go to stderr at `TICKFLOW_LOG` (`error`, `warn`, `info` (default), `debug`).
fn init_logging() {
    use std::io::IsTerminal;
    let level = std::env::var("TICKFLOW_LOG")
        .ok()
        .and_then(|v| v.parse::<tracing_subscriber::filter::LevelFilter>().ok())
        .unwrap_or(tracing_subscriber::filter::LevelFilter::INFO);
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// The app config from `--config FILE` (must exist) or `./tickflow.toml` (may be absent:
/// built-in defaults), with the process environment's `TICKFLOW_*` overrides.
fn load_config(config: Option<&std::path::Path>) -> anyhow::Result<crate::config::AppConfig> {
    let (path, optional) = match config {
        Some(p) => (p, false),
        None => (std::path::Path::new("tickflow.toml"), true),
    };
    Ok(crate::config::load_app_config(
        path,
        optional,
        std::env::vars(),
    )?)
}

/// Waits for SIGINT, SIGTERM or the end of `duration` seconds.
async fn wait_for_stop(duration: Option<u64>) -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let limit = duration.map_or(
        std::time::Duration::from_secs(u64::MAX / 4),
        std::time::Duration::from_secs,
    );
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
        () = tokio::time::sleep(limit) => {}
    }
    Ok(())
}
