//! Reading the feed status records' schema ids (`tickflow cache`, topic `feed.status.v1`),
//! as [`super::instrument`] reads the instrument reference's (the same rules, another record):
//! each id is resolved through the registry once. An Avro writer the compiled schema can read
//! is decoded by field name ([`crate::codec::status::avro::decode_with`]); a Protobuf writer
//! whose field numbers agree with the compiled one, by the generated decoder after its
//! message-index path names `tickflow.status.v1.FeedStatus`. Without a registry only the fixed
//! `[output] schema_id` is read, as the compiled schema.

use super::Registry;
use super::failure::{DecodeFailure, DecodeReason};
use crate::codec::status::{avro, proto};
use crate::codec::{Format, confluent};
use crate::model::status::FeedStatus;
use crate::schemas::{Kind, proto as proto_rules};
use apache_avro::Schema;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

/// Most ids remembered.
const MAX_IDS: usize = 256;

#[derive(Debug, Clone)]
enum Writer {
    Avro(Arc<Schema>),
    Proto(Arc<proto_rules::Model>),
}

fn compiled_proto() -> Result<&'static Arc<proto_rules::Model>, DecodeFailure> {
    static MODEL: OnceLock<Result<Arc<proto_rules::Model>, String>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            proto_rules::compile_source(proto::STATUS_PROTO)
                .map(|f| Arc::new(proto_rules::Model::of(&f)))
        })
        .as_ref()
        .map_err(|e| DecodeFailure::new(DecodeReason::Undecodable, format!("compiled schema: {e}")))
}

/// Resolves header ids of feed status records and decodes them (one reader thread).
#[derive(Debug)]
pub struct StatusResolver {
    registry: Option<(Registry, tokio::runtime::Handle)>,
    fixed: (u32, Format),
    known: HashMap<u32, Result<Writer, DecodeFailure>>,
}

impl StatusResolver {
    /// A resolver asking `registry` (on `runtime`), or reading only `fixed_id` in `format`.
    pub fn new(
        registry: Option<(Registry, tokio::runtime::Handle)>,
        fixed_id: u32,
        format: Format,
    ) -> Self {
        Self {
            registry,
            fixed: (fixed_id, format),
            known: HashMap::new(),
        }
    }

    /// Decodes a Confluent-framed feed status record by the schema its header names.
    pub fn decode(&mut self, message: &[u8]) -> Result<FeedStatus, DecodeFailure> {
        let (id, body) = confluent::split(message)?;
        match self.writer(id)? {
            Writer::Avro(schema) => Ok(avro::decode_with(&schema, body)?),
            Writer::Proto(model) => {
                let (_, indexes, body) = confluent::split_proto(message)?;
                match model.message_at(&indexes) {
                    Some(name) if name == proto::MESSAGE_NAME => Ok(proto::decode(body)?),
                    other => Err(DecodeFailure::new(
                        DecodeReason::IncompatibleSchema,
                        format!(
                            "schema id {id}: message indexes {indexes:?} name {}, not {}",
                            other.as_deref().unwrap_or("no message"),
                            proto::MESSAGE_NAME
                        ),
                    )),
                }
            }
        }
    }

    fn writer(&mut self, id: u32) -> Result<Writer, DecodeFailure> {
        if let Some(known) = self.known.get(&id) {
            return known.clone();
        }
        let Some((registry, runtime)) = &self.registry else {
            let (fixed, format) = self.fixed;
            return match format {
                _ if id != fixed => Err(DecodeFailure::new(
                    DecodeReason::UnknownSchemaId,
                    format!(
                        "schema id {id}: no [schema_registry] is configured to resolve it, and without one only id {fixed} ([output] schema_id) is read"
                    ),
                )),
                Format::Avro => Ok(Writer::Avro(Arc::new(avro::schema()?.clone()))),
                Format::Proto => Ok(Writer::Proto(Arc::clone(compiled_proto()?))),
            };
        };
        let fetched = runtime.block_on(
            registry.retrying("schema registry: resolving a feed status schema id", || {
                registry.schema_by_id(id)
            }),
        );
        let resolved = match fetched {
            Err(e) if e.transient() => {
                return Err(DecodeFailure::new(
                    DecodeReason::SchemaUnavailable,
                    format!("schema id {id}: {e}"),
                ));
            }
            Err(e) => Err(DecodeFailure::new(
                DecodeReason::UnknownSchemaId,
                format!("schema id {id}: {e}"),
            )),
            Ok(None) => Err(DecodeFailure::new(
                DecodeReason::UnknownSchemaId,
                format!(
                    "schema id {id} is not known to schema registry {}",
                    registry.name()
                ),
            )),
            Ok(Some((kind, text))) => classify(id, kind, &text),
        };
        if self.known.len() < MAX_IDS {
            self.known.insert(id, resolved.clone());
        }
        resolved
    }
}

fn classify(id: u32, kind: Kind, text: &str) -> Result<Writer, DecodeFailure> {
    let incompatible = |what: String| {
        DecodeFailure::new(
            DecodeReason::IncompatibleSchema,
            format!("schema id {id}: {what}"),
        )
    };
    match kind {
        Kind::Avro => {
            let writer = Schema::parse_str(text)
                .map_err(|e| incompatible(format!("not a valid Avro schema: {e}")))?;
            crate::schemas::avro::can_read(&writer, avro::schema()?)
                .map_err(|(field, reason)| incompatible(format!("field `{field}`: {reason}")))?;
            Ok(Writer::Avro(Arc::new(writer)))
        }
        Kind::Protobuf => {
            let file = proto_rules::compile_source(text).map_err(incompatible)?;
            let writer = proto_rules::Model::of(&file);
            if let Some((field, reason)) = proto_rules::wire_conflicts(&writer, compiled_proto()?)
                .into_iter()
                .next()
            {
                return Err(incompatible(format!("field `{field}`: {reason}")));
            }
            Ok(Writer::Proto(Arc::new(writer)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tick_schema_is_not_a_status_writer() {
        let err = classify(3, Kind::Avro, crate::codec::avro::TICK_AVSC)
            .err()
            .unwrap();
        assert_eq!(err.reason, DecodeReason::IncompatibleSchema);
        assert!(classify(3, Kind::Avro, avro::STATUS_AVSC).is_ok());
        assert!(classify(3, Kind::Protobuf, proto::STATUS_PROTO).is_ok());
        let mut r = StatusResolver::new(None, 1, Format::Avro);
        assert_eq!(
            r.decode(&[0, 0, 0, 0, 2, 0]).unwrap_err().reason,
            DecodeReason::UnknownSchemaId
        );
    }
}
