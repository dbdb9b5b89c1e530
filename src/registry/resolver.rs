//! Reading the schema id in every message's header (`tickflow cache`): each id is resolved
//! through the registry once and remembered.
//!
//! - The compiled schema, or exactly its first fields (an earlier version that only lacks the
//!   fields later ones appended: v1, v2, v3), compared structurally (types, logical types, decimal scale); or any Protobuf
//!   version whose field numbers agree with the compiled one: the hot decoder.
//! - Another Avro version the compiled schema can read (Avro schema resolution): the generic
//!   decoder, resolving by field name.
//! - An id the registry does not know, or a writer schema that cannot be read, is a typed
//!   failure ([`DecodeReason::UnknownSchemaId`], [`DecodeReason::IncompatibleSchema`]); the
//!   caller dead-letters the message.
//!
//! With no registry configured, only the fixed `[output] schema_id` (what gather writes then)
//! is read.

use super::Registry;
use super::failure::{DecodeFailure, DecodeReason, Lookup, without_registry};
use crate::codec::{Format, avro, avro_resolved, confluent, proto};
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
    /// The compiled Avro schema, or its first `n` fields (an earlier version that only lacks
    /// trailing optional fields): the hot decoder.
    CurrentAvro(usize),
    /// Another Avro version the compiled one can read.
    Avro(Arc<Schema>),
    /// A Protobuf version compatible with the compiled one (its model, for message indexes).
    Proto(Arc<proto_rules::Model>),
}

/// Resolves header ids and decodes messages (called from the cache's polling thread).
#[derive(Debug)]
pub struct Resolver {
    registry: Option<(Registry, tokio::runtime::Handle)>,
    /// Without a registry: the one id read, in this format.
    fixed: (u32, Format),
    known: Mutex<HashMap<u32, Result<Writer, DecodeFailure>>>,
}

fn compiled_proto() -> Result<&'static Arc<proto_rules::Model>, DecodeFailure> {
    static MODEL: OnceLock<Result<Arc<proto_rules::Model>, String>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            proto_rules::compile_source(proto::TICK_PROTO)
                .map(|f| Arc::new(proto_rules::Model::of(&f)))
        })
        .as_ref()
        .map_err(|e| DecodeFailure::new(DecodeReason::Undecodable, format!("compiled schema: {e}")))
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
        let (id, body) = confluent::split(message)?;
        let tick = match self.writer(id)? {
            Writer::CurrentAvro(fields) => avro::decode_fields(body, fields)?,
            Writer::Avro(schema) => avro_resolved::decode_resolved(&schema, body)?,
            Writer::Proto(model) => {
                let (_, indexes, body) = confluent::split_proto(message)?;
                match model.message_at(&indexes) {
                    Some(name) if name == proto::MESSAGE_NAME => proto::decode(body)?,
                    other => {
                        return Err(DecodeFailure::new(
                            DecodeReason::IncompatibleSchema,
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

    /// Remembers `id` as the schema `text` (what the registry would answer), e.g. for an id
    /// known ahead; the same check as for an id resolved through the registry.
    pub fn preload(&self, id: u32, kind: Kind, text: &str) -> Result<(), DecodeFailure> {
        let resolved = classify(id, kind, text);
        self.known
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, resolved.clone());
        resolved.map(|_| ())
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
            let (fixed, format) = self.fixed;
            return match format {
                _ if id != fixed => Err(without_registry(id, fixed)),
                Format::Avro => Ok(Writer::CurrentAvro(avro::FIELDS)),
                Format::Proto => Ok(Writer::Proto(Arc::clone(compiled_proto()?))),
            };
        };
        let what = "schema registry: resolving a schema id";
        let resolved = match Lookup::ask(registry, runtime, id, what) {
            Lookup::Unavailable(e) => return Err(e),
            Lookup::Failed(e) => Err(e),
            Lookup::Found(kind, text) => classify(id, kind, &text),
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

/// `n` when `writer` is a record with exactly the first `n` fields of `current` (names and
/// types equal, in order).
fn same_prefix(writer: &Schema, current: &Schema) -> Option<usize> {
    let (Schema::Record(w), Schema::Record(c)) = (writer, current) else {
        return None;
    };
    if w.name != c.name || w.fields.len() > c.fields.len() {
        return None;
    }
    w.fields
        .iter()
        .zip(&c.fields)
        .all(|(a, b)| a.name == b.name && same_layout(&a.schema, &b.schema))
        .then_some(w.fields.len())
}

/// Whether data of `writer` decodes as `current`: the same type, or the same enum whose symbols
/// `current` extends at the end (v3 added `BEST_BID_OFFER` to v2's `EventKind`: every index a
/// v2 writer can write means the same symbol).
fn same_layout(writer: &Schema, current: &Schema) -> bool {
    match (writer, current) {
        (Schema::Enum(w), Schema::Enum(c)) => {
            w.name == c.name && w.default == c.default && c.symbols.starts_with(&w.symbols)
        }
        _ => writer == current,
    }
}

/// How a writer schema relates to the compiled one.
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
            let current = avro::schema()?;
            crate::schemas::avro::can_read(&writer, current)
                .map_err(|(field, reason)| incompatible(format!("field `{field}`: {reason}")))?;
            // The same fields as the compiled schema, or its first n (v1: every field but the
            // ones v2, v3 and v4 appended), each of the same type (apache-avro's structural equality:
            // logical types, decimal precision and scale included): the hot decoder.
            match same_prefix(&writer, current) {
                Some(n) if n >= avro::REQUIRED_PREFIX => Ok(Writer::CurrentAvro(n)),
                _ => Ok(Writer::Avro(Arc::new(writer))),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn kind_of(text: &str) -> Result<Writer, DecodeFailure> {
        classify(7, Kind::Avro, text)
    }

    #[test]
    fn writers_are_classified_by_layout_and_types() {
        let v1 = include_str!("../../schemas/avro/tick.v1.avsc");
        assert!(matches!(
            kind_of(avro::TICK_AVSC),
            Ok(Writer::CurrentAvro(avro::FIELDS))
        ));
        assert!(matches!(
            kind_of(v1),
            Ok(Writer::CurrentAvro(avro::REQUIRED_PREFIX))
        ));
        let v2 = include_str!("../../schemas/avro/tick.v2.avsc");
        assert!(matches!(kind_of(v2), Ok(Writer::CurrentAvro(25))));
        let v3 = include_str!("../../schemas/avro/tick.v3.avsc");
        assert!(matches!(kind_of(v3), Ok(Writer::CurrentAvro(26))));
        // An enum whose symbols are not a prefix of the current ones: the generic path.
        let reordered = v2.replace(
            r#"["UNKNOWN", "TICKER", "TRADE"]"#,
            r#"["UNKNOWN", "TRADE", "TICKER"]"#,
        );
        assert_ne!(reordered, v2);
        assert!(matches!(kind_of(&reordered), Ok(Writer::Avro(_))));
        // Same names and layout, another time unit: not the hot decoder (it would read
        // milliseconds as microseconds), the generic path converts.
        let millis = v1.replace(
            r#"{"name": "trade_ts_us", "type": ["null", {"type": "long", "logicalType": "timestamp-micros"}]"#,
            r#"{"name": "trade_ts_us", "type": ["null", {"type": "long", "logicalType": "timestamp-millis"}]"#,
        );
        assert_ne!(millis, v1);
        assert!(matches!(kind_of(&millis), Ok(Writer::Avro(_))));
        // Another decimal scale: refused, not misread.
        let scale = v1.replacen(r#""scale": 18"#, r#""scale": 8"#, 1);
        let err = kind_of(&scale).err().unwrap();
        assert_eq!(err.reason, DecodeReason::IncompatibleSchema);
        assert!(err.error.contains("last_price"), "{err}");
    }

    #[test]
    fn a_millisecond_writer_is_converted() {
        let v1 = include_str!("../../schemas/avro/tick.v1.avsc");
        let millis = v1.replace(
            r#"{"name": "trade_ts_us", "type": ["null", {"type": "long", "logicalType": "timestamp-micros"}]"#,
            r#"{"name": "trade_ts_us", "type": ["null", {"type": "long", "logicalType": "timestamp-millis"}]"#,
        );
        let resolver = Resolver::new(None, 1, Format::Avro);
        resolver.preload(9, Kind::Avro, &millis).unwrap();
        let mut tick = crate::model::Tick::new(
            crate::model::Exchange::Upbit,
            crate::model::Instrument::parse("BTC-KRW").unwrap(),
            "KRW-BTC",
            crate::model::EventKind::Trade,
            1.into(),
            1_700_000_000_000_123,
        );
        tick.trade_ts_us = Some(1_700_000_000_000_000);
        // Written by the millisecond schema: the same bytes as micros/1000 in that field.
        let mut written = tick.clone();
        written.trade_ts_us = Some(1_700_000_000_000);
        let mut message = Vec::new();
        crate::codec::Encoder {
            format: Format::Avro,
            schema_id: 9,
        }
        .encode(&written, &mut message)
        .unwrap();
        // v1 has none of the seven fields v2, v3 and v4 added (null unions and false flags:
        // one byte each).
        message.truncate(message.len() - 7);
        assert_eq!(resolver.decode(&message).unwrap().1, tick);
    }
}
