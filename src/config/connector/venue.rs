//! `exchange`, `api` and the profile's option (`tick_type`) of a connector file: which venue
//! profile the rest is checked against. The defaults are the profile's: a venue's first api
//! in [`PROFILES`], an option's [`OptionSpec::default`](crate::exchange::profile::OptionSpec).

use super::Problems;
use crate::exchange::PROFILES;
use crate::exchange::profile::Profile;
use crate::model::Exchange;

/// The venue named by `exchange = ".."`.
pub(super) fn exchange_of(text: &str, p: &mut Problems<'_>) -> Option<Exchange> {
    let found = Exchange::parse(text);
    if found.is_none() {
        let names: Vec<String> = Exchange::ALL
            .iter()
            .map(|e| e.as_str().to_ascii_lowercase())
            .collect();
        let (last, rest) = names
            .split_last()
            .map_or(("", &[][..]), |(l, r)| (l.as_str(), r));
        p.add(
            "exchange",
            format!("`{text}` is not {} or {last}", rest.join(", ")),
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

/// The profile's option: `tick_type` as written or the profile's default; `None` when the
/// profile has no option.
pub(super) fn option_of(
    profile: &Profile,
    tick_type: Option<String>,
    p: &mut Problems<'_>,
) -> Option<String> {
    match (&profile.option, tick_type) {
        (Some(spec), None) => Some(spec.default.to_owned()),
        (Some(spec), Some(t)) => {
            if !spec.values.contains(&t.as_str()) {
                p.add(
                    spec.key,
                    format!("`{t}` is not one of {}", spec.values.join(", ")),
                );
            }
            Some(t)
        }
        (None, Some(_)) => {
            p.add(
                "tick_type",
                format!("{} {} has no tick types", profile.exchange, profile.api),
            );
            None
        }
        (None, None) => None,
    }
}
