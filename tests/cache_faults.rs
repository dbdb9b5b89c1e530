//! Faults of the cache (issue 11): a key Redis refuses (wrong type) isolated from the others,
//! a transient Redis refusal (OOM) holding every offset, and dead letters whose offsets move
//! on only once the DLQ acknowledged them (a missing DLQ topic). Exact counts, real tansu and
//! redis-server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::cache::{assert_redis_holds, cache, committed_offsets, config_with, newest_in_kafka};
use common::run::{acked, connectors, gather, get, setup, wait_for};
use common::stack::{Broker, RedisServer, consume_all, header, produce_garbage};
use rdkafka::message::Message;
use redis::AsyncCommands;
use std::collections::HashMap;
use std::time::Duration;

/// Gathers Upbit from the simulator until `at_least` ticks are acknowledged; returns how many
/// ticks the topic holds.
async fn ticks_in_kafka(app: &tickflow::config::AppConfig, at_least: u64) -> u64 {
    let (base, _sim) = common::start_simulator(400, Duration::from_secs(1), None).await;
    let run = gather(setup(app.clone(), connectors(&base, &[("upbit", "")]))).await;
    wait_for("acknowledged ticks", Duration::from_secs(60), || {
        acked(&run.state) >= at_least
    })
    .await;
    let (outcome, _) = run.finish().await;
    assert_eq!(outcome.lost, 0);
    outcome.ticks_acked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_of_the_wrong_type_goes_to_the_dlq_alone_and_every_other_key_is_written() {
    let test = "a_key_of_the_wrong_type";
    let (Some(broker), Some(redis)) = (Broker::start(test), RedisServer::start(test)) else {
        return;
    };
    let app = config_with(&broker, &redis, "cache-wrongtype", &[]);
    let total = ticks_in_kafka(&app, 1500).await;
    let poisoned = "px:{BTC-KRW}:UPBIT";
    let mut r = tickflow::cache::connect(&redis.url(), false).await.unwrap();
    let () = r.set(poisoned, "x").await.unwrap();

    let c = cache(&app).await;
    wait_for(
        "every message acknowledged",
        Duration::from_secs(60),
        || get(&c.stats.acknowledged) >= total,
    )
    .await;
    let stats = c.finish().await;
    assert_eq!(get(&stats.consumed), total);
    assert_eq!(get(&stats.acknowledged), total, "nothing held back");
    let refused = get(&stats.refused);
    assert!(refused >= 1, "the wrong-type key was refused");
    assert_eq!(
        get(&stats.refused_by_reason[0]),
        refused,
        "all as redis_wrong_type"
    );
    assert_eq!(get(&stats.poison), 0);
    assert_eq!(
        committed_offsets(&broker.bootstrap, "cache-wrongtype", app.topics.partitions),
        i64::try_from(total).unwrap(),
        "every offset committed"
    );
    // One dead letter per refused update, each the message it came from.
    let dead = consume_all(
        &broker.bootstrap,
        "ticks.dlq.v1",
        refused as usize,
        Duration::from_secs(30),
    );
    assert_eq!(dead.len() as u64, refused, "exactly the refused updates");
    let source: HashMap<(i32, i64), Vec<u8>> = consume_all(
        &broker.bootstrap,
        "ticks.v1",
        total as usize,
        Duration::from_secs(30),
    )
    .iter()
    .map(|m| ((m.partition(), m.offset()), m.payload().unwrap().to_vec()))
    .collect();
    for m in &dead {
        assert_eq!(header(m, "stage").as_deref(), Some("cache"));
        assert_eq!(header(m, "reason").as_deref(), Some("redis_wrong_type"));
        assert!(
            header(m, "error").unwrap().starts_with("WRONGTYPE"),
            "{:?}",
            header(m, "error")
        );
        assert_eq!(m.key(), Some(&b"UPBIT:BTC-KRW"[..]));
        let at = (
            header(m, "source_partition").unwrap().parse().unwrap(),
            header(m, "source_offset").unwrap().parse().unwrap(),
        );
        assert_eq!(
            source.get(&at).map(Vec::as_slice),
            m.payload(),
            "the original message"
        );
    }
    // Every other key holds its newest tick; the poisoned one is untouched.
    let mut newest = newest_in_kafka(&broker.bootstrap, total as usize);
    assert!(newest.remove(poisoned).is_some());
    assert!(newest.len() >= 3);
    assert_redis_holds(&redis, &newest).await;
    let kept: String = r.get(poisoned).await.unwrap();
    assert_eq!(kept, "x");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transient_refusal_holds_every_offset_and_the_batch_is_written_after_it() {
    let test = "a_transient_refusal";
    let (Some(broker), Some(redis)) = (Broker::start(test), RedisServer::start(test)) else {
        return;
    };
    let app = config_with(&broker, &redis, "cache-oom", &[]);
    let total = ticks_in_kafka(&app, 500).await;
    let mut r = tickflow::cache::connect(&redis.url(), false).await.unwrap();
    // Every write refused with OOM: not a key's fault.
    let () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg("1")
        .query_async(&mut r)
        .await
        .unwrap();
    let c = cache(&app).await;
    wait_for("redis errors", Duration::from_secs(30), || {
        get(&c.stats.redis_errors) >= 2
    })
    .await;
    assert_eq!(get(&c.stats.acknowledged), 0, "offsets held");
    assert_eq!(get(&c.stats.refused), 0, "OOM is no key's fault");
    assert!(c.stats.ready().unwrap_err().contains("redis"));
    let () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg("0")
        .query_async(&mut r)
        .await
        .unwrap();
    wait_for("everything written", Duration::from_secs(30), || {
        get(&c.stats.acknowledged) >= total
    })
    .await;
    let stats = c.finish().await;
    assert_eq!(get(&stats.acknowledged), total);
    assert_eq!(get(&stats.refused), 0);
    let newest = newest_in_kafka(&broker.bootstrap, total as usize);
    assert_redis_holds(&redis, &newest).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_offsets_move_on_only_after_the_dlq_acknowledged_them() {
    let test = "poison_offsets_wait_for_the_dlq";
    let (Some(broker), Some(redis)) = (Broker::start(test), RedisServer::start(test)) else {
        return;
    };
    // gather makes ticks.v1 (and a DLQ of another name): ticks.dlq.v1 does not exist.
    let gathering = config_with(
        &broker,
        &redis,
        "unused",
        &[("TICKFLOW_TOPICS__DLQ", "gather.dlq")],
    );
    let total = ticks_in_kafka(&gathering, 200).await;
    let partitions = gathering.topics.partitions;
    let poison = produce_garbage(&broker.bootstrap, partitions);
    let app = config_with(
        &broker,
        &redis,
        "cache-no-dlq",
        &[
            ("TICKFLOW_TOPICS__CREATE", "false"),
            ("TICKFLOW_KAFKA__MESSAGE_TIMEOUT_MS", "1500"),
        ],
    );
    let c = cache(&app).await;
    wait_for("DLQ failures counted", Duration::from_secs(60), || {
        get(&c.stats.dlq_failures) >= 1 && get(&c.stats.consumed) >= total + poison
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let held = committed_offsets(&broker.bootstrap, "cache-no-dlq", partitions);
    assert!(
        held < i64::try_from(total + poison).unwrap(),
        "offsets of undelivered dead letters committed: {held}"
    );
    assert!(get(&c.stats.acknowledged) < total + poison);
    let why = c.stats.ready().unwrap_err();
    assert!(why.contains("dlq:"), "{why}");
    // The topic appears: the dead letters are delivered, then every offset moves on.
    tickflow::kafka::ensure_topics(
        &tickflow::kafka::producer_properties(&app.kafka),
        &["ticks.dlq.v1"],
        1,
        1,
    )
    .await
    .unwrap();
    wait_for("everything acknowledged", Duration::from_secs(60), || {
        get(&c.stats.acknowledged) >= total + poison
    })
    .await;
    assert_eq!(c.stats.ready(), Ok(()), "ready again");
    let stats = c.finish().await;
    assert_eq!(get(&stats.dlq_pending), 0);
    assert_eq!(
        committed_offsets(&broker.bootstrap, "cache-no-dlq", partitions),
        i64::try_from(total + poison).unwrap()
    );
    let dead = consume_all(
        &broker.bootstrap,
        "ticks.dlq.v1",
        poison as usize,
        Duration::from_secs(30),
    );
    assert_eq!(dead.len() as u64, poison, "each poison message once");
    assert_eq!(
        get(&stats.dlq.dlq_acked),
        poison,
        "acknowledged exactly once each"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_creates_its_dlq_topic_at_start() {
    let test = "the_cache_creates_its_dlq_topic";
    let (Some(broker), Some(redis)) = (Broker::start(test), RedisServer::start(test)) else {
        return;
    };
    let app = config_with(
        &broker,
        &redis,
        "cache-dlq-create",
        &[("TICKFLOW_TOPICS__DLQ", "made.by.cache")],
    );
    let c = cache(&app).await;
    let consumer: rdkafka::consumer::BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &broker.bootstrap)
        .create()
        .unwrap();
    let metadata = rdkafka::consumer::Consumer::fetch_metadata(
        &consumer,
        Some("made.by.cache"),
        Duration::from_secs(10),
    )
    .unwrap();
    assert!(!metadata.topics()[0].partitions().is_empty());
    c.finish().await;
}

/// Redis frozen with a batch in the writer: the stop ends at `[cache] shutdown_timeout_ms`, and
/// a second signal ends it at once, each with the accounting line; nothing unwritten is
/// committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_redis_cannot_hold_the_stop_past_its_deadline_or_a_second_signal() {
    let test = "a_frozen_redis_cannot_hold_the_stop";
    let (Some(broker), Some(redis)) = (Broker::start(test), RedisServer::start(test)) else {
        return;
    };
    let app = config_with(&broker, &redis, "unused", &[]);
    let mut in_topic = ticks_in_kafka(&app, 200).await;
    for (deadline, second_signal) in [("2000", false), ("60000", true)] {
        let group = format!("cache-frozen-{deadline}");
        let url = redis.url();
        let env = [
            (
                "TICKFLOW_KAFKA__BOOTSTRAP_SERVERS",
                broker.bootstrap.as_str(),
            ),
            ("TICKFLOW_REDIS__URL", url.as_str()),
            ("TICKFLOW_CACHE__GROUP_ID", group.as_str()),
            ("TICKFLOW_CACHE__SHUTDOWN_TIMEOUT_MS", deadline),
        ];
        let c = common::child::Tickflow::spawn(&["cache"], &env);
        let written = in_topic;
        let c = tokio::task::spawn_blocking(move || {
            c.wait_until("everything written", Duration::from_secs(30), |c| {
                c.metric("tickflow_cache_acknowledged_total").unwrap_or(0.0) >= written as f64
            });
            c
        })
        .await
        .unwrap();
        redis.signal("STOP");
        // More ticks while Redis is frozen: the writer takes them and waits.
        in_topic += ticks_in_kafka(&app, 100).await;
        let consumed = in_topic;
        let (status, stderr, took) = tokio::task::spawn_blocking(move || {
            let mut c = c;
            c.wait_until("the new ticks consumed", Duration::from_secs(30), |c| {
                c.metric("tickflow_cache_consumed_total").unwrap_or(0.0) >= consumed as f64
            });
            c.signal("TERM");
            let stopping = std::time::Instant::now();
            if second_signal {
                std::thread::sleep(Duration::from_secs(1));
                c.signal("TERM");
            }
            let (status, stderr, _) = c.wait_exit(Duration::from_secs(30));
            (status, stderr, stopping.elapsed())
        })
        .await
        .unwrap();
        redis.signal("CONT");
        let summary = stderr
            .lines()
            .find(|l| l.contains("tickflow: stopped;"))
            .unwrap_or_else(|| panic!("no accounting line:\n{stderr}"));
        assert!(
            summary.contains("not (their offsets uncommitted)"),
            "{summary}"
        );
        if second_signal {
            assert!(
                took < Duration::from_secs(3),
                "{took:?} with a second signal:\n{stderr}"
            );
            assert_eq!(status.code(), Some(1), "{stderr}");
            assert!(stderr.contains("SIGTERM again: exiting now"), "{stderr}");
        } else {
            assert!(
                took >= Duration::from_millis(1900) && took < Duration::from_secs(6),
                "{took:?} with a 2 s deadline:\n{stderr}"
            );
            assert_eq!(status.code(), Some(0), "{stderr}");
        }
        // What Redis never acknowledged was not committed.
        let committed = committed_offsets(&broker.bootstrap, &group, app.topics.partitions);
        assert!(
            committed <= i64::try_from(written).unwrap(),
            "{committed} committed, {written} written before the freeze"
        );
    }
}
