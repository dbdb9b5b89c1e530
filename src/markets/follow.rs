//! Following a venue's listing while gather runs: read at start (bounded, retried, or from
//! the disk copy), then re-read every `refresh`; each accepted listing becomes the feed's new
//! set of instruments ([`crate::gather::feeds::Feed::apply`]): listings subscribed, delistings
//! unsubscribed, on the running connections. A listing that cannot be fetched, or that looks
//! wrong, is refused and the last good one kept: counted, logged once per episode, and shown
//! by `/readyz` once the one in use is older than `stale_after`.

use super::reference::{ReferenceUpdate, Retract, Seen};
use super::select::{Selector, Shard, choose};
use super::source::{Fetched, Source};
use crate::config::ConnectorConfig;
use crate::exchange::profile::Profile;
use crate::exchange::reference::Reference;
use crate::gather::feeds::{Feed, Spawner};
use crate::model::Instrument;
use crate::model::listing::Listing;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// How one connector follows its venue's markets.
#[derive(Debug, Clone)]
pub struct Follow {
    /// Which instruments.
    pub selector: Selector,
    /// This process's part of them.
    pub shard: Shard,
    /// Where the listing comes from.
    pub source: Source,
    /// How often it is read again.
    pub refresh: Duration,
    /// The most of the followed instruments one refresh may remove, as a fraction (a listing
    /// that would drop more is refused as suspect, the last good one kept).
    pub max_drop: f64,
}

impl Follow {
    /// After this long without an accepted listing, `/readyz` says so.
    pub fn stale_after(&self) -> Duration {
        self.refresh.saturating_mul(3)
    }
}

/// One connector's listing health (metrics, `/readyz`).
#[derive(Debug, Default)]
pub struct ListingStats {
    /// Connector name.
    pub connector: String,
    /// Listings accepted (the first included).
    pub accepted: AtomicU64,
    /// Fetches that failed (after their retries).
    pub failures: AtomicU64,
    /// Listings fetched but refused (suspect, or decoded to nothing usable).
    pub refusals: AtomicU64,
    /// When the listing in use was fetched, UTC epoch µs.
    pub in_use_since_us: AtomicU64,
    /// The listing in use came from the disk copy.
    pub from_disk: AtomicBool,
    /// Instruments followed now.
    pub instruments: AtomicU64,
    /// Instruments added by refreshes (listings).
    pub added: AtomicU64,
    /// Instruments removed by refreshes (delistings, halts, selector misses).
    pub removed: AtomicU64,
    /// Rows of the last listing its decoder rejected.
    pub rows_rejected: AtomicU64,
    /// Why the last fetch or listing was not used, while it is not.
    pub problem: Mutex<Option<String>>,
    /// See [`Follow::stale_after`].
    pub stale_after: Duration,
    /// The instruments followed now, sorted.
    following: Mutex<Vec<Instrument>>,
}

impl ListingStats {
    /// Fresh stats of `connector`'s listing, stale after `stale_after`.
    pub fn new(connector: &str, stale_after: Duration) -> Self {
        Self {
            connector: connector.to_owned(),
            stale_after,
            ..Self::default()
        }
    }

    /// The instruments followed now, sorted.
    pub fn following(&self) -> Vec<Instrument> {
        self.following
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// `Err` with why, when the listing in use is older than [`Follow::stale_after`].
    pub fn ready(&self, now_us: u64) -> Result<(), String> {
        let since = self.in_use_since_us.load(Ordering::Relaxed);
        let age = Duration::from_micros(now_us.saturating_sub(since));
        if age <= self.stale_after {
            return Ok(());
        }
        let why = self
            .problem
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .unwrap_or_default();
        Err(format!(
            "listing of {}: the one in use is {} s old{} ({why})",
            self.connector,
            age.as_secs(),
            if self.from_disk.load(Ordering::Relaxed) {
                ", from the disk copy"
            } else {
                ""
            }
        ))
    }

    /// Records why the listing in use is not the venue's latest (until one is accepted).
    pub fn note(&self, why: &str) {
        self.set_problem(Some(why.to_owned()));
    }

    fn set_problem(&self, why: Option<String>) -> bool {
        let mut p = self.problem.lock().unwrap_or_else(PoisonError::into_inner);
        let first = p.is_none() && why.is_some();
        *p = why;
        first
    }
}

/// The first retry after a failed listing fetch (then doubling up to the refresh period).
pub const RETRY_FIRST: Duration = Duration::from_secs(1);

/// Delistings one refresh may always make, whatever `max_drop` says.
pub const ALWAYS_DROPPABLE: usize = 3;

/// What to do with a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Follow these instruments.
    Follow(Vec<Instrument>),
    /// Keep the last good listing, for this reason.
    Refuse(String),
}

/// Judges a decoded listing against what is followed now (`current`; empty at start).
pub fn judge(listing: &Listing, current: &[Instrument], follow: &Follow) -> Verdict {
    let (taken, rejected) = (listing.records.len(), listing.rejected.len());
    if rejected > taken {
        return Verdict::Refuse(format!(
            "{rejected} of {} rows rejected by the decoder: not trusted",
            taken + rejected
        ));
    }
    let chosen = choose(listing, &follow.selector, follow.shard);
    // Nothing selected from the start of a whole market: a selector that matches nothing (a
    // typo in `quotes`), refused. One shard of several may own nothing; a followed set may
    // lose its last instruments to delistings (the drop rule below bounds that).
    if chosen.is_empty() && current.is_empty() && follow.shard.count <= 1 {
        return Verdict::Refuse(format!(
            "the selector takes nothing from {taken} listed instruments"
        ));
    }
    let keep: HashSet<&Instrument> = chosen.iter().collect();
    let dropped = current.iter().filter(|i| !keep.contains(i)).count();
    // A few delistings are always believed (a selection of one must be able to lose it).
    let allowed = (follow.max_drop * current.len() as f64).max(ALWAYS_DROPPABLE as f64);
    if dropped as f64 > allowed {
        return Verdict::Refuse(format!(
            "it would drop {dropped} of the {} instruments followed at once (max_drop = {})",
            current.len(),
            follow.max_drop
        ));
    }
    Verdict::Follow(chosen)
}

/// The reference data a listing gives, for a venue that keeps some (its symbol table, where
/// its symbols do not spell the instrument; `fallback` for the others); `chosen` keeps only
/// instruments it names (two rows joining into one symbol cannot both be subscribed: the
/// first is kept, the other logged).
pub fn reference_of(
    listing: &Listing,
    profile: &Profile,
    fallback: &Reference,
    chosen: &mut Vec<Instrument>,
) -> Reference {
    let Some(spec) = profile.reference else {
        return fallback.clone();
    };
    let (data, problems) = (spec.from_listing)(listing);
    for p in problems.iter().take(5) {
        tracing::warn!(problem = %p, what = spec.what, "listing row left out of the venue's reference data");
    }
    chosen.retain(|i| (profile.symbol)(i, &data).is_some());
    data
}

/// The first listing of a run.
#[derive(Debug)]
pub struct First {
    /// The listing.
    pub fetched: Fetched,
    /// What is followed of it.
    pub chosen: Vec<Instrument>,
    /// It is the disk copy: the venue's could not be had or was refused, for this reason.
    pub from_disk: Option<String>,
}

/// The first listing, before any connection: fetched (bounded by the source's timeout and
/// retries) and judged against the disk copy's selection when there is one (a truncated
/// listing at start is refused like one later), else the disk copy; `Err` with every reason
/// when neither is usable (gather does not start with an empty market).
pub async fn first(follow: &Follow, client: &reqwest::Client) -> Result<First, String> {
    let disk = follow.source.read_cache();
    let baseline = match &disk {
        Ok(Some(d)) => match judge(&d.listing, &[], follow) {
            Verdict::Follow(chosen) => chosen,
            Verdict::Refuse(_) => Vec::new(),
        },
        _ => Vec::new(),
    };
    let problem = match follow.source.fetch(client).await {
        Ok(f) => match judge(&f.listing, &baseline, follow) {
            Verdict::Follow(chosen) => {
                if let Err(e) = follow.source.write_cache(&f.body) {
                    tracing::warn!("{e}; a restart without the venue's REST API will not find it");
                }
                return Ok(First {
                    fetched: f,
                    chosen,
                    from_disk: None,
                });
            }
            Verdict::Refuse(why) => format!("{}: refused: {why}", follow.source.url),
        },
        Err(e) => e.to_string(),
    };
    match disk {
        Ok(Some(f)) => match judge(&f.listing, &[], follow) {
            Verdict::Follow(chosen) => {
                tracing::warn!(
                    %problem,
                    "listing not had: starting from the disk copy (the venue is asked again in 1 s, then less often up to every {:?})",
                    follow.refresh
                );
                Ok(First {
                    fetched: f,
                    chosen,
                    from_disk: Some(problem),
                })
            }
            Verdict::Refuse(why) => Err(format!("{problem}; the disk copy is refused too: {why}")),
        },
        Ok(None) => Err(format!("{problem}; and no disk copy to start from")),
        Err(e) => Err(format!("{problem}; {e}")),
    }
}

/// Where a followed market's listings go besides the feed: the instrument reference.
#[derive(Debug)]
pub struct Publish {
    /// First-seen times and last records.
    pub seen: Seen,
    /// The reference publisher, if the run has one (bounded; waited for).
    pub to: Option<mpsc::Sender<ReferenceUpdate>>,
    /// The connector's selector and this process's shard, handed over with the first update
    /// (the publisher retracts what an earlier run left live and this one does not follow).
    pub scope: (Selector, Shard),
}

impl Publish {
    /// Hands over the reference of `listing` of which `chosen` are followed.
    pub async fn send(
        &mut self,
        connector: &ConnectorConfig,
        listing: &Listing,
        chosen: &[Instrument],
        first: bool,
    ) {
        let mut update =
            self.seen
                .update(&connector.name, connector.exchange, listing, chosen, first);
        if first {
            update.retract = Some(Retract {
                selector: self.scope.0.clone(),
                shard: self.scope.1,
                listed: listing.records.clone(),
            });
        }
        if let Some(to) = &self.to
            && to.send(update).await.is_err()
        {
            tracing::debug!("the instrument reference publisher has stopped");
        }
    }
}

/// Re-reads the listing every `follow.refresh` until `shutdown`, applying each accepted one to
/// `feed` and handing it to `publish`. Owns the feed: its connections are retired when this
/// ends.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    follow: Follow,
    client: reqwest::Client,
    mut feed: Feed,
    spawner: Spawner,
    stats: Arc<ListingStats>,
    fallback: Reference,
    mut publish: Publish,
    mut shutdown: watch::Receiver<bool>,
) {
    let profile = feed.config().profile;
    let mut current = feed.wanted();
    // After a failure (or a start from the disk copy) the venue is asked again sooner: 1 s,
    // doubling up to the refresh period.
    let mut wait = if stats.from_disk.load(Ordering::Relaxed) {
        RETRY_FIRST.min(follow.refresh)
    } else {
        follow.refresh
    };
    let mut cache_failing = false;
    loop {
        tokio::select! {
            biased;
            _ = shutdown.wait_for(|stop| *stop) => return,
            () = tokio::time::sleep(wait) => {}
        }
        let failed_wait = (wait * 2).clamp(RETRY_FIRST, follow.refresh.max(RETRY_FIRST));
        let fetched = tokio::select! {
            biased;
            _ = shutdown.wait_for(|stop| *stop) => return,
            f = follow.source.fetch(&client) => f,
        };
        let f = match fetched {
            Ok(f) => f,
            Err(e) => {
                stats.failures.fetch_add(1, Ordering::Relaxed);
                note_problem(&stats, &e.to_string());
                wait = failed_wait;
                continue;
            }
        };
        stats
            .rows_rejected
            .store(f.listing.rejected.len() as u64, Ordering::Relaxed);
        let mut chosen = match judge(&f.listing, &current, &follow) {
            Verdict::Follow(c) => c,
            Verdict::Refuse(why) => {
                stats.refusals.fetch_add(1, Ordering::Relaxed);
                note_problem(&stats, &format!("{}: refused: {why}", follow.source.url));
                wait = failed_wait;
                continue;
            }
        };
        wait = follow.refresh;
        stats.set_problem(None);
        let reference = reference_of(&f.listing, profile, &fallback, &mut chosen);
        let (added, removed) = diff(&current, &chosen);
        if !added.is_empty() || !removed.is_empty() {
            tracing::info!(
                connector = %stats.connector,
                listed = %names(&added),
                delisted = %names(&removed),
                following = chosen.len(),
                "listing changed"
            );
            feed.apply(&chosen, &reference, &spawner);
        }
        stats.added.fetch_add(added.len() as u64, Ordering::Relaxed);
        stats
            .removed
            .fetch_add(removed.len() as u64, Ordering::Relaxed);
        accepted(&stats, &f, &chosen, false);
        let connector = Arc::clone(feed.shared_config());
        tokio::select! {
            biased;
            _ = shutdown.wait_for(|stop| *stop) => return,
            () = publish.send(&connector, &f.listing, &chosen, false) => {}
        }
        match follow.source.write_cache(&f.body) {
            Err(e) if !cache_failing => {
                cache_failing = true;
                tracing::warn!("{e} (logged once until a write succeeds)");
            }
            Err(_) => {}
            Ok(()) => cache_failing = false,
        }
        current = chosen;
    }
}

/// Records an accepted listing of which `following` are followed.
pub fn accepted(stats: &ListingStats, f: &Fetched, following: &[Instrument], from_disk: bool) {
    stats.accepted.fetch_add(1, Ordering::Relaxed);
    stats
        .in_use_since_us
        .store(u64::try_from(f.at_us).unwrap_or(0), Ordering::Relaxed);
    stats.from_disk.store(from_disk, Ordering::Relaxed);
    stats
        .instruments
        .store(following.len() as u64, Ordering::Relaxed);
    following.clone_into(
        &mut stats
            .following
            .lock()
            .unwrap_or_else(PoisonError::into_inner),
    );
}

/// Logs a problem once per episode (until a listing is accepted again).
fn note_problem(stats: &ListingStats, why: &str) {
    if stats.set_problem(Some(why.to_owned())) {
        tracing::warn!(
            connector = %stats.connector,
            problem = %why,
            "listing refresh failed: keeping the last good listing (logged once until one is accepted)"
        );
    }
}

fn diff(before: &[Instrument], after: &[Instrument]) -> (Vec<Instrument>, Vec<Instrument>) {
    let b: HashSet<&Instrument> = before.iter().collect();
    let a: HashSet<&Instrument> = after.iter().collect();
    (
        after.iter().filter(|i| !b.contains(i)).cloned().collect(),
        before.iter().filter(|i| !a.contains(i)).cloned().collect(),
    )
}

/// At most 20 names, then how many more.
fn names(list: &[Instrument]) -> String {
    let mut s: Vec<String> = list.iter().take(20).map(ToString::to_string).collect();
    if list.len() > 20 {
        s.push(format!("… {} more", list.len() - 20));
    }
    s.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Exchange;
    use crate::model::listing::{Listed, ListingStatus, RejectedRow, RowProblem};

    fn listing(rows: &[(&str, ListingStatus)]) -> Listing {
        let mut l = Listing::default();
        for (i, status) in rows {
            l.push(Listed {
                exchange: Exchange::Upbit,
                instrument: Instrument::parse(i).unwrap(),
                native_symbol: (*i).into(),
                status: *status,
                tick_size: None,
                lot_size: None,
                notices: vec![],
                first_seen_us: 1,
                last_seen_us: 1,
            });
        }
        l
    }

    fn follow() -> Follow {
        Follow {
            selector: Selector {
                quotes: vec!["KRW".into()],
                ..Selector::default()
            },
            shard: Shard::default(),
            source: Source {
                url: "http://x".into(),
                decode: crate::exchange::upbit::listing::decode,
                timeout: Duration::from_secs(1),
                retries: 0,
                cache_file: None,
            },
            refresh: Duration::from_secs(60),
            max_drop: 0.5,
        }
    }

    fn ins(list: &[&str]) -> Vec<Instrument> {
        list.iter().map(|s| Instrument::parse(s).unwrap()).collect()
    }

    #[test]
    fn a_listing_is_followed_or_refused_with_a_reason() {
        use ListingStatus::*;
        let l = listing(&[
            ("BTC-KRW", Trading),
            ("ETH-KRW", Trading),
            ("XRP-KRW", Break),
            ("BTC-USDT", Trading),
        ]);
        assert_eq!(
            judge(&l, &[], &follow()),
            Verdict::Follow(ins(&["BTC-KRW", "ETH-KRW"]))
        );
        // Nothing selected: refused, never an empty market.
        let none = listing(&[("BTC-USDT", Trading)]);
        assert!(
            matches!(judge(&none, &[], &follow()), Verdict::Refuse(w) if w.contains("takes nothing"))
        );
        // One shard of several may own nothing; a followed set may lose its last ones.
        let mut shard = follow();
        shard.shard = Shard { index: 2, count: 3 };
        assert_eq!(judge(&none, &[], &shard), Verdict::Follow(vec![]));
        assert_eq!(
            judge(&none, &ins(&["BTC-KRW"]), &follow()),
            Verdict::Follow(vec![])
        );
        // Dropping 4 of 5 followed at once: suspect.
        let current = ins(&["BTC-KRW", "ETH-KRW", "SOL-KRW", "DOGE-KRW", "XRP-KRW"]);
        let small = listing(&[("BTC-KRW", Trading)]);
        assert!(
            matches!(judge(&small, &current, &follow()), Verdict::Refuse(w) if w.contains("drop 4 of the 5"))
        );
        // Three of five (up to 3 always) is a real delisting wave: followed.
        assert_eq!(
            judge(&l, &current, &follow()),
            Verdict::Follow(ins(&["BTC-KRW", "ETH-KRW"]))
        );
        // Up to 3 at once are always believed, whatever the fraction: a small selection can
        // lose what it follows.
        let two = ins(&["BTC-KRW", "SOL-KRW"]);
        assert_eq!(
            judge(&small, &two, &follow()),
            Verdict::Follow(ins(&["BTC-KRW"]))
        );
        let mut strict = follow();
        strict.max_drop = 0.0;
        assert!(matches!(judge(&small, &two, &strict), Verdict::Follow(_)));
        let many = ins(&["A-KRW", "B-KRW", "C-KRW", "D-KRW", "BTC-KRW"]);
        assert!(matches!(judge(&small, &many, &strict), Verdict::Refuse(_)));
        // Mostly rejected rows: not trusted.
        let mut bad = listing(&[("BTC-KRW", Trading)]);
        for _ in 0..2 {
            bad.rejected.push(RejectedRow::new(
                Some("?"),
                RowProblem::UnknownInstrument,
                "x",
            ));
        }
        assert!(
            matches!(judge(&bad, &[], &follow()), Verdict::Refuse(w) if w.contains("2 of 3 rows"))
        );
    }

    #[test]
    fn readiness_says_when_the_listing_in_use_is_stale() {
        let s = ListingStats::new("upbit", Duration::from_secs(180));
        s.in_use_since_us.store(1_000_000_000, Ordering::Relaxed);
        assert!(s.ready(1_000_000_000 + 180_000_000).is_ok());
        s.set_problem(Some("GET x: timed out".into()));
        let why = s.ready(1_000_000_000 + 181_000_000).unwrap_err();
        assert!(
            why.contains("181 s old") && why.contains("timed out"),
            "{why}"
        );
    }
}
