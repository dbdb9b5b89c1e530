//! Topic creation at start. Brokers should not auto-create topics (tansu cannot, and in
//! production auto-creation hides typos), so the gatherer creates what is missing.

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;
use std::collections::BTreeMap;
use std::time::Duration;

/// Bound on the whole create request.
pub const ADMIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Creates each topic in `topics` that does not exist yet. Existing topics are left as they
/// are. Returns the names it created.
pub async fn ensure_topics(
    properties: &BTreeMap<String, String>,
    topics: &[&str],
    partitions: i32,
    replication_factor: i32,
) -> anyhow::Result<Vec<String>> {
    ensure_topics_with(properties, topics, partitions, replication_factor, |_| &[]).await
}

/// [`ensure_topics`], each created topic with the settings `settings` gives for it (e.g. the
/// instruments topic's `cleanup.policy=compact`).
pub async fn ensure_topics_with<'c>(
    properties: &BTreeMap<String, String>,
    topics: &[&str],
    partitions: i32,
    replication_factor: i32,
    settings: impl Fn(&str) -> &'c [(&'c str, &'c str)],
) -> anyhow::Result<Vec<String>> {
    let config = super::contract::admin_config(properties);
    let bootstrap = properties
        .get("bootstrap.servers")
        .map_or("(no bootstrap.servers)", String::as_str);
    tracing::info!(
        bootstrap,
        "checking topics {} at {bootstrap}",
        topics.join(", ")
    );
    let admin: AdminClient<DefaultClientContext> = config.create()?;
    // Which exist already: one metadata request (which needs no admin rights), so that only
    // missing topics are created.
    let admin = std::sync::Arc::new(admin);
    let looking = std::sync::Arc::clone(&admin);
    let existing: Vec<String> = tokio::task::spawn_blocking(move || {
        looking
            .inner()
            .fetch_metadata(None, ADMIN_TIMEOUT)
            .map(|m| m.topics().iter().map(|t| t.name().to_owned()).collect())
    })
    .await?
    .map_err(|e| {
        anyhow::anyhow!(
            "checking topics {}: no broker at {bootstrap} answered ({e}; check bootstrap.servers, the network and security.protocol; [topics] create = false skips this)",
            topics.join(", ")
        )
    })?;
    let new: Vec<_> = topics
        .iter()
        .filter(|t| !existing.iter().any(|e| e == **t))
        .map(|t| {
            settings(t).iter().fold(
                NewTopic::new(t, partitions, TopicReplication::Fixed(replication_factor)),
                |topic, (k, v)| topic.set(k, v),
            )
        })
        .collect();
    if new.is_empty() {
        return Ok(Vec::new());
    }
    let options = AdminOptions::new().operation_timeout(Some(ADMIN_TIMEOUT));
    let results = tokio::time::timeout(
        ADMIN_TIMEOUT + Duration::from_secs(5),
        admin.create_topics(&new, &options),
    )
    .await
    .map_err(|_| {
        anyhow::anyhow!(
            "creating topics {} timed out after {ADMIN_TIMEOUT:?}: no broker at {bootstrap} answered (check bootstrap.servers, the network and security.protocol; [topics] create = false skips this)",
            topics.join(", ")
        )
    })?
    .map_err(|e| anyhow::anyhow!("creating topics at {bootstrap}: {e}"))?;
    let mut created = Vec::new();
    let mut problems = Vec::new();
    for r in results {
        match r {
            Ok(name) => created.push(name),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => problems.push(format!("{name}: {code}")),
        }
    }
    if problems.is_empty() {
        Ok(created)
    } else {
        anyhow::bail!(
            "creating topics at {bootstrap} failed: {}",
            problems.join(", ")
        )
    }
}

/// `[topics] create`: creates what is missing of `topics` at the configured partitions and
/// replication (the instruments topic compacted, [`super::contract::creation_config`]), and
/// says which it created; nothing when creation is off. An existing topic is left as it is.
pub async fn ensure_configured(
    app: &crate::config::AppConfig,
    properties: &BTreeMap<String, String>,
    topics: &[&str],
) -> anyhow::Result<()> {
    if !app.topics.create {
        return Ok(());
    }
    let created = ensure_topics_with(
        properties,
        topics,
        app.topics.partitions,
        app.topics.replication_factor,
        |t| super::contract::creation_config(&app.topics.instruments, t),
    )
    .await?;
    if !created.is_empty() {
        tracing::info!("created topics {}", created.join(", "));
    }
    Ok(())
}
