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
pub const NOT_SETTINGS: [(&str, &str); 11] = [
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
];

/// The section whose keys are librdkafka properties: any key is one.
const PASS_THROUGH: &str = "kafka";

/// The keys `tickflow.toml` accepts (derived from its structs, see `app::schema`).
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
fn variable(section: Option<&str>, key: &str) -> String {
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
mod tests {
    use super::*;

    fn schema() -> Schema {
        super::super::app::schema()
    }

    fn unknown(name: &str) -> String {
        match schema().classify(name) {
            Variable::Unknown(what) => what,
            other => panic!("{name}: {other:?}"),
        }
    }

    fn setting(name: &str) -> String {
        match schema().classify(name) {
            Variable::Setting(s) => s.path(),
            other => panic!("{name}: {other:?}"),
        }
    }

    /// Kubernetes' service links for Services named `tickflow-cache`, `tickflow-kafka`, ...
    /// are never refused, nor a one-`_` name whose rest is nothing like the section's keys.
    #[test]
    fn kubernetes_service_links_and_unrelated_names_are_left_alone() {
        for name in [
            "TICKFLOW_CACHE_SERVICE_HOST",
            "TICKFLOW_CACHE_SERVICE_PORT",
            "TICKFLOW_CACHE_SERVICE_PORT_HTTP",
            "TICKFLOW_CACHE_PORT",
            "TICKFLOW_CACHE_PORT_9465_TCP",
            "TICKFLOW_CACHE_PORT_9465_TCP_ADDR",
            "TICKFLOW_CACHE_PORT_9465_TCP_PORT",
            "TICKFLOW_CACHE_PORT_9465_TCP_PROTO",
            "TICKFLOW_KAFKA_SERVICE_HOST",
            "TICKFLOW_KAFKA_PORT_9092_TCP_ADDR",
            "TICKFLOW_REDIS_PORT_6379_TCP",
            "TICKFLOW_GATHER_SERVICE_PORT_METRICS",
            "TICKFLOW_CACHE_DIR",
        ] {
            assert_eq!(schema().classify(name), Variable::Other, "{name}");
        }
        assert!(unknown("TICKFLOW_CACHE_BATCH_MAX").contains("TICKFLOW_CACHE__BATCH_MAX"));
        assert!(unknown("TICKFLOW_CACHE_BATCH_MAXX").contains("TICKFLOW_CACHE__BATCH_MAX"));
        assert!(
            unknown("TICKFLOW_KAFKA_BOOTSTRAP_SERVERS")
                .contains("TICKFLOW_KAFKA__BOOTSTRAP_SERVERS")
        );
    }

    #[test]
    fn settings_name_their_keys() {
        assert_eq!(setting("TICKFLOW_CONNECTORS_DIR"), "connectors_dir");
        assert_eq!(
            setting("TICKFLOW_KAFKA__BOOTSTRAP_SERVERS"),
            "kafka.bootstrap.servers"
        );
        assert_eq!(
            setting("TICKFLOW_KAFKA__ANY_PROPERTY"),
            "kafka.any.property"
        );
        assert_eq!(setting("TICKFLOW_CACHE__BATCH_MAX"), "cache.batch_max");
        assert_eq!(
            setting("TICKFLOW_SCHEMA_REGISTRY__BASIC_AUTH_USER_INFO"),
            "schema_registry.basic_auth_user_info"
        );
        // The former name is a setting: validation refuses it with its new name.
        assert_eq!(
            setting("TICKFLOW_GATHER__FLUSH_TIMEOUT_MS"),
            "gather.flush_timeout_ms"
        );
    }

    #[test]
    fn near_misses_name_the_closest_variable() {
        for (name, meant) in [
            (
                "TICKFLOW_KAFKA_BOOTSTRAP_SERVERS",
                "TICKFLOW_KAFKA__BOOTSTRAP_SERVERS",
            ),
            ("TICKFLOW_CACHE__BATCH_MAXX", "TICKFLOW_CACHE__BATCH_MAX"),
            (
                "TICKFLOW_KAFAK__BOOTSTRAP_SERVERS",
                "TICKFLOW_KAFKA__BOOTSTRAP_SERVERS",
            ),
            (
                "TICKFLOW_SCHEMA_REGISTRY_URL",
                "TICKFLOW_SCHEMA_REGISTRY__URL",
            ),
            ("TICKFLOW_CACHE_BATCH_MAXX", "TICKFLOW_CACHE__BATCH_MAX"),
            ("TICKFLOW_CAHCE_BATCH_MAX", "TICKFLOW_CACHE__BATCH_MAX"),
            ("TICKFLOW_KAFAK_LINGER_MS", "TICKFLOW_KAFKA__LINGER_MS"),
            ("TICKFLOW_CAHCE__BATCH_MAXX", "TICKFLOW_CACHE__BATCH_MAX"),
            ("TICKFLOW_CONNECTOR_DIR", "TICKFLOW_CONNECTORS_DIR"),
            ("TICKFLOW_TOPICS__TICK", "TICKFLOW_TOPICS__TICKS"),
            (
                "TICKFLOW_SCHEMA__REGISTRY_URL",
                "TICKFLOW_SCHEMA_REGISTRY__URL",
            ),
        ] {
            let what = unknown(name);
            assert!(
                what.ends_with(&format!("did you mean {meant}?")),
                "{name}: {what}"
            );
        }
        assert_eq!(
            unknown("TICKFLOW_HTTP__NOWHERE"),
            "[http] has no key `nowhere` (its keys: bind)"
        );
        assert!(unknown("TICKFLOW_NOPE__X").starts_with("no section [nope] (sections: cache, "));
        assert!(unknown("TICKFLOW_KAFKA").contains("TICKFLOW_KAFKA__<KEY>"));
        assert!(unknown("TICKFLOW_CONNECTORS_DIR__X").contains("TICKFLOW_CONNECTORS_DIR"));
        assert!(unknown("TICKFLOW_KAFKA__").starts_with("expected"));
    }

    #[test]
    fn other_variables_are_left_alone() {
        for (name, _) in NOT_SETTINGS {
            assert_eq!(schema().classify(name), Variable::Other, "{name}");
        }
        for name in ["PATH", "TICKFLOW_HOME", "TICKFLOW_LOG_LEVEL", "KAFKA__X"] {
            assert_eq!(schema().classify(name), Variable::Other, "{name}");
        }
    }

    /// Misspelt names that docs, help and process tests show being refused.
    const REFUSED_EXAMPLES: [&str; 4] = [
        "TICKFLOW_KAFKA_BOOTSTRAP_SERVERS",
        "TICKFLOW_CACHE__BATCH_MAXX",
        "TICKFLOW_REDIS_URL",
        "TICKFLOW_SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO",
    ];

    /// Every `TICKFLOW_` name a script, test, container file or doc sets or reads is a setting
    /// or one of [`NOT_SETTINGS`] (or shown being refused): nothing in the repository is
    /// refused unawares, and the list is whole. `src/config/` is skipped: its unit tests hold
    /// many misspelt names on purpose.
    #[test]
    fn every_tickflow_variable_in_the_repository_is_known() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        let mut dirs: Vec<_> = ["scripts", "tests", "src", ".ci", "docker", "benches"]
            .iter()
            .map(|d| root.join(d))
            .collect();
        while let Some(dir) = dirs.pop() {
            if dir.ends_with("src/config") {
                continue;
            }
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    dirs.push(path);
                } else {
                    files.push(path);
                }
            }
        }
        files.extend(["README.md", "tickflow.toml"].map(|f| root.join(f)));
        let schema = schema();
        let mut seen = 0;
        for file in files {
            let Ok(text) = std::fs::read_to_string(&file) else {
                continue;
            };
            for (at, _) in text.match_indices(ENV_PREFIX) {
                let name: String = text[at..]
                    .chars()
                    .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                    .collect();
                // Placeholders: `TICKFLOW_<SECTION>__<KEY>`, `TICKFLOW_SCHEMA_REGISTRY__...`.
                if name.ends_with('_') {
                    continue;
                }
                seen += 1;
                if REFUSED_EXAMPLES.contains(&name.as_str()) {
                    assert!(
                        matches!(schema.classify(&name), Variable::Unknown(_)),
                        "{name} is shown as refused but is not"
                    );
                    continue;
                }
                let known = NOT_SETTINGS.iter().any(|(n, _)| *n == name)
                    || matches!(schema.classify(&name), Variable::Setting(_));
                assert!(
                    known,
                    "{}: {name} is neither a setting nor in NOT_SETTINGS",
                    file.display()
                );
            }
        }
        assert!(seen > 100, "only {seen} names found");
    }
}
