//! The keys of a Binance event payload, stored as raw tokens by key. One struct serves every
//! channel because the channels reuse letters with other meanings (`a` is the best ask in a
//! `bookTicker` and the aggregate trade id in an `aggTrade`, `p` the price change in a ticker
//! and the price in a trade): each channel's decoder reads the tokens its docs define.
//! Keys are case-sensitive (`c` last price, `C` close time).

use crate::exchange::json::{Fields, Parser, Raw, store};
use crate::model::Rejection;

/// Raw tokens of one event, by key.
#[derive(Debug, Default)]
pub(super) struct EventFields<'a> {
    pub duplicate: Option<&'static str>,
    /// `e`: event type (absent in `bookTicker`).
    pub e: Option<&'a str>,
    /// `E`: event time, ms.
    pub event_time: Option<Raw<'a>>,
    /// `s`: symbol.
    pub s: Option<&'a str>,
    pub p: Option<Raw<'a>>,
    pub big_p: Option<Raw<'a>>,
    pub x: Option<Raw<'a>>,
    pub c: Option<Raw<'a>>,
    pub big_q: Option<Raw<'a>>,
    pub b: Option<Raw<'a>>,
    pub big_b: Option<Raw<'a>>,
    pub a: Option<Raw<'a>>,
    pub big_a: Option<Raw<'a>>,
    pub o: Option<Raw<'a>>,
    pub h: Option<Raw<'a>>,
    pub l: Option<Raw<'a>>,
    pub v: Option<Raw<'a>>,
    pub q: Option<Raw<'a>>,
    pub big_l: Option<Raw<'a>>,
    pub u: Option<Raw<'a>>,
    pub t: Option<Raw<'a>>,
    pub big_t: Option<Raw<'a>>,
    pub m: Option<Raw<'a>>,
    pub f: Option<Raw<'a>>,
}

impl<'a> Fields<'a> for EventFields<'a> {
    // Every key Binance sends in these events is one byte: dispatching on that byte is a jump
    // table, where a match on the string compares it with each key in turn (13 % of a
    // bookTicker frame's time, before).
    fn field(&mut self, key: &'a str, p: &mut Parser<'a>) -> Result<(), Rejection> {
        let dup = &mut self.duplicate;
        let [byte] = key.as_bytes() else {
            return p.skip();
        };
        match byte {
            b'e' => store(&mut self.e, dup, "e", p),
            b'E' => store(&mut self.event_time, dup, "E", p),
            b's' => store(&mut self.s, dup, "s", p),
            b'p' => store(&mut self.p, dup, "p", p),
            b'P' => store(&mut self.big_p, dup, "P", p),
            b'x' => store(&mut self.x, dup, "x", p),
            b'c' => store(&mut self.c, dup, "c", p),
            b'Q' => store(&mut self.big_q, dup, "Q", p),
            b'b' => store(&mut self.b, dup, "b", p),
            b'B' => store(&mut self.big_b, dup, "B", p),
            b'a' => store(&mut self.a, dup, "a", p),
            b'A' => store(&mut self.big_a, dup, "A", p),
            b'o' => store(&mut self.o, dup, "o", p),
            b'h' => store(&mut self.h, dup, "h", p),
            b'l' => store(&mut self.l, dup, "l", p),
            b'v' => store(&mut self.v, dup, "v", p),
            b'q' => store(&mut self.q, dup, "q", p),
            b'L' => store(&mut self.big_l, dup, "L", p),
            b'u' => store(&mut self.u, dup, "u", p),
            b't' => store(&mut self.t, dup, "t", p),
            b'T' => store(&mut self.big_t, dup, "T", p),
            b'm' => store(&mut self.m, dup, "m", p),
            b'f' => store(&mut self.f, dup, "f", p),
            _ => p.skip(),
        }
    }
}
