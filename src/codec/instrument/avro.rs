//! Avro encoding of [`InstrumentRecord`] per `schemas/avro/instrument.v1.avsc` (apache-avro's
//! generic values), and decoding of any compatible writer version by field name (the same
//! resolution as ticks': fields the writer lacks take their defaults, symbols this build does
//! not know become absent).

use super::{InstrumentRecord, NOTICES, STATUSES, State, notice_symbol, status_symbol};
use crate::codec::CodecError;
use crate::codec::avro::{decimal_from_bytes, twos_complement};
use crate::codec::avro_value::{
    enum_symbol, invalid, micros, optional, string, symbol, unwrap_union,
};
use crate::model::validate::wire_unscaled;
use crate::model::{Exchange, Instrument};
use apache_avro::Schema;
use apache_avro::types::Value;
use rust_decimal::Decimal;
use std::collections::HashMap;
use std::sync::OnceLock;

/// The schema text of [`super::SCHEMA_VERSION`], source of truth in `schemas/avro/`.
pub const INSTRUMENT_AVSC: &str = include_str!(env!("CURRENT_SCHEMA_INSTRUMENT_AVSC"));
/// Full name of the record (RecordNameStrategy subjects).
pub const RECORD_NAME: &str = "io.tickflow.instrument.v1.Instrument";

/// The parsed schema (parsed once).
pub fn schema() -> Result<&'static Schema, CodecError> {
    static SCHEMA: OnceLock<Result<Schema, String>> = OnceLock::new();
    SCHEMA
        .get_or_init(|| Schema::parse_str(INSTRUMENT_AVSC).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| invalid("schema", e.clone()))
}

fn decimal(field: &'static str, d: Decimal) -> Result<Value, CodecError> {
    let unscaled = wire_unscaled(d).ok_or_else(|| CodecError::Unrepresentable {
        field,
        detail: format!("{d} needs more than 18 decimal places or 20 integer digits"),
    })?;
    let mut buf = [0u8; 16];
    let bytes = twos_complement(unscaled, &mut buf).to_vec();
    Ok(Value::Decimal(apache_avro::Decimal::from(bytes)))
}

/// The record as apache-avro's generic value.
pub fn to_value(r: &InstrumentRecord) -> Result<Value, CodecError> {
    let exchange = Exchange::ALL
        .iter()
        .position(|e| *e == r.exchange)
        .unwrap_or(0);
    let state = State::ALL.iter().position(|s| *s == r.state).unwrap_or(0);
    let status = match r.status {
        Some(s) => symbol(
            STATUSES.iter().position(|x| *x == s).unwrap_or(0),
            status_symbol(s),
        ),
        None => Value::Enum(0, "UNKNOWN".into()),
    };
    let notices = r
        .notices
        .iter()
        .map(|n| {
            symbol(
                NOTICES.iter().position(|x| x == n).unwrap_or(0),
                notice_symbol(*n),
            )
        })
        .collect();
    Ok(Value::Record(vec![
        (
            "exchange".into(),
            symbol(exchange, r.exchange.as_str().into()),
        ),
        (
            "instrument".into(),
            Value::String(r.instrument.as_str().into()),
        ),
        (
            "base_asset".into(),
            Value::String(r.instrument.base().into()),
        ),
        (
            "quote_asset".into(),
            Value::String(r.instrument.quote().into()),
        ),
        (
            "native_symbol".into(),
            Value::String(r.native_symbol.clone()),
        ),
        ("state".into(), symbol(state, r.state.as_str().into())),
        ("status".into(), status),
        (
            "tick_size".into(),
            optional(r.tick_size.map(|d| decimal("tick_size", d)).transpose()?),
        ),
        (
            "lot_size".into(),
            optional(r.lot_size.map(|d| decimal("lot_size", d)).transpose()?),
        ),
        ("notices".into(), Value::Array(notices)),
        (
            "first_seen_ts_us".into(),
            Value::TimestampMicros(r.first_seen_ts_us),
        ),
        (
            "last_seen_ts_us".into(),
            Value::TimestampMicros(r.last_seen_ts_us),
        ),
        ("as_of_ts_us".into(), Value::TimestampMicros(r.as_of_ts_us)),
    ]))
}

/// Appends the Avro body of `r` (no framing).
pub fn encode(r: &InstrumentRecord, out: &mut Vec<u8>) -> Result<(), CodecError> {
    #[allow(deprecated)]
    let body = apache_avro::to_avro_datum(schema()?, to_value(r)?)
        .map_err(|e| invalid("record", e.to_string()))?;
    out.extend_from_slice(&body);
    Ok(())
}

/// Decodes a body written with the compiled schema.
pub fn decode(body: &[u8]) -> Result<InstrumentRecord, CodecError> {
    decode_with(schema()?, body)
}

/// Decodes a body written with `writer` (a compatible version: check it first with
/// [`crate::schemas::avro::can_read`]), matching fields by name.
pub fn decode_with(writer: &Schema, body: &[u8]) -> Result<InstrumentRecord, CodecError> {
    from_value(crate::codec::avro_resolved::read_whole(writer, body)?)
}

fn opt_decimal(
    fields: &mut HashMap<String, Value>,
    field: &'static str,
) -> Result<Option<Decimal>, CodecError> {
    match fields.remove(field).map(unwrap_union) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Decimal(d)) => {
            let bytes = <Vec<u8>>::try_from(&d).map_err(|e| invalid(field, e.to_string()))?;
            decimal_from_bytes(field, &bytes).map(Some)
        }
        Some(Value::Bytes(b)) => decimal_from_bytes(field, &b).map(Some),
        Some(other) => Err(invalid(
            field,
            format!("expected a decimal, found {other:?}"),
        )),
    }
}

/// The record in a generic record value of any compatible version, matched by field name.
pub fn from_value(value: Value) -> Result<InstrumentRecord, CodecError> {
    let Value::Record(fields) = value else {
        return Err(invalid("record", "not a record"));
    };
    let mut fields: HashMap<String, Value> = fields.into_iter().collect();
    let exchange = fields
        .get("exchange")
        .and_then(enum_symbol)
        .and_then(Exchange::parse)
        .ok_or_else(|| invalid("exchange", "not a venue this build knows"))?;
    let text = string(&mut fields, "instrument")?;
    let instrument = Instrument::parse(&text)
        .ok_or_else(|| invalid("instrument", format!("`{text}` is not BASE-QUOTE")))?;
    let state = fields
        .get("state")
        .and_then(enum_symbol)
        .and_then(|s| State::ALL.into_iter().find(|x| x.as_str() == s))
        .ok_or_else(|| invalid("state", "not LIVE or DELISTED"))?;
    let status = fields
        .get("status")
        .and_then(enum_symbol)
        .and_then(|s| STATUSES.into_iter().find(|x| status_symbol(*x) == s));
    let mut notices: Vec<_> = match fields.remove("notices").map(unwrap_union) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(enum_symbol)
            .filter_map(|s| NOTICES.into_iter().find(|n| notice_symbol(*n) == s))
            .collect(),
        None => Vec::new(),
        Some(other) => {
            return Err(invalid(
                "notices",
                format!("expected an array, found {other:?}"),
            ));
        }
    };
    notices.sort_unstable();
    notices.dedup();
    Ok(InstrumentRecord {
        exchange,
        instrument,
        native_symbol: string(&mut fields, "native_symbol")?,
        state,
        status,
        tick_size: opt_decimal(&mut fields, "tick_size")?,
        lot_size: opt_decimal(&mut fields, "lot_size")?,
        notices,
        first_seen_ts_us: micros(&mut fields, "first_seen_ts_us")?,
        last_seen_ts_us: micros(&mut fields, "last_seen_ts_us")?,
        as_of_ts_us: micros(&mut fields, "as_of_ts_us")?,
    })
}
