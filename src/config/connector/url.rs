//! `url` of a connector file: the WebSocket URL, checked, redirected to the simulator, and
//! read for reachability probes.

use super::{ConnectorConfig, Problems};

/// Problems with `url` (`wss://` with a host; `ws://` for local tests).
pub(super) fn check_url(url: &str, p: &mut Problems<'_>) {
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
        let exchange = self.exchange.lowercase();
        let base = base.trim_end_matches('/');
        // The listing too, over plain HTTP on the same port, at the venue's own path.
        let markets = self.markets.clone().map(|mut m| {
            let rest = m
                .listing_url
                .split_once("://")
                .map_or(m.listing_url.as_str(), |(_, r)| r);
            let path = rest.find('/').map_or("/", |i| &rest[i..]);
            let http = base
                .strip_prefix("ws://")
                .map_or_else(|| base.to_owned(), |h| format!("http://{h}"));
            m.listing_url = format!("{http}/{exchange}{path}");
            m
        });
        // A simulator's synthetic listing must never become the venue's disk copy.
        let markets = markets.map(|mut m| {
            m.cache_file = None;
            m
        });
        Self {
            url: format!("{base}/{exchange}{path}"),
            markets,
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
