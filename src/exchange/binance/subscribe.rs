//! Binance's subscribe requests: `{"method":"SUBSCRIBE","params":[...],"id":N}` messages of at
//! most [`PARAMS_PER_MESSAGE`] streams `<symbol>@<channel>` (lower-case symbols), one stream
//! per instrument and channel.

use crate::exchange::profile::{SubscribeError, SubscribeRequest, json_list};
use crate::model::Exchange;

/// Streams per SUBSCRIBE message (keeps each request small).
pub const PARAMS_PER_MESSAGE: usize = 200;

/// The SUBSCRIBE messages of one connection (or of instruments added to it).
pub fn subscribe(r: &SubscribeRequest<'_>) -> Result<Vec<String>, SubscribeError> {
    requests("SUBSCRIBE", r)
}

/// The UNSUBSCRIBE messages of instruments removed from a connection.
pub fn unsubscribe(r: &SubscribeRequest<'_>) -> Result<Vec<String>, SubscribeError> {
    requests("UNSUBSCRIBE", r)
}

fn requests(method: &str, r: &SubscribeRequest<'_>) -> Result<Vec<String>, SubscribeError> {
    let mut streams = Vec::with_capacity(r.instruments.len() * r.channels.len());
    for instrument in r.instruments {
        let symbol = super::symbols::of(r.reference)
            .symbol_of(instrument)
            .ok_or_else(|| SubscribeError::NoSymbol(instrument.clone(), Exchange::Binance))?
            .to_ascii_lowercase();
        for channel in r.channels {
            streams.push(format!("{symbol}@{channel}"));
        }
    }
    Ok(streams
        .chunks(PARAMS_PER_MESSAGE)
        .enumerate()
        .map(|(n, params)| {
            format!(
                "{{\"method\":\"{method}\",\"params\":{},\"id\":{}}}",
                json_list(params.iter().map(String::as_str)),
                r.first_id + n as u64
            )
        })
        .collect())
}
