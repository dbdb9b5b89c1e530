//! The hot loop on its own thread: frame → adapter → tick → quality flags ([`super::flags`]) →
//! encoder → producer, or frame → dead letter. Frames of one connection stay in order; the
//! producer keeps order per key.

use super::feeds::AdapterSlot;
use super::flags::Tracker;
use crate::codec::Encoder;
use crate::config::ConnectorConfig;
use crate::exchange::{Adapter, Decoded, Frame, FrameType};
use crate::kafka::contract::{Origin, dead_letter_headers};
use crate::kafka::{DeadLetter, TickProducer};
use crate::model::{Exchange, Flag, PerExchange};
use crate::ws::Received;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// Counters of the pipeline, per exchange.
#[derive(Debug, Default)]
pub struct PipelineStats {
    /// Frames taken from the queue.
    pub frames: PerExchange<AtomicU64>,
    /// Frames that became ticks.
    pub ticks: PerExchange<AtomicU64>,
    /// Control messages (acks, status), not data, not dead letters.
    pub controls: PerExchange<AtomicU64>,
    /// Ticks dropped as not newer than one already published (a whole-state channel whose
    /// ids only increase: [`crate::exchange::profile::ChannelSpec::drop_not_newer`]).
    pub not_newer: PerExchange<AtomicU64>,
    /// Frames sent to the DLQ.
    pub dead_letters: PerExchange<AtomicU64>,
    /// Ticks handed to the producer with each quality flag set, by [`Flag::index`].
    pub flags: PerExchange<[AtomicU64; Flag::ALL.len()]>,
    /// Messages the producer refused (queue full beyond the bound, oversized, ...).
    pub produce_errors: AtomicU64,
    /// Frames left in the queue, undecoded, at the shutdown deadline.
    pub frames_left: AtomicU64,
    /// Rate limit of the lines about dead letters, per exchange and reason.
    pub dead_letters_log: PerExchange<crate::logging::RateLimited>,
    /// Rate limit of the lines about refused messages.
    pub failures_log: crate::logging::RateLimited,
    /// Dead letters by (exchange, reason).
    pub by_reason: Mutex<BTreeMap<(Exchange, &'static str), u64>>,
}

/// One connector's decoding state.
pub struct Route {
    /// Connector name, as in [`Received::connector`].
    pub connector: String,
    /// Its exchange.
    pub exchange: Exchange,
    /// Its adapter.
    pub adapter: Box<dyn Adapter>,
    /// Where a newer adapter (for a changed set of instruments) waits.
    slot: Arc<AdapterSlot>,
    /// The generation of `adapter`.
    generation: u64,
    /// What the quality flags remember of its ticks.
    tracker: Tracker,
}

impl Route {
    /// The route of `connector`, whose adapter comes from `slot`; `None` while the slot holds
    /// none.
    pub fn new(connector: &ConnectorConfig, slot: Arc<AdapterSlot>) -> Option<Self> {
        let generation = slot.generation();
        let adapter = slot.take()?;
        Some(Self {
            connector: connector.name.clone(),
            exchange: connector.exchange,
            adapter,
            slot,
            generation,
            tracker: Tracker::new(&connector.channels),
        })
    }

    /// Takes the newer adapter if the connector's instruments changed (one atomic load when
    /// they did not).
    fn refresh(&mut self) {
        let now = self.slot.generation();
        if now != self.generation {
            if let Some(adapter) = self.slot.take() {
                self.adapter = adapter;
            }
            self.generation = now;
        }
    }
}

/// Where the pipeline writes.
#[derive(Debug, Clone)]
pub struct Sink {
    /// The feeds are simulated: dead letters carry the `simulated` header too.
    pub simulated: bool,
    /// Canonical ticks topic.
    pub ticks_topic: String,
    /// DLQ topic.
    pub dlq_topic: String,
    /// Value encoder.
    pub encoder: Encoder,
}

/// How the pipeline learns that the shutdown deadline came while it waits for frames.
#[derive(Debug)]
pub struct Waker {
    /// The runtime the connections run on (to wait on the queue and the deadline together).
    pub runtime: tokio::runtime::Handle,
    /// Notified when [`crate::kafka::ProducerStats::abandon`] is set.
    pub deadline: Arc<tokio::sync::Notify>,
}

/// Runs until every sender of `rx` is gone (the connections stopped), or until the shutdown
/// deadline ([`crate::kafka::ProducerStats::abandon`]); frames still queued then are not
/// decoded, only counted ([`PipelineStats::frames_left`]).
pub fn run(
    mut rx: mpsc::Receiver<Received>,
    routes: &mut [Route],
    sink: &Sink,
    producer: &TickProducer,
    stats: &PipelineStats,
    waker: &Waker,
) {
    let mut value = Vec::with_capacity(512);
    let mut key = String::with_capacity(32);
    let abandon = &producer.stats().abandon;
    loop {
        if abandon.load(Ordering::Relaxed) {
            break;
        }
        let frame = match rx.try_recv() {
            Ok(frame) => frame,
            Err(mpsc::error::TryRecvError::Disconnected) => return,
            // Idle: wait for the next frame or the deadline, whichever comes first.
            Err(mpsc::error::TryRecvError::Empty) => {
                let next = waker.runtime.block_on(async {
                    tokio::select! {
                        biased;
                        () = waker.deadline.notified() => None,
                        frame = rx.recv() => Some(frame),
                    }
                });
                match next {
                    Some(Some(frame)) => frame,
                    Some(None) => return,
                    None => break,
                }
            }
        };
        let Some(route) = routes.iter_mut().find(|r| *r.connector == *frame.connector) else {
            // Cannot happen: every connection is started from a route.
            continue;
        };
        route.refresh();
        stats.frames.add(route.exchange, 1);
        let input = match frame.frame_type {
            FrameType::Text => Frame::text(&frame.bytes),
            FrameType::Binary => Frame::binary(&frame.bytes),
        };
        let mut decoded = match &frame.oversize {
            // Cut at the socket: not decoded, dead-lettered with what it was.
            Some(o) => Err(crate::model::Rejection::new(
                crate::model::Reason::FrameTooLarge,
                format!(
                    "frame of {} bytes exceeds the {}-byte limit (max_frame_bytes); its first {} bytes are kept",
                    o.size,
                    frame.bytes.len(),
                    frame.bytes.len()
                ),
            )),
            None => route.adapter.decode(input, frame.received_ts_us),
        };
        let tracker = &mut route.tracker;
        let mut publish = |tick: &mut crate::model::Tick| -> Result<(), DeadLetter> {
            if tracker.not_newer(tick) {
                // The venue restated an older state: nothing new to publish.
                stats.not_newer.add(route.exchange, 1);
                return Ok(());
            }
            let before = tracker.observe(frame.session, tick);
            value.clear();
            if let Err(e) = sink.encoder.encode(tick, &mut value) {
                tracker.undo(tick, before);
                return Err(DeadLetter::unencodable(&e));
            }
            key.clear();
            tick.write_key(&mut key);
            stats.ticks.add(route.exchange, 1);
            for flag in Flag::ALL {
                if tick.has(flag) {
                    stats.flags[route.exchange][flag.index()].fetch_add(1, Ordering::Relaxed);
                }
            }
            let sent = producer.send_tick(
                &sink.ticks_topic,
                key.as_bytes(),
                &value,
                route.exchange,
                frame.received_ts_us,
            );
            if let Err(e) = sent {
                produce_failed(stats, &route.connector, "tick", &e);
            }
            Ok(())
        };
        // Matched by reference: moving a 400-byte tick out of the result would copy it.
        let letter = match &mut decoded {
            Ok(Decoded::Tick(tick)) => match publish(tick) {
                Ok(()) => continue,
                Err(letter) => letter,
            },
            // Validated together; an encoding failure (values are checked to fit first) would
            // dead-letter the frame after the ticks before it were sent.
            Ok(Decoded::Ticks(ticks)) => match ticks.iter_mut().try_for_each(&mut publish) {
                Ok(()) => continue,
                Err(letter) => letter,
            },
            Ok(Decoded::Control(_)) => {
                stats.controls.add(route.exchange, 1);
                continue;
            }
            Ok(Decoded::Unsupported { message_type }) => DeadLetter::unsupported(message_type),
            Err(rejection) => DeadLetter::rejected(rejection),
        };
        stats.dead_letters.add(route.exchange, 1);
        if let Ok(mut m) = stats.by_reason.lock() {
            *m.entry((route.exchange, letter.reason)).or_insert(0) += 1;
        }
        if let Some(more) = stats.dead_letters_log[route.exchange].admit(letter.reason) {
            // One line per (exchange, reason) per interval; every one is in /metrics.
            tracing::warn!(
                connector = %route.connector,
                stage = letter.stage,
                reason = letter.reason,
                "dead letter: {}{more}",
                letter.error
            );
        }
        let origin = Origin::Frame {
            exchange: route.exchange,
            connector: &route.connector,
            frame_type: frame.frame_type,
            simulated: sink.simulated,
            cut: frame.oversize.as_ref().map(|o| (o.size, o.sha256.as_str())),
        };
        let headers = dead_letter_headers(&letter, &origin, frame.received_ts_us);
        let sent = producer.send_dead_letter(
            &sink.dlq_topic,
            &frame.bytes,
            &headers,
            route.exchange,
            frame.received_ts_us,
        );
        if let Err(e) = sent {
            produce_failed(stats, &route.connector, "dead letter", &e);
        }
    }
    // The deadline: what is still queued is not decoded (and closing makes the connections
    // count the frame each may hold).
    rx.close();
    while rx.try_recv().is_ok() {
        stats.frames_left.fetch_add(1, Ordering::Relaxed);
    }
}

fn produce_failed(
    stats: &PipelineStats,
    connector: &str,
    what: &str,
    e: &crate::kafka::ProduceError,
) {
    let so_far = stats.produce_errors.fetch_add(1, Ordering::Relaxed) + 1;
    let reason = format!("{what} not produced: {e}");
    if let Some(more) = stats.failures_log.admit(&reason) {
        tracing::error!(connector = %connector, so_far, "{reason}{more}");
    }
}
