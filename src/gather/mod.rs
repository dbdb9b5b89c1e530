//! `tickflow gather`: exchanges → adapters → Kafka. Connections (one tokio task each) feed a
//! bounded queue; one pipeline thread decodes, encodes and produces ([`pipeline`]); metrics,
//! health and progress are in [`report`]. Shutdown: stop reading, drain the queue, wait for
//! the broker's acknowledgements; one deadline (`[gather] shutdown_timeout_ms`, or a second
//! signal) bounds it all, and what is left then is abandoned and counted ([`GatherOutcome`]).
//! Connectors that follow whole markets also feed the instrument reference ([`reference`]).

pub mod feeds;
pub mod flags;
mod markets;
pub mod pipeline;
pub mod reference;
pub mod report;
pub mod status;

use crate::codec::Encoder;
use crate::config::{AppConfig, ConnectorConfig};
use crate::exchange::reference::References;
use crate::kafka::{ProducerStats, TickProducer, producer_properties};
use crate::ws::{ConnectionStats, Received};
use pipeline::{PipelineStats, Route, Sink};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Everything `gather` runs with.
#[derive(Debug, Clone)]
pub struct GatherSetup {
    /// Infrastructure settings.
    pub app: AppConfig,
    /// Enabled connectors (already redirected to a simulator when one is used).
    pub connectors: Vec<ConnectorConfig>,
    /// Every venue's reference data (the shipped copies, or the files given).
    pub references: References,
    /// TLS for `wss://`.
    pub tls: Arc<rustls::ClientConfig>,
    /// Label shown in progress and metrics when the feeds are simulated.
    pub simulated: bool,
    /// This process's part of each followed market (`0/1`: all).
    pub shard: crate::markets::Shard,
}

/// One running connection's identity and counters.
#[derive(Debug)]
pub struct ConnectionInfo {
    /// Connector name.
    pub connector: String,
    /// Index of the connection within the connector.
    pub index: usize,
    /// URL.
    pub url: String,
    /// Counters.
    pub stats: Arc<ConnectionStats>,
    /// Its connector's idle window: no data for longer is not ready.
    pub idle: Duration,
}

/// Shared view of a running gatherer (metrics, health, tests).
#[derive(Debug)]
pub struct GatherState {
    /// Connections, retired ones included.
    pub connections: Arc<feeds::Connections>,
    /// Pipeline counters.
    pub pipeline: PipelineStats,
    /// Producer counters.
    pub producer: Arc<ProducerStats>,
    /// Queue capacity.
    pub queue_capacity: usize,
    /// Simulated feeds.
    pub simulated: bool,
    /// Set from the first stop signal on (`/readyz` says so).
    pub draining: std::sync::atomic::AtomicBool,
    /// The HTTP endpoint's counters.
    pub http: Arc<crate::http::HttpStats>,
    /// When the run started, UTC epoch µs.
    pub started_us: u64,
    /// Since when the broker has acknowledged nothing with sends pending.
    pub kafka_stall: crate::stall::Stall,
    /// Not ready after this long of [`GatherState::kafka_stall`].
    pub unacked_timeout: Duration,
    /// Wakes the pipeline at the shutdown deadline.
    deadline: Arc<tokio::sync::Notify>,
    /// The listing health of each connector following whole markets.
    pub listings: Vec<Arc<crate::markets::ListingStats>>,
    /// The instrument reference publisher's counters, when some connector follows whole
    /// markets (its deliveries are the producer's `reference_*`).
    pub reference: Option<Arc<reference::ReferenceStats>>,
}

impl GatherState {
    /// The shutdown deadline: stop decoding, give up waiting for queue room and
    /// acknowledgements, count what is left. Idempotent.
    pub fn abandon(&self) {
        self.producer.abandon.store(true, Ordering::Relaxed);
        self.deadline.notify_one();
    }

    /// Frames waiting in the queue: received, not taken by the pipeline (counted from both
    /// ends, so it stays right once the connections have closed their senders).
    pub fn queued(&self) -> usize {
        let received: u64 = self
            .connections
            .all()
            .iter()
            .map(|c| get(&c.stats.frames).saturating_sub(get(&c.stats.frames_not_queued)))
            .sum();
        let taken = self.pipeline.frames.total() + get(&self.pipeline.frames_left);
        usize::try_from(received.saturating_sub(taken)).unwrap_or(usize::MAX)
    }
}

/// Messages of one kind that were made and not acknowledged, by why; each is in exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NotDelivered {
    /// Never handed to librdkafka (queue full for `max_block`, the deadline while waiting for
    /// room, refused as too large).
    pub refused: u64,
    /// Delivery failed after librdkafka's retries.
    pub failed: u64,
    /// Unacknowledged at the shutdown deadline, purged (the broker may have written some).
    pub abandoned: u64,
    /// No delivery report even after the purge (should stay 0).
    pub unresolved: u64,
}

impl NotDelivered {
    /// All of them.
    pub fn total(&self) -> u64 {
        self.refused + self.failed + self.abandoned + self.unresolved
    }

    fn of(lost: &crate::kafka::Lost, made: u64, acked: u64) -> Self {
        let (refused, failed, abandoned) =
            (get(&lost.refused), get(&lost.failed), get(&lost.abandoned));
        Self {
            refused,
            failed,
            abandoned,
            unresolved: made.saturating_sub(acked + refused + failed + abandoned),
        }
    }
}

impl std::fmt::Display for NotDelivered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} not delivered", self.total())?;
        if self.total() > 0 {
            write!(
                f,
                " ({} refused, {} failed, {} abandoned at the deadline",
                self.refused, self.failed, self.abandoned
            )?;
            if self.unresolved > 0 {
                write!(f, ", {} unresolved", self.unresolved)?;
            }
            write!(f, ")")?;
        }
        Ok(())
    }
}

/// What a finished run left behind: for ticks and for dead letters, made = acknowledged +
/// not delivered; and the frames received that never reached the adapters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GatherOutcome {
    /// Ticks the pipeline made.
    pub ticks_produced: u64,
    /// Ticks acknowledged by the broker.
    pub ticks_acked: u64,
    /// Ticks not acknowledged.
    pub ticks_not_delivered: NotDelivered,
    /// Dead letters the pipeline made.
    pub dead_letters_produced: u64,
    /// Dead letters acknowledged.
    pub dead_letters_acked: u64,
    /// Dead letters not acknowledged.
    pub dead_letters_not_delivered: NotDelivered,
    /// Whether the run published the instrument reference (some connector follows whole
    /// markets); the line then accounts for its records too.
    pub references: bool,
    /// Instrument reference records made (handed to the producer or refused by it).
    pub references_produced: u64,
    /// Instrument reference records acknowledged.
    pub references_acked: u64,
    /// Instrument reference records not acknowledged.
    pub references_not_delivered: NotDelivered,
    /// Feed status records the connections made.
    pub status_produced: u64,
    /// Feed status records acknowledged.
    pub status_acked: u64,
    /// Feed status records not acknowledged (refused: by the producer, or to a full status
    /// queue).
    pub status_not_delivered: NotDelivered,
    /// Frames received and never decoded: queued at the deadline, or held by a connection
    /// when the pipeline stopped taking them.
    pub frames_abandoned: u64,
    /// Everything lost: ticks, dead letters, instrument and status records not delivered,
    /// frames abandoned.
    pub lost: u64,
    /// The deadline (or a second signal) cut the shutdown short.
    pub deadline_reached: bool,
}

impl GatherOutcome {
    fn of(state: &GatherState) -> Self {
        let p = &state.producer;
        let ticks_produced = state.pipeline.ticks.total();
        let ticks_acked = p.ticks_acked.total();
        let ticks_not_delivered = NotDelivered::of(&p.ticks_lost, ticks_produced, ticks_acked);
        let dead_letters_produced = state.pipeline.dead_letters.total();
        let dead_letters_acked = get(&p.dlq_acked);
        let dead_letters_not_delivered =
            NotDelivered::of(&p.dlq_lost, dead_letters_produced, dead_letters_acked);
        let references_produced = state
            .reference
            .as_ref()
            .map_or(0, |r| get(&r.live) + get(&r.delisted));
        let references_acked = get(&p.reference_acked);
        let references_not_delivered =
            NotDelivered::of(&p.reference_lost, references_produced, references_acked);
        let queue_lost: u64 = state
            .connections
            .all()
            .iter()
            .map(|c| get(&c.stats.status_lost))
            .sum();
        let status_acked = get(&p.status_acked);
        let status_produced = get(&p.status_sent) + get(&p.status_lost.refused) + queue_lost;
        let mut status_not_delivered =
            NotDelivered::of(&p.status_lost, status_produced, status_acked);
        status_not_delivered.refused += queue_lost;
        status_not_delivered.unresolved =
            status_not_delivered.unresolved.saturating_sub(queue_lost);
        let frames_abandoned = get(&state.pipeline.frames_left)
            + state
                .connections
                .all()
                .iter()
                .map(|c| get(&c.stats.frames_not_queued))
                .sum::<u64>();
        Self {
            ticks_produced,
            ticks_acked,
            ticks_not_delivered,
            dead_letters_produced,
            dead_letters_acked,
            dead_letters_not_delivered,
            references: state.reference.is_some(),
            references_produced,
            references_acked,
            references_not_delivered,
            status_produced,
            status_acked,
            status_not_delivered,
            frames_abandoned,
            lost: ticks_not_delivered.total()
                + dead_letters_not_delivered.total()
                + references_not_delivered.total()
                + status_not_delivered.total()
                + frames_abandoned,
            deadline_reached: p.abandon.load(Ordering::Relaxed),
        }
    }
}

impl std::fmt::Display for GatherOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ticks: {} produced, {} acknowledged, {}; dead letters: {} produced, {} acknowledged, {}; ",
            self.ticks_produced,
            self.ticks_acked,
            self.ticks_not_delivered,
            self.dead_letters_produced,
            self.dead_letters_acked,
            self.dead_letters_not_delivered,
        )?;
        if self.references {
            write!(
                f,
                "instrument records: {} produced, {} acknowledged, {}; ",
                self.references_produced, self.references_acked, self.references_not_delivered,
            )?;
        }
        write!(
            f,
            "status records: {} produced, {} acknowledged, {}; {} received frames abandoned undecoded",
            self.status_produced,
            self.status_acked,
            self.status_not_delivered,
            self.frames_abandoned
        )
    }
}

/// Started gatherer: its HTTP address and state, and the task that finishes the run.
#[derive(Debug)]
pub struct Running {
    /// Where `/metrics`, `/healthz`, `/readyz` answer.
    pub http_addr: SocketAddr,
    /// Live counters.
    pub state: Arc<GatherState>,
    /// Completes after shutdown with the outcome.
    pub done: tokio::task::JoinHandle<anyhow::Result<GatherOutcome>>,
}

/// Starts everything; the run ends when `shutdown` turns true.
pub async fn start(setup: GatherSetup, shutdown: watch::Receiver<bool>) -> anyhow::Result<Running> {
    let app = &setup.app;
    check_frame_limits(app, &setup.connectors)?;
    // The id every header carries: the registry's (refusing to start when the schema is not
    // registered), or the fixed one when no registry is configured.
    let schema_id = crate::registry::producer_schema_id(app).await?;
    // Connectors following whole markets publish the instrument reference: its schema is
    // looked up (and refused when not registered) like the tick schema, and its topic created
    // compacted.
    let follows_markets = setup
        .connectors
        .iter()
        .any(|c| c.enabled && c.markets.is_some() && c.profile.listing.is_some());
    let instrument_schema_id = if follows_markets {
        Some(crate::registry::instrument_schema_id(app).await?)
    } else {
        None
    };
    // Every gather publishes its feed status, under a registered schema like ticks'.
    let status_schema_id = crate::registry::status_schema_id(app).await?;
    let properties = producer_properties(&app.kafka);
    let mut topics = vec![
        app.topics.ticks.as_str(),
        app.topics.dlq.as_str(),
        app.topics.status.as_str(),
    ];
    if follows_markets {
        topics.push(app.topics.instruments.as_str());
    }
    crate::kafka::admin::ensure_configured(app, &properties, &topics).await?;
    let producer_stats = Arc::new(ProducerStats::default());
    let mut producer = TickProducer::new(
        &properties,
        app.gather.max_block,
        Arc::clone(&producer_stats),
    )?;
    if setup.simulated {
        // Synthetic prices are marked where every consumer can see them.
        producer.mark_simulated();
    }

    let (tx, rx) = mpsc::channel::<Received>(app.gather.queue_frames);
    // Feed status: its own producer and thread; the connections hold the senders, so it ends
    // after the last of them.
    let (status_tx, status_rx) = mpsc::channel(status::QUEUE_RECORDS);
    let status_publishing = {
        let mut producer = TickProducer::new(
            &properties,
            app.gather.max_block,
            Arc::clone(&producer_stats),
        )?;
        if setup.simulated {
            producer.mark_simulated();
        }
        let sink = status::StatusSink {
            producer,
            topic: app.topics.status.clone(),
            format: app.format,
            schema_id: status_schema_id,
        };
        status::spawn(sink, status_rx)?
    };
    let connections = Arc::new(feeds::Connections::default());
    let tasks = Arc::new(std::sync::Mutex::new(Vec::new()));
    let spawner = feeds::Spawner {
        out: tx,
        status: status_tx,
        shutdown: shutdown.clone(),
        tls: Arc::clone(&setup.tls),
        ticket: format!("tickflow-{}", std::process::id()),
        connections: Arc::clone(&connections),
        tasks: Arc::clone(&tasks),
    };
    let mut routes = Vec::new();
    let mut fixed = Vec::new();
    let mut followed = Vec::new();
    let http_client = markets::client(&setup.tls)?;
    // The instrument reference's publisher (listings of [markets] connectors): its own
    // producer, counting into the shared producer statistics, on a thread of its own; it ends
    // when the last follower stops, then drains.
    let reference_stats =
        instrument_schema_id.map(|_| Arc::new(reference::ReferenceStats::default()));
    let (reference, publishing) = match (instrument_schema_id, &reference_stats) {
        (Some(id), Some(stats)) => {
            let mut p = TickProducer::new(
                &properties,
                app.gather.max_block,
                Arc::clone(&producer_stats),
            )?;
            if setup.simulated {
                p.mark_simulated();
            }
            // The topic read whole at each connector's first update (retracting what an
            // earlier run left live), decoded as the cache decodes it.
            let registry = match &app.schema_registry {
                Some(settings) => Some((
                    crate::registry::Registry::new(settings)?,
                    tokio::runtime::Handle::current(),
                )),
                None => None,
            };
            let reader = reference::retract::TopicReader::new(
                app.topics.instruments.clone(),
                properties.clone(),
                crate::registry::instrument::InstrumentResolver::new(registry, id, app.format),
                reference::retract::READ_TIMEOUT,
            );
            let publisher = reference::Publisher::new(
                p,
                app.topics.instruments.clone(),
                app.format,
                id,
                Arc::clone(stats),
            )
            .with_reader(reader);
            let (tx, rx) = mpsc::channel(reference::QUEUE_UPDATES);
            (Some(tx), Some(reference::spawn(publisher, rx)?))
        }
        _ => (None, None),
    };
    let mut stopping_early = shutdown.clone();
    // One connection gate per venue (its limits are per IP): attempts, and open connections.
    let mut gates: Vec<(crate::model::Exchange, Arc<crate::ws::pace::SharedGate>)> = Vec::new();
    for (n, connector) in setup.connectors.iter().filter(|c| c.enabled).enumerate() {
        let gate = match gates.iter().find(|(e, _)| *e == connector.exchange) {
            Some((_, g)) => Arc::clone(g),
            None => {
                let limits = &connector.profile.limits;
                let g = Arc::new(crate::ws::pace::SharedGate::capped(
                    limits.connects,
                    limits.max_open_connections,
                ));
                gates.push((connector.exchange, Arc::clone(&g)));
                g
            }
        };
        let mut feed = feeds::Feed::new(Arc::new(connector.clone()), n as u64, gate);
        let first = tokio::select! {
            biased;
            _ = stopping_early.wait_for(|stop| *stop) => {
                anyhow::bail!("stopped while reading the venues' listings")
            }
            first = markets::first(connector, &setup, &http_client, reference.as_ref()) => first?,
        };
        match first {
            Some(first) => {
                // The first listing, before any connection (bounded; else the disk copy).
                feed.apply(&first.instruments, &first.venue_data, &spawner);
                routes.extend(Route::new(connector, Arc::clone(&feed.adapter)));
                followed.push((first, feed));
            }
            None => {
                // Checked before anything starts: every instrument has its venue symbol.
                let reference = setup.references.get(connector.exchange);
                crate::ws::plan(connector, reference, &spawner.ticket)?;
                feed.apply(&connector.instruments, reference, &spawner);
                routes.extend(Route::new(connector, Arc::clone(&feed.adapter)));
                fixed.push(feed);
            }
        }
    }
    // Each follower holds its own sender from here on.
    drop(reference);
    if routes.is_empty() {
        anyhow::bail!("no enabled connector");
    }
    let listings: Vec<Arc<crate::markets::ListingStats>> =
        followed.iter().map(|(f, _)| Arc::clone(&f.stats)).collect();
    // Each followed market re-reads its listing until the stop signal, owning its feed.
    for (first, feed) in followed {
        let fallback = setup.references.get(feed.config().exchange).clone();
        tokio::spawn(crate::markets::follow::run(
            first.follow,
            http_client.clone(),
            feed,
            spawner.clone(),
            first.stats,
            fallback,
            first.publish,
            shutdown.clone(),
        ));
    }
    // The fixed feeds live until the stop signal; then the last frame sender held here goes
    // (the pipeline ends once every connection has stopped too).
    {
        let mut stopping = shutdown.clone();
        tokio::spawn(async move {
            let _ = stopping.wait_for(|stop| *stop).await;
            drop(fixed);
            drop(spawner);
        });
    }
    let queue_capacity = app.gather.queue_frames;
    let state = Arc::new(GatherState {
        connections,
        pipeline: PipelineStats::default(),
        producer: producer_stats,
        queue_capacity,
        simulated: setup.simulated,
        draining: std::sync::atomic::AtomicBool::new(false),
        http: Arc::default(),
        started_us: crate::stall::now(),
        kafka_stall: crate::stall::Stall::default(),
        unacked_timeout: app.gather.unacked_timeout,
        deadline: Arc::new(tokio::sync::Notify::new()),
        listings,
        reference: reference_stats,
    });
    // /metrics, /healthz and the progress line keep going while the shutdown drains; they
    // stop when the run is over (this sender dropped).
    let (http_stop, http_stopped) = watch::channel(false);
    {
        let state = Arc::clone(&state);
        let mut stopping = shutdown.clone();
        let deadline = app.gather.shutdown_timeout;
        tokio::spawn(async move {
            if stopping.wait_for(|stop| *stop).await.is_ok() {
                state.draining.store(true, Ordering::Relaxed);
                tokio::time::sleep(deadline).await;
                if !state.producer.abandon.load(Ordering::Relaxed) {
                    tracing::warn!(
                        "shutdown deadline of {deadline:?} reached: abandoning what is not acknowledged"
                    );
                }
                state.abandon();
            }
        });
    }

    let listener = tokio::net::TcpListener::bind(app.http_bind)
        .await
        .map_err(|e| anyhow::anyhow!("binding the HTTP endpoint {}: {e}", app.http_bind))?;
    let http_addr = listener.local_addr()?;
    let handler = report::handler(Arc::clone(&state));
    tokio::spawn(crate::http::serve(
        listener,
        handler,
        Arc::clone(&state.http),
        http_stopped.clone(),
    ));
    tokio::spawn(report::watchdog(Arc::clone(&state), http_stopped.clone()));
    if let Some(every) = app.gather.progress {
        tokio::spawn(report::progress(Arc::clone(&state), every, http_stopped));
    }

    let sink = Sink {
        simulated: setup.simulated,
        ticks_topic: app.topics.ticks.clone(),
        dlq_topic: app.topics.dlq.clone(),
        encoder: Encoder {
            format: app.format,
            schema_id,
        },
    };
    let thread_state = Arc::clone(&state);
    let waker = pipeline::Waker {
        runtime: tokio::runtime::Handle::current(),
        deadline: Arc::clone(&state.deadline),
    };
    let pipeline = std::thread::Builder::new()
        .name("tickflow-pipeline".into())
        .spawn(move || {
            pipeline::run(
                rx,
                &mut routes,
                &sink,
                &producer,
                &thread_state.pipeline,
                &waker,
            );
            // The queue is drained (or the deadline came): wait for what is in flight, up to
            // the deadline, then purge the rest (counted as abandoned).
            producer.drain();
        })?;
    let state_done = Arc::clone(&state);
    let done = tokio::spawn(async move {
        tokio::task::spawn_blocking(move || pipeline.join())
            .await?
            .map_err(|_| anyhow::anyhow!("the pipeline thread panicked"))?;
        // The followers have stopped: the publisher drains its last records (bounded by the
        // same deadline).
        if let Some(publishing) = publishing {
            tokio::task::spawn_blocking(move || publishing.join())
                .await?
                .map_err(|_| anyhow::anyhow!("the instrument reference thread panicked"))?;
        }
        // The connections have stopped (or were cut short by the deadline): the status
        // publisher drains its last records, bounded by the same deadline.
        tokio::task::spawn_blocking(move || status_publishing.join())
            .await?
            .map_err(|_| anyhow::anyhow!("the feed status thread panicked"))?;
        // The connections have stopped, unless the deadline cut the drain short: then each
        // counts the frame it held as it stops (bounded).
        let until = tokio::time::Instant::now() + Duration::from_secs(3);
        let tasks = std::mem::take(
            &mut *tasks
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        for t in tasks {
            let _ = tokio::time::timeout_at(until, t).await;
        }
        drop(http_stop);
        Ok(GatherOutcome::of(&state_done))
    });
    Ok(Running {
        http_addr,
        state,
        done,
    })
}

/// Room a dead letter needs beside its frame: headers (the error text is capped), key and the
/// record's own overhead.
pub const DEAD_LETTER_HEADROOM: usize = 16 * 1024;

/// librdkafka's `message.max.bytes` (default 1,000,000).
fn message_max_bytes(app: &AppConfig) -> usize {
    app.kafka
        .get("message.max.bytes")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

/// Refuses a connector whose largest frame, as a dead letter, could not fit in a Kafka message
/// (it would be refused by the producer and lost).
pub fn check_frame_limits(app: &AppConfig, connectors: &[ConnectorConfig]) -> anyhow::Result<()> {
    let most = message_max_bytes(app);
    let problems: Vec<String> = connectors
        .iter()
        .filter(|c| c.enabled && c.max_frame_bytes + DEAD_LETTER_HEADROOM > most)
        .map(|c| {
            format!(
                "connector `{}`: max_frame_bytes = {} cannot fit in a Kafka message: message.max.bytes is {most}, and a dead letter needs {DEAD_LETTER_HEADROOM} bytes beside the frame (lower max_frame_bytes to at most {}, or raise [kafka] message.max.bytes together with the topic's max.message.bytes)",
                c.name,
                c.max_frame_bytes,
                most.saturating_sub(DEAD_LETTER_HEADROOM)
            )
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("invalid configuration: {}", problems.join("; "))
    }
}

/// A counter's value.
pub(crate) fn get(a: &std::sync::atomic::AtomicU64) -> u64 {
    a.load(Ordering::Relaxed)
}

/// Probes whether any enabled connector's host accepts TCP connections within `timeout`.
pub async fn any_reachable(
    connectors: &[ConnectorConfig],
    timeout: Duration,
) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    for c in connectors.iter().filter(|c| c.enabled) {
        let Some(target) = c.host_port() else {
            continue;
        };
        match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(&target)).await {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(e)) => problems.push(format!("{target}: {e}")),
            Err(_) => problems.push(format!("{target}: no answer within {timeout:?}")),
        }
    }
    Err(problems)
}
