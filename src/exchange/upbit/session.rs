//! What an Upbit-format venue (Upbit, Bithumb v1) says about a session: nothing when a
//! request is accepted; `{"error":{"name":"INVALID_PARAM","message":"..."}}` when it is
//! refused (no id: it answers the latest request; the message may name the code it could
//! not take). Keepalive answers (`{"status":"UP"}`) say the connection is alive.

use crate::exchange::session::{Said, first_pair, small_object, text_of};
use crate::model::reject::clip;

/// The Upbit-format [`crate::exchange::session::SaysFn`].
pub fn says(bytes: &[u8]) -> Option<Said> {
    // DEFAULT frames start with `type`, SIMPLE ones with `ty`; keepalive answers with `status`.
    match first_pair(bytes) {
        Some(("type" | "ty", _)) => return None,
        Some(("status", _)) => return Some(Said::Alive),
        _ => {}
    }
    let map = small_object(bytes)?;
    let error = map.get("error")?;
    let text = match error {
        serde_json::Value::Object(e) => {
            format!("{}: {}", text_of(e.get("name")), text_of(e.get("message")))
        }
        other => text_of(Some(other)),
    };
    Some(Said::Refused {
        id: None,
        text: clip(&text, 200),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_refusals_and_the_rest_says_nothing() {
        assert_eq!(
            says(r#"{"error":{"name":"INVALID_PARAM","message":"KRW-NOPE 은 지원하지 않는 마켓입니다."}}"#.as_bytes()),
            Some(Said::Refused {
                id: None,
                text: "INVALID_PARAM: KRW-NOPE 은 지원하지 않는 마켓입니다.".into()
            })
        );
        assert_eq!(
            says(br#"{"error":{"message":"m","name":"WRONG_FORMAT"}}"#),
            Some(Said::Refused {
                id: None,
                text: "WRONG_FORMAT: m".into()
            })
        );
        assert_eq!(says(br#"{"status":"UP"}"#), Some(Said::Alive));
        for frame in [
            r#"{"type":"ticker","code":"KRW-BTC"}"#,
            r#"{"ty":"trade","cd":"KRW-BTC"}"#,
            r#"{"code":"KRW-BTC","type":"ticker"}"#,
            "PONG",
        ] {
            assert_eq!(says(frame.as_bytes()), None, "{frame}");
        }
    }
}
