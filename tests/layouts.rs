//! The Binance adapter reads `bookTicker`, `trade` and `aggTrade` frames in the layout Binance
//! sends without its general scanner. That path may only save time: on every real frame, every
//! fixture and mutations of both, `decode` must give exactly what the general path gives.
//! Real captures come from `../shared/samples` (a SKIP line is printed when it is absent).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::shared_sample;
use proptest::prelude::*;
use std::sync::{Arc, OnceLock};
use tickflow::exchange::Adapter as _;
use tickflow::exchange::{AdapterConfig, BinanceAdapter, Frame, SymbolTable};

fn adapter() -> &'static BinanceAdapter {
    static ADAPTER: OnceLock<BinanceAdapter> = OnceLock::new();
    ADAPTER.get_or_init(|| {
        let mut config = AdapterConfig::default();
        config.validation.check_time_window = false;
        BinanceAdapter::new(config, Arc::new(SymbolTable::bundled_binance().unwrap()))
    })
}

/// Both paths over one frame; whether it took the layout.
fn same_on_both_paths(frame: &[u8]) -> bool {
    let a = adapter();
    let fast = a.decode(Frame::binary(frame), 1_723_161_254_087_891);
    let general = a.decode_without_layouts(Frame::binary(frame), 1_723_161_254_087_891);
    assert_eq!(fast, general, "{}", String::from_utf8_lossy(frame));
    BinanceAdapter::uses_layout(frame)
}

/// The fixtures the layouts cover, and every other Binance fixture (which must not break).
const FIXTURES: &[(&str, &[u8], bool)] = &[
    (
        "book_ticker_raw",
        include_bytes!("fixtures/binance/book_ticker_raw.json"),
        true,
    ),
    (
        "trade_combined",
        include_bytes!("fixtures/binance/trade_combined.json"),
        true,
    ),
    (
        "agg_trade_raw",
        include_bytes!("fixtures/binance/agg_trade_raw.json"),
        true,
    ),
    (
        "ticker_raw",
        include_bytes!("fixtures/binance/ticker_raw.json"),
        false,
    ),
    (
        "ticker_combined",
        include_bytes!("fixtures/binance/ticker_combined.json"),
        false,
    ),
    (
        "ticker_data_first",
        include_bytes!("fixtures/binance/ticker_data_first.json"),
        false,
    ),
    (
        "mini_ticker_raw",
        include_bytes!("fixtures/binance/mini_ticker_raw.json"),
        false,
    ),
    (
        "subscribe_ack",
        include_bytes!("fixtures/binance/subscribe_ack.json"),
        false,
    ),
    (
        "server_shutdown",
        include_bytes!("fixtures/binance/server_shutdown.json"),
        false,
    ),
];

#[test]
fn fixtures_agree_and_the_covered_ones_take_the_layout() {
    for (name, frame, covered) in FIXTURES {
        assert_eq!(same_on_both_paths(frame), *covered, "{name}");
    }
}

/// The frames of a capture line by line: `<ns> <frame>` (hftbacktest) or `<secs>: <frame>`.
fn capture_frames(sub: &str) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(shared_sample(sub)?).unwrap();
    Some(
        text.lines()
            .filter_map(|l| l.find('{').map(|at| l[at..].to_owned()))
            .collect(),
    )
}

#[test]
fn real_frames_agree_and_take_the_layout() {
    for (sub, want_layout) in [
        (
            "binance/hftbacktest__spot_btcusdt_20240808_head3000.txt",
            2_200 + 518,
        ),
        ("binance/cryptofeed__BINANCE.ws.1.0", 0),
    ] {
        let Some(frames) = capture_frames(sub) else {
            return;
        };
        let mut layout = 0;
        for frame in &frames {
            layout += usize::from(same_on_both_paths(frame.as_bytes()));
        }
        println!("{sub}: {layout} of {} frames took the layout", frames.len());
        if want_layout > 0 {
            // Every bookTicker and trade frame of the hftbacktest capture.
            assert_eq!(layout, want_layout, "{sub}");
        } else {
            assert!(
                layout > 0,
                "{sub}: no aggTrade or bookTicker frame took the layout"
            );
        }
    }
}

fn covered_frames() -> Vec<Vec<u8>> {
    let mut frames: Vec<Vec<u8>> = FIXTURES
        .iter()
        .filter(|f| f.2)
        .map(|f| f.1.to_vec())
        .collect();
    if let Some(real) = capture_frames("binance/hftbacktest__spot_btcusdt_20240808_head3000.txt") {
        frames.extend(
            real.into_iter()
                .filter(|f| f.contains("@bookTicker\"") || f.contains("@trade\""))
                .take(50)
                .map(String::into_bytes),
        );
    }
    frames
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    /// One byte replaced, inserted or removed anywhere in a covered frame: whatever the result
    /// (a tick, a typed rejection, the general path), both paths agree.
    #[test]
    fn mutated_frames_agree(pick in any::<prop::sample::Index>(), at in any::<prop::sample::Index>(),
                            op in 0u8..3, byte in prop::sample::select(
                                b"0123456789.-+eE\"\\ ,:{}[]abstuBAqpTmMfltrue\x01\xff".to_vec())) {
        static FRAMES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
        let frames = FRAMES.get_or_init(covered_frames);
        let mut frame = frames[pick.index(frames.len())].clone();
        let at = at.index(frame.len());
        match op {
            0 => frame[at] = byte,
            1 => frame.insert(at, byte),
            _ => { frame.remove(at); }
        }
        same_on_both_paths(&frame);
    }
}
