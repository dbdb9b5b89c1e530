//! One exchange connection, kept alive: connect (with a timeout), subscribe (paced), keep
//! alive (client pings where the exchange needs them; answers to server pings are automatic),
//! watch for silence, reconnect proactively before forced disconnects, and reconnect after any
//! failure with exponential backoff and jitter. Frames go to a bounded channel with their
//! receive time; when it is full the connection waits (backpressure), it never drops.
//!
//! `wss://` URLs use the TLS configuration passed in ([`super::tls::client_config`] in
//! production); `ws://` (the simulator, local tests) is plain.

use super::backoff::Backoff;
use super::pace::{Gate, SharedGate, Window};
use super::subscribe::{Change, Wanted};
use crate::config::ConnectorConfig;
use crate::exchange::FrameType;
use crate::exchange::profile::Resubscribe;
use crate::model::time::now_us;
use futures_util::{SinkExt, StreamExt};
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// Bound on connecting (TCP + WebSocket handshake).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Bound on sending one message.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// At shutdown, how long the frame in hand may wait for room in the output channel.
pub const SHUTDOWN_HANDOFF: Duration = Duration::from_secs(1);

/// Frames above this are refused by the socket itself (the connection closes, counted): it
/// bounds what one read may hold before the frame is cut to `max_frame_bytes`.
pub const SOCKET_FRAME_CAP: usize = 16 * 1024 * 1024;

/// What an oversized frame was before it was cut to `max_frame_bytes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Oversize {
    /// Its size as received, bytes.
    pub size: usize,
    /// SHA-256 of the whole frame, lowercase hex.
    pub sha256: String,
}

/// The socket's limit for a connector whose frames may be `max_frame_bytes`.
pub fn socket_cap(max_frame_bytes: usize) -> usize {
    SOCKET_FRAME_CAP.max(max_frame_bytes)
}

/// Cuts `bytes` to `max` when longer; says what it was.
pub fn cut(bytes: &mut Vec<u8>, max: usize) -> Option<Oversize> {
    if bytes.len() <= max {
        return None;
    }
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    let sha256 = digest
        .as_ref()
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            use std::fmt::Write as _;
            let _ = write!(s, "{b:02x}");
            s
        });
    let size = bytes.len();
    bytes.truncate(max);
    bytes.shrink_to_fit();
    Some(Oversize { size, sha256 })
}

/// One received frame, owned, with its receive time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// Connector name (`upbit`, `binance`, ...).
    pub connector: Arc<str>,
    /// Text or binary.
    pub frame_type: FrameType,
    /// Payload as received.
    pub bytes: Vec<u8>,
    /// Receive time, UTC epoch µs.
    pub received_ts_us: i64,
    /// Set when the frame was above `max_frame_bytes`: `bytes` holds its first
    /// `max_frame_bytes`, and it becomes a `frame_too_large` dead letter.
    pub oversize: Option<Oversize>,
    /// The WebSocket session that received it: unique in the process and greater for a later
    /// connect of any connection ([`next_session`]), so the pipeline tells a reconnect's first
    /// frames (and an overlapping older session's) from the rest.
    pub session: u64,
}

/// A number for a new WebSocket session, taken at each successful connect: unique in the
/// process, increasing.
pub fn next_session() -> u64 {
    static SESSIONS: AtomicU64 = AtomicU64::new(1);
    SESSIONS.fetch_add(1, Ordering::Relaxed)
}

/// Counters of one connection (exported as metrics by the gatherer).
#[derive(Debug, Default)]
pub struct ConnectionStats {
    /// Successful connects (the first one included).
    pub connects: AtomicU64,
    /// 1 while a session is up (connected and subscribed), else 0.
    pub up: AtomicU64,
    /// Connect or session failures (errors, closes by the peer).
    pub failures: AtomicU64,
    /// Reconnects because the feed went silent.
    pub idle_timeouts: AtomicU64,
    /// Proactive reconnects before a forced disconnect.
    pub proactive_reconnects: AtomicU64,
    /// Data frames received.
    pub frames: AtomicU64,
    /// Time spent waiting for room in the output channel, µs.
    pub backpressure_wait_us: AtomicU64,
    /// When the last data frame arrived, UTC epoch µs (0: none yet).
    pub last_frame_us: AtomicU64,
    /// Frames received at shutdown that the pipeline no longer took (counted as lost).
    pub frames_not_queued: AtomicU64,
    /// Frames above `max_frame_bytes`, cut and dead-lettered.
    pub frames_cut: AtomicU64,
    /// Connections closed because a frame exceeded [`SOCKET_FRAME_CAP`].
    pub socket_cap_closes: AtomicU64,
    /// Instruments the connection is asked to carry now.
    pub instruments: AtomicU64,
    /// Requests sent to change a running subscription (listings and delistings).
    pub change_requests: AtomicU64,
    /// Renewals to apply a change where the venue cannot change a running subscription.
    pub change_renewals: AtomicU64,
    /// 1 once the connection was retired (its instruments went elsewhere or were delisted).
    pub retired: AtomicU64,
}

/// How a session ended.
enum Ended {
    Shutdown,
    Failed(String),
    Idle,
    Aged,
    /// Its set changed in a way only a new connection can apply.
    Renew,
    /// Nothing left to carry: the connection is done.
    Retired,
}

/// One connection's fixed parts.
#[derive(Debug)]
pub struct Link {
    /// Its connector.
    pub config: Arc<ConnectorConfig>,
    /// Names the client to venues that ask (Upbit `ticket`).
    pub ticket: String,
    /// What to carry; a new value changes the subscription in place, a dropped sender retires
    /// the connection.
    pub wanted: watch::Receiver<Arc<Wanted>>,
    /// Where frames go.
    pub out: mpsc::Sender<Received>,
    /// Its counters.
    pub stats: Arc<ConnectionStats>,
    /// TLS for `wss://`.
    pub tls: Arc<rustls::ClientConfig>,
    /// The venue's connection-attempt gate, shared by its connections in this process.
    pub connects: Arc<SharedGate>,
}

impl Link {
    /// A link carrying `instruments` (with their own connection gate), and the sender that
    /// changes them (dropping it retires the connection).
    pub fn new(
        config: Arc<ConnectorConfig>,
        instruments: Vec<crate::model::Instrument>,
        symbols: Arc<crate::exchange::SymbolTable>,
        out: mpsc::Sender<Received>,
        stats: Arc<ConnectionStats>,
        tls: Arc<rustls::ClientConfig>,
    ) -> (Self, watch::Sender<Arc<Wanted>>) {
        let (tx, wanted) = watch::channel(Arc::new(Wanted {
            instruments,
            symbols,
        }));
        let connects = Arc::new(SharedGate::new(config.profile.limits.connects));
        let link = Self {
            config,
            ticket: "tickflow".into(),
            wanted,
            out,
            stats,
            tls,
            connects,
        };
        (link, tx)
    }
}

/// Runs one connection until `shutdown` turns true or it is retired. Never returns early on
/// errors: they are counted, logged once each, and followed by a reconnect after the backoff
/// delay.
pub async fn run(mut link: Link, mut shutdown: watch::Receiver<bool>, seed: u64) {
    let config = Arc::clone(&link.config);
    let mut backoff = Backoff::new(config.backoff, seed);
    loop {
        if *shutdown.borrow() {
            return;
        }
        let mut this = Session::default();
        let ended = session(&mut link, &mut shutdown, &mut this).await;
        link.stats.up.store(0, Ordering::Relaxed);
        match &ended {
            Ended::Shutdown => return,
            Ended::Retired => {
                retired(&link.stats);
                return;
            }
            Ended::Failed(why) => {
                link.stats.failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%why, "connection failed; reconnecting after backoff");
            }
            Ended::Idle => {
                link.stats.idle_timeouts.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    idle_timeout = ?config.keepalive.idle_timeout,
                    "no data frame within the idle timeout (pings and pongs do not count); reconnecting"
                );
            }
            Ended::Aged => {
                link.stats
                    .proactive_reconnects
                    .fetch_add(1, Ordering::Relaxed);
                tracing::info!("renewing the connection before the exchange's forced cut");
            }
            Ended::Renew => {
                link.stats.change_renewals.fetch_add(1, Ordering::Relaxed);
                tracing::info!("renewing the connection to apply a subscription change");
            }
        }
        let up_for = this.subscribed.map_or(Duration::ZERO, |at| at.elapsed());
        // Data: more frames than a reply to each subscription request and a greeting could be
        // (a venue that acks or refuses, then cuts, has not delivered data). An idle session
        // delivered nothing lately: it never counts as healthy.
        let replies = this.requests.saturating_add(1);
        let delivered = this.data_frames > replies && !matches!(ended, Ended::Idle);
        backoff.connection_ended(up_for, delivered);
        // A planned renewal is not a failure: no delay.
        let delay = if matches!(ended, Ended::Aged | Ended::Renew) {
            Duration::ZERO
        } else {
            backoff.next_delay()
        };
        // Shutdown wins over waiting out the delay; a retirement ends it too (a change of
        // set does not: the next session subscribes whatever is wanted then).
        let until = tokio::time::Instant::now() + delay;
        loop {
            tokio::select! {
                biased;
                _ = shutdown.changed() => return,
                () = tokio::time::sleep_until(until) => break,
                changed = link.wanted.changed() => if changed.is_err() {
                    retired(&link.stats);
                    return;
                },
            }
        }
    }
}

fn retired(stats: &ConnectionStats) {
    stats.retired.store(1, Ordering::Relaxed);
    stats.instruments.store(0, Ordering::Relaxed);
    tracing::info!("connection retired: nothing left to carry");
}

/// What one session did, for the backoff.
#[derive(Debug, Default)]
struct Session {
    /// When the subscription requests were all sent.
    subscribed: Option<Instant>,
    /// Data (text or binary) frames received.
    data_frames: u64,
    /// Subscription requests sent.
    requests: u64,
}

/// Subscription requests waiting for their slot under the venue's request rate.
struct Outbox {
    gate: Gate,
    queue: VecDeque<String>,
    /// The booked slot of the queue's head.
    due: Option<tokio::time::Instant>,
    /// Request ids where the venue echoes them: unique on the connection.
    next_id: u64,
}

impl Outbox {
    fn new(config: &ConnectorConfig) -> Self {
        let mut windows = vec![Window::gap(super::subscribe::min_gap(config))];
        windows.extend(
            config
                .profile
                .limits
                .max_requests_per_window
                .map(Window::from),
        );
        Self {
            gate: Gate::new(windows),
            queue: VecDeque::new(),
            due: None,
            next_id: 1,
        }
    }

    fn push(&mut self, messages: Vec<String>, replace: bool) {
        self.next_id += messages.len() as u64;
        if replace {
            // A newer whole-set request makes the waiting ones moot.
            self.queue.clear();
        }
        self.queue.extend(messages);
        if self.due.is_none() && !self.queue.is_empty() {
            self.due = Some(self.gate.book(tokio::time::Instant::now()));
        }
    }

    /// The head went out now (maybe later than booked: the gate counts when it really went).
    fn sent(&mut self) {
        let now = tokio::time::Instant::now();
        self.gate.went(now);
        self.queue.pop_front();
        self.due = (!self.queue.is_empty()).then(|| self.gate.book(now));
    }
}

async fn session(
    link: &mut Link,
    shutdown: &mut watch::Receiver<bool>,
    this: &mut Session,
) -> Ended {
    let Link {
        config,
        ticket,
        wanted: wanted_rx,
        out,
        stats,
        tls,
        connects,
    } = link;
    let config = config.as_ref();
    if wanted_rx.has_changed().is_err() || wanted_rx.borrow().instruments.is_empty() {
        return Ended::Retired;
    }
    tokio::select! {
        biased;
        _ = shutdown.changed() => return Ended::Shutdown,
        () = connects.wait() => {}
    }
    // Retired while waiting for the venue's connection-attempt slot: no attempt.
    if wanted_rx.has_changed().is_err() {
        return Ended::Retired;
    }
    let name: Arc<str> = Arc::from(config.name.as_str());
    // The socket takes frames up to its cap; above max_frame_bytes they are cut and
    // dead-lettered (the pipeline sees at most max_frame_bytes per frame).
    let cap = socket_cap(config.max_frame_bytes);
    let ws_config = WebSocketConfig::default()
        .max_message_size(Some(cap))
        .max_frame_size(Some(cap));
    let url = config.url.as_str();
    let connect = tokio_tungstenite::connect_async_tls_with_config(
        url,
        Some(ws_config),
        true,
        Some(tokio_tungstenite::Connector::Rustls(Arc::clone(tls))),
    );
    let mut ws = tokio::select! {
        biased;
        _ = shutdown.changed() => return Ended::Shutdown,
        r = tokio::time::timeout(CONNECT_TIMEOUT, connect) => match r {
            Ok(Ok((ws, _))) => ws,
            Ok(Err(e)) => return Ended::Failed(format!("connect to {url}: {e}")),
            Err(_) => return Ended::Failed(format!("connect to {url} timed out")),
        },
    };
    stats.connects.fetch_add(1, Ordering::Relaxed);
    let session_id = next_session();
    // What is wanted now (after the gate and the connect), not when the session began.
    let mut wanted = Arc::clone(&wanted_rx.borrow_and_update());
    if wanted.instruments.is_empty() {
        let _ = tokio::time::timeout(SEND_TIMEOUT, ws.close(None)).await;
        return Ended::Retired;
    }
    let mut outbox = Outbox::new(config);
    let mut carried = wanted.instruments.clone();
    // The symbols the carried set was subscribed with: removals are unsubscribed by them
    // (a symbol gone from a newer listing still has its old stream name).
    let mut carried_symbols = Arc::clone(&wanted.symbols);
    match super::subscribe::requests(config, &carried, &wanted.symbols, ticket, 1) {
        Ok(messages) => outbox.push(messages, false),
        Err(e) => return Ended::Failed(format!("subscribe: {e}")),
    }
    stats
        .instruments
        .store(carried.len() as u64, Ordering::Relaxed);
    // The first subscription goes before anything is read (no data can come earlier).
    while let Some(due) = outbox.due {
        tokio::time::sleep_until(due).await;
        let Some(message) = outbox.queue.front() else {
            break;
        };
        match tokio::time::timeout(SEND_TIMEOUT, ws.send(Message::text(message.clone()))).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Ended::Failed(format!("subscribe: {e}")),
            Err(_) => return Ended::Failed("subscribe timed out".into()),
        }
        this.requests += 1;
        outbox.sent();
    }
    stats.up.store(1, Ordering::Relaxed);
    tracing::info!(%url, requests = this.requests, instruments = carried.len(), "connected and subscribed");
    let connected = Instant::now();
    this.subscribed = Some(connected);
    let ping_every = config
        .keepalive
        .ping_interval
        .unwrap_or(Duration::from_secs(3600));
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
    let age_limit = config.keepalive.max_connection_age;
    let idle = config.keepalive.idle_timeout;
    // The watchdog: renewed by data frames only. Pings, pongs (answers to our keepalive or the
    // server's) never move it, so a feed that keeps the socket alive but sends nothing is
    // renewed within `idle`.
    let mut silent_after = tokio::time::Instant::now() + idle;
    loop {
        let until_aged = age_limit.map_or(Duration::from_secs(86_400 * 365), |a| {
            a.saturating_sub(connected.elapsed())
        });
        tokio::select! {
            // Shutdown first; then a change of set and its paced requests (rare and cheap: a
            // busy socket must not hold them back); then frames (data must not wait behind
            // timers); then keepalive.
            biased;
            _ = shutdown.changed() => {
                let _ = tokio::time::timeout(SEND_TIMEOUT, ws.close(None)).await;
                return Ended::Shutdown;
            }
            changed = wanted_rx.changed() => {
                if changed.is_err() {
                    let _ = tokio::time::timeout(SEND_TIMEOUT, ws.close(None)).await;
                    return Ended::Retired;
                }
                wanted = Arc::clone(&wanted_rx.borrow_and_update());
                if wanted.instruments.is_empty() {
                    let _ = tokio::time::timeout(SEND_TIMEOUT, ws.close(None)).await;
                    return Ended::Retired;
                }
                let change = super::subscribe::change_requests(
                    config,
                    (&carried, &carried_symbols),
                    (&wanted.instruments, &wanted.symbols),
                    ticket,
                    outbox.next_id,
                );
                match change {
                    Ok(Change::None) => {}
                    Ok(Change::Renew) => {
                        let _ = tokio::time::timeout(SEND_TIMEOUT, ws.close(None)).await;
                        return Ended::Renew;
                    }
                    Ok(Change::Send(messages)) => {
                        let replace = matches!(config.profile.resubscribe, Resubscribe::Replace);
                        outbox.push(messages, replace);
                    }
                    Err(e) => return Ended::Failed(format!("changing the subscription: {e}")),
                }
                carried.clone_from(&wanted.instruments);
                carried_symbols = Arc::clone(&wanted.symbols);
                stats.instruments.store(carried.len() as u64, Ordering::Relaxed);
            }
            _ = tokio::time::sleep_until(outbox.due.unwrap_or_else(tokio::time::Instant::now)), if outbox.due.is_some() => {
                if let Some(message) = outbox.queue.front() {
                    let sent = tokio::time::timeout(SEND_TIMEOUT, ws.send(Message::text(message.clone()))).await;
                    if !matches!(sent, Ok(Ok(()))) {
                        return Ended::Failed("a subscription change could not be sent".into());
                    }
                    stats.change_requests.fetch_add(1, Ordering::Relaxed);
                }
                outbox.sent();
            }
            next = ws.next() => {
                let msg = match next {
                    None => return Ended::Failed("closed by the server".into()),
                    Some(Err(tokio_tungstenite::tungstenite::Error::Capacity(e))) => {
                        stats.socket_cap_closes.fetch_add(1, Ordering::Relaxed);
                        return Ended::Failed(format!("{e} (the socket's cap is {cap} bytes; frames above max_frame_bytes = {} up to it become frame_too_large dead letters)", config.max_frame_bytes));
                    }
                    Some(Err(e)) => return Ended::Failed(e.to_string()),
                    Some(Ok(msg)) => msg,
                };
                let received_ts_us = now_us();
                let (frame_type, bytes) = match msg {
                    Message::Text(t) => (FrameType::Text, t.as_bytes().to_vec()),
                    Message::Binary(b) => (FrameType::Binary, b.to_vec()),
                    Message::Close(frame) => {
                        return Ended::Failed(format!("server closed: {frame:?}"));
                    }
                    // Pongs to server pings are queued by tungstenite and sent with the next
                    // read or write; nothing else to do for control frames. Checked here too:
                    // control frames back to back would keep this branch ready (it wins) and
                    // the watchdog's branch unpolled.
                    _ if tokio::time::Instant::now() >= silent_after => return Ended::Idle,
                    _ => continue,
                };
                this.data_frames += 1;
                stats.frames.fetch_add(1, Ordering::Relaxed);
                stats.last_frame_us.store(u64::try_from(received_ts_us).unwrap_or(0), Ordering::Relaxed);
                let mut bytes = bytes;
                let oversize = cut(&mut bytes, config.max_frame_bytes);
                if oversize.is_some() {
                    stats.frames_cut.fetch_add(1, Ordering::Relaxed);
                }
                let received = Received { connector: Arc::clone(&name), frame_type, bytes, received_ts_us, oversize, session: session_id };
                let waited = Instant::now();
                let mut sending = std::pin::pin!(out.send(received));
                tokio::select! {
                    biased;
                    _ = shutdown.changed() => {
                        // Stopping: the pipeline drains until every connection is gone, so the
                        // frame in hand still gets its place (bounded), then the session ends.
                        if !matches!(tokio::time::timeout(SHUTDOWN_HANDOFF, sending).await, Ok(Ok(()))) {
                            stats.frames_not_queued.fetch_add(1, Ordering::Relaxed);
                        }
                        return Ended::Shutdown;
                    }
                    sent = &mut sending => if sent.is_err() {
                        // The consumer is gone (the shutdown deadline): nothing left to feed.
                        stats.frames_not_queued.fetch_add(1, Ordering::Relaxed);
                        return Ended::Shutdown;
                    },
                }
                // Re-armed once the frame is handed over: time spent waiting for room in the
                // queue (backpressure) is not the feed's silence.
                silent_after = tokio::time::Instant::now() + idle;
                let waited_us = u64::try_from(waited.elapsed().as_micros()).unwrap_or(u64::MAX);
                stats.backpressure_wait_us.fetch_add(waited_us, Ordering::Relaxed);
            }
            _ = ping.tick(), if config.keepalive.ping_interval.is_some() => {
                let sent = tokio::time::timeout(SEND_TIMEOUT, ws.send(Message::Ping(Vec::new().into()))).await;
                if !matches!(sent, Ok(Ok(()))) {
                    return Ended::Failed("keepalive ping could not be sent".into());
                }
            }
            _ = tokio::time::sleep_until(silent_after) => return Ended::Idle,
            _ = tokio::time::sleep(until_aged), if age_limit.is_some() => {
                let _ = tokio::time::timeout(SEND_TIMEOUT, ws.close(None)).await;
                return Ended::Aged;
            }
        }
    }
}
