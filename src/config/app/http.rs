//! `[http]`: where gather serves `/metrics`, `/healthz` and `/readyz`; and the reading of any
//! bind address (the cache's too).

use super::Problems;
use serde::{Deserialize, Serialize};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

/// Gather's HTTP endpoints: `127.0.0.1:9464` (loopback only).
pub const DEFAULT_BIND: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 9464));

/// `[http]` as written.
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct HttpFile {
    /// Address of `/metrics`, `/healthz`, `/readyz` (default [`DEFAULT_BIND`]; port 0 picks
    /// one).
    bind: Option<String>,
}

impl HttpFile {
    /// The endpoint address; a problem goes to `p`.
    pub(super) fn validate(self, p: &mut Problems<'_>) -> SocketAddr {
        bind_address(self.bind, DEFAULT_BIND, "http.bind", p)
    }
}

/// `value` as an address (`default` when not set); what does not parse is a problem of
/// `field`.
pub(super) fn bind_address(
    value: Option<String>,
    default: SocketAddr,
    field: &str,
    p: &mut Problems<'_>,
) -> SocketAddr {
    let Some(text) = value else {
        return default;
    };
    text.parse().unwrap_or_else(|e| {
        p.add(field, format!("`{text}`: {e}"));
        default
    })
}
