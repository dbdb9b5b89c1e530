//! End to end over real captures (`../shared/samples`, see PROVENANCE.txt): the frames of a
//! real Binance spot capture (hftbacktest), an Upbit SIMPLE trade/orderbook capture and a
//! Bithumb legacy transaction capture (and Coinone's probe frames) go through the adapters at
//! their captured receive times,
//! onto tansu as Confluent-framed Avro with the contract's keys, through `tickflow cache`, into
//! redis-server. Redis must then hold, for every key, the newest last trade and the newest best
//! bid/offer of the frames (an oracle computed from the decoded ticks alone), with exact values.
//! Each test prints SKIP and passes when the samples or the services are absent.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::cache::{assert_redis_holds, cache, config, newest_of};
use common::run::{get, wait_for};
use common::shared_sample;
use common::sr::produce;
use common::stack::{Broker, RedisServer};
use redis::AsyncCommands;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tickflow::cache::contract::Part;
use tickflow::codec::{Encoder, Format};
use tickflow::exchange::{
    Adapter, AdapterConfig, BinanceAdapter, BithumbAdapter, Decoded, Frame, SymbolTable,
    UpbitAdapter,
};
use tickflow::model::{EventKind, Exchange, Tick};

/// `(receive µs, frame)` of each line: hftbacktest's `<ns> <frame>`, or cryptofeed's
/// `<secs>: <frame>` with binary frames as Python `b'...'` literals.
fn frames(text: &str) -> Vec<(i64, String)> {
    text.lines()
        .filter_map(|line| {
            if let Some((ts, rest)) = line.split_once(": ") {
                // cryptofeed: seconds with a fraction, read as integer µs (test-only parsing).
                let (secs, frac) = ts.split_once('.').unwrap_or((ts, "0"));
                let micros: i64 = format!("{frac:0<6}")[..6].parse().ok()?;
                let at = secs.parse::<i64>().ok()? * 1_000_000 + micros;
                let frame = rest
                    .strip_prefix("b'")
                    .and_then(|r| r.strip_suffix('\''))
                    .unwrap_or(rest);
                return Some((at, frame.to_owned()));
            }
            let (ns, frame) = line.split_once(' ')?;
            Some((ns.parse::<i64>().ok()? / 1000, frame.to_owned()))
        })
        .collect()
}

/// Every tick the adapter makes of the sample, in frame order.
fn decode_all(adapter: &dyn Adapter, sample: &str) -> Option<Vec<Tick>> {
    let text = std::fs::read_to_string(shared_sample(sample)?).unwrap();
    let mut ticks = Vec::new();
    for (received, frame) in frames(&text) {
        match adapter.decode(Frame::binary(frame.as_bytes()), received) {
            Ok(Decoded::Tick(t)) => ticks.push(t),
            Ok(Decoded::Ticks(ts)) => ticks.extend(ts),
            Ok(_) => {}
            Err(r) => panic!("{sample}: {r} for {frame:.120}"),
        }
    }
    Some(ticks)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_captures_reach_redis_as_last_trade_and_best_bid_offer() {
    let test = "real_captures_reach_redis";
    let config_default = AdapterConfig::default();
    let binance = BinanceAdapter::new(
        config_default.clone(),
        Arc::new(SymbolTable::bundled_binance().unwrap()),
    );
    let samples: [(&dyn Adapter, &str); 3] = [
        (
            &binance,
            "binance/hftbacktest__spot_btcusdt_20240808_head3000.txt",
        ),
        (
            &UpbitAdapter::new(config_default.clone()),
            "upbit/cryptofeed__UPBIT.ws.62.0",
        ),
        (
            &BithumbAdapter::new(config_default),
            "bithumb/cryptofeed__BITHUMB.ws.1.0",
        ),
    ];
    let mut ticks = Vec::new();
    for (adapter, sample) in samples {
        let Some(t) = decode_all(adapter, sample) else {
            return;
        };
        ticks.extend(t);
    }
    let count = |kind| ticks.iter().filter(|t| t.kind == kind).count();
    // 518 + 304 + 7 trades, 2200 + 145 best bid/offers.
    assert_eq!(
        (count(EventKind::Trade), count(EventKind::BestBidOffer)),
        (829, 2345)
    );
    let (Some(broker), Some(redis)) = (Broker::start(test), RedisServer::start(test)) else {
        return;
    };
    let app = config(&broker, &redis, "cache-samples");
    common::fill::create_topics(&app).await;
    let encoder = Encoder {
        format: Format::Avro,
        schema_id: app.schema_id,
    };
    let messages: Vec<(String, Vec<u8>)> = ticks
        .iter()
        .map(|t| {
            let mut value = Vec::new();
            encoder.encode(t, &mut value).unwrap();
            (t.key(), value)
        })
        .collect();
    produce(&broker.bootstrap, "ticks.v1", &messages);
    let c = cache(&app).await;
    wait_for(
        "every message written to redis",
        Duration::from_secs(60),
        || get(&c.stats.acknowledged) >= messages.len() as u64,
    )
    .await;
    let stats = c.finish().await;
    assert_eq!(get(&stats.poison), 0);

    let newest = newest_of(ticks.iter().cloned());
    assert_redis_holds(&redis, &newest).await;
    // The real BTC-USDT capture: the last trade and the last bookTicker of the file, both in
    // one hash, each with its own age.
    let mut r = tickflow::cache::connect(&redis.url(), false).await.unwrap();
    let h: HashMap<String, String> = r.hgetall("px:{BTC-USDT}:BINANCE").await.unwrap();
    let last = |kind| {
        ticks
            .iter()
            .rev()
            .find(|t| t.kind == kind && t.instrument.as_str() == "BTC-USDT")
            .unwrap()
    };
    let (trade, book) = (last(EventKind::Trade), last(EventKind::BestBidOffer));
    assert_eq!(h["last_price"], trade.last_price.to_string());
    assert_eq!(h["trade_id"], trade.sequence.unwrap().to_string());
    assert_eq!(h["bid_price"], book.bid_price.unwrap().to_string());
    assert_eq!(h["book_update_id"], book.sequence.unwrap().to_string());
    assert!(
        !h.contains_key("book_ts_us"),
        "spot bookTicker has no exchange time"
    );
    // Every venue got both parts where its sample has both.
    let parts_of = |key: &str| newest[key].keys().copied().collect::<Vec<_>>();
    assert_eq!(parts_of("px:{BTC-USDT}:BINANCE"), [Part::Trade, Part::Book]);
    assert_eq!(parts_of("px:{LAMB-KRW}:UPBIT"), [Part::Trade, Part::Book]);
    assert_eq!(parts_of("px:{GOM2-KRW}:BITHUMB"), [Part::Trade]);
    let gom2: HashMap<String, String> = r.hgetall("px:{GOM2-KRW}:BITHUMB").await.unwrap();
    // The capture's last GOM2 trade: 7.525 x 556, a sell, at 08:43:43.188333 KST.
    assert_eq!(
        (gom2["last_price"].as_str(), gom2["last_qty"].as_str()),
        ("7.525", "556")
    );
    assert_eq!(
        (gom2["trade_side"].as_str(), gom2["trade_ts_us"].as_str()),
        ("SELL", "1622591023188333")
    );
}

/// Coinone's real frames (the probe's ticker, trade and books; the books with the probe's
/// elision marks taken out, leaving the levels it kept in wire order) go through the adapter at
/// a receive time just after them, onto tansu, through `tickflow cache`, into redis-server:
/// Redis holds the newest last trade and best bid/offer of `BTC-KRW` on `COINONE`, exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coinone_real_frames_reach_redis() {
    let test = "coinone_real_frames_reach_redis";
    let mut adapter_config = AdapterConfig::default();
    adapter_config.validation.check_time_window = false;
    let adapter = tickflow::exchange::adapter_for(
        Exchange::Coinone,
        adapter_config,
        &tickflow::exchange::reference::References::default(),
    )
    .unwrap();
    let mut ticks = Vec::new();
    for sample in [
        "coinone/nemanull__ws_ticker_BTC.json",
        "coinone/nemanull__ws_trade_BTC.json",
        "coinone/nemanull__ws_orderbook_TRIMMED.jsonl",
    ] {
        let Some(path) = shared_sample(sample) else {
            return;
        };
        let text = std::fs::read_to_string(path).unwrap();
        for line in text.lines().filter(|l| l.starts_with('{')) {
            let frame = line.replace(",\"…\"", "").replace("\"…\",", "");
            match adapter.decode(Frame::text(frame.as_bytes()), 1_790_134_180_000_000) {
                Ok(d) => ticks.extend(d.ticks().iter().cloned()),
                Err(r) => panic!("{sample}: {r} for {frame:.120}"),
            }
        }
    }
    let kinds: std::collections::BTreeSet<&str> = ticks.iter().map(|t| t.kind.as_str()).collect();
    assert_eq!(kinds.len(), 3, "ticker, trade and book: {kinds:?}");
    assert!(ticks.iter().all(|t| t.exchange == Exchange::Coinone));
    let (Some(broker), Some(redis)) = (Broker::start(test), RedisServer::start(test)) else {
        return;
    };
    let app = config(&broker, &redis, "cache-coinone-samples");
    common::fill::create_topics(&app).await;
    let encoder = Encoder {
        format: Format::Avro,
        schema_id: app.schema_id,
    };
    let messages: Vec<(String, Vec<u8>)> = ticks
        .iter()
        .map(|t| {
            let mut value = Vec::new();
            encoder.encode(t, &mut value).unwrap();
            (t.key(), value)
        })
        .collect();
    produce(&broker.bootstrap, "ticks.v1", &messages);
    let c = cache(&app).await;
    wait_for(
        "every message written to redis",
        Duration::from_secs(60),
        || get(&c.stats.acknowledged) >= messages.len() as u64,
    )
    .await;
    let stats = c.finish().await;
    assert_eq!(get(&stats.poison), 0);
    assert_redis_holds(&redis, &newest_of(ticks.iter().cloned())).await;
    let mut r = tickflow::cache::connect(&redis.url(), false).await.unwrap();
    let h: HashMap<String, String> = r.hgetall("px:{BTC-KRW}:COINONE").await.unwrap();
    assert!(!h.is_empty(), "no COINONE hash");
}
