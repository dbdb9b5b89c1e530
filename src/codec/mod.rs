//! Wire codecs for the canonical tick: Avro (hot path, byte-identical to apache-avro),
//! Protobuf (prost, generated from the newest `schemas/proto/tick.vN.proto`), and the Confluent
//! wire framing (magic byte, schema id, Protobuf message indexes) as a separate layer; the instrument
//! reference record in both formats ([`instrument`]).

pub mod avro;
pub mod avro_resolved;
pub mod avro_value;
pub mod confluent;
pub mod instrument;
pub mod proto;
pub mod status;
mod trailing_zeros;

use crate::model::Tick;

/// A schema version the build found (`CURRENT_SCHEMA_<FAMILY>_VERSION`, set by `src/build.rs`:
/// the newest `schemas/<format>/<family>.vN.*`), as a number.
// Only ever evaluated in a const: a bad version fails the build, never a running process.
#[allow(clippy::panic)]
pub(crate) const fn version(digits: &str) -> u32 {
    match u32::from_str_radix(digits, 10) {
        Ok(v) => v,
        Err(_) => panic!("a schema version is a number"),
    }
}

/// Value format on the topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Avro binary body (schema: the newest `schemas/avro/tick.vN.avsc`).
    Avro,
    /// Protobuf body (schema: the newest `schemas/proto/tick.vN.proto`, message `tickflow.v1.Tick`).
    Proto,
}

/// Why a tick could not be encoded or a payload decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// A value does not fit the wire type (e.g. more than 18 decimal places).
    #[error("field `{field}` cannot be carried exactly: {detail}")]
    Unrepresentable {
        /// Contract field name.
        field: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// The payload ended early.
    #[error("payload truncated while reading `{0}`")]
    Truncated(&'static str),
    /// The payload is not a valid encoding of the schema.
    #[error("invalid payload at `{field}`: {detail}")]
    Invalid {
        /// Contract field name.
        field: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// Bytes were left after the record.
    #[error("{0} trailing bytes after the record")]
    TrailingBytes(usize),
    /// Confluent framing is wrong (magic byte, short header).
    #[error("confluent framing: {0}")]
    Framing(String),
}

/// Encodes ticks as Confluent-framed messages: header + body, ready to produce.
#[derive(Debug, Clone, Copy)]
pub struct Encoder {
    /// Body format.
    pub format: Format,
    /// Schema Registry id written into the header.
    pub schema_id: u32,
}

impl Encoder {
    /// Appends the framed encoding of `tick` to `out`.
    pub fn encode(&self, tick: &Tick, out: &mut Vec<u8>) -> Result<(), CodecError> {
        match self.format {
            Format::Avro => {
                confluent::write_header(out, self.schema_id);
                avro::encode(tick, out)
            }
            Format::Proto => {
                confluent::write_proto_header(out, self.schema_id, &[0]);
                proto::encode(tick, out)
            }
        }
    }

    /// Decodes a framed message, returning the schema id found in the header and the tick.
    pub fn decode(format: Format, message: &[u8]) -> Result<(u32, Tick), CodecError> {
        match format {
            Format::Avro => {
                let (id, body) = confluent::split(message)?;
                Ok((id, avro::decode(body)?))
            }
            Format::Proto => {
                let (id, indexes, body) = confluent::split_proto(message)?;
                if indexes != [0] {
                    return Err(CodecError::Framing(format!(
                        "message indexes {indexes:?} do not name tickflow.v1.Tick"
                    )));
                }
                Ok((id, proto::decode(body)?))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::schemas::{Kind, discover};

    #[test]
    fn the_build_compiles_in_the_newest_version_of_every_schema_family() {
        let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/schemas"));
        let families = discover(dir).unwrap();
        // (family, version, Avro text, Protobuf text) as compiled in.
        let compiled = [
            (
                "tick",
                super::avro::SCHEMA_VERSION,
                super::avro::TICK_AVSC,
                super::proto::TICK_PROTO,
            ),
            (
                "instrument",
                super::instrument::SCHEMA_VERSION,
                super::instrument::avro::INSTRUMENT_AVSC,
                super::instrument::proto::INSTRUMENT_PROTO,
            ),
            (
                "status",
                super::status::SCHEMA_VERSION,
                super::status::avro::STATUS_AVSC,
                super::status::proto::STATUS_PROTO,
            ),
        ];
        assert_eq!(super::proto::SCHEMA_VERSION, super::avro::SCHEMA_VERSION);
        assert_eq!(
            families.len(),
            2 * compiled.len(),
            "one family per format each"
        );
        for family in &families {
            let (_, version, avsc, proto) = compiled
                .iter()
                .find(|(name, ..)| *name == family.name)
                .unwrap_or_else(|| panic!("{} is not compiled in", family.label()));
            let newest = family.latest().unwrap();
            assert_eq!(newest.number, *version, "{}", family.label());
            let text = if family.kind == Kind::Avro {
                avsc
            } else {
                proto
            };
            assert_eq!(newest.text, *text, "{}", family.label());
        }
        assert_eq!(super::version("12"), 12);
    }
}
