//! Bithumb legacy subscribe requests: one message per channel,
//! `{"type":"ticker","symbols":["BTC_KRW"],"tickTypes":["24H"]}` and
//! `{"type":"transaction","symbols":["BTC_KRW"]}`. (The v1 API uses the Upbit request.)

use super::legacy_symbol;
use crate::exchange::profile::{SubscribeError, SubscribeRequest, json_list};

/// The option naming the ticker's window (`[options] tick_type = "24H"`).
pub const TICK_TYPE: &str = "tick_type";

/// The legacy messages of one connection; the `tick_type` option is the ticker's window.
pub fn legacy_request(r: &SubscribeRequest<'_>) -> Result<Vec<String>, SubscribeError> {
    let names: Vec<String> = r.instruments.iter().map(legacy_symbol).collect();
    let symbols = json_list(names.iter().map(String::as_str));
    Ok(r.channels
        .iter()
        .map(|channel| match *channel {
            "ticker" => format!(
                "{{\"type\":\"ticker\",\"symbols\":{symbols},\"tickTypes\":[\"{}\"]}}",
                r.options.get(TICK_TYPE).unwrap_or("24H")
            ),
            other => format!("{{\"type\":\"{other}\",\"symbols\":{symbols}}}"),
        })
        .collect())
}
