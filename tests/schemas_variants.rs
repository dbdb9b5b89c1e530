//! Breaking variants of the newest shipped Avro version (v[`SHIPPED`]), built here from
//! `schemas/avro/tick.vN.avsc` as the next version beside the shipped ones: a union branch
//! change, enum symbols gone from an enum without a default, a decimal scale change inside a
//! null union, and all of them at once.
//! `tickflow schemas check` (the library and the CLI) names every breaking field of every pair
//! with the true reason; apache-avro alone calls most of these "partial" and names nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use tickflow::schemas::{Level, check, discover};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// The newest shipped version (what this build writes).
const SHIPPED: u32 = tickflow::codec::avro::SCHEMA_VERSION;
/// The variant's version.
const NEXT: u32 = SHIPPED + 1;
/// The first version with the `BEST_BID_OFFER` kind.
const BBO_SINCE: u32 = 3;

fn field<'a>(schema: &'a mut Value, name: &str) -> &'a mut Value {
    schema["fields"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|f| f["name"] == name)
        .unwrap()
}

fn sequence_as_string(s: &mut Value) {
    field(s, "sequence")["type"] = serde_json::json!(["null", "string"]);
}

fn kind_without_best_bid_offer_nor_default(s: &mut Value) {
    let t = &mut field(s, "kind")["type"];
    t["symbols"] = serde_json::json!(["UNKNOWN", "TICKER", "TRADE"]);
    t.as_object_mut().unwrap().remove("default");
}

fn exchange_bithumb_renamed_without_default(s: &mut Value) {
    let t = &mut field(s, "exchange")["type"];
    // The shipped symbols (every venue since), one renamed.
    for symbol in t["symbols"].as_array_mut().unwrap() {
        if symbol == "BITHUMB" {
            *symbol = "BITHUMB_KR".into();
        }
    }
    t.as_object_mut().unwrap().remove("default");
}

fn bid_price_scale_8(s: &mut Value) {
    field(s, "bid_price")["type"][1]["scale"] = 8.into();
}

/// A scratch directory with the shipped Avro versions and the next one: the newest changed by
/// `mutate`.
fn with_next(name: &str, mutate: &[fn(&mut Value)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tickflow-variant-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("avro")).unwrap();
    let shipped = Path::new(ROOT).join("schemas/avro");
    // The tick family only (the instrument reference's versions are a family of their own).
    for entry in std::fs::read_dir(&shipped).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name().to_string_lossy().starts_with("tick.") {
            std::fs::copy(entry.path(), dir.join("avro").join(entry.file_name())).unwrap();
        }
    }
    let text = std::fs::read_to_string(shipped.join(format!("tick.v{SHIPPED}.avsc"))).unwrap();
    let mut next: Value = serde_json::from_str(&text).unwrap();
    for m in mutate {
        m(&mut next);
    }
    std::fs::write(
        dir.join(format!("avro/tick.v{NEXT}.avsc")),
        next.to_string(),
    )
    .unwrap();
    dir
}

/// The BREAK lines of the library's check and of the CLI, which must agree.
fn break_lines(dir: &Path) -> Vec<String> {
    let families = discover(dir).unwrap();
    let [family] = families.as_slice() else {
        panic!("one family expected: {families:?}")
    };
    let from_library: Vec<String> = check(family, Level::FULL_TRANSITIVE)
        .unwrap()
        .iter()
        .map(|b| format!("BREAK avro/tick: {b}"))
        .collect();
    let out = Command::new(env!("CARGO_BIN_EXE_tickflow"))
        .args(["schemas", "check", "--dir", dir.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let from_cli: Vec<String> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("  "))
        .map(str::to_owned)
        .collect();
    assert_eq!(from_cli, from_library);
    assert!(
        from_cli.iter().all(|l| !l.contains("(record)")),
        "{from_cli:#?}"
    );
    let _ = std::fs::remove_dir_all(dir);
    from_cli
}

const LONG_TO_STRING: &str = "`sequence`: the writer's union branch `long` has no match among the reader's branches [null, string]";
const STRING_TO_LONG: &str = "`sequence`: the writer's union branch `string` has no match among the reader's branches [null, long]";
const BBO: &str = "`kind`: the writer's enum symbol `BEST_BID_OFFER` is not in the reader's enum `EventKind`, which has no default";
const BITHUMB: &str = "`exchange`: the writer's enum symbol `BITHUMB` is not in the reader's enum `Exchange`, which has no default";
const SCALE_18_TO_8: &str = "`bid_price`: decimal scale 18 written, the reader expects scale 8: the bytes hold only the unscaled integer, so a reader applying its scale reads every value 10^10 times too large";
const SCALE_8_TO_18: &str = "`bid_price`: decimal scale 8 written, the reader expects scale 18: the bytes hold only the unscaled integer, so a reader applying its scale reads every value 10^10 times too small";

/// `BREAK avro/tick: v{reader} cannot read v{writer}: {what}`.
fn line(reader: u32, writer: u32, what: &str) -> String {
    format!("BREAK avro/tick: v{reader} cannot read v{writer}: {what}")
}

#[test]
fn a_union_branch_change_names_the_field_and_the_branch() {
    let lines = break_lines(&with_next("union", &[sequence_as_string]));
    let expected: Vec<String> = (1..=SHIPPED)
        .flat_map(|old| {
            [
                line(NEXT, old, LONG_TO_STRING),
                line(old, NEXT, STRING_TO_LONG),
            ]
        })
        .collect();
    assert_eq!(lines, expected);
}

#[test]
fn enum_symbols_without_a_default_name_the_field_and_the_symbol() {
    // Only v3 and later write BEST_BID_OFFER; the shipped versions read the variant through their
    // UNKNOWN default.
    let lines = break_lines(&with_next(
        "kind",
        &[kind_without_best_bid_offer_nor_default],
    ));
    let expected: Vec<String> = (BBO_SINCE..=SHIPPED)
        .map(|old| line(NEXT, old, BBO))
        .collect();
    assert_eq!(lines, expected);
    let lines = break_lines(&with_next(
        "exchange",
        &[exchange_bithumb_renamed_without_default],
    ));
    let expected: Vec<String> = (1..=SHIPPED).map(|old| line(NEXT, old, BITHUMB)).collect();
    assert_eq!(lines, expected);
}

#[test]
fn a_decimal_scale_change_in_a_null_union_names_the_field_and_the_scales() {
    let lines = break_lines(&with_next("decimal", &[bid_price_scale_8]));
    let expected: Vec<String> = (1..=SHIPPED)
        .flat_map(|old| {
            [
                line(NEXT, old, SCALE_18_TO_8),
                line(old, NEXT, SCALE_8_TO_18),
            ]
        })
        .collect();
    assert_eq!(lines, expected);
}

#[test]
fn every_breaking_field_of_a_pair_gets_its_line() {
    let lines = break_lines(&with_next(
        "all",
        &[
            sequence_as_string,
            kind_without_best_bid_offer_nor_default,
            exchange_bithumb_renamed_without_default,
            bid_price_scale_8,
        ],
    ));
    // In the reader's field order, each pair: the old versions read the variant, it reads
    // them.
    let mut expected = Vec::new();
    for old in 1..=SHIPPED {
        expected.push(line(NEXT, old, BITHUMB));
        if old >= BBO_SINCE {
            expected.push(line(NEXT, old, BBO));
        }
        expected.push(line(NEXT, old, SCALE_18_TO_8));
        expected.push(line(NEXT, old, LONG_TO_STRING));
        expected.push(line(old, NEXT, SCALE_8_TO_18));
        expected.push(line(old, NEXT, STRING_TO_LONG));
    }
    assert_eq!(lines, expected);
}
