//! `tickflow cache`: keep the Redis last-price cache from Kafka.

use crate::cache::consume::spawn;
use crate::config::app::cache as defaults;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// One-line summary for `tickflow --help`.
pub(super) const ABOUT: &str =
    "Keep the Redis last-price cache from Kafka (consumer group, monotonic compare-and-set)";

/// Full description for `tickflow cache --help`, with the defaults of [`crate::config::app`].
pub(super) fn long_about() -> String {
    format!(
        "Consumes canonical ticks from ticks.v1 in a consumer group (default \
{group_id}) and writes the newest price of each exchange and instrument to Redis: hash \
px:{{BASE-QUOTE}}:EXCHANGE, applied only through a Lua compare-and-set on (event time, sequence), \
so a duplicate or late tick never moves a price backwards; each applied update is PUBLISHed on \
a channel named like the key; keys expire after [cache] ttl_secs without updates; sorted set \
px:index:EXCHANGE lists known instruments.\n\n\
It also reads the whole compacted instrument reference (instruments.v1, from the beginning at \
every start, outside the consumer group, nothing committed) into sorted set px:live:EXCHANGE \
(the instruments gather follows) and hash px:ref:{{BASE-QUOTE}}:EXCHANGE (the newest record, by \
its listing time); a DELISTED record removes the instrument from px:live and px:index and marks \
its price hash listing = delisted with delisted_ts_us, leaving its prices as they were.\n\n\
Likewise it reads the whole feed status topic (feed.status.v1) into hash px:feed:EXCHANGE (per \
connection <connector>#<n> its state, since when and why; state = the worst of them) and hash \
px:feed:{{BASE-QUOTE}}:EXCHANGE (state live, refused, stale or down, since_ts_us, reason, the last \
gap), each through a compare-and-set on the record's time, so an older record never overwrites \
a newer state.\n\n\
A tick is written as soon as Redis is idle; while a write is in flight what arrives is \
coalesced to the newest tick per key and goes in the next write ([cache] batch_wait_ms > 0 holds \
each batch that long, for fewer writes). Offsets are committed only after Redis acknowledged \
the batch (at least once); revoked \
partitions are written and committed first. At [cache] pending_keys_max distinct keys \
consumption pauses until Redis catches up. Redis unavailable (also at start): retries with \
backoff, offsets held. Undecodable messages, and ticks whose key Redis refuses alone \
(WRONGTYPE, NOPERM), go to ticks.dlq.v1 (stage decode or cache) and the rest moves on; a \
batch's offsets are stored only after the DLQ acknowledged its dead letters.\n\n\
Settings: tickflow.toml [redis] url/cluster, [cache] and [kafka] (environment overrides \
TICKFLOW_REDIS__URL, TICKFLOW_CACHE__GROUP_ID, ...). The consumer is client.id tickflow-cache \
in group [cache] group_id; [kafka] group.id, auto.offset.reset, enable.auto.commit, \
auto.commit.interval.ms and enable.auto.offset.store are refused (the cache sets them). Serves \
/metrics, /healthz, /readyz on [cache] http_bind (default {bind}); /readyz is 503 with \
the reason while Redis does not answer, the consumer group has not given it its assignment yet, \
consumption stalls with lag or the DLQ refuses. A member the group gives no partition (more \
members than partitions) is an idle standby: ready. \
SIGINT/SIGTERM: write what was gathered and commit within [cache] shutdown_timeout_ms (default \
{shutdown_secs} s); a second signal exits at once. The last line accounts for every message consumed.",
        group_id = defaults::DEFAULT_GROUP_ID,
        bind = defaults::DEFAULT_HTTP_BIND,
        shutdown_secs = defaults::DEFAULT_SHUTDOWN_TIMEOUT_MS / 1000
    )
}

/// Examples, environment and exit codes for `tickflow cache --help`.
pub(super) const AFTER_HELP: &str = "Example:\n  TICKFLOW_KAFKA__BOOTSTRAP_SERVERS=127.0.0.1:9092 TICKFLOW_REDIS__URL=redis://127.0.0.1:6379 tickflow cache\n\n\
Environment:\n  \
TICKFLOW_<SECTION>__<KEY>   overrides tickflow.toml (e.g. TICKFLOW_REDIS__URL,\n  \
                            TICKFLOW_CACHE__GROUP_ID, TICKFLOW_SCHEMA_REGISTRY__URL); a misspelt\n  \
                            one (TICKFLOW_REDIS_URL) is an error naming the one meant\n  \
TICKFLOW_LOG                log filter: a level and target=level directives, e.g.\n  \
                            info (default), warn,tickflow::ws=debug, info,librdkafka=debug\n  \
TICKFLOW_LOG_FORMAT         text (default) | json (one JSON object per line)\n\n\
Exit codes:\n  \
0  stopped after committing what Redis acknowledged\n  \
1  stopped at once by a second signal (what Redis had not acknowledged stays uncommitted)\n  \
2  configuration or start-up error (Kafka, registry client)";

/// Arguments of `tickflow cache`.
#[derive(Debug, Args)]
pub struct CacheArgs {
    /// tickflow.toml (the default path may be absent: built-in defaults then apply).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Stop after this many seconds (default: run until SIGINT/SIGTERM).
    #[arg(long, value_name = "SECS")]
    duration: Option<u64>,
}

/// Runs the cache consumer.
pub fn run(args: &CacheArgs) -> anyhow::Result<ExitCode> {
    let app = super::load_config(args.config.as_deref())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let mut signals = super::Signals::new()?;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let running = spawn(&app, stopped.clone()).await?;
        let stats = running.stats;
        let listener = tokio::net::TcpListener::bind(app.cache.http_bind).await?;
        let addr = listener.local_addr()?;
        let view = Arc::clone(&stats);
        let handler: crate::http::Handler = Arc::new(move |path: &str| match path {
            "/metrics" => (200, "text/plain; version=0.0.4", view.metrics()),
            "/healthz" => (200, "text/plain", "ok\n".into()),
            "/readyz" => match view.ready() {
                Ok(()) => (200, "text/plain", "ready\n".into()),
                Err(why) => (503, "text/plain", format!("{why}\n")),
            },
            _ => (
                404,
                "text/plain",
                "try /metrics, /healthz or /readyz\n".into(),
            ),
        });
        // The endpoint answers until the process ends (through the drain).
        let (_http_stop, http_stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(crate::http::serve(
            listener,
            handler,
            Arc::clone(&stats.http),
            http_stopped,
        ));
        let watched = Arc::clone(&stats);
        tokio::spawn(async move {
            loop {
                watched.observe();
                tokio::time::sleep(crate::stall::OBSERVE_EVERY).await;
            }
        });
        eprintln!(
            "tickflow: caching {} into {} (group {}); metrics on http://{addr}/metrics",
            app.topics.ticks,
            app.redis_url,
            app.cache.group_id
        );
        signals.first(args.duration).await;
        eprintln!(
            "tickflow: stopping: writing what was gathered, committing (a second SIGINT/SIGTERM exits at once)"
        );
        stats.stopping.store(true, Ordering::Relaxed);
        let _ = stop.send(true);
        let mut task = running.task;
        let cut = tokio::select! {
            done = &mut task => {
                done??;
                false
            }
            signal = signals.next() => {
                eprintln!(
                    "tickflow: {signal} again: exiting now; what Redis has not acknowledged keeps its offsets uncommitted and is read again by the next consumer"
                );
                true
            }
        };
        eprintln!("tickflow: stopped; {}", summary(&stats));
        if cut {
            // Nothing waits for Kafka or Redis any more.
            std::process::exit(1);
        }
        anyhow::Ok(ExitCode::SUCCESS)
    })
}

/// The cache's accounting: consumed = acknowledged by Redis (offsets stored) + not yet.
fn summary(stats: &crate::cache::stats::CacheStats) -> String {
    let g = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    let (consumed, acknowledged) = (g(&stats.consumed), g(&stats.acknowledged));
    format!(
        "{consumed} consumed, {acknowledged} acknowledged by Redis (offsets stored), {} not (their offsets uncommitted); {} applied, {} stale, {} coalesced, {} poison",
        consumed.saturating_sub(acknowledged),
        g(&stats.applied),
        g(&stats.stale),
        g(&stats.coalesced),
        g(&stats.poison)
    )
}
