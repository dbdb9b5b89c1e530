//! Avro compatibility: apache-avro's check of whether a reader schema can resolve data written
//! with a writer schema (`SchemaCompatibility::can_read`), with every part it flags located and
//! explained ([`locate`]): the field path and the reason.

mod describe;
pub mod locate;

use super::{Break, Family, Level, Unreadable, pairs, parse_all};
use apache_avro::Schema;

/// Every reason `reader` cannot (always) read what `writer` wrote: (field path, reason), in the
/// reader's field order; empty when apache-avro finds the pair fully compatible. The top-level
/// schema itself (a renamed record) is named by its full name.
pub fn incompatibilities(writer: &Schema, reader: &Schema) -> Vec<(String, String)> {
    locate::locate(writer, reader)
        .into_iter()
        .map(|f| {
            let path = if f.path.is_empty() {
                reader
                    .name()
                    .map_or_else(|| "(top level)".to_owned(), |n| n.fullname(None))
            } else {
                f.path
            };
            (path, f.reason)
        })
        .collect()
}

/// The first reason `reader` cannot read what `writer` wrote: (field, reason).
pub fn can_read(writer: &Schema, reader: &Schema) -> Result<(), (String, String)> {
    match incompatibilities(writer, reader).into_iter().next() {
        None => Ok(()),
        Some(first) => Err(first),
    }
}

/// Parses a version, naming the file on failure.
pub fn parse(path: &std::path::Path, text: &str) -> Result<Schema, String> {
    Schema::parse_str(text).map_err(|e| format!("{}: not a valid Avro schema: {e}", path.display()))
}

/// Checks every pair of versions the level asks for: one [`Break`] per incompatible field.
pub fn check(family: &Family, level: Level) -> Result<Vec<Break>, Unreadable> {
    let schemas = parse_all(family, |v| parse(&v.path, &v.text))?;
    let mut breaks = Vec::new();
    for (w, r) in pairs(schemas.len(), level) {
        for (field, reason) in incompatibilities(&schemas[w], &schemas[r]) {
            breaks.push(Break {
                writer: family.versions[w].number,
                reader: family.versions[r].number,
                field,
                reason,
            });
        }
    }
    Ok(breaks)
}

#[cfg(test)]
mod tests;
