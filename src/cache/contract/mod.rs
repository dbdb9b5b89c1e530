//! The Redis contract (version 3): what API servers read.
//!
//! - Hash `px:{BASE-QUOTE}:EXCHANGE` (e.g. `px:{BTC-KRW}:UPBIT`; the braces are the Redis
//!   Cluster hash tag, so every exchange's price of one instrument shares a slot). All values
//!   are strings; decimals exact, times UTC epoch µs, and every time field says so in its name
//!   (`_ts_us`, as the Kafka records' do). Absent data is an absent field.
//! - The hash holds three **parts**, each written by its own compare-and-set on its own
//!   ordering version (`<part>_ver`), so each is monotonic by itself: a late ticker cannot
//!   overwrite a newer trade price, and a book update cannot erase trade fields.
//!   - **trade** ([`TRADE_FIELDS`]): the last trade, from `TRADE` ticks and the last price of
//!     `TICKER`s; ordered by (trade time, else event time, else receive time; trade id;
//!     receive time).
//!   - **book** ([`BOOK_FIELDS`]): the best bid/offer, from `BEST_BID_OFFER` ticks and the
//!     quotes of `TICKER`s that carry them; ordered by (the book's exchange time, else its
//!     receive time; book update id; receive time). A ticker's quotes count as of their
//!     arrival: Binance's `bookTicker` has no exchange time, so its quotes and the ticker's are
//!     compared on one clock.
//!   - **ticker** ([`TICKER_FIELDS`]): the window statistics of `TICKER`s; ordered as in
//!     contract 1 (event time, else trade time, else receive time; sequence; receive time).
//!
//!   Every ordering counts an exchange time at most [`FUTURE_ORDERING_US`] ahead of the
//!   receive time, so a tick from a skewed clock cannot hold its part against the live feed.
//!   Each part keeps its own receive time (`trade_received_ts_us`, `book_received_ts_us`,
//!   `ticker_received_ts_us`): the age of each part is now minus that.
//! - Common fields ([`COMMON_FIELDS`]), written with any part: `contract_version` (`3`),
//!   `exchange`, `instrument`, `native_symbol`, `kind` and `received_ts_us` of the latest
//!   applied update, `updated_ts_us` (when the cache wrote it), and `simulated` = `true` for
//!   synthetic data (`tickflow simulate`, Kafka header `simulated: true`); real data has no
//!   such field.
//! - Each applied update is PUBLISHed, as compact JSON, on a channel named like the key: the
//!   common fields and the parts it changed, each with its `<part>_ver` ([`part_fragment`]), so
//!   a subscriber that read the hash keeps only what is newer (docs/consumers.md).
//! - Sorted set `px:index:EXCHANGE`: the instruments with a live hash, scored by the cache's
//!   last write for them (UTC epoch µs, like every time in the hashes; they were epoch ms
//!   before issue 18: a reader comparing scores with a clock must use µs now). Scores are not
//!   fields and have no name to carry the unit: every score in this contract is epoch µs.
//! - Keys expire after the configured TTL without updates (dead markets retire themselves);
//!   each batch removes from the index the members no tick has come for during the TTL (at the
//!   cache's next write to that exchange's index). Their hashes expired by then: a hash expires
//!   a TTL after its last *applied* update, so a stale duplicate (not applied, TTL not renewed)
//!   keeps a member up to that much longer than its hash.
//!
//! - The instrument reference (issue 19; added to contract 2, which readers of contract 2
//!   may ignore), from the compacted topic `instruments.v1`:
//!   - Sorted set `px:live:EXCHANGE` ([`live_key`]): the instruments gather follows now on that
//!     venue (state `LIVE` in their newest record), scored by when the cache first saw each
//!     live (UTC epoch µs). A `DELISTED` record removes its member here and from
//!     `px:index:EXCHANGE`, so the index holds only live instruments with a live hash.
//!   - Hash `px:ref:{BASE-QUOTE}:EXCHANGE` ([`reference_key`], the same hash tag as the price,
//!     so one script writes both in a cluster): the newest record ([`REFERENCE_FIELDS`]),
//!     replaced whole by a newer one (ordered by its `as_of_ts_us`, the listing's fetch time);
//!     it expires a TTL after a `DELISTED` record, never while live.
//!   - On the price hash of a delisted instrument: `listing` = `delisted` and `delisted_ts_us`
//!     (the delisting listing's fetch time), written without touching any price field, and
//!     PUBLISHed on its channel
//!     (`{"exchange":...,"instrument":...,"listing":"delisted","delisted_ts_us":...}`);
//!     a tick applied later keeps them (it is a late price of a delisted market, and not indexed);
//!     a `LIVE` record again (relisted) removes them and publishes `"listing":"live"`.
//!
//! - Feed status (issue 20; added to contract 2, which readers of contract 2 may ignore),
//!   from the topic `feed.status.v1` ([`feed`] states the keys, fields and rules):
//!   - Hash `px:feed:EXCHANGE` ([`feed_key`]): per connection `<connector>#<n>` its state
//!     (`<c>:state`: `live`, `refused`, `connecting`, `stale`, `down`), `<c>:since_ts_us`,
//!     `<c>:reason`, `<c>:ts_us`, and the venue's `state`, the worst of its connections'.
//!   - Hash `px:feed:{BASE-QUOTE}:EXCHANGE` ([`feed_instrument_key`], the price hash's tag, so
//!     one pipeline reads both): `state` (`live`, `refused`, `stale`, `down`), `since_ts_us`,
//!     `reason`, `connector`, `connection`, the last gap (`gap_start_ts_us`, `gap_end_ts_us`),
//!     `ts_us` (the newest record's time) and `ver` (its ordering).
//!   - Each written by a Lua compare-and-set on the record's `ts_us`: an older record never
//!     overwrites a newer state. Each applied record is PUBLISHed as JSON on the instrument
//!     hash's channel (named like the key: the hash's fields but `ver`), and each change of a
//!     connection's or the venue's state on the venue hash's. They never expire (a connection
//!     that is gone keeps its last state).
//!   - Times in these two hashes are UTC epoch µs and say so (`_ts_us`), like the Kafka
//!     record's (as the price and reference hashes' do since contract 3).
//!   - A reader tells a price's standing from the price hash and the feed hash (one pipeline):
//!     `listing` = `delisted` first (a delisted market); else the feed's `state` (`live`, or
//!     why not); the instrument reference's `status` (`px:ref:{I}:E`, same slot) tells a halted
//!     market (`halted`, `break`, ...) whose feed is live but quiet.
//!
//! Changes from contract 2 (issue 20): every time field of the price and reference hashes,
//! and of the JSON PUBLISHed on their channels, says its unit in its name as the Kafka
//! records' do (the values are the same UTC epoch µs; a JavaScript reader took `trade_ts` for
//! ms): [`PRICE_RENAMED_IN_3`] (`received_ts` → `received_ts_us`, `updated_ts`, `trade_ts`,
//! `trade_received_ts`, `book_ts`, `book_received_ts`, `event_ts`, `ticker_received_ts`,
//! `delisted_ts`, each → `…_us`) and [`REFERENCE_RENAMED_IN_3`] (`first_seen_ts`,
//! `last_seen_ts`, `as_of_ts`, `updated_ts` → `…_us`). A version-2 price hash is upgraded in
//! place by its next applied update: the script, finding a stored `contract_version` other
//! than `3`, moves each old field it holds to its new name and removes the old one, so no hash
//! holds both spellings (a stale update, which writes nothing, leaves it as it is). A
//! version-2 reference hash is replaced whole by its next applied record. Until then a
//! version-2 hash says `contract_version` `2`: a reader of contract 3 treats it as stale.
//!
//! Changes from contract 1 to 2: the one `ver` became three part versions; `seq` is now the
//! ticker's (the trade's id is `trade_id`, the book's `book_update_id`); new fields
//! `trade_side`, `trade_ts`, `book_ts`, `*_received_ts` (each `…_us` since contract 3). A
//! version-1 hash is upgraded in place by its next update (its `ver` is removed, and its time
//! fields renamed as a version-2 hash's). The prefix (`px`) is configurable.

pub mod feed;

pub use feed::{feed_instrument_key, feed_key};

use crate::model::{EventKind, Exchange, Tick};
use std::fmt::Write as _;

/// Version of this contract, stored in every hash.
pub const CONTRACT_VERSION: &str = "3";

/// `PREFIX:{INSTRUMENT}:EXCHANGE`.
pub fn price_key(prefix: &str, instrument: &str, exchange: Exchange) -> String {
    format!("{prefix}:{{{instrument}}}:{}", exchange.as_str())
}

/// `PREFIX:index:EXCHANGE`.
pub fn index_key(prefix: &str, exchange: Exchange) -> String {
    format!("{prefix}:index:{}", exchange.as_str())
}

/// `PREFIX:live:EXCHANGE`: the live instruments of a venue.
pub fn live_key(prefix: &str, exchange: Exchange) -> String {
    format!("{prefix}:live:{}", exchange.as_str())
}

/// `PREFIX:ref:{INSTRUMENT}:EXCHANGE`: an instrument's reference record (same hash tag as its
/// price hash).
pub fn reference_key(prefix: &str, instrument: &str, exchange: Exchange) -> String {
    format!("{prefix}:ref:{{{instrument}}}:{}", exchange.as_str())
}

/// Fields of the reference hash (besides `ver`, its ordering version): `state` is `live` or
/// `delisted`; `status` the venue's (`trading`, `break`, ...; absent when unknown to this
/// build); sizes exact decimals (absent when unpublished); `notices` comma-separated codes
/// (`warning,price_fluctuations`; absent when none); times UTC epoch µs; `simulated` = `true`
/// for synthetic data.
pub const REFERENCE_FIELDS: [&str; 14] = [
    "contract_version",
    "exchange",
    "instrument",
    "native_symbol",
    "state",
    "status",
    "tick_size",
    "lot_size",
    "notices",
    "first_seen_ts_us",
    "last_seen_ts_us",
    "as_of_ts_us",
    "updated_ts_us",
    "simulated",
];

/// Field of the price hash naming a delisted instrument (`delisted`; absent while listed).
pub const LISTING_FIELD: &str = "listing";
/// Field of the price hash: when the instrument was delisted (UTC epoch µs).
pub const DELISTED_TS_FIELD: &str = "delisted_ts_us";

/// The time fields of the price hash contract 3 renamed to say their unit, as the Kafka
/// records' do (old, new). A hash of an older contract is upgraded in place by its next
/// applied update, which renames those it holds (see `cache::store::CAS_SCRIPT`), so no hash
/// holds both spellings.
pub const PRICE_RENAMED_IN_3: [(&str, &str); 9] = [
    ("received_ts", "received_ts_us"),
    ("updated_ts", "updated_ts_us"),
    ("trade_ts", "trade_ts_us"),
    ("trade_received_ts", "trade_received_ts_us"),
    ("book_ts", "book_ts_us"),
    ("book_received_ts", "book_received_ts_us"),
    ("event_ts", "event_ts_us"),
    ("ticker_received_ts", "ticker_received_ts_us"),
    ("delisted_ts", "delisted_ts_us"),
];

/// The time fields of the reference hash contract 3 renamed (old, new). The reference hash is
/// replaced whole by its next applied record, which drops the old names.
pub const REFERENCE_RENAMED_IN_3: [(&str, &str); 4] = [
    ("first_seen_ts", "first_seen_ts_us"),
    ("last_seen_ts", "last_seen_ts_us"),
    ("as_of_ts", "as_of_ts_us"),
    ("updated_ts", "updated_ts_us"),
];

/// The reference hash's values for `record` (in [`REFERENCE_FIELDS`] order; `""` is absent),
/// written at `updated_ts_us`.
pub fn reference_values(
    record: &crate::codec::instrument::InstrumentRecord,
    updated_ts_us: i64,
    simulated: bool,
) -> Vec<String> {
    let notices: Vec<&str> = record.notices.iter().map(|n| n.as_str()).collect();
    vec![
        CONTRACT_VERSION.to_owned(),
        record.exchange.as_str().to_owned(),
        record.instrument.to_string(),
        record.native_symbol.clone(),
        record.state.as_str().to_ascii_lowercase(),
        opt(record.status.map(|s| s.as_str())),
        opt(record.tick_size),
        opt(record.lot_size),
        notices.join(","),
        record.first_seen_ts_us.to_string(),
        record.last_seen_ts_us.to_string(),
        record.as_of_ts_us.to_string(),
        updated_ts_us.to_string(),
        if simulated { "true" } else { "" }.to_owned(),
    ]
}

/// The reference hash's ordering version: its `as_of_ts_us` as 20 sortable digits.
pub fn reference_version(record: &crate::codec::instrument::InstrumentRecord) -> String {
    let mut v = String::with_capacity(20);
    push_sortable(&mut v, record.as_of_ts_us);
    v
}

/// One part of the hash (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Part {
    /// The last trade.
    Trade,
    /// The best bid/offer.
    Book,
    /// The ticker's window statistics.
    Ticker,
}

impl Part {
    /// Every part.
    pub const ALL: [Part; 3] = [Self::Trade, Self::Book, Self::Ticker];

    /// Its name, the prefix of its version field (`trade` → `trade_ver`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Trade => "trade",
            Self::Book => "book",
            Self::Ticker => "ticker",
        }
    }

    /// The part that orders ticks of `kind` against each other (the one each kind is about).
    pub const fn ordering(kind: EventKind) -> Part {
        match kind {
            EventKind::Trade => Self::Trade,
            EventKind::BestBidOffer => Self::Book,
            EventKind::Ticker => Self::Ticker,
        }
    }

    /// The fields it owns (besides `<name>_ver`).
    pub const fn fields(self) -> &'static [&'static str] {
        match self {
            Self::Trade => &TRADE_FIELDS,
            Self::Book => &BOOK_FIELDS,
            Self::Ticker => &TICKER_FIELDS,
        }
    }
}

/// Fields of the trade part.
pub const TRADE_FIELDS: [&str; 6] = [
    "last_price",
    "last_qty",
    "trade_side",
    "trade_ts_us",
    "trade_id",
    "trade_received_ts_us",
];
/// Fields of the book part.
pub const BOOK_FIELDS: [&str; 7] = [
    "bid_price",
    "bid_qty",
    "ask_price",
    "ask_qty",
    "book_ts_us",
    "book_update_id",
    "book_received_ts_us",
];
/// Fields of the ticker part.
pub const TICKER_FIELDS: [&str; 14] = [
    "open_price",
    "high_price",
    "low_price",
    "prev_close_price",
    "change",
    "change_rate",
    "volume_24h_base",
    "volume_24h_quote",
    "event_ts_us",
    "seq",
    "stream_type",
    "market_state",
    "delisting_date",
    "ticker_received_ts_us",
];
/// Fields written with any part.
pub const COMMON_FIELDS: [&str; 8] = [
    "contract_version",
    "exchange",
    "instrument",
    "native_symbol",
    "kind",
    "received_ts_us",
    "updated_ts_us",
    "simulated",
];

/// The parts a tick writes: a trade its trade, a best bid/offer its book, a ticker its last
/// price (trade), its statistics (ticker) and its quotes where it has any (book).
pub fn parts(tick: &Tick) -> &'static [Part] {
    match tick.kind {
        EventKind::Trade => &[Part::Trade],
        EventKind::BestBidOffer => &[Part::Book],
        EventKind::Ticker if tick.bid_price.is_some() || tick.ask_price.is_some() => {
            &[Part::Trade, Part::Book, Part::Ticker]
        }
        EventKind::Ticker => &[Part::Trade, Part::Ticker],
    }
}

fn capped(tick: &Tick, at: Option<i64>) -> i64 {
    at.unwrap_or(tick.received_ts_us)
        .min(tick.received_ts_us.saturating_add(FUTURE_ORDERING_US))
}

/// The ordering of `tick` within `part` (see the module docs); a missing id is the smallest.
pub fn part_order(tick: &Tick, part: Part) -> (i64, i64, i64) {
    let (time, id) = match (part, tick.kind) {
        (Part::Trade, _) => (tick.trade_ts_us.or(tick.event_ts_us), tick.sequence),
        (Part::Book, EventKind::BestBidOffer) => (tick.event_ts_us, tick.sequence),
        // A ticker's quotes count as of their arrival, and its sequence is a trade id.
        (Part::Book, _) => (None, None),
        (Part::Ticker, _) => (tick.event_ts_us.or(tick.trade_ts_us), tick.sequence),
    };
    (
        capped(tick, time),
        id.unwrap_or(i64::MIN),
        tick.received_ts_us,
    )
}

/// The ordering version stored in Redis: [`part_order`] as one fixed-width string of digits
/// that sorts like the tuple, so the Lua script compares exactly with a string comparison
/// (Lua numbers are doubles; ids exceed 2^53).
pub fn version(tick: &Tick, part: Part) -> String {
    let (event, sequence, received) = part_order(tick, part);
    let mut v = String::with_capacity(60);
    push_sortable(&mut v, event);
    push_sortable(&mut v, sequence);
    push_sortable(&mut v, received);
    v
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(String::new, |v| v.to_string())
}

/// The values of `part`'s fields for `tick`, in [`Part::fields`] order; `""` is absent (the
/// compare-and-set removes such a field when the part applies).
pub fn part_values(tick: &Tick, part: Part) -> Vec<String> {
    let received = tick.received_ts_us.to_string();
    match part {
        Part::Trade => vec![
            tick.last_price.to_string(),
            opt(tick.last_qty),
            opt(tick.trade_side.map(|s| s.as_str())),
            opt(tick.trade_ts_us),
            opt(tick.sequence),
            received,
        ],
        Part::Book => {
            // Only a best bid/offer's sequence is a book update id, and only its event time
            // is the book's.
            let own = tick.kind == EventKind::BestBidOffer;
            vec![
                opt(tick.bid_price),
                opt(tick.bid_qty),
                opt(tick.ask_price),
                opt(tick.ask_qty),
                opt(tick.event_ts_us.filter(|_| own)),
                opt(tick.sequence.filter(|_| own)),
                received,
            ]
        }
        Part::Ticker => vec![
            opt(tick.open_price),
            opt(tick.high_price),
            opt(tick.low_price),
            opt(tick.prev_close_price),
            opt(tick.change),
            opt(tick.change_rate),
            opt(tick.volume_24h_base),
            opt(tick.volume_24h_quote),
            opt(tick.event_ts_us),
            opt(tick.sequence),
            opt(tick.stream_type.map(|t| t.as_str())),
            opt(tick.market_state.map(|m| m.as_str())),
            opt(tick
                .delisting_date
                .map(crate::model::time::format_date_days)),
            received,
        ],
    }
}

/// The common fields' values, in [`COMMON_FIELDS`] order.
pub fn common_values(tick: &Tick, updated_ts_us: i64) -> Vec<String> {
    vec![
        CONTRACT_VERSION.to_owned(),
        tick.exchange.as_str().to_owned(),
        tick.instrument.to_string(),
        tick.native_symbol.to_string(),
        tick.kind.as_str().to_owned(),
        tick.received_ts_us.to_string(),
        updated_ts_us.to_string(),
        if tick.simulated { "true" } else { "" }.to_owned(),
    ]
}

/// One compare-and-set: the common fields and each part with its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    /// [`COMMON_FIELDS`] values.
    pub common: Vec<String>,
    /// (part, version, values in [`Part::fields`] order).
    pub parts: Vec<(Part, String, Vec<String>)>,
}

impl Update {
    /// The update `tick` makes, written at `updated_ts_us`.
    pub fn of(tick: &Tick, updated_ts_us: i64) -> Self {
        Self {
            common: common_values(tick, updated_ts_us),
            parts: parts(tick)
                .iter()
                .map(|&p| (p, version(tick, p), part_values(tick, p)))
                .collect(),
        }
    }
}

/// A JSON fragment `"k":"v",...` of the present (non-empty) values: the pieces of the PUBLISH
/// payload, which the script joins for the parts that applied.
pub fn json_fragment(names: &[&str], values: &[String]) -> String {
    let mut out = String::with_capacity(256);
    for (k, v) in names.iter().zip(values).filter(|(_, v)| !v.is_empty()) {
        if !out.is_empty() {
            out.push(',');
        }
        // Keys are fixed identifiers; values are digits, symbols and upper-case names, but
        // escape anyway so the payload is always valid JSON.
        let _ = write!(out, "\"{k}\":{}", serde_json::Value::String(v.clone()));
    }
    out
}

/// The PUBLISH fragment of an applied part: its present values and its version
/// (`"trade_ver":"..."`), so a subscriber holding a hash it read can tell whether an update is
/// newer than what it read, part by part, as the compare-and-set does (the subscribe-then-read
/// race: docs/consumers.md).
pub fn part_fragment(part: Part, ver: &str, values: &[String]) -> String {
    let mut out = json_fragment(part.fields(), values);
    let comma = if out.is_empty() { "" } else { "," };
    let _ = write!(
        out,
        "{comma}\"{}_ver\":{}",
        part.name(),
        serde_json::Value::from(ver)
    );
    out
}

/// A signed 64-bit value as 20 digits that sort like the numbers (offset by 2^63).
#[cfg(test)]
fn sortable(v: i64) -> String {
    let mut s = String::new();
    push_sortable(&mut s, v);
    s
}

fn push_sortable(out: &mut String, v: i64) {
    let _ = write!(out, "{:020}", (v as u64) ^ (1 << 63));
}

/// How far ahead of its receive time a tick's event time counts for ordering. Validation
/// admits ticks dated up to a minute ahead (exchange clocks drift); ordering by such a date
/// would let one skewed tick hold its key against the live feed for that minute. Capped, a
/// tick dated ahead orders as if stamped `received + FUTURE_ORDERING_US`, and the next tick
/// received after that supersedes it.
pub const FUTURE_ORDERING_US: i64 = 1_000_000;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Instrument, TradeSide};

    #[test]
    fn keys_follow_the_contract() {
        assert_eq!(
            price_key("px", "BTC-KRW", Exchange::Upbit),
            "px:{BTC-KRW}:UPBIT"
        );
        assert_eq!(index_key("px", Exchange::Binance), "px:index:BINANCE");
        assert_eq!(live_key("px", Exchange::Upbit), "px:live:UPBIT");
        assert_eq!(
            reference_key("px", "BTC-KRW", Exchange::Upbit),
            "px:ref:{BTC-KRW}:UPBIT"
        );
    }

    #[test]
    fn versions_sort_like_the_numbers() {
        let cases = [
            i64::MIN,
            -5,
            -1,
            0,
            1,
            9,
            10,
            1 << 53,
            (1 << 53) + 1,
            i64::MAX,
        ];
        for w in cases.windows(2) {
            assert!(sortable(w[0]) < sortable(w[1]), "{} vs {}", w[0], w[1]);
            assert_eq!(sortable(w[0]).len(), 20);
        }
    }

    fn tick(kind: EventKind) -> Tick {
        Tick::new(
            Exchange::Upbit,
            Instrument::new("BTC", "KRW").unwrap(),
            "KRW-BTC",
            kind,
            1.into(),
            10,
        )
    }

    #[test]
    fn each_part_orders_on_its_own_clock_and_id() {
        let mut a = tick(EventKind::Trade);
        a.trade_ts_us = Some(1_000);
        a.event_ts_us = Some(5);
        a.sequence = Some(17_000_000_000_000_001);
        let mut b = a.clone();
        b.sequence = Some(17_000_000_000_000_002); // above 2^53, one apart
        assert!(version(&a, Part::Trade) < version(&b, Part::Trade));
        let mut c = b.clone();
        c.trade_ts_us = Some(999);
        assert!(
            version(&c, Part::Trade) < version(&a, Part::Trade),
            "trade time first"
        );
        let mut d = a.clone();
        d.received_ts_us = 11;
        assert!(version(&a, Part::Trade) < version(&d, Part::Trade));
        // A best bid/offer without an exchange time orders by arrival, then update id.
        let mut e = tick(EventKind::BestBidOffer);
        e.sequence = Some(7);
        let mut f = e.clone();
        f.received_ts_us = 12;
        f.sequence = Some(3);
        assert!(version(&e, Part::Book) < version(&f, Part::Book));
        // A ticker's quotes count as of their arrival, whatever its event time says.
        let mut t = tick(EventKind::Ticker);
        t.event_ts_us = Some(1 << 40);
        t.bid_price = Some(1.into());
        assert_eq!(part_order(&t, Part::Book), (10, i64::MIN, 10));
        assert_eq!(
            part_order(&t, Part::Ticker).0,
            10 + FUTURE_ORDERING_US,
            "capped"
        );
        // The tuple Rust coalesces with orders exactly like the string Redis compares.
        let all = [&a, &b, &c, &d, &e, &f, &t];
        for part in Part::ALL {
            for x in all {
                for y in all {
                    assert_eq!(
                        part_order(x, part).cmp(&part_order(y, part)),
                        version(x, part).cmp(&version(y, part))
                    );
                }
            }
        }
    }

    #[test]
    fn kinds_write_their_parts_with_every_field_named() {
        assert_eq!(parts(&tick(EventKind::Trade)), [Part::Trade]);
        assert_eq!(parts(&tick(EventKind::BestBidOffer)), [Part::Book]);
        let mut t = tick(EventKind::Ticker);
        assert_eq!(parts(&t), [Part::Trade, Part::Ticker]);
        t.ask_price = Some(2.into());
        t.sequence = Some(42);
        t.trade_side = Some(TradeSide::Sell);
        assert_eq!(parts(&t), [Part::Trade, Part::Book, Part::Ticker]);
        let u = Update::of(&t, 99);
        assert_eq!(u.common.len(), COMMON_FIELDS.len());
        assert_eq!(u.common[0], "3");
        assert_eq!(u.common[7], "", "not simulated: no field");
        for (part, _, values) in &u.parts {
            assert_eq!(values.len(), part.fields().len(), "{part:?}");
        }
        let trade = &u.parts[0].2;
        assert_eq!((trade[2].as_str(), trade[4].as_str()), ("SELL", "42"));
        // The ticker's sequence is a trade id, not a book update id.
        let book = &u.parts[1].2;
        assert_eq!((book[2].as_str(), book[5].as_str()), ("2", ""));
        // No field belongs to two parts, or to a part and the common ones.
        let mut all: Vec<&str> = COMMON_FIELDS.to_vec();
        for part in Part::ALL {
            all.extend(part.fields());
            all.push(match part {
                Part::Trade => "trade_ver",
                Part::Book => "book_ver",
                Part::Ticker => "ticker_ver",
            });
        }
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n);
        assert_eq!(
            json_fragment(
                &["a", "b", "c"],
                &["1".into(), String::new(), "x\"y".into()]
            ),
            "\"a\":\"1\",\"c\":\"x\\\"y\""
        );
        let fragment = part_fragment(Part::Trade, "0042", &u.parts[0].2);
        let parsed: serde_json::Value =
            serde_json::from_str(&format!("{{{fragment}}}")).expect("valid JSON");
        assert_eq!(parsed["trade_ver"], "0042");
        assert_eq!(parsed["trade_side"], "SELL");
    }
}
