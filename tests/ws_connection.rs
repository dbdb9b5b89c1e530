//! The connection loop against the simulator: frames flow with receive times; dropped and
//! stalled feeds are reconnected and resubscribed; connections are renewed before their age
//! limit; a slow consumer gets backpressure, not loss; shutdown is prompt.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tickflow::config::{ConnectorConfig, load_connector};
use tickflow::exchange::reference::{Reference, References};
use tickflow::exchange::{Decoded, Frame};
use tickflow::model::Exchange;
use tickflow::ws::{ConnectionStats, Link, Received, Wanted, run};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

fn binance(url: &str, extra: &str) -> ConnectorConfig {
    let text = format!(
        "exchange = \"binance\"\nurl = \"{url}\"\nchannel = \"ticker\"\ninstruments = [\"BTC-USDT\", \"ETH-USDT\"]\n\
         [backoff]\ninitial_ms = 50\nmax_ms = 200\njitter = 0.1\n{extra}"
    );
    load_connector("test.toml", &text, &References::bundled().unwrap()).unwrap()
}

struct Running {
    /// Changes the connection's instruments (dropping it retires the connection).
    wanted: watch::Sender<Arc<Wanted>>,
    frames: mpsc::Receiver<Received>,
    stats: Arc<ConnectionStats>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

fn spawn(config: ConnectorConfig, capacity: usize) -> Running {
    spawn_with(
        config,
        capacity,
        tickflow::ws::tls::client_config().unwrap(),
    )
}

fn spawn_with(config: ConnectorConfig, capacity: usize, tls: Arc<rustls::ClientConfig>) -> Running {
    let symbols = References::bundled()
        .unwrap()
        .get(Exchange::Binance)
        .clone();
    let (tx, frames) = mpsc::channel(capacity);
    let stats = Arc::new(ConnectionStats::default());
    let (stop, stopped) = watch::channel(false);
    let instruments = config.instruments.clone();
    let (link, wanted) = Link::new(
        Arc::new(config),
        instruments,
        symbols,
        tx,
        Arc::clone(&stats),
        tls,
    );
    let task = tokio::spawn(run(link, stopped, 9));
    Running {
        wanted,
        frames,
        stats,
        stop,
        task,
    }
}

/// Receives `n` frames (within `within`) and checks each decodes to a tick.
async fn ticks(r: &mut Running, n: usize, within: Duration) {
    let adapter = common::adapter(Exchange::Binance);
    let deadline = tokio::time::Instant::now() + within;
    let mut got = 0;
    while got < n {
        let f = tokio::time::timeout_at(deadline, r.frames.recv())
            .await
            .unwrap_or_else(|_| panic!("only {got} of {n} frames in {within:?}"))
            .expect("channel closed");
        assert_eq!(&*f.connector, "test");
        match adapter.decode(Frame::text(&f.bytes), f.received_ts_us) {
            Ok(Decoded::Tick(_)) => got += 1,
            Ok(Decoded::Control(_)) => {}
            other => panic!("{other:?}"),
        }
    }
}

async fn stop(r: Running) {
    r.stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(3), r.task)
        .await
        .expect("no prompt shutdown")
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_flow_then_shutdown_is_prompt() {
    let (base, _sim) = common::start_simulator(1000, Duration::from_secs(20), None).await;
    let mut r = spawn(binance(&format!("{base}/binance/stream"), ""), 1024);
    ticks(&mut r, 100, Duration::from_secs(5)).await;
    assert_eq!(r.stats.connects.load(Ordering::Relaxed), 1);
    assert_eq!(r.stats.failures.load(Ordering::Relaxed), 0);
    stop(r).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connections_are_reconnected_and_resubscribed() {
    let (base, _sim) = common::start_simulator(1000, Duration::from_secs(20), None).await;
    let mut r = spawn(
        binance(&format!("{base}/binance/stream?fault=drop&after=20"), ""),
        1024,
    );
    // 100 frames need at least 5 connections, each resubscribed.
    ticks(&mut r, 100, Duration::from_secs(10)).await;
    assert!(r.stats.connects.load(Ordering::Relaxed) >= 5);
    assert!(r.stats.failures.load(Ordering::Relaxed) >= 4);
    stop(r).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_feed_trips_the_idle_watchdog() {
    let (base, _sim) = common::start_simulator(1000, Duration::from_secs(20), None).await;
    let extra = "[keepalive]\nidle_timeout_secs = 1\n";
    let mut r = spawn(
        binance(
            &format!("{base}/binance/stream?fault=stall&after=10"),
            extra,
        ),
        1024,
    );
    // 25 frames need three connections: two stalls, each detected after 1 s of silence.
    ticks(&mut r, 25, Duration::from_secs(8)).await;
    assert!(r.stats.idle_timeouts.load(Ordering::Relaxed) >= 2);
    assert!(r.stats.connects.load(Ordering::Relaxed) >= 3);
    stop(r).await;
}

/// Binance pings every 200 ms and answers nothing else: the pings keep the socket alive but
/// carry no data, so the watchdog still renews the connection after 1 s of silence (before,
/// every ping re-armed it and the connection was never renewed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_that_only_pings_is_renewed_within_its_idle_window() {
    let (base, _sim) = common::start_simulator(1000, Duration::from_millis(200), None).await;
    let extra = "[keepalive]\nidle_timeout_secs = 1\n";
    let mut r = spawn(
        binance(
            &format!("{base}/binance/stream?fault=silent&after=10"),
            extra,
        ),
        1024,
    );
    // 25 frames need three connections: two silent spells, each renewed after 1 s.
    ticks(&mut r, 25, Duration::from_secs(8)).await;
    assert!(r.stats.idle_timeouts.load(Ordering::Relaxed) >= 2);
    assert!(r.stats.connects.load(Ordering::Relaxed) >= 3);
    assert_eq!(
        r.stats.failures.load(Ordering::Relaxed),
        0,
        "nothing failed"
    );
    stop(r).await;
}

/// Upbit silent but answering the client's pings (every second, idle window 2 s): the pongs do
/// not count as data; renewed within the window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_that_only_answers_our_pings_is_renewed_within_its_idle_window() {
    let (base, _sim) = common::start_simulator(1000, Duration::from_secs(20), None).await;
    let text = format!(
        "exchange = \"upbit\"\nurl = \"{base}/upbit/websocket/v1?fault=silent&after=5\"\n\
         channels = [\"ticker\"]\ninstruments = [\"BTC-KRW\"]\n\
         [keepalive]\nping_interval_secs = 1\nidle_timeout_secs = 2\n\
         [backoff]\ninitial_ms = 50\nmax_ms = 200\njitter = 0.1\n"
    );
    let config = load_connector("upbit.toml", &text, &References::bundled().unwrap()).unwrap();
    let r = spawn(config, 1024);
    let started = tokio::time::Instant::now();
    while r.stats.idle_timeouts.load(Ordering::Relaxed) < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(12),
            "not renewed: {} idle timeouts, {} connects",
            r.stats.idle_timeouts.load(Ordering::Relaxed),
            r.stats.connects.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(r.stats.connects.load(Ordering::Relaxed) >= 2);
    assert!(
        r.stats.frames.load(Ordering::Relaxed) >= 10,
        "5 data frames per session"
    );
    assert_eq!(
        r.stats.failures.load(Ordering::Relaxed),
        0,
        "nothing failed"
    );
    stop(r).await;
}

/// A venue whose keepalive is a text message (`Ping::Text`): the connection sends it at the
/// ping period instead of WebSocket pings, the venue's answers reach the pipeline as frames,
/// and they do not count as data (the feed is still renewed when the data stops).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_keepalive_is_sent_as_the_venue_message_and_its_answers_are_not_data() {
    let (base, _sim) = common::start_simulator(1000, Duration::from_secs(20), None).await;
    let text = format!(
        "exchange = \"upbit\"\nurl = \"{base}/upbit/websocket/v1?fault=silent&after=5\"\n\
         channels = [\"ticker\"]\ninstruments = [\"BTC-KRW\"]\n\
         [keepalive]\nping_interval_secs = 1\nidle_timeout_secs = 3\n\
         [backoff]\ninitial_ms = 50\nmax_ms = 200\njitter = 0.1\n"
    );
    let mut config = load_connector("upbit.toml", &text, &References::default()).unwrap();
    // Upbit also takes a text `PING` (answered `{"status":"UP"}`); a WebSocket ping is
    // answered with a pong frame, which never reaches the pipeline.
    config.keepalive.ping_message = Some("PING");
    let mut r = spawn(config, 1024);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut answers = 0;
    while answers < 2 {
        let f = tokio::time::timeout_at(deadline, r.frames.recv())
            .await
            .unwrap_or_else(|_| panic!("{answers} keepalive answers in 10 s"))
            .expect("channel closed");
        answers += usize::from(&f.bytes[..] == br#"{"status":"UP"}"#);
    }
    while r.stats.idle_timeouts.load(Ordering::Relaxed) < 1 {
        assert!(
            tokio::time::Instant::now() < deadline + Duration::from_secs(5),
            "the answers were taken for data: never renewed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop(r).await;
}

/// A venue that cuts every connection after 20 frames (data flowing all along): each session
/// delivered data, so the waits stay below `initial` instead of doubling up to `max`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_that_delivered_data_reconnect_without_a_growing_backoff() {
    let (base, _sim) = common::start_simulator(100, Duration::from_secs(20), None).await;
    // Backoff from 400 ms up to 3.2 s: six cuts would have pushed the waits to the maximum.
    let text = format!(
        "exchange = \"binance\"\nurl = \"{base}/binance/stream?fault=drop&after=150\"\n\
         channel = \"ticker\"\ninstruments = [\"BTC-USDT\"]\n\
         [backoff]\ninitial_ms = 400\nmax_ms = 3200\njitter = 0.0\nreset_after_secs = 60\n"
    );
    let config = load_connector("test.toml", &text, &References::bundled().unwrap()).unwrap();
    let mut r = spawn(config, 4096);
    // 150 frames at 100/s: 1.5 s per session, above the 1 s a healthy session needs.
    let started = tokio::time::Instant::now();
    ticks(&mut r, 150 * 6, Duration::from_secs(30)).await;
    let took = started.elapsed();
    assert!(r.stats.connects.load(Ordering::Relaxed) >= 6);
    // Six sessions of 1.5 s and five waits below 400 ms: under 12 s. Waits doubling from
    // 400 ms (0.4 + 0.8 + 1.6 + 3.2 + 3.2) would add 9.2 s to the 9 s of data.
    assert!(took < Duration::from_secs(15), "{took:?}");
    stop(r).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_renewed_before_their_age_limit() {
    let (base, _sim) = common::start_simulator(200, Duration::from_secs(20), None).await;
    let extra = "[keepalive]\nidle_timeout_secs = 5\nmax_connection_age_secs = 1\n";
    let mut r = spawn(binance(&format!("{base}/binance/stream"), extra), 1024);
    ticks(&mut r, 50, Duration::from_secs(5)).await;
    tokio::time::sleep(Duration::from_millis(2300)).await;
    ticks(&mut r, 10, Duration::from_secs(5)).await;
    assert!(r.stats.proactive_reconnects.load(Ordering::Relaxed) >= 2);
    assert_eq!(
        r.stats.failures.load(Ordering::Relaxed),
        0,
        "renewal is not a failure"
    );
    stop(r).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_consumer_gets_backpressure_not_loss() {
    let (base, _sim) = common::start_simulator(2000, Duration::from_secs(20), None).await;
    let mut r = spawn(binance(&format!("{base}/binance/stream"), ""), 4);
    let mut received = 0u64;
    let deadline = tokio::time::Instant::now() + Duration::from_millis(1500);
    while tokio::time::Instant::now() < deadline {
        if tokio::time::timeout(Duration::from_millis(100), r.frames.recv())
            .await
            .is_ok()
        {
            received += 1;
            tokio::time::sleep(Duration::from_millis(2)).await; // slower than the feed
        }
    }
    let stats = Arc::clone(&r.stats);
    stop(r).await;
    let read = stats.frames.load(Ordering::Relaxed);
    // Everything read from the socket was delivered, except at most what sat in the channel
    // (4) or in hand (1) at shutdown.
    assert!(read - received <= 5, "read {read}, delivered {received}");
    assert!(stats.backpressure_wait_us.load(Ordering::Relaxed) > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_endpoint_is_retried_and_shutdown_still_works() {
    // A port with nothing listening: bind, note it, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let r = spawn(
        binance(&format!("ws://127.0.0.1:{port}/binance/stream"), ""),
        16,
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(r.stats.connects.load(Ordering::Relaxed), 0);
    assert!(
        r.stats.failures.load(Ordering::Relaxed) >= 3,
        "retried with a 50-200 ms backoff"
    );
    stop(r).await;
}

/// A `wss://` server on loopback with a self-signed certificate for `localhost`, speaking
/// just enough Binance: it waits for the SUBSCRIBE and then sends fresh ticker frames.
async fn tls_server() -> (u16, rustls::RootCertStore) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let der = cert.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::try_from(cert.key_pair.serialize_der()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![der.clone()], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                use futures_util::{SinkExt, StreamExt};
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut ws) = tokio_tungstenite::accept_async(tls).await else {
                    return;
                };
                let _subscribe = ws.next().await;
                let frame =
                    String::from_utf8(common::fixture("binance/ticker_combined.json")).unwrap();
                for _ in 0..1000 {
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap()
                        .as_millis();
                    let fresh = frame.replace("1763615720002", &now.to_string());
                    if ws
                        .send(tokio_tungstenite::tungstenite::Message::text(fresh))
                        .await
                        .is_err()
                    {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            });
        }
    });
    let mut roots = rustls::RootCertStore::empty();
    roots.add(der).unwrap();
    (port, roots)
}

fn eth_btc(url: &str) -> ConnectorConfig {
    let text = format!(
        "exchange = \"binance\"\nurl = \"{url}\"\nchannel = \"ticker\"\ninstruments = [\"ETH-BTC\"]\n\
         [backoff]\ninitial_ms = 50\nmax_ms = 200\n"
    );
    load_connector("test.toml", &text, &References::bundled().unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wss_connects_with_verified_tls() {
    let (port, roots) = tls_server().await;
    let tls = tickflow::ws::tls::with_roots(roots).unwrap();
    let mut r = spawn_with(
        eth_btc(&format!("wss://localhost:{port}/binance/stream")),
        64,
        tls,
    );
    ticks(&mut r, 20, Duration::from_secs(5)).await;
    assert_eq!(r.stats.connects.load(Ordering::Relaxed), 1);
    stop(r).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_is_refused() {
    let (port, _roots) = tls_server().await;
    // The production configuration (public roots) must not accept a self-signed certificate.
    let r = spawn(
        eth_btc(&format!("wss://localhost:{port}/binance/stream")),
        64,
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(r.stats.connects.load(Ordering::Relaxed), 0);
    assert!(r.stats.failures.load(Ordering::Relaxed) >= 2);
    stop(r).await;
}

fn upbit(url: &str, instruments: &str) -> ConnectorConfig {
    let text = format!(
        "exchange = \"upbit\"\nurl = \"{url}\"\nchannel = \"ticker\"\ninstruments = [{instruments}]\n"
    );
    load_connector("test.toml", &text, &References::default()).unwrap()
}

/// The instruments of the ticks among the next `n` frames.
async fn instruments_of(r: &mut Running, exchange: Exchange, n: usize) -> Vec<String> {
    let adapter = common::adapter(exchange);
    let mut seen = Vec::new();
    for _ in 0..n {
        let f = tokio::time::timeout(Duration::from_secs(5), r.frames.recv())
            .await
            .expect("no frame within 5 s")
            .expect("channel closed");
        let frame = match f.frame_type {
            tickflow::exchange::FrameType::Text => Frame::text(&f.bytes),
            tickflow::exchange::FrameType::Binary => Frame::binary(&f.bytes),
        };
        if let Ok(d) = adapter.decode(frame, f.received_ts_us) {
            seen.extend(d.ticks().iter().map(|t| t.instrument.to_string()));
        }
    }
    seen
}

/// A new set of instruments is applied on the running connection (Upbit: a new request
/// replaces the set): the removed one stops, the added ones flow, no reconnect; an empty
/// sender retires the connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_set_changes_in_place_and_a_dropped_sender_retires_the_connection() {
    let (base, _sim) = common::start_simulator(1000, Duration::from_secs(20), None).await;
    let config = upbit(&format!("{base}/upbit/websocket/v1"), "\"BTC-KRW\"");
    let mut r = spawn(config, 4096);
    let first = instruments_of(&mut r, Exchange::Upbit, 50).await;
    assert!(first.iter().all(|i| i == "BTC-KRW"), "{first:?}");
    let reference = Reference::none();
    r.wanted.send_replace(Arc::new(Wanted {
        instruments: ["ETH-KRW", "XRP-KRW"]
            .iter()
            .map(|s| tickflow::model::Instrument::parse(s).unwrap())
            .collect(),
        reference,
    }));
    // Frames already queued may still be BTC's; after them only the new set.
    let mut later = Vec::new();
    for _ in 0..20 {
        later = instruments_of(&mut r, Exchange::Upbit, 200).await;
        if !later.iter().any(|i| i == "BTC-KRW") {
            break;
        }
    }
    assert!(later.iter().any(|i| i == "ETH-KRW"), "{later:?}");
    assert!(later.iter().any(|i| i == "XRP-KRW"), "{later:?}");
    assert!(!later.iter().any(|i| i == "BTC-KRW"), "{later:?}");
    assert_eq!(r.stats.connects.load(Ordering::Relaxed), 1, "no reconnect");
    assert_eq!(r.stats.change_requests.load(Ordering::Relaxed), 1);
    assert_eq!(r.stats.instruments.load(Ordering::Relaxed), 2);
    // Dropping the sender retires it: the task ends without a stop signal.
    let Running {
        wanted,
        task,
        stats,
        ..
    } = r;
    drop(wanted);
    tokio::time::timeout(Duration::from_secs(3), task)
        .await
        .expect("the connection was not retired")
        .unwrap();
    assert_eq!(stats.retired.load(Ordering::Relaxed), 1);
    assert_eq!(stats.failures.load(Ordering::Relaxed), 0);
}

/// Coinone acknowledges a pair it does not list, then refuses it with an error that names
/// nothing: counted as a refusal that answers no request, pinned on no instrument (none is
/// shown refused, nothing is retried), and the listed pairs flow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_that_names_nothing_is_counted_and_pinned_on_nothing() {
    let (base, _sim) = common::start_simulator(1000, Duration::from_secs(20), None).await;
    let text = format!(
        "exchange = \"coinone\"\nurl = \"{base}/coinone\"\nchannels = [\"TRADE\"]\n\
         instruments = [\"BTC-KRW\", \"NOPE-KRW\", \"ETH-KRW\"]\n\
         [backoff]\ninitial_ms = 50\nmax_ms = 200\njitter = 0.1\n"
    );
    let config = load_connector("coinone.toml", &text, &References::default()).unwrap();
    let mut r = spawn(config, 4096);
    let seen = instruments_of(&mut r, Exchange::Coinone, 300).await;
    assert!(seen.iter().any(|i| i == "BTC-KRW"), "{seen:?}");
    assert!(seen.iter().any(|i| i == "ETH-KRW"), "{seen:?}");
    assert!(!seen.iter().any(|i| i == "NOPE-KRW"), "{seen:?}");
    let started = tokio::time::Instant::now();
    while r.stats.refusals_unattributed.load(Ordering::Relaxed) < 1 {
        assert!(started.elapsed() < Duration::from_secs(5), "never counted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(r.stats.refusals_unattributed.load(Ordering::Relaxed), 1);
    assert_eq!(
        r.stats.refusals.load(Ordering::Relaxed),
        0,
        "pinned on no request"
    );
    assert!(
        r.stats.refused.list().is_empty(),
        "no instrument shown refused"
    );
    assert_eq!(r.stats.connects.load(Ordering::Relaxed), 1);
    stop(r).await;
}

/// A venue's cap on open connections per IP (Coinone's 20), shared by its connections: at a
/// cap of 1 the second connection waits (counted) while the first is open, and connects once
/// the first is retired; the first never lost its slot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_wait_for_a_slot_under_the_venues_cap() {
    let (base, _sim) = common::start_simulator(1000, Duration::from_secs(20), None).await;
    let gate = Arc::new(tickflow::ws::pace::SharedGate::capped(
        tickflow::exchange::profile::Rate {
            max: 100,
            per_secs: 1,
        },
        Some(1),
    ));
    let spawn_shared = |instrument: &str| {
        let config = upbit(
            &format!("{base}/upbit/websocket/v1"),
            &format!("\"{instrument}\""),
        );
        let (tx, frames) = mpsc::channel(4096);
        let stats = Arc::new(ConnectionStats::default());
        let (stop, stopped) = watch::channel(false);
        let instruments = config.instruments.clone();
        let (mut link, wanted) = Link::new(
            Arc::new(config),
            instruments,
            Reference::none(),
            tx,
            Arc::clone(&stats),
            tickflow::ws::tls::client_config().unwrap(),
        );
        link.connects = Arc::clone(&gate);
        let task = tokio::spawn(run(link, stopped, 9));
        Running {
            wanted,
            frames,
            stats,
            stop,
            task,
        }
    };
    let mut first = spawn_shared("BTC-KRW");
    let got = instruments_of(&mut first, Exchange::Upbit, 20).await;
    assert!(got.iter().all(|i| i == "BTC-KRW"), "{got:?}");
    let mut second = spawn_shared("ETH-KRW");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(second.stats.connection_cap_waits.load(Ordering::Relaxed), 1);
    assert_eq!(
        second.stats.connects.load(Ordering::Relaxed),
        0,
        "waits at the cap"
    );
    assert!(second.frames.try_recv().is_err());
    // The first retires (its sender dropped): its slot goes to the second.
    let Running {
        wanted,
        stop: first_stop,
        task,
        ..
    } = first;
    drop(wanted);
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("retired")
        .unwrap();
    drop(first_stop);
    let got = instruments_of(&mut second, Exchange::Upbit, 20).await;
    assert!(got.iter().all(|i| i == "ETH-KRW"), "{got:?}");
    assert_eq!(second.stats.connects.load(Ordering::Relaxed), 1);
    stop(second).await;
}

/// At the venue's cap a renewal cannot open its new socket beside the old one: it closes the
/// old one first (break before make) and goes on at once, rather than waiting out the
/// handover for a slot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewal_at_the_cap_breaks_before_it_makes() {
    let (base, _sim) = common::start_simulator(1000, Duration::from_secs(20), None).await;
    // Binance announces a close every 200 frames: each one is answered by a renewal.
    let config = binance(
        &format!("{base}/binance/stream?fault=shutdown&after=200"),
        "",
    );
    let (tx, mut frames) = mpsc::channel(8192);
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
    link.connects = Arc::new(tickflow::ws::pace::SharedGate::capped(
        tickflow::exchange::profile::Rate {
            max: 100,
            per_secs: 1,
        },
        Some(1),
    ));
    let task = tokio::spawn(run(link, stopped, 9));
    let started = tokio::time::Instant::now();
    while stats.connects.load(Ordering::Relaxed) < 3 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "renewals waited for a slot: {} connects",
            stats.connects.load(Ordering::Relaxed)
        );
        while frames.try_recv().is_ok() {}
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(stats.announced_closes.load(Ordering::Relaxed) >= 2);
    assert_eq!(
        stats.overlap_frames.load(Ordering::Relaxed),
        0,
        "never two sockets"
    );
    assert_eq!(stats.connection_cap_waits.load(Ordering::Relaxed), 0);
    drop(wanted);
    let _ = stop.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
}
