//! Avro types and decimal changes in the words a BREAK line uses.

use apache_avro::Schema;
use apache_avro::schema::DecimalSchema;

/// A type as a schema author writes it: `long`, `decimal(38,18)`, `array<string>`,
/// `[null, long]`, a named type by its unqualified name.
pub fn type_name(s: &Schema) -> String {
    let simple = match s {
        Schema::Null => "null",
        Schema::Boolean => "boolean",
        Schema::Int => "int",
        Schema::Long => "long",
        Schema::Float => "float",
        Schema::Double => "double",
        Schema::Bytes => "bytes",
        Schema::String => "string",
        Schema::BigDecimal => "big-decimal",
        Schema::Uuid(_) => "uuid",
        Schema::Date => "date",
        Schema::TimeMillis => "time-millis",
        Schema::TimeMicros => "time-micros",
        Schema::TimestampMillis => "timestamp-millis",
        Schema::TimestampMicros => "timestamp-micros",
        Schema::TimestampNanos => "timestamp-nanos",
        Schema::LocalTimestampMillis => "local-timestamp-millis",
        Schema::LocalTimestampMicros => "local-timestamp-micros",
        Schema::LocalTimestampNanos => "local-timestamp-nanos",
        Schema::Duration(_) => "duration",
        Schema::Decimal(d) => return format!("decimal({},{})", d.precision, d.scale),
        Schema::Array(a) => return format!("array<{}>", type_name(&a.items)),
        Schema::Map(m) => return format!("map<{}>", type_name(&m.types)),
        Schema::Union(u) => return format!("[{}]", list(u.variants())),
        Schema::Record(_) | Schema::Enum(_) | Schema::Fixed(_) | Schema::Ref { .. } => {
            return s.name().map(|n| n.name().to_owned()).unwrap_or_default();
        }
    };
    simple.to_owned()
}

/// `null, string`.
pub fn list(schemas: &[Schema]) -> String {
    schemas.iter().map(type_name).collect::<Vec<_>>().join(", ")
}

/// Why a decimal written as `w` does not match the reader's `r`, or `None` when precision and
/// scale agree.
///
/// The Avro specification: two decimal schemas match only if their scales and precisions
/// match; apache-avro follows it, inside unions too (there a mismatched decimal branch leaves
/// only `null` to match, so its verdict is `Partial`). Avro Java's `SchemaCompatibility`, which
/// Confluent's Schema Registry runs for Avro, ignores logical types and accepts these changes:
/// the registry would take a schema this gate refuses.
pub fn decimal(w: &DecimalSchema, r: &DecimalSchema) -> Option<String> {
    let mut parts = Vec::new();
    if w.scale != r.scale {
        // The bytes are the unscaled integer (two's complement); the scale is only in the
        // schema, so a reader applies its own.
        let (power, way) = if w.scale > r.scale {
            (w.scale - r.scale, "large")
        } else {
            (r.scale - w.scale, "small")
        };
        parts.push(format!(
            "decimal scale {} written, the reader expects scale {}: the bytes hold only the unscaled integer, so a reader applying its scale reads every value 10^{power} times too {way}",
            w.scale, r.scale
        ));
    }
    if w.precision != r.precision {
        let consequence = if r.precision < w.precision {
            format!(
                "written values of more than {} digits do not fit",
                r.precision
            )
        } else {
            "every written value fits, but the Avro specification matches decimals only with equal precision and scale".into()
        };
        parts.push(format!(
            "decimal precision {} written, the reader expects precision {}: {consequence}",
            w.precision, r.precision
        ));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}
