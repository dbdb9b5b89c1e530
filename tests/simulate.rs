//! The simulator speaks each protocol well enough for the real adapters: subscribe, get the
//! exchange's acks and control frames, and receive tickers that decode into valid ticks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use futures_util::{SinkExt, StreamExt};
use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tickflow::exchange::{Control, Decoded, Frame};
use tickflow::model::{EventKind, Exchange};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

async fn start(rate: u32, binance_ping: Duration) -> (String, watch::Sender<bool>) {
    common::start_simulator(rate, binance_ping, None).await
}

async fn connect(url: &str) -> Ws {
    let (ws, _) = tokio::time::timeout(
        Duration::from_secs(5),
        tokio_tungstenite::connect_async(url),
    )
    .await
    .expect("connect timed out")
    .expect("connect");
    ws
}

/// The next data or control message, with a timeout.
async fn next(ws: &mut Ws) -> Message {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("no frame within 5 s")
            .expect("stream ended")
            .expect("websocket error");
        match msg {
            Message::Text(_) | Message::Binary(_) | Message::Ping(_) => return msg,
            _ => {}
        }
    }
}

fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64
}

fn decode(exchange: Exchange, msg: &Message) -> Decoded {
    let adapter = common::adapter(exchange);
    let got = match msg {
        Message::Text(t) => adapter.decode(Frame::text(t.as_bytes()), now_us()),
        Message::Binary(b) => adapter.decode(Frame::binary(b), now_us()),
        other => panic!("not a data frame: {other:?}"),
    };
    got.unwrap_or_else(|r| panic!("{exchange} frame rejected: {r}: {msg:?}"))
}

/// Reads `n` data frames and returns the instruments seen; every one must be a valid tick.
async fn ticks(ws: &mut Ws, exchange: Exchange, n: usize, kind: EventKind) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut got = 0;
    while got < n {
        let msg = next(ws).await;
        if matches!(msg, Message::Ping(_)) {
            continue;
        }
        match decode(exchange, &msg) {
            Decoded::Tick(t) => {
                assert_eq!((t.exchange, t.kind), (exchange, kind));
                seen.insert(t.instrument.to_string());
                got += 1;
            }
            other => panic!("expected a tick, got {other:?}"),
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upbit_binary_tickers_simple_format_and_ping() {
    let (base, _stop) = start(500, Duration::from_secs(20)).await;
    let mut ws = connect(&format!("{base}/upbit/websocket/v1")).await;
    let req =
        r#"[{"ticket":"t1"},{"type":"ticker","codes":["KRW-BTC","KRW-ETH"]},{"format":"SIMPLE"}]"#;
    ws.send(Message::binary(req.as_bytes().to_vec()))
        .await
        .unwrap();
    let first = next(&mut ws).await;
    assert!(
        matches!(first, Message::Binary(_)),
        "upbit sends binary frames: {first:?}"
    );
    let seen = ticks(&mut ws, Exchange::Upbit, 20, EventKind::Ticker).await;
    assert_eq!(
        seen,
        BTreeSet::from(["BTC-KRW".to_owned(), "ETH-KRW".to_owned()])
    );
    // Keepalive: the text PING is answered with a status (data may be interleaved).
    ws.send(Message::text("PING")).await.unwrap();
    let mut answered = false;
    for _ in 0..2000 {
        if let Decoded::Control(Control::Status { status }) =
            decode(Exchange::Upbit, &next(&mut ws).await)
        {
            assert_eq!(status, "UP");
            answered = true;
            break;
        }
    }
    assert!(answered, "no {{\"status\":\"UP\"}} after PING");
    // A malformed request gets Upbit's error object, typed by the adapter.
    ws.send(Message::text("[{\"type\":\"ticker\"}]"))
        .await
        .unwrap();
    let mut errored = false;
    for _ in 0..2000 {
        let msg = next(&mut ws).await;
        let adapter = common::adapter(Exchange::Upbit);
        let bytes = match &msg {
            Message::Text(t) => t.as_bytes().to_vec(),
            Message::Binary(b) => b.to_vec(),
            _ => continue,
        };
        if let Err(r) = adapter.decode(Frame::text(&bytes), now_us()) {
            assert_eq!(r.reason, tickflow::model::Reason::ExchangeError, "{r}");
            errored = true;
            break;
        }
    }
    assert!(errored);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bithumb_v1_trades_with_string_ids() {
    let (base, _stop) = start(500, Duration::from_secs(20)).await;
    let mut ws = connect(&format!("{base}/bithumb/websocket/v1")).await;
    ws.send(Message::text(
        r#"[{"ticket":"t"},{"type":"trade","codes":["KRW-XRP"]}]"#,
    ))
    .await
    .unwrap();
    let msg = next(&mut ws).await;
    let Message::Text(text) = &msg else {
        panic!("{msg:?}")
    };
    assert!(
        text.contains("\"sequential_id\":\""),
        "bithumb v1 ids are strings: {text}"
    );
    let seen = ticks(&mut ws, Exchange::Bithumb, 10, EventKind::Trade).await;
    assert_eq!(seen, BTreeSet::from(["XRP-KRW".to_owned()]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bithumb_legacy_handshake_and_kst_tickers() {
    let (base, _stop) = start(500, Duration::from_secs(20)).await;
    let mut ws = connect(&format!("{base}/bithumb/pub/ws")).await;
    assert_eq!(
        decode(Exchange::Bithumb, &next(&mut ws).await),
        Decoded::Control(Control::Connected)
    );
    ws.send(Message::text(
        "{\"type\":\"ticker\",\"symbols\":[\"BTC_KRW\"],\"tickTypes\":[\"24H\"]}",
    ))
    .await
    .unwrap();
    let ack = decode(Exchange::Bithumb, &next(&mut ws).await);
    assert_eq!(ack, Decoded::Control(Control::SubscribeAck { id: None }));
    // KST wall clock converted by the adapter lands within the live time window.
    let seen = ticks(&mut ws, Exchange::Bithumb, 10, EventKind::Ticker).await;
    assert_eq!(seen, BTreeSet::from(["BTC-KRW".to_owned()]));
    let mut bad = connect(&format!("{base}/bithumb/pub/ws")).await;
    next(&mut bad).await;
    bad.send(Message::text("{\"type\":\"nope\"}"))
        .await
        .unwrap();
    let msg = next(&mut bad).await;
    let Message::Text(t) = &msg else {
        panic!("{msg:?}")
    };
    let err = common::adapter(Exchange::Bithumb).decode(Frame::text(t.as_bytes()), now_us());
    assert_eq!(
        err.unwrap_err().reason,
        tickflow::model::Reason::ExchangeError
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_combined_streams_subscribe_ack_and_server_pings() {
    let (base, _stop) = start(500, Duration::from_millis(200)).await;
    // Streams named in the URL.
    let mut ws = connect(&format!(
        "{base}/binance/stream?streams=btcusdt@ticker/ethbtc@miniTicker"
    ))
    .await;
    let seen = ticks(&mut ws, Exchange::Binance, 20, EventKind::Ticker).await;
    assert_eq!(
        seen,
        BTreeSet::from(["BTC-USDT".to_owned(), "ETH-BTC".to_owned()])
    );
    // The server pings; tungstenite answers with the same payload on read.
    let mut pinged = false;
    for _ in 0..5000 {
        if let Message::Ping(payload) = next(&mut ws).await {
            assert!(!payload.is_empty());
            pinged = true;
            break;
        }
    }
    assert!(pinged, "no server ping");
    // SUBSCRIBE on an open socket is acked with the request id.
    let mut ws = connect(&format!("{base}/binance/stream")).await;
    ws.send(Message::text(
        r#"{"method":"SUBSCRIBE","params":["solusdt@ticker"],"id":7}"#,
    ))
    .await
    .unwrap();
    let ack = decode(Exchange::Binance, &next(&mut ws).await);
    assert_eq!(ack, Decoded::Control(Control::SubscribeAck { id: Some(7) }));
    let seen = ticks(&mut ws, Exchange::Binance, 5, EventKind::Ticker).await;
    assert_eq!(seen, BTreeSet::from(["SOL-USDT".to_owned()]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_is_honoured_and_unknown_paths_are_refused() {
    let (base, _stop) = start(2000, Duration::from_secs(20)).await;
    let mut ws = connect(&format!("{base}/binance/stream?streams=btcusdt@ticker")).await;
    next(&mut ws).await;
    let started = std::time::Instant::now();
    let mut n = 0u32;
    while started.elapsed() < Duration::from_secs(1) {
        if !matches!(next(&mut ws).await, Message::Ping(_)) {
            n += 1;
        }
    }
    // 2000/s requested: never a flood (the pacing caps it), never starved; the lower bound
    // leaves room for a loaded 2-core CI machine.
    assert!(
        (400..=2600).contains(&n),
        "{n} frames in 1 s at --rate 2000"
    );
    let refused = tokio_tungstenite::connect_async(format!("{base}/kraken/ws")).await;
    assert!(refused.is_err());
}

#[test]
fn the_binary_serves_and_stops_on_sigterm() {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_tickflow"))
        .args(["simulate", "--bind", "127.0.0.1:0", "--rate", "100"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut line = String::new();
    // The reader (our end of the pipe) is dropped right after the first line, as a script
    // that read what it needed would: the simulator's remaining startup lines may then fail to
    // write, and it must keep serving anyway.
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| {
            let _ = child.kill();
            panic!("unexpected first line {line:?}")
        });
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut ws = connect(&format!(
            "ws://{addr}/binance/stream?streams=ethusdt@ticker"
        ))
        .await;
        let seen = ticks(&mut ws, Exchange::Binance, 3, EventKind::Ticker).await;
        assert_eq!(seen, BTreeSet::from(["ETH-USDT".to_owned()]));
    });
    // SIGTERM (by PID) stops it cleanly.
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(exit) = child.try_wait().unwrap() {
            assert!(exit.success(), "{exit:?}");
            break;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("simulator did not stop within 10 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Data messages until the stream ends, errors, or stays silent for `quiet`.
async fn drain(ws: &mut Ws, quiet: Duration, max: usize) -> (Vec<Message>, &'static str) {
    let mut out = Vec::new();
    while out.len() < max {
        match tokio::time::timeout(quiet, ws.next()).await {
            Err(_) => return (out, "silent"),
            Ok(None) | Ok(Some(Err(_))) | Ok(Some(Ok(Message::Close(_)))) => {
                return (out, "closed");
            }
            Ok(Some(Ok(m @ (Message::Text(_) | Message::Binary(_))))) => out.push(m),
            Ok(Some(Ok(_))) => {}
        }
    }
    (out, "max")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_drop_and_stall() {
    let (base, _stop) = start(1000, Duration::from_secs(20)).await;
    let mut ws = connect(&format!(
        "{base}/binance/stream?streams=btcusdt@ticker&fault=drop&after=5"
    ))
    .await;
    let (frames, end) = drain(&mut ws, Duration::from_secs(3), 100).await;
    assert_eq!((frames.len(), end), (5, "closed"));

    let mut ws = connect(&format!(
        "{base}/binance/stream?streams=btcusdt@ticker&fault=stall&after=5"
    ))
    .await;
    let (frames, end) = drain(&mut ws, Duration::from_millis(700), 100).await;
    assert_eq!(
        (frames.len(), end),
        (5, "silent"),
        "a stalled feed keeps the socket but sends nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_malformed_and_error_frames_are_typed_by_the_adapters() {
    let (base, _stop) = start(1000, Duration::from_secs(20)).await;
    // Every 4th Upbit frame truncated: exactly those are malformed_json, the rest are ticks.
    let mut ws = connect(&format!(
        "{base}/upbit/websocket/v1?fault=malformed&after=4"
    ))
    .await;
    ws.send(Message::text(
        r#"[{"ticket":"t"},{"type":"ticker","codes":["KRW-BTC"]}]"#,
    ))
    .await
    .unwrap();
    let (frames, _) = drain(&mut ws, Duration::from_secs(3), 12).await;
    let adapter = common::adapter(Exchange::Upbit);
    let reasons: Vec<Option<tickflow::model::Reason>> = frames
        .iter()
        .map(|m| {
            let Message::Binary(b) = m else {
                panic!("{m:?}")
            };
            adapter
                .decode(Frame::binary(b), now_us())
                .err()
                .map(|r| r.reason)
        })
        .collect();
    let malformed = Some(tickflow::model::Reason::MalformedJson);
    for (i, r) in reasons.iter().enumerate() {
        let want = if (i + 1) % 4 == 0 { malformed } else { None };
        assert_eq!(*r, want, "frame {}", i + 1);
    }
    // A stray error before every 3rd Bithumb legacy frame: exchange_error, data unaffected.
    let mut ws = connect(&format!("{base}/bithumb/pub/ws?fault=error&after=3")).await;
    next(&mut ws).await; // connected notice
    ws.send(Message::text(
        "{\"type\":\"ticker\",\"symbols\":[\"ETH_KRW\"]}",
    ))
    .await
    .unwrap();
    let (frames, _) = drain(&mut ws, Duration::from_secs(3), 9).await;
    let adapter = common::adapter(Exchange::Bithumb);
    let kinds: Vec<&str> = frames
        .iter()
        .map(|m| {
            let Message::Text(t) = m else { panic!("{m:?}") };
            match adapter.decode(Frame::text(t.as_bytes()), now_us()) {
                Ok(Decoded::Tick(_)) => "tick",
                Ok(Decoded::Control(_)) => "control",
                Err(r) if r.reason == tickflow::model::Reason::ExchangeError => "error",
                other => panic!("{other:?}"),
            }
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "control", "tick", "tick", "error", "tick", "tick", "tick", "error", "tick"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_default_fault_applies_to_every_connection() {
    let fault = tickflow::sim::fault::Fault::from_query("fault=drop&after=3");
    let (base, _stop) = common::start_simulator(1000, Duration::from_secs(20), fault).await;
    let mut ws = connect(&format!("{base}/bithumb/websocket/v1")).await;
    ws.send(Message::text(
        r#"[{"ticket":"t"},{"type":"ticker","codes":["KRW-BTC"]}]"#,
    ))
    .await
    .unwrap();
    let (frames, end) = drain(&mut ws, Duration::from_secs(3), 100).await;
    assert_eq!((frames.len(), end), (3, "closed"));
    // A fault in the URL wins over the default.
    let mut ws = connect(&format!(
        "{base}/binance/stream?streams=btcusdt@ticker&fault=stall&after=4"
    ))
    .await;
    let (frames, end) = drain(&mut ws, Duration::from_millis(700), 100).await;
    assert_eq!((frames.len(), end), (4, "silent"));
}

/// Every bundled connector's subscribe plan, pointed at the simulator, yields ticks for exactly
/// its configured instruments: the plans speak each protocol the way the simulator (and the
/// documented exchange) expects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundled_connector_plans_subscribe_correctly() {
    let (base, _stop) = start(2000, Duration::from_secs(20)).await;
    let symbols = tickflow::exchange::reference::References::bundled().unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("connectors");
    let connectors = tickflow::config::load_connectors(&dir, &symbols).unwrap();
    assert_eq!(connectors.len(), tickflow::exchange::PROFILES.len());
    for config in connectors {
        // Where the simulator serves this connector's protocol (`gather --simulator`'s rule).
        let url = config.redirected_to(&base).url;
        let plans = tickflow::ws::plan(&config, symbols.get(config.exchange), "test").unwrap();
        assert_eq!(plans.len(), 1, "{}", config.name);
        let plan = &plans[0];
        let mut ws = connect(&url).await;
        for (i, message) in plan.messages.iter().enumerate() {
            if i > 0 {
                tokio::time::sleep(plan.min_gap).await;
            }
            ws.send(Message::text(message.clone())).await.unwrap();
        }
        // Every instrument on every channel: each (instrument, kind) pair arrives.
        let want: BTreeSet<(String, &str)> = plan
            .instruments
            .iter()
            .flat_map(|i| {
                config
                    .channels
                    .iter()
                    .map(move |c| (i.to_string(), c.kind.as_str()))
            })
            .collect();
        let mut seen = BTreeSet::new();
        for _ in 0..2000 {
            let msg = next(&mut ws).await;
            if matches!(msg, Message::Ping(_)) {
                continue;
            }
            let ticks = match decode(config.exchange, &msg) {
                Decoded::Tick(t) => vec![t],
                Decoded::Ticks(ts) => ts,
                _ => vec![],
            };
            for t in ticks {
                let pair = (t.instrument.to_string(), t.kind.as_str());
                assert!(want.contains(&pair), "{}: unexpected {pair:?}", config.name);
                seen.insert(pair);
            }
            if seen == want {
                break;
            }
        }
        assert_eq!(seen, want, "{}", config.name);
    }
}
