//! The instrument reference record (topic `instruments.v1`, compacted, key
//! `EXCHANGE:BASE-QUOTE`): what gather knows of one followed instrument, and its codecs, Avro
//! ([`avro`], `schemas/avro/instrument.v1.avsc`) and Protobuf ([`proto`],
//! `schemas/proto/instrument.v1.proto`), both Confluent-framed like ticks.
//!
//! Not a hot path (a few thousand records at start, a handful per listing refresh): Avro goes
//! through apache-avro's generic values, and reads a writer of another version by field name.

pub mod avro;
pub mod proto;

use super::{CodecError, Format, confluent};
use crate::model::listing::{Listed, ListingStatus, Notice};
use crate::model::{Exchange, Instrument};
use rust_decimal::Decimal;

/// The version of `schemas/*/instrument.vN.*` this build writes and reads natively.
pub const SCHEMA_VERSION: u32 = super::version(env!("CURRENT_SCHEMA_INSTRUMENT_VERSION"));

/// Whether gather follows the instrument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Followed: its ticks flow.
    Live,
    /// No longer followed: delisted by the venue, halted, or out of the selection.
    Delisted,
}

impl State {
    /// In schema order after the default `UNKNOWN`.
    pub const ALL: [State; 2] = [Self::Live, Self::Delisted];

    /// The schema symbol (`LIVE`, `DELISTED`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Live => "LIVE",
            Self::Delisted => "DELISTED",
        }
    }
}

/// Listing statuses in schema order after the default `UNKNOWN` (a unit test checks both
/// schemas).
pub const STATUSES: [ListingStatus; 8] = [
    ListingStatus::Trading,
    ListingStatus::PreTrading,
    ListingStatus::PostTrading,
    ListingStatus::CancelOnly,
    ListingStatus::Halted,
    ListingStatus::AuctionMatch,
    ListingStatus::EndOfDay,
    ListingStatus::Break,
];

/// Notices in schema order after the default `UNKNOWN`.
pub const NOTICES: [Notice; 7] = [
    Notice::Warning,
    Notice::Caution,
    Notice::PriceFluctuations,
    Notice::TradingVolumeSoaring,
    Notice::DepositAmountSoaring,
    Notice::GlobalPriceDifferences,
    Notice::ConcentrationOfSmallAccounts,
];

/// The schema symbol of a status (`TRADING`, `PRE_TRADING`, ...).
pub fn status_symbol(s: ListingStatus) -> String {
    s.as_str().to_ascii_uppercase()
}

/// The schema symbol of a notice (`WARNING`, `PRICE_FLUCTUATIONS`, ...).
pub fn notice_symbol(n: Notice) -> String {
    n.as_str().to_ascii_uppercase()
}

/// One record of the reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstrumentRecord {
    /// The venue.
    pub exchange: Exchange,
    /// Canonical `BASE-QUOTE` (the schema also carries its two assets).
    pub instrument: Instrument,
    /// The venue's own symbol.
    pub native_symbol: String,
    /// Followed or not.
    pub state: State,
    /// The venue's status in the last listing that named it; `None` when decoded from a newer
    /// writer with a status this build does not know.
    pub status: Option<ListingStatus>,
    /// Smallest price increment, where published.
    pub tick_size: Option<Decimal>,
    /// Smallest quantity increment, where published.
    pub lot_size: Option<Decimal>,
    /// Notices, sorted, each once (ones this build does not know are left out when decoding).
    pub notices: Vec<Notice>,
    /// First seen listed by the writing gatherer in its run, UTC epoch µs.
    pub first_seen_ts_us: i64,
    /// Last seen in the followed listing, UTC epoch µs.
    pub last_seen_ts_us: i64,
    /// Fetch time of the listing this record states, UTC epoch µs: the newer of two records
    /// of one key has the greater.
    pub as_of_ts_us: i64,
}

impl InstrumentRecord {
    /// The record of `listed` in `state`, as of the listing fetched at `as_of_ts_us`.
    pub fn of(listed: &Listed, state: State, as_of_ts_us: i64) -> Self {
        let mut notices = listed.notices.clone();
        notices.sort_unstable();
        notices.dedup();
        Self {
            exchange: listed.exchange,
            instrument: listed.instrument.clone(),
            native_symbol: listed.native_symbol.clone(),
            state,
            status: Some(listed.status),
            tick_size: listed.tick_size.map(|d| d.normalize()),
            lot_size: listed.lot_size.map(|d| d.normalize()),
            notices,
            first_seen_ts_us: listed.first_seen_us,
            last_seen_ts_us: listed.last_seen_us,
            as_of_ts_us,
        }
    }

    /// The Kafka key, `EXCHANGE:BASE-QUOTE` (as ticks: one partition per instrument).
    pub fn key(&self) -> String {
        format!("{}:{}", self.exchange.as_str(), self.instrument.as_str())
    }

    /// The same reference apart from the times that move on every listing (`last_seen_ts_us`,
    /// `as_of_ts_us`): nothing a consumer needs to hear again.
    pub fn same_reference(&self, other: &Self) -> bool {
        let strip = |r: &Self| Self {
            last_seen_ts_us: 0,
            as_of_ts_us: 0,
            ..r.clone()
        };
        strip(self) == strip(other)
    }

    /// Appends the Confluent-framed encoding in `format` with `schema_id` to `out`.
    pub fn encode(
        &self,
        format: Format,
        schema_id: u32,
        out: &mut Vec<u8>,
    ) -> Result<(), CodecError> {
        match format {
            Format::Avro => {
                confluent::write_header(out, schema_id);
                avro::encode(self, out)
            }
            Format::Proto => {
                confluent::write_proto_header(out, schema_id, &[0]);
                proto::encode(self, out)
            }
        }
    }

    /// Decodes a framed message written with the compiled schema: the schema id and the
    /// record.
    pub fn decode(format: Format, message: &[u8]) -> Result<(u32, Self), CodecError> {
        match format {
            Format::Avro => {
                let (id, body) = confluent::split(message)?;
                Ok((id, avro::decode(body)?))
            }
            Format::Proto => {
                let (id, indexes, body) = confluent::split_proto(message)?;
                if indexes != [0] {
                    return Err(CodecError::Framing(format!(
                        "message indexes {indexes:?} do not name {}",
                        proto::MESSAGE_NAME
                    )));
                }
                Ok((id, proto::decode(body)?))
            }
        }
    }
}

#[cfg(test)]
mod tests;
