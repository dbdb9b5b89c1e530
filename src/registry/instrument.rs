//! Reading the instrument reference's schema ids (`tickflow cache`, topic `instruments.v1`),
//! by the rules of [`super::record`]: an Avro writer is decoded by field name
//! ([`crate::codec::instrument::avro::decode_with`]), a Protobuf one after its message-index
//! path names `tickflow.instrument.v1.Instrument`.

use super::failure::DecodeFailure;
use super::record::{RecordCodec, RecordResolver, compile, compiled_failure};
use crate::codec::CodecError;
use crate::codec::instrument::{InstrumentRecord, avro, proto};
use crate::schemas::proto as proto_rules;
use apache_avro::Schema;
use std::sync::{Arc, OnceLock};

/// The instrument reference record's codec.
#[derive(Debug)]
pub struct Instruments;

impl RecordCodec for Instruments {
    type Record = InstrumentRecord;
    const WHAT: &'static str = "an instrument";
    const MESSAGE_NAME: &'static str = proto::MESSAGE_NAME;

    fn avro_schema() -> Result<&'static Schema, CodecError> {
        avro::schema()
    }

    fn proto_model() -> Result<&'static Arc<proto_rules::Model>, DecodeFailure> {
        static MODEL: OnceLock<Result<Arc<proto_rules::Model>, String>> = OnceLock::new();
        MODEL
            .get_or_init(|| compile(proto::INSTRUMENT_PROTO))
            .as_ref()
            .map_err(|e| compiled_failure(e))
    }

    fn decode_avro(writer: &Schema, body: &[u8]) -> Result<InstrumentRecord, CodecError> {
        avro::decode_with(writer, body)
    }

    fn decode_proto(body: &[u8]) -> Result<InstrumentRecord, CodecError> {
        proto::decode(body)
    }
}

/// Resolves header ids of instrument records and decodes them (one reader thread).
pub type InstrumentResolver = RecordResolver<Instruments>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Format;
    use crate::registry::failure::DecodeReason;
    use crate::registry::record::reads;
    use crate::schemas::Kind;

    #[test]
    fn the_tick_schema_is_not_an_instrument_writer() {
        assert_eq!(
            reads::<Instruments>(Kind::Avro, crate::codec::avro::TICK_AVSC),
            Err(DecodeReason::IncompatibleSchema)
        );
        assert!(reads::<Instruments>(Kind::Avro, avro::INSTRUMENT_AVSC).is_ok());
        assert!(reads::<Instruments>(Kind::Protobuf, proto::INSTRUMENT_PROTO).is_ok());
        let mut r = InstrumentResolver::new(None, 1, Format::Avro);
        assert_eq!(
            r.decode(&[0, 0, 0, 0, 2, 0]).unwrap_err().reason,
            DecodeReason::UnknownSchemaId
        );
    }
}
