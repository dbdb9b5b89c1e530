//! `tickflow.toml`: infrastructure settings (Kafka, topics, output format, HTTP, Redis), with
//! environment overrides `TICKFLOW_<SECTION>__<KEY>` (e.g. `TICKFLOW_KAFKA__BOOTSTRAP_SERVERS`)
//! and `TICKFLOW_<KEY>` for a top-level key (`TICKFLOW_CONNECTORS_DIR`); see [`super::env`].
//!
//! In `[kafka]` every key is a librdkafka property passed through as is; an override's key is
//! lower-cased with `_` → `.` (`TICKFLOW_KAFKA__LINGER_MS` sets `linger.ms`). In the other
//! sections the key is lower-cased (`TICKFLOW_TOPICS__TICKS`). Values stay text exactly as
//! written (a password `0042` stays `0042`); numeric and boolean settings parse the text.
//! A variable that looks like a setting but names none is a problem naming the closest real
//! one. Everything is validated at once.
//!
//! Each section is one file holding its part of the format (the `*File` struct, whose doc
//! comments are the user documentation), its defaults (`DEFAULT_*`, stated once) and its
//! validation: [`kafka`], [`topics`], [`output`], [`http`], [`gather`], [`redis`], [`cache`],
//! [`registry`] (`[schema_registry]`). Here: the file's root (`connectors_dir`), loading, and
//! one `validate` calling each section's in turn, all into one list of problems.

pub mod cache;
pub mod gather;
pub mod http;
pub mod kafka;
pub mod output;
mod overrides;
pub mod redis;
pub mod registry;
#[cfg(test)]
mod tests;

/// The JSON schema of `tickflow.toml` (the configuration reference, `super::reference`).
#[cfg(test)]
pub(crate) fn json_schema() -> schemars::Schema {
    schemars::schema_for!(AppFile)
}

/// Keys read only to be refused with what replaced them.
#[cfg(test)]
pub(crate) const RETIRED_KEYS: &[(&str, &str)] = &gather::RETIRED;

/// What replaced `path` (`section.key`), if it is a retired key.
#[cfg(test)]
pub(crate) fn retired(path: &str) -> Option<&'static str> {
    RETIRED_KEYS
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, w)| *w)
}

/// The keys `tickflow.toml` accepts (see `overrides::schema`).
#[cfg(test)]
pub(crate) fn schema_keys() -> super::env::Schema {
    overrides::schema()
}
pub mod topics;

pub use cache::CacheSettings;
pub use gather::GatherSettings;
pub use topics::Topics;

pub use super::env::ENV_PREFIX;
#[cfg(test)]
pub(crate) use overrides::schema;

use super::{ConfigError, SecretUrl};
use crate::codec::Format;
use overrides::parse;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Directory of connector files, relative to the config file: `connectors`.
pub const DEFAULT_CONNECTORS_DIR: &str = "connectors";

/// The file as written. `Serialize` (on every section too) only lists the keys: a default file
/// as JSON has every key, as `null` ([`overrides::schema`]).
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct AppFile {
    /// Directory of connector files, relative to the config file (default
    /// [`DEFAULT_CONNECTORS_DIR`]).
    connectors_dir: Option<PathBuf>,
    /// librdkafka properties for every Kafka client tickflow makes (see [`kafka`]).
    #[serde(default)]
    #[cfg_attr(test, schemars(with = "BTreeMap<String, String>"))]
    kafka: BTreeMap<String, toml::Value>,
    #[serde(default)]
    topics: topics::TopicsFile,
    #[serde(default)]
    output: output::OutputFile,
    #[serde(default)]
    http: http::HttpFile,
    #[serde(default)]
    gather: gather::GatherFile,
    #[serde(default)]
    redis: redis::RedisFile,
    #[serde(default)]
    cache: cache::CacheFile,
    #[serde(default)]
    schema_registry: registry::RegistryFile,
}

/// Validated `tickflow.toml` plus overrides. `Debug` shows no credential (Kafka's secret
/// properties and the Redis password are `***`).
#[derive(Clone, PartialEq)]
pub struct AppConfig {
    /// Connector files directory.
    pub connectors_dir: PathBuf,
    /// librdkafka properties as configured, for every Kafka client (tickflow's producer
    /// defaults are added later; see `super::kafka` for which client takes which).
    pub kafka: BTreeMap<String, String>,
    /// Topics.
    pub topics: Topics,
    /// Value format.
    pub format: Format,
    /// Schema id in the Confluent header when no registry is configured.
    pub schema_id: u32,
    /// The Schema Registry (`None`: none configured; the fixed `schema_id` is written).
    pub schema_registry: Option<registry::RegistrySettings>,
    /// HTTP endpoint address.
    pub http_bind: SocketAddr,
    /// Gatherer tuning.
    pub gather: GatherSettings,
    /// Redis URL (its password shown as `***`).
    pub redis_url: SecretUrl,
    /// Redis Cluster mode.
    pub redis_cluster: bool,
    /// Cache consumer settings.
    pub cache: CacheSettings,
}

impl std::fmt::Debug for AppConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppConfig")
            .field("connectors_dir", &self.connectors_dir)
            .field(
                "kafka",
                &crate::config::secret::redacted_properties(&self.kafka),
            )
            .field("topics", &self.topics)
            .field("format", &self.format)
            .field("schema_id", &self.schema_id)
            .field("schema_registry", &self.schema_registry)
            .field("http_bind", &self.http_bind)
            .field("gather", &self.gather)
            .field("redis_url", &self.redis_url)
            .field("redis_cluster", &self.redis_cluster)
            .field("cache", &self.cache)
            .finish()
    }
}

/// Reads `path` (a missing file is an error unless `optional`), applies `env` overrides and
/// validates everything, reporting every problem at once.
pub fn load_app_config(
    path: &Path,
    optional: bool,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<AppConfig, ConfigError> {
    let file = path.display().to_string();
    let mut problems = Vec::new();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if optional && e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(ConfigError {
                problems: vec![format!("{file}: {e}")],
            });
        }
    };
    let base = path.parent().unwrap_or(Path::new("."));
    let mut secrets = Vec::new();
    let config = parse(&file, &text, base, env, &mut problems, &mut secrets);
    match config {
        Some(c) if problems.is_empty() => Ok(c),
        // A parser's message may quote a value: no credential is ever shown.
        _ => Err(ConfigError {
            problems: problems
                .iter()
                .map(|p| crate::config::secret::scrub(p, &secrets))
                .collect(),
        }),
    }
}

/// Collects the problems of `tickflow.toml`, each naming the environment variable its value
/// came from, if one did, else the file.
struct Problems<'a> {
    file: &'a str,
    /// Setting path (`cache.batch_max`) → the variable that set it.
    from_env: &'a BTreeMap<String, String>,
    list: &'a mut Vec<String>,
}

impl Problems<'_> {
    fn add(&mut self, field: &str, what: impl std::fmt::Display) {
        let source = self.from_env.get(field).map_or_else(
            || self.file.to_owned(),
            |name| format!("environment: {name}"),
        );
        self.list.push(format!("{source}: {field}: {what}"));
    }
}

/// The configuration of `f` (the file `file` with the overrides of `from_env` applied), a
/// relative path relative to `base`; every problem goes to `problems`, section by section.
fn validate(
    file: &str,
    base: &Path,
    f: AppFile,
    from_env: &BTreeMap<String, String>,
    problems: &mut Vec<String>,
) -> AppConfig {
    let p = &mut Problems {
        file,
        from_env,
        list: problems,
    };
    let kafka = kafka::validate(f.kafka, p);
    let topics = f.topics.validate(p);
    let (format, schema_id) = f.output.validate(p);
    let http_bind = f.http.validate(p);
    let gather = f.gather.validate(p);
    let (redis_url, redis_cluster) = f.redis.validate(p);
    let cache = f.cache.validate(p);
    let schema_registry = f.schema_registry.validate(base, p);
    let dir = f
        .connectors_dir
        .unwrap_or_else(|| DEFAULT_CONNECTORS_DIR.into());
    AppConfig {
        connectors_dir: if dir.is_absolute() {
            dir
        } else {
            base.join(dir)
        },
        kafka,
        topics,
        format,
        schema_id,
        schema_registry,
        http_bind,
        gather,
        redis_url,
        redis_cluster,
        cache,
    }
}
