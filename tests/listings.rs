//! The venues' REST listings to canonical instrument records (issue 19, item 1): the real
//! samples in `../shared/samples/` (SKIP when absent) with exact counts, the documented forms,
//! and hostile variants, each row rejected alone with its reason and a body that cannot be
//! used refused whole (the caller keeps its last good listing).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use rust_decimal::Decimal;
use std::str::FromStr;
use tickflow::exchange::{binance, bithumb, upbit};
use tickflow::model::Exchange;
use tickflow::model::listing::{Listing, ListingError, ListingStatus, Notice, RowProblem};

const FETCHED: i64 = 1_754_603_741_167_000;

/// Each rejected row's symbol and problem, in order.
fn problems(listing: &Listing) -> Vec<(String, RowProblem)> {
    listing
        .rejected
        .iter()
        .map(|r| (r.native_symbol.clone(), r.problem))
        .collect()
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

#[test]
fn upbit_market_all_real_sample() {
    let Some(path) = common::shared_sample("upbit/btcdashboard__market_all_is_details.json") else {
        return;
    };
    let body = std::fs::read(path).unwrap();
    let listing = upbit::listing::decode(&body, FETCHED).unwrap();
    assert!(listing.rejected.is_empty(), "{:?}", listing.rejected);
    assert_eq!(listing.records.len(), 536);
    let quoted = |q: &str| {
        listing
            .records
            .iter()
            .filter(|r| r.instrument.quote() == q)
            .count()
    };
    assert_eq!(
        (quoted("KRW"), quoted("BTC"), quoted("USDT")),
        (183, 239, 114)
    );
    let mut warned: Vec<&str> = listing
        .records
        .iter()
        .filter(|r| r.notices.contains(&Notice::Warning))
        .map(|r| r.native_symbol.as_str())
        .collect();
    warned.sort_unstable();
    assert_eq!(
        warned,
        [
            "BTC-PUNDIAI",
            "BTC-QTCON",
            "BTC-STRIKE",
            "KRW-STRIKE",
            "USDT-QTCON"
        ]
    );
    let cautioned = listing
        .records
        .iter()
        .filter(|r| r.notices.iter().any(|n| *n != Notice::Warning))
        .count();
    assert_eq!(cautioned, 112);
    let btc = listing
        .records
        .iter()
        .find(|r| r.native_symbol == "KRW-BTC")
        .unwrap();
    assert_eq!(btc.instrument.as_str(), "BTC-KRW");
    assert_eq!(
        (btc.exchange, btc.status),
        (Exchange::Upbit, ListingStatus::Trading)
    );
    assert_eq!((btc.tick_size, btc.lot_size), (None, None));
    assert_eq!((btc.first_seen_us, btc.last_seen_us), (FETCHED, FETCHED));
}

#[test]
fn binance_exchange_info_real_samples() {
    if let Some(path) =
        common::shared_sample("binance/gocryptotrader__exchangeInfo_2025-08_25symbols.json")
    {
        let listing = binance::listing::decode(&std::fs::read(path).unwrap(), FETCHED).unwrap();
        assert!(listing.rejected.is_empty(), "{:?}", listing.rejected);
        assert_eq!(listing.records.len(), 25);
        let mut broken: Vec<&str> = listing
            .records
            .iter()
            .filter(|r| r.status == ListingStatus::Break)
            .map(|r| r.native_symbol.as_str())
            .collect();
        broken.sort_unstable();
        assert_eq!(
            broken,
            [
                "BCCBTC", "BNTETH", "DNTETH", "EOSETH", "HSRBTC", "ICNETH", "MCOBTC", "MCOETH",
                "OAXETH", "SNTETH", "WTCBTC", "WTCETH", "YOYOBTC"
            ]
        );
        let eth = &listing.records[0];
        assert_eq!(eth.instrument.as_str(), "ETH-BTC");
        assert_eq!(eth.native_symbol, "ETHBTC");
        assert_eq!(eth.status, ListingStatus::Trading);
        assert_eq!(eth.tick_size, Some(dec("0.00001")));
        assert_eq!(eth.lot_size, Some(dec("0.0001")));
    }
    // cryptofeed's capture: `<url> -> <time>: <body>` on its first line.
    if let Some(path) = common::shared_sample("binance/cryptofeed__BINANCE.0") {
        let text = std::fs::read_to_string(path).unwrap();
        let body = text.lines().next().unwrap().split_once(": ").unwrap().1;
        let listing = binance::listing::decode(body.as_bytes(), FETCHED).unwrap();
        assert!(listing.rejected.is_empty(), "{:?}", &listing.rejected[..3]);
        assert_eq!(listing.records.len(), 1_695);
        let trading = listing
            .records
            .iter()
            .filter(|r| r.status == ListingStatus::Trading)
            .count();
        assert_eq!((trading, 1_695 - trading), (1_262, 433));
        assert!(
            listing
                .records
                .iter()
                .all(|r| r.tick_size.is_some() && r.lot_size.is_some())
        );
        let btc = listing
            .records
            .iter()
            .find(|r| r.native_symbol == "BTCUSDT")
            .unwrap();
        assert_eq!(btc.instrument.as_str(), "BTC-USDT");
        assert_eq!(
            (btc.tick_size, btc.lot_size),
            (Some(dec("0.01")), Some(dec("0.00001")))
        );
    }
}

#[test]
fn bithumb_market_all_documented_form() {
    let body = r#"[{"market":"KRW-BTC","korean_name":"비트코인","english_name":"Bitcoin","market_warning":"NONE"},
                   {"market":"KRW-XYM","korean_name":"심볼","english_name":"Symbol","market_warning":"CAUTION"},
                   {"market":"BTC-ETH","korean_name":"이더리움","english_name":"Ethereum","market_warning":"NONE"}]"#;
    let listing = bithumb::listing::decode(body.as_bytes(), FETCHED).unwrap();
    let got: Vec<(Exchange, &str, Vec<Notice>)> = listing
        .records
        .iter()
        .map(|r| (r.exchange, r.instrument.as_str(), r.notices.clone()))
        .collect();
    assert_eq!(
        got,
        [
            (Exchange::Bithumb, "BTC-KRW", vec![]),
            (Exchange::Bithumb, "XYM-KRW", vec![Notice::Caution]),
            (Exchange::Bithumb, "ETH-BTC", vec![]),
        ]
    );
}

/// Error bodies, some with HTTP 200: the whole listing is refused, naming the venue's words.
#[test]
fn error_bodies_are_refused_whole() {
    for (name, venue) in [("upbit", Exchange::Upbit), ("bithumb", Exchange::Bithumb)] {
        let Some(path) =
            common::shared_sample(&format!("{name}/nemanull__rest_error_bodies.jsonl"))
        else {
            continue;
        };
        let text = std::fs::read_to_string(path).unwrap();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let got = match venue {
                Exchange::Upbit => upbit::listing::decode(line.as_bytes(), FETCHED),
                _ => bithumb::listing::decode(line.as_bytes(), FETCHED),
            };
            match got {
                Err(ListingError::Exchange(what)) => assert!(what.contains(": "), "{what}"),
                other => panic!("{name}: {line}: {other:?}"),
            }
        }
    }
    let got = binance::listing::decode(br#"{"code":-1121,"msg":"Invalid symbol."}"#, FETCHED);
    assert_eq!(
        got,
        Err(ListingError::Exchange("-1121: Invalid symbol.".into()))
    );
    for body in [
        &b""[..],
        b"[",
        b"null",
        b"\"x\"",
        b"{}",
        b"{\"symbols\":{}}",
        b"[1,2]",
    ] {
        assert!(upbit::listing::decode(body, FETCHED).is_err(), "{body:?}");
        assert!(binance::listing::decode(body, FETCHED).is_err(), "{body:?}");
    }
    assert_eq!(
        upbit::listing::decode(b"[]", FETCHED),
        Err(ListingError::Empty(0))
    );
    assert_eq!(
        binance::listing::decode(br#"{"symbols":[]}"#, FETCHED),
        Err(ListingError::Empty(0))
    );
}

/// Hostile rows: each rejected alone with its reason; the good rows are kept.
#[test]
fn bad_rows_are_rejected_alone() {
    let body = r#"[{"market":"KRW-BTC"},
                   {"market":"KRW-BTC"},
                   {"korean_name":"없음"},
                   {"market":7},
                   "KRW-ETH",
                   {"market":"krw-eth"},
                   {"market":"KRWETH"},
                   {"market":"KRW-币安人生"},
                   {"market":"KRW-XRP","market_event":{"warning":"yes"}},
                   {"market":"KRW-SOL","market_warning":"DANGER"},
                   {"market":"KRW-DOT","market_event":{"warning":null,"caution":{"PRICE_FLUCTUATIONS":null}}},
                   {"market":"KRW-ADA","market_event":{"warning":true,"caution":{"NEW_FLAG":true,"PRICE_FLUCTUATIONS":true}}}]"#;
    let listing = upbit::listing::decode(body.as_bytes(), FETCHED).unwrap();
    let kept: Vec<&str> = listing
        .records
        .iter()
        .map(|r| r.instrument.as_str())
        .collect();
    // Notices are extra information: an unknown level is a caution, null is absent.
    assert_eq!(kept, ["BTC-KRW", "SOL-KRW", "DOT-KRW", "ADA-KRW"]);
    assert_eq!(listing.records[1].notices, [Notice::Caution]);
    assert!(listing.records[2].notices.is_empty());
    assert_eq!(
        listing.records[3].notices,
        [Notice::Warning, Notice::Caution, Notice::PriceFluctuations]
    );
    assert_eq!(
        problems(&listing),
        [
            ("KRW-BTC".to_owned(), RowProblem::Duplicate),
            ("?".to_owned(), RowProblem::MissingField),
            ("?".to_owned(), RowProblem::WrongType),
            ("?".to_owned(), RowProblem::WrongType),
            ("krw-eth".to_owned(), RowProblem::UnknownInstrument),
            ("KRWETH".to_owned(), RowProblem::UnknownInstrument),
            ("KRW-币安人生".to_owned(), RowProblem::UnknownInstrument),
            ("KRW-XRP".to_owned(), RowProblem::WrongType),
        ]
    );

    let body = r#"{"symbols":[
        {"symbol":"BTCUSDT","status":"TRADING","baseAsset":"BTC","quoteAsset":"USDT",
         "filters":[{"filterType":"PRICE_FILTER","tickSize":"0.01000000"},{"filterType":"LOT_SIZE","stepSize":"0.00001000"}]},
        {"symbol":"币安人生USDT","status":"TRADING","baseAsset":"币安人生","quoteAsset":"USDT","filters":[]},
        {"symbol":"ETHUSDT","status":"DELISTED_MAYBE","baseAsset":"ETH","quoteAsset":"USDT"},
        {"symbol":"BNBUSDT","status":"HALT","baseAsset":"BNB","quoteAsset":"USDT","filters":[{"filterType":"PRICE_FILTER","tickSize":"-1"}]},
        {"symbol":"XRPUSDT","status":"CANCEL_ONLY","baseAsset":"XRP","quoteAsset":"USDT","filters":[{"filterType":"PRICE_FILTER","tickSize":"0.00000000"}]},
        {"symbol":"SOLUSDT","status":"HALT","baseAsset":"SOL","quoteAsset":"USDC"},
        {"symbol":"ADAUSDT","status":5,"baseAsset":"ADA","quoteAsset":"USDT"},
        {"status":"TRADING","baseAsset":"DOT","quoteAsset":"USDT"},
        {"symbol":"DOGEUSDT","status":"HALT","baseAsset":"DOGE","quoteAsset":"USDT","filters":"none"},
        {"symbol":"TRXUSDT","status":"HALT","baseAsset":"TRX","quoteAsset":"USDT","filters":[{"filterType":"LOT_SIZE","stepSize":"1e400"}]},
        7,
        {"symbol":"LTCUSDT","status":"HALT","baseAsset":"LTC","quoteAsset":"USDT","filters":[{"filterType":"PRICE_FILTER","tickSize":"0.000000000000000000000000000015"}]},
        {"symbol":"LINKUSDT","status":"HALT","baseAsset":"LINK","quoteAsset":"USDT","filters":[{"filterType":"PRICE_FILTER","tickSize":"+0.01"}]},
        {"symbol":"UNIUSDT","status":"HALT","baseAsset":"UNI","quoteAsset":"USDT","filters":[{"filterType":"LOT_SIZE","stepSize":"0.000_01"}]},
        {"symbol":"AVAXUSDT","status":"HALT","baseAsset":"AVAX","quoteAsset":"USDT","filters":[{"filterType":"PRICE_FILTER","minPrice":"0.01"}]},
        ["ATOMUSDT","TRADING","ATOM","USDT",null]]}"#;
    let listing = binance::listing::decode(body.as_bytes(), FETCHED).unwrap();
    let kept: Vec<(&str, ListingStatus, Option<Decimal>)> = listing
        .records
        .iter()
        .map(|r| (r.instrument.as_str(), r.status, r.tick_size))
        .collect();
    assert_eq!(
        kept,
        [
            ("BTC-USDT", ListingStatus::Trading, Some(dec("0.01"))),
            ("XRP-USDT", ListingStatus::CancelOnly, None),
        ]
    );
    assert_eq!(
        problems(&listing),
        [
            ("币安人生USDT".to_owned(), RowProblem::UnknownInstrument),
            ("ETHUSDT".to_owned(), RowProblem::UnknownStatus),
            ("BNBUSDT".to_owned(), RowProblem::InvalidDecimal),
            ("SOLUSDT".to_owned(), RowProblem::UnknownInstrument),
            ("ADAUSDT".to_owned(), RowProblem::WrongType),
            ("?".to_owned(), RowProblem::MissingField),
            ("DOGEUSDT".to_owned(), RowProblem::WrongType),
            ("TRXUSDT".to_owned(), RowProblem::InvalidDecimal),
            ("?".to_owned(), RowProblem::WrongType),
            // 30 fractional digits: not rounded to a size it is not.
            ("LTCUSDT".to_owned(), RowProblem::InvalidDecimal),
            ("LINKUSDT".to_owned(), RowProblem::InvalidDecimal),
            ("UNIUSDT".to_owned(), RowProblem::InvalidDecimal),
            ("AVAXUSDT".to_owned(), RowProblem::MissingField),
            // An array is not a symbol row, whatever it holds.
            ("?".to_owned(), RowProblem::WrongType),
        ]
    );
    assert!(listing.rejected.iter().all(|r| !r.detail.is_empty()));
}

/// A hostile payload is never quoted back whole: messages name its JSON kind or clip it.
#[test]
fn messages_never_carry_a_whole_payload() {
    let big = "x".repeat(100_000);
    let bodies = [
        format!("\"{big}\""),
        format!("{{\"symbols\":\"{big}\"}}"),
        format!("[[{{\"symbol\":\"{big}\"}}],null,null]"),
        format!("{{\"code\":-1,\"msg\":\"{big}\"}}"),
    ];
    for body in &bodies {
        let e = binance::listing::decode(body.as_bytes(), FETCHED).unwrap_err();
        assert!(e.to_string().len() < 400, "{}", &e.to_string()[..400]);
        let e = upbit::listing::decode(body.as_bytes(), FETCHED).unwrap_err();
        assert!(e.to_string().len() < 400, "{}", &e.to_string()[..400]);
    }
    let rows = format!(
        "{{\"symbols\":[\"{big}\",{{\"symbol\":\"{big}\",\"status\":\"TRADING\",\"baseAsset\":\"B\",\"quoteAsset\":\"Q\"}},\
         {{\"symbol\":\"BQ\",\"status\":\"TRADING\",\"baseAsset\":\"B\",\"quoteAsset\":\"Q\"}}]}}"
    );
    let listing = binance::listing::decode(rows.as_bytes(), FETCHED).unwrap();
    assert_eq!(listing.records.len(), 1);
    for r in &listing.rejected {
        assert!(
            r.native_symbol.len() <= 200 && r.detail.len() < 400,
            "{r:?}"
        );
    }
}
