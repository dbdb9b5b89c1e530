//! Avro compatibility: apache-avro's check of whether a reader schema can resolve data written
//! with a writer schema (`SchemaCompatibility::can_read`), with its finding turned into the
//! field and the reason.

use super::{Break, Family, Level, Unreadable, pairs, parse_all};
use apache_avro::Schema;
use apache_avro::error::CompatibilityError;
use apache_avro::schema_compatibility::{Compatibility, SchemaCompatibility};

/// Why `reader` cannot read what `writer` wrote: (field, reason).
pub fn can_read(writer: &Schema, reader: &Schema) -> Result<(), (String, String)> {
    match SchemaCompatibility::can_read(writer, reader) {
        Ok(Compatibility::Full) => Ok(()),
        // Some enum symbols or union branches of the writer have no match in the reader.
        Ok(Compatibility::Partial) => Err((
            "(record)".into(),
            "resolution can fail: some of the writer's enum symbols or union branches have no match in the reader, which has no enum default".into(),
        )),
        Err(e) => Err(explain(&e, String::new())),
    }
}

/// The innermost field path and reason of a compatibility error.
fn explain(e: &CompatibilityError, path: String) -> (String, String) {
    let join = |name: &str| {
        if path.is_empty() {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        }
    };
    match e {
        CompatibilityError::FieldTypeMismatch(name, inner) => explain(inner, join(name)),
        CompatibilityError::MissingDefaultValue(name) => (
            join(name),
            "the reader has this field without a default and the writer does not write it".into(),
        ),
        other => (
            if path.is_empty() {
                "(record)".into()
            } else {
                path
            },
            other.to_string(),
        ),
    }
}

/// Parses a version, naming the file on failure.
pub fn parse(path: &std::path::Path, text: &str) -> Result<Schema, String> {
    Schema::parse_str(text).map_err(|e| format!("{}: not a valid Avro schema: {e}", path.display()))
}

/// Checks every pair of versions the level asks for.
pub fn check(family: &Family, level: Level) -> Result<Vec<Break>, Unreadable> {
    let schemas = parse_all(family, |v| parse(&v.path, &v.text))?;
    let mut breaks = Vec::new();
    for (w, r) in pairs(schemas.len(), level) {
        if let Err((field, reason)) = can_read(&schemas[w], &schemas[r]) {
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
mod tests {
    use super::*;

    fn schema(fields: &str) -> Schema {
        Schema::parse_str(&format!(
            r#"{{"type":"record","name":"T","fields":[{fields}]}}"#
        ))
        .unwrap()
    }

    #[test]
    fn findings_name_the_field() {
        let v1 = schema(r#"{"name":"a","type":"long"}"#);
        let added = schema(r#"{"name":"a","type":"long"},{"name":"b","type":"string"}"#);
        let (field, reason) = can_read(&v1, &added).unwrap_err();
        assert_eq!(field, "b");
        assert!(reason.contains("default"), "{reason}");
        let with_default = schema(
            r#"{"name":"a","type":"long"},{"name":"b","type":["null","string"],"default":null}"#,
        );
        assert!(can_read(&v1, &with_default).is_ok());
        assert!(can_read(&with_default, &v1).is_ok());
        let retyped = schema(r#"{"name":"a","type":"string"}"#);
        let (field, _) = can_read(&v1, &retyped).unwrap_err();
        assert_eq!(field, "a");
    }
}
