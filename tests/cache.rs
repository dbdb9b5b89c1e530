//! The Redis contract and the compare-and-set, against a real redis-server on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::stack::RedisServer;
use futures_util::StreamExt;
use redis::AsyncCommands;
use std::collections::HashMap;
use std::time::Duration;
use tickflow::cache::batch::Batch;
use tickflow::cache::{Store, connect};
use tickflow::model::{EventKind, Exchange, Instrument, Tick};

fn tick(instrument: &str, price: &str, event_ms: i64, seq: Option<i64>) -> Tick {
    let (base, quote) = instrument.split_once('-').unwrap();
    let mut t = Tick::new(
        Exchange::Upbit,
        Instrument::new(base, quote).unwrap(),
        &format!("{quote}-{base}"),
        EventKind::Ticker,
        price.parse().unwrap(),
        event_ms * 1000 + 500,
    );
    t.event_ts_us = Some(event_ms * 1000);
    t.sequence = seq;
    t
}

async fn store(server: &RedisServer) -> Store {
    Store::open(&server.url(), false, "px", Duration::from_secs(3600))
        .await
        .unwrap()
}

async fn hash(server: &RedisServer, key: &str) -> HashMap<String, String> {
    let mut c = connect(&server.url(), false).await.unwrap();
    c.hgetall(key).await.unwrap()
}

#[tokio::test]
async fn newer_ticks_apply_and_late_or_duplicate_ones_do_not() {
    let Some(server) = RedisServer::start("newer_ticks_apply") else {
        return;
    };
    let mut s = store(&server).await;
    let mut newer = tick("BTC-KRW", "143250000.5", 2_000, None);
    newer.bid_price = Some("143249000".parse().unwrap());
    let older = tick("BTC-KRW", "140000000", 1_000, None);
    assert_eq!(s.apply(&[&newer], 1).await.unwrap().applied, 1);
    let r = s.apply(&[&older, &newer], 2).await.unwrap();
    assert_eq!(
        (r.applied, r.stale),
        (0, 2),
        "a late tick and a duplicate are stale"
    );
    let h = hash(&server, "px:{BTC-KRW}:UPBIT").await;
    assert_eq!(h["last_price"], "143250000.5", "exact decimal string");
    assert_eq!(h["bid_price"], "143249000");
    assert_eq!(h["event_ts_us"], "2000000");
    assert_eq!(h["received_ts_us"], "2000500");
    assert_eq!(h["updated_ts_us"], "1");
    assert_eq!(h["contract_version"], "3");
    assert_eq!(h["ticker_received_ts_us"], "2000500");
    assert_eq!(h["trade_received_ts_us"], "2000500");
    assert_eq!(h["book_received_ts_us"], "2000500");
    assert_eq!(h["exchange"], "UPBIT");
    assert_eq!(h["native_symbol"], "KRW-BTC");
    assert!(!h.contains_key("seq"), "absent data is an absent field");
    assert!(
        !h.contains_key("ver"),
        "contract 1's single version is gone"
    );

    // A newer ticker with a quote leaves none of the older quote's fields behind.
    let mut newest = tick("BTC-KRW", "143300000", 3_000, None);
    newest.ask_price = Some("143301000".parse().unwrap());
    assert_eq!(s.apply(&[&newest], 3).await.unwrap().applied, 1);
    let h = hash(&server, "px:{BTC-KRW}:UPBIT").await;
    assert_eq!(h["last_price"], "143300000");
    assert_eq!(h["ask_price"], "143301000");
    assert!(!h.contains_key("bid_price"));
}

fn trade(instrument: &str, price: &str, trade_ms: i64, id: i64) -> Tick {
    let mut t = tick(instrument, price, trade_ms, Some(id));
    t.kind = EventKind::Trade;
    t.trade_ts_us = Some(trade_ms * 1000);
    t.last_qty = Some("0.5".parse().unwrap());
    t.trade_side = Some(tickflow::model::TradeSide::Sell);
    t
}

fn book(instrument: &str, bid: &str, ask: &str, received_ms: i64, id: i64) -> Tick {
    let mut t = tick(instrument, "1", received_ms, Some(id));
    t.kind = EventKind::BestBidOffer;
    t.event_ts_us = None; // like Binance's bookTicker
    (t.bid_price, t.ask_price) = (Some(bid.parse().unwrap()), Some(ask.parse().unwrap()));
    (t.bid_qty, t.ask_qty) = (Some(1.into()), Some(2.into()));
    t.last_price = (t.bid_price.unwrap() + t.ask_price.unwrap()) / rust_decimal::Decimal::TWO;
    t
}

#[tokio::test]
async fn trades_books_and_tickers_keep_their_own_parts() {
    let Some(server) = RedisServer::start("trades_books_and_tickers") else {
        return;
    };
    let mut s = store(&server).await;
    let key = "px:{BTC-KRW}:UPBIT";
    // A trade, then a book: the book does not erase the trade's fields.
    assert_eq!(
        s.apply(&[&trade("BTC-KRW", "100.5", 5_000, 42)], 1)
            .await
            .unwrap()
            .applied,
        1
    );
    assert_eq!(
        s.apply(&[&book("BTC-KRW", "100", "101", 5_100, 7)], 2)
            .await
            .unwrap()
            .applied,
        1
    );
    let h = hash(&server, key).await;
    assert_eq!(
        (
            h["last_price"].as_str(),
            h["last_qty"].as_str(),
            h["trade_side"].as_str()
        ),
        ("100.5", "0.5", "SELL")
    );
    assert_eq!(
        (h["trade_id"].as_str(), h["trade_ts_us"].as_str()),
        ("42", "5000000")
    );
    assert_eq!(
        (h["bid_price"].as_str(), h["ask_price"].as_str()),
        ("100", "101")
    );
    assert_eq!(
        (h["book_update_id"].as_str(), h["kind"].as_str()),
        ("7", "BEST_BID_OFFER")
    );
    assert!(
        !h.contains_key("book_ts_us"),
        "no exchange time for this book: none invented"
    );
    assert_eq!(
        (
            h["trade_received_ts_us"].as_str(),
            h["book_received_ts_us"].as_str()
        ),
        ("5000500", "5100500")
    );
    // A late ticker (its last trade before the trade's) updates its statistics but not the
    // newer trade price, nor the book (its quotes count as of their arrival, 4.9 s < 5.1 s).
    let mut late = tick("BTC-KRW", "99", 4_900, None);
    late.trade_ts_us = Some(4_800_000);
    late.high_price = Some(120.into());
    late.bid_price = Some(98.into());
    assert_eq!(
        s.apply(&[&late], 3).await.unwrap().applied,
        1,
        "its ticker part applies"
    );
    let h = hash(&server, key).await;
    assert_eq!(
        (h["last_price"].as_str(), h["high_price"].as_str()),
        ("100.5", "120")
    );
    assert_eq!(h["bid_price"], "100");
    assert_eq!(h["kind"], "TICKER");
    // Replaying all three changes nothing: every part is stale.
    let r = s
        .apply(
            &[
                &trade("BTC-KRW", "100.5", 5_000, 42),
                &book("BTC-KRW", "100", "101", 5_100, 7),
                &late,
            ],
            4,
        )
        .await
        .unwrap();
    assert_eq!((r.applied, r.stale), (0, 3));
    // A newer trade moves only the trade part; an older book (lower id, same arrival) is stale.
    assert_eq!(
        s.apply(&[&trade("BTC-KRW", "102", 6_000, 43)], 5)
            .await
            .unwrap()
            .applied,
        1
    );
    assert_eq!(
        s.apply(&[&book("BTC-KRW", "90", "91", 5_100, 6)], 6)
            .await
            .unwrap()
            .stale,
        1
    );
    let h = hash(&server, key).await;
    assert_eq!(
        (h["last_price"].as_str(), h["bid_price"].as_str()),
        ("102", "100")
    );
    assert_eq!(
        (h["high_price"].as_str(), h["updated_ts_us"].as_str()),
        ("120", "5")
    );
    // tickflow price shows each part's age.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tickflow"))
        .args(["price", "BTC-KRW", "--exchange", "upbit", "--json"])
        .env("TICKFLOW_REDIS__URL", server.url())
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for part in ["trade_age_ms", "book_age_ms", "ticker_age_ms"] {
        assert!(v[part].as_i64().unwrap() > 0, "{part}: {v}");
    }
}

#[tokio::test]
async fn sequences_above_2_pow_53_compare_exactly() {
    let Some(server) = RedisServer::start("sequences_above_2_pow_53") else {
        return;
    };
    let mut s = store(&server).await;
    // 2^53 + 1 and 2^53 + 2 are the same double; the contract must still order them.
    let big = 1i64 << 53;
    let lower = tick("ETH-KRW", "5000000", 1_000, Some(big + 1));
    let mut higher = tick("ETH-KRW", "5000001", 1_000, Some(big + 2));
    higher.received_ts_us = lower.received_ts_us; // only the sequence differs
    assert_eq!(s.apply(&[&higher], 1).await.unwrap().applied, 1);
    assert_eq!(s.apply(&[&lower], 2).await.unwrap().stale, 1);
    let h = hash(&server, "px:{ETH-KRW}:UPBIT").await;
    assert_eq!(h["seq"], (big + 2).to_string());
    assert_eq!(h["last_price"], "5000001");
    // In the other order both apply.
    let a = tick("XRP-KRW", "700", 1_000, Some(17_000_000_000_000_001));
    let b = tick("XRP-KRW", "701", 1_000, Some(17_000_000_000_000_002));
    assert_eq!(s.apply(&[&a], 3).await.unwrap().applied, 1);
    assert_eq!(s.apply(&[&b], 4).await.unwrap().applied, 1);
    assert_eq!(
        hash(&server, "px:{XRP-KRW}:UPBIT").await["seq"],
        "17000000000000002"
    );
}

#[tokio::test]
async fn the_script_is_loaded_again_after_noscript() {
    let Some(server) = RedisServer::start("the_script_is_loaded_again") else {
        return;
    };
    let mut s = store(&server).await;
    let mut c = connect(&server.url(), false).await.unwrap();
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut c)
        .await
        .unwrap();
    let t = tick("SOL-KRW", "250000", 1_000, None);
    assert_eq!(s.apply(&[&t], 1).await.unwrap().applied, 1);
    assert_eq!(s.script_reloads, 1);
    assert_eq!(
        hash(&server, "px:{SOL-KRW}:UPBIT").await["last_price"],
        "250000"
    );
}

#[tokio::test]
async fn updates_are_published_indexed_and_expire() {
    let Some(server) = RedisServer::start("updates_are_published") else {
        return;
    };
    let client = redis::Client::open(server.url()).unwrap();
    let mut pubsub = client.get_async_pubsub().await.unwrap();
    pubsub.subscribe("px:{BTC-KRW}:UPBIT").await.unwrap();
    let mut s = Store::open(&server.url(), false, "px", Duration::from_secs(60))
        .await
        .unwrap();
    let t = tick("BTC-KRW", "143250000.5", 1_000, Some(7));
    s.apply(&[&t], 5).await.unwrap();
    let stale = tick("BTC-KRW", "1", 500, None);
    s.apply(&[&stale], 6).await.unwrap();
    let mut messages = pubsub.on_message();
    let m = tokio::time::timeout(Duration::from_secs(5), messages.next())
        .await
        .unwrap()
        .unwrap();
    let payload: serde_json::Value =
        serde_json::from_str(&m.get_payload::<String>().unwrap()).unwrap();
    assert_eq!(payload["last_price"], "143250000.5");
    assert_eq!(payload["seq"], "7");
    // Each part it changed comes with its version: a subscriber compares it with what it read.
    let h = hash(&server, "px:{BTC-KRW}:UPBIT").await;
    for part in ["trade_ver", "book_ver", "ticker_ver"] {
        if h.contains_key(part) {
            assert_eq!(payload[part], h[part].as_str(), "{part}");
        }
    }
    assert_eq!(payload["ticker_ver"], h["ticker_ver"].as_str());
    assert!(
        tokio::time::timeout(Duration::from_millis(300), messages.next())
            .await
            .is_err(),
        "a stale update is not published"
    );
    let mut c = connect(&server.url(), false).await.unwrap();
    let ttl: i64 = c.pttl("px:{BTC-KRW}:UPBIT").await.unwrap();
    assert!((1..=60_000).contains(&ttl), "{ttl}");
    let members: Vec<String> = c.zrange("px:index:UPBIT", 0, -1).await.unwrap();
    assert_eq!(members, ["BTC-KRW"]);
}

/// The index holds the instruments whose hashes are live: scored in µs like the hashes'
/// times, and a member whose hash expired leaves with it (it only ever grew before).
#[tokio::test]
async fn index_members_are_scored_in_microseconds_and_retire_with_their_hash() {
    let Some(server) = RedisServer::start("index_members_retire") else {
        return;
    };
    let mut s = Store::open(&server.url(), false, "px", Duration::from_millis(800))
        .await
        .unwrap();
    // The index is pruned by the batch's write time (given here); the hashes expire in
    // Redis' own time.
    let first = tickflow::model::time::now_us();
    s.apply(&[&tick("BTC-KRW", "100", 1_000, None)], first)
        .await
        .unwrap();
    let mut c = connect(&server.url(), false).await.unwrap();
    let scored: Vec<(String, f64)> = c.zrange_withscores("px:index:UPBIT", 0, -1).await.unwrap();
    assert_eq!(scored, [("BTC-KRW".to_owned(), first as f64)]);
    let h = hash(&server, "px:{BTC-KRW}:UPBIT").await;
    assert_eq!(
        h["updated_ts_us"],
        first.to_string(),
        "the score is the hash's updated_ts_us"
    );
    // ETH is written 0.5 s later; at 1 s BTC was not written for the 0.8 s TTL, ETH was.
    s.apply(&[&tick("ETH-KRW", "200", 1_000, None)], first + 500_000)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let exists: bool = c.exists("px:{BTC-KRW}:UPBIT").await.unwrap();
    assert!(!exists, "BTC's hash expired");
    s.apply(&[&tick("XRP-KRW", "300", 1_000, None)], first + 1_000_000)
        .await
        .unwrap();
    let members: Vec<String> = c.zrange("px:index:UPBIT", 0, -1).await.unwrap();
    assert_eq!(members, ["ETH-KRW", "XRP-KRW"]);
}

#[tokio::test]
async fn a_key_redis_refuses_is_returned_alone_and_the_others_are_written() {
    let Some(server) = RedisServer::start("a_key_redis_refuses") else {
        return;
    };
    let mut s = store(&server).await;
    let mut c = connect(&server.url(), false).await.unwrap();
    let () = c.set("px:{ETH-KRW}:UPBIT", "a string").await.unwrap();
    let () = c.set("px:index:UPBIT", "not a sorted set").await.unwrap();
    let ticks = [
        tick("BTC-KRW", "100", 1_000, None),
        tick("ETH-KRW", "200", 1_000, None),
        tick("XRP-KRW", "300", 1_000, None),
    ];
    let refs: Vec<&Tick> = ticks.iter().collect();
    let done = s.apply(&refs, 1).await.unwrap();
    assert_eq!((done.applied, done.stale), (2, 0));
    assert_eq!(done.refused.len(), 1);
    assert_eq!(done.refused[0].index, 1);
    assert_eq!(done.refused[0].reason, "redis_wrong_type");
    assert!(
        done.refused[0].error.starts_with("WRONGTYPE "),
        "{}",
        done.refused[0].error
    );
    assert_eq!(
        s.index_refused, 1,
        "the index key of another type is counted, not fatal"
    );
    assert_eq!(
        hash(&server, "px:{XRP-KRW}:UPBIT").await["last_price"],
        "300"
    );
    let kept: String = c.get("px:{ETH-KRW}:UPBIT").await.unwrap();
    assert_eq!(kept, "a string");
}

/// A tick dated 55 s ahead (validation admits up to 60 s) holds its key for at most the
/// ordering allowance: the live feed received after that replaces it.
/// An ACL that forbids one key: that key's update is refused alone (`NOPERM`), the others
/// are written.
#[tokio::test]
async fn a_key_an_acl_forbids_is_refused_alone() {
    let Some(server) = RedisServer::start("a_key_an_acl_forbids") else {
        return;
    };
    let mut admin = connect(&server.url(), false).await.unwrap();
    let () = redis::cmd("ACL")
        .arg(&[
            "SETUSER",
            "partial",
            "on",
            ">pw",
            "~px:{BTC-KRW}:*",
            // The compare-and-set reads the instrument's reference hash (issue 19).
            "~px:ref:{BTC-KRW}:*",
            "~px:index:*",
            "&*",
            "+@all",
        ])
        .query_async(&mut admin)
        .await
        .unwrap();
    let url = format!("redis://partial:pw@127.0.0.1:{}", server.port);
    let mut s = Store::open(&url, false, "px", Duration::from_secs(60))
        .await
        .unwrap();
    let ticks = [
        tick("BTC-KRW", "100", 1_000, None),
        tick("ETH-KRW", "200", 1_000, None),
    ];
    let refs: Vec<&Tick> = ticks.iter().collect();
    let done = s.apply(&refs, 1).await.unwrap();
    assert_eq!(done.applied, 1);
    assert_eq!(done.refused.len(), 1, "{done:?}");
    assert_eq!(done.refused[0].index, 1);
    assert_eq!(done.refused[0].reason, "redis_no_permission");
    assert!(
        done.refused[0].error.starts_with("NOPERM"),
        "{:?}",
        done.refused[0]
    );
    assert_eq!(
        hash(&server, "px:{BTC-KRW}:UPBIT").await["last_price"],
        "100"
    );
}

#[tokio::test]
async fn a_tick_dated_ahead_holds_its_key_for_at_most_a_second() {
    let Some(server) = RedisServer::start("a_tick_dated_ahead") else {
        return;
    };
    let mut s = store(&server).await;
    let received = 1_700_000_000_000_000_i64;
    let mut skewed = tick("BTC-KRW", "999", 0, None);
    skewed.received_ts_us = received;
    skewed.event_ts_us = Some(received + 55_000_000);
    assert_eq!(s.apply(&[&skewed], 1).await.unwrap().applied, 1);
    // The live feed, 100 ms apart, each stamped 50 ms before it arrived.
    let mut first_live = None;
    for step in 1..=30_i64 {
        let at = received + step * 100_000;
        let mut live = tick("BTC-KRW", &format!("{}", 100 + step), 0, None);
        live.received_ts_us = at;
        live.event_ts_us = Some(at - 50_000);
        if s.apply(&[&live], 1).await.unwrap().applied == 1 && first_live.is_none() {
            first_live = Some(at - received);
        }
    }
    let held = first_live.expect("the live feed never replaced the skewed tick");
    assert!(held <= 1_100_000, "held the key for {held} µs");
    assert_eq!(
        hash(&server, "px:{BTC-KRW}:UPBIT").await["last_price"],
        "130",
        "the live feed owns the key"
    );
}

#[tokio::test]
async fn out_of_order_batches_leave_the_newest() {
    let Some(server) = RedisServer::start("out_of_order_batches") else {
        return;
    };
    let mut s = store(&server).await;
    let ticks: Vec<Tick> = (0..200)
        .map(|i| tick("BTC-KRW", &format!("{}", 1000 + i), 1_000 + i, None))
        .collect();
    // Shuffled deterministically, split into batches, each coalesced before writing.
    let mut order: Vec<usize> = (0..200).collect();
    order.sort_by_key(|i| (i * 7919) % 200);
    for chunk in order.chunks(37) {
        let mut batch = Batch::default();
        for i in chunk {
            batch.add(
                ticks[*i].clone(),
                tickflow::cache::batch::SourceRef {
                    partition: 0,
                    offset: *i as i64,
                    key: b"",
                    payload: b"",
                },
            );
        }
        let newest = batch.ticks();
        assert_eq!(newest.len(), 1);
        s.apply(&newest, 1).await.unwrap();
    }
    assert_eq!(
        hash(&server, "px:{BTC-KRW}:UPBIT").await["last_price"],
        "1199"
    );
}

#[tokio::test]
async fn the_contract_works_on_a_redis_cluster() {
    let Some(cluster) = common::stack::RedisCluster::start("the_contract_works_on_a_redis_cluster")
    else {
        return;
    };
    let mut s = Store::open(&cluster.url(), true, "px", Duration::from_secs(3600))
        .await
        .unwrap();
    // Keys spread over the slots of all three nodes, written in one pipelined batch.
    let instruments = [
        "BTC-KRW", "ETH-KRW", "XRP-KRW", "SOL-KRW", "DOGE-KRW", "ADA-KRW", "BTC-USDT", "ETH-USDT",
    ];
    let ticks: Vec<Tick> = instruments
        .iter()
        .map(|i| tick(i, "100", 2_000, Some(1 << 60)))
        .collect();
    let refs: Vec<&Tick> = ticks.iter().collect();
    assert_eq!(s.apply(&refs, 1).await.unwrap().applied, 8);
    let older: Vec<Tick> = instruments
        .iter()
        .map(|i| tick(i, "99", 1_000, None))
        .collect();
    let refs: Vec<&Tick> = older.iter().collect();
    assert_eq!(s.apply(&refs, 2).await.unwrap().stale, 8);
    let mut c = connect(&cluster.url(), true).await.unwrap();
    for i in instruments {
        let h: HashMap<String, String> = c.hgetall(format!("px:{{{i}}}:UPBIT")).await.unwrap();
        assert_eq!(h["last_price"], "100", "{i}");
        assert_eq!(h["seq"], (1i64 << 60).to_string());
    }
    // The keys really are spread: each node holds some of them. Then every node loses its
    // scripts: the next batch loads the script on all of them and applies.
    for port in &cluster.ports {
        let mut node = connect(&format!("redis://127.0.0.1:{port}"), false)
            .await
            .unwrap();
        let n: i64 = redis::cmd("DBSIZE").query_async(&mut node).await.unwrap();
        assert!(n > 0, "node {port} holds no key");
        let _: () = redis::cmd("SCRIPT")
            .arg("FLUSH")
            .query_async(&mut node)
            .await
            .unwrap();
    }
    let newer: Vec<Tick> = instruments
        .iter()
        .map(|i| tick(i, "101", 3_000, None))
        .collect();
    let refs: Vec<&Tick> = newer.iter().collect();
    assert_eq!(s.apply(&refs, 3).await.unwrap().applied, 8);
    assert_eq!(s.script_reloads, 1);
}

#[tokio::test]
async fn tickflow_price_reads_over_verified_tls() {
    let test = "tickflow_price_reads_over_verified_tls";
    // Presence check (prints SKIP when redis-server is missing and not required).
    let Some(_plain) = RedisServer::start(test) else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("tickflow-tls-{}", common::stack::free_port()));
    std::fs::create_dir_all(&dir).unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.key_pair.serialize_pem()).unwrap();
    let port = common::stack::free_port();
    let mut server = std::process::Command::new("redis-server")
        .args([
            "--port",
            "0",
            "--tls-port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .args(["--appendonly", "no", "--tls-auth-clients", "no"])
        .arg("--tls-cert-file")
        .arg(&cert)
        .arg("--tls-key-file")
        .arg(&key)
        .arg("--tls-ca-cert-file")
        .arg(&cert)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "TLS redis did not listen"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let price = |trust: bool| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_tickflow"));
        cmd.args([
            "price",
            "BTC-KRW",
            "--exchange",
            "upbit",
            "--json",
            "--config",
        ])
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tickflow.toml"))
        .env("TICKFLOW_REDIS__URL", format!("rediss://localhost:{port}"));
        if trust {
            // rustls-native-certs reads extra roots from SSL_CERT_FILE.
            cmd.env("SSL_CERT_FILE", &cert);
        } else {
            cmd.env_remove("SSL_CERT_FILE");
        }
        cmd.output().unwrap()
    };
    // Fill the key with redis-cli over TLS; `tickflow price` is the client under test.
    let filled = std::process::Command::new("redis-cli")
        .args(["--tls", "--cacert"])
        .arg(&cert)
        .args(["-h", "localhost", "-p", &port.to_string()])
        .args([
            "HSET",
            "px:{BTC-KRW}:UPBIT",
            "contract_version",
            "3",
            "exchange",
            "UPBIT",
        ])
        .args([
            "instrument",
            "BTC-KRW",
            "last_price",
            "143250000.5",
            "event_ts_us",
            "1",
        ])
        .output()
        .unwrap();
    assert!(
        filled.status.success(),
        "{}",
        String::from_utf8_lossy(&filled.stderr)
    );
    let trusted = price(true);
    let stdout = String::from_utf8_lossy(&trusted.stdout);
    assert!(
        trusted.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&trusted.stderr)
    );
    assert!(
        stdout.contains("\"last_price\":\"143250000.5\""),
        "{stdout}"
    );
    assert!(
        stdout.contains("\"stale\":true"),
        "event time 1 µs is ancient: {stdout}"
    );
    // Without the self-signed root the certificate is refused.
    let refused = price(false);
    assert!(
        !refused.status.success(),
        "an untrusted certificate was accepted"
    );
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(why.to_lowercase().contains("certificate"), "{why}");
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_batch_larger_than_redis_answers_in_500_ms_is_written() {
    let Some(server) = RedisServer::start("a_batch_larger_than_redis_answers") else {
        return;
    };
    let mut s = store(&server).await;
    // 50 pipelines queued on one connection: the last answers long after redis-rs's default
    // per-request timeout (500 ms), which must not fail the batch.
    let ticks: Vec<Tick> = (0..50_000)
        .map(|i| tick(&format!("C{i}-KRW"), "1", 1_000, None))
        .collect();
    let refs: Vec<&Tick> = ticks.iter().collect();
    let started = std::time::Instant::now();
    let done = s.apply(&refs, 1).await.unwrap();
    eprintln!("50,000 compare-and-sets in {:?}", started.elapsed());
    assert_eq!(done.applied, 50_000);
    let mut c = connect(&server.url(), false).await.unwrap();
    let members: usize = c.zcard("px:index:UPBIT").await.unwrap();
    assert_eq!(members, 50_000);
}

/// A simulated tick is marked in Redis and by `tickflow price`; a real one is not.
#[tokio::test]
async fn simulated_ticks_are_marked_in_redis_and_by_tickflow_price() {
    let Some(server) = RedisServer::start("simulated_ticks_are_marked") else {
        return;
    };
    let mut s = store(&server).await;
    let real = tick("BTC-KRW", "100", 1_000, None);
    let mut synthetic = tick("ETH-KRW", "200", 1_000, None);
    synthetic.simulated = true;
    s.apply(&[&real, &synthetic], 1).await.unwrap();
    assert_eq!(
        hash(&server, "px:{BTC-KRW}:UPBIT").await.get("simulated"),
        None
    );
    assert_eq!(
        hash(&server, "px:{ETH-KRW}:UPBIT").await["simulated"],
        "true"
    );
    let url = server.url();
    let price = move |instrument: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tickflow"))
            .args(["price", instrument, "--config"])
            .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tickflow.toml"))
            .env("TICKFLOW_REDIS__URL", &url)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let (eth, btc) = tokio::task::spawn_blocking(move || (price("ETH-KRW"), price("BTC-KRW")))
        .await
        .unwrap();
    assert!(eth.contains("SIMULATED"), "{eth}");
    assert!(
        btc.contains("BTC-KRW") && !btc.contains("SIMULATED"),
        "{btc}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tickflow_price_watch_prints_each_applied_update() {
    let Some(server) = RedisServer::start("tickflow_price_watch") else {
        return;
    };
    let mut watch = std::process::Command::new(env!("CARGO_BIN_EXE_tickflow"))
        .args(["price", "ETH-KRW", "--watch", "--json", "--config"])
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tickflow.toml"))
        .env("TICKFLOW_REDIS__URL", server.url())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (lines, printed) = std::sync::mpsc::channel::<String>();
    let stdout = watch.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    // Newer ticks until two lines are printed: the first can be the initial read, which is
    // printed once, so the second proves the subscription is up.
    let mut s = store(&server).await;
    let mut seen = Vec::new();
    for i in 0..200 {
        let t = tick("ETH-KRW", &format!("{}", 3000 + i), 1_000 + i, None);
        s.apply(&[&t], 1).await.unwrap();
        if let Ok(line) = printed.recv_timeout(Duration::from_millis(100)) {
            seen.push(line);
            if seen.len() == 2 {
                break;
            }
        }
    }
    assert_eq!(seen.len(), 2, "no updates printed within 20 s: {seen:?}");
    let v: serde_json::Value = serde_json::from_str(&seen[1]).unwrap();
    assert_eq!(v["instrument"], "ETH-KRW");
    assert_eq!(v["exchange"], "UPBIT");
    // A stale tick is not published; the newer one after it is.
    let stale = tick("ETH-KRW", "1", 5, None);
    assert_eq!(s.apply(&[&stale], 1).await.unwrap().stale, 1);
    let newer = tick("ETH-KRW", "4242.5", 9_000, None);
    s.apply(&[&newer], 1).await.unwrap();
    loop {
        let line = printed.recv_timeout(Duration::from_secs(10)).unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_ne!(v["last_price"], "1", "the stale tick was printed");
        if v["last_price"] == "4242.5" {
            // Its event time is in 1970: flagged as stale for an API server.
            assert_eq!(v["stale"], true);
            break;
        }
    }
    std::process::Command::new("kill")
        .args(["-INT", &watch.id().to_string()])
        .status()
        .unwrap();
    assert!(watch.wait().unwrap().success());
}

#[tokio::test]
async fn auth_goes_in_the_url_and_a_key_restricted_acl_user_suffices() {
    let Some(server) = RedisServer::start("auth_goes_in_the_url") else {
        return;
    };
    let mut admin = connect(&server.url(), false).await.unwrap();
    // A least-privilege user: only the contract's keys and channels.
    let () = redis::cmd("ACL")
        .arg(&[
            "SETUSER",
            "cache",
            "on",
            ">cache-pw",
            "~px:*",
            "&px:*",
            "+@all",
        ])
        .query_async(&mut admin)
        .await
        .unwrap();
    let () = redis::cmd("CONFIG")
        .arg(&["SET", "requirepass", "s3cret"])
        .query_async(&mut admin)
        .await
        .unwrap();
    let open =
        |url: String| async move { Store::open(&url, false, "px", Duration::from_secs(60)).await };
    let err = open(server.url()).await.unwrap_err();
    assert!(err.to_string().contains("NOAUTH"), "{err}");
    let t = tick("BTC-KRW", "100", 1_000, None);
    let default_user = format!("redis://:s3cret@127.0.0.1:{}", server.port);
    assert_eq!(
        open(default_user)
            .await
            .unwrap()
            .apply(&[&t], 1)
            .await
            .unwrap()
            .applied,
        1
    );
    let user = format!("redis://cache:cache-pw@127.0.0.1:{}", server.port);
    let mut s = open(user.clone()).await.unwrap();
    let newer = tick("BTC-KRW", "101", 2_000, None);
    assert_eq!(s.apply(&[&newer], 1).await.unwrap().applied, 1);
    // The same user may not touch anything outside the contract.
    let mut c = connect(&user, false).await.unwrap();
    let denied: redis::RedisResult<Option<String>> = c.get("other").await;
    assert!(denied.is_err(), "{denied:?}");
}

/// Contract 3 renamed the time fields to say their unit (`trade_ts` → `trade_ts_us`): a hash
/// written under contract 2 is upgraded in place by the next tick applied to it, keeping the
/// values of the parts that tick does not write, and the reference hash by its next record.
#[tokio::test]
async fn a_contract_2_hash_is_upgraded_in_place_by_its_next_write() {
    use tickflow::cache::contract::{CONTRACT_VERSION, PRICE_RENAMED_IN_3, REFERENCE_RENAMED_IN_3};
    use tickflow::cache::reference::store::ReferenceStore;
    use tickflow::codec::instrument::{InstrumentRecord, State};
    use tickflow::model::listing::ListingStatus;
    let Some(server) = RedisServer::start("contract_2_upgraded") else {
        return;
    };
    let (key, ref_key) = ("px:{BTC-KRW}:UPBIT", "px:ref:{BTC-KRW}:UPBIT");
    let mut c = connect(&server.url(), false).await.unwrap();
    // What contract 2 left: a delisted instrument's price hash with every part, and its
    // reference. Part versions "0" sort below any real one.
    let v2: &[(&str, &str)] = &[
        ("contract_version", "2"),
        ("exchange", "UPBIT"),
        ("instrument", "BTC-KRW"),
        ("native_symbol", "KRW-BTC"),
        ("kind", "TICKER"),
        ("received_ts", "900"),
        ("updated_ts", "901"),
        ("last_price", "99"),
        ("trade_ts", "800"),
        ("trade_received_ts", "900"),
        ("trade_ver", "0"),
        ("bid_price", "98"),
        ("book_ts", "700"),
        ("book_received_ts", "902"),
        ("book_ver", "0"),
        ("high_price", "120"),
        ("event_ts", "600"),
        ("ticker_received_ts", "903"),
        ("ticker_ver", "0"),
        ("listing", "delisted"),
        ("delisted_ts", "500"),
    ];
    let () = c.hset_multiple(key, v2).await.unwrap();
    let reference: &[(&str, &str)] = &[
        ("contract_version", "2"),
        ("exchange", "UPBIT"),
        ("instrument", "BTC-KRW"),
        ("native_symbol", "KRW-BTC"),
        ("state", "delisted"),
        ("status", "trading"),
        ("first_seen_ts", "100"),
        ("last_seen_ts", "400"),
        ("as_of_ts", "500"),
        ("updated_ts", "501"),
        ("ver", "0"),
    ];
    let () = c.hset_multiple(ref_key, reference).await.unwrap();

    // A trade: its part is written under the new names, the book's and the ticker's renamed
    // with their values, the delisting's time read from the contract-2 reference.
    let mut s = store(&server).await;
    let r = s
        .apply(&[&trade("BTC-KRW", "100.5", 5_000, 42)], 7)
        .await
        .unwrap();
    assert_eq!((r.applied, r.delisted), (1, 1));
    let h = hash(&server, key).await;
    for (old, _) in PRICE_RENAMED_IN_3 {
        assert!(!h.contains_key(old), "{old} left in {h:?}");
    }
    assert_eq!(h["contract_version"], CONTRACT_VERSION);
    let got = |k: &str| h.get(k).map(String::as_str);
    assert_eq!(got("trade_ts_us"), Some("5000000"));
    assert_eq!(got("trade_received_ts_us"), Some("5000500"));
    assert_eq!(got("received_ts_us"), Some("5000500"));
    assert_eq!(got("updated_ts_us"), Some("7"));
    assert_eq!(
        (
            got("book_ts_us"),
            got("book_received_ts_us"),
            got("bid_price")
        ),
        (Some("700"), Some("902"), Some("98")),
        "the book, not written, keeps its values under the new names"
    );
    assert_eq!(
        (got("event_ts_us"), got("ticker_received_ts_us")),
        (Some("600"), Some("903"))
    );
    assert_eq!(
        (got("listing"), got("delisted_ts_us")),
        (Some("delisted"), Some("500"))
    );

    // The reference hash is replaced whole by its next record, new names only; the mark on
    // the price hash follows.
    let mut refs = ReferenceStore::open(&server.url(), false, "px", Duration::from_secs(3600))
        .await
        .unwrap();
    let record = InstrumentRecord {
        exchange: Exchange::Upbit,
        instrument: Instrument::parse("BTC-KRW").unwrap(),
        native_symbol: "KRW-BTC".into(),
        state: State::Delisted,
        status: Some(ListingStatus::Trading),
        tick_size: None,
        lot_size: None,
        notices: vec![],
        first_seen_ts_us: 100,
        last_seen_ts_us: 400,
        as_of_ts_us: 600,
    };
    assert_eq!(refs.apply(&[(record, false)], 9).await.unwrap().applied, 1);
    let r = hash(&server, ref_key).await;
    for (old, _) in REFERENCE_RENAMED_IN_3 {
        assert!(!r.contains_key(old), "{old} left in {r:?}");
    }
    assert_eq!(r["contract_version"], CONTRACT_VERSION);
    let got = |k: &str| r.get(k).map(String::as_str);
    assert_eq!(
        (
            got("first_seen_ts_us"),
            got("last_seen_ts_us"),
            got("as_of_ts_us"),
            got("updated_ts_us")
        ),
        (Some("100"), Some("400"), Some("600"), Some("9"))
    );
    let h = hash(&server, key).await;
    assert_eq!(h.get("delisted_ts_us").map(String::as_str), Some("600"));
    assert!(!h.contains_key("delisted_ts"));

    // A hash already of contract 3 is not renamed again: a later tick only writes its part.
    let stale = s
        .apply(&[&trade("BTC-KRW", "1", 4_000, 41)], 8)
        .await
        .unwrap();
    assert_eq!(
        stale.stale, 1,
        "an older trade is stale, and writes nothing"
    );
    assert_eq!(hash(&server, key).await, h);
}

/// A late tick of a delisted instrument whose price hash had gone (expired, or never written)
/// creates it marked delisted, and what it PUBLISHes says so whole: `listing` and
/// `delisted_ts_us`, as the hash has them, so a subscriber's view matches the hash.
#[tokio::test]
async fn a_late_tick_of_a_delisted_instrument_publishes_its_delisting() {
    use tickflow::cache::reference::store::ReferenceStore;
    use tickflow::codec::instrument::{InstrumentRecord, State};
    let Some(server) = RedisServer::start("a_late_tick_of_a_delisted_instrument") else {
        return;
    };
    let mut refs = ReferenceStore::open(&server.url(), false, "px", Duration::from_secs(3600))
        .await
        .unwrap();
    let record = InstrumentRecord {
        exchange: Exchange::Upbit,
        instrument: Instrument::parse("ETH-KRW").unwrap(),
        native_symbol: "KRW-ETH".into(),
        state: State::Delisted,
        status: None,
        tick_size: None,
        lot_size: None,
        notices: vec![],
        first_seen_ts_us: 100,
        last_seen_ts_us: 400,
        as_of_ts_us: 700,
    };
    refs.apply(&[(record, false)], 9).await.unwrap();
    let client = redis::Client::open(server.url()).unwrap();
    let mut pubsub = client.get_async_pubsub().await.unwrap();
    pubsub.subscribe("px:{ETH-KRW}:UPBIT").await.unwrap();
    let mut s = store(&server).await;
    s.apply(&[&tick("ETH-KRW", "5000000", 1_000, Some(3))], 10)
        .await
        .unwrap();
    let mut messages = pubsub.on_message();
    let m = tokio::time::timeout(Duration::from_secs(5), messages.next())
        .await
        .unwrap()
        .unwrap();
    let payload: serde_json::Value =
        serde_json::from_str(&m.get_payload::<String>().unwrap()).unwrap();
    let h = hash(&server, "px:{ETH-KRW}:UPBIT").await;
    assert_eq!(
        (h["listing"].as_str(), h["delisted_ts_us"].as_str()),
        ("delisted", "700")
    );
    assert_eq!(payload["listing"], "delisted");
    assert_eq!(payload["delisted_ts_us"], "700", "{payload}");
    assert_eq!(payload["last_price"], "5000000");
}
