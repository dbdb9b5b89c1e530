//! `tickflow schemas check|register`: the schema compatibility gate, offline, and registering
//! the current schema with the Schema Registry once the gate passes.

use crate::config::AppConfig;
use crate::registry::{Compiled, Registry, Verdict, subject_of};
use crate::schemas::{Family, Level, check, discover};
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const CHECK_AFTER: &str = "\
Checks every released version in DIR (avro/<name>.vN.avsc, proto/<name>.vN.proto) against the
version before it, or against every earlier one with a _TRANSITIVE level: BACKWARD (the newer
reads the older's data), FORWARD (the older reads the newer's), FULL (both), NONE. Avro uses
apache-avro's schema resolution check; Protobuf uses Confluent's rules (a field number keeps its
type and label, a removed number is reserved, a message or enum is never removed, ...). Every
breaking field of every pair is printed on its own BREAK line with the reason; an Avro field is
its path in the reader (`kind`, `inner.e`, `[]` after an array, `{}` after a map).

DIR holds every schema name: tick (topic ticks.v1), instrument (the instrument reference,
topic instruments.v1) and status (feed status, topic feed.status.v1); each name's versions
are checked on their own.

With --registry URL the registry is asked too
(POST /compatibility/subjects/{subject}/versions/latest?verbose=true) for the newest version of
each schema this build writes in the configured [output] format (tick, instrument, status),
under the subject of its topic by [schema_registry] subject_name_strategy (default
TopicNameStrategy: ticks.v1-value, instruments.v1-value, feed.status.v1-value), and each verdict is printed beside the local one.
Credentials come from [schema_registry] basic_auth_user_info
(TICKFLOW_SCHEMA_REGISTRY__BASIC_AUTH_USER_INFO=user:password) and are never printed.

Exit codes: 0 compatible, 1 a breaking change (local or the registry's), 2 unreadable input or
the registry unreachable.

Examples:
  tickflow schemas check
  tickflow schemas check --level BACKWARD --dir schemas
  tickflow schemas check --registry http://127.0.0.1:8081";

const REGISTER_AFTER: &str = "\
Runs `tickflow schemas check` first (exit 1 on a break); then registers the newest version of
each schema this build writes in the configured [output] format (each must be the one this
build compiles): tick under the subject of [topics] ticks (ticks.v1-value), instrument under
the subject of [topics] instruments (instruments.v1-value), status under the subject of
[topics] status (feed.status.v1-value), and prints each id. Registering
the same schema again returns the same id. The registry is [schema_registry] url, or
--registry URL.

Exit codes: 0 registered, 1 a breaking change (nothing registered), 2 unreadable input, no
registry, or the registry refused or could not be reached.

Examples:
  TICKFLOW_SCHEMA_REGISTRY__URL=http://schema-registry:8081 tickflow schemas register
  tickflow schemas register --registry http://127.0.0.1:8081 --config tickflow.toml";

/// `tickflow schemas`.
#[derive(Debug, Args)]
pub struct SchemasArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: Action,
}

/// `check` or `register`.
#[derive(Debug, Subcommand)]
pub enum Action {
    /// Check every released schema version for compatibility (offline; --registry also asks
    /// the registry).
    #[command(after_long_help = CHECK_AFTER)]
    Check(GateArgs),
    /// Check, then register the current schema with the Schema Registry.
    #[command(after_long_help = REGISTER_AFTER)]
    Register(GateArgs),
}

/// Options of both actions.
#[derive(Debug, Args)]
pub struct GateArgs {
    /// Directory of the schema versions.
    #[arg(long, default_value = "schemas")]
    pub dir: PathBuf,
    /// Confluent compatibility level.
    #[arg(long, default_value = "FULL_TRANSITIVE", value_parser = parse_level)]
    pub level: Level,
    /// Schema Registry URL (overrides [schema_registry] url).
    #[arg(long, value_name = "URL")]
    pub registry: Option<String>,
    /// Config file (default ./tickflow.toml when present).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

fn parse_level(s: &str) -> Result<Level, String> {
    Level::parse(s).ok_or_else(|| {
        format!("`{s}` is not BACKWARD, FORWARD or FULL (each optionally _TRANSITIVE) or NONE")
    })
}

/// Runs `tickflow schemas`.
pub fn run(args: &SchemasArgs) -> anyhow::Result<ExitCode> {
    match &args.action {
        Action::Check(a) => gate(a, false),
        Action::Register(a) => gate(a, true),
    }
}

/// The configuration, with `--registry` as the registry URL (as if it were
/// `TICKFLOW_SCHEMA_REGISTRY__URL`).
fn config(args: &GateArgs) -> anyhow::Result<AppConfig> {
    let mut env: Vec<(String, String)> = std::env::vars().collect();
    if let Some(url) = &args.registry {
        env.retain(|(k, _)| k != "TICKFLOW_SCHEMA_REGISTRY__URL");
        env.push(("TICKFLOW_SCHEMA_REGISTRY__URL".into(), url.clone()));
    }
    let (path, optional) = match args.config.as_deref() {
        Some(p) => (p, false),
        None => (Path::new("tickflow.toml"), true),
    };
    Ok(crate::config::load_app_config(path, optional, env)?)
}

fn gate(args: &GateArgs, register: bool) -> anyhow::Result<ExitCode> {
    let families = match discover(&args.dir) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("tickflow: schemas: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    println!("schemas check: {} at {}", args.dir.display(), args.level);
    let mut broken = false;
    for family in &families {
        let numbers: Vec<String> = family
            .versions
            .iter()
            .map(|v| format!("v{}", v.number))
            .collect();
        match check(family, args.level) {
            Err(e) => {
                eprintln!("tickflow: schemas: {e}");
                return Ok(ExitCode::from(2));
            }
            Ok(breaks) if breaks.is_empty() => {
                println!("{}: {}: compatible", family.label(), numbers.join(" "));
            }
            Ok(breaks) => {
                broken = true;
                println!(
                    "{}: {}: {} breaking change{}",
                    family.label(),
                    numbers.join(" "),
                    breaks.len(),
                    if breaks.len() == 1 { "" } else { "s" }
                );
                for b in breaks {
                    println!("  BREAK {}: {b}", family.label());
                }
            }
        }
    }
    let wants_registry = register || args.registry.is_some();
    if !wants_registry {
        return Ok(if broken {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        });
    }
    let app = config(args)?;
    // Every schema this build writes (ticks, the instrument reference, feed status), each under the
    // subject of its topic.
    let mut targets = Vec::new();
    for (compiled, topic) in Compiled::all(&app) {
        let Some(family) = families
            .iter()
            .find(|f| f.kind == compiled.kind && f.name == compiled.name)
        else {
            eprintln!(
                "tickflow: schemas: {} has no {}/{}.vN schema for [output] format",
                args.dir.display(),
                compiled.kind.dir(),
                compiled.name
            );
            return Ok(ExitCode::from(2));
        };
        targets.push((compiled, topic, family));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let Some(settings) = &app.schema_registry else {
            eprintln!(
                "tickflow: schemas: no registry: set [schema_registry] url (TICKFLOW_SCHEMA_REGISTRY__URL) or pass --registry URL"
            );
            return Ok(ExitCode::from(2));
        };
        let registry = Registry::new(settings)?;
        if !register {
            // The worst verdict of all: 2 (unreachable) over 1 (incompatible) over 0.
            let mut worst = 0u8;
            for (compiled, topic, family) in &targets {
                let Some(latest) = family.latest() else {
                    return Ok(ExitCode::from(2));
                };
                let subject = subject_of(settings, topic, compiled);
                let code = ask(&registry, &subject, family, &latest.text, broken).await;
                if code == 2 {
                    // Unreachable (after the retries): so for every subject.
                    return Ok(ExitCode::from(2));
                }
                worst = worst.max(code);
            }
            return Ok(ExitCode::from(worst));
        }
        if broken {
            eprintln!("tickflow: schemas register: nothing registered (breaking changes above)");
            return Ok(ExitCode::from(1));
        }
        for (compiled, _, family) in &targets {
            let Some(latest) = family.latest() else {
                return Ok(ExitCode::from(2));
            };
            if latest.number != compiled.version || latest.text != compiled.text {
                eprintln!(
                    "tickflow: schemas register: the newest {} in {} is v{}, but this build writes v{} (schemas/{}/{}.v{}.*); register what gather writes",
                    family.label(),
                    args.dir.display(),
                    latest.number,
                    compiled.version,
                    compiled.kind.dir(),
                    compiled.name,
                    compiled.version
                );
                return Ok(ExitCode::from(2));
            }
        }
        for (compiled, topic, family) in &targets {
            let subject = subject_of(settings, topic, compiled);
            match registry
                .retrying("schema registration", || {
                    registry.register(&subject, compiled.kind, compiled.text)
                })
                .await
            {
                Ok(id) => println!(
                    "registered {} v{} under subject `{subject}` at {}: id {id}",
                    family.label(),
                    compiled.version,
                    registry.name()
                ),
                Err(e) => {
                    eprintln!("tickflow: schemas register: subject `{subject}`: {e}");
                    return Ok(ExitCode::from(2));
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Prints the registry's verdict on the newest version beside the local one.
async fn ask(registry: &Registry, subject: &str, family: &Family, text: &str, broken: bool) -> u8 {
    let verdict = registry
        .retrying("schema registry compatibility check", || {
            registry.compatibility(subject, family.kind, text)
        })
        .await;
    match verdict {
        Ok(Verdict {
            compatible,
            messages,
        }) => {
            println!(
                "registry {} (subject `{subject}`): {}",
                registry.name(),
                if compatible {
                    "compatible"
                } else {
                    "INCOMPATIBLE"
                }
            );
            for m in messages {
                println!("  registry: {m}");
            }
            u8::from(broken || !compatible)
        }
        Err(e) => {
            eprintln!("tickflow: schemas check: subject `{subject}`: {e}");
            2
        }
    }
}
