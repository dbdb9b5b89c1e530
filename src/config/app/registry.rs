//! `[schema_registry]`: where the Confluent-compatible Schema Registry is, how to authenticate,
//! and how subjects are named (Confluent's subject name strategies).

use super::Problems;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use crate::config::secret::Secret;

/// Bound on each request, ms: 10000.
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;
/// Subject naming: [`SubjectStrategy::TopicNameStrategy`], as Confluent's serializers.
pub const DEFAULT_SUBJECT_NAME_STRATEGY: SubjectStrategy = SubjectStrategy::TopicNameStrategy;
/// Register a missing schema at start: no (for development only).
pub const DEFAULT_AUTO_REGISTER: bool = false;
/// Attempts while the registry is unreachable at start: 5.
pub const DEFAULT_ATTEMPTS: u32 = 5;

/// How the subject of the value schema is named, as in Confluent's serializers
/// (`value.subject.name.strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectStrategy {
    /// `<topic>-value` (the default: [`DEFAULT_SUBJECT_NAME_STRATEGY`]).
    TopicNameStrategy,
    /// `<record full name>`.
    RecordNameStrategy,
    /// `<topic>-<record full name>`.
    TopicRecordNameStrategy,
}

impl SubjectStrategy {
    /// Parses Confluent's class name, short (`TopicNameStrategy`) or fully qualified
    /// (`io.confluent.kafka.serializers.subject.TopicNameStrategy`).
    pub fn parse(name: &str) -> Option<Self> {
        match name.rsplit('.').next().unwrap_or(name) {
            "TopicNameStrategy" => Some(Self::TopicNameStrategy),
            "RecordNameStrategy" => Some(Self::RecordNameStrategy),
            "TopicRecordNameStrategy" => Some(Self::TopicRecordNameStrategy),
            _ => None,
        }
    }

    /// The subject for `topic` and the record's full name.
    pub fn subject(self, topic: &str, record: &str) -> String {
        match self {
            Self::TopicNameStrategy => format!("{topic}-value"),
            Self::RecordNameStrategy => record.to_owned(),
            Self::TopicRecordNameStrategy => format!("{topic}-{record}"),
        }
    }
}

/// One URL or several (tried in order); a string may also list them comma-separated, which is
/// how an environment override gives several.
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[derive(Debug, Deserialize, Serialize)]
#[serde(untagged)]
pub(super) enum Urls {
    One(String),
    Many(Vec<String>),
}

/// `[schema_registry]` as written (`Serialize` only lists its keys, see `app::overrides::schema`).
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RegistryFile {
    /// `http(s)://host:port`, one or more (none: no registry).
    url: Option<Urls>,
    /// Basic auth as Confluent's `basic.auth.user.info`: `user:password`.
    basic_auth_user_info: Option<String>,
    /// Extra CA certificate(s), PEM, trusted besides the bundled roots.
    ca_file: Option<PathBuf>,
    /// Bound on each request, ms (default [`DEFAULT_TIMEOUT_MS`]).
    #[serde(default, deserialize_with = "crate::config::lenient::opt")]
    timeout_ms: Option<u64>,
    /// `TopicNameStrategy`, `RecordNameStrategy` or `TopicRecordNameStrategy` (default
    /// [`DEFAULT_SUBJECT_NAME_STRATEGY`]).
    subject_name_strategy: Option<String>,
    /// Register the schema when it is missing (Confluent's `auto.register.schemas`; for
    /// development, default [`DEFAULT_AUTO_REGISTER`]).
    #[serde(default, deserialize_with = "crate::config::lenient::opt")]
    auto_register: Option<bool>,
    /// Attempts while the registry is unreachable at start (default [`DEFAULT_ATTEMPTS`],
    /// with backoff).
    #[serde(default, deserialize_with = "crate::config::lenient::opt")]
    attempts: Option<u32>,
}

/// Validated registry settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrySettings {
    /// Base URLs, tried in order.
    pub urls: Vec<String>,
    /// `user:password` for basic auth.
    pub user_info: Option<Secret>,
    /// Extra trusted CA certificates (PEM).
    pub ca_file: Option<PathBuf>,
    /// Bound on each request.
    pub timeout: Duration,
    /// Subject naming.
    pub strategy: SubjectStrategy,
    /// Register a missing schema at start.
    pub auto_register: bool,
    /// Attempts while the registry is unreachable at start.
    pub attempts: u32,
}

impl RegistrySettings {
    /// The URLs for messages: credentials a URL carries would be replaced by `***`, but
    /// validation refuses them anyway.
    pub fn display_urls(&self) -> String {
        self.urls.join(",")
    }
}

impl RegistryFile {
    /// Validates the section: `None` when no URL is configured (no registry). Every problem goes
    /// to `p`; a relative `ca_file` is relative to `base`.
    pub(super) fn validate(self, base: &Path, p: &mut Problems<'_>) -> Option<RegistrySettings> {
        let urls = urls_of(self.url, p);
        let user_info = self.basic_auth_user_info.map(Secret::new);
        if let Some(info) = &user_info
            && !info.expose().contains(':')
        {
            p.add(
                "schema_registry.basic_auth_user_info",
                "expected `user:password`",
            );
        }
        let strategy = strategy_of(self.subject_name_strategy.as_deref(), p);
        let timeout_ms = self.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS);
        if timeout_ms == 0 {
            p.add("schema_registry.timeout_ms", "must be at least 1");
        }
        let attempts = self.attempts.unwrap_or(DEFAULT_ATTEMPTS);
        if attempts == 0 {
            p.add("schema_registry.attempts", "must be at least 1");
        }
        let ca_file = self.ca_file.map(|path| {
            if path.is_absolute() {
                path
            } else {
                base.join(path)
            }
        });
        if urls.is_empty() {
            if user_info.is_some() || ca_file.is_some() || self.auto_register == Some(true) {
                p.add(
                    "schema_registry",
                    "settings without a url (set url, or remove the section)",
                );
            }
            return None;
        }
        Some(RegistrySettings {
            urls,
            user_info,
            ca_file,
            timeout: Duration::from_millis(timeout_ms.max(1)),
            strategy,
            auto_register: self.auto_register.unwrap_or(DEFAULT_AUTO_REGISTER),
            attempts: attempts.max(1),
        })
    }
}

/// The base URLs, in order (a string may list several, comma-separated), without trailing
/// `/`; one that is not http(s) or carries credentials is a problem in `p`.
fn urls_of(url: Option<Urls>, p: &mut Problems<'_>) -> Vec<String> {
    let urls: Vec<String> = match url {
        None => Vec::new(),
        Some(Urls::One(s)) => s.split(',').map(|u| u.trim().to_owned()).collect(),
        Some(Urls::Many(v)) => v.into_iter().map(|u| u.trim().to_owned()).collect(),
    };
    let urls: Vec<String> = urls
        .into_iter()
        .filter(|u| !u.is_empty())
        .map(|u| u.trim_end_matches('/').to_owned())
        .collect();
    for u in &urls {
        let rest = u
            .strip_prefix("http://")
            .or_else(|| u.strip_prefix("https://"));
        match rest {
            None => p.add(
                "schema_registry.url",
                format!("`{}` is not an http:// or https:// URL", redact_url(u)),
            ),
            Some(rest) if rest.split('/').next().unwrap_or("").contains('@') => p.add(
                "schema_registry.url",
                format!(
                    "`{}` carries credentials; put them in basic_auth_user_info (or TICKFLOW_SCHEMA_REGISTRY__BASIC_AUTH_USER_INFO)",
                    redact_url(u)
                ),
            ),
            Some(_) => {}
        }
    }
    urls
}

/// The strategy named by `subject_name_strategy` ([`DEFAULT_SUBJECT_NAME_STRATEGY`] when
/// unset or unknown; unknown is a problem in `p`).
fn strategy_of(name: Option<&str>, p: &mut Problems<'_>) -> SubjectStrategy {
    let Some(name) = name else {
        return DEFAULT_SUBJECT_NAME_STRATEGY;
    };
    SubjectStrategy::parse(name).unwrap_or_else(|| {
        p.add(
            "schema_registry.subject_name_strategy",
            format!(
                "`{name}` is not TopicNameStrategy, RecordNameStrategy or TopicRecordNameStrategy"
            ),
        );
        DEFAULT_SUBJECT_NAME_STRATEGY
    })
}

pub use crate::config::secret::redact_url;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strategies_name_subjects_like_confluent() {
        let s = |n: &str| SubjectStrategy::parse(n).unwrap();
        assert_eq!(
            s("TopicNameStrategy").subject("ticks.v1", "io.tickflow.v1.Tick"),
            "ticks.v1-value"
        );
        assert_eq!(
            s("io.confluent.kafka.serializers.subject.RecordNameStrategy")
                .subject("ticks.v1", "io.tickflow.v1.Tick"),
            "io.tickflow.v1.Tick"
        );
        assert_eq!(
            s("TopicRecordNameStrategy").subject("ticks.v1", "io.tickflow.v1.Tick"),
            "ticks.v1-io.tickflow.v1.Tick"
        );
        assert!(SubjectStrategy::parse("Topic").is_none());
    }

    #[test]
    fn secrets_and_urls_are_redacted() {
        let s = Secret::new("user:hunter2");
        assert!(!format!("{s:?} {s}").contains("hunter2"));
        assert_eq!(
            redact_url("https://u:p@sr.example:8081/x"),
            "https://***@sr.example:8081/x"
        );
        assert_eq!(redact_url("http://sr:8081"), "http://sr:8081");
    }
}
