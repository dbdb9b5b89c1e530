//! Issue 20, item 3, the Redis half: feed status records (`feed.status.v1`) reach Redis through
//! `tickflow cache` as `px:feed:EXCHANGE` and `px:feed:{I}:EXCHANGE`, ordered by the record's
//! time, and `tickflow price` shows them. Against real redis-server and tansu.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::cache::{cache, config};
use common::run::{connectors, gather, get, setup, wait_for};
use common::stack::{Broker, RedisServer};
use futures_util::StreamExt;
use redis::AsyncCommands;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tickflow::cache::status::store::StatusStore;
use tickflow::exchange::SymbolTable;
use tickflow::exchange::reference::{Reference, References};
use tickflow::model::status::{FeedState, FeedStatus};
use tickflow::model::{Exchange, Instrument};

type Hash = HashMap<String, String>;

fn record(
    connection: u32,
    state: FeedState,
    ts_us: i64,
    instruments: &[&str],
    reason: Option<&str>,
    gap: (Option<i64>, Option<i64>),
) -> FeedStatus {
    FeedStatus {
        exchange: Exchange::Binance,
        connector: "binance".into(),
        connection,
        state,
        ts_us,
        reason: reason.map(str::to_owned),
        instruments: instruments
            .iter()
            .map(|i| Instrument::parse(i).unwrap())
            .collect(),
        gap_start_us: gap.0,
        gap_end_us: gap.1,
    }
}

async fn hash(c: &mut tickflow::cache::RedisConnection, key: &str) -> Hash {
    c.hgetall(key).await.unwrap()
}

fn field<'a>(h: &'a Hash, k: &str) -> Option<&'a str> {
    h.get(k).map(String::as_str)
}

/// The compare-and-set, record by record: an older record never overwrites a newer state, an
/// equal one is a duplicate, a `DOWN` of the connection that holds an instrument refused keeps
/// it refused, the venue's `state` is the worst of its connections', and replaying everything
/// changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_scripts_keep_the_newest_state() {
    let Some(server) = RedisServer::start("the_status_scripts_keep_the_newest_state") else {
        return;
    };
    let url = server.url();
    let mut store = StatusStore::open(&url, false, "px").await.unwrap();
    let mut c = tickflow::cache::connect(&url, false).await.unwrap();
    let (btc, eth) = ("px:feed:{BTC-USDT}:BINANCE", "px:feed:{ETH-USDT}:BINANCE");
    let both = ["BTC-USDT", "ETH-USDT"];
    let closed = Some("closed by the server");
    let steps: Vec<(FeedStatus, (u64, u64))> = vec![
        (
            record(0, FeedState::Up, 90, &both, None, (None, None)),
            (1, 0),
        ),
        (
            record(0, FeedState::Subscribed, 100, &both, None, (None, None)),
            (1, 0),
        ),
        (
            record(0, FeedState::Down, 300, &both, closed, (Some(250), None)),
            (1, 0),
        ),
        // Older than what Redis holds, and the same again: nothing changes.
        (
            record(
                0,
                FeedState::Stale,
                200,
                &both,
                Some("idle"),
                (Some(150), None),
            ),
            (0, 1),
        ),
        (
            record(0, FeedState::Down, 300, &both, closed, (Some(250), None)),
            (0, 1),
        ),
    ];
    for (r, want) in &steps {
        let done = store.apply(&[(r.clone(), true)], 1_000).await.unwrap();
        assert_eq!((done.applied, done.stale), *want, "{r:?}");
    }
    let h = hash(&mut c, btc).await;
    assert_eq!(field(&h, "state"), Some("down"), "{h:?}");
    assert_eq!(field(&h, "since_ts_us"), Some("250"), "the last data");
    assert_eq!(field(&h, "reason"), Some("closed by the server"));
    assert_eq!(field(&h, "ts_us"), Some("300"));
    assert_eq!(field(&h, "connector"), Some("binance"));
    assert_eq!(field(&h, "connection"), Some("0"));
    assert_eq!(field(&h, "simulated"), Some("true"));
    assert_eq!(field(&h, "gap_start_ts_us"), None, "no gap stated yet");
    let v = hash(&mut c, "px:feed:BINANCE").await;
    assert_eq!(field(&v, "binance#0:state"), Some("down"), "{v:?}");
    assert_eq!(field(&v, "binance#0:since_ts_us"), Some("250"));
    assert_eq!(field(&v, "state"), Some("down"));

    // Data again: live, the gap stated, no reason.
    let recovered = record(
        0,
        FeedState::Recovered,
        400,
        &both,
        None,
        (Some(250), Some(390)),
    );
    store.apply(&[(recovered, true)], 1_000).await.unwrap();
    let h = hash(&mut c, btc).await;
    assert_eq!(
        (
            field(&h, "state"),
            field(&h, "since_ts_us"),
            field(&h, "reason")
        ),
        (Some("live"), Some("390"), None),
        "{h:?}"
    );
    assert_eq!(
        (field(&h, "gap_start_ts_us"), field(&h, "gap_end_ts_us")),
        (Some("250"), Some("390"))
    );
    // ETH refused; then the connection goes down: ETH stays refused, BTC is down, and the
    // last gap stays until the next one.
    let words = "2: Invalid symbol: ethusdt@trade";
    let rest = [
        record(
            0,
            FeedState::Refused,
            500,
            &["ETH-USDT"],
            Some(words),
            (None, None),
        ),
        record(0, FeedState::Down, 600, &both, closed, (Some(550), None)),
        // A second connection, live; the venue is as bad as its worst.
        record(
            1,
            FeedState::Subscribed,
            700,
            &["SOL-USDT"],
            None,
            (None, None),
        ),
        // The first reconnects (socket open): connecting; a renewal of the live one stays live.
        record(0, FeedState::Up, 800, &both, None, (None, None)),
        record(1, FeedState::Up, 900, &["SOL-USDT"], None, (None, None)),
    ];
    let batch: Vec<(FeedStatus, bool)> = rest.iter().cloned().map(|r| (r, true)).collect();
    let done = store.apply(&batch, 2_000).await.unwrap();
    assert_eq!((done.applied, done.stale), (5, 0));
    let e = hash(&mut c, eth).await;
    assert_eq!(
        (field(&e, "state"), field(&e, "reason")),
        (Some("refused"), Some(words)),
        "{e:?}"
    );
    assert_eq!(field(&e, "since_ts_us"), Some("500"));
    assert_eq!(field(&e, "ts_us"), Some("600"), "the newest record counted");
    let h = hash(&mut c, btc).await;
    assert_eq!(field(&h, "state"), Some("down"));
    assert_eq!(field(&h, "gap_end_ts_us"), Some("390"), "the last gap kept");
    let v = hash(&mut c, "px:feed:BINANCE").await;
    assert_eq!(field(&v, "binance#0:state"), Some("connecting"), "{v:?}");
    assert_eq!(field(&v, "binance#1:state"), Some("live"));
    assert_eq!(field(&v, "binance#1:since_ts_us"), Some("700"));
    assert_eq!(field(&v, "state"), Some("connecting"));
    assert_eq!(field(&v, "ts_us"), Some("900"));
    // Everything again (a restart, another replica): nothing applies, nothing moves.
    let before = (hash(&mut c, btc).await, hash(&mut c, eth).await);
    let mut all: Vec<(FeedStatus, bool)> = steps.into_iter().map(|(r, _)| (r, true)).collect();
    all.extend(batch);
    let n = all.len() as u64;
    let done = store.apply(&all, 3_000).await.unwrap();
    assert_eq!((done.applied, done.stale), (0, n));
    assert_eq!((hash(&mut c, btc).await, hash(&mut c, eth).await), before);
}

/// Published messages of the channels a test listens to: (arrival, channel, payload, arrival
/// as UTC epoch µs).
type Heard = Arc<Mutex<Vec<(Instant, String, Hash, i64)>>>;

async fn listen(url: &str, channels: &[&str]) -> Heard {
    let client = redis::Client::open(url).unwrap();
    let mut pubsub = client.get_async_pubsub().await.unwrap();
    for ch in channels {
        pubsub.subscribe(*ch).await.unwrap();
    }
    let heard: Heard = Arc::default();
    let sink = Arc::clone(&heard);
    tokio::spawn(async move {
        let mut messages = pubsub.into_on_message();
        while let Some(m) = messages.next().await {
            let payload: String = m.get_payload().unwrap();
            let h: Hash = serde_json::from_str(&payload).unwrap();
            sink.lock().unwrap().push((
                Instant::now(),
                m.get_channel_name().to_owned(),
                h,
                tickflow::model::time::now_us(),
            ));
        }
    });
    heard
}

/// Index of the first message of `channel` after `from` whose `key` is `value`.
fn first(
    heard: &[(Instant, String, Hash, i64)],
    from: usize,
    channel: &str,
    key: &str,
    value: &str,
) -> Option<usize> {
    (from..heard.len()).find(|&i| heard[i].1 == channel && field(&heard[i].2, key) == Some(value))
}

/// `tickflow price` as an operator runs it: its stdout and exit code.
fn price(url: &str, instrument: &str) -> (String, Option<i32>) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tickflow"))
        .args(["price", instrument, "--exchange", "binance"])
        .env("TICKFLOW_REDIS__URL", url)
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.code(),
    )
}

/// What `tickflow price` prints of a feed hash (independently of its code).
fn expected_text(h: &Hash) -> String {
    let at = |k: &str| {
        let us: i64 = h[k].parse().unwrap();
        chrono_like(us)
    };
    match field(h, "state").unwrap() {
        "live" => "LIVE".to_owned(),
        "refused" => format!("REFUSED ({})", h["reason"]),
        s => format!(
            "{} since {} ({})",
            s.to_ascii_uppercase(),
            at("since_ts_us"),
            h["reason"]
        ),
    }
}

/// Epoch µs as `yyyy-MM-ddTHH:mm:ss` UTC (civil-from-days, Howard Hinnant's algorithm).
fn chrono_like(us: i64) -> String {
    let secs = us.div_euclid(1_000_000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A silent Binance feed (40 frames per session, then nothing; idle window 1 s): Redis shows
/// the instrument `stale` within the idle window (plus slack) after its data stops, then
/// `down`, then `live` again once the reconnect delivers; the venue hash agrees; `tickflow
/// price` prints the state; a second cache reading the topic again changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_feed_goes_stale_then_down_then_live_in_redis() {
    let test = "a_silent_feed_goes_stale_then_down_then_live_in_redis";
    let Some(broker) = Broker::start(test) else {
        return;
    };
    let Some(redis_server) = RedisServer::start(test) else {
        return;
    };
    let url = redis_server.url();
    let app = config(&broker, &redis_server, "feed-silent");
    let running = cache(&app).await;
    let (inst, venue, px) = (
        "px:feed:{BTC-USDT}:BINANCE",
        "px:feed:BINANCE",
        "px:{BTC-USDT}:BINANCE",
    );
    // The consumer group has its partitions before data flows, so prices reach Redis as they
    // come (the status reader reads by assignment, without waiting for a group).
    wait_for("the cache ready", Duration::from_secs(30), || {
        running.stats.ready().is_ok()
    })
    .await;
    let heard = listen(&url, &[inst, venue, px]).await;
    let (base, _sim) = common::start_simulator(200, Duration::from_secs(1), None).await;
    let mut picked = connectors(&base, &[("binance", "?fault=silent&after=40")]);
    let idle = Duration::from_secs(1);
    picked[0].keepalive.idle_timeout = idle;
    let run = gather(setup(app.clone(), picked)).await;
    // live, then stale, then down, then live again, on the instrument's channel.
    let mut seen = None;
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.is_none() {
        assert!(Instant::now() < deadline, "{:?}", heard.lock().unwrap());
        tokio::time::sleep(Duration::from_millis(100)).await;
        let h = heard.lock().unwrap();
        // From the first price on: an episode whose data reached Redis as it came.
        let Some(priced) = (0..h.len()).find(|&i| h[i].1 == px) else {
            continue;
        };
        seen = first(&h, priced, inst, "state", "live")
            .and_then(|l| first(&h, l, inst, "state", "stale"))
            .and_then(|s| Some((s, first(&h, s, inst, "state", "down")?)))
            .and_then(|(s, d)| Some((s, d, first(&h, d, inst, "state", "live")?)));
    }
    let (stale, down, live) = seen.unwrap();
    let h = heard.lock().unwrap().clone();
    // Redis showed it stale within the idle window after the last data (`since_ts_us`, gather's
    // clock, the same machine's), plus slack for the status queue, Kafka, the cache's batch and
    // a loaded test machine.
    let s = &h[stale].2;
    let shown_after = Duration::from_micros(
        u64::try_from(h[stale].3 - s["since_ts_us"].parse::<i64>().unwrap()).unwrap(),
    );
    assert!(
        shown_after >= idle && shown_after <= idle + Duration::from_secs(5),
        "stale shown {shown_after:?} after the last data"
    );
    let silent_us: i64 =
        s["ts_us"].parse::<i64>().unwrap() - s["since_ts_us"].parse::<i64>().unwrap();
    assert!(
        (900_000..2_000_000).contains(&silent_us),
        "stale after {silent_us} µs of silence: {s:?}"
    );
    assert_eq!(
        field(s, "reason"),
        Some("no data for the idle window (1 s)")
    );
    let d = &h[down].2;
    assert!(
        d["reason"].starts_with("no data for the idle window"),
        "{d:?}"
    );
    assert_eq!(
        d["since_ts_us"], s["since_ts_us"],
        "down since the last data"
    );
    let l = &h[live].2;
    assert_eq!(field(l, "reason"), None, "{l:?}");
    // The venue said the same, in the same order.
    let v_stale = first(&h, 0, venue, "state", "stale").expect("venue stale");
    let v_down = first(&h, v_stale, venue, "state", "down").expect("venue down");
    assert!(
        first(&h, v_down, venue, "state", "live").is_some()
            || first(&h, v_down, venue, "state", "connecting").is_some()
    );
    assert_eq!(field(&h[v_stale].2, "connection"), Some("binance#0"));
    assert_eq!(field(&h[v_stale].2, "venue_state"), Some("stale"));
    drop(h);

    let (outcome, _) = run.finish().await;
    wait_for("every status record read", Duration::from_secs(30), || {
        get(&running.stats.status.consumed) == outcome.status_acked
            && running
                .stats
                .status
                .loaded
                .load(std::sync::atomic::Ordering::Relaxed)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut c = tickflow::cache::connect(&url, false).await.unwrap();
    let i = hash(&mut c, inst).await;
    let v = hash(&mut c, venue).await;
    let connection = field(&v, "binance#0:state").unwrap();
    assert_eq!(
        field(&v, "state"),
        Some(connection),
        "one connection: {v:?}"
    );
    let agrees = match field(&i, "state").unwrap() {
        "live" => ["live", "refused"].contains(&connection),
        "stale" => connection == "stale",
        "down" => ["down", "connecting"].contains(&connection),
        other => panic!("{other}"),
    };
    assert!(agrees, "{i:?} vs {v:?}");
    let (out, code) = price(&url, "BTC-USDT");
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.trim_end()
            .ends_with(&format!("  {}", expected_text(&i))),
        "{out} / {i:?}"
    );
    let stats = running.finish().await;
    assert_eq!(get(&stats.status.undecodable), 0);
    assert_eq!(
        get(&stats.status.applied) + get(&stats.status.stale),
        outcome.status_acked
    );
    // Another cache (its own group) reads the whole topic again: nothing applies.
    let again = cache(&config(&broker, &redis_server, "feed-silent-2")).await;
    wait_for("the topic read again", Duration::from_secs(30), || {
        again
            .stats
            .status
            .loaded
            .load(std::sync::atomic::Ordering::Relaxed)
            && get(&again.stats.status.consumed) == outcome.status_acked
    })
    .await;
    let stats = again.finish().await;
    assert_eq!(
        (get(&stats.status.applied), get(&stats.status.stale)),
        (0, outcome.status_acked)
    );
    assert_eq!(hash(&mut c, inst).await, i);
}

/// The simulator, listing Binance symbols from `table`.
async fn simulator(rate: u32, table: SymbolTable) -> (String, tokio::sync::watch::Sender<bool>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let config = tickflow::sim::SimConfig {
        rate,
        seed: 7,
        server_ping: Duration::from_secs(20),
        references: References::bundled()
            .unwrap()
            .with(Exchange::Binance, Reference::new(table)),
        default_fault: None,
    };
    tokio::spawn(tickflow::sim::serve(listener, config, stopped));
    (format!("ws://{addr}"), stop)
}

/// 20 Binance instruments, one the venue does not list: one status record says it is refused,
/// with the venue's words; Redis shows it `refused` and the 19 others `live`, the venue
/// `refused`; `tickflow price` prints it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_instrument_among_20_is_refused_in_redis() {
    let test = "a_refused_instrument_among_20_is_refused_in_redis";
    let Some(broker) = Broker::start(test) else {
        return;
    };
    let Some(redis_server) = RedisServer::start(test) else {
        return;
    };
    let url = redis_server.url();
    let bundled = SymbolTable::bundled_binance().unwrap();
    let without_link: String = bundled
        .to_csv()
        .lines()
        .filter(|l| !l.starts_with("LINKUSDT,"))
        .map(|l| format!("{l}\n"))
        .collect();
    let (base, _sim) = simulator(200, SymbolTable::from_csv(&without_link).unwrap()).await;
    let twenty = [
        "ADA-BTC",
        "ADA-USDT",
        "AVAX-USDT",
        "BCH-USDT",
        "BNB-BTC",
        "BNB-ETH",
        "BNB-USDT",
        "BTC-EUR",
        "BTC-FDUSD",
        "BTC-TRY",
        "BTC-USDC",
        "BTC-USDT",
        "DOGE-USDT",
        "DOT-USDT",
        "ETH-BTC",
        "ETH-EUR",
        "ETH-USDC",
        "ETH-USDT",
        "LINK-USDT",
        "LTC-BTC",
    ];
    let list: Vec<String> = twenty.iter().map(|i| format!("\"{i}\"")).collect();
    let mut connector = tickflow::config::load_connector(
        "binance20.toml",
        &format!(
            "exchange = \"binance\"\nurl = \"{base}/binance/stream\"\nchannel = \"trade\"\n\
             instruments = [{}]\n",
            list.join(", ")
        ),
        &References::bundled().unwrap(),
    )
    .unwrap();
    connector.enabled = true;
    let name = connector.name.clone();
    let app = config(&broker, &redis_server, "feed-refused");
    let running = cache(&app).await;
    let run = gather(setup(app.clone(), vec![connector])).await;
    let mut c = tickflow::cache::connect(&url, false).await.unwrap();
    let words = "2: Invalid symbol: linkusdt@trade";
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let link = hash(&mut c, "px:feed:{LINK-USDT}:BINANCE").await;
        if field(&link, "state") == Some("refused") {
            assert_eq!(field(&link, "reason"), Some(words), "{link:?}");
            break;
        }
        assert!(Instant::now() < deadline, "{link:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Ticks of the 19 flow (their prices are written).
    wait_for("19 prices", Duration::from_secs(30), || {
        get(&running.stats.applied) >= 19
    })
    .await;
    let (outcome, _) = run.finish().await;
    assert_eq!(
        outcome.status_acked, 3,
        "UP, SUBSCRIBED, and one REFUSED record"
    );
    wait_for("the 3 records applied", Duration::from_secs(30), || {
        get(&running.stats.status.applied) == 3
    })
    .await;
    for i in twenty.iter().filter(|i| **i != "LINK-USDT") {
        let h = hash(&mut c, &format!("px:feed:{{{i}}}:BINANCE")).await;
        assert_eq!(field(&h, "state"), Some("live"), "{i}: {h:?}");
        assert_eq!(field(&h, "connector"), Some(name.as_str()));
    }
    let v = hash(&mut c, "px:feed:BINANCE").await;
    assert_eq!(
        field(&v, &format!("{name}#0:state")),
        Some("refused"),
        "{v:?}"
    );
    assert_eq!(field(&v, &format!("{name}#0:reason")), Some(words));
    assert_eq!(field(&v, "state"), Some("refused"));
    let (out, code) = price(&url, "LINK-USDT");
    assert_eq!(
        (out.trim_end(), code),
        (
            format!("px:{{LINK-USDT}}:BINANCE: no price  REFUSED ({words})").as_str(),
            Some(1)
        )
    );
    let (out, code) = price(&url, "BTC-USDT");
    assert_eq!(code, Some(0));
    assert!(out.trim_end().ends_with("  LIVE"), "{out}");
    let stats = running.finish().await;
    assert_eq!(
        (get(&stats.status.consumed), get(&stats.status.stale)),
        (3, 0)
    );
}
