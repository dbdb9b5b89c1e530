//! Upbit's profile: channels, keepalive and limits (see `../shared/EXCHANGES.md`).

use crate::exchange::profile::{
    ChannelSpec, KeepaliveRules, LimitRules, ListingSpec, Ping, Profile, Rate, Resubscribe,
    SubscribeShape,
};
use crate::exchange::session::Acks;
use crate::model::{EventKind, Exchange};

/// The Upbit-format channels (Bithumb's v1 API offers the same).
pub(crate) const QUOTATION_CHANNELS: [ChannelSpec; 3] = [
    ChannelSpec {
        name: "ticker",
        kind: EventKind::Ticker,
        consecutive_ids: false,
        drop_not_newer: false,
    },
    ChannelSpec {
        name: "trade",
        kind: EventKind::Trade,
        consecutive_ids: false,
        drop_not_newer: false,
    },
    ChannelSpec {
        name: "orderbook",
        kind: EventKind::BestBidOffer,
        consecutive_ids: false,
        drop_not_newer: false,
    },
];

/// The server closes a connection idle ~120 s; a `PING` (or a WS ping) keeps it open.
pub(crate) const QUOTATION_KEEPALIVE: KeepaliveRules = KeepaliveRules {
    ping: Ping::WebSocket,
    default_ping_secs: 30,
    server_idle_limit_secs: Some(120),
    max_connection_age_secs: None,
    default_connection_age_secs: None,
};

/// Upbit quotation WebSocket v1.
pub static PROFILE: Profile = Profile {
    exchange: Exchange::Upbit,
    api: "v1",
    channels: &QUOTATION_CHANNELS,
    keepalive: QUOTATION_KEEPALIVE,
    // 5 requests/s and 100/min per connection; no published cap on codes; 5 connects/s per IP.
    limits: LimitRules {
        max_requests_per_sec: 5,
        max_requests_per_window: Some(Rate {
            max: 100,
            per_secs: 60,
        }),
        max_streams_per_connection: None,
        max_open_connections: None,
        connects: Rate {
            max: 5,
            per_secs: 1,
        },
    },
    reference: None,
    options: &[],
    subscribe: super::subscribe::quotation_request,
    shape: SubscribeShape::OnePerConnection,
    resubscribe: Resubscribe::Replace,
    listing: Some(ListingSpec {
        url: "https://api.upbit.com/v1/market/all?is_details=true",
        decode: super::listing::decode,
    }),
    adapter: |config, _| Box::new(super::UpbitAdapter::new(config)),
    says: super::session::says,
    acks: Acks::Silent,
    symbol: |instrument, _| Some(super::market_code(instrument)),
};
