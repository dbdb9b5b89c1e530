//! The feed status record (topic `feed.status.v1`, key `EXCHANGE:connector`): what one gather
//! connection says about its own health ([`crate::model::status::FeedStatus`]), and its codecs,
//! Avro ([`avro`], `schemas/avro/status.v1.avsc`) and Protobuf ([`proto`],
//! `schemas/proto/status.v1.proto`), both Confluent-framed like ticks.
//!
//! Not a hot path (a few records per connection event): Avro goes through apache-avro's
//! generic values, and reads a writer of another version by field name.

pub mod avro;
pub mod proto;

use super::{CodecError, Format, confluent};
use crate::model::status::FeedStatus;

/// The version of `schemas/*/status.vN.*` this build writes and reads natively.
pub const SCHEMA_VERSION: u32 = super::version(env!("CURRENT_SCHEMA_STATUS_VERSION"));

/// The Kafka key of a status record, `EXCHANGE:connector` (`BINANCE:binance`): one
/// connector's records stay in order on one partition.
pub fn key(s: &FeedStatus) -> String {
    format!("{}:{}", s.exchange.as_str(), s.connector)
}

/// Appends the Confluent-framed encoding of `s` in `format` with `schema_id` to `out`.
pub fn encode(
    s: &FeedStatus,
    format: Format,
    schema_id: u32,
    out: &mut Vec<u8>,
) -> Result<(), CodecError> {
    match format {
        Format::Avro => {
            confluent::write_header(out, schema_id);
            avro::encode(s, out)
        }
        Format::Proto => {
            confluent::write_proto_header(out, schema_id, &[0]);
            proto::encode(s, out)
        }
    }
}

/// Decodes a framed message written with the compiled schema: the schema id and the record.
pub fn decode(format: Format, message: &[u8]) -> Result<(u32, FeedStatus), CodecError> {
    match format {
        Format::Avro => {
            let (id, body) = confluent::split(message)?;
            Ok((id, avro::decode(body)?))
        }
        Format::Proto => {
            let (id, indexes, body) = confluent::split_proto(message)?;
            if indexes != [0] {
                return Err(CodecError::Framing(format!(
                    "message indexes {indexes:?} do not name {}",
                    proto::MESSAGE_NAME
                )));
            }
            Ok((id, proto::decode(body)?))
        }
    }
}

#[cfg(test)]
mod tests;
