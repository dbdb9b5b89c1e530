//! Coinone public WebSocket (`wss://stream.coinone.co.kr`, one URL for every pair): `TICKER`,
//! `TRADE` and `ORDERBOOK` (top of book, [`orderbook`]) in the `DEFAULT` and `SHORT` key
//! formats, and the session frames `CONNECTED`, `SUBSCRIBED`, `UNSUBSCRIBED`, `PONG`, `ERROR`.
//!
//! Docs: <https://docs.coinone.co.kr/reference/public-websocket-1>; facts and the probe's traps
//! in `../shared/coinone-protocol.md`. A `TRADE` frame as the venue sends it:
//! ```json
//! {"response_type":"DATA","channel":"TRADE","data":{"quote_currency":"KRW",
//!  "target_currency":"BTC","id":"1790134177835001","timestamp":1790134177835,
//!  "price":"116460000","qty":"0.00483595","is_seller_maker":true}}
//! ```
//! `SHORT` spells the envelope `r`/`c`/`d` and the fields `qc`, `tc`, `t`, `i`, `p`, `q`,
//! `sm`, ... ([`data`]). Prices and quantities are JSON strings and only strings are taken: a
//! JSON number where the venue writes a string means the format changed (and a number may
//! have been through a double on the venue's side), so it is rejected, never guessed at.
//! `timestamp` is epoch ms as a JSON number; `id` is a string of digits (ms time and a
//! three-digit counter), carried as the tick's `sequence`.
//!
//! The instrument is the topic's `target_currency` and `quote_currency` (`BTC`, `KRW` →
//! `BTC-KRW`), upper case as the data frames spell them; the lower case the venue accepts in
//! requests (and echoes in acks) is an anomaly in data and rejected. The venue's own symbol,
//! as [`native_symbol`] writes it, is its REST path's `KRW/BTC`.

pub(crate) mod data;
mod layout;
pub mod listing;
pub(crate) mod orderbook;
pub mod profile;
pub mod session;
pub mod subscribe;

use super::json::{
    Fields, Parser, Raw, frame_text, integer, no_duplicate, parse_object_into, store,
};
use super::{Adapter, AdapterConfig, Control, Decoded, Frame};
use crate::model::reject::clip;
use crate::model::{Exchange, Instrument, Reason, Rejection};
use data::DataFields;
use std::borrow::Cow;

/// Coinone adapter.
#[derive(Debug, Clone, Default)]
pub struct CoinoneAdapter {
    config: AdapterConfig,
}

impl CoinoneAdapter {
    /// Builds the adapter.
    pub fn new(config: AdapterConfig) -> Self {
        Self { config }
    }
}

/// The venue's symbol of an instrument, as its REST paths write a market: `KRW/BTC`
/// (QUOTE/TARGET) for `BTC-KRW`.
pub fn native_symbol(instrument: &Instrument) -> String {
    format!("{}/{}", instrument.quote(), instrument.base())
}

/// The instrument of a `KRW/BTC` symbol; `None` unless it is QUOTE/TARGET in upper case.
pub fn parse_native_symbol(symbol: &str) -> Option<Instrument> {
    let (quote, target) = symbol.split_once('/')?;
    Instrument::new(target, quote)
}

/// The request topic of an instrument: `{"quote_currency":"KRW","target_currency":"BTC"}`.
pub fn topic(instrument: &Instrument) -> String {
    format!(
        "{{\"quote_currency\":\"{}\",\"target_currency\":\"{}\"}}",
        instrument.quote(),
        instrument.base()
    )
}

/// The instrument of a topic's currencies as a data frame spells them (upper case).
pub(crate) fn instrument_of(quote: &str, target: &str) -> Result<Instrument, Rejection> {
    Instrument::new(target, quote).ok_or_else(|| {
        Rejection::new(
            Reason::UnknownInstrument,
            format!(
                "topic `{}`/`{}` is not two upper-case asset codes",
                clip(quote, 24),
                clip(target, 24)
            ),
        )
    })
}

/// The envelope: `response_type` (`r`), `channel` (`c`), `data` (`d`) parsed in place, and
/// the fields of an `ERROR` frame.
#[derive(Debug, Default)]
struct Envelope<'a> {
    duplicate: Option<&'static str>,
    response_type: Option<&'a str>,
    channel: Option<&'a str>,
    has_data: bool,
    data: DataFields<'a>,
    error_code: Option<Raw<'a>>,
    message: Option<Cow<'a, str>>,
    field: Option<Cow<'a, str>>,
}

impl<'a> Fields<'a> for Envelope<'a> {
    fn field(&mut self, key: &'a str, p: &mut Parser<'a>) -> Result<(), Rejection> {
        let dup = &mut self.duplicate;
        match key {
            "response_type" | "r" => store(&mut self.response_type, dup, "response_type", p),
            "channel" | "c" => store(&mut self.channel, dup, "channel", p),
            "data" | "d" => {
                if self.has_data {
                    dup.get_or_insert("data");
                }
                self.has_data = true;
                // Every channel's fields in one pass, whatever order the envelope's keys
                // come in; the channel picks what is read afterwards.
                p.object_into(&mut self.data)
            }
            "error_code" => store(&mut self.error_code, dup, "error_code", p),
            "message" => store(&mut self.message, dup, "message", p),
            "field" => store(&mut self.field, dup, "field", p),
            _ => p.skip(),
        }
    }
}

impl Adapter for CoinoneAdapter {
    fn exchange(&self) -> Exchange {
        Exchange::Coinone
    }

    fn decode(&self, frame: Frame<'_>, received_ts_us: i64) -> Result<Decoded, Rejection> {
        let text = frame_text(frame.bytes, self.config.max_frame_bytes)?;
        // Books in the venue's own layout first (the busiest channel, 32 levels of which two
        // are read); any other frame, or any deviation, takes the general path.
        let mut book = DataFields::default();
        if layout::orderbook(text, &mut book).is_some() {
            return data::orderbook(&book, received_ts_us, &self.config);
        }
        self.decode_general(text, received_ts_us)
    }

    fn decode_general_path(
        &self,
        frame: Frame<'_>,
        received_ts_us: i64,
    ) -> Option<Result<Decoded, Rejection>> {
        Some(
            frame_text(frame.bytes, self.config.max_frame_bytes)
                .and_then(|text| self.decode_general(text, received_ts_us)),
        )
    }
}

impl CoinoneAdapter {
    /// The general path only, without the book layout: for the tests that check both paths
    /// agree.
    fn decode_general(&self, text: &str, received_ts_us: i64) -> Result<Decoded, Rejection> {
        let mut f = Envelope::default();
        parse_object_into(text, &mut f)?;
        no_duplicate(f.duplicate)?;
        let response_type = f
            .response_type
            .ok_or_else(|| Rejection::missing("response_type"))?;
        match response_type {
            "DATA" => {}
            "CONNECTED" => return Ok(Decoded::Control(Control::Connected)),
            // Acks name no request id; the session reader counts them in order.
            "SUBSCRIBED" => return Ok(Decoded::Control(Control::SubscribeAck { id: None })),
            // Not a subscription accepted: said as what it is.
            "UNSUBSCRIBED" | "PONG" => {
                return Ok(Decoded::Control(Control::Status {
                    status: response_type.to_owned(),
                }));
            }
            "ERROR" => return Err(error(&f)?),
            other => {
                return Ok(Decoded::Unsupported {
                    message_type: clip(other, 40),
                });
            }
        }
        let channel = f.channel.ok_or_else(|| Rejection::missing("channel"))?;
        if !f.has_data {
            return Err(Rejection::missing("data"));
        }
        match channel {
            "TICKER" => data::ticker(&f.data, received_ts_us, &self.config),
            "TRADE" => data::trade(&f.data, received_ts_us, &self.config),
            "ORDERBOOK" => data::orderbook(&f.data, received_ts_us, &self.config),
            other => Ok(Decoded::Unsupported {
                message_type: clip(other, 40),
            }),
        }
    }
}

/// An `ERROR` frame as a rejection with the venue's words:
/// `{"response_type":"ERROR","error_code":160012,"message":"Invalid Topic"}` (`160011` adds
/// `"field":"<name>"`). On the socket `error_code` is a JSON number.
fn error(f: &Envelope<'_>) -> Result<Rejection, Rejection> {
    let code = match f.error_code {
        Some(raw @ Raw::Num(_)) => integer("error_code", Some(raw))?,
        Some(other) => {
            return Err(Rejection::new(
                Reason::WrongType,
                format!(
                    "`error_code` must be a number on the socket, found {}",
                    other.kind()
                ),
            ));
        }
        None => None,
    };
    let code = code.map_or_else(|| "?".to_owned(), |c| c.to_string());
    let message = f.message.as_deref().unwrap_or("");
    let mut text = format!("{code}: {message}");
    if let Some(field) = &f.field {
        text.push_str(&format!(" (field `{field}`)"));
    }
    if code == session::INVALID_TOPIC {
        // The venue names neither channel nor topic: this refusal is about one of the
        // connection's requests, unknown which (see `session`).
        text.push_str(session::UNATTRIBUTED_NOTE);
    }
    Ok(Rejection::new(Reason::ExchangeError, clip(&text, 200)))
}

#[cfg(test)]
mod tests;
