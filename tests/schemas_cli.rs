//! `tickflow schemas check` as a CI pipeline runs it: the shipped versions pass at
//! FULL_TRANSITIVE, a deliberately incompatible v5 (tests/fixtures/schemas/broken/) is
//! refused with the offending fields named, unreadable input exits 2, and `--registry` prints
//! the registry's verdict beside the local one.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::registry::{Options, Registry};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_tickflow");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn tickflow(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(ROOT)
        .env_remove("TICKFLOW_SCHEMA_REGISTRY__URL")
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A scratch directory holding the shipped versions plus the files of `extra` (relative to
/// the repository), each at its subdirectory.
fn versions_with(name: &str, extra: &[&str]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tickflow-schemas-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for kind in ["avro", "proto"] {
        std::fs::create_dir_all(dir.join(kind)).unwrap();
        for entry in std::fs::read_dir(Path::new(ROOT).join("schemas").join(kind)).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), dir.join(kind).join(entry.file_name())).unwrap();
        }
    }
    for file in extra {
        let from = Path::new(ROOT).join(file);
        let kind = from.parent().unwrap().file_name().unwrap();
        std::fs::copy(&from, dir.join(kind).join(from.file_name().unwrap())).unwrap();
    }
    dir
}

#[test]
fn the_shipped_versions_are_full_transitive_compatible() {
    let out = tickflow(&["schemas", "check"]);
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(all.contains(&common::compatible_line("avro/tick")), "{all}");
    assert!(
        all.contains(&common::compatible_line("proto/tick")),
        "{all}"
    );
    assert!(all.contains("FULL_TRANSITIVE"), "{all}");
}

#[test]
fn a_breaking_version_is_refused_with_the_fields_named() {
    let dir = versions_with(
        "broken",
        &[
            "tests/fixtures/schemas/broken/avro/tick.v5.avsc",
            "tests/fixtures/schemas/broken/proto/tick.v5.proto",
        ],
    );
    let d = dir.to_str().unwrap();
    let out = tickflow(&["schemas", "check", "--dir", d]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    // Avro: v5 renamed the required `instrument` to `symbol`, both directions break, against
    // v1, v2, v3 and v4 (transitive).
    for line in [
        "BREAK avro/tick: v5 cannot read v1: `symbol`",
        "BREAK avro/tick: v5 cannot read v2: `symbol`",
        "BREAK avro/tick: v5 cannot read v3: `symbol`",
        "BREAK avro/tick: v5 cannot read v4: `symbol`",
        "BREAK avro/tick: v1 cannot read v5: `instrument`",
        "BREAK avro/tick: v4 cannot read v5: `instrument`",
        "`tickflow.v1.Tick.last_price`: field 5 changed type from string to int64",
        "`tickflow.v1.Tick.sequence`: field 21 removed without `reserved 21;`",
        // v5 was derived from v2: what v3 and v4 added is gone.
        "`tickflow.v1.Tick.trade_side`: field 26 removed without `reserved 26;`",
        "`tickflow.v1.EventKind.EVENT_KIND_BEST_BID_OFFER`: enum value 3 removed",
        "BREAK proto/tick: v5 cannot read v4: `tickflow.v1.Tick.sequence_gap`: field 29 removed without `reserved 29;`",
    ] {
        assert!(all.contains(line), "`{line}` missing in:\n{all}");
    }
    assert_eq!(all.matches("BREAK avro/tick").count(), 8, "{all}");
    assert_eq!(all.matches("BREAK proto/tick").count(), 17, "{all}");
    // Not transitive, backward only: the newest against the one before it, one direction.
    let out = tickflow(&["schemas", "check", "--dir", d, "--level", "BACKWARD"]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert_eq!(all.matches("BREAK avro/tick").count(), 1, "{all}");
    assert!(all.contains("v5 cannot read v4: `symbol`"), "{all}");
    // NONE checks nothing.
    let out = tickflow(&["schemas", "check", "--dir", d, "--level", "NONE"]);
    assert!(out.status.success(), "{}", text(&out));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unreadable_input_exits_2() {
    let dir = versions_with("unreadable", &[]);
    std::fs::write(dir.join("avro/tick.v5.avsc"), "{\"type\": \"record\", ").unwrap();
    let out = tickflow(&["schemas", "check", "--dir", dir.to_str().unwrap()]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(
        all.contains("tick.v5.avsc") && all.contains("not a valid Avro schema"),
        "{all}"
    );
    std::fs::write(dir.join("avro/tick.v5.avsc"), "{}").unwrap();
    std::fs::rename(
        dir.join("avro/tick.v5.avsc"),
        dir.join("avro/tick-three.avsc"),
    )
    .unwrap();
    let out = tickflow(&["schemas", "check", "--dir", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("expected <name>.v<N>.avsc"),
        "{}",
        text(&out)
    );
    let out = tickflow(&["schemas", "check", "--dir", "/nonexistent/schemas"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let out = tickflow(&["schemas", "check", "--level", "STRICT"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_registry_verdict_is_printed_beside_the_local_one() {
    let reg = Registry::start(Options::default());
    let topic = if reg.stub {
        "ticks.v1".to_owned()
    } else {
        format!("ticks.v1.cli.{}", std::process::id())
    };
    let with_topic = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .current_dir(ROOT)
            .env("TICKFLOW_TOPICS__TICKS", &topic)
            .output()
            .unwrap()
    };
    // Nothing registered yet: compatible, and said so.
    let out = with_topic(&["schemas", "check", "--registry", &reg.url]);
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(all.contains(&common::compatible_line("avro/tick")), "{all}");
    assert!(
        all.contains(&format!(
            "registry {} (subject `{topic}-value`): compatible",
            reg.url
        )),
        "{all}"
    );
    let out = with_topic(&["schemas", "register", "--registry", &reg.url]);
    assert!(out.status.success(), "{}", text(&out));
    // The broken v5 against the registered v4: refused locally and by the registry, with its
    // reasons.
    let dir = versions_with(
        "registry",
        &["tests/fixtures/schemas/broken/avro/tick.v5.avsc"],
    );
    let out = with_topic(&[
        "schemas",
        "check",
        "--dir",
        dir.to_str().unwrap(),
        "--registry",
        &reg.url,
    ]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("BREAK avro/tick: v5 cannot read v4: `symbol`"),
        "{all}"
    );
    assert!(all.contains("INCOMPATIBLE"), "{all}");
    if reg.stub {
        assert!(all.contains("registry: BACKWARD: field `symbol`"), "{all}");
    }
    // register refuses after a local break, and registers nothing.
    let out = with_topic(&[
        "schemas",
        "register",
        "--dir",
        dir.to_str().unwrap(),
        "--registry",
        &reg.url,
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    if reg.stub {
        assert_eq!(reg.versions(&format!("{topic}-value")).len(), 1);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
