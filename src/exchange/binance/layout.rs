//! The byte layouts Binance sends for its busiest streams, read without the general scanner
//! (see [`Layout`]): `bookTicker`, `trade` and `aggTrade`, raw or in the combined envelope,
//! keys in the documented order. Anything else (another order, an extra key, whitespace, an
//! escape) returns `None` and the frame takes the general path, so this only ever saves time:
//! a test runs both paths over every real frame and over mutations and wants equal results.

use super::event::EventFields;
use crate::exchange::json::Layout;

/// Reads `text` into `ev` if it has one of the layouts; `Some(stream)` then, with the combined
/// envelope's stream name or `None` for a raw frame. `ev` may be partly written on `None`.
#[inline(always)]
pub(super) fn read<'a>(text: &'a str, ev: &mut EventFields<'a>) -> Option<Option<&'a str>> {
    let mut l = Layout::new(text)?;
    let stream = if l.eat(b"{\"stream\":") {
        let stream = l.string()?;
        l.lit(b",\"data\":")?;
        Some(stream)
    } else {
        None
    };
    if l.eat(b"{\"u\":") {
        book_ticker(&mut l, ev)?;
    } else if l.eat(b"{\"e\":\"trade\",\"E\":") {
        ev.e = Some("trade");
        trade(&mut l, ev)?;
    } else if l.eat(b"{\"e\":\"aggTrade\",\"E\":") {
        ev.e = Some("aggTrade");
        agg_trade(&mut l, ev)?;
    } else {
        return None;
    }
    if stream.is_some() {
        l.lit(b"}")?;
    }
    l.end()?;
    Some(stream)
}

/// `{"u":1,"s":"BTCUSDT","b":"1","B":"1","a":"1","A":"1"}`, after `{"u":`.
#[inline(always)]
fn book_ticker<'a>(l: &mut Layout<'a>, ev: &mut EventFields<'a>) -> Option<()> {
    ev.u = Some(l.number()?);
    l.lit(b",\"s\":")?;
    ev.s = Some(l.string()?);
    l.lit(b",\"b\":")?;
    ev.b = Some(l.string_token()?);
    l.lit(b",\"B\":")?;
    ev.big_b = Some(l.string_token()?);
    l.lit(b",\"a\":")?;
    ev.a = Some(l.string_token()?);
    l.lit(b",\"A\":")?;
    ev.big_a = Some(l.string_token()?);
    l.lit(b"}")
}

/// `{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"1","q":"1","T":1,"m":true,"M":true}`, after
/// `"E":`.
#[inline(always)]
fn trade<'a>(l: &mut Layout<'a>, ev: &mut EventFields<'a>) -> Option<()> {
    time_and_symbol(l, ev)?;
    l.lit(b",\"t\":")?;
    ev.t = Some(l.number()?);
    price_qty(l, ev)?;
    trade_time_and_flags(l, ev)
}

/// `{"e":"aggTrade","E":1,"s":"X","a":1,"p":"1","q":"1","f":1,"l":1,"T":1,"m":true,"M":true}`,
/// after `"E":`.
#[inline(always)]
fn agg_trade<'a>(l: &mut Layout<'a>, ev: &mut EventFields<'a>) -> Option<()> {
    time_and_symbol(l, ev)?;
    l.lit(b",\"a\":")?;
    ev.a = Some(l.number()?);
    price_qty(l, ev)?;
    l.lit(b",\"f\":")?;
    ev.f = Some(l.number()?);
    l.lit(b",\"l\":")?;
    ev.l = Some(l.number()?);
    trade_time_and_flags(l, ev)
}

/// `1,"s":"BTCUSDT"`: the event time and the symbol.
#[inline(always)]
fn time_and_symbol<'a>(l: &mut Layout<'a>, ev: &mut EventFields<'a>) -> Option<()> {
    ev.event_time = Some(l.number()?);
    l.lit(b",\"s\":")?;
    ev.s = Some(l.string()?);
    Some(())
}

#[inline(always)]
fn price_qty<'a>(l: &mut Layout<'a>, ev: &mut EventFields<'a>) -> Option<()> {
    l.lit(b",\"p\":")?;
    ev.p = Some(l.string_token()?);
    l.lit(b",\"q\":")?;
    ev.q = Some(l.string_token()?);
    Some(())
}

/// `,"T":1,"m":true,"M":true}`: `M` (ignored, as on the general path) must still be a boolean.
#[inline(always)]
fn trade_time_and_flags<'a>(l: &mut Layout<'a>, ev: &mut EventFields<'a>) -> Option<()> {
    l.lit(b",\"T\":")?;
    ev.big_t = Some(l.number()?);
    l.lit(b",\"m\":")?;
    ev.m = Some(l.boolean()?);
    l.lit(b",\"M\":")?;
    l.boolean()?;
    l.lit(b"}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_fixture_layouts() {
        for (text, stream) in [
            (
                include_str!("../../../tests/fixtures/binance/book_ticker_raw.json"),
                None,
            ),
            (
                include_str!("../../../tests/fixtures/binance/trade_combined.json"),
                Some("bnbbtc@trade"),
            ),
        ] {
            let mut ev = EventFields::default();
            assert_eq!(read(text, &mut ev), Some(stream), "{text}");
        }
    }
}
