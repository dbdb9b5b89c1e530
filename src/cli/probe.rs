//! `tickflow probe`: the container healthcheck. The image has no curl, so this asks a
//! tickflow HTTP endpoint itself: a plain HTTP/1.1 GET, bounded by a timeout, healthy on 200.

use crate::config::app::{cache, http};
use clap::Args;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

/// One-line summary for `tickflow --help`.
pub(super) const ABOUT: &str = "Probe a tickflow health endpoint (the container healthcheck)";

/// Full description for `tickflow probe --help`, with the default addresses of
/// [`crate::config::app`].
pub(super) fn long_about() -> String {
    format!(
        "Sends GET PATH to each address and exits 0 when one \
answers 200, 1 otherwise, printing what each answered. Without addresses it probes the \
configured endpoints of gather ([http] bind, default {gather}) and of the cache ([cache] \
http_bind, default {cache}), so one HEALTHCHECK serves an image that runs either; an \
address that listens on every interface (0.0.0.0) is probed on loopback. Each probe is bounded \
by --timeout-ms (connect, write and read).",
        gather = http::DEFAULT_BIND,
        cache = cache::DEFAULT_HTTP_BIND
    )
}

/// Examples and exit codes for `tickflow probe --help`.
pub(super) const AFTER_HELP: &str = "Examples:\n  \
tickflow probe                      # /healthz of gather or the cache, as configured\n  \
tickflow probe --path /readyz 127.0.0.1:9464\n  \
HEALTHCHECK CMD [\"tickflow\", \"probe\"]\n\n\
Environment:\n  \
TICKFLOW_HTTP__BIND, TICKFLOW_CACHE__HTTP_BIND   the default addresses\n\n\
Exit codes:\n  \
0  an endpoint answered 200\n  \
1  none did (not listening, no answer in time, or another status)\n  \
2  bad arguments or configuration";

/// Arguments of `tickflow probe`.
#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// Addresses (`host:port`); default: the configured gather and cache endpoints.
    #[arg(value_name = "ADDR")]
    addrs: Vec<String>,
    /// Path to ask for.
    #[arg(long, default_value = "/healthz")]
    path: String,
    /// Bound on each probe, ms.
    #[arg(long, default_value_t = 2000)]
    timeout_ms: u64,
    /// tickflow.toml (for the default addresses).
    #[arg(long, value_name = "FILE")]
    config: Option<std::path::PathBuf>,
}

/// `0.0.0.0:P` and `[::]:P` are probed on loopback.
fn local(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], addr.port()))
    } else {
        addr
    }
}

/// The status line's code, or what went wrong.
fn get(addr: SocketAddr, path: &str, timeout: Duration) -> Result<u16, String> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        .map_err(|e| e.to_string())?;
    // One write: a server may answer (and close) as soon as it has the request line.
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut head = [0u8; 64];
    let mut got = 0;
    while got < 12 {
        match stream.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) => return Err(e.to_string()),
        }
    }
    let line = String::from_utf8_lossy(&head[..got]);
    line.strip_prefix("HTTP/1.")
        .and_then(|rest| rest.get(2..5))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("not an HTTP answer: {line:?}"))
}

/// Runs `tickflow probe`.
pub fn run(args: &ProbeArgs) -> anyhow::Result<ExitCode> {
    let timeout = Duration::from_millis(args.timeout_ms.max(1));
    let addrs: Vec<SocketAddr> = if args.addrs.is_empty() {
        let app = super::load_config(args.config.as_deref())?;
        vec![app.http_bind, app.cache.http_bind]
    } else {
        let mut out = Vec::new();
        for a in &args.addrs {
            let resolved = a
                .to_socket_addrs()
                .map_err(|e| anyhow::anyhow!("address `{a}`: {e}"))?;
            out.extend(resolved.take(1));
        }
        out
    };
    for addr in addrs.into_iter().map(local) {
        match get(addr, &args.path, timeout) {
            Ok(200) => {
                println!("{addr}{}: 200", args.path);
                return Ok(ExitCode::SUCCESS);
            }
            Ok(code) => println!("{addr}{}: {code}", args.path),
            Err(e) => println!("{addr}{}: {e}", args.path),
        }
    }
    Ok(ExitCode::from(1))
}
