//! `tickflow simulate`: a local WebSocket server speaking each exchange's protocol closely
//! enough that the real adapters and runtime connect to it unchanged. One file per venue
//! (`<venue>.rs`, mirroring `src/exchange/<venue>/`) implements [`Protocol`] for its paths;
//! [`ROUTES`] lists them. This file is the generic server: routing, pacing, faults.
//!
//! Paths (one port for all):
//! - `/upbit/websocket/v1` — Upbit: `[{ticket},{type,codes}...,{format}]` subscribe (ticker,
//!   trade, orderbook), JSON in binary frames, `PING` → `{"status":"UP"}`.
//! - `/bithumb/websocket/v1` — Bithumb v1: the same protocol in text frames, string trade ids,
//!   orderbook times in µs strings.
//! - `/bithumb/pub/ws` — Bithumb legacy: connect notice, `{"type":"ticker"|"transaction",
//!   "symbols":[..]}` subscribes and their acks, all-string values with KST times.
//! - `/binance/stream?streams=a@ticker/b@trade` (subscribed by URL) or `/binance/ws`,
//!   `/binance/stream` plus `{"method":"SUBSCRIBE"}` (acked): ticker, miniTicker, bookTicker,
//!   trade, aggTrade; server pings on a period.
//!
//! Each connection streams its subscribed (instrument, channel) pairs round-robin at `rate`
//! frames/s.

mod binance;
mod bithumb;
pub mod fault;
pub mod market;
mod upbit;

use crate::exchange::SymbolTable;
use crate::model::Instrument;
use fault::{Action, Fault};
use futures_util::{SinkExt, StreamExt};
use market::Market;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::{Message, http};

/// Simulator settings.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Frames per second per connection (after its subscription).
    pub rate: u32,
    /// Seed of the price walks (each connection derives its own).
    pub seed: u64,
    /// Binance server ping period.
    pub binance_ping: Duration,
    /// Maps Binance symbols to instruments (for prices and stream names).
    pub binance_symbols: Arc<SymbolTable>,
    /// Fault for connections whose URL names none.
    pub default_fault: Option<Fault>,
}

/// A venue's protocol, as the simulator speaks it.
pub(crate) trait Protocol: Send {
    /// Sent right after the handshake (Bithumb legacy's connect notice).
    fn greeting(&self) -> Option<Message> {
        None
    }
    /// This protocol's error message, for [`fault::FaultKind::Error`].
    fn error_frame(&self) -> &'static str;
    /// Server ping period (Binance pings its clients).
    fn server_ping(&self, _config: &SimConfig) -> Option<Duration> {
        None
    }
    /// A feed the URL itself names (Binance `?streams=`).
    fn url_feed(&mut self, _config: &SimConfig) -> Option<Feed> {
        None
    }
    /// Answers one client message; may replace the feed.
    fn on_text(&mut self, text: &str, config: &SimConfig) -> (Vec<Message>, Option<Feed>);
}

/// Finds the protocol of a path (and query); `None` when it is not this venue's.
pub(crate) type Route = fn(path: &str, query: &str) -> Option<Box<dyn Protocol>>;

/// Every venue's routes.
const ROUTES: [Route; 3] = [upbit::route, binance::route, bithumb::route];

fn route(path_and_query: &str) -> Option<Box<dyn Protocol>> {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    ROUTES.iter().find_map(|r| r(path, query))
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Serves connections from `listener` until `shutdown` turns true.
pub async fn serve(listener: TcpListener, config: SimConfig, mut shutdown: watch::Receiver<bool>) {
    let config = Arc::new(config);
    let mut connection_id: u64 = 0;
    loop {
        tokio::select! {
            // Shutdown wins over new connections so the server stops promptly.
            biased;
            _ = shutdown.changed() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    connection_id += 1;
                    let seed = config.seed ^ connection_id.wrapping_mul(0x9e37_79b9_7f4a_7c15);
                    tokio::spawn(connection(stream, peer, Arc::clone(&config), seed, shutdown.clone()));
                }
                Err(e) => tracing::warn!("simulate: accept failed: {e}"),
            },
        }
    }
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    config: Arc<SimConfig>,
    seed: u64,
    shutdown: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let mut chosen = None;
    // The callback's error type is tungstenite's (a full HTTP response); it is built once per
    // refused connection, so its size does not matter.
    #[allow(clippy::result_large_err)]
    let check_path = |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
        let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
        match route(path) {
            Some(r) => {
                let query = path.split_once('?').map_or("", |(_, q)| q);
                chosen = Some((r, Fault::from_query(query)));
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
    let Some((route, url_fault)) = chosen else {
        return;
    };
    let fault = url_fault.or(config.default_fault);
    let session = Session {
        ws,
        config,
        seed,
        shutdown,
        sent: 0,
        fault,
        error_frame: route.error_frame(),
        data_frames: 0,
    };
    if let Err(e) = session.run(route).await {
        // Clients going away (resets at shutdown) are routine for a load generator.
        tracing::debug!(%peer, "simulate: connection ended: {e}");
    }
}

type WsResult<T> = Result<T, tokio_tungstenite::tungstenite::Error>;

/// Builds one frame of a stream (its channel index) from an instrument's new quote at a time
/// in ms.
pub(crate) type BuildFrame = Box<dyn Fn(usize, &market::Quote, i64) -> Message + Send + Sync>;

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

struct Session {
    ws: WebSocketStream<TcpStream>,
    config: Arc<SimConfig>,
    seed: u64,
    shutdown: watch::Receiver<bool>,
    /// Frames sent since the current subscription (pacing).
    sent: u64,
    /// Fault to inject, if any.
    fault: Option<Fault>,
    /// This protocol's error message, for [`fault::FaultKind::Error`].
    error_frame: &'static str,
    /// Data frames over the connection's life (fault timing).
    data_frames: u64,
}

/// Whether a data frame's fault ended the connection.
enum After {
    Continue,
    Stop,
}

/// What the client just sent, as far as a protocol loop cares.
enum Incoming {
    Text(String),
    Closed,
}

impl Session {
    /// Streams the protocol's feed until the client leaves; the protocol answers client
    /// messages (pings, subscriptions) and may replace the feed.
    async fn run(mut self, mut protocol: Box<dyn Protocol>) -> WsResult<()> {
        if let Some(greeting) = protocol.greeting() {
            self.ws.send(greeting).await?;
        }
        let server_ping = protocol.server_ping(&self.config);
        let mut feed = protocol.url_feed(&self.config);
        let instruments = feed.as_ref().map(Feed::instruments).unwrap_or_default();
        let mut market = Market::new(&instruments, self.seed);
        let mut started = Instant::now();
        let mut next_stream = 0usize;
        let mut tick = tokio::time::interval(Duration::from_millis(5));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let ping_every = server_ping.unwrap_or(Duration::from_secs(3600));
        let mut ping =
            tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
        loop {
            tokio::select! {
                // Shutdown first, then client messages (subscriptions change what we send),
                // then pings, then data.
                biased;
                _ = self.shutdown.changed() => {
                    let _ = self.ws.close(None).await;
                    return Ok(());
                }
                incoming = next_text(&mut self.ws) => match incoming? {
                    Incoming::Closed => return Ok(()),
                    Incoming::Text(text) => {
                        let (replies, new_feed) = protocol.on_text(&text, &self.config);
                        for reply in replies {
                            self.ws.feed(reply).await?;
                        }
                        self.ws.flush().await?;
                        if let Some(f) = new_feed {
                            market = Market::new(&f.instruments(), self.seed);
                            feed = Some(f);
                            started = Instant::now();
                            self.sent = 0;
                        }
                    }
                },
                _ = ping.tick(), if server_ping.is_some() => {
                    self.ws.send(Message::Ping(format!("{}", now_ms()).into_bytes().into())).await?;
                }
                _ = tick.tick() => {
                    let Some(f) = feed.as_ref().filter(|f| !f.streams.is_empty()) else { continue };
                    let due = (started.elapsed().as_secs_f64() * f64::from(self.config.rate)) as u64;
                    let batch = due.saturating_sub(self.sent).min(10_000);
                    let now = now_ms();
                    for _ in 0..batch {
                        let (instrument, channel) = &f.streams[next_stream % f.streams.len()];
                        next_stream = next_stream.wrapping_add(1);
                        let Some(q) = market.step(instrument) else { continue };
                        let frame = (f.build)(*channel, q, now);
                        if let After::Stop = self.send_data(frame).await? {
                            return Ok(());
                        }
                    }
                    if batch > 0 {
                        self.ws.flush().await?;
                        self.sent += batch;
                    }
                }
            }
        }
    }

    /// Sends one data frame, applying the connection's fault.
    async fn send_data(&mut self, frame: Message) -> WsResult<After> {
        self.data_frames += 1;
        let action = self
            .fault
            .map_or(Action::Send, |f| f.action(self.data_frames));
        match action {
            Action::Send => self.ws.feed(frame).await?,
            Action::Skip => {}
            Action::Truncate => self.ws.feed(fault::truncated(&frame)).await?,
            Action::Pad(size) => self.ws.feed(fault::padded(&frame, size)).await?,
            Action::ErrorFirst => {
                self.ws.feed(Message::text(self.error_frame)).await?;
                self.ws.feed(frame).await?;
            }
            Action::Drop => {
                // Flush what was promised, then vanish without a close frame.
                self.ws.flush().await?;
                return Ok(After::Stop);
            }
            Action::Stall => {
                self.ws.flush().await?;
                // Silent until shutdown: no frames, no reads (so no pongs either).
                let _ = self.shutdown.changed().await;
                return Ok(After::Stop);
            }
        }
        Ok(After::Continue)
    }
}

/// The next text-ish message from the client; binary is treated as UTF-8 text like Upbit does.
async fn next_text(ws: &mut WebSocketStream<TcpStream>) -> WsResult<Incoming> {
    loop {
        match ws.next().await {
            None => return Ok(Incoming::Closed),
            Some(Err(e)) => return Err(e),
            Some(Ok(Message::Text(t))) => return Ok(Incoming::Text(t.to_string())),
            Some(Ok(Message::Binary(b))) => {
                return Ok(Incoming::Text(String::from_utf8_lossy(&b).into_owned()));
            }
            Some(Ok(Message::Close(_))) => return Ok(Incoming::Closed),
            // Pings are answered by tungstenite itself; pongs need nothing.
            Some(Ok(_)) => {}
        }
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
}
