//! The Redis last-price cache: the contract ([`contract`]), the compare-and-set writer
//! ([`store`]), coalescing ([`batch`]), the consumer ([`consume`]) and its writer stage
//! (`writer`: Redis, then the DLQ, then the offsets); the instrument reference's reader and
//! writer ([`reference`]: live sets, reference hashes, delisting marks).

pub mod batch;
pub mod consume;
pub mod contract;
pub mod reference;
pub mod stats;
pub mod store;
mod writer;

pub use store::{Applied, RedisConnection, Store, connect};
