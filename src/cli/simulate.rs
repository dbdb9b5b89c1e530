//! `tickflow simulate`: run the local exchange simulator until Ctrl-C or SIGTERM.

use crate::exchange::SymbolTable;
use crate::model::Exchange;
use crate::model::listing::ListingStatus;
use crate::sim::fault::{Fault, FaultKind};
use crate::sim::{ListingSizes, Listings, SimConfig, serve_with};
use anyhow::Context;
use clap::Args;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// One-line summary for `tickflow --help`.
pub(super) const ABOUT: &str = "Run a local server that speaks the Upbit, Binance and Bithumb \
WebSocket protocols and serves their market listings";

/// Full description for `tickflow simulate --help`.
pub(super) const LONG_ABOUT: &str = "Runs a local WebSocket server (with the venues' REST \
listings on the same port) that speaks each exchange's public market-data protocol closely \
enough that tickflow's adapters connect to it unchanged: Upbit (/upbit/websocket/v1, binary \
frames; ticker, trade, orderbook), Bithumb v1 (/bithumb/websocket/v1; the same channels), Bithumb legacy (/bithumb/pub/ws; ticker, \
transaction) and Binance (/binance/stream?streams=..., or /binance/ws with SUBSCRIBE; server \
pings; ticker, miniTicker, bookTicker, trade, aggTrade). After a client subscribes, it streams \
synthetic data (random walks with exact decimals) for every subscribed instrument and channel, \
round-robin, at --rate frames per second per connection. Upbit and Bithumb v1: a new subscribe \
request replaces the connection's set; Binance: SUBSCRIBE adds streams, UNSUBSCRIBE removes \
them (both acked), LIST_SUBSCRIPTIONS lists them, a symbol not listed is refused \
({\"error\":{\"code\":2,\"msg\":\"Invalid symbol: ...\"}}). Instruments a connection keeps \
across a change go on with their prices and trade ids.\n\n\
Listings: each venue lists synthetic markets, served on the same port at the venue's own REST \
paths: GET /upbit/v1/market/all (?is_details=true adds market_event warnings and cautions), \
GET /bithumb/v1/market/all (?isDetails=true adds market_warning) and GET \
/binance/api/v3/exchangeInfo (status, assets, PRICE_FILTER and LOT_SIZE). They hold the \
markets the shipped connectors name, the --binance-symbols table, and generated ones \
(S0001-KRW, S0002USDT, ...) up to --markets: by default upbit=530 (180 KRW, 240 BTC, 110 USDT; \
5 warned, 102 cautioned), binance=1300 trading plus 65 BREAK (5 %), bithumb=450 KRW (22 under \
CAUTION). Only listed markets stream data (on Binance: TRADING, CANCEL_ONLY or AUCTION_MATCH); \
codes that are not listed send nothing. With --hot K, the first K markets of each listing take \
--hot-share percent of the frames of a connection that streams them.\n\n\
Control, while it runs (200 and the market as JSON, 400 and the reason): POST \
/sim/EXCHANGE/list?instrument=ABC-KRW lists a market (or relists it); POST \
/sim/EXCHANGE/delist?instrument=ABC-KRW delists it (Upbit and Bithumb: it leaves market/all; \
Binance: it stays as BREAK), and its streams stop on every connection while the others go on; \
POST /sim/binance/status?instrument=ABC-USDT&status=HALT sets a Binance status. Other paths \
answer 404; a request head above 16 KiB 431, a malformed one 400.\n\n\
Faults for testing reconnects and the DLQ: add \
`fault=drop|stall|silent|malformed|error|oversize|giant|shutdown|skip&after=N` to a connection's URL query, \
or use --fault for all connections. drop closes the socket after N data frames; stall goes \
silent after N (no frames, no reads, so no pongs); silent stops the data after N but keeps \
pinging and answering pings; malformed truncates every Nth frame; error sends the exchange's \
error message before every Nth frame; oversize pads every Nth frame to 10 MiB, giant to 20 MiB \
(above tickflow's 16 MiB socket cap); shutdown announces a close after N frames the way the \
venue does (Binance serverShutdown), keeps streaming and closes 3 s later. `latency_ms=N` in \
the query makes the connection answer N ms after its handshake (a venue far away); skip withholds \
every Nth frame (on a Binance trade stream, whose ids are consecutive, a sequence gap of one id).\n\n\
The first line on stdout is `listening on ADDRESS` (useful with --bind 127.0.0.1:0). Stops on \
Ctrl-C or SIGTERM.";

/// Examples, environment and exit codes for `tickflow simulate --help`.
pub(super) const AFTER_HELP: &str = "Example:\n  \
tickflow simulate --bind 127.0.0.1:9001 --rate 1000 --markets binance=2000\n  \
then connect to ws://127.0.0.1:9001/binance/stream?streams=btcusdt@ticker\n  \
curl http://127.0.0.1:9001/upbit/v1/market/all?is_details=true\n  \
curl -X POST 'http://127.0.0.1:9001/sim/upbit/delist?instrument=ETH-KRW'\n\n\
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
    /// picks one per connection): drop, stall, silent, malformed, error, oversize, giant or
    /// skip.
    #[arg(long, value_parser = parse_fault_kind)]
    fault: Option<FaultKind>,
    /// Data frames before the fault (and its period for malformed, error, oversize, giant and
    /// skip).
    #[arg(long, default_value_t = Fault::DEFAULT_AFTER, value_parser = clap::value_parser!(u64).range(1..))]
    fault_after: u64,
    /// Binance symbol table (defaults to the bundled one): listed besides the generated
    /// symbols, with their statuses.
    #[arg(long, value_name = "FILE")]
    binance_symbols: Option<PathBuf>,
    /// Markets a venue lists, `EXCHANGE=N` (repeatable), or `N` for every venue; at least the
    /// named ones. Defaults: upbit=530, binance=1300 (trading; 5 % more as BREAK),
    /// bithumb=450.
    #[arg(long, value_name = "[EXCHANGE=]N", value_parser = parse_markets)]
    markets: Vec<(Option<Exchange>, usize)>,
    /// Busy markets: the first K of each venue's listing (BTC-KRW, ETH-KRW, ... on Upbit;
    /// BTC-USDT, ETH-USDT, ... on Binance) take --hot-share percent of a connection's frames,
    /// the other streams the rest. 0: every stream gets the same share.
    #[arg(long, value_name = "K", default_value_t = 0)]
    hot: usize,
    /// Percent of the frames the --hot markets take.
    #[arg(
        long,
        value_name = "PCT",
        default_value_t = 80,
        value_parser = clap::value_parser!(u32).range(1..=99)
    )]
    hot_share: u32,
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
    let mut sizes = ListingSizes::default();
    for (exchange, n) in &args.markets {
        match exchange {
            Some(e) => sizes.set(*e, *n),
            None => Exchange::ALL.iter().fold(&mut sizes, |s, e| s.set(*e, *n)),
        };
    }
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
    let listings =
        Arc::new(Listings::for_config(&config, &sizes).with_hot(args.hot, args.hot_share));
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
            .and_then(|()| {
                writeln!(
                    out,
                    "  listings        http://{addr}/upbit/v1/market/all?is_details=true \
                     /bithumb/v1/market/all /binance/api/v3/exchangeInfo"
                )
            })
            .and_then(|()| writeln!(out, "                  {}", summary(&listings)))
            .and_then(|()| {
                writeln!(
                    out,
                    "  control         POST http://{addr}/sim/EXCHANGE/list|delist?instrument=BASE-QUOTE"
                )
            })
            .and_then(|()| out.flush());
        drop(out);
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let server = tokio::spawn(serve_with(listener, config, listings, stopped));
        super::Signals::new()?.first(None).await;
        let _ = stop.send(true);
        // Give connections a moment to send their close frames.
        let _ = tokio::time::timeout(Duration::from_secs(2), server).await;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `upbit 530 markets, binance 1365 markets (65 BREAK), bithumb 450 markets`.
fn summary(listings: &Listings) -> String {
    Exchange::ALL
        .iter()
        .map(|e| {
            let markets = listings.markets(*e);
            let broken = markets
                .iter()
                .filter(|m| m.status == ListingStatus::Break)
                .count();
            let name = e.as_str().to_ascii_lowercase();
            match broken {
                0 => format!("{name} {} markets", markets.len()),
                b => format!("{name} {} markets ({b} BREAK)", markets.len()),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `upbit=530` or `530`.
fn parse_markets(text: &str) -> Result<(Option<Exchange>, usize), String> {
    let (exchange, n) = match text.split_once('=') {
        Some((e, n)) => {
            let names: Vec<&str> = Exchange::ALL.iter().map(|e| e.as_str()).collect();
            let e = Exchange::parse(e)
                .ok_or_else(|| format!("`{e}` is not an exchange ({})", names.join(", ")))?;
            (Some(e), n)
        }
        None => (None, text),
    };
    let n = n
        .parse::<usize>()
        .map_err(|_| format!("`{n}` is not a number of markets"))?;
    Ok((exchange, n))
}

fn parse_fault_kind(name: &str) -> Result<FaultKind, String> {
    FaultKind::parse(name).ok_or_else(|| {
        format!(
            "`{name}` is not drop, stall, silent, malformed, error, oversize, giant, shutdown or skip"
        )
    })
}
