//! What Coinone says about a session. Every request is answered, in order and without an id:
//! `{"response_type":"SUBSCRIBED","channel":"ORDERBOOK","data":{"quote_currency":"KRW",
//! "target_currency":"BTC"}}` accepts a subscribe (`UNSUBSCRIBED` an unsubscribe), and
//! `{"response_type":"ERROR","error_code":160011,"message":"Invalid Type","field":"channel"}`
//! refuses a malformed one (`160010` Invalid Request, `160011` Invalid Type).
//!
//! The exception is `160012` Invalid Topic: an unknown pair is first **acknowledged**
//! (`SUBSCRIBED`, which takes its request off the in-order list), then refused 0 to 10 ms
//! later by an error that names neither channel nor topic. Read as an in-order refusal it
//! would be pinned on the next request waiting for its answer, another instrument; read as
//! answering the latest request it would be pinned on whichever went out last. Neither is
//! true, so this reader says it is [`Said::Unattributable`]: the connection counts it
//! (`tickflow_ws_refusals_unattributed_total`) and logs it, and the frame goes on to the
//! pipeline, where the adapter turns it into an `exchange_error` dead letter carrying the
//! venue's words and [`UNATTRIBUTED_NOTE`]. The unknown pair itself stays silent (the
//! listing, `[markets]`, names only pairs the venue serves).
//!
//! `CONNECTED` (sent on open) says nothing about the subscription; `PONG` answers the
//! keepalive ([`Said::Alive`]).

use crate::exchange::session::{Said, first_pair, small_object, text_of};
use crate::model::reject::clip;

/// `error_code` of an unknown pair (or a quote other than KRW).
pub const INVALID_TOPIC: &str = "160012";

/// Appended to the text of a `160012` refusal wherever it is shown.
pub const UNATTRIBUTED_NOTE: &str =
    " (names no topic: a refusal of one of this connection's subscriptions, not attributable)";

/// Coinone's [`crate::exchange::session::SaysFn`].
pub fn says(bytes: &[u8]) -> Option<Said> {
    match first_pair(bytes) {
        Some(("response_type" | "r", Some("DATA" | "CONNECTED"))) => return None,
        Some(("response_type" | "r", Some("PONG"))) => return Some(Said::Alive),
        Some(("response_type" | "r", Some("SUBSCRIBED" | "UNSUBSCRIBED"))) => {
            return Some(Said::Accepted { id: None });
        }
        _ => {}
    }
    // Another key order, or an error: small frames only.
    let map = small_object(bytes)?;
    let kind = map
        .get("response_type")
        .or_else(|| map.get("r"))
        .and_then(|t| t.as_str())?;
    match kind {
        "SUBSCRIBED" | "UNSUBSCRIBED" => Some(Said::Accepted { id: None }),
        "PONG" => Some(Said::Alive),
        "ERROR" => {
            let code = text_of(map.get("error_code"));
            if code == INVALID_TOPIC {
                let text = format!("{code}: {}{UNATTRIBUTED_NOTE}", text_of(map.get("message")));
                return Some(Said::Unattributable {
                    text: clip(&text, 200),
                });
            }
            let mut text = format!("{code}: {}", text_of(map.get("message")));
            if let Some(field) = map.get("field") {
                text.push_str(&format!(" (field `{}`)", text_of(Some(field))));
            }
            Some(Said::Refused {
                id: None,
                text: clip(&text, 200),
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acks_in_either_format_and_key_order() {
        for frame in [
            r#"{"response_type":"SUBSCRIBED","channel":"ORDERBOOK","data":{"quote_currency":"KRW","target_currency":"BTC"}}"#,
            r#"{"response_type":"UNSUBSCRIBED","channel":"ORDERBOOK","data":{"quote_currency":"KRW","target_currency":"XRP"}}"#,
            r#"{"r":"SUBSCRIBED","c":"TICKER","d":{"qc":"KRW","tc":"BTC"}}"#,
            r#"{"channel":"TRADE","response_type":"SUBSCRIBED"}"#,
        ] {
            assert_eq!(
                says(frame.as_bytes()),
                Some(Said::Accepted { id: None }),
                "{frame}"
            );
        }
    }

    #[test]
    fn malformed_requests_are_refusals_and_an_unknown_topic_is_not_pinned_on_anyone() {
        assert_eq!(
            says(br#"{"response_type":"ERROR","error_code":160011,"message":"Invalid Type","field":"request_type"}"#),
            Some(Said::Refused {
                id: None,
                text: "160011: Invalid Type (field `request_type`)".into()
            })
        );
        assert_eq!(
            says(br#"{"response_type":"ERROR","error_code":160010,"message":"Invalid Request"}"#),
            Some(Said::Refused {
                id: None,
                text: "160010: Invalid Request".into()
            })
        );
        assert_eq!(
            says(br#"{"response_type":"ERROR","error_code":160012,"message":"Invalid Topic"}"#),
            Some(Said::Unattributable {
                text: format!("160012: Invalid Topic{UNATTRIBUTED_NOTE}")
            })
        );
    }

    #[test]
    fn pong_is_the_keepalive_answer() {
        assert_eq!(says(br#"{"response_type":"PONG"}"#), Some(Said::Alive));
        assert_eq!(says(br#"{"r":"PONG"}"#), Some(Said::Alive));
    }

    #[test]
    fn data_and_greetings_say_nothing() {
        for frame in [
            r#"{"response_type":"DATA","channel":"TRADE","data":{}}"#,
            r#"{"r":"DATA","c":"ORDERBOOK","d":{}}"#,
            r#"{"response_type":"CONNECTED","data":{"session_id":"x"}}"#,
            r#"{"data":{},"response_type":"DATA"}"#,
            r#"{"response_type":"NEWTHING"}"#,
            "PONG",
            "",
            "[1]",
        ] {
            assert_eq!(says(frame.as_bytes()), None, "{frame}");
        }
    }
}
