//! Generates the Protobuf types from `schemas/tick.proto` with protox (pure Rust), so no system
//! `protoc` is needed.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=schemas/tick.proto");
    let fds = protox::compile(["schemas/tick.proto"], ["schemas"])?;
    prost_build::Config::new().compile_fds(fds)?;
    Ok(())
}
