//! `tickflow simulate`: run the local exchange simulator until Ctrl-C or SIGTERM.

use crate::exchange::SymbolTable;
use crate::sim::fault::{Fault, FaultKind};
use crate::sim::{SimConfig, serve};
use anyhow::Context;
use clap::Args;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// One-line summary for `tickflow --help`.
pub(super) const ABOUT: &str =
    "Run a local WebSocket server that speaks the Upbit, Binance and Bithumb protocols";

/// Full description for `tickflow simulate --help`.
pub(super) const LONG_ABOUT: &str = "Runs a local WebSocket server that speaks each exchange's public market-data \
protocol closely enough that tickflow's adapters connect to it unchanged: Upbit \
(/upbit/websocket/v1, binary frames; ticker, trade, orderbook), Bithumb v1 \
(/bithumb/websocket/v1; the same channels), Bithumb legacy (/bithumb/pub/ws; ticker, \
transaction) and Binance (/binance/stream?streams=..., or /binance/ws with SUBSCRIBE; server \
pings; ticker, miniTicker, bookTicker, trade, aggTrade). After a client subscribes, it streams \
synthetic data (random walks with exact decimals) for every subscribed instrument and \
channel, round-robin, at --rate frames per second per connection.\n\n\
Faults for testing reconnects and the DLQ: add \
`fault=drop|stall|silent|malformed|error|oversize|giant&after=N` to a connection's URL query, or \
use --fault for all connections. drop closes the socket after N data frames; stall goes silent \
after N (no frames, no reads, so no pongs); silent stops the data after N but keeps pinging and \
answering pings; malformed truncates every Nth frame; error sends the exchange's error message before \
every Nth frame; oversize pads every Nth frame to 10 MiB, giant to 20 MiB (above tickflow's \
16 MiB socket cap).\n\n\
The first line on stdout is `listening on ADDRESS` (useful with --bind 127.0.0.1:0). Stops on \
Ctrl-C or SIGTERM.";

/// Examples, environment and exit codes for `tickflow simulate --help`.
pub(super) const AFTER_HELP: &str = "Example:\n  tickflow simulate --bind 127.0.0.1:9001 --rate 1000\n  \
then connect to ws://127.0.0.1:9001/binance/stream?streams=btcusdt@ticker\n\n\
Environment:\n  \
TICKFLOW_LOG                log filter: a level and target=level directives, e.g.\n  \
                            info (default), warn,tickflow::ws=debug, info,librdkafka=debug\n  \
TICKFLOW_LOG_FORMAT         text (default) | json (one JSON object per line)\n\n\
Exit codes:\n  \
0  stopped on SIGINT/SIGTERM\n  \
2  the address cannot be bound, or bad arguments";

/// Arguments of `tickflow simulate`.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Address to listen on (loopback by default; port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:9001")]
    bind: SocketAddr,
    /// Frames per second per connection.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    rate: u32,
    /// Seed of the price walks.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Seconds between the server pings Binance sends.
    #[arg(long, default_value_t = 20)]
    binance_ping_secs: u64,
    /// Inject a fault into every connection whose URL names none (`?fault=KIND&after=N`
    /// picks one per connection): drop, stall, silent, malformed, error, oversize or giant.
    #[arg(long, value_parser = parse_fault_kind)]
    fault: Option<FaultKind>,
    /// Data frames before the fault (and its period for malformed and error).
    #[arg(long, default_value_t = Fault::DEFAULT_AFTER, value_parser = clap::value_parser!(u64).range(1..))]
    fault_after: u64,
    /// Binance symbol table (defaults to the bundled one).
    #[arg(long, value_name = "FILE")]
    binance_symbols: Option<PathBuf>,
}

/// Runs the simulator.
pub fn run(args: &SimulateArgs) -> anyhow::Result<ExitCode> {
    let symbols = match &args.binance_symbols {
        Some(path) => SymbolTable::from_csv(
            &std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?,
        )?,
        None => SymbolTable::bundled_binance()?,
    };
    let config = SimConfig {
        rate: args.rate,
        seed: args.seed,
        binance_ping: Duration::from_secs(args.binance_ping_secs.max(1)),
        binance_symbols: Arc::new(symbols),
        default_fault: args.fault.map(|kind| Fault {
            kind,
            after: args.fault_after,
        }),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.bind)
            .await
            .with_context(|| format!("binding {}", args.bind))?;
        let addr = listener.local_addr()?;
        // Best effort: a closed stdout (a test or script that read what it needed) must not
        // stop the server.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on {addr}")
            .and_then(|()| writeln!(out, "  upbit           ws://{addr}/upbit/websocket/v1"))
            .and_then(|()| writeln!(out, "  bithumb (v1)    ws://{addr}/bithumb/websocket/v1"))
            .and_then(|()| writeln!(out, "  bithumb legacy  ws://{addr}/bithumb/pub/ws"))
            .and_then(|()| {
                writeln!(
                    out,
                    "  binance         ws://{addr}/binance/stream?streams=btcusdt@ticker"
                )
            })
            .and_then(|()| out.flush());
        drop(out);
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let server = tokio::spawn(serve(listener, config, stopped));
        super::Signals::new()?.first(None).await;
        let _ = stop.send(true);
        // Give connections a moment to send their close frames.
        let _ = tokio::time::timeout(Duration::from_secs(2), server).await;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

fn parse_fault_kind(name: &str) -> Result<FaultKind, String> {
    FaultKind::parse(name).ok_or_else(|| {
        format!("`{name}` is not drop, stall, silent, malformed, error, oversize or giant")
    })
}
