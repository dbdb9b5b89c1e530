//! `connectors/<name>.toml`: one exchange connection each (URL, instruments, channel,
//! keepalive, idle timeout, backoff, limits, enabled flag).
//!
//! The `*File` structs are the file format; their doc comments are the user documentation.
//! [`ConnectorConfig`] is the validated, typed result the runtime uses.

use super::ConfigError;
use crate::exchange::SymbolTable;
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
    /// Bithumb only: `v1` (Upbit-compatible, default) or `legacy` (pubwss).
    api: Option<String>,
    /// WebSocket URL (`wss://...`; `ws://` for local tests and the simulator).
    url: String,
    /// Upbit/Bithumb v1: `ticker` or `trade`; Binance: `ticker` or `miniTicker`;
    /// Bithumb legacy: `ticker`.
    channel: String,
    /// Canonical instruments (`BTC-KRW`); mapped to each exchange's own symbols at subscribe.
    instruments: Vec<String>,
    /// Bithumb legacy only: the ticker window (`30M`, `1H`, `12H`, `24H`, `MID`; default `24H`).
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
    /// Binance pings the client, which answers, so by default tickflow sends none there.
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

/// Which protocol generation a connector speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// Upbit's quotation API (also Bithumb's Upbit-compatible v1 API).
    UpbitV1,
    /// Binance spot streams.
    BinanceSpot,
    /// Bithumb's legacy pubwss API.
    BithumbLegacy,
}

/// What to subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// Ticker summaries (Binance `@ticker`, Upbit/Bithumb `ticker`).
    Ticker,
    /// Binance `@miniTicker`.
    MiniTicker,
    /// Individual trades (Upbit/Bithumb v1 `trade`).
    Trade,
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
    /// Protocol generation.
    pub api: Api,
    /// Whether to connect.
    pub enabled: bool,
    /// WebSocket URL.
    pub url: String,
    /// What to subscribe to.
    pub channel: Channel,
    /// Canonical instruments, in file order, without duplicates.
    pub instruments: Vec<Instrument>,
    /// Bithumb legacy ticker window (`24H` by default); `None` elsewhere.
    pub tick_type: Option<String>,
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

/// The server-side idle limit of Upbit and Bithumb (they close quiet connections ~120 s).
const SERVER_IDLE_LIMIT_SECS: u64 = 120;
/// Binance cuts every connection at 24 h.
const BINANCE_MAX_AGE_SECS: u64 = 24 * 3600;

fn api_for(exchange: Exchange, api: Option<&str>, p: &mut Problems<'_>) -> Option<Api> {
    match (exchange, api) {
        (Exchange::Upbit, None) => Some(Api::UpbitV1),
        (Exchange::Binance, None) => Some(Api::BinanceSpot),
        (Exchange::Bithumb, None | Some("v1")) => Some(Api::UpbitV1),
        (Exchange::Bithumb, Some("legacy")) => Some(Api::BithumbLegacy),
        (Exchange::Bithumb, Some(other)) => {
            p.add("api", format!("`{other}` is not `v1` or `legacy`"));
            None
        }
        (_, Some(_)) => {
            p.add(
                "api",
                format!("only bithumb has more than one api (got it for {exchange})"),
            );
            None
        }
    }
}

fn channel_for(api: Api, channel: &str, p: &mut Problems<'_>) -> Option<Channel> {
    let allowed: &[(&str, Channel)] = match api {
        Api::UpbitV1 => &[("ticker", Channel::Ticker), ("trade", Channel::Trade)],
        Api::BinanceSpot => &[
            ("ticker", Channel::Ticker),
            ("miniTicker", Channel::MiniTicker),
        ],
        Api::BithumbLegacy => &[("ticker", Channel::Ticker)],
    };
    let found = allowed
        .iter()
        .find(|(name, _)| *name == channel)
        .map(|(_, c)| *c);
    if found.is_none() {
        let names: Vec<&str> = allowed.iter().map(|(n, _)| *n).collect();
        p.add(
            "channel",
            format!("`{channel}` is not one of {}", names.join(", ")),
        );
    }
    found
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
    exchange: Exchange,
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
        if exchange == Exchange::Binance && symbols.symbol_of(&instrument).is_none() {
            p.add(
                &field,
                format!("`{text}` is not in the Binance symbol table"),
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
        p.add(
            "exchange",
            format!("`{}` is not upbit, binance or bithumb", file.exchange),
        );
        return None;
    };
    let api = api_for(exchange, file.api.as_deref(), p);
    let channel = api.and_then(|api| channel_for(api, &file.channel, p));
    check_url(&file.url, p);
    let instruments = instruments(exchange, &file.instruments, symbols, p);

    let tick_type = match (api, file.tick_type) {
        (Some(Api::BithumbLegacy), None) => Some("24H".to_owned()),
        (Some(Api::BithumbLegacy), Some(t)) => {
            if !["30M", "1H", "12H", "24H", "MID"].contains(&t.as_str()) {
                p.add(
                    "tick_type",
                    format!("`{t}` is not one of 30M, 1H, 12H, 24H, MID"),
                );
            }
            Some(t)
        }
        (_, Some(_)) => {
            p.add("tick_type", "only the bithumb legacy api has tick types");
            None
        }
        (_, None) => None,
    };

    let server_pings = exchange == Exchange::Binance;
    let k = &file.keepalive;
    let ping = k
        .ping_interval_secs
        .or(if server_pings { None } else { Some(30) });
    let idle = k.idle_timeout_secs.unwrap_or(60);
    let age = k
        .max_connection_age_secs
        .or(server_pings.then_some(23 * 3600));
    if idle == 0 {
        p.add("keepalive.idle_timeout_secs", "must be > 0");
    }
    match ping {
        Some(0) => p.add("keepalive.ping_interval_secs", "must be > 0"),
        Some(ping) if ping >= idle => p.add(
            "keepalive.ping_interval_secs",
            format!("{ping} must be below idle_timeout_secs ({idle})"),
        ),
        Some(ping) if !server_pings && ping >= SERVER_IDLE_LIMIT_SECS => p.add(
            "keepalive.ping_interval_secs",
            format!("{ping} is not inside the exchange's {SERVER_IDLE_LIMIT_SECS} s idle limit"),
        ),
        _ => {}
    }
    match age {
        Some(0) => p.add("keepalive.max_connection_age_secs", "must be > 0"),
        Some(a) if server_pings && a >= BINANCE_MAX_AGE_SECS => p.add(
            "keepalive.max_connection_age_secs",
            format!("{a} must be below Binance's {BINANCE_MAX_AGE_SECS} s connection limit"),
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

    let stream_cap = if exchange == Exchange::Binance {
        1024
    } else {
        usize::MAX
    };
    let limits = Limits {
        subscribe_requests_per_sec: file.limits.subscribe_requests_per_sec.unwrap_or(5),
        max_streams_per_connection: file.limits.max_streams_per_connection.unwrap_or(
            if stream_cap == usize::MAX {
                1000
            } else {
                stream_cap
            },
        ),
    };
    if !(1..=5).contains(&limits.subscribe_requests_per_sec) {
        p.add(
            "limits.subscribe_requests_per_sec",
            "must be within 1..=5 (the exchanges' limit)",
        );
    }
    if limits.max_streams_per_connection == 0 || limits.max_streams_per_connection > stream_cap {
        p.add(
            "limits.max_streams_per_connection",
            format!(
                "must be within 1..={}",
                if stream_cap == usize::MAX {
                    1000
                } else {
                    stream_cap
                }
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
        api: api?,
        enabled: file.enabled,
        url: file.url,
        channel: channel?,
        instruments,
        tick_type,
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
/// Enabled connectors must not repeat a subscription (exchange, api, channel, instrument).
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
    // The same subscription twice would publish every tick twice.
    let mut seen: Vec<(Exchange, Api, Channel, &Instrument, &str)> = Vec::new();
    for c in configs.iter().filter(|c| c.enabled) {
        for i in &c.instruments {
            let key = (c.exchange, c.api, c.channel, i);
            match seen
                .iter()
                .find(|(e, a, ch, x, _)| (*e, *a, *ch, *x) == key)
            {
                Some((.., other)) => {
                    list.push(format!(
                        "{}: instrument {i} is also subscribed by {other}",
                        c.name
                    ));
                }
                None => seen.push((c.exchange, c.api, c.channel, i, &c.name)),
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
