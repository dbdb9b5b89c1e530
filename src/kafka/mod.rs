//! Kafka: the contract ([`contract`]: topics, keys, header names, the dead-letter header
//! builder, fixed settings and each client role's configuration), the producer with its
//! delivery accounting ([`producer`]), why a message is a dead letter ([`dlq`]), and topic
//! creation ([`admin`]).

pub mod admin;
pub mod contract;
pub mod dlq;
pub mod producer;

pub use admin::ensure_topics;
pub use contract::producer_properties;
pub use dlq::DeadLetter;
pub use producer::{Lost, ProduceError, ProducerStats, TickProducer, Ticket};

/// Forwards a librdkafka log line to tracing: every line when `verbose` (the `debug` property is
/// set), otherwise only severe ones (errors arrive through the contexts' `error` with context).
pub fn librdkafka_log(
    verbose: bool,
    level: rdkafka::config::RDKafkaLogLevel,
    fac: &str,
    message: &str,
) {
    use rdkafka::config::RDKafkaLogLevel as L;
    if !verbose && (level as i32) > (L::Critical as i32) {
        return;
    }
    // librdkafka's syslog levels on tracing's, under target `librdkafka`
    // (`TICKFLOW_LOG=info,librdkafka=debug`).
    match level {
        L::Emerg | L::Alert | L::Critical | L::Error => {
            tracing::error!(target: "librdkafka", facility = fac, "librdkafka: {message}");
        }
        L::Warning => tracing::warn!(target: "librdkafka", facility = fac, "librdkafka: {message}"),
        L::Notice | L::Info => {
            tracing::info!(target: "librdkafka", facility = fac, "librdkafka: {message}");
        }
        L::Debug => tracing::debug!(target: "librdkafka", facility = fac, "librdkafka: {message}"),
    }
}

/// True when every `host:port` of a bootstrap list is on loopback.
pub fn loopback_only(bootstrap: &str) -> bool {
    bootstrap.split(',').map(str::trim).all(|server| {
        let server = server.rsplit_once("://").map_or(server, |(_, s)| s);
        let host = match server.rsplit_once(':') {
            Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
            _ => server,
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }) && !bootstrap.trim().is_empty()
}
