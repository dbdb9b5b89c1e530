//! Reading the schema id in every message's header (`tickflow cache`): each id is resolved
//! through the registry once and remembered.
//!
//! - The compiled schema (the same Avro layout and logical types, or any Protobuf version
//!   whose field numbers agree with the compiled one): the hot decoder.
//! - Another Avro version the compiled schema can read (Avro schema resolution): the generic
//!   decoder, resolving by field name.
//! - An id the registry does not know, or a writer schema that cannot be read, is a typed
//!   failure (`unknown_schema_id`, `incompatible_schema`); the caller dead-letters the message.
//!
//! With no registry configured, only the fixed `[output] schema_id` (what gather writes then)
//! is read.

use super::Registry;
use crate::codec::{CodecError, Format, avro, avro_resolved, confluent, proto};
use crate::model::Tick;
use crate::schemas::{Kind, proto as proto_rules};
use apache_avro::Schema;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

/// Most ids remembered (real topics carry a handful).
const MAX_IDS: usize = 1024;

/// How the messages of one schema id are decoded.
#[derive(Debug, Clone)]
enum Writer {
    /// The compiled Avro schema: the hot decoder.
    CurrentAvro,
    /// Another Avro version the compiled one can read.
    Avro(Arc<Schema>),
    /// A Protobuf version compatible with the compiled one (its model, for message indexes).
    Proto(Arc<proto_rules::Model>),
}

/// Why a message was not decoded: the DLQ `reason` and the `error` text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {error}")]
pub struct DecodeFailure {
    /// `unknown_schema_id`, `incompatible_schema`, `schema_unavailable` or `undecodable`.
    pub reason: &'static str,
    /// What is wrong.
    pub error: String,
}

impl DecodeFailure {
    fn new(reason: &'static str, error: impl Into<String>) -> Self {
        Self {
            reason,
            error: error.into(),
        }
    }
}

impl From<CodecError> for DecodeFailure {
    fn from(e: CodecError) -> Self {
        Self::new("undecodable", e.to_string())
    }
}

/// Resolves header ids and decodes messages (called from the cache's polling thread).
#[derive(Debug)]
pub struct Resolver {
    registry: Option<(Registry, tokio::runtime::Handle)>,
    /// Without a registry: the one id read, in this format.
    fixed: (u32, Format),
    known: Mutex<HashMap<u32, Result<Writer, DecodeFailure>>>,
}

fn compiled_avro() -> Result<&'static Schema, CodecError> {
    avro::schema()
}

fn compiled_proto() -> Result<&'static proto_rules::Model, DecodeFailure> {
    static MODEL: OnceLock<Result<proto_rules::Model, String>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            proto_rules::compile_source(proto::TICK_PROTO).map(|f| proto_rules::Model::of(&f))
        })
        .as_ref()
        .map_err(|e| DecodeFailure::new("undecodable", format!("compiled schema: {e}")))
}

impl Resolver {
    /// A resolver asking `registry` (on `runtime`), or reading only `fixed_id` without one.
    pub fn new(
        registry: Option<(Registry, tokio::runtime::Handle)>,
        fixed_id: u32,
        format: Format,
    ) -> Self {
        Self {
            registry,
            fixed: (fixed_id, format),
            known: Mutex::new(HashMap::new()),
        }
    }

    /// Decodes a Confluent-framed message by the schema its header names.
    pub fn decode(&self, message: &[u8]) -> Result<(u32, Tick), DecodeFailure> {
        let (id, _) = confluent::split(message)?;
        if self.registry.is_none() {
            let (fixed, format) = self.fixed;
            if id != fixed {
                return Err(DecodeFailure::new(
                    "unknown_schema_id",
                    format!(
                        "schema id {id}: no [schema_registry] is configured to resolve it, and without one only id {fixed} ([output] schema_id) is read"
                    ),
                ));
            }
            return Ok(crate::codec::Encoder::decode(format, message)?);
        }
        let tick = match self.writer(id)? {
            Writer::CurrentAvro => avro::decode(confluent::split(message)?.1)?,
            Writer::Avro(schema) => {
                avro_resolved::decode_resolved(&schema, confluent::split(message)?.1)?
            }
            Writer::Proto(model) => {
                let (_, indexes, body) = confluent::split_proto(message)?;
                match model.message_at(&indexes) {
                    Some(name) if name == proto::MESSAGE_NAME => proto::decode(body)?,
                    other => {
                        return Err(DecodeFailure::new(
                            "incompatible_schema",
                            format!(
                                "schema id {id}: message indexes {indexes:?} name {}, not {}",
                                other.as_deref().unwrap_or("no message"),
                                proto::MESSAGE_NAME
                            ),
                        ));
                    }
                }
            }
        };
        Ok((id, tick))
    }

    /// The writer of `id`, asking the registry the first time.
    fn writer(&self, id: u32) -> Result<Writer, DecodeFailure> {
        if let Some(known) = self
            .known
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id)
        {
            return known.clone();
        }
        let Some((registry, runtime)) = &self.registry else {
            return Err(DecodeFailure::new(
                "unknown_schema_id",
                format!("schema id {id}"),
            ));
        };
        let fetched = runtime.block_on(
            registry.retrying("schema registry: resolving a schema id", || {
                registry.schema_by_id(id)
            }),
        );
        let resolved = match fetched {
            // Not remembered: the next message with this id asks again.
            Err(e) if e.transient() => {
                return Err(DecodeFailure::new(
                    "schema_unavailable",
                    format!("schema id {id}: {e}"),
                ));
            }
            Err(e) => Err(DecodeFailure::new(
                "unknown_schema_id",
                format!("schema id {id}: {e}"),
            )),
            Ok(None) => Err(DecodeFailure::new(
                "unknown_schema_id",
                format!(
                    "schema id {id} is not known to schema registry {}",
                    registry.name()
                ),
            )),
            Ok(Some((kind, text))) => classify(id, kind, &text),
        };
        match &resolved {
            Ok(_) => tracing::info!(id, "schema id {id} resolved through {}", registry.name()),
            Err(e) => tracing::warn!(id, "schema id {id} cannot be read: {e}"),
        }
        let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        if known.len() < MAX_IDS {
            known.insert(id, resolved.clone());
        }
        resolved
    }
}

/// How a writer schema relates to the compiled one.
fn classify(id: u32, kind: Kind, text: &str) -> Result<Writer, DecodeFailure> {
    let incompatible =
        |what: String| DecodeFailure::new("incompatible_schema", format!("schema id {id}: {what}"));
    match kind {
        Kind::Avro => {
            let writer = Schema::parse_str(text)
                .map_err(|e| incompatible(format!("not a valid Avro schema: {e}")))?;
            let current = compiled_avro()?;
            crate::schemas::avro::can_read(&writer, current)
                .map_err(|(field, reason)| incompatible(format!("field `{field}`: {reason}")))?;
            // Same layout (Parsing Canonical Form) and readable (so the same decimal
            // precision and scale): the hot decoder reads it.
            if writer.canonical_form() == current.canonical_form() {
                Ok(Writer::CurrentAvro)
            } else {
                Ok(Writer::Avro(Arc::new(writer)))
            }
        }
        Kind::Protobuf => {
            let file = proto_rules::compile_source(text).map_err(incompatible)?;
            let writer = proto_rules::Model::of(&file);
            let conflicts = proto_rules::wire_conflicts(&writer, compiled_proto()?);
            if let Some((field, reason)) = conflicts.into_iter().next() {
                return Err(incompatible(format!("field `{field}`: {reason}")));
            }
            Ok(Writer::Proto(Arc::new(writer)))
        }
    }
}
