//! Where and why a reader schema cannot resolve a writer's data. apache-avro's
//! `SchemaCompatibility::can_read` decides *whether* (and stays the authority on that), but its
//! `Partial` verdict (an enum symbol or a union branch of the writer without a match) names
//! nothing, and its errors stop at the first field. This walk follows both schemas in
//! parallel by Avro's resolution rules, asks apache-avro about every field and union branch,
//! and reports each part it flags, with the reader's field path and the reason.

use super::describe::{decimal, list, type_name};
use apache_avro::Schema;
use apache_avro::error::CompatibilityError;
use apache_avro::schema::{EnumSchema, RecordSchema};
use apache_avro::schema_compatibility::{Compatibility, SchemaCompatibility};
use std::iter::once;

/// One place where resolution fails, or can fail for some values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The reader's field names joined by `.`, with `[]` after an array and `{}` after a map;
    /// empty for the top-level schema itself.
    pub path: String,
    /// What the writer writes there that the reader cannot read.
    pub reason: String,
}

/// Whether apache-avro finds that `reader` resolves every value `writer` can write.
///
/// Its verdict is kept even where it is known to be wrong (0.22): too lenient on decimals, it
/// compares only precision and scale, so a `bytes` decimal read as a `fixed` one (or the
/// reverse), or two `fixed` decimals of different sizes, pass although their encodings differ;
/// too strict on named types, it refuses a reference against a definition of the same type
/// (the `Schema::Ref` case below) and consults no aliases of a renamed record, enum or fixed.
pub fn full(writer: &Schema, reader: &Schema) -> bool {
    matches!(
        SchemaCompatibility::can_read(writer, reader),
        Ok(Compatibility::Full)
    )
}

/// Every part of `reader` where apache-avro finds that data of `writer` cannot (always) be
/// read; empty exactly when apache-avro finds the pair fully compatible.
pub fn locate(writer: &Schema, reader: &Schema) -> Vec<Finding> {
    let mut out = Vec::new();
    if !full(writer, reader) {
        walk(writer, reader, "", &mut out);
    }
    out
}

fn push(out: &mut Vec<Finding>, path: &str, reason: String) {
    out.push(Finding {
        path: path.to_owned(),
        reason,
    });
}

/// A pair apache-avro flags: the reasons found below it, or apache-avro's own words when none
/// of the rules here says why (a divergence this walk does not know; never silent).
fn walk(w: &Schema, r: &Schema, path: &str, out: &mut Vec<Finding>) {
    let before = out.len();
    explain(w, r, path, out);
    if out.len() == before {
        push(out, path, verdict(w, r));
    }
}

fn explain(w: &Schema, r: &Schema, path: &str, out: &mut Vec<Finding>) {
    // apache-avro compares the unqualified names of two named types before anything else, and
    // consults no aliases of named types (Avro Java accepts a reader alias).
    if let (Some(wn), Some(rn)) = (w.name(), r.name())
        && wn.name() != rn.name()
    {
        let reason = format!(
            "the writer's `{}` is read as `{}`: a named type must keep its name",
            wn.name(),
            rn.name()
        );
        return push(out, path, reason);
    }
    match (w, r) {
        (Schema::Union(wu), Schema::Union(ru)) => {
            for wb in wu.variants() {
                if !ru.variants().iter().any(|rb| full(wb, rb)) {
                    branch(wb, ru.variants(), path, "the writer's union branch", out);
                }
            }
        }
        (Schema::Union(wu), _) => {
            for wb in wu.variants().iter().filter(|wb| !full(wb, r)) {
                if comparable(wb, r) {
                    walk(wb, r, path, out);
                } else {
                    let reason = format!(
                        "the writer's union branch `{}` cannot be read as the reader's `{}` (not a union)",
                        type_name(wb),
                        type_name(r)
                    );
                    push(out, path, reason);
                }
            }
        }
        (_, Schema::Union(ru)) => branch(w, ru.variants(), path, "the writer's", out),
        (Schema::Decimal(wd), Schema::Decimal(rd)) => {
            if let Some(reason) = decimal(wd, rd) {
                push(out, path, reason);
            }
        }
        (Schema::Array(wa), Schema::Array(ra)) => {
            walk(&wa.items, &ra.items, &format!("{path}[]"), out);
        }
        (Schema::Map(wm), Schema::Map(rm)) => {
            walk(&wm.types, &rm.types, &format!("{path}{{}}"), out);
        }
        (Schema::Enum(we), Schema::Enum(re)) => symbols(we, re, path, out),
        (Schema::Record(wr), Schema::Record(rr)) => fields(wr, rr, path, out),
        (Schema::Ref { name }, _) | (_, Schema::Ref { name }) => {
            // apache-avro compares a reference (a named type's second use) only with another
            // reference, by name: a definition on one side and a reference on the other is
            // refused even when the two definitions agree. Stricter than the specification.
            let reason = format!(
                "one side refers to the named type `{}` defined elsewhere in its schema while the other defines it here; apache-avro compares a reference only with a reference",
                name.name()
            );
            push(out, path, reason);
        }
        _ => match (fixed_size(w), fixed_size(r)) {
            (Some(ws), Some(rs)) if ws != rs => {
                let reason = format!("fixed size {ws} written, the reader expects size {rs}");
                push(out, path, reason);
            }
            _ => {
                let reason = format!(
                    "written as `{}`, the reader expects `{}`: Avro promotes no `{}` to `{}`",
                    type_name(w),
                    type_name(r),
                    type_name(w),
                    type_name(r)
                );
                push(out, path, reason);
            }
        },
    }
}

/// A writer's type (a union branch, or a whole non-union type) that no reader branch fully
/// reads: the reason inside the one reader branch of the same kind (the same named type, a
/// decimal, an array, a map), else that no branch matches.
fn branch(wb: &Schema, readers: &[Schema], path: &str, who: &str, out: &mut Vec<Finding>) {
    let same: Vec<&Schema> = readers.iter().filter(|rb| comparable(wb, rb)).collect();
    if let [rb] = same.as_slice() {
        return walk(wb, rb, path, out);
    }
    let reason = format!(
        "{who} `{}` has no match among the reader's branches [{}]",
        type_name(wb),
        list(readers)
    );
    push(out, path, reason);
}

/// Two types whose mismatch is best explained from inside (a changed decimal, enum, record,
/// array or map) rather than as "no match".
fn comparable(a: &Schema, b: &Schema) -> bool {
    match (a, b) {
        (Schema::Decimal(_), Schema::Decimal(_))
        | (Schema::Array(_), Schema::Array(_))
        | (Schema::Map(_), Schema::Map(_)) => true,
        (Schema::Enum(x), Schema::Enum(y)) => x.name.name() == y.name.name(),
        (Schema::Record(x), Schema::Record(y)) => x.name.name() == y.name.name(),
        (Schema::Fixed(x), Schema::Fixed(y)) => x.name.name() == y.name.name(),
        _ => false,
    }
}

fn fixed_size(s: &Schema) -> Option<usize> {
    match s {
        Schema::Fixed(f) | Schema::Duration(f) => Some(f.size),
        Schema::Uuid(apache_avro::schema::UuidSchema::Fixed(f)) => Some(f.size),
        _ => None,
    }
}

fn symbols(we: &EnumSchema, re: &EnumSchema, path: &str, out: &mut Vec<Finding>) {
    if re.default.is_some() {
        return;
    }
    let missing: Vec<String> = we
        .symbols
        .iter()
        .filter(|s| !re.symbols.contains(s))
        .map(|s| format!("`{s}`"))
        .collect();
    let reason = match missing.as_slice() {
        [] => return,
        [one] => format!("the writer's enum symbol {one} is not in the reader's enum"),
        many => format!(
            "the writer's enum symbols {} are not in the reader's enum",
            many.join(", ")
        ),
    };
    let reason = format!("{reason} `{}`, which has no default", re.name.name());
    push(out, path, reason);
}

fn fields(wr: &RecordSchema, rr: &RecordSchema, path: &str, out: &mut Vec<Finding>) {
    for rf in &rr.fields {
        let at = if path.is_empty() {
            rf.name.clone()
        } else {
            format!("{path}.{}", rf.name)
        };
        // By name, then by the reader's aliases (as apache-avro and the specification do).
        let wf = once(&rf.name)
            .chain(&rf.aliases)
            .find_map(|n| wr.fields.iter().find(|wf| &wf.name == n));
        match wf {
            Some(wf) if !full(&wf.schema, &rf.schema) => walk(&wf.schema, &rf.schema, &at, out),
            None if rf.default.is_none() => push(
                out,
                &at,
                "the reader has this field without a default and the writer does not write it"
                    .into(),
            ),
            _ => {}
        }
    }
}

/// apache-avro's verdict on a pair, in its own terms.
fn verdict(w: &Schema, r: &Schema) -> String {
    let what = match SchemaCompatibility::can_read(w, r) {
        Ok(Compatibility::Full) => "nothing".to_owned(),
        Ok(Compatibility::Partial) => "resolution can fail for some values".to_owned(),
        Err(e) => innermost(&e),
    };
    format!(
        "apache-avro refuses `{}` written, read as `{}`: {what}",
        type_name(w),
        type_name(r)
    )
}

fn innermost(e: &CompatibilityError) -> String {
    match e {
        CompatibilityError::FieldTypeMismatch(_, inner) => innermost(inner),
        // Its text dumps both schemas whole.
        CompatibilityError::WrongType { .. } => "the types differ".into(),
        other => other.to_string(),
    }
}
