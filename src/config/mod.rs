//! Configuration: `tickflow.toml` for infrastructure ([`app`], with environment overrides) and
//! one `connectors/<name>.toml` per exchange connection. Loading validates
//! everything and reports every problem of every file at once, so a deploy fails with the
//! whole list instead of one error per restart.

pub mod app;
pub mod connector;
pub mod env;
mod lenient;
#[cfg(test)]
mod reference;
pub mod secret;

pub use app::{kafka, registry};

pub use app::{AppConfig, GatherSettings, Topics, load_app_config};
pub use env::NOT_SETTINGS;
pub use registry::{RegistrySettings, SubjectStrategy};
pub use secret::{Secret, SecretUrl, redact_url};

pub use connector::{Backoff, ConnectorConfig, Keepalive, Limits, load_connector, load_connectors};

/// Everything wrong with a configuration, each problem prefixed with where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration ({} problem{}):\n  {}", .problems.len(),
    if .problems.len() == 1 { "" } else { "s" }, .problems.join("\n  "))]
pub struct ConfigError {
    /// One line per problem: `<file>: <field>: <what is wrong>`.
    pub problems: Vec<String>,
}
