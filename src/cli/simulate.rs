//! `tickflow simulate`: run the local exchange simulator until Ctrl-C or SIGTERM.

use crate::model::Exchange;
use crate::model::listing::ListingStatus;
use crate::sim::fault::{Fault, FaultKind};
use crate::sim::{ListingSizes, Listings, SimConfig, VENUES, serve_with};
use anyhow::Context;
use clap::Args;
use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// One-line summary for `tickflow --help`.
pub(super) fn about() -> String {
    format!(
        "Run a local server that speaks the {} WebSocket protocols and serves their market \
         listings",
        super::venue_prose()
    )
}

/// Full description for `tickflow simulate --help`: the generic server, then each venue's own
/// paragraph ([`crate::sim::SimVenue::help`]).
pub(super) fn long_about() -> String {
    let venues: Vec<&str> = VENUES.iter().map(|v| v.help).collect();
    let defaults: Vec<String> = VENUES
        .iter()
        .map(|v| {
            let name = v.listing.exchange.lowercase();
            format!("{name}={}", v.listing.default_markets)
        })
        .collect();
    format!(
        "Runs a local WebSocket server (with the venues' REST listings on the same port) that \
speaks each exchange's public market-data protocol closely enough that tickflow's adapters \
connect to it unchanged, each under /<exchange>. After a client subscribes, it streams \
synthetic data (random walks with exact decimals) for every subscribed instrument and channel, \
round-robin, at --rate frames per second per connection. Instruments a connection keeps across \
a change go on with their prices and trade ids.\n\n{}\n\n\
Listings: each venue lists synthetic markets at its own REST path: the markets the shipped \
connectors name, a symbol table's on venues whose symbols come from one, and generated ones \
(S0001-KRW, S0002USDT, ...) up to --markets, by default as many as the real venue lists \
({}; a venue whose listing carries statuses lists 5 % more as BREAK). Only listed markets \
stream data; codes that are not listed send nothing. With --hot K, the first K markets of each \
listing take --hot-share percent of the frames of a connection that streams them.\n\n\
Control, while it runs (200 and the market as JSON, 400 and the reason): POST \
/sim/EXCHANGE/list?instrument=ABC-KRW lists a market (or relists it); POST \
/sim/EXCHANGE/delist?instrument=ABC-KRW delists it (it leaves the venue's listing, or stays \
there as BREAK where the listing carries statuses), and its streams stop on every connection \
while the others go on; POST /sim/EXCHANGE/status?instrument=ABC-USDT&status=HALT sets the \
status of a market on a venue with statuses. Other paths answer 404; a request head above 16 \
KiB 431, a malformed one 400.\n\n\
Faults for testing reconnects and the DLQ: add \
`fault=drop|stall|silent|malformed|error|oversize|giant|shutdown|skip|repeat&after=N` to a \
connection's URL query, or use --fault for all connections. drop closes the socket after N \
data frames; stall goes silent after N (no frames, no reads, so no pongs); silent stops the \
data after N but keeps pinging and answering pings; malformed truncates every Nth frame; error \
sends the exchange's error message before every Nth frame; oversize pads every Nth frame to 10 \
MiB, giant to 20 MiB (above tickflow's 16 MiB socket cap); shutdown announces a close after N \
frames the way the venue does (where it does), keeps streaming and closes 3 s later. \
`latency_ms=N` in the query makes the connection answer N ms after its handshake (a venue far \
away); skip withholds every Nth frame (on a stream whose ids are consecutive, a sequence gap \
of one id); repeat sends every Nth frame twice (a venue restating a state).\n\n\
The first line on stdout is `listening on ADDRESS` (useful with --bind 127.0.0.1:0). Stops on \
Ctrl-C or SIGTERM.",
        venues.join("\n\n"),
        defaults.join(", ")
    )
}

/// Examples, environment and exit codes for `tickflow simulate --help`.
pub(super) fn after_help() -> String {
    let first = VENUES[0];
    let name = first.listing.exchange.lowercase();
    let endpoint = |listing: bool| {
        first
            .endpoints
            .iter()
            .find(|(label, _)| (*label == LISTING) == listing)
            .map_or("/", |(_, path)| path)
    };
    let market = first.listing.named.get(1).copied().unwrap_or("ABC-KRW");
    format!(
        "Example:\n  \
tickflow simulate --bind 127.0.0.1:9001 --rate 1000 --markets {name}=2000\n  \
then connect to ws://127.0.0.1:9001{}\n  \
curl http://127.0.0.1:9001{}\n  \
curl -X POST 'http://127.0.0.1:9001/sim/{name}/delist?instrument={market}'\n\n\
Environment:\n  \
TICKFLOW_LOG                log filter: a level and target=level directives, e.g.\n  \
                            info (default), warn,tickflow::ws=debug, info,librdkafka=debug\n  \
TICKFLOW_LOG_FORMAT         text (default) | json (one JSON object per line)\n\n\
Exit codes:\n  \
0  stopped on SIGINT/SIGTERM\n  \
2  the address cannot be bound, or bad arguments",
        endpoint(false),
        endpoint(true)
    )
}

/// The label of a venue's listing among its [`crate::sim::SimVenue::endpoints`].
const LISTING: &str = "listing";

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
    /// Seconds between the server pings of venues whose servers ping their clients.
    #[arg(long, default_value_t = 20)]
    server_ping_secs: u64,
    /// Inject a fault into every connection whose URL names none (`?fault=KIND&after=N`
    /// picks one per connection): drop, stall, silent, malformed, error, oversize, giant, skip
    /// or repeat.
    #[arg(long, value_parser = parse_fault_kind)]
    fault: Option<FaultKind>,
    /// Data frames before the fault (and its period for malformed, error, oversize, giant and
    /// skip).
    #[arg(long, default_value_t = Fault::DEFAULT_AFTER, value_parser = clap::value_parser!(u64).range(1..))]
    fault_after: u64,
    #[command(flatten)]
    reference: super::ReferenceArgs,
    /// Markets a venue lists, `EXCHANGE=N` (repeatable), or `N` for every venue; at least the
    /// named ones. Defaults: as many as the real venue lists (see --help).
    #[arg(long, value_name = "[EXCHANGE=]N", value_parser = parse_markets)]
    markets: Vec<(Option<Exchange>, usize)>,
    /// Busy markets: the first K of each venue's listing (its named markets first: BTC-KRW,
    /// ETH-KRW, ...) take --hot-share percent of a connection's frames, the other streams the
    /// rest. 0: every stream gets the same share.
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
    let references = args.reference.load()?;
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
        server_ping: Duration::from_secs(args.server_ping_secs.max(1)),
        references,
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
        let _ =
            writeln!(out, "listening on {addr}").and_then(|()| banner(&mut out, addr, &listings));
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

/// Where each venue's sockets and listings are, the listings' sizes, the control path.
fn banner(out: &mut impl Write, addr: SocketAddr, listings: &Listings) -> std::io::Result<()> {
    let mut paths = Vec::new();
    for venue in VENUES {
        for (label, path) in venue.endpoints {
            if *label == LISTING {
                paths.push(*path);
            } else {
                writeln!(out, "  {label:<15} ws://{addr}{path}")?;
            }
        }
    }
    let (first, rest) = paths.split_first().map_or(("", &[][..]), |(f, r)| (*f, r));
    let mut line = format!("  listings        http://{addr}{first}");
    for path in rest {
        line.push(' ');
        line.push_str(path);
    }
    writeln!(out, "{line}")?;
    writeln!(out, "                  {}", summary(listings))?;
    writeln!(
        out,
        "  control         POST http://{addr}/sim/EXCHANGE/list|delist?instrument=BASE-QUOTE"
    )?;
    out.flush()
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
            let name = e.lowercase();
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
            "`{name}` is not drop, stall, silent, malformed, error, oversize, giant, shutdown, skip or repeat"
        )
    })
}
