//! Bithumb's two profiles: the Upbit-compatible v1 API (the default) and the legacy pubwss API
//! (see `../shared/EXCHANGES.md`).

use crate::exchange::profile::{
    ChannelSpec, LimitRules, ListingSpec, OptionSpec, Profile, Rate, Resubscribe, SubscribeShape,
};
use crate::exchange::session::Acks;
use crate::exchange::upbit::profile::{QUOTATION_CHANNELS, QUOTATION_KEEPALIVE};
use crate::model::{EventKind, Exchange};

fn adapter(
    config: crate::exchange::AdapterConfig,
    _: &crate::exchange::reference::Reference,
) -> Box<dyn crate::exchange::Adapter> {
    Box::new(super::BithumbAdapter::new(config))
}

/// 10 connection attempts per second per IP (both APIs).
const CONNECTS: Rate = Rate {
    max: 10,
    per_secs: 1,
};

/// Bithumb's v1 REST listing (Upbit-shaped `market/all`; `isDetails` adds the warnings).
const LISTING: ListingSpec = ListingSpec {
    url: "https://api.bithumb.com/v1/market/all?isDetails=true",
    decode: super::listing::decode,
};

/// `wss://ws-api.bithumb.com/websocket/v1`: Upbit's request format and channels.
pub static V1: Profile = Profile {
    exchange: Exchange::Bithumb,
    api: "v1",
    channels: &QUOTATION_CHANNELS,
    keepalive: QUOTATION_KEEPALIVE,
    // 10 connects/s per IP; requests as Upbit.
    limits: LimitRules {
        max_requests_per_sec: 5,
        max_requests_per_window: Some(Rate {
            max: 100,
            per_secs: 60,
        }),
        max_streams_per_connection: None,
        max_open_connections: None,
        connects: CONNECTS,
    },
    reference: None,
    options: &[],
    subscribe: crate::exchange::upbit::subscribe::quotation_request,
    shape: SubscribeShape::OnePerConnection,
    resubscribe: Resubscribe::Replace,
    listing: Some(LISTING),
    adapter,
    says: crate::exchange::upbit::session::says,
    acks: Acks::Silent,
    symbol: |instrument, _| Some(crate::exchange::upbit::market_code(instrument)),
};

/// `wss://pubwss.bithumb.com/pub/ws`.
pub static LEGACY: Profile = Profile {
    exchange: Exchange::Bithumb,
    api: "legacy",
    channels: &[
        ChannelSpec {
            name: "ticker",
            kind: EventKind::Ticker,
            consecutive_ids: false,
            drop_not_newer: false,
        },
        ChannelSpec {
            name: "transaction",
            kind: EventKind::Trade,
            consecutive_ids: false,
            drop_not_newer: false,
        },
    ],
    keepalive: QUOTATION_KEEPALIVE,
    limits: LimitRules {
        max_requests_per_sec: 5,
        max_requests_per_window: None,
        max_streams_per_connection: None,
        max_open_connections: None,
        connects: CONNECTS,
    },
    reference: None,
    // The ticker's window; only 24H fills the canonical 24 h volumes.
    options: &[OptionSpec {
        key: super::subscribe::TICK_TYPE,
        values: &["30M", "1H", "12H", "24H", "MID"],
        default: "24H",
    }],
    subscribe: super::subscribe::legacy_request,
    shape: SubscribeShape::OnePerChannel,
    resubscribe: Resubscribe::Reconnect,
    // The legacy socket names the same instruments (`BTC_KRW`): the v1 listing serves both.
    listing: Some(LISTING),
    adapter,
    says: super::session::says,
    acks: Acks::InOrder,
    symbol: |instrument, _| Some(super::legacy_symbol(instrument)),
};
