//! The Schema Registry: the client ([`client`]), what `tickflow gather` does at start
//! ([`producer_schema_id`]: the id every tick's header carries; [`instrument_schema_id`]: the
//! instrument reference's), and how `tickflow cache` reads the id in every message's header
//! ([`resolver`]; [`instrument`] and [`status`] the instrument reference's and the feed
//! status records'), and why a message is not decoded ([`failure`]: typed reasons).

pub mod client;
pub mod failure;
pub mod instrument;
pub mod record;
pub mod resolver;
pub mod status;

pub use client::{Registry, RegistryError, Verdict, code};
pub use failure::{DecodeFailure, DecodeReason};

use crate::codec::instrument as reference;
use crate::codec::status as feed_status;
use crate::codec::{Format, avro, proto};
use crate::config::{AppConfig, RegistrySettings};
use crate::schemas::Kind;

/// A schema this build compiles, in the configured format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compiled {
    /// `tick`, `instrument` or `status`: the file name in `schemas/<kind>/<name>.vN.*`.
    pub name: &'static str,
    /// Avro or Protobuf.
    pub kind: Kind,
    /// `N` of `<name>.vN`.
    pub version: u32,
    /// The schema text, as registered.
    pub text: &'static str,
    /// Full record/message name (RecordNameStrategy).
    pub record: &'static str,
}

impl Compiled {
    /// The compiled tick schema for `format`.
    pub fn of(format: Format) -> Self {
        match format {
            Format::Avro => Self {
                name: "tick",
                kind: Kind::Avro,
                version: avro::SCHEMA_VERSION,
                text: avro::TICK_AVSC,
                record: avro::RECORD_NAME,
            },
            Format::Proto => Self {
                name: "tick",
                kind: Kind::Protobuf,
                version: proto::SCHEMA_VERSION,
                text: proto::TICK_PROTO,
                record: proto::MESSAGE_NAME,
            },
        }
    }

    /// The compiled instrument reference schema for `format`.
    pub fn instrument(format: Format) -> Self {
        match format {
            Format::Avro => Self {
                name: "instrument",
                kind: Kind::Avro,
                version: reference::SCHEMA_VERSION,
                text: reference::avro::INSTRUMENT_AVSC,
                record: reference::avro::RECORD_NAME,
            },
            Format::Proto => Self {
                name: "instrument",
                kind: Kind::Protobuf,
                version: reference::SCHEMA_VERSION,
                text: reference::proto::INSTRUMENT_PROTO,
                record: reference::proto::MESSAGE_NAME,
            },
        }
    }

    /// The compiled feed status schema for `format`.
    pub fn status(format: Format) -> Self {
        match format {
            Format::Avro => Self {
                name: "status",
                kind: Kind::Avro,
                version: feed_status::SCHEMA_VERSION,
                text: feed_status::avro::STATUS_AVSC,
                record: feed_status::avro::RECORD_NAME,
            },
            Format::Proto => Self {
                name: "status",
                kind: Kind::Protobuf,
                version: feed_status::SCHEMA_VERSION,
                text: feed_status::proto::STATUS_PROTO,
                record: feed_status::proto::MESSAGE_NAME,
            },
        }
    }

    /// Every schema this build writes in `format`, each with the topic whose subject it is
    /// registered under: ticks, the instrument reference, feed status.
    pub fn all(app: &AppConfig) -> [(Self, &str); 3] {
        [
            (Self::of(app.format), app.topics.ticks.as_str()),
            (
                Self::instrument(app.format),
                app.topics.instruments.as_str(),
            ),
            (Self::status(app.format), app.topics.status.as_str()),
        ]
    }
}

/// The subject of the tick value schema for `app`'s topic and format.
pub fn subject(app: &AppConfig, settings: &RegistrySettings) -> String {
    settings
        .strategy
        .subject(&app.topics.ticks, Compiled::of(app.format).record)
}

/// The subject of `compiled` written to `topic` (the configured strategy, as for ticks).
pub fn subject_of(settings: &RegistrySettings, topic: &str, compiled: &Compiled) -> String {
    settings.strategy.subject(topic, compiled.record)
}

/// Why gather does not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The schema is not under the subject and auto-registration is off.
    #[error(
        "schema {name} {kind} v{version} is not registered under subject `{subject}` at schema registry {registry}; register it with `tickflow schemas register` (or set [schema_registry] auto_register = true, for development)"
    )]
    NotRegistered {
        /// `tick` or `instrument`.
        name: &'static str,
        /// Avro or Protobuf.
        kind: &'static str,
        /// The compiled version.
        version: u32,
        /// The subject looked up.
        subject: String,
        /// The registry.
        registry: String,
    },
    /// The registry failed (after the bounded retries when unreachable).
    #[error("looking up subject `{subject}`: {error}")]
    Registry {
        /// The subject looked up.
        subject: String,
        /// What failed.
        error: RegistryError,
    },
}

/// The schema id gather writes into every header: the registry's id of the compiled schema
/// under its subject (registered first when `auto_register`), or, with no registry
/// configured, `[output] schema_id` with one warning that stock deserializers will not
/// resolve it.
pub async fn producer_schema_id(app: &AppConfig) -> Result<u32, StartError> {
    schema_id(app, &app.topics.ticks, Compiled::of(app.format)).await
}

/// The schema id of the instrument reference (`[topics] instruments`), looked up like the
/// tick schema's ([`producer_schema_id`]): refused when not registered unless
/// `auto_register`. Without a registry, `[output] schema_id` too (the cache then reads the
/// compiled schema).
pub async fn instrument_schema_id(app: &AppConfig) -> Result<u32, StartError> {
    schema_id(
        app,
        &app.topics.instruments,
        Compiled::instrument(app.format),
    )
    .await
}

/// The schema id of feed status records (`[topics] status`), looked up like the tick
/// schema's ([`producer_schema_id`]): every gather publishes them.
pub async fn status_schema_id(app: &AppConfig) -> Result<u32, StartError> {
    schema_id(app, &app.topics.status, Compiled::status(app.format)).await
}

async fn schema_id(app: &AppConfig, topic: &str, compiled: Compiled) -> Result<u32, StartError> {
    let Some(settings) = &app.schema_registry else {
        tracing::warn!(
            schema_id = app.schema_id,
            "no [schema_registry] configured: writing the fixed schema id {} from [output] schema_id on {topic}; stock Confluent deserializers will not resolve it",
            app.schema_id
        );
        return Ok(app.schema_id);
    };
    let subject = subject_of(settings, topic, &compiled);
    let failed = |error| StartError::Registry {
        subject: subject.clone(),
        error,
    };
    let registry = Registry::new(settings).map_err(failed)?;
    let found = registry
        .retrying("schema registry lookup", || {
            registry.lookup(&subject, compiled.kind, compiled.text)
        })
        .await
        .map_err(failed)?;
    let id = match found {
        Some(id) => id,
        None if settings.auto_register => {
            let id = registry
                .retrying("schema registration", || {
                    registry.register(&subject, compiled.kind, compiled.text)
                })
                .await
                .map_err(failed)?;
            tracing::warn!(
                id,
                "auto_register: registered schema {} v{} under `{subject}` at {}",
                compiled.name,
                compiled.version,
                registry.name()
            );
            id
        }
        None => {
            return Err(StartError::NotRegistered {
                name: compiled.name,
                kind: compiled.kind.schema_type(),
                version: compiled.version,
                subject,
                registry: registry.name(),
            });
        }
    };
    tracing::info!(
        id,
        "schema {} v{} ({}) is id {id} under `{subject}` at {}",
        compiled.name,
        compiled.version,
        compiled.kind.schema_type(),
        registry.name()
    );
    Ok(id)
}
