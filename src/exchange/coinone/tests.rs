//! The Coinone adapter against the probe's real frames (`../shared/samples/coinone`, used in
//! place; each test prints a SKIP line and passes when the folder is absent), hostile variants
//! of them, and generated books.

use super::*;
use crate::exchange::session::Said;
use crate::model::{EventKind, Instrument, TradeSide};
use rust_decimal::Decimal;
use std::path::PathBuf;

/// The trade sample's receive time: its own timestamp plus 40 ms.
const R: i64 = 1_790_134_177_875_000;

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn adapter() -> CoinoneAdapter {
    CoinoneAdapter::default()
}

fn no_window() -> CoinoneAdapter {
    let mut c = AdapterConfig::default();
    c.validation.check_time_window = false;
    CoinoneAdapter::new(c)
}

/// `../shared/samples/coinone/<name>` as text, or `None` (with a SKIP line) when absent.
fn sample(name: &str) -> Option<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/samples/coinone")
        .join(name);
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(_) => {
            eprintln!(
                "SKIP: {} not found; Coinone real-frame checks skipped",
                path.display()
            );
            None
        }
    }
}

fn lines(text: &str) -> Vec<&str> {
    text.lines().filter(|l| !l.trim().is_empty()).collect()
}

fn tick(frame: &str, received: i64) -> Tick {
    match adapter().decode(Frame::text(frame.as_bytes()), received) {
        Ok(Decoded::Tick(t)) => t,
        other => panic!("{other:?} for {frame}"),
    }
}

fn reason(frame: &[u8]) -> Reason {
    match no_window().decode(Frame::text(frame), R) {
        Err(r) => {
            assert!(
                r.detail.len() < 400,
                "detail dumps the payload: {}",
                r.detail
            );
            r.reason
        }
        Ok(other) => panic!(
            "expected a rejection, got {other:?} for {:.200}",
            String::from_utf8_lossy(frame)
        ),
    }
}

use crate::model::Tick;

#[test]
fn real_ticker_decodes_exactly() {
    let Some(frame) = sample("nemanull__ws_ticker_BTC.json") else {
        return;
    };
    let t = tick(frame.trim_end(), 1_790_133_796_500_000);
    assert_eq!(t.exchange, Exchange::Coinone);
    assert_eq!(t.instrument, Instrument::parse("BTC-KRW").unwrap());
    assert_eq!(t.native_symbol, "KRW/BTC");
    assert_eq!(t.kind, EventKind::Ticker);
    assert_eq!(t.last_price, d("116380000"));
    assert_eq!(t.open_price, Some(d("115650000")));
    assert_eq!(t.high_price, Some(d("116470000")));
    assert_eq!(t.low_price, Some(d("115570000")));
    assert_eq!(t.prev_close_price, Some(d("115640000")));
    assert_eq!(t.volume_24h_base, Some(d("267.27610034")));
    assert_eq!(t.volume_24h_quote, Some(d("30947007404.5912")));
    assert_eq!(
        (t.bid_price, t.bid_qty),
        (Some(d("116370000")), Some(d("8.60554308")))
    );
    assert_eq!(
        (t.ask_price, t.ask_qty),
        (Some(d("116400000")), Some(d("0.00562817")))
    );
    assert_eq!(t.event_ts_us, Some(1_790_133_796_484_000));
    assert_eq!(t.sequence, Some(1_790_133_796_484_001));
    // Not sent by the venue: null, never made up.
    assert_eq!(
        (t.change, t.change_rate, t.last_qty, t.trade_ts_us),
        (None, None, None, None)
    );
    assert!(!t.snapshot && t.trade_side.is_none());
}

#[test]
fn real_trade_decodes_exactly_and_a_maker_seller_means_the_taker_bought() {
    let Some(frame) = sample("nemanull__ws_trade_BTC.json") else {
        return;
    };
    let t = tick(frame.trim_end(), R);
    assert_eq!(t.kind, EventKind::Trade);
    assert_eq!(
        (t.last_price, t.last_qty),
        (d("116460000"), Some(d("0.00483595")))
    );
    assert_eq!(t.trade_side, Some(TradeSide::Buy));
    assert_eq!(t.trade_ts_us, Some(1_790_134_177_835_000));
    assert_eq!(t.event_ts_us, t.trade_ts_us);
    assert_eq!(t.sequence, Some(1_790_134_177_835_001));
    let sold = frame.replace("\"is_seller_maker\":true", "\"is_seller_maker\":false");
    assert_eq!(tick(sold.trim_end(), R).trade_side, Some(TradeSide::Sell));
}

/// The probe trimmed its books, replacing middle levels with the string "…": not a real book,
/// and refused as one (a level must be an object).
#[test]
fn trimmed_books_are_refused_and_their_real_levels_give_the_best_bid_offer() {
    let Some(text) = sample("nemanull__ws_orderbook_TRIMMED.jsonl") else {
        return;
    };
    let frames = lines(&text);
    assert_eq!(frames.len(), 3);
    for frame in &frames {
        assert_eq!(reason(frame.as_bytes()), Reason::WrongType, "{frame}");
    }
    // The levels the probe kept, in wire order, with its elision marks taken out (what the
    // frame would be with those levels only).
    let kept: Vec<String> = frames
        .iter()
        .map(|f| f.replace(",\"…\"", "").replace("\"…\",", ""))
        .collect();
    let books: Vec<Tick> = kept
        .iter()
        .map(|f| tick(f, 1_790_134_177_900_000))
        .collect();
    for (t, frame) in books.iter().zip(&kept) {
        assert_eq!(t.kind, EventKind::BestBidOffer, "{frame}");
        // Asks worst first: the best is the last ask, not the first (116650000).
        assert_eq!(
            (t.ask_price, t.ask_qty),
            (Some(d("116460000")), Some(d("0.0232")))
        );
        assert_eq!(
            (t.bid_price, t.bid_qty),
            (Some(d("116450000")), Some(d("0.0118")))
        );
        assert_eq!(t.last_price, d("116455000"));
        assert_eq!(t.native_symbol, "KRW/BTC");
    }
    // The book sent on subscribe: its timestamp ~10 s behind its id, flagged and timed by
    // the id's ms part (its stale timestamp would order it behind older books in the cache).
    assert!(books[0].snapshot);
    assert_eq!(books[0].event_ts_us, Some(1_790_134_177_435_000));
    assert_eq!(books[0].sequence, Some(1_790_134_177_435_001));
    // The next one (timestamp = the id's time) and the same book in SHORT keys.
    for t in &books[1..] {
        assert!(!t.snapshot);
        assert_eq!(t.event_ts_us, Some(1_790_134_177_753_000));
        assert_eq!(t.sequence, Some(1_790_134_177_753_001));
    }
    assert_eq!(books[1].decimals(), books[2].decimals());
}

#[test]
fn real_control_frames_are_controls_and_the_session_reads_its_acks() {
    let Some(text) = sample("nemanull__ws_control_frames.jsonl") else {
        return;
    };
    let frames = lines(&text);
    let want = [
        (Control::Connected, None),
        (
            Control::SubscribeAck { id: None },
            Some(Said::Accepted { id: None }),
        ),
        (
            Control::Status {
                status: "UNSUBSCRIBED".into(),
            },
            Some(Said::Accepted { id: None }),
        ),
        (
            Control::Status {
                status: "PONG".into(),
            },
            Some(Said::Alive),
        ),
    ];
    assert_eq!(frames.len(), want.len());
    for (frame, (control, said)) in frames.iter().zip(want) {
        let got = adapter().decode(Frame::text(frame.as_bytes()), R).unwrap();
        assert_eq!(got, Decoded::Control(control), "{frame}");
        assert_eq!(session::says(frame.as_bytes()), said, "{frame}");
    }
}

#[test]
fn real_error_frames_carry_the_venues_words() {
    let Some(text) = sample("nemanull__ws_error_frames.jsonl") else {
        return;
    };
    let frames = lines(&text);
    let got: Vec<(Reason, String)> = frames
        .iter()
        .map(|f| {
            let e = adapter().decode(Frame::text(f.as_bytes()), R).unwrap_err();
            (e.reason, e.detail)
        })
        .collect();
    assert!(got.iter().all(|(r, _)| *r == Reason::ExchangeError));
    assert!(
        got[0]
            .1
            .starts_with("160012: Invalid Topic (names no topic"),
        "{}",
        got[0].1
    );
    assert_eq!(got[1].1, "160011: Invalid Type (field `request_type`)");
    assert_eq!(got[2].1, "160010: Invalid Request");
    // The unknown topic answers no identifiable request: unattributable, never a refusal.
    let said: Vec<Option<Said>> = frames.iter().map(|f| session::says(f.as_bytes())).collect();
    assert!(
        matches!(said[0], Some(Said::Unattributable { .. })),
        "{:?}",
        said[0]
    );
    assert!(matches!(said[1], Some(Said::Refused { id: None, .. })));
    assert!(matches!(said[2], Some(Said::Refused { id: None, .. })));
}

#[test]
fn real_requests_are_what_the_builders_and_the_profile_send() {
    let (Some(subscribe), Some(ping)) = (
        sample("nemanull__ws_subscribe_request.json"),
        sample("nemanull__ws_ping_request.json"),
    ) else {
        return;
    };
    let btc = [Instrument::parse("BTC-KRW").unwrap()];
    let table = crate::exchange::reference::Reference::none();
    let request = crate::exchange::profile::SubscribeRequest {
        instruments: &btc,
        channels: &["ORDERBOOK"],
        ticket: "t",
        options: &crate::exchange::profile::Options::default(),
        reference: &table,
        first_id: 1,
    };
    assert_eq!(
        subscribe::subscribe(&request).unwrap(),
        [subscribe.trim_end()]
    );
    assert_eq!(profile::PING, ping.trim_end());
}

#[test]
fn real_rest_bodies_are_errors_or_no_listing() {
    let Some(text) = sample("nemanull__rest_error_and_empty_bodies.jsonl") else {
        return;
    };
    use crate::model::listing::ListingError;
    let got: Vec<Result<_, ListingError>> = lines(&text)
        .iter()
        .map(|b| listing::decode(b.as_bytes(), 1))
        .collect();
    assert_eq!(
        got[0],
        Err(ListingError::Empty(0)),
        "markets: [] is no listing"
    );
    assert_eq!(
        got[1],
        Err(ListingError::Exchange("108: Unknown CryptoCurrency".into()))
    );
    assert_eq!(
        got[2],
        Err(ListingError::Exchange(
            "107: Parameter value is wrong".into()
        ))
    );
    assert!(
        matches!(got[3], Err(ListingError::Malformed(_))),
        "a ticker body is no listing"
    );
}

/// A documented-shape book of `levels` a side around `mid` (asks worst first), in DEFAULT or
/// SHORT keys.
fn book(levels: usize, short: bool, id: i64, ts_ms: i64) -> String {
    let (p, q) = if short { ("p", "q") } else { ("price", "qty") };
    let level = |price: i64| format!("{{\"{p}\":\"{price}\",\"{q}\":\"0.{price}\"}}");
    let asks: Vec<String> = (0..levels)
        .rev()
        .map(|i| level(1000 + 10 * i as i64))
        .collect();
    let bids: Vec<String> = (0..levels).map(|i| level(990 - 10 * i as i64)).collect();
    if short {
        format!(
            "{{\"r\":\"DATA\",\"c\":\"ORDERBOOK\",\"d\":{{\"qc\":\"KRW\",\"tc\":\"XRP\",\"t\":{ts_ms},\"i\":\"{id}\",\"a\":[{}],\"b\":[{}]}}}}",
            asks.join(","),
            bids.join(",")
        )
    } else {
        format!(
            "{{\"response_type\":\"DATA\",\"channel\":\"ORDERBOOK\",\"data\":{{\"quote_currency\":\"KRW\",\"target_currency\":\"XRP\",\"timestamp\":{ts_ms},\"id\":\"{id}\",\"asks\":[{}],\"bids\":[{}]}}}}",
            asks.join(","),
            bids.join(",")
        )
    }
}

#[test]
fn sixteen_level_books_in_both_formats() {
    for short in [false, true] {
        let frame = book(16, short, 1_693_560_155_038_001, 1_693_560_155_038);
        let t = match no_window()
            .decode(Frame::text(frame.as_bytes()), R)
            .unwrap()
        {
            Decoded::Tick(t) => t,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            (t.ask_price, t.ask_qty),
            (Some(d("1000")), Some(d("0.1000")))
        );
        assert_eq!((t.bid_price, t.bid_qty), (Some(d("990")), Some(d("0.990"))));
        assert_eq!(t.instrument.as_str(), "XRP-KRW");
        assert!(!t.snapshot);
    }
}

#[test]
fn hostile_variants_are_typed_rejections() {
    let trade = r#"{"response_type":"DATA","channel":"TRADE","data":{"quote_currency":"KRW","target_currency":"BTC","id":"1790134177835001","timestamp":1790134177835,"price":"116460000","qty":"0.00483595","is_seller_maker":true}}"#;
    let ticker = r#"{"response_type":"DATA","channel":"TICKER","data":{"quote_currency":"KRW","target_currency":"BTC","timestamp":1790133796484,"high":"116470000","low":"115570000","first":"115650000","last":"116380000","ask_best_price":"116400000","ask_best_qty":"0.00562817","bid_best_price":"116370000","bid_best_qty":"8.60554308","id":"1790133796484001"}}"#;
    let ob = book(16, false, 1_790_134_177_753_001, 1_790_134_177_753);
    let cases: Vec<(String, Reason)> = vec![
        (trade[..trade.len() / 2].into(), Reason::MalformedJson),
        (String::new(), Reason::MalformedJson),
        ("[]".into(), Reason::WrongType),
        (
            trade.replace("\"response_type\":\"DATA\",", ""),
            Reason::MissingField,
        ),
        (
            trade.replace("\"channel\":\"TRADE\",", ""),
            Reason::MissingField,
        ),
        (
            trade.replace("\"price\":\"116460000\",", ""),
            Reason::MissingField,
        ),
        (
            trade.replace("\"qty\":\"0.00483595\",", ""),
            Reason::MissingField,
        ),
        (
            trade.replace("\"id\":\"1790134177835001\",", ""),
            Reason::MissingField,
        ),
        (
            trade.replace("\"timestamp\":1790134177835,", ""),
            Reason::MissingField,
        ),
        (
            trade.replace("\"target_currency\":\"BTC\",", ""),
            Reason::MissingField,
        ),
        // Numbers where the venue writes strings, and the reverse.
        (
            trade.replace("\"price\":\"116460000\"", "\"price\":116460000"),
            Reason::WrongType,
        ),
        (
            trade.replace("\"qty\":\"0.00483595\"", "\"qty\":0.00483595"),
            Reason::WrongType,
        ),
        (
            trade.replace("\"id\":\"1790134177835001\"", "\"id\":1790134177835001"),
            Reason::WrongType,
        ),
        (
            trade.replace(
                "\"timestamp\":1790134177835",
                "\"timestamp\":\"1790134177835\"",
            ),
            Reason::WrongType,
        ),
        (
            trade.replace("\"is_seller_maker\":true", "\"is_seller_maker\":\"true\""),
            Reason::WrongType,
        ),
        (
            trade.replace("\"price\":\"116460000\"", "\"price\":{\"v\":1}"),
            Reason::WrongType,
        ),
        (
            trade.replace("\"price\":\"116460000\"", "\"price\":\"NaN\""),
            Reason::InvalidDecimal,
        ),
        (
            trade.replace("\"id\":\"1790134177835001\"", "\"id\":\"-1\""),
            Reason::InvalidDecimal,
        ),
        (
            trade.replace(
                "\"id\":\"1790134177835001\"",
                "\"id\":\"99999999999999999999\"",
            ),
            Reason::UnrepresentableValue,
        ),
        (
            trade.replace("\"price\":\"116460000\"", "\"price\":\"0\""),
            Reason::NonPositivePrice,
        ),
        (
            trade.replace("\"price\":\"116460000\"", "\"price\":\"-1\""),
            Reason::NonPositivePrice,
        ),
        (
            trade.replace("\"qty\":\"0.00483595\"", "\"qty\":\"-0.1\""),
            Reason::NegativeQuantity,
        ),
        (
            trade.replace("\"timestamp\":1790134177835", "\"timestamp\":-5"),
            Reason::InvalidTimestamp,
        ),
        // Lower case is accepted in requests, never in data.
        (
            trade.replace("\"target_currency\":\"BTC\"", "\"target_currency\":\"btc\""),
            Reason::UnknownInstrument,
        ),
        (
            trade.replace("\"quote_currency\":\"KRW\"", "\"quote_currency\":\"krw\""),
            Reason::UnknownInstrument,
        ),
        (
            trade.replace("\"price\":\"116460000\"", "\"price\":\"1\",\"price\":\"2\""),
            Reason::MalformedJson,
        ),
        (
            trade.replace(
                "\"channel\":\"TRADE\"",
                "\"channel\":\"TRADE\",\"c\":\"TICKER\"",
            ),
            Reason::MalformedJson,
        ),
        (
            ticker.replace("\"high\":\"116470000\"", "\"high\":\"1\""),
            Reason::HighBelowLow,
        ),
        (
            ticker.replace("\"last\":\"116380000\",", ""),
            Reason::MissingField,
        ),
        (
            ticker.replace(
                "\"bid_best_price\":\"116370000\"",
                "\"bid_best_price\":\"116500000\"",
            ),
            Reason::CrossedBook,
        ),
        // Books: crossed, empty sides, a side of the wrong type, a level without a price.
        (
            ob.replace("\"price\":\"990\"", "\"price\":\"1001\""),
            Reason::CrossedBook,
        ),
        (
            ob.replace("\"price\":\"1000\"", "\"price\":\"0\""),
            Reason::NonPositivePrice,
        ),
        (set_side(&ob, "asks", "[]"), Reason::MissingField),
        (set_side(&ob, "bids", "[]"), Reason::MissingField),
        (set_side(&ob, "bids", "null"), Reason::MissingField),
        (set_side(&ob, "asks", "{}"), Reason::WrongType),
        (
            set_side(&ob, "asks", "[[\"1000\",\"1\"]]"),
            Reason::WrongType,
        ),
        (
            set_side(&ob, "asks", "[{\"qty\":\"1\"}]"),
            Reason::MissingField,
        ),
        (
            set_side(&ob, "asks", "[{\"price\":1000,\"qty\":\"1\"}]"),
            Reason::WrongType,
        ),
        (
            set_side(
                &ob,
                "asks",
                "[{\"price\":\"1000\",\"price\":\"1\",\"qty\":\"1\"}]",
            ),
            Reason::MalformedJson,
        ),
        (ob.replace(",\"asks\":", ",\"x\":"), Reason::MissingField),
        // Errors: the code must be a number on the socket.
        (
            r#"{"response_type":"ERROR","error_code":"160012","message":"Invalid Topic"}"#.into(),
            Reason::WrongType,
        ),
        (
            r#"{"response_type":"ERROR","error_code":160012,"message":"Invalid Topic"}"#.into(),
            Reason::ExchangeError,
        ),
    ];
    for (frame, want) in &cases {
        assert_eq!(reason(frame.as_bytes()), *want, "{frame:.300}");
    }
    // Non-UTF-8 and oversized frames: refused before parsing.
    let mut bytes = trade.as_bytes().to_vec();
    bytes[40] = 0xff;
    assert_eq!(reason(&bytes), Reason::InvalidUtf8);
    let huge = trade.replacen('{', &format!("{{\"pad\":\"{}\",", "x".repeat(70_000)), 1);
    assert_eq!(reason(huge.as_bytes()), Reason::FrameTooLarge);
    let deep = format!("{{\"data\":{}", "[".repeat(100_000));
    let big = CoinoneAdapter::new(AdapterConfig {
        max_frame_bytes: 1 << 20,
        ..Default::default()
    });
    let got = big.decode(Frame::text(deep.as_bytes()), R).unwrap_err();
    assert_eq!(got.reason, Reason::MalformedJson);
}

/// `frame` with side `name`'s array replaced by `with`.
fn set_side(frame: &str, name: &str, with: &str) -> String {
    let key = format!("\"{name}\":[");
    let start = frame.find(&key).unwrap() + key.len() - 1;
    let end = start + frame[start..].find(']').unwrap() + 1;
    format!("{}{with}{}", &frame[..start], &frame[end..])
}

#[test]
fn other_messages_are_classified_not_guessed() {
    let chart = r#"{"response_type":"DATA","channel":"CHART","data":{"quote_currency":"KRW"}}"#;
    assert_eq!(
        adapter().decode(Frame::text(chart.as_bytes()), R).unwrap(),
        Decoded::Unsupported {
            message_type: "CHART".into()
        }
    );
    let new = r#"{"response_type":"NOTICE"}"#;
    assert_eq!(
        adapter().decode(Frame::text(new.as_bytes()), R).unwrap(),
        Decoded::Unsupported {
            message_type: "NOTICE".into()
        }
    );
    // An empty side of a ticker: null best price, so no quote on that side.
    let ticker = r#"{"response_type":"DATA","channel":"TICKER","data":{"quote_currency":"KRW","target_currency":"BTC","timestamp":1790134177835,"last":"1","ask_best_price":null,"ask_best_qty":"0","bid_best_price":"1","bid_best_qty":"2","id":"1790134177835001"}}"#;
    let t = tick(ticker, R);
    assert_eq!((t.ask_price, t.ask_qty), (None, None));
    assert_eq!((t.bid_price, t.bid_qty), (Some(d("1")), Some(d("2"))));
    // A configured set refuses other pairs.
    let mut config = AdapterConfig::default();
    config.validation.check_time_window = false;
    config.instruments = Some(std::sync::Arc::new(
        [Instrument::parse("ETH-KRW").unwrap()]
            .into_iter()
            .collect(),
    ));
    let got = CoinoneAdapter::new(config).decode(Frame::text(ticker.as_bytes()), R);
    assert_eq!(got.unwrap_err().reason, Reason::UnknownInstrument);
}

#[test]
fn symbols_and_topics_map_both_ways() {
    let btc = Instrument::parse("BTC-KRW").unwrap();
    assert_eq!(native_symbol(&btc), "KRW/BTC");
    assert_eq!(parse_native_symbol("KRW/BTC"), Some(btc.clone()));
    for bad in ["krw/btc", "KRW-BTC", "KRW/", "/BTC", "KRW/BTC/X"] {
        assert_eq!(parse_native_symbol(bad), None, "{bad}");
    }
    assert_eq!(
        topic(&btc),
        r#"{"quote_currency":"KRW","target_currency":"BTC"}"#
    );
    let table = crate::exchange::reference::Reference::none();
    let two = [btc, Instrument::parse("XRP-KRW").unwrap()];
    let r = crate::exchange::profile::SubscribeRequest {
        instruments: &two,
        channels: &["TICKER", "TRADE"],
        ticket: "t",
        options: &crate::exchange::profile::Options::default(),
        reference: &table,
        first_id: 7,
    };
    let subs = subscribe::subscribe(&r).unwrap();
    assert_eq!(subs.len(), 4, "one frame per instrument and channel");
    assert_eq!(
        subs[3],
        r#"{"request_type":"SUBSCRIBE","channel":"TRADE","topic":{"quote_currency":"KRW","target_currency":"XRP"}}"#
    );
    let unsubs = subscribe::unsubscribe(&r).unwrap();
    assert_eq!(
        unsubs[0],
        r#"{"request_type":"UNSUBSCRIBE","channel":"TICKER","topic":{"quote_currency":"KRW","target_currency":"BTC"}}"#
    );
    for s in subs.iter().chain(&unsubs) {
        serde_json::from_str::<serde_json::Value>(s).unwrap();
    }
}

#[test]
fn every_profile_channel_decodes() {
    for spec in profile::PROFILE.channels {
        let frame = format!(
            "{{\"response_type\":\"DATA\",\"channel\":\"{}\",\"data\":{{}}}}",
            spec.name
        );
        // An empty data object: a missing field, not an unsupported message.
        assert_eq!(
            reason(frame.as_bytes()),
            Reason::MissingField,
            "{}",
            spec.name
        );
    }
}

/// Decodes `frame` on both paths; `true` when the book layout read it.
fn both_paths(frame: &str) -> (Result<Decoded, Rejection>, Result<Decoded, Rejection>, bool) {
    let a = no_window();
    let fast = a.decode(Frame::text(frame.as_bytes()), R);
    let general = a.decode_general(frame, R);
    let used = layout::orderbook(frame, &mut data::DataFields::default()).is_some();
    (fast, general, used)
}

#[test]
fn the_book_layout_reads_documented_books_as_the_general_path_does() {
    for short in [false, true] {
        for levels in [0, 1, 2, 16] {
            let frame = book(levels, short, 1_693_560_155_038_001, 1_693_560_155_038);
            let (fast, general, used) = both_paths(&frame);
            assert!(used, "{frame}");
            assert_eq!(fast, general, "{frame}");
            assert_eq!(fast.is_ok(), levels > 0, "{frame}");
        }
    }
    // Another key order, whitespace, a number for a price: the general path decides.
    let frame = book(16, false, 1_693_560_155_038_001, 1_693_560_155_038);
    for other in [
        frame.replacen(
            "{\"response_type\":\"DATA\",\"channel\":\"ORDERBOOK\"",
            "{\"channel\":\"ORDERBOOK\",\"response_type\":\"DATA\"",
            1,
        ),
        frame.replacen(",\"asks\"", ", \"asks\"", 1),
        frame.replacen("\"price\":\"1000\"", "\"price\":1000", 1),
        frame.replacen("\"qty\":\"0.990\"", "\"qty\":\"0.99\\u0030\"", 1),
    ] {
        let (fast, general, used) = both_paths(&other);
        assert!(!used, "{other}");
        assert_eq!(fast, general);
    }
    let Some(text) = sample("nemanull__ws_orderbook_TRIMMED.jsonl") else {
        return;
    };
    for frame in lines(&text) {
        let kept = frame.replace(",\"…\"", "").replace("\"…\",", "");
        for f in [frame, kept.as_str()] {
            let (fast, general, used) = both_paths(f);
            assert_eq!(fast, general, "{f}");
            assert_eq!(
                used,
                f == kept,
                "the probe's layout is the documented one: {f}"
            );
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 500, ..Default::default() })]

    /// Any prices, sizes, depth, id and format: the best ask is the last ask and the best bid
    /// the first, exactly as written; the tick round-trips through both wire formats.
    #[test]
    fn books_round_trip(
        asks in proptest::collection::vec((1u64..1_000_000_000_000, 0u32..10, 0u64..u64::MAX / 2, 0u32..18), 1..20),
        bids in proptest::collection::vec((1u64..1_000_000_000_000, 0u32..10, 0u64..u64::MAX / 2, 0u32..18), 1..20),
        id in 1_000_000_000_000_000i64..9_000_000_000_000_000,
        stale_ms in 0i64..20_000,
        short in proptest::bool::ANY,
    ) {
        let level = |&(pm, ps, qm, qs): &(u64, u32, u64, u32)| {
            (Decimal::from_i128_with_scale(i128::from(pm), ps), Decimal::from_i128_with_scale(i128::from(qm), qs))
        };
        let asks: Vec<(Decimal, Decimal)> = asks.iter().map(level).collect();
        let bids: Vec<(Decimal, Decimal)> = bids.iter().map(level).collect();
        let (p, q, a, b) = if short { ("p", "q", "a", "b") } else { ("price", "qty", "asks", "bids") };
        let side = |levels: &[(Decimal, Decimal)]| -> String {
            let items: Vec<String> = levels.iter().map(|(pr, qt)| format!("{{\"{p}\":\"{pr}\",\"{q}\":\"{qt}\"}}")).collect();
            format!("[{}]", items.join(","))
        };
        let ts = id / 1000 - stale_ms;
        let (r, c, dd, qc, tc, t, i) = if short { ("r", "c", "d", "qc", "tc", "t", "i") } else { ("response_type", "channel", "data", "quote_currency", "target_currency", "timestamp", "id") };
        let frame = format!(
            "{{\"{r}\":\"DATA\",\"{c}\":\"ORDERBOOK\",\"{dd}\":{{\"{qc}\":\"KRW\",\"{tc}\":\"ETH\",\"{t}\":{ts},\"{i}\":\"{id}\",\"{a}\":{},\"{b}\":{}}}}}",
            side(&asks), side(&bids)
        );
        let (best_ask, best_bid) = (asks[asks.len() - 1], bids[0]);
        let (fast, general, used) = both_paths(&frame);
        proptest::prop_assert!(used);
        proptest::prop_assert_eq!(&fast, &general);
        match fast {
            Ok(Decoded::Tick(tick)) => {
                proptest::prop_assert_eq!(tick.ask_price, Some(best_ask.0));
                proptest::prop_assert_eq!(tick.ask_qty, Some(best_ask.1));
                proptest::prop_assert_eq!(tick.bid_price, Some(best_bid.0));
                proptest::prop_assert_eq!(tick.bid_qty, Some(best_bid.1));
                proptest::prop_assert_eq!(tick.sequence, Some(id));
                proptest::prop_assert_eq!(tick.snapshot, stale_ms > 0);
                for format in [crate::codec::Format::Avro, crate::codec::Format::Proto] {
                    let mut out = Vec::new();
                    crate::codec::Encoder { format, schema_id: 1 }.encode(&tick, &mut out).unwrap();
                    let (_, back) = crate::codec::Encoder::decode(format, &out).unwrap();
                    proptest::prop_assert_eq!(&back, &tick);
                }
            }
            Err(e) => {
                // Only a crossed book (or an unrepresentable mid) may be refused.
                proptest::prop_assert!(
                    matches!(e.reason, Reason::CrossedBook | Reason::UnrepresentableValue),
                    "{e}"
                );
                proptest::prop_assert!(e.reason != Reason::CrossedBook || best_bid.0 > best_ask.0);
            }
            Ok(other) => proptest::prop_assert!(false, "{other:?}"),
        }
    }

    /// Any trade's values come out exactly.
    #[test]
    fn trades_round_trip(
        (pm, ps) in (1u64..u64::MAX / 2, 0u32..12),
        (qm, qs) in (0u64..u64::MAX / 2, 0u32..12),
        id in 0i64..i64::MAX,
        maker in proptest::bool::ANY,
    ) {
        let price = Decimal::from_i128_with_scale(i128::from(pm), ps);
        let qty = Decimal::from_i128_with_scale(i128::from(qm), qs);
        let frame = format!(
            "{{\"response_type\":\"DATA\",\"channel\":\"TRADE\",\"data\":{{\"quote_currency\":\"KRW\",\"target_currency\":\"BTC\",\"id\":\"{id}\",\"timestamp\":1790134177835,\"price\":\"{price}\",\"qty\":\"{qty}\",\"is_seller_maker\":{maker}}}}}"
        );
        let tick = match no_window().decode(Frame::text(frame.as_bytes()), R) {
            Ok(Decoded::Tick(t)) => t,
            other => return Err(proptest::test_runner::TestCaseError::fail(format!("{other:?}"))),
        };
        proptest::prop_assert_eq!(tick.last_price, price);
        proptest::prop_assert_eq!(tick.last_qty, Some(qty));
        proptest::prop_assert_eq!(tick.sequence, Some(id));
        proptest::prop_assert_eq!(tick.trade_side, Some(if maker { TradeSide::Buy } else { TradeSide::Sell }));
    }
    /// Books with bytes overwritten, inserted or deleted: the layout and the general path
    /// give the same result, whichever reads the frame.
    #[test]
    fn mutated_books_decode_alike_on_both_paths(
        short in proptest::bool::ANY,
        edits in proptest::collection::vec((proptest::prelude::any::<proptest::sample::Index>(), proptest::prelude::any::<u8>(), 0..3u8), 1..4),
    ) {
        let mut bytes = book(16, short, 1_693_560_155_038_001, 1_693_560_155_038).into_bytes();
        for (at, byte, op) in edits {
            let i = at.index(bytes.len().max(1));
            match op {
                0 if i < bytes.len() => bytes[i] = byte,
                1 => bytes.insert(i.min(bytes.len()), byte),
                _ if i < bytes.len() => { bytes.remove(i); }
                _ => {}
            }
        }
        let Ok(frame) = String::from_utf8(bytes) else { return Ok(()) };
        let (fast, general, _) = both_paths(&frame);
        proptest::prop_assert_eq!(fast, general, "{}", frame);
    }
}

/// A refusal answering a request is pinned on the instruments the request names: the profile's
/// symbol is the word Coinone's request names the pair by (its target currency).
#[test]
fn a_request_names_its_instrument_by_the_profiles_symbol() {
    let pairs: Vec<Instrument> = ["BTC-KRW", "ETH-KRW"]
        .iter()
        .map(|i| Instrument::parse(i).unwrap())
        .collect();
    let reference = crate::exchange::reference::Reference::none();
    let sent = (profile::PROFILE.subscribe)(&crate::exchange::profile::SubscribeRequest {
        instruments: &pairs[..1],
        channels: &["TRADE"],
        ticket: "t",
        options: &crate::exchange::profile::Options::default(),
        reference: &reference,
        first_id: 1,
    })
    .unwrap();
    let candidates = pairs
        .iter()
        .filter_map(|i| (profile::PROFILE.symbol)(i, &reference).map(|s| (i, s)));
    assert_eq!(
        crate::exchange::session::named(&sent[0], candidates),
        [pairs[0].clone()]
    );
}
