//! The producer: librdkafka (bundled build) with the contract's settings
//! ([`super::contract::producer_config`]), delivery reports
//! counted per exchange, receive→ack latency recorded, and bounded backpressure when
//! librdkafka's queue is full.

use super::contract;
use crate::metrics::Histogram;
use crate::model::time::now_us;
use crate::model::{Exchange, PerExchange};
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{
    BaseRecord, DeliveryResult, Producer, ProducerContext, PurgeConfig, ThreadedProducer,
};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Delivery accounting, shared with metrics and progress.
#[derive(Debug, Default)]
pub struct ProducerStats {
    /// Ticks handed to librdkafka, per exchange.
    pub ticks_sent: PerExchange<AtomicU64>,
    /// Ticks the broker acknowledged, per exchange.
    pub ticks_acked: PerExchange<AtomicU64>,
    /// Dead letters handed to librdkafka.
    pub dlq_sent: AtomicU64,
    /// Dead letters acknowledged.
    pub dlq_acked: AtomicU64,
    /// Ticks that did not reach the broker, by why.
    pub ticks_lost: Lost,
    /// Dead letters that did not reach the broker, by why.
    pub dlq_lost: Lost,
    /// Instrument reference records handed to librdkafka (`instruments.v1`).
    pub reference_sent: AtomicU64,
    /// Instrument reference records acknowledged.
    pub reference_acked: AtomicU64,
    /// Instrument reference records that did not reach the broker, by why.
    pub reference_lost: Lost,
    /// Feed status records handed to librdkafka (`feed.status.v1`).
    pub status_sent: AtomicU64,
    /// Feed status records acknowledged.
    pub status_acked: AtomicU64,
    /// Feed status records that did not reach the broker, by why.
    pub status_lost: Lost,
    /// Messages given up after waiting `max_block` for queue room (also in `refused`).
    pub queue_full_failed: AtomicU64,
    /// Set at the shutdown deadline (or a second signal): sends waiting for queue room give
    /// up at once, and what librdkafka still holds is purged.
    pub abandon: AtomicBool,
    /// When the broker last acknowledged a message, UTC epoch µs (0: never).
    pub last_ack_us: AtomicU64,
    /// Sends that had to wait for queue room.
    pub backpressure_waits: AtomicU64,
    /// Total time spent waiting for queue room, µs.
    pub backpressure_wait_us: AtomicU64,
    /// Client-level errors reported by librdkafka (broker down, auth, ...).
    pub client_errors: AtomicU64,
    /// Receive → broker acknowledgement, µs, for ticks.
    pub ack_latency_us: Histogram,
    /// True while librdkafka reports all brokers down; cleared by the next delivery.
    pub brokers_down: AtomicBool,
    /// Rate limit of per-message failure lines (one per reason per interval, with counts).
    pub failures_log: crate::logging::RateLimited,
    /// Kinds of client error logged since the last successful delivery.
    logged_errors: Mutex<std::collections::BTreeSet<String>>,
    /// librdkafka's fatal error, once raised: the producer can deliver nothing more (e.g. the
    /// idempotent producer's `UnknownProducerId` or `OutOfOrderSequenceNumber` after the broker
    /// lost its state).
    fatal: Mutex<Option<String>>,
    /// Woken when [`ProducerStats::fatal`] is set.
    fatal_raised: tokio::sync::Notify,
}

impl ProducerStats {
    /// The fatal error, if librdkafka raised one.
    pub fn fatal(&self) -> Option<String> {
        self.fatal.lock().ok().and_then(|f| f.clone())
    }

    /// Completes when librdkafka raises a fatal error, with its text.
    pub async fn fatal_raised(&self) -> String {
        loop {
            if let Some(reason) = self.fatal() {
                return reason;
            }
            self.fatal_raised.notified().await;
        }
    }

    /// Records the first fatal error; later ones are the same failure seen again.
    fn set_fatal(&self, reason: String) -> bool {
        let Ok(mut fatal) = self.fatal.lock() else {
            return false;
        };
        if fatal.is_some() {
            return false;
        }
        *fatal = Some(reason);
        self.fatal_raised.notify_one();
        true
    }
}

/// Messages of one kind that were produced and not acknowledged, by why. Every one is in
/// exactly one of these: produced = acknowledged + refused + failed + abandoned + unresolved.
#[derive(Debug, Default)]
pub struct Lost {
    /// Never handed to librdkafka: its queue stayed full for `max_block`, the shutdown
    /// deadline came while waiting, or librdkafka refused it (too large, unknown topic).
    pub refused: AtomicU64,
    /// Delivery failed for good (after librdkafka's retries).
    pub failed: AtomicU64,
    /// Still unacknowledged at the shutdown deadline: purged from librdkafka's queue (the
    /// broker may or may not have written those in flight).
    pub abandoned: AtomicU64,
}

impl Lost {
    /// Settled without an acknowledgement after being handed to librdkafka.
    pub fn settled(&self) -> u64 {
        self.failed.load(Ordering::Relaxed) + self.abandoned.load(Ordering::Relaxed)
    }

    /// Everything counted here.
    pub fn total(&self) -> u64 {
        self.refused.load(Ordering::Relaxed) + self.settled()
    }
}

impl ProducerStats {
    /// Handed to librdkafka and neither acknowledged nor settled yet (its queue and in flight).
    pub fn pending(&self) -> u64 {
        let sent = self.ticks_sent.total()
            + self.dlq_sent.load(Ordering::Relaxed)
            + self.reference_sent.load(Ordering::Relaxed)
            + self.status_sent.load(Ordering::Relaxed);
        let settled = self.ticks_acked.total()
            + self.dlq_acked.load(Ordering::Relaxed)
            + self.reference_acked.load(Ordering::Relaxed)
            + self.ticks_lost.settled()
            + self.dlq_lost.settled()
            + self.reference_lost.settled()
            + self.status_acked.load(Ordering::Relaxed)
            + self.status_lost.settled();
        sent.saturating_sub(settled)
    }
}

/// What kind of message a delivery report is about (each is counted apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Tick,
    DeadLetter,
    Reference,
    Status,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Tick => "tick",
            Self::DeadLetter => "dead letter",
            Self::Reference => "instrument record",
            Self::Status => "feed status record",
        }
    }
}

/// What a delivery report refers to.
#[derive(Debug)]
pub struct Meta {
    received_ts_us: i64,
    /// Unknown for a dead letter that is not an exchange frame (an undecodable Kafka message).
    exchange: Option<Exchange>,
    kind: Kind,
    /// Told the outcome, for a sender that waits for this one message.
    ticket: Option<Arc<Ticket>>,
}

/// The outcome of one message, for a sender that must know it (the cache moves a poison
/// message's offset only after its dead letter was acknowledged).
#[derive(Debug, Default)]
pub struct Ticket {
    /// 0 pending, 1 acknowledged, 2 failed.
    state: std::sync::atomic::AtomicU8,
}

impl Ticket {
    /// `None` while pending; `Some(true)` when acknowledged.
    pub fn outcome(&self) -> Option<bool> {
        match self.state.load(Ordering::Acquire) {
            0 => None,
            s => Some(s == 1),
        }
    }

    fn settle(&self, acknowledged: bool) {
        self.state
            .store(if acknowledged { 1 } else { 2 }, Ordering::Release);
    }

    /// Settles the ticket as a delivery report would (tests of what waits on it).
    #[cfg(test)]
    pub(crate) fn settle_for_test(&self, acknowledged: bool) {
        self.settle(acknowledged);
    }
}

/// The rdkafka context: counts delivery reports and client errors.
#[derive(Debug)]
pub struct Context {
    stats: Arc<ProducerStats>,
    /// Print every librdkafka log line (when the `debug` property is set).
    verbose: bool,
    /// `bootstrap.servers`, named in every error.
    bootstrap: String,
}

impl ClientContext for Context {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        super::librdkafka_log(self.verbose, level, fac, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.stats.client_errors.fetch_add(1, Ordering::Relaxed);
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::AllBrokersDown) {
            self.stats.brokers_down.store(true, Ordering::Relaxed);
        }
        // librdkafka repeats an error at every retry, with counts that change from one to the
        // next ("1/1 brokers are down", "0/1 ..."): logged once per kind of error until a
        // delivery succeeds, and every failure counted.
        let kind = match error.rdkafka_error_code() {
            Some(code) => format!("{code:?}"),
            None => error.to_string(),
        };
        if let Ok(mut logged) = self.stats.logged_errors.lock()
            && logged.insert(kind)
        {
            tracing::warn!(
                "kafka {}: {error}: {reason} (librdkafka retries; deliveries are kept)",
                self.bootstrap
            );
        }
    }
}

impl ProducerContext for Context {
    type DeliveryOpaque = Box<Meta>;

    fn delivery(&self, result: &DeliveryResult<'_>, meta: Box<Meta>) {
        let s = &self.stats;
        if let Some(ticket) = &meta.ticket {
            ticket.settle(result.is_ok());
        }
        match result {
            Ok(_) => {
                s.brokers_down.store(false, Ordering::Relaxed);
                s.last_ack_us
                    .store(u64::try_from(now_us()).unwrap_or(0), Ordering::Relaxed);
                if let Ok(mut logged) = s.logged_errors.lock() {
                    logged.clear();
                }
                match (meta.kind, meta.exchange) {
                    (Kind::Tick, Some(exchange)) => {
                        s.ticks_acked.add(exchange, 1);
                        let waited = now_us().saturating_sub(meta.received_ts_us);
                        s.ack_latency_us.record(u64::try_from(waited).unwrap_or(0));
                    }
                    (Kind::Reference, _) => {
                        s.reference_acked.fetch_add(1, Ordering::Relaxed);
                    }
                    (Kind::Status, _) => {
                        s.status_acked.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {
                        s.dlq_acked.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            Err((e, _)) => {
                let lost = match meta.kind {
                    Kind::Tick => &s.ticks_lost,
                    Kind::DeadLetter => &s.dlq_lost,
                    Kind::Reference => &s.reference_lost,
                    Kind::Status => &s.status_lost,
                };
                let purged = matches!(
                    e.rdkafka_error_code(),
                    Some(RDKafkaErrorCode::PurgeQueue | RDKafkaErrorCode::PurgeInflight)
                );
                if purged {
                    // Abandoned at the shutdown deadline: counted, and summed up in the
                    // shutdown accounting rather than logged one by one.
                    lost.abandoned.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                lost.failed.fetch_add(1, Ordering::Relaxed);
                let reason = format!("{} not delivered: {e}", meta.kind.as_str());
                if let Some(more) = s.failures_log.admit(&reason) {
                    tracing::error!(
                        exchange = meta.exchange.map_or("-", Exchange::as_str),
                        received_ts_us = meta.received_ts_us,
                        "kafka {}: {reason}{more}",
                        self.bootstrap
                    );
                }
            }
        }
    }
}

/// Why a message was not handed to librdkafka.
#[derive(Debug, thiserror::Error)]
pub enum ProduceError {
    /// librdkafka's queue stayed full for the whole bound.
    #[error("producer queue stayed full for {0:?}")]
    QueueFull(Duration),
    /// The shutdown deadline came while waiting for queue room.
    #[error("abandoned at the shutdown deadline while waiting for producer queue room")]
    Abandoned,
    /// Any other refusal (message too large, unknown topic, ...).
    #[error("produce: {0}")]
    Kafka(#[from] KafkaError),
}

/// The gatherer's producer.
pub struct TickProducer {
    producer: ThreadedProducer<Context>,
    stats: Arc<ProducerStats>,
    max_block: Duration,
    /// Headers every tick and instrument record carries (`simulated: true` for synthetic
    /// feeds).
    tick_headers: Option<OwnedHeaders>,
}

impl std::fmt::Debug for TickProducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TickProducer")
            .field("max_block", &self.max_block)
            .finish()
    }
}

impl TickProducer {
    /// Creates the producer from the full property set (see
    /// [`super::contract::producer_properties`]).
    pub fn new(
        properties: &BTreeMap<String, String>,
        max_block: Duration,
        stats: Arc<ProducerStats>,
    ) -> Result<Self, KafkaError> {
        // `debug` (e.g. TICKFLOW_KAFKA__DEBUG=broker,eos,msg) turns on librdkafka's own log.
        let verbose = properties.contains_key("debug");
        let producer = contract::producer_config(properties).create_with_context(Context {
            stats: Arc::clone(&stats),
            verbose,
            bootstrap: properties
                .get("bootstrap.servers")
                .cloned()
                .unwrap_or_else(|| "(no bootstrap.servers)".into()),
        })?;
        Ok(Self {
            producer,
            stats,
            max_block,
            tick_headers: None,
        })
    }

    /// Every tick and instrument record from now on carries
    /// [`contract::SIMULATED_HEADER`].
    pub fn mark_simulated(&mut self) {
        let (key, value) = contract::SIMULATED_HEADER;
        self.tick_headers = Some(OwnedHeaders::new().insert(Header {
            key,
            value: Some(value),
        }));
    }

    /// `bootstrap.servers`, for messages naming the cluster.
    pub fn bootstrap(&self) -> &str {
        &self.producer.context().bootstrap
    }

    /// Shared statistics.
    pub fn stats(&self) -> &Arc<ProducerStats> {
        &self.stats
    }

    /// Sends a canonical tick. Blocks (up to `max_block`) while librdkafka's queue is full.
    pub fn send_tick(
        &self,
        topic: &str,
        key: &[u8],
        value: &[u8],
        exchange: Exchange,
        received_ts_us: i64,
    ) -> Result<(), ProduceError> {
        let meta = Box::new(Meta {
            received_ts_us,
            exchange: Some(exchange),
            kind: Kind::Tick,
            ticket: None,
        });
        let mut record = BaseRecord::with_opaque_to(topic, meta)
            .key(key)
            .payload(value);
        if let Some(h) = &self.tick_headers {
            record = record.headers(h.clone());
        }
        if let Err(e) = self.send(record) {
            self.stats
                .ticks_lost
                .refused
                .fetch_add(1, Ordering::Relaxed);
            return Err(e);
        }
        self.stats.ticks_sent.add(exchange, 1);
        Ok(())
    }

    /// Sends an instrument reference record (Confluent-framed `value`, key
    /// `EXCHANGE:BASE-QUOTE`), whose outcome `ticket` is told. Synthetic feeds mark it like
    /// ticks. Blocks (up to `max_block`) while librdkafka's queue is full.
    pub fn send_reference(
        &self,
        topic: &str,
        key: &[u8],
        value: &[u8],
        exchange: Exchange,
        ticket: Arc<Ticket>,
    ) -> Result<(), ProduceError> {
        let meta = Box::new(Meta {
            received_ts_us: now_us(),
            exchange: Some(exchange),
            kind: Kind::Reference,
            ticket: Some(ticket),
        });
        let mut record = BaseRecord::with_opaque_to(topic, meta)
            .key(key)
            .payload(value);
        if let Some(h) = &self.tick_headers {
            record = record.headers(h.clone());
        }
        if let Err(e) = self.send(record) {
            self.stats
                .reference_lost
                .refused
                .fetch_add(1, Ordering::Relaxed);
            return Err(e);
        }
        self.stats.reference_sent.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Sends a feed status record (Confluent-framed `value`, key `EXCHANGE:connector`).
    /// Synthetic feeds mark it like ticks. Blocks (up to `max_block`) while librdkafka's queue
    /// is full.
    pub fn send_status(
        &self,
        topic: &str,
        key: &[u8],
        value: &[u8],
        exchange: Exchange,
    ) -> Result<(), ProduceError> {
        let meta = Box::new(Meta {
            received_ts_us: now_us(),
            exchange: Some(exchange),
            kind: Kind::Status,
            ticket: None,
        });
        let mut record = BaseRecord::with_opaque_to(topic, meta)
            .key(key)
            .payload(value);
        if let Some(h) = &self.tick_headers {
            record = record.headers(h.clone());
        }
        if let Err(e) = self.send(record) {
            self.stats
                .status_lost
                .refused
                .fetch_add(1, Ordering::Relaxed);
            return Err(e);
        }
        self.stats.status_sent.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Sends a frame's dead letter: the raw frame with the given headers
    /// ([`contract::dead_letter_headers`]), keyed by exchange ([`contract::dead_letter_key`]).
    pub fn send_dead_letter(
        &self,
        topic: &str,
        raw: &[u8],
        headers: &[(&str, String)],
        exchange: Exchange,
        received_ts_us: i64,
    ) -> Result<(), ProduceError> {
        self.send_letter(
            topic,
            contract::dead_letter_key(exchange),
            raw,
            headers,
            Some(exchange),
            received_ts_us,
            None,
        )
    }

    /// Sends a dead letter whose outcome `ticket` is told.
    pub fn send_tracked_dead_letter(
        &self,
        topic: &str,
        key: &[u8],
        raw: &[u8],
        headers: &[(&str, String)],
        ticket: Arc<Ticket>,
    ) -> Result<(), ProduceError> {
        self.send_letter(topic, key, raw, headers, None, now_us(), Some(ticket))
    }

    #[allow(clippy::too_many_arguments)]
    fn send_letter(
        &self,
        topic: &str,
        key: &[u8],
        raw: &[u8],
        headers: &[(&str, String)],
        exchange: Option<Exchange>,
        received_ts_us: i64,
        ticket: Option<Arc<Ticket>>,
    ) -> Result<(), ProduceError> {
        let mut h = OwnedHeaders::new_with_capacity(headers.len());
        for (name, value) in headers {
            h = h.insert(Header {
                key: name,
                value: Some(value.as_bytes()),
            });
        }
        let meta = Box::new(Meta {
            received_ts_us,
            exchange,
            kind: Kind::DeadLetter,
            ticket,
        });
        let record = BaseRecord::with_opaque_to(topic, meta)
            .key(key)
            .payload(raw)
            .headers(h);
        if let Err(e) = self.send(record) {
            self.stats.dlq_lost.refused.fetch_add(1, Ordering::Relaxed);
            return Err(e);
        }
        self.stats.dlq_sent.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn send<K, P>(&self, mut record: BaseRecord<'_, K, P, Box<Meta>>) -> Result<(), ProduceError>
    where
        K: rdkafka::message::ToBytes + ?Sized,
        P: rdkafka::message::ToBytes + ?Sized,
    {
        let mut waiting: Option<Instant> = None;
        let result = loop {
            match self.producer.send(record) {
                Ok(()) => break Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    let since = *waiting.get_or_insert_with(|| {
                        self.stats
                            .backpressure_waits
                            .fetch_add(1, Ordering::Relaxed);
                        Instant::now()
                    });
                    if self.stats.abandon.load(Ordering::Relaxed) {
                        break Err(ProduceError::Abandoned);
                    }
                    if since.elapsed() >= self.max_block {
                        self.stats.queue_full_failed.fetch_add(1, Ordering::Relaxed);
                        break Err(ProduceError::QueueFull(self.max_block));
                    }
                    record = back;
                    // The polling thread serves delivery reports, which frees room.
                    std::thread::sleep(Duration::from_micros(500));
                }
                Err((e, _)) => {
                    if e.rdkafka_error_code() == Some(RDKafkaErrorCode::Fatal) {
                        // librdkafka reports the fatal error itself to the error callback as
                        // an ordinary client error (its underlying code, e.g.
                        // OutOfOrderSequenceNumber; rust-rdkafka passes no fatal flag): the
                        // refusal is where it shows. Recorded once, with librdkafka's words.
                        let reason = self.producer.client().fatal_error().map_or_else(
                            || "fatal error".to_owned(),
                            |(code, text)| format!("{code:?}: {text}"),
                        );
                        if self.stats.set_fatal(reason.clone()) {
                            tracing::error!(
                                "kafka: fatal producer error: {reason} (this producer can deliver nothing more)"
                            );
                        }
                    }
                    break Err(ProduceError::Kafka(e));
                }
            }
        };
        if let Some(since) = waiting {
            let us = u64::try_from(since.elapsed().as_micros()).unwrap_or(u64::MAX);
            self.stats
                .backpressure_wait_us
                .fetch_add(us, Ordering::Relaxed);
        }
        result
    }

    /// Messages not yet acknowledged or failed.
    pub fn in_flight(&self) -> i32 {
        self.producer.in_flight_count()
    }

    /// Waits up to `timeout` for every outstanding delivery; returns how many are left.
    pub fn flush(&self, timeout: Duration) -> i32 {
        let _ = self.producer.flush(timeout);
        self.producer.in_flight_count()
    }

    /// Waits for every outstanding delivery until they are all settled or
    /// [`ProducerStats::abandon`] is set; then purges what is left (counted as abandoned by the
    /// delivery reports) and returns how many reports did not arrive even then.
    pub fn drain(&self) -> i32 {
        while self.producer.in_flight_count() > 0 && !self.stats.abandon.load(Ordering::Relaxed) {
            let _ = self.producer.flush(Duration::from_millis(100));
        }
        if self.producer.in_flight_count() > 0 {
            self.producer
                .purge(PurgeConfig::default().queue().inflight());
            // The purge's delivery reports are served by the next polls.
            let _ = self.producer.flush(Duration::from_secs(1));
        }
        self.producer.in_flight_count()
    }
}
