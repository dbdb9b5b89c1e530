//! Faults the simulator injects on request, so reconnects, watchdogs and the DLQ can be
//! tested: chosen per connection with `?fault=<kind>&after=<frames>` on the URL, or for every
//! connection with `tickflow simulate --fault <kind> --fault-after <frames>`.

use tokio_tungstenite::tungstenite::Message;

/// What goes wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// Drop the TCP connection (no close frame) after `after` data frames.
    Drop,
    /// Go silent after `after` data frames: send nothing, read nothing, keep the socket open.
    Stall,
    /// Stop sending data after `after` data frames but keep the connection alive: server
    /// pings go on, client pings are answered (a feed that only looks alive).
    Silent,
    /// Replace every `after`-th data frame with a truncated copy (invalid JSON).
    Malformed,
    /// Send the exchange's error message before every `after`-th data frame.
    Error,
    /// Replace every `after`-th data frame with a 10 MiB one (above any `max_frame_bytes`,
    /// below the socket cap).
    Oversize,
    /// Replace every `after`-th data frame with a 20 MiB one (above the socket cap).
    Giant,
    /// After `after` data frames, announce a close the way the venue does (Binance
    /// `serverShutdown`), keep streaming, and close [`ANNOUNCED_CLOSE_AFTER`] later.
    Shutdown,
    /// Withhold every `after`-th data frame (built, never sent): on a trade stream whose ids
    /// are consecutive, the instrument's next trade comes one id further (a sequence gap).
    Skip,
    /// Send every `after`-th data frame twice, the same bytes (a venue restating a state, as
    /// Coinone repeats the current book on a second subscribe).
    Repeat,
}

/// How long after announcing a close ([`FaultKind::Shutdown`]) the connection closes (Binance
/// closes 3-5 s after `serverShutdown`).
pub const ANNOUNCED_CLOSE_AFTER: std::time::Duration = std::time::Duration::from_secs(3);

/// Size of an [`FaultKind::Oversize`] frame.
pub const OVERSIZE_BYTES: usize = 10 * 1024 * 1024;
/// Size of a [`FaultKind::Giant`] frame.
pub const GIANT_BYTES: usize = 20 * 1024 * 1024;

/// A fault and when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    /// What goes wrong.
    pub kind: FaultKind,
    /// How many data frames pass first (and the period for repeating faults); at least 1.
    pub after: u64,
}

impl FaultKind {
    /// Parses `drop`, `stall`, `silent`, `malformed`, `error`, `oversize`, `giant`,
    /// `shutdown`, `skip` or `repeat`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "drop" => Some(Self::Drop),
            "stall" => Some(Self::Stall),
            "silent" => Some(Self::Silent),
            "malformed" => Some(Self::Malformed),
            "error" => Some(Self::Error),
            "oversize" => Some(Self::Oversize),
            "giant" => Some(Self::Giant),
            "shutdown" => Some(Self::Shutdown),
            "skip" => Some(Self::Skip),
            "repeat" => Some(Self::Repeat),
            _ => None,
        }
    }
}

impl Fault {
    /// Default number of frames before a fault.
    pub const DEFAULT_AFTER: u64 = 100;

    /// `fault=<kind>[&after=<n>]` from a URL query; `None` when absent or unreadable.
    pub fn from_query(query: &str) -> Option<Self> {
        let param = |name: &str| {
            query
                .split('&')
                .find_map(|kv| kv.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
        };
        let kind = FaultKind::parse(param("fault")?)?;
        let after = param("after")
            .and_then(|n| n.parse().ok())
            .unwrap_or(Self::DEFAULT_AFTER);
        Some(Self {
            kind,
            after: after.max(1),
        })
    }

    /// What to do with data frame number `n` (1-based).
    pub fn action(&self, n: u64) -> Action {
        match self.kind {
            FaultKind::Drop if n > self.after => Action::Drop,
            FaultKind::Stall if n > self.after => Action::Stall,
            FaultKind::Silent if n > self.after => Action::Skip,
            FaultKind::Malformed if n.is_multiple_of(self.after) => Action::Truncate,
            FaultKind::Error if n.is_multiple_of(self.after) => Action::ErrorFirst,
            FaultKind::Oversize if n.is_multiple_of(self.after) => Action::Pad(OVERSIZE_BYTES),
            FaultKind::Giant if n.is_multiple_of(self.after) => Action::Pad(GIANT_BYTES),
            FaultKind::Shutdown if n == self.after + 1 => Action::Announce,
            FaultKind::Skip if n.is_multiple_of(self.after) => Action::Skip,
            FaultKind::Repeat if n.is_multiple_of(self.after) => Action::Twice,
            _ => Action::Send,
        }
    }
}

/// `latency_ms=N` from a URL query: the connection's first answer comes N ms after the
/// handshake (a venue far away); zero when absent or unreadable.
pub fn latency(query: &str) -> std::time::Duration {
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix("latency_ms="))
        .and_then(|n| n.parse().ok())
        .map_or(std::time::Duration::ZERO, std::time::Duration::from_millis)
}

/// What happens to one data frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Send it as is.
    Send,
    /// Close the socket instead.
    Drop,
    /// Go silent instead.
    Stall,
    /// Send nothing for it; keep the connection (pings, pongs) going.
    Skip,
    /// Send a truncated copy instead.
    Truncate,
    /// Send the exchange's error message, then the frame.
    ErrorFirst,
    /// Send a frame of this many bytes instead (the frame, then spaces: still valid JSON).
    Pad(usize),
    /// Announce a close (the venue's message), then the frame; close a little later.
    Announce,
    /// Send it twice.
    Twice,
}

/// `frame` followed by spaces up to `size` bytes, of the same frame type.
pub fn padded(frame: &Message, size: usize) -> Message {
    let pad = |mut b: Vec<u8>| {
        b.resize(size.max(b.len()), b' ');
        b
    };
    match frame {
        Message::Text(t) => {
            Message::text(String::from_utf8(pad(t.as_bytes().to_vec())).unwrap_or_default())
        }
        Message::Binary(b) => Message::binary(pad(b.to_vec())),
        other => other.clone(),
    }
}

/// The first half of a frame: never valid JSON for these object-shaped messages.
pub fn truncated(frame: &Message) -> Message {
    match frame {
        Message::Text(t) => Message::text(t.as_str()[..t.len() / 2].to_owned()),
        Message::Binary(b) => Message::binary(b[..b.len() / 2].to_vec()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_and_actions() {
        let f = Fault::from_query("streams=a@ticker&fault=malformed&after=3").unwrap();
        assert_eq!(
            f,
            Fault {
                kind: FaultKind::Malformed,
                after: 3
            }
        );
        let actions: Vec<Action> = (1..=6).map(|n| f.action(n)).collect();
        use Action::*;
        assert_eq!(actions, [Send, Send, Truncate, Send, Send, Truncate]);
        let drop = Fault::from_query("fault=drop&after=2").unwrap();
        assert_eq!((drop.action(2), drop.action(3)), (Send, Drop));
        assert_eq!(
            Fault::from_query("fault=stall").unwrap().after,
            Fault::DEFAULT_AFTER
        );
        let skip = Fault::from_query("fault=skip&after=3").unwrap();
        let actions: Vec<Action> = (1..=6).map(|n| skip.action(n)).collect();
        assert_eq!(actions, [Send, Send, Skip, Send, Send, Skip]);
        assert_eq!(Fault::from_query("fault=explode"), None);
        assert_eq!(latency("fault=drop&latency_ms=250").as_millis(), 250);
        assert!(latency("latency_ms=x").is_zero());
        let announce = Fault::from_query("fault=shutdown&after=2").unwrap();
        let actions: Vec<Action> = (1..=4).map(|n| announce.action(n)).collect();
        assert_eq!(actions, [Send, Send, Announce, Send], "once");
        assert_eq!(Fault::from_query("after=5"), None);
        assert_eq!(Fault::from_query("fault=error&after=0").unwrap().after, 1);
    }

    #[test]
    fn truncation_breaks_json() {
        let m = truncated(&Message::text("{\"a\":\"bcdef\"}"));
        assert_eq!(m, Message::text("{\"a\":\""));
    }
}
