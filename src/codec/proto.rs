//! Protobuf encoding of [`Tick`] per the current schema, the newest `schemas/proto/tick.vN.proto`
//! (decimals as exact strings). Field numbers never change meaning between versions, so a
//! message written with an older or newer compatible version decodes here as is: fields this
//! build does not know are skipped, fields the writer lacks are absent.

use super::CodecError;
use crate::model::decimal::parse_decimal_str;
use crate::model::{EventKind, Exchange, Instrument, MarketState, StreamType, Tick, TradeSide};
use compact_str::CompactString;
use prost::Message;
use rust_decimal::Decimal;

/// The version of `schemas/proto/tick.vN.proto` this build compiles (see `src/build.rs`).
pub const SCHEMA_VERSION: u32 = super::version(env!("CURRENT_SCHEMA_TICK_VERSION"));
/// Its text, as registered.
pub const TICK_PROTO: &str = include_str!(env!("CURRENT_SCHEMA_TICK_PROTO"));
/// Full name of the message (RecordNameStrategy subjects).
pub const MESSAGE_NAME: &str = "tickflow.v1.Tick";

/// Types generated from the current schema at build time (package `tickflow.v1`).
#[allow(missing_docs, clippy::all)]
pub mod pb {
    include!(concat!(env!("OUT_DIR"), "/tickflow.v1.rs"));
}

fn s(d: Option<Decimal>) -> Option<String> {
    d.map(|d| d.normalize().to_string())
}

/// The generated message for `tick`.
pub fn to_message(tick: &Tick) -> pb::Tick {
    pb::Tick {
        // Enum values follow `Exchange::ALL` and `EventKind::ALL` after UNKNOWN = 0 (tested).
        exchange: tick.exchange.index() as i32 + 1,
        instrument: tick.instrument.to_string(),
        native_symbol: tick.native_symbol.to_string(),
        kind: tick.kind as i32 + 1,
        last_price: tick.last_price.normalize().to_string(),
        last_qty: s(tick.last_qty),
        open_price: s(tick.open_price),
        high_price: s(tick.high_price),
        low_price: s(tick.low_price),
        prev_close_price: s(tick.prev_close_price),
        change: s(tick.change),
        change_rate: s(tick.change_rate),
        volume_24h_base: s(tick.volume_24h_base),
        volume_24h_quote: s(tick.volume_24h_quote),
        bid_price: s(tick.bid_price),
        bid_qty: s(tick.bid_qty),
        ask_price: s(tick.ask_price),
        ask_qty: s(tick.ask_qty),
        event_ts_us: tick.event_ts_us,
        trade_ts_us: tick.trade_ts_us,
        sequence: tick.sequence,
        received_ts_us: tick.received_ts_us,
        stream_type: tick.stream_type.map(|t| match t {
            StreamType::Snapshot => pb::StreamType::Snapshot as i32,
            StreamType::Realtime => pb::StreamType::Realtime as i32,
        }),
        market_state: tick.market_state.map(|m| match m {
            MarketState::Preview => pb::MarketState::Preview as i32,
            MarketState::Active => pb::MarketState::Active as i32,
            MarketState::Delisted => pb::MarketState::Delisted as i32,
        }),
        delisting_date: tick.delisting_date,
        trade_side: tick.trade_side.map(|s| match s {
            TradeSide::Buy => pb::TradeSide::Buy as i32,
            TradeSide::Sell => pb::TradeSide::Sell as i32,
        }),
        first_after_connect: tick.first_after_connect,
        snapshot: tick.snapshot,
        sequence_gap: tick.sequence_gap,
    }
}

/// Appends the Protobuf body of `tick` to `out` (no framing).
pub fn encode(tick: &Tick, out: &mut Vec<u8>) -> Result<(), CodecError> {
    to_message(tick)
        .encode(out)
        .map_err(|e| CodecError::Invalid {
            field: "record",
            detail: e.to_string(),
        })
}

fn dec(field: &'static str, text: &str) -> Result<Decimal, CodecError> {
    parse_decimal_str(text).map_err(|e| CodecError::Invalid {
        field,
        detail: format!("`{text}`: {e}"),
    })
}

fn opt(field: &'static str, text: Option<&String>) -> Result<Option<Decimal>, CodecError> {
    text.map(|t| dec(field, t)).transpose()
}

/// Decodes a Protobuf body (no framing).
pub fn decode(body: &[u8]) -> Result<Tick, CodecError> {
    let m = pb::Tick::decode(body).map_err(|e| CodecError::Invalid {
        field: "record",
        detail: e.to_string(),
    })?;
    let nth = |n: i32| usize::try_from(n).ok()?.checked_sub(1);
    let exchange = nth(m.exchange)
        .and_then(|i| Exchange::ALL.get(i).copied())
        .ok_or_else(|| CodecError::Invalid {
            field: "exchange",
            detail: format!("value {}", m.exchange),
        })?;
    let kind = nth(m.kind)
        .and_then(|i| EventKind::ALL.get(i).copied())
        .ok_or_else(|| CodecError::Invalid {
            field: "kind",
            detail: format!("value {}", m.kind),
        })?;
    let instrument = Instrument::parse(&m.instrument).ok_or_else(|| CodecError::Invalid {
        field: "instrument",
        detail: format!("`{}` is not BASE-QUOTE", m.instrument),
    })?;
    Ok(Tick {
        exchange,
        instrument,
        native_symbol: CompactString::new(&m.native_symbol),
        kind,
        last_price: dec("last_price", &m.last_price)?,
        last_qty: opt("last_qty", m.last_qty.as_ref())?,
        open_price: opt("open_price", m.open_price.as_ref())?,
        high_price: opt("high_price", m.high_price.as_ref())?,
        low_price: opt("low_price", m.low_price.as_ref())?,
        prev_close_price: opt("prev_close_price", m.prev_close_price.as_ref())?,
        change: opt("change", m.change.as_ref())?,
        change_rate: opt("change_rate", m.change_rate.as_ref())?,
        volume_24h_base: opt("volume_24h_base", m.volume_24h_base.as_ref())?,
        volume_24h_quote: opt("volume_24h_quote", m.volume_24h_quote.as_ref())?,
        bid_price: opt("bid_price", m.bid_price.as_ref())?,
        bid_qty: opt("bid_qty", m.bid_qty.as_ref())?,
        ask_price: opt("ask_price", m.ask_price.as_ref())?,
        ask_qty: opt("ask_qty", m.ask_qty.as_ref())?,
        event_ts_us: m.event_ts_us,
        trade_ts_us: m.trade_ts_us,
        sequence: m.sequence,
        received_ts_us: m.received_ts_us,
        // A value this build does not know (a newer writer's) is absent, as in Avro.
        stream_type: match m.stream_type.map(pb::StreamType::try_from) {
            Some(Ok(pb::StreamType::Snapshot)) => Some(StreamType::Snapshot),
            Some(Ok(pb::StreamType::Realtime)) => Some(StreamType::Realtime),
            _ => None,
        },
        market_state: match m.market_state.map(pb::MarketState::try_from) {
            Some(Ok(pb::MarketState::Preview)) => Some(MarketState::Preview),
            Some(Ok(pb::MarketState::Active)) => Some(MarketState::Active),
            Some(Ok(pb::MarketState::Delisted)) => Some(MarketState::Delisted),
            _ => None,
        },
        delisting_date: m.delisting_date,
        trade_side: match m.trade_side.map(pb::TradeSide::try_from) {
            Some(Ok(pb::TradeSide::Buy)) => Some(TradeSide::Buy),
            Some(Ok(pb::TradeSide::Sell)) => Some(TradeSide::Sell),
            _ => None,
        },
        // Absent (false) in messages written before v4.
        first_after_connect: m.first_after_connect,
        snapshot: m.snapshot,
        sequence_gap: m.sequence_gap,
        simulated: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_values_follow_the_model_order() {
        for (i, e) in Exchange::ALL.into_iter().enumerate() {
            let name = pb::Exchange::try_from(i as i32 + 1).unwrap().as_str_name();
            assert_eq!(name, format!("EXCHANGE_{}", e.as_str()));
        }
        for (i, k) in EventKind::ALL.into_iter().enumerate() {
            let name = pb::EventKind::try_from(i as i32 + 1).unwrap().as_str_name();
            assert_eq!(name, format!("EVENT_KIND_{}", k.as_str()));
            assert_eq!(k as i32 + 1, i as i32 + 1);
        }
    }
}
