//! The instrument reference as gather learns it: after every accepted listing, a connector
//! following whole markets hands over what it follows now and what it stopped following
//! ([`ReferenceUpdate`]); the publisher turns that into the compacted instruments topic.

use super::select::{Selector, Shard};
use crate::model::listing::{Listed, Listing};
use crate::model::{Exchange, Instrument};
use std::collections::{HashMap, HashSet};

/// One accepted listing of one connector, as followed.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceUpdate {
    /// The connector.
    pub connector: String,
    /// Its venue.
    pub exchange: Exchange,
    /// Every instrument followed now (this process's shard), with its latest record:
    /// `first_seen_us` is when this process first saw it listed, `last_seen_us` this listing's
    /// fetch time.
    pub live: Vec<Listed>,
    /// Instruments followed before this listing and not now, with their latest record (its
    /// status says why where the venue still lists them: `break`, `halted`; absent from the
    /// listing: the record as last seen).
    pub gone: Vec<Listed>,
    /// The first update of the run (every followed instrument; `gone` empty).
    pub first: bool,
    /// On the first update: what the publisher needs to retract the instruments the topic
    /// still says are live from an earlier run and this connector no longer follows.
    pub retract: Option<Retract>,
}

/// A connector's scope on the topic, handed over with its run's first update: the publisher
/// retracts (a `DELISTED` record) every instrument whose newest record is `LIVE`, of this
/// venue, owned by `shard`, taken by `selector` by the status and notices it records, and not
/// followed now: an instrument this connector would have published and no longer follows.
#[derive(Debug, Clone, PartialEq)]
pub struct Retract {
    /// The connector's selector.
    pub selector: Selector,
    /// This process's shard.
    pub shard: Shard,
    /// Every record of the listing (a retracted instrument still listed is stated with its
    /// status now).
    pub listed: Vec<Listed>,
}

/// First-seen times of the instruments a connector has seen listed in this run.
#[derive(Debug, Default)]
pub struct Seen {
    first_seen_us: HashMap<Instrument, i64>,
    last: HashMap<Instrument, Listed>,
}

impl Seen {
    /// The update for `listing` of which `chosen` are followed (`first` for the run's
    /// first), remembering first-seen times and the last record of each.
    pub fn update(
        &mut self,
        connector: &str,
        exchange: Exchange,
        listing: &Listing,
        chosen: &[Instrument],
        first: bool,
    ) -> ReferenceUpdate {
        let records: HashMap<&Instrument, &Listed> =
            listing.records.iter().map(|r| (&r.instrument, r)).collect();
        let live: Vec<Listed> = chosen
            .iter()
            .filter_map(|i| records.get(i))
            .map(|r| {
                let mut r = (*r).clone();
                r.first_seen_us = *self
                    .first_seen_us
                    .entry(r.instrument.clone())
                    .or_insert(r.first_seen_us);
                r
            })
            .collect();
        let now: HashSet<&Instrument> = chosen.iter().collect();
        let mut gone: Vec<Listed> = self
            .last
            .iter()
            .filter(|(i, _)| !now.contains(i))
            .map(|(i, last)| match records.get(i) {
                // Still listed (Binance keeps delisted pairs as `break`): its record now.
                Some(r) => {
                    let mut r = (*r).clone();
                    r.first_seen_us = last.first_seen_us;
                    r
                }
                None => last.clone(),
            })
            .collect();
        gone.sort_by(|a, b| a.instrument.cmp(&b.instrument));
        self.last = live
            .iter()
            .map(|r| (r.instrument.clone(), r.clone()))
            .collect();
        ReferenceUpdate {
            connector: connector.to_owned(),
            exchange,
            live,
            gone,
            first,
            retract: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::listing::ListingStatus;

    fn listing(rows: &[(&str, ListingStatus)], at: i64) -> Listing {
        let mut l = Listing::default();
        for (i, status) in rows {
            l.push(Listed {
                exchange: Exchange::Binance,
                instrument: Instrument::parse(i).unwrap(),
                native_symbol: i.replace('-', ""),
                status: *status,
                tick_size: None,
                lot_size: None,
                notices: vec![],
                first_seen_us: at,
                last_seen_us: at,
            });
        }
        l
    }

    fn ins(list: &[&str]) -> Vec<Instrument> {
        list.iter().map(|s| Instrument::parse(s).unwrap()).collect()
    }

    #[test]
    fn first_seen_is_kept_and_gone_ones_carry_their_current_record() {
        use ListingStatus::*;
        let mut seen = Seen::default();
        let l1 = listing(&[("BTC-USDT", Trading), ("ETH-USDT", Trading)], 100);
        let u = seen.update(
            "b",
            Exchange::Binance,
            &l1,
            &ins(&["BTC-USDT", "ETH-USDT"]),
            true,
        );
        assert!(u.first && u.gone.is_empty());
        assert_eq!(u.live.len(), 2);
        // ETH breaks (still listed), SOL is new.
        let l2 = listing(
            &[
                ("BTC-USDT", Trading),
                ("ETH-USDT", Break),
                ("SOL-USDT", Trading),
            ],
            200,
        );
        let u = seen.update(
            "b",
            Exchange::Binance,
            &l2,
            &ins(&["BTC-USDT", "SOL-USDT"]),
            false,
        );
        let first: Vec<(String, i64, i64)> = u
            .live
            .iter()
            .map(|r| (r.instrument.to_string(), r.first_seen_us, r.last_seen_us))
            .collect();
        assert_eq!(
            first,
            [("BTC-USDT".into(), 100, 200), ("SOL-USDT".into(), 200, 200)]
        );
        assert_eq!(u.gone.len(), 1);
        assert_eq!(u.gone[0].status, Break);
        assert_eq!(
            (u.gone[0].first_seen_us, u.gone[0].last_seen_us),
            (100, 200)
        );
        // Gone from the listing altogether: the last record it had.
        let l3 = listing(&[("BTC-USDT", Trading)], 300);
        let u = seen.update("b", Exchange::Binance, &l3, &ins(&["BTC-USDT"]), false);
        assert_eq!(u.gone.len(), 1);
        assert_eq!(u.gone[0].instrument.as_str(), "SOL-USDT");
        assert_eq!(u.gone[0].last_seen_us, 200);
    }
}
