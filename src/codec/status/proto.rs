//! Protobuf encoding of [`FeedStatus`] per `schemas/proto/status.v1.proto` (prost types
//! generated at build time).

use crate::codec::CodecError;
use crate::model::status::{FeedState, FeedStatus};
use crate::model::{Exchange, Instrument};
use prost::Message;

/// Its text, as registered.
pub const STATUS_PROTO: &str = include_str!(env!("CURRENT_SCHEMA_STATUS_PROTO"));
/// Full name of the message (RecordNameStrategy subjects, message indexes).
pub const MESSAGE_NAME: &str = "tickflow.status.v1.FeedStatus";

/// Types generated from the current schema (package `tickflow.status.v1`).
#[allow(missing_docs, clippy::all)]
pub mod pb {
    include!(concat!(env!("OUT_DIR"), "/tickflow.status.v1.rs"));
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

/// The generated message for `s`.
pub fn to_message(s: &FeedStatus) -> pb::FeedStatus {
    pb::FeedStatus {
        exchange: nth(&Exchange::ALL, &s.exchange),
        connector: s.connector.clone(),
        connection: i32::try_from(s.connection).unwrap_or(i32::MAX),
        state: nth(&FeedState::ALL, &s.state),
        ts_us: s.ts_us,
        reason: s.reason.clone(),
        instruments: s.instruments.iter().map(|i| i.as_str().into()).collect(),
        gap_start_ts_us: s.gap_start_us,
        gap_end_ts_us: s.gap_end_us,
    }
}

/// Appends the Protobuf body of `s` (no framing).
pub fn encode(s: &FeedStatus, out: &mut Vec<u8>) -> Result<(), CodecError> {
    to_message(s).encode(out).map_err(|e| CodecError::Invalid {
        field: "record",
        detail: e.to_string(),
    })
}

/// Decodes a Protobuf body (no framing). Field numbers never change meaning, so a compatible
/// writer of another version decodes here as is.
pub fn decode(body: &[u8]) -> Result<FeedStatus, CodecError> {
    let m = pb::FeedStatus::decode(body).map_err(|e| CodecError::Invalid {
        field: "record",
        detail: e.to_string(),
    })?;
    let invalid = |field: &'static str, detail: String| CodecError::Invalid { field, detail };
    let exchange = of(&Exchange::ALL, m.exchange)
        .ok_or_else(|| invalid("exchange", format!("value {}", m.exchange)))?;
    let state = of(&FeedState::ALL, m.state)
        .ok_or_else(|| invalid("state", format!("value {}", m.state)))?;
    let connection =
        u32::try_from(m.connection).map_err(|_| invalid("connection", "negative".into()))?;
    let instruments = m
        .instruments
        .iter()
        .map(|s| {
            Instrument::parse(s)
                .ok_or_else(|| invalid("instruments", format!("`{s}` is not BASE-QUOTE")))
        })
        .collect::<Result<_, _>>()?;
    Ok(FeedStatus {
        exchange,
        connector: m.connector,
        connection,
        state,
        ts_us: m.ts_us,
        reason: m.reason,
        instruments,
        gap_start_us: m.gap_start_ts_us,
        gap_end_us: m.gap_end_ts_us,
    })
}
