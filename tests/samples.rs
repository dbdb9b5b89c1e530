//! Real captured frames and documented examples from `../shared/samples` (see its
//! PROVENANCE.txt). Each test prints a SKIP line and passes when the folder is absent.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::shared_sample;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::sync::Arc;
use tickflow::exchange::{
    Adapter, AdapterConfig, BinanceAdapter, BithumbAdapter, Control, Decoded, Frame, SymbolTable,
    UpbitAdapter,
};
use tickflow::model::{EventKind, Reason};

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

/// cryptofeed lines: `<unix secs>: <frame>` where binary frames are Python `b'...'` literals.
fn cryptofeed_frames(text: &str) -> Vec<(i64, String)> {
    text.lines()
        .filter_map(|line| {
            let (ts, rest) = line.split_once(": ")?;
            let secs: f64 = ts.parse().ok()?; // test-only: a capture timestamp, not money
            let frame = rest
                .strip_prefix("b'")
                .and_then(|r| r.strip_suffix('\''))
                .unwrap_or(rest)
                .to_owned();
            Some(((secs * 1e6) as i64, frame))
        })
        .collect()
}

/// A symbol table from cryptofeed's capture of the live exchangeInfo (`url -> ts: {json}`).
fn live_binance_table() -> Option<SymbolTable> {
    let path = shared_sample("binance/cryptofeed__BINANCE.0")?;
    let text = std::fs::read_to_string(path).unwrap();
    let first = text.lines().next().unwrap();
    let json = &first[first.find('{').unwrap()..];
    Some(SymbolTable::from_exchange_info(json).unwrap())
}

fn no_time_window() -> AdapterConfig {
    let mut c = AdapterConfig::default();
    c.validation.check_time_window = false;
    c
}

#[test]
fn upbit_real_capture_trades_decode_exactly() {
    let Some(path) = shared_sample("upbit/cryptofeed__UPBIT.ws.62.0") else {
        return;
    };
    let frames = cryptofeed_frames(&std::fs::read_to_string(path).unwrap());
    // Frames carry the capture's receive time, so the default time window applies.
    let adapter = UpbitAdapter::new(AdapterConfig::default());
    let mut outcome: BTreeMap<String, usize> = BTreeMap::new();
    let mut exponent_checked = 0;
    for (received, frame) in &frames {
        // Upbit sends JSON in binary frames.
        match adapter.decode(Frame::binary(frame.as_bytes()), *received) {
            Ok(Decoded::Tick(t)) => {
                assert_eq!(t.kind, EventKind::Trade);
                assert!(t.sequence.is_some() && t.trade_ts_us.is_some(), "{frame}");
                // `cp` is unsigned; the sign comes from `c` (both frames are FALLs).
                if frame.contains("\"cp\":6E-8") {
                    assert!(frame.contains("\"c\":\"FALL\""), "{frame}");
                    assert_eq!(t.change, Some(d("-0.00000006")), "{frame}");
                    exponent_checked += 1;
                }
                *outcome.entry("tick".into()).or_default() += 1;
            }
            Ok(Decoded::Unsupported { message_type }) => {
                *outcome.entry(message_type).or_default() += 1
            }
            other => panic!("{other:?} for {frame}"),
        }
    }
    let trades = frames
        .iter()
        .filter(|(_, f)| f.contains("\"ty\":\"trade\""))
        .count();
    assert_eq!(outcome.get("tick"), Some(&trades), "{outcome:?}");
    assert_eq!(trades, 304);
    assert!(
        outcome.get("orderbook").copied().unwrap_or(0) > 100,
        "{outcome:?}"
    );
    assert_eq!(exponent_checked, 2);
}

#[test]
fn upbit_documented_ticker_transcript() {
    let Some(path) = shared_sample("upbit/jkorf__Tickers_transcript.txt") else {
        return;
    };
    let text = std::fs::read_to_string(path).unwrap();
    let json = &text[text.find("\n= ").unwrap() + 3..];
    let t = match UpbitAdapter::new(no_time_window()).decode(Frame::text(json.trim().as_bytes()), 0)
    {
        Ok(Decoded::Tick(t)) => t,
        other => panic!("{other:?}"),
    };
    assert_eq!(t.instrument.as_str(), "ETH-KRW");
    assert_eq!(t.last_price, d("36929"));
    assert_eq!(t.change_rate, Some(d("-0.0082180744")));
    assert_eq!(t.last_qty, Some(d("0.00006314")));
    assert_eq!(t.volume_24h_quote, Some(d("8320.40577449")));
}

#[test]
fn binance_live_exchange_info_builds_the_symbol_table() {
    let Some(table) = live_binance_table() else {
        return;
    };
    assert!(table.len() > 1500, "{}", table.len());
    for (symbol, canonical) in [
        ("BNBBTC", "BNB-BTC"),
        ("ETHBTC", "ETH-BTC"),
        ("RUNEEUR", "RUNE-EUR"),
    ] {
        assert_eq!(table.get(symbol).unwrap().instrument.as_str(), canonical);
    }
    let Some(path) = shared_sample("binance/nautilus__rest_exchange_info_response.json") else {
        return;
    };
    let small = SymbolTable::from_exchange_info(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(small.get("ETHBTC").unwrap().instrument.as_str(), "ETH-BTC");
}

fn binance(
    file: &str,
    config: AdapterConfig,
) -> Option<Result<Decoded, tickflow::model::Rejection>> {
    let table = live_binance_table()?;
    let path = shared_sample(&format!("binance/{file}"))?;
    let text = std::fs::read_to_string(path).unwrap();
    let adapter = BinanceAdapter::new(config, Arc::new(table));
    Some(adapter.decode(Frame::text(text.trim().as_bytes()), 0))
}

#[test]
fn binance_sample_tickers() {
    let Some(got) = binance("xchange__testTickerEvent.json", no_time_window()) else {
        return;
    };
    let Ok(Decoded::Tick(t)) = got else {
        panic!("{got:?}")
    };
    assert_eq!(
        (t.instrument.as_str(), t.last_price),
        ("ETH-BTC", d("0.091772"))
    );
    assert_eq!(
        (t.change, t.change_rate),
        (Some(d("-0.002717")), Some(d("-0.02875")))
    );
    assert_eq!(t.sequence, Some(22_120_714));

    // Testnet data with absurd high/low: still consistent, so accepted as sent.
    let got = binance("andreyt__ticker.json", no_time_window()).unwrap();
    let Ok(Decoded::Tick(t)) = got else {
        panic!("{got:?}")
    };
    assert_eq!(
        (t.last_price, t.high_price, t.low_price),
        (d("94160"), Some(d("187440.9")), Some(d("21917.3")))
    );

    let got = binance("andreyt__miniTicker.json", no_time_window()).unwrap();
    let Ok(Decoded::Tick(t)) = got else {
        panic!("{got:?}")
    };
    assert_eq!(
        (t.instrument.as_str(), t.volume_24h_quote),
        ("BTC-USDT", Some(d("3065280135.2811397")))
    );

    // The docs example has E=123456789 (1970): outside any live time window...
    let got = binance(
        "nautilus__ws_spot_ticker_24hr.json",
        AdapterConfig::default(),
    )
    .unwrap();
    assert_eq!(got.unwrap_err().reason, Reason::TimestampOutOfWindow);
    // ...and otherwise well-formed: P "250.00" percent is a 2.5 fraction.
    let got = binance("nautilus__ws_spot_ticker_24hr.json", no_time_window()).unwrap();
    let Ok(Decoded::Tick(t)) = got else {
        panic!("{got:?}")
    };
    assert_eq!(
        (t.instrument.as_str(), t.change_rate),
        ("BNB-BTC", Some(d("2.5")))
    );

    // Python's `None` in a subscribe ack is not JSON.
    let got = binance("andreyt__result_MALFORMED.json", AdapterConfig::default()).unwrap();
    assert_eq!(got.unwrap_err().reason, Reason::MalformedJson);
}

#[test]
fn binance_transcript_with_mismatched_symbol_is_rejected() {
    let Some(table) = live_binance_table() else {
        return;
    };
    let Some(path) = shared_sample("binance/jkorf__Ticker_transcript.txt") else {
        return;
    };
    let text = std::fs::read_to_string(path).unwrap();
    let payload = &text[text.find("\n= ").unwrap() + 3..];
    let adapter = BinanceAdapter::new(no_time_window(), Arc::new(table));
    // Subscribed to btcusdt@ticker, payload says BNBBTC: which one is true is unknowable.
    let got = adapter.decode(Frame::text(payload.trim().as_bytes()), 0);
    assert_eq!(got.unwrap_err().reason, Reason::SymbolMismatch);
}

#[test]
fn binance_combined_capture_routes_every_stream() {
    let Some(table) = live_binance_table() else {
        return;
    };
    let Some(path) = shared_sample("binance/cryptofeed__BINANCE.ws.1.0") else {
        return;
    };
    let adapter = BinanceAdapter::new(AdapterConfig::default(), Arc::new(table.clone()));
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for (received, frame) in cryptofeed_frames(&std::fs::read_to_string(path).unwrap()) {
        match adapter.decode(Frame::text(frame.as_bytes()), received) {
            Ok(Decoded::Unsupported { message_type }) => {
                *kinds.entry(message_type).or_default() += 1
            }
            other => panic!("{other:?} for {frame}"),
        }
    }
    for kind in ["depth@100ms", "bookTicker", "kline_1m", "aggTrade"] {
        assert!(kinds.contains_key(kind), "{kinds:?}");
    }
    // gocryptotrader's mixed file: the ticker (upper-case stream name) decodes; the rest is
    // classified, never an error.
    let Some(path) = shared_sample("binance/gocryptotrader__wsHandleData.jsonl") else {
        return;
    };
    let adapter = BinanceAdapter::new(no_time_window(), Arc::new(table));
    let text = std::fs::read_to_string(path).unwrap();
    let mut ticks = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match adapter.decode(Frame::text(line.as_bytes()), 0) {
            Ok(Decoded::Tick(t)) => {
                assert_eq!(t.instrument.as_str(), "BNB-BTC");
                ticks += 1;
            }
            Ok(Decoded::Unsupported { .. }) => {}
            other => panic!("{other:?} for {line:.100}"),
        }
    }
    assert_eq!(ticks, 1);
}

#[test]
fn bithumb_samples() {
    if let Some(path) = shared_sample("bithumb/cryptofeed__BITHUMB.ws.1.0") {
        let adapter = BithumbAdapter::new(AdapterConfig::default());
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for (received, frame) in cryptofeed_frames(&std::fs::read_to_string(path).unwrap()) {
            let key = match adapter.decode(Frame::text(frame.as_bytes()), received) {
                Ok(Decoded::Control(Control::Connected)) => "connected".to_owned(),
                Ok(Decoded::Control(Control::SubscribeAck { .. })) => "ack".to_owned(),
                Ok(Decoded::Unsupported { message_type }) => message_type,
                other => panic!("{other:?} for {frame}"),
            };
            *seen.entry(key).or_default() += 1;
        }
        assert_eq!((seen["connected"], seen["ack"]), (1, 1), "{seen:?}");
        assert!(seen["transaction"] >= 3, "{seen:?}");
    }
    if let Some(path) = shared_sample("bithumb/mctrader__ws_ticker_BTC_KRW.jsonl") {
        // Hand-made frames with an epoch `date` and no `time` contradict the docs: rejected
        // with a reason, not guessed at.
        let adapter = BithumbAdapter::new(no_time_window());
        for line in std::fs::read_to_string(path).unwrap().lines() {
            let got = adapter.decode(Frame::text(line.as_bytes()), 0).unwrap_err();
            assert_eq!(got.reason, Reason::MissingField, "{got}");
            assert!(got.detail.contains("time"), "{got}");
        }
    }
}
