//! Environment overrides of `tickflow.toml`: which `TICKFLOW_` variables are settings, the key
//! each one sets, and, for one that looks like a setting but names none, the closest real
//! variable.
//!
//! `TICKFLOW_<KEY>` sets a top-level key (`TICKFLOW_CONNECTORS_DIR`); `TICKFLOW_<SECTION>__<KEY>`
//! a key of a section (`TICKFLOW_CACHE__BATCH_MAX`; in `[kafka]` the key's `_` become `.`). The
//! variables of [`NOT_SETTINGS`] share the prefix and are left alone. Any other variable that
//! looks like a setting is an error naming the variable and the closest real one: a `__` with
//! no such section or key, a section followed by one `_` (`TICKFLOW_KAFKA_BOOTSTRAP_SERVERS`),
//! a misspelt section followed by one `_` and a real key, a misspelt top-level key. What looks
//! like none of these (`TICKFLOW_HOME`) is not tickflow's and is ignored.

use std::collections::BTreeMap;

/// Prefix of every tickflow variable.
pub const ENV_PREFIX: &str = "TICKFLOW_";

/// The `TICKFLOW_` variables that are not settings, with who reads them: never refused. The one
/// list of them (a test checks every `TICKFLOW_` name in the repository is here or a setting).
pub const NOT_SETTINGS: [(&str, &str); 15] = [
    ("TICKFLOW_LOG", "log filter (cli::init_logging)"),
    (
        "TICKFLOW_LOG_FORMAT",
        "text | json log lines (cli::init_logging)",
    ),
    (
        "TICKFLOW_COMMIT",
        "commit for tickflow_build_info, read at build time (src/build.rs, docker/)",
    ),
    ("TICKFLOW_BIN", "scripts/run.sh: a tickflow binary to run"),
    (
        "TICKFLOW_STACK_DIR",
        "scripts/stack.sh, run.sh: the local stack's state",
    ),
    ("TICKFLOW_TANSU", "tests: the tansu broker binary"),
    (
        "TICKFLOW_ADVISORY_DB",
        "scripts/deny.sh: another copy of the RustSec advisory database",
    ),
    (
        "TICKFLOW_DENY_INDEX",
        "scripts/deny.sh: `cached` skips refreshing the crates.io index",
    ),
    (
        "TICKFLOW_BLESS",
        "tests: write docs/config-reference.md from the code (config::reference)",
    ),
    (
        "TICKFLOW_TEST_BROKER_LOG",
        "tests: where the test broker logs",
    ),
    (
        "TICKFLOW_TEST_SCHEMA_REGISTRY_URL",
        "tests: a real Schema Registry instead of the stub",
    ),
    (
        "TICKFLOW_REQUIRE_STACK",
        "tests: fail instead of skip without tansu",
    ),
    (
        "TICKFLOW_REQUIRE_FASTAVRO",
        "tests: fail instead of skip without fastavro",
    ),
    (
        "TICKFLOW_REQUIRE_PYTHON_CLIENTS",
        "tests: fail instead of skip without the Python clients",
    ),
    (
        "TICKFLOW_REQUIRE_NODE_CLIENTS",
        "tests: fail instead of skip without node and the npm clients of tests/node",
    ),
];

/// The section whose keys are librdkafka properties: any key is one.
const PASS_THROUGH: &str = "kafka";

/// The keys `tickflow.toml` accepts (derived from its structs, see `app::overrides::schema`).
#[derive(Debug, Default)]
pub(crate) struct Schema {
    /// Top-level keys (`connectors_dir`).
    pub top: Vec<String>,
    /// Each section's keys (`[kafka]`'s are any property).
    pub sections: BTreeMap<String, Vec<String>>,
}

/// The key a variable sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Setting {
    /// Its section (`None`: a top-level key).
    pub section: Option<String>,
    /// The key as `tickflow.toml` spells it.
    pub key: String,
}

impl Setting {
    /// `section.key` (or the top-level key), as problems name it.
    pub fn path(&self) -> String {
        match &self.section {
            Some(s) => format!("{s}.{}", self.key),
            None => self.key.clone(),
        }
    }

    /// Sets the key in `table` to `value`, as text (numeric settings parse it, string ones keep
    /// it exactly: a password `0042`, a group id `2024`).
    pub fn set(&self, table: &mut toml::Table, value: &str) -> Result<(), String> {
        let value = toml::Value::String(value.to_owned());
        let Some(section) = &self.section else {
            table.insert(self.key.clone(), value);
            return Ok(());
        };
        match table
            .entry(section.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
        {
            toml::Value::Table(t) => {
                t.insert(self.key.clone(), value);
                Ok(())
            }
            _ => Err(format!("`{section}` is not a section")),
        }
    }
}

/// What a variable is to the configuration.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Variable {
    /// Not a setting: another prefix, one of [`NOT_SETTINGS`], or nothing like a setting.
    Other,
    /// A setting.
    Setting(Setting),
    /// Looks like a setting but names none: what is wrong, and the closest real variable.
    Unknown(String),
}

/// The variable that sets `key` (spelt as in `tickflow.toml`) of `section`.
pub(crate) fn variable(section: Option<&str>, key: &str) -> String {
    let key = key.replace('.', "_").to_ascii_uppercase();
    match section {
        Some(s) => format!("{ENV_PREFIX}{}__{key}", s.to_ascii_uppercase()),
        None => format!("{ENV_PREFIX}{key}"),
    }
}

/// Whether `rest` (after `TICKFLOW_`) is one of the variables Kubernetes gives every pod for a
/// Service in its namespace: a Service `tickflow-cache` brings `TICKFLOW_CACHE_SERVICE_HOST`,
/// `TICKFLOW_CACHE_SERVICE_PORT[_<NAME>]`, `TICKFLOW_CACHE_PORT` and
/// `TICKFLOW_CACHE_PORT_<N>_<PROTO>[_ADDR|_PORT|_PROTO]`. Never settings, never refused.
fn is_service_link(rest: &str) -> bool {
    if rest.ends_with("_SERVICE_HOST") || rest.contains("_SERVICE_PORT") || rest.ends_with("_PORT")
    {
        return true;
    }
    let Some((_, tail)) = rest.rsplit_once("_PORT_") else {
        return false;
    };
    let mut parts = tail.split('_');
    let number = parts
        .next()
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    let proto = parts
        .next()
        .is_some_and(|p| matches!(p, "TCP" | "UDP" | "SCTP"));
    let field = match parts.next() {
        None => true,
        Some(f) => matches!(f, "ADDR" | "PORT" | "PROTO") && parts.next().is_none(),
    };
    number && proto && field
}

/// The candidate nearest `word`, if near enough to be what was meant: at most a third of the
/// longer word's letters edited (at least 1, at most 3), a swap of two letters counting one.
fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a String>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::osa_distance(word, c), c.as_str()))
        .filter(|(d, c)| *d <= (word.len().max(c.len()) / 3).clamp(1, 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

impl Schema {
    /// What `name` is; `Unknown` never quotes a value (it may be a credential).
    pub fn classify(&self, name: &str) -> Variable {
        let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
            return Variable::Other;
        };
        if NOT_SETTINGS.iter().any(|(n, _)| *n == name) {
            return Variable::Other;
        }
        let lower = rest.to_ascii_lowercase();
        match lower.split_once("__") {
            Some((section, key)) => self.sectioned(section, key),
            None if is_service_link(rest) => Variable::Other,
            None => self.unsectioned(&lower),
        }
    }

    /// `TICKFLOW_<SECTION>__<KEY>`.
    fn sectioned(&self, section: &str, key: &str) -> Variable {
        if section.is_empty() || key.is_empty() || key.contains("__") {
            return Variable::Unknown(
                "expected TICKFLOW_<SECTION>__<KEY> (or TICKFLOW_<KEY> for a top-level key)".into(),
            );
        }
        let setting = |key: String| {
            Variable::Setting(Setting {
                section: Some(section.to_owned()),
                key,
            })
        };
        match self.sections.get(section) {
            Some(_) if section == PASS_THROUGH => setting(key.replace('_', ".")),
            Some(keys) if keys.iter().any(|k| k == key) => setting(key.to_owned()),
            Some(keys) => Variable::Unknown(match closest(key, keys) {
                Some(near) => format!(
                    "[{section}] has no key `{key}`; did you mean {}?",
                    variable(Some(section), near)
                ),
                None => format!(
                    "[{section}] has no key `{key}` (its keys: {})",
                    keys.join(", ")
                ),
            }),
            None if self.top.iter().any(|k| k == section) => Variable::Unknown(format!(
                "`{section}` is a top-level key, not a section: {}",
                variable(None, section)
            )),
            None => Variable::Unknown(self.no_section(section, key)),
        }
    }

    /// The problem with `TICKFLOW_<SECTION>__<KEY>` for a section that does not exist.
    fn no_section(&self, section: &str, key: &str) -> String {
        // `TICKFLOW_SCHEMA__REGISTRY_URL`: a `__` inside the section's name.
        if let Some(meant) = self.section_prefixed(&format!("{section}_{key}")) {
            return format!("no section [{section}]; did you mean {meant}?");
        }
        match closest(section, self.sections.keys()) {
            Some(near) => format!(
                "no section [{section}]; did you mean {}?",
                variable(Some(near), self.key_in(near, key))
            ),
            None => format!(
                "no section [{section}] (sections: {})",
                self.sections.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        }
    }

    /// `TICKFLOW_<NAME>` without `__`: a top-level key, or a near miss of a setting.
    fn unsectioned(&self, name: &str) -> Variable {
        if self.top.iter().any(|k| k == name) {
            return Variable::Setting(Setting {
                section: None,
                key: name.to_owned(),
            });
        }
        if self.sections.contains_key(name) {
            return Variable::Unknown(format!(
                "[{name}] is a section: set its keys as {}",
                variable(Some(name), "<KEY>")
            ));
        }
        // A section, one `_` and one of its keys (or near one; any key in `[kafka]`):
        // `TICKFLOW_KAFKA_BOOTSTRAP_SERVERS`. A key that is nothing like one of the section's
        // (`TICKFLOW_CACHE_DIR`) is not taken for a setting.
        if let Some(meant) = self
            .section_prefixed(name)
            .filter(|meant| matches!(self.classify(meant), Variable::Setting(_)))
        {
            return Variable::Unknown(format!("one `_` after the section; did you mean {meant}?"));
        }
        // A misspelt section, one `_` and a real key of it (`TICKFLOW_CAHCE_BATCH_MAX`; in
        // `[kafka]` any key: `TICKFLOW_KAFAK_LINGER_MS`).
        for (at, _) in name.match_indices('_') {
            let (section, key) = (&name[..at], &name[at + 1..]);
            let near = self.sections.iter().find(|(s, keys)| {
                strsim::osa_distance(section, s) == 1
                    && (*s == PASS_THROUGH || keys.iter().any(|k| k == key))
            });
            if let Some((near, _)) = near {
                return Variable::Unknown(format!(
                    "no such setting; did you mean {}?",
                    variable(Some(near), key)
                ));
            }
        }
        match closest(name, &self.top) {
            Some(near) => Variable::Unknown(format!(
                "no top-level key `{name}`; did you mean {}?",
                variable(None, near)
            )),
            None => Variable::Other,
        }
    }

    /// The variable meant by `name` that starts with a section and one `_` where `__` belongs;
    /// the longest section first, so that `schema_registry_url` is not read as a section
    /// `schema`.
    fn section_prefixed(&self, name: &str) -> Option<String> {
        let mut sections: Vec<&String> = self.sections.keys().collect();
        sections.sort_by_key(|s| std::cmp::Reverse(s.len()));
        sections.into_iter().find_map(|section| {
            let key = name
                .strip_prefix(section.as_str())?
                .strip_prefix('_')
                .filter(|k| !k.is_empty())?;
            Some(variable(Some(section), self.key_in(section, key)))
        })
    }

    /// `key` if `section` has it (or takes any key), else its nearest key, else `key`.
    fn key_in<'a>(&'a self, section: &str, key: &'a str) -> &'a str {
        match self.sections.get(section) {
            Some(keys) if section != PASS_THROUGH && !keys.iter().any(|k| k == key) => {
                closest(key, keys).unwrap_or(key)
            }
            _ => key,
        }
    }
}

#[cfg(test)]
mod tests;
