//! `exchange`, `api` and `[options]` of a connector file: which venue profile the rest is
//! checked against, and the venue's own settings. The defaults are the profile's: a venue's
//! first api in [`PROFILES`], an option's [`OptionSpec::default`](crate::exchange::profile::OptionSpec).

use super::Problems;
use crate::exchange::PROFILES;
use crate::exchange::profile::{Options, Profile};
use crate::model::Exchange;
use std::collections::BTreeMap;

/// The venue named by `exchange = ".."`.
pub(super) fn exchange_of(text: &str, p: &mut Problems<'_>) -> Option<Exchange> {
    let found = Exchange::parse(text);
    if found.is_none() {
        p.add(
            "exchange",
            format!(
                "`{text}` is not {}",
                Exchange::list("or", Exchange::lowercase)
            ),
        );
    }
    found
}

/// The profile of `exchange`'s `api` (its first when `None`).
pub(super) fn profile_of(
    exchange: Exchange,
    api: Option<&str>,
    p: &mut Problems<'_>,
) -> Option<&'static Profile> {
    let found = crate::exchange::profile_for(exchange, api);
    if found.is_none() {
        let apis: Vec<&str> = PROFILES
            .iter()
            .filter(|p| p.exchange == exchange)
            .map(|p| p.api)
            .collect();
        p.add(
            "api",
            format!(
                "`{}` is not one of {exchange}'s apis: {}",
                api.unwrap_or(""),
                apis.join(", ")
            ),
        );
    }
    found
}

/// The `[options]` table: every key one of the profile's options, every value one it accepts;
/// options not set take their defaults.
pub(super) fn options_of(
    profile: &Profile,
    set: BTreeMap<String, String>,
    p: &mut Problems<'_>,
) -> Options {
    for (key, value) in &set {
        match profile.options.iter().find(|o| o.key == key) {
            None if profile.options.is_empty() => p.add(
                &format!("options.{key}"),
                format!("{} {} has no options", profile.exchange, profile.api),
            ),
            None => {
                let keys: Vec<&str> = profile.options.iter().map(|o| o.key).collect();
                p.add(
                    &format!("options.{key}"),
                    format!(
                        "not an option of {} {}: {}",
                        profile.exchange,
                        profile.api,
                        keys.join(", ")
                    ),
                );
            }
            Some(spec) if !spec.values.contains(&value.as_str()) => p.add(
                &format!("options.{key}"),
                format!("`{value}` is not one of {}", spec.values.join(", ")),
            ),
            Some(_) => {}
        }
    }
    Options::of(profile.options, |key| set.get(key).cloned())
}
