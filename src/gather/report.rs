//! What the gatherer shows: `/metrics` (Prometheus), `/healthz`, `/readyz`, and a progress
//! line on stderr (ticks/s per exchange, DLQ count, queue, receive→ack latency).

use super::GatherState;
use crate::http::{Handler, Response};
use crate::metrics::{Exposition, quantile_of};
use crate::model::Exchange;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::watch;

use super::get;

/// Ready when not stopping, every connection is up and has delivered data within its idle
/// window, the venues refuse no instrument, librdkafka does not report all brokers down, and the broker has acknowledged
/// something within `unacked_timeout` whenever sends are pending. `Err` says why not.
pub fn ready(state: &GatherState) -> Result<(), String> {
    if state.draining.load(Ordering::Relaxed) {
        return Err("stopping: draining and flushing to Kafka".into());
    }
    let now = crate::stall::now();
    let mut why = Vec::new();
    let down: Vec<_> = state
        .connections
        .active()
        .iter()
        .filter(|c| get(&c.stats.up) == 0)
        .map(|c| format!("{}#{}", c.connector, c.index))
        .collect();
    if !down.is_empty() {
        why.push(format!("not connected: {}", down.join(", ")));
    }
    for c in state.connections.active().iter() {
        let last = get(&c.stats.last_frame_us).max(state.started_us);
        let silent = Duration::from_micros(now.saturating_sub(last));
        if get(&c.stats.up) == 1 && silent > c.idle {
            why.push(format!(
                "{}#{}: no data for {} s (idle window {} s)",
                c.connector,
                c.index,
                silent.as_secs(),
                c.idle.as_secs()
            ));
        }
    }
    for c in state.connections.active().iter() {
        let refused = c.stats.refused.list();
        if let Some((_, text, _)) = refused.first() {
            let names: Vec<String> = refused.iter().map(|(i, _, _)| i.to_string()).collect();
            why.push(format!(
                "{}#{}: {} instrument(s) refused by the venue ({}): {}; retried with backoff",
                c.connector,
                c.index,
                refused.len(),
                text,
                names.join(", ")
            ));
        }
    }
    for l in &state.listings {
        if let Err(stale) = l.ready(now) {
            why.push(stale);
        }
    }
    let k = &state.producer;
    if let Some(fatal) = k.fatal() {
        why.push(format!("kafka: fatal producer error: {fatal}"));
    }
    if k.brokers_down.load(Ordering::Relaxed) {
        why.push("all Kafka brokers are down".into());
    }
    if let Some(stalled) = state.kafka_stall.stalled_for(now)
        && stalled >= state.unacked_timeout
    {
        why.push(format!(
            "kafka: nothing acknowledged for {} s with {} pending",
            stalled.as_secs(),
            k.pending()
        ));
    }
    if why.is_empty() {
        Ok(())
    } else {
        Err(why.join("; "))
    }
}

/// The listing health of connectors that follow whole markets.
fn listing_metrics(e: &mut Exposition, listings: &[Arc<crate::markets::ListingStats>]) {
    type Field = fn(&crate::markets::ListingStats) -> u64;
    let families: [(&str, &str, &str, Field); 8] = [
        (
            "tickflow_listing_instruments",
            "gauge",
            "instruments followed now",
            |l| get(&l.instruments),
        ),
        (
            "tickflow_listing_accepted_total",
            "counter",
            "listings accepted (the first included)",
            |l| get(&l.accepted),
        ),
        (
            "tickflow_listing_failures_total",
            "counter",
            "listing fetches that failed after their retries (the last good listing kept)",
            |l| get(&l.failures),
        ),
        (
            "tickflow_listing_refusals_total",
            "counter",
            "listings fetched but refused as suspect (the last good listing kept)",
            |l| get(&l.refusals),
        ),
        (
            "tickflow_listing_added_total",
            "counter",
            "instruments added by listing refreshes",
            |l| get(&l.added),
        ),
        (
            "tickflow_listing_removed_total",
            "counter",
            "instruments removed by listing refreshes (delisted, halted, no longer selected)",
            |l| get(&l.removed),
        ),
        (
            "tickflow_listing_rows_rejected",
            "gauge",
            "rows of the last fetched listing its decoder rejected",
            |l| get(&l.rows_rejected),
        ),
        (
            "tickflow_listing_from_disk",
            "gauge",
            "1 while the listing in use is the disk copy (the venue's was not fetched)",
            |l| u64::from(l.from_disk.load(Ordering::Relaxed)),
        ),
    ];
    for (name, kind, help, field) in families {
        e.family(name, kind, help);
        for l in listings {
            e.sample(name, &[("connector", l.connector.as_str())], field(l));
        }
    }
    let name = "tickflow_listing_fetched_timestamp_seconds";
    e.family(
        name,
        "gauge",
        "when the listing in use was fetched, Unix seconds",
    );
    for l in listings {
        let us = get(&l.in_use_since_us);
        e.sample(
            name,
            &[("connector", l.connector.as_str())],
            us as f64 / 1e6,
        );
    }
}

/// The instrument reference publisher (exported when some connector follows whole markets).
fn reference_metrics(e: &mut Exposition, state: &GatherState) {
    let Some(r) = &state.reference else {
        return;
    };
    let k = &state.producer;
    let name = "tickflow_reference_records_total";
    e.family(
        name,
        "counter",
        "instrument reference records made, by state (LIVE: new or changed; DELISTED: no longer followed)",
    );
    e.sample(name, &[("state", "live")], get(&r.live));
    e.sample(name, &[("state", "delisted")], get(&r.delisted));
    let scalars: [(&str, &str, u64); 6] = [
        (
            "tickflow_reference_updates_total",
            "accepted listings handed to the instrument reference publisher",
            get(&r.updates),
        ),
        (
            "tickflow_reference_retracted_total",
            "DELISTED records retracting instruments an earlier run left live and this one no longer follows (also in tickflow_reference_records_total)",
            get(&r.retracted),
        ),
        (
            "tickflow_reference_retraction_skipped_total",
            "first listings of a connector whose retraction was skipped: the instruments topic could not be read in time",
            get(&r.retraction_skipped),
        ),
        (
            "tickflow_reference_unencodable_total",
            "instrument records not produced: a size beyond decimal(38,18)",
            get(&r.unencodable),
        ),
        (
            "tickflow_kafka_reference_sent_total",
            "instrument records handed to the producer",
            get(&k.reference_sent),
        ),
        (
            "tickflow_kafka_reference_acked_total",
            "instrument records the broker acknowledged",
            get(&k.reference_acked),
        ),
    ];
    for (name, help, v) in scalars {
        e.family(name, "counter", help).sample(name, &[], v);
    }
}

/// Observes Kafka progress for the stall clock until the run is over.
pub async fn watchdog(state: Arc<GatherState>, mut over: watch::Receiver<bool>) {
    loop {
        let k = &state.producer;
        let acked = k.ticks_acked.total()
            + get(&k.dlq_acked)
            + get(&k.reference_acked)
            + get(&k.status_acked);
        state
            .kafka_stall
            .observe(acked, k.pending() > 0, crate::stall::now());
        tokio::select! {
            _ = over.changed() => return,
            () = tokio::time::sleep(crate::stall::OBSERVE_EVERY) => {}
        }
    }
}

/// The HTTP handler.
pub fn handler(state: Arc<GatherState>) -> Handler {
    Arc::new(move |path: &str| -> Response {
        match path {
            "/metrics" => (200, "text/plain; version=0.0.4", metrics(&state)),
            "/healthz" => (200, "text/plain", "ok\n".into()),
            "/readyz" => match ready(&state) {
                Ok(()) => (200, "text/plain", "ready\n".into()),
                Err(why) => (503, "text/plain", format!("{why}\n")),
            },
            _ => (
                404,
                "text/plain",
                "try /metrics, /healthz or /readyz\n".into(),
            ),
        }
    })
}

/// The Prometheus exposition of every counter.
pub fn metrics(state: &GatherState) -> String {
    let mut e = Exposition::default();
    let all = state.connections.all();
    let conns: Vec<(String, &crate::ws::ConnectionStats)> = all
        .iter()
        .map(|c| (c.index.to_string(), c.stats.as_ref()))
        .collect();
    type ConnCounter = fn(&crate::ws::ConnectionStats) -> &AtomicU64;
    // (name, type, help, counter, divisor: µs counters are exported in seconds).
    let per_connection: [(&str, &str, &str, ConnCounter, f64); 20] = [
        (
            "tickflow_ws_up",
            "gauge",
            "1 while the connection is up",
            |s| &s.up,
            1.0,
        ),
        (
            "tickflow_ws_connects_total",
            "counter",
            "successful connects",
            |s| &s.connects,
            1.0,
        ),
        (
            "tickflow_ws_failures_total",
            "counter",
            "connect or session failures",
            |s| &s.failures,
            1.0,
        ),
        (
            "tickflow_ws_idle_timeouts_total",
            "counter",
            "reconnects after silence",
            |s| &s.idle_timeouts,
            1.0,
        ),
        (
            "tickflow_ws_proactive_reconnects_total",
            "counter",
            "planned reconnects before a forced cut",
            |s| &s.proactive_reconnects,
            1.0,
        ),
        (
            "tickflow_ws_frames_total",
            "counter",
            "data frames received",
            |s| &s.frames,
            1.0,
        ),
        (
            "tickflow_ws_backpressure_wait_seconds_total",
            "counter",
            "time waiting for room in the pipeline queue, seconds",
            |s| &s.backpressure_wait_us,
            1e6,
        ),
        (
            "tickflow_ws_frames_cut_total",
            "counter",
            "frames above max_frame_bytes, cut and dead-lettered as frame_too_large",
            |s| &s.frames_cut,
            1.0,
        ),
        (
            "tickflow_ws_socket_cap_closes_total",
            "counter",
            "connections closed by a frame above the 16 MiB socket cap",
            |s| &s.socket_cap_closes,
            1.0,
        ),
        (
            "tickflow_ws_instruments",
            "gauge",
            "instruments the connection is asked to carry (0 once retired)",
            |s| &s.instruments,
            1.0,
        ),
        (
            "tickflow_ws_change_requests_total",
            "counter",
            "requests sent to change a running subscription (listings, delistings)",
            |s| &s.change_requests,
            1.0,
        ),
        (
            "tickflow_ws_change_renewals_total",
            "counter",
            "renewals to apply a change where the venue cannot change a running subscription",
            |s| &s.change_renewals,
            1.0,
        ),
        (
            "tickflow_ws_announced_closes_total",
            "counter",
            "closes the venue announced (its shutdown notice), each answered by a renewal",
            |s| &s.announced_closes,
            1.0,
        ),
        (
            "tickflow_ws_overlap_frames_total",
            "counter",
            "frames a renewed connection's old socket delivered after the new one's first (duplicates, harmless downstream)",
            |s| &s.overlap_frames,
            1.0,
        ),
        (
            "tickflow_ws_acks_total",
            "counter",
            "subscription requests the venue acknowledged",
            |s| &s.acks,
            1.0,
        ),
        (
            "tickflow_ws_refusals_total",
            "counter",
            "refusals matched to a subscription request",
            |s| &s.refusals,
            1.0,
        ),
        (
            "tickflow_ws_refusals_unattributed_total",
            "counter",
            "venue errors that answer no request of the connection, or that name nothing",
            |s| &s.refusals_unattributed,
            1.0,
        ),
        (
            "tickflow_ws_connection_cap_waits_total",
            "counter",
            "connections that waited for a slot under the venue's cap on open connections per IP",
            |s| &s.connection_cap_waits,
            1.0,
        ),
        (
            "tickflow_ws_refusal_retries_total",
            "counter",
            "requests asking again for refused instruments",
            |s| &s.refusal_retries,
            1.0,
        ),
        (
            "tickflow_ws_status_lost_total",
            "counter",
            "feed status records lost to a full status queue",
            |s| &s.status_lost,
            1.0,
        ),
    ];
    for (name, kind, help, field, divisor) in per_connection {
        e.family(name, kind, help);
        for (c, (index, s)) in all.iter().zip(&conns) {
            // A retired connection keeps its counters (totals stay monotonic) but states
            // nothing: no `up 0`, no aging last frame, for alerts to mistake for an outage.
            if kind == "gauge" && get(&s.retired) == 1 {
                continue;
            }
            let labels = [("connector", c.connector.as_str()), ("connection", index)];
            let value = get(field(s));
            if divisor == 1.0 {
                e.sample(name, &labels, value);
            } else {
                e.sample(name, &labels, value as f64 / divisor);
            }
        }
    }
    let name = "tickflow_ws_refused_instruments";
    e.family(
        name,
        "gauge",
        "instruments the venue refuses on the connection now (retried with backoff)",
    );
    for (c, (index, s)) in all.iter().zip(&conns) {
        if get(&s.retired) == 0 {
            let labels = [("connector", c.connector.as_str()), ("connection", index)];
            e.sample(name, &labels, s.refused.len() as u64);
        }
    }
    // A connection that never had data has no last-frame time: no sample, rather than a 0
    // that read as an age of ~1.7e9 s and fired TickflowFeedStalled.
    let name = "tickflow_ws_last_frame_timestamp_seconds";
    e.family(
        name,
        "gauge",
        "when the last data frame arrived, Unix seconds (no sample before the first one)",
    );
    for (c, (index, s)) in all.iter().zip(&conns) {
        let us = get(&s.last_frame_us);
        if us > 0 && get(&s.retired) == 0 {
            let labels = [("connector", c.connector.as_str()), ("connection", index)];
            e.sample(name, &labels, us as f64 / 1e6);
        }
    }
    listing_metrics(&mut e, &state.listings);
    let p = &state.pipeline;
    let k = &state.producer;
    type ExCounter<'a> = &'a crate::model::PerExchange<AtomicU64>;
    let per_exchange: [(&str, &str, ExCounter<'_>); 7] = [
        (
            "tickflow_frames_total",
            "frames taken from the queue",
            &p.frames,
        ),
        ("tickflow_ticks_total", "frames that became ticks", &p.ticks),
        (
            "tickflow_controls_total",
            "control messages (acks, status)",
            &p.controls,
        ),
        (
            "tickflow_dead_letters_total",
            "frames sent to the DLQ",
            &p.dead_letters,
        ),
        (
            "tickflow_ticks_not_newer_total",
            "ticks dropped as not newer than one already published (whole-state channels whose ids only increase)",
            &p.not_newer,
        ),
        (
            "tickflow_kafka_ticks_sent_total",
            "ticks handed to the producer",
            &k.ticks_sent,
        ),
        (
            "tickflow_kafka_ticks_acked_total",
            "ticks acknowledged by the broker",
            &k.ticks_acked,
        ),
    ];
    for (name, help, values) in per_exchange {
        e.family(name, "counter", help);
        for (x, v) in values.iter() {
            e.sample(name, &[("exchange", x.as_str())], get(v));
        }
    }
    e.family(
        "tickflow_dead_letters_by_reason_total",
        "counter",
        "dead letters by reason",
    );
    if let Ok(m) = p.by_reason.lock() {
        for ((x, reason), n) in m.iter() {
            e.sample(
                "tickflow_dead_letters_by_reason_total",
                &[("exchange", x.as_str()), ("reason", reason)],
                *n,
            );
        }
    }
    let name = "tickflow_tick_flags_total";
    e.family(
        name,
        "counter",
        "ticks handed to the producer with a quality flag set, by exchange and flag (first_after_connect, snapshot, sequence_gap)",
    );
    for (x, counters) in p.flags.iter() {
        for flag in crate::model::Flag::ALL {
            let labels = [("exchange", x.as_str()), ("flag", flag.as_str())];
            e.sample(name, &labels, get(&counters[flag.index()]));
        }
    }
    let name = "tickflow_kafka_not_delivered_total";
    e.family(
        name,
        "counter",
        "messages made and not acknowledged, by kind and why (refused: never handed to librdkafka; failed: after retries; abandoned: at the shutdown deadline)",
    );
    for (kind, lost) in [
        ("tick", &k.ticks_lost),
        ("dead_letter", &k.dlq_lost),
        ("instrument", &k.reference_lost),
        ("status", &k.status_lost),
    ] {
        for (why, n) in [
            ("refused", &lost.refused),
            ("failed", &lost.failed),
            ("abandoned", &lost.abandoned),
        ] {
            e.sample(name, &[("kind", kind), ("why", why)], get(n));
        }
    }
    let scalars: [(&str, &str, &str, u64); 17] = [
        (
            "tickflow_ready",
            "gauge",
            "1 while /readyz answers 200",
            u64::from(ready(state).is_ok()),
        ),
        (
            "tickflow_kafka_pending_messages",
            "gauge",
            "messages handed to the producer and not yet acknowledged or failed (its queue and in flight)",
            k.pending(),
        ),
        (
            "tickflow_kafka_producer_fatal",
            "gauge",
            "1 once librdkafka raised a fatal producer error (gather then exits with code 3)",
            u64::from(k.fatal().is_some()),
        ),
        (
            "tickflow_stopping",
            "gauge",
            "1 from the first stop signal on (draining)",
            u64::from(state.draining.load(Ordering::Relaxed)),
        ),
        (
            "tickflow_frames_not_queued_total",
            "counter",
            "frames received at shutdown that the pipeline no longer took",
            state
                .connections
                .all()
                .iter()
                .map(|c| get(&c.stats.frames_not_queued))
                .sum(),
        ),
        (
            "tickflow_kafka_dlq_sent_total",
            "counter",
            "dead letters handed to the producer",
            get(&k.dlq_sent),
        ),
        (
            "tickflow_kafka_dlq_acked_total",
            "counter",
            "dead letters acknowledged",
            get(&k.dlq_acked),
        ),
        (
            "tickflow_kafka_delivery_failed_total",
            "counter",
            "deliveries failed after retries (ticks, dead letters, instrument and status records)",
            get(&k.ticks_lost.failed)
                + get(&k.dlq_lost.failed)
                + get(&k.reference_lost.failed)
                + get(&k.status_lost.failed),
        ),
        (
            "tickflow_kafka_status_sent_total",
            "counter",
            "feed status records handed to the producer",
            get(&k.status_sent),
        ),
        (
            "tickflow_kafka_status_acked_total",
            "counter",
            "feed status records acknowledged",
            get(&k.status_acked),
        ),
        (
            "tickflow_kafka_queue_full_failed_total",
            "counter",
            "messages given up after max_block of full queue",
            get(&k.queue_full_failed),
        ),
        (
            "tickflow_kafka_backpressure_waits_total",
            "counter",
            "sends that waited for producer queue room",
            get(&k.backpressure_waits),
        ),
        (
            "tickflow_kafka_client_errors_total",
            "counter",
            "client errors reported by librdkafka",
            get(&k.client_errors),
        ),
        (
            "tickflow_kafka_brokers_down",
            "gauge",
            "1 while librdkafka reports all brokers down",
            u64::from(k.brokers_down.load(Ordering::Relaxed)),
        ),
        (
            "tickflow_produce_errors_total",
            "counter",
            "messages the producer refused",
            get(&p.produce_errors),
        ),
        (
            "tickflow_queue_frames",
            "gauge",
            "frames waiting for the pipeline",
            state.queued() as u64,
        ),
        (
            "tickflow_simulated",
            "gauge",
            "1 when the feeds come from tickflow simulate",
            u64::from(state.simulated),
        ),
    ];
    for (name, kind, help, value) in scalars {
        e.family(name, kind, help).sample(name, &[], value);
    }
    reference_metrics(&mut e, state);
    let name = "tickflow_kafka_backpressure_wait_seconds_total";
    e.family(
        name,
        "counter",
        "time waiting for producer queue room, seconds",
    )
    .sample(name, &[], get(&k.backpressure_wait_us) as f64 / 1e6);
    state.http.expose(&mut e);
    e.standard();
    e.histogram_us(
        "tickflow_receive_to_ack_seconds",
        "WebSocket receive to Kafka acknowledgement",
        &k.ack_latency_us,
    );
    e.finish()
}

/// `KAFKA: nothing acknowledged for N s (M pending) | ` when Kafka has acknowledged nothing
/// for the unacked timeout while sends are pending; empty otherwise.
fn kafka_stall(state: &GatherState) -> String {
    let k = &state.producer;
    let Some(stalled) = state.kafka_stall.stalled_for(crate::stall::now()) else {
        return String::new();
    };
    if stalled < state.unacked_timeout {
        return String::new();
    }
    let down = if k.brokers_down.load(Ordering::Relaxed) {
        ", all brokers down"
    } else {
        ""
    };
    format!(
        "KAFKA: nothing acknowledged for {} s ({} pending{down}) | ",
        stalled.as_secs(),
        k.pending()
    )
}

/// Prints a progress line every `every` until shutdown.
pub async fn progress(
    state: Arc<GatherState>,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let label = if state.simulated {
        "gather [SIMULATED FEEDS]"
    } else {
        "gather"
    };
    let mut last = [0u64; crate::model::per_exchange::EXCHANGES];
    let mut last_hist = state.producer.ack_latency_us.snapshot();
    let mut at = Instant::now();
    loop {
        tokio::select! {
            biased;
            _ = shutdown.changed() => return,
            () = tokio::time::sleep(every) => {}
        }
        let secs = at.elapsed().as_secs_f64().max(1e-3);
        at = Instant::now();
        let mut rates = Vec::new();
        for (i, x) in Exchange::ALL.iter().enumerate() {
            let now = state.producer.ticks_acked.load(*x);
            let sent_any = state.pipeline.frames.load(*x) > 0;
            if sent_any {
                rates.push(format!(
                    "{} {:.0}/s",
                    x.as_str(),
                    (now - last[i]) as f64 / secs
                ));
            }
            last[i] = now;
        }
        let hist = state.producer.ack_latency_us.snapshot();
        let window: Vec<u64> = hist.iter().zip(&last_hist).map(|(a, b)| a - b).collect();
        last_hist = hist;
        let latency = match (quantile_of(&window, 0.5), quantile_of(&window, 0.99)) {
            (Some(p50), Some(p99)) => format!(
                "receive→ack p50 {:.1} ms p99 {:.1} ms",
                p50 as f64 / 1e3,
                p99 as f64 / 1e3
            ),
            _ => "no acks in this interval".into(),
        };
        let active = state.connections.active();
        let up = active.iter().filter(|c| get(&c.stats.up) == 1).count();
        let dlq: u64 = state.pipeline.dead_letters.total();
        let failed = state.producer.ticks_lost.total() + state.producer.dlq_lost.total();
        let kafka = kafka_stall(state.as_ref());
        let label = if state.draining.load(Ordering::Relaxed) {
            format!("{label} [STOPPING]")
        } else {
            label.to_owned()
        };
        eprintln!(
            "{label}: {kafka}{} | acked {} | dlq {dlq} | failed {failed} | queue {}/{} | {latency} | connections {up}/{} up",
            if rates.is_empty() {
                "waiting for data".to_owned()
            } else {
                rates.join(", ")
            },
            state.producer.ticks_acked.total(),
            state.queued(),
            state.queue_capacity,
            active.len(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gather::{ConnectionInfo, GatherState};

    fn state(last_frame_us: u64, idle: Duration) -> GatherState {
        let stats = Arc::new(crate::ws::ConnectionStats::default());
        stats.up.store(1, Ordering::Relaxed);
        stats.last_frame_us.store(last_frame_us, Ordering::Relaxed);
        GatherState {
            connections: Arc::new(
                vec![ConnectionInfo {
                    connector: "binance".into(),
                    index: 0,
                    url: "ws://x".into(),
                    stats,
                    idle,
                }]
                .into(),
            ),
            pipeline: Default::default(),
            producer: Arc::default(),
            queue_capacity: 1,
            simulated: false,
            draining: Default::default(),
            http: Arc::default(),
            started_us: 1,
            kafka_stall: Default::default(),
            unacked_timeout: Duration::from_secs(10),
            deadline: Arc::default(),
            listings: Vec::new(),
            reference: None,
        }
    }

    /// A retired connection's counters stay; its gauges go (no `up 0` for an alert).
    #[test]
    fn a_retired_connection_keeps_its_counters_and_states_nothing() {
        let s = state(1_700_000_000_000_000, Duration::from_secs(30));
        let c = &s.connections.all()[0];
        c.stats.frames.store(7, Ordering::Relaxed);
        c.stats.retired.store(1, Ordering::Relaxed);
        c.stats.up.store(0, Ordering::Relaxed);
        let text = metrics(&s);
        assert!(
            text.contains("tickflow_ws_frames_total{connector=\"binance\",connection=\"0\"} 7"),
            "{text}"
        );
        assert!(!text.contains("tickflow_ws_up{"), "{text}");
        assert!(!text.contains("tickflow_ws_last_frame_timestamp_seconds{"));
        assert!(ready(&s).is_ok(), "a retired connection is not a down one");
    }

    /// No data yet: no last-frame sample (a 0 read as a feed stalled since 1970); then the
    /// frame's time.
    #[test]
    fn the_last_frame_time_is_absent_until_the_first_frame() {
        let s = state(0, Duration::from_secs(30));
        let text = metrics(&s);
        assert!(
            !text.contains("tickflow_ws_last_frame_timestamp_seconds{"),
            "{text}"
        );
        assert!(text.contains("tickflow_ws_up{connector=\"binance\",connection=\"0\"} 1"));
        s.connections.all()[0]
            .stats
            .last_frame_us
            .store(1_700_000_000_500_000, Ordering::Relaxed);
        assert!(metrics(&s).contains(
            "tickflow_ws_last_frame_timestamp_seconds{connector=\"binance\",connection=\"0\"} 1700000000.5\n"
        ));
    }

    #[test]
    fn a_connection_up_without_data_for_its_idle_window_is_not_ready() {
        let now = crate::stall::now();
        assert_eq!(ready(&state(now, Duration::from_secs(30))), Ok(()));
        let quiet = state(now - 31_000_000, Duration::from_secs(30));
        let why = ready(&quiet).unwrap_err();
        assert!(
            why.starts_with("binance#0: no data for 31 s (idle window 30 s)"),
            "{why}"
        );
    }

    #[test]
    fn refused_instruments_are_not_ready_and_are_counted() {
        let now = crate::stall::now();
        let s = state(now, Duration::from_secs(30));
        let c = Arc::clone(&s.connections.all()[0]);
        let mut refusals = crate::ws::refusals::Refusals::default();
        refusals.refuse(
            &[crate::model::Instrument::parse("LINK-USDT").unwrap()],
            ("2: Invalid symbol: linkusdt@trade", true),
            tokio::time::Instant::now(),
            1,
            &c.stats.refused,
        );
        assert_eq!(
            ready(&s).unwrap_err(),
            "binance#0: 1 instrument(s) refused by the venue (2: Invalid symbol: linkusdt@trade): LINK-USDT; retried with backoff"
        );
        let m = metrics(&s);
        assert!(
            m.contains(
                "tickflow_ws_refused_instruments{connector=\"binance\",connection=\"0\"} 1\n"
            ),
            "{m}"
        );
    }

    #[test]
    fn pending_sends_without_acknowledgement_are_not_ready_and_stopping_says_so() {
        let now = crate::stall::now();
        let s = state(now, Duration::from_secs(30));
        s.producer.ticks_sent.add(Exchange::Upbit, 5);
        s.kafka_stall.observe(0, true, now - 9_000_000);
        assert_eq!(ready(&s), Ok(()), "not before unacked_timeout");
        let s2 = state(now, Duration::from_secs(30));
        s2.producer.ticks_sent.add(Exchange::Upbit, 5);
        s2.kafka_stall.observe(0, true, now - 11_000_000);
        let why = ready(&s2).unwrap_err();
        assert!(
            why.contains("kafka: nothing acknowledged for 11 s with 5 pending"),
            "{why}"
        );
        s.draining.store(true, Ordering::Relaxed);
        assert!(ready(&s).unwrap_err().starts_with("stopping"));
    }
}
