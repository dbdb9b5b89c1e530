//! Frames off the socket: what one received frame is ([`Received`]), cutting oversized ones,
//! and handing a frame to the pipeline's bounded queue (waiting for room: backpressure, never
//! a drop) — shared by a connection's current session and the one it is handing over from.

use super::connection::ConnectionStats;
use crate::exchange::FrameType;
use crate::exchange::session::{MAX_SAID_BYTES, Said, SaysFn};
use crate::model::time::now_us;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;

/// The socket type of a connection (`ws://` or `wss://`).
pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

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
    /// frames (and an overlapping older session's, during a make-before-break renewal) from
    /// the rest.
    pub session: u64,
}

/// A number for a new WebSocket session, taken at each successful connect: unique in the
/// process, increasing.
pub fn next_session() -> u64 {
    static SESSIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    SESSIONS.fetch_add(1, Ordering::Relaxed)
}

/// A data message of `session` as a [`Received`] (counted, cut when above
/// `max_frame_bytes`); `None` for control frames (pings, pongs, close), which the caller
/// handles.
pub fn data(
    (connector, session): (&Arc<str>, u64),
    msg: Message,
    max_frame_bytes: usize,
    stats: &ConnectionStats,
) -> Option<Received> {
    let received_ts_us = now_us();
    let (frame_type, mut bytes) = match msg {
        Message::Text(t) => (FrameType::Text, t.as_bytes().to_vec()),
        Message::Binary(b) => (FrameType::Binary, b.to_vec()),
        _ => return None,
    };
    stats.frames.fetch_add(1, Ordering::Relaxed);
    let oversize = cut(&mut bytes, max_frame_bytes);
    if oversize.is_some() {
        stats.frames_cut.fetch_add(1, Ordering::Relaxed);
    }
    Some(Received {
        connector: Arc::clone(connector),
        frame_type,
        bytes,
        received_ts_us,
        oversize,
        session,
    })
}

/// Whether `received` is data: anything but the venue's answer to the client's keepalive
/// (which keeps the socket alive but says nothing of the feed). Data is timed in
/// [`ConnectionStats::last_frame_us`] (readiness, the last-frame gauge, outage starts).
pub fn note_data(received: &Received, says: SaysFn, stats: &ConnectionStats) -> bool {
    let alive = said_of(received, says) == Some(Said::Alive);
    if !alive {
        mark_data(stats, received.received_ts_us);
    }
    !alive
}

/// What the venue says of the session in `received`, read by its session reader (small,
/// whole frames only).
pub fn said_of(received: &Received, says: SaysFn) -> Option<Said> {
    (received.oversize.is_none() && received.bytes.len() <= MAX_SAID_BYTES)
        .then(|| says(&received.bytes))
        .flatten()
}

/// Times a data frame received at `received_ts_us` in [`ConnectionStats::last_frame_us`].
pub fn mark_data(stats: &ConnectionStats, received_ts_us: i64) {
    stats.last_frame_us.store(
        u64::try_from(received_ts_us).unwrap_or(0),
        Ordering::Relaxed,
    );
}

/// Hands `received` to the pipeline, waiting for room (the wait is counted as backpressure).
/// `false` when the connection should stop: shutdown came (the frame still gets
/// [`SHUTDOWN_HANDOFF`] to find room) or the pipeline is gone; the frame is then counted as
/// not queued if it did not make it.
pub async fn hand(
    out: &mpsc::Sender<Received>,
    received: Received,
    shutdown: &mut watch::Receiver<bool>,
    stats: &ConnectionStats,
) -> bool {
    let waited = Instant::now();
    let mut sending = std::pin::pin!(out.send(received));
    let went = tokio::select! {
        biased;
        _ = shutdown.changed() => {
            // Stopping: the pipeline drains until every connection is gone, so the frame in
            // hand still gets its place (bounded), then the session ends.
            if !matches!(tokio::time::timeout(SHUTDOWN_HANDOFF, sending).await, Ok(Ok(()))) {
                stats.frames_not_queued.fetch_add(1, Ordering::Relaxed);
            }
            false
        }
        sent = &mut sending => if sent.is_err() {
            // The consumer is gone (the shutdown deadline): nothing left to feed.
            stats.frames_not_queued.fetch_add(1, Ordering::Relaxed);
            false
        } else {
            true
        },
    };
    let waited_us = u64::try_from(waited.elapsed().as_micros()).unwrap_or(u64::MAX);
    stats
        .backpressure_wait_us
        .fetch_add(waited_us, Ordering::Relaxed);
    went
}
