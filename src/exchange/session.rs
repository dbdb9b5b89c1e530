//! What a venue says about the session itself — a subscription accepted or refused, a close
//! announced — read on the connection as each frame arrives, before it is queued, so the
//! connection acts where it is said (see `ws::connection`). Each venue states its own reader
//! ([`crate::exchange::profile::Profile::says`]); the frame still goes on to the pipeline
//! (counted there as a control message, or dead-lettered with the venue's text as evidence).
//!
//! Readers are pure and cheap on data frames: they look at the frame's first key and give up
//! at once when it is a data key; only small frames (at most [`MAX_SAID_BYTES`]) are parsed
//! whole, with serde_json (session messages are rare and tiny, so the well-kept general
//! parser is the right tool here, not the hot-path scanner).

use crate::model::Instrument;

/// Frames above this are never session messages (the largest seen is a ~200-byte error).
pub const MAX_SAID_BYTES: usize = 4096;

/// A session message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Said {
    /// A request was accepted (its id, where the venue echoes one).
    Accepted {
        /// The request's id.
        id: Option<u64>,
    },
    /// A request, or instruments in it, were refused.
    Refused {
        /// The request's id, where the venue echoes one.
        id: Option<u64>,
        /// The venue's own words (code and message), clipped.
        text: String,
    },
    /// The venue announced it will close this connection soon (Binance `serverShutdown`).
    Closing,
    /// An answer to the client's keepalive (Upbit `{"status":"UP"}`): the connection is
    /// alive, but it is not data, so the idle watchdog does not move.
    Alive,
    /// A refusal the venue's words cannot be matched to any request (Coinone's unknown-pair
    /// error, sent after the pair's acknowledgement and naming nothing): counted in
    /// `tickflow_ws_refusals_unattributed_total` and logged, never pinned on a request.
    Unattributable {
        /// The venue's own words, clipped.
        text: String,
    },
}

/// Reads a frame's session message, if it is one. Pure; never panics.
pub type SaysFn = fn(&[u8]) -> Option<Said>;

/// How a venue answers subscription requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acks {
    /// Every request is answered with its echoed id (Binance `{"result":null,"id":7}`).
    ById,
    /// Every request is answered, in order, without an id (Bithumb legacy `Filter Registered
    /// Successfully`).
    InOrder,
    /// Only refusals are answered, without an id (Upbit, Bithumb v1): silence is acceptance,
    /// and a refusal answers the latest request.
    Silent,
}

/// The first key of a JSON object and, when its value is a string without escapes, that
/// value: enough to tell a data frame from a session message without parsing it. `None` when
/// the frame does not start that way (escaped key, not an object): the caller parses it.
pub fn first_pair(bytes: &[u8]) -> Option<(&str, Option<&str>)> {
    let mut at = skip_ws(bytes, 0);
    if bytes.get(at) != Some(&b'{') {
        return None;
    }
    at = skip_ws(bytes, at + 1);
    let (key, end) = plain_string(bytes, at)?;
    at = skip_ws(bytes, end);
    if bytes.get(at) != Some(&b':') {
        return None;
    }
    at = skip_ws(bytes, at + 1);
    Some((key, plain_string(bytes, at).map(|(value, _)| value)))
}

fn skip_ws(bytes: &[u8], mut at: usize) -> usize {
    while matches!(bytes.get(at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        at += 1;
    }
    at
}

/// A string starting at `at` without escapes, and the index after its closing quote.
fn plain_string(bytes: &[u8], at: usize) -> Option<(&str, usize)> {
    if bytes.get(at) != Some(&b'"') {
        return None;
    }
    let rest = bytes.get(at + 1..)?;
    let len = rest.iter().position(|&b| b == b'"' || b == b'\\')?;
    if rest[len] != b'"' {
        return None;
    }
    let text = std::str::from_utf8(&rest[..len]).ok()?;
    Some((text, at + 1 + len + 1))
}

/// The frame as a small JSON object, for the rare frame that may be a session message.
pub fn small_object(bytes: &[u8]) -> Option<serde_json::Map<String, serde_json::Value>> {
    if bytes.len() > MAX_SAID_BYTES {
        return None;
    }
    match serde_json::from_slice(bytes).ok()? {
        serde_json::Value::Object(map) => Some(map),
        _ => None,
    }
}

/// A JSON value as short text: strings as they are, anything else as JSON.
pub fn text_of(value: Option<&serde_json::Value>) -> String {
    match value {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// A request id as the venue echoes it (a non-negative integer).
pub fn id_of(value: Option<&serde_json::Value>) -> Option<u64> {
    value.and_then(serde_json::Value::as_u64)
}

/// Which of `candidates` (instrument, venue symbol) a venue's text names: a symbol counts
/// when it is a whole word of the text, in any case (`Invalid symbol: ethbtc@ticker` names
/// `ETHBTC`; `KRW-BT` does not name `KRW-BTC`).
pub fn named<'a>(
    text: &str,
    candidates: impl IntoIterator<Item = (&'a Instrument, String)>,
) -> Vec<Instrument> {
    let words: Vec<String> = text
        .split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '_'))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    candidates
        .into_iter()
        .filter(|(_, symbol)| words.contains(&symbol.to_lowercase()))
        .map(|(i, _)| i.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_pair_reads_only_the_first_key() {
        assert_eq!(
            first_pair(br#" { "e" : "trade","E":1}"#),
            Some(("e", Some("trade")))
        );
        assert_eq!(
            first_pair(br#"{"result":null,"id":1}"#),
            Some(("result", None))
        );
        assert_eq!(first_pair(br#"{"k\"ey":1}"#), None);
        assert_eq!(first_pair(b"[1]"), None);
        assert_eq!(first_pair(b"{\"unterminated"), None);
        assert_eq!(first_pair(b""), None);
    }

    #[test]
    fn named_matches_whole_words_in_any_case() {
        let btc = Instrument::parse("BTC-KRW").unwrap();
        let eth = Instrument::parse("ETH-BTC").unwrap();
        let got = named(
            "Invalid symbol: ethbtc@ticker",
            [(&btc, "BTCKRW".to_owned()), (&eth, "ETHBTC".to_owned())],
        );
        assert_eq!(got, [eth]);
        assert!(named("KRW-BT is unknown", [(&btc, "KRW-BTC".to_owned())]).is_empty());
        assert_eq!(
            named(
                "KRW-BTC 은 지원하지 않는 마켓",
                [(&btc, "KRW-BTC".to_owned())]
            ),
            [btc]
        );
    }

    #[test]
    fn small_object_refuses_large_and_non_objects() {
        assert!(small_object(b"[1]").is_none());
        assert!(small_object(&vec![b' '; MAX_SAID_BYTES + 1]).is_none());
        assert!(small_object(br#"{"a":1}"#).is_some());
    }
}
