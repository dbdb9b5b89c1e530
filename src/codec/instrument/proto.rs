//! Protobuf encoding of [`InstrumentRecord`] per `schemas/proto/instrument.v1.proto`
//! (decimals as exact strings; prost types generated at build time).

use super::{InstrumentRecord, NOTICES, STATUSES, State};
use crate::codec::CodecError;
use crate::model::decimal::parse_decimal_str;
use crate::model::{Exchange, Instrument};
use prost::Message;
use rust_decimal::Decimal;

/// Its text, as registered.
pub const INSTRUMENT_PROTO: &str = include_str!(env!("CURRENT_SCHEMA_INSTRUMENT_PROTO"));
/// Full name of the message (RecordNameStrategy subjects, message indexes).
pub const MESSAGE_NAME: &str = "tickflow.instrument.v1.Instrument";

/// Types generated from the current schema (package `tickflow.instrument.v1`).
#[allow(missing_docs, clippy::all)]
pub mod pb {
    include!(concat!(env!("OUT_DIR"), "/tickflow.instrument.v1.rs"));
}

fn nth<T: PartialEq>(all: &[T], x: &T) -> i32 {
    // 0 is the default UNKNOWN.
    all.iter()
        .position(|a| a == x)
        .map_or(0, |i| i32::try_from(i + 1).unwrap_or(0))
}

fn of<T: Copy>(all: &[T], n: i32) -> Option<T> {
    all.get(usize::try_from(n).ok()?.checked_sub(1)?).copied()
}

/// The generated message for `r`.
pub fn to_message(r: &InstrumentRecord) -> pb::Instrument {
    pb::Instrument {
        exchange: nth(&Exchange::ALL, &r.exchange),
        instrument: r.instrument.as_str().into(),
        base_asset: r.instrument.base().into(),
        quote_asset: r.instrument.quote().into(),
        native_symbol: r.native_symbol.clone(),
        state: nth(&State::ALL, &r.state),
        status: r.status.map_or(0, |s| nth(&STATUSES, &s)),
        tick_size: r.tick_size.map(|d| d.normalize().to_string()),
        lot_size: r.lot_size.map(|d| d.normalize().to_string()),
        notices: r.notices.iter().map(|n| nth(&NOTICES, n)).collect(),
        first_seen_ts_us: r.first_seen_ts_us,
        last_seen_ts_us: r.last_seen_ts_us,
        as_of_ts_us: r.as_of_ts_us,
    }
}

/// Appends the Protobuf body of `r` (no framing).
pub fn encode(r: &InstrumentRecord, out: &mut Vec<u8>) -> Result<(), CodecError> {
    to_message(r).encode(out).map_err(|e| CodecError::Invalid {
        field: "record",
        detail: e.to_string(),
    })
}

fn dec(field: &'static str, text: Option<&String>) -> Result<Option<Decimal>, CodecError> {
    text.map(|t| {
        parse_decimal_str(t).map_err(|e| CodecError::Invalid {
            field,
            detail: format!("`{t}`: {e}"),
        })
    })
    .transpose()
}

/// Decodes a Protobuf body (no framing). Field numbers never change meaning, so a compatible
/// writer of another version decodes here as is; values this build does not know are absent.
pub fn decode(body: &[u8]) -> Result<InstrumentRecord, CodecError> {
    let m = pb::Instrument::decode(body).map_err(|e| CodecError::Invalid {
        field: "record",
        detail: e.to_string(),
    })?;
    let invalid = |field: &'static str, detail: String| CodecError::Invalid { field, detail };
    let exchange = of(&Exchange::ALL, m.exchange)
        .ok_or_else(|| invalid("exchange", format!("value {}", m.exchange)))?;
    let state =
        of(&State::ALL, m.state).ok_or_else(|| invalid("state", format!("value {}", m.state)))?;
    let instrument = Instrument::parse(&m.instrument).ok_or_else(|| {
        invalid(
            "instrument",
            format!("`{}` is not BASE-QUOTE", m.instrument),
        )
    })?;
    let mut notices: Vec<_> = m.notices.iter().filter_map(|n| of(&NOTICES, *n)).collect();
    notices.sort_unstable();
    notices.dedup();
    Ok(InstrumentRecord {
        exchange,
        instrument,
        native_symbol: m.native_symbol,
        state,
        status: of(&STATUSES, m.status),
        tick_size: dec("tick_size", m.tick_size.as_ref())?,
        lot_size: dec("lot_size", m.lot_size.as_ref())?,
        notices,
        first_seen_ts_us: m.first_seen_ts_us,
        last_seen_ts_us: m.last_seen_ts_us,
        as_of_ts_us: m.as_of_ts_us,
    })
}
