//! Avro messages written with another version of the schema (an older or a newer tickflow):
//! decoded with the writer's schema, then resolved into the current one by field name, as Avro
//! schema resolution does: fields the writer lacks take the reader's defaults (every optional
//! field's is null, the quality flags' false), fields the reader lacks are skipped, enum symbols the reader lacks become
//! its default (absent). The slow generic path; the hot decoder in [`super::avro`] serves the
//! current schema.
//!
//! Callers check first that the writer's schema can be read at all
//! ([`crate::schemas::avro_can_read`]: types, decimal precision and scale, required fields).
//! The resolution is done here rather than by apache-avro's reader-schema path because that
//! path (0.22) refuses every `bytes` decimal shorter than the bytes the declared precision
//! could need ("Precision 38 too small to hold decimal values with 15 bytes"), which is nearly
//! every price.

use super::CodecError;
use super::avro::{decimal_from_bytes, market_state_of, stream_type_of, trade_side_of};
use crate::model::{EventKind, Exchange, Instrument, Tick};
use apache_avro::Schema;
use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::types::Value;
use rust_decimal::Decimal;
use std::collections::HashMap;

fn invalid(field: &'static str, detail: impl Into<String>) -> CodecError {
    CodecError::Invalid {
        field,
        detail: detail.into(),
    }
}

/// One whole datum of `body`, written with `writer`, as a generic value (trailing bytes are
/// an error): the first step of every resolved decode (ticks, instrument records).
pub(crate) fn read_whole(writer: &Schema, body: &[u8]) -> Result<Value, CodecError> {
    let reader = GenericDatumReader::builder(writer)
        .build()
        .map_err(|e| invalid("schema", e.to_string()))?;
    let mut rest = body;
    let value = reader
        .read_value(&mut rest)
        .map_err(|e| invalid("record", e.to_string()))?;
    if !rest.is_empty() {
        return Err(CodecError::TrailingBytes(rest.len()));
    }
    Ok(value)
}

/// Decodes `body`, written with `writer`, into the current schema's [`Tick`].
pub fn decode_resolved(writer: &Schema, body: &[u8]) -> Result<Tick, CodecError> {
    from_value(read_whole(writer, body)?)
}

/// The tick in a generic record value of any compatible version, matched by field name.
pub fn from_value(value: Value) -> Result<Tick, CodecError> {
    let Value::Record(fields) = value else {
        return Err(invalid("record", "not a record"));
    };
    let mut f: HashMap<String, Value> = fields.into_iter().collect();
    // A field the writer lacks takes the reader's default: null for every optional field;
    // the required ones are missing (the compatibility check refuses such a writer first).
    let mut take = |name: &'static str| -> Result<Value, CodecError> {
        Ok(f.remove(name).unwrap_or(Value::Null))
    };
    let exchange_symbol = symbol("exchange", take("exchange")?)?;
    let exchange = Exchange::ALL
        .into_iter()
        .find(|e| e.as_str() == exchange_symbol)
        .ok_or_else(|| invalid("exchange", format!("symbol `{exchange_symbol}`")))?;
    let text = string("instrument", take("instrument")?)?;
    let instrument = Instrument::parse(&text)
        .ok_or_else(|| invalid("instrument", format!("`{text}` is not BASE-QUOTE")))?;
    let native_symbol = string("native_symbol", take("native_symbol")?)?;
    let kind_symbol = symbol("kind", take("kind")?)?;
    let kind = EventKind::ALL
        .into_iter()
        .find(|k| k.as_str() == kind_symbol)
        .ok_or_else(|| invalid("kind", format!("symbol `{kind_symbol}`")))?;
    let last_price = decimal("last_price", take("last_price")?)?;
    let received = micros("received_ts_us", take("received_ts_us")?)?;
    let mut tick = Tick::new(
        exchange,
        instrument,
        &native_symbol,
        kind,
        last_price,
        received,
    );
    let mut dec = |name: &'static str| -> Result<Option<Decimal>, CodecError> {
        optional(take(name)?).map(|v| decimal(name, v)).transpose()
    };
    tick.last_qty = dec("last_qty")?;
    tick.open_price = dec("open_price")?;
    tick.high_price = dec("high_price")?;
    tick.low_price = dec("low_price")?;
    tick.prev_close_price = dec("prev_close_price")?;
    tick.change = dec("change")?;
    tick.change_rate = dec("change_rate")?;
    tick.volume_24h_base = dec("volume_24h_base")?;
    tick.volume_24h_quote = dec("volume_24h_quote")?;
    tick.bid_price = dec("bid_price")?;
    tick.bid_qty = dec("bid_qty")?;
    tick.ask_price = dec("ask_price")?;
    tick.ask_qty = dec("ask_qty")?;
    let mut opt_time = |name: &'static str| -> Result<Option<i64>, CodecError> {
        optional(take(name)?).map(|v| micros(name, v)).transpose()
    };
    tick.event_ts_us = opt_time("event_ts_us")?;
    tick.trade_ts_us = opt_time("trade_ts_us")?;
    tick.sequence = optional(take("sequence")?)
        .map(|v| long("sequence", v))
        .transpose()?;
    // An enum symbol this build does not know (a newer writer's) resolves to UNKNOWN: absent.
    tick.stream_type = optional(take("stream_type")?)
        .map(|v| symbol("stream_type", v))
        .transpose()?
        .and_then(|s| stream_type_of(&s));
    tick.market_state = optional(take("market_state")?)
        .map(|v| symbol("market_state", v))
        .transpose()?
        .and_then(|s| market_state_of(&s));
    tick.delisting_date = match optional(take("delisting_date")?) {
        None => None,
        Some(Value::Date(d) | Value::Int(d)) => Some(d),
        Some(other) => return Err(invalid("delisting_date", format!("{other:?}"))),
    };
    tick.trade_side = optional(take("trade_side")?)
        .map(|v| symbol("trade_side", v))
        .transpose()?
        .and_then(|s| trade_side_of(&s));
    // The quality flags (v4): a writer without them never set one (false, their default).
    tick.first_after_connect = flag("first_after_connect", take("first_after_connect")?)?;
    tick.snapshot = flag("snapshot", take("snapshot")?)?;
    tick.sequence_gap = flag("sequence_gap", take("sequence_gap")?)?;
    Ok(tick)
}

/// A boolean field, false when the writer lacks it.
fn flag(field: &'static str, v: Value) -> Result<bool, CodecError> {
    match optional(v) {
        None => Ok(false),
        Some(Value::Boolean(b)) => Ok(b),
        Some(other) => Err(invalid(
            field,
            format!("expected a boolean, found {other:?}"),
        )),
    }
}

fn optional(v: Value) -> Option<Value> {
    match v {
        Value::Union(_, inner) => optional(*inner),
        Value::Null => None,
        other => Some(other),
    }
}

fn symbol(field: &'static str, v: Value) -> Result<String, CodecError> {
    match v {
        Value::Enum(_, s) => Ok(s),
        other => Err(invalid(field, format!("expected an enum, found {other:?}"))),
    }
}

fn string(field: &'static str, v: Value) -> Result<String, CodecError> {
    match v {
        Value::String(s) => Ok(s),
        other => Err(invalid(
            field,
            format!("expected a string, found {other:?}"),
        )),
    }
}

fn long(field: &'static str, v: Value) -> Result<i64, CodecError> {
    match v {
        Value::Long(n) => Ok(n),
        Value::Int(n) => Ok(i64::from(n)),
        other => Err(invalid(field, format!("expected a long, found {other:?}"))),
    }
}

/// A time in epoch microseconds, whatever unit the writer's logical type says.
fn micros(field: &'static str, v: Value) -> Result<i64, CodecError> {
    match v {
        Value::TimestampMicros(n) | Value::Long(n) => Ok(n),
        Value::TimestampMillis(n) => n
            .checked_mul(1000)
            .ok_or_else(|| invalid(field, format!("{n} ms is out of range"))),
        Value::TimestampNanos(n) => Ok(n.div_euclid(1000)),
        other => Err(invalid(
            field,
            format!("expected a timestamp, found {other:?}"),
        )),
    }
}

fn decimal(field: &'static str, v: Value) -> Result<Decimal, CodecError> {
    match v {
        Value::Decimal(d) => {
            let bytes = <Vec<u8>>::try_from(&d).map_err(|e| invalid(field, e.to_string()))?;
            decimal_from_bytes(field, &bytes)
        }
        Value::Bytes(b) => decimal_from_bytes(field, &b),
        other => Err(invalid(
            field,
            format!("expected a decimal, found {other:?}"),
        )),
    }
}
