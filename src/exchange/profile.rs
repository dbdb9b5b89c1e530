//! A venue's declarative profile: what generic code (connector validation, subscribe planning,
//! the connection loop, the pipeline) needs to know about a venue, so that none of it matches
//! on one. Each venue folder declares its profiles (`src/exchange/<venue>/profile.rs`) and
//! [`super::PROFILES`] lists them all.

use super::reference::{Reference, ReferenceSpec};
use super::{Adapter, AdapterConfig};
use crate::model::listing::{Listing, ListingError};
use crate::model::{EventKind, Exchange, Instrument};

/// One channel a venue offers, and the kind of tick it produces.
#[derive(Debug, PartialEq, Eq)]
pub struct ChannelSpec {
    /// The name connector files use, as the venue spells it (`bookTicker`, `orderbook`).
    pub name: &'static str,
    /// What its ticks are.
    pub kind: EventKind,
    /// The venue numbers this channel's events consecutively per instrument (each `sequence`
    /// is the previous one plus one; Binance `trade` `t`, `aggTrade` `a`): the gather pipeline
    /// flags a jump as `sequence_gap` ([`crate::gather::flags`]). False where ids only
    /// increase (Upbit `sequential_id`, Binance `bookTicker` `u`) or are absent.
    pub consecutive_ids: bool,
    /// Every frame of this channel is the instrument's whole state, numbered by ids that only
    /// increase (Coinone `ORDERBOOK`): a tick whose id is not above the last one seen restates
    /// an older state (a repeat after a second subscribe, a late frame) and is dropped before
    /// Kafka, counted in `tickflow_ticks_not_newer_total`.
    pub drop_not_newer: bool,
}

/// How a venue's connections are kept alive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ping {
    /// The client sends WebSocket ping frames and the server answers with pongs.
    WebSocket,
    /// The client sends this text message (Coinone `{"request_type":"PING"}`); the venue's
    /// answer is a control message its adapter reads, never data.
    Text(&'static str),
    /// The server pings and the client answers (Binance): tickflow sends no pings by default;
    /// a connector that sets a period sends WebSocket pings.
    ServerDriven,
}

/// Keepalive facts of a venue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeepaliveRules {
    /// Who pings, and with what.
    pub ping: Ping,
    /// Client ping period when the connector sets none (ignored when the server pings).
    pub default_ping_secs: u64,
    /// The server closes a connection silent this long (Upbit and Bithumb ~120 s): client
    /// pings must come more often.
    pub server_idle_limit_secs: Option<u64>,
    /// The server cuts every connection at this age (Binance 24 h): a configured proactive
    /// reconnect must come earlier.
    pub max_connection_age_secs: Option<u64>,
    /// Proactive reconnect when the connector sets none.
    pub default_connection_age_secs: Option<u64>,
}

/// At most `max` events in any window of `per_secs` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Events allowed in one window.
    pub max: u32,
    /// The window, seconds.
    pub per_secs: u64,
}

/// Request limits of a venue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitRules {
    /// Subscribe requests per second per connection the venue allows.
    pub max_requests_per_sec: u32,
    /// A longer-window cap on requests per connection (Upbit 100 a minute), if any.
    pub max_requests_per_window: Option<Rate>,
    /// Connection attempts per IP the venue allows (Binance 300 in 5 min, Upbit 5 a second,
    /// Bithumb 10 a second): every attempt of every connection of the venue in one process
    /// waits its turn.
    pub connects: Rate,
    /// Streams (instrument × channel) per connection the venue allows; `None`: no published
    /// cap (tickflow then allows up to [`LimitRules::DEFAULT_STREAMS`]).
    pub max_streams_per_connection: Option<usize>,
    /// Connections per IP the venue allows open at once (Coinone 20; the next is closed);
    /// `None`: no published cap. The venue's connections in one process share the cap: a new
    /// one waits for a slot, and a renewal at the cap closes the old socket first.
    pub max_open_connections: Option<usize>,
}

impl LimitRules {
    /// Streams per connection where a venue publishes no cap.
    pub const DEFAULT_STREAMS: usize = 1000;

    /// The most streams a connector may put on one connection.
    pub const fn stream_cap(&self) -> usize {
        match self.max_streams_per_connection {
            Some(n) => n,
            None => Self::DEFAULT_STREAMS,
        }
    }
}

/// How a venue changes what a running connection is subscribed to.
#[derive(Debug, Clone, Copy)]
pub enum Resubscribe {
    /// A new request replaces the connection's whole set (Upbit, Bithumb v1): the
    /// [`Profile::subscribe`] request of the new set is sent. The venue may resend a snapshot
    /// of instruments kept (harmless downstream: the cache keeps the newest by event time and
    /// id, and the ticks topic is at-least-once).
    Replace,
    /// Requests add and remove streams (Binance `SUBSCRIBE` / `UNSUBSCRIBE`): the
    /// [`Profile::subscribe`] request of the added instruments, then this builder's of the
    /// removed ones.
    Incremental(SubscribeFn),
    /// The venue's semantics of a second request are not documented (Bithumb legacy): the
    /// connection is renewed with the new set (only that connection's instruments wait one
    /// reconnect).
    Reconnect,
}

/// A venue option a connector file may set in its `[options]` table (Bithumb legacy
/// `tick_type`).
#[derive(Debug, PartialEq, Eq)]
pub struct OptionSpec {
    /// Key in `[options]`.
    pub key: &'static str,
    /// Accepted values.
    pub values: &'static [&'static str],
    /// Value when the file sets none.
    pub default: &'static str,
}

/// What one connection subscribes to.
#[derive(Debug, Clone, Copy)]
pub struct SubscribeRequest<'a> {
    /// Instruments on this connection.
    pub instruments: &'a [Instrument],
    /// Channels, by their [`ChannelSpec::name`].
    pub channels: &'a [&'static str],
    /// Names this client to the venue where it asks (Upbit `ticket`).
    pub ticket: &'a str,
    /// The connector's value of each of the profile's [`Profile::options`].
    pub options: &'a Options,
    /// The venue's reference data (its symbol table, where it keeps one).
    pub reference: &'a Reference,
    /// The first request id to use where the venue echoes one (Binance `id`): ids stay unique
    /// on a connection across later changes.
    pub first_id: u64,
}

/// Why a subscribe request cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubscribeError {
    /// An instrument has no symbol on the venue (the config loader checks this too).
    #[error("instrument {0} has no {1} symbol")]
    NoSymbol(Instrument, Exchange),
}

/// How a venue cuts its subscribe requests: what its builder ([`Profile::subscribe`]) sends
/// for a connection's set, stated as data (a unit test holds every builder to it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscribeShape {
    /// One request carries the connection's whole set, every channel (Upbit's array).
    OnePerConnection,
    /// One request per channel, naming every instrument (Bithumb legacy).
    OnePerChannel,
    /// One request per instrument and channel (Coinone's topic frames).
    OnePerStream,
    /// Requests of at most this many streams (instrument × channel) each (Binance `params`).
    StreamsPerRequest(usize),
}

impl SubscribeShape {
    /// How many requests subscribe `instruments` on `channels`.
    pub const fn requests(self, instruments: usize, channels: usize) -> usize {
        match self {
            Self::OnePerConnection => 1,
            Self::OnePerChannel => channels,
            Self::OnePerStream => instruments * channels,
            Self::StreamsPerRequest(max) => (instruments * channels).div_ceil(max),
        }
    }
}

/// Builds the messages that subscribe one connection, in sending order. Pure.
pub type SubscribeFn = fn(&SubscribeRequest<'_>) -> Result<Vec<String>, SubscribeError>;

/// Decodes a venue's REST listing fetched at a time (UTC epoch µs).
pub type ListingFn = fn(&[u8], i64) -> Result<Listing, ListingError>;

/// Where a venue lists its instruments (public REST, no key), and the decoder.
#[derive(Debug, Clone, Copy)]
pub struct ListingSpec {
    /// The listing's URL.
    pub url: &'static str,
    /// Its decoder (`exchange::<venue>::listing`).
    pub decode: ListingFn,
}

/// Builds the venue's adapter.
pub type AdapterFn = fn(AdapterConfig, &Reference) -> Box<dyn Adapter>;

/// Everything generic code knows about one API of one venue.
#[derive(Debug)]
pub struct Profile {
    /// The venue.
    pub exchange: Exchange,
    /// The API's name in connector files (`api = "legacy"`); the first profile of a venue in
    /// [`super::PROFILES`] is its default.
    pub api: &'static str,
    /// Channels, in the order documentation lists them.
    pub channels: &'static [ChannelSpec],
    /// Keepalive facts.
    pub keepalive: KeepaliveRules,
    /// Request limits.
    pub limits: LimitRules,
    /// The venue's reference data, where its symbols do not spell the instrument (Binance's
    /// symbol table); `None`: the instrument's text is enough.
    pub reference: Option<&'static ReferenceSpec>,
    /// The venue options a connector may set in `[options]`.
    pub options: &'static [OptionSpec],
    /// The subscribe-request builder.
    pub subscribe: SubscribeFn,
    /// How its requests are cut.
    pub shape: SubscribeShape,
    /// How a running connection's set changes.
    pub resubscribe: Resubscribe,
    /// The venue's listing, for whole-market selectors.
    pub listing: Option<ListingSpec>,
    /// The adapter.
    pub adapter: AdapterFn,
    /// Reads what the venue says about the session (acks, refusals, announced closes).
    pub says: super::session::SaysFn,
    /// How the venue answers subscription requests.
    pub acks: super::session::Acks,
    /// The venue's symbol of an instrument, as its requests and refusals name it.
    pub symbol: SymbolFn,
}

/// The venue's symbol of an instrument (from its reference data where it keeps some), if it
/// has one.
pub type SymbolFn = fn(&Instrument, &Reference) -> Option<String>;

/// A connector's value of every option its profile has (set, or the option's default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options(Vec<(&'static str, String)>);

impl Options {
    /// Every option of `specs`: its value in `set`, or its default.
    pub fn of(specs: &'static [OptionSpec], set: impl Fn(&str) -> Option<String>) -> Self {
        Self(
            specs
                .iter()
                .map(|s| (s.key, set(s.key).unwrap_or_else(|| s.default.to_owned())))
                .collect(),
        )
    }

    /// The value of `key`; `None` when the profile has no such option.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }
}

impl Profile {
    /// The channel called `name`.
    pub fn channel(&self, name: &str) -> Option<&'static ChannelSpec> {
        self.channels.iter().find(|c| c.name == name)
    }

    /// The channels' names, for messages.
    pub fn channel_names(&self) -> Vec<&'static str> {
        self.channels.iter().map(|c| c.name).collect()
    }
}

impl PartialEq for Profile {
    fn eq(&self, other: &Self) -> bool {
        (self.exchange, self.api) == (other.exchange, other.api)
    }
}

/// `["a","b"]` as JSON, for the builders (names are upper-case symbols, never escaped).
pub(crate) fn json_list<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let quoted: Vec<String> = items.map(|s| format!("\"{s}\"")).collect();
    format!("[{}]", quoted.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::reference::References;

    /// Every profile's builder sends what its [`SubscribeShape`] states, for one instrument
    /// and for many, on one channel and on all.
    #[test]
    fn every_builder_keeps_its_stated_shape() {
        let references = References::bundled().unwrap();
        let all: Vec<Instrument> = ["BTC-USDT", "ETH-USDT", "XRP-USDT"]
            .iter()
            .map(|i| Instrument::parse(i).unwrap())
            .collect();
        for p in super::super::PROFILES {
            let names = p.channel_names();
            for (instruments, channels) in [(&all[..1], &names[..1]), (&all[..], &names[..])] {
                let sent = (p.subscribe)(&SubscribeRequest {
                    instruments,
                    channels,
                    ticket: "t",
                    options: &Options::of(p.options, |_| None),
                    reference: references.get(p.exchange),
                    first_id: 1,
                })
                .unwrap();
                assert_eq!(
                    sent.len(),
                    p.shape.requests(instruments.len(), channels.len()),
                    "{} {}: {sent:?}",
                    p.exchange,
                    p.api
                );
            }
        }
    }
}
