//! A non-Rust API server reads Redis exactly as docs/consumers.md shows: the Python reader on
//! that page (redis-py, pinned and installed by scripts/test.sh) is taken from the page itself
//! and run against hashes tickflow's cache store wrote, on one server and on a three-node
//! cluster; what it reads must equal what `tickflow price --json` prints, and `follow` (subscribe,
//! then read, then merge by part version) must never go back and must end equal to the hashes.
//! The page's sample `HGETALL` output is checked field for field against the store's.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::fixture;
use common::stack::{RedisCluster, RedisServer};
use redis::AsyncCommands;
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;
use tickflow::cache::{Store, connect};
use tickflow::exchange::Decoded;
use tickflow::model::{EventKind, Exchange, Instrument, Tick, TradeSide};

const DOCS: &str = "docs/consumers.md";

/// The fenced block after `<!-- tested: tests/redis_clients.rs NAME -->` in docs/consumers.md.
fn docs_block(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(DOCS);
    let text = std::fs::read_to_string(path).unwrap();
    let marker = format!("<!-- tested: tests/redis_clients.rs {name} -->");
    let at = text
        .find(&marker)
        .unwrap_or_else(|| panic!("{DOCS} has no {marker}"));
    let rest = &text[at + marker.len()..];
    let open = rest.find("```").expect("a fenced block after the marker");
    let body = open + rest[open..].find('\n').unwrap() + 1;
    let close = rest[body..].find("\n```").expect("the block's end");
    rest[body..=body + close].to_owned()
}

/// Runs the page's reader followed by `driver` (`URL` is the Redis URL) and returns its stdout.
fn run_reader(python: &str, url: &str, driver: &str) -> String {
    let program = format!("{}\nURL = {url:?}\n{driver}", docs_block("reader"));
    let out = Command::new(python)
        .args(["-c", &program])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the docs' reader failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

type Hashes = BTreeMap<String, BTreeMap<String, String>>;

const VENUES: [Exchange; 2] = [Exchange::Upbit, Exchange::Binance];

fn instrument(n: usize) -> Instrument {
    Instrument::new(&format!("C{n:03}"), "KRW").unwrap()
}

/// Tick `n` of instrument `i` on `exchange`, of each kind in turn: exact decimals with many
/// places, trade ids above 2^53, every part of the hash.
fn tick(exchange: Exchange, i: usize, n: i64) -> Tick {
    let instrument = instrument(i);
    let kind = [EventKind::Ticker, EventKind::Trade, EventKind::BestBidOffer][n as usize % 3];
    let ts = 1_764_000_000_000_000 + n * 1_000;
    let price = format!("{}.{:018}", 1000 + i, n);
    let mut t = Tick::new(
        exchange,
        instrument.clone(),
        instrument.as_str(),
        kind,
        price.parse().unwrap(),
        ts + 500,
    );
    match kind {
        EventKind::Ticker => {
            t.event_ts_us = Some(ts);
            t.high_price = Some(format!("{}.5", 2000 + i).parse().unwrap());
            t.volume_24h_base = Some("12345.678901234567891".parse().unwrap());
            t.sequence = Some((1 << 53) + n);
        }
        EventKind::Trade => {
            t.trade_ts_us = Some(ts);
            t.last_qty = Some("0.000000000000000001".parse().unwrap());
            t.trade_side = Some(TradeSide::Sell);
            t.sequence = Some(17_000_000_000_000_000 + n);
        }
        _ => {
            t.event_ts_us = Some(ts);
            t.bid_price = Some(price.parse().unwrap());
            t.bid_qty = Some("1.5".parse().unwrap());
            t.ask_price = Some(format!("{}.25", 1001 + i).parse().unwrap());
            t.ask_qty = Some("2".parse().unwrap());
            t.sequence = Some(n);
        }
    }
    t
}

/// The cache's store on `url`, prefix `px`, an hour's TTL.
async fn open_store(url: &str, cluster: bool) -> Store {
    Store::open(url, cluster, "px", Duration::from_secs(3600))
        .await
        .unwrap()
}

/// Every price hash of the venues, read by the store's own client.
async fn hashes(url: &str, cluster: bool) -> Hashes {
    let mut c = connect(url, cluster).await.unwrap();
    let mut out = Hashes::new();
    for exchange in VENUES {
        let index = format!("px:index:{}", exchange.as_str());
        let members: Vec<String> = c.zrange(&index, 0, -1).await.unwrap();
        for m in members {
            let key = format!("px:{{{m}}}:{}", exchange.as_str());
            let h: HashMap<String, String> = c.hgetall(&key).await.unwrap();
            out.insert(key, h.into_iter().collect());
        }
    }
    out
}

/// `tickflow price INSTRUMENT --exchange E --json`, the hash's fields only.
fn price_json(url: &str, instrument: &str, exchange: Exchange) -> BTreeMap<String, String> {
    let out = Command::new(env!("CARGO_BIN_EXE_tickflow"))
        .args([
            "price",
            instrument,
            "--exchange",
            &exchange.lowercase(),
            "--json",
        ])
        .env("TICKFLOW_REDIS__URL", url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v.as_object()
        .unwrap()
        .iter()
        .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
        .collect()
}

/// Writes `rounds` ticks of each kind for `instruments` instruments on both venues.
async fn write(store: &mut Store, instruments: usize, rounds: i64) {
    for n in 0..rounds * 3 {
        let ticks: Vec<Tick> = VENUES
            .iter()
            .flat_map(|&e| (0..instruments).map(move |i| tick(e, i, n)))
            .collect();
        let refs: Vec<&Tick> = ticks.iter().collect();
        store.apply(&refs, 1_764_000_000_000_000 + n).await.unwrap();
    }
}

const READ_ALL: &str = r#"
r = redis.Redis.from_url(URL, decode_responses=True)
keys = live_keys(r, "UPBIT") + live_keys(r, "BINANCE")
print(json.dumps(read_prices(r, keys)))
"#;

#[tokio::test]
async fn a_python_api_server_reads_many_prices_as_the_docs_show() {
    let test = "a_python_api_server_reads_many_prices";
    let Some(python) = common::python_with(test, "redis", "redis (redis-py)") else {
        return;
    };
    let Some(server) = RedisServer::start(test) else {
        return;
    };
    let url = server.url();
    let mut store = open_store(&url, false).await;
    write(&mut store, 300, 2).await;
    let read: Hashes = serde_json::from_str(&run_reader(&python, &url, READ_ALL)).unwrap();
    let stored = hashes(&url, false).await;
    assert_eq!(read.len(), 600, "every instrument of both venues");
    assert_eq!(read, stored, "the reader reads every field exactly");
    let big = &read["px:{C007-KRW}:UPBIT"];
    assert_eq!(
        big["trade_id"], "17000000000000004",
        "a trade id above 2^53, exact"
    );
    assert_eq!(big["last_price"], "1007.000000000000000004");
    // What `tickflow price --json` prints is what the reader read.
    for (i, exchange) in [
        (0, Exchange::Upbit),
        (7, Exchange::Binance),
        (299, Exchange::Upbit),
    ] {
        let key = format!("px:{{{}}}:{}", instrument(i), exchange.as_str());
        assert_eq!(
            price_json(&url, instrument(i).as_str(), exchange),
            read[&key],
            "{key}"
        );
    }
}

#[tokio::test]
async fn the_reader_works_unchanged_on_a_redis_cluster() {
    let test = "the_reader_works_unchanged_on_a_redis_cluster";
    let Some(python) = common::python_with(test, "redis", "redis (redis-py)") else {
        return;
    };
    let Some(cluster) = RedisCluster::start(test) else {
        return;
    };
    let url = cluster.url();
    let mut store = open_store(&url, true).await;
    write(&mut store, 200, 1).await;
    // The page's cluster lines, with the seed URL, then the reader's output.
    let driver = format!(
        "seed_url = URL\n{}\nkeys = live_keys(r, \"UPBIT\") + live_keys(r, \"BINANCE\")\nprint(json.dumps(read_prices(r, keys)))\n",
        docs_block("cluster").replace("prices = read_prices(r, live_keys(r, \"UPBIT\"))\n", "")
    );
    let read: Hashes = serde_json::from_str(&run_reader(&python, &url, &driver)).unwrap();
    assert_eq!(read.len(), 400);
    assert_eq!(read, hashes(&url, true).await);
}

/// `follow` while hot keys change all the time: the subscribe-then-read race happens, and the
/// views never go back and end equal to the hashes.
#[tokio::test]
async fn follow_never_goes_back_and_ends_equal_to_the_hashes() {
    let test = "follow_never_goes_back";
    let Some(python) = common::python_with(test, "redis", "redis (redis-py)") else {
        return;
    };
    let Some(server) = RedisServer::start(test) else {
        return;
    };
    let url = server.url();
    let mut store = open_store(&url, false).await;
    // Many keys, the hot ones last: the reader's pipeline takes a while to build and send, and
    // the hot keys change many times between its subscribing and its reading them.
    write(&mut store, 1000, 1).await;
    // The driver: the views after each yield; a part version lower than one yielded before
    // for that key is a regression. It stops at the sentinel key and prints what it holds.
    let driver = r#"
r = redis.Redis.from_url(URL, decode_responses=True)
keys = live_keys(r, "UPBIT") + live_keys(r, "BINANCE")
latest, held, back, seen = {}, {}, [], 0
for key, view in follow(r, keys):
    seen += 1
    if seen == len(keys):
        print("read", flush=True)
    if key == "px:{ZZZ-KRW}:UPBIT":
        break
    latest[key] = view
    for part in PARTS:
        ver = view.get(f"{part}_ver", "")
        if ver < held.get((key, part), ""):
            back.append([key, part, ver, held[(key, part)]])
        held[(key, part)] = ver
print(json.dumps({"back": back, "seen": seen, "views": latest}))
"#;
    let program = format!("{}\nURL = {url:?}\n{driver}", docs_block("reader"));
    // Hot keys written continuously from before the reader subscribes until after it read.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let writer_url = url.clone();
    let writer = tokio::spawn(async move {
        let mut s = open_store(&writer_url, false).await;
        let mut n = 3;
        while !*stopped.borrow() {
            let ticks: Vec<Tick> = (996..1000).map(|i| tick(Exchange::Binance, i, n)).collect();
            let refs: Vec<&Tick> = ticks.iter().collect();
            s.apply(&refs, 1_764_000_001_000_000 + n).await.unwrap();
            n += 1;
        }
        n
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut child = Command::new(&python)
        .args(["-c", &program])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::task::spawn_blocking(move || {
            let l = lines.next();
            (l, lines)
        }),
    )
    .await;
    let Ok(first) = first else {
        let _ = child.kill();
        panic!("the reader did not read the keys within 60 s");
    };
    let first = first.unwrap();
    assert_eq!(
        first.0.unwrap().unwrap(),
        "read",
        "the reader read the keys"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.send(true).unwrap();
    let writes = writer.await.unwrap();
    assert!(
        writes > 20,
        "the hot keys changed while the reader started ({writes})"
    );
    // The sentinel: published after every other update, so everything before it has arrived.
    let sentinel = {
        let mut t = tick(Exchange::Upbit, 0, 0);
        t.instrument = Instrument::new("ZZZ", "KRW").unwrap();
        t
    };
    store
        .apply(&[&sentinel], 1_764_000_002_000_000)
        .await
        .unwrap();
    let mut lines = first.1;
    let last = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::task::spawn_blocking(move || lines.next()),
    )
    .await;
    let Ok(last) = last else {
        let _ = child.kill();
        panic!("the reader did not reach the sentinel within 60 s");
    };
    let last = last.unwrap().unwrap().unwrap();
    let status = child.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(status.success(), "{err}");
    let result: serde_json::Value = serde_json::from_str(&last).unwrap();
    assert_eq!(result["back"], serde_json::json!([]), "a view went back");
    let views: Hashes = serde_json::from_value(result["views"].clone()).unwrap();
    let mut stored = hashes(&url, false).await;
    stored.remove("px:{ZZZ-KRW}:UPBIT");
    assert_eq!(views.len(), stored.len(), "every key followed");
    for (key, hash) in &stored {
        for (field, value) in hash {
            assert_eq!(
                views[key].get(field),
                Some(value),
                "{key} {field}: the view ends other than the hash"
            );
        }
        assert_eq!(views[key].len(), hash.len(), "{key}: {:?}", views[key]);
    }
}

/// The page's sample `HGETALL` output is what the store writes for Upbit's documented
/// ticker, order book and trade examples.
#[tokio::test]
async fn the_docs_sample_hgetall_is_what_the_store_writes() {
    let Some(server) = RedisServer::start("the_docs_sample_hgetall") else {
        return;
    };
    let mut store = open_store(&server.url(), false).await;
    let received = 1_763_615_720_180_000;
    for (n, file) in [
        "upbit/ticker_default.json",
        "upbit/orderbook_default.json",
        "upbit/trade_default.json",
    ]
    .into_iter()
    .enumerate()
    {
        let ticks =
            match common::decode(Exchange::Upbit, &fixture(file), received + n as i64).unwrap() {
                Decoded::Tick(t) => vec![t],
                Decoded::Ticks(ts) => ts,
                other => panic!("{file}: {other:?}"),
            };
        let refs: Vec<&Tick> = ticks.iter().collect();
        store
            .apply(&refs, received + 5_000 + n as i64)
            .await
            .unwrap();
    }
    let mut c = connect(&server.url(), false).await.unwrap();
    let h: BTreeMap<String, String> = c.hgetall("px:{BTC-KRW}:UPBIT").await.unwrap();
    let shown: String = h.iter().map(|(k, v)| format!("{k} {v}\n")).collect();
    assert_eq!(
        docs_block("hgetall"),
        shown,
        "{DOCS}'s sample HGETALL is not what the store writes; it writes:\n{shown}"
    );
}
