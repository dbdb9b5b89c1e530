//! `tickflow simulate`: a local server speaking each exchange's protocol closely enough that
//! the real adapters, runtime and listing decoders connect to it unchanged. One file per venue
//! (`<venue>.rs`, mirroring `src/exchange/<venue>/`) states its [`SimVenue`]: the
//! [`Protocol`] of its WebSocket paths (under `/<exchange>`), its REST listing, how its listing
//! is made and what `--help` says of it; [`VENUES`] lists them. This file is the generic
//! server: telling WebSocket upgrades from plain HTTP, routing, the shared state.
//!
//! Plain HTTP on the same port (`rest.rs`): each venue's REST listing at its own path under
//! `/<exchange>` and the control endpoints `POST /sim/<exchange>/list`, `/delist` and `/status`
//! that change the shared [`Listings`] while connections run.
//!
//! Each connection streams its subscribed (instrument, channel) pairs round-robin at `rate`
//! frames/s, skipping those whose market is not live.

mod binance;
mod bithumb;
mod coinone;
pub mod fault;
pub mod listings;
pub mod market;
mod rest;
mod session;
mod upbit;

pub use listings::{ListingSizes, Listings, SimListingError, SimMarket};

use crate::exchange::reference::{Reference, References};
use crate::model::listing::ListingStatus;
use crate::model::{Exchange, Instrument};
use fault::Fault;
use listings::VenueListing;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::{Message, http};

/// Simulator settings.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Frames per second per connection (after its subscription).
    pub rate: u32,
    /// Seed of the price walks (each connection derives its own).
    pub seed: u64,
    /// Server ping period, on venues whose servers ping their clients.
    pub server_ping: Duration,
    /// Every venue's reference data; where it names markets (a symbol table), they are listed
    /// (with their statuses) besides the simulator's own and generated ones
    /// ([`SimVenue::table_markets`]).
    pub references: References,
    /// Fault for connections whose URL names none.
    pub default_fault: Option<Fault>,
}

impl Listings {
    /// The listings of `sizes` with `config`'s symbol table listed too.
    pub fn for_config(config: &SimConfig, sizes: &ListingSizes) -> Self {
        let extra: Vec<SimMarket> = VENUES
            .iter()
            .filter_map(|v| {
                let markets = v.table_markets?;
                Some(markets(config.references.get(v.listing.exchange)))
            })
            .flatten()
            .collect();
        Self::new(sizes, &extra)
    }
}

/// What every connection shares: the settings and the listings.
pub(crate) struct Context {
    pub config: SimConfig,
    pub listings: Arc<Listings>,
}

/// A venue's protocol, as the simulator speaks it.
pub(crate) trait Protocol: Send {
    /// The venue whose listing decides which streams are live.
    fn exchange(&self) -> Exchange;
    /// Sent right after the handshake (Bithumb legacy's connect notice).
    fn greeting(&self) -> Option<Message> {
        None
    }
    /// This protocol's error message, for [`fault::FaultKind::Error`].
    fn error_frame(&self) -> &'static str;
    /// How this venue announces a close, for [`fault::FaultKind::Shutdown`] (none: the fault
    /// only closes).
    fn closing_frame(&self) -> Option<String> {
        None
    }
    /// Server ping period, where the venue pings its clients ([`SimConfig::server_ping`]).
    fn server_ping(&self, _config: &SimConfig) -> Option<Duration> {
        None
    }
    /// A feed the URL itself names (Binance `?streams=`).
    fn url_feed(&mut self, _cx: &Context) -> Option<Feed> {
        None
    }
    /// Answers one client message; may replace the feed.
    fn on_text(&mut self, text: &str, cx: &Context) -> (Vec<Message>, Option<Feed>);
}

/// Finds the protocol of a path (and query); `None` when it is not this venue's.
pub(crate) type Route = fn(path: &str, query: &str) -> Option<Box<dyn Protocol>>;

/// Answers a plain `GET` of a venue's REST path with its JSON body; `None` when the path is not
/// this venue's.
pub(crate) type RestRoute = fn(path: &str, query: &str, listings: &Listings) -> Option<String>;

/// One venue as the simulator serves it.
pub(crate) struct SimVenue {
    /// Its WebSocket paths.
    pub route: Route,
    /// Its REST listing.
    pub rest: RestRoute,
    /// How its listing is made.
    pub listing: VenueListing,
    /// The venue's own names of listing statuses (`HALT`), where its listing carries them:
    /// `POST /sim/<exchange>/status?status=` takes them besides the canonical codes.
    pub status_name: Option<fn(ListingStatus) -> &'static str>,
    /// The markets its reference data names (a symbol table), listed too.
    pub table_markets: Option<fn(&Reference) -> Vec<SimMarket>>,
    /// What `tickflow simulate --help` says of it: its paths, channels, how a subscription
    /// changes, its listing's path and query.
    pub help: &'static str,
    /// Its endpoints for the startup banner, `(label, path)`: each WebSocket API, then the
    /// listing.
    pub endpoints: &'static [(&'static str, &'static str)],
}

/// Every venue the simulator speaks, one per [`Exchange`], in [`Exchange::ALL`] order.
pub(crate) const VENUES: [&SimVenue; 4] = [
    &upbit::VENUE,
    &binance::VENUE,
    &bithumb::VENUE,
    &coinone::VENUE,
];

fn route(path_and_query: &str) -> Option<Box<dyn Protocol>> {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    VENUES.iter().find_map(|v| (v.route)(path, query))
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Serves connections from `listener` until `shutdown` turns true, with the default
/// [`ListingSizes`] (and `config`'s Binance symbols) listed.
pub async fn serve(listener: TcpListener, config: SimConfig, shutdown: watch::Receiver<bool>) {
    let listings = Arc::new(Listings::for_config(&config, &ListingSizes::default()));
    serve_with(listener, config, listings, shutdown).await;
}

/// Serves connections from `listener` until `shutdown` turns true, with `listings` (keep a
/// clone of the `Arc` to list and delist while it runs).
pub async fn serve_with(
    listener: TcpListener,
    config: SimConfig,
    listings: Arc<Listings>,
    mut shutdown: watch::Receiver<bool>,
) {
    let cx = Arc::new(Context { config, listings });
    let mut connection_id: u64 = 0;
    loop {
        tokio::select! {
            // Shutdown wins over new connections so the server stops promptly.
            biased;
            _ = shutdown.changed() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    connection_id += 1;
                    let seed = cx.config.seed ^ connection_id.wrapping_mul(0x9e37_79b9_7f4a_7c15);
                    tokio::spawn(connection(stream, peer, Arc::clone(&cx), seed, shutdown.clone()));
                }
                Err(e) => tracing::warn!("simulate: accept failed: {e}"),
            },
        }
    }
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    cx: Arc<Context>,
    seed: u64,
    shutdown: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    // The request head is peeked, not read: a WebSocket upgrade goes to tungstenite with its
    // bytes intact, anything else is answered as plain HTTP.
    match rest::classify(&stream).await {
        rest::Head::Upgrade => {}
        rest::Head::Plain => return rest::answer(stream, peer, &cx.listings).await,
        rest::Head::TooLarge => return rest::refuse_too_large(stream).await,
        rest::Head::Gone => return,
    }
    let mut chosen = None;
    // The callback's error type is tungstenite's (a full HTTP response); it is built once per
    // refused connection, so its size does not matter.
    #[allow(clippy::result_large_err)]
    let check_path = |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
        let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
        match route(path) {
            Some(r) => {
                let query = path.split_once('?').map_or("", |(_, q)| q);
                chosen = Some((r, Fault::from_query(query), fault::latency(query)));
                Ok(resp)
            }
            None => {
                let mut not_found = ErrorResponse::new(Some(format!("no exchange at {path}")));
                *not_found.status_mut() = http::StatusCode::NOT_FOUND;
                Err(not_found)
            }
        }
    };
    let handshake = tokio_tungstenite::accept_hdr_async(stream, check_path);
    let ws = match tokio::time::timeout(Duration::from_secs(10), handshake).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => return tracing::warn!(%peer, "simulate: handshake failed: {e}"),
        Err(_) => return tracing::warn!(%peer, "simulate: handshake timed out"),
    };
    let Some((route, url_fault, latency)) = chosen else {
        return;
    };
    // A venue far away: its first answer comes `latency` after the handshake (what a real
    // connect and subscribe cost over TLS and the Internet).
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let fault = url_fault.or(cx.config.default_fault);
    let session = session::Session {
        ws,
        cx,
        seed,
        shutdown,
        sent: 0,
        fault,
        error_frame: route.error_frame(),
        closing_frame: route.closing_frame(),
        close_at: None,
        data_frames: 0,
    };
    if let Err(e) = session.run(route).await {
        // Clients going away (resets at shutdown) are routine for a load generator.
        tracing::debug!(%peer, "simulate: connection ended: {e}");
    }
}

/// Builds one frame of a stream (its channel index) from an instrument's new quote at a time
/// in ms (a trade stream takes its next id from the quote).
pub(crate) type BuildFrame = Box<dyn Fn(usize, &mut market::Quote, i64) -> Message + Send + Sync>;

/// What a subscribed connection streams.
pub(crate) struct Feed {
    /// The streams, round-robin: an instrument and the index of its channel.
    pub streams: Vec<(Instrument, usize)>,
    /// Builds one frame of a stream.
    pub build: BuildFrame,
}

impl Feed {
    /// Every instrument on every channel, instrument by instrument.
    pub fn every(instruments: &[Instrument], channels: usize, build: BuildFrame) -> Self {
        let streams = instruments
            .iter()
            .flat_map(|i| (0..channels).map(move |c| (i.clone(), c)))
            .collect();
        Self { streams, build }
    }

    fn instruments(&self) -> Vec<Instrument> {
        self.streams.iter().map(|(i, _)| i.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        for path in [
            "/upbit/websocket/v1",
            "/bithumb/websocket/v1",
            "/bithumb/pub/ws",
            "/binance/ws",
            "/binance/stream?streams=btcusdt@ticker/ethbtc@miniTicker",
        ] {
            assert!(route(path).is_some(), "{path}");
        }
        assert!(route("/kraken").is_none());
        assert!(route("/upbit/ws").is_none());
    }

    #[test]
    fn every_exchange_has_one_listing_spec() {
        let specs: Vec<Exchange> = VENUES.iter().map(|v| v.listing.exchange).collect();
        assert_eq!(specs, Exchange::ALL);
    }

    /// Every instrument a shipped connector names is listed on its venue by default, so the
    /// bundled connectors subscribe against the simulator unchanged.
    #[test]
    fn shipped_connectors_instruments_are_listed() {
        let references = References::bundled().unwrap();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("connectors");
        let connectors = crate::config::load_connectors(&dir, &references).unwrap();
        let config = SimConfig {
            rate: 1,
            seed: 1,
            server_ping: Duration::from_secs(1),
            references,
            default_fault: None,
        };
        let listings = Listings::for_config(&config, &ListingSizes::all(0));
        let mut checked = 0;
        for c in &connectors {
            for i in &c.instruments {
                assert!(listings.is_live(c.exchange, i), "{}: {i}", c.name);
                checked += 1;
            }
        }
        assert!(checked >= 17, "{checked}");
    }
}
