//! Binance spot WebSocket (`wss://stream.binance.com:9443`): `<symbol>@ticker` (`24hrTicker`)
//! and `<symbol>@miniTicker` (`24hrMiniTicker`), raw (`/ws/...`) or wrapped by the combined
//! endpoint (`/stream?streams=...`).
//!
//! Docs: <https://developers.binance.com/docs/binance-spot-api-docs/web-socket-streams>.
//! ```json
//! {"stream":"ethbtc@ticker","data":{"e":"24hrTicker","E":1516135684559,"s":"ETHBTC",
//!  "p":"-0.00271700","P":"-2.875","x":"0.09448900","c":"0.09177200","Q":"0.06100000",
//!  "b":"0.09155300","B":"1.75300000","a":"0.09177200","A":"1.83900000","o":"0.09448900",
//!  "h":"0.09575800","l":"0.08100000","v":"287542.79200000","q":"26334.24227973","L":22120714}}
//! ```
//! Prices and quantities are strings; `P` is a percentage (converted to a fraction). Combined
//! frames are routed on the stream name before `data` is read, so each frame is parsed once.
//! Symbols map to instruments through the exchangeInfo [`SymbolTable`], never by guessing.

use super::json::{
    Fields, Parser, Raw, decimal, frame_text, integer, millis_to_micros, no_duplicate,
    parse_object, parse_object_into, percent_to_fraction, required_decimal, store,
};
use super::{Adapter, AdapterConfig, Control, Decoded, Frame, SymbolTable};
use crate::model::reject::clip;
use crate::model::{EventKind, Exchange, Reason, Rejection, Tick, validate};
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

/// Streams tickflow normalizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Channel {
    Ticker,
    MiniTicker,
}

impl Channel {
    fn from_stream(stream: &str) -> Option<Self> {
        match stream.split_once('@').map(|(_, c)| c) {
            Some("ticker") => Some(Self::Ticker),
            Some("miniTicker") => Some(Self::MiniTicker),
            _ => None,
        }
    }

    fn from_event(event: &str) -> Option<Self> {
        match event {
            "24hrTicker" => Some(Self::Ticker),
            "24hrMiniTicker" => Some(Self::MiniTicker),
            _ => None,
        }
    }

    fn event_name(self) -> &'static str {
        match self {
            Self::Ticker => "24hrTicker",
            Self::MiniTicker => "24hrMiniTicker",
        }
    }
}

/// Event payload fields (single-letter keys are case-sensitive: `c` last price, `C` close time).
#[derive(Debug, Default)]
struct EventFields<'a> {
    duplicate: Option<&'static str>,
    e: Option<&'a str>,
    event_time: Option<Raw<'a>>,
    s: Option<&'a str>,
    change: Option<Raw<'a>>,
    change_pct: Option<Raw<'a>>,
    prev_close: Option<Raw<'a>>,
    last: Option<Raw<'a>>,
    last_qty: Option<Raw<'a>>,
    bid: Option<Raw<'a>>,
    bid_qty: Option<Raw<'a>>,
    ask: Option<Raw<'a>>,
    ask_qty: Option<Raw<'a>>,
    open: Option<Raw<'a>>,
    high: Option<Raw<'a>>,
    low: Option<Raw<'a>>,
    volume: Option<Raw<'a>>,
    quote_volume: Option<Raw<'a>>,
    last_trade_id: Option<Raw<'a>>,
    book_update_id: Option<Raw<'a>>,
}

impl<'a> Fields<'a> for EventFields<'a> {
    fn field(&mut self, key: &'a str, p: &mut Parser<'a>) -> Result<(), Rejection> {
        let dup = &mut self.duplicate;
        match key {
            "e" => store(&mut self.e, dup, "e", p),
            "E" => store(&mut self.event_time, dup, "E", p),
            "s" => store(&mut self.s, dup, "s", p),
            "p" => store(&mut self.change, dup, "p", p),
            "P" => store(&mut self.change_pct, dup, "P", p),
            "x" => store(&mut self.prev_close, dup, "x", p),
            "c" => store(&mut self.last, dup, "c", p),
            "Q" => store(&mut self.last_qty, dup, "Q", p),
            "b" => store(&mut self.bid, dup, "b", p),
            "B" => store(&mut self.bid_qty, dup, "B", p),
            "a" => store(&mut self.ask, dup, "a", p),
            "A" => store(&mut self.ask_qty, dup, "A", p),
            "o" => store(&mut self.open, dup, "o", p),
            "h" => store(&mut self.high, dup, "h", p),
            "l" => store(&mut self.low, dup, "l", p),
            "v" => store(&mut self.volume, dup, "v", p),
            "q" => store(&mut self.quote_volume, dup, "q", p),
            "L" => store(&mut self.last_trade_id, dup, "L", p),
            "u" => store(&mut self.book_update_id, dup, "u", p),
            _ => p.skip(),
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
            _ => {
                self.top_level_event = true;
                self.event.field(key, p)
            }
        }
    }
}

impl Adapter for BinanceAdapter {
    fn exchange(&self) -> Exchange {
        Exchange::Binance
    }

    fn decode(&self, frame: Frame<'_>, received_ts_us: i64) -> Result<Decoded, Rejection> {
        let text = frame_text(frame.bytes, self.config.max_frame_bytes)?;
        let mut f = FrameFields::default();
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
        if f.code.is_some() || f.msg.is_some() {
            let code = f.code.map_or("?", |c| c.text());
            let msg = f.msg.as_deref().unwrap_or("");
            return Err(Rejection::new(
                Reason::ExchangeError,
                clip(&format!("{code}: {msg}"), 200),
            ));
        }
        self.event(None, &f.event, received_ts_us)
    }
}

impl BinanceAdapter {
    fn combined(
        &self,
        stream: &str,
        data: Option<Data<'_>>,
        parsed: &EventFields<'_>,
        received_ts_us: i64,
    ) -> Result<Decoded, Rejection> {
        let Some(channel) = Channel::from_stream(stream) else {
            let name = stream.split_once('@').map_or(stream, |(_, c)| c);
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
            (None, None) if ev.book_update_id.is_some() => {
                return Ok(Decoded::Unsupported {
                    message_type: "bookTicker".to_owned(),
                });
            }
            (None, None) => {
                return Ok(Decoded::Unsupported {
                    message_type: "unknown".to_owned(),
                });
            }
            (e, Some((stream, channel))) => {
                if e != Some(channel.event_name()) {
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
            let stream_symbol = stream.split_once('@').map_or("", |(s, _)| s);
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
        let last = required_decimal("c", ev.last)?;
        let kind = EventKind::Ticker;
        let mut tick = Tick::new(
            Exchange::Binance,
            entry.instrument.clone(),
            symbol,
            kind,
            last,
            received_ts_us,
        );
        tick.open_price = decimal("o", ev.open)?;
        tick.high_price = decimal("h", ev.high)?;
        tick.low_price = decimal("l", ev.low)?;
        tick.volume_24h_base = decimal("v", ev.volume)?;
        tick.volume_24h_quote = decimal("q", ev.quote_volume)?;
        let event_ms = integer("E", ev.event_time)?.ok_or_else(|| Rejection::missing("E"))?;
        tick.event_ts_us = millis_to_micros("E", Some(event_ms))?;
        if channel == Channel::Ticker {
            tick.last_qty = decimal("Q", ev.last_qty)?;
            tick.prev_close_price = decimal("x", ev.prev_close)?;
            tick.change = decimal("p", ev.change)?;
            tick.change_rate = percent_to_fraction("P", decimal("P", ev.change_pct)?)?;
            (tick.bid_price, tick.bid_qty) = book_side(("b", ev.bid), ("B", ev.bid_qty))?;
            (tick.ask_price, tick.ask_qty) = book_side(("a", ev.ask), ("A", ev.ask_qty))?;
            // `L` is -1 when the window holds no trade.
            tick.sequence = integer("L", ev.last_trade_id)?.filter(|id| *id >= 0);
        }
        validate(&tick, &self.config.validation)?;
        Ok(Decoded::Tick(tick))
    }
}

type Side<'a> = (&'static str, Option<Raw<'a>>);

/// One side of the best bid/offer. Binance sends `"0.00000000"` for an empty side: that is
/// "no quote" (null), not a price of zero.
fn book_side(
    price: Side<'_>,
    qty: Side<'_>,
) -> Result<(Option<Decimal>, Option<Decimal>), Rejection> {
    let p = decimal(price.0, price.1)?;
    let q = decimal(qty.0, qty.1)?;
    Ok(match p {
        Some(p) if p.is_zero() => (None, None),
        p => (p, q),
    })
}
