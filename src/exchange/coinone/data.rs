//! The `data` object of Coinone's `DATA` frames, every channel's fields under their `DEFAULT`
//! and `SHORT` names, and the three channels to canonical ticks.
//!
//! - `TICKER`: `quote_currency` (`qc`), `target_currency` (`tc`), `timestamp` (`t`),
//!   `quote_volume` (`qv`), `target_volume` (`tv`), `high` (`hi`), `low` (`lo`), `first`
//!   (`fi`), `last` (`la`), `ask_best_price` (`abp`), `ask_best_qty` (`abq`),
//!   `bid_best_price` (`bbp`), `bid_best_qty` (`bbq`), `id` (`i`), `yesterday_last` (`yla`);
//!   `volume_power` and the other `yesterday_*` are not read. A best price is `null` when its
//!   side is empty (then absent on the tick). `first`/`high`/`low` are of the UTC day.
//! - `TRADE`: `id` (`i`), `timestamp` (`t`), `price` (`p`), `qty` (`q`), `is_seller_maker`
//!   (`sm`, a boolean: the seller was the maker, so the taker bought).
//! - `ORDERBOOK`: `timestamp` (`t`), `id` (`i`), `asks` (`a`), `bids` (`b`), read by
//!   [`super::orderbook`].

use super::orderbook::{self, Level};
use crate::exchange::AdapterConfig;
use crate::exchange::Decoded;
use crate::exchange::book::{self, Top};
use crate::exchange::json::{
    Fields, Parser, Raw, boolean, decimal, integer, millis_to_micros, no_duplicate, store,
};
use crate::model::reject::clip;
use crate::model::{EventKind, Exchange, Instrument, Reason, Rejection, Tick, TradeSide, validate};
use compact_str::CompactString;
use rust_decimal::Decimal;

/// Every field of every channel's `data` (each frame fills its channel's).
#[derive(Debug, Default)]
pub(crate) struct DataFields<'a> {
    pub duplicate: Option<&'static str>,
    pub quote_currency: Option<&'a str>,
    pub target_currency: Option<&'a str>,
    pub timestamp: Option<Raw<'a>>,
    pub id: Option<Raw<'a>>,
    pub quote_volume: Option<Raw<'a>>,
    pub target_volume: Option<Raw<'a>>,
    pub high: Option<Raw<'a>>,
    pub low: Option<Raw<'a>>,
    pub first: Option<Raw<'a>>,
    pub last: Option<Raw<'a>>,
    pub yesterday_last: Option<Raw<'a>>,
    pub ask_best_price: Option<Raw<'a>>,
    pub ask_best_qty: Option<Raw<'a>>,
    pub bid_best_price: Option<Raw<'a>>,
    pub bid_best_qty: Option<Raw<'a>>,
    pub price: Option<Raw<'a>>,
    pub qty: Option<Raw<'a>>,
    pub is_seller_maker: Option<Raw<'a>>,
    /// The best (last) ask; `Some(None)` when `asks` is empty.
    pub asks: Option<Option<Level<'a>>>,
    /// The best (first) bid; `Some(None)` when `bids` is empty.
    pub bids: Option<Option<Level<'a>>>,
}

impl<'a> Fields<'a> for DataFields<'a> {
    fn field(&mut self, key: &'a str, p: &mut Parser<'a>) -> Result<(), Rejection> {
        let dup = &mut self.duplicate;
        match key {
            "quote_currency" | "qc" => store(&mut self.quote_currency, dup, "quote_currency", p),
            "target_currency" | "tc" => store(&mut self.target_currency, dup, "target_currency", p),
            "timestamp" | "t" => store(&mut self.timestamp, dup, "timestamp", p),
            "id" | "i" => store(&mut self.id, dup, "id", p),
            "quote_volume" | "qv" => store(&mut self.quote_volume, dup, "quote_volume", p),
            "target_volume" | "tv" => store(&mut self.target_volume, dup, "target_volume", p),
            "high" | "hi" => store(&mut self.high, dup, "high", p),
            "low" | "lo" => store(&mut self.low, dup, "low", p),
            "first" | "fi" => store(&mut self.first, dup, "first", p),
            "last" | "la" => store(&mut self.last, dup, "last", p),
            "yesterday_last" | "yla" => store(&mut self.yesterday_last, dup, "yesterday_last", p),
            "ask_best_price" | "abp" => store(&mut self.ask_best_price, dup, "ask_best_price", p),
            "ask_best_qty" | "abq" => store(&mut self.ask_best_qty, dup, "ask_best_qty", p),
            "bid_best_price" | "bbp" => store(&mut self.bid_best_price, dup, "bid_best_price", p),
            "bid_best_qty" | "bbq" => store(&mut self.bid_best_qty, dup, "bid_best_qty", p),
            "price" | "p" => store(&mut self.price, dup, "price", p),
            "qty" | "q" => store(&mut self.qty, dup, "qty", p),
            "is_seller_maker" | "sm" => store(&mut self.is_seller_maker, dup, "is_seller_maker", p),
            "asks" | "a" => {
                if self.asks.is_some() {
                    dup.get_or_insert("asks");
                }
                // Worst first on the wire: the best ask is the last level.
                self.asks = Some(orderbook::best_level(p, "asks", orderbook::Best::Last)?);
                Ok(())
            }
            "bids" | "b" => {
                if self.bids.is_some() {
                    dup.get_or_insert("bids");
                }
                self.bids = Some(orderbook::best_level(p, "bids", orderbook::Best::First)?);
                Ok(())
            }
            _ => p.skip(),
        }
    }
}

/// A price or quantity: a JSON string holding an exact decimal (`""` and `null` are absent).
/// A JSON number is refused: the venue writes these as strings.
pub(crate) fn string_decimal(
    field: &str,
    raw: Option<Raw<'_>>,
) -> Result<Option<Decimal>, Rejection> {
    match raw {
        Some(Raw::Num(_)) => Err(Rejection::new(
            Reason::WrongType,
            format!("`{field}` must be a string (coinone quotes numbers as strings), found number"),
        )),
        other => decimal(field, other),
    }
}

fn required_string_decimal(field: &str, raw: Option<Raw<'_>>) -> Result<Decimal, Rejection> {
    string_decimal(field, raw)?.ok_or_else(|| Rejection::missing(field))
}

/// `timestamp`: epoch ms as a JSON number (required).
fn timestamp_ms(f: &DataFields<'_>) -> Result<i64, Rejection> {
    match f.timestamp {
        Some(raw @ Raw::Num(_)) => {
            integer("timestamp", Some(raw))?.ok_or_else(|| Rejection::missing("timestamp"))
        }
        None | Some(Raw::Null) => Err(Rejection::missing("timestamp")),
        Some(other) => Err(Rejection::new(
            Reason::WrongType,
            format!("`timestamp` must be a number of ms, found {}", other.kind()),
        )),
    }
}

/// `id`: a string of digits (`"1790134177753001"`, ms time and a counter); `None` if absent.
pub(crate) fn id(raw: Option<Raw<'_>>) -> Result<Option<i64>, Rejection> {
    match raw {
        None | Some(Raw::Null) => Ok(None),
        Some(Raw::Str("")) => Ok(None),
        // Past i64 the integer reader says so (unrepresentable).
        Some(Raw::Str(text)) if text.bytes().all(|b| b.is_ascii_digit()) => integer("id", raw),
        Some(Raw::Str(text)) => Err(Rejection::new(
            Reason::InvalidDecimal,
            format!("`id` = {} is not a string of digits", clip(text, 40)),
        )),
        Some(other) => Err(Rejection::new(
            Reason::WrongType,
            format!("`id` must be a string of digits, found {}", other.kind()),
        )),
    }
}

/// The instrument and the venue's symbol of a frame, checked against the configured set.
fn instrument(
    f: &DataFields<'_>,
    config: &AdapterConfig,
) -> Result<(Instrument, CompactString), Rejection> {
    no_duplicate(f.duplicate)?;
    let quote = f
        .quote_currency
        .ok_or_else(|| Rejection::missing("quote_currency"))?;
    let target = f
        .target_currency
        .ok_or_else(|| Rejection::missing("target_currency"))?;
    let instrument = super::instrument_of(quote, target)?;
    config.check_instrument(&instrument)?;
    // `KRW/BTC` without a heap allocation (up to 24 bytes inline).
    let mut native = CompactString::with_capacity(quote.len() + 1 + target.len());
    native.push_str(quote);
    native.push('/');
    native.push_str(target);
    Ok((instrument, native))
}

fn new_tick(
    instrument: Instrument,
    native: CompactString,
    kind: EventKind,
    last_price: Decimal,
    received_ts_us: i64,
) -> Tick {
    let mut tick = Tick::new(
        Exchange::Coinone,
        instrument,
        "",
        kind,
        last_price,
        received_ts_us,
    );
    tick.native_symbol = native;
    tick
}

/// A `TICKER` frame.
pub(crate) fn ticker(
    f: &DataFields<'_>,
    received_ts_us: i64,
    config: &AdapterConfig,
) -> Result<Decoded, Rejection> {
    let (instrument, native) = instrument(f, config)?;
    let last = required_string_decimal("last", f.last)?;
    let mut tick = new_tick(instrument, native, EventKind::Ticker, last, received_ts_us);
    tick.open_price = string_decimal("first", f.first)?;
    tick.high_price = string_decimal("high", f.high)?;
    tick.low_price = string_decimal("low", f.low)?;
    tick.prev_close_price = string_decimal("yesterday_last", f.yesterday_last)?;
    tick.volume_24h_base = string_decimal("target_volume", f.target_volume)?;
    tick.volume_24h_quote = string_decimal("quote_volume", f.quote_volume)?;
    tick.ask_price = string_decimal("ask_best_price", f.ask_best_price)?;
    tick.ask_qty = string_decimal("ask_best_qty", f.ask_best_qty)?;
    tick.bid_price = string_decimal("bid_best_price", f.bid_best_price)?;
    tick.bid_qty = string_decimal("bid_best_qty", f.bid_best_qty)?;
    // A size without its price (the side is empty): not a quote.
    if tick.ask_price.is_none() {
        tick.ask_qty = None;
    }
    if tick.bid_price.is_none() {
        tick.bid_qty = None;
    }
    tick.event_ts_us = millis_to_micros("timestamp", Some(timestamp_ms(f)?))?;
    tick.sequence = id(f.id)?;
    validate(&tick, &config.validation)?;
    Ok(Decoded::Tick(tick))
}

/// A `TRADE` frame: one trade, its time both event and trade time (the frame has one).
pub(crate) fn trade(
    f: &DataFields<'_>,
    received_ts_us: i64,
    config: &AdapterConfig,
) -> Result<Decoded, Rejection> {
    let (instrument, native) = instrument(f, config)?;
    let price = required_string_decimal("price", f.price)?;
    let mut tick = new_tick(instrument, native, EventKind::Trade, price, received_ts_us);
    tick.last_qty = Some(required_string_decimal("qty", f.qty)?);
    let at = millis_to_micros("timestamp", Some(timestamp_ms(f)?))?;
    tick.event_ts_us = at;
    tick.trade_ts_us = at;
    tick.sequence = Some(id(f.id)?.ok_or_else(|| Rejection::missing("id"))?);
    // The seller was the maker: the buyer took liquidity.
    tick.trade_side = boolean("is_seller_maker", f.is_seller_maker)?.map(|seller_maker| {
        if seller_maker {
            TradeSide::Buy
        } else {
            TradeSide::Sell
        }
    });
    validate(&tick, &config.validation)?;
    Ok(Decoded::Tick(tick))
}

/// An `ORDERBOOK` frame (a whole book) as its best bid/offer, timed by the venue's
/// `timestamp`, its `id` as the sequence.
///
/// The book the venue sends on subscribe carries a `timestamp` older than its `id`'s time
/// (about 10 s in the probe; later frames have `timestamp` equal to the id's ms part): such a
/// frame restates the book as of subscribing, so it is flagged `snapshot`, and it is timed by
/// its id's ms part, the venue's own stamp of that book. Timed by its stale `timestamp`, a
/// restated book after a reconnect would order behind the last book before it in the cache
/// (newest event time wins) and leave an old price there until the pair's next change, 30 s
/// or more on a quiet pair.
pub(crate) fn orderbook(
    f: &DataFields<'_>,
    received_ts_us: i64,
    config: &AdapterConfig,
) -> Result<Decoded, Rejection> {
    let (instrument, native) = instrument(f, config)?;
    let ask = side(&f.asks, "asks")?;
    let bid = side(&f.bids, "bids")?;
    let top = Top {
        bid: required_string_decimal("bids.price", bid.price)?,
        bid_qty: required_string_decimal("bids.qty", bid.qty)?,
        ask: required_string_decimal("asks.price", ask.price)?,
        ask_qty: required_string_decimal("asks.qty", ask.qty)?,
    };
    let mut tick = new_tick(
        instrument,
        native,
        EventKind::BestBidOffer,
        Decimal::ZERO,
        received_ts_us,
    );
    book::fill(&mut tick, top)?;
    let ts_ms = timestamp_ms(f)?;
    let id = id(f.id)?.ok_or_else(|| Rejection::missing("id"))?;
    tick.sequence = Some(id);
    tick.snapshot = restated(ts_ms, id);
    let at_ms = if tick.snapshot { id / 1000 } else { ts_ms };
    tick.event_ts_us = millis_to_micros("timestamp", Some(at_ms))?;
    validate(&tick, &config.validation)?;
    Ok(Decoded::Tick(tick))
}

/// Whether a book's `timestamp` is behind its `id`'s ms part: the frame sent on subscribe.
pub(crate) const fn restated(timestamp_ms: i64, id: i64) -> bool {
    timestamp_ms < id / 1000
}

/// The best level of one side, present and non-empty.
fn side<'s, 'a>(
    level: &'s Option<Option<Level<'a>>>,
    name: &'static str,
) -> Result<&'s Level<'a>, Rejection> {
    let level = level
        .as_ref()
        .ok_or_else(|| Rejection::missing(name))?
        .as_ref()
        .ok_or_else(|| {
            Rejection::new(
                Reason::MissingField,
                format!("`{name}` is empty: the book has no best level on that side"),
            )
        })?;
    no_duplicate(level.duplicate)?;
    Ok(level)
}
