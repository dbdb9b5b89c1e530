//! The quality flags of schema v4 end to end: simulator → gather → tansu → read back, with
//! exact outcomes checked against the ticks themselves (their ids, their `stream_type`) and
//! against gather's counters (`tickflow_tick_flags_total`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::run::{acked, app, connectors, gather, get, setup, wait_for};
use common::stack::{Broker, consume_all};
use rdkafka::message::Message;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tickflow::codec::{Encoder, Format};
use tickflow::gather::GatherState;
use tickflow::model::{EventKind, Exchange, Flag, StreamType, Tick};

/// Every tick on `ticks.v1` (there must be `count`), by (exchange, instrument, kind), each in
/// partition order (one key is one partition).
fn read_back(bootstrap: &str, count: u64) -> BTreeMap<(Exchange, String, &'static str), Vec<Tick>> {
    let messages = consume_all(
        bootstrap,
        "ticks.v1",
        count as usize,
        Duration::from_secs(60),
    );
    assert_eq!(messages.len() as u64, count, "consumed count differs");
    let mut out: BTreeMap<(Exchange, String, &'static str), Vec<Tick>> = BTreeMap::new();
    for m in &messages {
        let (_, tick) = Encoder::decode(Format::Avro, m.payload().unwrap()).unwrap();
        out.entry((
            tick.exchange,
            tick.instrument.to_string(),
            tick.kind.as_str(),
        ))
        .or_default()
        .push(tick);
    }
    out
}

/// Flagged ticks read back, per exchange and flag.
fn flag_counts(
    ticks: &BTreeMap<(Exchange, String, &'static str), Vec<Tick>>,
) -> HashMap<(Exchange, Flag), u64> {
    let mut out = HashMap::new();
    for ((exchange, ..), list) in ticks {
        for t in list {
            for flag in Flag::ALL.into_iter().filter(|f| t.has(*f)) {
                *out.entry((*exchange, flag)).or_default() += 1;
            }
        }
    }
    out
}

/// Gather's counters agree with what the topic holds, flag by flag.
fn assert_counters_match(
    state: &GatherState,
    ticks: &BTreeMap<(Exchange, String, &'static str), Vec<Tick>>,
) {
    let read = flag_counts(ticks);
    for x in Exchange::ALL {
        for flag in Flag::ALL {
            assert_eq!(
                get(&state.pipeline.flags[x][flag.index()]),
                read.get(&(x, flag)).copied().unwrap_or(0),
                "tickflow_tick_flags_total{{exchange={x}, flag={}}}",
                flag.as_str()
            );
        }
    }
}

/// Every tick is flagged `snapshot` exactly when the venue said `SNAPSHOT`.
fn assert_snapshot_is_the_venues_word(list: &[Tick]) {
    for t in list {
        assert_eq!(
            t.snapshot,
            t.stream_type == Some(StreamType::Snapshot),
            "{t:?}"
        );
    }
}

/// Binance trades with every 7th frame withheld by the simulator (`fault=skip`), beside clean
/// Upbit and Bithumb feeds, one session each: each jump in a Binance trade stream's
/// consecutive ids is one id and carries exactly one `sequence_gap`; no other tick does; each
/// (instrument, kind)'s first tick, and only it, is `first_after_connect`; `snapshot` is what
/// Upbit and Bithumb say of their first frame of each stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skipped_trade_ids_give_exactly_one_gap_flag_per_jump() {
    let Some(broker) = Broker::start("skipped_trade_ids_give_exactly_one_gap_flag_per_jump") else {
        return;
    };
    let (base, _sim) = common::start_simulator(300, Duration::from_secs(1), None).await;
    let mut picked = connectors(
        &base,
        &[
            ("upbit", ""),
            ("binance", "?fault=skip&after=7"),
            ("bithumb", ""),
        ],
    );
    // Trades and books: 12 streams, so every stream's frames meet the 7-frame period in turn,
    // and never twice in a row (a jump is exactly one id).
    let binance = &mut picked[1];
    binance.channels = ["trade", "bookTicker"]
        .iter()
        .map(|c| binance.profile.channel(c).unwrap())
        .collect();
    let run = gather(setup(app(&broker.bootstrap), picked)).await;
    let s = Arc::clone(&run.state);
    let gaps =
        |s: &GatherState| get(&s.pipeline.flags[Exchange::Binance][Flag::SequenceGap.index()]);
    wait_for(
        "1500 acked ticks and 20 Binance sequence gaps",
        Duration::from_secs(40),
        || acked(&s) >= 1500 && gaps(&s) >= 20,
    )
    .await;
    let (outcome, state) = run.finish().await;
    assert_eq!(outcome.lost, 0);
    assert_eq!(state.pipeline.dead_letters.total(), 0);
    for c in state.connections.all() {
        assert_eq!(get(&c.stats.connects), 1, "{}: one session", c.connector);
    }
    let ticks = read_back(&broker.bootstrap, state.pipeline.ticks.total());

    let mut jumps = 0;
    for ((exchange, instrument, kind), list) in &ticks {
        let key = format!("{exchange}:{instrument} {kind}");
        // One session: the first tick of each instrument and kind, and only it.
        let firsts: Vec<bool> = list.iter().map(|t| t.first_after_connect).collect();
        assert!(firsts[0], "{key}: its first tick");
        assert!(!firsts[1..].contains(&true), "{key}: only its first tick");
        assert_snapshot_is_the_venues_word(list);
        if *exchange == Exchange::Binance && *kind == EventKind::Trade.as_str() {
            for pair in list.windows(2) {
                let step = pair[1].sequence.unwrap() - pair[0].sequence.unwrap();
                assert!(step == 1 || step == 2, "{key}: ids go up by {step}");
                assert_eq!(pair[1].sequence_gap, step == 2, "{key}: {:?}", pair[1]);
                jumps += u64::from(step == 2);
            }
            assert!(!list[0].sequence_gap, "{key}: nothing before the first");
        } else {
            // Ids that only increase (Binance book `u`, Upbit `sequential_id`) never gap.
            assert!(list.iter().all(|t| !t.sequence_gap), "{key}");
        }
        if *exchange != Exchange::Binance {
            // The first frame of each stream after a subscription is the venue's snapshot.
            assert!(list[0].snapshot, "{key}");
        }
    }
    assert!(jumps >= 20, "{jumps} jumps");
    let read = flag_counts(&ticks);
    assert_eq!(read[&(Exchange::Binance, Flag::SequenceGap)], jumps);
    assert_eq!(read.get(&(Exchange::Binance, Flag::Snapshot)), None);
    for x in [Exchange::Upbit, Exchange::Bithumb] {
        let keys = ticks.keys().filter(|k| k.0 == x).count() as u64;
        assert_eq!(read[&(x, Flag::FirstAfterConnect)], keys, "{x}");
        assert_eq!(
            read[&(x, Flag::Snapshot)],
            keys,
            "{x}: one snapshot per stream"
        );
    }
    assert_counters_match(&state, &ticks);
}

/// Connections dropped by the simulator every 40 (Upbit) and 60 (Binance) frames: after each
/// reconnect the first tick of every instrument and kind is `first_after_connect`, and on
/// Upbit it is the venue's snapshot, flagged `snapshot` too; nothing else is flagged. (The
/// simulator starts a new market per connection, so Binance's trade ids start lower after a
/// reconnect: a venue numbering anew proves nothing missing, no gap.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnect_flags_the_next_first_ticks_and_upbit_resends_its_snapshot() {
    let Some(broker) = Broker::start("a_reconnect_flags_the_next_first_ticks") else {
        return;
    };
    let (base, _sim) = common::start_simulator(300, Duration::from_secs(1), None).await;
    let picked = connectors(
        &base,
        &[
            ("upbit", "?fault=drop&after=40"),
            ("binance", "?fault=drop&after=60"),
        ],
    );
    let run = gather(setup(app(&broker.bootstrap), picked)).await;
    let s = Arc::clone(&run.state);
    let conns = s.connections.all();
    let (upbit, binance) = (Arc::clone(&conns[0].stats), Arc::clone(&conns[1].stats));
    wait_for(
        "4 Upbit and 3 Binance sessions",
        Duration::from_secs(30),
        || get(&upbit.connects) >= 4 && get(&binance.connects) >= 3,
    )
    .await;
    let (outcome, state) = run.finish().await;
    assert_eq!(outcome.lost, 0);
    let ticks = read_back(&broker.bootstrap, state.pipeline.ticks.total());
    for ((exchange, instrument, kind), list) in &ticks {
        let key = format!("{exchange}:{instrument} {kind}");
        assert!(list[0].first_after_connect, "{key}");
        let sessions = list.iter().filter(|t| t.first_after_connect).count();
        assert!(
            sessions >= 2,
            "{key}: flagged after a reconnect too ({sessions})"
        );
        assert!(list.iter().all(|t| !t.sequence_gap), "{key}");
        assert_snapshot_is_the_venues_word(list);
        if *exchange == Exchange::Upbit {
            // Each session's first frame of each stream is its snapshot, and only that one:
            // exactly the ticks flagged first after a connect.
            for t in list {
                assert_eq!(t.snapshot, t.first_after_connect, "{key}: {t:?}");
            }
        } else {
            assert!(list.iter().all(|t| !t.snapshot), "{key}");
        }
    }
    let upbit_keys = ticks.keys().filter(|k| k.0 == Exchange::Upbit).count();
    assert_eq!(upbit_keys, 15, "5 instruments, 3 kinds");
    assert_counters_match(&state, &ticks);
}

/// A venue restating a whole state with an id already seen (the simulator sends every 4th
/// Coinone book twice, as the venue repeats the current book on a second subscribe): the copy
/// is dropped before Kafka and counted; every book on the topic has an id above the one
/// before it; count in = count out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_book_whose_id_is_not_newer_is_dropped_and_counted() {
    let Some(broker) = Broker::start("a_book_whose_id_is_not_newer_is_dropped") else {
        return;
    };
    let (base, _sim) = common::start_simulator(300, Duration::from_secs(1), None).await;
    let mut picked = connectors(&base, &[("coinone", "?fault=repeat&after=4")]);
    let coinone = &mut picked[0];
    coinone.channels = vec![coinone.profile.channel("ORDERBOOK").unwrap()];
    let run = gather(setup(app(&broker.bootstrap), picked)).await;
    let s = Arc::clone(&run.state);
    wait_for(
        "300 acked books and 40 dropped copies",
        Duration::from_secs(40),
        || acked(&s) >= 300 && s.pipeline.not_newer.load(Exchange::Coinone) >= 40,
    )
    .await;
    let (outcome, state) = run.finish().await;
    assert_eq!(outcome.lost, 0);
    let p = &state.pipeline;
    assert_eq!(p.dead_letters.total(), 0);
    let dropped = p.not_newer.load(Exchange::Coinone);
    assert_eq!(
        p.frames.total(),
        p.ticks.total() + p.controls.total() + dropped,
        "every frame a tick, a control or a dropped copy"
    );
    let ticks = read_back(&broker.bootstrap, p.ticks.total());
    for ((exchange, instrument, kind), list) in &ticks {
        assert_eq!(*exchange, Exchange::Coinone);
        assert_eq!(*kind, EventKind::BestBidOffer.as_str());
        for pair in list.windows(2) {
            assert!(
                pair[1].sequence > pair[0].sequence,
                "{instrument}: {:?} after {:?}",
                pair[1].sequence,
                pair[0].sequence
            );
        }
    }
}
