//! Avro encoding of [`FeedStatus`] per `schemas/avro/status.v1.avsc` (apache-avro's generic
//! values), and decoding of any compatible writer version by field name (fields the writer
//! lacks take their defaults; a state this build does not know is refused).

use crate::codec::CodecError;
use crate::codec::avro_value::{
    enum_symbol, invalid, micros, optional, string, symbol, unwrap_union,
};
use crate::model::status::{FeedState, FeedStatus};
use crate::model::{Exchange, Instrument};
use apache_avro::Schema;
use apache_avro::types::Value;
use std::collections::HashMap;
use std::sync::OnceLock;

/// The schema text of [`super::SCHEMA_VERSION`], source of truth in `schemas/avro/`.
pub const STATUS_AVSC: &str = include_str!(env!("CURRENT_SCHEMA_STATUS_AVSC"));
/// Full name of the record (RecordNameStrategy subjects).
pub const RECORD_NAME: &str = "io.tickflow.status.v1.FeedStatus";

/// The parsed schema (parsed once).
pub fn schema() -> Result<&'static Schema, CodecError> {
    static SCHEMA: OnceLock<Result<Schema, String>> = OnceLock::new();
    SCHEMA
        .get_or_init(|| Schema::parse_str(STATUS_AVSC).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| invalid("schema", e.clone()))
}

/// The record as apache-avro's generic value.
pub fn to_value(s: &FeedStatus) -> Value {
    let exchange = Exchange::ALL
        .iter()
        .position(|e| *e == s.exchange)
        .unwrap_or(0);
    let state = FeedState::ALL
        .iter()
        .position(|x| *x == s.state)
        .unwrap_or(0);
    Value::Record(vec![
        (
            "exchange".into(),
            symbol(exchange, s.exchange.as_str().into()),
        ),
        ("connector".into(), Value::String(s.connector.clone())),
        (
            "connection".into(),
            Value::Int(i32::try_from(s.connection).unwrap_or(i32::MAX)),
        ),
        ("state".into(), symbol(state, s.state.as_str().into())),
        ("ts_us".into(), Value::TimestampMicros(s.ts_us)),
        (
            "reason".into(),
            optional(s.reason.clone().map(Value::String)),
        ),
        (
            "instruments".into(),
            Value::Array(
                s.instruments
                    .iter()
                    .map(|i| Value::String(i.as_str().into()))
                    .collect(),
            ),
        ),
        (
            "gap_start_ts_us".into(),
            optional(s.gap_start_us.map(Value::TimestampMicros)),
        ),
        (
            "gap_end_ts_us".into(),
            optional(s.gap_end_us.map(Value::TimestampMicros)),
        ),
    ])
}

/// Appends the Avro body of `s` (no framing).
pub fn encode(s: &FeedStatus, out: &mut Vec<u8>) -> Result<(), CodecError> {
    #[allow(deprecated)]
    let body = apache_avro::to_avro_datum(schema()?, to_value(s))
        .map_err(|e| invalid("record", e.to_string()))?;
    out.extend_from_slice(&body);
    Ok(())
}

/// Decodes a body written with the compiled schema.
pub fn decode(body: &[u8]) -> Result<FeedStatus, CodecError> {
    decode_with(schema()?, body)
}

/// Decodes a body written with `writer` (a compatible version), matching fields by name.
pub fn decode_with(writer: &Schema, body: &[u8]) -> Result<FeedStatus, CodecError> {
    from_value(crate::codec::avro_resolved::read_whole(writer, body)?)
}

fn optional_micros(
    fields: &mut HashMap<String, Value>,
    field: &'static str,
) -> Result<Option<i64>, CodecError> {
    match fields.get(field).map(|v| unwrap_union(v.clone())) {
        None | Some(Value::Null) => Ok(None),
        Some(_) => micros(fields, field).map(Some),
    }
}

/// The record in a generic record value of any compatible version, matched by field name.
pub fn from_value(value: Value) -> Result<FeedStatus, CodecError> {
    let Value::Record(fields) = value else {
        return Err(invalid("record", "not a record"));
    };
    let mut fields: HashMap<String, Value> = fields.into_iter().collect();
    let exchange = fields
        .get("exchange")
        .and_then(enum_symbol)
        .and_then(Exchange::parse)
        .ok_or_else(|| invalid("exchange", "not a venue this build knows"))?;
    let state = fields
        .get("state")
        .and_then(enum_symbol)
        .and_then(|s| FeedState::ALL.into_iter().find(|x| x.as_str() == s))
        .ok_or_else(|| invalid("state", "not a state this build knows"))?;
    let connection = match fields.remove("connection").map(unwrap_union) {
        Some(Value::Int(n)) => u32::try_from(n).map_err(|_| invalid("connection", "negative"))?,
        other => {
            return Err(invalid(
                "connection",
                format!("expected an int, found {other:?}"),
            ));
        }
    };
    let reason = match fields.remove("reason").map(unwrap_union) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(other) => {
            return Err(invalid(
                "reason",
                format!("expected a string, found {other:?}"),
            ));
        }
    };
    let instruments = match fields.remove("instruments").map(unwrap_union) {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|v| match unwrap_union(v) {
                Value::String(s) => Instrument::parse(&s)
                    .ok_or_else(|| invalid("instruments", format!("`{s}` is not BASE-QUOTE"))),
                other => Err(invalid(
                    "instruments",
                    format!("expected a string, found {other:?}"),
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(invalid(
                "instruments",
                format!("expected an array, found {other:?}"),
            ));
        }
    };
    Ok(FeedStatus {
        exchange,
        connector: string(&mut fields, "connector")?,
        connection,
        state,
        ts_us: micros(&mut fields, "ts_us")?,
        reason,
        instruments,
        gap_start_us: optional_micros(&mut fields, "gap_start_ts_us")?,
        gap_end_us: optional_micros(&mut fields, "gap_end_ts_us")?,
    })
}
