//! Feed status in Redis (issue 20; added to contract 2, whose readers may ignore it; unchanged
//! in contract 3, whose other time fields now say their unit as these always did): the
//! keys, fields and ordering the cache's status reader writes from `feed.status.v1`
//! ([`FeedStatus`] records), and the rules that turn a record into the state a reader sees.
//!
//! - Hash `px:feed:EXCHANGE` ([`feed_key`]): one venue. Per connection `<connector>#<n>`
//!   ([`connection_name`]): `<c>:state` ([`ConnectionState`]), `<c>:since_ts_us`, `<c>:reason`,
//!   `<c>:ts_us` and `<c>:ver`; and the venue's `state`, the worst of its connections' states
//!   (`live` < `refused` < `connecting` < `stale` < `down`), with `ts_us` (the newest record
//!   applied) and `updated_ts_us`: one `HGET px:feed:BINANCE state` answers "is this venue's
//!   feed healthy".
//! - Hash `px:feed:{BASE-QUOTE}:EXCHANGE` ([`feed_instrument_key`], the hash tag of
//!   `px:{BASE-QUOTE}:EXCHANGE`, so price and feed status are read in one pipeline on one
//!   cluster node): [`FEED_INSTRUMENT_FIELDS`]; `state` is [`InstrumentFeed`].
//! - Ordering: each hash (and each connection in the venue hash) keeps the version of the
//!   newest record applied, [`status_version`]: its `ts_us`, then the record's place in a
//!   connection's life (`UP` < `SUBSCRIBED` < `REFUSED` < `STALE` < `DOWN` < `RECOVERED`) for
//!   two records of one microsecond. A record applies only when its version is greater, so a
//!   replay, every cache replica writing every record, or records read in another order leave
//!   the newest state.
//! - Times are UTC epoch µs and say so in their names (`_ts_us`), as in the Kafka record.

use super::CONTRACT_VERSION;
use crate::model::Exchange;
use crate::model::status::{FeedState, FeedStatus};
use std::fmt::Write as _;

/// `PREFIX:feed:EXCHANGE`: a venue's feed status.
pub fn feed_key(prefix: &str, exchange: Exchange) -> String {
    format!("{prefix}:feed:{}", exchange.as_str())
}

/// `PREFIX:feed:{INSTRUMENT}:EXCHANGE`: an instrument's feed status (same hash tag as its
/// price hash).
pub fn feed_instrument_key(prefix: &str, instrument: &str, exchange: Exchange) -> String {
    format!("{prefix}:feed:{{{instrument}}}:{}", exchange.as_str())
}

/// A connection's name in the venue hash: `<connector>#<n>` (`binance#0`).
pub fn connection_name(connector: &str, connection: u32) -> String {
    format!("{connector}#{connection}")
}

/// What a reader sees of one instrument's feed (`state` of `px:feed:{I}:E`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum InstrumentFeed {
    /// Subscribed (`SUBSCRIBED`), or data flows again (`RECOVERED`): prices are current.
    Live,
    /// The venue refused the subscription (`reason`: its words); no price comes.
    Refused,
    /// No data for the connector's idle window (`since_ts_us`: the last data).
    Stale,
    /// The session ended (`reason`); no data since `since_ts_us` until `live` again.
    Down,
}

impl InstrumentFeed {
    /// Every state, healthiest first.
    pub const ALL: [InstrumentFeed; 4] = [Self::Live, Self::Refused, Self::Stale, Self::Down];

    /// The value of `state`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Live => "live",
            Self::Refused => "refused",
            Self::Stale => "stale",
            Self::Down => "down",
        }
    }

    /// The state a value of `state` names.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// The state `record` sets on the instruments it names, before the one rule that depends on
    /// what Redis holds (a `STALE`/`DOWN` of the connection that holds an instrument `refused`
    /// leaves it `refused`: it was not flowing, and the refusal says why). `UP` names none.
    pub const fn of(record: FeedState) -> Option<Self> {
        match record {
            FeedState::Up => None,
            FeedState::Subscribed | FeedState::Recovered => Some(Self::Live),
            FeedState::Refused => Some(Self::Refused),
            FeedState::Stale => Some(Self::Stale),
            FeedState::Down => Some(Self::Down),
        }
    }
}

/// What a reader sees of one connection (`<c>:state` of `px:feed:EXCHANGE`), in order of
/// severity: the venue's `state` is the greatest of its connections'.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ConnectionState {
    /// Subscribed, or recovered: data flows.
    Live,
    /// Its newest record was a refusal: some of its instruments are refused (their hashes say
    /// which); the rest flow.
    Refused,
    /// Its socket is open after a failure, not subscribed yet (`UP`; a renewal of a live
    /// connection stays `live`).
    Connecting,
    /// No data for the idle window.
    Stale,
    /// The session ended; reconnecting.
    Down,
}

impl ConnectionState {
    /// Every state, healthiest first.
    pub const ALL: [ConnectionState; 5] = [
        Self::Live,
        Self::Refused,
        Self::Connecting,
        Self::Stale,
        Self::Down,
    ];

    /// The value of `<c>:state` and of the venue's `state`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Live => "live",
            Self::Refused => "refused",
            Self::Connecting => "connecting",
            Self::Stale => "stale",
            Self::Down => "down",
        }
    }

    /// The state a value names.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// The state `record` sets on its connection (an `UP` of a `live` or `refused` connection,
    /// a make-before-break renewal, leaves it as it is).
    pub const fn of(record: FeedState) -> Self {
        match record {
            FeedState::Up => Self::Connecting,
            FeedState::Subscribed | FeedState::Recovered => Self::Live,
            FeedState::Refused => Self::Refused,
            FeedState::Stale => Self::Stale,
            FeedState::Down => Self::Down,
        }
    }
}

/// Fields of `px:feed:{I}:E`, in the order of [`instrument_values`] (`""` is absent). Besides
/// them, `state` (an [`InstrumentFeed`]), `since_ts_us` (since when in that state: for `live`
/// the subscription or the first data after the gap, for `stale`/`down` the last data, for
/// `refused` the refusal) and `reason` (`stale`, `down`: why; `refused`: the venue's words;
/// absent when `live`) are set by the script, as the state in effect, and `ver` (the ordering).
/// `gap_start_ts_us`/`gap_end_ts_us` are the last gap a `RECOVERED` stated (kept until the next
/// one); `ts_us` the newest record's time; `connector`, `connection` the connection it came
/// from (the index within the connector).
pub const FEED_INSTRUMENT_FIELDS: [&str; 10] = [
    "contract_version",
    "exchange",
    "instrument",
    "connector",
    "connection",
    "ts_us",
    "gap_start_ts_us",
    "gap_end_ts_us",
    "updated_ts_us",
    "simulated",
];

/// The ordering version of `record`: its `ts_us` as 20 sortable digits, then its state's
/// place in a connection's life (one digit).
pub fn status_version(record: &FeedStatus) -> String {
    let mut v = String::with_capacity(21);
    let _ = write!(v, "{:020}", (record.ts_us as u64) ^ (1 << 63));
    let rank = FeedState::ALL
        .iter()
        .position(|s| *s == record.state)
        .unwrap_or(0);
    let _ = write!(v, "{rank}");
    v
}

/// Since when the state `record` sets holds: the last data for `STALE`/`DOWN`, the first data
/// after the gap for `RECOVERED`, else the record's time.
pub fn since_ts_us(record: &FeedStatus) -> i64 {
    match record.state {
        FeedState::Stale | FeedState::Down => record.gap_start_us.unwrap_or(record.ts_us),
        FeedState::Recovered => record.gap_end_us.unwrap_or(record.ts_us),
        _ => record.ts_us,
    }
}

/// The values of [`FEED_INSTRUMENT_FIELDS`] for `record` on `instrument`, written at
/// `updated_ts_us`. The gap is `RECOVERED`'s only (another record leaves the last one).
pub fn instrument_values(
    record: &FeedStatus,
    instrument: &str,
    updated_ts_us: i64,
    simulated: bool,
) -> Vec<String> {
    let recovered = record.state == FeedState::Recovered;
    let gap = |t: Option<i64>| {
        t.filter(|_| recovered)
            .map_or_else(String::new, |t| t.to_string())
    };
    vec![
        CONTRACT_VERSION.to_owned(),
        record.exchange.as_str().to_owned(),
        instrument.to_owned(),
        record.connector.clone(),
        record.connection.to_string(),
        record.ts_us.to_string(),
        gap(record.gap_start_us),
        gap(record.gap_end_us),
        updated_ts_us.to_string(),
        if simulated { "true" } else { "" }.to_owned(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Instrument;

    fn record(state: FeedState, ts_us: i64) -> FeedStatus {
        FeedStatus {
            exchange: Exchange::Binance,
            connector: "binance".into(),
            connection: 0,
            state,
            ts_us,
            reason: None,
            instruments: vec![Instrument::new("BTC", "USDT").unwrap()],
            gap_start_us: Some(10),
            gap_end_us: Some(20),
        }
    }

    #[test]
    fn keys_share_the_price_hash_tag() {
        assert_eq!(feed_key("px", Exchange::Binance), "px:feed:BINANCE");
        assert_eq!(
            feed_instrument_key("px", "BTC-USDT", Exchange::Binance),
            "px:feed:{BTC-USDT}:BINANCE"
        );
        assert_eq!(connection_name("binance", 2), "binance#2");
        let tag = |k: &str| k[k.find('{').unwrap()..=k.find('}').unwrap()].to_owned();
        assert_eq!(
            tag(&feed_instrument_key("px", "BTC-USDT", Exchange::Binance)),
            tag(&super::super::price_key(
                "px",
                "BTC-USDT",
                Exchange::Binance
            ))
        );
    }

    #[test]
    fn versions_order_by_time_then_by_a_connections_life() {
        let v = |s, t| status_version(&record(s, t));
        assert!(v(FeedState::Recovered, 99) < v(FeedState::Up, 100));
        assert!(v(FeedState::Subscribed, 100) < v(FeedState::Refused, 100));
        assert!(v(FeedState::Stale, 100) < v(FeedState::Down, 100));
        assert!(v(FeedState::Down, -1) < v(FeedState::Up, 0));
        assert_eq!(v(FeedState::Down, 5).len(), 21);
    }

    #[test]
    fn states_and_since_follow_the_record() {
        assert_eq!(InstrumentFeed::of(FeedState::Up), None);
        assert_eq!(
            InstrumentFeed::of(FeedState::Subscribed),
            Some(InstrumentFeed::Live)
        );
        assert_eq!(
            InstrumentFeed::of(FeedState::Recovered),
            Some(InstrumentFeed::Live)
        );
        assert!(ConnectionState::Live < ConnectionState::Refused);
        assert!(ConnectionState::Stale < ConnectionState::Down);
        for s in ConnectionState::ALL {
            assert_eq!(ConnectionState::parse(s.as_str()), Some(s));
        }
        for s in InstrumentFeed::ALL {
            assert_eq!(InstrumentFeed::parse(s.as_str()), Some(s));
        }
        assert_eq!(since_ts_us(&record(FeedState::Down, 50)), 10);
        assert_eq!(since_ts_us(&record(FeedState::Recovered, 50)), 20);
        assert_eq!(since_ts_us(&record(FeedState::Refused, 50)), 50);
        let values = instrument_values(&record(FeedState::Down, 50), "BTC-USDT", 60, false);
        assert_eq!(values.len(), FEED_INSTRUMENT_FIELDS.len());
        assert_eq!((values[6].as_str(), values[7].as_str()), ("", ""));
        let values = instrument_values(&record(FeedState::Recovered, 50), "BTC-USDT", 60, true);
        assert_eq!((values[6].as_str(), values[7].as_str()), ("10", "20"));
        assert_eq!(values[9], "true");
    }
}
