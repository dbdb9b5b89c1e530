//! End to end through a real broker: simulator → gather → tansu → a test consumer.
//! Each test starts its own tansu on a free loopback port (see common/stack.rs).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::run::{acked, app, app_with, connectors, gather, get, repo, setup, wait_for};
use common::stack::{Broker, Proxy, consume_all, free_port, header};
use rdkafka::message::Message;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tickflow::codec::{Encoder, Format, avro, confluent};
use tickflow::config::load_app_config;
use tickflow::model::Exchange;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tick_arrives_once_in_order_and_exact() {
    let Some(broker) = Broker::start("every_tick_arrives_once_in_order_and_exact") else {
        return;
    };
    let (base, _sim) = common::start_simulator(300, Duration::from_secs(1), None).await;
    let picked = common::run::every_venue(&base);
    let configured: HashMap<Exchange, HashSet<String>> = picked
        .iter()
        .map(|c| {
            (
                c.exchange,
                c.instruments.iter().map(ToString::to_string).collect(),
            )
        })
        .collect();
    let run = gather(setup(app(&broker.bootstrap), picked)).await;
    let (status, body) = tickflow::http::get(run.http, "/metrics").await.unwrap();
    assert_eq!(status, 200);
    assert!(
        body.contains("tickflow_kafka_ticks_acked_total{exchange=\"UPBIT\"}"),
        "{body}"
    );
    wait_for("1500 acked ticks", Duration::from_secs(30), || {
        acked(&run.state) >= 1500
    })
    .await;
    wait_for("readiness", Duration::from_secs(10), || {
        tickflow::gather::report::ready(&run.state).is_ok()
    })
    .await;
    let (outcome, state) = run.finish().await;

    // Count in = count out: every received frame was processed; every tick was acknowledged.
    let received: u64 = state
        .connections
        .all()
        .iter()
        .map(|c| get(&c.stats.frames))
        .sum();
    let processed = state.pipeline.frames.total();
    let ticks = state.pipeline.ticks.total();
    let controls = state.pipeline.controls.total();
    let dead = state.pipeline.dead_letters.total();
    assert_eq!(
        received, processed,
        "frames lost between the connections and the pipeline"
    );
    assert_eq!(processed, ticks + controls + dead);
    assert_eq!(dead, 0, "the clean simulator produced dead letters");
    assert_eq!(outcome.lost, 0);
    assert_eq!(outcome.ticks_produced, outcome.ticks_acked);

    let messages = consume_all(
        &broker.bootstrap,
        "ticks.v1",
        ticks as usize,
        Duration::from_secs(60),
    );
    assert_eq!(
        messages.len() as u64,
        ticks,
        "consumed count differs from produced count"
    );
    let mut per_exchange: BTreeMap<Exchange, u64> = BTreeMap::new();
    let mut last_per_key: HashMap<(String, &str), (i64, i64)> = HashMap::new();
    let mut values = HashSet::new();
    for m in &messages {
        let payload = m.payload().unwrap();
        let (schema_id, tick) = Encoder::decode(Format::Avro, payload).unwrap();
        assert_eq!(schema_id, 1);
        let key = std::str::from_utf8(m.key().unwrap()).unwrap();
        assert_eq!(key, tick.key());
        assert!(
            configured[&tick.exchange].contains(tick.instrument.as_str()),
            "{key}"
        );
        // An independent encoder (apache-avro) writes the very same body: exact values.
        let (_, body) = confluent::split(payload).unwrap();
        assert_eq!(avro::encode_with_apache_avro(&tick).unwrap(), body);
        // Per key and kind, in partition order: exchange time (the receive time where the
        // venue sends none, as Binance's bookTicker) never goes back, receive time moves on.
        let now = (
            tick.event_ts_us.unwrap_or(tick.received_ts_us),
            tick.received_ts_us,
        );
        if let Some(before) = last_per_key.insert((key.to_owned(), tick.kind.as_str()), now) {
            assert!(
                now.0 >= before.0 && now.1 > before.1,
                "{key} out of order: {before:?} then {now:?}"
            );
        }
        assert!(
            values.insert(payload.to_vec()),
            "duplicate message for {key}"
        );
        *per_exchange.entry(tick.exchange).or_default() += 1;
    }
    for x in Exchange::ALL.iter() {
        assert_eq!(
            per_exchange.get(x).copied().unwrap_or(0),
            state.producer.ticks_acked.load(*x),
            "{x}"
        );
        assert!(
            per_exchange.get(x).copied().unwrap_or(0) > 0,
            "no {x} ticks"
        );
    }
    let keys: HashSet<_> = last_per_key.keys().map(|(k, _)| k).collect();
    // Every configured channel of every connector delivered: trades and books too.
    let kinds: HashSet<_> = last_per_key.keys().map(|(_, kind)| *kind).collect();
    assert_eq!(kinds.len(), 3, "{kinds:?}");
    assert_eq!(
        keys.len(),
        configured.values().map(HashSet::len).sum::<usize>(),
        "{keys:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_frames_land_in_the_dlq_with_headers() {
    let Some(broker) = Broker::start("rejected_frames_land_in_the_dlq_with_headers") else {
        return;
    };
    let (base, _sim) = common::start_simulator(200, Duration::from_secs(1), None).await;
    let picked = connectors(
        &base,
        &[
            ("upbit", "?fault=malformed&after=5"),
            ("binance", "?fault=error&after=7"),
        ],
    );
    let run = gather(setup(app(&broker.bootstrap), picked)).await;
    wait_for("20 acked dead letters", Duration::from_secs(30), || {
        get(&run.state.producer.dlq_acked) >= 20
    })
    .await;
    let (outcome, state) = run.finish().await;
    assert_eq!(outcome.lost, 0);
    assert!(outcome.ticks_acked > 0, "good frames still become ticks");
    let dead = state.pipeline.dead_letters.total();
    assert_eq!(dead, outcome.dead_letters_acked);

    let messages = consume_all(
        &broker.bootstrap,
        "ticks.dlq.v1",
        dead as usize,
        Duration::from_secs(60),
    );
    assert_eq!(messages.len() as u64, dead);
    let mut reasons: BTreeMap<(String, String), u64> = BTreeMap::new();
    for m in &messages {
        let h = |name: &str| header(m, name).unwrap_or_else(|| panic!("header {name} missing"));
        let exchange = h("exchange");
        assert_eq!(std::str::from_utf8(m.key().unwrap()).unwrap(), exchange);
        assert!(!h("error").is_empty());
        let at = h("received_at");
        assert!(
            at.len() == 27 && at.ends_with('Z') && at.as_bytes()[10] == b'T',
            "{at}"
        );
        let value = m.payload().unwrap();
        match exchange.as_str() {
            "UPBIT" => {
                assert_eq!(
                    (h("stage").as_str(), h("reason").as_str()),
                    ("parse", "malformed_json")
                );
                assert_eq!(h("connector"), "upbit");
                assert_eq!(h("frame_type"), "binary", "Upbit sends binary frames");
                assert!(
                    value.starts_with(b"{")
                        && serde_json::from_slice::<serde_json::Value>(value).is_err()
                );
            }
            "BINANCE" => {
                assert_eq!(
                    (h("stage").as_str(), h("reason").as_str()),
                    ("exchange", "exchange_error")
                );
                assert_eq!(h("frame_type"), "text");
                assert!(
                    serde_json::from_slice::<serde_json::Value>(value).is_ok(),
                    "raw bytes kept"
                );
            }
            other => panic!("unexpected exchange {other}"),
        }
        *reasons.entry((exchange, h("reason"))).or_default() += 1;
    }
    // The metric by reason agrees with what is on the topic.
    let counted = state.pipeline.by_reason.lock().unwrap().clone();
    let counted: BTreeMap<(String, String), u64> = counted
        .into_iter()
        .map(|((x, r), n)| ((x.as_str().to_owned(), r.to_owned()), n))
        .collect();
    assert_eq!(reasons, counted);
    assert_eq!(reasons.len(), 2, "{reasons:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_and_stalled_connections_are_reconnected_and_resubscribed() {
    let Some(broker) = Broker::start("dropped_and_stalled_connections_are_reconnected") else {
        return;
    };
    let (base, _sim) = common::start_simulator(200, Duration::from_secs(1), None).await;
    let mut picked = connectors(
        &base,
        &[
            ("upbit", "?fault=drop&after=40"),
            ("binance", "?fault=stall&after=40"),
        ],
    );
    picked[1].keepalive.idle_timeout = Duration::from_secs(1);
    let run = gather(setup(app(&broker.bootstrap), picked)).await;
    let s = Arc::clone(&run.state);
    let conns = s.connections.all();
    let (upbit, binance) = (&conns[0].stats, &conns[1].stats);
    // Each session carries at most 40 frames, so more ticks than that prove the resubscription.
    wait_for(
        "3 Upbit sessions and 2 Binance sessions with data",
        Duration::from_secs(20),
        || {
            get(&upbit.connects) >= 3
                && get(&binance.connects) >= 2
                && s.producer.ticks_acked.load(Exchange::Upbit) > 80
                && s.producer.ticks_acked.load(Exchange::Binance) > 40
        },
    )
    .await;
    assert!(get(&upbit.failures) >= 2, "drops are counted as failures");
    assert!(
        get(&binance.idle_timeouts) >= 1,
        "the stall is detected by the idle watchdog"
    );
    let (outcome, _) = run.finish().await;
    assert_eq!(outcome.lost, 0);
}

/// Feed status as data: every connection's up, subscribed, stale, down and recovered records
/// reach the status topic, keyed by venue and connector, in order; each gap is one DOWN and
/// one RECOVERED stating it; the counts match the connections' own and the accounting line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feed_status_records_reach_kafka_with_every_gap() {
    use tickflow::model::status::{FeedState, FeedStatus};
    let Some(broker) = Broker::start("feed_status_records_reach_kafka_with_every_gap") else {
        return;
    };
    let (base, _sim) = common::start_simulator(200, Duration::from_secs(1), None).await;
    let mut picked = connectors(
        &base,
        &[
            ("upbit", "?fault=drop&after=40"),
            ("binance", "?fault=silent&after=40"),
        ],
    );
    picked[1].keepalive.idle_timeout = Duration::from_secs(1);
    let app = app(&broker.bootstrap);
    let (format, topic) = (app.format, app.topics.status.clone());
    let run = gather(setup(app, picked)).await;
    let s = Arc::clone(&run.state);
    let conns = s.connections.all();
    let (upbit, binance) = (Arc::clone(&conns[0].stats), Arc::clone(&conns[1].stats));
    wait_for(
        "3 Upbit and 3 Binance sessions",
        Duration::from_secs(20),
        || get(&upbit.connects) >= 3 && get(&binance.connects) >= 3,
    )
    .await;
    let (outcome, _) = run.finish().await;
    assert_eq!(outcome.lost, 0);
    assert_eq!(outcome.status_produced, outcome.status_acked);
    let messages = consume_all(
        &broker.bootstrap,
        &topic,
        outcome.status_acked as usize,
        Duration::from_secs(20),
    );
    assert_eq!(messages.len() as u64, outcome.status_acked);
    let mut by_key: BTreeMap<String, Vec<FeedStatus>> = BTreeMap::new();
    for m in &messages {
        let (_, record) = tickflow::codec::status::decode(format, m.payload().unwrap()).unwrap();
        let key = String::from_utf8(m.key().unwrap().to_vec()).unwrap();
        assert_eq!(key, tickflow::codec::status::key(&record));
        assert_eq!(header(m, "simulated").as_deref(), Some("true"));
        by_key.entry(key).or_default().push(record);
    }
    let count = |records: &[FeedStatus], state: FeedState| {
        records.iter().filter(|r| r.state == state).count() as u64
    };
    let up = &by_key["UPBIT:upbit"];
    let bn = &by_key["BINANCE:binance"];
    for (records, stats) in [(up, &upbit), (bn, &binance)] {
        assert_eq!(count(records, FeedState::Up), get(&stats.connects));
        assert_eq!(count(records, FeedState::Subscribed), get(&stats.connects));
        assert_eq!(
            count(records, FeedState::Down),
            get(&stats.failures) + get(&stats.idle_timeouts),
            "one DOWN per session that ended for a failure or silence"
        );
        assert_eq!(count(records, FeedState::Stale), get(&stats.idle_timeouts));
        // Each DOWN is followed by one RECOVERED once data flows again (the last may not be).
        let downs = count(records, FeedState::Down);
        let recovered = count(records, FeedState::Recovered);
        assert!(recovered == downs || recovered + 1 == downs, "{records:?}");
        for r in records.iter().filter(|r| r.state == FeedState::Recovered) {
            let (start, end) = (r.gap_start_us.unwrap(), r.gap_end_us.unwrap());
            assert!(start < end && !r.instruments.is_empty(), "{r:?}");
        }
        assert!(
            records.windows(2).all(|w| w[0].ts_us <= w[1].ts_us),
            "in order"
        );
    }
    assert_eq!(
        count(up, FeedState::Stale),
        0,
        "drops are failures, not silence"
    );
    assert!(
        count(bn, FeedState::Stale) >= 2,
        "the silent feed goes stale"
    );
}

/// A broker reached through a running [`Proxy`] (it advertises the proxy's port), so a test can
/// take it away and bring it back.
async fn broker_behind_proxy(test: &str) -> Option<(Broker, Proxy)> {
    let listen = free_port();
    let mut proxy = Proxy::new(listen);
    let broker = Broker::start_advertising(test, listen, proxy.port)?;
    proxy.start().await;
    Some((broker, proxy))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_outage_of_ten_seconds_loses_no_tick() {
    let Some((broker, mut proxy)) =
        broker_behind_proxy("a_broker_outage_of_ten_seconds_loses_no_tick").await
    else {
        return;
    };
    let (base, _sim) = common::start_simulator(100, Duration::from_secs(1), None).await;
    let picked = connectors(&base, &[("upbit", ""), ("binance", "")]);
    let run = gather(setup(app(&broker.bootstrap), picked)).await;
    let s = Arc::clone(&run.state);
    wait_for("100 acked ticks", Duration::from_secs(30), || {
        acked(&s) >= 100
    })
    .await;

    proxy.stop().await;
    let before = s.pipeline.ticks.total();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let during = s.pipeline.ticks.total();
    assert!(
        during > before + 500,
        "the feeds kept flowing into the producer during the outage"
    );
    proxy.start().await;

    // The backlog of the outage is delivered and new ticks follow it.
    wait_for(
        "the outage's backlog acknowledged",
        Duration::from_secs(90),
        || acked(&s) > during + 200,
    )
    .await;
    let (outcome, state) = run.finish().await;
    assert_eq!(outcome.lost, 0, "deliveries failed");
    assert_eq!(outcome.ticks_produced, outcome.ticks_acked);
    let produced = state.pipeline.ticks.total();
    let messages = consume_all(
        &broker.bootstrap,
        "ticks.v1",
        produced as usize,
        Duration::from_secs(60),
    );
    let distinct: HashSet<_> = messages
        .iter()
        .map(|m| m.payload().unwrap().to_vec())
        .collect();
    assert_eq!(messages.len() as u64, produced, "count in = count out");
    assert_eq!(
        distinct.len(),
        messages.len(),
        "the idempotent producer wrote no duplicate"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_producer_queue_makes_the_pipeline_wait_not_drop() {
    let Some((broker, mut proxy)) =
        broker_behind_proxy("a_full_producer_queue_makes_the_pipeline_wait").await
    else {
        return;
    };
    let (base, _sim) = common::start_simulator(200, Duration::from_secs(1), None).await;
    let picked = connectors(&base, &[("binance", "")]);
    // A producer queue of 50 messages and a frame queue of 32: an outage fills both quickly.
    let config = app_with(
        &broker.bootstrap,
        &[
            ("TICKFLOW_KAFKA__QUEUE_BUFFERING_MAX_MESSAGES", "50"),
            ("TICKFLOW_GATHER__QUEUE_FRAMES", "32"),
        ],
    );
    let run = gather(setup(config, picked)).await;
    let s = Arc::clone(&run.state);
    wait_for("100 acked ticks", Duration::from_secs(30), || {
        acked(&s) >= 100
    })
    .await;
    proxy.stop().await;
    wait_for(
        "the pipeline waiting on a full producer queue",
        Duration::from_secs(20),
        || {
            get(&s.producer.backpressure_waits) > 0
                && get(&s.connections.all()[0].stats.backpressure_wait_us) > 0
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    proxy.start().await;
    let stalled_at = s.pipeline.ticks.total();
    wait_for("ticks flowing again", Duration::from_secs(60), || {
        acked(&s) > stalled_at + 200
    })
    .await;
    let (outcome, state) = run.finish().await;
    assert_eq!(outcome.lost, 0, "nothing may be dropped under backpressure");
    assert_eq!(get(&state.producer.queue_full_failed), 0);
    assert!(
        get(&state.producer.backpressure_wait_us) > 1_000_000,
        "the wait is measured"
    );
    let received: u64 = state
        .connections
        .all()
        .iter()
        .map(|c| get(&c.stats.frames))
        .sum();
    assert_eq!(received, state.pipeline.frames.total());
    let produced = state.pipeline.ticks.total();
    let messages = consume_all(
        &broker.bootstrap,
        "ticks.v1",
        produced as usize,
        Duration::from_secs(60),
    );
    assert_eq!(messages.len() as u64, produced, "count in = count out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_flushes_everything_produced() {
    let Some(broker) = Broker::start("sigterm_flushes_everything_produced") else {
        return;
    };
    let (base, _sim) = common::start_simulator(2000, Duration::from_secs(1), None).await;
    let http = format!("127.0.0.1:{}", free_port());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tickflow"))
        .args([
            "gather",
            "--simulator",
            &base,
            "--connector",
            "upbit",
            "--connector",
            "binance",
        ])
        .arg("--config")
        .arg(repo().join("tickflow.toml"))
        .env("TICKFLOW_KAFKA__BOOTSTRAP_SERVERS", &broker.bootstrap)
        .env("TICKFLOW_HTTP__BIND", &http)
        .env("TICKFLOW_GATHER__PROGRESS_SECS", "1")
        // A long linger keeps messages in flight at the signal, so the flush is what delivers them.
        .env("TICKFLOW_KAFKA__LINGER_MS", "200")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let addr = http.parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(
            Instant::now() < deadline,
            "gather never produced 2000 ticks"
        );
        if let Ok((200, body)) = tickflow::http::get(addr, "/metrics").await {
            let sent: u64 = body
                .lines()
                .filter(|l| l.starts_with("tickflow_kafka_ticks_sent_total{"))
                .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
                .sum();
            if sent >= 2000 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let output = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                let mut err = String::new();
                std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
                return (status, err, started.elapsed());
            }
            if started.elapsed() > Duration::from_secs(45) {
                let _ = child.kill();
                panic!("gather did not exit after SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    })
    .await
    .unwrap();
    let (status, stderr, _) = output;
    assert!(status.success(), "exit {status:?}:\n{stderr}");
    let summary = common::run::Summary::find(&stderr);
    let (produced, acked) = (summary.ticks.produced, summary.ticks.acked);
    assert_eq!(summary.ticks.not_delivered, 0, "{stderr}");
    assert_eq!(summary.frames_abandoned, 0, "{stderr}");
    assert_eq!(produced, acked, "{stderr}");
    assert!(acked >= 2000);
    let messages = consume_all(
        &broker.bootstrap,
        "ticks.v1",
        acked as usize,
        Duration::from_secs(60),
    );
    assert_eq!(
        messages.len() as u64,
        acked,
        "everything acknowledged is on the topic"
    );
}

#[test]
fn the_bundled_tickflow_toml_is_valid() {
    let c = load_app_config(&repo().join("tickflow.toml"), false, std::iter::empty()).unwrap();
    assert_eq!(c.topics.ticks, "ticks.v1");
    assert_eq!(c.topics.dlq, "ticks.dlq.v1");
    assert_eq!(c.connectors_dir, repo().join("connectors"));
    assert!(Path::new(&c.connectors_dir).is_dir());
}
