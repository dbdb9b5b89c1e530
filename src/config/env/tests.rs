//! Unit tests of the environment overrides: what is a setting, what is refused and what is
//! left alone, and every `TICKFLOW_` name in the repository.

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
        unknown("TICKFLOW_KAFKA_BOOTSTRAP_SERVERS").contains("TICKFLOW_KAFKA__BOOTSTRAP_SERVERS")
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
/// many misspelt names on purpose; so is `tests/node/node_modules` (npm's packages, 170 MB).
#[test]
fn every_tickflow_variable_in_the_repository_is_known() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    let mut dirs: Vec<_> = ["scripts", "tests", "src", ".ci", "docker", "benches"]
        .iter()
        .map(|d| root.join(d))
        .collect();
    while let Some(dir) = dirs.pop() {
        if dir.ends_with("src/config") || dir.ends_with("node_modules") {
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
    files.extend(["README.md", "CHANGELOG.md", "tickflow.toml"].map(|f| root.join(f)));
    // The docs and the deployment: every `*.md` under `docs/`, and the YAML, env and TOML
    // files under `deploy/` (its generated copies of tickflow.toml and the connectors too).
    for (top, extensions) in [
        ("docs", &["md"][..]),
        ("deploy", &["yaml", "yml", "env", "toml"][..]),
    ] {
        let mut dirs = vec![root.join(top)];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path
                    .extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| extensions.contains(&e))
                {
                    files.push(path);
                }
            }
        }
    }
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
