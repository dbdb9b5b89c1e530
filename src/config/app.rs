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

use super::ConfigError;
use super::env::{Schema, Setting, Variable};
use crate::codec::Format;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use super::env::ENV_PREFIX;

/// The file as written. `Serialize` (on every section too) only lists the keys: a default file
/// as JSON has every key, as `null` ([`schema`]).
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct AppFile {
    /// Directory of connector files, relative to the config file (default `connectors`).
    connectors_dir: Option<PathBuf>,
    /// librdkafka properties for every Kafka client tickflow makes (see `super::kafka`).
    #[serde(default)]
    kafka: BTreeMap<String, toml::Value>,
    #[serde(default)]
    topics: TopicsFile,
    #[serde(default)]
    output: OutputFile,
    #[serde(default)]
    http: HttpFile,
    #[serde(default)]
    gather: GatherFile,
    #[serde(default)]
    redis: RedisFile,
    #[serde(default)]
    cache: CacheFile,
    #[serde(default)]
    schema_registry: super::registry::RegistryFile,
}

/// `[cache]` (`tickflow cache`).
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct CacheFile {
    /// Kafka consumer group (default `tickflow-cache`).
    group_id: Option<String>,
    /// A batch is due at this many messages (default 5000).
    #[serde(default, deserialize_with = "super::lenient::opt")]
    batch_max: Option<usize>,
    /// ... or this long after its first message, ms (default 20).
    #[serde(default, deserialize_with = "super::lenient::opt")]
    batch_wait_ms: Option<u64>,
    /// Most distinct keys a gathering batch holds before consumption pauses (default 100000).
    #[serde(default, deserialize_with = "super::lenient::opt")]
    pending_keys_max: Option<usize>,
    /// Price keys expire after this long without an update (default 86400; 0: never).
    #[serde(default, deserialize_with = "super::lenient::opt")]
    ttl_secs: Option<u64>,
    /// Key prefix (default `px`).
    prefix: Option<String>,
    /// Address of the cache's `/metrics`, `/healthz`, `/readyz` (default `127.0.0.1:9465`).
    http_bind: Option<String>,
    /// One deadline for stopping: writing what was gathered (and its dead letters) and
    /// committing (default 30000).
    #[serde(default, deserialize_with = "super::lenient::opt")]
    shutdown_timeout_ms: Option<u64>,
    /// `/readyz` fails when there is consumer lag and nothing was consumed for this long
    /// (default 15000; lag is measured every 5 s).
    #[serde(default, deserialize_with = "super::lenient::opt")]
    stall_timeout_ms: Option<u64>,
}

/// Cache consumer settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheSettings {
    /// Consumer group.
    pub group_id: String,
    /// A batch is due at this many messages...
    pub batch_max: usize,
    /// ... or this long after its first message.
    pub batch_wait: Duration,
    /// Most distinct keys gathered before consumption pauses.
    pub pending_keys_max: usize,
    /// Key TTL (zero: none).
    pub ttl: Duration,
    /// Key prefix.
    pub prefix: String,
    /// HTTP endpoint address.
    pub http_bind: SocketAddr,
    /// Lag and nothing consumed for this long: not ready.
    pub stall_timeout: Duration,
    /// One deadline for stopping (write the last batch, commit, leave the group).
    pub shutdown_timeout: Duration,
}

/// `[topics]`.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct TopicsFile {
    /// Canonical ticks (default `ticks.v1`).
    ticks: Option<String>,
    /// Dead letters (default `ticks.dlq.v1`).
    dlq: Option<String>,
    /// Create missing topics at start (default true).
    #[serde(default, deserialize_with = "super::lenient::opt")]
    create: Option<bool>,
    /// Partitions of created topics (default 6).
    #[serde(default, deserialize_with = "super::lenient::opt")]
    partitions: Option<i32>,
    /// Replication factor of created topics (default 1; use 3 in production).
    #[serde(default, deserialize_with = "super::lenient::opt")]
    replication_factor: Option<i32>,
}

/// `[output]`.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct OutputFile {
    /// `avro` (default) or `proto`.
    format: Option<String>,
    /// Schema id written into each message's Confluent header when no `[schema_registry]` is
    /// configured (default 1); with a registry the id is the registry's.
    #[serde(default, deserialize_with = "super::lenient::opt")]
    schema_id: Option<u32>,
}

/// `[http]`.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct HttpFile {
    /// Address of `/metrics`, `/healthz`, `/readyz` (default `127.0.0.1:9464`; port 0 picks one).
    bind: Option<String>,
}

/// `[gather]`.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct GatherFile {
    /// Frames buffered between the connections and the producer (default 16384).
    #[serde(default, deserialize_with = "super::lenient::opt")]
    queue_frames: Option<usize>,
    /// Longest wait for room in librdkafka's queue before a message counts as failed
    /// (default 60000).
    #[serde(default, deserialize_with = "super::lenient::opt")]
    max_block_ms: Option<u64>,
    /// One deadline for stopping: draining the queue and waiting for the broker's
    /// acknowledgements (default 30000).
    #[serde(default, deserialize_with = "super::lenient::opt")]
    shutdown_timeout_ms: Option<u64>,
    /// The former name of `shutdown_timeout_ms`: refused with a message saying so.
    #[serde(default, deserialize_with = "super::lenient::opt")]
    flush_timeout_ms: Option<u64>,
    /// Seconds between progress lines on stderr (default 5; 0 turns them off).
    #[serde(default, deserialize_with = "super::lenient::opt")]
    progress_secs: Option<u64>,
    /// `/readyz` fails when sends are pending and the broker acknowledged nothing for this
    /// long (default 10000).
    #[serde(default, deserialize_with = "super::lenient::opt")]
    unacked_timeout_ms: Option<u64>,
}

/// `[redis]` (used by `tickflow cache` and `tickflow price`).
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RedisFile {
    /// `redis://[user:password@]host:port[/db]` (default `redis://127.0.0.1:6379`).
    url: Option<String>,
    /// The URL is a seed node of a Redis Cluster (default false).
    #[serde(default, deserialize_with = "super::lenient::opt")]
    cluster: Option<bool>,
}

/// Topic settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    /// Canonical ticks.
    pub ticks: String,
    /// Dead letters.
    pub dlq: String,
    /// Create missing topics at start.
    pub create: bool,
    /// Partitions of created topics.
    pub partitions: i32,
    /// Replication factor of created topics.
    pub replication_factor: i32,
}

/// Gatherer tuning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatherSettings {
    /// Frames buffered between the connections and the producer.
    pub queue_frames: usize,
    /// Longest wait for room in librdkafka's queue.
    pub max_block: Duration,
    /// One deadline for stopping (drain and flush); what is not acknowledged by then is
    /// abandoned and counted.
    pub shutdown_timeout: Duration,
    /// Period of progress lines (`None`: off).
    pub progress: Option<Duration>,
    /// Sends pending and nothing acknowledged for this long: not ready.
    pub unacked_timeout: Duration,
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
    pub schema_registry: Option<super::registry::RegistrySettings>,
    /// HTTP endpoint address.
    pub http_bind: SocketAddr,
    /// Gatherer tuning.
    pub gather: GatherSettings,
    /// Redis URL (its password shown as `***`).
    pub redis_url: super::SecretUrl,
    /// Redis Cluster mode.
    pub redis_cluster: bool,
    /// Cache consumer settings.
    pub cache: CacheSettings,
}

impl std::fmt::Debug for AppConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppConfig")
            .field("connectors_dir", &self.connectors_dir)
            .field("kafka", &super::secret::redacted_properties(&self.kafka))
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
                .map(|p| super::secret::scrub(p, &secrets))
                .collect(),
        }),
    }
}

/// The credentials a configuration holds (to keep them out of its error messages).
fn secrets_of(table: &toml::Table) -> Vec<String> {
    let mut out = Vec::new();
    let text = |v: &toml::Value| v.as_str().map(str::to_owned);
    if let Some(kafka) = table.get("kafka").and_then(toml::Value::as_table) {
        out.extend(
            kafka
                .iter()
                .filter(|(k, _)| super::secret::is_secret_property(k))
                .filter_map(|(_, v)| text(v)),
        );
    }
    if let Some(url) = table
        .get("redis")
        .and_then(|r| r.get("url"))
        .and_then(toml::Value::as_str)
        && let Some(c) = super::SecretUrl::new(url).credentials()
    {
        out.push(c.to_owned());
    }
    if let Some(info) = table
        .get("schema_registry")
        .and_then(|r| r.get("basic_auth_user_info"))
        .and_then(toml::Value::as_str)
    {
        out.push(info.to_owned());
        if let Some((_, password)) = info.split_once(':') {
            out.push(password.to_owned());
        }
    }
    // Longest first, so that a password inside user:password is replaced whole.
    out.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out
}

fn parse(
    file: &str,
    text: &str,
    base: &Path,
    env: impl IntoIterator<Item = (String, String)>,
    problems: &mut Vec<String>,
    secrets: &mut Vec<String>,
) -> Option<AppConfig> {
    let mut env: Vec<_> = env.into_iter().collect();
    env.sort();
    // (variable, setting, value) of every override; a variable that looks like a setting but
    // names none is a problem even when the file does not parse (its value is never shown).
    let schema = schema();
    let mut overrides = Vec::new();
    for (name, value) in env {
        match schema.classify(&name) {
            Variable::Other => {}
            Variable::Unknown(what) => problems.push(format!("environment: {name}: {what}")),
            Variable::Setting(setting) => overrides.push((name, setting, value)),
        }
    }
    let mut table: toml::Table = match text.parse() {
        Ok(t) => t,
        Err(e) => {
            problems.push(format!("{file}: {}", e.to_string().trim()));
            return None;
        }
    };
    let file_only = table.clone();
    let mut applied = Vec::new();
    for (name, setting, value) in overrides {
        match setting.set(&mut table, &value) {
            Ok(()) => applied.push((name, setting, value)),
            Err(what) => problems.push(format!("environment: {name}: {what}")),
        }
    }
    *secrets = secrets_of(&table);
    let parsed: AppFile = match AppFile::deserialize(table) {
        Ok(p) => p,
        Err(e) => {
            problems.push(blame(file, &file_only, &applied, &e));
            return None;
        }
    };
    let from_env: BTreeMap<String, String> = applied
        .into_iter()
        .map(|(name, setting, _)| (setting.path(), name))
        .collect();
    Some(validate(file, base, parsed, &from_env, problems))
}

/// The keys `tickflow.toml` accepts, from its structs: a default file as JSON holds every key
/// (`null`) in every section, and `[kafka]` as an empty table (it takes any property).
pub(crate) fn schema() -> Schema {
    let mut schema = Schema::default();
    let Ok(serde_json::Value::Object(top)) = serde_json::to_value(AppFile::default()) else {
        return schema;
    };
    for (key, value) in top {
        match value {
            serde_json::Value::Object(section) => {
                schema
                    .sections
                    .insert(key, section.into_iter().map(|(k, _)| k).collect());
            }
            _ => schema.top.push(key),
        }
    }
    schema
}

/// Names where a value that does not deserialize came from: the environment variable when one
/// override alone makes the difference, else the file (with the overrides applied).
fn blame(
    file: &str,
    file_only: &toml::Table,
    applied: &[(String, Setting, String)],
    e: &toml::de::Error,
) -> String {
    let error = e.to_string().trim().to_owned();
    for (i, (name, setting, value)) in applied.iter().enumerate() {
        let path = setting.path();
        let mut without = file_only.clone();
        for (j, (_, other, v)) in applied.iter().enumerate() {
            if j != i {
                let _ = other.set(&mut without, v);
            }
        }
        if AppFile::deserialize(without).is_ok() {
            let shown = if is_secret_setting(&path) {
                "***".to_owned()
            } else {
                format!("`{value}`")
            };
            return format!("environment: {name}={shown} (setting {path}): {error}");
        }
    }
    if applied.is_empty() {
        format!("{file}: {error}")
    } else {
        let names: Vec<&str> = applied.iter().map(|(n, _, _)| n.as_str()).collect();
        format!(
            "{file} with the environment's {}: {error}",
            names.join(", ")
        )
    }
}

/// A setting whose value is a credential (or may carry one).
fn is_secret_setting(path: &str) -> bool {
    match path.split_once('.') {
        Some(("kafka", key)) => super::secret::is_secret_property(key),
        Some(("redis", "url")) | Some(("schema_registry", "basic_auth_user_info")) => true,
        _ => false,
    }
}

/// Keys read only to be refused with what replaced them (so tickflow.toml does not show them).
const RETIRED: [(&str, &str); 1] = [(
    "gather.flush_timeout_ms",
    "renamed to shutdown_timeout_ms (one deadline for draining and flushing)",
)];

fn validate(
    file: &str,
    base: &Path,
    f: AppFile,
    from_env: &BTreeMap<String, String>,
    problems: &mut Vec<String>,
) -> AppConfig {
    // A problem names the environment variable when the value came from one.
    let mut add = |field: &str, what: String| {
        let source = from_env
            .get(field)
            .map_or_else(|| file.to_owned(), |name| format!("environment: {name}"));
        problems.push(format!("{source}: {field}: {what}"));
    };
    let mut kafka = BTreeMap::new();
    for (key, value) in f.kafka {
        let text = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Float(x) => x.to_string(),
            other => {
                add(
                    &format!("kafka.{key}"),
                    format!("expected a scalar, found {}", other.type_str()),
                );
                continue;
            }
        };
        if let Some(what) = super::kafka::check(&key, &text) {
            add(&format!("kafka.{key}"), what);
        }
        kafka.insert(key, text);
    }
    let t = f.topics;
    let topics = Topics {
        ticks: t.ticks.unwrap_or_else(|| "ticks.v1".into()),
        dlq: t.dlq.unwrap_or_else(|| "ticks.dlq.v1".into()),
        create: t.create.unwrap_or(true),
        partitions: t.partitions.unwrap_or(6),
        replication_factor: t.replication_factor.unwrap_or(1),
    };
    for (field, name) in [("topics.ticks", &topics.ticks), ("topics.dlq", &topics.dlq)] {
        let ok = !name.is_empty()
            && name.len() <= 249
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if !ok {
            add(field, format!("`{name}` is not a valid Kafka topic name"));
        }
    }
    if topics.ticks == topics.dlq {
        add("topics.dlq", "must differ from topics.ticks".into());
    }
    if topics.partitions < 1 {
        add("topics.partitions", "must be at least 1".into());
    }
    if topics.replication_factor < 1 {
        add("topics.replication_factor", "must be at least 1".into());
    }
    let format = match f.output.format.as_deref() {
        None | Some("avro") => Format::Avro,
        Some("proto") => Format::Proto,
        Some(other) => {
            add(
                "output.format",
                format!("`{other}` is not `avro` or `proto`"),
            );
            Format::Avro
        }
    };
    let bind = f.http.bind.unwrap_or_else(|| "127.0.0.1:9464".into());
    let http_bind = bind.parse().unwrap_or_else(|e| {
        add("http.bind", format!("`{bind}`: {e}"));
        SocketAddr::from(([127, 0, 0, 1], 9464))
    });
    let g = f.gather;
    let queue_frames = g.queue_frames.unwrap_or(16_384);
    if queue_frames == 0 {
        add("gather.queue_frames", "must be at least 1".into());
    }
    if g.flush_timeout_ms.is_some() {
        let (field, what) = RETIRED[0];
        add(field, what.into());
    }
    let gather = GatherSettings {
        queue_frames: queue_frames.max(1),
        max_block: Duration::from_millis(g.max_block_ms.unwrap_or(60_000)),
        shutdown_timeout: Duration::from_millis(g.shutdown_timeout_ms.unwrap_or(30_000)),
        unacked_timeout: Duration::from_millis(g.unacked_timeout_ms.unwrap_or(10_000)),
        progress: match g.progress_secs.unwrap_or(5) {
            0 => None,
            s => Some(Duration::from_secs(s)),
        },
    };
    let redis_url = f
        .redis
        .url
        .unwrap_or_else(|| "redis://127.0.0.1:6379".into());
    if !(redis_url.starts_with("redis://") || redis_url.starts_with("rediss://")) {
        add(
            "redis.url",
            format!(
                "`{}` is not a redis:// or rediss:// URL",
                super::redact_url(&redis_url)
            ),
        );
    }
    let c = f.cache;
    let cache_bind = c.http_bind.unwrap_or_else(|| "127.0.0.1:9465".into());
    let cache = CacheSettings {
        group_id: c.group_id.unwrap_or_else(|| "tickflow-cache".into()),
        batch_max: c.batch_max.unwrap_or(5000).max(1),
        batch_wait: Duration::from_millis(c.batch_wait_ms.unwrap_or(20)),
        pending_keys_max: c.pending_keys_max.unwrap_or(100_000).max(1),
        ttl: Duration::from_secs(c.ttl_secs.unwrap_or(86_400)),
        prefix: c.prefix.unwrap_or_else(|| "px".into()),
        stall_timeout: Duration::from_millis(c.stall_timeout_ms.unwrap_or(15_000)),
        shutdown_timeout: Duration::from_millis(c.shutdown_timeout_ms.unwrap_or(30_000)),
        http_bind: cache_bind.parse().unwrap_or_else(|e| {
            add("cache.http_bind", format!("`{cache_bind}`: {e}"));
            SocketAddr::from(([127, 0, 0, 1], 9465))
        }),
    };
    if cache.group_id.is_empty() {
        add("cache.group_id", "must not be empty".into());
    }
    if cache.prefix.is_empty() || cache.prefix.contains(['{', '}', ':']) {
        add(
            "cache.prefix",
            format!(
                "`{}` must be non-empty without `{{`, `}}` or `:`",
                cache.prefix
            ),
        );
    }
    let schema_registry = super::registry::validate(f.schema_registry, base, &mut add);
    let dir = f.connectors_dir.unwrap_or_else(|| "connectors".into());
    AppConfig {
        connectors_dir: if dir.is_absolute() {
            dir
        } else {
            base.join(dir)
        },
        kafka,
        topics,
        format,
        schema_id: f.output.schema_id.unwrap_or(1),
        schema_registry,
        http_bind,
        gather,
        redis_url: super::SecretUrl::new(redis_url),
        redis_cluster: f.redis.cluster.unwrap_or(false),
        cache,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str, env: &[(&str, &str)]) -> Result<AppConfig, ConfigError> {
        let env = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
        let mut problems = Vec::new();
        let c = parse(
            "t.toml",
            text,
            Path::new("/etc/tf"),
            env,
            &mut problems,
            &mut Vec::new(),
        );
        match c {
            Some(c) if problems.is_empty() => Ok(c),
            _ => Err(ConfigError { problems }),
        }
    }

    #[test]
    fn defaults_fill_an_empty_file() {
        let c = load("", &[]).unwrap();
        assert_eq!(c.topics.ticks, "ticks.v1");
        assert_eq!(c.topics.dlq, "ticks.dlq.v1");
        assert_eq!(c.format, Format::Avro);
        assert_eq!(c.connectors_dir, Path::new("/etc/tf/connectors"));
        assert!(c.kafka.is_empty());
    }

    #[test]
    fn env_overrides_the_file() {
        let c = load(
            "[kafka]\n\"bootstrap.servers\" = \"a:1\"\n[topics]\nticks = \"x\"\n",
            &[
                ("TICKFLOW_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:9"),
                ("TICKFLOW_KAFKA__LINGER_MS", "7"),
                ("TICKFLOW_TOPICS__TICKS", "ticks.test"),
                ("TICKFLOW_OUTPUT__FORMAT", "proto"),
                ("TICKFLOW_GATHER__QUEUE_FRAMES", "64"),
                ("TICKFLOW_REQUIRE_FASTAVRO", "1"),
                ("PATH", "/bin"),
            ],
        )
        .unwrap();
        assert_eq!(c.kafka["bootstrap.servers"], "127.0.0.1:9");
        assert_eq!(c.kafka["linger.ms"], "7");
        assert_eq!(c.topics.ticks, "ticks.test");
        assert_eq!(c.format, Format::Proto);
        assert_eq!(c.gather.queue_frames, 64);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let e = load(
            "[kafka]\nacks = 1\n\"enable.idempotence\" = false\n[topics]\nticks = \"bad topic\"\n\
             partitions = 0\n[output]\nformat = \"json\"\n[http]\nbind = \"nowhere\"\n",
            &[],
        )
        .unwrap_err();
        let all = e.problems.join("\n");
        for needle in [
            "kafka.acks",
            "kafka.enable.idempotence",
            "topics.ticks",
            "topics.partitions",
            "output.format",
            "http.bind",
        ] {
            assert!(all.contains(needle), "{needle} missing in:\n{all}");
        }
        assert_eq!(e.problems.len(), 6, "{all}");
    }

    #[test]
    fn schema_registry_section_and_overrides() {
        assert_eq!(load("", &[]).unwrap().schema_registry, None);
        let c = load(
            "[schema_registry]\nurl = [\"https://a:8081/\"]\nsubject_name_strategy = \"RecordNameStrategy\"\n",
            &[
                ("TICKFLOW_SCHEMA_REGISTRY__URL", "http://a:1, http://b:2"),
                ("TICKFLOW_SCHEMA_REGISTRY__BASIC_AUTH_USER_INFO", "key:s3cret"),
                ("TICKFLOW_SCHEMA_REGISTRY__AUTO_REGISTER", "true"),
            ],
        )
        .unwrap();
        let r = c.schema_registry.unwrap();
        assert_eq!(r.urls, ["http://a:1", "http://b:2"]);
        assert_eq!(
            r.strategy,
            super::super::SubjectStrategy::RecordNameStrategy
        );
        assert!(r.auto_register);
        assert_eq!(r.user_info.as_ref().unwrap().expose(), "key:s3cret");
        assert!(!format!("{r:?}").contains("s3cret"));
        let e = load(
            "[schema_registry]\nurl = \"http://u:hunter2@sr:8081\"\nsubject_name_strategy = \"X\"\nbasic_auth_user_info = \"nocolon\"\n",
            &[],
        )
        .unwrap_err();
        let all = e.problems.join("\n");
        assert_eq!(e.problems.len(), 3, "{all}");
        assert!(
            !all.contains("hunter2") && !all.contains("nocolon"),
            "{all}"
        );
        assert!(load("[schema_registry]\nurl = \"ftp://x\"\n", &[]).is_err());
    }

    #[test]
    fn overrides_keep_text_as_written_and_numbers_still_parse() {
        let c = load(
            "[cache]\nbatch_max = 10\n",
            &[
                ("TICKFLOW_KAFKA__SASL_PASSWORD", "0042"),
                ("TICKFLOW_KAFKA__CLIENT_ID", "007"),
                ("TICKFLOW_CACHE__GROUP_ID", "2024"),
                ("TICKFLOW_CACHE__BATCH_WAIT_MS", "35"),
                ("TICKFLOW_TOPICS__CREATE", "false"),
                ("TICKFLOW_REDIS__CLUSTER", "true"),
            ],
        )
        .unwrap();
        assert_eq!(c.kafka["sasl.password"], "0042");
        assert_eq!(c.kafka["client.id"], "007");
        assert_eq!(c.cache.group_id, "2024");
        assert_eq!(c.cache.batch_max, 10, "the file's number");
        assert_eq!(c.cache.batch_wait, Duration::from_millis(35));
        assert!(!c.topics.create && c.redis_cluster);
        let e = load("", &[("TICKFLOW_CACHE__BATCH_MAX", "lots")]).unwrap_err();
        let all = e.problems.join("\n");
        assert!(
            all.contains("TICKFLOW_CACHE__BATCH_MAX") && all.contains("`lots`"),
            "{all}"
        );
    }

    #[test]
    fn unknown_keys_and_sections_are_errors() {
        assert!(load("[topic]\nticks = \"x\"\n", &[]).is_err());
        assert!(load("", &[("TICKFLOW_TOPICS__TICK", "x")]).is_err());
    }

    #[test]
    fn top_level_keys_are_overridden_from_the_environment() {
        let c = load(
            "connectors_dir = \"here\"\n",
            &[("TICKFLOW_CONNECTORS_DIR", "/srv/connectors")],
        )
        .unwrap();
        assert_eq!(c.connectors_dir, Path::new("/srv/connectors"));
        // Relative to the config file, like the key.
        let c = load("", &[("TICKFLOW_CONNECTORS_DIR", "conn")]).unwrap();
        assert_eq!(c.connectors_dir, Path::new("/etc/tf/conn"));
    }

    /// A variable that looks like a setting but names none is a problem naming the closest real
    /// variable, reported with every other problem, its value (maybe a credential) never shown.
    #[test]
    fn misspelt_variables_name_the_closest_setting() {
        let e = load(
            "[topics]\npartitions = 0\n",
            &[
                ("TICKFLOW_KAFKA_SASL_PASSWORD", "S3CRET-sasl"),
                ("TICKFLOW_CACHE__BATCH_MAXX", "10"),
                ("TICKFLOW_KAFAK__BOOTSTRAP_SERVERS", "b:9092"),
                ("TICKFLOW_CONNECTOR_DIR", "x"),
                ("TICKFLOW_LOG", "debug"),
                ("TICKFLOW_STACK_DIR", "target/stack"),
            ],
        )
        .unwrap_err();
        assert_eq!(
            e.problems,
            [
                "environment: TICKFLOW_CACHE__BATCH_MAXX: [cache] has no key `batch_maxx`; did you mean TICKFLOW_CACHE__BATCH_MAX?",
                "environment: TICKFLOW_CONNECTOR_DIR: no top-level key `connector_dir`; did you mean TICKFLOW_CONNECTORS_DIR?",
                "environment: TICKFLOW_KAFAK__BOOTSTRAP_SERVERS: no section [kafak]; did you mean TICKFLOW_KAFKA__BOOTSTRAP_SERVERS?",
                "environment: TICKFLOW_KAFKA_SASL_PASSWORD: one `_` after the section; did you mean TICKFLOW_KAFKA__SASL_PASSWORD?",
                "t.toml: topics.partitions: must be at least 1",
            ]
        );
        // Even when the file does not parse.
        let e = load("[topics", &[("TICKFLOW_REDIS_URL", "redis://a:b@h")]).unwrap_err();
        assert_eq!(e.problems.len(), 2, "{:?}", e.problems);
        assert!(e.problems[0].ends_with("did you mean TICKFLOW_REDIS__URL?"));
    }

    #[test]
    fn kafka_properties_the_cache_replaces_are_refused() {
        let e = load(
            "[kafka]\n\"group.id\" = \"g\"\n\"auto.offset.reset\" = \"latest\"\n",
            &[("TICKFLOW_KAFKA__ENABLE_AUTO_COMMIT", "false")],
        )
        .unwrap_err();
        assert_eq!(e.problems.len(), 3, "{:?}", e.problems);
        assert!(e.problems[0].starts_with(
            "t.toml: kafka.auto.offset.reset: set by the cache's consumer to earliest"
        ));
        assert!(e.problems[1].starts_with(
            "environment: TICKFLOW_KAFKA__ENABLE_AUTO_COMMIT: kafka.enable.auto.commit: set by"
        ));
        assert!(
            e.problems[2]
                .contains("kafka.group.id: the cache's consumer group is [cache] group_id")
        );
        // gather's clients take client.id.
        let c = load("[kafka]\n\"client.id\" = \"mine\"\n", &[]).unwrap();
        assert_eq!(c.kafka["client.id"], "mine");
    }

    fn shipped() -> (PathBuf, String) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tickflow.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        (path, text)
    }

    /// tickflow.toml shows every key the structs accept (commented out or set), each in its
    /// section; the list comes from the structs ([`schema`]), not from a copy kept here.
    #[test]
    fn the_shipped_file_shows_every_key() {
        let (_, text) = shipped();
        let mut shown = std::collections::BTreeSet::new();
        let mut section = None;
        for line in text.lines() {
            let line = line.trim_start_matches(['#', ' ']);
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.split_once(']')) {
                section = Some(name.0.to_owned());
                shown.insert(name.0.to_owned());
            } else if let Some((key, _)) = line.split_once('=') {
                let key = key.trim().trim_matches('"');
                shown.insert(match &section {
                    Some(s) => format!("{s}.{key}"),
                    None => key.to_owned(),
                });
            }
        }
        let schema = schema();
        let mut missing: Vec<String> = schema.top.clone();
        for (name, keys) in &schema.sections {
            missing.push(name.clone());
            missing.extend(keys.iter().map(|k| format!("{name}.{k}")));
        }
        missing.retain(|k| !shown.contains(k) && !RETIRED.iter().any(|(r, _)| r == k));
        assert!(missing.is_empty(), "tickflow.toml lacks {missing:?}");
        assert!(schema.sections["cache"].contains(&"stall_timeout_ms".to_owned()));
    }

    /// What tickflow.toml sets is the built-in default.
    #[test]
    fn the_shipped_file_states_the_defaults() {
        let (path, text) = shipped();
        let base = path.parent().unwrap();
        let parse_it = |text: &str| {
            let mut problems = Vec::new();
            let env = Vec::<(String, String)>::new();
            let c = parse("t.toml", text, base, env, &mut problems, &mut Vec::new());
            assert!(problems.is_empty(), "{problems:?}");
            c.unwrap()
        };
        assert_eq!(parse_it(&text), parse_it(""));
    }
}
