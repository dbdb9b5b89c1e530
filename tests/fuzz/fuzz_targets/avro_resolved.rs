//! Fuzzes the decoder of other schema versions (the cache's path for a v1 writer): arbitrary
//! bytes written "with schema v1" never panic, and whatever decodes re-encodes with the
//! current schema to the same tick (without the fields v1 lacks).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use tickflow::codec::{avro, avro_resolved};

fn v1() -> &'static apache_avro::Schema {
    static V1: OnceLock<apache_avro::Schema> = OnceLock::new();
    V1.get_or_init(|| {
        apache_avro::Schema::parse_str(include_str!("../../../schemas/avro/tick.v1.avsc"))
            .expect("schema v1 parses")
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(tick) = avro_resolved::decode_resolved(v1(), data) {
        assert!(tick.stream_type.is_none() && tick.delisting_date.is_none());
        let mut out = Vec::new();
        if avro::encode(&tick, &mut out).is_ok() {
            assert_eq!(avro::decode(&out).expect("re-encoded avro decodes"), tick);
        }
    }
});
