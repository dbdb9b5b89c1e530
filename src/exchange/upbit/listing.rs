//! Upbit's market listing, `GET /v1/market/all?is_details=true`, to canonical records. Bithumb's
//! `GET /v1/market/all` has the same shape and goes through [`decode_market_all`] too.
//!
//! ```json
//! [{"market":"KRW-BTC","korean_name":"비트코인","english_name":"Bitcoin",
//!   "market_event":{"warning":false,"caution":{"PRICE_FLUCTUATIONS":false,
//!   "TRADING_VOLUME_SOARING":false,"DEPOSIT_AMOUNT_SOARING":false,
//!   "GLOBAL_PRICE_DIFFERENCES":false,"CONCENTRATION_OF_SMALL_ACCOUNTS":false}}}]
//! ```
//! The older form carries `"market_warning":"NONE"|"CAUTION"` instead of `market_event`. The
//! listing names only markets that trade; it publishes no tick or lot size. Errors come as
//! `{"error":{"name":404,"message":"..."}}` (Bithumb also `{"status":"5500","message":"..."}`
//! with HTTP 200). Parsed with serde_json: a listing is read once per refresh, not per frame.

use crate::model::Exchange;
use crate::model::listing::{
    Listed, Listing, ListingError, ListingStatus, Notice, RejectedRow, RowProblem,
    json_kind as kind, non_empty,
};
use crate::model::reject::clip;
use serde_json::Value;

/// Decodes Upbit's `/v1/market/all?is_details=true` body fetched at `fetched_us`.
pub fn decode(body: &[u8], fetched_us: i64) -> Result<Listing, ListingError> {
    decode_market_all(Exchange::Upbit, body, fetched_us)
}

/// Decodes an Upbit-shaped `market/all` body of `exchange`.
pub fn decode_market_all(
    exchange: Exchange,
    body: &[u8],
    fetched_us: i64,
) -> Result<Listing, ListingError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ListingError::Malformed(format!("not JSON: {e}")))?;
    let rows = match value {
        Value::Array(rows) => rows,
        Value::Object(o) => return Err(error_body(&o)),
        other => {
            return Err(ListingError::Malformed(format!(
                "expected an array of markets, got {}",
                kind(&other)
            )));
        }
    };
    let mut listing = Listing::default();
    for row in &rows {
        match record(exchange, row, fetched_us) {
            Ok(r) => listing.push(r),
            Err(rejected) => listing.rejected.push(rejected),
        }
    }
    non_empty(listing)
}

/// The venue's error, from any of its error bodies; `Malformed` for any other object.
fn error_body(o: &serde_json::Map<String, Value>) -> ListingError {
    let text = |v: Option<&Value>| match v {
        Some(Value::String(s)) => clip(s, 200),
        Some(Value::Number(n)) => n.to_string(),
        _ => "?".to_owned(),
    };
    let inner = match o.get("error") {
        Some(Value::Object(e)) => Some((e.get("name"), e.get("message"))),
        _ if o.contains_key("message") => {
            Some((o.get("status").or(o.get("name")), o.get("message")))
        }
        _ => None,
    };
    match inner {
        Some((code, message)) => {
            ListingError::Exchange(format!("{}: {}", text(code), text(message)))
        }
        None => ListingError::Malformed("an object that is neither a listing nor an error".into()),
    }
}

fn record(exchange: Exchange, row: &Value, fetched_us: i64) -> Result<Listed, RejectedRow> {
    let Value::Object(row) = row else {
        return Err(RejectedRow::new(
            None,
            RowProblem::WrongType,
            format!("a row is {}, not an object", kind(row)),
        ));
    };
    let market = match row.get("market") {
        Some(Value::String(m)) => m.as_str(),
        Some(other) => {
            return Err(RejectedRow::new(
                None,
                RowProblem::WrongType,
                format!("market is {}", kind(other)),
            ));
        }
        None => return Err(RejectedRow::new(None, RowProblem::MissingField, "market")),
    };
    let instrument = super::parse_market_code(market).ok_or_else(|| {
        RejectedRow::new(
            Some(market),
            RowProblem::UnknownInstrument,
            format!(
                "market `{}` is not QUOTE-BASE in upper-case ASCII",
                clip(market, 40)
            ),
        )
    })?;
    Ok(Listed {
        exchange,
        instrument,
        native_symbol: market.to_owned(),
        status: ListingStatus::Trading,
        tick_size: None,
        lot_size: None,
        notices: notices(market, row)?,
        first_seen_us: fetched_us,
        last_seen_us: fetched_us,
    })
}

/// `market_event` (warning, caution flags) or the older `market_warning`. Notices are extra
/// information: a value this decoder does not know is read as a caution and `null` as absent,
/// never a reason to drop the market; only a value of the wrong JSON type rejects the row.
fn notices(market: &str, row: &serde_json::Map<String, Value>) -> Result<Vec<Notice>, RejectedRow> {
    let wrong = |what: &str, v: &Value| {
        RejectedRow::new(
            Some(market),
            RowProblem::WrongType,
            format!("{what} is {}", kind(v)),
        )
    };
    let mut notices = Vec::new();
    match row.get("market_event") {
        None | Some(Value::Null) => {}
        Some(Value::Object(event)) => {
            match event.get("warning") {
                None | Some(Value::Null | Value::Bool(false)) => {}
                Some(Value::Bool(true)) => notices.push(Notice::Warning),
                Some(v) => return Err(wrong("market_event.warning", v)),
            }
            match event.get("caution") {
                None | Some(Value::Null) => {}
                Some(Value::Object(flags)) => {
                    for (flag, on) in flags {
                        match on {
                            Value::Null | Value::Bool(false) => {}
                            // A cause this decoder does not know is still a caution.
                            Value::Bool(true) => notices.push(caution(flag)),
                            v => {
                                return Err(wrong(
                                    &format!("market_event.caution.{}", clip(flag, 40)),
                                    v,
                                ));
                            }
                        }
                    }
                }
                Some(v) => return Err(wrong("market_event.caution", v)),
            }
        }
        Some(v) => return Err(wrong("market_event", v)),
    }
    match row.get("market_warning") {
        None | Some(Value::Null) => {}
        Some(Value::String(w)) if w == "NONE" => {}
        // CAUTION, or a level this decoder does not know: a caution either way.
        Some(Value::String(_)) => notices.push(Notice::Caution),
        Some(v) => return Err(wrong("market_warning", v)),
    }
    notices.sort_unstable();
    notices.dedup();
    Ok(notices)
}

fn caution(flag: &str) -> Notice {
    match flag {
        "PRICE_FLUCTUATIONS" => Notice::PriceFluctuations,
        "TRADING_VOLUME_SOARING" => Notice::TradingVolumeSoaring,
        "DEPOSIT_AMOUNT_SOARING" => Notice::DepositAmountSoaring,
        "GLOBAL_PRICE_DIFFERENCES" => Notice::GlobalPriceDifferences,
        "CONCENTRATION_OF_SMALL_ACCOUNTS" => Notice::ConcentrationOfSmallAccounts,
        _ => Notice::Caution,
    }
}
