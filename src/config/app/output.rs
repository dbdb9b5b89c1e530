//! `[output]`: how tick values are encoded, and the schema id written when no registry is
//! configured.

use super::Problems;
use crate::codec::Format;
use serde::{Deserialize, Serialize};

/// Value format: Avro.
pub const DEFAULT_FORMAT: Format = Format::Avro;
/// Schema id in the Confluent header without a `[schema_registry]`: 1.
pub const DEFAULT_SCHEMA_ID: u32 = 1;

/// `[output]` as written.
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct OutputFile {
    /// `avro` or `proto` (default [`DEFAULT_FORMAT`]).
    format: Option<String>,
    /// Schema id written into each message's Confluent header when no `[schema_registry]` is
    /// configured (default [`DEFAULT_SCHEMA_ID`]); with a registry the id is the registry's.
    #[serde(default, deserialize_with = "crate::config::lenient::opt")]
    schema_id: Option<u32>,
}

impl OutputFile {
    /// The format and the fixed schema id; every problem goes to `p`.
    pub(super) fn validate(&self, p: &mut Problems<'_>) -> (Format, u32) {
        let format = match self.format.as_deref() {
            None => DEFAULT_FORMAT,
            Some("avro") => Format::Avro,
            Some("proto") => Format::Proto,
            Some(other) => {
                p.add(
                    "output.format",
                    format!("`{other}` is not `avro` or `proto`"),
                );
                DEFAULT_FORMAT
            }
        };
        (format, self.schema_id.unwrap_or(DEFAULT_SCHEMA_ID))
    }
}
