//! Why a message is a dead letter: the `stage` and `reason` of every cause (a frame the
//! gatherer could not turn into a tick; a message the cache could not decode; a tick Redis
//! refused for its key alone), and how header values are written. The headers themselves are
//! built in one place, [`super::contract::dead_letter_headers`].

use crate::codec::CodecError;
use crate::model::Rejection;
use crate::model::time::CivilTime;
use crate::registry::DecodeFailure;

/// Stage and reason of a well-formed message of a type tickflow does not normalize.
pub const UNSUPPORTED: (&str, &str) = ("route", "unsupported_message");
/// Stage and reason of a tick that cannot be encoded exactly.
pub const UNENCODABLE: (&str, &str) = ("encode", "unrepresentable_value");
/// Stage of a message the cache could not decode (reasons: [`crate::registry::DecodeReason`]).
pub const DECODE_STAGE: &str = "decode";
/// Stage of a tick Redis refused for its key alone (reasons: `cache::store::KEY_REFUSALS`).
pub const CACHE_STAGE: &str = "cache";

/// Why a message is a dead letter: the `stage` and `reason` headers, and the `error` text.
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

    /// For a message the cache could not decode.
    pub fn undecodable(failure: &DecodeFailure) -> Self {
        Self {
            stage: DECODE_STAGE,
            reason: failure.reason.code(),
            error: failure.error.clone(),
        }
    }

    /// For a tick Redis refused for its key alone, with the refusal's `reason` code.
    pub fn refused(reason: &'static str, error: &str) -> Self {
        Self {
            stage: CACHE_STAGE,
            reason,
            error: error.to_owned(),
        }
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
    use crate::registry::DecodeReason;

    #[test]
    fn every_cause_names_its_stage_and_reason() {
        let r = Rejection::new(Reason::MalformedJson, "unexpected end at byte 12");
        let letter = DeadLetter::rejected(&r);
        assert_eq!(
            (letter.stage, letter.reason, letter.error.as_str()),
            ("parse", "malformed_json", "unexpected end at byte 12")
        );
        let failure = DecodeFailure::new(DecodeReason::UnknownSchemaId, "schema id 9");
        let letter = DeadLetter::undecodable(&failure);
        assert_eq!(
            (letter.stage, letter.reason),
            ("decode", "unknown_schema_id")
        );
        let letter = DeadLetter::refused("redis_wrong_type", "WRONGTYPE");
        assert_eq!((letter.stage, letter.reason), ("cache", "redis_wrong_type"));
        assert_eq!(
            rfc3339_micros(1_763_769_600_123_456),
            "2025-11-22T00:00:00.123456Z"
        );
        assert_eq!(cap_text("abcdef", 5), "ab...");
    }
}
