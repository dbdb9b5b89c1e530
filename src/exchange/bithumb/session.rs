//! What Bithumb's legacy API says about a session: `{"status":"0000","resmsg":"Filter
//! Registered Successfully"}` accepts the oldest unanswered request; another status (`5100
//! Invalid Filter Syntax`) refuses it. The greeting (`Connected Successfully`) says nothing
//! about a request. (The v1 API speaks Upbit's format: [`crate::exchange::upbit::session`].)

use crate::exchange::session::{Said, first_pair, small_object, text_of};
use crate::model::reject::clip;

const ACCEPTED: &str = "Filter Registered Successfully";

/// The legacy API's [`crate::exchange::session::SaysFn`].
pub fn says(bytes: &[u8]) -> Option<Said> {
    if let Some(("type", _)) = first_pair(bytes) {
        return None;
    }
    let map = small_object(bytes)?;
    let status = map.get("status")?.as_str()?;
    let resmsg = text_of(map.get("resmsg"));
    if status != "0000" {
        return Some(Said::Refused {
            id: None,
            text: clip(&format!("{status}: {resmsg}"), 200),
        });
    }
    (resmsg == ACCEPTED).then_some(Said::Accepted { id: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert_eq!(
            says(br#"{"status":"0000","resmsg":"Filter Registered Successfully"}"#),
            Some(Said::Accepted { id: None })
        );
        assert_eq!(
            says(br#"{"status":"5100","resmsg":"Invalid Filter Syntax"}"#),
            Some(Said::Refused {
                id: None,
                text: "5100: Invalid Filter Syntax".into()
            })
        );
        assert_eq!(
            says(br#"{"status":"0000","resmsg":"Connected Successfully"}"#),
            None
        );
        assert_eq!(
            says(br#"{"type":"ticker","content":{"symbol":"BTC_KRW"}}"#),
            None
        );
    }
}
