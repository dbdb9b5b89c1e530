//! The Redis last-price cache: the contract ([`contract`]), the compare-and-set writer
//! ([`store`]), coalescing ([`batch`]), the consumer ([`consume`]: the polling thread), its
//! group member (`group`: librdkafka context, settings, commit), the hand-off between the
//! polling thread and the writer (`handoff`: the state both share) and the writer stage
//! (`writer`: Redis, then the DLQ, then the offsets); the instrument reference's reader and
//! writer ([`reference`]: live sets, reference hashes, delisting marks); the feed status's
//! ([`status`]: `px:feed:*`).

pub mod batch;
pub mod consume;
pub mod contract;
mod group;
mod handoff;
pub mod reference;
pub mod stats;
pub mod status;
pub mod store;
mod whole_topic;
mod writer;

pub use store::{Applied, RedisConnection, Store, connect};
