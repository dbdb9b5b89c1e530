//! Deterministic companion to `pipeline`: runs the same per-frame work a fixed number of
//! times so callgrind can count instructions per frame, which do not depend on how busy the
//! (shared, noisy) machine is. Use `scripts/instructions.sh`; run directly it does nothing.
//! Arguments: `<case> <frames>`, case one of binance, upbit, bithumb, bithumb_v1 (tickers),
//! binance_book, binance_trade.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::sync::Arc;
use tickflow::codec::{Encoder, Format};
use tickflow::exchange::{
    Adapter, AdapterConfig, BinanceAdapter, BithumbAdapter, Decoded, Frame, SymbolTable,
    UpbitAdapter,
};

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with('-'));
    let (Some(case), Some(frames)) = (args.next(), args.next()) else {
        return;
    };
    let frames: usize = frames.parse().expect("frame count");
    let config = AdapterConfig::default();
    let (adapter, frame, received): (Box<dyn Adapter>, &[u8], i64) = match case.as_str() {
        "binance" => (
            Box::new(BinanceAdapter::new(
                config,
                Arc::new(SymbolTable::bundled_binance().unwrap()),
            )),
            include_bytes!("../tests/fixtures/binance/ticker_raw.json"),
            1_763_615_720_010_000,
        ),
        "binance_book" | "binance_trade" => (
            Box::new(BinanceAdapter::new(
                config,
                Arc::new(SymbolTable::bundled_binance().unwrap()),
            )),
            if case == "binance_book" {
                &include_bytes!("../tests/fixtures/binance/book_ticker_raw.json")[..]
            } else {
                &include_bytes!("../tests/fixtures/binance/trade_combined.json")[..]
            },
            1_763_615_720_010_000,
        ),
        "upbit" => (
            Box::new(UpbitAdapter::new(config)),
            include_bytes!("../tests/fixtures/upbit/ticker_default.json"),
            1_763_615_720_180_000,
        ),
        "bithumb" => (
            Box::new(BithumbAdapter::new(config)),
            include_bytes!("../tests/fixtures/bithumb/legacy_ticker.json"),
            1_580_267_924_350_000,
        ),
        "bithumb_v1" => (
            Box::new(BithumbAdapter::new(config)),
            include_bytes!("../tests/fixtures/bithumb/v1_ticker.json"),
            1_763_615_720_200_000,
        ),
        other => panic!("unknown case {other}"),
    };
    let encoder = Encoder {
        format: Format::Avro,
        schema_id: 1,
    };
    let mut out = Vec::with_capacity(256);
    for _ in 0..frames {
        out.clear();
        match &adapter.decode(black_box(Frame::binary(frame)), received) {
            Ok(Decoded::Tick(tick)) => encoder.encode(tick, &mut out).unwrap(),
            other => panic!("{other:?}"),
        }
        black_box(out.len());
    }
}
