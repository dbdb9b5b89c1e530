//! `[markets]` in a connector file: follow every instrument of the venue's listing that a
//! selector takes, instead of listing instruments by hand (issue 19).
//!
//! ```toml
//! [markets]
//! quotes = ["KRW"]              # every KRW market
//! exclude = ["USDT-*"]
//! refresh_secs = 300
//! ```

use super::Problems;
use crate::exchange::profile::Profile;
use crate::markets::{Pattern, Selector, Source};
use crate::model::listing::ListingStatus;
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// Default `refresh_secs`: the listing is read again every 5 minutes.
pub const DEFAULT_REFRESH_SECS: u64 = 300;
/// The longest `refresh_secs`: a day.
pub const MAX_REFRESH_SECS: u64 = 86_400;
/// Default `timeout_secs` of one listing request.
pub const DEFAULT_TIMEOUT_SECS: u64 = 10;
/// Default `retries` of a failed listing request.
pub const DEFAULT_RETRIES: u32 = 3;
/// Default `max_drop`: one refresh may remove at most half of the followed instruments.
pub const DEFAULT_MAX_DROP: f64 = 0.5;
/// Default directory of the listing's disk copy (`<dir>/<connector>.json`), relative to the
/// working directory.
pub const DEFAULT_CACHE_DIR: &str = "listings";

/// `[markets]` as written.
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarketsFile {
    /// Quote currencies to follow (`["KRW", "USDT"]`); default: every quote.
    #[serde(default)]
    quotes: Vec<String>,
    /// Listing statuses to follow: `trading`, `pre_trading`, `post_trading`, `cancel_only`,
    /// `halted`, `auction_match`, `end_of_day`, `break`; default: those that publish market
    /// data (`trading`, `cancel_only`, `auction_match`).
    #[serde(default)]
    statuses: Vec<String>,
    /// Only instruments matching one of these patterns (`*-KRW`, `BTC-*`; `*` any run, `?`
    /// one character); default: all.
    #[serde(default)]
    include: Vec<String>,
    /// Never instruments matching one of these patterns.
    #[serde(default)]
    exclude: Vec<String>,
    /// Leave out instruments under an investment warning (Upbit's `market_event.warning`);
    /// default false.
    #[serde(default)]
    skip_warned: bool,
    /// Read the listing again this often, seconds (default [`DEFAULT_REFRESH_SECS`]).
    #[serde(default = "default_refresh_secs")]
    refresh_secs: u64,
    /// Bound on one listing request, seconds (default [`DEFAULT_TIMEOUT_SECS`]).
    #[serde(default = "default_timeout_secs")]
    timeout_secs: u64,
    /// Attempts after a failed request, 0.5 s then doubling (default [`DEFAULT_RETRIES`]).
    #[serde(default = "default_retries")]
    retries: u32,
    /// The most of the followed instruments one refresh may remove, 0..=1; a listing that
    /// would remove more (and more than 3) is refused as suspect (default [`DEFAULT_MAX_DROP`]).
    #[serde(default = "default_max_drop")]
    max_drop: f64,
    /// The listing's URL (default: the venue's, e.g. Upbit's
    /// `https://api.upbit.com/v1/market/all?is_details=true`).
    listing_url: Option<String>,
    /// Where the last accepted listing is kept, so a restart works without the venue's REST
    /// API (default `listings/<connector>.json`); `""` keeps none.
    cache_file: Option<String>,
}

const fn default_refresh_secs() -> u64 {
    DEFAULT_REFRESH_SECS
}
const fn default_timeout_secs() -> u64 {
    DEFAULT_TIMEOUT_SECS
}
const fn default_retries() -> u32 {
    DEFAULT_RETRIES
}
const fn default_max_drop() -> f64 {
    DEFAULT_MAX_DROP
}

/// A validated `[markets]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Markets {
    /// Which instruments.
    pub selector: Selector,
    /// How often the listing is read again.
    pub refresh: Duration,
    /// Bound on one request.
    pub timeout: Duration,
    /// Attempts after a failed one.
    pub retries: u32,
    /// See [`crate::markets::Follow::max_drop`].
    pub max_drop: f64,
    /// The listing's URL.
    pub listing_url: String,
    /// The disk copy, if kept.
    pub cache_file: Option<PathBuf>,
}

impl Markets {
    /// The listing source with `decode`.
    pub fn source(&self, decode: crate::exchange::profile::ListingFn) -> Source {
        Source {
            url: self.listing_url.clone(),
            decode,
            timeout: self.timeout,
            retries: self.retries,
            cache_file: self.cache_file.clone(),
        }
    }
}

impl MarketsFile {
    /// Validates `[markets]` of connector `name` on `profile`'s venue, every problem in `p`.
    pub(super) fn validate(self, name: &str, profile: &Profile, p: &mut Problems<'_>) -> Markets {
        validate(self, name, profile.listing.map(|l| l.url), p)
    }
}

fn validate(
    file: MarketsFile,
    name: &str,
    default_url: Option<&str>,
    p: &mut Problems<'_>,
) -> Markets {
    let mut add = |field: &str, what: String| {
        let field = if field.is_empty() {
            "markets".to_owned()
        } else {
            format!("markets.{field}")
        };
        p.add(&field, what);
    };
    for (i, q) in file.quotes.iter().enumerate() {
        if q.is_empty()
            || !q
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        {
            add(
                &format!("quotes[{i}]"),
                format!(
                    "`{}` is not an upper-case asset (e.g. KRW)",
                    q.escape_debug()
                ),
            );
        }
    }
    let mut statuses = Vec::new();
    for (i, s) in file.statuses.iter().enumerate() {
        match ListingStatus::parse(s) {
            Some(st) => statuses.push(st),
            None => add(
                &format!("statuses[{i}]"),
                format!(
                    "`{}` is not one of {}",
                    s.escape_debug(),
                    ListingStatus::ALL.map(ListingStatus::as_str).join(", ")
                ),
            ),
        }
    }
    let mut patterns = |field: &str, list: &[String]| -> Vec<Pattern> {
        let mut out = Vec::new();
        for (i, p) in list.iter().enumerate() {
            match Pattern::parse(p) {
                Ok(p) => out.push(p),
                Err(e) => add(&format!("{field}[{i}]"), e),
            }
        }
        out
    };
    let include = patterns("include", &file.include);
    let exclude = patterns("exclude", &file.exclude);
    if !(10..=MAX_REFRESH_SECS).contains(&file.refresh_secs) {
        add(
            "refresh_secs",
            format!(
                "must be within 10..={MAX_REFRESH_SECS} (venues rate-limit their REST APIs; a day at most)"
            ),
        );
    }
    if !(1..=300).contains(&file.timeout_secs) {
        add("timeout_secs", "must be within 1..=300".into());
    }
    if file.retries > 10 {
        add("retries", "must be at most 10".into());
    }
    if !(0.0..=1.0).contains(&file.max_drop) {
        add(
            "max_drop",
            format!("{} must be within 0..=1", file.max_drop),
        );
    }
    let listing_url = match (file.listing_url, default_url) {
        (Some(u), _) => {
            if !(u.starts_with("https://") || u.starts_with("http://")) {
                add(
                    "listing_url",
                    format!("`{}` must be an http(s) URL", u.escape_debug()),
                );
            }
            u
        }
        (None, Some(d)) => d.to_owned(),
        (None, None) => {
            add(
                "",
                "this venue API has no listing: list `instruments` instead".into(),
            );
            String::new()
        }
    };
    let cache_file = match file.cache_file.as_deref() {
        Some("") => None,
        Some(p) => Some(PathBuf::from(p)),
        None => Some(PathBuf::from(DEFAULT_CACHE_DIR).join(format!("{name}.json"))),
    };
    Markets {
        selector: Selector {
            quotes: file.quotes,
            statuses,
            include,
            exclude,
            skip_warned: file.skip_warned,
        },
        refresh: Duration::from_secs(file.refresh_secs),
        timeout: Duration::from_secs(file.timeout_secs),
        retries: file.retries,
        max_drop: file.max_drop,
        listing_url,
        cache_file,
    }
}
