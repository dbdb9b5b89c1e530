//! Building and reading apache-avro generic values, shared by the records that are not on the
//! hot path (the instrument reference, feed status): enum symbols, optional unions, strings
//! and timestamps read by field name from a writer of any compatible version.

use super::CodecError;
use apache_avro::types::Value;
use std::collections::HashMap;

pub(crate) fn invalid(field: &'static str, detail: impl Into<String>) -> CodecError {
    CodecError::Invalid {
        field,
        detail: detail.into(),
    }
}

pub(crate) fn optional(v: Option<Value>) -> Value {
    match v {
        None => Value::Union(0, Box::new(Value::Null)),
        Some(v) => Value::Union(1, Box::new(v)),
    }
}

pub(crate) fn symbol(index: usize, name: String) -> Value {
    // Index 0 is the default UNKNOWN.
    Value::Enum(u32::try_from(index + 1).unwrap_or(0), name)
}

/// The symbol of an enum value (through a union branch).
pub(crate) fn enum_symbol(v: &Value) -> Option<&str> {
    match v {
        Value::Enum(_, s) => Some(s),
        Value::Union(_, inner) => enum_symbol(inner),
        _ => None,
    }
}

pub(crate) fn unwrap_union(v: Value) -> Value {
    match v {
        Value::Union(_, inner) => unwrap_union(*inner),
        other => other,
    }
}

pub(crate) fn string(
    fields: &mut HashMap<String, Value>,
    field: &'static str,
) -> Result<String, CodecError> {
    match fields.remove(field).map(unwrap_union) {
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(invalid(
            field,
            format!("expected a string, found {other:?}"),
        )),
        None => Err(invalid(field, "missing")),
    }
}

pub(crate) fn micros(
    fields: &mut HashMap<String, Value>,
    field: &'static str,
) -> Result<i64, CodecError> {
    match fields.remove(field).map(unwrap_union) {
        Some(Value::TimestampMicros(n) | Value::Long(n)) => Ok(n),
        Some(Value::TimestampMillis(n)) => n
            .checked_mul(1000)
            .ok_or_else(|| invalid(field, format!("{n} ms is out of range"))),
        Some(other) => Err(invalid(
            field,
            format!("expected a timestamp, found {other:?}"),
        )),
        None => Err(invalid(field, "missing")),
    }
}
