//! Coinone's requests: one frame per instrument and channel,
//! `{"request_type":"SUBSCRIBE","channel":"TICKER","topic":{"quote_currency":"KRW",
//! "target_currency":"BTC"}}` (`UNSUBSCRIBE` the same way). The venue's subscriptions are
//! incremental: a request adds or removes one stream and leaves the rest as they are. No
//! `format` is sent: `DEFAULT` is the venue's default, and the frame is then byte for byte
//! what the probe sent.

use super::topic;
use crate::exchange::profile::{SubscribeError, SubscribeRequest};

/// The SUBSCRIBE frames of a connection (or of instruments added to it), instrument by
/// instrument, each instrument's channels in the request's order.
pub fn subscribe(r: &SubscribeRequest<'_>) -> Result<Vec<String>, SubscribeError> {
    Ok(requests("SUBSCRIBE", r))
}

/// The UNSUBSCRIBE frames of instruments removed from a connection.
pub fn unsubscribe(r: &SubscribeRequest<'_>) -> Result<Vec<String>, SubscribeError> {
    Ok(requests("UNSUBSCRIBE", r))
}

fn requests(request_type: &str, r: &SubscribeRequest<'_>) -> Vec<String> {
    let mut out = Vec::with_capacity(r.instruments.len() * r.channels.len());
    for instrument in r.instruments {
        let topic = topic(instrument);
        for channel in r.channels {
            out.push(format!(
                "{{\"request_type\":\"{request_type}\",\"channel\":\"{channel}\",\"topic\":{topic}}}"
            ));
        }
    }
    out
}
