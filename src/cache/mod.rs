//! The Redis last-price cache: the contract ([`contract`]), the compare-and-set writer
//! ([`store`]), per-batch coalescing ([`newest_per_key`]) and the consumer ([`consume`]).

pub mod consume;
pub mod contract;
pub mod store;

pub use store::{Applied, RedisConnection, Store, connect};

use crate::model::Tick;
use std::collections::HashMap;

/// Keeps only the newest tick (by [`contract::version`]) of each exchange and instrument, in
/// first-seen order. Redis takes ~100k scripted writes/s per connection; the gatherer makes
/// far more ticks than that, most of them superseded within one batch.
pub fn newest_per_key<'a>(ticks: impl IntoIterator<Item = &'a Tick>) -> Vec<&'a Tick> {
    let mut slot: HashMap<(crate::model::Exchange, &str), usize> = HashMap::new();
    let mut out: Vec<(&Tick, String)> = Vec::new();
    for tick in ticks {
        let v = contract::version(tick);
        match slot.get(&(tick.exchange, tick.instrument.as_str())) {
            Some(&i) => {
                if v > out[i].1 {
                    out[i] = (tick, v);
                }
            }
            None => {
                slot.insert((tick.exchange, tick.instrument.as_str()), out.len());
                out.push((tick, v));
            }
        }
    }
    out.into_iter().map(|(t, _)| t).collect()
}
