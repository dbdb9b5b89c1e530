//! A minimal HTTP/1.1 endpoint for `/metrics`, `/healthz` and `/readyz` (GET and HEAD, one
//! request per connection). Small on purpose: no framework for three plain-text routes.
//!
//! It cannot starve the pipeline: at most [`MAX_CONNECTIONS`] are served at once (more are
//! closed at once and counted), each read must arrive within [`READ_TIMEOUT`] and the whole
//! exchange within [`IO_TIMEOUT`], so its file descriptors stay bounded whatever clients do.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Bound on reading a request and writing the answer.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Bound on each read of the request (a client that sends nothing is dropped after it).
pub const READ_TIMEOUT: Duration = Duration::from_secs(2);
/// Connections served at once; more are closed as soon as they are accepted.
pub const MAX_CONNECTIONS: usize = 64;
const MAX_REQUEST: usize = 8 * 1024;

/// Counters of the endpoint.
#[derive(Debug, Default)]
pub struct HttpStats {
    /// Connections closed at once because [`MAX_CONNECTIONS`] were being served.
    pub rejected: AtomicU64,
    /// Connections dropped because a read or the whole exchange timed out.
    pub timeouts: AtomicU64,
    /// Accept failures (out of file descriptors and the like).
    pub accept_errors: AtomicU64,
}

impl HttpStats {
    /// Their Prometheus families.
    pub fn expose(&self, e: &mut crate::metrics::Exposition) {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        for (name, help, v) in [
            (
                "tickflow_http_rejected_total",
                "HTTP connections closed at once: the connection cap was reached",
                g(&self.rejected),
            ),
            (
                "tickflow_http_timeouts_total",
                "HTTP connections dropped by a read or exchange timeout",
                g(&self.timeouts),
            ),
            (
                "tickflow_http_accept_errors_total",
                "HTTP accept failures (e.g. out of file descriptors)",
                g(&self.accept_errors),
            ),
        ] {
            e.family(name, "counter", help).sample(name, &[], v);
        }
    }
}

/// An answer: status code, content type, body.
pub type Response = (u16, &'static str, String);

/// Maps a path to a response.
pub type Handler = Arc<dyn Fn(&str) -> Response + Send + Sync>;

/// Serves `handler` on `listener` until `shutdown` turns true (or its sender is dropped).
pub async fn serve(
    listener: TcpListener,
    handler: Handler,
    stats: Arc<HttpStats>,
    mut shutdown: watch::Receiver<bool>,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        tokio::select! {
            biased;
            _ = shutdown.changed() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                        // Closed at once: the descriptor is released here.
                        stats.rejected.fetch_add(1, Ordering::Relaxed);
                        drop(stream);
                        continue;
                    };
                    let handler = Arc::clone(&handler);
                    let stats = Arc::clone(&stats);
                    tokio::spawn(async move {
                        let answered = tokio::time::timeout(IO_TIMEOUT, answer(stream, handler)).await;
                        if !matches!(answered, Ok(Ok(()))) {
                            stats.timeouts.fetch_add(1, Ordering::Relaxed);
                        }
                        drop(slot);
                    });
                }
                // Out of file descriptors and the like: back off instead of spinning.
                Err(_) => {
                    stats.accept_errors.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
}

async fn answer(mut stream: TcpStream, handler: Handler) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(READ_TIMEOUT, stream.read(&mut chunk))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "read timed out"))??;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > MAX_REQUEST {
            return write(
                &mut stream,
                (431, "text/plain", "request too large\n".into()),
                true,
            )
            .await;
        }
    }
    let line = buf.split(|b| *b == b'\r').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split(' ');
    let path = |target: &str| target.split('?').next().unwrap_or(target).to_owned();
    let (response, body) = match (parts.next(), parts.next()) {
        (Some("GET"), Some(target)) => (handler(&path(target)), true),
        // HEAD: the same status and headers, no body.
        (Some("HEAD"), Some(target)) => (handler(&path(target)), false),
        (Some(_), Some(_)) => ((405, "text/plain", "only GET and HEAD\n".into()), true),
        _ => ((400, "text/plain", "bad request\n".into()), true),
    };
    write(&mut stream, response, body).await
}

async fn write(
    stream: &mut TcpStream,
    (status, content_type, body): Response,
    with_body: bool,
) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Bad Request",
    };
    let allow = if status == 405 {
        "Allow: GET, HEAD\r\n"
    } else {
        ""
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{allow}Connection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    if with_body {
        stream.write_all(body.as_bytes()).await?;
    }
    stream.shutdown().await
}

/// Fetches `path` from `addr` (for tests and the readiness probe in scripts): status and body.
pub async fn get(addr: std::net::SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let io = async {
        let mut s = TcpStream::connect(addr).await?;
        s.write_all(format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
            .await?;
        let mut text = String::new();
        s.read_to_string(&mut text).await?;
        let status = text
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = text
            .split_once("\r\n\r\n")
            .map_or("", |(_, b)| b)
            .to_owned();
        Ok((status, body))
    };
    tokio::time::timeout(IO_TIMEOUT, io)
        .await
        .unwrap_or_else(|_| {
            Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "timed out",
            ))
        })
}
