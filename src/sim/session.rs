//! One simulated WebSocket connection: paces its feed round-robin at `rate` frames/s, lets the
//! protocol answer client messages (pings, subscription changes), skips streams whose market
//! is not live, and applies the connection's fault.

use super::fault::{self, Action, Fault};
use super::listings::Liveness;
use super::market::Market;
use super::{Context, Feed, Protocol, now_ms};
use futures_util::{SinkExt, StreamExt};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

pub(super) type WsResult<T> = Result<T, tokio_tungstenite::tungstenite::Error>;

pub(super) struct Session {
    pub ws: WebSocketStream<TcpStream>,
    pub cx: Arc<Context>,
    pub seed: u64,
    pub shutdown: watch::Receiver<bool>,
    /// Frames sent since the current subscription (pacing).
    pub sent: u64,
    /// Fault to inject, if any.
    pub fault: Option<Fault>,
    /// This protocol's error message, for [`fault::FaultKind::Error`].
    pub error_frame: &'static str,
    /// How this protocol announces a close, for [`fault::FaultKind::Shutdown`].
    pub closing_frame: Option<String>,
    /// When an announced close comes.
    pub close_at: Option<tokio::time::Instant>,
    /// Data frames over the connection's life (fault timing).
    pub data_frames: u64,
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
    /// messages (pings, subscriptions) and may replace the feed. Instruments a new feed keeps
    /// go on with their walk and trade ids; a stream whose market is delisted sends nothing
    /// until it is listed again, the others unaffected.
    pub async fn run(mut self, mut protocol: Box<dyn Protocol>) -> WsResult<()> {
        if let Some(greeting) = protocol.greeting() {
            self.ws.send(greeting).await?;
        }
        let exchange = protocol.exchange();
        let server_ping = protocol.server_ping(&self.cx.config);
        let mut feed = protocol.url_feed(&self.cx);
        let instruments = feed.as_ref().map(Feed::instruments).unwrap_or_default();
        let mut market = Market::new(&instruments, self.seed);
        let mut live = Liveness::default();
        let mut schedule = Schedule::default();
        if let Some(f) = &feed {
            schedule.rebuild(&self.cx.listings, exchange, f);
        }
        let mut started = Instant::now();
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
                        let (replies, new_feed) = protocol.on_text(&text, &self.cx);
                        for reply in replies {
                            self.ws.feed(reply).await?;
                        }
                        self.ws.flush().await?;
                        if let Some(f) = new_feed {
                            market.follow(&f.instruments());
                            schedule.rebuild(&self.cx.listings, exchange, &f);
                            feed = Some(f);
                            live.invalidate();
                            started = Instant::now();
                            self.sent = 0;
                        }
                    }
                },
                () = tokio::time::sleep_until(self.close_at.unwrap_or_else(tokio::time::Instant::now)), if self.close_at.is_some() => {
                    let _ = self.ws.close(None).await;
                    return Ok(());
                }
                _ = ping.tick(), if server_ping.is_some() => {
                    self.ws.send(Message::Ping(format!("{}", now_ms()).into_bytes().into())).await?;
                }
                _ = tick.tick() => {
                    let Some(f) = feed.as_ref().filter(|f| !f.streams.is_empty()) else { continue };
                    live.refresh(&self.cx.listings, exchange, f.streams.iter().map(|(i, _)| i));
                    let due = (started.elapsed().as_secs_f64() * f64::from(self.cx.config.rate)) as u64;
                    let batch = due.saturating_sub(self.sent).min(10_000);
                    let now = now_ms();
                    for _ in 0..batch {
                        let n = schedule.next(f.streams.len());
                        // A stream that is not live keeps its slot: the others' rates stay.
                        if !live.get(n) {
                            continue;
                        }
                        let (instrument, channel) = &f.streams[n];
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
            Action::Twice => {
                self.ws.feed(frame.clone()).await?;
                self.ws.feed(frame).await?;
            }
            Action::Truncate => self.ws.feed(fault::truncated(&frame)).await?,
            Action::Pad(size) => self.ws.feed(fault::padded(&frame, size)).await?,
            Action::Announce => {
                if let Some(closing) = &self.closing_frame {
                    self.ws.feed(Message::text(closing.clone())).await?;
                }
                self.close_at = Some(tokio::time::Instant::now() + fault::ANNOUNCED_CLOSE_AFTER);
                self.ws.feed(frame).await?;
            }
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

/// Which stream sends next: round-robin over all of them, or, with hot markets
/// ([`super::Listings::with_hot`]), the hot streams taking `share_pct` percent of the frames
/// and the others the rest, each group round-robin, spread evenly (over any `n` frames from
/// a rebuild, exactly `n * share_pct / 100` rounded down are hot).
#[derive(Debug, Default)]
struct Schedule {
    hot: Vec<usize>,
    cold: Vec<usize>,
    share_pct: u32,
    /// Percent owed to the hot group (Bresenham).
    owed: u32,
    /// Next turn in the hot and in the other group.
    turns: [usize; 2],
    /// Next turn without hot streams; kept across rebuilds like the plain round-robin was.
    next: usize,
}

impl Schedule {
    fn rebuild(&mut self, listings: &super::Listings, exchange: crate::model::Exchange, f: &Feed) {
        self.share_pct = listings.hot_share_pct();
        self.hot.clear();
        self.cold.clear();
        if self.share_pct > 0 {
            let hot = listings.hot(exchange, f.streams.iter().map(|(i, _)| i));
            for (n, h) in hot.into_iter().enumerate() {
                if h { &mut self.hot } else { &mut self.cold }.push(n);
            }
        }
        self.owed = 0;
        self.turns = [0, 0];
    }

    /// The stream (index) that sends next, of `len`.
    fn next(&mut self, len: usize) -> usize {
        if self.hot.is_empty() || self.cold.is_empty() {
            let n = self.next % len;
            self.next = self.next.wrapping_add(1);
            return n;
        }
        self.owed += self.share_pct;
        let (group, turn) = if self.owed >= 100 {
            self.owed -= 100;
            (&self.hot, &mut self.turns[0])
        } else {
            (&self.cold, &mut self.turns[1])
        };
        let n = group[*turn % group.len()];
        *turn = turn.wrapping_add(1);
        n
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
    fn hot_streams_take_their_share_evenly() {
        let mut s = Schedule {
            hot: vec![0],
            cold: vec![1, 2, 3, 4],
            share_pct: 80,
            ..Schedule::default()
        };
        let picks: Vec<usize> = (0..1000).map(|_| s.next(5)).collect();
        let count = |n: usize| picks.iter().filter(|p| **p == n).count();
        assert_eq!(
            (count(0), count(1), count(2), count(3), count(4)),
            (800, 50, 50, 50, 50)
        );
        // Spread, not bunched: every 5 frames hold exactly 4 hot ones.
        assert!(
            picks
                .chunks(5)
                .all(|c| c.iter().filter(|p| **p == 0).count() == 4)
        );
        let mut plain = Schedule::default();
        let picks: Vec<usize> = (0..6).map(|_| plain.next(3)).collect();
        assert_eq!(picks, [0, 1, 2, 0, 1, 2]);
    }
}
