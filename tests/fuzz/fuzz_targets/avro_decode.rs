//! Fuzzes the Avro and Protobuf decoders: arbitrary bytes never panic, and whatever decodes
//! re-encodes to a payload that decodes to the same tick.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tickflow::codec::{avro, proto};

fuzz_target!(|data: &[u8]| {
    if let Ok(tick) = avro::decode(data) {
        let mut out = Vec::new();
        if avro::encode(&tick, &mut out).is_ok() {
            assert_eq!(avro::decode(&out).expect("re-encoded avro decodes"), tick);
        }
    }
    if let Ok(tick) = proto::decode(data) {
        let mut out = Vec::new();
        if proto::encode(&tick, &mut out).is_ok() {
            assert_eq!(proto::decode(&out).expect("re-encoded proto decodes"), tick);
        }
    }
});
