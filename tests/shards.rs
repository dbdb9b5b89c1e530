//! Two gatherers on the same shard, for availability (issue 19, item 5): a venue that sends
//! the same frames to every connection, two `tickflow gather` processes on it, the cache and
//! Redis. Kafka holds every event twice; Redis never moves back (each key's published trade
//! ids never decrease); one gatherer is killed (SIGKILL) and the other keeps Redis fresh; in
//! the end Redis holds each key's last event.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::cache::{cache, config};
use common::child::Tickflow;
use common::run::{get, wait_for};
use common::stack::{Broker, RedisServer, consume_all};
use futures_util::{SinkExt, StreamExt};
use rdkafka::message::Message as _;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tickflow::codec::{Encoder, Format};
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Message;

const INSTRUMENTS: [&str; 2] = ["BTC", "ETH"];

struct Venue {
    url: String,
    /// The last sequence id sent, per instrument.
    last: Arc<Mutex<BTreeMap<String, u64>>>,
    /// Clears to stop sending.
    running: Arc<AtomicBool>,
    /// Connections accepted.
    accepted: Arc<AtomicU64>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// An Upbit-speaking venue that broadcasts one stream of trades (a frame every 2 ms,
/// alternating instruments, ids and prices rising) to every connection: two gatherers receive
/// the same events.
async fn venue() -> Venue {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/upbit/websocket/v1", listener.local_addr().unwrap());
    let (tx, _) = broadcast::channel::<Arc<String>>(65_536);
    let last = Arc::new(Mutex::new(BTreeMap::new()));
    let running = Arc::new(AtomicBool::new(true));
    let accepted = Arc::new(AtomicU64::new(0));
    {
        let (tx, last, running) = (tx.clone(), Arc::clone(&last), Arc::clone(&running));
        tokio::spawn(async move {
            let mut seq = 0u64;
            let mut every = tokio::time::interval(Duration::from_millis(2));
            while running.load(Ordering::SeqCst) {
                every.tick().await;
                seq += 1;
                let base = INSTRUMENTS[(seq % 2) as usize];
                let ms = now_ms();
                let frame = format!(
                    "{{\"type\":\"trade\",\"code\":\"KRW-{base}\",\"timestamp\":{ms},\"trade_date\":\"2026-12-04\",\
                     \"trade_time\":\"00:00:00\",\"trade_timestamp\":{ms},\"trade_price\":{},\"trade_volume\":0.5,\
                     \"ask_bid\":\"BID\",\"prev_closing_price\":1000,\"change\":\"RISE\",\"change_price\":1,\
                     \"sequential_id\":{seq},\"stream_type\":\"REALTIME\"}}",
                    1000 + seq
                );
                let _ = tx.send(Arc::new(frame));
                last.lock().unwrap().insert(format!("{base}-KRW"), seq);
            }
        });
    }
    {
        let accepted = Arc::clone(&accepted);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                accepted.fetch_add(1, Ordering::SeqCst);
                let mut rx = tx.subscribe();
                tokio::spawn(async move {
                    let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                        return;
                    };
                    // The subscription request; then the broadcast, answering pings meanwhile.
                    let _ = ws.next().await;
                    loop {
                        tokio::select! {
                            incoming = ws.next() => match incoming {
                                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                                Some(Ok(_)) => {}
                            },
                            frame = rx.recv() => match frame {
                                Ok(f) => {
                                    if ws.send(Message::text(f.as_str())).await.is_err() {
                                        return;
                                    }
                                }
                                Err(broadcast::error::RecvError::Lagged(_)) => {}
                                Err(broadcast::error::RecvError::Closed) => return,
                            },
                        }
                    }
                });
            }
        });
    }
    Venue {
        url,
        last,
        running,
        accepted,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gatherers_on_one_shard_are_safe_and_one_can_die() {
    let test = "two_gatherers_on_one_shard";
    let (Some(broker), Some(redis)) = (Broker::start(test), RedisServer::start(test)) else {
        return;
    };
    let v = venue().await;
    let dir = std::env::temp_dir().join(format!("tickflow-shards-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("upbit.toml"),
        format!(
            "exchange = \"upbit\"\nurl = \"{}\"\nchannel = \"trade\"\ninstruments = [\"BTC-KRW\", \"ETH-KRW\"]\n",
            v.url
        ),
    )
    .unwrap();
    let env = [
        (
            "TICKFLOW_KAFKA__BOOTSTRAP_SERVERS",
            broker.bootstrap.as_str(),
        ),
        ("TICKFLOW_CONNECTORS_DIR", dir.to_str().unwrap()),
    ];
    let mut a = Tickflow::spawn(&["gather", "--shard", "0/1"], &env);
    let b = Tickflow::spawn(&["gather", "--shard", "0/1"], &env);
    for g in [&a, &b] {
        g.wait_until("acknowledged ticks", Duration::from_secs(60), |g| {
            g.metric("tickflow_kafka_ticks_acked_total").unwrap_or(0.0) > 50.0
        });
    }
    assert_eq!(v.accepted.load(Ordering::SeqCst), 2);

    // Every update Redis publishes, per key, in order.
    let client = redis::Client::open(redis.url()).unwrap();
    let mut pubsub = client.get_async_pubsub().await.unwrap();
    // Price channels only (`px:{BTC-KRW}:UPBIT`): the feed status channels (`px:feed:...`)
    // carry no trade.
    pubsub.psubscribe("px:{*").await.unwrap();
    let published: Arc<Mutex<BTreeMap<String, Vec<u64>>>> = Arc::default();
    {
        let published = Arc::clone(&published);
        tokio::spawn(async move {
            let mut messages = pubsub.on_message();
            while let Some(m) = messages.next().await {
                let payload: serde_json::Value =
                    serde_json::from_str(&m.get_payload::<String>().unwrap()).unwrap();
                let seq: u64 = payload["trade_id"].as_str().unwrap().parse().unwrap();
                published
                    .lock()
                    .unwrap()
                    .entry(m.get_channel_name().to_owned())
                    .or_default()
                    .push(seq);
            }
        });
    }
    let app = config(&broker, &redis, "shards");
    let c = cache(&app).await;
    wait_for("updates applied", Duration::from_secs(30), || {
        get(&c.stats.applied) > 300
    })
    .await;

    // Kill one: the other keeps Redis fresh.
    a.signal("KILL");
    let (status, _, _) = a.wait_exit(Duration::from_secs(5));
    assert!(!status.success());
    let at_kill = v.last.lock().unwrap()["BTC-KRW"];
    wait_for(
        "updates after the kill, from the survivor",
        Duration::from_secs(20),
        || {
            published
                .lock()
                .unwrap()
                .get("px:{BTC-KRW}:UPBIT")
                .is_some_and(|s| s.iter().any(|&q| q > at_kill + 200))
        },
    )
    .await;
    v.running.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let last = v.last.lock().unwrap().clone();
    let keys: Vec<String> = last.keys().map(|i| format!("px:{{{i}}}:UPBIT")).collect();
    wait_for(
        "Redis holds each key's last event",
        Duration::from_secs(30),
        || {
            published
                .lock()
                .unwrap()
                .iter()
                .filter(|(k, s)| {
                    let i = k.trim_start_matches("px:{").trim_end_matches("}:UPBIT");
                    s.last() == last.get(i)
                })
                .count()
                == keys.len()
        },
    )
    .await;
    let stats = c.finish().await;
    drop(b);

    // Redis never moved back: each key's published ids never decrease.
    for (key, seqs) in published.lock().unwrap().iter() {
        assert!(
            seqs.windows(2).all(|w| w[0] <= w[1]),
            "{key} moved back: {:?}",
            seqs.windows(2).find(|w| w[0] > w[1])
        );
    }
    // The hash holds the last event.
    {
        use redis::AsyncCommands;
        let mut r = tickflow::cache::connect(&redis.url(), false).await.unwrap();
        for (i, seq) in &last {
            let got: String = r
                .hget(format!("px:{{{i}}}:UPBIT"), "trade_id")
                .await
                .unwrap();
            assert_eq!(got, seq.to_string(), "{i}");
        }
    }
    // Kafka held duplicates (both gatherers produced the same events), and the cache counted
    // every message once: applied, stale or coalesced.
    let messages = consume_all(&broker.bootstrap, "ticks.v1", 1, Duration::from_secs(15));
    let mut copies: BTreeMap<(String, i64), u32> = BTreeMap::new();
    for m in &messages {
        let (_, tick) = Encoder::decode(Format::Avro, m.payload().unwrap()).unwrap();
        *copies
            .entry((tick.instrument.to_string(), tick.sequence.unwrap()))
            .or_default() += 1;
    }
    let twice = copies.values().filter(|&&n| n == 2).count();
    assert!(twice > 300, "{twice} events reached Kafka twice");
    assert!(copies.values().all(|&n| n <= 2), "no event more than twice");
    let total = messages.len() as u64;
    assert!(total > 0);
    assert_eq!(get(&stats.consumed), total, "every message consumed once");
    assert_eq!(
        get(&stats.applied) + get(&stats.stale) + get(&stats.coalesced),
        total,
        "each message applied, stale or coalesced"
    );
    assert!(
        get(&stats.stale) + get(&stats.coalesced) > 0,
        "the duplicates were absorbed"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
