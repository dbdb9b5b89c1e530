//! Upbit quotation WebSocket v1 (`wss://api.upbit.com/websocket/v1`): `ticker`, `trade` and
//! `orderbook` (top of book, [`orderbook`]) in the DEFAULT and SIMPLE key formats. Bithumb's v1
//! API speaks the same format and reuses [`QuotationFields`] and [`quotation_to_decoded`].
//!
//! Docs: <https://global-docs.upbit.com/reference/websocket-ticker>. A DEFAULT ticker:
//! ```json
//! {"type":"ticker","code":"KRW-ETH","opening_price":37249,"high_price":37645,
//!  "low_price":36732,"trade_price":36929,"prev_closing_price":37235,"change":"FALL",
//!  "signed_change_price":-306,"signed_change_rate":-0.0082180744,"trade_volume":0.00006314,
//!  "acc_trade_volume_24h":0.22569412,"acc_trade_price_24h":8320.40577449,
//!  "trade_timestamp":1693383665811,"timestamp":1693383690031,"stream_type":"SNAPSHOT"}
//! ```
//! SIMPLE abbreviates keys (`ty`, `cd`, `tp`, `scr`, ...). Numbers are JSON numbers and may use
//! exponent notation (`6E-8`); they are read from the token text, never through `f64`.
//! Deprecated fields (`is_trading_suspended`, `market_warning`, ...) are never read.
//! `stream_type`, `market_state` and `delisting_date` are carried since schema v2, the trade
//! side (`ask_bid`: `BID` = the taker bought) since v3; `stream_type` `SNAPSHOT` also sets the
//! `snapshot` quality flag (v4).

pub mod listing;
pub(crate) mod orderbook;
pub mod profile;
pub mod session;
pub mod subscribe;

use super::book::{self, Top};
use super::json::{
    Fields, Parser, Raw, decimal, frame_text, integer, millis_to_micros, no_duplicate,
    parse_object_into, required_decimal, store,
};
use super::{Adapter, AdapterConfig, Control, Decoded, Frame};
use crate::model::time::parse_date_days;
use crate::model::{
    EventKind, Exchange, Instrument, MarketState, Reason, Rejection, StreamType, Tick, TradeSide,
    validate,
};
use rust_decimal::Decimal;
use std::borrow::Cow;

/// Upbit adapter.
#[derive(Debug, Clone, Default)]
pub struct UpbitAdapter {
    config: AdapterConfig,
}

impl UpbitAdapter {
    /// Builds the adapter.
    pub fn new(config: AdapterConfig) -> Self {
        Self { config }
    }
}

impl Adapter for UpbitAdapter {
    fn exchange(&self) -> Exchange {
        Exchange::Upbit
    }

    fn decode(&self, frame: Frame<'_>, received_ts_us: i64) -> Result<Decoded, Rejection> {
        let text = frame_text(frame.bytes, self.config.max_frame_bytes)?;
        let mut fields = QuotationFields::default();
        parse_object_into(text, &mut fields)?;
        quotation_to_decoded(Exchange::Upbit, &fields, received_ts_us, &self.config)
    }
}

/// `{"error":{"name":"WRONG_FORMAT","message":"..."}}`.
#[derive(Debug, Default)]
pub(crate) struct QuotationError<'a> {
    duplicate: Option<&'static str>,
    name: Option<Cow<'a, str>>,
    message: Option<Cow<'a, str>>,
}

impl<'a> Fields<'a> for QuotationError<'a> {
    fn field(&mut self, key: &'a str, p: &mut Parser<'a>) -> Result<(), Rejection> {
        match key {
            "name" => store(&mut self.name, &mut self.duplicate, "name", p),
            "message" => store(&mut self.message, &mut self.duplicate, "message", p),
            _ => p.skip(),
        }
    }
}

/// The fields of an Upbit-format quotation message that the canonical model needs, under
/// both their DEFAULT and SIMPLE names. Everything else is skipped unread.
#[derive(Debug, Default)]
pub(crate) struct QuotationFields<'a> {
    pub duplicate: Option<&'static str>,
    pub ty: Option<&'a str>,
    pub code: Option<&'a str>,
    pub opening_price: Option<Raw<'a>>,
    pub high_price: Option<Raw<'a>>,
    pub low_price: Option<Raw<'a>>,
    pub trade_price: Option<Raw<'a>>,
    pub prev_closing_price: Option<Raw<'a>>,
    pub change: Option<&'a str>,
    pub change_price: Option<Raw<'a>>,
    pub signed_change_price: Option<Raw<'a>>,
    pub change_rate: Option<Raw<'a>>,
    pub signed_change_rate: Option<Raw<'a>>,
    pub trade_volume: Option<Raw<'a>>,
    pub acc_trade_volume_24h: Option<Raw<'a>>,
    pub acc_trade_price_24h: Option<Raw<'a>>,
    pub trade_timestamp: Option<Raw<'a>>,
    pub timestamp: Option<Raw<'a>>,
    pub sequential_id: Option<Raw<'a>>,
    pub best_ask_price: Option<Raw<'a>>,
    pub best_ask_size: Option<Raw<'a>>,
    pub best_bid_price: Option<Raw<'a>>,
    pub best_bid_size: Option<Raw<'a>>,
    pub ask_bid: Option<&'a str>,
    /// Level 0 of `orderbook_units`; `Some(None)` when the list is empty.
    pub top: Option<Option<orderbook::Unit<'a>>>,
    pub stream_type: Option<&'a str>,
    pub market_state: Option<&'a str>,
    pub delisting_date: Option<&'a str>,
    pub status: Option<&'a str>,
    pub error: Option<QuotationError<'a>>,
}

impl<'a> Fields<'a> for QuotationFields<'a> {
    fn field(&mut self, key: &'a str, p: &mut Parser<'a>) -> Result<(), Rejection> {
        let dup = &mut self.duplicate;
        match key {
            "type" | "ty" => store(&mut self.ty, dup, "type", p),
            "code" | "cd" => store(&mut self.code, dup, "code", p),
            "opening_price" | "op" => store(&mut self.opening_price, dup, "opening_price", p),
            "high_price" | "hp" => store(&mut self.high_price, dup, "high_price", p),
            "low_price" | "lp" => store(&mut self.low_price, dup, "low_price", p),
            "trade_price" | "tp" => store(&mut self.trade_price, dup, "trade_price", p),
            "prev_closing_price" | "pcp" => {
                store(&mut self.prev_closing_price, dup, "prev_closing_price", p)
            }
            "change" | "c" => store(&mut self.change, dup, "change", p),
            "change_price" | "cp" => store(&mut self.change_price, dup, "change_price", p),
            "signed_change_price" | "scp" => {
                store(&mut self.signed_change_price, dup, "signed_change_price", p)
            }
            "change_rate" | "cr" => store(&mut self.change_rate, dup, "change_rate", p),
            "signed_change_rate" | "scr" => {
                store(&mut self.signed_change_rate, dup, "signed_change_rate", p)
            }
            "trade_volume" | "tv" => store(&mut self.trade_volume, dup, "trade_volume", p),
            "acc_trade_volume_24h" | "atv24h" => store(
                &mut self.acc_trade_volume_24h,
                dup,
                "acc_trade_volume_24h",
                p,
            ),
            "acc_trade_price_24h" | "atp24h" => {
                store(&mut self.acc_trade_price_24h, dup, "acc_trade_price_24h", p)
            }
            "trade_timestamp" | "ttms" => {
                store(&mut self.trade_timestamp, dup, "trade_timestamp", p)
            }
            "timestamp" | "tms" => store(&mut self.timestamp, dup, "timestamp", p),
            "sequential_id" | "sid" => store(&mut self.sequential_id, dup, "sequential_id", p),
            "best_ask_price" | "bap" => store(&mut self.best_ask_price, dup, "best_ask_price", p),
            "best_ask_size" | "bas" => store(&mut self.best_ask_size, dup, "best_ask_size", p),
            "best_bid_price" | "bbp" => store(&mut self.best_bid_price, dup, "best_bid_price", p),
            "best_bid_size" | "bbs" => store(&mut self.best_bid_size, dup, "best_bid_size", p),
            "ask_bid" | "ab" => store(&mut self.ask_bid, dup, "ask_bid", p),
            "orderbook_units" | "obu" => {
                if self.top.is_some() {
                    dup.get_or_insert("orderbook_units");
                }
                self.top = Some(orderbook::top_level(p)?);
                Ok(())
            }
            "stream_type" | "st" => store(&mut self.stream_type, dup, "stream_type", p),
            "market_state" | "ms" => store(&mut self.market_state, dup, "market_state", p),
            "delisting_date" | "dd" => store(&mut self.delisting_date, dup, "delisting_date", p),
            "status" => store(&mut self.status, dup, "status", p),
            "error" => {
                if self.error.is_some() {
                    dup.get_or_insert("error");
                }
                self.error = Some(p.object()?);
                Ok(())
            }
            _ => p.skip(),
        }
    }
}

/// Upbit's market code of an instrument: `KRW-BTC` (QUOTE-BASE) for `BTC-KRW`. Bithumb's v1
/// API uses the same codes.
pub fn market_code(instrument: &Instrument) -> String {
    format!("{}-{}", instrument.quote(), instrument.base())
}

/// The instrument of a market code (`KRW-BTC` → `BTC-KRW`); `None` when it is not QUOTE-BASE.
pub fn parse_market_code(code: &str) -> Option<Instrument> {
    let (quote, base) = code.split_once('-')?;
    Instrument::new(base, quote)
}

/// `KRW-BTC` (QUOTE-BASE) to `BTC-KRW`.
fn instrument_from_market_code(code: &str) -> Result<Instrument, Rejection> {
    parse_market_code(code).ok_or_else(|| {
        Rejection::new(
            Reason::UnknownInstrument,
            format!(
                "market code `{}` is not QUOTE-BASE",
                crate::model::reject::clip(code, 32)
            ),
        )
    })
}

/// Applies the sign of `change` (`RISE|EVEN|FALL`) to an unsigned value, for frames that omit
/// the signed variants.
fn signed_by_change(value: Option<Decimal>, change: Option<&str>) -> Option<Decimal> {
    match (value, change) {
        (Some(v), Some("FALL")) => Some(-v.abs()),
        (Some(v), Some("RISE" | "EVEN")) => Some(v.abs()),
        _ => None,
    }
}

/// Turns an Upbit-format message into a decoded result for `exchange`.
pub(crate) fn quotation_to_decoded(
    exchange: Exchange,
    f: &QuotationFields<'_>,
    received_ts_us: i64,
    config: &AdapterConfig,
) -> Result<Decoded, Rejection> {
    no_duplicate(f.duplicate)?;
    let kind = match f.ty {
        Some("ticker") => EventKind::Ticker,
        Some("trade") => EventKind::Trade,
        Some("orderbook") => EventKind::BestBidOffer,
        Some(other) => {
            return Ok(Decoded::Unsupported {
                message_type: other.to_owned(),
            });
        }
        None => return untyped(f),
    };
    let code = f.code.ok_or_else(|| Rejection::missing("code"))?;
    let instrument = instrument_from_market_code(code)?;
    config.check_instrument(&instrument)?;
    if kind == EventKind::BestBidOffer {
        return orderbook_to_decoded(exchange, instrument, code, f, received_ts_us, config);
    }
    let last_price = required_decimal("trade_price", f.trade_price)?;
    let mut tick = Tick::new(exchange, instrument, code, kind, last_price, received_ts_us);
    tick.last_qty = decimal("trade_volume", f.trade_volume)?;
    tick.open_price = decimal("opening_price", f.opening_price)?;
    tick.high_price = decimal("high_price", f.high_price)?;
    tick.low_price = decimal("low_price", f.low_price)?;
    tick.prev_close_price = decimal("prev_closing_price", f.prev_closing_price)?;
    tick.change = match decimal("signed_change_price", f.signed_change_price)? {
        Some(v) => Some(v),
        None => signed_by_change(decimal("change_price", f.change_price)?, f.change),
    };
    tick.change_rate = match decimal("signed_change_rate", f.signed_change_rate)? {
        Some(v) => Some(v),
        None => signed_by_change(decimal("change_rate", f.change_rate)?, f.change),
    };
    tick.volume_24h_base = decimal("acc_trade_volume_24h", f.acc_trade_volume_24h)?;
    tick.volume_24h_quote = decimal("acc_trade_price_24h", f.acc_trade_price_24h)?;
    tick.bid_price = decimal("best_bid_price", f.best_bid_price)?;
    tick.bid_qty = decimal("best_bid_size", f.best_bid_size)?;
    tick.ask_price = decimal("best_ask_price", f.best_ask_price)?;
    tick.ask_qty = decimal("best_ask_size", f.best_ask_size)?;
    let event_ms =
        integer("timestamp", f.timestamp)?.ok_or_else(|| Rejection::missing("timestamp"))?;
    tick.event_ts_us = millis_to_micros("timestamp", Some(event_ms))?;
    tick.trade_ts_us = millis_to_micros(
        "trade_timestamp",
        integer("trade_timestamp", f.trade_timestamp)?,
    )?;
    tick.sequence = integer("sequential_id", f.sequential_id)?;
    tick.trade_side = f
        .ask_bid
        .map(|side| match side {
            "BID" => Ok(TradeSide::Buy),
            "ASK" => Ok(TradeSide::Sell),
            other => Err(unexpected_value("ask_bid", other)),
        })
        .transpose()?;
    tick.stream_type = stream_type(f)?;
    tick.snapshot = tick.stream_type == Some(StreamType::Snapshot);
    tick.market_state = f
        .market_state
        .map(|m| match m {
            "PREVIEW" => Ok(MarketState::Preview),
            "ACTIVE" => Ok(MarketState::Active),
            "DELISTED" => Ok(MarketState::Delisted),
            other => Err(unexpected_value("market_state", other)),
        })
        .transpose()?;
    // Bithumb sends `""` for no date.
    tick.delisting_date = match f.delisting_date {
        None | Some("") => None,
        Some(date) => Some(parse_date_days(date).map_err(|_| {
            Rejection::new(
                Reason::InvalidTimestamp,
                format!(
                    "`delisting_date` `{}` is not a yyyy-MM-dd date",
                    crate::model::reject::clip(date, 32)
                ),
            )
        })?),
    };
    validate(&tick, &config.validation)?;
    Ok(Decoded::Tick(tick))
}

fn stream_type(f: &QuotationFields<'_>) -> Result<Option<StreamType>, Rejection> {
    f.stream_type
        .map(|t| match t {
            "SNAPSHOT" => Ok(StreamType::Snapshot),
            "REALTIME" => Ok(StreamType::Realtime),
            other => Err(unexpected_value("stream_type", other)),
        })
        .transpose()
}

/// An `orderbook` message: its level 0 as a best bid/offer, timed by the book's timestamp.
fn orderbook_to_decoded(
    exchange: Exchange,
    instrument: Instrument,
    code: &str,
    f: &QuotationFields<'_>,
    received_ts_us: i64,
    config: &AdapterConfig,
) -> Result<Decoded, Rejection> {
    let unit = f
        .top
        .as_ref()
        .ok_or_else(|| Rejection::missing("orderbook_units"))?
        .as_ref()
        .ok_or_else(|| Rejection::missing("orderbook_units[0]"))?;
    no_duplicate(unit.duplicate)?;
    let top = Top {
        bid: required_decimal("bid_price", unit.bid_price)?,
        bid_qty: required_decimal("bid_size", unit.bid_size)?,
        ask: required_decimal("ask_price", unit.ask_price)?,
        ask_qty: required_decimal("ask_size", unit.ask_size)?,
    };
    let mut tick = Tick::new(
        exchange,
        instrument,
        code,
        EventKind::BestBidOffer,
        Decimal::ZERO,
        received_ts_us,
    );
    book::fill(&mut tick, top)?;
    tick.event_ts_us =
        Some(orderbook::book_time_us(f.timestamp)?.ok_or_else(|| Rejection::missing("timestamp"))?);
    tick.stream_type = stream_type(f)?;
    tick.snapshot = tick.stream_type == Some(StreamType::Snapshot);
    validate(&tick, &config.validation)?;
    Ok(Decoded::Tick(tick))
}

fn unexpected_value(field: &str, value: &str) -> Rejection {
    Rejection::new(
        Reason::WrongType,
        format!(
            "`{field}` `{}` is not one of the documented values",
            crate::model::reject::clip(value, 32)
        ),
    )
}

/// A message without `type`: a keepalive status, an error, or something unknown.
fn untyped(f: &QuotationFields<'_>) -> Result<Decoded, Rejection> {
    if let Some(error) = &f.error {
        let name = error.name.as_deref().unwrap_or("UNKNOWN");
        let message = error.message.as_deref().unwrap_or("");
        return Err(Rejection::new(
            Reason::ExchangeError,
            crate::model::reject::clip(&format!("{name}: {message}"), 200),
        ));
    }
    if let Some(status) = f.status {
        return Ok(Decoded::Control(Control::Status {
            status: status.to_owned(),
        }));
    }
    Ok(Decoded::Unsupported {
        message_type: "unknown".to_owned(),
    })
}
