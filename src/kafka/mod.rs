//! Kafka side of the gatherer: the producer with tickflow's fixed settings and delivery
//! accounting ([`producer`]), the DLQ record ([`dlq`]), and topic creation ([`admin`]).

pub mod admin;
pub mod dlq;
pub mod producer;

pub use admin::ensure_topics;
pub use dlq::DeadLetter;
pub use producer::{ProduceError, ProducerStats, TickProducer, producer_properties};
