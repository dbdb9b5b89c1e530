//! Shared invariants: decoding (and reading session messages) never panics, and every tick an adapter accepts can be encoded
//! exactly and decoded back unchanged (validation guarantees it fits the wire). Trades and best
//! bid/offers (schema v3) are reached through the same adapters; the new fixtures seed them.

use tickflow::codec::{Encoder, Format};
use tickflow::exchange::{Adapter, AdapterConfig, Decoded, Frame};

/// Fuzz inputs carry no receive time: turn the time window off so deeper code is reached.
pub fn config() -> AdapterConfig {
    let mut c = AdapterConfig::default();
    c.validation.check_time_window = false;
    c
}

pub fn check(adapter: &dyn Adapter, data: &[u8]) {
    // What the venues say about a session is read off every frame too: never a panic.
    for profile in tickflow::exchange::PROFILES {
        let _ = (profile.says)(data);
    }
    let Ok(decoded) = adapter.decode(Frame::binary(data), 1_763_615_720_180_000) else {
        return;
    };
    if let Decoded::Ticks(ticks) = &decoded {
        assert!(!ticks.is_empty(), "a Ticks result is never empty");
    }
    for tick in decoded.ticks() {
        for format in [Format::Avro, Format::Proto] {
            let mut out = Vec::new();
            Encoder {
                format,
                schema_id: 1,
            }
            .encode(tick, &mut out)
            .unwrap_or_else(|e| panic!("accepted tick does not encode: {e}: {tick:?}"));
            let (_, back) = Encoder::decode(format, &out).expect("own encoding decodes");
            assert_eq!(&back, tick, "{format:?} round trip");
        }
    }
}
