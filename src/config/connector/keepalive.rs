//! `[keepalive]` of a connector file: how a connection is kept alive and when it is declared
//! dead. The ping period and the proactive reconnect age default to the venue profile's
//! [`KeepaliveRules`]; the idle timeout to [`DEFAULT_IDLE_TIMEOUT_SECS`].

use super::Problems;
use crate::exchange::profile::{KeepaliveRules, Ping, Profile};
use serde::Deserialize;
use std::time::Duration;

/// Reconnect a feed silent this long, seconds: 60 (twice the usual client ping period).
pub const DEFAULT_IDLE_TIMEOUT_SECS: u64 = 60;

/// `[keepalive]` as written.
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct KeepaliveFile {
    /// Send a ping this often. Upbit and Bithumb close connections idle ~120 s (default: the
    /// profile's [`KeepaliveRules::default_ping_secs`], 30 there); Binance pings the client,
    /// which answers, so by default tickflow sends none there
    /// ([`KeepaliveRules::ping`]).
    ping_interval_secs: Option<u64>,
    /// Reconnect a feed that sent nothing for this long (default
    /// [`DEFAULT_IDLE_TIMEOUT_SECS`]).
    idle_timeout_secs: Option<u64>,
    /// Reconnect proactively after this long (Binance cuts connections at 24 h; default: the
    /// profile's [`KeepaliveRules::default_connection_age_secs`], 23 h there, off elsewhere).
    max_connection_age_secs: Option<u64>,
    /// Renew make-before-break: the new connection is opened and subscribed while the old one
    /// still delivers (default [`DEFAULT_MAKE_BEFORE_BREAK`]). Off, a renewal closes first
    /// and leaves a gap of one connect and subscribe, but never holds two connections: for a
    /// deployment at the venue's per-IP connection cap.
    make_before_break: Option<bool>,
}

/// Renewals overlap the old and the new connection by default: no gap.
pub const DEFAULT_MAKE_BEFORE_BREAK: bool = true;

/// Keepalive settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keepalive {
    /// Client ping period; `None` when the server pings (Binance).
    pub ping_interval: Option<Duration>,
    /// What a client ping is: the venue's text message, or a WebSocket ping frame.
    pub ping_message: Option<&'static str>,
    /// Silence after which the connection is replaced.
    pub idle_timeout: Duration,
    /// Proactive reconnect age, if any.
    pub max_connection_age: Option<Duration>,
    /// Planned renewals open the new connection before closing the old one.
    pub make_before_break: bool,
}

impl KeepaliveFile {
    /// The settings, with the profile's defaults; every problem goes to `p`.
    pub(super) fn validate(&self, profile: &Profile, p: &mut Problems<'_>) -> Keepalive {
        let rules: KeepaliveRules = profile.keepalive;
        let ping = self
            .ping_interval_secs
            .or((rules.ping != Ping::ServerDriven).then_some(rules.default_ping_secs));
        let idle = self.idle_timeout_secs.unwrap_or(DEFAULT_IDLE_TIMEOUT_SECS);
        let age = self
            .max_connection_age_secs
            .or(rules.default_connection_age_secs);
        if idle == 0 {
            p.add("keepalive.idle_timeout_secs", "must be > 0");
        }
        match (ping, rules.server_idle_limit_secs) {
            (Some(0), _) => p.add("keepalive.ping_interval_secs", "must be > 0"),
            (Some(ping), _) if ping >= idle => p.add(
                "keepalive.ping_interval_secs",
                format!("{ping} must be below idle_timeout_secs ({idle})"),
            ),
            (Some(ping), Some(limit)) if ping >= limit => p.add(
                "keepalive.ping_interval_secs",
                format!("{ping} is not inside the exchange's {limit} s idle limit"),
            ),
            _ => {}
        }
        match (age, rules.max_connection_age_secs) {
            (Some(0), _) => p.add("keepalive.max_connection_age_secs", "must be > 0"),
            (Some(a), Some(cut)) if a >= cut => p.add(
                "keepalive.max_connection_age_secs",
                format!(
                    "{a} must be below {}'s {cut} s connection limit",
                    profile.exchange
                ),
            ),
            _ => {}
        }
        Keepalive {
            ping_interval: ping.map(Duration::from_secs),
            ping_message: match rules.ping {
                Ping::Text(message) => Some(message),
                Ping::WebSocket | Ping::ServerDriven => None,
            },
            idle_timeout: Duration::from_secs(idle),
            max_connection_age: age.map(Duration::from_secs),
            make_before_break: self.make_before_break.unwrap_or(DEFAULT_MAKE_BEFORE_BREAK),
        }
    }
}
