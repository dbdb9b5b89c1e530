//! A connector's connections as its instruments change: each connection carries a set of
//! instruments through a watch channel ([`crate::ws::Wanted`]); a change moves only what
//! changed ([`assign`]): kept instruments stay on their connection, removed ones leave it
//! (unsubscribed in place), new ones fill connections with room, then new connections. A
//! connection left with nothing is retired. The pipeline's adapter for the connector follows
//! the same changes ([`AdapterSlot`]).

use super::ConnectionInfo;
use crate::config::ConnectorConfig;
use crate::exchange::reference::Reference;
use crate::exchange::{Adapter, AdapterConfig};
use crate::model::Instrument;
use crate::ws::pace::SharedGate;
use crate::ws::{ConnectionStats, Link, Received, Wanted};
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use tokio::sync::{mpsc, watch};
use tracing::Instrument as _;

/// Every connection the run has had, retired ones included (their counters stay in the
/// totals).
#[derive(Debug, Default)]
pub struct Connections(RwLock<Vec<Arc<ConnectionInfo>>>);

impl Connections {
    /// A snapshot of all of them.
    pub fn all(&self) -> Vec<Arc<ConnectionInfo>> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The ones not retired.
    pub fn active(&self) -> Vec<Arc<ConnectionInfo>> {
        let mut all = self.all();
        all.retain(|c| c.stats.retired.load(Ordering::Relaxed) == 0);
        all
    }

    pub(crate) fn push(&self, info: Arc<ConnectionInfo>) {
        self.0
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push(info);
    }
}

impl From<Vec<ConnectionInfo>> for Connections {
    fn from(v: Vec<ConnectionInfo>) -> Self {
        Self(RwLock::new(v.into_iter().map(Arc::new).collect()))
    }
}

/// Where the pipeline picks up a connector's new adapter: a generation counter checked per
/// frame (one atomic load) and the adapter built for it.
#[derive(Default)]
pub struct AdapterSlot {
    generation: AtomicU64,
    next: Mutex<Option<Box<dyn Adapter>>>,
}

impl std::fmt::Debug for AdapterSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdapterSlot")
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

impl AdapterSlot {
    /// The generation of the latest adapter.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The adapter of a newer generation, if one is waiting.
    pub fn take(&self) -> Option<Box<dyn Adapter>> {
        self.next
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    fn put(&self, adapter: Box<dyn Adapter>) {
        *self.next.lock().unwrap_or_else(PoisonError::into_inner) = Some(adapter);
        self.generation.fetch_add(1, Ordering::Release);
    }
}

/// The connector's adapter accepting `instruments`.
pub fn adapter(
    config: &ConnectorConfig,
    instruments: HashSet<Instrument>,
    reference: &Reference,
) -> Box<dyn Adapter> {
    let adapter_config = AdapterConfig {
        max_frame_bytes: config.max_frame_bytes,
        instruments: Some(Arc::new(instruments)),
        ..AdapterConfig::default()
    };
    (config.profile.adapter)(adapter_config, reference)
}

/// Moves `sets` (each connection's instruments, by position) to carry exactly `wanted`:
/// instruments no longer wanted leave their connection, kept ones stay where they are, new
/// ones (in `wanted`'s order) fill connections with room in order, then new connections of at
/// most `cap`. The result has at least `sets.len()` entries; an empty one is a connection to
/// retire (a retired position stays empty).
pub fn assign(sets: &[Vec<Instrument>], wanted: &[Instrument], cap: usize) -> Vec<Vec<Instrument>> {
    let cap = cap.max(1);
    let keep: HashSet<&Instrument> = wanted.iter().collect();
    let mut out: Vec<Vec<Instrument>> = sets
        .iter()
        .map(|s| s.iter().filter(|i| keep.contains(i)).cloned().collect())
        .collect();
    let placed: HashSet<&Instrument> = sets.iter().flatten().collect();
    let mut fresh = wanted.iter().filter(|i| !placed.contains(i)).peekable();
    // Fill live connections first (a retired, empty one is never refilled).
    for (set, before) in out.iter_mut().zip(sets) {
        while !before.is_empty() && !set.is_empty() && set.len() < cap {
            match fresh.next() {
                Some(i) => set.push(i.clone()),
                None => break,
            }
        }
    }
    while fresh.peek().is_some() {
        out.push(fresh.by_ref().take(cap).cloned().collect());
    }
    out
}

/// What a new connection needs besides its instruments.
#[derive(Debug, Clone)]
pub struct Spawner {
    /// Where frames go (dropped with the last spawner, which ends the pipeline).
    pub out: mpsc::Sender<Received>,
    /// Where the connections' feed status goes (the status publisher ends with the last).
    pub status: mpsc::Sender<crate::model::status::FeedStatus>,
    /// Stops every connection.
    pub shutdown: watch::Receiver<bool>,
    /// TLS for `wss://`.
    pub tls: Arc<rustls::ClientConfig>,
    /// Names this process to venues that ask.
    pub ticket: String,
    /// The run's connection registry.
    pub connections: Arc<Connections>,
    /// Tasks to wait for at the end.
    pub tasks: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

/// One connection of a feed: its instruments, and the sender that changes them (`None` once
/// retired).
type Slot = (Vec<Instrument>, Option<watch::Sender<Arc<Wanted>>>);

/// One connector's connections and adapter.
#[derive(Debug)]
pub struct Feed {
    config: Arc<ConnectorConfig>,
    /// Position of the connector among the run's (seeds the backoff jitter).
    ordinal: u64,
    /// The connector's venue connection gate.
    connects: Arc<SharedGate>,
    /// Each connection's set and sender, by index.
    slots: Vec<Slot>,
    /// The pipeline's adapter for this connector.
    pub adapter: Arc<AdapterSlot>,
    /// The set the adapter accepts now (the last two wanted sets: frames in flight for an
    /// instrument just removed are still its venue's data).
    previous: HashSet<Instrument>,
    /// The venue's reference data of the last change (the adapter maps with it and the new
    /// one).
    previous_reference: Option<Reference>,
}

impl Feed {
    /// A feed with no connection yet.
    pub fn new(config: Arc<ConnectorConfig>, ordinal: u64, connects: Arc<SharedGate>) -> Self {
        Self {
            config,
            ordinal,
            connects,
            slots: Vec::new(),
            adapter: Arc::default(),
            previous: HashSet::new(),
            previous_reference: None,
        }
    }

    /// The connector.
    pub fn config(&self) -> &ConnectorConfig {
        &self.config
    }

    /// The connector, shared.
    pub fn shared_config(&self) -> &Arc<ConnectorConfig> {
        &self.config
    }

    /// The instruments carried now, sorted.
    pub fn wanted(&self) -> Vec<Instrument> {
        let mut all: Vec<Instrument> = self.slots.iter().flat_map(|(s, _)| s.clone()).collect();
        all.sort();
        all
    }

    /// Carries exactly `wanted` from now on: changes running connections in place, starts
    /// connections for what does not fit, retires emptied ones, and hands the pipeline an
    /// adapter that accepts the new set (and the one before it).
    pub fn apply(&mut self, wanted: &[Instrument], reference: &Reference, run: &Spawner) {
        let cap = crate::ws::subscribe::instruments_per_connection(&self.config);
        let before: Vec<Vec<Instrument>> = self.slots.iter().map(|(s, _)| s.clone()).collect();
        let after = assign(&before, wanted, cap);
        let now: HashSet<Instrument> = wanted.iter().cloned().collect();
        let mut accepted = now.clone();
        accepted.extend(self.previous.drain());
        // Frames in flight may name a symbol only the previous listing had.
        let both = match (&self.previous_reference, self.config.profile.reference) {
            (Some(old), Some(spec)) if !old.same(reference) => (spec.merged)(old, reference),
            _ => reference.clone(),
        };
        self.previous_reference = Some(reference.clone());
        self.adapter.put(adapter(&self.config, accepted, &both));
        self.previous = now;
        for (index, set) in after.into_iter().enumerate() {
            let value = Arc::new(Wanted {
                instruments: set.clone(),
                reference: reference.clone(),
            });
            match self.slots.get_mut(index) {
                Some((old, tx)) => {
                    if set.is_empty() {
                        // Dropping the sender retires the connection.
                        *tx = None;
                    } else if *old != set
                        && let Some(tx) = tx
                    {
                        tx.send_replace(value);
                    }
                    *old = set;
                }
                None => {
                    let tx = self.spawn(index, value, run);
                    self.slots.push((set, Some(tx)));
                }
            }
        }
    }

    fn spawn(
        &self,
        index: usize,
        wanted: Arc<Wanted>,
        run: &Spawner,
    ) -> watch::Sender<Arc<Wanted>> {
        let (tx, rx) = watch::channel(wanted);
        let stats = Arc::new(ConnectionStats::default());
        let name = &self.config.name;
        run.connections.push(Arc::new(ConnectionInfo {
            connector: name.clone(),
            index,
            url: self.config.url.clone(),
            stats: Arc::clone(&stats),
            idle: self.config.keepalive.idle_timeout,
        }));
        let seed = self.ordinal << 32 | index as u64 | u64::from(std::process::id()) << 48;
        let link = Link {
            config: Arc::clone(&self.config),
            ticket: format!("{}-{index}", run.ticket),
            wanted: rx,
            out: run.out.clone(),
            stats,
            tls: Arc::clone(&run.tls),
            connects: Arc::clone(&self.connects),
            refusals: crate::ws::refusals::Refusals::new(self.config.backoff.refusal_retry),
            health: crate::ws::connection::Health::new(
                Some(run.status.clone()),
                u32::try_from(index).unwrap_or(u32::MAX),
            ),
            slot: None,
        };
        // One span per connection: every event of the connection carries its identity.
        let span = tracing::info_span!("connection", connector = %name, index);
        let task = tokio::spawn(crate::ws::run(link, run.shutdown.clone(), seed).instrument(span));
        run.tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(task);
        tx
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ins(list: &str) -> Vec<Instrument> {
        list.split_whitespace()
            .map(|s| Instrument::parse(s).unwrap())
            .collect()
    }

    #[test]
    fn kept_instruments_stay_new_ones_fill_then_overflow() {
        let sets = vec![ins("A-KRW B-KRW C-KRW"), ins("D-KRW")];
        // B delisted, E and F and G listed: E fills the first, F and G the second (cap 3).
        let after = assign(&sets, &ins("A-KRW C-KRW D-KRW E-KRW F-KRW G-KRW"), 3);
        assert_eq!(
            after,
            vec![ins("A-KRW C-KRW E-KRW"), ins("D-KRW F-KRW G-KRW")]
        );
        // Four more: a new connection of 3, then one of 1.
        let after = assign(
            &after,
            &ins("A-KRW C-KRW D-KRW E-KRW F-KRW G-KRW H-KRW I-KRW J-KRW K-KRW"),
            3,
        );
        assert_eq!(after.len(), 4);
        assert_eq!(after[2], ins("H-KRW I-KRW J-KRW"));
        assert_eq!(after[3], ins("K-KRW"));
    }

    #[test]
    fn an_emptied_connection_is_retired_and_never_refilled() {
        let sets = vec![ins("A-KRW"), ins("B-KRW")];
        let after = assign(&sets, &ins("B-KRW"), 2);
        assert_eq!(after, vec![vec![], ins("B-KRW")]);
        let after = assign(&after, &ins("B-KRW C-KRW D-KRW"), 2);
        assert_eq!(after, vec![vec![], ins("B-KRW C-KRW"), ins("D-KRW")]);
    }

    #[test]
    fn from_nothing_it_chunks() {
        let after = assign(&[], &ins("A-KRW B-KRW C-KRW"), 2);
        assert_eq!(after, vec![ins("A-KRW B-KRW"), ins("C-KRW")]);
        assert_eq!(assign(&after, &ins("A-KRW B-KRW C-KRW"), 2), after);
    }
}
