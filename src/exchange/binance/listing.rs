//! Binance's spot listing, `GET /api/v3/exchangeInfo`, to canonical records.
//!
//! ```json
//! {"timezone":"UTC","serverTime":1754603741167,"rateLimits":[...],"exchangeFilters":[],
//!  "symbols":[{"symbol":"ETHBTC","status":"TRADING","baseAsset":"ETH","quoteAsset":"BTC",
//!    "filters":[{"filterType":"PRICE_FILTER","minPrice":"0.00001000","maxPrice":"922327.00000000",
//!                "tickSize":"0.00001000"},
//!               {"filterType":"LOT_SIZE","minQty":"0.00010000","maxQty":"100000.00000000",
//!                "stepSize":"0.00010000"}, ...], ...}]}
//! ```
//! Statuses: `TRADING`, `BREAK` (delisted pairs linger as BREAK), `HALT`, `CANCEL_ONLY` (since
//! 2026-07), `PRE_TRADING`, `POST_TRADING`, `AUCTION_MATCH`, `END_OF_DAY`. Symbols may be
//! non-ASCII since 2025-12 (`币安人生USDT`): such a row is rejected as `unknown_instrument`,
//! never a panic. Errors: `{"code":-1121,"msg":"Invalid symbol."}`. Parsed with serde_json: a
//! listing is read once per refresh, not per frame.

use crate::model::listing::{
    Listed, Listing, ListingError, ListingStatus, RejectedRow, RowProblem, json_kind, non_empty,
    size,
};
use crate::model::reject::clip;
use crate::model::{Exchange, Instrument};
use serde_json::{Map, Value};

/// Decodes an `exchangeInfo` body fetched at `fetched_us`. Read as a JSON value and checked
/// type by type, so nothing of a hostile payload is quoted back (only its JSON kind, or a
/// clipped string).
pub fn decode(body: &[u8], fetched_us: i64) -> Result<Listing, ListingError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ListingError::Malformed(format!(
            "not JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    let Value::Object(info) = value else {
        return Err(ListingError::Malformed(format!(
            "expected the exchangeInfo object, got {}",
            json_kind(&value)
        )));
    };
    let symbols = match info.get("symbols") {
        Some(Value::Array(symbols)) => symbols,
        Some(other) => {
            return Err(ListingError::Malformed(format!(
                "`symbols` is {}, not an array",
                json_kind(other)
            )));
        }
        None => {
            return Err(match (info.get("code"), info.get("msg")) {
                (code, Some(Value::String(msg))) => ListingError::Exchange(format!(
                    "{}: {}",
                    match code {
                        Some(Value::Number(n)) => clip(&n.to_string(), 20),
                        _ => "?".to_owned(),
                    },
                    clip(msg, 200)
                )),
                _ => ListingError::Malformed("no `symbols` array".into()),
            });
        }
    };
    let mut listing = Listing::default();
    for row in symbols {
        match record(row, fetched_us) {
            Ok(r) => listing.push(r),
            Err(rejected) => listing.rejected.push(rejected),
        }
    }
    non_empty(listing)
}

fn text<'a>(
    native: Option<&str>,
    field: &str,
    row: &'a Map<String, Value>,
) -> Result<&'a str, RejectedRow> {
    match row.get(field) {
        Some(Value::String(s)) => Ok(s),
        None | Some(Value::Null) => Err(RejectedRow::new(native, RowProblem::MissingField, field)),
        Some(v) => Err(RejectedRow::new(
            native,
            RowProblem::WrongType,
            format!("{field} is {}, not a string", json_kind(v)),
        )),
    }
}

fn record(row: &Value, fetched_us: i64) -> Result<Listed, RejectedRow> {
    let Value::Object(row) = row else {
        return Err(RejectedRow::new(
            None,
            RowProblem::WrongType,
            format!("a symbol row is {}, not an object", json_kind(row)),
        ));
    };
    let symbol = text(None, "symbol", row)?;
    let native = Some(symbol);
    let status = status(symbol, text(native, "status", row)?)?;
    let base = text(native, "baseAsset", row)?;
    let quote = text(native, "quoteAsset", row)?;
    let instrument = Instrument::new(base, quote)
        .filter(|i| symbol == format!("{}{}", i.base(), i.quote()))
        .ok_or_else(|| {
            RejectedRow::new(
                native,
                RowProblem::UnknownInstrument,
                format!(
                    "symbol `{}` with base `{}` and quote `{}` is not BASE+QUOTE in upper-case ASCII",
                    clip(symbol, 40),
                    clip(base, 40),
                    clip(quote, 40)
                ),
            )
        })?;
    let (tick_size, lot_size) = filters(symbol, row.get("filters"))?;
    Ok(Listed {
        exchange: Exchange::Binance,
        instrument,
        native_symbol: symbol.to_owned(),
        status,
        tick_size,
        lot_size,
        notices: Vec::new(),
        first_seen_us: fetched_us,
        last_seen_us: fetched_us,
    })
}

/// Binance's name of a status (the inverse of the mapping below).
pub fn status_name(status: ListingStatus) -> &'static str {
    match status {
        ListingStatus::Trading => "TRADING",
        ListingStatus::PreTrading => "PRE_TRADING",
        ListingStatus::PostTrading => "POST_TRADING",
        ListingStatus::CancelOnly => "CANCEL_ONLY",
        ListingStatus::Halted => "HALT",
        ListingStatus::AuctionMatch => "AUCTION_MATCH",
        ListingStatus::EndOfDay => "END_OF_DAY",
        ListingStatus::Break => "BREAK",
    }
}

fn status(symbol: &str, status: &str) -> Result<ListingStatus, RejectedRow> {
    Ok(match status {
        "TRADING" => ListingStatus::Trading,
        "PRE_TRADING" => ListingStatus::PreTrading,
        "POST_TRADING" => ListingStatus::PostTrading,
        "CANCEL_ONLY" => ListingStatus::CancelOnly,
        "HALT" => ListingStatus::Halted,
        "AUCTION_MATCH" => ListingStatus::AuctionMatch,
        "END_OF_DAY" => ListingStatus::EndOfDay,
        "BREAK" => ListingStatus::Break,
        other => {
            return Err(RejectedRow::new(
                Some(symbol),
                RowProblem::UnknownStatus,
                format!("status `{}`", clip(other, 40)),
            ));
        }
    })
}

/// `PRICE_FILTER.tickSize` and `LOT_SIZE.stepSize`, where present (a zero means "no rule" in
/// Binance's filters: absent here).
fn filters(
    symbol: &str,
    filters: Option<&Value>,
) -> Result<(Option<rust_decimal::Decimal>, Option<rust_decimal::Decimal>), RejectedRow> {
    let list = match filters {
        None | Some(Value::Null) => return Ok((None, None)),
        Some(Value::Array(list)) => list,
        Some(v) => {
            return Err(RejectedRow::new(
                Some(symbol),
                RowProblem::WrongType,
                format!("filters is {}, not an array", json_kind(v)),
            ));
        }
    };
    let mut tick = None;
    let mut lot = None;
    for f in list {
        let Value::Object(f) = f else { continue };
        let (slot, field) = match f.get("filterType").and_then(Value::as_str) {
            Some("PRICE_FILTER") => (&mut tick, "tickSize"),
            Some("LOT_SIZE") => (&mut lot, "stepSize"),
            _ => continue,
        };
        let value = text(Some(symbol), field, f)?;
        let is_zero = crate::model::decimal::parse_decimal_str(value).is_ok_and(|d| d.is_zero());
        if !is_zero {
            *slot = Some(size(symbol, field, value)?);
        }
    }
    Ok((tick, lot))
}
