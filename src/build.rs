//! Finds the current version of each schema family, the newest `schemas/<format>/<family>.vN.*`
//! (`tick`, `instrument`, `status`; Avro and Protobuf must agree), and tells the crate through
//! `CURRENT_SCHEMA_<FAMILY>_VERSION`, `..._AVSC` and `..._PROTO` (the files' paths): adding a
//! schema version is adding its two files. Generates the Protobuf types from those `.proto`
//! files with protox (pure Rust), so no system `protoc` is needed.
//!
//! The schema declares every optional field as an explicit one-field `oneof _<field>` (wire- and
//! descriptor-identical to proto3 `optional`, and served correctly by every registry). For the
//! generated Rust those oneofs are marked as what they mean, proto3 optional, so each field is a
//! plain `Option<T>` instead of a one-variant enum.
use std::collections::BTreeMap;
use std::path::Path;

#[path = "schemas/file_name.rs"]
mod file_name;

/// The schema families the crate compiles in.
const FAMILIES: [&str; 3] = ["tick", "instrument", "status"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    commit();
    println!("cargo:rerun-if-changed=schemas/avro");
    println!("cargo:rerun-if-changed=schemas/proto");
    let root = std::env::var("CARGO_MANIFEST_DIR")?;
    let (avro, proto) = (
        newest("schemas/avro", "avsc")?,
        newest("schemas/proto", "proto")?,
    );
    let mut current = Vec::new();
    for family in FAMILIES {
        let version = match (avro.get(family), proto.get(family)) {
            (Some(a), Some(p)) if a == p => *a,
            (a, p) => {
                return Err(format!(
                    "schema family `{family}`: newest Avro version {a:?} and Protobuf version {p:?} must both exist and agree"
                )
                .into());
            }
        };
        let name = family.to_uppercase();
        let file = |dir: &str, ext: &str| format!("{root}/schemas/{dir}/{family}.v{version}.{ext}");
        println!("cargo:rustc-env=CURRENT_SCHEMA_{name}_VERSION={version}");
        println!(
            "cargo:rustc-env=CURRENT_SCHEMA_{name}_AVSC={}",
            file("avro", "avsc")
        );
        println!(
            "cargo:rustc-env=CURRENT_SCHEMA_{name}_PROTO={}",
            file("proto", "proto")
        );
        current.push(format!("schemas/proto/{family}.v{version}.proto"));
    }
    let mut fds = protox::compile(&current, ["schemas/proto"])?;
    for file in &mut fds.file {
        for message in &mut file.message_type {
            let oneofs: Vec<String> = message
                .oneof_decl
                .iter()
                .map(|o| o.name().to_owned())
                .collect();
            for (index, name) in oneofs.iter().enumerate() {
                let members: Vec<usize> = (0..message.field.len())
                    .filter(|&f| message.field[f].oneof_index == Some(index as i32))
                    .collect();
                if let [only] = members[..]
                    && name.strip_prefix('_') == Some(message.field[only].name())
                {
                    message.field[only].proto3_optional = Some(true);
                }
            }
        }
    }
    prost_build::Config::new().compile_fds(fds)?;
    Ok(())
}

/// The newest version of each family among `dir`'s `<family>.v<N>.<ext>` files.
fn newest(dir: &str, ext: &str) -> Result<BTreeMap<String, u32>, Box<dyn std::error::Error>> {
    let mut newest = BTreeMap::new();
    for entry in std::fs::read_dir(Path::new(dir))? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        let Some((family, version)) = file_name::versioned_name(&name, ext) else {
            continue;
        };
        let at = newest.entry(family).or_insert(version);
        *at = (*at).max(version);
    }
    Ok(newest)
}

/// `TICKFLOW_COMMIT` for `tickflow_build_info`: the environment's (a container build passes
/// it), else `git rev-parse --short HEAD`, else `unknown`.
fn commit() {
    println!("cargo:rerun-if-env-changed=TICKFLOW_COMMIT");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
    let commit = std::env::var("TICKFLOW_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| {
            let out = std::process::Command::new("git")
                .args(["rev-parse", "--short=12", "HEAD"])
                .output()
                .ok()?;
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=TICKFLOW_COMMIT={commit}");
}
