//! One exchange connection, kept alive: connect (with a timeout), subscribe (paced), keep
//! alive (client pings where the exchange needs them; answers to server pings are automatic),
//! watch for silence, act on what the venue says about the session (acknowledgements and
//! refusals matched to their request, announced closes), renew make-before-break before
//! forced disconnects ([`super::handover`]), and reconnect after any failure with exponential
//! backoff and jitter. Frames go to a bounded channel with their receive time; when it is
//! full the connection waits (backpressure), it never drops.
//!
//! `wss://` URLs use the TLS configuration passed in ([`super::tls::client_config`] in
//! production); `ws://` (the simulator, local tests) is plain.

use super::backoff::Backoff;
use super::frames::{Socket, data, hand, said_of, socket_cap};
use super::handover::{self, Old};
use super::outbox::{Outbox, Pending};
use super::pace::SharedGate;
use super::refusals::{Refusals, RefusedNow};
use super::subscribe::{Change, Wanted};
use crate::config::ConnectorConfig;
use crate::exchange::profile::Resubscribe;
use crate::exchange::session::{Acks, Said, named};
use crate::model::Instrument;
use crate::model::status::{FeedState, FeedStatus};
use crate::model::time::now_us;
use futures_util::{SinkExt, StreamExt};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tracing::Instrument as _;

pub use super::frames::{Oversize, Received, SOCKET_FRAME_CAP, cut, next_session};

/// Bound on connecting (TCP + WebSocket handshake).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Bound on sending one message.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);

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
    /// Connections closed because a frame exceeded [`super::frames::SOCKET_FRAME_CAP`].
    pub socket_cap_closes: AtomicU64,
    /// Instruments the connection is asked to carry now.
    pub instruments: AtomicU64,
    /// Requests sent to change a running subscription (listings and delistings).
    pub change_requests: AtomicU64,
    /// Renewals to apply a change where the venue cannot change a running subscription.
    pub change_renewals: AtomicU64,
    /// 1 once the connection was retired (its instruments went elsewhere or were delisted).
    pub retired: AtomicU64,
    /// Closes the venue announced (Binance `serverShutdown`), each answered by a renewal.
    pub announced_closes: AtomicU64,
    /// Frames the old socket of a renewal delivered after the new one's first (duplicated
    /// downstream, harmlessly: see [`super::handover`]).
    pub overlap_frames: AtomicU64,
    /// Requests the venue acknowledged.
    pub acks: AtomicU64,
    /// Refusals matched to a request.
    pub refusals: AtomicU64,
    /// Refusals (error messages) that answer no request the connection knows.
    pub refusals_unattributed: AtomicU64,
    /// Connections that waited for a slot under the venue's cap on open connections.
    pub connection_cap_waits: AtomicU64,
    /// Requests asking again for instruments refused earlier.
    pub refusal_retries: AtomicU64,
    /// The instruments refused now, with the venue's words.
    pub refused: RefusedNow,
    /// Status records not queued: the status queue was full (counted, logged once).
    pub status_lost: AtomicU64,
}

/// How a session ended.
enum Ended {
    Shutdown,
    Failed(String),
    Idle,
    /// Renewed on plan: its socket (and session number) is handed over, still reading.
    Renewal(Renewal, Box<Socket>, u64),
    /// Every instrument it should carry is refused for now: it waits for the first retry.
    AllRefused,
    /// Nothing left to carry: the connection is done.
    Retired,
}

/// Why a connection is renewed on plan.
#[derive(Debug, Clone, Copy)]
enum Renewal {
    /// Before the venue's forced cut (`max_connection_age`).
    Aged,
    /// Its set changed in a way only a new connection can apply.
    Changed,
    /// The venue announced a close.
    Announced,
}

/// Where a connection reports its health ([`FeedStatus`] records), and what it remembers of
/// it between sessions.
#[derive(Debug, Default)]
pub struct Health {
    /// The status queue (bounded); `None`: nobody listens.
    status: Option<mpsc::Sender<FeedStatus>>,
    /// The connection's index within its connector.
    index: u32,
    /// Since when data is missing (from a `Down` until `Recovered`), UTC epoch µs.
    down_since_us: Option<i64>,
}

impl Health {
    /// Reports of connection `index` of its connector go to `status`.
    pub fn new(status: Option<mpsc::Sender<FeedStatus>>, index: u32) -> Self {
        Self {
            status,
            index,
            down_since_us: None,
        }
    }
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
    /// The venue's connection gate (attempts, and open connections where the venue caps
    /// them), shared by its connections in this process.
    pub connects: Arc<SharedGate>,
    /// What the venue refused, across sessions (empty at first).
    pub refusals: Refusals,
    /// Where its status goes.
    pub health: Health,
    /// The open-connection slot of this link's socket, under the venue's cap.
    pub slot: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl Link {
    /// A link carrying `instruments` (with their own connection gate), and the sender that
    /// changes them (dropping it retires the connection).
    pub fn new(
        config: Arc<ConnectorConfig>,
        instruments: Vec<Instrument>,
        reference: crate::exchange::reference::Reference,
        out: mpsc::Sender<Received>,
        stats: Arc<ConnectionStats>,
        tls: Arc<rustls::ClientConfig>,
    ) -> (Self, watch::Sender<Arc<Wanted>>) {
        let (tx, wanted) = watch::channel(Arc::new(Wanted {
            instruments,
            reference,
        }));
        let limits = &config.profile.limits;
        let connects = Arc::new(SharedGate::capped(
            limits.connects,
            limits.max_open_connections,
        ));
        let refusals = Refusals::new(config.backoff.refusal_retry);
        let link = Self {
            config,
            ticket: "tickflow".into(),
            wanted,
            out,
            stats,
            tls,
            connects,
            refusals,
            health: Health::default(),
            slot: None,
        };
        (link, tx)
    }

    /// Reports `state` (never waits: a full status queue loses the record, counted and logged
    /// once).
    fn report(
        &self,
        state: FeedState,
        reason: Option<String>,
        instruments: Vec<Instrument>,
        (gap_start_us, gap_end_us): (Option<i64>, Option<i64>),
    ) {
        let Some(tx) = &self.health.status else {
            return;
        };
        let status = FeedStatus {
            exchange: self.config.profile.exchange,
            connector: self.config.name.clone(),
            connection: self.health.index,
            state,
            ts_us: now_us(),
            reason,
            instruments,
            gap_start_us,
            gap_end_us,
        };
        if tx.try_send(status).is_err()
            && self.stats.status_lost.fetch_add(1, Ordering::Relaxed) == 0
        {
            tracing::warn!(
                state = state.as_str(),
                "the feed status queue is full or closed: a status record was lost (counted in tickflow_ws_status_lost_total; further ones are not logged)"
            );
        }
    }

    /// The last data frame's time, or `now` when none came yet.
    fn last_data_or_now(&self) -> i64 {
        match i64::try_from(self.stats.last_frame_us.load(Ordering::Relaxed)) {
            Ok(us) if us > 0 => us,
            _ => now_us(),
        }
    }

    /// The session ended for `why`: data is missing from the last frame on.
    fn down(&mut self, why: String) {
        let since = match self.health.down_since_us {
            Some(since) => since,
            None => self.last_data_or_now(),
        };
        self.health.down_since_us = Some(since);
        let instruments = self.wanted.borrow().instruments.clone();
        self.report(FeedState::Down, Some(why), instruments, (Some(since), None));
    }

    /// What a session should ask for now: the wanted instruments the venue has not refused
    /// (or whose retry is due).
    fn target(&self, wanted: &Wanted) -> Vec<Instrument> {
        wanted
            .instruments
            .iter()
            .filter(|i| !self.refusals.held(i))
            .cloned()
            .collect()
    }
}

/// The venue's cap on open connections, for messages.
fn config_cap(config: &ConnectorConfig) -> Option<usize> {
    config.profile.limits.max_open_connections
}

/// Runs one connection until `shutdown` turns true or it is retired. Never returns early on
/// errors: they are counted, logged once each, and followed by a reconnect after the backoff
/// delay.
pub async fn run(mut link: Link, mut shutdown: watch::Receiver<bool>, seed: u64) {
    let config = Arc::clone(&link.config);
    let mut backoff = Backoff::new(config.backoff, seed);
    let mut handing: Option<oneshot::Sender<()>> = None;
    loop {
        if *shutdown.borrow() {
            return;
        }
        let mut this = Session::default();
        let ended = session(&mut link, &mut shutdown, &mut this, handing.take()).await;
        let mut renewed = false;
        match ended {
            Ended::Shutdown => return,
            Ended::Retired => {
                retired(&link.stats);
                return;
            }
            Ended::Renewal(why, mut ws, old_session) => {
                renewed = true;
                let counter = match why {
                    Renewal::Aged => {
                        tracing::info!("renewing the connection before the exchange's forced cut");
                        &link.stats.proactive_reconnects
                    }
                    Renewal::Announced => {
                        tracing::info!("the venue announced a close: renewing the connection now");
                        link.stats.announced_closes.fetch_add(1, Ordering::Relaxed);
                        &link.stats.proactive_reconnects
                    }
                    Renewal::Changed => {
                        tracing::info!("renewing the connection to apply a subscription change");
                        &link.stats.change_renewals
                    }
                };
                counter.fetch_add(1, Ordering::Relaxed);
                // The old socket's slot goes with it; at the venue's cap a second socket
                // cannot open, so the renewal breaks before it makes.
                let slot = link.slot.take();
                if !config.keepalive.make_before_break || link.connects.at_cap() {
                    // Break before make: the socket goes now.
                    close(&mut ws).await;
                    drop(slot);
                    link.stats.up.store(0, Ordering::Relaxed);
                } else {
                    let (tx, rx) = oneshot::channel();
                    let old = Old {
                        ws: *ws,
                        connector: Arc::from(config.name.as_str()),
                        session: old_session,
                        max_frame_bytes: config.max_frame_bytes,
                        out: link.out.clone(),
                        stats: Arc::clone(&link.stats),
                        says: config.profile.says,
                        slot,
                    };
                    tokio::spawn(handover::drain(old, rx, shutdown.clone()).in_current_span());
                    handing = Some(tx);
                }
            }
            Ended::Failed(why) => {
                link.stats.failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%why, "connection failed; reconnecting after backoff");
                link.down(why);
            }
            Ended::Idle => {
                link.stats.idle_timeouts.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    idle_timeout = ?config.keepalive.idle_timeout,
                    "no data frame within the idle timeout (pings and pongs do not count); reconnecting"
                );
                let idle = config.keepalive.idle_timeout.as_secs();
                link.down(format!(
                    "no data for the idle window ({idle} s); reconnecting"
                ));
            }
            Ended::AllRefused => {}
        }
        // The ended socket's slot is free again (a renewal's moved with its old socket).
        link.slot = None;
        if !renewed {
            link.stats.up.store(0, Ordering::Relaxed);
        }
        let up_for = this.subscribed.map_or(Duration::ZERO, |at| at.elapsed());
        // Data: more frames than a reply to each subscription request and a greeting could be
        // (a venue that acks or refuses, then cuts, has not delivered data). An idle session
        // delivered nothing lately: it never counts as healthy.
        let replies = this.requests.saturating_add(1);
        let delivered = this.data_frames > replies && !this.idle;
        backoff.connection_ended(up_for, delivered);
        // A planned renewal is not a failure: no delay. With everything refused, the first
        // retry is the time to ask again.
        let delay = if renewed {
            Duration::ZERO
        } else if this.all_refused {
            link.refusals
                .next_due()
                .map_or(Duration::ZERO, |at| at - tokio::time::Instant::now())
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
        // Due retries are asked for by the next session (whose SUBSCRIBED record names every
        // instrument it asks for, ended refusals included).
        let _ = link
            .refusals
            .due(tokio::time::Instant::now(), &link.stats.refused);
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
    /// It ended for silence.
    idle: bool,
    /// It ended (or never began) because everything it should carry is refused.
    all_refused: bool,
}

/// What a move to a new target asks of the session.
enum Step {
    /// Requests queued (or nothing to do).
    Go,
    /// Only a new connection can apply it.
    Renew,
    /// Nothing left to ask for.
    Empty,
    /// The requests could not be built.
    Fail(String),
}

/// The session's view of its subscription.
struct Carried {
    /// What the venue was last asked to carry.
    instruments: Vec<Instrument>,
    /// The venue data it was asked with: removals are unsubscribed by it (a symbol gone from a
    /// newer listing still has its old stream name).
    reference: crate::exchange::reference::Reference,
}

impl Carried {
    /// Queues the requests that take the venue from `from` to `to` (under `wanted`'s symbols);
    /// with `again`, a venue whose requests replace the whole set is asked for it even when
    /// nothing changed (a retry).
    fn go(
        &mut self,
        config: &ConnectorConfig,
        (ticket, again): (&str, bool),
        outbox: &mut Outbox,
        from: &[Instrument],
        (to, wanted): (Vec<Instrument>, &Wanted),
    ) -> Step {
        if to.is_empty() {
            return Step::Empty;
        }
        let mut change = super::subscribe::change_requests(
            config,
            (from, &self.reference),
            (&to, &wanted.reference),
            ticket,
            outbox.next_id,
        );
        if again
            && matches!(change, Ok(Change::None))
            && matches!(config.profile.resubscribe, Resubscribe::Replace)
        {
            change =
                super::subscribe::requests(config, &to, &wanted.reference, ticket, outbox.next_id)
                    .map(Change::Send);
        }
        let step = match change {
            Ok(Change::None) => Step::Go,
            Ok(Change::Renew) => Step::Renew,
            Ok(Change::Send(messages)) => {
                let replace = matches!(config.profile.resubscribe, Resubscribe::Replace);
                outbox.push(messages, replace);
                Step::Go
            }
            Err(e) => Step::Fail(format!("changing the subscription: {e}")),
        };
        self.instruments = to;
        self.reference = wanted.reference.clone();
        step
    }

    /// The carried instruments `text` names (by their venue symbols).
    fn named_in(&self, config: &ConnectorConfig, text: &str) -> Vec<Instrument> {
        let symbol = config.profile.symbol;
        named(
            text,
            self.instruments
                .iter()
                .filter_map(|i| symbol(i, &self.reference).map(|s| (i, s))),
        )
    }
}

/// No data for the idle window: reported before the session ends.
fn stale(link: &Link, idle: Duration, carried: &[Instrument]) {
    let reason = format!("no data for the idle window ({} s)", idle.as_secs());
    let since = link.last_data_or_now();
    link.report(
        FeedState::Stale,
        Some(reason),
        carried.to_vec(),
        (Some(since), None),
    );
}

async fn close(ws: &mut Socket) {
    let _ = tokio::time::timeout(SEND_TIMEOUT, ws.close(None)).await;
}

async fn session(
    link: &mut Link,
    shutdown: &mut watch::Receiver<bool>,
    this: &mut Session,
    mut handing: Option<oneshot::Sender<()>>,
) -> Ended {
    if link.wanted.has_changed().is_err() || link.wanted.borrow().instruments.is_empty() {
        return Ended::Retired;
    }
    if link.target(&link.wanted.borrow()).is_empty() {
        this.all_refused = true;
        return Ended::AllRefused;
    }
    if link.slot.is_none() && link.connects.at_cap() {
        let waits = link
            .stats
            .connection_cap_waits
            .fetch_add(1, Ordering::Relaxed);
        if waits == 0 {
            tracing::warn!(
                cap = ?config_cap(&link.config),
                "the venue's open connections are at its per-IP cap: this connection waits for a slot (counted; further waits are not logged)"
            );
        }
    }
    if link.slot.is_none() {
        link.slot = tokio::select! {
            biased;
            _ = shutdown.changed() => return Ended::Shutdown,
            slot = link.connects.slot() => slot,
        };
    }
    tokio::select! {
        biased;
        _ = shutdown.changed() => return Ended::Shutdown,
        () = link.connects.wait() => {}
    }
    // Retired while waiting for the venue's connection-attempt slot: no attempt.
    if link.wanted.has_changed().is_err() {
        return Ended::Retired;
    }
    let config = Arc::clone(&link.config);
    let config = config.as_ref();
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
        Some(tokio_tungstenite::Connector::Rustls(Arc::clone(&link.tls))),
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
    let stats = Arc::clone(&link.stats);
    stats.connects.fetch_add(1, Ordering::Relaxed);
    let session_id = next_session();
    // What is wanted now (after the gate and the connect), not when the session began.
    let mut wanted = Arc::clone(&link.wanted.borrow_and_update());
    if wanted.instruments.is_empty() {
        close(&mut ws).await;
        return Ended::Retired;
    }
    let ticket = link.ticket.clone();
    let mut outbox = Outbox::new(config);
    let mut pending = Pending::new(config.profile.acks);
    let mut carried = Carried {
        instruments: Vec::new(),
        reference: wanted.reference.clone(),
    };
    let first = link.target(&wanted);
    if first.is_empty() {
        close(&mut ws).await;
        this.all_refused = true;
        return Ended::AllRefused;
    }
    link.report(FeedState::Up, None, first.clone(), (None, None));
    match super::subscribe::requests(config, &first, &wanted.reference, &ticket, outbox.next_id) {
        Ok(messages) => outbox.push(messages, false),
        Err(e) => return Ended::Failed(format!("subscribe: {e}")),
    }
    carried.instruments = first;
    stats
        .instruments
        .store(carried.instruments.len() as u64, Ordering::Relaxed);
    // The first subscription goes before anything is read (no data can come earlier).
    while let Some(due) = outbox.due {
        tokio::time::sleep_until(due).await;
        let Some(request) = outbox.queue.front() else {
            break;
        };
        let sent = ws.send(Message::text(request.text.clone()));
        match tokio::time::timeout(SEND_TIMEOUT, sent).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Ended::Failed(format!("subscribe: {e}")),
            Err(_) => return Ended::Failed("subscribe timed out".into()),
        }
        this.requests += 1;
        if let Some(request) = outbox.sent() {
            pending.sent(request, tokio::time::Instant::now());
        }
    }
    stats.up.store(1, Ordering::Relaxed);
    link.report(
        FeedState::Subscribed,
        None,
        carried.instruments.clone(),
        (None, None),
    );
    tracing::info!(%url, requests = this.requests, instruments = carried.instruments.len(), "connected and subscribed");
    let connected = Instant::now();
    this.subscribed = Some(connected);
    let ping_every = config
        .keepalive
        .ping_interval
        .unwrap_or(Duration::from_secs(3600));
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
    let age_limit = config.keepalive.max_connection_age;
    let idle = config.keepalive.idle_timeout;
    let acks = config.profile.acks;
    // The watchdog: renewed by data frames only. Pings, pongs (answers to our keepalive or the
    // server's) never move it, so a feed that keeps the socket alive but sends nothing is
    // renewed within `idle`.
    let mut silent_after = tokio::time::Instant::now() + idle;
    let far = || tokio::time::Instant::now() + Duration::from_secs(86_400 * 365);
    loop {
        let until_aged = age_limit.map_or(Duration::from_secs(86_400 * 365), |a| {
            a.saturating_sub(connected.elapsed())
        });
        let retry_due = link.refusals.next_due().unwrap_or_else(far);
        // A move to a new target: from what the venue carries now.
        let mut moved: Option<Step> = None;
        tokio::select! {
            // Shutdown first; then a change of set and its paced requests (rare and cheap: a
            // busy socket must not hold them back); then frames (data must not wait behind
            // timers); then keepalive.
            biased;
            _ = shutdown.changed() => {
                close(&mut ws).await;
                return Ended::Shutdown;
            }
            changed = link.wanted.changed() => {
                if changed.is_err() {
                    close(&mut ws).await;
                    return Ended::Retired;
                }
                wanted = Arc::clone(&link.wanted.borrow_and_update());
                if wanted.instruments.is_empty() {
                    close(&mut ws).await;
                    return Ended::Retired;
                }
                link.refusals.keep_only(&wanted.instruments, &stats.refused);
                let from = carried.instruments.clone();
                moved = Some(carried.go(config, (&ticket, false), &mut outbox, &from, (link.target(&wanted), &wanted)));
            }
            _ = tokio::time::sleep_until(outbox.due.unwrap_or_else(tokio::time::Instant::now)), if outbox.due.is_some() => {
                if let Some(request) = outbox.queue.front() {
                    let sent = tokio::time::timeout(SEND_TIMEOUT, ws.send(Message::text(request.text.clone()))).await;
                    if !matches!(sent, Ok(Ok(()))) {
                        return Ended::Failed("a subscription change could not be sent".into());
                    }
                    stats.change_requests.fetch_add(1, Ordering::Relaxed);
                }
                if let Some(request) = outbox.sent() {
                    pending.sent(request, tokio::time::Instant::now());
                }
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
                if let Message::Close(frame) = &msg {
                    return Ended::Failed(format!("server closed: {frame:?}"));
                }
                let received = data((&name, session_id), msg, config.max_frame_bytes, &stats);
                let said = received.as_ref().and_then(|r| said_of(r, config.profile.says));
                let received = match received {
                    Some(r) if said != Some(Said::Alive) => r,
                    other => {
                        // Not data: a control frame (pongs to server pings are queued by
                        // tungstenite and sent with the next read or write), or a keepalive
                        // answer, which goes on to the pipeline as a control message. Neither
                        // moves the watchdog; checked here too: frames like these back to back
                        // would keep this branch ready (it wins) and the watchdog's unpolled.
                        if let Some(r) = other
                            && !hand(&link.out, r, shutdown, &stats).await
                        {
                            return Ended::Shutdown;
                        }
                        if tokio::time::Instant::now() >= silent_after {
                            this.idle = true;
                            stale(link, idle, &carried.instruments);
                            return Ended::Idle;
                        }
                        continue;
                    }
                };
                this.data_frames += 1;
                super::frames::mark_data(&stats, received.received_ts_us);
                if let Some(since) = link.health.down_since_us.take() {
                    let gap = (Some(since), Some(received.received_ts_us));
                    link.report(FeedState::Recovered, None, carried.instruments.clone(), gap);
                }
                if let Some(tx) = handing.take() {
                    // The renewal's new socket delivers: the old one may close after the overlap.
                    let _ = tx.send(());
                }
                if !hand(&link.out, received, shutdown, &stats).await {
                    return Ended::Shutdown;
                }
                // Re-armed once the frame is handed over: time spent waiting for room in the
                // queue (backpressure) is not the feed's silence.
                silent_after = tokio::time::Instant::now() + idle;
                match said {
                    None | Some(Said::Alive) => {}
                    Some(Said::Closing) => return Ended::Renewal(Renewal::Announced, Box::new(ws), session_id),
                    Some(Said::Accepted { id }) => {
                        stats.acks.fetch_add(1, Ordering::Relaxed);
                        if let Some(request) = pending.accepted(id) {
                            let covered = carried.named_in(config, &request.text);
                            let ended = link.refusals.accepted(&covered, &stats.refused);
                            if !ended.is_empty() {
                                // A retried instrument the venue took: subscribed now.
                                link.report(FeedState::Subscribed, None, ended, (None, None));
                            }
                        }
                    }
                    Some(Said::Unattributable { text }) => {
                        let so_far = stats.refusals_unattributed.fetch_add(1, Ordering::Relaxed);
                        if so_far == 0 {
                            tracing::warn!(venue_says = %text, "the venue refused one of this connection's requests without saying which (counted; further ones are not logged)");
                        }
                    }
                    Some(Said::Refused { id, text }) => {
                        let Some(request) = pending.refused(id, tokio::time::Instant::now()) else {
                            let so_far = stats.refusals_unattributed.fetch_add(1, Ordering::Relaxed);
                            if so_far == 0 {
                                tracing::warn!(venue_says = %text, "the venue sent an error that answers no request of this connection (counted; further ones are not logged)");
                            }
                            continue;
                        };
                        stats.refusals.fetch_add(1, Ordering::Relaxed);
                        let covered = carried.named_in(config, &request.text);
                        let mut refused = named(&text, covered.iter().filter_map(|i| (config.profile.symbol)(i, &carried.reference).map(|s| (i, s))));
                        // Named ones are left out; a venue that answers each request refused
                        // the whole request (none of it is subscribed); one that answers only
                        // refusals and names none serves the rest: nothing is left out.
                        let hold = !refused.is_empty() || acks != Acks::Silent;
                        if refused.is_empty() {
                            refused.clone_from(&covered);
                        }
                        let new = link.refusals.refuse(&refused, (&text, hold), tokio::time::Instant::now(), now_us(), &stats.refused);
                        link.report(FeedState::Refused, Some(text.clone()), refused.clone(), (None, None));
                        if !new.is_empty() {
                            let names: Vec<String> = new.iter().map(ToString::to_string).collect();
                            tracing::warn!(
                                instruments = %names.join(","),
                                venue_says = %text,
                                retry_in = ?config.backoff.refusal_retry,
                                "the venue refused a subscription; the rest go on, the refused ones are retried with backoff"
                            );
                        }
                        // A venue that answers each request refused the whole request: none of
                        // it is subscribed. One that answers only refusals keeps the rest.
                        let from: Vec<Instrument> = if acks == Acks::Silent {
                            carried.instruments.clone()
                        } else {
                            carried.instruments.iter().filter(|i| !covered.contains(i)).cloned().collect()
                        };
                        moved = Some(carried.go(config, (&ticket, false), &mut outbox, &from, (link.target(&wanted), &wanted)));
                    }
                }
            }
            _ = ping.tick(), if config.keepalive.ping_interval.is_some() => {
                let message = config.keepalive.ping_message.map_or_else(|| Message::Ping(Vec::new().into()), Message::text);
                let sent = tokio::time::timeout(SEND_TIMEOUT, ws.send(message)).await;
                if !matches!(sent, Ok(Ok(()))) {
                    return Ended::Failed("keepalive ping could not be sent".into());
                }
            }
            () = tokio::time::sleep_until(retry_due) => {
                let (released, ended) = link.refusals.due(tokio::time::Instant::now(), &stats.refused);
                if !ended.is_empty() {
                    // Retries nobody refused: subscribed now.
                    link.report(FeedState::Subscribed, None, ended, (None, None));
                }
                if released {
                    stats.refusal_retries.fetch_add(1, Ordering::Relaxed);
                    let from = carried.instruments.clone();
                    moved = Some(carried.go(config, (&ticket, true), &mut outbox, &from, (link.target(&wanted), &wanted)));
                }
            }
            () = tokio::time::sleep_until(silent_after) => {
                this.idle = true;
                stale(link, idle, &carried.instruments);
                return Ended::Idle;
            }
            () = tokio::time::sleep(until_aged), if age_limit.is_some() => {
                return Ended::Renewal(Renewal::Aged, Box::new(ws), session_id);
            }
        }
        match moved {
            None | Some(Step::Go) => {}
            Some(Step::Renew) => return Ended::Renewal(Renewal::Changed, Box::new(ws), session_id),
            Some(Step::Empty) => {
                close(&mut ws).await;
                this.all_refused = true;
                return Ended::AllRefused;
            }
            Some(Step::Fail(why)) => return Ended::Failed(why),
        }
        stats
            .instruments
            .store(carried.instruments.len() as u64, Ordering::Relaxed);
    }
}
