//! `[kafka]`: librdkafka properties for every Kafka client tickflow makes, checked against
//! the few the contract fixes (refused here rather than silently replaced). Which client takes
//! what, and those fixed settings, are stated in [`crate::kafka::contract`]: gather's producer
//! and the cache's dead-letter producer take every property over tickflow's defaults
//! (`client.id=tickflow-gather` among them); the topic-creating admin clients and the cache's
//! consumer take all but the producer-only ones (`acks`, `linger.ms`, ...). The cache's
//! consumer then sets its own `client.id` (`tickflow-cache`, logged once at start when
//! `[kafka]` has one: `client.id` is legitimate for gather's clients, so it is not refused),
//! `group.id` from `[cache] group_id` and [`CACHE_CONSUMER_FIXED`].

use super::Problems;
use crate::kafka::contract::{CACHE_CONSUMER_FIXED, PRODUCER_FIXED};
use std::collections::BTreeMap;

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
    if let Some((_, fixed, also)) = PRODUCER_FIXED.iter().find(|(k, _, _)| *k == key)
        && value != *fixed
        && !also.contains(&value)
    {
        let allowed: Vec<&str> = std::iter::once(*fixed)
            .chain(also.iter().copied())
            .collect();
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
