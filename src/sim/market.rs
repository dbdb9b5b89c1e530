//! A synthetic market: per-instrument random walks with exact decimals and the statistics a
//! ticker carries (window open/high/low, previous close, 24 h volumes, best bid/ask, ids).

use crate::model::Instrument;
use rust_decimal::Decimal;
use std::collections::HashMap;

/// One instrument's state, in exact decimals.
#[derive(Debug, Clone)]
pub struct Quote {
    /// Canonical instrument.
    pub instrument: Instrument,
    /// Last traded price.
    pub last: Decimal,
    /// Size of the last trade.
    pub last_qty: Decimal,
    /// Window open.
    pub open: Decimal,
    /// Window high.
    pub high: Decimal,
    /// Window low.
    pub low: Decimal,
    /// Previous close (the change reference).
    pub prev_close: Decimal,
    /// 24 h base volume.
    pub volume: Decimal,
    /// 24 h quote volume.
    pub quote_volume: Decimal,
    /// Best bid (one tick below the last price).
    pub bid: Decimal,
    /// Best bid size.
    pub bid_qty: Decimal,
    /// Best ask (the last price).
    pub ask: Decimal,
    /// Best ask size.
    pub ask_qty: Decimal,
    /// Id of the last trade, increasing: every step of the walk counts as a trade (tickers'
    /// last trade id, book update ids).
    pub trade_id: i64,
    /// The last id a trade stream gave ([`Quote::next_stream_trade_id`]).
    stream_trade_id: i64,
    /// Price step.
    tick: Decimal,
}

impl Quote {
    /// The next id of a trade stream that numbers its trades consecutively per instrument
    /// (Binance `trade` `t`, `aggTrade` `a`): one more than the last, whatever other channels
    /// of the instrument sent in between, and kept across subscription changes like the walk.
    /// (The venue sends one of the two per connection at most, as tickflow subscribes them.)
    pub fn next_stream_trade_id(&mut self) -> i64 {
        self.stream_trade_id += 1;
        self.stream_trade_id
    }

    /// Signed change against the previous close.
    pub fn change(&self) -> Decimal {
        self.last - self.prev_close
    }

    /// Signed change as a fraction, rounded to 10 places as exchanges send it.
    pub fn change_rate(&self) -> Decimal {
        (self.change() / self.prev_close).round_dp(10)
    }
}

/// The price step of `instrument`'s walk (what Binance's listing publishes as `tickSize`).
pub fn price_step(instrument: &Instrument) -> Decimal {
    start(instrument).1
}

/// Starting price and price step for a few well-known instruments; others get 100.00.
fn start(instrument: &Instrument) -> (Decimal, Decimal) {
    let d = |m: i64, s: u32| Decimal::new(m, s);
    match (instrument.base(), instrument.quote()) {
        ("BTC", "KRW") => (d(143_880_000, 0), d(1000, 0)),
        ("ETH", "KRW") => (d(4_452_000, 0), d(1000, 0)),
        ("SOL", "KRW") => (d(210_500, 0), d(50, 0)),
        ("XRP", "KRW") => (d(3_150, 0), d(1, 0)),
        ("DOGE", "KRW") => (d(2_505, 1), d(1, 1)),
        ("BTC", _) => (d(9_357_745, 2), d(1, 2)),
        ("ETH", "BTC") => (d(3_277, 5), d(1, 5)),
        ("ETH", _) => (d(320_012, 2), d(1, 2)),
        ("BNB", "BTC") => (d(98_250, 7), d(1, 7)),
        ("BNB", _) => (d(91_050, 2), d(1, 2)),
        ("SOL", _) => (d(13_942, 2), d(1, 2)),
        ("XRP", _) => (d(21_345, 4), d(1, 4)),
        _ => (d(10_000, 2), d(1, 2)),
    }
}

/// All instruments of one simulated connection.
#[derive(Debug)]
pub struct Market {
    rng: u64,
    quotes: HashMap<Instrument, Quote>,
}

impl Market {
    /// A market for `instruments`, reproducible for a given `seed`.
    pub fn new(instruments: &[Instrument], seed: u64) -> Self {
        let mut market = Self {
            rng: seed | 1,
            quotes: HashMap::new(),
        };
        market.follow(instruments);
        market
    }

    /// Follows exactly `instruments` from now on: the ones it already walks keep their state
    /// (price, statistics, trade ids), new ones start fresh, the others are forgotten. A
    /// subscription that changes on a running connection does not restart the instruments
    /// it keeps.
    pub fn follow(&mut self, instruments: &[Instrument]) {
        let keep: std::collections::HashSet<&Instrument> = instruments.iter().collect();
        self.quotes.retain(|i, _| keep.contains(i));
        for i in instruments {
            self.quotes
                .entry(i.clone())
                .or_insert_with(|| Self::fresh(i));
        }
    }

    fn fresh(i: &Instrument) -> Quote {
        let (price, tick) = start(i);
        Quote {
            instrument: i.clone(),
            last: price,
            last_qty: Decimal::new(1, 2),
            open: price,
            high: price,
            low: price,
            prev_close: price,
            volume: Decimal::ZERO,
            quote_volume: Decimal::ZERO,
            bid: price - tick,
            bid_qty: Decimal::ONE,
            ask: price,
            ask_qty: Decimal::ONE,
            trade_id: 1_000_000,
            stream_trade_id: 1_000_000,
            tick,
        }
    }

    /// xorshift64*: enough randomness for a price walk, no dependency.
    fn next_u64(&mut self) -> u64 {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Advances `instrument` by one trade and returns its new state.
    pub fn step(&mut self, instrument: &Instrument) -> Option<&mut Quote> {
        let r = self.next_u64();
        let q = self.quotes.get_mut(instrument)?;
        let steps = Decimal::from((r % 7) as i64 - 3);
        let next = q.last + q.tick * steps;
        if next > q.tick {
            q.last = next;
        }
        q.high = q.high.max(q.last);
        q.low = q.low.min(q.last);
        q.last_qty = Decimal::new(((r >> 8) % 1_000_000 + 1) as i64, 8);
        q.volume += q.last_qty;
        q.quote_volume += q.last * q.last_qty;
        q.bid = q.last - q.tick;
        q.ask = q.last;
        q.bid_qty = Decimal::new(((r >> 28) % 500_000 + 1) as i64, 6);
        q.ask_qty = Decimal::new(((r >> 44) % 500_000 + 1) as i64, 6);
        q.trade_id += 1;
        Some(q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walk_stays_positive_consistent_and_reproducible() {
        let i = Instrument::parse("XRP-KRW").unwrap();
        let mut a = Market::new(std::slice::from_ref(&i), 7);
        let mut b = Market::new(std::slice::from_ref(&i), 7);
        for _ in 0..10_000 {
            let qa = a.step(&i).unwrap().clone();
            let qb = b.step(&i).unwrap();
            assert_eq!(qa.last, qb.last);
            assert!(qa.last > Decimal::ZERO && qa.low <= qa.last && qa.last <= qa.high);
            assert!(qa.bid <= qa.ask);
            assert!(crate::model::validate::fits_wire(qa.change_rate()));
        }
    }

    #[test]
    fn followed_instruments_keep_their_state_new_ones_start_fresh() {
        let (btc, eth, xrp) = (
            Instrument::parse("BTC-KRW").unwrap(),
            Instrument::parse("ETH-KRW").unwrap(),
            Instrument::parse("XRP-KRW").unwrap(),
        );
        let mut m = Market::new(&[btc.clone(), eth.clone()], 3);
        for _ in 0..5 {
            m.step(&btc);
            m.step(&eth);
        }
        let btc_before = m.step(&btc).unwrap().clone();
        m.follow(&[btc.clone(), xrp.clone()]);
        let btc_after = m.step(&btc).unwrap().clone();
        assert_eq!(btc_after.trade_id, btc_before.trade_id + 1);
        assert_eq!(btc_after.volume, btc_before.volume + btc_after.last_qty);
        assert_eq!(m.step(&xrp).unwrap().trade_id, 1_000_001);
        assert!(m.step(&eth).is_none(), "dropped instruments are forgotten");
        m.follow(std::slice::from_ref(&eth));
        assert_eq!(m.step(&eth).unwrap().trade_id, 1_000_001);
    }
}
