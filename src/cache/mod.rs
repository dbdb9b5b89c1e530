//! The Redis last-price cache: the contract ([`contract`]), the compare-and-set writer
//! ([`store`]), coalescing ([`batch`]) and the consumer ([`consume`]).

pub mod batch;
pub mod consume;
pub mod contract;
pub mod stats;
pub mod store;

pub use store::{Applied, RedisConnection, Store, connect};
