//! Whole markets, live (issue 19): gather follows a venue's listing from the simulator's REST
//! API; listings are subscribed and delistings unsubscribed on the running connections (no
//! reconnect, other instruments undisturbed), spilling to new connections at the stream cap; a
//! listing that cannot be had or looks wrong is refused and the last good one kept (readiness
//! says so); a restart works from the disk copy; shards split a market.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::run::{acked, app, gather, get, setup, wait_for};
use common::stack::{Broker, consume_all, http_get};
use rdkafka::message::Message;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tickflow::config::{ConnectorConfig, load_connector};
use tickflow::exchange::reference::References;
use tickflow::gather::GatherState;
use tickflow::markets::Shard;
use tickflow::model::{Exchange, Instrument};
use tickflow::sim::{ListingSizes, Listings, SimConfig, serve_with};
use tokio::sync::watch;

struct Sim {
    base: String,
    listings: Arc<Listings>,
    _stop: watch::Sender<bool>,
}

async fn sim(rate: u32, sizes: &ListingSizes) -> Sim {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = SimConfig {
        rate,
        seed: 11,
        server_ping: Duration::from_secs(20),
        references: References::bundled().unwrap(),
        default_fault: None,
    };
    let listings = Arc::new(Listings::for_config(&config, sizes));
    let (stop, stopped) = watch::channel(false);
    tokio::spawn(serve_with(listener, config, Arc::clone(&listings), stopped));
    Sim {
        base: format!("ws://{addr}"),
        listings,
        _stop: stop,
    }
}

fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tickflow-markets-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A `[markets]` connector from `text` pointed at `base`, refreshed every 300 ms (files may not
/// go below 10 s; tests set the field), its disk copy in `dir`.
fn market_connector(name: &str, text: &str, base: &str, dir: &std::path::Path) -> ConnectorConfig {
    let mut c = load_connector(
        &format!("{name}.toml"),
        text,
        &References::bundled().unwrap(),
    )
    .unwrap()
    .redirected_to(base);
    let m = c.markets.as_mut().unwrap();
    m.refresh = Duration::from_millis(300);
    m.timeout = Duration::from_secs(2);
    m.retries = 0;
    m.cache_file = Some(dir.join(format!("{name}.json")));
    c.backoff.initial = Duration::from_millis(100);
    c
}

fn ins(s: &str) -> Instrument {
    Instrument::parse(s).unwrap()
}

/// The instruments of the simulated venue that `selector`-like `keep` takes, live.
fn live(listings: &Listings, exchange: Exchange, keep: impl Fn(&Instrument) -> bool) -> usize {
    listings
        .markets(exchange)
        .iter()
        .filter(|m| m.status.is_live() && keep(&m.instrument))
        .count()
}

fn conns(state: &GatherState) -> Vec<(u64, u64, u64, u64)> {
    state
        .connections
        .all()
        .iter()
        .map(|c| {
            (
                get(&c.stats.connects),
                get(&c.stats.failures),
                get(&c.stats.change_requests),
                get(&c.stats.instruments),
            )
        })
        .collect()
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Kafka create times (ms) of the ticks of each key.
fn ticks_by_key(bootstrap: &str) -> BTreeMap<String, Vec<i64>> {
    let mut out: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for m in consume_all(bootstrap, "ticks.v1", 1, Duration::from_secs(15)) {
        let key = String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned();
        out.entry(key)
            .or_default()
            .push(m.timestamp().to_millis().unwrap_or(0));
    }
    out
}

/// Upbit: a new request replaces the set. A listing appears → subscribed on the running
/// connection within a refresh, its ticks in Kafka; a delisting → no more of its ticks, and
/// no connection was renewed or failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_and_delistings_are_followed_on_the_running_connection() {
    let test = "listings_and_delistings_are_followed";
    let Some(broker) = Broker::start(test) else {
        return;
    };
    let dir = scratch(test);
    let s = sim(400, ListingSizes::default().set(Exchange::Upbit, 60)).await;
    let krw = live(&s.listings, Exchange::Upbit, |i| i.quote() == "KRW");
    assert!(krw > 10, "{krw} KRW markets listed");
    let c = market_connector(
        "upbit",
        "exchange = \"upbit\"\nurl = \"wss://api.upbit.com/websocket/v1\"\nchannel = \"trade\"\n\
         [markets]\nquotes = [\"KRW\"]\n",
        &s.base,
        &dir,
    );
    let run = gather(setup(app(&broker.bootstrap), vec![c])).await;
    let listing = Arc::clone(&run.state.listings[0]);
    assert_eq!(get(&listing.instruments), krw as u64);
    assert!(dir.join("upbit.json").exists(), "the disk copy was written");
    wait_for("ticks acknowledged", Duration::from_secs(30), || {
        acked(&run.state) > 200
    })
    .await;

    s.listings.list(Exchange::Upbit, &ins("NEWA-KRW")).unwrap();
    wait_for("the new listing followed", Duration::from_secs(10), || {
        get(&listing.added) == 1
    })
    .await;
    s.listings.delist(Exchange::Upbit, &ins("BTC-KRW")).unwrap();
    wait_for("the delisting followed", Duration::from_secs(10), || {
        get(&listing.removed) == 1
    })
    .await;
    let delisted_at = now_ms();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let before = conns(&run.state);
    let (outcome, state) = run.finish().await;
    assert_eq!(outcome.lost, 0, "{outcome}");
    assert_eq!(get(&listing.instruments), krw as u64, "one in, one out");
    assert_eq!(get(&listing.failures) + get(&listing.refusals), 0);
    // One connection (Upbit publishes no cap; 1000 streams by default), never renewed.
    assert_eq!(before.len(), 1, "{before:?}");
    let (connects, failures, changes, carried) = before[0];
    assert_eq!((connects, failures), (1, 0), "no reconnect, no failure");
    assert_eq!(changes, 2, "one replacing request per change");
    assert_eq!(carried, krw as u64);
    assert_eq!(state.connections.all().len(), 1);

    let ticks = ticks_by_key(&broker.bootstrap);
    assert!(
        ticks.get("UPBIT:NEWA-KRW").is_some_and(|t| t.len() > 5),
        "the new listing's ticks reached Kafka"
    );
    let btc = &ticks["UPBIT:BTC-KRW"];
    // Frames already queued when it was unsubscribed may still come (a loaded machine): none
    // after 1.5 s.
    let late = btc.iter().filter(|&&t| t > delisted_at + 1500).count();
    assert_eq!(
        late, 0,
        "ticks of the delisted instrument after it was unsubscribed"
    );
    // Every other followed instrument kept flowing.
    assert!(ticks.len() > krw, "{} keys", ticks.len());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Binance: SUBSCRIBE and UNSUBSCRIBE on the running connections; past the stream cap new
/// listings go on a new connection, the others untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_listings_spill_to_a_new_connection_at_the_stream_cap() {
    let test = "new_listings_spill";
    let Some(broker) = Broker::start(test) else {
        return;
    };
    let dir = scratch(test);
    let s = sim(300, ListingSizes::default().set(Exchange::Binance, 8)).await;
    let eth = |i: &Instrument| i.quote() == "ETH";
    for n in 0..12 {
        s.listings
            .list(Exchange::Binance, &ins(&format!("Q{n}-ETH")))
            .unwrap();
    }
    let followed = live(&s.listings, Exchange::Binance, eth);
    assert!(followed >= 12, "{followed}");
    let mut c = market_connector(
        "binance",
        "exchange = \"binance\"\nurl = \"wss://stream.binance.com:9443/stream\"\nchannel = \"trade\"\n\
         [markets]\nquotes = [\"ETH\"]\n",
        &s.base,
        &dir,
    );
    c.limits.max_streams_per_connection = 10;
    let run = gather(setup(app(&broker.bootstrap), vec![c])).await;
    let listing = Arc::clone(&run.state.listings[0]);
    let first = followed.div_ceil(10);
    assert_eq!(run.state.connections.all().len(), first);
    wait_for("ticks acknowledged", Duration::from_secs(30), || {
        acked(&run.state) > 100
    })
    .await;
    // Enough new listings to fill the last connection and open one more.
    let room = first * 10 - followed;
    for n in 0..=room {
        s.listings
            .list(Exchange::Binance, &ins(&format!("R{n}-ETH")))
            .unwrap();
    }
    wait_for("the listings followed", Duration::from_secs(10), || {
        get(&listing.added) == room as u64 + 1
    })
    .await;
    s.listings
        .delist(Exchange::Binance, &ins("Q0-ETH"))
        .unwrap();
    wait_for("the delisting followed", Duration::from_secs(10), || {
        get(&listing.removed) == 1
    })
    .await;
    wait_for("the new connection up", Duration::from_secs(10), || {
        run.state
            .connections
            .all()
            .iter()
            .all(|c| get(&c.stats.up) == 1)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = conns(&run.state);
    let (outcome, _) = run.finish().await;
    assert_eq!(outcome.lost, 0, "{outcome}");
    assert_eq!(after.len(), first + 1, "{after:?}");
    for (n, (connects, failures, _, _)) in after.iter().enumerate() {
        assert_eq!((*connects, *failures), (1, 0), "connection {n}: {after:?}");
    }
    // Filled in place: SUBSCRIBE on the last old connection; the delisting: one UNSUBSCRIBE
    // where Q0 was (the first connection).
    // (The new listings may land in one refresh or two.)
    let requests: u64 = after[..first].iter().map(|c| c.2).sum();
    assert!(
        (if room > 0 { 2..=3 } else { 1..=2 }).contains(&requests),
        "{after:?}"
    );
    assert_eq!(after[first].3, 1, "the overflow carries one instrument");
    let carried: u64 = after.iter().map(|c| c.3).sum();
    assert_eq!(carried, (followed + room + 1 - 1) as u64);
    let ticks = ticks_by_key(&broker.bootstrap);
    assert!(
        ticks.contains_key(&format!("BINANCE:R{room}-ETH")),
        "the spilled one flows"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A listing server the test controls: `mode` 0 serves `good`, 1 answers 500, 2 serves
/// `suspect`.
async fn listing_server(good: String, suspect: String) -> (String, Arc<AtomicU8>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1/market/all", listener.local_addr().unwrap());
    let mode = Arc::new(AtomicU8::new(0));
    let m = Arc::clone(&mode);
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let (status, body) = match m.load(Ordering::SeqCst) {
                0 => ("200 OK", good.clone()),
                1 => ("500 Internal Server Error", "oops".to_owned()),
                _ => ("200 OK", suspect.clone()),
            };
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                let head = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.write_all(body.as_bytes()).await;
            });
        }
    });
    (url, mode)
}

fn upbit_listing(markets: &[&str]) -> String {
    let rows: Vec<String> = markets
        .iter()
        .map(|m| {
            format!(
                "{{\"market\":\"{m}\",\"korean_name\":\"x\",\"english_name\":\"x\",\"market_event\":{{\"warning\":false,\"caution\":{{}}}}}}"
            )
        })
        .collect();
    format!("[{}]", rows.join(","))
}

/// The listing fails, then looks wrong: both refused, the last good one kept, counted, and
/// `/readyz` says so once it is stale; a good one clears it. A restart without the listing
/// starts from the disk copy; without a copy, gather refuses to start and says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_listing_keeps_the_last_good_one_and_a_restart_uses_the_disk_copy() {
    let test = "a_bad_listing_keeps_the_last_good_one";
    let Some(broker) = Broker::start(test) else {
        return;
    };
    let dir = scratch(test);
    let s = sim(200, &ListingSizes::default()).await;
    let (url, mode) = listing_server(
        upbit_listing(&["KRW-BTC", "KRW-ETH", "KRW-XRP", "KRW-SOL", "KRW-DOGE"]),
        upbit_listing(&["KRW-BTC"]),
    )
    .await;
    let text = format!(
        "exchange = \"upbit\"\nurl = \"wss://api.upbit.com/websocket/v1\"\nchannel = \"trade\"\n\
         [markets]\nquotes = [\"KRW\"]\nlisting_url = \"{url}\"\n"
    );
    let c = market_connector("upbit", &text, &s.base, &dir);
    // The socket goes to the simulator; the listing stays on the test's server.
    let mut c = c;
    c.markets.as_mut().unwrap().listing_url = url.clone();
    let run = gather(setup(app(&broker.bootstrap), vec![c.clone()])).await;
    let listing = Arc::clone(&run.state.listings[0]);
    assert_eq!(get(&listing.instruments), 5);
    wait_for("ready", Duration::from_secs(20), || {
        http_get(run.http, "/readyz").is_some_and(|(s, _)| s == 200)
    })
    .await;

    mode.store(1, Ordering::SeqCst);
    wait_for("two failed refreshes", Duration::from_secs(10), || {
        get(&listing.failures) >= 2
    })
    .await;
    mode.store(2, Ordering::SeqCst);
    wait_for("a refused refresh", Duration::from_secs(10), || {
        get(&listing.refusals) >= 1
    })
    .await;
    assert_eq!(get(&listing.instruments), 5, "the last good listing kept");
    assert_eq!(get(&listing.removed), 0);
    // Stale after 3 refreshes (0.9 s here): /readyz names the listing and why.
    wait_for("not ready: listing stale", Duration::from_secs(10), || {
        http_get(run.http, "/readyz")
            .is_some_and(|(s, body)| s == 503 && body.contains("listing of upbit"))
    })
    .await;
    let (_, body) = http_get(run.http, "/readyz").unwrap();
    assert!(body.contains("refused: it would drop 4 of the 5"), "{body}");
    let (_, metrics) = http_get(run.http, "/metrics").unwrap();
    assert!(metrics.contains("tickflow_listing_instruments{connector=\"upbit\"} 5"));
    mode.store(0, Ordering::SeqCst);
    wait_for("ready again", Duration::from_secs(10), || {
        http_get(run.http, "/readyz").is_some_and(|(s, _)| s == 200)
    })
    .await;
    let (outcome, _) = run.finish().await;
    assert_eq!(outcome.lost, 0, "{outcome}");

    // Restart with the venue's listing failing: the disk copy.
    mode.store(1, Ordering::SeqCst);
    let run = gather(setup(app(&broker.bootstrap), vec![c.clone()])).await;
    let listing = Arc::clone(&run.state.listings[0]);
    assert_eq!(get(&listing.instruments), 5);
    assert!(listing.from_disk.load(Ordering::Relaxed));
    wait_for(
        "ticks from the disk copy's market",
        Duration::from_secs(30),
        || acked(&run.state) > 50,
    )
    .await;
    run.finish().await;

    // No copy either: refused, with every reason.
    std::fs::remove_file(dir.join("upbit.json")).unwrap();
    let (_stop, stopped) = watch::channel(false);
    let err = tickflow::gather::start(setup(app(&broker.bootstrap), vec![c]), stopped)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("connector `upbit`: no listing")
            && err.contains("HTTP 500")
            && err.contains("no disk copy"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Shards: `i/n` for every i split a followed market, each instrument in exactly one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shards_split_a_market_between_gatherers() {
    let test = "shards_split_a_market";
    let Some(broker) = Broker::start(test) else {
        return;
    };
    let s = sim(100, ListingSizes::default().set(Exchange::Upbit, 40)).await;
    let krw = live(&s.listings, Exchange::Upbit, |i| i.quote() == "KRW");
    let mut carried: Vec<BTreeSet<String>> = Vec::new();
    let mut runs = Vec::new();
    for index in 0..3 {
        let dir = scratch(&format!("{test}-{index}"));
        let c = market_connector(
            "upbit",
            "exchange = \"upbit\"\nurl = \"wss://api.upbit.com/websocket/v1\"\nchannel = \"trade\"\n\
             [markets]\nquotes = [\"KRW\"]\n",
            &s.base,
            &dir,
        );
        let mut st = setup(app(&broker.bootstrap), vec![c]);
        st.shard = Shard { index, count: 3 };
        runs.push((gather(st).await, dir));
    }
    wait_for("ticks from every shard", Duration::from_secs(30), || {
        runs.iter().all(|(r, _)| acked(&r.state) > 20)
    })
    .await;
    for (r, dir) in runs {
        let (_, state) = r.finish().await;
        let _ = std::fs::remove_dir_all(dir);
        let n = get(&state.listings[0].instruments);
        assert!(n > 0, "every shard carries some");
        carried.push(
            state.listings[0]
                .following()
                .iter()
                .map(ToString::to_string)
                .collect(),
        );
        assert_eq!(carried.last().unwrap().len() as u64, n);
    }
    let union: BTreeSet<&String> = carried.iter().flatten().collect();
    let total: usize = carried.iter().map(BTreeSet::len).sum();
    assert_eq!(union.len(), krw, "every KRW market in some shard");
    assert_eq!(total, krw, "none in two shards");
    let keys = ticks_by_key(&broker.bootstrap);
    assert!(
        keys.len() >= krw * 9 / 10,
        "{} of {krw} keys have ticks",
        keys.len()
    );
}
