//! Feed health on the connection, against the simulator: what the venue says is acted on where
//! it is said (a refused subscription leaves the rest flowing and is held, counted and shown;
//! an announced close renews at once), and planned renewals are make-before-break (the new
//! socket delivers before the old one closes).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tickflow::config::{ConnectorConfig, load_connector};
use tickflow::exchange::reference::{Reference, References};
use tickflow::exchange::{Decoded, Frame, SymbolTable};
use tickflow::model::Exchange;
use tickflow::ws::{ConnectionStats, Link, Received, run};
use tokio::sync::{mpsc, watch};

fn get(a: &AtomicU64) -> u64 {
    a.load(Ordering::Relaxed)
}

/// The simulator, listing Binance symbols from `table` (plus its generated markets).
async fn simulator(rate: u32, table: SymbolTable) -> (String, watch::Sender<bool>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = watch::channel(false);
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

fn binance(url: &str, instruments: &[&str], extra: &str) -> ConnectorConfig {
    let list: Vec<String> = instruments.iter().map(|i| format!("\"{i}\"")).collect();
    let text = format!(
        "exchange = \"binance\"\nurl = \"{url}\"\nchannel = \"trade\"\ninstruments = [{}]\n\
         [backoff]\ninitial_ms = 50\nmax_ms = 200\njitter = 0.1\n{extra}",
        list.join(", ")
    );
    load_connector("test.toml", &text, &References::bundled().unwrap()).unwrap()
}

struct Running {
    frames: mpsc::Receiver<Received>,
    status: mpsc::Receiver<tickflow::model::status::FeedStatus>,
    stats: Arc<ConnectionStats>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    _wanted: watch::Sender<Arc<tickflow::ws::Wanted>>,
}

fn spawn(config: ConnectorConfig) -> Running {
    let (tx, frames) = mpsc::channel(8192);
    let stats = Arc::new(ConnectionStats::default());
    let (stop, stopped) = watch::channel(false);
    let instruments = config.instruments.clone();
    let (mut link, wanted) = Link::new(
        Arc::new(config),
        instruments,
        References::bundled()
            .unwrap()
            .get(Exchange::Binance)
            .clone(),
        tx,
        Arc::clone(&stats),
        tickflow::ws::tls::client_config().unwrap(),
    );
    let (status_tx, status) = mpsc::channel(1024);
    link.health = tickflow::ws::connection::Health::new(Some(status_tx), 0);
    let task = tokio::spawn(run(link, stopped, 3));
    Running {
        frames,
        status,
        stats,
        stop,
        task,
        _wanted: wanted,
    }
}

/// The instruments of the ticks received until `done` holds (then `more` longer) or 15 s.
async fn instruments_until(
    r: &mut Running,
    done: impl Fn(&BTreeSet<String>, &ConnectionStats) -> bool,
    more: Duration,
) -> BTreeSet<String> {
    let adapter = common::adapter(Exchange::Binance);
    let mut until = tokio::time::Instant::now() + Duration::from_secs(15);
    let mut finishing = false;
    let mut seen = BTreeSet::new();
    while let Ok(Some(f)) = tokio::time::timeout_at(until, r.frames.recv()).await {
        if let Ok(Decoded::Tick(t)) = adapter.decode(Frame::text(&f.bytes), f.received_ts_us) {
            seen.insert(t.instrument.to_string());
        }
        if !finishing && done(&seen, &r.stats) {
            finishing = true;
            until = tokio::time::Instant::now() + more;
        }
    }
    assert!(finishing, "not done within 15 s: saw {seen:?}");
    seen
}

async fn stop(r: Running) {
    r.stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), r.task)
        .await
        .expect("no prompt shutdown")
        .unwrap();
}

/// 20 instruments, one of which the venue does not list: Binance refuses the whole request
/// naming that stream; the other 19 are asked for again at once and flow, the refused one is
/// held (retried later), counted once and shown with the venue's words.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_subscription_among_20_leaves_19_flowing() {
    let bundled = SymbolTable::bundled_binance().unwrap();
    let without_link: String = bundled
        .to_csv()
        .lines()
        .filter(|l| !l.starts_with("LINKUSDT,"))
        .map(|l| format!("{l}\n"))
        .collect();
    let table = SymbolTable::from_csv(&without_link).unwrap();
    let (base, _sim) = simulator(2000, table).await;
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
    let mut r = spawn(binance(&format!("{base}/binance/stream"), &twenty, ""));
    let seen = instruments_until(&mut r, |seen, _| seen.len() >= 19, Duration::from_secs(1)).await;
    let want: BTreeSet<String> = twenty
        .iter()
        .filter(|i| **i != "LINK-USDT")
        .map(|i| (*i).to_owned())
        .collect();
    assert_eq!(seen, want, "the 19 flow, the refused one does not");
    let s = &r.stats;
    assert_eq!(get(&s.refusals), 1, "one refusal, matched to its request");
    assert_eq!(get(&s.refusals_unattributed), 0);
    assert_eq!(
        get(&s.acks),
        1,
        "the request asking again for the 19 was acknowledged"
    );
    assert_eq!(get(&s.connects), 1, "no reconnect");
    assert_eq!(get(&s.failures), 0);
    assert_eq!(get(&s.instruments), 19);
    let refused = s.refused.list();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].0.to_string(), "LINK-USDT");
    assert_eq!(refused[0].1, "2: Invalid symbol: linkusdt@trade");
    // One status record says so, with the venue's words; the connection was up and
    // subscribed before, and nothing went down.
    let mut records = Vec::new();
    while let Ok(s) = r.status.try_recv() {
        records.push(s);
    }
    use tickflow::model::status::FeedState;
    let states: Vec<FeedState> = records.iter().map(|s| s.state).collect();
    assert_eq!(
        states,
        [FeedState::Up, FeedState::Subscribed, FeedState::Refused]
    );
    assert_eq!(records[2].instruments, [refused[0].0.clone()]);
    assert_eq!(
        records[2].reason.as_deref(),
        Some("2: Invalid symbol: linkusdt@trade")
    );
    assert_eq!(records[1].instruments.len(), 20, "all 20 were asked for");
    stop(r).await;
}

/// A refused instrument the venue lists later comes in by its retry, on the same connection:
/// the venue acknowledges it, the refusal ends, and a SUBSCRIBED record names it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_instrument_listed_later_comes_in_by_its_retry() {
    use tickflow::model::status::FeedState;
    use tickflow::sim::{ListingSizes, Listings};
    let bundled = SymbolTable::bundled_binance().unwrap();
    let without_link: String = bundled
        .to_csv()
        .lines()
        .filter(|l| !l.starts_with("LINKUSDT,"))
        .map(|l| format!("{l}\n"))
        .collect();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("ws://{}", listener.local_addr().unwrap());
    let (_stop, stopped) = watch::channel(false);
    let config = tickflow::sim::SimConfig {
        rate: 1000,
        seed: 7,
        server_ping: Duration::from_secs(20),
        references: References::bundled().unwrap().with(
            Exchange::Binance,
            Reference::new(SymbolTable::from_csv(&without_link).unwrap()),
        ),
        default_fault: None,
    };
    let listings = Arc::new(Listings::for_config(&config, &ListingSizes::default()));
    tokio::spawn(tickflow::sim::serve_with(
        listener,
        config,
        Arc::clone(&listings),
        stopped,
    ));
    let extra = "refusal_retry_secs = 1\n";
    let mut r = spawn(binance(
        &format!("{base}/binance/stream"),
        &["BTC-USDT", "LINK-USDT"],
        extra,
    ));
    instruments_until(&mut r, |_, s| get(&s.refusals) == 1, Duration::ZERO).await;
    let link = tickflow::model::Instrument::parse("LINK-USDT").unwrap();
    listings.list(Exchange::Binance, &link).unwrap();
    let seen =
        instruments_until(&mut r, |seen, _| seen.contains("LINK-USDT"), Duration::ZERO).await;
    assert!(seen.contains("BTC-USDT"));
    let s = &r.stats;
    assert_eq!(get(&s.refusals), 1);
    assert_eq!(get(&s.refusal_retries), 1);
    assert!(s.refused.is_empty(), "the refusal ended");
    assert_eq!(get(&s.connects), 1, "on the same connection");
    let mut records = Vec::new();
    while let Ok(s) = r.status.try_recv() {
        records.push((s.state, s.instruments));
    }
    assert_eq!(
        records,
        [
            (
                FeedState::Up,
                vec![
                    tickflow::model::Instrument::parse("BTC-USDT").unwrap(),
                    link.clone()
                ]
            ),
            (
                FeedState::Subscribed,
                vec![
                    tickflow::model::Instrument::parse("BTC-USDT").unwrap(),
                    link.clone()
                ]
            ),
            (FeedState::Refused, vec![link.clone()]),
            (FeedState::Subscribed, vec![link]),
        ]
    );
    stop(r).await;
}

/// Upbit answers only refusals and, here, names no instrument: every instrument of the request
/// is shown refused (with the venue's words), none is left out, and the data goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unnamed_refusal_on_upbit_keeps_the_set_and_shows_it_refused() {
    let (base, _sim) = simulator(1000, SymbolTable::bundled_binance().unwrap()).await;
    let text = format!(
        "exchange = \"upbit\"\nurl = \"{base}/upbit/websocket/v1?fault=error&after=50\"\n\
         channel = \"ticker\"\ninstruments = [\"BTC-KRW\", \"ETH-KRW\"]\n"
    );
    let config = load_connector("test.toml", &text, &References::default()).unwrap();
    let mut r = spawn(config);
    let adapter = common::adapter(Exchange::Upbit);
    let mut after_refusal = BTreeSet::new();
    let until = tokio::time::Instant::now() + Duration::from_secs(10);
    while after_refusal.len() < 2 {
        let f = tokio::time::timeout_at(until, r.frames.recv())
            .await
            .expect("both instruments flow after the refusal")
            .unwrap();
        let refused = get(&r.stats.refusals) > 0;
        if let Ok(Decoded::Tick(t)) = adapter.decode(Frame::binary(&f.bytes), f.received_ts_us)
            && refused
        {
            after_refusal.insert(t.instrument.to_string());
        }
    }
    let s = &r.stats;
    let refused: Vec<String> = s
        .refused
        .list()
        .iter()
        .map(|(i, _, _)| i.to_string())
        .collect();
    assert_eq!(refused, ["BTC-KRW", "ETH-KRW"]);
    assert_eq!(s.refused.list()[0].1, "INVALID_PARAM: simulated fault");
    assert_eq!(get(&s.instruments), 2, "nothing left out");
    assert_eq!(get(&s.connects), 1);
    assert_eq!(get(&s.failures), 0);
    stop(r).await;
}

/// `serverShutdown`, then the venue's close 3 s later: the connection renews at once, and the
/// new socket delivers before the old one goes (frames overlap; none is missing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_announced_close_is_renewed_at_once_without_a_gap() {
    let bundled = SymbolTable::bundled_binance().unwrap();
    let (base, _sim) = simulator(500, bundled).await;
    // The fault fires once per connection, 1,000 frames (2 s) in.
    let url = format!("{base}/binance/stream?fault=shutdown&after=1000");
    let mut r = spawn(binance(&url, &["BTC-USDT", "ETH-USDT"], ""));
    let seen = instruments_until(
        &mut r,
        |_, s| get(&s.overlap_frames) > 0,
        Duration::from_millis(200),
    )
    .await;
    assert_eq!(seen.len(), 2);
    let s = &r.stats;
    assert_eq!(get(&s.announced_closes), 1, "one announcement so far");
    assert_eq!(get(&s.proactive_reconnects), 1);
    assert_eq!(
        get(&s.connects),
        2,
        "renewed at once, before the venue's close"
    );
    assert_eq!(
        get(&s.failures),
        0,
        "the venue's close of the old socket is expected"
    );
    assert!(
        get(&s.overlap_frames) > 0,
        "the old socket still delivered after the new one's first frame: no gap"
    );
    assert_eq!(get(&s.up), 1);
    stop(r).await;
}

/// A 24 h renewal compressed to 1 s: make-before-break, so frames overlap at every renewal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planned_renewals_overlap_instead_of_leaving_a_gap() {
    let bundled = SymbolTable::bundled_binance().unwrap();
    let (base, _sim) = simulator(500, bundled).await;
    let extra = "[keepalive]\nidle_timeout_secs = 5\nmax_connection_age_secs = 1\n";
    let mut r = spawn(binance(
        &format!("{base}/binance/stream"),
        &["BTC-USDT"],
        extra,
    ));
    let seen = instruments_until(
        &mut r,
        |_, s| get(&s.proactive_reconnects) >= 2 && get(&s.overlap_frames) > 0,
        Duration::ZERO,
    )
    .await;
    assert_eq!(seen.len(), 1);
    let s = &r.stats;
    assert_eq!(get(&s.failures), 0);
    stop(r).await;
}

/// Every fixture frame, read as the connection reads it: session messages are told apart
/// from data by each venue's own reader, and the adapter agrees on what they are.
#[test]
fn session_messages_in_the_fixtures() {
    use tickflow::exchange::session::Said;
    let says = |exchange: Exchange, api: Option<&str>, file: &str| {
        let profile = tickflow::exchange::profile_for(exchange, api).unwrap();
        (profile.says)(&common::fixture(file))
    };
    let expected: [(Exchange, Option<&str>, &str, Option<Said>); 8] = [
        (
            Exchange::Binance,
            None,
            "binance/subscribe_ack.json",
            Some(Said::Accepted { id: Some(1) }),
        ),
        (
            Exchange::Binance,
            None,
            "binance/server_shutdown.json",
            Some(Said::Closing),
        ),
        (
            Exchange::Binance,
            None,
            "binance/error_invalid_request.json",
            Some(Said::Refused {
                id: Some(3),
                text: String::new(),
            }),
        ),
        (
            Exchange::Upbit,
            None,
            "upbit/status_up.json",
            Some(Said::Alive),
        ),
        (
            Exchange::Upbit,
            None,
            "upbit/error_wrong_format.json",
            Some(Said::Refused {
                id: None,
                text: String::new(),
            }),
        ),
        (
            Exchange::Bithumb,
            Some("legacy"),
            "bithumb/legacy_connected.json",
            None,
        ),
        (
            Exchange::Bithumb,
            Some("legacy"),
            "bithumb/legacy_filter_registered.json",
            Some(Said::Accepted { id: None }),
        ),
        (
            Exchange::Bithumb,
            Some("legacy"),
            "bithumb/legacy_invalid_filter.json",
            Some(Said::Refused {
                id: None,
                text: String::new(),
            }),
        ),
    ];
    for (exchange, api, file, want) in expected {
        let got = says(exchange, api, file).map(|s| match s {
            // The words are the venue's: checked for being there, not for their text.
            Said::Refused { id, text } => {
                assert!(!text.is_empty(), "{file}");
                Said::Refused {
                    id,
                    text: String::new(),
                }
            }
            other => other,
        });
        assert_eq!(got, want, "{file}");
    }
    // Data frames say nothing about the session (to their venue's readers).
    for exchange in Exchange::ALL {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(exchange.as_str().to_ascii_lowercase());
        for entry in std::fs::read_dir(&root).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let data = [
                "ticker",
                "trade",
                "orderbook",
                "book_ticker",
                "transaction",
                "kline",
            ]
            .iter()
            .any(|k| name.contains(k));
            if !data || name.ends_with(".capture") {
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            for profile in tickflow::exchange::PROFILES
                .iter()
                .filter(|p| p.exchange == exchange)
            {
                assert_eq!(
                    (profile.says)(&bytes),
                    None,
                    "{exchange} {name} ({})",
                    profile.api
                );
            }
        }
    }
}

/// A feed that goes silent (the venue keeps pinging): the connection reports `Stale` when the
/// idle window passes, `Down` as it renews, and `Recovered` at the first data after, stating
/// the gap (from the last data before to the first after) and the instruments concerned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_feed_reports_stale_down_and_recovered_with_the_gap() {
    use tickflow::model::status::FeedState;
    let (base, _sim) = simulator(500, SymbolTable::bundled_binance().unwrap()).await;
    let url = format!("{base}/binance/stream?fault=silent&after=100");
    let config = binance(&url, &["BTC-USDT"], "[keepalive]\nidle_timeout_secs = 1\n");
    let (tx, frames) = mpsc::channel(8192);
    let stats = Arc::new(ConnectionStats::default());
    let (stop, stopped) = watch::channel(false);
    let instruments = config.instruments.clone();
    let (mut link, _wanted) = Link::new(
        Arc::new(config),
        instruments,
        References::bundled()
            .unwrap()
            .get(Exchange::Binance)
            .clone(),
        tx,
        Arc::clone(&stats),
        tickflow::ws::tls::client_config().unwrap(),
    );
    let (status_tx, mut status) = mpsc::channel(64);
    link.health = tickflow::ws::connection::Health::new(Some(status_tx), 0);
    let task = tokio::spawn(run(link, stopped, 3));
    let mut seen = Vec::new();
    while seen
        .last()
        .map(|s: &tickflow::model::status::FeedStatus| s.state)
        != Some(FeedState::Recovered)
    {
        let s = tokio::time::timeout(Duration::from_secs(10), status.recv())
            .await
            .expect("the statuses within 10 s")
            .unwrap();
        seen.push(s);
    }
    let states: Vec<FeedState> = seen.iter().map(|s| s.state).collect();
    use FeedState::*;
    assert_eq!(
        states,
        [Up, Subscribed, Stale, Down, Up, Subscribed, Recovered]
    );
    let btc = vec![tickflow::model::Instrument::parse("BTC-USDT").unwrap()];
    assert!(
        seen.iter()
            .all(|s| s.instruments == btc && s.connector == "test")
    );
    assert!(
        seen.iter()
            .all(|s| s.exchange == Exchange::Binance && s.connection == 0)
    );
    let (stale, down, recovered) = (&seen[2], &seen[3], &seen[6]);
    assert_eq!(
        stale.reason.as_deref(),
        Some("no data for the idle window (1 s)")
    );
    assert_eq!(
        down.reason.as_deref(),
        Some("no data for the idle window (1 s); reconnecting")
    );
    let last_data = stale.gap_start_us.unwrap();
    assert_eq!(down.gap_start_us, Some(last_data));
    assert_eq!(recovered.gap_start_us, Some(last_data));
    let first_after = recovered.gap_end_us.unwrap();
    assert!(
        first_after - last_data >= 1_000_000,
        "the gap spans at least the idle window: {last_data}..{first_after}"
    );
    assert!(
        stale.ts_us - last_data >= 1_000_000,
        "stale after the idle window"
    );
    assert_eq!(get(&stats.status_lost), 0);
    drop(frames);
    stop.send(true).unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
}
