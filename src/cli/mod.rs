//! The `tickflow` command line. Each subcommand lives in its own module; `main.rs` only calls
//! [`run`].

mod cache;
mod gather;
mod normalize;
mod price;
mod probe;
mod schemas;
mod simulate;
mod symbols;

use crate::exchange::reference::References;
use crate::model::Exchange;
use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// tickflow: exchange market-data feeds (tickers, trades, best bid/offer) → one canonical,
/// exact, schema-governed stream.
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
    #[command(about = gather::ABOUT, long_about = gather::long_about(), after_help = gather::after_help())]
    Gather(gather::GatherArgs),
    /// Keep the Redis last-price cache from Kafka.
    #[command(about = cache::ABOUT, long_about = cache::long_about(), after_help = cache::AFTER_HELP)]
    Cache(cache::CacheArgs),
    /// Print the latest price of an instrument from the Redis cache.
    #[command(about = price::ABOUT, long_about = price::LONG_ABOUT, after_help = price::after_help())]
    Price(price::PriceArgs),
    /// Check schema compatibility across every released version; register the current one.
    Schemas(schemas::SchemasArgs),
    /// Normalize raw exchange frames from a file or stdin into canonical ticks.
    #[command(about = normalize::ABOUT, long_about = normalize::LONG_ABOUT, after_help = normalize::examples())]
    Normalize(normalize::NormalizeArgs),
    /// Run a local WebSocket server that speaks every venue's protocol.
    #[command(about = simulate::about(), long_about = simulate::long_about(), after_help = simulate::after_help())]
    Simulate(simulate::SimulateArgs),
    /// Probe a tickflow health endpoint (the container healthcheck).
    #[command(about = probe::ABOUT, long_about = probe::long_about(), after_help = probe::AFTER_HELP)]
    Probe(probe::ProbeArgs),
    /// Build a venue's reference data file from its listing document.
    #[command(about = symbols::ABOUT, long_about = symbols::long_about(), after_help = symbols::after_help())]
    Symbols(symbols::SymbolsArgs),
}

/// Parses the command line and runs the chosen subcommand.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = init_logging() {
        eprintln!("tickflow: error: {e}");
        return ExitCode::from(2);
    }
    let result = match cli.command {
        Command::Gather(args) => gather::run(&args),
        Command::Cache(args) => cache::run(&args),
        Command::Price(args) => price::run(&args),
        Command::Schemas(args) => schemas::run(&args),
        Command::Normalize(args) => normalize::run(&args),
        Command::Simulate(args) => simulate::run(&args),
        Command::Symbols(args) => symbols::run(&args),
        Command::Probe(args) => probe::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("tickflow: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Log events go to stderr, filtered by `TICKFLOW_LOG` in tracing's target syntax: a default
/// level and `target=level` directives (`info`, `warn,tickflow::ws=debug`,
/// `info,librdkafka=debug`; default `info`), as text or, with `TICKFLOW_LOG_FORMAT=json`, one
/// JSON object per line. An invalid value is an error, not silently ignored.
pub fn init_logging() -> Result<(), String> {
    use std::io::IsTerminal;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let spec = std::env::var("TICKFLOW_LOG").unwrap_or_default();
    let spec = if spec.trim().is_empty() {
        "info"
    } else {
        spec.trim()
    };
    let filter = log_filter(spec).map_err(|bad| {
        format!(
            "TICKFLOW_LOG=`{spec}`: `{bad}` is not a level (error, warn, info, debug, trace, off) or a target=level directive; e.g. `info,tickflow::ws=debug`"
        )
    })?;
    let json = match std::env::var("TICKFLOW_LOG_FORMAT").as_deref() {
        Err(_) | Ok("" | "text") => false,
        Ok("json") => true,
        Ok(other) => {
            return Err(format!(
                "TICKFLOW_LOG_FORMAT=`{other}` is not `text` or `json`"
            ));
        }
    };
    let registry = tracing_subscriber::registry().with(filter);
    let _ = if json {
        let layer = tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .with_current_span(true)
            .with_span_list(false);
        registry.with(layer).try_init()
    } else {
        let layer = tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_target(false)
            .with_ansi(std::io::stderr().is_terminal());
        registry.with(layer).try_init()
    };
    Ok(())
}

/// Parses `level` and `target=level` directives, comma-separated (the first bad one is the
/// error). Stricter than `Targets`' own parser, which takes a bare word as a target name.
pub fn log_filter(spec: &str) -> Result<tracing_subscriber::filter::Targets, String> {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    let level = |s: &str| s.trim().parse::<LevelFilter>().ok();
    let mut targets = Targets::new();
    for directive in spec.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        targets = match directive.split_once('=') {
            None => targets.with_default(level(directive).ok_or(directive)?),
            Some((target, l)) if !target.trim().is_empty() => {
                targets.with_target(target.trim(), level(l).ok_or(directive)?)
            }
            Some(_) => return Err(directive.to_owned()),
        };
    }
    Ok(targets)
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

/// SIGINT and SIGTERM, registered once so that a second signal is seen too.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    /// The next SIGINT or SIGTERM: its name.
    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.int.recv() => "SIGINT",
            _ = self.term.recv() => "SIGTERM",
        }
    }

    /// Waits for a signal or the end of `duration` seconds.
    async fn first(&mut self, duration: Option<u64>) {
        let limit = duration.map_or(
            std::time::Duration::from_secs(u64::MAX / 4),
            std::time::Duration::from_secs,
        );
        tokio::select! {
            _ = self.next() => {}
            () = tokio::time::sleep(limit) => {}
        }
    }
}

/// Every venue's name as the command line takes them (`upbit, binance, ... or coinone`).
pub(crate) fn venue_names() -> String {
    Exchange::list("or", Exchange::lowercase)
}

/// Every venue's name for prose (`Upbit, Binance, ... and Coinone`).
pub(crate) fn venue_prose() -> String {
    Exchange::list("and", |e| {
        let lower = e.lowercase();
        let mut chars = lower.chars();
        chars.next().map_or_else(String::new, |c| {
            c.to_ascii_uppercase().to_string() + chars.as_str()
        })
    })
}

/// `--reference EXCHANGE=FILE`: a venue's reference data from a file, in place of its shipped
/// copy (repeatable). Shared by every command that reads venue frames or listings.
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct ReferenceArgs {
    #[arg(
        long = "reference",
        value_name = "EXCHANGE=FILE",
        value_parser = parse_reference,
        help = reference_help()
    )]
    files: Vec<(Exchange, std::path::PathBuf)>,
}

impl ReferenceArgs {
    /// Every venue's reference data: the shipped copies, replaced by the files given.
    pub(crate) fn load(&self) -> anyhow::Result<References> {
        let mut all = References::bundled().map_err(anyhow::Error::msg)?;
        for (exchange, path) in &self.files {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
            all.load(*exchange, &path.display().to_string(), &text)
                .map_err(anyhow::Error::msg)?;
        }
        Ok(all)
    }
}

/// What `--reference` takes, from the venues' profiles.
fn reference_help() -> String {
    let kinds: Vec<String> = Exchange::ALL
        .into_iter()
        .filter_map(|e| {
            crate::exchange::reference::spec_of(e).map(|s| {
                format!(
                    "{}: its {} (shipped: {})",
                    e.lowercase(),
                    s.what,
                    s.bundled_file
                )
            })
        })
        .collect();
    format!(
        "A venue's reference data from FILE instead of the shipped copy, EXCHANGE=FILE \
         (repeatable; `tickflow symbols` writes one): {}. Connectors with [markets] take it \
         from the live listing instead",
        kinds.join("; ")
    )
}

/// `binance=FILE`: a venue that keeps reference data, and the file.
fn parse_reference(text: &str) -> Result<(Exchange, std::path::PathBuf), String> {
    let (name, path) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not EXCHANGE=FILE"))?;
    let exchange = Exchange::parse(name)
        .ok_or_else(|| format!("unknown exchange `{name}` ({})", venue_names()))?;
    if crate::exchange::reference::spec_of(exchange).is_none() {
        return Err(format!(
            "{name} keeps no reference data: its symbols spell the instrument"
        ));
    }
    Ok((exchange, std::path::PathBuf::from(path)))
}
