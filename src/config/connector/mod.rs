//! `connectors/<name>.toml`: one exchange connection each (URL, instruments, channel,
//! keepalive, idle timeout, backoff, limits, enabled flag).
//!
//! The `*File` structs are the file format; their doc comments are the user documentation.
//! [`ConnectorConfig`] is the validated, typed result the runtime uses. Each concern is one
//! file holding its part of the format, its defaults and its validation:
//!
//! - `venue`: `exchange`, `api`, the venue's `[options]`;
//! - `channels`: `channel`/`channels`, and one kind of tick once across files;
//! - `instruments`: `instruments`;
//! - `url`: `url` (and redirecting it to the simulator);
//! - `keepalive`, `backoff`, `limits`: their sections;
//! - here: the file's root, `enabled`, `max_frame_bytes`, loading.

pub(crate) mod backoff;
mod channels;
mod instruments;
pub(crate) mod keepalive;
mod limits;
pub(crate) mod markets;
mod url;
mod venue;

pub use backoff::{
    Backoff, DEFAULT_INITIAL_MS, DEFAULT_JITTER, DEFAULT_MAX_MS, DEFAULT_MULTIPLIER,
    DEFAULT_RESET_AFTER_SECS,
};
pub use keepalive::{DEFAULT_IDLE_TIMEOUT_SECS, Keepalive};
pub use limits::Limits;
pub use markets::{
    DEFAULT_CACHE_DIR, DEFAULT_MAX_DROP, DEFAULT_REFRESH_SECS, DEFAULT_RETRIES,
    DEFAULT_TIMEOUT_SECS, Markets,
};

use super::ConfigError;
use crate::exchange::AdapterConfig;
use crate::exchange::profile::{ChannelSpec, Options, Profile};
use crate::exchange::reference::References;
use crate::model::{Exchange, Instrument};
use serde::Deserialize;
use std::path::Path;

/// A connector file as written.
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConnectorFile {
    /// The venue, by name in any case (`upbit`, ...; `tickflow normalize --help` lists them).
    exchange: String,
    /// Set `false` to keep the file but not connect. Disabled files are still validated.
    #[serde(default = "default_enabled")]
    enabled: bool,
    /// The venue's API, as its profile names it (e.g. Bithumb `v1`, Upbit-compatible, or
    /// `legacy`, pubwss). Default: the venue's first.
    api: Option<String>,
    /// WebSocket URL (`wss://...`; `ws://` for local tests and the simulator).
    url: String,
    /// One channel (same as `channels = [..]` with one entry).
    channel: Option<String>,
    /// Channels, as the venue names them (its profile's list, e.g. Binance `bookTicker`,
    /// Coinone `ORDERBOOK`; a wrong one is refused naming the venue's). Every instrument is
    /// subscribed on every channel.
    channels: Option<Vec<String>>,
    /// Canonical instruments (`BTC-KRW`); mapped to each exchange's own symbols at subscribe.
    /// Set this or `[markets]`.
    instruments: Option<Vec<String>>,
    /// Whole markets from the venue's listing instead of `instruments` (see
    /// [`markets::MarketsFile`]).
    markets: Option<markets::MarketsFile>,
    /// The venue's own settings, `key = "value"`, each one its profile states
    /// ([`crate::exchange::profile::Profile::options`]; e.g. Bithumb legacy `tick_type`, the
    /// ticker's window: `30M`, `1H`, `12H`, `24H` (default) or `MID`).
    #[serde(default)]
    options: std::collections::BTreeMap<String, String>,
    /// Frames larger than this many bytes are rejected (default
    /// [`AdapterConfig::default_max_frame_bytes`]; at least [`MIN_FRAME_BYTES`]).
    max_frame_bytes: Option<usize>,
    #[serde(default)]
    keepalive: keepalive::KeepaliveFile,
    #[serde(default)]
    backoff: backoff::BackoffFile,
    #[serde(default)]
    limits: limits::LimitsFile,
}

/// The JSON schema of a connector file (the configuration reference, `super::reference`).
#[cfg(test)]
pub(crate) fn json_schema() -> schemars::Schema {
    schemars::schema_for!(ConnectorFile)
}

/// A connector is enabled unless its file says otherwise.
const fn default_enabled() -> bool {
    true
}

/// The smallest `max_frame_bytes` a connector may set: 1024.
pub(crate) const MIN_FRAME_BYTES: usize = 1024;

/// One validated connector.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectorConfig {
    /// The file stem (`upbit`, `bithumb-legacy`).
    pub name: String,
    /// Venue.
    pub exchange: Exchange,
    /// The venue API's profile.
    pub profile: &'static Profile,
    /// Whether to connect.
    pub enabled: bool,
    /// WebSocket URL.
    pub url: String,
    /// What to subscribe to, in file order, without duplicates.
    pub channels: Vec<&'static ChannelSpec>,
    /// Canonical instruments, in file order, without duplicates (empty with `markets`).
    pub instruments: Vec<Instrument>,
    /// Whole markets from the venue's listing, when the file asks for them.
    pub markets: Option<Markets>,
    /// The value of each of the profile's options (Bithumb legacy `tick_type`, `24H` by
    /// default).
    pub options: Options,
    /// Frame size limit.
    pub max_frame_bytes: usize,
    /// Keepalive.
    pub keepalive: Keepalive,
    /// Reconnect backoff.
    pub backoff: Backoff,
    /// Request limits.
    pub limits: Limits,
}

/// Collects problems for one file.
struct Problems<'a> {
    file: &'a str,
    list: &'a mut Vec<String>,
}

impl Problems<'_> {
    fn add(&mut self, field: &str, what: impl std::fmt::Display) {
        self.list.push(format!("{}: {field}: {what}", self.file));
    }
}

/// The connector of `file`, every problem in `p` (in the order of the file's keys).
fn validate(
    name: &str,
    file: ConnectorFile,
    references: &References,
    p: &mut Problems<'_>,
) -> Option<ConnectorConfig> {
    let exchange = venue::exchange_of(&file.exchange, p)?;
    // With an unknown api the rest is still checked, against the venue's default profile;
    // only the channels wait (they cannot be checked while the api is wrong).
    let found = venue::profile_of(exchange, file.api.as_deref(), p);
    let profile = found.or_else(|| crate::exchange::profile_for(exchange, None))?;
    let channels = match found {
        Some(profile) => channels::channels_of(profile, file.channel, file.channels, p),
        None => Vec::new(),
    };
    url::check_url(&file.url, p);
    let (instruments, markets) = match (file.instruments, file.markets) {
        (Some(raw), None) => (
            instruments::instruments(profile, &raw, references.get(exchange), p),
            None,
        ),
        (None, Some(m)) => (Vec::new(), Some(m.validate(name, profile, p))),
        (Some(_), Some(_)) => {
            p.add("instruments", "set `instruments` or `[markets]`, not both");
            (Vec::new(), None)
        }
        (None, None) => {
            p.add(
                "instruments",
                "missing: list `instruments` or follow whole markets with `[markets]`",
            );
            (Vec::new(), None)
        }
    };
    let options = venue::options_of(profile, file.options, p);
    let keepalive = file.keepalive.validate(profile, p);
    let backoff = file.backoff.validate(p);
    let limits = file.limits.validate(&profile.limits, channels.len(), p);
    let max_frame_bytes = file
        .max_frame_bytes
        .unwrap_or(AdapterConfig::default_max_frame_bytes());
    if max_frame_bytes < MIN_FRAME_BYTES {
        p.add(
            "max_frame_bytes",
            format!("must be at least {MIN_FRAME_BYTES}"),
        );
    }

    Some(ConnectorConfig {
        name: name.to_owned(),
        exchange,
        profile: found?,
        enabled: file.enabled,
        url: file.url,
        channels,
        instruments,
        markets,
        options,
        max_frame_bytes,
        keepalive,
        backoff,
        limits,
    })
}

/// Parses and validates one connector file's text; `file` names it in problems.
pub fn load_connector(
    file: &str,
    text: &str,
    references: &References,
) -> Result<ConnectorConfig, ConfigError> {
    let mut list = Vec::new();
    let config = parse_one(file, text, references, &mut list);
    match config {
        Some(c) if list.is_empty() => Ok(c),
        _ => Err(ConfigError { problems: list }),
    }
}

fn parse_one(
    file: &str,
    text: &str,
    references: &References,
    list: &mut Vec<String>,
) -> Option<ConnectorConfig> {
    let name = Path::new(file)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or(file);
    let mut p = Problems { file, list };
    match toml::from_str::<ConnectorFile>(text) {
        Ok(parsed) => validate(name, parsed, references, &mut p),
        Err(e) => {
            let at = e
                .span()
                .map_or(String::new(), |s| format!(" (at byte {})", s.start));
            p.list.push(format!("{file}: {}{at}", e.message().trim()));
            None
        }
    }
}

/// Loads every `*.toml` in `dir` (sorted by name), reporting every problem of every file.
/// Enabled connectors must not give one instrument of one venue the same kind of tick twice
/// (two connectors, two APIs of a venue, or `trade` and `aggTrade`): it would be published
/// twice, or interleave two id spaces in one part of the Redis contract.
pub fn load_connectors(
    dir: &Path,
    references: &References,
) -> Result<Vec<ConnectorConfig>, ConfigError> {
    let mut list = Vec::new();
    let mut paths: Vec<_> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect(),
        Err(e) => {
            return Err(ConfigError {
                problems: vec![format!("{}: {e}", dir.display())],
            });
        }
    };
    paths.sort();
    if paths.is_empty() {
        list.push(format!("{}: no connector files (*.toml)", dir.display()));
    }
    let mut configs = Vec::new();
    for path in &paths {
        let file = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(text) => configs.extend(parse_one(&file, &text, references, &mut list)),
            Err(e) => list.push(format!("{file}: {e}")),
        }
    }
    channels::double_subscriptions(&configs, &mut list);
    if list.is_empty() {
        Ok(configs)
    } else {
        Err(ConfigError { problems: list })
    }
}
