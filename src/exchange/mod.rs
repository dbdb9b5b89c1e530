//! Exchange adapters: the anti-corruption layer.
//!
//! Each adapter is a pure function of (frame bytes, frame type, receive time) to a canonical
//! [`Tick`], a [`Control`] message, an [`Decoded::Unsupported`] classification, or a typed
//! [`Rejection`]. No I/O, no clock, no globals: the caller passes the receive time.
//!
//! A venue is one folder, `<venue>/`: its decoders per channel (the [`Adapter`]), its
//! subscribe-request builders, its symbol mapping both ways, and its declarative
//! [`profile::Profile`]s, listed once in [`PROFILES`]. Generic code reads profiles and never
//! matches on a venue.

pub mod binance;
pub mod bithumb;
mod book;
pub mod coinone;
mod json;
pub mod profile;
pub mod reference;
pub mod session;
pub mod upbit;

/// Every venue API tickflow speaks; a venue's first entry is its default API.
pub static PROFILES: [&profile::Profile; 5] = [
    &upbit::profile::PROFILE,
    &binance::profile::PROFILE,
    &bithumb::profile::V1,
    &bithumb::profile::LEGACY,
    &coinone::profile::PROFILE,
];

/// The profile of `exchange`'s API `api` (its default when `None`).
pub fn profile_for(exchange: Exchange, api: Option<&str>) -> Option<&'static profile::Profile> {
    PROFILES
        .iter()
        .copied()
        .filter(|p| p.exchange == exchange)
        .find(|p| api.is_none_or(|a| a == p.api))
}

use crate::model::{Exchange, Instrument, Rejection, Tick, ValidationConfig};
use std::collections::HashSet;
use std::sync::Arc;

pub use binance::BinanceAdapter;
pub use binance::symbols::SymbolTable;
pub use bithumb::BithumbAdapter;
pub use upbit::UpbitAdapter;

/// How a WebSocket frame arrived. Adapters accept both; Upbit sends JSON in binary frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameType {
    /// A text frame.
    Text,
    /// A binary frame.
    Binary,
}

/// One WebSocket frame as received.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// Text or binary.
    pub frame_type: FrameType,
    /// The payload, untouched.
    pub bytes: &'a [u8],
}

impl<'a> Frame<'a> {
    /// A text frame.
    pub fn text(bytes: &'a [u8]) -> Self {
        Self {
            frame_type: FrameType::Text,
            bytes,
        }
    }
    /// A binary frame.
    pub fn binary(bytes: &'a [u8]) -> Self {
        Self {
            frame_type: FrameType::Binary,
            bytes,
        }
    }
}

/// A protocol message that carries no market data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    /// The server accepted a subscription (Binance `{"result":null,"id":1}`, Bithumb
    /// `Filter Registered Successfully`).
    SubscribeAck {
        /// Request id, when the protocol echoes one.
        id: Option<i64>,
    },
    /// A keepalive answer or status report (Upbit/Bithumb `{"status":"UP"}`).
    Status {
        /// The status text.
        status: String,
    },
    /// The server greeted a new connection (Bithumb legacy `Connected Successfully`).
    Connected,
    /// The server announced it is about to close the connection (Binance `serverShutdown`).
    ServerShutdown,
}

/// What one frame turned into.
// A tick is returned by value on purpose: boxing would cost an allocation per frame.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    /// A validated canonical tick.
    Tick(Tick),
    /// Several validated ticks from one frame, in frame order (Bithumb legacy `transaction`
    /// lists several trades); never empty.
    Ticks(Vec<Tick>),
    /// A control message; not market data, not an error.
    Control(Control),
    /// A well-formed message of a type tickflow does not normalize (e.g. an order book).
    Unsupported {
        /// The exchange's name for it (`orderbook`, `kline`, `depthUpdate`, ...).
        message_type: String,
    },
}

impl Decoded {
    /// The ticks it holds, in frame order: one, several, or none (a control message or an
    /// unsupported type).
    pub fn ticks(&self) -> &[Tick] {
        match self {
            Self::Tick(tick) => std::slice::from_ref(tick),
            Self::Ticks(ticks) => ticks,
            Self::Control(_) | Self::Unsupported { .. } => &[],
        }
    }
}

/// Settings shared by all adapters.
#[derive(Debug, Clone)]
pub struct AdapterConfig {
    /// Validation rules.
    pub validation: ValidationConfig,
    /// Frames larger than this are rejected before parsing.
    pub max_frame_bytes: usize,
    /// When set, instruments outside this set are rejected as unknown.
    pub instruments: Option<Arc<HashSet<Instrument>>>,
}

impl AdapterConfig {
    /// Default maximum frame size: 64 KiB (a ticker frame is under 2 KiB).
    pub const fn default_max_frame_bytes() -> usize {
        64 * 1024
    }

    pub(crate) fn check_instrument(&self, instrument: &Instrument) -> Result<(), Rejection> {
        match &self.instruments {
            Some(known) if !known.contains(instrument) => Err(Rejection::new(
                crate::model::Reason::UnknownInstrument,
                format!("instrument `{instrument}` is not configured"),
            )),
            _ => Ok(()),
        }
    }
}

impl Default for AdapterConfig {
    fn default() -> Self {
        Self {
            validation: ValidationConfig::default(),
            max_frame_bytes: Self::default_max_frame_bytes(),
            instruments: None,
        }
    }
}

/// An exchange protocol decoder.
pub trait Adapter: Send + Sync {
    /// The venue this adapter decodes.
    fn exchange(&self) -> Exchange;

    /// Decodes one frame received at `received_ts_us` (UTC epoch µs).
    fn decode(&self, frame: Frame<'_>, received_ts_us: i64) -> Result<Decoded, Rejection>;

    /// The same frame on the general path only, for an adapter with a fast path for the
    /// venue's exact layouts (tests and the fuzz target check both agree); `None` where the
    /// adapter has one path.
    #[doc(hidden)]
    fn decode_general_path(
        &self,
        _frame: Frame<'_>,
        _received_ts_us: i64,
    ) -> Option<Result<Decoded, Rejection>> {
        None
    }
}

/// Builds the adapter for `exchange` (one adapter reads every API of a venue) with its
/// reference data from `references`.
pub fn adapter_for(
    exchange: Exchange,
    config: AdapterConfig,
    references: &reference::References,
) -> Option<Box<dyn Adapter>> {
    profile_for(exchange, None).map(|p| (p.adapter)(config, references.get(exchange)))
}
