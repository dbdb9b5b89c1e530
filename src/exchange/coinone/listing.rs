//! Coinone's market listing, `GET /public/v2/markets/KRW` (KRW is the venue's only quote), to
//! canonical records.
//!
//! ```json
//! {"result":"success","error_code":"0","server_time":1790134779665,"markets":[
//!  {"quote_currency":"KRW","target_currency":"BTC","price_unit":"1000","qty_unit":"0.0001",
//!   "max_order_amount":"1000000000","max_price":"1000000000","max_qty":"10000",
//!   "min_order_amount":"5000","min_price":"1","min_qty":"0.0001","order_book_units":[...],
//!   "maintenance_status":0,"trade_status":1,"order_types":["limit","market","stop_limit"]}]}
//! ```
//! (Docs: <https://docs.coinone.co.kr/reference/markets>; no raw body was found in public, so
//! the row above is the docs' field list, not a capture.) `trade_status`: 0 no trading, 1 buy
//! and sell, 2 no buy, 3 no sell; `maintenance_status`: 0 normal, 1 maintenance. Errors come
//! with HTTP 200 as `{"result":"error","error_code":"108","error_msg":"Unknown
//! CryptoCurrency"}` (the rate-limit page spells them `errorCode`/`errorMsg`); a quote without
//! markets answers `"markets":[]`, which is no listing. Sizes are read exactly from their JSON
//! text, string or number; `price_unit` is marked for removal in favour of per-range units.
//! Parsed with serde_json: a listing is read once per refresh, not per frame.

use crate::model::Exchange;
use crate::model::listing::{
    Listed, Listing, ListingError, ListingStatus, RejectedRow, RowProblem, non_empty, size,
};
use crate::model::reject::clip;
use serde_json::value::RawValue;
use std::collections::BTreeMap;

type Object<'a> = BTreeMap<String, &'a RawValue>;

/// Decodes Coinone's `/public/v2/markets/KRW` body fetched at `fetched_us`.
pub fn decode(body: &[u8], fetched_us: i64) -> Result<Listing, ListingError> {
    let top: Object<'_> = serde_json::from_slice(body)
        .map_err(|e| ListingError::Malformed(format!("not a JSON object: {e}")))?;
    match string(&top, "result").as_deref() {
        Some("success") => {}
        Some("error") => return Err(error_body(&top)),
        _ => {
            return Err(ListingError::Malformed(
                "`result` is neither success nor error".into(),
            ));
        }
    }
    let markets = top
        .get("markets")
        .ok_or_else(|| ListingError::Malformed("no `markets`".into()))?;
    let rows: Vec<&RawValue> = serde_json::from_str(markets.get())
        .map_err(|_| ListingError::Malformed("`markets` is not an array".into()))?;
    let mut listing = Listing::default();
    for row in rows {
        match record(row, fetched_us) {
            Ok(r) => listing.push(r),
            Err(rejected) => listing.rejected.push(rejected),
        }
    }
    non_empty(listing)
}

/// A string field, `None` when absent or not a string.
fn string(o: &Object<'_>, key: &str) -> Option<String> {
    o.get(key)
        .and_then(|raw| serde_json::from_str::<String>(raw.get()).ok())
}

/// The venue's error: its code and message (snake or camel case), as text.
fn error_body(o: &Object<'_>) -> ListingError {
    let text = |keys: [&str; 2]| {
        keys.iter().find_map(|k| o.get(*k)).map_or_else(
            || "?".to_owned(),
            |raw| {
                serde_json::from_str::<String>(raw.get()).unwrap_or_else(|_| raw.get().to_owned())
            },
        )
    };
    let code = text(["error_code", "errorCode"]);
    let message = text(["error_msg", "errorMsg"]);
    ListingError::Exchange(clip(&format!("{code}: {message}"), 200))
}

fn record(row: &RawValue, fetched_us: i64) -> Result<Listed, RejectedRow> {
    let row: Object<'_> = serde_json::from_str(row.get())
        .map_err(|_| RejectedRow::new(None, RowProblem::WrongType, "a row is not an object"))?;
    let currency = |key: &str| -> Result<String, RejectedRow> {
        match row.get(key) {
            None => Err(RejectedRow::new(None, RowProblem::MissingField, key)),
            Some(raw) => serde_json::from_str::<String>(raw.get()).map_err(|_| {
                RejectedRow::new(
                    None,
                    RowProblem::WrongType,
                    format!("{key} is not a string"),
                )
            }),
        }
    };
    let (quote, target) = (currency("quote_currency")?, currency("target_currency")?);
    let native = format!("{quote}/{target}");
    let instrument = super::parse_native_symbol(&native).ok_or_else(|| {
        RejectedRow::new(
            Some(&native),
            RowProblem::UnknownInstrument,
            format!(
                "market `{}` is not two upper-case ASCII asset codes",
                clip(&native, 40)
            ),
        )
    })?;
    let trade_status = small_int(&row, &native, "trade_status")?;
    let maintenance = small_int(&row, &native, "maintenance_status")?;
    let unknown = |field: &str, value: u8| {
        RejectedRow::new(
            Some(&native),
            RowProblem::UnknownStatus,
            format!("{field} {value} is not one of the documented values"),
        )
    };
    let status = match (maintenance, trade_status) {
        (1, 0..=3) | (0, 0) => ListingStatus::Halted,
        // 2 (no buying) and 3 (no selling) still trade one way, so market data flows; the
        // canonical statuses have no one-sided state (see the branch report).
        (0, 1..=3) => ListingStatus::Trading,
        (0 | 1, other) => return Err(unknown("trade_status", other)),
        (other, _) => return Err(unknown("maintenance_status", other)),
    };
    Ok(Listed {
        exchange: Exchange::Coinone,
        instrument,
        native_symbol: native.clone(),
        status,
        tick_size: unit(&row, &native, "price_unit")?,
        lot_size: unit(&row, &native, "qty_unit")?,
        notices: Vec::new(),
        first_seen_us: fetched_us,
        last_seen_us: fetched_us,
    })
}

/// A status code 0..=255: a JSON number, or a string of digits (the type is not verified).
fn small_int(row: &Object<'_>, native: &str, field: &str) -> Result<u8, RejectedRow> {
    let raw = row
        .get(field)
        .ok_or_else(|| RejectedRow::new(Some(native), RowProblem::MissingField, field))?
        .get();
    let text = raw
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .unwrap_or(raw);
    text.parse::<u8>().map_err(|_| {
        RejectedRow::new(
            Some(native),
            RowProblem::WrongType,
            format!("{field} `{}` is not a status code", clip(raw, 24)),
        )
    })
}

/// An optional exact positive size, from a JSON string or number's own text.
fn unit(
    row: &Object<'_>,
    native: &str,
    field: &str,
) -> Result<Option<rust_decimal::Decimal>, RejectedRow> {
    let Some(raw) = row.get(field).map(|r| r.get()) else {
        return Ok(None);
    };
    if raw == "null" {
        return Ok(None);
    }
    let text = match raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(inner) => inner,
        None if raw.starts_with(|c: char| c == '-' || c.is_ascii_digit()) => raw,
        None => {
            return Err(RejectedRow::new(
                Some(native),
                RowProblem::WrongType,
                format!("{field} is not a number or a numeric string"),
            ));
        }
    };
    size(native, field, text).map(Some)
}
