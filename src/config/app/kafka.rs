//! `[kafka]`: librdkafka properties for every Kafka client tickflow makes, and the few it
//! fixes itself (refused here rather than silently replaced).
//!
//! Who takes what: gather's producer and the cache's dead-letter producer take every property
//! over tickflow's producer defaults (`kafka::producer::DEFAULTS`, `client.id=tickflow-gather`
//! among them); the topic-creating admin clients and the cache's consumer take all but the
//! producer-only ones (`kafka::admin::is_producer_only`: `acks`, `linger.ms`, ...). The cache's
//! consumer then sets its own `client.id` (`tickflow-cache`, logged once at start when
//! `[kafka]` has one: `client.id` is legitimate for gather's clients, so it is not refused),
//! `group.id` from `[cache] group_id` and [`CACHE_CONSUMER_FIXED`].

use super::Problems;
use std::collections::BTreeMap;

/// Properties the contract fixes: the producer is idempotent with `acks=all`.
pub const PRODUCER_FIXED: [(&str, &[&str]); 2] =
    [("enable.idempotence", &["true"]), ("acks", &["all", "-1"])];

/// Properties the cache's consumer sets after `[kafka]`: (key, value, why). `[kafka]` may not
/// set them: its value would be replaced without a word.
pub const CACHE_CONSUMER_FIXED: [(&str, &str, &str); 4] = [
    (
        "enable.auto.commit",
        "true",
        "it commits the offsets it stored, and only those",
    ),
    (
        "auto.commit.interval.ms",
        "1000",
        "it commits what it stored every second",
    ),
    (
        "enable.auto.offset.store",
        "false",
        "it stores an offset only after Redis acknowledged the batch (at least once)",
    ),
    (
        "auto.offset.reset",
        "earliest",
        "a group without committed offsets reads the topic from its start, so every instrument gets a price",
    ),
];

/// `[kafka]` as text properties (a number or boolean as written in TOML); a table or array,
/// or a property the contract fixes or the cache replaces, is a problem in `p`.
pub(super) fn validate(
    table: BTreeMap<String, toml::Value>,
    p: &mut Problems<'_>,
) -> BTreeMap<String, String> {
    let mut kafka = BTreeMap::new();
    for (key, value) in table {
        let text = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Float(x) => x.to_string(),
            other => {
                p.add(
                    &format!("kafka.{key}"),
                    format!("expected a scalar, found {}", other.type_str()),
                );
                continue;
            }
        };
        if let Some(what) = check(&key, &text) {
            p.add(&format!("kafka.{key}"), what);
        }
        kafka.insert(key, text);
    }
    kafka
}

/// What is wrong with `key = value` in `[kafka]`, if anything.
pub(crate) fn check(key: &str, value: &str) -> Option<String> {
    if let Some((_, allowed)) = PRODUCER_FIXED.iter().find(|(k, _)| *k == key)
        && !allowed.contains(&value)
    {
        return Some(format!(
            "the contract requires {} (found `{value}`)",
            allowed.join(" or ")
        ));
    }
    if key == "group.id" {
        return Some(
            "the cache's consumer group is [cache] group_id (TICKFLOW_CACHE__GROUP_ID); gather has none"
                .into(),
        );
    }
    CACHE_CONSUMER_FIXED
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|(_, fixed, why)| format!("set by the cache's consumer to {fixed}: {why}; remove it"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_cache_replaces_is_refused_with_what_to_use() {
        assert_eq!(check("linger.ms", "7"), None);
        assert_eq!(check("client.id", "mine"), None, "gather's clients use it");
        assert_eq!(check("acks", "-1"), None);
        assert!(check("acks", "1").unwrap().contains("all or -1"));
        assert!(check("group.id", "g").unwrap().contains("[cache] group_id"));
        for (key, fixed, _) in CACHE_CONSUMER_FIXED {
            assert!(
                check(key, fixed)
                    .unwrap()
                    .starts_with("set by the cache's consumer")
            );
        }
    }
}
