//! Reading the feed status records' schema ids (`tickflow cache`, topic `feed.status.v1`), by
//! the rules of [`super::record`]: an Avro writer is decoded by field name
//! ([`crate::codec::status::avro::decode_with`]), a Protobuf one after its message-index path
//! names `tickflow.status.v1.FeedStatus`.

use super::failure::DecodeFailure;
use super::record::{RecordCodec, RecordResolver, compile, compiled_failure};
use crate::codec::CodecError;
use crate::codec::status::{avro, proto};
use crate::model::status::FeedStatus;
use crate::schemas::proto as proto_rules;
use apache_avro::Schema;
use std::sync::{Arc, OnceLock};

/// The feed status record's codec.
#[derive(Debug)]
pub struct Statuses;

impl RecordCodec for Statuses {
    type Record = FeedStatus;
    const WHAT: &'static str = "a feed status";
    const MESSAGE_NAME: &'static str = proto::MESSAGE_NAME;

    fn avro_schema() -> Result<&'static Schema, CodecError> {
        avro::schema()
    }

    fn proto_model() -> Result<&'static Arc<proto_rules::Model>, DecodeFailure> {
        static MODEL: OnceLock<Result<Arc<proto_rules::Model>, String>> = OnceLock::new();
        MODEL
            .get_or_init(|| compile(proto::STATUS_PROTO))
            .as_ref()
            .map_err(|e| compiled_failure(e))
    }

    fn decode_avro(writer: &Schema, body: &[u8]) -> Result<FeedStatus, CodecError> {
        avro::decode_with(writer, body)
    }

    fn decode_proto(body: &[u8]) -> Result<FeedStatus, CodecError> {
        proto::decode(body)
    }
}

/// Resolves header ids of feed status records and decodes them (one reader thread).
pub type StatusResolver = RecordResolver<Statuses>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Format;
    use crate::registry::failure::DecodeReason;
    use crate::registry::record::reads;
    use crate::schemas::Kind;

    #[test]
    fn the_tick_schema_is_not_a_status_writer() {
        assert_eq!(
            reads::<Statuses>(Kind::Avro, crate::codec::avro::TICK_AVSC),
            Err(DecodeReason::IncompatibleSchema)
        );
        assert_eq!(
            reads::<Statuses>(Kind::Avro, crate::codec::instrument::avro::INSTRUMENT_AVSC),
            Err(DecodeReason::IncompatibleSchema)
        );
        assert!(reads::<Statuses>(Kind::Avro, avro::STATUS_AVSC).is_ok());
        assert!(reads::<Statuses>(Kind::Protobuf, proto::STATUS_PROTO).is_ok());
        let mut r = StatusResolver::new(None, 1, Format::Avro);
        assert_eq!(
            r.decode(&[0, 0, 0, 0, 2, 0]).unwrap_err().reason,
            DecodeReason::UnknownSchemaId
        );
    }
}
