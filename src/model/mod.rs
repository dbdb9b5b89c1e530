//! The canonical model: [`Tick`] and its parts, exact decimals, validation and rejections.
//!
//! Everything downstream of the adapters speaks only these types.

pub mod decimal;
pub mod flags;
pub mod listing;
pub mod per_exchange;
pub mod reject;
pub mod status;
pub mod time;
pub mod validate;

use compact_str::CompactString;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::fmt;

pub use flags::Flag;
pub use per_exchange::PerExchange;
pub use reject::{Reason, Rejection};
pub use validate::{ValidationConfig, validate};

/// A venue tickflow reads from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Exchange {
    /// Upbit (quotation WebSocket v1).
    Upbit,
    /// Binance spot.
    Binance,
    /// Bithumb (legacy pubwss API and the Upbit-compatible v1 API).
    Bithumb,
    /// Coinone (public WebSocket; since schema v5 of ticks, v2 of instruments and statuses).
    Coinone,
}

impl Exchange {
    /// Every supported exchange.
    pub const ALL: [Exchange; 4] = [Self::Upbit, Self::Binance, Self::Bithumb, Self::Coinone];

    /// Upper-case name as used in Kafka keys and Redis keys (`UPBIT`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Upbit => "UPBIT",
            Self::Binance => "BINANCE",
            Self::Bithumb => "BITHUMB",
            Self::Coinone => "COINONE",
        }
    }

    /// Lower-case name as connector files, URLs and the command line spell it (`upbit`).
    pub fn lowercase(self) -> String {
        self.as_str().to_ascii_lowercase()
    }

    /// Every exchange by `name`, joined for prose: `a, b, c or d` with `conjunction` "or".
    pub fn list(conjunction: &str, name: impl Fn(Self) -> String) -> String {
        let names: Vec<String> = Self::ALL.into_iter().map(name).collect();
        match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => {
                format!("{} {conjunction} {last}", rest.join(", "))
            }
            _ => names.concat(),
        }
    }

    /// Parses a name in any case (`upbit`, `UPBIT`).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|e| e.as_str().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for Exchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of exchange event produced a tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EventKind {
    /// A ticker summary (last price plus window statistics).
    Ticker,
    /// A single trade (Binance `aggTrade` included).
    Trade,
    /// The top of the book: best bid and ask with their sizes (since schema v3). It carries
    /// no trade, so its `last_price` is the mid price (the field is required since v1).
    BestBidOffer,
}

impl EventKind {
    /// Every kind, in schema symbol order after `UNKNOWN`.
    pub const ALL: [EventKind; 3] = [Self::Ticker, Self::Trade, Self::BestBidOffer];

    /// The contract's name (`TICKER`, `TRADE`, `BEST_BID_OFFER`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ticker => "TICKER",
            Self::Trade => "TRADE",
            Self::BestBidOffer => "BEST_BID_OFFER",
        }
    }
}

/// The aggressor (taker) side of a trade (since schema v3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TradeSide {
    /// The taker bought (Binance `m: false`, Upbit `ask_bid: BID`, Bithumb `buySellGb: 2`).
    Buy,
    /// The taker sold.
    Sell,
}

impl TradeSide {
    /// The contract's name (`BUY`, `SELL`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Buy => "BUY",
            Self::Sell => "SELL",
        }
    }
}

/// Whether a tick is the exchange's snapshot of the current state (sent on subscribe) or a
/// real-time update (Upbit and Bithumb v1 `stream_type`). Since schema v2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum StreamType {
    /// The current state, sent once on subscribe.
    Snapshot,
    /// A live update.
    Realtime,
}

impl StreamType {
    /// The contract's name (`SNAPSHOT`, `REALTIME`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Snapshot => "SNAPSHOT",
            Self::Realtime => "REALTIME",
        }
    }
}

/// The market's trading state as the exchange reports it (Upbit `market_state`). Since v2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum MarketState {
    /// Listed, trading not open yet.
    Preview,
    /// Trading.
    Active,
    /// Delisted.
    Delisted,
}

impl MarketState {
    /// The contract's name (`PREVIEW`, `ACTIVE`, `DELISTED`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Preview => "PREVIEW",
            Self::Active => "ACTIVE",
            Self::Delisted => "DELISTED",
        }
    }
}

/// A canonical instrument `BASE-QUOTE`, upper case ASCII letters and digits, e.g. `BTC-KRW`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Instrument(CompactString);

/// Longest asset code accepted (real ones are at most ~12 characters).
const MAX_ASSET_LEN: usize = 20;

fn valid_asset(asset: &str) -> bool {
    !asset.is_empty()
        && asset.len() <= MAX_ASSET_LEN
        && asset
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

impl Instrument {
    /// Builds `BASE-QUOTE` from its parts; `None` when either part is not a valid asset code.
    pub fn new(base: &str, quote: &str) -> Option<Self> {
        if !valid_asset(base) || !valid_asset(quote) {
            return None;
        }
        let mut text = CompactString::with_capacity(base.len() + 1 + quote.len());
        text.push_str(base);
        text.push('-');
        text.push_str(quote);
        Some(Self(text))
    }

    /// Parses the canonical form `BASE-QUOTE`.
    pub fn parse(canonical: &str) -> Option<Self> {
        let (base, quote) = canonical.split_once('-')?;
        Self::new(base, quote)
    }

    /// The canonical text, e.g. `BTC-KRW`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The base asset, e.g. `BTC`.
    pub fn base(&self) -> &str {
        self.0.split_once('-').map_or("", |(b, _)| b)
    }

    /// The quote asset, e.g. `KRW`.
    pub fn quote(&self) -> &str {
        self.0.split_once('-').map_or("", |(_, q)| q)
    }
}

impl fmt::Display for Instrument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Instrument {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Instrument {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <&str>::deserialize(d)?;
        Self::parse(text)
            .ok_or_else(|| serde::de::Error::custom(format!("invalid instrument `{text}`")))
    }
}

/// One canonical tick. Field names match the newest `schemas/avro/tick.vN.avsc` and `schemas/proto/tick.vN.proto`.
///
/// Decimals are exact and normalized (no trailing zeros); times are UTC epoch microseconds;
/// anything the exchange did not send is `None`, never zero.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tick {
    /// Venue.
    pub exchange: Exchange,
    /// Canonical `BASE-QUOTE`.
    pub instrument: Instrument,
    /// The exchange's own symbol (`KRW-BTC`, `BTCUSDT`, `BTC_KRW`).
    pub native_symbol: CompactString,
    /// Event kind.
    pub kind: EventKind,
    /// Last traded price.
    pub last_price: Decimal,
    /// Size of the last trade (base units).
    pub last_qty: Option<Decimal>,
    /// Window open.
    pub open_price: Option<Decimal>,
    /// Window high.
    pub high_price: Option<Decimal>,
    /// Window low.
    pub low_price: Option<Decimal>,
    /// Reference price that `change` is measured against.
    pub prev_close_price: Option<Decimal>,
    /// Signed absolute change.
    pub change: Option<Decimal>,
    /// Signed relative change as a fraction (0.01 = +1 %).
    pub change_rate: Option<Decimal>,
    /// Rolling 24 h volume, base units.
    pub volume_24h_base: Option<Decimal>,
    /// Rolling 24 h value, quote units.
    pub volume_24h_quote: Option<Decimal>,
    /// Best bid price.
    pub bid_price: Option<Decimal>,
    /// Best bid size.
    pub bid_qty: Option<Decimal>,
    /// Best ask price.
    pub ask_price: Option<Decimal>,
    /// Best ask size.
    pub ask_qty: Option<Decimal>,
    /// Exchange event time, µs; `None` when the exchange sends none (Binance spot
    /// `bookTicker`), never made up from the receive time.
    pub event_ts_us: Option<i64>,
    /// Last trade time, µs.
    pub trade_ts_us: Option<i64>,
    /// Exchange sequence, unique per instrument only: the trade id of a trade, the last trade
    /// id of a ticker, the book update id of a best bid/offer.
    pub sequence: Option<i64>,
    /// Our receive time, µs.
    pub received_ts_us: i64,
    /// Snapshot or real-time update, where the exchange says (since v2).
    pub stream_type: Option<StreamType>,
    /// The market's state, where the exchange says (since v2).
    pub market_state: Option<MarketState>,
    /// Announced delisting date, days since 1970-01-01 UTC (since v2).
    pub delisting_date: Option<i32>,
    /// Aggressor side of the (last) trade, where the exchange says (since v3).
    #[serde(default)]
    pub trade_side: Option<TradeSide>,
    /// Quality flag (since v4): the first tick of its instrument and kind from a WebSocket
    /// session other than the one that carried the previous one. Set by the gather pipeline
    /// ([`crate::gather::flags`]), never by adapters.
    #[serde(default)]
    pub first_after_connect: bool,
    /// Quality flag (since v4): the venue says this tick restates its current state (Upbit
    /// and Bithumb v1 `stream_type` `SNAPSHOT`). Set by the adapters.
    #[serde(default)]
    pub snapshot: bool,
    /// Quality flag (since v4): on a channel whose ids are consecutive per instrument
    /// ([`crate::exchange::profile::ChannelSpec::consecutive_ids`]), `sequence` is more than one
    /// above the previous tick's. Set by the gather pipeline.
    #[serde(default)]
    pub sequence_gap: bool,
    /// Synthetic: made by `tickflow simulate`, not by an exchange. Not a schema field: it
    /// travels as the Kafka header `simulated: true` and the Redis field `simulated`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub simulated: bool,
}

impl Tick {
    /// A tick with only the required fields set; adapters fill in the rest.
    pub fn new(
        exchange: Exchange,
        instrument: Instrument,
        native_symbol: &str,
        kind: EventKind,
        last_price: Decimal,
        received_ts_us: i64,
    ) -> Self {
        Self {
            exchange,
            instrument,
            native_symbol: CompactString::new(native_symbol),
            kind,
            last_price,
            last_qty: None,
            open_price: None,
            high_price: None,
            low_price: None,
            prev_close_price: None,
            change: None,
            change_rate: None,
            volume_24h_base: None,
            volume_24h_quote: None,
            bid_price: None,
            bid_qty: None,
            ask_price: None,
            ask_qty: None,
            event_ts_us: None,
            trade_ts_us: None,
            sequence: None,
            received_ts_us,
            stream_type: None,
            market_state: None,
            delisting_date: None,
            trade_side: None,
            first_after_connect: false,
            snapshot: false,
            sequence_gap: false,
            simulated: false,
        }
    }

    /// The Kafka key `EXCHANGE:BASE-QUOTE` (per-instrument ordering).
    pub fn key(&self) -> String {
        let mut key = String::with_capacity(24);
        self.write_key(&mut key);
        key
    }

    /// Appends the Kafka key to `out` (no allocation when `out` has room).
    pub fn write_key(&self, out: &mut String) {
        use std::fmt::Write as _;
        let _ = write!(out, "{}:{}", self.exchange.as_str(), self.instrument);
    }

    /// Every decimal field's value in schema order; [`Tick::DECIMAL_FIELDS`] names them.
    pub fn decimals(&self) -> [Option<Decimal>; 14] {
        [
            Some(self.last_price),
            self.last_qty,
            self.open_price,
            self.high_price,
            self.low_price,
            self.prev_close_price,
            self.change,
            self.change_rate,
            self.volume_24h_base,
            self.volume_24h_quote,
            self.bid_price,
            self.bid_qty,
            self.ask_price,
            self.ask_qty,
        ]
    }

    /// Contract names of the fields [`Tick::decimals`] returns, in the same order.
    pub const DECIMAL_FIELDS: [&'static str; 14] = [
        "last_price",
        "last_qty",
        "open_price",
        "high_price",
        "low_price",
        "prev_close_price",
        "change",
        "change_rate",
        "volume_24h_base",
        "volume_24h_quote",
        "bid_price",
        "bid_qty",
        "ask_price",
        "ask_qty",
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instrument_rules() {
        let i = Instrument::new("BTC", "KRW").unwrap();
        assert_eq!((i.as_str(), i.base(), i.quote()), ("BTC-KRW", "BTC", "KRW"));
        assert_eq!(Instrument::parse("1INCH-USDT").unwrap().base(), "1INCH");
        for bad in [
            "btc-krw",
            "BTC",
            "BTC-",
            "-KRW",
            "BTC-KRW-X",
            "BTC_KRW",
            "BT C-KRW",
            "",
        ] {
            assert!(Instrument::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn exchange_names() {
        assert_eq!(Exchange::parse("upbit"), Some(Exchange::Upbit));
        assert_eq!(Exchange::parse("BITHUMB"), Some(Exchange::Bithumb));
        assert_eq!(Exchange::parse("kraken"), None);
    }
}
