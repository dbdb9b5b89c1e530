//! Which listed instruments a connector follows: a [`Selector`] over a decoded
//! [`Listing`] (quotes, statuses, include/exclude patterns), then this process's [`Shard`].
//! Pure: the same listing always gives the same instruments, in the same order.

use crate::model::listing::{Listing, ListingStatus};
use crate::model::{Exchange, Instrument};

/// A pattern over canonical instruments (`BASE-QUOTE`): `*` matches any run of characters,
/// `?` one character, everything else itself (`*-KRW`, `BTC-*`, `USD?-*`).
///
/// Hand-written (a dozen lines) rather than `globset`: instruments are short upper-case ASCII
/// and two wildcards are all a selector needs; `globset` brings a regex engine for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern(String);

impl Pattern {
    /// A pattern, or why not: only `A-Z`, `0-9`, `-`, `*` and `?`.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Err("an empty pattern matches nothing".into());
        }
        match text
            .chars()
            .find(|c| !(c.is_ascii_uppercase() || c.is_ascii_digit() || "-*?".contains(*c)))
        {
            Some(c) => Err(format!(
                "`{}` has `{}`: patterns use A-Z, 0-9, `-`, `*` and `?` (e.g. `*-KRW`)",
                text.escape_debug(),
                c.escape_debug()
            )),
            None => Ok(Self(text.to_owned())),
        }
    }

    /// Whether `text` matches the whole pattern.
    pub fn matches(&self, text: &str) -> bool {
        fn go(p: &[u8], t: &[u8]) -> bool {
            match p.split_first() {
                None => t.is_empty(),
                // A star takes nothing, or one more character and stays.
                Some((b'*', rest)) => go(rest, t) || (!t.is_empty() && go(p, &t[1..])),
                Some((&c, rest)) => {
                    t.first().is_some_and(|&x| c == b'?' || c == x) && go(rest, &t[1..])
                }
            }
        }
        go(self.0.as_bytes(), text.as_bytes())
    }

    /// As written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whole markets of a venue, as a connector file asks for them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selector {
    /// Quote currencies to follow (`KRW`, `USDT`); empty: every quote.
    pub quotes: Vec<String>,
    /// Statuses to follow; empty: those that publish market data
    /// ([`ListingStatus::is_live`]: trading, cancel-only, auction).
    pub statuses: Vec<ListingStatus>,
    /// Only instruments matching one of these; empty: all.
    pub include: Vec<Pattern>,
    /// Never instruments matching one of these.
    pub exclude: Vec<Pattern>,
    /// Leave out instruments under an investment warning (Upbit `market_event.warning`).
    pub skip_warned: bool,
}

impl Selector {
    /// Whether this selector takes the instrument `i` with `status` and `warned`.
    pub fn takes(&self, i: &Instrument, status: ListingStatus, warned: bool) -> bool {
        let text = i.as_str();
        let status_ok = if self.statuses.is_empty() {
            status.is_live()
        } else {
            self.statuses.contains(&status)
        };
        status_ok
            && (self.quotes.is_empty() || self.quotes.iter().any(|q| q == i.quote()))
            && (self.include.is_empty() || self.include.iter().any(|p| p.matches(text)))
            && !self.exclude.iter().any(|p| p.matches(text))
            && !(self.skip_warned && warned)
    }
}

/// This process's part of a venue's instruments: `index` of `count` (`0/1` is all), by a
/// stable hash of the instrument's Kafka key (`UPBIT:BTC-KRW`), so any number of processes
/// given `i/n` for every `i` split the market with no coordination, and two given the same
/// `i/n` carry the same instruments (duplicates are harmless: the cache's compare-and-set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This process's shard, `0..count`.
    pub index: u32,
    /// Shards in all.
    pub count: u32,
}

impl Default for Shard {
    fn default() -> Self {
        Self { index: 0, count: 1 }
    }
}

impl Shard {
    /// `i/n` (`0/3`), or why not.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "`{}` is not i/n with 0 <= i < n (e.g. 0/3)",
                text.escape_debug()
            )
        };
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let (index, count) = (
            i.trim().parse::<u32>().map_err(|_| bad())?,
            n.trim().parse::<u32>().map_err(|_| bad())?,
        );
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Self { index, count })
    }

    /// Whether `instrument` of `exchange` is this shard's: FNV-1a (64-bit) of
    /// `EXCHANGE:BASE-QUOTE`, modulo `count`. The rule is part of the contract (a shard's
    /// set must not change between versions): `tests` pins values.
    pub fn owns(&self, exchange: Exchange, instrument: &Instrument) -> bool {
        self.count <= 1 || shard_of(exchange, instrument, self.count) == self.index
    }
}

/// The shard of `instrument` among `count`.
pub fn shard_of(exchange: Exchange, instrument: &Instrument, count: u32) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let key = [exchange.as_str(), ":", instrument.as_str()];
    for b in key.iter().flat_map(|s| s.bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    u32::try_from(h % u64::from(count.max(1))).unwrap_or(0)
}

/// The instruments of `listing` that `selector` takes and `shard` owns, sorted.
pub fn choose(listing: &Listing, selector: &Selector, shard: Shard) -> Vec<Instrument> {
    let mut out: Vec<Instrument> = listing
        .records
        .iter()
        .filter(|r| {
            let warned = r.notices.contains(&crate::model::listing::Notice::Warning);
            selector.takes(&r.instrument, r.status, warned) && shard.owns(r.exchange, &r.instrument)
        })
        .map(|r| r.instrument.clone())
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn i(s: &str) -> Instrument {
        Instrument::parse(s).unwrap()
    }

    #[test]
    fn patterns() {
        let p = |s: &str| Pattern::parse(s).unwrap();
        assert!(p("*-KRW").matches("BTC-KRW"));
        assert!(!p("*-KRW").matches("BTC-KRWX"));
        assert!(p("BTC-*").matches("BTC-USDT"));
        assert!(p("USD?-*").matches("USDT-KRW"));
        assert!(!p("USD?-*").matches("USD-KRW"));
        assert!(p("*").matches("A-B"));
        assert!(p("*T*").matches("ETH-KRW"));
        assert!(!p("BTC-KRW").matches("BTC-KR"));
        assert!(Pattern::parse("btc-*").is_err());
        assert!(Pattern::parse("").is_err());
        assert!(Pattern::parse("BTC/KRW").is_err());
    }

    #[test]
    fn selector_defaults_to_live_statuses_and_every_quote() {
        let s = Selector::default();
        assert!(s.takes(&i("BTC-KRW"), ListingStatus::Trading, true));
        assert!(!s.takes(&i("BTC-KRW"), ListingStatus::Break, false));
        assert!(!s.takes(&i("BTC-KRW"), ListingStatus::Halted, false));
        let s = Selector {
            quotes: vec!["KRW".into()],
            exclude: vec![Pattern::parse("USDT-*").unwrap()],
            skip_warned: true,
            ..Selector::default()
        };
        assert!(s.takes(&i("BTC-KRW"), ListingStatus::Trading, false));
        assert!(!s.takes(&i("BTC-USDT"), ListingStatus::Trading, false));
        assert!(!s.takes(&i("USDT-KRW"), ListingStatus::Trading, false));
        assert!(!s.takes(&i("BTC-KRW"), ListingStatus::Trading, true));
        let s = Selector {
            statuses: vec![ListingStatus::Halted],
            ..Selector::default()
        };
        assert!(s.takes(&i("BTC-KRW"), ListingStatus::Halted, false));
        assert!(!s.takes(&i("BTC-KRW"), ListingStatus::Trading, false));
    }

    #[test]
    fn shards_split_a_market_and_the_rule_is_pinned() {
        assert_eq!(Shard::parse("1/3").unwrap(), Shard { index: 1, count: 3 });
        for bad in ["3/3", "0/0", "1", "a/2", "-1/2", ""] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
        // Every instrument in exactly one of n shards.
        let all: Vec<Instrument> = (0..300).map(|n| i(&format!("C{n}-KRW"))).collect();
        let mut sizes = [0usize; 3];
        for x in &all {
            let owners: Vec<u32> = (0..3)
                .filter(|&k| Shard { index: k, count: 3 }.owns(Exchange::Upbit, x))
                .collect();
            assert_eq!(owners.len(), 1);
            sizes[owners[0] as usize] += 1;
        }
        assert!(sizes.iter().all(|&n| n > 70), "{sizes:?}");
        // Pinned: changing the hash would move every deployed shard's instruments.
        assert_eq!(
            shard_of(Exchange::Upbit, &i("BTC-KRW"), 1000),
            PINNED_BTC_KRW
        );
        assert_eq!(
            shard_of(Exchange::Binance, &i("BTC-USDT"), 1000),
            PINNED_BTC_USDT
        );
    }

    /// FNV-1a 64 of `UPBIT:BTC-KRW` and `BINANCE:BTC-USDT` modulo 1000, computed outside
    /// Rust (Python, from the published FNV constants).
    const PINNED_BTC_KRW: u32 = 677;
    const PINNED_BTC_USDT: u32 = 35;
}
