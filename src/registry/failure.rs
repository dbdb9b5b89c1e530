//! Why a Kafka message was not decoded by the schema id in its header: a typed reason with a
//! stable code, like the gatherer's [`crate::model::Reason`]. The codes are the cache's DLQ
//! `reason` header (under `stage=decode`) and the `reason` label of
//! `tickflow_cache_dead_letters_total`, so they are part of the contract: add new ones, never
//! rename.

use crate::codec::CodecError;
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

#[cfg(test)]
mod tests {
    use super::*;

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
