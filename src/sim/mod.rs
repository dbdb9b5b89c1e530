//! `tickflow simulate`: a local WebSocket server speaking each exchange's protocol closely
//! enough that the real adapters (and, next, the real runtime) connect to it unchanged.
//!
//! Paths (one port for all):
//! - `/upbit/websocket/v1` — Upbit: `[{ticket},{type,codes},{format}]` subscribe, JSON in
//!   binary frames, `PING` → `{"status":"UP"}`.
//! - `/bithumb/websocket/v1` — Bithumb v1: the same protocol in text frames, string trade ids.
//! - `/bithumb/pub/ws` — Bithumb legacy: connect notice, `{"type":"ticker","symbols":[..]}`
//!   subscribe and its ack, all-string tickers with KST times.
//! - `/binance/stream?streams=a@ticker/b@miniTicker` (subscribed by URL) or `/binance/ws`,
//!   `/binance/stream` plus `{"method":"SUBSCRIBE"}` (acked) — server pings on a period.
//!
//! Each connection streams its subscribed instruments round-robin at `rate` frames/s.

pub mod fault;
mod frames;
pub mod market;

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

/// Which protocol a connection speaks, from its path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    Upbit,
    BithumbV1,
    BithumbLegacy,
    /// Binance; `Some` when the URL already names the streams.
    Binance(Option<String>),
}

fn route(path_and_query: &str) -> Option<Route> {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    match path {
        "/upbit/websocket/v1" => Some(Route::Upbit),
        "/bithumb/websocket/v1" => Some(Route::BithumbV1),
        "/bithumb/pub/ws" => Some(Route::BithumbLegacy),
        "/binance/ws" | "/binance/stream" => {
            let streams = query
                .split('&')
                .find_map(|kv| kv.strip_prefix("streams="))
                .filter(|s| !s.is_empty())
                .map(str::to_owned);
            Some(Route::Binance(streams))
        }
        _ => None,
    }
}

fn now_ms() -> i64 {
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
    let error_frame = match route {
        Route::Upbit | Route::BithumbV1 => {
            "{\"error\":{\"name\":\"INVALID_PARAM\",\"message\":\"simulated fault\"}}"
        }
        Route::BithumbLegacy => "{\"status\":\"5300\",\"resmsg\":\"simulated fault\"}",
        Route::Binance(_) => "{\"code\":-1,\"msg\":\"simulated fault\"}",
    };
    let session = Session {
        ws,
        config,
        seed,
        shutdown,
        sent: 0,
        fault,
        error_frame,
        data_frames: 0,
    };
    let result = match route {
        Route::Upbit => session.upbit_like(true).await,
        Route::BithumbV1 => session.upbit_like(false).await,
        Route::BithumbLegacy => session.bithumb_legacy().await,
        Route::Binance(streams) => session.binance(streams).await,
    };
    if let Err(e) = result {
        // Clients going away (resets at shutdown) are routine for a load generator.
        tracing::debug!(%peer, "simulate: connection ended: {e}");
    }
}

type WsResult<T> = Result<T, tokio_tungstenite::tungstenite::Error>;

/// Builds one frame for an instrument's new quote at a time in ms.
type BuildFrame = Box<dyn Fn(&market::Quote, i64) -> Message + Send + Sync>;

/// What a subscribed connection streams.
struct Feed {
    instruments: Vec<Instrument>,
    /// Builds one frame for an instrument's new quote.
    build: BuildFrame,
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
    /// Streams `feed` until the client leaves; `on_text` answers client messages (pings,
    /// re-subscriptions) and may replace the feed.
    async fn stream(
        mut self,
        mut feed: Option<Feed>,
        server_ping: Option<Duration>,
        mut on_text: impl FnMut(&str) -> (Vec<Message>, Option<Feed>),
    ) -> WsResult<()> {
        let mut market = Market::new(feed.as_ref().map_or(&[][..], |f| &f.instruments), self.seed);
        let mut started = Instant::now();
        let mut next_instrument = 0usize;
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
                        let (replies, new_feed) = on_text(&text);
                        for reply in replies {
                            self.ws.feed(reply).await?;
                        }
                        self.ws.flush().await?;
                        if let Some(f) = new_feed {
                            market = Market::new(&f.instruments, self.seed);
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
                    let Some(f) = feed.as_ref().filter(|f| !f.instruments.is_empty()) else { continue };
                    let due = (started.elapsed().as_secs_f64() * f64::from(self.config.rate)) as u64;
                    let batch = due.saturating_sub(self.sent).min(10_000);
                    let now = now_ms();
                    for _ in 0..batch {
                        let instrument = &f.instruments[next_instrument % f.instruments.len()];
                        next_instrument = next_instrument.wrapping_add(1);
                        let Some(q) = market.step(instrument) else { continue };
                        let frame = (f.build)(q, now);
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

    /// Upbit, and Bithumb v1 (`binary = false`: text frames and string trade ids).
    async fn upbit_like(self, binary: bool) -> WsResult<()> {
        let on_text = move |text: &str| -> (Vec<Message>, Option<Feed>) {
            if text == "PING" {
                return (vec![Message::text("{\"status\":\"UP\"}")], None);
            }
            match parse_upbit_request(text) {
                Ok((instruments, kind, simple)) => {
                    let build: BuildFrame = Box::new(move |q, now| {
                        let json = if kind == "trade" {
                            frames::upbit_trade(q, now, !binary)
                        } else {
                            frames::upbit_ticker(q, now, simple)
                        };
                        if binary {
                            Message::binary(json.into_bytes())
                        } else {
                            Message::text(json)
                        }
                    });
                    (vec![], Some(Feed { instruments, build }))
                }
                Err(why) => {
                    let err =
                        serde_json::json!({"error": {"name": "WRONG_FORMAT", "message": why}});
                    (vec![Message::text(err.to_string())], None)
                }
            }
        };
        self.stream(None, None, on_text).await
    }

    async fn bithumb_legacy(mut self) -> WsResult<()> {
        self.ws
            .send(Message::text(
                "{\"status\":\"0000\",\"resmsg\":\"Connected Successfully\"}",
            ))
            .await?;
        let on_text = |text: &str| -> (Vec<Message>, Option<Feed>) {
            match parse_bithumb_legacy_request(text) {
                Some((instruments, tick_type)) => {
                    let ack = "{\"status\":\"0000\",\"resmsg\":\"Filter Registered Successfully\"}";
                    let build: BuildFrame = Box::new(move |q, now| {
                        Message::text(frames::bithumb_legacy_ticker(q, now, &tick_type))
                    });
                    (vec![Message::text(ack)], Some(Feed { instruments, build }))
                }
                None => (
                    vec![Message::text(
                        "{\"status\":\"5100\",\"resmsg\":\"Invalid Filter Syntax\"}",
                    )],
                    None,
                ),
            }
        };
        self.stream(None, None, on_text).await
    }

    async fn binance(self, url_streams: Option<String>) -> WsResult<()> {
        let symbols = Arc::clone(&self.config.binance_symbols);
        let ping = Some(self.config.binance_ping);
        let feed =
            url_streams.map(|s| binance_feed(&symbols, s.split('/').map(str::to_owned).collect()));
        let on_text = move |text: &str| -> (Vec<Message>, Option<Feed>) {
            let request: serde_json::Value = match serde_json::from_str(text) {
                Ok(v) => v,
                Err(_) => {
                    return (
                        vec![Message::text("{\"code\":2,\"msg\":\"Invalid JSON\"}")],
                        None,
                    );
                }
            };
            let id = request
                .get("id")
                .cloned()
                .unwrap_or(serde_json::Value::Null);
            let streams: Option<Vec<String>> =
                request.get("params").and_then(|p| p.as_array()).map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect()
                });
            match (request.get("method").and_then(|m| m.as_str()), streams) {
                (Some("SUBSCRIBE"), Some(streams)) => {
                    let ack = serde_json::json!({"result": null, "id": id});
                    (
                        vec![Message::text(ack.to_string())],
                        Some(binance_feed(&symbols, streams)),
                    )
                }
                _ => {
                    let err = serde_json::json!({"code": 2, "msg": "Invalid request", "id": id});
                    (vec![Message::text(err.to_string())], None)
                }
            }
        };
        self.stream(feed, ping, on_text).await
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

/// `[{"ticket":..},{"type":"ticker","codes":["KRW-BTC"]},{"format":"SIMPLE"}]`.
fn parse_upbit_request(text: &str) -> Result<(Vec<Instrument>, String, bool), String> {
    let parts: Vec<serde_json::Value> =
        serde_json::from_str(text).map_err(|_| "request must be a JSON array".to_owned())?;
    if !parts.iter().any(|p| p.get("ticket").is_some()) {
        return Err("missing ticket".into());
    }
    let ty = parts
        .iter()
        .find_map(|p| p.get("type").and_then(|t| t.as_str()));
    let kind = match ty {
        Some(t @ ("ticker" | "trade")) => t.to_owned(),
        Some(t) => return Err(format!("type {t} is not simulated")),
        None => return Err("missing type".into()),
    };
    let codes = parts
        .iter()
        .find_map(|p| p.get("codes").and_then(|c| c.as_array()))
        .ok_or_else(|| "missing codes".to_owned())?;
    let instruments = codes
        .iter()
        .map(|c| {
            c.as_str()
                .and_then(crate::exchange::upbit::parse_market_code)
                .ok_or_else(|| format!("invalid code {c}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let simple = parts
        .iter()
        .find_map(|p| p.get("format").and_then(|f| f.as_str()))
        .is_some_and(|f| f == "SIMPLE");
    Ok((instruments, kind, simple))
}

/// `{"type":"ticker","symbols":["BTC_KRW"],"tickTypes":["24H"]}`.
fn parse_bithumb_legacy_request(text: &str) -> Option<(Vec<Instrument>, String)> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    if v.get("type")?.as_str()? != "ticker" {
        return None;
    }
    let instruments = v
        .get("symbols")?
        .as_array()?
        .iter()
        .map(|s| crate::exchange::bithumb::parse_legacy_symbol(s.as_str()?))
        .collect::<Option<Vec<_>>>()?;
    let tick_type = v
        .get("tickTypes")
        .and_then(|t| t.as_array())
        .and_then(|t| t.first())
        .and_then(|t| t.as_str())
        .unwrap_or("24H")
        .to_owned();
    Some((instruments, tick_type))
}

/// Streams like `btcusdt@ticker`; unknown symbols are ignored as Binance would send nothing.
fn binance_feed(symbols: &SymbolTable, streams: Vec<String>) -> Feed {
    let mut routes: Vec<(Instrument, String, String, bool)> = Vec::new();
    for stream in streams {
        let Some((symbol, channel)) = stream.split_once('@') else {
            continue;
        };
        let mini = match channel {
            "ticker" => false,
            "miniTicker" => true,
            _ => continue,
        };
        let upper = symbol.to_ascii_uppercase();
        if let Some(entry) = symbols.get(&upper) {
            routes.push((entry.instrument.clone(), upper, stream.clone(), mini));
        }
    }
    let instruments = routes.iter().map(|r| r.0.clone()).collect();
    let build = Box::new(move |q: &market::Quote, now: i64| {
        let route = routes.iter().find(|r| r.0 == q.instrument);
        let (symbol, stream, mini) =
            route.map_or(("", "", false), |r| (r.1.as_str(), r.2.as_str(), r.3));
        let data = frames::binance_ticker(q, symbol, now, mini);
        Message::text(format!("{{\"stream\":\"{stream}\",\"data\":{data}}}"))
    });
    Feed { instruments, build }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(route("/upbit/websocket/v1"), Some(Route::Upbit));
        assert_eq!(route("/bithumb/pub/ws"), Some(Route::BithumbLegacy));
        assert_eq!(
            route("/binance/stream?streams=btcusdt@ticker/ethbtc@miniTicker"),
            Some(Route::Binance(Some(
                "btcusdt@ticker/ethbtc@miniTicker".into()
            )))
        );
        assert_eq!(route("/binance/ws"), Some(Route::Binance(None)));
        assert_eq!(route("/kraken"), None);
    }

    #[test]
    fn upbit_requests() {
        let ok = r#"[{"ticket":"t"},{"type":"ticker","codes":["KRW-BTC","KRW-ETH"]},{"format":"SIMPLE"}]"#;
        let (instruments, kind, simple) = parse_upbit_request(ok).unwrap();
        assert_eq!(
            (instruments[1].as_str(), kind.as_str(), simple),
            ("ETH-KRW", "ticker", true)
        );
        assert!(parse_upbit_request(r#"[{"type":"ticker","codes":["KRW-BTC"]}]"#).is_err());
        assert!(
            parse_upbit_request(r#"[{"ticket":"t"},{"type":"ticker","codes":["krw btc"]}]"#)
                .is_err()
        );
    }
}
