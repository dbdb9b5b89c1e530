//! Reading `tickflow.toml` with its environment overrides: which variables are settings (the
//! [`schema`], from the file's structs), applying them, naming the variable a bad value came
//! from, and which values are credentials (kept out of every problem).

use super::{AppConfig, AppFile, validate};
use crate::config::env::{Schema, Setting, Variable};
use crate::config::{SecretUrl, secret};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The credentials a configuration holds (to keep them out of its error messages).
fn secrets_of(table: &toml::Table) -> Vec<String> {
    let mut out = Vec::new();
    let text = |v: &toml::Value| v.as_str().map(str::to_owned);
    if let Some(kafka) = table.get("kafka").and_then(toml::Value::as_table) {
        out.extend(
            kafka
                .iter()
                .filter(|(k, _)| secret::is_secret_property(k))
                .filter_map(|(_, v)| text(v)),
        );
    }
    if let Some(url) = table
        .get("redis")
        .and_then(|r| r.get("url"))
        .and_then(toml::Value::as_str)
        && let Some(c) = SecretUrl::new(url).credentials()
    {
        out.push(c.to_owned());
    }
    if let Some(info) = table
        .get("schema_registry")
        .and_then(|r| r.get("basic_auth_user_info"))
        .and_then(toml::Value::as_str)
    {
        out.push(info.to_owned());
        if let Some((_, password)) = info.split_once(':') {
            out.push(password.to_owned());
        }
    }
    // Longest first, so that a password inside user:password is replaced whole.
    out.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out
}

/// Parses `text` (the file `file`, in directory `base`), applies the `env` overrides and
/// validates; every problem goes to `problems`, every credential to `secrets`.
pub(super) fn parse(
    file: &str,
    text: &str,
    base: &Path,
    env: impl IntoIterator<Item = (String, String)>,
    problems: &mut Vec<String>,
    secrets: &mut Vec<String>,
) -> Option<AppConfig> {
    let mut env: Vec<_> = env.into_iter().collect();
    env.sort();
    // (variable, setting, value) of every override; a variable that looks like a setting but
    // names none is a problem even when the file does not parse (its value is never shown).
    let schema = schema();
    let mut overrides = Vec::new();
    for (name, value) in env {
        match schema.classify(&name) {
            Variable::Other => {}
            Variable::Unknown(what) => problems.push(format!("environment: {name}: {what}")),
            Variable::Setting(setting) => overrides.push((name, setting, value)),
        }
    }
    let mut table: toml::Table = match text.parse() {
        Ok(t) => t,
        Err(e) => {
            problems.push(format!("{file}: {}", e.to_string().trim()));
            return None;
        }
    };
    let file_only = table.clone();
    let mut applied = Vec::new();
    for (name, setting, value) in overrides {
        match setting.set(&mut table, &value) {
            Ok(()) => applied.push((name, setting, value)),
            Err(what) => problems.push(format!("environment: {name}: {what}")),
        }
    }
    *secrets = secrets_of(&table);
    let parsed: AppFile = match AppFile::deserialize(table) {
        Ok(p) => p,
        Err(e) => {
            problems.push(blame(file, &file_only, &applied, &e));
            return None;
        }
    };
    let from_env: BTreeMap<String, String> = applied
        .into_iter()
        .map(|(name, setting, _)| (setting.path(), name))
        .collect();
    Some(validate(file, base, parsed, &from_env, problems))
}

/// The keys `tickflow.toml` accepts, from its structs: a default file as JSON holds every key
/// (`null`) in every section, and `[kafka]` as an empty table (it takes any property).
pub(crate) fn schema() -> Schema {
    let mut schema = Schema::default();
    let Ok(serde_json::Value::Object(top)) = serde_json::to_value(AppFile::default()) else {
        return schema;
    };
    for (key, value) in top {
        match value {
            serde_json::Value::Object(section) => {
                schema
                    .sections
                    .insert(key, section.into_iter().map(|(k, _)| k).collect());
            }
            _ => schema.top.push(key),
        }
    }
    schema
}

/// Names where a value that does not deserialize came from: the environment variable when one
/// override alone makes the difference, else the file (with the overrides applied).
fn blame(
    file: &str,
    file_only: &toml::Table,
    applied: &[(String, Setting, String)],
    e: &toml::de::Error,
) -> String {
    let error = e.to_string().trim().to_owned();
    for (i, (name, setting, value)) in applied.iter().enumerate() {
        let path = setting.path();
        let mut without = file_only.clone();
        for (j, (_, other, v)) in applied.iter().enumerate() {
            if j != i {
                let _ = other.set(&mut without, v);
            }
        }
        if AppFile::deserialize(without).is_ok() {
            let shown = if is_secret_setting(&path) {
                "***".to_owned()
            } else {
                format!("`{value}`")
            };
            return format!("environment: {name}={shown} (setting {path}): {error}");
        }
    }
    if applied.is_empty() {
        format!("{file}: {error}")
    } else {
        let names: Vec<&str> = applied.iter().map(|(n, _, _)| n.as_str()).collect();
        format!(
            "{file} with the environment's {}: {error}",
            names.join(", ")
        )
    }
}

/// A setting whose value is a credential (or may carry one).
fn is_secret_setting(path: &str) -> bool {
    match path.split_once('.') {
        Some(("kafka", key)) => secret::is_secret_property(key),
        Some(("redis", "url")) | Some(("schema_registry", "basic_auth_user_info")) => true,
        _ => false,
    }
}
