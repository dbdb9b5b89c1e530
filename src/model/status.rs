//! Feed status as data: what a connection says about its own health, as records consumers can
//! read beside the ticks (up, subscribed, refused, stale, down, recovered with the gap).
//!
//! A connection emits them as they happen ([`crate::ws::connection`]): `Up` when the socket
//! is open, `Subscribed` once its requests went out, `Refused` when the venue refuses
//! instruments (with its words), `Stale` when no data came for the connector's idle window,
//! `Down` when the session ends for a failure or silence (with the reason), and `Recovered` at
//! the first data after a `Down`, stating the gap: data was missing from `gap_start_us` (the
//! last data before) to `gap_end_us` (the first data after) for `instruments`. Planned
//! renewals (make-before-break) leave no gap and emit no `Down`.

use super::{Exchange, Instrument};

/// What a connection reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FeedState {
    /// The socket is open (not subscribed yet).
    Up,
    /// Its subscription requests went out.
    Subscribed,
    /// The venue refused instruments (`reason`: its words).
    Refused,
    /// No data for the idle window (the connection is renewed next).
    Stale,
    /// The session ended for a failure or silence (`reason`); data stops until `Recovered`.
    Down,
    /// Data flows again after a `Down`; `gap_*` bound what is missing.
    Recovered,
}

impl FeedState {
    /// In schema order after the default `UNKNOWN`.
    pub const ALL: [FeedState; 6] = [
        Self::Up,
        Self::Subscribed,
        Self::Refused,
        Self::Stale,
        Self::Down,
        Self::Recovered,
    ];

    /// The contract's name (`UP`, `SUBSCRIBED`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Up => "UP",
            Self::Subscribed => "SUBSCRIBED",
            Self::Refused => "REFUSED",
            Self::Stale => "STALE",
            Self::Down => "DOWN",
            Self::Recovered => "RECOVERED",
        }
    }
}

/// One status record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedStatus {
    /// The venue.
    pub exchange: Exchange,
    /// The connector (`connectors/<name>.toml`).
    pub connector: String,
    /// The connection's index within the connector.
    pub connection: u32,
    /// What happened.
    pub state: FeedState,
    /// When it was observed, UTC epoch µs.
    pub ts_us: i64,
    /// Why (`Down`: the failure; `Refused`: the venue's words; `Stale`: the idle window).
    pub reason: Option<String>,
    /// The instruments concerned: those refused, or the connection's (stale, down, recovered,
    /// subscribed).
    pub instruments: Vec<Instrument>,
    /// `Stale`, `Down`, `Recovered`: the last data before the silence, UTC epoch µs (the
    /// connect time when none had come).
    pub gap_start_us: Option<i64>,
    /// `Recovered`: the first data after it, UTC epoch µs.
    pub gap_end_us: Option<i64>,
}
