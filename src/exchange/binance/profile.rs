//! Binance spot's profile: channels, keepalive and limits (see `../shared/EXCHANGES.md`).

use crate::exchange::profile::{
    ChannelSpec, KeepaliveRules, LimitRules, ListingSpec, Ping, Profile, Rate, Resubscribe,
    SubscribeShape,
};
use crate::exchange::session::Acks;
use crate::model::{EventKind, Exchange};

/// Binance spot streams.
pub static PROFILE: Profile = Profile {
    exchange: Exchange::Binance,
    api: "spot",
    channels: &[
        ChannelSpec {
            name: "ticker",
            kind: EventKind::Ticker,
            consecutive_ids: false,
            drop_not_newer: false,
        },
        ChannelSpec {
            name: "miniTicker",
            kind: EventKind::Ticker,
            consecutive_ids: false,
            drop_not_newer: false,
        },
        ChannelSpec {
            name: "bookTicker",
            kind: EventKind::BestBidOffer,
            consecutive_ids: false,
            drop_not_newer: false,
        },
        // Trade and aggregate-trade ids are consecutive per symbol ("t", "a"); ticker ("L",
        // the last trade id) and book ("u") ids only increase.
        ChannelSpec {
            name: "trade",
            kind: EventKind::Trade,
            consecutive_ids: true,
            drop_not_newer: false,
        },
        ChannelSpec {
            name: "aggTrade",
            kind: EventKind::Trade,
            consecutive_ids: true,
            drop_not_newer: false,
        },
    ],
    // The server pings every 20 s and the client answers; connections are cut at 24 h.
    keepalive: KeepaliveRules {
        ping: Ping::ServerDriven,
        default_ping_secs: 30,
        server_idle_limit_secs: None,
        max_connection_age_secs: Some(24 * 3600),
        default_connection_age_secs: Some(23 * 3600),
    },
    // 5 incoming messages/s per connection (pongs included), 1024 streams per connection,
    // 300 connection attempts per 5 minutes per IP.
    limits: LimitRules {
        max_requests_per_sec: 5,
        max_requests_per_window: None,
        max_streams_per_connection: Some(1024),
        max_open_connections: None,
        connects: Rate {
            max: 300,
            per_secs: 300,
        },
    },
    reference: Some(&super::symbols::REFERENCE),
    options: &[],
    subscribe: super::subscribe::subscribe,
    shape: SubscribeShape::StreamsPerRequest(super::subscribe::PARAMS_PER_MESSAGE),
    resubscribe: Resubscribe::Incremental(super::subscribe::unsubscribe),
    listing: Some(ListingSpec {
        url: "https://api.binance.com/api/v3/exchangeInfo",
        decode: super::listing::decode,
    }),
    adapter: |config, reference| {
        Box::new(super::BinanceAdapter::new(
            config,
            super::symbols::shared(reference),
        ))
    },
    says: super::session::says,
    acks: Acks::ById,
    symbol: |instrument, reference| {
        super::symbols::of(reference)
            .symbol_of(instrument)
            .map(str::to_owned)
    },
};
