//! Protobuf compatibility on compiled descriptors (protox, no `protoc`), by Confluent's
//! Protobuf rules plus the reservation rule every Protobuf style guide asks for:
//!
//! - a message or enum of the older version still exists (same full name, so same package);
//! - a field number keeps its type (scalar kind, or the named message/enum) and its label
//!   (repeated or not);
//! - a removed field number (and name) is `reserved`, and no new field reuses a reserved one;
//! - several existing fields are not moved together into one oneof (a single field moving
//!   into a oneof is fine, and a one-field `oneof _name` is what proto3 `optional` means);
//! - a removed enum value number is `reserved`.
//!
//! These rules do not depend on the direction of reading, so at a level that checks both
//! directions each pair of versions is reported once.

use super::{Break, Family, Level, Unreadable, pairs, parse_all};
use prost_types::{
    DescriptorProto, EnumDescriptorProto, FieldDescriptorProto, FileDescriptorProto,
    field_descriptor_proto::{Label, Type},
};
use std::collections::BTreeMap;
use std::path::Path;

/// A field as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Field {
    name: String,
    /// `string`, `int64`, or the named type `.pkg.Name`.
    ty: String,
    repeated: bool,
    /// The real oneof it belongs to (not the one-field `_name` presence oneofs).
    oneof: Option<String>,
}

#[derive(Debug, Default)]
struct Message {
    fields: BTreeMap<i32, Field>,
    reserved_numbers: Vec<(i32, i32)>,
    reserved_names: Vec<String>,
}

#[derive(Debug, Default)]
struct Enum {
    values: BTreeMap<i32, String>,
    reserved_numbers: Vec<(i32, i32)>,
}

/// Every message and enum of one file, by full name.
#[derive(Debug, Default)]
pub struct Model {
    messages: BTreeMap<String, Message>,
    enums: BTreeMap<String, Enum>,
    /// Message full names in declaration order at each nesting (Confluent message indexes).
    top_level: Vec<String>,
    nested: BTreeMap<String, Vec<String>>,
}

fn type_name(f: &FieldDescriptorProto) -> String {
    match f.r#type() {
        Type::Message | Type::Group | Type::Enum => f.type_name().to_owned(),
        t => t
            .as_str_name()
            .trim_start_matches("TYPE_")
            .to_ascii_lowercase(),
    }
}

fn add_enum(model: &mut Model, prefix: &str, e: &EnumDescriptorProto) {
    let full = format!("{prefix}.{}", e.name());
    model.enums.insert(
        full,
        Enum {
            values: e
                .value
                .iter()
                .map(|v| (v.number(), v.name().to_owned()))
                .collect(),
            // Enum ranges are inclusive.
            reserved_numbers: e
                .reserved_range
                .iter()
                .map(|r| (r.start(), r.end().saturating_add(1)))
                .collect(),
        },
    );
}

fn add_message(model: &mut Model, prefix: &str, m: &DescriptorProto) -> String {
    let full = format!("{prefix}.{}", m.name());
    let oneof_sizes: Vec<usize> = (0..m.oneof_decl.len())
        .map(|i| {
            m.field
                .iter()
                .filter(|f| f.oneof_index == Some(i as i32))
                .count()
        })
        .collect();
    let mut fields = BTreeMap::new();
    for f in &m.field {
        let oneof = f
            .oneof_index
            .filter(|_| !f.proto3_optional())
            .and_then(|i| {
                let i = usize::try_from(i).ok()?;
                let name = m.oneof_decl.get(i)?.name().to_owned();
                let presence =
                    oneof_sizes.get(i) == Some(&1) && name.strip_prefix('_') == Some(f.name());
                (!presence).then_some(name)
            });
        fields.insert(
            f.number(),
            Field {
                name: f.name().to_owned(),
                ty: type_name(f),
                repeated: f.label() == Label::Repeated,
                oneof,
            },
        );
    }
    let message = Message {
        fields,
        // Message ranges are end-exclusive.
        reserved_numbers: m
            .reserved_range
            .iter()
            .map(|r| (r.start(), r.end()))
            .collect(),
        reserved_names: m.reserved_name.clone(),
    };
    model.messages.insert(full.clone(), message);
    let children: Vec<String> = m
        .nested_type
        .iter()
        .map(|n| add_message(model, &full, n))
        .collect();
    model.nested.insert(full.clone(), children);
    for e in &m.enum_type {
        add_enum(model, &full, e);
    }
    full
}

impl Model {
    /// The rules' view of a compiled file.
    pub fn of(file: &FileDescriptorProto) -> Model {
        let mut model = Model::default();
        let prefix = if file.package().is_empty() {
            String::new()
        } else {
            format!(".{}", file.package())
        };
        model.top_level = file
            .message_type
            .iter()
            .map(|m| add_message(&mut model, &prefix, m))
            .collect();
        for e in &file.enum_type {
            add_enum(&mut model, &prefix, e);
        }
        model
    }

    /// The full name (without the leading dot) of the message at a Confluent message-index
    /// path (`[0]` is the first top-level message, `[1, 0]` the first nested in the second).
    pub fn message_at(&self, indexes: &[i32]) -> Option<String> {
        let (first, rest) = indexes.split_first()?;
        let mut name = self.top_level.get(usize::try_from(*first).ok()?)?;
        for i in rest {
            name = self.nested.get(name)?.get(usize::try_from(*i).ok()?)?;
        }
        Some(name.trim_start_matches('.').to_owned())
    }
}

fn reserved(ranges: &[(i32, i32)], n: i32) -> bool {
    ranges.iter().any(|&(start, end)| n >= start && n < end)
}

/// Everything that breaks between an older and a newer version: (element, reason).
pub fn differences(older: &Model, newer: &Model) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (name, old) in &older.messages {
        let short = name.trim_start_matches('.');
        let Some(new) = newer.messages.get(name) else {
            out.push((short.to_owned(), "message removed".into()));
            continue;
        };
        for (number, f) in &old.fields {
            let at = format!("{short}.{}", f.name);
            match new.fields.get(number) {
                None if reserved(&new.reserved_numbers, *number) => {}
                None => out.push((
                    at,
                    format!(
                        "field {number} removed without `reserved {number};` (a later version could reuse the number with another type)"
                    ),
                )),
                Some(g) => {
                    if g.ty != f.ty {
                        out.push((
                            at.clone(),
                            format!("field {number} changed type from {} to {}", f.ty, g.ty),
                        ));
                    }
                    if g.repeated != f.repeated {
                        out.push((
                            at.clone(),
                            format!("field {number} changed between repeated and singular"),
                        ));
                    }
                    if f.oneof.is_none()
                        && let Some(oneof) = &g.oneof
                    {
                        let moved = new
                            .fields
                            .iter()
                            .filter(|(n, h)| {
                                h.oneof.as_ref() == Some(oneof)
                                    && old.fields.get(n).is_some_and(|o| o.oneof.is_none())
                            })
                            .count();
                        if moved > 1 {
                            out.push((
                                at,
                                format!(
                                    "moved into oneof `{oneof}` together with other existing fields"
                                ),
                            ));
                        }
                    }
                }
            }
        }
        for (number, g) in &new.fields {
            if old.fields.contains_key(number) {
                continue;
            }
            let at = format!("{short}.{}", g.name);
            if reserved(&old.reserved_numbers, *number) {
                out.push((at.clone(), format!("reuses reserved field number {number}")));
            }
            if old.reserved_names.contains(&g.name) {
                out.push((at, format!("reuses reserved field name `{}`", g.name)));
            }
        }
    }
    for (name, old) in &older.enums {
        let short = name.trim_start_matches('.');
        let Some(new) = newer.enums.get(name) else {
            out.push((short.to_owned(), "enum removed".into()));
            continue;
        };
        let used_by = fields_of_type(older, name);
        for (number, value) in &old.values {
            if !new.values.contains_key(number) && !reserved(&new.reserved_numbers, *number) {
                out.push((
                    format!("{short}.{value}"),
                    format!("enum value {number} removed without `reserved {number};`{used_by}"),
                ));
            }
        }
    }
    out
}

/// ` (used by field `p.M.a`, `p.N.b`)`: the fields of `model` whose type is `type_name`, so
/// that a finding on an enum value names the fields that carry it; empty when none does.
fn fields_of_type(model: &Model, type_name: &str) -> String {
    let fields: Vec<String> = model
        .messages
        .iter()
        .flat_map(|(message, m)| {
            m.fields
                .values()
                .filter(|f| f.ty == type_name)
                .map(move |f| format!("`{}.{}`", message.trim_start_matches('.'), f.name))
        })
        .collect();
    match fields.as_slice() {
        [] => String::new(),
        [one] => format!(" (used by field {one})"),
        many => format!(" (used by fields {})", many.join(", ")),
    }
}

/// Field numbers the two versions declare with different types or labels: what would make one
/// decode the other's bytes wrongly (the rest of [`differences`] is evolution hygiene).
pub fn wire_conflicts(writer: &Model, reader: &Model) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (name, w) in &writer.messages {
        let Some(r) = reader.messages.get(name) else {
            continue;
        };
        for (number, f) in &w.fields {
            if let Some(g) = r.fields.get(number)
                && (g.ty != f.ty || g.repeated != f.repeated)
            {
                out.push((
                    format!("{}.{}", name.trim_start_matches('.'), f.name),
                    format!(
                        "field {number} is {}{} in the writer and {}{} here",
                        if f.repeated { "repeated " } else { "" },
                        f.ty,
                        if g.repeated { "repeated " } else { "" },
                        g.ty
                    ),
                ));
            }
        }
    }
    out
}

/// Compiles one `.proto` file from disk (its imports from the same directory).
pub fn compile_file(path: &Path) -> Result<FileDescriptorProto, String> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().unwrap_or_default();
    let fds = protox::compile([name], [dir])
        .map_err(|e| format!("{}: not a valid Protobuf schema: {e}", path.display()))?;
    fds.file
        .into_iter()
        .find(|f| Path::new(f.name()) == Path::new(name))
        .ok_or_else(|| format!("{}: compiled to nothing", path.display()))
}

/// An in-memory file for protox (a schema as a registry returns it).
struct Source {
    name: String,
    text: String,
}

impl protox::file::FileResolver for Source {
    fn open_file(&self, name: &str) -> Result<protox::file::File, protox::Error> {
        if name == self.name {
            protox::file::File::from_source(name, &self.text)
        } else {
            protox::file::GoogleFileResolver::new().open_file(name)
        }
    }
}

/// Compiles schema text (one file without imports beyond Google's well-known types).
pub fn compile_source(text: &str) -> Result<FileDescriptorProto, String> {
    let name = "schema.proto";
    let mut compiler = protox::Compiler::with_file_resolver(Source {
        name: name.into(),
        text: text.into(),
    });
    compiler
        .open_file(name)
        .map_err(|e| format!("not a valid Protobuf schema: {e}"))?;
    compiler
        .file_descriptor_set()
        .file
        .into_iter()
        .find(|f| f.name() == name)
        .ok_or_else(|| "compiled to nothing".into())
}

/// Checks every pair of versions the level asks for (each unordered pair once).
pub fn check(family: &Family, level: Level) -> Result<Vec<Break>, Unreadable> {
    let models = parse_all(family, |v| compile_file(&v.path).map(|f| Model::of(&f)))?;
    let mut seen = Vec::new();
    let mut breaks = Vec::new();
    for (a, b) in pairs(models.len(), level) {
        let (older, newer) = (a.min(b), a.max(b));
        if seen.contains(&(older, newer)) {
            continue;
        }
        seen.push((older, newer));
        for (field, reason) in differences(&models[older], &models[newer]) {
            breaks.push(Break {
                writer: family.versions[older].number,
                reader: family.versions[newer].number,
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

    fn model(body: &str) -> Model {
        let text = format!("syntax = \"proto3\";\npackage p;\n{body}");
        Model::of(&compile_source(&text).unwrap())
    }

    fn diff(a: &str, b: &str) -> Vec<(String, String)> {
        differences(&model(a), &model(b))
    }

    #[test]
    fn optional_and_one_field_oneofs_are_the_same() {
        let optional = "message M { optional string a = 1; int64 b = 2; }";
        let oneof = "message M { oneof _a { string a = 1; } int64 b = 2; }";
        assert!(diff(optional, oneof).is_empty());
        assert!(diff(oneof, optional).is_empty());
    }

    #[test]
    fn type_changes_removals_and_reuse_break() {
        let v1 = "message M { string a = 1; int64 b = 2; }";
        let d = diff(v1, "message M { int64 a = 1; int64 b = 2; }");
        assert_eq!(d[0].0, "p.M.a");
        assert!(d[0].1.contains("from string to int64"), "{d:?}");
        let d = diff(v1, "message M { int64 b = 2; }");
        assert_eq!(d[0].0, "p.M.a");
        assert!(d[0].1.contains("reserved 1"), "{d:?}");
        assert!(diff(v1, "message M { reserved 1; reserved \"a\"; int64 b = 2; }").is_empty());
        let d = diff(
            "message M { reserved 1; int64 b = 2; }",
            "message M { string c = 1; int64 b = 2; }",
        );
        assert!(d[0].1.contains("reuses reserved field number 1"), "{d:?}");
        let d = diff(v1, "message M { oneof x { string a = 1; int64 b = 2; } }");
        assert!(d.iter().any(|(_, r)| r.contains("oneof `x`")), "{d:?}");
        assert_eq!(diff(v1, "message N {}")[0].1, "message removed");
        let d = diff("enum E { A = 0; B = 1; }", "enum E { A = 0; }");
        assert_eq!(d[0].0, "p.E.B");
        assert_eq!(d[0].1, "enum value 1 removed without `reserved 1;`");
        assert!(diff("enum E { A = 0; B = 1; }", "enum E { A = 0; reserved 1; }").is_empty());
    }

    #[test]
    fn enum_and_oneof_findings_name_the_fields() {
        let v3 = "enum K { K_UNKNOWN = 0; K_TRADE = 1; K_BBO = 2; }
            message M { K kind = 1; oneof _seq { int64 seq = 2; } oneof body { string a = 3; int64 b = 4; } }
            message N { repeated K kinds = 1; }";
        let v4 = "enum K { K_UNKNOWN = 0; K_TRADE = 1; }
            message M { K kind = 1; oneof _seq { string seq = 2; } oneof body { string a = 3; string b = 4; } }
            message N { repeated K kinds = 1; }";
        let d = diff(v3, v4);
        let found = |at: &str| d.iter().find(|(f, _)| f == at).map(|(_, r)| r.as_str());
        assert_eq!(
            found("p.K.K_BBO"),
            Some(
                "enum value 2 removed without `reserved 2;` (used by fields `p.M.kind`, `p.N.kinds`)"
            ),
            "{d:?}"
        );
        assert_eq!(
            found("p.M.seq"),
            Some("field 2 changed type from int64 to string")
        );
        assert_eq!(
            found("p.M.b"),
            Some("field 4 changed type from int64 to string")
        );
        assert_eq!(d.len(), 3, "{d:?}");
    }

    #[test]
    fn message_indexes_name_messages() {
        let m = model("message A { message B {} message C {} } message D {}");
        assert_eq!(m.message_at(&[0]).as_deref(), Some("p.A"));
        assert_eq!(m.message_at(&[0, 1]).as_deref(), Some("p.A.C"));
        assert_eq!(m.message_at(&[1]).as_deref(), Some("p.D"));
        assert_eq!(m.message_at(&[2]), None);
        assert_eq!(m.message_at(&[]), None);
    }
}
