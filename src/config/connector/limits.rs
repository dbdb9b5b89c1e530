//! `[limits]` of a connector file: the exchange's published request limits, which tickflow
//! stays under. The defaults are the venue profile's [`LimitRules`].

use super::Problems;
use crate::exchange::profile::LimitRules;
use serde::Deserialize;

/// `[limits]` as written.
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LimitsFile {
    /// Subscribe requests per second on one connection (Upbit and Binance allow 5; default and
    /// most: the profile's [`LimitRules::max_requests_per_sec`]).
    subscribe_requests_per_sec: Option<u32>,
    /// Streams per connection; longer instrument lists are split (Binance allows 1024; default
    /// and most: [`LimitRules::stream_cap`]).
    max_streams_per_connection: Option<usize>,
}

/// Request limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Subscribe requests per second per connection.
    pub subscribe_requests_per_sec: u32,
    /// Streams per connection.
    pub max_streams_per_connection: usize,
}

impl LimitsFile {
    /// The limits, within `rules`; a connection must hold one instrument's `channels` streams.
    /// Every problem goes to `p`.
    pub(super) fn validate(
        &self,
        rules: &LimitRules,
        channels: usize,
        p: &mut Problems<'_>,
    ) -> Limits {
        let cap = rules.stream_cap();
        let max_rate = rules.max_requests_per_sec;
        let limits = Limits {
            subscribe_requests_per_sec: self.subscribe_requests_per_sec.unwrap_or(max_rate),
            max_streams_per_connection: self.max_streams_per_connection.unwrap_or(cap),
        };
        if !(1..=max_rate).contains(&limits.subscribe_requests_per_sec) {
            p.add(
                "limits.subscribe_requests_per_sec",
                format!("must be within 1..={max_rate} (the exchange's limit)"),
            );
        }
        if limits.max_streams_per_connection == 0 || limits.max_streams_per_connection > cap {
            p.add(
                "limits.max_streams_per_connection",
                format!("must be within 1..={cap}"),
            );
        } else if limits.max_streams_per_connection < channels.max(1) {
            p.add(
                "limits.max_streams_per_connection",
                format!(
                    "{} cannot hold one instrument's {channels} channels",
                    limits.max_streams_per_connection
                ),
            );
        }
        limits
    }
}
