//! The Upbit-format subscribe request (Upbit, and Bithumb's v1 API): one JSON array per
//! connection, `[{ticket},{type,codes}...,{format}]`, one `{type,codes}` per channel. A new
//! request replaces the connection's subscription, so everything goes in one message.

use super::market_code;
use crate::exchange::profile::{SubscribeError, SubscribeRequest, json_list};

/// `[{"ticket":"tf-0"},{"type":"ticker","codes":["KRW-BTC"]},{"format":"DEFAULT"}]`.
pub fn quotation_request(r: &SubscribeRequest<'_>) -> Result<Vec<String>, SubscribeError> {
    let codes: Vec<String> = r.instruments.iter().map(market_code).collect();
    let codes = json_list(codes.iter().map(String::as_str));
    let types: Vec<String> = r
        .channels
        .iter()
        .map(|ty| format!("{{\"type\":\"{ty}\",\"codes\":{codes}}}"))
        .collect();
    Ok(vec![format!(
        "[{{\"ticket\":\"{}\"}},{},{{\"format\":\"DEFAULT\"}}]",
        r.ticket,
        types.join(",")
    )])
}
