//! The simulator's venue listings (issue 19, item 6): each REST listing served on the
//! WebSocket port decodes with tickflow's own listing decoders, with exact sizes; listing and
//! delisting while connections run (in-process and over HTTP) stops or starts exactly those
//! streams; subscriptions change on a running connection without restarting the instruments
//! kept; hostile HTTP is refused without harming the server.
//!
//! Ordering, not timing, decides what "after a change" means: a change is made, then a message
//! the session answers (Upbit `PING`, Binance `LIST_SUBSCRIPTIONS`) is sent; every data frame
//! after that answer was built after the change.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use futures_util::{SinkExt, StreamExt};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tickflow::exchange::reference::References;
use tickflow::exchange::{
    Adapter, AdapterConfig, BinanceAdapter, Control, Decoded, Frame, SymbolTable, binance, bithumb,
    upbit,
};
use tickflow::model::listing::{Listing, ListingStatus, Notice};
use tickflow::model::{Exchange, Instrument, Reason};
use tickflow::sim::{ListingSizes, Listings, SimConfig, serve_with};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

struct Sim {
    addr: SocketAddr,
    listings: Arc<Listings>,
    _stop: watch::Sender<bool>,
}

/// A simulator on a free loopback port with `sizes`, the bundled Binance table listed too.
async fn start(rate: u32, sizes: &ListingSizes) -> Sim {
    start_hot(rate, sizes, 0, 0).await
}

/// [`start`] with the first `hot` markets of each venue taking `share_pct` % of the frames.
async fn start_hot(rate: u32, sizes: &ListingSizes, hot: usize, share_pct: u32) -> Sim {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = SimConfig {
        rate,
        seed: 7,
        server_ping: Duration::from_secs(20),
        references: References::bundled().unwrap(),
        default_fault: None,
    };
    let listings = Arc::new(Listings::for_config(&config, sizes).with_hot(hot, share_pct));
    let (stop, stopped) = watch::channel(false);
    tokio::spawn(serve_with(listener, config, Arc::clone(&listings), stopped));
    Sim {
        addr,
        listings,
        _stop: stop,
    }
}

fn i(s: &str) -> Instrument {
    Instrument::parse(s).unwrap()
}

fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64
}

/// Sends raw bytes as one request and returns the status and body of the answer.
async fn raw(addr: SocketAddr, request: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out))
        .await
        .expect("no answer within 5 s")
        .unwrap();
    let text = String::from_utf8(out).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(body.len(), length, "{head}");
    (status, body.to_owned())
}

async fn http(addr: SocketAddr, method: &str, target: &str) -> (u16, String) {
    let request =
        format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\n\r\n");
    raw(addr, request.as_bytes()).await
}

/// `GET` of a listing path, which must answer 200.
async fn get(addr: SocketAddr, target: &str) -> Vec<u8> {
    let (status, body) = http(addr, "GET", target).await;
    assert_eq!(status, 200, "{target}: {body}");
    body.into_bytes()
}

async fn upbit_listing(addr: SocketAddr) -> Listing {
    let body = get(addr, "/upbit/v1/market/all?is_details=true").await;
    upbit::listing::decode(&body, now_us()).unwrap()
}

async fn binance_listing(addr: SocketAddr) -> (Listing, Vec<u8>) {
    let body = get(addr, "/binance/api/v3/exchangeInfo").await;
    (binance::listing::decode(&body, now_us()).unwrap(), body)
}

fn count(listing: &Listing, f: impl Fn(&tickflow::model::listing::Listed) -> bool) -> usize {
    listing.records.iter().filter(|r| f(r)).count()
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

/// The next text or binary message (pings are answered by tungstenite on read).
async fn next(ws: &mut Ws) -> Vec<u8> {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("no frame within 5 s")
            .expect("stream ended")
            .expect("websocket error");
        match msg {
            Message::Text(t) => return t.as_bytes().to_vec(),
            Message::Binary(b) => return b.to_vec(),
            Message::Close(c) => panic!("closed: {c:?}"),
            _ => {}
        }
    }
}

/// Trade ids per instrument, in arrival order.
type Ids = BTreeMap<String, Vec<i64>>;

/// Reads messages, recording trade ticks in `ids`, until one that is not a tick; returns it
/// decoded (or rejected).
async fn until_control(
    ws: &mut Ws,
    adapter: &dyn Adapter,
    ids: &mut Ids,
) -> Result<Decoded, tickflow::model::Rejection> {
    for _ in 0..5000 {
        let bytes = next(ws).await;
        match adapter.decode(Frame::text(&bytes), now_us()) {
            Ok(Decoded::Tick(t)) => ids
                .entry(t.instrument.to_string())
                .or_default()
                .push(t.sequence.unwrap()),
            other => return other,
        }
    }
    panic!("no control message within 5000 frames");
}

/// Reads `n` trade ticks; returns the instruments seen.
async fn read_ticks(
    ws: &mut Ws,
    adapter: &dyn Adapter,
    ids: &mut Ids,
    n: usize,
) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    for _ in 0..n {
        let bytes = next(ws).await;
        match adapter.decode(Frame::text(&bytes), now_us()) {
            Ok(Decoded::Tick(t)) => {
                seen.insert(t.instrument.to_string());
                ids.entry(t.instrument.to_string())
                    .or_default()
                    .push(t.sequence.unwrap());
            }
            other => panic!("expected a trade tick, got {other:?}"),
        }
    }
    seen
}

/// Every instrument's ids run 1_000_001, 1_000_002, ... without a gap or a restart.
fn assert_consecutive(ids: &Ids) {
    for (instrument, seq) in ids {
        let want: Vec<i64> = (1_000_001..).take(seq.len()).collect();
        assert_eq!(seq, &want, "{instrument}");
    }
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_listings_decode_with_the_venue_decoders_at_real_sizes() {
    let sim = start(100, &ListingSizes::default()).await;
    // Upbit: 530 markets, 180 KRW, 240 BTC, 110 USDT; 5 warned, 102 cautioned.
    let up = upbit_listing(sim.addr).await;
    assert!(up.rejected.is_empty(), "{:?}", up.rejected);
    let quoted = |l: &Listing, q: &str| count(l, |r| r.instrument.quote() == q);
    assert_eq!(
        (
            up.records.len(),
            quoted(&up, "KRW"),
            quoted(&up, "BTC"),
            quoted(&up, "USDT")
        ),
        (530, 180, 240, 110)
    );
    assert_eq!(count(&up, |r| r.notices == [Notice::Warning]), 5);
    assert_eq!(
        count(&up, |r| !r.notices.is_empty()
            && !r.notices.contains(&Notice::Warning)),
        102
    );
    assert_eq!(count(&up, |r| r.status == ListingStatus::Trading), 530);
    for named in ["BTC-KRW", "ETH-BTC", "SOL-USDT"] {
        assert!(up.records.iter().any(|r| r.instrument.as_str() == named));
    }
    // Without details: the same markets, no notices.
    let plain = upbit::listing::decode(&get(sim.addr, "/upbit/v1/market/all").await, 0).unwrap();
    assert_eq!(
        (
            plain.records.len(),
            count(&plain, |r| !r.notices.is_empty())
        ),
        (530, 0)
    );

    // Bithumb: 450 KRW markets; with isDetails, 22 under CAUTION.
    let body = get(sim.addr, "/bithumb/v1/market/all?isDetails=true").await;
    let bt = bithumb::listing::decode(&body, 0).unwrap();
    assert!(bt.rejected.is_empty(), "{:?}", bt.rejected);
    assert_eq!(
        (
            bt.records.len(),
            quoted(&bt, "KRW"),
            count(&bt, |r| r.notices == [Notice::Caution])
        ),
        (450, 450, 22)
    );
    assert!(bt.records.iter().all(|r| r.exchange == Exchange::Bithumb));

    // Binance: 1,300 TRADING and 65 BREAK, every symbol with its tick and lot size; the
    // bundled table's symbols among them.
    let (bn, body) = binance_listing(sim.addr).await;
    assert!(bn.rejected.is_empty(), "{:?}", bn.rejected);
    assert_eq!(
        (
            bn.records.len(),
            count(&bn, |r| r.status == ListingStatus::Trading),
            count(&bn, |r| r.status == ListingStatus::Break)
        ),
        (1365, 1300, 65)
    );
    assert!(
        bn.records
            .iter()
            .all(|r| r.tick_size.is_some() && r.lot_size == Some(Decimal::new(1, 8)))
    );
    let btc = bn
        .records
        .iter()
        .find(|r| r.native_symbol == "BTCUSDT")
        .unwrap();
    assert_eq!(btc.tick_size, Some(Decimal::from_str("0.01").unwrap()));
    let bundled = SymbolTable::bundled_binance().unwrap();
    let (table, rejected) =
        SymbolTable::from_exchange_info(std::str::from_utf8(&body).unwrap()).unwrap();
    assert!(rejected.is_empty());
    assert_eq!(table.len(), 1365);
    for symbol in ["BTCUSDT", "ETHBTC", "BTCTRY", "BNBETH", "PEPEUSDT"] {
        assert_eq!(
            table.get(symbol).map(|e| &e.instrument),
            bundled.get(symbol).map(|e| &e.instrument),
            "{symbol}"
        );
    }

    // A stock HTTP client reads it too.
    let via_reqwest = common::sr::http()
        .get(format!("http://{}/binance/api/v3/exchangeInfo", sim.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(via_reqwest.status(), 200);
    let bytes = via_reqwest.bytes().await.unwrap();
    assert_eq!(
        binance::listing::decode(&bytes, 0).unwrap().records.len(),
        1365
    );

    // Unknown paths: 404 in the venues' REST error form; a listing takes only GET.
    let (status, body) = http(sim.addr, "GET", "/upbit/v1/market/none").await;
    assert_eq!(status, 404);
    assert!(matches!(
        upbit::listing::decode(body.as_bytes(), 0),
        Err(tickflow::model::listing::ListingError::Exchange(_))
    ));
    assert_eq!(http(sim.addr, "GET", "/").await.0, 404);
    assert_eq!(http(sim.addr, "POST", "/upbit/v1/market/all").await.0, 405);
}

/// Every venue's listing, served by the simulator where `gather --simulator` looks for it (the
/// profile's listing URL under `/<exchange>`), decodes with the venue's own decoder, at the
/// venue's default size, and names every instrument of its bundled connectors: a new venue is
/// checked here with no edit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_venue_listing_decodes_with_its_own_decoder() {
    let sim = start(1, &ListingSizes::default()).await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("connectors");
    let connectors =
        tickflow::config::load_connectors(&dir, &References::bundled().unwrap()).unwrap();
    let mut checked = 0;
    for profile in tickflow::exchange::PROFILES {
        let Some(spec) = profile.listing else {
            continue;
        };
        let rest = spec.url.split_once("://").map_or(spec.url, |(_, r)| r);
        let path = rest.find('/').map_or("/", |i| &rest[i..]);
        let venue = profile.exchange.as_str().to_ascii_lowercase();
        let body = get(sim.addr, &format!("/{venue}{path}")).await;
        let listing = (spec.decode)(&body, now_us())
            .unwrap_or_else(|e| panic!("{venue} {}: {e}", profile.api));
        let trading = count(&listing, |r| r.status == ListingStatus::Trading);
        assert_eq!(
            trading,
            ListingSizes::default().get(profile.exchange),
            "{venue} {}",
            profile.api
        );
        for c in connectors.iter().filter(|c| c.profile == profile) {
            for i in &c.instruments {
                assert!(
                    listing.records.iter().any(|r| &r.instrument == i),
                    "{}: {i} not listed",
                    c.name
                );
            }
        }
        checked += 1;
    }
    assert_eq!(checked, tickflow::exchange::PROFILES.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sizes_are_settable() {
    let mut sizes = ListingSizes::all(0);
    sizes.set(Exchange::Upbit, 100).set(Exchange::Binance, 200);
    let sim = start(100, &sizes).await;
    let up = upbit_listing(sim.addr).await;
    // The named markets (19) count towards the 100, split 18:24:11 over KRW, BTC, USDT.
    assert_eq!(up.records.len(), 100);
    let (bn, _) = binance_listing(sim.addr).await;
    assert_eq!(
        (
            count(&bn, |r| r.status == ListingStatus::Trading),
            count(&bn, |r| r.status == ListingStatus::Break)
        ),
        (200, 10)
    );
    // Bithumb at 0: only its named markets.
    let bt = bithumb::listing::decode(&get(sim.addr, "/bithumb/v1/market/all").await, 0).unwrap();
    assert_eq!(bt.records.len(), 10);
}

/// Upbit: a delisted market leaves `market/all` and its stream stops on a running connection
/// while the others go on; a newly listed one is subscribed by a new request (which replaces
/// the set) and flows; the instruments kept continue their trade ids.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upbit_delist_and_list_while_connected() {
    let sim = start(400, &ListingSizes::all(0)).await;
    let adapter = common::adapter(Exchange::Upbit);
    let mut ws = connect(&format!("ws://{}/upbit/websocket/v1", sim.addr)).await;
    ws.send(Message::text(
        r#"[{"ticket":"t"},{"type":"trade","codes":["KRW-BTC","KRW-ETH","KRW-XRP","KRW-NOPE"]}]"#,
    ))
    .await
    .unwrap();
    let mut ids = Ids::new();
    // A code the venue does not list sends nothing.
    let seen = read_ticks(&mut ws, adapter.as_ref(), &mut ids, 60).await;
    assert_eq!(seen, set(&["BTC-KRW", "ETH-KRW", "XRP-KRW"]));

    // Delisted over HTTP: gone from market/all, and no ETH frame after the PING's answer.
    let (status, body) = http(sim.addr, "POST", "/sim/upbit/delist?instrument=ETH-KRW").await;
    assert_eq!(status, 200, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (
            &answer["symbol"],
            &answer["status"],
            &answer["published"],
            &answer["live"]
        ),
        (
            &serde_json::json!("KRW-ETH"),
            &serde_json::json!("break"),
            &serde_json::json!(false),
            &serde_json::json!(false)
        )
    );
    let listing = upbit_listing(sim.addr).await;
    assert!(!listing.records.iter().any(|r| r.native_symbol == "KRW-ETH"));
    assert_eq!(listing.records.len(), 18);
    ws.send(Message::text("PING")).await.unwrap();
    let status = until_control(&mut ws, adapter.as_ref(), &mut ids).await;
    assert_eq!(
        status,
        Ok(Decoded::Control(Control::Status {
            status: "UP".into()
        }))
    );
    let seen = read_ticks(&mut ws, adapter.as_ref(), &mut ids, 60).await;
    assert_eq!(seen, set(&["BTC-KRW", "XRP-KRW"]));

    // Listed in-process, then subscribed: a new request replaces the set.
    let abc = sim.listings.list(Exchange::Upbit, &i("ABC-KRW")).unwrap();
    assert_eq!(abc.native, "KRW-ABC");
    assert!(
        upbit_listing(sim.addr)
            .await
            .records
            .iter()
            .any(|r| r.instrument.as_str() == "ABC-KRW")
    );
    ws.send(Message::text(
        r#"[{"ticket":"t2"},{"type":"trade","codes":["KRW-BTC","KRW-XRP","KRW-ABC"]}]"#,
    ))
    .await
    .unwrap();
    let mut abc_frames = 0;
    for _ in 0..50 {
        let seen = read_ticks(&mut ws, adapter.as_ref(), &mut ids, 10).await;
        abc_frames = ids.get("ABC-KRW").map_or(0, Vec::len);
        assert!(!seen.contains("ETH-KRW"));
        if abc_frames >= 20 {
            break;
        }
    }
    assert!(abc_frames >= 20, "{abc_frames} ABC-KRW frames");
    // Kept instruments go on (no restart at 1_000_001), the new one starts fresh, nothing
    // skipped or repeated on any of them.
    assert_consecutive(&ids);
    assert!(ids["BTC-KRW"].len() > 40 && ids["XRP-KRW"].len() > 40);
    assert_eq!(ids["ABC-KRW"][0], 1_000_001);
    // Delisting an instrument it does not list is refused.
    let (status, body) = http(sim.addr, "POST", "/sim/upbit/delist?instrument=ETH-KRW").await;
    assert_eq!(
        (status, body.contains("does not list ETH-KRW")),
        (400, true),
        "{body}"
    );
}

/// Binance: SUBSCRIBE adds, UNSUBSCRIBE removes (both acked), an unlisted symbol is refused in
/// Binance's nested error form, a delisted symbol lingers as BREAK and its stream stops, a
/// halted one pauses and resumes; the other streams are never disturbed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_subscriptions_and_listing_changes_on_one_connection() {
    let sim = start(400, &ListingSizes::all(0)).await;
    // The adapter reads symbols through the table built from the simulator's own listing,
    // as gather will.
    let adapter_from = |body: &[u8]| -> Box<dyn Adapter> {
        let (table, _) =
            SymbolTable::from_exchange_info(std::str::from_utf8(body).unwrap()).unwrap();
        Box::new(BinanceAdapter::new(
            AdapterConfig::default(),
            Arc::new(table),
        ))
    };
    let (_, body) = binance_listing(sim.addr).await;
    let adapter = adapter_from(&body);
    let mut ws = connect(&format!("ws://{}/binance/stream", sim.addr)).await;
    let mut ids = Ids::new();
    ws.send(Message::text(
        r#"{"method":"SUBSCRIBE","params":["btcusdt@trade","ethusdt@trade"],"id":1}"#,
    ))
    .await
    .unwrap();
    let ack = until_control(&mut ws, adapter.as_ref(), &mut ids).await;
    assert_eq!(
        ack,
        Ok(Decoded::Control(Control::SubscribeAck { id: Some(1) }))
    );
    let seen = read_ticks(&mut ws, adapter.as_ref(), &mut ids, 40).await;
    assert_eq!(seen, set(&["BTC-USDT", "ETH-USDT"]));

    // Not listed: refused whole, as Binance does; the adapter types it.
    ws.send(Message::text(
        r#"{"method":"SUBSCRIBE","params":["zzzusdt@trade","solusdt@trade"],"id":2}"#,
    ))
    .await
    .unwrap();
    let refused = until_control(&mut ws, adapter.as_ref(), &mut ids)
        .await
        .unwrap_err();
    assert_eq!(refused.reason, Reason::ExchangeError);
    assert!(
        refused.detail.contains("2: Invalid symbol: zzzusdt@trade"),
        "{refused}"
    );

    // Listed over HTTP, then subscribed on the same connection.
    let (status, body) = http(sim.addr, "POST", "/sim/binance/list?instrument=ZZZ-USDT").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"symbol\":\"ZZZUSDT\""), "{body}");
    let (listing, body) = binance_listing(sim.addr).await;
    assert!(
        listing
            .records
            .iter()
            .any(|r| r.native_symbol == "ZZZUSDT" && r.status == ListingStatus::Trading)
    );
    let adapter = adapter_from(&body);
    ws.send(Message::text(
        r#"{"method":"SUBSCRIBE","params":["zzzusdt@trade"],"id":3}"#,
    ))
    .await
    .unwrap();
    let ack = until_control(&mut ws, adapter.as_ref(), &mut ids).await;
    assert_eq!(
        ack,
        Ok(Decoded::Control(Control::SubscribeAck { id: Some(3) }))
    );
    let seen = read_ticks(&mut ws, adapter.as_ref(), &mut ids, 60).await;
    assert_eq!(seen, set(&["BTC-USDT", "ETH-USDT", "ZZZ-USDT"]));

    // UNSUBSCRIBE: acked, and no ETH frame after the ack.
    ws.send(Message::text(
        r#"{"method":"UNSUBSCRIBE","params":["ethusdt@trade"],"id":4}"#,
    ))
    .await
    .unwrap();
    let ack = until_control(&mut ws, adapter.as_ref(), &mut ids).await;
    assert_eq!(
        ack,
        Ok(Decoded::Control(Control::SubscribeAck { id: Some(4) }))
    );
    let seen = read_ticks(&mut ws, adapter.as_ref(), &mut ids, 40).await;
    assert_eq!(seen, set(&["BTC-USDT", "ZZZ-USDT"]));

    // Delisted in-process: BREAK in exchangeInfo, its stream stops, ZZZ goes on.
    let m = sim
        .listings
        .delist(Exchange::Binance, &i("BTC-USDT"))
        .unwrap();
    assert_eq!(m.status, ListingStatus::Break);
    let (listing, _) = binance_listing(sim.addr).await;
    let btc = listing
        .records
        .iter()
        .find(|r| r.native_symbol == "BTCUSDT")
        .unwrap();
    assert_eq!(btc.status, ListingStatus::Break);
    ws.send(Message::text(r#"{"method":"LIST_SUBSCRIPTIONS","id":5}"#))
        .await
        .unwrap();
    loop {
        let bytes = next(&mut ws).await;
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        if v.get("id").is_some() {
            assert_eq!(
                v,
                serde_json::json!({"result": ["btcusdt@trade", "zzzusdt@trade"], "id": 5})
            );
            break;
        }
        let t = adapter.decode(Frame::text(&bytes), now_us()).unwrap();
        let t = &t.ticks()[0];
        ids.entry(t.instrument.to_string())
            .or_default()
            .push(t.sequence.unwrap());
    }
    let seen = read_ticks(&mut ws, adapter.as_ref(), &mut ids, 40).await;
    assert_eq!(seen, set(&["ZZZ-USDT"]));

    // HALT over HTTP: nothing at all flows; TRADING again: it resumes where it stopped.
    let (status, body) = http(
        sim.addr,
        "POST",
        "/sim/binance/status?instrument=ZZZ-USDT&status=HALT",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"status\":\"halted\""), "{body}");
    ws.send(Message::text(r#"{"method":"LIST_SUBSCRIPTIONS","id":6}"#))
        .await
        .unwrap();
    let listed = until_control(&mut ws, adapter.as_ref(), &mut ids).await;
    assert_eq!(
        listed,
        Ok(Decoded::Control(Control::SubscribeAck { id: Some(6) }))
    );
    let quiet = tokio::time::timeout(Duration::from_millis(300), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => return t.to_string(),
                Some(Ok(_)) => {}
                other => panic!("{other:?}"),
            }
        }
    })
    .await;
    assert!(quiet.is_err(), "a frame while halted: {quiet:?}");
    sim.listings
        .set_status(Exchange::Binance, &i("ZZZ-USDT"), ListingStatus::Trading)
        .unwrap();
    let seen = read_ticks(&mut ws, adapter.as_ref(), &mut ids, 20).await;
    assert_eq!(seen, set(&["ZZZ-USDT"]));
    assert_consecutive(&ids);
    assert_eq!(ids["ZZZ-USDT"][0], 1_000_001);
    assert!(ids["BTC-USDT"].len() >= 40 && ids["ETH-USDT"].len() >= 20);
}

/// Skewed rates: the hot markets (the first two of Upbit's listing, BTC-KRW and ETH-KRW) take
/// 80 % of the frames, spread evenly; the default stays plain round-robin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_markets_take_their_share_of_frames() {
    let codes = r#"[{"ticket":"t"},{"type":"trade","codes":["KRW-BTC","KRW-XRP","KRW-ETH","KRW-SOL","KRW-DOGE"]}]"#;
    let mut counts = Vec::new();
    for hot in [2, 0] {
        let sim = start_hot(2000, &ListingSizes::all(0), hot, 80).await;
        let adapter = common::adapter(Exchange::Upbit);
        let mut ws = connect(&format!("ws://{}/upbit/websocket/v1", sim.addr)).await;
        ws.send(Message::text(codes)).await.unwrap();
        let mut ids = Ids::new();
        read_ticks(&mut ws, adapter.as_ref(), &mut ids, 500).await;
        assert_consecutive(&ids);
        counts.push(
            ["BTC-KRW", "ETH-KRW", "XRP-KRW", "SOL-KRW", "DOGE-KRW"]
                .map(|i| ids.get(i).map_or(0, Vec::len)),
        );
    }
    assert_eq!(counts, [[200, 200, 34, 33, 33], [100, 100, 100, 100, 100]]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_endpoints_answer_and_refuse_with_reasons() {
    let sim = start(100, &ListingSizes::all(0)).await;
    let post = |target: &'static str| http(sim.addr, "POST", target);
    let cases: [(&str, u16, &str); 10] = [
        (
            "/sim/bithumb/list?instrument=NEW-KRW",
            200,
            "\"symbol\":\"KRW-NEW\"",
        ),
        (
            "/sim/bithumb/list?instrument=new-krw",
            400,
            "is not BASE-QUOTE",
        ),
        ("/sim/bithumb/list", 400, "missing instrument"),
        (
            "/sim/bithumb/delist?instrument=NONE-KRW",
            400,
            "does not list NONE-KRW",
        ),
        (
            "/sim/upbit/status?instrument=BTC-KRW&status=HALT",
            400,
            "no status",
        ),
        (
            "/sim/binance/status?instrument=BTC-USDT&status=NAPPING",
            400,
            "unknown status",
        ),
        (
            "/sim/binance/list?instrument=BTCU-SDT",
            400,
            "already names BTC-USDT",
        ),
        (
            "/sim/binance/delist?instrument=ETH-BTC",
            200,
            "\"published\":true",
        ),
        ("/sim/kraken/list?instrument=BTC-USD", 404, "no route"),
        ("/sim/upbit/explode?instrument=BTC-KRW", 404, "no route"),
    ];
    for (target, want, text) in cases {
        let (status, body) = post(target).await;
        assert_eq!(status, want, "{target}: {body}");
        assert!(body.contains(text), "{target}: {body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        if want != 200 {
            assert_eq!(v["error"]["name"], want, "{body}");
        }
    }
    assert_eq!(
        http(sim.addr, "GET", "/sim/upbit/list?instrument=A-KRW")
            .await
            .0,
        405
    );
    assert!(sim.listings.is_live(Exchange::Bithumb, &i("NEW-KRW")));
    assert_eq!(
        sim.listings
            .get(Exchange::Binance, &i("ETH-BTC"))
            .unwrap()
            .status,
        ListingStatus::Break
    );
    let bt = bithumb::listing::decode(&get(sim.addr, "/bithumb/v1/market/all").await, 0).unwrap();
    assert!(bt.records.iter().any(|r| r.native_symbol == "KRW-NEW"));
}

/// Malformed, oversized and slow requests get their status (or are dropped) and the server
/// goes on serving HTTP and WebSocket alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_http_is_refused_without_harm() {
    let sim = start(200, &ListingSizes::all(0)).await;
    assert_eq!(raw(sim.addr, b"GARBAGE\r\n\r\n").await.0, 400);
    assert_eq!(
        raw(sim.addr, b"GET /x HTTP/1.1\r\nno colon\r\n\r\n")
            .await
            .0,
        400
    );
    assert_eq!(
        raw(sim.addr, b"GET /\xff\xfe HTTP/1.1\r\n\r\n").await.0,
        400
    );
    // A head that never ends within 16 KiB.
    let mut big = b"GET /upbit/v1/market/all HTTP/1.1\r\nX-Pad: ".to_vec();
    big.resize(40 * 1024, b'a');
    let (status, body) = raw(sim.addr, &big).await;
    assert_eq!(status, 431, "{body}");
    // A body above the bound.
    let (status, _) = raw(
        sim.addr,
        b"POST /sim/upbit/list?instrument=A-KRW HTTP/1.1\r\nContent-Length: 10000000\r\n\r\n",
    )
    .await;
    assert_eq!(status, 413);
    assert!(sim.listings.get(Exchange::Upbit, &i("A-KRW")).is_none());
    // A head split over several segments is still read whole.
    let mut s = TcpStream::connect(sim.addr).await.unwrap();
    s.write_all(b"GET /bithumb/v1/market/all HT").await.unwrap();
    tokio::time::sleep(Duration::from_millis(60)).await;
    s.write_all(b"TP/1.1\r\nHost: x\r\n").await.unwrap();
    tokio::time::sleep(Duration::from_millis(60)).await;
    s.write_all(b"\r\n").await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    assert!(out.starts_with(b"HTTP/1.1 200 OK\r\n"));
    // A client that connects and leaves.
    drop(TcpStream::connect(sim.addr).await.unwrap());
    // Still serving both.
    assert_eq!(upbit_listing(sim.addr).await.records.len(), 19);
    let mut ws = connect(&format!(
        "ws://{}/binance/stream?streams=btcusdt@ticker",
        sim.addr
    ))
    .await;
    let frame = next(&mut ws).await;
    let decoded = common::decode(Exchange::Binance, &frame, now_us()).unwrap();
    assert_eq!(decoded.ticks()[0].instrument.as_str(), "BTC-USDT");
}

/// The binary: `--markets` sizes the listings, the control endpoints work over HTTP, and
/// `--help` documents them.
#[test]
fn the_binary_serves_listings_and_control() {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let help = Command::new(env!("CARGO_BIN_EXE_tickflow"))
        .args(["simulate", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    for needle in [
        "/upbit/v1/market/all",
        "/bithumb/v1/market/all",
        "/binance/api/v3/exchangeInfo",
        "/sim/EXCHANGE/delist",
        "--markets",
        "UNSUBSCRIBE",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}");
    }
    // Every venue has its paragraph and its default size, from the simulator's registry.
    for exchange in tickflow::model::Exchange::ALL {
        let name = exchange.as_str().to_ascii_lowercase();
        let size = tickflow::sim::ListingSizes::default().get(exchange);
        assert!(
            help.contains(&format!("{name}={size}")),
            "--help lacks {name}'s default size {size}"
        );
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_tickflow"))
        .args([
            "simulate",
            "--bind",
            "127.0.0.1:0",
            "--markets",
            "40",
            "--markets",
            "binance=50",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let rest: Vec<String> = lines.take(7).map(Result::unwrap).collect();
    let addr: SocketAddr = first
        .strip_prefix("listening on ")
        .unwrap_or_else(|| {
            let _ = child.kill();
            panic!("unexpected first line {first:?}")
        })
        .parse()
        .unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        assert!(
            rest.iter().any(|l| l
                .contains("upbit 40 markets, binance 52 markets (2 BREAK), bithumb 40 markets")),
            "{rest:?}"
        );
        assert_eq!(upbit_listing(addr).await.records.len(), 40);
        let (bn, _) = binance_listing(addr).await;
        assert_eq!(bn.records.len(), 52);
        let (status, body) = http(addr, "POST", "/sim/binance/delist?instrument=SOL-USDT").await;
        assert_eq!(status, 200, "{body}");
        let (bn, _) = binance_listing(addr).await;
        assert_eq!(count(&bn, |r| r.status == ListingStatus::Break), 3);
    });
    let _ = child.kill();
    let _ = child.wait();
}
