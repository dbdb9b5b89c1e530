//! Hostile input: every case ends in a typed rejection with the right reason, never a panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{adapter_with, decode, fixture};
use proptest::prelude::*;
use tickflow::exchange::{AdapterConfig, Decoded, Frame};
use tickflow::model::{EventKind, Exchange, Reason, TradeSide};

const UPBIT_R: i64 = 1_763_615_720_180_000;
const BINANCE_R: i64 = 1_763_615_720_010_000;
const BITHUMB_R: i64 = 1_580_267_924_350_000;

fn text(path: &str) -> String {
    String::from_utf8(fixture(path)).unwrap()
}

fn reason(exchange: Exchange, frame: &[u8], received: i64) -> Reason {
    match decode(exchange, frame, received) {
        Err(r) => {
            assert!(!r.detail.is_empty());
            assert!(
                r.detail.len() < 600,
                "detail must not dump payloads: {}",
                r.detail.len()
            );
            r.reason
        }
        Ok(other) => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn upbit_hostile_table() {
    let t = text("upbit/ticker_default.json");
    let cases: Vec<(String, Reason)> = vec![
        (t[..t.len() / 2].to_owned(), Reason::MalformedJson),
        (String::new(), Reason::MalformedJson),
        ("null".into(), Reason::WrongType),
        ("[1,2]".into(), Reason::WrongType),
        (
            t.replace("\"trade_price\":143880000", "\"trade_price\":{\"v\":1}"),
            Reason::WrongType,
        ),
        (
            t.replace("\"trade_price\":143880000", "\"trade_price\":true"),
            Reason::WrongType,
        ),
        (
            t.replace("\"code\":\"KRW-BTC\"", "\"code\":42"),
            Reason::WrongType,
        ),
        (
            t.replace("\"trade_price\":143880000", "\"trade_price\":NaN"),
            Reason::MalformedJson,
        ),
        (
            t.replace("\"trade_price\":143880000", "\"trade_price\":Infinity"),
            Reason::MalformedJson,
        ),
        (
            t.replace("\"trade_price\":143880000", "\"trade_price\":\"NaN\""),
            Reason::InvalidDecimal,
        ),
        (
            t.replace("\"trade_price\":143880000", "\"trade_price\":-143880000"),
            Reason::NonPositivePrice,
        ),
        (
            t.replace("\"trade_price\":143880000", "\"trade_price\":0"),
            Reason::NonPositivePrice,
        ),
        (
            t.replace("\"trade_price\":143880000", "\"trade_price\":0E+5"),
            Reason::NonPositivePrice,
        ),
        (
            t.replace("\"trade_price\":143880000", "\"trade_price\":1e400"),
            Reason::InvalidDecimal,
        ),
        (
            t.replace(
                "\"trade_price\":143880000",
                "\"trade_price\":1438800001234567890123456789012",
            ),
            Reason::InvalidDecimal,
        ),
        (
            t.replace(
                "\"trade_price\":143880000",
                "\"trade_price\":1.0000000000000000001",
            ),
            Reason::UnrepresentableValue,
        ),
        (
            t.replace("\"trade_price\":143880000,", ""),
            Reason::MissingField,
        ),
        (t.replace("\"code\":\"KRW-BTC\",", ""), Reason::MissingField),
        (
            t.replace(",\"timestamp\":1763615720176", ""),
            Reason::MissingField,
        ),
        (
            t.replace("\"timestamp\":1763615720176", "\"timestamp\":-5"),
            Reason::InvalidTimestamp,
        ),
        (
            t.replace("\"KRW-BTC\"", "\"KRWBTC\""),
            Reason::UnknownInstrument,
        ),
        (
            t.replace("\"KRW-BTC\"", "\"krw-btc\""),
            Reason::UnknownInstrument,
        ),
        (
            t.replace("\"low_price\":142213000", "\"low_price\":150000000"),
            Reason::HighBelowLow,
        ),
        (
            t.replace("{\"type\"", "{\"tp\":1,\"type\""),
            Reason::MalformedJson,
        ), // duplicate key
        (
            t.replace(
                "\"type\":\"ticker\"",
                "\"type\":\"ticker\",\"ty\":\"ticker\"",
            ),
            Reason::MalformedJson,
        ),
    ];
    for (frame, want) in cases {
        assert_eq!(
            reason(Exchange::Upbit, frame.as_bytes(), UPBIT_R),
            want,
            "{frame:.120}"
        );
    }
}

#[test]
fn binance_hostile_table() {
    let t = text("binance/ticker_raw.json");
    let c = text("binance/ticker_combined.json");
    let cases: Vec<(String, Reason)> = vec![
        (t[..t.len() - 1].to_owned(), Reason::MalformedJson),
        (
            t.replace("\"c\":\"93577.45000000\"", "\"c\":\"NaN\""),
            Reason::InvalidDecimal,
        ),
        (
            t.replace("\"c\":\"93577.45000000\"", "\"c\":\"Infinity\""),
            Reason::InvalidDecimal,
        ),
        (
            t.replace("\"c\":\"93577.45000000\"", "\"c\":\"-1\""),
            Reason::NonPositivePrice,
        ),
        (
            t.replace("\"c\":\"93577.45000000\"", "\"c\":\"1,5\""),
            Reason::InvalidDecimal,
        ),
        (
            t.replace("\"c\":\"93577.45000000\"", "\"c\":\" 1\""),
            Reason::InvalidDecimal,
        ),
        (
            t.replace("\"c\":\"93577.45000000\"", "\"c\":[1]"),
            Reason::WrongType,
        ),
        (
            t.replace("\"c\":\"93577.45000000\",", ""),
            Reason::MissingField,
        ),
        (t.replace("\"s\":\"BTCUSDT\",", ""), Reason::MissingField),
        (t.replace("\"E\":1763615720001,", ""), Reason::MissingField),
        (
            t.replace("\"s\":\"BTCUSDT\"", "\"s\":\"BTCXYZ\""),
            Reason::UnknownInstrument,
        ),
        (
            t.replace("\"b\":\"93577.44000000\"", "\"b\":\"93600\""),
            Reason::CrossedBook,
        ),
        (
            t.replace("\"v\":\"21349.83711000\"", "\"v\":\"-1\""),
            Reason::NegativeQuantity,
        ),
        (
            t.replace("\"E\":1763615720001", "\"E\":123456789"),
            Reason::TimestampOutOfWindow,
        ),
        (
            c.replace("\"data\":{", "\"data\":[{").replace("}}", "}]}"),
            Reason::WrongType,
        ),
        (
            c.replace(
                "\"stream\":\"ethbtc@ticker\",",
                "\"stream\":\"ethbtc@ticker\",\"stream\":\"x@ticker\",",
            ),
            Reason::MalformedJson,
        ),
        (
            "{\"stream\":\"ethbtc@ticker\"}".into(),
            Reason::MissingField,
        ),
        // The malformed subscribe ack seen in a published sample (Python's None).
        (
            "{\n  \"result\": None,\n  \"id\": 1\n}".into(),
            Reason::MalformedJson,
        ),
    ];
    for (frame, want) in cases {
        assert_eq!(
            reason(Exchange::Binance, frame.as_bytes(), BINANCE_R),
            want,
            "{frame:.160}"
        );
    }
}

#[test]
fn bithumb_hostile_table() {
    let t = text("bithumb/legacy_ticker.json");
    let cases: Vec<(String, Reason)> = vec![
        (
            t.replace("\"date\":\"20200129\"", "\"date\":\"20201329\""),
            Reason::InvalidTimestamp,
        ),
        (
            t.replace("\"time\":\"121844\"", "\"time\":\"12:18:44\""),
            Reason::InvalidTimestamp,
        ),
        // The hand-made shape with an epoch in `date` and no `time` contradicts the docs.
        (
            t.replace(
                "\"date\":\"20200129\",\"time\":\"121844\"",
                "\"date\":\"1745539200000\"",
            ),
            Reason::MissingField,
        ),
        (
            t.replace("\"closePrice\":\"2317\"", "\"closePrice\":\"0\""),
            Reason::NonPositivePrice,
        ),
        (
            t.replace("\"closePrice\":\"2317\"", "\"closePrice\":\"\""),
            Reason::MissingField,
        ),
        (
            t.replace("\"closePrice\":\"2317\"", "\"closePrice\":2317.5.1"),
            Reason::MalformedJson,
        ),
        (t.replace("BTC_KRW", "BTCKRW"), Reason::UnknownInstrument),
        (
            t.replace("\"content\":{", "\"content\":{\"symbol\":\"ETH_KRW\","),
            Reason::MalformedJson,
        ),
    ];
    for (frame, want) in cases {
        assert_eq!(
            reason(Exchange::Bithumb, frame.as_bytes(), BITHUMB_R),
            want,
            "{frame:.160}"
        );
    }
}

#[test]
fn invalid_utf8_is_typed() {
    let mut bytes = fixture("upbit/ticker_default.json");
    bytes[20] = 0xff;
    for exchange in Exchange::ALL {
        assert_eq!(reason(exchange, &bytes, UPBIT_R), Reason::InvalidUtf8);
    }
}

#[test]
fn one_megabyte_frames() {
    // Over the default 64 KiB limit: refused before parsing.
    let mut big = text("binance/ticker_raw.json");
    big.insert_str(1, &format!("\"pad\":\"{}\",", "x".repeat(1 << 20)));
    for exchange in Exchange::ALL {
        assert_eq!(
            reason(exchange, big.as_bytes(), BINANCE_R),
            Reason::FrameTooLarge
        );
    }
    // With a 2 MiB limit the same frame parses (the padding is skipped, not kept).
    let config = AdapterConfig {
        max_frame_bytes: 2 << 20,
        ..Default::default()
    };
    let got =
        adapter_with(Exchange::Binance, config).decode(Frame::text(big.as_bytes()), BINANCE_R);
    assert!(matches!(got, Ok(Decoded::Tick(_))), "{got:?}");
    // 1 MiB of garbage and 1 MiB of opening brackets: typed errors, no stack overflow.
    let config = AdapterConfig {
        max_frame_bytes: 2 << 20,
        ..Default::default()
    };
    for exchange in Exchange::ALL {
        let a = adapter_with(exchange, config.clone());
        let garbage = vec![b'#'; 1 << 20];
        assert_eq!(
            a.decode(Frame::binary(&garbage), 0).unwrap_err().reason,
            Reason::MalformedJson
        );
        let deep = format!("{{\"x\":{}", "[".repeat(1 << 20));
        assert_eq!(
            a.decode(Frame::text(deep.as_bytes()), 0)
                .unwrap_err()
                .reason,
            Reason::MalformedJson
        );
    }
}

#[test]
fn deep_nesting() {
    for (exchange, path, r, field) in [
        (
            Exchange::Upbit,
            "upbit/ticker_default.json",
            UPBIT_R,
            "\"trade_price\":143880000",
        ),
        (
            Exchange::Binance,
            "binance/ticker_raw.json",
            BINANCE_R,
            "\"c\":\"93577.45000000\"",
        ),
        (
            Exchange::Bithumb,
            "bithumb/legacy_ticker.json",
            BITHUMB_R,
            "\"closePrice\":\"2317\"",
        ),
    ] {
        let nest = |depth| format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
        let name = field.split(':').next().unwrap();
        // Beyond 128 levels: malformed wherever it is, checked without recursion.
        let in_needed = text(path).replace(field, &format!("{name}:{}", nest(5000)));
        assert_eq!(
            reason(exchange, in_needed.as_bytes(), r),
            Reason::MalformedJson,
            "{path}"
        );
        let mut in_ignored = text(path);
        in_ignored.insert_str(1, &format!("\"zz\":{},", nest(5000)));
        assert_eq!(
            reason(exchange, in_ignored.as_bytes(), r),
            Reason::MalformedJson,
            "{path}"
        );
        // Within the bound: a needed field of the wrong shape is a type error...
        let shallow = text(path).replace(field, &format!("{name}:{}", nest(100)));
        assert_eq!(
            reason(exchange, shallow.as_bytes(), r),
            Reason::WrongType,
            "{path}"
        );
        // ...and an ignored field is checked, skipped and never built: the tick survives.
        let mut ignored = text(path);
        ignored.insert_str(1, &format!("\"zz\":{},", nest(100)));
        let got = decode(exchange, ignored.as_bytes(), r);
        assert!(matches!(got, Ok(Decoded::Tick(_))), "{path}: {got:?}");
    }
}

const FIXTURES: [(Exchange, &str); 17] = [
    (Exchange::Upbit, "upbit/ticker_default.json"),
    (Exchange::Upbit, "upbit/orderbook_simple.json"),
    (Exchange::Upbit, "upbit/orderbook_default.json"),
    (Exchange::Upbit, "upbit/trade_simple.json"),
    (Exchange::Binance, "binance/book_ticker_raw.json"),
    (Exchange::Binance, "binance/trade_combined.json"),
    (Exchange::Binance, "binance/agg_trade_raw.json"),
    (Exchange::Bithumb, "bithumb/legacy_transaction.json"),
    (Exchange::Bithumb, "bithumb/v1_orderbook.json"),
    (Exchange::Upbit, "upbit/ticker_simple.json"),
    (Exchange::Upbit, "upbit/trade_default.json"),
    (Exchange::Binance, "binance/ticker_raw.json"),
    (Exchange::Binance, "binance/ticker_combined.json"),
    (Exchange::Binance, "binance/mini_ticker_combined.json"),
    (Exchange::Bithumb, "bithumb/legacy_ticker.json"),
    (Exchange::Bithumb, "bithumb/v1_ticker.json"),
    (Exchange::Bithumb, "bithumb/v1_trade.json"),
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Arbitrary bytes never panic any adapter.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        for exchange in Exchange::ALL {
            let _ = decode(exchange, &bytes, 0);
        }
    }

    /// Valid frames with bytes overwritten, inserted or deleted never panic, and a frame that
    /// still decodes to a tick still passes validation (price > 0, high >= low, ...).
    #[test]
    fn mutated_frames_never_panic(
        which in 0..FIXTURES.len(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8), 1..6),
    ) {
        let (exchange, path) = FIXTURES[which];
        let mut frame = fixture(path);
        for (at, byte, op) in edits {
            let i = at.index(frame.len().max(1));
            match op {
                0 if i < frame.len() => frame[i] = byte,
                1 => frame.insert(i.min(frame.len()), byte),
                _ if i < frame.len() => { frame.remove(i); }
                _ => {}
            }
        }
        let mut config = AdapterConfig::default();
        config.validation.check_time_window = false;
        let ticks = match adapter_with(exchange, config).decode(Frame::text(&frame), 0) {
            Ok(Decoded::Tick(t)) => vec![t],
            Ok(Decoded::Ticks(ts)) => ts,
            _ => vec![],
        };
        for t in ticks {
            prop_assert!(t.last_price > rust_decimal::Decimal::ZERO);
            if let (Some(h), Some(l)) = (t.high_price, t.low_price) { prop_assert!(h >= l); }
            if let (Some(b), Some(a)) = (t.bid_price, t.ask_price) { prop_assert!(b <= a); }
            if t.kind == EventKind::BestBidOffer {
                let (b, a) = (t.bid_price.unwrap(), t.ask_price.unwrap());
                prop_assert_eq!(t.last_price, (b + a) / rust_decimal::Decimal::TWO);
            }
        }
    }

    /// Any trade id, price, size and side give exactly those values in a Binance trade; ids
    /// above 2^53 stay exact.
    #[test]
    fn binance_trade_values_are_exact(
        id in 0i64..i64::MAX,
        (pm, ps) in (1u64..u64::MAX, 0u32..12),
        (qm, qs) in (0u64..u64::MAX, 0u32..12),
        maker in any::<bool>(),
    ) {
        let price = rust_decimal::Decimal::from_i128_with_scale(i128::from(pm), ps);
        let qty = rust_decimal::Decimal::from_i128_with_scale(i128::from(qm), qs);
        let frame = text("binance/trade_combined.json")
            .replace("\"t\":12345", &format!("\"t\":{id}"))
            .replace("\"p\":\"0.001\"", &format!("\"p\":\"{price}\""))
            .replace("\"q\":\"100\"", &format!("\"q\":\"{qty}\""))
            .replace("\"m\":true", &format!("\"m\":{maker}"));
        match decode(Exchange::Binance, frame.as_bytes(), 1_763_615_720_010_000) {
            Ok(Decoded::Tick(t)) => {
                prop_assert_eq!((t.sequence, t.last_price, t.last_qty), (Some(id), price, Some(qty)));
                let side = if maker { TradeSide::Sell } else { TradeSide::Buy };
                prop_assert_eq!(t.trade_side, Some(side));
            }
            Err(r) => prop_assert!(matches!(r.reason, Reason::UnrepresentableValue), "{r}"),
            Ok(other) => prop_assert!(false, "{other:?}"),
        }
    }

    /// Any book: exact sides and an exact mid, or a crossed book refused.
    #[test]
    fn binance_book_ticker_values_are_exact(
        (bm, am, scale) in (1u64..1u64 << 50, 1u64..1u64 << 50, 0u32..10),
        update_id in 0i64..i64::MAX,
    ) {
        let d = |m: u64| rust_decimal::Decimal::from_i128_with_scale(i128::from(m), scale);
        let frame = text("binance/book_ticker_raw.json")
            .replace("\"b\":\"25.35190000\"", &format!("\"b\":\"{}\"", d(bm)))
            .replace("\"a\":\"25.36520000\"", &format!("\"a\":\"{}\"", d(am)))
            .replace("\"u\":400900217", &format!("\"u\":{update_id}"));
        match decode(Exchange::Binance, frame.as_bytes(), 1_763_615_720_010_000) {
            Ok(Decoded::Tick(t)) => {
                prop_assert!(bm <= am);
                prop_assert_eq!((t.bid_price, t.ask_price), (Some(d(bm)), Some(d(am))));
                prop_assert_eq!(t.last_price, ((d(bm) + d(am)) / rust_decimal::Decimal::TWO).normalize());
                prop_assert_eq!((t.sequence, t.event_ts_us), (Some(update_id), None));
            }
            Err(r) => {
                prop_assert!(bm > am);
                prop_assert_eq!(r.reason, Reason::CrossedBook);
            }
            Ok(other) => prop_assert!(false, "{other:?}"),
        }
    }

    /// Any decimal text in the price slot gives exactly that value or a typed rejection.
    #[test]
    fn price_token_is_exact_or_rejected(mantissa in 1u64..u64::MAX, scale in 0u32..24) {
        let value = rust_decimal::Decimal::from_i128_with_scale(i128::from(mantissa), scale);
        let frame = text("binance/ticker_raw.json")
            .replace("\"c\":\"93577.45000000\"", &format!("\"c\":\"{value}\""))
            .replace("\"h\":\"95520.00000000\"", "\"h\":\"99999999999999999\"")
            .replace("\"l\":\"92888.00000000\"", "\"l\":\"0.000000000000000001\"");
        match decode(Exchange::Binance, frame.as_bytes(), BINANCE_R) {
            Ok(Decoded::Tick(t)) => prop_assert_eq!(t.last_price, value),
            Err(r) => prop_assert!(matches!(r.reason, Reason::UnrepresentableValue), "{r}"),
            Ok(other) => prop_assert!(false, "{other:?}"),
        }
    }
}

/// Trades and best bid/offers (schema v3 kinds): each broken variant of a documented frame is
/// refused with its own reason.
#[test]
fn trade_and_book_hostile_table() {
    let r = 1_763_615_720_010_000;
    let trade = text("binance/trade_combined.json");
    let agg = text("binance/agg_trade_raw.json");
    let book = text("binance/book_ticker_raw.json");
    let upbit_book = text("upbit/orderbook_simple.json");
    let bithumb_book = text("bithumb/v1_orderbook.json");
    let legacy = text("bithumb/legacy_transaction.json");
    let swap = |t: &str, from: &str, to: &str| {
        assert!(t.contains(from), "{from} not in {t}");
        t.replacen(from, to, 1)
    };
    let cases: Vec<(Exchange, String, Reason)> = vec![
        (
            Exchange::Binance,
            swap(&trade, "\"p\":\"0.001\",", ""),
            Reason::MissingField,
        ),
        (
            Exchange::Binance,
            swap(&trade, "\"q\":\"100\"", "\"q\":\"-1\""),
            Reason::NegativeQuantity,
        ),
        (
            Exchange::Binance,
            swap(&trade, "\"p\":\"0.001\"", "\"p\":\"0\""),
            Reason::NonPositivePrice,
        ),
        (
            Exchange::Binance,
            swap(&trade, "\"m\":true", "\"m\":\"true\""),
            Reason::WrongType,
        ),
        (
            Exchange::Binance,
            swap(&trade, "\"m\":true,", ""),
            Reason::MissingField,
        ),
        (
            Exchange::Binance,
            swap(&trade, "\"t\":12345", "\"t\":1.5"),
            Reason::InvalidDecimal,
        ),
        (
            Exchange::Binance,
            swap(&trade, "\"t\":12345", "\"t\":99999999999999999999"),
            Reason::UnrepresentableValue,
        ),
        (
            Exchange::Binance,
            swap(&trade, "\"T\":1763615720000", "\"T\":-1"),
            Reason::InvalidTimestamp,
        ),
        (
            Exchange::Binance,
            swap(&trade, "\"E\":1763615720001", "\"E\":1663615720001"),
            Reason::TimestampOutOfWindow,
        ),
        (
            Exchange::Binance,
            swap(&trade, "\"e\":\"trade\"", "\"e\":\"aggTrade\""),
            Reason::EventMismatch,
        ),
        (
            Exchange::Binance,
            swap(&trade, "\"s\":\"BNBBTC\"", "\"s\":\"ETHBTC\""),
            Reason::SymbolMismatch,
        ),
        (
            Exchange::Binance,
            swap(&agg, "\"f\":100", "\"f\":106"),
            Reason::InvalidSequence,
        ),
        (
            Exchange::Binance,
            swap(&agg, "\"a\":12345,", ""),
            Reason::MissingField,
        ),
        (
            Exchange::Binance,
            swap(&book, "\"b\":\"25.35190000\"", "\"b\":\"25.4\""),
            Reason::CrossedBook,
        ),
        // An empty side is no best bid/offer: refused, not a price of zero or a guess.
        (
            Exchange::Binance,
            swap(&book, "\"b\":\"25.35190000\"", "\"b\":\"0.00000000\""),
            Reason::NonPositivePrice,
        ),
        (
            Exchange::Binance,
            swap(&book, "\"A\":\"40.66000000\"", "\"A\":\"x\""),
            Reason::InvalidDecimal,
        ),
        // On a combined stream the route says bookTicker (raw, no `u` is no known event).
        (
            Exchange::Binance,
            format!(
                "{{\"stream\":\"bnbusdt@bookTicker\",\"data\":{}}}",
                swap(&book, "\"u\":400900217,", "").trim()
            ),
            Reason::MissingField,
        ),
        (
            Exchange::Binance,
            swap(&book, "\"s\":\"BNBUSDT\"", "\"s\":\"NOPEUSDT\""),
            Reason::UnknownInstrument,
        ),
        (
            Exchange::Upbit,
            swap(&upbit_book, "\"obu\":[{", "\"obu\":[],\"x\":[{"),
            Reason::MissingField,
        ),
        (
            Exchange::Upbit,
            swap(&upbit_book, "\"obu\":[", "\"obu\":{\"a\":[").replacen("}],", "}]},", 1),
            Reason::WrongType,
        ),
        (
            Exchange::Upbit,
            swap(&upbit_book, "\"bp\":143880000,", ""),
            Reason::MissingField,
        ),
        (
            Exchange::Upbit,
            swap(&upbit_book, "\"bp\":143880000", "\"bp\":143990000"),
            Reason::CrossedBook,
        ),
        (
            Exchange::Upbit,
            swap(
                &upbit_book,
                "\"ap\":143890000,",
                "\"ap\":143890000,\"ap\":1,",
            ),
            Reason::MalformedJson,
        ),
        (
            Exchange::Upbit,
            swap(&upbit_book, "\"tms\":1763615720300,", ""),
            Reason::MissingField,
        ),
        (
            Exchange::Bithumb,
            swap(
                &bithumb_book,
                "\"1763615720300123\"",
                "\"999999999999999999\"",
            ),
            Reason::InvalidTimestamp,
        ),
        (
            Exchange::Bithumb,
            swap(&legacy, "\"buySellGb\":\"1\"", "\"buySellGb\":\"3\""),
            Reason::WrongType,
        ),
        (
            Exchange::Bithumb,
            swap(&legacy, "2025-11-20 14:15:20.123456", "2025-11-20T14:15:20"),
            Reason::InvalidTimestamp,
        ),
        (
            Exchange::Bithumb,
            swap(&legacy, "\"contQty\":\"0.0012\",", ""),
            Reason::MissingField,
        ),
        (
            Exchange::Bithumb,
            swap(&legacy, "\"list\":[{", "\"list\":[],\"x\":[{"),
            Reason::MissingField,
        ),
        (
            Exchange::Bithumb,
            swap(&legacy, "\"symbol\":\"BTC_KRW\"", "\"symbol\":\"BTCKRW\""),
            Reason::UnknownInstrument,
        ),
    ];
    for (i, (exchange, frame, want)) in cases.iter().enumerate() {
        assert_eq!(
            reason(*exchange, frame.as_bytes(), r + 190_000),
            *want,
            "case {i}: {frame}"
        );
    }
    // One bad trade in a list rejects the whole frame: nothing is half-published.
    let two = swap(
        &legacy,
        "]}}",
        ",{\"symbol\":\"BTC_KRW\",\"buySellGb\":\"2\",\"contPrice\":\"-1\",\"contQty\":\"1\",\"contDtm\":\"2025-11-20 14:15:20.2\"}]}}",
    );
    assert_eq!(
        reason(Exchange::Bithumb, two.as_bytes(), r + 190_000),
        Reason::NonPositivePrice
    );
}
