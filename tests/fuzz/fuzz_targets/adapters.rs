//! Fuzzes every venue's adapter (`FUZZ_EXCHANGE=upbit` picks one; unset, each input goes
//! through all of them): decoding never panics, every accepted tick encodes and decodes back
//! unchanged, and an adapter with a fast path for its venue's exact layouts gives exactly what
//! its general path gives. Venues come from the registry: a new one needs no edit here.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use tickflow::exchange::reference::References;
use tickflow::exchange::{Adapter, Frame, adapter_for};
use tickflow::model::Exchange;

fn adapters() -> &'static [Box<dyn Adapter>] {
    static ADAPTERS: OnceLock<Vec<Box<dyn Adapter>>> = OnceLock::new();
    ADAPTERS.get_or_init(|| {
        let only = std::env::var("FUZZ_EXCHANGE").ok();
        let references = References::bundled().expect("shipped reference data");
        Exchange::ALL
            .into_iter()
            .filter(|e| {
                only.as_deref()
                    .is_none_or(|o| e.as_str().eq_ignore_ascii_case(o))
            })
            .map(|e| {
                adapter_for(e, common::config(), &references).expect("every venue has an adapter")
            })
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    for adapter in adapters() {
        common::check(adapter.as_ref(), data);
        if let Some(general) =
            adapter.decode_general_path(Frame::binary(data), 1_763_615_720_180_000)
        {
            assert_eq!(
                adapter.decode(Frame::binary(data), 1_763_615_720_180_000),
                general,
                "{}: layout and general paths differ",
                adapter.exchange()
            );
        }
    }
});
