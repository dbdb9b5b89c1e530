//! `tickflow gather`: connect to the exchanges and produce canonical ticks to Kafka.

use crate::config::app::{gather, http};
use crate::config::load_connectors;
use crate::gather::{GatherSetup, any_reachable, start};
use crate::sim::{SimConfig, serve};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// One-line summary for `tickflow --help`.
pub(super) const ABOUT: &str =
    "Connect to the exchanges and produce canonical ticks to Kafka (rejects to the DLQ)";

/// Full description for `tickflow gather --help`, with the defaults of [`crate::config::app`].
pub(super) fn long_about() -> String {
    format!(
        "Connects to every enabled connector in connectors/*.toml, normalizes each frame \
with its exchange's adapter, and produces canonical ticks to Kafka (topic ticks.v1, key \
EXCHANGE:BASE-QUOTE, Confluent-framed Avro or Protobuf). A frame that cannot become a tick goes \
to ticks.dlq.v1 with the raw bytes and headers exchange, connector, stage, reason, error, \
received_at, frame_type. Missing topics are created at start. Every tick carries three \
quality flags (schema v4): first_after_connect on an instrument and kind's first tick from a new \
WebSocket session, snapshot where the venue says it restates its state, sequence_gap where ids the venue numbers \
consecutively (a trade id) jumped; counted \
in tickflow_tick_flags_total{{exchange,flag}}.\n\n\
Settings come from tickflow.toml (Kafka client properties passed to librdkafka, topics, output \
format, HTTP address) with environment overrides TICKFLOW_<SECTION>__<KEY>, e.g. \
TICKFLOW_KAFKA__BOOTSTRAP_SERVERS=host:9092, and TICKFLOW_CONNECTORS_DIR for the top-level \
connectors_dir; a misspelt TICKFLOW_ setting is an error naming the closest real one. The \
producer is idempotent with acks=all.\n\n\
Each connection is renewed when no data frame arrives within its connector's \
idle_timeout_secs (pings and pongs do not count), and reconnects with exponential backoff; a \
session that stayed up at least 1 s and delivered data (more frames than replies to its \
subscription requests) resets the backoff.\n\n\
A connector with [markets] instead of instruments follows every instrument of its venue's REST \
listing that its selector takes (quotes, statuses, include/exclude patterns), read at start \
(bounded, retried; else the disk copy listings/<connector>.json) and again every refresh_secs: \
new listings are subscribed and delistings unsubscribed on the running connections (new \
connections when one is full), within each venue's request and connection limits. A listing \
that cannot be fetched, or looks wrong (mostly rejected rows, nothing selected, more than \
max_drop of the market gone at once), is refused and the last good one kept; /readyz says so \
once it is 3 refresh periods old. --shard i/n splits each followed market across processes.\n\n\
Such connectors also publish the instrument reference to the compacted topic instruments.v1 \
([topics] instruments; key EXCHANGE:BASE-QUOTE, Confluent-framed schemas/*/instrument.vN.* (the newest), \
subject instruments.v1-value, looked up at start like the tick schema): a LIVE record for every \
followed instrument after the run's first listing, then one for each whose status, sizes, \
notices or symbol changed, and a DELISTED record for each no longer followed. At the first \
listing the topic is read whole (bounded by 30 s; on failure nothing is retracted, counted in \
tickflow_reference_retraction_skipped_total) and an instrument it still says is LIVE, of the \
venue and shard, taken by the selector by its recorded status, and no longer followed (delisted \
while gather was down) gets a DELISTED record too.\n\n\
Serves /metrics, /healthz and /readyz on [http] bind (default {bind}) and prints a \
progress line every few seconds. SIGINT/SIGTERM: stop reading, drain the queue, wait for the \
broker's acknowledgements, all within one deadline ([gather] shutdown_timeout_ms, default {shutdown_secs} s); \
what is unacknowledged then is abandoned and counted. A second SIGINT/SIGTERM abandons at once. \
The last line accounts for every tick and dead letter, and every instrument record when \
markets are followed (produced = acknowledged + not delivered); /metrics and /healthz answer until then, /readyz says 503 while stopping.",
        bind = http::DEFAULT_BIND,
        shutdown_secs = gather::DEFAULT_SHUTDOWN_TIMEOUT_MS / 1000
    )
}

/// Examples, environment and exit codes for `tickflow gather --help`.
pub(super) fn after_help() -> String {
    let connector = crate::model::Exchange::ALL[0].lowercase();
    format!(
        "Examples:\n  tickflow gather\n  \
TICKFLOW_KAFKA__BOOTSTRAP_SERVERS=127.0.0.1:9092 tickflow gather --simulate-if-offline\n  \
tickflow gather --simulator ws://127.0.0.1:9001 --connector {connector}\n\n{}",
        AFTER_EXAMPLES
    )
}

/// Environment and exit codes for `tickflow gather --help`.
const AFTER_EXAMPLES: &str = "\
Environment:\n  \
TICKFLOW_<SECTION>__<KEY>   overrides tickflow.toml (e.g. TICKFLOW_KAFKA__BOOTSTRAP_SERVERS,\n  \
                            TICKFLOW_SCHEMA_REGISTRY__URL, TICKFLOW_OUTPUT__FORMAT); a misspelt\n  \
                            one (TICKFLOW_KAFKA_BOOTSTRAP_SERVERS) is an error naming the one meant\n  \
TICKFLOW_CONNECTORS_DIR     overrides connectors_dir (--connectors wins)\n  \
TICKFLOW_LOG                log filter: a level and target=level directives, e.g.\n  \
                            info (default), warn,tickflow::ws=debug, info,librdkafka=debug\n  \
TICKFLOW_LOG_FORMAT         text (default) | json (one JSON object per line)\n\n\
Exit codes:\n  \
0  stopped, everything acknowledged\n  \
1  stopped, some ticks, dead letters, instrument records or received frames were lost (the\n     \
last line says which)\n  \
2  configuration, schema registry (a schema not registered: ticks', or with [markets] the\n     \
instrument reference's; registry unreachable) or start-up error\n  \
3  the Kafka producer hit a fatal error (e.g. the broker lost the idempotent producer's state:\n     \
UnknownProducerId, OutOfOrderSequenceNumber); stopped at once, the last line accounts for every\n     \
tick; restart gather (a new producer) - orchestrators do this by themselves";

/// Arguments of `tickflow gather`.
#[derive(Debug, Args)]
pub struct GatherArgs {
    /// tickflow.toml (the default path may be absent: built-in defaults then apply).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Connector directory (overrides `connectors_dir` in the config and
    /// `TICKFLOW_CONNECTORS_DIR`).
    #[arg(long, value_name = "DIR")]
    connectors: Option<PathBuf>,
    /// Run only these connectors (by file name without .toml; a disabled one runs when named).
    #[arg(long = "connector", value_name = "NAME")]
    only: Vec<String>,
    /// Connect to a running `tickflow simulate` at this base URL instead of the exchanges.
    #[arg(long, value_name = "URL", conflicts_with = "simulate_if_offline")]
    simulator: Option<String>,
    /// When no exchange endpoint answers (no internet), run an in-process simulator and
    /// gather from it, clearly labelled (ticks carry the Kafka header `simulated: true`).
    /// Only with a loopback broker: synthetic prices never reach a real system.
    #[arg(long)]
    simulate_if_offline: bool,
    /// Frames per second per connection of the in-process simulator.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    sim_rate: u32,
    /// Stop after this many seconds (default: run until SIGINT/SIGTERM).
    #[arg(long, value_name = "SECS")]
    duration: Option<u64>,
    #[command(flatten)]
    reference: super::ReferenceArgs,
    /// Carry shard i of n of every followed market (`[markets]` connectors): instruments are
    /// split by a stable hash of EXCHANGE:BASE-QUOTE, so n processes given 0/n .. (n-1)/n
    /// split each market with no coordination, and two given the same shard duplicate it
    /// (harmless: the cache keeps the newest). Overrides [gather] shard (default 0/1:
    /// everything).
    #[arg(long, value_name = "I/N", value_parser = crate::markets::Shard::parse)]
    shard: Option<crate::markets::Shard>,
}

/// Runs the gatherer.
pub fn run(args: &GatherArgs) -> anyhow::Result<ExitCode> {
    let mut app = super::load_config(args.config.as_deref())?;
    if let Some(dir) = &args.connectors {
        app.connectors_dir.clone_from(dir);
    }
    let references = args.reference.load()?;
    let mut connectors = load_connectors(&app.connectors_dir, &references)?;
    if !args.only.is_empty() {
        for name in &args.only {
            if !connectors.iter().any(|c| &c.name == name) {
                anyhow::bail!(
                    "no connector named `{name}` in {}",
                    app.connectors_dir.display()
                );
            }
        }
        connectors.retain(|c| args.only.contains(&c.name));
        for c in &mut connectors {
            c.enabled = true;
        }
    }
    connectors.retain(|c| c.enabled);
    crate::gather::check_frame_limits(&app, &connectors)?;
    if args.simulate_if_offline {
        let bootstrap = crate::kafka::producer_properties(&app.kafka)
            .get("bootstrap.servers")
            .cloned()
            .unwrap_or_default();
        if !crate::kafka::loopback_only(&bootstrap) {
            anyhow::bail!(
                "--simulate-if-offline writes synthetic prices, so it runs only against a local broker (the stack scripts/run.sh starts); bootstrap.servers = {bootstrap} is not loopback. Without it, unreachable exchanges are retried and /readyz says so"
            );
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        // Registered first: a signal during start-up is not lost.
        let mut signals = super::Signals::new()?;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        // The in-process simulator stops after the gatherer, so closing looks like a shutdown
        // to the connections, not like an exchange failure.
        let (sim_stop, sim_stopped) = tokio::sync::watch::channel(false);
        let mut simulated = false;
        if let Some(base) = &args.simulator {
            connectors = connectors.iter().map(|c| c.redirected_to(base)).collect();
            simulated = true;
        } else if args.simulate_if_offline
            && let Err(problems) = any_reachable(&connectors, Duration::from_secs(5)).await
        {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let base = format!("ws://{}", listener.local_addr()?);
            eprintln!(
                "tickflow: the live exchange endpoints cannot be reached ({}).\n\
                 tickflow: SIMULATED FEEDS: gathering from an in-process `tickflow simulate` \
                 on {base} at {} frames/s per connection instead. These prices are synthetic.",
                problems.join("; "),
                args.sim_rate
            );
            let sim = SimConfig {
                rate: args.sim_rate,
                seed: u64::from(std::process::id()),
                server_ping: Duration::from_secs(20),
                references: references.clone(),
                default_fault: None,
            };
            tokio::spawn(serve(listener, sim, sim_stopped));
            connectors = connectors.iter().map(|c| c.redirected_to(&base)).collect();
            simulated = true;
        }
        for c in &connectors {
            match &c.markets {
                Some(m) => eprintln!(
                    "tickflow: {}: {} (whole markets from {}, refreshed every {} s)",
                    c.name,
                    c.url,
                    m.listing_url,
                    m.refresh.as_secs()
                ),
                None => eprintln!(
                    "tickflow: {}: {} ({} instruments)",
                    c.name,
                    c.url,
                    c.instruments.len()
                ),
            }
        }
        let setup_deadline = app.gather.shutdown_timeout;
        let shard = args.shard.unwrap_or(app.gather.shard);
        let setup = GatherSetup {
            app,
            connectors,
            references,
            tls: crate::ws::tls::client_config()?,
            simulated,
            shard,
        };
        let running = start(setup, stopped).await?;
        eprintln!(
            "tickflow: gathering; metrics on http://{}/metrics",
            running.http_addr
        );
        let state = Arc::clone(&running.state);
        // A signal (or --duration) starts the drain; a fatal producer error ends the run at
        // once: that producer can deliver nothing more, so there is nothing to wait for.
        let mut fatal = tokio::select! {
            () = signals.first(args.duration) => None,
            reason = state.producer.fatal_raised() => Some(reason),
        };
        let deadline = setup_deadline;
        if let Some(reason) = &fatal {
            eprintln!(
                "tickflow: the Kafka producer hit a fatal error ({reason}); it can deliver \
                 nothing more: stopping at once and exiting with code 3, so that the \
                 orchestrator restarts gather with a new producer"
            );
            state.abandon();
        } else {
            eprintln!(
                "tickflow: stopping: closing connections, draining, waiting for acknowledgements \
                 (deadline {deadline:?}; a second SIGINT/SIGTERM abandons at once)"
            );
        }
        let _ = stop.send(true);
        let mut done = running.done;
        let outcome = tokio::select! {
            outcome = &mut done => outcome??,
            signal = signals.next() => {
                eprintln!("tickflow: {signal} again: abandoning what is not acknowledged");
                state.abandon();
                done.await??
            }
            // Raised during the drain: nothing more can be acknowledged, so nothing to wait for.
            reason = state.producer.fatal_raised(), if fatal.is_none() => {
                eprintln!(
                    "tickflow: the Kafka producer hit a fatal error while stopping ({reason}); \
                     abandoning what is not acknowledged, exit code 3"
                );
                fatal = Some(reason);
                state.abandon();
                done.await??
            }
        };
        let _ = sim_stop.send(true);
        eprintln!("tickflow: stopped; {outcome}");
        if fatal.is_some() {
            return anyhow::Ok(ExitCode::from(3));
        }
        if outcome.deadline_reached {
            eprintln!("tickflow: the shutdown was cut short (deadline or second signal)");
        }
        anyhow::Ok(if outcome.lost == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        })
    })
}
