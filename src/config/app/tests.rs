//! Unit tests of `tickflow.toml`: defaults, overrides, every problem at once, the shipped file.

use super::gather::RETIRED;
use super::*;
use std::time::Duration;

fn load(text: &str, env: &[(&str, &str)]) -> Result<AppConfig, ConfigError> {
    let env = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
    let mut problems = Vec::new();
    let c = parse(
        "t.toml",
        text,
        Path::new("/etc/tf"),
        env,
        &mut problems,
        &mut Vec::new(),
    );
    match c {
        Some(c) if problems.is_empty() => Ok(c),
        _ => Err(ConfigError { problems }),
    }
}

#[test]
fn defaults_fill_an_empty_file() {
    let c = load("", &[]).unwrap();
    assert_eq!(c.topics.ticks, "ticks.v1");
    assert_eq!(c.topics.dlq, "ticks.dlq.v1");
    assert_eq!(c.topics.instruments, "instruments.v1");
    assert_eq!(c.format, Format::Avro);
    assert_eq!(c.connectors_dir, Path::new("/etc/tf/connectors"));
    assert!(c.kafka.is_empty());
}

#[test]
fn env_overrides_the_file() {
    let c = load(
        "[kafka]\n\"bootstrap.servers\" = \"a:1\"\n[topics]\nticks = \"x\"\n",
        &[
            ("TICKFLOW_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:9"),
            ("TICKFLOW_KAFKA__LINGER_MS", "7"),
            ("TICKFLOW_TOPICS__TICKS", "ticks.test"),
            ("TICKFLOW_TOPICS__INSTRUMENTS", "instruments.test"),
            ("TICKFLOW_OUTPUT__FORMAT", "proto"),
            ("TICKFLOW_GATHER__QUEUE_FRAMES", "64"),
            ("TICKFLOW_REQUIRE_FASTAVRO", "1"),
            ("PATH", "/bin"),
        ],
    )
    .unwrap();
    assert_eq!(c.kafka["bootstrap.servers"], "127.0.0.1:9");
    assert_eq!(c.kafka["linger.ms"], "7");
    assert_eq!(c.topics.ticks, "ticks.test");
    assert_eq!(c.topics.instruments, "instruments.test");
    assert_eq!(c.format, Format::Proto);
    assert_eq!(c.gather.queue_frames, 64);
}

#[test]
fn every_problem_is_reported_at_once() {
    let e = load(
        "[kafka]\nacks = 1\n\"enable.idempotence\" = false\n[topics]\nticks = \"bad topic\"\n\
         partitions = 0\ninstruments = \"ticks.dlq.v1\"\n[output]\nformat = \"json\"\n[http]\nbind = \"nowhere\"\n",
        &[],
    )
    .unwrap_err();
    let all = e.problems.join("\n");
    for needle in [
        "kafka.acks",
        "kafka.enable.idempotence",
        "topics.ticks",
        "topics.partitions",
        "topics.instruments",
        "output.format",
        "http.bind",
    ] {
        assert!(all.contains(needle), "{needle} missing in:\n{all}");
    }
    assert_eq!(e.problems.len(), 7, "{all}");
}

#[test]
fn schema_registry_section_and_overrides() {
    assert_eq!(load("", &[]).unwrap().schema_registry, None);
    let c = load(
        "[schema_registry]\nurl = [\"https://a:8081/\"]\nsubject_name_strategy = \"RecordNameStrategy\"\n",
        &[
            ("TICKFLOW_SCHEMA_REGISTRY__URL", "http://a:1, http://b:2"),
            ("TICKFLOW_SCHEMA_REGISTRY__BASIC_AUTH_USER_INFO", "key:s3cret"),
            ("TICKFLOW_SCHEMA_REGISTRY__AUTO_REGISTER", "true"),
        ],
    )
    .unwrap();
    let r = c.schema_registry.unwrap();
    assert_eq!(r.urls, ["http://a:1", "http://b:2"]);
    assert_eq!(
        r.strategy,
        super::super::SubjectStrategy::RecordNameStrategy
    );
    assert!(r.auto_register);
    assert_eq!(r.user_info.as_ref().unwrap().expose(), "key:s3cret");
    assert!(!format!("{r:?}").contains("s3cret"));
    let e = load(
        "[schema_registry]\nurl = \"http://u:hunter2@sr:8081\"\nsubject_name_strategy = \"X\"\nbasic_auth_user_info = \"nocolon\"\n",
        &[],
    )
    .unwrap_err();
    let all = e.problems.join("\n");
    assert_eq!(e.problems.len(), 3, "{all}");
    assert!(
        !all.contains("hunter2") && !all.contains("nocolon"),
        "{all}"
    );
    assert!(load("[schema_registry]\nurl = \"ftp://x\"\n", &[]).is_err());
}

#[test]
fn overrides_keep_text_as_written_and_numbers_still_parse() {
    let c = load(
        "[cache]\nbatch_max = 10\n",
        &[
            ("TICKFLOW_KAFKA__SASL_PASSWORD", "0042"),
            ("TICKFLOW_KAFKA__CLIENT_ID", "007"),
            ("TICKFLOW_CACHE__GROUP_ID", "2024"),
            ("TICKFLOW_CACHE__BATCH_WAIT_MS", "35"),
            ("TICKFLOW_TOPICS__CREATE", "false"),
            ("TICKFLOW_REDIS__CLUSTER", "true"),
        ],
    )
    .unwrap();
    assert_eq!(c.kafka["sasl.password"], "0042");
    assert_eq!(c.kafka["client.id"], "007");
    assert_eq!(c.cache.group_id, "2024");
    assert_eq!(c.cache.batch_max, 10, "the file's number");
    assert_eq!(c.cache.batch_wait, Duration::from_millis(35));
    assert!(!c.topics.create && c.redis_cluster);
    let e = load("", &[("TICKFLOW_CACHE__BATCH_MAX", "lots")]).unwrap_err();
    let all = e.problems.join("\n");
    assert!(
        all.contains("TICKFLOW_CACHE__BATCH_MAX") && all.contains("`lots`"),
        "{all}"
    );
}

#[test]
fn unknown_keys_and_sections_are_errors() {
    assert!(load("[topic]\nticks = \"x\"\n", &[]).is_err());
    assert!(load("", &[("TICKFLOW_TOPICS__TICK", "x")]).is_err());
}

#[test]
fn top_level_keys_are_overridden_from_the_environment() {
    let c = load(
        "connectors_dir = \"here\"\n",
        &[("TICKFLOW_CONNECTORS_DIR", "/srv/connectors")],
    )
    .unwrap();
    assert_eq!(c.connectors_dir, Path::new("/srv/connectors"));
    // Relative to the config file, like the key.
    let c = load("", &[("TICKFLOW_CONNECTORS_DIR", "conn")]).unwrap();
    assert_eq!(c.connectors_dir, Path::new("/etc/tf/conn"));
}

/// A variable that looks like a setting but names none is a problem naming the closest real
/// variable, reported with every other problem, its value (maybe a credential) never shown.
#[test]
fn misspelt_variables_name_the_closest_setting() {
    let e = load(
        "[topics]\npartitions = 0\n",
        &[
            ("TICKFLOW_KAFKA_SASL_PASSWORD", "S3CRET-sasl"),
            ("TICKFLOW_CACHE__BATCH_MAXX", "10"),
            ("TICKFLOW_KAFAK__BOOTSTRAP_SERVERS", "b:9092"),
            ("TICKFLOW_CONNECTOR_DIR", "x"),
            ("TICKFLOW_LOG", "debug"),
            ("TICKFLOW_STACK_DIR", "target/stack"),
        ],
    )
    .unwrap_err();
    assert_eq!(
        e.problems,
        [
            "environment: TICKFLOW_CACHE__BATCH_MAXX: [cache] has no key `batch_maxx`; did you mean TICKFLOW_CACHE__BATCH_MAX?",
            "environment: TICKFLOW_CONNECTOR_DIR: no top-level key `connector_dir`; did you mean TICKFLOW_CONNECTORS_DIR?",
            "environment: TICKFLOW_KAFAK__BOOTSTRAP_SERVERS: no section [kafak]; did you mean TICKFLOW_KAFKA__BOOTSTRAP_SERVERS?",
            "environment: TICKFLOW_KAFKA_SASL_PASSWORD: one `_` after the section; did you mean TICKFLOW_KAFKA__SASL_PASSWORD?",
            "t.toml: topics.partitions: must be at least 1",
        ]
    );
    // Even when the file does not parse.
    let e = load("[topics", &[("TICKFLOW_REDIS_URL", "redis://a:b@h")]).unwrap_err();
    assert_eq!(e.problems.len(), 2, "{:?}", e.problems);
    assert!(e.problems[0].ends_with("did you mean TICKFLOW_REDIS__URL?"));
}

#[test]
fn kafka_properties_the_cache_replaces_are_refused() {
    let e = load(
        "[kafka]\n\"group.id\" = \"g\"\n\"auto.offset.reset\" = \"latest\"\n",
        &[("TICKFLOW_KAFKA__ENABLE_AUTO_COMMIT", "false")],
    )
    .unwrap_err();
    assert_eq!(e.problems.len(), 3, "{:?}", e.problems);
    assert!(
        e.problems[0].starts_with(
            "t.toml: kafka.auto.offset.reset: set by the cache's consumer to earliest"
        )
    );
    assert!(e.problems[1].starts_with(
        "environment: TICKFLOW_KAFKA__ENABLE_AUTO_COMMIT: kafka.enable.auto.commit: set by"
    ));
    assert!(
        e.problems[2].contains("kafka.group.id: the cache's consumer group is [cache] group_id")
    );
    // gather's clients take client.id.
    let c = load("[kafka]\n\"client.id\" = \"mine\"\n", &[]).unwrap();
    assert_eq!(c.kafka["client.id"], "mine");
}

fn shipped() -> (PathBuf, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tickflow.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    (path, text)
}

/// tickflow.toml shows every key the structs accept (commented out or set), each in its
/// section; the list comes from the structs ([`schema`]), not from a copy kept here.
#[test]
fn the_shipped_file_shows_every_key() {
    let (_, text) = shipped();
    let mut shown = std::collections::BTreeSet::new();
    let mut section = None;
    for line in text.lines() {
        let line = line.trim_start_matches(['#', ' ']);
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.split_once(']')) {
            section = Some(name.0.to_owned());
            shown.insert(name.0.to_owned());
        } else if let Some((key, _)) = line.split_once('=') {
            let key = key.trim().trim_matches('"');
            shown.insert(match &section {
                Some(s) => format!("{s}.{key}"),
                None => key.to_owned(),
            });
        }
    }
    let schema = schema();
    let mut missing: Vec<String> = schema.top.clone();
    for (name, keys) in &schema.sections {
        missing.push(name.clone());
        missing.extend(keys.iter().map(|k| format!("{name}.{k}")));
    }
    missing.retain(|k| !shown.contains(k) && !RETIRED.iter().any(|(r, _)| r == k));
    assert!(missing.is_empty(), "tickflow.toml lacks {missing:?}");
    assert!(schema.sections["cache"].contains(&"stall_timeout_ms".to_owned()));
}

/// What tickflow.toml sets is the built-in default.
#[test]
fn the_shipped_file_states_the_defaults() {
    let (path, text) = shipped();
    let base = path.parent().unwrap();
    let parse_it = |text: &str| {
        let mut problems = Vec::new();
        let env = Vec::<(String, String)>::new();
        let c = parse("t.toml", text, base, env, &mut problems, &mut Vec::new());
        assert!(problems.is_empty(), "{problems:?}");
        c.unwrap()
    };
    assert_eq!(parse_it(&text), parse_it(""));
}
