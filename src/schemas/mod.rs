//! The schema compatibility gate behind `tickflow schemas check`: every released version of
//! every schema in a directory (`avro/<name>.vN.avsc`, `proto/<name>.vN.proto`), checked
//! offline at a Confluent compatibility level.
//!
//! - Avro: apache-avro's schema resolution check ([`avro`]).
//! - Protobuf: Confluent's Protobuf rules on the compiled descriptors ([`proto`]).
//!
//! Levels are Confluent's: `BACKWARD` (the newer version reads data of the older), `FORWARD`
//! (the older reads the newer), `FULL` (both), each against the version just before it, or
//! against every earlier version with `_TRANSITIVE`; `NONE` checks nothing.

pub mod avro;
mod file_name;
pub mod proto;

use file_name::versioned_name;

use std::fmt;
use std::path::{Path, PathBuf};

/// A Confluent compatibility level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Level {
    /// The newer version must read data written with the older.
    pub backward: bool,
    /// The older version must read data written with the newer.
    pub forward: bool,
    /// Against every earlier version, not only the one before.
    pub transitive: bool,
}

impl Level {
    /// The default gate: `FULL_TRANSITIVE`.
    pub const FULL_TRANSITIVE: Level = Level {
        backward: true,
        forward: true,
        transitive: true,
    };

    /// Parses a Confluent level name (`BACKWARD`, `FORWARD_TRANSITIVE`, `NONE`, ...; any case).
    pub fn parse(name: &str) -> Option<Level> {
        let upper = name.to_ascii_uppercase();
        let (base, transitive) = match upper.strip_suffix("_TRANSITIVE") {
            Some(base) => (base, true),
            None => (upper.as_str(), false),
        };
        let (backward, forward) = match base {
            "BACKWARD" => (true, false),
            "FORWARD" => (false, true),
            "FULL" => (true, true),
            "NONE" if !transitive => (false, false),
            _ => return None,
        };
        Some(Level {
            backward,
            forward,
            transitive,
        })
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let base = match (self.backward, self.forward) {
            (true, true) => "FULL",
            (true, false) => "BACKWARD",
            (false, true) => "FORWARD",
            (false, false) => return f.write_str("NONE"),
        };
        f.write_str(base)?;
        if self.transitive {
            f.write_str("_TRANSITIVE")?;
        }
        Ok(())
    }
}

/// The two schema languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// `avro/<name>.vN.avsc`.
    Avro,
    /// `proto/<name>.vN.proto`.
    Protobuf,
}

impl Kind {
    /// The subdirectory and the registry's `schemaType` spelling.
    pub const fn dir(self) -> &'static str {
        match self {
            Self::Avro => "avro",
            Self::Protobuf => "proto",
        }
    }

    /// The registry's `schemaType`.
    pub const fn schema_type(self) -> &'static str {
        match self {
            Self::Avro => "AVRO",
            Self::Protobuf => "PROTOBUF",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Self::Avro => "avsc",
            Self::Protobuf => "proto",
        }
    }
}

/// One released version of a schema.
#[derive(Debug, Clone)]
pub struct Version {
    /// `N` of `name.vN.ext`.
    pub number: u32,
    /// The file.
    pub path: PathBuf,
    /// Its text.
    pub text: String,
}

/// Every version of one schema, oldest first.
#[derive(Debug, Clone)]
pub struct Family {
    /// Language.
    pub kind: Kind,
    /// `tick` of `tick.v3.avsc`.
    pub name: String,
    /// Oldest first; numbers strictly increasing.
    pub versions: Vec<Version>,
}

impl Family {
    /// `avro/tick`.
    pub fn label(&self) -> String {
        format!("{}/{}", self.kind.dir(), self.name)
    }

    /// The newest version.
    pub fn latest(&self) -> Option<&Version> {
        self.versions.last()
    }
}

/// Input that cannot be checked (exit code 2): unreadable files, bad names, unparsable
/// schemas.
#[derive(Debug, thiserror::Error)]
#[error("{}", .problems.join("\n"))]
pub struct Unreadable {
    /// Every problem found.
    pub problems: Vec<String>,
}

/// Reads every schema family under `dir` (`avro/` and `proto/`; either may be absent, not
/// both).
pub fn discover(dir: &Path) -> Result<Vec<Family>, Unreadable> {
    let mut problems = Vec::new();
    let mut families: Vec<Family> = Vec::new();
    for kind in [Kind::Avro, Kind::Protobuf] {
        let sub = dir.join(kind.dir());
        let entries = match std::fs::read_dir(&sub) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                problems.push(format!("{}: {e}", sub.display()));
                continue;
            }
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let file = entry.file_name().to_string_lossy().into_owned();
            if !file.ends_with(&format!(".{}", kind.extension())) {
                continue;
            }
            let Some((name, number)) = versioned_name(&file, kind.extension()) else {
                problems.push(format!(
                    "{}: expected <name>.v<N>.{} (N from 1)",
                    path.display(),
                    kind.extension()
                ));
                continue;
            };
            let text = match std::fs::read_to_string(&path) {
                Ok(t) => t,
                Err(e) => {
                    problems.push(format!("{}: {e}", path.display()));
                    continue;
                }
            };
            let version = Version { number, path, text };
            match families
                .iter_mut()
                .find(|f| f.kind == kind && f.name == name)
            {
                Some(f) => f.versions.push(version),
                None => families.push(Family {
                    kind,
                    name,
                    versions: vec![version],
                }),
            }
        }
    }
    for f in &mut families {
        f.versions.sort_by_key(|v| v.number);
    }
    families.sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
    if families.is_empty() && problems.is_empty() {
        problems.push(format!(
            "{}: no schemas (expected avro/<name>.v<N>.avsc or proto/<name>.v<N>.proto)",
            dir.display()
        ));
    }
    if problems.is_empty() {
        Ok(families)
    } else {
        Err(Unreadable { problems })
    }
}

/// One incompatibility between two versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    /// The version whose data must be read.
    pub writer: u32,
    /// The version that must read it.
    pub reader: u32,
    /// The field (or message, enum) at fault, as the schema names it.
    pub field: String,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for Break {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "v{} cannot read v{}: `{}`: {}",
            self.reader, self.writer, self.field, self.reason
        )
    }
}

/// The pairs (writer, reader) of version indexes a level checks, for the newest version of
/// each prefix: every version against the one before it (or every earlier one).
fn pairs(count: usize, level: Level) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for newer in 1..count {
        let first = if level.transitive { 0 } else { newer - 1 };
        for older in first..newer {
            if level.backward {
                out.push((older, newer));
            }
            if level.forward {
                out.push((newer, older));
            }
        }
    }
    out
}

/// Every version of `family` parsed by `parse`, or every version that would not parse.
fn parse_all<T>(
    family: &Family,
    parse: impl Fn(&Version) -> Result<T, String>,
) -> Result<Vec<T>, Unreadable> {
    let mut problems = Vec::new();
    let parsed: Vec<T> = family
        .versions
        .iter()
        .filter_map(|v| parse(v).map_err(|e| problems.push(e)).ok())
        .collect();
    if problems.is_empty() {
        Ok(parsed)
    } else {
        Err(Unreadable { problems })
    }
}

/// Checks every version of `family` at `level`; unparsable versions are [`Unreadable`].
pub fn check(family: &Family, level: Level) -> Result<Vec<Break>, Unreadable> {
    match family.kind {
        Kind::Avro => avro::check(family, level),
        Kind::Protobuf => proto::check(family, level),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_like_confluent() {
        for name in [
            "BACKWARD",
            "BACKWARD_TRANSITIVE",
            "FORWARD",
            "FORWARD_TRANSITIVE",
            "FULL",
            "FULL_TRANSITIVE",
            "NONE",
        ] {
            assert_eq!(Level::parse(name).unwrap().to_string(), name);
        }
        assert_eq!(
            Level::parse("full_transitive"),
            Some(Level::FULL_TRANSITIVE)
        );
        assert!(Level::parse("NONE_TRANSITIVE").is_none());
        assert!(Level::parse("STRICT").is_none());
    }

    #[test]
    fn pairs_follow_the_level() {
        let b = Level::parse("BACKWARD").unwrap();
        assert_eq!(pairs(3, b), [(0, 1), (1, 2)]);
        let bt = Level::parse("BACKWARD_TRANSITIVE").unwrap();
        assert_eq!(pairs(3, bt), [(0, 1), (0, 2), (1, 2)]);
        let f = Level::parse("FORWARD").unwrap();
        assert_eq!(pairs(3, f), [(1, 0), (2, 1)]);
        assert!(pairs(3, Level::parse("NONE").unwrap()).is_empty());
        assert!(pairs(1, Level::FULL_TRANSITIVE).is_empty());
    }

    #[test]
    fn version_names() {
        assert_eq!(
            versioned_name("tick.v3.avsc", "avsc"),
            Some(("tick".into(), 3))
        );
        assert_eq!(
            versioned_name("a.b.v10.proto", "proto"),
            Some(("a.b".into(), 10))
        );
        for bad in ["tick.avsc", "tick.v0.avsc", "tick.vx.avsc", ".v1.avsc"] {
            assert_eq!(versioned_name(bad, "avsc"), None, "{bad}");
        }
    }
}
