//! Fuzzes the binance adapter's decode function, and checks that the fast path for Binance's
//! own layouts gives exactly what the general path gives.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use tickflow::exchange::{Adapter, BinanceAdapter, Frame};

fuzz_target!(|data: &[u8]| {
    static ADAPTER: OnceLock<BinanceAdapter> = OnceLock::new();
    let adapter = ADAPTER.get_or_init(|| BinanceAdapter::new(common::config(), std::sync::Arc::new(tickflow::exchange::SymbolTable::bundled_binance().expect("bundled table"))));
    common::check(adapter, data);
    assert_eq!(
        adapter.decode(Frame::binary(data), 1_763_615_720_180_000),
        adapter.decode_without_layouts(Frame::binary(data), 1_763_615_720_180_000),
        "layout and general paths differ"
    );
});
