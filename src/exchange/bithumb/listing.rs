//! Bithumb's market listing, `GET /v1/market/all` (its v1 API is Upbit-shaped:
//! `[{"market":"KRW-BTC","korean_name":"비트코인","english_name":"Bitcoin","market_warning":"NONE"}]`,
//! `market_warning` NONE or CAUTION), to canonical records through Upbit's decoder. Errors come
//! with HTTP 200 too: `{"status":"5500","message":"..."}`, `{"name":"not_found","message":"..."}`.

use crate::model::Exchange;
use crate::model::listing::{Listing, ListingError};

/// Decodes Bithumb's `/v1/market/all` body fetched at `fetched_us`.
pub fn decode(body: &[u8], fetched_us: i64) -> Result<Listing, ListingError> {
    super::super::upbit::listing::decode_market_all(Exchange::Bithumb, body, fetched_us)
}
