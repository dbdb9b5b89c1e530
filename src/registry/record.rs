//! Reading the schema ids of the records that are not ticks — the instrument reference
//! ([`super::instrument`]) and feed status ([`super::status`]) — the same rules for each: every
//! id is resolved through the registry once. An Avro writer the compiled schema can read is
//! decoded by field name; a Protobuf writer whose field numbers agree with the compiled one, by
//! the generated decoder after its message-index path names the compiled message. Without a
//! registry only the fixed `[output] schema_id` is read, as the compiled schema.

use super::Registry;
use super::failure::{DecodeFailure, DecodeReason, Lookup, without_registry};
use crate::codec::{CodecError, Format, confluent};
use crate::schemas::{Kind, proto as proto_rules};
use apache_avro::Schema;
use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;

/// Most ids remembered.
const MAX_IDS: usize = 256;

/// One kind of record: its compiled schemas and decoders.
pub trait RecordCodec {
    /// The decoded record.
    type Record;
    /// What it is, for messages (`an instrument`, `a feed status`).
    const WHAT: &'static str;
    /// The generated Protobuf message's full name.
    const MESSAGE_NAME: &'static str;
    /// The compiled Avro schema.
    fn avro_schema() -> Result<&'static Schema, CodecError>;
    /// The compiled Protobuf schema's model (built once).
    fn proto_model() -> Result<&'static Arc<proto_rules::Model>, DecodeFailure>;
    /// Decodes an Avro body written with `writer` (checked compatible first).
    fn decode_avro(writer: &Schema, body: &[u8]) -> Result<Self::Record, CodecError>;
    /// Decodes a Protobuf body.
    fn decode_proto(body: &[u8]) -> Result<Self::Record, CodecError>;
}

/// The model of a compiled Protobuf schema text, for [`RecordCodec::proto_model`].
pub fn compile(text: &str) -> Result<Arc<proto_rules::Model>, String> {
    proto_rules::compile_source(text).map(|f| Arc::new(proto_rules::Model::of(&f)))
}

/// A compiled model's failure as a decode failure.
pub fn compiled_failure(e: &str) -> DecodeFailure {
    DecodeFailure::new(DecodeReason::Undecodable, format!("compiled schema: {e}"))
}

#[derive(Debug, Clone)]
enum Writer {
    Avro(Arc<Schema>),
    Proto(Arc<proto_rules::Model>),
}

/// Resolves header ids of `C`'s records and decodes them (one reader thread).
#[derive(Debug)]
pub struct RecordResolver<C> {
    registry: Option<(Registry, tokio::runtime::Handle)>,
    fixed: (u32, Format),
    known: HashMap<u32, Result<Writer, DecodeFailure>>,
    codec: PhantomData<C>,
}

impl<C: RecordCodec> RecordResolver<C> {
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
            codec: PhantomData,
        }
    }

    /// Decodes a Confluent-framed record by the schema its header names.
    pub fn decode(&mut self, message: &[u8]) -> Result<C::Record, DecodeFailure> {
        let (id, body) = confluent::split(message)?;
        match self.writer(id)? {
            Writer::Avro(schema) => Ok(C::decode_avro(&schema, body)?),
            Writer::Proto(model) => {
                let (_, indexes, body) = confluent::split_proto(message)?;
                match model.message_at(&indexes) {
                    Some(name) if name == C::MESSAGE_NAME => Ok(C::decode_proto(body)?),
                    other => Err(DecodeFailure::new(
                        DecodeReason::IncompatibleSchema,
                        format!(
                            "schema id {id}: message indexes {indexes:?} name {}, not {}",
                            other.as_deref().unwrap_or("no message"),
                            C::MESSAGE_NAME
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
                _ if id != fixed => Err(without_registry(id, fixed)),
                Format::Avro => Ok(Writer::Avro(Arc::new(C::avro_schema()?.clone()))),
                Format::Proto => Ok(Writer::Proto(Arc::clone(C::proto_model()?))),
            };
        };
        let what = format!("schema registry: resolving {} schema id", C::WHAT);
        let resolved = match Lookup::ask(registry, runtime, id, &what) {
            Lookup::Unavailable(e) => return Err(e),
            Lookup::Failed(e) => Err(e),
            Lookup::Found(kind, text) => classify::<C>(id, kind, &text),
        };
        if self.known.len() < MAX_IDS {
            self.known.insert(id, resolved.clone());
        }
        resolved
    }
}

fn classify<C: RecordCodec>(id: u32, kind: Kind, text: &str) -> Result<Writer, DecodeFailure> {
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
            crate::schemas::avro::can_read(&writer, C::avro_schema()?)
                .map_err(|(field, reason)| incompatible(format!("field `{field}`: {reason}")))?;
            Ok(Writer::Avro(Arc::new(writer)))
        }
        Kind::Protobuf => {
            let file = proto_rules::compile_source(text).map_err(incompatible)?;
            let writer = proto_rules::Model::of(&file);
            if let Some((field, reason)) = proto_rules::wire_conflicts(&writer, C::proto_model()?)
                .into_iter()
                .next()
            {
                return Err(incompatible(format!("field `{field}`: {reason}")));
            }
            Ok(Writer::Proto(Arc::new(writer)))
        }
    }
}

/// Whether `text` of `kind` is a writer `C` reads (for tests of each record kind).
#[cfg(test)]
pub(crate) fn reads<C: RecordCodec>(kind: Kind, text: &str) -> Result<(), DecodeReason> {
    classify::<C>(3, kind, text)
        .map(|_| ())
        .map_err(|e| e.reason)
}
