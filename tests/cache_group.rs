//! The cache consumer inside its group and under backpressure, on a topic filled directly with
//! canonical ticks: a revoked partition is written and committed before it moves; a full
//! gathering batch pauses consumption until Redis catches up, losing and repeating nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::cache::{
    Cache, Newest, assert_redis_holds, cache, committed_offsets, config_with, newest_of,
};
use common::fill::{create_topics, fill, tick};
use common::run::{get, wait_for};
use common::stack::{Broker, RedisServer};
use std::time::Duration;

/// The newest tick of each key of a fill (its last `instruments` ticks).
fn newest_of_fill(messages: u64, instruments: u64) -> Newest {
    newest_of((0..messages).map(|i| tick(i, instruments)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_partition_is_written_and_committed_before_it_moves() {
    let test = "a_revoked_partition_is_written_and_committed";
    let (Some(broker), Some(redis)) = (Broker::start(test), RedisServer::start(test)) else {
        return;
    };
    // Batches that never fall due by themselves: only the revocation can write them.
    let slow = [
        ("TICKFLOW_CACHE__BATCH_MAX", "1000000000"),
        ("TICKFLOW_CACHE__BATCH_WAIT_MS", "600000"),
    ];
    let app = config_with(&broker, &redis, "cache-revoke", &slow);
    create_topics(&app).await;
    let (messages, instruments) = (3000, 30);
    fill(&app, 0..messages, instruments, 10_000);
    let partitions = app.topics.partitions;
    let a = cache(&app).await;
    wait_for("A gathered everything", Duration::from_secs(60), || {
        get(&a.stats.consumed) >= messages
    })
    .await;
    assert_eq!(get(&a.stats.applied), 0, "nothing was due yet");
    assert_eq!(
        committed_offsets(&broker.bootstrap, "cache-revoke", partitions),
        0
    );

    // B joins: A's partitions are revoked, so A writes what it gathered and commits first.
    let b = cache(&app).await;
    wait_for(
        "A flushed and committed on revocation",
        Duration::from_secs(60),
        || {
            get(&a.stats.applied) == instruments
                && committed_offsets(&broker.bootstrap, "cache-revoke", partitions)
                    == i64::try_from(messages).unwrap()
        },
    )
    .await;
    // Whatever B was given, it starts after the last tick in Redis: nothing is read twice.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let finish = |c: Cache| c.finish();
    let (a, b) = (finish(a).await, finish(b).await);
    assert_eq!(get(&b.consumed), 0, "B re-read what A had written");
    assert_eq!(get(&a.consumed), messages);
    assert_eq!(get(&a.commit_errors) + get(&b.commit_errors), 0);
    assert_redis_holds(&redis, &newest_of_fill(messages, instruments)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_batch_pauses_consumption_until_redis_catches_up() {
    let test = "a_full_batch_pauses_consumption";
    let (Some(broker), Some(redis)) = (Broker::start(test), RedisServer::start(test)) else {
        return;
    };
    let app = config_with(
        &broker,
        &redis,
        "cache-pause",
        // The first batch goes at 10 messages (and then waits for Redis); the next one
        // gathers up to 50 keys.
        &[
            ("TICKFLOW_CACHE__BATCH_MAX", "10"),
            ("TICKFLOW_CACHE__PENDING_KEYS_MAX", "50"),
        ],
    );
    create_topics(&app).await;
    let c = cache(&app).await;
    // Redis stops answering for 8 s (every client) while 300 ticks over 60 keys arrive: the
    // batch in flight waits, the next one reaches 50 keys and consumption pauses.
    let mut admin = tickflow::cache::connect(&redis.url(), false).await.unwrap();
    let () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(8000)
        .arg("ALL")
        .query_async(&mut admin)
        .await
        .unwrap();
    // One message per record batch: a resumed partition restarts at any offset (see `fill`).
    // librdkafka takes up to a second to fetch again after a resume, so this stays small.
    let (half, instruments) = (300, 60);
    let messages = 2 * half;
    fill(&app, 0..half, instruments, 1);
    wait_for("consumption paused", Duration::from_secs(5), || {
        get(&c.stats.pauses) >= 1
    })
    .await;
    // What librdkafka had fetched before the pause is still delivered; nothing after it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let paused_at = get(&c.stats.consumed);
    fill(&app, half..messages, instruments, 1);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(get(&c.stats.consumed), paused_at, "consumed while paused");
    assert_eq!(get(&c.stats.acknowledged), 0, "Redis is paused");
    wait_for(
        "everything written once Redis answers",
        Duration::from_secs(60),
        || {
            eprintln!(
                "consumed {} ack {} pauses {} applied {} errs {}",
                get(&c.stats.consumed),
                get(&c.stats.acknowledged),
                get(&c.stats.pauses),
                get(&c.stats.applied),
                get(&c.stats.redis_errors)
            );
            get(&c.stats.acknowledged) >= messages
        },
    )
    .await;
    let stats = c.finish().await;
    // Pausing and resuming neither skipped nor repeated a message.
    assert_eq!(get(&stats.consumed), messages);
    assert_eq!(get(&stats.acknowledged), messages);
    assert_eq!(get(&stats.commit_errors), 0);
    assert_redis_holds(&redis, &newest_of_fill(messages, instruments)).await;
}

/// Kafka answers a fetch that starts inside a record batch with that batch (the client skips
/// to the offset); tansu 0.6.0 answers with nothing (see `fill`). Pausing at arbitrary offsets
/// inside large record batches is therefore exercised against librdkafka's mock cluster,
/// which behaves like Kafka here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pausing_inside_record_batches_resumes_exactly_on_a_kafka_broker() {
    let test = "pausing_inside_record_batches";
    let Some(redis) = RedisServer::start(test) else {
        return;
    };
    let mock = rdkafka::mocking::MockCluster::new(1).unwrap();
    let bootstrap = mock.bootstrap_servers();
    let app = common::run::app_with(
        &bootstrap,
        &[
            ("TICKFLOW_REDIS__URL", redis.url().as_str()),
            ("TICKFLOW_CACHE__GROUP_ID", "cache-mock"),
            ("TICKFLOW_CACHE__HTTP_BIND", "127.0.0.1:0"),
            // Every message its own key, 50 at most gathered: consumption pauses every 50
            // messages, inside the record batches.
            ("TICKFLOW_CACHE__PENDING_KEYS_MAX", "50"),
        ],
    );
    mock.create_topic(&app.topics.ticks, app.topics.partitions, 1)
        .unwrap();
    mock.create_topic(&app.topics.dlq, 1, 1).unwrap();
    // The cache reads the instrument reference (issue 19) and the feed status (issue 20) too;
    // the mock creates no topic.
    mock.create_topic(&app.topics.instruments, 1, 1).unwrap();
    mock.create_topic(&app.topics.status, 1, 1).unwrap();
    let (messages, instruments) = (600, 600);
    fill(&app, 0..messages, instruments, 10_000);
    let c = cache(&app).await;
    wait_for("everything written", Duration::from_secs(90), || {
        get(&c.stats.acknowledged) >= messages
    })
    .await;
    let stats = c.finish().await;
    assert!(get(&stats.pauses) >= 5, "paused {}", get(&stats.pauses));
    assert_eq!(get(&stats.consumed), messages, "skipped or repeated");
    assert_eq!(get(&stats.acknowledged), messages);
    assert_redis_holds(&redis, &newest_of_fill(messages, instruments)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_stops_promptly_when_the_broker_is_gone() {
    let test = "the_cache_stops_promptly_when_the_broker_is_gone";
    let (Some(broker), Some(redis)) = (Broker::start(test), RedisServer::start(test)) else {
        return;
    };
    let app = config_with(
        &broker,
        &redis,
        "cache-orphan",
        &[("TICKFLOW_CACHE__SHUTDOWN_TIMEOUT_MS", "5000")],
    );
    create_topics(&app).await;
    fill(&app, 0..100, 10, 10_000);
    let c = cache(&app).await;
    wait_for("consumed", Duration::from_secs(30), || {
        get(&c.stats.acknowledged) >= 100
    })
    .await;
    drop(broker); // kills tansu
    tokio::time::sleep(Duration::from_secs(1)).await;
    // Stopping commits and leaves the group as far as it can, within the shutdown deadline
    // (librdkafka's close alone would wait for the broker forever).
    let started = std::time::Instant::now();
    c.finish().await;
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protobuf_ticks_are_cached_like_avro_ones() {
    let test = "protobuf_ticks_are_cached";
    let (Some(broker), Some(redis)) = (Broker::start(test), RedisServer::start(test)) else {
        return;
    };
    let app = config_with(
        &broker,
        &redis,
        "cache-proto",
        &[("TICKFLOW_OUTPUT__FORMAT", "proto")],
    );
    create_topics(&app).await;
    let (messages, instruments) = (500, 50);
    fill(&app, 0..messages, instruments, 10_000);
    let c = cache(&app).await;
    wait_for("everything written", Duration::from_secs(60), || {
        get(&c.stats.acknowledged) >= messages
    })
    .await;
    let stats = c.finish().await;
    assert_eq!(get(&stats.poison), 0);
    assert!(get(&stats.applied) >= instruments);
    assert_redis_holds(&redis, &newest_of_fill(messages, instruments)).await;
}

/// More cache members than partitions: the member the group gives no partition is an idle
/// standby, ready (it was "not ready" forever, paging `TickflowCacheNotReady` and stalling any
/// rollout gated on the probe); the other consumes everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_without_a_partition_is_a_ready_standby() {
    let test = "a_member_without_a_partition";
    let (Some(broker), Some(redis)) = (Broker::start(test), RedisServer::start(test)) else {
        return;
    };
    let app = config_with(
        &broker,
        &redis,
        "cache-standby",
        &[("TICKFLOW_TOPICS__PARTITIONS", "1")],
    );
    create_topics(&app).await;
    let (messages, instruments) = (500, 10);
    fill(&app, 0..messages, instruments, 10_000);
    let a = cache(&app).await;
    wait_for("A consumed everything", Duration::from_secs(60), || {
        get(&a.stats.acknowledged) >= messages
    })
    .await;
    let b = cache(&app).await;
    wait_for(
        "one member holds the partition, the other is a standby, both ready",
        Duration::from_secs(60),
        || {
            let standby = [&a, &b].iter().filter(|c| c.stats.standby()).count();
            let holding = get(&a.stats.assigned) + get(&b.stats.assigned);
            standby == 1 && holding == 1 && a.stats.ready().is_ok() && b.stats.ready().is_ok()
        },
    )
    .await;
    let standby = if a.stats.standby() { &a } else { &b };
    let text = standby.stats.metrics();
    assert!(text.contains("\ntickflow_cache_ready 1\n"), "{text}");
    assert!(text.contains("\ntickflow_cache_standby 1\n"), "{text}");
    let (a, b) = (a.finish().await, b.finish().await);
    assert_eq!(
        get(&a.consumed) + get(&b.consumed),
        messages,
        "nothing read twice"
    );
    assert_redis_holds(&redis, &newest_of_fill(messages, instruments)).await;
}
