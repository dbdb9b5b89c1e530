//! Binance spot WebSocket (`wss://stream.binance.com:9443`), raw (`/ws/...`) or wrapped by the
//! combined endpoint (`/stream?streams=...`, `{"stream":"btcusdt@trade","data":{...}}`):
//!
//! - `<symbol>@ticker`, `<symbol>@miniTicker`: [`ticker`];
//! - `<symbol>@trade`, `<symbol>@aggTrade`: [`trade`];
//! - `<symbol>@bookTicker`: [`book_ticker`] (no event type, no event time on spot).
//!
//! Docs: <https://developers.binance.com/docs/binance-spot-api-docs/web-socket-streams>.
//! Prices and quantities are strings, ids and times integers. Combined frames are routed on the
//! stream name before `data` is read, so each frame is parsed once. Symbols map to instruments
//! through the exchangeInfo [`SymbolTable`], never by guessing.

mod book_ticker;
mod event;
mod layout;
pub mod listing;
pub mod profile;
pub mod session;
pub mod subscribe;
pub mod symbols;
mod ticker;
mod trade;

use super::json::{
    Fields, Parser, Raw, frame_text, integer, no_duplicate, parse_object, parse_object_into, store,
};
use super::{Adapter, AdapterConfig, Control, Decoded, Frame, SymbolTable};
use crate::model::reject::clip;
use crate::model::{EventKind, Exchange, Reason, Rejection, Tick, validate};
use event::EventFields;
use rust_decimal::Decimal;
use std::borrow::Cow;
use std::sync::Arc;

/// Binance adapter.
#[derive(Debug, Clone)]
pub struct BinanceAdapter {
    config: AdapterConfig,
    symbols: Arc<SymbolTable>,
}

impl BinanceAdapter {
    /// Builds the adapter with the symbol table used to map `BTCUSDT` to `BTC-USDT`.
    pub fn new(config: AdapterConfig, symbols: Arc<SymbolTable>) -> Self {
        Self { config, symbols }
    }
}

/// `btcusdt@bookTicker` → (`btcusdt`, `bookTicker`). A byte loop: these names are short, and
/// `str::split_once` with a `char` goes through a general searcher (3 % of a frame).
fn split_stream(stream: &str) -> Option<(&str, &str)> {
    let at = stream.bytes().position(|b| b == b'@')?;
    Some((&stream[..at], &stream[at + 1..]))
}

/// Streams tickflow normalizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Channel {
    Ticker,
    MiniTicker,
    Trade,
    AggTrade,
    BookTicker,
}

impl Channel {
    /// The channel of a stream name (`btcusdt@bookTicker`). A match compiles to a switch on
    /// the length, then one comparison (every frame of a combined stream is routed here). The
    /// names are the profile's (a unit test checks they agree).
    fn from_stream(stream: &str) -> Option<Self> {
        match split_stream(stream)?.1 {
            "ticker" => Some(Self::Ticker),
            "miniTicker" => Some(Self::MiniTicker),
            "trade" => Some(Self::Trade),
            "aggTrade" => Some(Self::AggTrade),
            "bookTicker" => Some(Self::BookTicker),
            _ => None,
        }
    }

    /// The channel of an event type (`e`); `bookTicker` events carry none.
    fn from_event(event: &str) -> Option<Self> {
        match event {
            "24hrTicker" => Some(Self::Ticker),
            "24hrMiniTicker" => Some(Self::MiniTicker),
            "trade" => Some(Self::Trade),
            "aggTrade" => Some(Self::AggTrade),
            _ => None,
        }
    }

    /// The event type its events carry.
    fn event_name(self) -> Option<&'static str> {
        match self {
            Self::Ticker => Some("24hrTicker"),
            Self::MiniTicker => Some("24hrMiniTicker"),
            Self::Trade => Some("trade"),
            Self::AggTrade => Some("aggTrade"),
            Self::BookTicker => None,
        }
    }
}

/// The payload of a combined-stream envelope.
#[derive(Debug)]
enum Data<'a> {
    /// Parsed in place into [`FrameFields::event`] because `stream` came first and named a
    /// channel we normalize.
    Parsed,
    /// `data` arrived before `stream`: kept raw and parsed once the route is known.
    Raw(Raw<'a>),
}

/// Top level: a raw event, a combined envelope, or a control message, in one pass.
#[derive(Debug, Default)]
struct FrameFields<'a> {
    duplicate: Option<&'static str>,
    stream: Option<&'a str>,
    data: Option<Data<'a>>,
    has_result: bool,
    id: Option<Raw<'a>>,
    code: Option<Raw<'a>>,
    msg: Option<Cow<'a, str>>,
    /// The nested error form `{"error":{"code":2,"msg":"..."},"id":1}`.
    error: Option<ErrorFields<'a>>,
    /// The event: the top-level keys of a raw frame, or the parsed `data` of a combined one.
    event: EventFields<'a>,
    /// Whether any event key appeared at the top level (illegal beside `stream`).
    top_level_event: bool,
}

impl<'a> Fields<'a> for FrameFields<'a> {
    fn field(&mut self, key: &'a str, p: &mut Parser<'a>) -> Result<(), Rejection> {
        let dup = &mut self.duplicate;
        match key {
            "stream" => store(&mut self.stream, dup, "stream", p),
            "data" => {
                if self.data.is_some() {
                    *dup = dup.or(Some("data"));
                }
                let data = match self.stream.map(Channel::from_stream) {
                    Some(Some(_)) => {
                        p.object_into(&mut self.event)?;
                        Data::Parsed
                    }
                    // A channel we do not normalize: skipped unread; the frame is classified
                    // as unsupported from its stream name alone.
                    Some(None) => return p.skip(),
                    None => Data::Raw(p.token()?),
                };
                self.data = Some(data);
                Ok(())
            }
            "result" => {
                self.has_result = true;
                p.skip()
            }
            "id" => store(&mut self.id, dup, "id", p),
            "code" => store(&mut self.code, dup, "code", p),
            "msg" => store(&mut self.msg, dup, "msg", p),
            "error" => {
                if self.error.is_some() {
                    *dup = dup.or(Some("error"));
                }
                let mut error = ErrorFields::default();
                p.object_into(&mut error)?;
                self.error = Some(error);
                Ok(())
            }
            _ => {
                self.top_level_event = true;
                self.event.field(key, p)
            }
        }
    }
}

/// The inside of Binance's nested error form: `{"error":{"code":2,"msg":"Invalid symbol: …"},"id":1}`.
#[derive(Debug, Default)]
struct ErrorFields<'a> {
    duplicate: Option<&'static str>,
    code: Option<Raw<'a>>,
    msg: Option<Cow<'a, str>>,
}

impl<'a> Fields<'a> for ErrorFields<'a> {
    fn field(&mut self, key: &'a str, p: &mut Parser<'a>) -> Result<(), Rejection> {
        let dup = &mut self.duplicate;
        match key {
            "code" => store(&mut self.code, dup, "error.code", p),
            "msg" => store(&mut self.msg, dup, "error.msg", p),
            _ => p.skip(),
        }
    }
}

/// The stream name Binance announces maintenance on in the combined envelope.
const SERVER_SHUTDOWN_STREAM: &str = "!serverShutdown";

impl Adapter for BinanceAdapter {
    fn exchange(&self) -> Exchange {
        Exchange::Binance
    }

    fn decode_general_path(
        &self,
        frame: Frame<'_>,
        received_ts_us: i64,
    ) -> Option<Result<Decoded, Rejection>> {
        Some(self.decode_without_layouts(frame, received_ts_us))
    }

    fn decode(&self, frame: Frame<'_>, received_ts_us: i64) -> Result<Decoded, Rejection> {
        let text = frame_text(frame.bytes, self.config.max_frame_bytes)?;
        let mut f = FrameFields::default();
        // The layouts Binance sends for bookTicker and trades first; any other frame, or any
        // deviation from them, takes the general path below.
        match layout::read(text, &mut f.event) {
            Some(Some(stream)) => {
                return self.combined(stream, Some(Data::Parsed), &f.event, received_ts_us);
            }
            Some(None) => return self.event(None, &f.event, received_ts_us),
            None => f.event = EventFields::default(),
        }
        self.decode_general(text, f, received_ts_us)
    }
}

impl BinanceAdapter {
    /// Decodes a frame on the general path only, without the layouts of [`layout`]: for the
    /// tests and the fuzz target that check both paths agree.
    #[doc(hidden)]
    pub fn decode_without_layouts(
        &self,
        frame: Frame<'_>,
        received_ts_us: i64,
    ) -> Result<Decoded, Rejection> {
        let text = frame_text(frame.bytes, self.config.max_frame_bytes)?;
        self.decode_general(text, FrameFields::default(), received_ts_us)
    }

    /// Whether a frame is in one of the layouts [`decode`](Adapter::decode) reads without the
    /// general scanner (for the tests that check both paths agree, and that real frames hit it).
    #[doc(hidden)]
    pub fn uses_layout(frame: &[u8]) -> bool {
        let Ok(text) = std::str::from_utf8(frame) else {
            return false;
        };
        layout::read(text, &mut EventFields::default()).is_some()
    }

    /// The general path: any key order, whitespace, control messages and errors.
    fn decode_general<'a>(
        &self,
        text: &'a str,
        mut f: FrameFields<'a>,
        received_ts_us: i64,
    ) -> Result<Decoded, Rejection> {
        parse_object_into(text, &mut f)?;
        no_duplicate(f.duplicate)?;
        if let Some(stream) = f.stream {
            if f.top_level_event {
                return Err(Rejection::new(
                    Reason::MalformedJson,
                    "event fields beside `stream`: neither raw nor combined",
                ));
            }
            return self.combined(stream, f.data, &f.event, received_ts_us);
        }
        if f.has_result {
            let id = integer("id", f.id).ok().flatten();
            return Ok(Decoded::Control(Control::SubscribeAck { id }));
        }
        let (code, msg) = match &f.error {
            Some(e) => {
                no_duplicate(e.duplicate)?;
                (e.code, e.msg.as_deref())
            }
            None => (f.code, f.msg.as_deref()),
        };
        if f.error.is_some() || code.is_some() || msg.is_some() {
            let code = code.map_or("?", |c| c.text());
            let msg = msg.unwrap_or("");
            return Err(Rejection::new(
                Reason::ExchangeError,
                clip(&format!("{code}: {msg}"), 200),
            ));
        }
        self.event(None, &f.event, received_ts_us)
    }

    fn combined(
        &self,
        stream: &str,
        data: Option<Data<'_>>,
        parsed: &EventFields<'_>,
        received_ts_us: i64,
    ) -> Result<Decoded, Rejection> {
        if stream == SERVER_SHUTDOWN_STREAM {
            return Ok(Decoded::Control(Control::ServerShutdown));
        }
        let Some(channel) = Channel::from_stream(stream) else {
            let name = split_stream(stream).map_or(stream, |(_, c)| c);
            return Ok(Decoded::Unsupported {
                message_type: clip(name, 40),
            });
        };
        let route = Some((stream, channel));
        match data {
            Some(Data::Parsed) => self.event(route, parsed, received_ts_us),
            Some(Data::Raw(raw)) => {
                let event: EventFields<'_> = parse_object(raw.text())?;
                self.event(route, &event, received_ts_us)
            }
            None => Err(Rejection::missing("data")),
        }
    }

    /// Converts one event. `route` is the combined stream name and its channel, if any.
    fn event(
        &self,
        route: Option<(&str, Channel)>,
        ev: &EventFields<'_>,
        received_ts_us: i64,
    ) -> Result<Decoded, Rejection> {
        no_duplicate(ev.duplicate)?;
        let channel = match (ev.e, route) {
            (Some("serverShutdown"), None) => return Ok(Decoded::Control(Control::ServerShutdown)),
            (Some(e), None) => match Channel::from_event(e) {
                Some(c) => c,
                None => {
                    return Ok(Decoded::Unsupported {
                        message_type: clip(e, 40),
                    });
                }
            },
            // A raw `bookTicker` stream: the only event without a type, told by its update id.
            (None, None) if ev.u.is_some() => Channel::BookTicker,
            (None, None) => {
                return Ok(Decoded::Unsupported {
                    message_type: "unknown".to_owned(),
                });
            }
            (e, Some((stream, channel))) => {
                if e != channel.event_name() {
                    return Err(Rejection::new(
                        Reason::EventMismatch,
                        format!(
                            "stream `{}` carries event `{}`",
                            clip(stream, 40),
                            clip(e.unwrap_or("<none>"), 40)
                        ),
                    ));
                }
                channel
            }
        };
        let symbol = ev.s.ok_or_else(|| Rejection::missing("s"))?;
        if let Some((stream, _)) = route {
            let stream_symbol = split_stream(stream).map_or("", |(s, _)| s);
            if !stream_symbol.eq_ignore_ascii_case(symbol) {
                return Err(Rejection::new(
                    Reason::SymbolMismatch,
                    format!(
                        "stream `{}` carries symbol `{}`",
                        clip(stream, 40),
                        clip(symbol, 24)
                    ),
                ));
            }
        }
        let entry = self.symbols.get(symbol).ok_or_else(|| {
            Rejection::new(
                Reason::UnknownInstrument,
                format!(
                    "symbol `{}` is not in the exchangeInfo table",
                    clip(symbol, 24)
                ),
            )
        })?;
        self.config.check_instrument(&entry.instrument)?;
        // One tick, filled in place by the channel's decoder (a tick is 400 bytes: returning
        // it through each layer cost a copy per layer).
        let kind = match channel {
            Channel::Ticker | Channel::MiniTicker => EventKind::Ticker,
            Channel::Trade | Channel::AggTrade => EventKind::Trade,
            Channel::BookTicker => EventKind::BestBidOffer,
        };
        let mut tick = Tick::new(
            Exchange::Binance,
            entry.instrument.clone(),
            symbol,
            kind,
            Decimal::ZERO,
            received_ts_us,
        );
        match channel {
            Channel::Ticker => ticker::fill(&mut tick, ev, false)?,
            Channel::MiniTicker => ticker::fill(&mut tick, ev, true)?,
            Channel::Trade => trade::fill(&mut tick, ev, false)?,
            Channel::AggTrade => trade::fill(&mut tick, ev, true)?,
            Channel::BookTicker => book_ticker::fill(&mut tick, ev)?,
        }
        validate(&tick, &self.config.validation)?;
        Ok(Decoded::Tick(tick))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_profile_channel_routes_and_its_events_match() {
        for spec in profile::PROFILE.channels {
            let channel = Channel::from_stream(&format!("btcusdt@{}", spec.name));
            let channel = channel.unwrap_or_else(|| panic!("{} does not route", spec.name));
            if let Some(event) = channel.event_name() {
                assert_eq!(Channel::from_event(event), Some(channel));
            }
        }
        assert_eq!(Channel::from_stream("btcusdt@depth@100ms"), None);
        assert_eq!(Channel::from_stream("btcusdt"), None);
    }
}
