//! `channel` / `channels` of a connector file: what to subscribe to, checked against the venue
//! profile; and, across files, that no instrument gets one kind of tick twice.

use super::{ConnectorConfig, Problems};
use crate::exchange::profile::{ChannelSpec, Profile};
use crate::model::{EventKind, Exchange, Instrument};

/// The channels of `channel = ".."` (`one`) or `channels = [..]` (`many`), in file order.
pub(super) fn channels_of(
    profile: &'static Profile,
    one: Option<String>,
    many: Option<Vec<String>>,
    p: &mut Problems<'_>,
) -> Vec<&'static ChannelSpec> {
    let single = one.is_some();
    let names = match (one, many) {
        (Some(c), None) => vec![c],
        (None, Some(list)) => list,
        (Some(_), Some(_)) => {
            p.add("channels", "set `channel` or `channels`, not both");
            return Vec::new();
        }
        (None, None) => {
            p.add("channels", "missing: name at least one channel");
            return Vec::new();
        }
    };
    if names.is_empty() {
        p.add("channels", "must list at least one channel");
    }
    let mut out: Vec<&'static ChannelSpec> = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let field = if single {
            "channel".to_owned()
        } else {
            format!("channels[{i}]")
        };
        match profile.channel(name) {
            None => p.add(
                &field,
                format!(
                    "`{name}` is not one of {} ({} {})",
                    profile.channel_names().join(", "),
                    profile.exchange,
                    profile.api
                ),
            ),
            Some(c) if out.contains(&c) => p.add(&field, format!("`{name}` is listed twice")),
            Some(c) => {
                // Two channels of one kind would interleave two id spaces in one part of the
                // Redis contract (a trade's and an aggregate's ids), and publish each event twice.
                if let Some(other) = out.iter().find(|o| o.kind == c.kind) {
                    p.add(
                        &field,
                        format!(
                            "`{name}` and `{}` both give {} ticks: choose one",
                            other.name,
                            c.kind.as_str()
                        ),
                    );
                }
                out.push(c);
            }
        }
    }
    out
}

/// One problem in `list` per instrument that two enabled connectors (or two channels of one
/// kind) would give the same kind of tick of one venue twice.
pub(super) fn double_subscriptions(configs: &[ConnectorConfig], list: &mut Vec<String>) {
    // A connector following whole markets may carry any instrument of its venue: it cannot
    // share a venue and kind of tick with another.
    for (n, c) in configs.iter().enumerate().filter(|(_, c)| c.enabled) {
        for other in configs[n + 1..]
            .iter()
            .filter(|o| o.enabled && o.exchange == c.exchange)
            .filter(|o| c.markets.is_some() || o.markets.is_some())
        {
            for channel in &c.channels {
                if let Some(o) = other.channels.iter().find(|o| o.kind == channel.kind) {
                    let market = if c.markets.is_some() { c } else { other };
                    list.push(format!(
                        "{}: `{}` and {} on `{}` both give {} {} ticks, and {} follows whole markets: one instrument could be published twice (use one connector per venue and kind of tick, with [markets] include/exclude)",
                        c.name,
                        channel.name,
                        other.name,
                        o.name,
                        c.exchange,
                        channel.kind.as_str(),
                        market.name
                    ));
                }
            }
        }
    }
    let mut seen: Vec<(Exchange, EventKind, &Instrument, &str, &str)> = Vec::new();
    for c in configs.iter().filter(|c| c.enabled) {
        for channel in &c.channels {
            for i in &c.instruments {
                let key = (c.exchange, channel.kind, i);
                match seen.iter().find(|(e, k, x, ..)| (*e, *k, *x) == key) {
                    Some((.., other, other_channel)) => {
                        list.push(format!(
                            "{}: instrument {i} on `{}` is also subscribed by {other} on `{other_channel}` ({} ticks twice)",
                            c.name,
                            channel.name,
                            channel.kind.as_str()
                        ));
                    }
                    None => seen.push((c.exchange, channel.kind, i, &c.name, channel.name)),
                }
            }
        }
    }
}
