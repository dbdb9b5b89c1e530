//! Fuzzes the binance adapter's decode function.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fuzz_target!(|data: &[u8]| {
    static ADAPTER: OnceLock<Box<dyn tickflow::exchange::Adapter>> = OnceLock::new();
    let adapter = ADAPTER.get_or_init(|| Box::new(tickflow::exchange::BinanceAdapter::new(common::config(), std::sync::Arc::new(tickflow::exchange::SymbolTable::bundled_binance().expect("bundled table")))));
    common::check(adapter.as_ref(), data);
});
