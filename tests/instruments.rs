//! The instrument reference (issue 19): the gate over `instrument.vN`, registration under
//! `instruments.v1-value` and gather's look-up at start, and the publisher's records through a
//! real tansu broker into the cache and Redis (live set, index without the delisted, the
//! delisted price hash marked, a replay changing nothing), read also by the stock Python
//! `AvroDeserializer`. The publisher is driven with `ReferenceUpdate`s as the followers hand
//! them over (the simulator does not serve listings yet), and gather restarted after a delisting
//! retracting what the topic still said was live.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::cache::cache;
use common::registry::{Options, Registry};
use common::run::wait_for;
use common::sr::{ROOT, app, produce};
use common::stack::{Broker, RedisServer};
use redis::AsyncCommands;
use std::collections::{BTreeSet, HashMap};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tickflow::codec::Encoder;
use tickflow::codec::instrument::{InstrumentRecord, State};
use tickflow::gather::reference::{Publisher, ReferenceStats, spawn};
use tickflow::kafka::{ProducerStats, TickProducer, producer_properties};
use tickflow::markets::reference::ReferenceUpdate;
use tickflow::model::listing::{Listed, ListingStatus, Notice};
use tickflow::model::{EventKind, Exchange, Instrument, Tick};
use tickflow::registry::{StartError, instrument_schema_id, producer_schema_id};

const BIN: &str = env!("CARGO_BIN_EXE_tickflow");

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn get(a: &AtomicU64) -> u64 {
    a.load(Ordering::Relaxed)
}

#[test]
fn the_gate_checks_every_schema_name() {
    let out = Command::new(BIN)
        .args(["schemas", "check"])
        .current_dir(ROOT)
        .env_remove("TICKFLOW_SCHEMA_REGISTRY__URL")
        .output()
        .unwrap();
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    for family in [
        "avro/instrument",
        "proto/instrument",
        "avro/tick",
        "proto/tick",
    ] {
        let line = common::compatible_line(family);
        assert!(all.contains(&line), "`{line}` missing in:\n{all}");
    }
    // A v2 of the instrument schema that renames a required field: refused on its own, the
    // tick versions still compatible.
    let dir = std::env::temp_dir().join(format!("tickflow-instrument-gate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for kind in ["avro", "proto"] {
        std::fs::create_dir_all(dir.join(kind)).unwrap();
        for entry in std::fs::read_dir(format!("{ROOT}/schemas/{kind}")).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), dir.join(kind).join(entry.file_name())).unwrap();
        }
    }
    let v1 = std::fs::read_to_string(format!("{ROOT}/schemas/avro/instrument.v1.avsc")).unwrap();
    let v2 = v1.replace(r#"{"name": "native_symbol""#, r#"{"name": "symbol""#);
    assert_ne!(v1, v2);
    std::fs::write(dir.join("avro/instrument.v2.avsc"), v2).unwrap();
    let proto1 =
        std::fs::read_to_string(format!("{ROOT}/schemas/proto/instrument.v1.proto")).unwrap();
    let proto2 = proto1.replace("string native_symbol = 5;", "int64 native_symbol = 5;");
    assert_ne!(proto1, proto2);
    std::fs::write(dir.join("proto/instrument.v2.proto"), proto2).unwrap();
    let out = Command::new(BIN)
        .args(["schemas", "check", "--dir", dir.to_str().unwrap()])
        .current_dir(ROOT)
        .env_remove("TICKFLOW_SCHEMA_REGISTRY__URL")
        .output()
        .unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains(&common::compatible_line("avro/tick")), "{all}");
    assert!(
        all.contains("BREAK avro/instrument: v2 cannot read v1: `symbol`"),
        "{all}"
    );
    assert!(
        all.contains("BREAK avro/instrument: v1 cannot read v2: `native_symbol`"),
        "{all}"
    );
    assert!(
        all.contains(
            "BREAK proto/instrument: v2 cannot read v1: `tickflow.instrument.v1.Instrument.native_symbol`: field 5 changed type from string to int64"
        ),
        "{all}"
    );
    assert_eq!(all.matches("BREAK avro/instrument").count(), 2, "{all}");
    assert_eq!(all.matches("BREAK proto/instrument").count(), 1, "{all}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schema_is_registered_and_looked_up_like_the_tick_schema() {
    let reg = Registry::start(Options::default());
    let (ticks, instruments) = if reg.stub {
        ("ticks.v1".to_owned(), "instruments.v1".to_owned())
    } else {
        let id = std::process::id();
        (
            format!("ticks.v1.ref.{id}"),
            format!("instruments.v1.ref.{id}"),
        )
    };
    let env = [("TICKFLOW_TOPICS__INSTRUMENTS", instruments.as_str())];
    let app = app("127.0.0.1:9", &reg.url, &ticks, &env);
    // Not registered: gather would refuse to start, naming the subject.
    let err = instrument_schema_id(&app).await.unwrap_err();
    assert!(matches!(err, StartError::NotRegistered { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains(&format!(
            "schema instrument AVRO v{} is not registered under subject `{instruments}-value`",
            common::newest("avro/instrument")
        )),
        "{message}"
    );
    // `tickflow schemas register` registers both schemas, each under its topic's subject.
    let out = Command::new(BIN)
        .args(["schemas", "register", "--registry", &reg.url])
        .current_dir(ROOT)
        .env("TICKFLOW_TOPICS__TICKS", &ticks)
        .env("TICKFLOW_TOPICS__INSTRUMENTS", &instruments)
        .output()
        .unwrap();
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    let id = instrument_schema_id(&app).await.unwrap();
    let tick_id = producer_schema_id(&app).await.unwrap();
    assert_ne!(id, tick_id);
    assert!(
        all.contains(&format!(
            "registered avro/instrument v{} under subject `{instruments}-value` at {}: id {id}",
            common::newest("avro/instrument"),
            reg.url
        )),
        "{all}"
    );
    assert!(
        all.contains(&format!(
            "registered avro/tick v{} under subject `{ticks}-value`",
            common::newest("avro/tick")
        )),
        "{all}"
    );
    if reg.stub {
        assert_eq!(reg.versions("instruments.v1-value"), [id]);
        assert_eq!(reg.versions("ticks.v1-value"), [tick_id]);
    }
}

fn listed(base: &str, at: i64) -> Listed {
    Listed {
        exchange: Exchange::Upbit,
        instrument: Instrument::new(base, "KRW").unwrap(),
        native_symbol: format!("KRW-{base}"),
        status: ListingStatus::Trading,
        tick_size: None,
        lot_size: None,
        notices: vec![],
        first_seen_us: 1_700_000_000_000_000,
        last_seen_us: at,
    }
}

fn tick(base: &str, price: u64, at: i64) -> Tick {
    let mut t = Tick::new(
        Exchange::Upbit,
        Instrument::new(base, "KRW").unwrap(),
        &format!("KRW-{base}"),
        EventKind::Trade,
        price.into(),
        at,
    );
    t.trade_ts_us = Some(at);
    t
}

fn produce_ticks(app: &tickflow::config::AppConfig, id: u32, ticks: &[Tick]) {
    let encoder = Encoder {
        format: app.format,
        schema_id: id,
    };
    let messages: Vec<(String, Vec<u8>)> = ticks
        .iter()
        .map(|t| {
            let mut v = Vec::new();
            encoder.encode(t, &mut v).unwrap();
            (t.key(), v)
        })
        .collect();
    produce(
        &app.kafka["bootstrap.servers"],
        &app.topics.ticks,
        &messages,
    );
}

async fn members(c: &mut tickflow::cache::RedisConnection, key: &str) -> BTreeSet<String> {
    let m: Vec<String> = c.zrange(key, 0, -1).await.unwrap();
    m.into_iter().collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

/// The stock reader's view of a record (decimals normalized, times µs, enums by symbol).
fn stock_view(r: &InstrumentRecord) -> serde_json::Value {
    let dec = |d: Option<rust_decimal::Decimal>| d.map(|d| d.normalize().to_string());
    serde_json::json!({
        "exchange": r.exchange.as_str(),
        "instrument": r.instrument.as_str(),
        "base_asset": r.instrument.base(),
        "quote_asset": r.instrument.quote(),
        "native_symbol": r.native_symbol,
        "state": r.state.as_str(),
        "status": r.status.unwrap().as_str().to_ascii_uppercase(),
        "tick_size": dec(r.tick_size),
        "lot_size": dec(r.lot_size),
        "notices": r.notices.iter().map(|n| n.as_str().to_ascii_uppercase()).collect::<Vec<_>>(),
        "first_seen_ts_us": r.first_seen_ts_us,
        "last_seen_ts_us": r.last_seen_ts_us,
        "as_of_ts_us": r.as_of_ts_us,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_reach_redis_through_the_compacted_topic() {
    let test = "listings_reach_redis_through_the_compacted_topic";
    let Some(broker) = Broker::start(test) else {
        return;
    };
    let Some(redis_server) = RedisServer::start(test) else {
        return;
    };
    let reg = Registry::stub(Options::default());
    let url = redis_server.url();
    let app = app(
        &broker.bootstrap,
        &reg.url,
        "ticks.v1",
        &[
            ("TICKFLOW_SCHEMA_REGISTRY__AUTO_REGISTER", "true"),
            ("TICKFLOW_REDIS__URL", url.as_str()),
            ("TICKFLOW_CACHE__GROUP_ID", "instruments-test"),
            ("TICKFLOW_CACHE__HTTP_BIND", "127.0.0.1:0"),
        ],
    );
    let properties = producer_properties(&app.kafka);
    tickflow::kafka::admin::ensure_configured(
        &app,
        &properties,
        &[&app.topics.ticks, &app.topics.dlq, &app.topics.instruments],
    )
    .await
    .unwrap();
    let tick_id = producer_schema_id(&app).await.unwrap();
    let id = instrument_schema_id(&app).await.unwrap();
    assert_eq!(reg.versions("instruments.v1-value"), [id]);
    // The publisher as gather runs it.
    let producer_stats = Arc::new(ProducerStats::default());
    let producer = TickProducer::new(
        &properties,
        app.gather.max_block,
        Arc::clone(&producer_stats),
    )
    .unwrap();
    let stats = Arc::new(ReferenceStats::default());
    let publisher = Publisher::new(
        producer,
        app.topics.instruments.clone(),
        app.format,
        id,
        Arc::clone(&stats),
    );
    let (updates, taken) = tokio::sync::mpsc::channel(4);
    let publishing = spawn(publisher, taken).unwrap();
    // A price for each of three instruments, then the cache.
    let t0 = tickflow::model::time::now_us();
    produce_ticks(
        &app,
        tick_id,
        &[
            tick("BTC", 143_880_000, t0),
            tick("ETH", 5_000_000, t0),
            tick("XRP", 3_000, t0),
        ],
    );
    let cache = cache(&app).await;
    wait_for("3 prices applied", Duration::from_secs(30), || {
        get(&cache.stats.applied) == 3
    })
    .await;
    let mut c = tickflow::cache::connect(&url, false).await.unwrap();
    assert_eq!(
        members(&mut c, "px:index:UPBIT").await,
        set(&["BTC-KRW", "ETH-KRW", "XRP-KRW"])
    );
    // The first listing of the run: every followed instrument, live.
    let (l1, l2) = (t0 + 1_000, t0 + 2_000);
    let mut btc = listed("BTC", l1);
    btc.tick_size = Some("1000".parse().unwrap());
    btc.lot_size = Some("0.00000001".parse().unwrap());
    let first = ReferenceUpdate {
        connector: "upbit".into(),
        exchange: Exchange::Upbit,
        live: vec![btc.clone(), listed("ETH", l1), listed("XRP", l1)],
        gone: vec![],
        first: true,
        retract: None,
    };
    updates.send(first.clone()).await.unwrap();
    wait_for("3 records applied", Duration::from_secs(30), || {
        get(&cache.stats.reference.applied) == 3
    })
    .await;
    assert_eq!(
        members(&mut c, "px:live:UPBIT").await,
        set(&["BTC-KRW", "ETH-KRW", "XRP-KRW"])
    );
    let r: HashMap<String, String> = c.hgetall("px:ref:{BTC-KRW}:UPBIT").await.unwrap();
    assert_eq!(r["state"], "live");
    assert_eq!(r["status"], "trading");
    assert_eq!(r["tick_size"], "1000");
    assert_eq!(r["lot_size"], "0.00000001");
    assert_eq!(r["as_of_ts_us"], l1.to_string());
    assert!(!r.contains_key("notices"), "{r:?}");
    let ttl: i64 = c.pttl("px:ref:{BTC-KRW}:UPBIT").await.unwrap();
    assert_eq!(ttl, -1, "a live reference never expires");
    // The next listing: XRP delisted, ETH warned, BTC unchanged (its times only).
    let mut eth = listed("ETH", l2);
    eth.notices = vec![Notice::Warning];
    let mut btc2 = btc.clone();
    btc2.last_seen_us = l2;
    let second = ReferenceUpdate {
        connector: "upbit".into(),
        exchange: Exchange::Upbit,
        live: vec![btc2, eth],
        gone: vec![listed("XRP", l1)],
        first: false,
        retract: None,
    };
    updates.send(second).await.unwrap();
    wait_for("5 records applied", Duration::from_secs(30), || {
        get(&cache.stats.reference.applied) == 5
    })
    .await;
    assert_eq!((get(&stats.live), get(&stats.delisted)), (4, 1));
    assert_eq!(
        members(&mut c, "px:live:UPBIT").await,
        set(&["BTC-KRW", "ETH-KRW"])
    );
    assert_eq!(
        members(&mut c, "px:index:UPBIT").await,
        set(&["BTC-KRW", "ETH-KRW"])
    );
    let xrp: HashMap<String, String> = c.hgetall("px:{XRP-KRW}:UPBIT").await.unwrap();
    assert_eq!(xrp["listing"], "delisted");
    assert_eq!(xrp["delisted_ts_us"], l2.to_string());
    assert_eq!(xrp["last_price"], "3000", "the price stays as it was");
    assert_eq!(xrp["trade_ts_us"], t0.to_string());
    let r: HashMap<String, String> = c.hgetall("px:ref:{XRP-KRW}:UPBIT").await.unwrap();
    assert_eq!(
        (r["state"].as_str(), r["as_of_ts_us"].clone()),
        ("delisted", l2.to_string())
    );
    assert_eq!(r["last_seen_ts_us"], l1.to_string());
    let ttl: i64 = c.pttl("px:ref:{XRP-KRW}:UPBIT").await.unwrap();
    assert!(ttl > 0, "a delisted reference expires: {ttl}");
    let r: HashMap<String, String> = c.hgetall("px:ref:{ETH-KRW}:UPBIT").await.unwrap();
    assert_eq!(r["notices"], "warning");
    let btc_hash: HashMap<String, String> = c.hgetall("px:{BTC-KRW}:UPBIT").await.unwrap();
    assert!(!btc_hash.contains_key("listing"), "{btc_hash:?}");
    // A late tick of the delisted market: its price applies, it stays out of the index and
    // keeps its mark.
    produce_ticks(&app, tick_id, &[tick("XRP", 2_900, t0 + 10)]);
    wait_for("the late tick applied", Duration::from_secs(30), || {
        get(&cache.stats.applied) == 4
    })
    .await;
    assert_eq!(get(&cache.stats.delisted_ticks), 1);
    assert_eq!(
        members(&mut c, "px:index:UPBIT").await,
        set(&["BTC-KRW", "ETH-KRW"])
    );
    let xrp: HashMap<String, String> = c.hgetall("px:{XRP-KRW}:UPBIT").await.unwrap();
    assert_eq!(
        (xrp["last_price"].as_str(), xrp["listing"].as_str()),
        ("2900", "delisted")
    );
    // `tickflow price` says so.
    let out = Command::new(BIN)
        .args(["price", "XRP-KRW", "--exchange", "upbit"])
        .current_dir(ROOT)
        .env("TICKFLOW_REDIS__URL", &url)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("  DELISTED "), "{}", text(&out));
    // The publisher drains when its last sender goes: every record acknowledged.
    drop(updates);
    tokio::task::spawn_blocking(move || publishing.join().unwrap())
        .await
        .unwrap();
    assert_eq!(get(&producer_stats.reference_sent), 5);
    assert_eq!(get(&producer_stats.reference_acked), 5);
    assert_eq!(producer_stats.reference_lost.total(), 0);
    let stats1 = cache.finish().await;
    assert_eq!(get(&stats1.reference.consumed), 5);
    assert_eq!(
        get(&stats1.reference.stale) + get(&stats1.reference.coalesced),
        0
    );
    assert_eq!(get(&stats1.reference.undecodable), 0);
    assert_eq!(
        (get(&stats1.reference.live), get(&stats1.reference.delisted)),
        (2, 1)
    );
    // Another cache reads the topic whole again: every record stale, Redis unchanged.
    let again = common::cache::cache(&app).await;
    wait_for(
        "the reference loaded again",
        Duration::from_secs(30),
        || {
            again.stats.reference.loaded.load(Ordering::Relaxed)
                && get(&again.stats.reference.consumed) == 5
        },
    )
    .await;
    let stats2 = again.finish().await;
    // Each record is stale, or superseded in its batch by the later one of its instrument.
    let r2 = &stats2.reference;
    assert_eq!(get(&r2.applied), 0);
    assert_eq!(get(&r2.stale) + get(&r2.coalesced), 5);
    assert!(get(&r2.stale) >= 3, "one write per instrument at least");
    assert_eq!(
        members(&mut c, "px:live:UPBIT").await,
        set(&["BTC-KRW", "ETH-KRW"])
    );
    assert_eq!(
        members(&mut c, "px:index:UPBIT").await,
        set(&["BTC-KRW", "ETH-KRW"])
    );
    // The stock Python AvroDeserializer reads the same records through the registry.
    let Some(python) = stock_python(test) else {
        return;
    };
    let out = Command::new(&python)
        .arg(format!("{ROOT}/tests/stock_consumer.py"))
        .args([
            &broker.bootstrap,
            &reg.url,
            &app.topics.instruments,
            "avro",
            "5",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let theirs: Vec<(String, serde_json::Value)> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (v["key"].as_str().unwrap().to_owned(), v["value"].clone())
        })
        .collect();
    let messages = common::stack::consume_all(
        &broker.bootstrap,
        &app.topics.instruments,
        5,
        Duration::from_secs(30),
    );
    assert_eq!(messages.len(), 5);
    let mut ours: Vec<(String, serde_json::Value)> = messages
        .iter()
        .map(|m| {
            use rdkafka::message::Message;
            let (header, record) =
                InstrumentRecord::decode(app.format, m.payload().unwrap()).unwrap();
            assert_eq!(header, id);
            (
                String::from_utf8(m.key().unwrap().to_vec()).unwrap(),
                stock_view(&record),
            )
        })
        .collect();
    let mut theirs = theirs;
    let order = |v: &mut Vec<(String, serde_json::Value)>| {
        v.sort_by_key(|(k, v)| (k.clone(), v["as_of_ts_us"].as_i64()));
    };
    order(&mut ours);
    order(&mut theirs);
    assert_eq!(theirs, ours, "AvroDeserializer and tickflow disagree");
    let states: Vec<&str> = ours
        .iter()
        .map(|(_, v)| v["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        states
            .iter()
            .filter(|s| **s == State::Delisted.as_str())
            .count(),
        1
    );
    assert_eq!(ours[0].1["tick_size"], "1000");
}

/// Python with the pinned stock clients (see [`common::python_with`]).
fn stock_python(test: &str) -> Option<String> {
    common::python_with(
        test,
        "confluent_kafka.schema_registry.avro",
        "confluent-kafka[avro,schemaregistry]",
    )
}

/// A venue's REST listing on loopback: answers every request with the current body.
async fn listing_server(body: Arc<std::sync::Mutex<String>>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let body = body.lock().unwrap().clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tokio::time::timeout(Duration::from_secs(5), socket.read(&mut buf)).await
                    {
                        Ok(Ok(n)) if n > 0 => request.extend_from_slice(&buf[..n]),
                        _ => return,
                    }
                }
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    format!("http://{addr}/v1/market/all?is_details=true")
}

fn upbit_listing(bases: &[&str]) -> String {
    let rows: Vec<String> = bases
        .iter()
        .map(|b| {
            format!(
                r#"{{"market":"KRW-{b}","korean_name":"{b}","english_name":"{b}","market_event":{{"warning":false,"caution":{{"PRICE_FLUCTUATIONS":false,"TRADING_VOLUME_SOARING":false,"DEPOSIT_AMOUNT_SOARING":false,"GLOBAL_PRICE_DIFFERENCES":false,"CONCENTRATION_OF_SMALL_ACCOUNTS":false}}}}}}"#
            )
        })
        .collect();
    format!("[{}]", rows.join(","))
}

/// Gather with a `[markets]` connector (its listing from a loopback server, its feed from the
/// simulator): the first listing publishes every followed instrument, unchanged refreshes
/// nothing, a delisting one DELISTED record; the cache applies them; the last line accounts
/// for every record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gather_publishes_the_followed_markets_and_the_cache_applies_them() {
    let test = "gather_publishes_the_followed_markets_and_the_cache_applies_them";
    let Some(broker) = Broker::start(test) else {
        return;
    };
    let Some(redis_server) = RedisServer::start(test) else {
        return;
    };
    let reg = Registry::stub(Options::default());
    let url = redis_server.url();
    let app = app(
        &broker.bootstrap,
        &reg.url,
        "ticks.v1",
        &[
            ("TICKFLOW_SCHEMA_REGISTRY__AUTO_REGISTER", "true"),
            ("TICKFLOW_REDIS__URL", url.as_str()),
            ("TICKFLOW_CACHE__GROUP_ID", "instruments-gather"),
            ("TICKFLOW_CACHE__HTTP_BIND", "127.0.0.1:0"),
        ],
    );
    let body = Arc::new(std::sync::Mutex::new(upbit_listing(&["BTC", "ETH", "XRP"])));
    let listing_url = listing_server(Arc::clone(&body)).await;
    let (base, _sim) = common::start_simulator(50, Duration::from_secs(1), None).await;
    let mut connector = tickflow::config::load_connector(
        "upbit-krw.toml",
        "exchange = \"upbit\"\nurl = \"wss://api.upbit.com/websocket/v1\"\nchannel = \"trade\"\n\
         [markets]\nquotes = [\"KRW\"]\n",
        &common::run::symbols(),
    )
    .unwrap()
    .redirected_to(&base);
    connector.enabled = true;
    connector.backoff.initial = Duration::from_millis(100);
    {
        let m = connector.markets.as_mut().unwrap();
        m.listing_url = listing_url;
        m.refresh = Duration::from_millis(500);
        m.cache_file = None;
    }
    let run = common::run::gather(common::run::setup(app.clone(), vec![connector])).await;
    assert_eq!(reg.versions("instruments.v1-value").len(), 1);
    let cache = cache(&app).await;
    let reference = Arc::clone(run.state.reference.as_ref().unwrap());
    let producer = Arc::clone(&run.state.producer);
    wait_for(
        "3 live records acknowledged",
        Duration::from_secs(30),
        || get(&producer.reference_acked) == 3,
    )
    .await;
    // Refreshes that change nothing but the times publish nothing.
    wait_for("two more listings", Duration::from_secs(30), || {
        get(&reference.updates) >= 3
    })
    .await;
    assert_eq!((get(&reference.live), get(&reference.delisted)), (3, 0));
    let mut c = tickflow::cache::connect(&url, false).await.unwrap();
    wait_for("the first records applied", Duration::from_secs(30), || {
        get(&cache.stats.reference.applied) == 3
    })
    .await;
    // XRP is delisted.
    *body.lock().unwrap() = upbit_listing(&["BTC", "ETH"]);
    wait_for(
        "the delisting acknowledged",
        Duration::from_secs(30),
        || get(&producer.reference_acked) == 4,
    )
    .await;
    assert_eq!((get(&reference.live), get(&reference.delisted)), (3, 1));
    wait_for("the delisting applied", Duration::from_secs(30), || {
        get(&cache.stats.reference.applied) == 4
    })
    .await;
    assert_eq!(
        members(&mut c, "px:live:UPBIT").await,
        set(&["BTC-KRW", "ETH-KRW"])
    );
    // Ticks of XRP in flight at its delisting may still be written, never indexed.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let index = members(&mut c, "px:index:UPBIT").await;
        if index == set(&["BTC-KRW", "ETH-KRW"]) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "px:index:UPBIT is {index:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let xrp: HashMap<String, String> = c.hgetall("px:{XRP-KRW}:UPBIT").await.unwrap();
    assert_eq!(
        xrp.get("listing").map(String::as_str),
        Some("delisted"),
        "{xrp:?}"
    );
    assert!(xrp.contains_key("last_price"), "{xrp:?}");
    let (outcome, _) = run.finish().await;
    assert!(outcome.references);
    assert_eq!(
        (outcome.references_produced, outcome.references_acked),
        (4, 4)
    );
    assert_eq!(outcome.references_not_delivered.total(), 0);
    assert!(
        outcome
            .to_string()
            .contains("; instrument records: 4 produced, 4 acknowledged, 0 not delivered; "),
        "{outcome}"
    );
    let stats = cache.finish().await;
    assert_eq!(get(&stats.reference.consumed), 4);
    // On the topic: three LIVE, then XRP's DELISTED.
    let messages = common::stack::consume_all(
        &broker.bootstrap,
        &app.topics.instruments,
        4,
        Duration::from_secs(30),
    );
    let mut records: Vec<(String, &str)> = messages
        .iter()
        .map(|m| {
            use rdkafka::message::Message;
            let (_, r) = InstrumentRecord::decode(app.format, m.payload().unwrap()).unwrap();
            assert_eq!(String::from_utf8_lossy(m.key().unwrap()), r.key());
            (r.key(), r.state.as_str())
        })
        .collect();
    records.sort();
    assert_eq!(
        records,
        [
            ("UPBIT:BTC-KRW".to_owned(), "LIVE"),
            ("UPBIT:ETH-KRW".to_owned(), "LIVE"),
            ("UPBIT:XRP-KRW".to_owned(), "DELISTED"),
            ("UPBIT:XRP-KRW".to_owned(), "LIVE"),
        ]
    );
}

/// An Upbit `[markets]` connector on the simulator's feed, its listing at `listing_url`.
fn markets_connector(
    base: &str,
    listing_url: &str,
    markets: &str,
) -> tickflow::config::ConnectorConfig {
    let mut connector = tickflow::config::load_connector(
        "upbit-krw.toml",
        &format!(
            "exchange = \"upbit\"\nurl = \"wss://api.upbit.com/websocket/v1\"\nchannel = \"trade\"\n\
             [markets]\n{markets}\n"
        ),
        &common::run::symbols(),
    )
    .unwrap()
    .redirected_to(base);
    connector.enabled = true;
    connector.backoff.initial = Duration::from_millis(100);
    let m = connector.markets.as_mut().unwrap();
    m.listing_url = listing_url.to_owned();
    m.refresh = Duration::from_millis(500);
    m.cache_file = None;
    connector
}

/// One gather run until its first listing's records are acknowledged: its publisher's
/// (live, delisted, retracted, skipped) and the outcome's (produced, acknowledged).
async fn one_run(
    app: &tickflow::config::AppConfig,
    connector: tickflow::config::ConnectorConfig,
    shard: tickflow::markets::Shard,
) -> ((u64, u64, u64, u64), (u64, u64)) {
    let mut setup = common::run::setup(app.clone(), vec![connector]);
    setup.shard = shard;
    let run = common::run::gather(setup).await;
    let reference = Arc::clone(run.state.reference.as_ref().unwrap());
    let producer = Arc::clone(&run.state.producer);
    wait_for(
        "the first listing published",
        Duration::from_secs(60),
        || {
            get(&reference.updates) >= 1
                && get(&producer.reference_acked) == get(&reference.live) + get(&reference.delisted)
        },
    )
    .await;
    let (outcome, _) = run.finish().await;
    assert_eq!(outcome.references_not_delivered.total(), 0);
    (
        (
            get(&reference.live),
            get(&reference.delisted),
            get(&reference.retracted),
            get(&reference.retraction_skipped),
        ),
        (outcome.references_produced, outcome.references_acked),
    )
}

/// Issue 19, item 4: an instrument delisted while gather was down is retracted by the next
/// start (its first listing reads the topic whole), and only by a gatherer whose selector
/// takes it and whose shard owns it; the cache then holds exactly the live ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_retracts_what_was_delisted_while_gather_was_down() {
    let test = "a_restart_retracts_what_was_delisted_while_gather_was_down";
    let Some(broker) = Broker::start(test) else {
        return;
    };
    let Some(redis_server) = RedisServer::start(test) else {
        return;
    };
    let reg = Registry::stub(Options::default());
    let url = redis_server.url();
    let app = app(
        &broker.bootstrap,
        &reg.url,
        "ticks.v1",
        &[
            ("TICKFLOW_SCHEMA_REGISTRY__AUTO_REGISTER", "true"),
            ("TICKFLOW_REDIS__URL", url.as_str()),
            ("TICKFLOW_CACHE__GROUP_ID", "instruments-retract"),
            ("TICKFLOW_CACHE__HTTP_BIND", "127.0.0.1:0"),
        ],
    );
    let body = Arc::new(std::sync::Mutex::new(upbit_listing(&["BTC", "ETH", "XRP"])));
    let listing_url = listing_server(Arc::clone(&body)).await;
    let (base, _sim) = common::start_simulator(50, Duration::from_secs(1), None).await;
    let krw = "quotes = [\"KRW\"]";
    let all = tickflow::markets::Shard::default();
    // Run 1 follows three; XRP gets a price.
    let mut setup = common::run::setup(
        app.clone(),
        vec![markets_connector(&base, &listing_url, krw)],
    );
    setup.shard = all;
    let run = common::run::gather(setup).await;
    let cache = cache(&app).await;
    let mut c = tickflow::cache::connect(&url, false).await.unwrap();
    let producer = Arc::clone(&run.state.producer);
    wait_for(
        "3 live records acknowledged",
        Duration::from_secs(30),
        || get(&producer.reference_acked) == 3,
    )
    .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let live = members(&mut c, "px:live:UPBIT").await;
        let index = members(&mut c, "px:index:UPBIT").await;
        if live.len() == 3 && index.contains("XRP-KRW") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{live:?} {index:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (outcome, state) = run.finish().await;
    assert_eq!(get(&state.reference.as_ref().unwrap().retracted), 0);
    assert_eq!(
        (outcome.references_produced, outcome.references_acked),
        (3, 3)
    );
    // Gather is down; XRP is delisted.
    *body.lock().unwrap() = upbit_listing(&["BTC", "ETH"]);
    // A connector whose selector does not take XRP (another selection on the venue): no
    // retraction.
    let btc_only = "quotes = [\"KRW\"]\ninclude = [\"BTC-*\"]";
    let (counts, _) = one_run(&app, markets_connector(&base, &listing_url, btc_only), all).await;
    assert_eq!(counts, (1, 0, 0, 0), "BTC live, nothing retracted");
    // A shard that does not own XRP: no retraction.
    let xrp = Instrument::parse("XRP-KRW").unwrap();
    let other = (0..2)
        .map(|index| tickflow::markets::Shard { index, count: 2 })
        .find(|s| !s.owns(Exchange::Upbit, &xrp))
        .unwrap();
    let (counts, _) = one_run(&app, markets_connector(&base, &listing_url, krw), other).await;
    assert_eq!((counts.1, counts.2, counts.3), (0, 0, 0), "{counts:?}");
    let shard_live = counts.0;
    assert!(
        members(&mut c, "px:live:UPBIT").await.contains("XRP-KRW"),
        "not retracted yet"
    );
    // The restart of the gatherer that followed it: exactly one DELISTED record.
    let (counts, delivered) = one_run(&app, markets_connector(&base, &listing_url, krw), all).await;
    assert_eq!(counts, (2, 1, 1, 0));
    assert_eq!(
        delivered,
        (3, 3),
        "the retraction is in the delivery accounting"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let live = members(&mut c, "px:live:UPBIT").await;
        let index = members(&mut c, "px:index:UPBIT").await;
        if live == set(&["BTC-KRW", "ETH-KRW"]) && !index.contains("XRP-KRW") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{live:?} {index:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let hash: HashMap<String, String> = c.hgetall("px:{XRP-KRW}:UPBIT").await.unwrap();
    assert_eq!(
        hash.get("listing").map(String::as_str),
        Some("delisted"),
        "{hash:?}"
    );
    assert!(hash.contains_key("last_price"), "{hash:?}");
    let r: HashMap<String, String> = c.hgetall("px:ref:{XRP-KRW}:UPBIT").await.unwrap();
    assert_eq!(r["state"], "delisted");
    assert_eq!(
        r["status"], "trading",
        "as last recorded (gone from the listing)"
    );
    cache.finish().await;
    // On the topic: one DELISTED record in all, XRP's.
    let messages = common::stack::consume_all(
        &broker.bootstrap,
        &app.topics.instruments,
        usize::try_from(3 + 1 + shard_live + 3).unwrap(),
        Duration::from_secs(30),
    );
    assert_eq!(messages.len() as u64, 3 + 1 + shard_live + 3);
    let delisted: Vec<String> = messages
        .iter()
        .filter_map(|m| {
            use rdkafka::message::Message;
            let (_, r) = InstrumentRecord::decode(app.format, m.payload().unwrap()).unwrap();
            (r.state == State::Delisted).then(|| r.key())
        })
        .collect();
    assert_eq!(delisted, ["UPBIT:XRP-KRW"]);
}
