//! Typed rejections: why a frame produced no tick, with a stable reason code per rule.

use std::fmt;

/// Stable reason codes. They appear in DLQ headers, metrics labels and `normalize` output, so
/// they are part of the contract: add new ones, never rename.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// The frame is larger than the configured maximum.
    FrameTooLarge,
    /// The frame is not valid UTF-8.
    InvalidUtf8,
    /// The frame is not valid JSON, or not a JSON object, or repeats a key.
    MalformedJson,
    /// A field the canonical model needs is absent.
    MissingField,
    /// A field has the wrong JSON type (e.g. an object where a price belongs).
    WrongType,
    /// A numeric field is not an exact decimal (NaN, Infinity, too many digits, garbage).
    InvalidDecimal,
    /// A time field cannot be read (bad calendar date, negative or overflowing epoch).
    InvalidTimestamp,
    /// A price is zero or negative.
    NonPositivePrice,
    /// A quantity or volume is negative.
    NegativeQuantity,
    /// The high price is below the low price.
    HighBelowLow,
    /// The best bid is above the best ask.
    CrossedBook,
    /// The symbol is not a known or well-formed instrument.
    UnknownInstrument,
    /// The payload's symbol disagrees with the stream it arrived on.
    SymbolMismatch,
    /// The payload's event type disagrees with the stream it arrived on.
    EventMismatch,
    /// The exchange event time is too far from our receive time.
    TimestampOutOfWindow,
    /// A value cannot be carried exactly on the wire (decimal(38,18), int64).
    UnrepresentableValue,
    /// The exchange sent an error message instead of data.
    ExchangeError,
    /// Ids that contradict each other (an aggregate trade whose first id is above its last).
    InvalidSequence,
}

impl Reason {
    /// The stable snake_case code.
    pub const fn code(self) -> &'static str {
        match self {
            Self::FrameTooLarge => "frame_too_large",
            Self::InvalidUtf8 => "invalid_utf8",
            Self::MalformedJson => "malformed_json",
            Self::MissingField => "missing_field",
            Self::WrongType => "wrong_type",
            Self::InvalidDecimal => "invalid_decimal",
            Self::InvalidTimestamp => "invalid_timestamp",
            Self::NonPositivePrice => "non_positive_price",
            Self::NegativeQuantity => "negative_quantity",
            Self::HighBelowLow => "high_below_low",
            Self::CrossedBook => "crossed_book",
            Self::UnknownInstrument => "unknown_instrument",
            Self::SymbolMismatch => "symbol_mismatch",
            Self::EventMismatch => "event_mismatch",
            Self::TimestampOutOfWindow => "timestamp_out_of_window",
            Self::UnrepresentableValue => "unrepresentable_value",
            Self::ExchangeError => "exchange_error",
            Self::InvalidSequence => "invalid_sequence",
        }
    }

    /// The stage of the pipeline that applies this rule (DLQ `stage` header).
    pub const fn stage(self) -> &'static str {
        match self {
            Self::FrameTooLarge | Self::InvalidUtf8 | Self::MalformedJson => "parse",
            Self::ExchangeError => "exchange",
            Self::MissingField
            | Self::WrongType
            | Self::InvalidDecimal
            | Self::InvalidTimestamp
            | Self::UnknownInstrument
            | Self::SymbolMismatch
            | Self::EventMismatch => "normalize",
            Self::NonPositivePrice
            | Self::NegativeQuantity
            | Self::HighBelowLow
            | Self::CrossedBook
            | Self::TimestampOutOfWindow
            | Self::UnrepresentableValue
            | Self::InvalidSequence => "validate",
        }
    }

    /// Every reason, for documentation and exhaustive tests.
    pub const ALL: [Reason; 18] = [
        Self::FrameTooLarge,
        Self::InvalidUtf8,
        Self::MalformedJson,
        Self::MissingField,
        Self::WrongType,
        Self::InvalidDecimal,
        Self::InvalidTimestamp,
        Self::NonPositivePrice,
        Self::NegativeQuantity,
        Self::HighBelowLow,
        Self::CrossedBook,
        Self::UnknownInstrument,
        Self::SymbolMismatch,
        Self::EventMismatch,
        Self::TimestampOutOfWindow,
        Self::UnrepresentableValue,
        Self::ExchangeError,
        Self::InvalidSequence,
    ];
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A frame (or a tick built from it) that was refused, with the rule and a short detail that
/// names the offending field or value but never dumps the payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {detail}")]
pub struct Rejection {
    /// Which rule refused it.
    pub reason: Reason,
    /// Lower-case, human-readable detail.
    pub detail: String,
}

impl Rejection {
    /// Builds a rejection.
    pub fn new(reason: Reason, detail: impl Into<String>) -> Self {
        Self {
            reason,
            detail: detail.into(),
        }
    }

    /// A required field is missing.
    pub fn missing(field: &str) -> Self {
        Self::new(Reason::MissingField, format!("missing field `{field}`"))
    }

    /// Whether the connection that produced this frame should be dropped and reopened.
    /// Only an exchange error says the session itself is wrong; bad data is skipped.
    pub const fn is_terminal(&self) -> bool {
        matches!(self.reason, Reason::ExchangeError)
    }
}

/// Keeps `detail` strings short even when they quote input.
pub fn clip(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}
