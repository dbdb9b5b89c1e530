//! Helpers shared by the integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod cache;
pub mod child;
pub mod fill;
pub mod registry;
pub mod run;
pub mod sr;
pub mod stack;
pub mod tls;

use std::path::PathBuf;
use tickflow::exchange::reference::References;
use tickflow::exchange::{Adapter, AdapterConfig, Decoded, Frame};
use tickflow::model::{Exchange, Rejection};

/// `tests/fixtures/<path>`.
pub fn fixture(path: &str) -> Vec<u8> {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path);
    let mut bytes = std::fs::read(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()));
    while bytes.last() == Some(&b'\n') {
        bytes.pop();
    }
    bytes
}

/// The adapter for `exchange` with default settings and the bundled Binance table.
pub fn adapter(exchange: Exchange) -> Box<dyn Adapter> {
    adapter_with(exchange, AdapterConfig::default())
}

/// The adapter for `exchange` with `config`.
pub fn adapter_with(exchange: Exchange, config: AdapterConfig) -> Box<dyn Adapter> {
    tickflow::exchange::adapter_for(exchange, config, &References::bundled().unwrap()).unwrap()
}

/// Decodes a text frame.
pub fn decode(exchange: Exchange, bytes: &[u8], received_us: i64) -> Result<Decoded, Rejection> {
    adapter(exchange).decode(Frame::text(bytes), received_us)
}

/// `$PYTHON` (else `python3`) when it imports `module`; else `None` after a SKIP line naming the
/// missing `package`, or a failure when the Python clients are required
/// (`TICKFLOW_REQUIRE_PYTHON_CLIENTS=1`, set by scripts/test.sh).
pub fn python_with(test: &str, module: &str, package: &str) -> Option<String> {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = std::process::Command::new(&python)
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Some(python);
    }
    assert!(
        std::env::var("TICKFLOW_REQUIRE_PYTHON_CLIENTS").as_deref() != Ok("1"),
        "{package} is required but `import {module}` fails (scripts/test.sh installs it)"
    );
    eprintln!("SKIP {test}: python {package} not installed");
    None
}

/// `../shared/samples/<sub>` when the shared folder is beside the repository; otherwise prints
/// a clear SKIP line and returns `None`.
pub fn shared_sample(sub: &str) -> Option<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/samples")
        .join(sub);
    if path.exists() {
        Some(path)
    } else {
        eprintln!(
            "SKIP: {} not found; real-capture checks skipped",
            path.display()
        );
        None
    }
}

/// Starts the simulator in-process on a free loopback port; returns `ws://ADDR` and the
/// sender that stops it.
pub async fn start_simulator(
    rate: u32,
    server_ping: std::time::Duration,
    default_fault: Option<tickflow::sim::fault::Fault>,
) -> (String, tokio::sync::watch::Sender<bool>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let config = tickflow::sim::SimConfig {
        rate,
        seed: 42,
        server_ping,
        references: References::bundled().unwrap(),
        default_fault,
    };
    tokio::spawn(tickflow::sim::serve(listener, config, stopped));
    (format!("ws://{addr}"), stop)
}

/// What `tickflow schemas check` says of a shipped family that passes (`avro/tick: v1 v2:
/// compatible`), its versions read from `schemas/` (a new version needs no test edit).
pub fn compatible_line(label: &str) -> String {
    let versions: Vec<String> = shipped_family(label)
        .versions
        .iter()
        .map(|v| format!("v{}", v.number))
        .collect();
    format!("{label}: {}: compatible", versions.join(" "))
}

/// The newest shipped version of a family (`avro/tick`), read from `schemas/`.
pub fn newest(label: &str) -> u32 {
    shipped_family(label).latest().unwrap().number
}

/// The shipped versions of a family (`avro/tick`), read from `schemas/`.
fn shipped_family(label: &str) -> tickflow::schemas::Family {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schemas");
    tickflow::schemas::discover(&dir)
        .unwrap()
        .into_iter()
        .find(|f| f.label() == label)
        .unwrap_or_else(|| panic!("no family {label} in {}", dir.display()))
}
