//! The feed status publisher: every connection's [`FeedStatus`] records (up, subscribed,
//! refused, stale, down, recovered with the gap) onto the status topic, Confluent-framed under
//! their registered schema, keyed `EXCHANGE:connector`. Its own producer (counting into the
//! shared statistics) on a thread of its own; it ends when the last connection has stopped
//! (every sender gone), then drains, within the shutdown deadline like the rest.

use crate::codec::{Format, status};
use crate::kafka::TickProducer;
use crate::model::status::FeedStatus;
use std::sync::atomic::Ordering;
use tokio::sync::mpsc;

/// Status records waiting for the producer, at most: a handful per connection event, so this
/// fills only while Kafka refuses everything (then the producer's own queue is full too);
/// records beyond it are counted as lost by the connection that made them.
pub const QUEUE_RECORDS: usize = 4096;

/// Where status records go.
#[derive(Debug)]
pub struct StatusSink {
    /// The producer.
    pub producer: TickProducer,
    /// `[topics] status`.
    pub topic: String,
    /// `[output] format`.
    pub format: Format,
    /// The status schema's registered id.
    pub schema_id: u32,
}

/// Publishes what arrives on `rx` until every sender is gone, then waits for what is in
/// flight (purged at the shutdown deadline, counted as abandoned).
pub fn spawn(
    sink: StatusSink,
    mut rx: mpsc::Receiver<FeedStatus>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("tickflow-status".into())
        .spawn(move || {
            let mut value = Vec::with_capacity(256);
            while let Some(record) = rx.blocking_recv() {
                value.clear();
                let stats = sink.producer.stats();
                if let Err(e) = status::encode(&record, sink.format, sink.schema_id, &mut value) {
                    // Cannot happen for a record the connection built (no decimals, bounded
                    // strings); counted as refused like any record not handed over.
                    stats.status_lost.refused.fetch_add(1, Ordering::Relaxed);
                    tracing::error!("a feed status record could not be encoded: {e}");
                    continue;
                }
                let key = status::key(&record);
                if let Err(e) =
                    sink.producer
                        .send_status(&sink.topic, key.as_bytes(), &value, record.exchange)
                {
                    let reason = format!("feed status record not produced: {e}");
                    if let Some(more) = stats.failures_log.admit(&reason) {
                        tracing::error!(connector = %record.connector, "{reason}{more}");
                    }
                }
            }
            sink.producer.drain();
        })
}
