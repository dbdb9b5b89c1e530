//! Generates the Protobuf types from the current schema, `schemas/proto/tick.v2.proto`, with
//! protox (pure Rust), so no system `protoc` is needed.
//!
//! The schema declares every optional field as an explicit one-field `oneof _<field>` (wire- and
//! descriptor-identical to proto3 `optional`, and served correctly by every registry). For the
//! generated Rust those oneofs are marked as what they mean, proto3 optional, so each field is a
//! plain `Option<T>` instead of a one-variant enum.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    const CURRENT: &str = "schemas/proto/tick.v2.proto";
    println!("cargo:rerun-if-changed={CURRENT}");
    let mut fds = protox::compile([CURRENT], ["schemas/proto"])?;
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
