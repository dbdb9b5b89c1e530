//! `connectors/<name>.toml`: one exchange connection each (URL, instruments, channel,
//! keepalive, idle timeout, backoff, limits, enabled flag).
//!
//! The `*File` structs are the file format; their doc comments are the user documentation.
//! [`ConnectorConfig`] is the validated, typed result the runtime uses.

use super::ConfigError;
use crate::exchange::SymbolTable;
use crate::exchange::profile::{ChannelSpec, Profile};
use crate::model::{Exchange, Instrument};
use serde::Deserialize;
use std::path::Path;
use std::time::Duration;

/// A connector file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConnectorFile {
    /// `upbit`, `binance` or `bithumb`.
    exchange: String,
    /// Set `false` to keep the file but not connect. Disabled files are still validated.
    #[serde(default = "default_enabled")]
    enabled: bool,
    /// The venue's API: Upbit `v1`; Binance `spot`; Bithumb `v1` (Upbit-compatible, default)
    /// or `legacy` (pubwss). Default: the venue's first.
    api: Option<String>,
    /// WebSocket URL (`wss://...`; `ws://` for local tests and the simulator).
    url: String,
    /// One channel (same as `channels = [..]` with one entry).
    channel: Option<String>,
    /// Channels, as the venue names them: Upbit and Bithumb v1 `ticker`, `trade`,
    /// `orderbook`; Binance `ticker`, `miniTicker`, `bookTicker`, `trade`, `aggTrade`; Bithumb
    /// legacy `ticker`, `transaction`. Every instrument is subscribed on every channel.
    channels: Option<Vec<String>>,
    /// Canonical instruments (`BTC-KRW`); mapped to each exchange's own symbols at subscribe.
    instruments: Vec<String>,
    /// An API with a `tick_type` option only (Bithumb legacy): the ticker window (`30M`, `1H`,
    /// `12H`, `24H`, `MID`; default `24H`).
    tick_type: Option<String>,
    /// Frames larger than this many bytes are rejected (default 65536).
    max_frame_bytes: Option<usize>,
    #[serde(default)]
    keepalive: KeepaliveFile,
    #[serde(default)]
    backoff: BackoffFile,
    #[serde(default)]
    limits: LimitsFile,
}

const fn default_enabled() -> bool {
    true
}

/// `[keepalive]`: how a connection is kept alive and when it is declared dead.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeepaliveFile {
    /// Send a ping this often. Upbit and Bithumb close connections idle ~120 s (default 30);
    /// Binance pings the client, which answers, so by default tickflow sends none there (the
    /// venue profile says which).
    ping_interval_secs: Option<u64>,
    /// Reconnect a feed that sent nothing for this long (default 60).
    idle_timeout_secs: Option<u64>,
    /// Reconnect proactively after this long (Binance cuts connections at 24 h; default
    /// 23 h there, off elsewhere).
    max_connection_age_secs: Option<u64>,
}

/// `[backoff]`: reconnect delays, exponential with jitter, reset after a healthy period.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct BackoffFile {
    /// First delay (default 500).
    initial_ms: Option<u64>,
    /// Largest delay (default 30000).
    max_ms: Option<u64>,
    /// Growth factor per failed attempt, >= 1 (default 2).
    multiplier: Option<f64>,
    /// Random spread as a fraction of the delay, 0..=1 (default 0.2).
    jitter: Option<f64>,
    /// A connection up this long resets the delay to `initial_ms` (default 60).
    reset_after_secs: Option<u64>,
}

/// `[limits]`: the exchange's published request limits, which tickflow stays under.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsFile {
    /// Subscribe requests per second on one connection (Upbit and Binance allow 5).
    subscribe_requests_per_sec: Option<u32>,
    /// Streams per connection; longer instrument lists are split (Binance allows 1024).
    max_streams_per_connection: Option<usize>,
}

/// Keepalive settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keepalive {
    /// Client ping period; `None` when the server pings (Binance).
    pub ping_interval: Option<Duration>,
    /// Silence after which the connection is replaced.
    pub idle_timeout: Duration,
    /// Proactive reconnect age, if any.
    pub max_connection_age: Option<Duration>,
}

/// Reconnect backoff.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// First delay.
    pub initial: Duration,
    /// Largest delay.
    pub max: Duration,
    /// Growth factor.
    pub multiplier: f64,
    /// Random spread, 0..=1.
    pub jitter: f64,
    /// Healthy period that resets the delay.
    pub reset_after: Duration,
}

/// Request limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Subscribe requests per second per connection.
    pub subscribe_requests_per_sec: u32,
    /// Streams per connection.
    pub max_streams_per_connection: usize,
}

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
    /// Canonical instruments, in file order, without duplicates.
    pub instruments: Vec<Instrument>,
    /// The profile's option (Bithumb legacy `tick_type`, `24H` by default); `None` when the
    /// profile has none.
    pub option: Option<String>,
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

fn profile_of(
    exchange: Exchange,
    api: Option<&str>,
    p: &mut Problems<'_>,
) -> Option<&'static Profile> {
    let found = crate::exchange::profile_for(exchange, api);
    if found.is_none() {
        let apis: Vec<&str> = crate::exchange::PROFILES
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

fn channels_of(
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

fn check_url(url: &str, p: &mut Problems<'_>) {
    let rest = url
        .strip_prefix("wss://")
        .or_else(|| url.strip_prefix("ws://"));
    match rest {
        None => p.add(
            "url",
            format!("`{url}` must start with wss:// (or ws:// for local tests)"),
        ),
        Some(rest)
            if rest.is_empty() || rest.starts_with('/') || rest.contains(char::is_whitespace) =>
        {
            p.add("url", format!("`{url}` has no valid host"));
        }
        Some(_) => {}
    }
}

fn instruments(
    profile: &Profile,
    raw: &[String],
    symbols: &SymbolTable,
    p: &mut Problems<'_>,
) -> Vec<Instrument> {
    if raw.is_empty() {
        p.add("instruments", "must list at least one instrument");
    }
    let mut out: Vec<Instrument> = Vec::with_capacity(raw.len());
    for (i, text) in raw.iter().enumerate() {
        let field = format!("instruments[{i}]");
        let Some(instrument) = Instrument::parse(text) else {
            p.add(
                &field,
                format!("`{text}` is not BASE-QUOTE in upper case (e.g. BTC-KRW)"),
            );
            continue;
        };
        if out.contains(&instrument) {
            p.add(&field, format!("`{text}` is listed twice"));
            continue;
        }
        if profile.needs_symbol_table && symbols.symbol_of(&instrument).is_none() {
            p.add(
                &field,
                format!("`{text}` is not in the {} symbol table", profile.exchange),
            );
        }
        out.push(instrument);
    }
    out
}

fn secs(v: u64) -> Duration {
    Duration::from_secs(v)
}

fn validate(
    name: &str,
    file: ConnectorFile,
    symbols: &SymbolTable,
    p: &mut Problems<'_>,
) -> Option<ConnectorConfig> {
    let Some(exchange) = Exchange::parse(&file.exchange) else {
        let names: Vec<String> = Exchange::ALL
            .iter()
            .map(|e| e.as_str().to_ascii_lowercase())
            .collect();
        let (last, rest) = names
            .split_last()
            .map_or(("", &[][..]), |(l, r)| (l.as_str(), r));
        p.add(
            "exchange",
            format!("`{}` is not {} or {last}", file.exchange, rest.join(", ")),
        );
        return None;
    };
    // With an unknown api the rest is still checked, against the venue's default profile;
    // only the channels wait (they cannot be checked while the api is wrong).
    let found = profile_of(exchange, file.api.as_deref(), p);
    let profile = found.or_else(|| crate::exchange::profile_for(exchange, None))?;
    let channels = match found {
        Some(profile) => channels_of(profile, file.channel, file.channels, p),
        None => Vec::new(),
    };
    check_url(&file.url, p);
    let instruments = instruments(profile, &file.instruments, symbols, p);

    let option = match (&profile.option, file.tick_type) {
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
    };

    let rules = profile.keepalive;
    let k = &file.keepalive;
    let ping = k
        .ping_interval_secs
        .or((!rules.server_pings).then_some(rules.default_ping_secs));
    let idle = k.idle_timeout_secs.unwrap_or(60);
    let age = k
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

    let b = &file.backoff;
    let backoff = Backoff {
        initial: Duration::from_millis(b.initial_ms.unwrap_or(500)),
        max: Duration::from_millis(b.max_ms.unwrap_or(30_000)),
        multiplier: b.multiplier.unwrap_or(2.0),
        jitter: b.jitter.unwrap_or(0.2),
        reset_after: secs(b.reset_after_secs.unwrap_or(60)),
    };
    if backoff.initial.is_zero() {
        p.add("backoff.initial_ms", "must be > 0");
    }
    if backoff.max < backoff.initial {
        p.add("backoff.max_ms", "must be >= initial_ms");
    }
    if !(backoff.multiplier.is_finite() && backoff.multiplier >= 1.0) {
        p.add(
            "backoff.multiplier",
            format!("{} must be a number >= 1", backoff.multiplier),
        );
    }
    if !(0.0..=1.0).contains(&backoff.jitter) {
        p.add(
            "backoff.jitter",
            format!("{} must be within 0..=1", backoff.jitter),
        );
    }
    if backoff.reset_after.is_zero() {
        p.add("backoff.reset_after_secs", "must be > 0");
    }

    let cap = profile.limits.stream_cap();
    let max_rate = profile.limits.max_requests_per_sec;
    let limits = Limits {
        subscribe_requests_per_sec: file.limits.subscribe_requests_per_sec.unwrap_or(max_rate),
        max_streams_per_connection: file.limits.max_streams_per_connection.unwrap_or(cap),
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
    } else if limits.max_streams_per_connection < channels.len().max(1) {
        p.add(
            "limits.max_streams_per_connection",
            format!(
                "{} cannot hold one instrument's {} channels",
                limits.max_streams_per_connection,
                channels.len()
            ),
        );
    }
    let max_frame_bytes = file.max_frame_bytes.unwrap_or(64 * 1024);
    if max_frame_bytes < 1024 {
        p.add("max_frame_bytes", "must be at least 1024");
    }

    Some(ConnectorConfig {
        name: name.to_owned(),
        exchange,
        profile: found?,
        enabled: file.enabled,
        url: file.url,
        channels,
        instruments,
        option,
        max_frame_bytes,
        keepalive: Keepalive {
            ping_interval: ping.map(secs),
            idle_timeout: secs(idle),
            max_connection_age: age.map(secs),
        },
        backoff,
        limits,
    })
}

/// Parses and validates one connector file's text; `file` names it in problems.
pub fn load_connector(
    file: &str,
    text: &str,
    symbols: &SymbolTable,
) -> Result<ConnectorConfig, ConfigError> {
    let mut list = Vec::new();
    let config = parse_one(file, text, symbols, &mut list);
    match config {
        Some(c) if list.is_empty() => Ok(c),
        _ => Err(ConfigError { problems: list }),
    }
}

fn parse_one(
    file: &str,
    text: &str,
    symbols: &SymbolTable,
    list: &mut Vec<String>,
) -> Option<ConnectorConfig> {
    let name = Path::new(file)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or(file);
    let mut p = Problems { file, list };
    match toml::from_str::<ConnectorFile>(text) {
        Ok(parsed) => validate(name, parsed, symbols, &mut p),
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
    symbols: &SymbolTable,
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
            Ok(text) => configs.extend(parse_one(&file, &text, symbols, &mut list)),
            Err(e) => list.push(format!("{file}: {e}")),
        }
    }
    let mut seen: Vec<(Exchange, crate::model::EventKind, &Instrument, &str, &str)> = Vec::new();
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
    if list.is_empty() {
        Ok(configs)
    } else {
        Err(ConfigError { problems: list })
    }
}

impl ConnectorConfig {
    /// The same connector pointed at a `tickflow simulate` server at `base`
    /// (`ws://127.0.0.1:9001`): the URL becomes `base` + `/<exchange>` + the original path, which
    /// is where the simulator serves that protocol (`wss://stream.binance.com:9443/stream` →
    /// `ws://127.0.0.1:9001/binance/stream`).
    pub fn redirected_to(&self, base: &str) -> Self {
        let after_scheme = self
            .url
            .split_once("://")
            .map_or(self.url.as_str(), |(_, r)| r);
        let path = after_scheme.find('/').map_or("/", |i| &after_scheme[i..]);
        let exchange = self.exchange.as_str().to_ascii_lowercase();
        Self {
            url: format!("{}/{exchange}{path}", base.trim_end_matches('/')),
            ..self.clone()
        }
    }

    /// `host:port` of the URL (default ports 443 for `wss`, 80 for `ws`), for reachability
    /// probes.
    pub fn host_port(&self) -> Option<String> {
        let (scheme, rest) = self.url.split_once("://")?;
        let authority = rest.split(['/', '?']).next()?;
        if authority.is_empty() {
            return None;
        }
        if authority
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        {
            return Some(authority.to_owned());
        }
        let port = if scheme == "wss" { 443 } else { 80 };
        Some(format!("{authority}:{port}"))
    }
}
