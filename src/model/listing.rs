//! What a venue's REST listing becomes: one canonical record per listed instrument (issue 19).
//! The venue decoders (`exchange::<venue>::listing`) are an anti-corruption layer like the
//! WebSocket adapters: the venue's JSON in, these records or typed rejections out, nothing of
//! the venue's own shape beyond them.

use super::{Exchange, Instrument};
use rust_decimal::Decimal;

/// Whether and how an instrument trades, in the venue's own terms mapped to one set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListingStatus {
    /// Trading normally.
    Trading,
    /// Before the market opens (Binance `PRE_TRADING`).
    PreTrading,
    /// After the market closed (Binance `POST_TRADING`).
    PostTrading,
    /// Only cancellations accepted (Binance `CANCEL_ONLY`).
    CancelOnly,
    /// Halted by the venue (Binance `HALT`).
    Halted,
    /// An auction is matching (Binance `AUCTION_MATCH`).
    AuctionMatch,
    /// End of day (Binance `END_OF_DAY`).
    EndOfDay,
    /// Not trading; delisted pairs linger in Binance's listing as `BREAK`.
    Break,
}

impl ListingStatus {
    /// Every status, in the order documentation lists them.
    pub const ALL: [Self; 8] = [
        Self::Trading,
        Self::PreTrading,
        Self::PostTrading,
        Self::CancelOnly,
        Self::Halted,
        Self::AuctionMatch,
        Self::EndOfDay,
        Self::Break,
    ];

    /// The status of a snake_case code (`halted`).
    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == code)
    }

    /// The stable snake_case code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trading => "trading",
            Self::PreTrading => "pre_trading",
            Self::PostTrading => "post_trading",
            Self::CancelOnly => "cancel_only",
            Self::Halted => "halted",
            Self::AuctionMatch => "auction_match",
            Self::EndOfDay => "end_of_day",
            Self::Break => "break",
        }
    }

    /// Whether market data is expected: trading, or a venue state that still publishes it.
    pub fn is_live(self) -> bool {
        matches!(self, Self::Trading | Self::CancelOnly | Self::AuctionMatch)
    }
}

/// A notice the venue attaches to an instrument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Notice {
    /// An investment warning (Upbit `market_event.warning`, 투자유의).
    Warning,
    /// A caution without a stated cause (the older `market_warning: CAUTION`).
    Caution,
    /// Caution: the price moves sharply.
    PriceFluctuations,
    /// Caution: the trading volume soars.
    TradingVolumeSoaring,
    /// Caution: deposits soar.
    DepositAmountSoaring,
    /// Caution: the price differs from other markets.
    GlobalPriceDifferences,
    /// Caution: trading concentrated in a few small accounts.
    ConcentrationOfSmallAccounts,
}

impl Notice {
    /// The stable snake_case code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Warning => "warning",
            Self::Caution => "caution",
            Self::PriceFluctuations => "price_fluctuations",
            Self::TradingVolumeSoaring => "trading_volume_soaring",
            Self::DepositAmountSoaring => "deposit_amount_soaring",
            Self::GlobalPriceDifferences => "global_price_differences",
            Self::ConcentrationOfSmallAccounts => "concentration_of_small_accounts",
        }
    }
}

/// One listed instrument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// The venue.
    pub exchange: Exchange,
    /// Canonical `BASE-QUOTE` (its parts are the base and quote assets).
    pub instrument: Instrument,
    /// The venue's own symbol (`KRW-BTC`, `BTCUSDT`).
    pub native_symbol: String,
    /// Trading state.
    pub status: ListingStatus,
    /// Smallest price increment, where the venue publishes one.
    pub tick_size: Option<Decimal>,
    /// Smallest quantity increment, where the venue publishes one.
    pub lot_size: Option<Decimal>,
    /// Notices, sorted, each once.
    pub notices: Vec<Notice>,
    /// When this instrument was first seen listed, UTC epoch µs (the listing's fetch time
    /// until a catalog that remembers earlier listings says otherwise).
    pub first_seen_us: i64,
    /// When this instrument was last seen listed, UTC epoch µs.
    pub last_seen_us: i64,
}

/// Why one row of a listing was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowProblem {
    /// A field the record needs is absent.
    MissingField,
    /// A field has the wrong JSON type.
    WrongType,
    /// The symbol or its assets are not a well-formed canonical instrument (non-ASCII, too long,
    /// lower case, no separator).
    UnknownInstrument,
    /// A status this decoder does not know.
    UnknownStatus,
    /// A tick or lot size that is not an exact positive decimal.
    InvalidDecimal,
    /// The same instrument listed twice (the first is kept).
    Duplicate,
}

impl RowProblem {
    /// The stable snake_case code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MissingField => "missing_field",
            Self::WrongType => "wrong_type",
            Self::UnknownInstrument => "unknown_instrument",
            Self::UnknownStatus => "unknown_status",
            Self::InvalidDecimal => "invalid_decimal",
            Self::Duplicate => "duplicate",
        }
    }
}

/// A row of a listing that was not taken, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedRow {
    /// The row's symbol as the venue wrote it (clipped), or `?` when it had none.
    pub native_symbol: String,
    /// What was wrong.
    pub problem: RowProblem,
    /// Lower-case detail naming the offending field or value.
    pub detail: String,
}

impl RejectedRow {
    /// A rejection of the row whose symbol is `native` (clipped to 40 characters).
    pub fn new(native: Option<&str>, problem: RowProblem, detail: impl Into<String>) -> Self {
        Self {
            native_symbol: native.map_or_else(|| "?".to_owned(), |n| super::reject::clip(n, 40)),
            problem,
            detail: detail.into(),
        }
    }
}

/// A decoded listing: every instrument taken, every row not taken with its reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// The instruments, in the venue's order.
    pub records: Vec<Listed>,
    /// The rows not taken.
    pub rejected: Vec<RejectedRow>,
    /// The instruments of `records`, for the duplicate check (linear, not quadratic, in a
    /// hostile body's size).
    seen: std::collections::HashSet<Instrument>,
}

impl Listing {
    /// Adds `record` unless its instrument is already listed (then a `Duplicate` row).
    pub fn push(&mut self, record: Listed) {
        if !self.seen.insert(record.instrument.clone()) {
            let detail = format!("{} listed twice", record.instrument.as_str());
            self.rejected.push(RejectedRow::new(
                Some(&record.native_symbol),
                RowProblem::Duplicate,
                detail,
            ));
        } else {
            self.records.push(record);
        }
    }
}

/// Why a listing as a whole cannot be used. The caller keeps its last good listing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListingError {
    /// Not the JSON shape of this venue's listing.
    #[error("malformed listing: {0}")]
    Malformed(String),
    /// The venue answered with an error body (some do with HTTP 200).
    #[error("the venue answered with an error: {0}")]
    Exchange(String),
    /// No instrument could be taken: never an empty market.
    #[error("no instrument in the listing ({0} rows rejected)")]
    Empty(usize),
}

/// Ends a decode: the listing, or [`ListingError::Empty`] when it took nothing.
pub fn non_empty(listing: Listing) -> Result<Listing, ListingError> {
    if listing.records.is_empty() {
        Err(ListingError::Empty(listing.rejected.len()))
    } else {
        Ok(listing)
    }
}

/// An exact positive decimal from its text (`"0.01000000"`, the strict grammar of
/// [`super::decimal::parse_decimal_str`]: no rounding, no `+`, no `_`), or the row's rejection.
pub fn size(native: &str, field: &str, text: &str) -> Result<Decimal, RejectedRow> {
    match super::decimal::parse_decimal_str(text) {
        Ok(d) if d > Decimal::ZERO => Ok(d.normalize()),
        _ => Err(RejectedRow::new(
            Some(native),
            RowProblem::InvalidDecimal,
            format!(
                "{field} `{}` is not an exact positive decimal",
                super::reject::clip(text, 40)
            ),
        )),
    }
}

/// What JSON value `v` is, for messages that must not quote a hostile payload.
pub fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}
