//! What the cache's readers of a whole topic share (the instrument reference and feed status
//! readers, each on a thread of its own, outside the consumer group): assigning every
//! partition from the beginning, and waiting that gives way to shutdown.

use rdkafka::Offset;
use rdkafka::TopicPartitionList;
use rdkafka::consumer::{BaseConsumer, Consumer};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Bound on reading a topic's metadata.
pub const METADATA_TIMEOUT: Duration = Duration::from_secs(5);

/// Assigns every partition of `topic` from the beginning; the partitions assigned.
pub fn assign_from_beginning(consumer: &BaseConsumer, topic: &str) -> Result<Vec<i32>, String> {
    let metadata = consumer
        .fetch_metadata(Some(topic), METADATA_TIMEOUT)
        .map_err(|e| format!("metadata of {topic}: {e}"))?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .filter(|t| t.name() == topic && t.error().is_none())
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    if partitions.is_empty() {
        return Err(format!(
            "topic {topic} has no partitions (not created yet? [topics] create)"
        ));
    }
    let mut list = TopicPartitionList::new();
    for p in &partitions {
        list.add_partition_offset(topic, *p, Offset::Beginning)
            .map_err(|e| e.to_string())?;
    }
    consumer.assign(&list).map_err(|e| e.to_string())?;
    // The list is dropped here, before the consumer (TESTING.md).
    Ok(partitions)
}

/// Sleeps `d` unless `shutdown` turns true first; false when stopping.
pub fn pause(shutdown: &watch::Receiver<bool>, d: Duration) -> bool {
    let until = Instant::now() + d;
    while Instant::now() < until {
        if *shutdown.borrow() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50).min(until - Instant::now()));
    }
    !*shutdown.borrow()
}
