//! What Binance says about a session: `{"result":null,"id":7}` accepts request 7;
//! `{"error":{"code":2,"msg":"Invalid symbol: ethbtc@ticker"},"id":7}` (or the flat
//! `{"code":2,"msg":"...","id":7}`) refuses it — the whole request, naming the stream it
//! could not take; `serverShutdown` (raw `{"e":"serverShutdown",...}` or combined
//! `{"stream":"!serverShutdown",...}`) announces a close.

use super::SERVER_SHUTDOWN_STREAM;
use crate::exchange::session::{Said, first_pair, id_of, small_object, text_of};
use crate::model::reject::clip;

const SERVER_SHUTDOWN: &str = "serverShutdown";

/// Binance's [`crate::exchange::session::SaysFn`].
pub fn says(bytes: &[u8]) -> Option<Said> {
    // Data frames start with their event type, stream name or (bookTicker) update id.
    match first_pair(bytes) {
        Some(("e", Some(e))) => return (e == SERVER_SHUTDOWN).then_some(Said::Closing),
        Some(("stream", Some(s))) => {
            return (s == SERVER_SHUTDOWN_STREAM).then_some(Said::Closing);
        }
        Some(("u", _)) => return None,
        _ => {}
    }
    let map = small_object(bytes)?;
    let id = id_of(map.get("id"));
    if map.contains_key("result") {
        return Some(Said::Accepted { id });
    }
    let (code, msg) = match map.get("error") {
        Some(serde_json::Value::Object(e)) => (e.get("code"), e.get("msg")),
        Some(other) => (None, Some(other)),
        None => (map.get("code"), map.get("msg")),
    };
    if code.is_some() || msg.is_some() {
        let text = format!("{}: {}", text_of(code), text_of(msg));
        return Some(Said::Refused {
            id,
            text: clip(&text, 200),
        });
    }
    let shutdown = map.get("e").and_then(|e| e.as_str()) == Some(SERVER_SHUTDOWN)
        || map.get("stream").and_then(|s| s.as_str()) == Some(SERVER_SHUTDOWN_STREAM);
    shutdown.then_some(Said::Closing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acks_refusals_and_shutdowns() {
        assert_eq!(
            says(br#"{"result":null,"id":7}"#),
            Some(Said::Accepted { id: Some(7) })
        );
        assert_eq!(
            says(br#"{"id":7,"result":null}"#),
            Some(Said::Accepted { id: Some(7) })
        );
        assert_eq!(
            says(br#"{"error":{"code":2,"msg":"Invalid symbol: ethbtc@ticker"},"id":1}"#),
            Some(Said::Refused {
                id: Some(1),
                text: "2: Invalid symbol: ethbtc@ticker".into()
            })
        );
        assert_eq!(
            says(br#"{"code":-1,"msg":"simulated fault"}"#),
            Some(Said::Refused {
                id: None,
                text: "-1: simulated fault".into()
            })
        );
        assert_eq!(
            says(br#"{"e":"serverShutdown","E":1700000000000}"#),
            Some(Said::Closing)
        );
        assert_eq!(
            says(br#"{"stream":"!serverShutdown","data":{"e":"serverShutdown","E":1}}"#),
            Some(Said::Closing)
        );
        assert_eq!(
            says(br#"{"E":1,"e":"serverShutdown"}"#),
            Some(Said::Closing)
        );
    }

    #[test]
    fn data_frames_are_not_session_messages() {
        for frame in [
            r#"{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"1","q":"1","T":1,"m":true}"#,
            r#"{"stream":"btcusdt@trade","data":{"e":"trade"}}"#,
            r#"{"u":1,"s":"BTCUSDT","b":"1","B":"1","a":"2","A":"1"}"#,
            r#"{"data":{"e":"trade"},"stream":"btcusdt@trade"}"#,
            "not json",
            "",
        ] {
            assert_eq!(says(frame.as_bytes()), None, "{frame}");
        }
    }
}
