//! Table-driven adapter tests over frames written from each exchange's documented formats
//! (`tests/fixtures/<exchange>/`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{adapter_with, decode, fixture};
use serde_json::{Value, json};
use tickflow::exchange::{AdapterConfig, Control, Decoded, Frame};
use tickflow::model::{Exchange, Instrument, Reason};

/// What a fixture must decode to.
enum Expect {
    Tick(Value),
    Control(Control),
    Unsupported(&'static str),
    Reject(Reason),
}

fn check(exchange: Exchange, file: &str, received_us: i64, expect: Expect) {
    let got = decode(exchange, &fixture(file), received_us);
    match (got, expect) {
        (Ok(Decoded::Tick(tick)), Expect::Tick(mut want)) => {
            // Fields added in schemas v2 and v3 are null, and the quality flags (v4) false,
            // unless the expectation names them.
            for field in [
                "stream_type",
                "market_state",
                "delisting_date",
                "trade_side",
            ] {
                want.as_object_mut()
                    .unwrap()
                    .entry(field)
                    .or_insert(Value::Null);
            }
            for flag in tickflow::model::Flag::ALL {
                want.as_object_mut()
                    .unwrap()
                    .entry(flag.as_str())
                    .or_insert(Value::Bool(false));
            }
            assert_eq!(serde_json::to_value(&tick).unwrap(), want, "{file}");
        }
        (Ok(Decoded::Control(c)), Expect::Control(want)) => assert_eq!(c, want, "{file}"),
        (Ok(Decoded::Unsupported { message_type }), Expect::Unsupported(want)) => {
            assert_eq!(message_type, want, "{file}");
        }
        (Err(r), Expect::Reject(want)) => assert_eq!(r.reason, want, "{file}: {r}"),
        (got, _) => panic!("{file}: unexpected {got:?}"),
    }
}

fn upbit_ticker_json(received: i64) -> Value {
    json!({
        "exchange": "UPBIT", "instrument": "BTC-KRW", "native_symbol": "KRW-BTC", "kind": "TICKER",
        "last_price": "143880000", "last_qty": "0.00034731",
        "open_price": "143250000", "high_price": "144777000", "low_price": "142213000",
        "prev_close_price": "143250000", "change": "630000", "change_rate": "0.0043979058",
        "volume_24h_base": "2211.81766315", "volume_24h_quote": "318178155024.02875",
        "bid_price": null, "bid_qty": null, "ask_price": null, "ask_qty": null,
        "event_ts_us": 1_763_615_720_176_000i64, "trade_ts_us": 1_763_615_720_124_000i64,
        "sequence": null, "received_ts_us": received,
        "stream_type": "REALTIME", "market_state": "ACTIVE", "trade_side": "BUY"
    })
}

#[test]
fn upbit_frames() {
    let r = 1_763_615_720_180_000;
    check(
        Exchange::Upbit,
        "upbit/ticker_default.json",
        r,
        Expect::Tick(upbit_ticker_json(r)),
    );
    // SIMPLE keys give the very same tick.
    check(
        Exchange::Upbit,
        "upbit/ticker_simple.json",
        r,
        Expect::Tick(upbit_ticker_json(r)),
    );
    // Exponent notation, no signed fields (sign from `change`), nothing else: nulls, not zeros.
    check(
        Exchange::Upbit,
        "upbit/ticker_minimal_fall.json",
        1_763_615_721_010_000,
        Expect::Tick(json!({
            "exchange": "UPBIT", "instrument": "ETH-BTC", "native_symbol": "BTC-ETH",
            "kind": "TICKER", "last_price": "0.03291", "last_qty": null, "open_price": null,
            "high_price": null, "low_price": null, "prev_close_price": null,
            "change": "-0.00012", "change_rate": "-0.0036330608", "volume_24h_base": null,
            "volume_24h_quote": null, "bid_price": null, "bid_qty": null, "ask_price": null,
            "ask_qty": null, "event_ts_us": 1_763_615_721_000_000i64, "trade_ts_us": null,
            "sequence": null, "received_ts_us": 1_763_615_721_010_000i64,
            // The venue's snapshot: the flag says so for every venue alike (v4).
            "stream_type": "SNAPSHOT", "snapshot": true
        })),
    );
    check(
        Exchange::Upbit,
        "upbit/trade_default.json",
        1_763_615_720_230_000,
        Expect::Tick(json!({
            "exchange": "UPBIT", "instrument": "BTC-KRW", "native_symbol": "KRW-BTC",
            "kind": "TRADE", "last_price": "143880000", "last_qty": "0.00008428",
            "open_price": null, "high_price": null, "low_price": null,
            "prev_close_price": "143250000", "change": "630000", "change_rate": null,
            "volume_24h_base": null, "volume_24h_quote": null,
            "bid_price": "143880000", "bid_qty": "0.01202163",
            "ask_price": "143890000", "ask_qty": "0.04414411",
            "event_ts_us": 1_763_615_720_210_000i64, "trade_ts_us": 1_763_615_720_150_000i64,
            // 17 digits, above 2^53: exact.
            "sequence": 17_636_157_201_500_000i64, "received_ts_us": 1_763_615_720_230_000i64,
            "stream_type": "REALTIME", "trade_side": "SELL"
        })),
    );
    check(
        Exchange::Upbit,
        "upbit/trade_simple.json",
        1_763_615_722_400_000,
        Expect::Tick(json!({
            "exchange": "UPBIT", "instrument": "XRP-KRW", "native_symbol": "KRW-XRP",
            "kind": "TRADE", "last_price": "3150", "last_qty": "0.00000006",
            "open_price": null, "high_price": null, "low_price": null,
            "prev_close_price": "3121", "change": "29", "change_rate": null,
            "volume_24h_base": null, "volume_24h_quote": null, "bid_price": null,
            "bid_qty": null, "ask_price": null, "ask_qty": null,
            "event_ts_us": 1_763_615_722_301_000i64, "trade_ts_us": 1_763_615_722_280_000i64,
            "sequence": 17_636_157_222_800_001i64, "received_ts_us": 1_763_615_722_400_000i64,
            "stream_type": "REALTIME", "trade_side": "BUY"
        })),
    );
    let status = Control::Status {
        status: "UP".into(),
    };
    check(
        Exchange::Upbit,
        "upbit/status_up.json",
        r,
        Expect::Control(status),
    );
    check(
        Exchange::Upbit,
        "upbit/error_wrong_format.json",
        r,
        Expect::Reject(Reason::ExchangeError),
    );
    // Level 0 of the book, both formats; the mid price stands in the required last_price.
    let book = |native: &str, bid: &str, bid_qty: &str, ask: &str, ask_qty: &str, mid: &str| {
        json!({
            "exchange": "UPBIT", "instrument": "BTC-KRW", "native_symbol": native,
            "kind": "BEST_BID_OFFER", "last_price": mid, "last_qty": null,
            "open_price": null, "high_price": null, "low_price": null,
            "prev_close_price": null, "change": null, "change_rate": null,
            "volume_24h_base": null, "volume_24h_quote": null,
            "bid_price": bid, "bid_qty": bid_qty, "ask_price": ask, "ask_qty": ask_qty,
            "event_ts_us": 1_763_615_720_300_000i64, "trade_ts_us": null,
            "sequence": null, "received_ts_us": r,
        })
    };
    let mut simple = book(
        "KRW-BTC",
        "143880000",
        "0.01202163",
        "143890000",
        "0.04414411",
        "143885000",
    );
    simple["stream_type"] = json!("REALTIME");
    check(
        Exchange::Upbit,
        "upbit/orderbook_simple.json",
        r,
        Expect::Tick(simple),
    );
    let mut default = book(
        "KRW-BTC",
        "143880000",
        "0.03656812",
        "143890000",
        "0.10623869",
        "143885000",
    );
    default["stream_type"] = json!("SNAPSHOT");
    default["snapshot"] = json!(true);
    check(
        Exchange::Upbit,
        "upbit/orderbook_default.json",
        r,
        Expect::Tick(default),
    );
}

#[test]
fn upbit_binary_frames_decode_like_text() {
    let bytes = fixture("upbit/ticker_default.json");
    let a = adapter_with(Exchange::Upbit, AdapterConfig::default());
    let r = 1_763_615_720_180_000;
    assert_eq!(
        a.decode(Frame::binary(&bytes), r),
        a.decode(Frame::text(&bytes), r)
    );
}

fn binance_ticker_json(received: i64) -> Value {
    json!({
        "exchange": "BINANCE", "instrument": "BTC-USDT", "native_symbol": "BTCUSDT",
        "kind": "TICKER", "last_price": "93577.45", "last_qty": "0.0012",
        "open_price": "94812.01", "high_price": "95520", "low_price": "92888",
        "prev_close_price": "94812.01", "change": "-1234.56", "change_rate": "-0.01302",
        "volume_24h_base": "21349.83711", "volume_24h_quote": "2005835041.3975126",
        "bid_price": "93577.44", "bid_qty": "2.51004", "ask_price": "93577.45",
        "ask_qty": "0.30411", "event_ts_us": 1_763_615_720_001_000i64, "trade_ts_us": null,
        "sequence": 5_443_412_345i64, "received_ts_us": received
    })
}

#[test]
fn binance_frames() {
    let r = 1_763_615_720_010_000;
    check(
        Exchange::Binance,
        "binance/ticker_raw.json",
        r,
        Expect::Tick(binance_ticker_json(r)),
    );
    let eth = json!({
        "exchange": "BINANCE", "instrument": "ETH-BTC", "native_symbol": "ETHBTC",
        "kind": "TICKER", "last_price": "0.03277", "last_qty": "0.061",
        "open_price": "0.03256", "high_price": "0.03301", "low_price": "0.0324",
        "prev_close_price": "0.03256", "change": "0.00021", "change_rate": "0.00645",
        "volume_24h_base": "11287.542", "volume_24h_quote": "368.11287342",
        "bid_price": "0.03276", "bid_qty": "12.753", "ask_price": "0.03277", "ask_qty": "1.839",
        "event_ts_us": 1_763_615_720_002_000i64, "trade_ts_us": null,
        "sequence": 512_398_765i64, "received_ts_us": r
    });
    check(
        Exchange::Binance,
        "binance/ticker_combined.json",
        r,
        Expect::Tick(eth.clone()),
    );
    // `data` before `stream` still routes correctly.
    check(
        Exchange::Binance,
        "binance/ticker_data_first.json",
        r,
        Expect::Tick(eth),
    );
    let sol = json!({
        "exchange": "BINANCE", "instrument": "SOL-USDT", "native_symbol": "SOLUSDT",
        "kind": "TICKER", "last_price": "139.42", "last_qty": null, "open_price": "141.1",
        "high_price": "143.87", "low_price": "136.5", "prev_close_price": null, "change": null,
        "change_rate": null, "volume_24h_base": "3345098.113", "volume_24h_quote": "470020145.3194",
        "bid_price": null, "bid_qty": null, "ask_price": null, "ask_qty": null,
        "event_ts_us": 1_763_615_720_003_000i64, "trade_ts_us": null, "sequence": null,
        "received_ts_us": r
    });
    check(
        Exchange::Binance,
        "binance/mini_ticker_raw.json",
        r,
        Expect::Tick(sol.clone()),
    );
    check(
        Exchange::Binance,
        "binance/mini_ticker_combined.json",
        r,
        Expect::Tick(sol),
    );
    // An empty book side is null, not a price of zero; L = -1 means no trade id.
    let Ok(Decoded::Tick(t)) = decode(
        Exchange::Binance,
        &fixture("binance/ticker_empty_book.json"),
        r,
    ) else {
        panic!("empty book ticker must decode")
    };
    assert_eq!(
        (t.bid_price, t.bid_qty, t.ask_price, t.ask_qty, t.sequence),
        (None, None, None, None, None)
    );
    assert_eq!(t.volume_24h_base, Some(rust_decimal::Decimal::ZERO));

    check(
        Exchange::Binance,
        "binance/subscribe_ack.json",
        r,
        Expect::Control(Control::SubscribeAck { id: Some(1) }),
    );
    check(
        Exchange::Binance,
        "binance/server_shutdown.json",
        r,
        Expect::Control(Control::ServerShutdown),
    );
    check(
        Exchange::Binance,
        "binance/error_invalid_request.json",
        r,
        Expect::Reject(Reason::ExchangeError),
    );
    // No event time on spot: null, not the receive time.
    check(
        Exchange::Binance,
        "binance/book_ticker_raw.json",
        r,
        Expect::Tick(json!({
            "exchange": "BINANCE", "instrument": "BNB-USDT", "native_symbol": "BNBUSDT",
            "kind": "BEST_BID_OFFER", "last_price": "25.35855", "last_qty": null,
            "open_price": null, "high_price": null, "low_price": null,
            "prev_close_price": null, "change": null, "change_rate": null,
            "volume_24h_base": null, "volume_24h_quote": null,
            "bid_price": "25.3519", "bid_qty": "31.21", "ask_price": "25.3652", "ask_qty": "40.66",
            "event_ts_us": null, "trade_ts_us": null, "sequence": 400_900_217i64,
            "received_ts_us": r,
        })),
    );
    let trade = |kind_side: &str| {
        json!({
            "exchange": "BINANCE", "instrument": "BNB-BTC", "native_symbol": "BNBBTC",
            "kind": "TRADE", "last_price": "0.001", "last_qty": "100",
            "open_price": null, "high_price": null, "low_price": null,
            "prev_close_price": null, "change": null, "change_rate": null,
            "volume_24h_base": null, "volume_24h_quote": null,
            "bid_price": null, "bid_qty": null, "ask_price": null, "ask_qty": null,
            "event_ts_us": 1_763_615_720_001_000i64, "trade_ts_us": 1_763_615_720_000_000i64,
            "sequence": 12345, "received_ts_us": r, "trade_side": kind_side,
        })
    };
    // `m: true`: the buyer was the maker, so the taker sold.
    check(
        Exchange::Binance,
        "binance/trade_combined.json",
        r,
        Expect::Tick(trade("SELL")),
    );
    check(
        Exchange::Binance,
        "binance/agg_trade_raw.json",
        r,
        Expect::Tick(trade("BUY")),
    );
    check(
        Exchange::Binance,
        "binance/kline_combined.json",
        r,
        Expect::Unsupported("kline_1m"),
    );
}

/// Both of Binance's error forms are `exchange_error` with the code and message (the nested
/// one was dead-lettered as `unsupported_message` "unknown"), and the combined envelope's
/// `!serverShutdown` is the control message the raw event is.
#[test]
fn binance_error_forms_and_server_shutdown_in_both_envelopes() {
    let r = 1_700_000_000_000_000;
    for (frame, text) in [
        (
            r#"{"code":2,"msg":"Invalid request: unknown variant","id":1}"#,
            "2: Invalid request: unknown variant",
        ),
        (
            r#"{"error":{"code":2,"msg":"Invalid symbol: BTCUSDX"},"id":1}"#,
            "2: Invalid symbol: BTCUSDX",
        ),
        (
            r#"{"id":7,"error":{"msg":"Too many requests","code":-1003}}"#,
            "-1003: Too many requests",
        ),
    ] {
        let got = decode(Exchange::Binance, frame.as_bytes(), r);
        match got {
            Err(e) => {
                assert_eq!(e.reason, Reason::ExchangeError, "{frame}");
                assert_eq!(e.detail, text, "{frame}");
            }
            other => panic!("{frame}: {other:?}"),
        }
    }
    let duplicated = r#"{"error":{"code":2,"code":3,"msg":"x"},"id":1}"#;
    assert!(decode(Exchange::Binance, duplicated.as_bytes(), r).is_err());
    for frame in [
        r#"{"e":"serverShutdown","E":1700000000000}"#,
        r#"{"stream":"!serverShutdown","data":{"e":"serverShutdown","E":1700000000000}}"#,
        r#"{"data":{"e":"serverShutdown","E":1700000000000},"stream":"!serverShutdown"}"#,
    ] {
        match decode(Exchange::Binance, frame.as_bytes(), r) {
            Ok(Decoded::Control(Control::ServerShutdown)) => {}
            other => panic!("{frame}: {other:?}"),
        }
    }
}

#[test]
fn binance_stream_and_payload_must_agree() {
    let r = 1_763_615_720_010_000;
    let frame = String::from_utf8(fixture("binance/ticker_combined.json")).unwrap();
    let wrong_symbol = frame.replace("ethbtc@ticker", "bnbbtc@ticker");
    let got = decode(Exchange::Binance, wrong_symbol.as_bytes(), r).unwrap_err();
    assert_eq!(got.reason, Reason::SymbolMismatch);
    let wrong_event = frame.replace("ethbtc@ticker", "ethbtc@miniTicker");
    let got = decode(Exchange::Binance, wrong_event.as_bytes(), r).unwrap_err();
    assert_eq!(got.reason, Reason::EventMismatch);
    // Stream names are lower case by the docs, but upper case has been seen: accept it.
    let upper = frame.replace("ethbtc@ticker", "ETHBTC@ticker");
    assert!(matches!(
        decode(Exchange::Binance, upper.as_bytes(), r),
        Ok(Decoded::Tick(_))
    ));
    let unknown = frame
        .replace("ethbtc@ticker", "zzzbtc@ticker")
        .replace("ETHBTC", "ZZZBTC");
    let got = decode(Exchange::Binance, unknown.as_bytes(), r).unwrap_err();
    assert_eq!(got.reason, Reason::UnknownInstrument);
}

#[test]
fn bithumb_frames() {
    // 2020-01-29 12:18:44 KST = 03:18:44 UTC.
    let r = 1_580_267_924_000_000 + 350_000;
    check(
        Exchange::Bithumb,
        "bithumb/legacy_ticker.json",
        r,
        Expect::Tick(json!({
            "exchange": "BITHUMB", "instrument": "BTC-KRW", "native_symbol": "BTC_KRW",
            "kind": "TICKER", "last_price": "2317", "last_qty": null, "open_price": "2302",
            "high_price": "2344", "low_price": "2272", "prev_close_price": "2326",
            "change": "15", "change_rate": "0.0065", "volume_24h_base": "1222314.51355788",
            "volume_24h_quote": "2831915078.07065789", "bid_price": null, "bid_qty": null,
            "ask_price": null, "ask_qty": null, "event_ts_us": 1_580_267_924_000_000i64,
            "trade_ts_us": null, "sequence": null, "received_ts_us": r
        })),
    );
    // A non-24H window: its volumes are not 24 h volumes, so they stay null.
    // 2025-11-20 00:00:05 KST is still 2025-11-19 in UTC.
    let mid = decode(
        Exchange::Bithumb,
        &fixture("bithumb/legacy_ticker_mid.json"),
        1_763_564_405_100_000,
    );
    let Ok(Decoded::Tick(t)) = mid else {
        panic!("{mid:?}")
    };
    assert_eq!(t.event_ts_us, Some(1_763_564_405_000_000));
    assert_eq!((t.volume_24h_base, t.volume_24h_quote), (None, None));
    assert_eq!(t.instrument, Instrument::parse("ETH-KRW").unwrap());

    check(
        Exchange::Bithumb,
        "bithumb/legacy_connected.json",
        r,
        Expect::Control(Control::Connected),
    );
    check(
        Exchange::Bithumb,
        "bithumb/legacy_filter_registered.json",
        r,
        Expect::Control(Control::SubscribeAck { id: None }),
    );
    check(
        Exchange::Bithumb,
        "bithumb/legacy_invalid_filter.json",
        r,
        Expect::Reject(Reason::ExchangeError),
    );
    // 2025-11-20 14:15:20.123456 KST = 05:15:20.123456 UTC.
    let r = 1_763_615_720_200_000;
    let got = decode(
        Exchange::Bithumb,
        &fixture("bithumb/legacy_transaction.json"),
        r,
    );
    let Ok(Decoded::Ticks(ticks)) = got else {
        panic!("{got:?}")
    };
    let mut want = json!({
        "exchange": "BITHUMB", "instrument": "BTC-KRW", "native_symbol": "BTC_KRW",
        "kind": "TRADE", "last_price": "143880000", "last_qty": "0.0012",
        "open_price": null, "high_price": null, "low_price": null,
        "prev_close_price": null, "change": null, "change_rate": null,
        "volume_24h_base": null, "volume_24h_quote": null,
        "bid_price": null, "bid_qty": null, "ask_price": null, "ask_qty": null,
        "event_ts_us": 1_763_615_720_123_456i64, "trade_ts_us": 1_763_615_720_123_456i64,
        "sequence": null, "received_ts_us": r, "trade_side": "SELL",
        "stream_type": null, "market_state": null, "delisting_date": null,
        "first_after_connect": false, "snapshot": false, "sequence_gap": false,
    });
    assert_eq!(ticks.len(), 1);
    assert_eq!(serde_json::to_value(&ticks[0]).unwrap(), want);
    // v1 orderbook: the timestamp in microseconds, as a string.
    want = json!({
        "exchange": "BITHUMB", "instrument": "BTC-KRW", "native_symbol": "KRW-BTC",
        "kind": "BEST_BID_OFFER", "last_price": "143901500", "last_qty": null,
        "open_price": null, "high_price": null, "low_price": null,
        "prev_close_price": null, "change": null, "change_rate": null,
        "volume_24h_base": null, "volume_24h_quote": null,
        "bid_price": "143901000", "bid_qty": "0.5", "ask_price": "143902000", "ask_qty": "0.0125",
        "event_ts_us": 1_763_615_720_300_123i64, "trade_ts_us": null,
        "sequence": null, "received_ts_us": r, "stream_type": "REALTIME",
    });
    check(
        Exchange::Bithumb,
        "bithumb/v1_orderbook.json",
        r,
        Expect::Tick(want),
    );

    let r1 = 1_763_615_720_200_000;
    let v1 = json!({
        "exchange": "BITHUMB", "instrument": "BTC-KRW", "native_symbol": "KRW-BTC",
        "kind": "TICKER", "last_price": "143901000", "last_qty": "0.0031",
        "open_price": "143300000", "high_price": "144800000", "low_price": "142200000",
        "prev_close_price": "143300000", "change": "601000", "change_rate": "0.0041939986",
        "volume_24h_base": "1023.0091", "volume_24h_quote": "147312000000.25",
        "bid_price": null, "bid_qty": null, "ask_price": null, "ask_qty": null,
        "event_ts_us": 1_763_615_720_180_000i64, "trade_ts_us": 1_763_615_720_100_000i64,
        "sequence": null, "received_ts_us": r1, "stream_type": "REALTIME", "trade_side": "BUY"
    });
    let mut with_state = v1.clone();
    with_state["market_state"] = json!("ACTIVE");
    check(
        Exchange::Bithumb,
        "bithumb/v1_ticker.json",
        r1,
        Expect::Tick(with_state),
    );
    // This SIMPLE ticker sends no `ab`.
    let mut no_side = v1.clone();
    no_side["trade_side"] = Value::Null;
    check(
        Exchange::Bithumb,
        "bithumb/v1_ticker_simple.json",
        r1,
        Expect::Tick(no_side),
    );
    // v1 trade ids arrive as strings and stay exact.
    let trade = decode(
        Exchange::Bithumb,
        &fixture("bithumb/v1_trade.json"),
        r1 + 50_000,
    );
    let Ok(Decoded::Tick(t)) = trade else {
        panic!("{trade:?}")
    };
    assert_eq!(t.sequence, Some(17_636_157_202_000_001));
    assert_eq!(t.exchange, Exchange::Bithumb);
}

#[test]
fn upbit_market_state_and_delisting_date_are_carried_and_checked() {
    let frame = String::from_utf8(fixture("upbit/ticker_default.json")).unwrap();
    let r = 1_763_615_720_180_000;
    let with = |from: &str, to: &str| {
        assert!(frame.contains(from), "{from}");
        decode(Exchange::Upbit, frame.replace(from, to).as_bytes(), r)
    };
    let Ok(Decoded::Tick(t)) = with(
        "\"delisting_date\":null",
        "\"delisting_date\":\"2026-12-31\"",
    ) else {
        panic!("a dated ticker is a tick")
    };
    assert_eq!(t.delisting_date, Some(20_818));
    let Ok(Decoded::Tick(t)) = with(
        "\"market_state\":\"ACTIVE\"",
        "\"market_state\":\"DELISTED\"",
    ) else {
        panic!("a delisted ticker is a tick")
    };
    assert_eq!(t.market_state, Some(tickflow::model::MarketState::Delisted));
    for (from, to, reason) in [
        (
            "\"delisting_date\":null",
            "\"delisting_date\":\"31/12/2026\"",
            Reason::InvalidTimestamp,
        ),
        (
            "\"delisting_date\":null",
            "\"delisting_date\":20261231",
            Reason::WrongType,
        ),
        (
            "\"market_state\":\"ACTIVE\"",
            "\"market_state\":\"HALTED\"",
            Reason::WrongType,
        ),
        (
            "\"stream_type\":\"REALTIME\"",
            "\"stream_type\":\"LIVE\"",
            Reason::WrongType,
        ),
    ] {
        assert_eq!(with(from, to).unwrap_err().reason, reason, "{to}");
    }
}

#[test]
fn configured_instruments_reject_the_rest() {
    let known = [Instrument::parse("ETH-KRW").unwrap()]
        .into_iter()
        .collect();
    let config = AdapterConfig {
        instruments: Some(std::sync::Arc::new(known)),
        ..Default::default()
    };
    let a = adapter_with(Exchange::Upbit, config);
    let got = a.decode(
        Frame::text(&fixture("upbit/ticker_default.json")),
        1_763_615_720_180_000,
    );
    assert_eq!(got.unwrap_err().reason, Reason::UnknownInstrument);
}

#[test]
fn old_frames_fall_outside_the_time_window() {
    // Received a day after the event: rejected by default, accepted when the check is off.
    let late = 1_763_615_720_176_000 + 86_400_000_000;
    let frame = fixture("upbit/ticker_default.json");
    let got = decode(Exchange::Upbit, &frame, late).unwrap_err();
    assert_eq!(got.reason, Reason::TimestampOutOfWindow);
    let mut config = AdapterConfig::default();
    config.validation.check_time_window = false;
    let a = adapter_with(Exchange::Upbit, config);
    assert!(matches!(
        a.decode(Frame::text(&frame), late),
        Ok(Decoded::Tick(_))
    ));
}

/// Each venue's symbol mapping, both ways, in one place (used by the adapters, the subscribe
/// builders and the simulator alike).
#[test]
fn venue_symbols_map_both_ways() {
    use tickflow::exchange::{bithumb, upbit};
    use tickflow::model::Instrument;
    let btc = Instrument::parse("BTC-KRW").unwrap();
    assert_eq!(upbit::market_code(&btc), "KRW-BTC");
    assert_eq!(upbit::parse_market_code("KRW-BTC"), Some(btc.clone()));
    assert_eq!(bithumb::legacy_symbol(&btc), "BTC_KRW");
    assert_eq!(bithumb::parse_legacy_symbol("BTC_KRW"), Some(btc));
    for bad in ["KRWBTC", "", "-", "KRW-", "BTC_KRW_X"] {
        assert_eq!(upbit::parse_market_code(bad), None, "{bad}");
    }
    assert_eq!(bithumb::parse_legacy_symbol("BTCKRW"), None);
}
