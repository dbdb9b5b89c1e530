//! Generates the Protobuf types from the current schemas, `schemas/proto/tick.v4.proto`,
//! `schemas/proto/instrument.v1.proto` and `schemas/proto/status.v1.proto`, with protox (pure Rust), so no system `protoc` is
//! needed.
//!
//! The schema declares every optional field as an explicit one-field `oneof _<field>` (wire- and
//! descriptor-identical to proto3 `optional`, and served correctly by every registry). For the
//! generated Rust those oneofs are marked as what they mean, proto3 optional, so each field is a
//! plain `Option<T>` instead of a one-variant enum.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    commit();
    const CURRENT: [&str; 3] = [
        "schemas/proto/tick.v4.proto",
        "schemas/proto/instrument.v1.proto",
        "schemas/proto/status.v1.proto",
    ];
    for file in CURRENT {
        println!("cargo:rerun-if-changed={file}");
    }
    let mut fds = protox::compile(CURRENT, ["schemas/proto"])?;
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
