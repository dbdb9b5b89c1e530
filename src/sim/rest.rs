//! Plain HTTP on the simulator's port: each venue's REST listing ([`super::SimVenue::rest`]) and the
//! control endpoints that change the [`Listings`] while the server runs.
//!
//! - `GET /<exchange><the venue's listing path>` (each venue's `SimVenue::endpoints`, e.g.
//!   `/upbit/v1/market/all[?is_details=true]`) → 200 and the venue's JSON.
//! - `POST /sim/<exchange>/list?instrument=ABC-KRW`, `POST /sim/<exchange>/delist?instrument=..`,
//!   `POST /sim/<exchange>/status?instrument=..&status=HALT` (a venue whose listing carries
//!   statuses; the others answer that they have none) → 200 and the market
//!   (`{"exchange":"UPBIT","instrument":"ABC-KRW","symbol":"KRW-ABC","status":"trading",
//!   "published":true,"live":true}`), or 400 and the reason.
//! - Anything else: 404; a method a path does not take: 405; a request head above
//!   [`MAX_HEAD`] bytes: 431; a malformed one: 400. Errors are JSON in the venues' REST error
//!   form, `{"error":{"name":404,"message":"..."}}`.
//!
//! One request per connection (`Connection: close`), answers with `Content-Length`. Written by
//! hand like `crate::http`: hyper is in the build only as reqwest's client (no server
//! feature), and the WebSocket upgrade must reach tungstenite with its bytes unread, which
//! peeking the head gives without wrapping the stream in hyper's upgrade machinery.

use super::Listings;
use crate::model::listing::ListingStatus;
use crate::model::{Exchange, Instrument};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Largest request head (request line and headers) read.
pub(crate) const MAX_HEAD: usize = 16 * 1024;
/// Largest request body read (control requests need none).
const MAX_BODY: usize = 64 * 1024;
/// Bound on receiving the head, and on reading and answering a request.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// Between two peeks that saw no new bytes (a head split over several segments).
const PEEK_AGAIN: Duration = Duration::from_millis(5);

/// What a connection opened with.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Head {
    /// A WebSocket upgrade request (unread: tungstenite reads it).
    Upgrade,
    /// Any other request (or something that is not HTTP): answered here.
    Plain,
    /// No end of head within [`MAX_HEAD`] bytes.
    TooLarge,
    /// Closed, failed or timed out before a whole head arrived.
    Gone,
}

/// Peeks at the request head without consuming it.
pub(super) async fn classify(stream: &TcpStream) -> Head {
    let deadline = Instant::now() + IO_TIMEOUT;
    let mut buf = vec![0u8; MAX_HEAD];
    let mut seen = 0usize;
    loop {
        let n = match tokio::time::timeout_at(deadline, stream.peek(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return Head::Gone,
            Ok(Ok(n)) => n,
        };
        if let Some(end) = head_end(&buf[..n]) {
            return if is_upgrade(&buf[..end]) {
                Head::Upgrade
            } else {
                Head::Plain
            };
        }
        if n == MAX_HEAD {
            return Head::TooLarge;
        }
        if n == seen {
            // Peek returns at once while unread bytes wait: pause before looking again.
            if tokio::time::timeout_at(deadline, tokio::time::sleep(PEEK_AGAIN))
                .await
                .is_err()
            {
                return Head::Gone;
            }
        }
        seen = n;
    }
}

/// Length of the head including its blank line, when all of it is in `bytes`.
fn head_end(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 4)
}

/// Whether a head asks for a WebSocket upgrade (`Upgrade: websocket`, any case).
fn is_upgrade(head: &[u8]) -> bool {
    String::from_utf8_lossy(head).lines().skip(1).any(|line| {
        line.split_once(':').is_some_and(|(name, value)| {
            name.trim().eq_ignore_ascii_case("upgrade")
                && value.to_ascii_lowercase().contains("websocket")
        })
    })
}

/// One answer.
struct Answer {
    status: u16,
    body: String,
    allow: Option<&'static str>,
}

impl Answer {
    fn ok(body: String) -> Self {
        Self {
            status: 200,
            body,
            allow: None,
        }
    }

    /// The venues' REST error form with `message`.
    fn error(status: u16, message: &str) -> Self {
        let body = serde_json::json!({"error": {"name": status, "message": message}});
        Self {
            status,
            body: body.to_string(),
            allow: None,
        }
    }

    fn method_not_allowed(allow: &'static str) -> Self {
        Self {
            allow: Some(allow),
            ..Self::error(405, &format!("use {allow}"))
        }
    }
}

/// Answers a request too large to read, then closes.
pub(super) async fn refuse_too_large(mut stream: TcpStream) {
    let answer = Answer::error(431, &format!("request head above {MAX_HEAD} bytes"));
    let _ = tokio::time::timeout(IO_TIMEOUT, write(&mut stream, &answer)).await;
    linger(stream).await;
}

/// Reads one plain request and answers it.
pub(super) async fn answer(mut stream: TcpStream, peer: SocketAddr, listings: &Listings) {
    let answered = tokio::time::timeout(IO_TIMEOUT, async {
        let answer = match read_request(&mut stream).await {
            Ok(request) => respond(&request, listings),
            Err(refused) => refused,
        };
        write(&mut stream, &answer).await
    })
    .await;
    match answered {
        Ok(Ok(())) => linger(stream).await,
        Ok(Err(e)) => tracing::debug!(%peer, "simulate: http answer failed: {e}"),
        Err(_) => tracing::debug!(%peer, "simulate: http request timed out"),
    }
}

/// A parsed request.
#[derive(Debug)]
struct HttpRequest {
    method: String,
    path: String,
    query: String,
}

/// Reads the head (known to be complete and within [`MAX_HEAD`]) and any body.
async fn read_request(stream: &mut TcpStream) -> Result<HttpRequest, Answer> {
    let mut buf = vec![0u8; MAX_HEAD];
    let n = stream
        .peek(&mut buf)
        .await
        .map_err(|_| Answer::error(400, "unreadable request"))?;
    let len = head_end(&buf[..n]).ok_or_else(|| Answer::error(400, "incomplete request head"))?;
    let mut head = vec![0u8; len];
    stream
        .read_exact(&mut head)
        .await
        .map_err(|_| Answer::error(400, "unreadable request"))?;
    let request = parse(&head)?;
    let body = content_length(&head)?;
    if body > MAX_BODY {
        return Err(Answer::error(
            413,
            &format!("request body above {MAX_BODY} bytes"),
        ));
    }
    // Read so that closing does not reset the connection under the client's feet.
    let mut sink = vec![0u8; body];
    stream
        .read_exact(&mut sink)
        .await
        .map_err(|_| Answer::error(400, "request body shorter than its Content-Length"))?;
    Ok(request)
}

/// `METHOD /path?query HTTP/1.x`, then `Name: value` lines.
fn parse(head: &[u8]) -> Result<HttpRequest, Answer> {
    let bad = |why: &str| Answer::error(400, why);
    let text = std::str::from_utf8(head).map_err(|_| bad("request head is not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let line = lines.next().unwrap_or_default();
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("malformed request line"));
    };
    if !version.starts_with("HTTP/1.") || !target.starts_with('/') || method.is_empty() {
        return Err(bad("malformed request line"));
    }
    if !lines
        .filter(|l| !l.is_empty())
        .all(|l| l.split_once(':').is_some_and(|(n, _)| !n.is_empty()))
    {
        return Err(bad("malformed header line"));
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    Ok(HttpRequest {
        method: method.to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
    })
}

fn content_length(head: &[u8]) -> Result<usize, Answer> {
    let text = String::from_utf8_lossy(head);
    let value = text.lines().skip(1).find_map(|l| {
        l.split_once(':')
            .filter(|(n, _)| n.trim().eq_ignore_ascii_case("content-length"))
            .map(|(_, v)| v.trim().to_owned())
    });
    match value {
        None => Ok(0),
        Some(v) => v
            .parse()
            .map_err(|_| Answer::error(400, "invalid Content-Length")),
    }
}

/// The answer to a request.
fn respond(request: &HttpRequest, listings: &Listings) -> Answer {
    if let Some(rest) = request.path.strip_prefix("/sim/") {
        return control(request, rest, listings);
    }
    let body = super::VENUES
        .iter()
        .find_map(|v| (v.rest)(&request.path, &request.query, listings));
    match (request.method.as_str(), body) {
        ("GET", Some(body)) => Answer::ok(body),
        (_, Some(_)) => Answer::method_not_allowed("GET"),
        _ => Answer::error(404, &format!("no route for {}", clip(&request.path))),
    }
}

/// `POST /sim/<exchange>/<list|delist|status>?instrument=..[&status=..]`.
fn control(request: &HttpRequest, rest: &str, listings: &Listings) -> Answer {
    let Some((exchange, action)) = rest
        .split_once('/')
        .and_then(|(e, a)| Some((Exchange::parse(e)?, a)))
        .filter(|(_, a)| matches!(*a, "list" | "delist" | "status"))
    else {
        return Answer::error(404, &format!("no route for {}", clip(&request.path)));
    };
    if request.method != "POST" {
        return Answer::method_not_allowed("POST");
    }
    let param = |name: &str| {
        request
            .query
            .split('&')
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
    };
    let Some(text) = param("instrument") else {
        return Answer::error(400, "missing instrument=BASE-QUOTE");
    };
    let Some(instrument) = Instrument::parse(text) else {
        return Answer::error(
            400,
            &format!(
                "instrument `{}` is not BASE-QUOTE in upper-case ASCII",
                clip(text)
            ),
        );
    };
    let changed = match action {
        "list" => listings.list(exchange, &instrument),
        "delist" => listings.delist(exchange, &instrument),
        _ => {
            let venue = super::VENUES
                .iter()
                .find(|v| v.listing.exchange == exchange);
            if !venue.is_some_and(|v| v.listing.statuses) {
                // Listed or not, nothing else: the venue's own words for it.
                listings.set_status(exchange, &instrument, ListingStatus::Halted)
            } else if let Some(status) =
                param("status").and_then(|s| parse_status(venue.and_then(|v| v.status_name), s))
            {
                listings.set_status(exchange, &instrument, status)
            } else {
                return Answer::error(
                    400,
                    "missing or unknown status= (the venue's names, e.g. HALT, or the canonical \
                     codes: trading, halted, break, ...)",
                );
            }
        }
    };
    match changed {
        Ok(m) => Answer::ok(
            serde_json::json!({
                "exchange": m.exchange,
                "instrument": m.instrument.as_str(),
                "symbol": m.native,
                "status": m.status.as_str(),
                "published": listings.by_native(exchange, &m.native).is_some(),
                "live": m.status.is_live(),
            })
            .to_string(),
        ),
        Err(e) => Answer::error(400, &e.to_string()),
    }
}

/// The venue's own status names (Binance `HALT`, where its listing has statuses) or the
/// canonical codes (`halted`).
fn parse_status(
    venue: Option<fn(ListingStatus) -> &'static str>,
    text: &str,
) -> Option<ListingStatus> {
    ListingStatus::ALL.into_iter().find(|s| {
        s.as_str() == text || venue.is_some_and(|name| name(*s).eq_ignore_ascii_case(text))
    })
}

/// A client's text, short enough to quote back.
fn clip(text: &str) -> String {
    crate::model::reject::clip(text, 80)
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        431 => "Request Header Fields Too Large",
        _ => "Error",
    }
}

async fn write(stream: &mut TcpStream, answer: &Answer) -> std::io::Result<()> {
    let allow = answer
        .allow
        .map_or(String::new(), |a| format!("Allow: {a}\r\n"));
    let head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{allow}\
         Connection: close\r\n\r\n",
        answer.status,
        reason(answer.status),
        answer.body.len(),
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(answer.body.as_bytes()).await?;
    stream.flush().await
}

/// Closes our side, then reads what the client still sends (bounded) until it closes: closing
/// with unread bytes would reset the connection and could destroy the answer in flight.
async fn linger(mut stream: TcpStream) {
    let _ = stream.shutdown().await;
    let mut buf = [0u8; 4096];
    let mut left = 1024 * 1024usize;
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while left > 0 {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads() {
        let ws = b"GET /upbit/websocket/v1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nupgrade: WebSocket\r\n\r\n";
        assert_eq!(head_end(ws), Some(ws.len()));
        assert!(is_upgrade(ws));
        let get = b"GET /upbit/v1/market/all?is_details=true HTTP/1.1\r\nHost: x\r\n\r\n";
        assert!(!is_upgrade(get));
        let r = parse(get).ok().unwrap();
        assert_eq!(
            (r.method.as_str(), r.path.as_str(), r.query.as_str()),
            ("GET", "/upbit/v1/market/all", "is_details=true")
        );
        assert_eq!(head_end(b"GET / HTTP/1.1\r\n"), None);
        for bad in [
            &b"GARBAGE\r\n\r\n"[..],
            b"GET  HTTP/1.1\r\n\r\n",
            b"GET / SPDY/3\r\n\r\n",
            b"GET / HTTP/1.1\r\nno colon\r\n\r\n",
            b"GET /\xff HTTP/1.1\r\n\r\n",
        ] {
            assert_eq!(parse(bad).err().map(|a| a.status), Some(400), "{bad:?}");
        }
        assert_eq!(
            content_length(b"POST / HTTP/1.1\r\ncontent-length: 12\r\n\r\n")
                .ok()
                .unwrap(),
            12
        );
        let with = super::super::VENUES.iter().find_map(|v| v.status_name);
        assert_eq!(parse_status(with, "HALT"), Some(ListingStatus::Halted));
        assert_eq!(parse_status(with, "break"), Some(ListingStatus::Break));
        assert_eq!(parse_status(with, "NOPE"), None);
        assert_eq!(parse_status(with, "halted"), Some(ListingStatus::Halted));
        assert_eq!(
            parse_status(None, "HALT"),
            None,
            "only the venue's own names"
        );
        assert_eq!(parse_status(None, "halted"), Some(ListingStatus::Halted));
    }
}
