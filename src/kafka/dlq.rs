//! The dead-letter record: a frame the gatherer could not turn into a tick, kept byte for byte
//! with headers saying why (topic `ticks.dlq.v1`).
//!
//! Headers (all UTF-8): `exchange` (`UPBIT`), `connector` (`upbit`), `stage` (`parse`,
//! `normalize`, `validate`, `exchange`, `route`, `encode`), `reason` (a stable code, e.g.
//! `malformed_json`), `error` (human-readable detail), `received_at` (RFC 3339 UTC with µs),
//! `frame_type` (`text` or `binary`). The key is the exchange name, so one exchange's dead
//! letters stay in order.

use crate::codec::CodecError;
use crate::exchange::FrameType;
use crate::model::time::CivilTime;
use crate::model::{Exchange, Rejection};

/// Stage and reason of a well-formed message of a type tickflow does not normalize.
pub const UNSUPPORTED: (&str, &str) = ("route", "unsupported_message");
/// Stage and reason of a tick that cannot be encoded exactly.
pub const UNENCODABLE: (&str, &str) = ("encode", "unrepresentable_value");

/// Why a frame is a dead letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// Pipeline stage that refused it.
    pub stage: &'static str,
    /// Stable reason code.
    pub reason: &'static str,
    /// Detail for humans.
    pub error: String,
}

impl DeadLetter {
    /// From an adapter's rejection.
    pub fn rejected(r: &Rejection) -> Self {
        Self {
            stage: r.reason.stage(),
            reason: r.reason.code(),
            error: r.detail.clone(),
        }
    }

    /// For a message type that is not normalized.
    pub fn unsupported(message_type: &str) -> Self {
        Self {
            stage: UNSUPPORTED.0,
            reason: UNSUPPORTED.1,
            error: format!("message type `{message_type}` is not normalized"),
        }
    }

    /// For a tick the codec refused.
    pub fn unencodable(e: &CodecError) -> Self {
        Self {
            stage: UNENCODABLE.0,
            reason: UNENCODABLE.1,
            error: e.to_string(),
        }
    }

    /// The headers, in a fixed order.
    pub fn headers(
        &self,
        exchange: Exchange,
        connector: &str,
        frame_type: FrameType,
        received_ts_us: i64,
    ) -> [(&'static str, String); 7] {
        [
            ("exchange", exchange.as_str().to_owned()),
            ("connector", connector.to_owned()),
            ("stage", self.stage.to_owned()),
            ("reason", self.reason.to_owned()),
            // Capped: a dead letter's headers must fit beside its frame.
            ("error", cap_text(&self.error, MAX_ERROR_TEXT)),
            ("received_at", rfc3339_micros(received_ts_us)),
            (
                "frame_type",
                match frame_type {
                    FrameType::Text => "text",
                    FrameType::Binary => "binary",
                }
                .to_owned(),
            ),
        ]
    }
}

/// Longest `error` header, bytes.
pub const MAX_ERROR_TEXT: usize = 2048;

/// `text` cut to at most `max` bytes at a character boundary, marked when cut.
pub fn cap_text(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max.saturating_sub(3);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

/// `2026-11-22T01:02:03.456789Z`.
pub fn rfc3339_micros(ts_us: i64) -> String {
    let t = CivilTime::from_unix_micros(ts_us, 0);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year, t.month, t.day, t.hour, t.minute, t.second, t.micros
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Reason;

    #[test]
    fn headers_name_everything() {
        let r = Rejection::new(Reason::MalformedJson, "unexpected end at byte 12");
        let h = DeadLetter::rejected(&r).headers(
            Exchange::Upbit,
            "upbit",
            FrameType::Binary,
            1_763_769_600_123_456,
        );
        let get = |k: &str| h.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("exchange"), Some("UPBIT"));
        assert_eq!(get("stage"), Some("parse"));
        assert_eq!(get("reason"), Some("malformed_json"));
        assert_eq!(get("error"), Some("unexpected end at byte 12"));
        assert_eq!(get("received_at"), Some("2025-11-22T00:00:00.123456Z"));
        assert_eq!(get("frame_type"), Some("binary"));
    }
}
