//! The simulated venues' market listings: what `GET /upbit/v1/market/all`,
//! `/bithumb/v1/market/all` and `/binance/api/v3/exchangeInfo` publish, and which instruments
//! stream data. Shared by every connection ([`Listings`] in an `Arc`) and changed while the
//! server runs: in-process with [`Listings::list`], [`Listings::delist`] and
//! [`Listings::set_status`], or over HTTP with `POST /sim/<exchange>/list?instrument=ABC-KRW`
//! (`sim::rest`).
//!
//! Each venue's listing is synthetic: the markets its file names ([`VenueListing::named`]:
//! those the shipped connectors subscribe and a few well-known ones) plus generated ones
//! (`S0001-KRW`, `S0002USDT`, ...) up to the venue's size, split over its quote assets like the
//! real venue. Generation is deterministic: the same sizes give the same listing.

use crate::model::listing::{ListingStatus, Notice};
use crate::model::{Exchange, Instrument};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// How a venue's simulated listing is made and how it behaves: one constant per venue file.
#[derive(Debug)]
pub(crate) struct VenueListing {
    /// The venue.
    pub exchange: Exchange,
    /// Markets listed by default (named and generated), like the real venue.
    pub default_markets: usize,
    /// Always listed, canonical `BASE-QUOTE`.
    pub named: &'static [&'static str],
    /// Quote assets of the generated markets, with their shares of them.
    pub quotes: &'static [(&'static str, usize)],
    /// Whether markets carry a status (Binance: a delisted pair lingers as `BREAK`, HALT and
    /// others can be set) or simply appear and disappear (Upbit, Bithumb).
    pub statuses: bool,
    /// Generated markets listed as `BREAK` besides the trading ones, per 100 of those (only
    /// with `statuses`).
    pub broken_per_100: usize,
    /// Notices of the `n`th generated market (from 0).
    pub notices: fn(usize) -> Vec<Notice>,
    /// The venue's own symbol of an instrument (`KRW-BTC`, `BTCUSDT`).
    pub native: fn(&Instrument) -> String,
}

/// One market of a simulated listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimMarket {
    /// The venue.
    pub exchange: Exchange,
    /// Canonical instrument.
    pub instrument: Instrument,
    /// The venue's symbol (`KRW-BTC`, `BTCUSDT`).
    pub native: String,
    /// Its state; on venues without statuses, `Trading` (listed) or `Break` (delisted: absent
    /// from the venue's listing).
    pub status: ListingStatus,
    /// Notices (Upbit's warning and caution flags, Bithumb's caution), sorted.
    pub notices: Vec<Notice>,
    /// One of the few busy markets that take most frames ([`Listings::with_hot`]).
    pub hot: bool,
}

impl SimMarket {
    /// Whether the venue's listing shows it: always with statuses, only while trading without.
    fn published(&self, spec: &VenueListing) -> bool {
        spec.statuses || self.status == ListingStatus::Trading
    }
}

/// How many markets each venue lists (named and generated; at least the named ones).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingSizes(BTreeMap<Exchange, usize>);

impl Default for ListingSizes {
    /// The real venues' sizes: Upbit 530 (180 KRW, 240 BTC, 110 USDT), Binance 1,300 trading
    /// (and 65 `BREAK`), Bithumb 450 KRW.
    fn default() -> Self {
        Self(
            super::VENUES
                .iter()
                .map(|v| (v.listing.exchange, v.listing.default_markets))
                .collect(),
        )
    }
}

impl ListingSizes {
    /// Lists `markets` on `exchange` (trading ones, for a venue with statuses).
    pub fn set(&mut self, exchange: Exchange, markets: usize) -> &mut Self {
        self.0.insert(exchange, markets);
        self
    }

    /// The markets `exchange` lists.
    pub fn get(&self, exchange: Exchange) -> usize {
        self.0.get(&exchange).copied().unwrap_or(0)
    }

    /// Every venue listing `markets`.
    pub fn all(markets: usize) -> Self {
        Self(Exchange::ALL.into_iter().map(|e| (e, markets)).collect())
    }
}

/// Why a listing change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimListingError {
    /// The venue does not list (or never listed) the instrument.
    #[error("{exchange} does not list {instrument}")]
    NotListed {
        /// The venue.
        exchange: Exchange,
        /// The instrument.
        instrument: Instrument,
    },
    /// The venue's symbol of the instrument already names another one (Binance `ABCUSDT` is
    /// both `ABC-USDT` and `AB-CUSDT`).
    #[error("{exchange} symbol {symbol} already names {existing}")]
    SymbolTaken {
        /// The venue.
        exchange: Exchange,
        /// The clashing symbol.
        symbol: String,
        /// The instrument it names.
        existing: Instrument,
    },
    /// The venue's markets are listed or not, without statuses.
    #[error("{0} markets have no status besides listed and delisted")]
    NoStatuses(Exchange),
    /// The simulator has no listing for the venue.
    #[error("{0} has no simulated listing")]
    NotSimulated(Exchange),
}

#[derive(Debug)]
struct Venue {
    spec: &'static VenueListing,
    markets: Vec<SimMarket>,
    by_instrument: HashMap<Instrument, usize>,
    by_native: HashMap<String, usize>,
}

impl Venue {
    fn new(spec: &'static VenueListing) -> Self {
        Self {
            spec,
            markets: Vec::new(),
            by_instrument: HashMap::new(),
            by_native: HashMap::new(),
        }
    }

    /// Adds a market not listed yet; `false` when the instrument or its symbol is taken.
    fn push(
        &mut self,
        instrument: Instrument,
        status: ListingStatus,
        notices: Vec<Notice>,
    ) -> bool {
        let native = (self.spec.native)(&instrument);
        if self.by_instrument.contains_key(&instrument) || self.by_native.contains_key(&native) {
            return false;
        }
        let n = self.markets.len();
        self.by_instrument.insert(instrument.clone(), n);
        self.by_native.insert(native.clone(), n);
        self.markets.push(SimMarket {
            exchange: self.spec.exchange,
            instrument,
            native,
            status,
            notices,
            hot: false,
        });
        true
    }

    fn get_mut(&mut self, instrument: &Instrument) -> Option<&mut SimMarket> {
        let n = *self.by_instrument.get(instrument)?;
        self.markets.get_mut(n)
    }

    /// The named markets, then generated ones: each quote asset's share of `size` trading
    /// markets (named ones count towards it), and the broken ones on a venue with statuses.
    fn generate(&mut self, size: usize, extra: &[SimMarket]) {
        let spec = self.spec;
        for i in spec.named.iter().filter_map(|s| Instrument::parse(s)) {
            self.push(i, ListingStatus::Trading, Vec::new());
        }
        for m in extra.iter().filter(|m| m.exchange == spec.exchange) {
            self.push(m.instrument.clone(), m.status, m.notices.clone());
        }
        let in_group = |m: &SimMarket| spec.quotes.iter().any(|(q, _)| m.instrument.quote() == *q);
        let outside = self
            .markets
            .iter()
            .filter(|m| m.status == ListingStatus::Trading && !in_group(m))
            .count();
        let broken = if spec.statuses {
            size * spec.broken_per_100 / 100
        } else {
            0
        };
        let mut generated = 0usize;
        for (status, total) in [
            (ListingStatus::Trading, size.saturating_sub(outside)),
            (ListingStatus::Break, broken),
        ] {
            for (quote, target) in shares(spec.quotes, total) {
                let have = self
                    .markets
                    .iter()
                    .filter(|m| m.status == status && m.instrument.quote() == quote)
                    .count();
                let mut base = 0usize;
                let mut made = have;
                while made < target {
                    base += 1;
                    let Some(i) = Instrument::new(&format!("S{base:04}"), quote) else {
                        break;
                    };
                    let notices = match status {
                        ListingStatus::Trading => (spec.notices)(generated),
                        _ => Vec::new(),
                    };
                    if self.push(i, status, notices) {
                        made += 1;
                        generated += 1;
                    }
                }
            }
        }
    }
}

/// `total` split over `quotes` by their weights; the last one takes what rounding leaves.
fn shares(quotes: &'static [(&'static str, usize)], total: usize) -> Vec<(&'static str, usize)> {
    let weights: usize = quotes.iter().map(|(_, w)| w).sum::<usize>().max(1);
    let mut left = total;
    quotes
        .iter()
        .enumerate()
        .map(|(k, (quote, weight))| {
            let share = if k + 1 == quotes.len() {
                left
            } else {
                (total * weight / weights).min(left)
            };
            left -= share;
            (*quote, share)
        })
        .collect()
}

/// Every simulated venue's listing, shared by the server's connections and changed while it
/// runs. Data flows only for instruments whose market is live (listed; on Binance a status
/// that publishes market data: `TRADING`, `CANCEL_ONLY`, `AUCTION_MATCH`).
#[derive(Debug)]
pub struct Listings {
    venues: Mutex<Vec<Venue>>,
    /// Bumped on every change, so connections re-read liveness only when it moved.
    generation: AtomicU64,
    /// Percent of a connection's frames its hot streams take (0: plain round-robin).
    hot_share_pct: u32,
}

impl Listings {
    /// The listings of `sizes`, with `extra` markets (e.g. a Binance symbol table) listed
    /// beside the named ones before any is generated.
    pub fn new(sizes: &ListingSizes, extra: &[SimMarket]) -> Self {
        let venues = super::VENUES
            .iter()
            .copied()
            .map(|v| &v.listing)
            .map(|spec| {
                let mut v = Venue::new(spec);
                v.generate(sizes.get(spec.exchange), extra);
                v
            })
            .collect();
        Self {
            venues: Mutex::new(venues),
            generation: AtomicU64::new(0),
            hot_share_pct: 0,
        }
    }

    /// Makes the first `hot` markets of each venue (the named ones first: `BTC-KRW`,
    /// `BTC-USDT`, ...) busy: on a connection that streams both hot and other markets, the hot
    /// streams take `share_pct` percent of the frames (clamped to 1..=99) and the others the
    /// rest, each group round-robin, like a real venue where a few markets trade most. Without
    /// it (or with `hot` 0) every stream gets the same share.
    pub fn with_hot(self, hot: usize, share_pct: u32) -> Self {
        {
            let mut venues = self.lock();
            for v in venues.iter_mut() {
                for m in v.markets.iter_mut().take(hot) {
                    m.hot = true;
                }
            }
        }
        Self {
            hot_share_pct: if hot == 0 { 0 } else { share_pct.clamp(1, 99) },
            ..self
        }
    }

    /// Percent of frames hot streams take; 0 without hot markets.
    pub fn hot_share_pct(&self) -> u32 {
        self.hot_share_pct
    }

    /// Which of `instruments` are hot on `exchange`, under one lock.
    pub(crate) fn hot<'a>(
        &self,
        exchange: Exchange,
        instruments: impl Iterator<Item = &'a Instrument>,
    ) -> Vec<bool> {
        self.flags(exchange, instruments, |m| m.hot)
    }

    fn flags<'a>(
        &self,
        exchange: Exchange,
        instruments: impl Iterator<Item = &'a Instrument>,
        flag: impl Fn(&SimMarket) -> bool,
    ) -> Vec<bool> {
        let venues = self.lock();
        let venue = venues.iter().find(|v| v.spec.exchange == exchange);
        instruments
            .map(|i| {
                venue
                    .and_then(|v| v.by_instrument.get(i).and_then(|&n| v.markets.get(n)))
                    .is_some_and(&flag)
            })
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Venue>> {
        // A panic while holding the lock cannot leave a half-made change: every change is one
        // assignment or one push.
        self.venues.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Applies `change` to `exchange`'s venue and bumps the generation when it succeeds.
    fn change<T>(
        &self,
        exchange: Exchange,
        change: impl FnOnce(&mut Venue) -> Result<T, SimListingError>,
    ) -> Result<T, SimListingError> {
        let mut venues = self.lock();
        let venue = venues
            .iter_mut()
            .find(|v| v.spec.exchange == exchange)
            .ok_or(SimListingError::NotSimulated(exchange))?;
        let out = change(venue)?;
        self.generation.fetch_add(1, Ordering::Release);
        Ok(out)
    }

    /// Lists `instrument` on `exchange` (again): a new market appears in the venue's listing,
    /// a delisted or halted one trades again.
    pub fn list(
        &self,
        exchange: Exchange,
        instrument: &Instrument,
    ) -> Result<SimMarket, SimListingError> {
        self.change(exchange, |v| {
            if let Some(m) = v.get_mut(instrument) {
                m.status = ListingStatus::Trading;
                return Ok(m.clone());
            }
            let native = (v.spec.native)(instrument);
            if let Some(&n) = v.by_native.get(&native) {
                return Err(SimListingError::SymbolTaken {
                    exchange,
                    symbol: native,
                    existing: v.markets[n].instrument.clone(),
                });
            }
            v.push(instrument.clone(), ListingStatus::Trading, Vec::new());
            Ok(v.markets[v.markets.len() - 1].clone())
        })
    }

    /// Delists `instrument`: its streams stop on every connection; on Binance it lingers as
    /// `BREAK`, on Upbit and Bithumb it disappears from `market/all`.
    pub fn delist(
        &self,
        exchange: Exchange,
        instrument: &Instrument,
    ) -> Result<SimMarket, SimListingError> {
        self.change(exchange, |v| {
            let statuses = v.spec.statuses;
            match v.get_mut(instrument) {
                Some(m) if statuses || m.status == ListingStatus::Trading => {
                    m.status = ListingStatus::Break;
                    Ok(m.clone())
                }
                _ => Err(SimListingError::NotListed {
                    exchange,
                    instrument: instrument.clone(),
                }),
            }
        })
    }

    /// Sets the status of a listed market on a venue with statuses (Binance `HALT`, ...):
    /// streams flow only while [`ListingStatus::is_live`].
    pub fn set_status(
        &self,
        exchange: Exchange,
        instrument: &Instrument,
        status: ListingStatus,
    ) -> Result<SimMarket, SimListingError> {
        self.change(exchange, |v| {
            if !v.spec.statuses {
                return Err(SimListingError::NoStatuses(exchange));
            }
            let m = v
                .get_mut(instrument)
                .ok_or_else(|| SimListingError::NotListed {
                    exchange,
                    instrument: instrument.clone(),
                })?;
            m.status = status;
            Ok(m.clone())
        })
    }

    /// The market of `instrument` on `exchange`, delisted or not; `None` if never listed.
    pub fn get(&self, exchange: Exchange, instrument: &Instrument) -> Option<SimMarket> {
        let venues = self.lock();
        let v = venues.iter().find(|v| v.spec.exchange == exchange)?;
        v.by_instrument
            .get(instrument)
            .and_then(|&n| v.markets.get(n))
            .cloned()
    }

    /// The market the venue's listing shows under its own symbol (Binance `BTCUSDT`).
    pub fn by_native(&self, exchange: Exchange, native: &str) -> Option<SimMarket> {
        let venues = self.lock();
        let v = venues.iter().find(|v| v.spec.exchange == exchange)?;
        v.by_native
            .get(native)
            .and_then(|&n| v.markets.get(n))
            .filter(|m| m.published(v.spec))
            .cloned()
    }

    /// What `exchange`'s listing shows, in listing order.
    pub fn markets(&self, exchange: Exchange) -> Vec<SimMarket> {
        let venues = self.lock();
        venues
            .iter()
            .find(|v| v.spec.exchange == exchange)
            .map(|v| {
                v.markets
                    .iter()
                    .filter(|m| m.published(v.spec))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether data flows for `instrument` on `exchange` now.
    pub fn is_live(&self, exchange: Exchange, instrument: &Instrument) -> bool {
        self.live(exchange, std::iter::once(instrument))
            .first()
            .copied()
            .unwrap_or(false)
    }

    /// [`Listings::is_live`] of several instruments under one lock.
    pub(crate) fn live<'a>(
        &self,
        exchange: Exchange,
        instruments: impl Iterator<Item = &'a Instrument>,
    ) -> Vec<bool> {
        self.flags(exchange, instruments, |m| m.status.is_live())
    }

    /// A counter that moves on every change (connections re-check liveness when it does).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }
}

/// Which of a connection's streams are live, re-read only when the listings changed.
#[derive(Debug, Default)]
pub(crate) struct Liveness {
    generation: Option<u64>,
    live: Vec<bool>,
}

impl Liveness {
    /// Forgets what it knew (the streams changed).
    pub fn invalidate(&mut self) {
        self.generation = None;
    }

    /// Re-reads which of `instruments` (the streams, in order) are live, when the listings
    /// changed since the last look.
    pub fn refresh<'a>(
        &mut self,
        listings: &Listings,
        exchange: Exchange,
        instruments: impl Iterator<Item = &'a Instrument>,
    ) {
        let now = listings.generation();
        if self.generation != Some(now) {
            self.live = listings.live(exchange, instruments);
            self.generation = Some(now);
        }
    }

    /// Whether stream `n` is live.
    pub fn get(&self, n: usize) -> bool {
        self.live.get(n).copied().unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn i(s: &str) -> Instrument {
        Instrument::parse(s).unwrap()
    }

    #[test]
    fn default_sizes_split_like_the_real_venues() {
        let l = Listings::new(&ListingSizes::default(), &[]);
        let quoted = |e: Exchange, q: &str| {
            l.markets(e)
                .iter()
                .filter(|m| m.instrument.quote() == q)
                .count()
        };
        assert_eq!(l.markets(Exchange::Upbit).len(), 530);
        assert_eq!(
            (
                quoted(Exchange::Upbit, "KRW"),
                quoted(Exchange::Upbit, "BTC"),
                quoted(Exchange::Upbit, "USDT")
            ),
            (180, 240, 110)
        );
        let binance = l.markets(Exchange::Binance);
        let broken = binance
            .iter()
            .filter(|m| m.status == ListingStatus::Break)
            .count();
        assert_eq!((binance.len() - broken, broken), (1300, 65));
        assert_eq!(l.markets(Exchange::Bithumb).len(), 450);
        assert_eq!(quoted(Exchange::Bithumb, "KRW"), 450);
    }

    #[test]
    fn list_delist_and_statuses() {
        let l = Listings::new(&ListingSizes::all(10), &[]);
        let g0 = l.generation();
        assert!(l.is_live(Exchange::Upbit, &i("BTC-KRW")));
        l.delist(Exchange::Upbit, &i("BTC-KRW")).unwrap();
        assert!(!l.is_live(Exchange::Upbit, &i("BTC-KRW")));
        assert!(
            !l.markets(Exchange::Upbit)
                .iter()
                .any(|m| m.native == "KRW-BTC")
        );
        assert_eq!(
            l.delist(Exchange::Upbit, &i("BTC-KRW")),
            Err(SimListingError::NotListed {
                exchange: Exchange::Upbit,
                instrument: i("BTC-KRW")
            })
        );
        assert!(l.generation() > g0);
        // Relisted: back, live.
        l.list(Exchange::Upbit, &i("BTC-KRW")).unwrap();
        assert!(l.is_live(Exchange::Upbit, &i("BTC-KRW")));
        // Binance: a delisted pair lingers as BREAK; HALT publishes no data either.
        let m = l.delist(Exchange::Binance, &i("BTC-USDT")).unwrap();
        assert_eq!(
            (m.native.as_str(), m.status),
            ("BTCUSDT", ListingStatus::Break)
        );
        assert_eq!(
            l.by_native(Exchange::Binance, "BTCUSDT").unwrap().status,
            ListingStatus::Break
        );
        l.set_status(Exchange::Binance, &i("BTC-USDT"), ListingStatus::Halted)
            .unwrap();
        assert!(!l.is_live(Exchange::Binance, &i("BTC-USDT")));
        l.set_status(Exchange::Binance, &i("BTC-USDT"), ListingStatus::CancelOnly)
            .unwrap();
        assert!(l.is_live(Exchange::Binance, &i("BTC-USDT")));
        assert_eq!(
            l.set_status(Exchange::Upbit, &i("BTC-KRW"), ListingStatus::Halted),
            Err(SimListingError::NoStatuses(Exchange::Upbit))
        );
        // A new market, and a symbol that would name two instruments.
        l.list(Exchange::Binance, &i("ABC-USDT")).unwrap();
        assert_eq!(
            l.by_native(Exchange::Binance, "ABCUSDT")
                .unwrap()
                .instrument,
            i("ABC-USDT")
        );
        assert!(matches!(
            l.list(Exchange::Binance, &i("AB-CUSDT")),
            Err(SimListingError::SymbolTaken { .. })
        ));
    }
}
