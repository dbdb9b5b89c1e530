//! End to end: simulator → gather → tansu → cache → redis-server, all real processes or
//! in-process services on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::cache::{assert_redis_holds, cache, committed_offsets, config, newest_in_kafka};
use common::run::{acked, connectors, gather, get, setup, wait_for};
use common::stack::{Broker, GARBAGE, RedisServer, consume_all, header, produce_garbage};
use rdkafka::message::Message;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_holds_the_newest_tick_of_every_key_and_a_replay_changes_nothing() {
    let test = "redis_holds_the_newest_tick_of_every_key";
    let (Some(broker), Some(redis)) = (Broker::start(test), RedisServer::start(test)) else {
        return;
    };
    let (base, _sim) = common::start_simulator(300, Duration::from_secs(1), None).await;
    let picked = common::run::every_venue(&base);
    let keys = common::run::price_keys(&picked);
    let app = config(&broker, &redis, "cache-a");
    let run = gather(setup(app.clone(), picked)).await;
    wait_for("topics created", Duration::from_secs(30), || {
        acked(&run.state) > 0
    })
    .await;
    let c = cache(&app).await;
    wait_for("2000 acked ticks", Duration::from_secs(30), || {
        acked(&run.state) >= 2000
    })
    .await;
    let (outcome, _) = run.finish().await;
    let total = outcome.ticks_acked;
    wait_for(
        "the cache consumed everything",
        Duration::from_secs(30),
        || get(&c.stats.consumed) >= total,
    )
    .await;
    let stats = c.finish().await;
    assert!(get(&stats.coalesced) > 0, "batches were coalesced");
    assert_eq!(get(&stats.poison), 0);
    assert_eq!(get(&stats.commit_errors), 0, "offset commits failed");
    let newest = newest_in_kafka(&broker.bootstrap, total as usize);
    assert_eq!(newest.len(), keys, "every configured key");
    assert_redis_holds(&redis, &newest).await;
    // Simulated feeds: every message and every hash says so.
    let messages = consume_all(&broker.bootstrap, "ticks.v1", 1, Duration::from_secs(10));
    assert!(
        messages
            .iter()
            .all(|m| header(m, "simulated").as_deref() == Some("true"))
    );
    {
        use redis::AsyncCommands;
        let mut r = tickflow::cache::connect(&redis.url(), false).await.unwrap();
        for key in newest.keys() {
            let marked: Option<String> = r.hget(key, "simulated").await.unwrap();
            assert_eq!(marked.as_deref(), Some("true"), "{key}");
        }
    }

    // A second group replays the whole topic: every update is stale, Redis is unchanged.
    let replay = cache(&config(&broker, &redis, "cache-replay")).await;
    wait_for(
        "the replay consumed everything",
        Duration::from_secs(30),
        || get(&replay.stats.consumed) >= total,
    )
    .await;
    let stats = replay.finish().await;
    assert_eq!(get(&stats.applied), 0, "a replay applied an update");
    assert!(get(&stats.stale) > 0);
    assert_redis_holds(&redis, &newest).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_message_goes_to_the_dlq_and_does_not_stall_the_partition() {
    let test = "a_poison_message_goes_to_the_dlq";
    let (Some(broker), Some(redis)) = (Broker::start(test), RedisServer::start(test)) else {
        return;
    };
    let (base, _sim) = common::start_simulator(100, Duration::from_secs(1), None).await;
    let app = config(&broker, &redis, "cache-poison");
    let run = gather(setup(app.clone(), connectors(&base, &[("upbit", "")]))).await;
    wait_for("ticks", Duration::from_secs(30), || acked(&run.state) > 50).await;
    // Garbage on every partition, keyed like real ticks.
    let poison = produce_garbage(&broker.bootstrap, app.topics.partitions);
    let c = cache(&app).await;
    let before = acked(&run.state);
    wait_for(
        "poison counted and later ticks consumed",
        Duration::from_secs(30),
        || get(&c.stats.poison) >= poison && get(&c.stats.consumed) >= before + poison + 100,
    )
    .await;
    let (outcome, _) = run.finish().await;
    wait_for("the rest consumed", Duration::from_secs(30), || {
        get(&c.stats.consumed) >= outcome.ticks_acked + poison
    })
    .await;
    c.finish().await;
    let dead = consume_all(
        &broker.bootstrap,
        "ticks.dlq.v1",
        poison as usize,
        Duration::from_secs(30),
    );
    assert_eq!(dead.len() as u64, poison);
    for m in &dead {
        assert_eq!(header(m, "stage").as_deref(), Some("decode"));
        assert_eq!(header(m, "reason").as_deref(), Some("undecodable"));
        assert_eq!(header(m, "source_topic").as_deref(), Some("ticks.v1"));
        assert!(header(m, "source_offset").is_some() && header(m, "error").is_some());
        assert_eq!(m.payload().unwrap(), GARBAGE);
    }
    let newest = newest_in_kafka(&broker.bootstrap, outcome.ticks_acked as usize);
    assert_redis_holds(&redis, &newest).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restarted_mid_stream_ends_with_the_newest_tick_everywhere() {
    let test = "redis_restarted_mid_stream";
    let (Some(broker), Some(redis)) = (Broker::start(test), RedisServer::start(test)) else {
        return;
    };
    let port = redis.port;
    let (base, _sim) = common::start_simulator(200, Duration::from_secs(1), None).await;
    let app = config(&broker, &redis, "cache-restart");
    let run = gather(setup(
        app.clone(),
        connectors(&base, &[("upbit", ""), ("binance", "")]),
    ))
    .await;
    wait_for("ticks", Duration::from_secs(30), || acked(&run.state) > 100).await;
    let c = cache(&app).await;
    wait_for("applied updates", Duration::from_secs(30), || {
        get(&c.stats.applied) > 20
    })
    .await;
    drop(redis);
    wait_for("redis errors counted", Duration::from_secs(30), || {
        get(&c.stats.redis_errors) > 0
    })
    .await;
    // While Redis is down no offset moves: nothing unwritten is ever committed. (Offsets
    // stored before the outage are committed within the 1 s auto-commit interval.)
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let held = committed_offsets(&broker.bootstrap, "cache-restart", app.topics.partitions);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let still = committed_offsets(&broker.bootstrap, "cache-restart", app.topics.partitions);
    assert_eq!(held, still, "offsets advanced while Redis was down");
    assert!(
        u64::try_from(still).unwrap() < acked(&run.state),
        "the outage's ticks are not committed"
    );
    let redis = RedisServer::start_on(test, port).unwrap();
    wait_for("writes resumed", Duration::from_secs(30), || {
        get(&c.stats.redis_up) == 1
    })
    .await;
    let (outcome, _) = run.finish().await;
    wait_for("everything consumed", Duration::from_secs(30), || {
        get(&c.stats.consumed) >= outcome.ticks_acked
    })
    .await;
    let stats = c.finish().await;
    assert!(
        get(&stats.script_reloads) >= 1,
        "the restarted server needed the script again"
    );
    // The restarted Redis is empty; every key's newest tick was still written.
    let newest = newest_in_kafka(&broker.bootstrap, outcome.ticks_acked as usize);
    assert_redis_holds(&redis, &newest).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_consumers_in_one_group_split_partitions_and_write_every_key() {
    let test = "two_consumers_in_one_group";
    let (Some(broker), Some(redis)) = (Broker::start(test), RedisServer::start(test)) else {
        return;
    };
    let (base, _sim) = common::start_simulator(200, Duration::from_secs(1), None).await;
    let app = config(&broker, &redis, "cache-pair");
    let picked = common::run::every_venue(&base);
    let keys = common::run::price_keys(&picked);
    let run = gather(setup(app.clone(), picked)).await;
    wait_for("ticks", Duration::from_secs(30), || acked(&run.state) > 100).await;
    let a = cache(&app).await;
    let b = cache(&app).await;
    wait_for("both consumers working", Duration::from_secs(60), || {
        get(&a.stats.applied) > 20 && get(&b.stats.applied) > 20
    })
    .await;
    let (outcome, _) = run.finish().await;
    let total = outcome.ticks_acked;
    wait_for(
        "everything consumed between them",
        Duration::from_secs(60),
        || get(&a.stats.consumed) + get(&b.stats.consumed) >= total,
    )
    .await;
    let (a, b) = (a.finish().await, b.finish().await);
    assert!(
        get(&a.consumed) < total && get(&b.consumed) < total,
        "the partitions were split"
    );
    let newest = newest_in_kafka(&broker.bootstrap, total as usize);
    assert_eq!(newest.len(), keys);
    assert_redis_holds(&redis, &newest).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_killed_with_sigkill_resumes_from_the_committed_offset() {
    let test = "a_consumer_killed_with_sigkill";
    let (Some(broker), Some(redis)) = (Broker::start(test), RedisServer::start(test)) else {
        return;
    };
    let (base, _sim) = common::start_simulator(200, Duration::from_secs(1), None).await;
    let app = config(&broker, &redis, "cache-kill");
    let run = gather(setup(
        app.clone(),
        connectors(&base, &[("upbit", ""), ("binance", "")]),
    ))
    .await;
    wait_for("ticks", Duration::from_secs(30), || acked(&run.state) > 100).await;
    let spawn = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_tickflow"))
            .args(["cache", "--config"])
            .arg(common::run::repo().join("tickflow.toml"))
            .env("TICKFLOW_KAFKA__BOOTSTRAP_SERVERS", &broker.bootstrap)
            .env("TICKFLOW_REDIS__URL", redis.url())
            .env("TICKFLOW_CACHE__GROUP_ID", "cache-kill")
            .env("TICKFLOW_CACHE__HTTP_BIND", "127.0.0.1:0")
            // The killed member leaves the group after this, not after the default 45 s.
            .env("TICKFLOW_KAFKA__SESSION_TIMEOUT_MS", "6000")
            .env("TICKFLOW_KAFKA__HEARTBEAT_INTERVAL_MS", "1000")
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut first = spawn();
    // Let it commit at least once (auto commit every second), then kill it without warning.
    let started = std::time::Instant::now();
    wait_for("a commit", Duration::from_secs(60), || {
        started.elapsed() > Duration::from_secs(3)
            && committed_offsets(&broker.bootstrap, "cache-kill", app.topics.partitions) > 0
    })
    .await;
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    let (outcome, _) = run.finish().await;
    // Offsets are contiguous from 0 (no transactions), so the topic ends at the acked count.
    // (tansu 0.6.0's high watermarks summed one short here, so they are not used.)
    let end = i64::try_from(outcome.ticks_acked).unwrap();
    let committed = committed_offsets(&broker.bootstrap, "cache-kill", app.topics.partitions);
    assert!(committed > 0 && committed <= end);

    // The restarted consumer reads exactly what lies after the committed offsets.
    let mut second = spawn();
    wait_for(
        "the rest consumed and committed",
        Duration::from_secs(60),
        || committed_offsets(&broker.bootstrap, "cache-kill", app.topics.partitions) == end,
    )
    .await;
    std::process::Command::new("kill")
        .args(["-TERM", &second.id().to_string()])
        .status()
        .unwrap();
    let out = tokio::task::spawn_blocking(move || {
        let status = second.wait().unwrap();
        let mut err = String::new();
        std::io::Read::read_to_string(second.stderr.as_mut().unwrap(), &mut err).unwrap();
        (status, err)
    })
    .await
    .unwrap();
    assert!(out.0.success(), "{}", out.1);
    let summary = out
        .1
        .lines()
        .find(|l| l.contains("stopped;"))
        .unwrap_or_else(|| panic!("{}", out.1));
    let consumed: i64 = summary
        .split("stopped; ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        consumed,
        end - committed,
        "resumed exactly at the committed offsets: {summary}"
    );
    let newest = newest_in_kafka(&broker.bootstrap, end as usize);
    assert_redis_holds(&redis, &newest).await;
}
