//! Why a Kafka message was not decoded by the schema id in its header: a typed reason with a
//! stable code, like the gatherer's [`crate::model::Reason`]. The codes are the cache's DLQ
//! `reason` header (under `stage=decode`) and the `reason` label of
//! `tickflow_cache_dead_letters_total`, so they are part of the contract: add new ones, never
//! rename.

use super::{Registry, RegistryError};
use crate::codec::CodecError;
use crate::schemas::Kind;
use std::fmt;

/// Stable reason codes of a message that could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DecodeReason {
    /// The bytes are not a message of the schema they name (framing, body or a value).
    Undecodable,
    /// The schema id is not known: the registry does not have it, or no registry is configured
    /// and it is not `[output] schema_id`.
    UnknownSchemaId,
    /// The writer schema cannot be read by the compiled one.
    IncompatibleSchema,
    /// The registry did not answer (a transient failure; the id is asked again next time).
    SchemaUnavailable,
}

impl DecodeReason {
    /// The stable snake_case code.
    pub const fn code(self) -> &'static str {
        match self {
            Self::Undecodable => "undecodable",
            Self::UnknownSchemaId => "unknown_schema_id",
            Self::IncompatibleSchema => "incompatible_schema",
            Self::SchemaUnavailable => "schema_unavailable",
        }
    }

    /// Every reason, in the order the cache's metrics list them.
    pub const ALL: [DecodeReason; 4] = [
        Self::Undecodable,
        Self::UnknownSchemaId,
        Self::IncompatibleSchema,
        Self::SchemaUnavailable,
    ];
}

impl fmt::Display for DecodeReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Why a message was not decoded: the DLQ `reason` and the `error` text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {error}")]
pub struct DecodeFailure {
    /// Which reason.
    pub reason: DecodeReason,
    /// What is wrong.
    pub error: String,
}

impl DecodeFailure {
    /// A failure for `reason`, saying `error`.
    pub fn new(reason: DecodeReason, error: impl Into<String>) -> Self {
        Self {
            reason,
            error: error.into(),
        }
    }
}

impl From<CodecError> for DecodeFailure {
    fn from(e: CodecError) -> Self {
        Self::new(DecodeReason::Undecodable, e.to_string())
    }
}

/// What asking the registry for a writer schema by id came to: the one rule for ticks and for
/// the other records alike.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Lookup {
    /// The writer schema: its kind and text.
    Found(Kind, String),
    /// The id cannot be read ([`DecodeReason::UnknownSchemaId`]); remembered, since asking
    /// again gives the same answer.
    Failed(DecodeFailure),
    /// The registry did not answer ([`DecodeReason::SchemaUnavailable`]); not remembered: the
    /// next message with this id asks again.
    Unavailable(DecodeFailure),
}

impl Lookup {
    /// Asks `registry` for schema `id` (retried like every registry call; `what` names the
    /// attempt in its log lines), blocking the calling thread (a consumer's polling thread).
    pub(super) fn ask(
        registry: &Registry,
        runtime: &tokio::runtime::Handle,
        id: u32,
        what: &str,
    ) -> Self {
        let fetched = runtime.block_on(registry.retrying(what, || registry.schema_by_id(id)));
        Self::of(id, &registry.name(), fetched)
    }

    /// Classifies the registry's answer for `id` (`registry`: its name, for the message).
    fn of(id: u32, registry: &str, fetched: Result<Option<(Kind, String)>, RegistryError>) -> Self {
        match fetched {
            Ok(Some((kind, text))) => Self::Found(kind, text),
            Err(e) if e.transient() => Self::Unavailable(DecodeFailure::new(
                DecodeReason::SchemaUnavailable,
                format!("schema id {id}: {e}"),
            )),
            Err(e) => Self::Failed(DecodeFailure::new(
                DecodeReason::UnknownSchemaId,
                format!("schema id {id}: {e}"),
            )),
            Ok(None) => Self::Failed(DecodeFailure::new(
                DecodeReason::UnknownSchemaId,
                format!("schema id {id} is not known to schema registry {registry}"),
            )),
        }
    }
}

/// Schema `id` read with no registry configured, where only `fixed` (`[output] schema_id`)
/// can be.
pub(super) fn without_registry(id: u32, fixed: u32) -> DecodeFailure {
    DecodeFailure::new(
        DecodeReason::UnknownSchemaId,
        format!(
            "schema id {id}: no [schema_registry] is configured to resolve it, and without one only id {fixed} ([output] schema_id) is read"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lookup_is_remembered_unless_the_registry_did_not_answer() {
        let found = Lookup::of(7, "R", Ok(Some((Kind::Avro, "{}".into()))));
        assert_eq!(found, Lookup::Found(Kind::Avro, "{}".into()));
        let unknown = Lookup::of(7, "http://r:8081", Ok(None));
        assert_eq!(
            unknown,
            Lookup::Failed(DecodeFailure::new(
                DecodeReason::UnknownSchemaId,
                "schema id 7 is not known to schema registry http://r:8081"
            ))
        );
        let down = RegistryError::Unreachable {
            registry: "R".into(),
            detail: "connection refused".into(),
        };
        let Lookup::Unavailable(e) = Lookup::of(7, "R", Err(down)) else {
            panic!("an unreachable registry is transient");
        };
        assert_eq!(e.reason, DecodeReason::SchemaUnavailable);
        assert!(e.error.contains("connection refused"), "{e}");
        for (code, transient) in [(50_001, true), (40_403, false)] {
            let refused = RegistryError::Refused {
                registry: "R".into(),
                code,
                message: "no".into(),
            };
            let reason = match Lookup::of(7, "R", Err(refused)) {
                Lookup::Unavailable(e) => (e.reason, true),
                Lookup::Failed(e) => (e.reason, false),
                Lookup::Found(..) => panic!("an error is not a schema"),
            };
            let expected = if transient {
                DecodeReason::SchemaUnavailable
            } else {
                DecodeReason::UnknownSchemaId
            };
            assert_eq!(reason, (expected, transient), "error_code {code}");
        }
        assert_eq!(
            without_registry(9, 1).to_string(),
            "unknown_schema_id: schema id 9: no [schema_registry] is configured to resolve it, and without one only id 1 ([output] schema_id) is read"
        );
    }

    #[test]
    fn codes_are_stable_and_distinct() {
        let codes: Vec<&str> = DecodeReason::ALL.iter().map(|r| r.code()).collect();
        assert_eq!(
            codes,
            [
                "undecodable",
                "unknown_schema_id",
                "incompatible_schema",
                "schema_unavailable"
            ]
        );
        let failure = DecodeFailure::new(DecodeReason::SchemaUnavailable, "timed out");
        assert_eq!(failure.to_string(), "schema_unavailable: timed out");
    }
}
