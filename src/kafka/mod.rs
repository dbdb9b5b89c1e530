//! Kafka side of the gatherer: the producer with tickflow's fixed settings and delivery
//! accounting ([`producer`]), the DLQ record ([`dlq`]), and topic creation ([`admin`]).

pub mod admin;
pub mod dlq;
pub mod producer;

pub use admin::ensure_topics;
pub use dlq::DeadLetter;
pub use producer::{ProduceError, ProducerStats, TickProducer, producer_properties};

/// Forwards a librdkafka log line to tracing: every line when `verbose` (the `debug` property is
/// set), otherwise only severe ones (errors arrive through the contexts' `error` with context).
pub fn librdkafka_log(
    verbose: bool,
    level: rdkafka::config::RDKafkaLogLevel,
    fac: &str,
    message: &str,
) {
    if verbose || (level as i32) <= (rdkafka::config::RDKafkaLogLevel::Critical as i32) {
        tracing::warn!(facility = fac, "librdkafka: {message}");
    }
}
