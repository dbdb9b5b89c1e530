//! `docs/config-reference.md`, generated from the code: every key of `tickflow.toml` and of a
//! connector file, with its type (from the structs that read them, through `schemars`), its
//! meaning (their doc comments), its default (the `DEFAULT_*` constant a doc comment names,
//! resolved to its value here) and its environment variable; tickflow's librdkafka defaults;
//! and each venue's own defaults and `[options]`, from the venue profiles.
//!
//! The test below renders it and fails when the committed file differs;
//! `TICKFLOW_BLESS=1 cargo test --lib config_reference` writes it. A doc comment naming a
//! `DEFAULT_*` constant the tables below do not resolve fails the test, so a new default
//! cannot reach the page as a bare name.

use super::{app, connector, env};
use crate::exchange::PROFILES;
use crate::kafka::contract;
use serde_json::Value;
use std::fmt::Display;
use std::fmt::Write as _;

/// Where the page lives, from the crate's root.
const PAGE: &str = "docs/config-reference.md";

/// `` `value` `` for a table cell.
fn code(v: impl Display) -> String {
    format!("`{v}`")
}

/// The `DEFAULT_*` constants each struct's doc comments name, with their values.
fn defaults(section: &str) -> Vec<(&'static str, String)> {
    use app::{cache, gather, http, output, redis, registry, topics};
    use connector::{backoff, keepalive, markets};
    match section {
        "" => vec![("DEFAULT_CONNECTORS_DIR", code(app::DEFAULT_CONNECTORS_DIR))],
        "topics" => vec![
            ("DEFAULT_TICKS_TOPIC", code(contract::DEFAULT_TICKS_TOPIC)),
            ("DEFAULT_DLQ_TOPIC", code(contract::DEFAULT_DLQ_TOPIC)),
            (
                "DEFAULT_INSTRUMENTS_TOPIC",
                code(contract::DEFAULT_INSTRUMENTS_TOPIC),
            ),
            ("DEFAULT_STATUS_TOPIC", code(contract::DEFAULT_STATUS_TOPIC)),
            ("DEFAULT_CREATE", code(topics::DEFAULT_CREATE)),
            ("DEFAULT_PARTITIONS", code(topics::DEFAULT_PARTITIONS)),
            (
                "DEFAULT_REPLICATION_FACTOR",
                code(topics::DEFAULT_REPLICATION_FACTOR),
            ),
        ],
        "output" => vec![
            (
                "DEFAULT_FORMAT",
                code(format!("{:?}", output::DEFAULT_FORMAT).to_ascii_lowercase()),
            ),
            ("DEFAULT_SCHEMA_ID", code(output::DEFAULT_SCHEMA_ID)),
        ],
        "http" => vec![("DEFAULT_BIND", code(http::DEFAULT_BIND))],
        "gather" => vec![
            ("DEFAULT_QUEUE_FRAMES", code(gather::DEFAULT_QUEUE_FRAMES)),
            ("DEFAULT_MAX_BLOCK_MS", code(gather::DEFAULT_MAX_BLOCK_MS)),
            (
                "DEFAULT_SHUTDOWN_TIMEOUT_MS",
                code(gather::DEFAULT_SHUTDOWN_TIMEOUT_MS),
            ),
            ("DEFAULT_PROGRESS_SECS", code(gather::DEFAULT_PROGRESS_SECS)),
            (
                "DEFAULT_UNACKED_TIMEOUT_MS",
                code(gather::DEFAULT_UNACKED_TIMEOUT_MS),
            ),
        ],
        "redis" => vec![
            ("DEFAULT_URL", code(redis::DEFAULT_URL)),
            ("DEFAULT_CLUSTER", code(redis::DEFAULT_CLUSTER)),
        ],
        "cache" => vec![
            ("DEFAULT_GROUP_ID", code(cache::DEFAULT_GROUP_ID)),
            ("DEFAULT_BATCH_MAX", code(cache::DEFAULT_BATCH_MAX)),
            ("DEFAULT_BATCH_WAIT_MS", code(cache::DEFAULT_BATCH_WAIT_MS)),
            (
                "DEFAULT_PENDING_KEYS_MAX",
                code(cache::DEFAULT_PENDING_KEYS_MAX),
            ),
            ("DEFAULT_TTL_SECS", code(cache::DEFAULT_TTL_SECS)),
            ("DEFAULT_PREFIX", code(cache::DEFAULT_PREFIX)),
            ("DEFAULT_HTTP_BIND", code(cache::DEFAULT_HTTP_BIND)),
            (
                "DEFAULT_SHUTDOWN_TIMEOUT_MS",
                code(cache::DEFAULT_SHUTDOWN_TIMEOUT_MS),
            ),
            (
                "DEFAULT_STALL_TIMEOUT_MS",
                code(cache::DEFAULT_STALL_TIMEOUT_MS),
            ),
        ],
        "schema_registry" => vec![
            ("DEFAULT_TIMEOUT_MS", code(registry::DEFAULT_TIMEOUT_MS)),
            (
                "DEFAULT_SUBJECT_NAME_STRATEGY",
                code(format!("{:?}", registry::DEFAULT_SUBJECT_NAME_STRATEGY)),
            ),
            (
                "DEFAULT_AUTO_REGISTER",
                code(registry::DEFAULT_AUTO_REGISTER),
            ),
            ("DEFAULT_ATTEMPTS", code(registry::DEFAULT_ATTEMPTS)),
        ],
        "connector" => vec![
            (
                "default_max_frame_bytes",
                code(crate::exchange::AdapterConfig::default_max_frame_bytes()),
            ),
            ("MIN_FRAME_BYTES", code(connector::MIN_FRAME_BYTES)),
        ],
        "markets" => vec![
            ("DEFAULT_REFRESH_SECS", code(markets::DEFAULT_REFRESH_SECS)),
            ("DEFAULT_TIMEOUT_SECS", code(markets::DEFAULT_TIMEOUT_SECS)),
            ("DEFAULT_RETRIES", code(markets::DEFAULT_RETRIES)),
            ("DEFAULT_MAX_DROP", code(markets::DEFAULT_MAX_DROP)),
        ],
        "keepalive" => vec![
            (
                "DEFAULT_IDLE_TIMEOUT_SECS",
                code(keepalive::DEFAULT_IDLE_TIMEOUT_SECS),
            ),
            (
                "DEFAULT_MAKE_BEFORE_BREAK",
                code(keepalive::DEFAULT_MAKE_BEFORE_BREAK),
            ),
        ],
        "backoff" => vec![
            ("DEFAULT_INITIAL_MS", code(backoff::DEFAULT_INITIAL_MS)),
            ("DEFAULT_MAX_MS", code(backoff::DEFAULT_MAX_MS)),
            ("DEFAULT_MULTIPLIER", code(backoff::DEFAULT_MULTIPLIER)),
            ("DEFAULT_JITTER", code(backoff::DEFAULT_JITTER)),
            (
                "DEFAULT_RESET_AFTER_SECS",
                code(backoff::DEFAULT_RESET_AFTER_SECS),
            ),
            (
                "DEFAULT_REFUSAL_RETRY_SECS",
                code(backoff::DEFAULT_REFUSAL_RETRY_SECS),
            ),
        ],
        _ => Vec::new(),
    }
}

/// A doc comment as one line of Markdown: `[`NAME`]` links become the value of a constant
/// the section resolves, else the name as code; the default it states, if any.
fn meaning(section: &str, text: &str) -> (String, Option<String>) {
    let resolved = defaults(section);
    let mut out = String::new();
    let mut default = None;
    let mut rest = text.split_whitespace().collect::<Vec<_>>().join(" ");
    while let Some(at) = rest.find("[`") {
        out.push_str(&rest[..at]);
        let Some(end) = rest[at..].find("`]") else {
            break;
        };
        let path = &rest[at + 2..at + end];
        let name = path.rsplit("::").next().unwrap_or(path);
        match resolved.iter().find(|(n, _)| *n == name) {
            Some((_, value)) => {
                out.push_str(value);
                default.get_or_insert_with(|| value.clone());
            }
            None => {
                assert!(
                    !name.starts_with("DEFAULT_"),
                    "[{section}]: the doc comment names {path}, which reference.rs does not resolve: add it to `defaults`"
                );
                out.push_str(&code(name));
            }
        }
        rest = rest[at + end + 2..].to_owned();
    }
    out.push_str(&rest);
    // Else a default the comment spells out: "(default `0/1`, ...)".
    if default.is_none()
        && let Some(at) = out.find("default `")
        && let Some(end) = out[at + 9..].find('`')
    {
        default = Some(code(&out[at + 9..at + 9 + end]));
    }
    (out.replace('|', "\\|"), default)
}

/// The schema a `$ref` names, or the schema itself.
fn resolve<'a>(root: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => r
            .strip_prefix("#/$defs/")
            .and_then(|name| root["$defs"].get(name))
            .unwrap_or(schema),
        None => schema,
    }
}

/// A value's type in words: `integer`, `string or array of string`, ...
fn type_of(root: &Value, schema: &Value) -> String {
    let schema = resolve(root, schema);
    if let Some(any) = schema.get("anyOf").and_then(Value::as_array) {
        let kinds: Vec<String> = any
            .iter()
            .filter(|s| resolve(root, s)["type"] != "null")
            .map(|s| type_of(root, s))
            .collect();
        return kinds.join(" or ");
    }
    let kinds: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let words: Vec<String> = kinds
        .into_iter()
        .filter(|t| *t != "null")
        .map(|t| match t {
            "array" => format!("array of {}", type_of(root, &schema["items"])),
            "object" => "table".to_owned(),
            "number" => "number".to_owned(),
            other => other.to_owned(),
        })
        .collect();
    if words.is_empty() {
        "any".to_owned()
    } else {
        words.join(" or ")
    }
}

/// One row per key of `object`; `env` names the variable of a key (`None`: none).
fn rows(
    out: &mut String,
    root: &Value,
    object: &Value,
    section: &str,
    env: impl Fn(&str) -> Option<String>,
) {
    out.push_str("| key | type | default | environment variable | meaning |\n");
    out.push_str("|---|---|---|---|---|\n");
    let properties = resolve(root, object)["properties"]
        .as_object()
        .expect("a table has properties");
    for (key, schema) in properties {
        let path = if section.is_empty() {
            key.clone()
        } else {
            format!("{section}.{key}")
        };
        if app::retired(&path).is_some() {
            continue;
        }
        let described = schema
            .get("description")
            .or_else(|| resolve(root, schema).get("description"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let (text, stated) = meaning(section, described);
        let default = stated
            .or_else(|| {
                schema
                    .get("default")
                    .filter(|d| !d.is_null())
                    .map(|d| code(d.to_string().trim_matches('"')))
            })
            .unwrap_or_default();
        let variable = env(key).map(code).unwrap_or_else(|| "—".to_owned());
        let _ = writeln!(
            out,
            "| `{key}` | {} | {default} | {variable} | {text} |",
            type_of(root, schema)
        );
    }
}

/// The whole page.
fn render() -> String {
    let mut out = String::from(
        "# Configuration reference\n\n\
         Generated from the code (`src/config/reference.rs`; CI fails when this page and the code \
         differ; `TICKFLOW_BLESS=1 cargo test --lib config_reference` rewrites it). The guide to \
         configuring tickflow is [configuration.md](configuration.md); this page lists every key.\n\n\
         Environment variables override `tickflow.toml` (never connector files): \
         `TICKFLOW_<KEY>` for a top-level key, `TICKFLOW_<SECTION>__<KEY>` for a key of a \
         section, and in `[kafka]` each `_` of the key stands for a `.` of the librdkafka \
         property. A variable that looks like a setting but names none stops tickflow with the \
         nearest real name.\n\n",
    );
    let app = app::json_schema();
    let app = serde_json::to_value(&app).expect("a schema is JSON");
    out.push_str("## `tickflow.toml`\n\n### Top level\n\n");
    let top: serde_json::Map<String, Value> = app["properties"]
        .as_object()
        .expect("tickflow.toml has keys")
        .iter()
        .filter(|(k, s)| resolve(&app, s).get("properties").is_none() && k.as_str() != "kafka")
        .map(|(k, s)| (k.clone(), s.clone()))
        .collect();
    let top = serde_json::json!({ "properties": top });
    rows(&mut out, &app, &top, "", |k| Some(env::variable(None, k)));
    kafka(&mut out);
    for (section, schema) in app["properties"]
        .as_object()
        .expect("tickflow.toml has keys")
    {
        if resolve(&app, schema).get("properties").is_none() {
            continue;
        }
        let _ = writeln!(out, "\n### `[{section}]`\n");
        rows(&mut out, &app, schema, section, |k| {
            Some(env::variable(Some(section), k))
        });
    }
    out.push_str("\n### Retired keys\n\nRefused at start with what replaced them:\n\n");
    for (path, what) in app::RETIRED_KEYS {
        let _ = writeln!(out, "- `{path}`: {what}.");
    }
    connectors(&mut out);
    out
}

/// `[kafka]`: any librdkafka property, and the ones tickflow sets.
fn kafka(out: &mut String) {
    out.push_str(
        "\n### `[kafka]`\n\n\
         Any librdkafka property (`bootstrap.servers`, `security.protocol`, `sasl.*`, `ssl.*`, \
         ...), given to every Kafka client tickflow makes; environment: \
         `TICKFLOW_KAFKA__<PROPERTY>` with `.` as `_` (`TICKFLOW_KAFKA__BOOTSTRAP_SERVERS`). \
         tickflow's own defaults, which a configured value replaces:\n\n\
         | client | property | tickflow's default |\n|---|---|---|\n",
    );
    for (property, value) in contract::PRODUCER_DEFAULTS {
        let _ = writeln!(out, "| gather's producer | `{property}` | `{value}` |");
    }
    for (property, value) in contract::CACHE_CONSUMER_DEFAULTS {
        let _ = writeln!(out, "| the cache's consumer | `{property}` | `{value}` |");
    }
    out.push_str("\nFixed by tickflow (a configuration that sets one of these is refused at start):\n\n| client | property | value |\n|---|---|---|\n");
    for (property, value, _) in contract::PRODUCER_FIXED {
        let _ = writeln!(out, "| gather's producer | `{property}` | `{value}` |");
    }
    for (property, value, _) in contract::CACHE_CONSUMER_FIXED {
        let _ = writeln!(out, "| the cache's consumer | `{property}` | `{value}` |");
    }
}

/// Connector files: their keys, each venue's defaults and options.
fn connectors(out: &mut String) {
    let file = connector::json_schema();
    let file = serde_json::to_value(&file).expect("a schema is JSON");
    out.push_str(
        "\n## Connector files (`connectors/*.toml`)\n\n\
         One file per connection group; no environment overrides.\n\n### Top level\n\n",
    );
    let tables = ["markets", "keepalive", "backoff", "limits"];
    let top: serde_json::Map<String, Value> = file["properties"]
        .as_object()
        .expect("a connector file has keys")
        .iter()
        .filter(|(k, _)| !tables.contains(&k.as_str()))
        .map(|(k, s)| (k.clone(), s.clone()))
        .collect();
    let top = serde_json::json!({ "properties": top });
    rows(out, &file, &top, "connector", |_| None);
    for table in tables {
        let _ = writeln!(out, "\n### `[{table}]`\n");
        let schema = &file["properties"][table];
        let schema = match schema.get("anyOf").and_then(Value::as_array) {
            Some(any) => any
                .iter()
                .find(|s| s.get("$ref").is_some())
                .unwrap_or(schema),
            None => schema,
        };
        rows(out, &file, schema, table, |_| None);
    }
    venues(out);
}

/// Each venue API's own defaults (what "the profile's" means above) and `[options]`.
fn venues(out: &mut String) {
    out.push_str(
        "\n### Each venue's defaults and `[options]`\n\n\
         | venue | `api` | channels | `ping_interval_secs` | `max_connection_age_secs` | \
         `subscribe_requests_per_sec` | `max_streams_per_connection` | open connections per IP | `[options]` |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for p in PROFILES {
        let channels: Vec<String> = p.channels.iter().map(|c| code(c.name)).collect();
        let ping = match p.keepalive.ping {
            crate::exchange::profile::Ping::ServerDriven => "none (the venue pings)".to_owned(),
            _ => code(p.keepalive.default_ping_secs),
        };
        let age = p
            .keepalive
            .default_connection_age_secs
            .map_or_else(|| "off".to_owned(), code);
        let streams = match p.limits.max_streams_per_connection {
            Some(_) => code(p.limits.stream_cap()),
            None => format!(
                "{} (tickflow's; the venue publishes none)",
                code(p.limits.stream_cap())
            ),
        };
        let open = p
            .limits
            .max_open_connections
            .map_or_else(|| "no cap".to_owned(), code);
        let options: Vec<String> = p
            .options
            .iter()
            .map(|o| {
                let values: Vec<String> = o.values.iter().map(code).collect();
                format!(
                    "`{}`: {} (default `{}`)",
                    o.key,
                    values.join(", "),
                    o.default
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "| {} | `{}` | {} | {ping} | {age} | {} | {streams} | {open} | {} |",
            p.exchange.lowercase(),
            p.api,
            channels.join(", "),
            p.limits.max_requests_per_sec,
            if options.is_empty() {
                "—".to_owned()
            } else {
                options.join("; ")
            },
        );
    }
}

#[test]
fn config_reference_is_current() {
    let text = render();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(PAGE);
    if std::env::var_os("TICKFLOW_BLESS").is_some_and(|v| !v.is_empty()) {
        std::fs::write(&path, &text).expect("write the reference");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == text,
        "{PAGE} is not what the code says: run `TICKFLOW_BLESS=1 cargo test --lib config_reference` and commit the page"
    );
}

#[test]
fn every_key_is_on_the_page() {
    let text = render();
    let schema = app::schema_keys();
    for key in schema.top {
        assert!(text.contains(&format!("| `{key}` |")), "{key}");
    }
    for (section, keys) in schema.sections {
        for key in keys {
            if app::retired(&format!("{section}.{key}")).is_some() {
                continue;
            }
            assert!(
                text.contains(&format!("`{}`", env::variable(Some(&section), &key))),
                "[{section}] {key}"
            );
        }
    }
}

#[test]
fn an_unresolved_default_is_refused() {
    let refused = std::panic::catch_unwind(|| meaning("cache", "(default [`DEFAULT_NOTHING`])"));
    assert!(refused.is_err());
    assert_eq!(
        meaning("cache", "Key prefix (default [`DEFAULT_PREFIX`]).").0,
        "Key prefix (default `px`)."
    );
}

/// A row of the page's key tables: (file, section, key, type, default); `file` is
/// `tickflow.toml` or `connector`, `section` empty for the top level.
fn rows_of(page: &str) -> Vec<(&'static str, String, String, String, String)> {
    let (mut file, mut section) = ("tickflow.toml", String::new());
    let mut out = Vec::new();
    for line in page.lines() {
        if line.starts_with("## Connector files") {
            (file, section) = ("connector", String::new());
        } else if line.starts_with("### Each venue") {
            break;
        } else if let Some(rest) = line.strip_prefix("### `[") {
            section = rest.trim_end_matches("]`").to_owned();
        } else if line.starts_with("### Top level") {
            section.clear();
        } else if let Some(row) = line.strip_prefix("| `") {
            let cells: Vec<&str> = row.splitn(5, " | ").collect();
            if let [key, ty, default, _, _] = cells[..] {
                let key = key.trim_end_matches('`').to_owned();
                out.push((
                    file,
                    section.clone(),
                    key,
                    ty.to_owned(),
                    default.to_owned(),
                ));
            }
        }
    }
    out
}

/// The TOML for a default as the page shows it (`` `5000` `` of type integer: `5000`).
fn toml_of(ty: &str, shown: &str) -> Option<String> {
    let v = shown.strip_prefix('`')?.strip_suffix('`')?;
    Some(match ty {
        "string" => serde_json::Value::String(v.to_owned()).to_string(),
        "number" if !v.contains('.') => format!("{v}.0"),
        "integer" | "number" | "boolean" | "table" | "array of string" => v.to_owned(),
        _ => return None,
    })
}

/// The page's Default column is what the code applies: a file that sets a key to the default
/// the page shows loads to the same configuration as one that leaves the key out.
#[test]
fn the_defaults_shown_are_the_defaults_applied() {
    let dir = std::env::temp_dir().join(format!("tickflow-reference-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let load = |text: &str| {
        let path = dir.join("tickflow.toml");
        std::fs::write(&path, text).expect("write");
        app::load_app_config(&path, false, Vec::new())
    };
    let app_default = load("").expect("an empty tickflow.toml loads");
    let refs = crate::exchange::reference::References::default();
    // The first venue of the registry, and its first channel.
    let profile = PROFILES[0];
    let venue = profile.exchange.lowercase();
    let file = format!("{venue}.toml");
    let connector = |extra: &str, markets: bool| {
        let which = if markets {
            "[markets]\n"
        } else {
            "instruments = [\"BTC-KRW\"]\n"
        };
        let text = format!(
            "exchange = \"{venue}\"\nurl = \"wss://example.invalid/ws\"\nchannels = [\"{}\"]\n{which}{extra}",
            profile.channels[0].name
        );
        connector::load_connector(&file, &text, &refs)
    };
    let mut checked = 0;
    for (file, section, key, ty, shown) in rows_of(&render()) {
        let Some(value) = toml_of(&ty, &shown) else {
            continue;
        };
        // A default spelt with a placeholder (`listings/<connector>.json`): this file's.
        let line = format!("{key} = {}\n", value.replace("<connector>", &venue));
        let table = |s: &str| {
            if s.is_empty() {
                line.clone()
            } else {
                format!("[{s}]\n{line}")
            }
        };
        if file == "tickflow.toml" {
            let set = load(&table(&section));
            assert!(
                set.as_ref() == Ok(&app_default),
                "[{section}] {key} = {value}: the page's default is not the one applied ({set:?})"
            );
        } else {
            let markets = section == "markets";
            let extra = if markets {
                line.clone()
            } else {
                table(&section)
            };
            let base = connector("", markets).expect("a minimal connector loads");
            let set = connector(&extra, markets);
            assert!(
                set.as_ref() == Ok(&base),
                "connector [{section}] {key} = {value}: the page's default is not the one applied"
            );
        }
        checked += 1;
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(checked > 40, "only {checked} defaults checked");
}
