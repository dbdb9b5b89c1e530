//! The byte layout Coinone's `ORDERBOOK` frames come in, read without the general scanner (see
//! [`Layout`]): the envelope and `data` keys in the documented order, no whitespace, each
//! level `{"price":"...","qty":"..."}` (`SHORT`: `r`/`c`/`d`, `qc`/`tc`/`t`/`i`/`a`/`b`,
//! `p`/`q`). Anything else (another order, an extra key, whitespace, an escape, a number
//! where a string belongs) returns `None` and the frame takes the general path, so this only
//! ever saves time; tests run both paths over real and generated frames and mutations and
//! want equal results.
//!
//! Why: a book is 32 levels of which two are read. The general path checks each skipped
//! level's grammar and then walks it again to find the sides' ends; here each level is a few
//! constant comparisons and two short string scans. Decoding alone, a 16-level frame on this
//! machine's shared cores: 2.27 µs general, 0.73 µs here (SHORT 2.05 and 0.75 µs; a one-level
//! book 0.63 and 0.29 µs); to framed Avro see `cargo bench --bench pipeline --
//! frame_to_framed_avro/coinone` (BENCHMARKS.md).

use super::data::DataFields;
use super::orderbook::{Best, Level};
use crate::exchange::json::Layout;

/// The keys of one format, each with the punctuation before its value.
struct Keys {
    head: &'static [u8],
    target: &'static [u8],
    timestamp: &'static [u8],
    id: &'static [u8],
    asks: &'static [u8],
    bids: &'static [u8],
    price: &'static [u8],
    qty: &'static [u8],
}

const DEFAULT: Keys = Keys {
    head: b"{\"response_type\":\"DATA\",\"channel\":\"ORDERBOOK\",\"data\":{\"quote_currency\":",
    target: b",\"target_currency\":",
    timestamp: b",\"timestamp\":",
    id: b",\"id\":",
    asks: b",\"asks\":[",
    bids: b",\"bids\":[",
    price: b"{\"price\":",
    qty: b",\"qty\":",
};

const SHORT: Keys = Keys {
    head: b"{\"r\":\"DATA\",\"c\":\"ORDERBOOK\",\"d\":{\"qc\":",
    target: b",\"tc\":",
    timestamp: b",\"t\":",
    id: b",\"i\":",
    asks: b",\"a\":[",
    bids: b",\"b\":[",
    price: b"{\"p\":",
    qty: b",\"q\":",
};

/// Reads an `ORDERBOOK` frame in one of the layouts into `f`; `None` when it is not one
/// (`f` may then be partly written: the caller drops it).
#[inline]
pub(super) fn orderbook<'a>(text: &'a str, f: &mut DataFields<'a>) -> Option<()> {
    let mut l = Layout::new(text)?;
    let k = if l.eat(DEFAULT.head) {
        &DEFAULT
    } else if l.eat(SHORT.head) {
        &SHORT
    } else {
        return None;
    };
    f.quote_currency = Some(l.string()?);
    l.lit(k.target)?;
    f.target_currency = Some(l.string()?);
    l.lit(k.timestamp)?;
    f.timestamp = Some(l.number()?);
    l.lit(k.id)?;
    f.id = Some(l.string_token()?);
    l.lit(k.asks)?;
    f.asks = Some(side(&mut l, k, Best::Last)?);
    l.lit(k.bids)?;
    f.bids = Some(side(&mut l, k, Best::First)?);
    l.lit(b"}}")?;
    l.end()
}

/// The levels of one side after its `[`, through its `]`: the `best` one, `None` when empty.
#[inline(always)]
fn side<'a>(l: &mut Layout<'a>, k: &Keys, best: Best) -> Option<Option<Level<'a>>> {
    if l.eat(b"]") {
        return Some(None);
    }
    let mut chosen = None;
    let mut first = true;
    loop {
        l.lit(k.price)?;
        let price = l.string_token()?;
        l.lit(k.qty)?;
        let qty = l.string_token()?;
        l.lit(b"}")?;
        if first || best == Best::Last {
            chosen = Some(Level {
                duplicate: None,
                price: Some(price),
                qty: Some(qty),
            });
        }
        first = false;
        if !l.eat(b",") {
            l.lit(b"]")?;
            return Some(chosen);
        }
    }
}
