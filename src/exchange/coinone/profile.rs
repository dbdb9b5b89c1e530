//! Coinone's profile: channels, keepalive and limits (see `../shared/EXCHANGES.md` and
//! `../shared/coinone-protocol.md`).

use crate::exchange::profile::{
    ChannelSpec, KeepaliveRules, LimitRules, ListingSpec, Ping, Profile, Rate, Resubscribe,
    SubscribeShape,
};
use crate::exchange::session::Acks;
use crate::model::{EventKind, Exchange};

/// The keepalive the venue asks for: this text frame every [`PING_SECS`], answered with
/// `{"response_type":"PONG"}` (read as [`crate::exchange::session::Said::Alive`]). The server
/// sends no protocol-level ping.
pub const PING: &str = "{\"request_type\":\"PING\"}";

/// CCXT Pro's period for [`PING`] (`streaming.keepAlive: 20000`).
pub const PING_SECS: u64 = 20;

/// At most this many connections per IP; the next is closed with [`CLOSE_TOO_MANY`]
/// (`LimitRules::max_open_connections`: the venue's connections in one process wait for a
/// slot; processes behind one IP must share it between them). The shipped connector needs 1
/// connection (15 streams), every KRW pair on all three channels 2 (1,089 streams at the
/// default 1,000 per connection).
pub const MAX_CONNECTIONS_PER_IP: usize = 20;

/// The WebSocket close code of a connection over [`MAX_CONNECTIONS_PER_IP`].
pub const CLOSE_TOO_MANY: u16 = 4290;

/// Coinone's public WebSocket.
pub static PROFILE: Profile = Profile {
    exchange: Exchange::Coinone,
    api: "public",
    channels: &[
        ChannelSpec {
            name: "TICKER",
            kind: EventKind::Ticker,
            consecutive_ids: false,
            drop_not_newer: false,
        },
        ChannelSpec {
            name: "TRADE",
            kind: EventKind::Trade,
            consecutive_ids: false,
            drop_not_newer: false,
        },
        // Book ids only increase (ms time and a counter), never consecutively; every frame is
        // a whole book, so a jump loses nothing.
        ChannelSpec {
            name: "ORDERBOOK",
            kind: EventKind::BestBidOffer,
            consecutive_ids: false,
            drop_not_newer: true,
        },
    ],
    // Documented: a connection is closed 30 minutes after its last PING. The probe saw a
    // socket that never subscribed closed after ~60 s; a subscribed one without pings was
    // still open at 120 s.
    keepalive: KeepaliveRules {
        ping: Ping::Text(PING),
        default_ping_secs: PING_SECS,
        server_idle_limit_secs: Some(30 * 60),
        max_connection_age_secs: None,
        default_connection_age_secs: None,
    },
    // No published request rate or cap on topics: the probe sent 363 subscribe frames in
    // 2-4 ms on one socket and every one was acknowledged. 20 connections per IP (see
    // MAX_CONNECTIONS_PER_IP); no published rate of connection attempts, so a modest one.
    limits: LimitRules {
        max_requests_per_sec: 100,
        max_requests_per_window: None,
        max_streams_per_connection: None,
        max_open_connections: Some(MAX_CONNECTIONS_PER_IP),
        connects: Rate {
            max: 5,
            per_secs: 1,
        },
    },
    reference: None,
    options: &[],
    subscribe: super::subscribe::subscribe,
    shape: SubscribeShape::OnePerStream,
    resubscribe: Resubscribe::Incremental(super::subscribe::unsubscribe),
    listing: Some(ListingSpec {
        url: "https://api.coinone.co.kr/public/v2/markets/KRW",
        decode: super::listing::decode,
    }),
    adapter: |config, _| Box::new(super::CoinoneAdapter::new(config)),
    says: super::session::says,
    // Every request is answered in order without an id (an unknown topic's late error is
    // left out of this: see `session`).
    acks: Acks::InOrder,
    // Requests name a pair by its target currency (the quote is always KRW): the word a
    // request's text is matched on when the venue answers it (`BTC` of `KRW/BTC`).
    symbol: |instrument, _| Some(instrument.base().to_owned()),
};
