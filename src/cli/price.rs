//! `tickflow price`: read the Redis contract exactly as an API server would.

use crate::cache::contract::feed::InstrumentFeed;
use crate::cache::contract::{
    CONTRACT_VERSION, DELISTED_TS_FIELD, LISTING_FIELD, Part, feed_instrument_key, price_key,
};
use crate::model::time::now_us;
use crate::model::{Exchange, Instrument};
use anyhow::Context;
use clap::Args;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// One-line summary for `tickflow --help`.
pub(super) const ABOUT: &str =
    "Print the latest price of an instrument from the Redis cache, with its age";

/// Full description for `tickflow price --help`.
pub(super) const LONG_ABOUT: &str = "Reads px:{INSTRUMENT}:EXCHANGE (one exchange, or every exchange) the way an API \
server would and prints the last price, best bid/ask where known, and the age of each part \
of the contract (trade, book, ticker: now minus the exchange's time of that part, or its \
receive time where the exchange sends none). Entries whose freshest part is older than \
--stale-after, or written under another contract version, are flagged STALE; an instrument the \
instrument reference says is delisted (field listing = delisted) is flagged DELISTED with the \
time of the delisting (its prices are kept as they were). Each entry also shows its feed's \
status from px:feed:{INSTRUMENT}:EXCHANGE (read in the same pipeline): LIVE, STALE since T, DOWN \
since T (why), REFUSED (the venue's words), or nothing before the cache has read any status; an \
instrument with no price but a feed status prints that status. --watch subscribes to the keys' \
channels (prices and feed status) and prints every update as it is applied. Exit code 1 when no \
exchange has a price.";

/// Examples, environment and exit codes for `tickflow price --help`.
pub(super) fn after_help() -> String {
    let exchange = Exchange::ALL[0].lowercase();
    format!(
        "Examples:\n  tickflow price BTC-KRW\n  tickflow price BTC-KRW --exchange {exchange} --json\n  \
tickflow price ETH-KRW --watch\n\n\
Environment:\n  \
TICKFLOW_REDIS__URL         redis://[user:password@]host:port[/db] (rediss:// for TLS)\n  \
TICKFLOW_CACHE__PREFIX      key prefix (default px)\n\n\
Exit codes:\n  \
0  at least one exchange has a price\n  \
1  no exchange has a price\n  \
2  configuration or Redis error"
    )
}

/// Arguments of `tickflow price`.
#[derive(Debug, Args)]
pub struct PriceArgs {
    /// Canonical instrument, `BASE-QUOTE` (e.g. BTC-KRW).
    instrument: String,
    /// Only this exchange.
    #[arg(long, help = format!("Only this exchange ({})", super::venue_names()))]
    exchange: Option<String>,
    /// One JSON object per price instead of a table line.
    #[arg(long)]
    json: bool,
    /// Keep printing updates as they are published.
    #[arg(long)]
    watch: bool,
    /// Flag prices older than this many seconds.
    #[arg(long, default_value_t = 60)]
    stale_after: u64,
    /// tickflow.toml (for [redis] url and [cache] prefix; the default path may be absent).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

/// Age in ms of each part present (trade, book, ticker): now minus the exchange's time of that
/// part, or its receive time where the exchange sends none.
fn part_ages(h: &HashMap<String, String>, now: i64) -> Vec<(Part, i64)> {
    Part::ALL
        .into_iter()
        .filter_map(|part| {
            let exchange_time = match part {
                Part::Trade => "trade_ts_us",
                Part::Book => "book_ts_us",
                Part::Ticker => "event_ts_us",
            };
            let received = format!("{}_received_ts_us", part.name());
            let at = h
                .get(exchange_time)
                .or_else(|| h.get(&received))?
                .parse::<i64>()
                .ok()?;
            Some((part, (now - at) / 1000))
        })
        .collect()
}

/// A UTC time (epoch µs) to the second, for humans.
fn at(us: i64) -> String {
    crate::kafka::dlq::rfc3339_micros(us)
        .split('.')
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// The feed status of a `px:feed:{I}:E` hash, for the table: `LIVE`, `STALE since T (why)`,
/// `DOWN since T (why)`, `REFUSED (the venue's words)`; empty when there is none.
fn feed_text(f: &HashMap<String, String>) -> String {
    let Some(state) = f.get("state") else {
        return String::new();
    };
    let since = f
        .get("since_ts_us")
        .and_then(|t| t.parse::<i64>().ok())
        .map(|t| format!(" since {}", at(t)))
        .unwrap_or_default();
    let reason = f
        .get("reason")
        .map(|r| format!(" ({r})"))
        .unwrap_or_default();
    match InstrumentFeed::parse(state) {
        Some(InstrumentFeed::Live) => "LIVE".to_owned(),
        Some(InstrumentFeed::Refused) => format!("REFUSED{reason}"),
        Some(s @ (InstrumentFeed::Stale | InstrumentFeed::Down)) => {
            format!("{}{since}{reason}", s.as_str().to_ascii_uppercase())
        }
        None => format!("feed {state}"),
    }
}

fn line(
    h: &HashMap<String, String>,
    feed: &HashMap<String, String>,
    stale_after: Duration,
    json: bool,
) -> String {
    let ages = part_ages(h, now_us());
    // The freshest part says whether the key is alive.
    let age_ms = ages.iter().map(|(_, a)| *a).min().unwrap_or(i64::MAX);
    let stale = h.get("contract_version").map(String::as_str) != Some(CONTRACT_VERSION)
        || age_ms > i64::try_from(stale_after.as_millis()).unwrap_or(i64::MAX);
    let get = |k: &str| h.get(k).map_or("-", String::as_str);
    if json {
        let mut obj: serde_json::Map<String, serde_json::Value> = h
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        obj.insert("age_ms".into(), age_ms.into());
        for (part, age) in &ages {
            obj.insert(format!("{}_age_ms", part.name()), (*age).into());
        }
        obj.insert("stale".into(), stale.into());
        if !feed.is_empty() {
            obj.insert("feed".into(), serde_json::json!(feed));
        }
        serde_json::Value::Object(obj).to_string()
    } else {
        let ages: Vec<String> = ages
            .iter()
            .map(|(part, age)| format!("{} {:.1}s", part.name(), *age as f64 / 1000.0))
            .collect();
        // The listing state, when the instrument reference marked the hash.
        let listing = match h.get(LISTING_FIELD).map(String::as_str) {
            Some("delisted") => {
                match h.get(DELISTED_TS_FIELD).and_then(|t| t.parse::<i64>().ok()) {
                    Some(t) => format!("  DELISTED {}", at(t)),
                    None => "  DELISTED".to_owned(),
                }
            }
            Some("live") | None => String::new(),
            Some(other) => format!("  listing {other}"),
        };
        let feed = match feed_text(feed) {
            f if f.is_empty() => f,
            f => format!("  {f}"),
        };
        format!(
            "{:<8} {:<10} {:>20}  bid {} ask {}  age {}{}{}{listing}{feed}",
            get("exchange"),
            get("instrument"),
            get("last_price"),
            get("bid_price"),
            get("ask_price"),
            ages.join(", "),
            if stale { "  STALE" } else { "" },
            if get("simulated") == "true" {
                "  SIMULATED"
            } else {
                ""
            }
        )
    }
}

/// Runs the lookup.
pub fn run(args: &PriceArgs) -> anyhow::Result<ExitCode> {
    let app = super::load_config(args.config.as_deref())?;
    let instrument = args
        .instrument
        .to_ascii_uppercase()
        .split_once('-')
        .and_then(|(b, q)| Instrument::new(b, q))
        .with_context(|| format!("`{}` is not an instrument like BTC-KRW", args.instrument))?;
    let exchanges: Vec<Exchange> = match &args.exchange {
        Some(name) => {
            vec![Exchange::parse(name).with_context(|| format!("unknown exchange `{name}`"))?]
        }
        None => Exchange::ALL.to_vec(),
    };
    let keys: Vec<String> = exchanges
        .iter()
        .map(|e| price_key(&app.cache.prefix, instrument.as_str(), *e))
        .collect();
    let feed_keys: Vec<String> = exchanges
        .iter()
        .map(|e| feed_instrument_key(&app.cache.prefix, instrument.as_str(), *e))
        .collect();
    let stale_after = Duration::from_secs(args.stale_after);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut conn = crate::cache::connect(app.redis_url.expose(), app.redis_cluster)
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "connecting to {}",
                    crate::cache::store::describe(app.redis_url.expose(), &e)
                )
            })?;
        let mut found = 0;
        for (key, feed_key) in keys.iter().zip(&feed_keys) {
            // One pipeline: the two keys share a hash tag, so one node in a cluster.
            let mut pipe = redis::pipe();
            pipe.hgetall(key).hgetall(feed_key);
            let read =
                pipe.query_async::<(HashMap<String, String>, HashMap<String, String>)>(&mut conn);
            let (h, feed) = tokio::time::timeout(crate::cache::store::REDIS_TIMEOUT, read)
                .await
                .context("redis did not answer")??;
            if h.is_empty() {
                if args.json {
                    if !feed.is_empty() {
                        println!("{}", serde_json::json!({ "key": key, "feed": feed }));
                    }
                } else {
                    match feed_text(&feed) {
                        f if f.is_empty() => println!("{key}: no price"),
                        f => println!("{key}: no price  {f}"),
                    }
                }
            } else {
                found += 1;
                println!("{}", line(&h, &feed, stale_after, args.json));
            }
        }
        if args.watch {
            // PUBLISH reaches every node of a cluster, so the seed node is enough to listen.
            let client = redis::Client::open(app.redis_url.expose())?;
            let mut pubsub = tokio::time::timeout(
                crate::cache::store::REDIS_TIMEOUT,
                client.get_async_pubsub(),
            )
            .await
            .context("redis did not answer")??;
            for key in keys.iter().chain(&feed_keys) {
                tokio::time::timeout(crate::cache::store::REDIS_TIMEOUT, pubsub.subscribe(key))
                    .await
                    .context("redis did not answer")??;
            }
            let mut updates = pubsub.on_message();
            loop {
                tokio::select! {
                    r = tokio::signal::ctrl_c() => { r?; break; }
                    m = updates.next() => {
                        let Some(m) = m else { anyhow::bail!("redis closed the subscription") };
                        let payload: String = m.get_payload()?;
                        let h: HashMap<String, String> = serde_json::from_str(&payload)?;
                        if feed_keys.iter().any(|k| k == m.get_channel_name()) {
                            if args.json {
                                println!("{payload}");
                            } else {
                                println!(
                                    "{:<8} {:<10} feed {}",
                                    h.get("exchange").map_or("-", String::as_str),
                                    h.get("instrument").map_or("-", String::as_str),
                                    feed_text(&h)
                                );
                            }
                        } else {
                            println!("{}", line(&h, &HashMap::new(), stale_after, args.json));
                        }
                    }
                }
            }
            return Ok(ExitCode::SUCCESS);
        }
        Ok(if found > 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delisted_hash_says_so_and_keeps_its_price() {
        let mut h: HashMap<String, String> = [
            ("contract_version", "3"),
            ("exchange", "UPBIT"),
            ("instrument", "BTC-KRW"),
            ("last_price", "143880000"),
            ("trade_received_ts_us", "1700000000000000"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let none = HashMap::new();
        let live = line(&h, &none, Duration::from_secs(60), false);
        assert!(!live.contains("DELISTED"), "{live}");
        h.insert("listing".into(), "delisted".into());
        h.insert("delisted_ts_us".into(), "1700000000000000".into());
        let text = line(&h, &none, Duration::from_secs(60), false);
        assert!(text.contains("143880000"), "{text}");
        assert!(text.ends_with("  DELISTED 2023-11-14T22:13:20"), "{text}");
        let json: serde_json::Value =
            serde_json::from_str(&line(&h, &none, Duration::from_secs(60), true)).unwrap();
        assert_eq!(json["listing"], "delisted");
    }

    fn hash(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_feed_status_is_printed_beside_the_price() {
        let h = hash(&[
            ("contract_version", "3"),
            ("exchange", "BINANCE"),
            ("instrument", "BTC-USDT"),
            ("last_price", "1"),
        ]);
        let down = hash(&[
            ("state", "down"),
            ("since_ts_us", "1700000000000000"),
            ("reason", "closed by the server"),
        ]);
        let text = line(&h, &down, Duration::from_secs(60), false);
        assert!(
            text.ends_with("  DOWN since 2023-11-14T22:13:20 (closed by the server)"),
            "{text}"
        );
        assert_eq!(feed_text(&hash(&[("state", "live")])), "LIVE");
        assert_eq!(
            feed_text(&hash(&[
                ("state", "refused"),
                ("reason", "-1121: Invalid symbol."),
                ("since_ts_us", "1700000000000000")
            ])),
            "REFUSED (-1121: Invalid symbol.)"
        );
        assert_eq!(feed_text(&HashMap::new()), "");
        let json: serde_json::Value =
            serde_json::from_str(&line(&h, &down, Duration::from_secs(60), true)).unwrap();
        assert_eq!(json["feed"]["state"], "down");
    }
}
