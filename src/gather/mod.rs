//! `tickflow gather`: exchanges → adapters → Kafka. Connections (one tokio task each) feed a
//! bounded queue; one pipeline thread decodes, encodes and produces ([`pipeline`]); metrics,
//! health and progress are in [`report`]. Shutdown: stop reading, drain the queue, flush the
//! producer.

pub mod pipeline;
pub mod report;

use crate::codec::Encoder;
use crate::config::{AppConfig, ConnectorConfig};
use crate::exchange::{AdapterConfig, SymbolTable, adapter_for};
use crate::kafka::{ProducerStats, TickProducer, ensure_topics, producer_properties};
use crate::ws::{ConnectionStats, Received};
use pipeline::{PipelineStats, Route, Sink};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tracing::Instrument;

/// Everything `gather` runs with.
#[derive(Debug, Clone)]
pub struct GatherSetup {
    /// Infrastructure settings.
    pub app: AppConfig,
    /// Enabled connectors (already redirected to a simulator when one is used).
    pub connectors: Vec<ConnectorConfig>,
    /// Binance symbols.
    pub symbols: Arc<SymbolTable>,
    /// TLS for `wss://`.
    pub tls: Arc<rustls::ClientConfig>,
    /// Label shown in progress and metrics when the feeds are simulated.
    pub simulated: bool,
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
}

/// Shared view of a running gatherer (metrics, health, tests).
#[derive(Debug)]
pub struct GatherState {
    /// Connections.
    pub connections: Vec<ConnectionInfo>,
    /// Pipeline counters.
    pub pipeline: PipelineStats,
    /// Producer counters.
    pub producer: Arc<ProducerStats>,
    /// The queue (weak: it must not keep the pipeline alive).
    pub queue: mpsc::WeakSender<Received>,
    /// Queue capacity.
    pub queue_capacity: usize,
    /// Simulated feeds.
    pub simulated: bool,
}

impl GatherState {
    /// Frames waiting in the queue.
    pub fn queued(&self) -> usize {
        self.queue
            .upgrade()
            .map_or(0, |t| self.queue_capacity.saturating_sub(t.capacity()))
    }
}

/// What a finished run left behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GatherOutcome {
    /// Ticks the pipeline made (and handed to the producer or counted as produce errors).
    pub ticks_produced: u64,
    /// Ticks acknowledged by the broker.
    pub ticks_acked: u64,
    /// Dead letters acknowledged.
    pub dead_letters_acked: u64,
    /// Messages still unacknowledged after the flush timeout, plus failed ones.
    pub lost: u64,
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
    // The id every header carries: the registry's (refusing to start when the schema is not
    // registered), or the fixed one when no registry is configured.
    let schema_id = crate::registry::producer_schema_id(app).await?;
    let properties = producer_properties(&app.kafka);
    if app.topics.create {
        let created = ensure_topics(
            &properties,
            &[&app.topics.ticks, &app.topics.dlq],
            app.topics.partitions,
            app.topics.replication_factor,
        )
        .await?;
        if !created.is_empty() {
            tracing::info!("created topics {}", created.join(", "));
        }
    }
    let producer_stats = Arc::new(ProducerStats::default());
    let producer = TickProducer::new(
        &properties,
        app.gather.max_block,
        Arc::clone(&producer_stats),
    )?;

    let (tx, rx) = mpsc::channel::<Received>(app.gather.queue_frames);
    let ticket = format!("tickflow-{}", std::process::id());
    let mut routes = Vec::new();
    let mut connections = Vec::new();
    let mut tasks = Vec::new();
    for (n, connector) in setup.connectors.iter().filter(|c| c.enabled).enumerate() {
        let instruments: HashSet<_> = connector.instruments.iter().cloned().collect();
        let adapter_config = AdapterConfig {
            max_frame_bytes: connector.max_frame_bytes,
            instruments: Some(Arc::new(instruments)),
            ..AdapterConfig::default()
        };
        routes.push(Route {
            connector: connector.name.clone(),
            exchange: connector.exchange,
            adapter: adapter_for(
                connector.exchange,
                adapter_config,
                Arc::clone(&setup.symbols),
            ),
        });
        let shared = Arc::new(connector.clone());
        for (index, plan) in crate::ws::plan(connector, &setup.symbols, &ticket)?
            .into_iter()
            .enumerate()
        {
            let stats = Arc::new(ConnectionStats::default());
            connections.push(ConnectionInfo {
                connector: connector.name.clone(),
                index,
                url: plan.url.clone(),
                stats: Arc::clone(&stats),
            });
            let seed = (n as u64) << 32 | index as u64 | u64::from(std::process::id()) << 48;
            // One span per connection: every event of the connection carries its identity.
            let span = tracing::info_span!("connection", connector = %connector.name, index);
            tasks.push(tokio::spawn(
                crate::ws::run(
                    Arc::clone(&shared),
                    plan,
                    tx.clone(),
                    stats,
                    shutdown.clone(),
                    seed,
                    Arc::clone(&setup.tls),
                )
                .instrument(span),
            ));
        }
    }
    if connections.is_empty() {
        anyhow::bail!("no enabled connector");
    }
    let weak = tx.downgrade();
    drop(tx);
    let queue_capacity = app.gather.queue_frames;
    let state = Arc::new(GatherState {
        connections,
        pipeline: PipelineStats::default(),
        producer: producer_stats,
        queue: weak,
        queue_capacity,
        simulated: setup.simulated,
    });

    let listener = tokio::net::TcpListener::bind(app.http_bind)
        .await
        .map_err(|e| anyhow::anyhow!("binding the HTTP endpoint {}: {e}", app.http_bind))?;
    let http_addr = listener.local_addr()?;
    let handler = report::handler(Arc::clone(&state));
    tokio::spawn(crate::http::serve(listener, handler, shutdown.clone()));
    if let Some(every) = app.gather.progress {
        tokio::spawn(report::progress(
            Arc::clone(&state),
            every,
            shutdown.clone(),
        ));
    }

    let sink = Sink {
        ticks_topic: app.topics.ticks.clone(),
        dlq_topic: app.topics.dlq.clone(),
        encoder: Encoder {
            format: app.format,
            schema_id,
        },
    };
    let flush_timeout = app.gather.flush_timeout;
    let thread_state = Arc::clone(&state);
    let pipeline = std::thread::Builder::new()
        .name("tickflow-pipeline".into())
        .spawn(move || {
            pipeline::run(rx, &routes, &sink, &producer, &thread_state.pipeline);
            // Every connection has stopped and the queue is drained: flush what is in flight.
            let left = producer.flush(flush_timeout);
            (left, thread_state)
        })?;
    let done = tokio::spawn(async move {
        for t in tasks {
            let _ = t.await;
        }
        let (left, state) = tokio::task::spawn_blocking(move || pipeline.join())
            .await?
            .map_err(|_| anyhow::anyhow!("the pipeline thread panicked"))?;
        let p = &state.producer;
        let failed = p.delivery_failed.load(std::sync::atomic::Ordering::Relaxed)
            + p.queue_full_failed
                .load(std::sync::atomic::Ordering::Relaxed)
            + state
                .pipeline
                .produce_errors
                .load(std::sync::atomic::Ordering::Relaxed);
        Ok(GatherOutcome {
            ticks_produced: ProducerStats::total(&state.pipeline.ticks),
            ticks_acked: ProducerStats::total(&p.ticks_acked),
            dead_letters_acked: p.dlq_acked.load(std::sync::atomic::Ordering::Relaxed),
            lost: u64::try_from(left.max(0)).unwrap_or(0) + failed,
        })
    });
    Ok(Running {
        http_addr,
        state,
        done,
    })
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
