//! Bithumb, both public WebSocket generations, told apart per frame in the same single pass:
//!
//! - **v1** (`wss://ws-api.bithumb.com/websocket/v1`): Upbit-compatible; decoded by the Upbit
//!   format code ([`super::upbit`]). Differences seen: `sequential_id` as a JSON string,
//!   `delisting_date` as `""` — both handled there (ids accept numeric strings; `""` is no date).
//! - **legacy** (`wss://pubwss.bithumb.com/pub/ws`): every value a string, wall-clock time in
//!   KST (UTC+9, no DST), converted explicitly. Docs: <https://apidocs.bithumb.com>.
//!   ```json
//!   {"type":"ticker","content":{"symbol":"BTC_KRW","tickType":"24H","date":"20200129",
//!    "time":"121844","openPrice":"2302","closePrice":"2317","lowPrice":"2272",
//!    "highPrice":"2344","value":"2831915078.07065789","volume":"1222314.51355788",
//!    "sellVolume":"760129.34079004","buyVolume":"462185.17276784","prevClosePrice":"2326",
//!    "chgRate":"0.65","chgAmt":"15","volumePower":"60.80"}}
//!   ```
//!   `chgAmt`/`chgRate` are measured against the window's `openPrice` (2317 - 2302 = 15, 0.65 %
//!   above), not `prevClosePrice`; the tick carries them as the exchange computed them.
//!   `transaction` (trades, several per frame) is decoded in [`transaction`].
//!   Control frames: `{"status":"0000","resmsg":"Connected Successfully"}`,
//!   `{"status":"0000","resmsg":"Filter Registered Successfully"}`; errors carry another status.

pub mod listing;
pub mod profile;
pub mod session;
pub mod subscribe;
mod transaction;

use super::json::{
    Fields, Parser, Raw, decimal, frame_text, no_duplicate, parse_object, parse_object_into,
    percent_to_fraction, required_decimal, store,
};
use super::upbit::{QuotationFields, quotation_to_decoded};
use super::{Adapter, AdapterConfig, Control, Decoded, Frame};
use crate::model::reject::clip;
use crate::model::time::parse_compact_date_time;
use crate::model::{EventKind, Exchange, Instrument, Reason, Rejection, Tick, validate};
use std::borrow::Cow;

/// KST is UTC+9 all year.
pub(crate) const KST_OFFSET_SECS: i64 = 9 * 3600;

/// Bithumb adapter (legacy and v1 APIs).
#[derive(Debug, Clone, Default)]
pub struct BithumbAdapter {
    config: AdapterConfig,
}

impl BithumbAdapter {
    /// Builds the adapter.
    pub fn new(config: AdapterConfig) -> Self {
        Self { config }
    }
}

/// Legacy `content` of a `ticker` message.
#[derive(Debug, Default)]
struct LegacyTicker<'a> {
    duplicate: Option<&'static str>,
    symbol: Option<&'a str>,
    tick_type: Option<&'a str>,
    date: Option<&'a str>,
    time: Option<&'a str>,
    open: Option<Raw<'a>>,
    close: Option<Raw<'a>>,
    low: Option<Raw<'a>>,
    high: Option<Raw<'a>>,
    value: Option<Raw<'a>>,
    volume: Option<Raw<'a>>,
    prev_close: Option<Raw<'a>>,
    chg_rate: Option<Raw<'a>>,
    chg_amt: Option<Raw<'a>>,
}

impl<'a> Fields<'a> for LegacyTicker<'a> {
    fn field(&mut self, key: &'a str, p: &mut Parser<'a>) -> Result<(), Rejection> {
        let dup = &mut self.duplicate;
        match key {
            "symbol" => store(&mut self.symbol, dup, "symbol", p),
            "tickType" => store(&mut self.tick_type, dup, "tickType", p),
            "date" => store(&mut self.date, dup, "date", p),
            "time" => store(&mut self.time, dup, "time", p),
            "openPrice" => store(&mut self.open, dup, "openPrice", p),
            "closePrice" => store(&mut self.close, dup, "closePrice", p),
            "lowPrice" => store(&mut self.low, dup, "lowPrice", p),
            "highPrice" => store(&mut self.high, dup, "highPrice", p),
            "value" => store(&mut self.value, dup, "value", p),
            "volume" => store(&mut self.volume, dup, "volume", p),
            "prevClosePrice" => store(&mut self.prev_close, dup, "prevClosePrice", p),
            "chgRate" => store(&mut self.chg_rate, dup, "chgRate", p),
            "chgAmt" => store(&mut self.chg_amt, dup, "chgAmt", p),
            _ => p.skip(),
        }
    }
}

/// Legacy `content`, parsed in place once `type` has named it (stack-only, one frame).
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
enum Content<'a> {
    Ticker(LegacyTicker<'a>),
    Transactions(transaction::LegacyTransactions<'a>),
    Raw(Raw<'a>),
    Skipped,
}

/// Union of both generations' top-level keys.
#[derive(Debug, Default)]
struct BithumbFields<'a> {
    quotation: QuotationFields<'a>,
    content: Option<Content<'a>>,
    resmsg: Option<Cow<'a, str>>,
}

impl<'a> Fields<'a> for BithumbFields<'a> {
    fn field(&mut self, key: &'a str, p: &mut Parser<'a>) -> Result<(), Rejection> {
        match key {
            "content" => {
                if self.content.is_some() {
                    self.quotation.duplicate.get_or_insert("content");
                }
                let content = match self.quotation.ty {
                    Some("ticker") => Content::Ticker(p.object()?),
                    Some("transaction") => Content::Transactions(p.object()?),
                    Some(_) => {
                        p.skip()?;
                        Content::Skipped
                    }
                    None => Content::Raw(p.token()?),
                };
                self.content = Some(content);
                Ok(())
            }
            "resmsg" => store(&mut self.resmsg, &mut self.quotation.duplicate, "resmsg", p),
            _ => self.quotation.field(key, p),
        }
    }
}

impl Adapter for BithumbAdapter {
    fn exchange(&self) -> Exchange {
        Exchange::Bithumb
    }

    fn decode(&self, frame: Frame<'_>, received_ts_us: i64) -> Result<Decoded, Rejection> {
        let text = frame_text(frame.bytes, self.config.max_frame_bytes)?;
        let mut f = BithumbFields::default();
        parse_object_into(text, &mut f)?;
        if let Some(resmsg) = &f.resmsg {
            no_duplicate(f.quotation.duplicate)?;
            return legacy_status(f.quotation.status.unwrap_or(""), resmsg);
        }
        match f.content {
            None => quotation_to_decoded(
                Exchange::Bithumb,
                &f.quotation,
                received_ts_us,
                &self.config,
            ),
            Some(content) => {
                no_duplicate(f.quotation.duplicate)?;
                let ty = f.quotation.ty.ok_or_else(|| Rejection::missing("type"))?;
                let ticker = match content {
                    Content::Ticker(t) => t,
                    Content::Raw(raw) if ty == "ticker" => parse_object(raw.text())?,
                    Content::Transactions(list) => {
                        let ticks = transaction::transactions(&list, received_ts_us, &self.config)?;
                        return Ok(Decoded::Ticks(ticks));
                    }
                    Content::Raw(raw) if ty == "transaction" => {
                        let list = parse_object(raw.text())?;
                        let ticks = transaction::transactions(&list, received_ts_us, &self.config)?;
                        return Ok(Decoded::Ticks(ticks));
                    }
                    Content::Raw(_) | Content::Skipped => {
                        return Ok(Decoded::Unsupported {
                            message_type: clip(ty, 40),
                        });
                    }
                };
                self.legacy_ticker(&ticker, received_ts_us)
            }
        }
    }
}

fn legacy_status(status: &str, resmsg: &str) -> Result<Decoded, Rejection> {
    if status != "0000" {
        return Err(Rejection::new(
            Reason::ExchangeError,
            clip(&format!("{status}: {resmsg}"), 200),
        ));
    }
    Ok(Decoded::Control(match resmsg {
        "Connected Successfully" => Control::Connected,
        "Filter Registered Successfully" => Control::SubscribeAck { id: None },
        other => Control::Status {
            status: clip(other, 80),
        },
    }))
}

impl BithumbAdapter {
    fn legacy_ticker(
        &self,
        t: &LegacyTicker<'_>,
        received_ts_us: i64,
    ) -> Result<Decoded, Rejection> {
        no_duplicate(t.duplicate)?;
        let (symbol, instrument) = legacy_instrument(t.symbol, &self.config)?;
        let last = required_decimal("closePrice", t.close)?;
        let mut tick = Tick::new(
            Exchange::Bithumb,
            instrument,
            symbol,
            EventKind::Ticker,
            last,
            received_ts_us,
        );
        tick.open_price = decimal("openPrice", t.open)?;
        tick.high_price = decimal("highPrice", t.high)?;
        tick.low_price = decimal("lowPrice", t.low)?;
        tick.prev_close_price = decimal("prevClosePrice", t.prev_close)?;
        tick.change = decimal("chgAmt", t.chg_amt)?;
        tick.change_rate = percent_to_fraction("chgRate", decimal("chgRate", t.chg_rate)?)?;
        // Volumes cover the subscribed window; only a 24H window matches the canonical field.
        if t.tick_type == Some("24H") {
            tick.volume_24h_base = decimal("volume", t.volume)?;
            tick.volume_24h_quote = decimal("value", t.value)?;
        }
        let date = t.date.ok_or_else(|| Rejection::missing("date"))?;
        let time = t.time.ok_or_else(|| Rejection::missing("time"))?;
        let civil =
            parse_compact_date_time(date, time).and_then(|c| c.to_unix_micros(KST_OFFSET_SECS));
        tick.event_ts_us = Some(civil.map_err(|_| {
            Rejection::new(
                Reason::InvalidTimestamp,
                format!(
                    "date/time `{} {}` is not yyyyMMdd HHmmss (KST)",
                    clip(date, 16),
                    clip(time, 16)
                ),
            )
        })?);
        validate(&tick, &self.config.validation)?;
        Ok(Decoded::Tick(tick))
    }
}

/// The legacy API's symbol of an instrument: `BTC_KRW` (BASE_QUOTE) for `BTC-KRW`.
pub fn legacy_symbol(instrument: &Instrument) -> String {
    format!("{}_{}", instrument.base(), instrument.quote())
}

/// A legacy message's `symbol` and its configured instrument, or why not.
pub(crate) fn legacy_instrument<'a>(
    symbol: Option<&'a str>,
    config: &AdapterConfig,
) -> Result<(&'a str, Instrument), Rejection> {
    let symbol = symbol.ok_or_else(|| Rejection::missing("symbol"))?;
    let instrument = parse_legacy_symbol(symbol).ok_or_else(|| {
        Rejection::new(
            Reason::UnknownInstrument,
            format!("symbol `{}` is not BASE_QUOTE", clip(symbol, 32)),
        )
    })?;
    config.check_instrument(&instrument)?;
    Ok((symbol, instrument))
}

/// The instrument of a legacy symbol (`BTC_KRW` → `BTC-KRW`); `None` when it is not
/// BASE_QUOTE.
pub fn parse_legacy_symbol(symbol: &str) -> Option<Instrument> {
    let (base, quote) = symbol.split_once('_')?;
    Instrument::new(base, quote)
}
