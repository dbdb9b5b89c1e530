//! Per-frame cost of the gatherer's hot path on one core: decode + validate + normalize +
//! encode (Avro with Confluent framing), per adapter and channel, then over every venue's data
//! fixtures (`<venue>/<file>`); the same over every real
//! frame of a capture (`peer_frames`, the frames `scripts/peer_bench.sh` also gives
//! cryptofeed); and the hot Avro encoder next to apache-avro's generic `Value` path.
//! Run: `cargo bench --bench pipeline`. Real frames come from `../shared/samples` when it is
//! beside the repository (a line on stderr says which source each case uses).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;
use tickflow::codec::{Encoder, Format, avro};
use tickflow::exchange::reference::References;
use tickflow::exchange::{
    Adapter, AdapterConfig, BinanceAdapter, BithumbAdapter, Decoded, Frame, SymbolTable,
    UpbitAdapter, adapter_for,
};
use tickflow::model::Exchange;

struct Case {
    name: &'static str,
    adapter: Box<dyn Adapter>,
    frame: &'static [u8],
    received_us: i64,
}

/// A captured frame with its receive time (µs).
type Line = (i64, &'static [u8]);

/// `../shared/samples/<sub>`, if present.
fn sample(sub: &str) -> Option<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/samples")
        .join(sub);
    std::fs::read_to_string(path).ok()
}

/// hftbacktest's real spot capture as `(receive µs, frame)` lines.
fn hftbacktest() -> Option<Vec<(i64, &'static [u8])>> {
    let text = sample("binance/hftbacktest__spot_btcusdt_20240808_head3000.txt")?;
    let text: &'static str = Box::leak(text.into_boxed_str());
    Some(
        text.lines()
            .filter_map(|l| {
                let (ns, frame) = l.split_once(' ')?;
                Some((ns.parse::<i64>().ok()? / 1000, frame.as_bytes()))
            })
            .collect(),
    )
}

/// cryptofeed's combined-stream capture as `(receive µs, frame)` lines.
fn cryptofeed_binance() -> Option<Vec<(i64, &'static [u8])>> {
    let text = sample("binance/cryptofeed__BINANCE.ws.1.0")?;
    let text: &'static str = Box::leak(text.into_boxed_str());
    Some(
        text.lines()
            .filter_map(|l| {
                let (ts, frame) = l.split_once(": ")?;
                let (secs, frac) = ts.split_once('.')?;
                let micros: i64 = format!("{frac:0<6}")[..6].parse().ok()?;
                Some((
                    secs.parse::<i64>().ok()? * 1_000_000 + micros,
                    frame.as_bytes(),
                ))
            })
            .collect(),
    )
}

/// The first real frame of `stream` (`@bookTicker`, `@trade`), else the fixture.
fn real_or(stream: &str, fixture: &'static [u8], fixture_us: i64) -> (&'static [u8], i64) {
    let found = hftbacktest().and_then(|lines| {
        lines
            .into_iter()
            .find(|(_, f)| std::str::from_utf8(f).is_ok_and(|f| f.contains(stream)))
    });
    match found {
        Some((at, frame)) => {
            eprintln!("{stream}: a real frame (hftbacktest)");
            (frame, at)
        }
        None => {
            eprintln!("{stream}: SKIP real frame (no ../shared/samples), using the fixture");
            (fixture, fixture_us)
        }
    }
}

fn cases() -> Vec<Case> {
    let config = AdapterConfig::default();
    let table = Arc::new(SymbolTable::bundled_binance().unwrap());
    let binance = || Box::new(BinanceAdapter::new(config.clone(), table.clone()));
    vec![
        Case {
            name: "binance_24hrTicker_raw",
            adapter: binance(),
            frame: include_bytes!("../tests/fixtures/binance/ticker_raw.json"),
            received_us: 1_763_615_720_010_000,
        },
        Case {
            name: "binance_24hrTicker_combined",
            adapter: binance(),
            frame: include_bytes!("../tests/fixtures/binance/ticker_combined.json"),
            received_us: 1_763_615_720_010_000,
        },
        Case {
            name: "binance_24hrMiniTicker_combined",
            adapter: binance(),
            frame: include_bytes!("../tests/fixtures/binance/mini_ticker_combined.json"),
            received_us: 1_763_615_720_010_000,
        },
        {
            let (frame, received_us) = real_or(
                "@bookTicker",
                include_bytes!("../tests/fixtures/binance/book_ticker_raw.json"),
                1_763_615_720_010_000,
            );
            Case {
                name: "binance_bookTicker_combined",
                adapter: binance(),
                frame,
                received_us,
            }
        },
        {
            let (frame, received_us) = real_or(
                "@trade",
                include_bytes!("../tests/fixtures/binance/trade_combined.json"),
                1_763_615_720_010_000,
            );
            Case {
                name: "binance_trade_combined",
                adapter: binance(),
                frame,
                received_us,
            }
        },
        Case {
            name: "binance_aggTrade_raw",
            adapter: binance(),
            frame: include_bytes!("../tests/fixtures/binance/agg_trade_raw.json"),
            received_us: 1_763_615_720_010_000,
        },
        Case {
            name: "upbit_ticker_default",
            adapter: Box::new(UpbitAdapter::new(config.clone())),
            frame: include_bytes!("../tests/fixtures/upbit/ticker_default.json"),
            received_us: 1_763_615_720_180_000,
        },
        Case {
            name: "upbit_ticker_simple",
            adapter: Box::new(UpbitAdapter::new(config.clone())),
            frame: include_bytes!("../tests/fixtures/upbit/ticker_simple.json"),
            received_us: 1_763_615_720_180_000,
        },
        Case {
            name: "upbit_trade_simple",
            adapter: Box::new(UpbitAdapter::new(config.clone())),
            frame: include_bytes!("../tests/fixtures/upbit/trade_simple.json"),
            received_us: 1_763_615_722_400_000,
        },
        Case {
            name: "upbit_orderbook_simple",
            adapter: Box::new(UpbitAdapter::new(config.clone())),
            frame: include_bytes!("../tests/fixtures/upbit/orderbook_simple.json"),
            received_us: 1_763_615_720_180_000,
        },
        Case {
            name: "bithumb_legacy_transaction",
            adapter: Box::new(BithumbAdapter::new(config.clone())),
            frame: include_bytes!("../tests/fixtures/bithumb/legacy_transaction.json"),
            received_us: 1_763_615_720_200_000,
        },
        Case {
            name: "bithumb_legacy_ticker",
            adapter: Box::new(BithumbAdapter::new(config.clone())),
            frame: include_bytes!("../tests/fixtures/bithumb/legacy_ticker.json"),
            received_us: 1_580_267_924_350_000,
        },
        Case {
            name: "bithumb_v1_ticker",
            adapter: Box::new(BithumbAdapter::new(config)),
            frame: include_bytes!("../tests/fixtures/bithumb/v1_ticker.json"),
            received_us: 1_763_615_720_200_000,
        },
    ]
}

/// Every venue's data fixtures (`tests/fixtures/<venue>/*.json` that decode to ticks), named
/// `<venue>/<file>`: a new venue is benchmarked beside the others by its fixtures alone.
fn venue_fixtures() -> Vec<Case> {
    let references = References::bundled().unwrap();
    let mut config = AdapterConfig::default();
    config.validation.check_time_window = false;
    let mut cases = Vec::new();
    for exchange in Exchange::ALL {
        let venue = exchange.as_str().to_ascii_lowercase();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(&venue);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            eprintln!("{venue}: no fixtures in {}", dir.display());
            continue;
        };
        let mut files: Vec<_> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        for path in files {
            let mut bytes = std::fs::read(&path).unwrap();
            while bytes.last() == Some(&b'\n') {
                bytes.pop();
            }
            let frame: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            let adapter = adapter_for(exchange, config.clone(), &references).unwrap();
            if !matches!(
                adapter.decode(Frame::binary(frame), 0),
                Ok(Decoded::Tick(_) | Decoded::Ticks(_))
            ) {
                continue;
            }
            let stem = path.file_stem().unwrap().to_string_lossy();
            cases.push(Case {
                name: Box::leak(format!("{venue}/{stem}").into_boxed_str()),
                adapter,
                frame,
                received_us: 0,
            });
        }
    }
    cases
}

fn pipeline(c: &mut Criterion) {
    let encoder = Encoder {
        format: Format::Avro,
        schema_id: 1,
    };
    let mut group = c.benchmark_group("frame_to_framed_avro");
    group.throughput(Throughput::Elements(1));
    for case in cases().into_iter().chain(venue_fixtures()) {
        // Fail loudly if a fixture stops decoding: a benchmark of rejections is meaningless.
        let frame = Frame::binary(case.frame);
        assert!(matches!(
            case.adapter.decode(frame, case.received_us),
            Ok(Decoded::Tick(_) | Decoded::Ticks(_))
        ));
        let mut out = Vec::with_capacity(256);
        group.bench_function(case.name, |b| {
            b.iter(|| {
                out.clear();
                encode_frame(
                    case.adapter.as_ref(),
                    black_box(frame),
                    case.received_us,
                    &encoder,
                    &mut out,
                );
                black_box(out.len())
            })
        });
    }
    group.finish();
}

/// Frame → validated tick(s) → Confluent-framed Avro, appended to `out`.
fn encode_frame(
    adapter: &dyn Adapter,
    frame: Frame<'_>,
    received_us: i64,
    encoder: &Encoder,
    out: &mut Vec<u8>,
) {
    // By reference, as the pipeline matches it (no copy of the tick).
    match &adapter.decode(frame, received_us) {
        Ok(Decoded::Tick(tick)) => encoder.encode(tick, out).unwrap(),
        Ok(Decoded::Ticks(ticks)) => {
            for tick in ticks {
                encoder.encode(tick, out).unwrap();
            }
        }
        other => panic!("{other:?}"),
    }
}

/// Per-frame cost over every real frame of one kind in a capture, cycling through them: the
/// same frames `scripts/peer_bench.sh` gives cryptofeed (`peer/cryptofeed_binance.py`).
fn peer_frames(c: &mut Criterion) {
    let encoder = Encoder {
        format: Format::Avro,
        schema_id: 1,
    };
    let bundled = Arc::new(SymbolTable::bundled_binance().unwrap());
    let mut sets: Vec<(&str, Arc<SymbolTable>, Vec<Line>)> = Vec::new();
    let of = |lines: &[(i64, &'static [u8])], stream: &str| -> Vec<(i64, &'static [u8])> {
        lines
            .iter()
            .filter(|(_, f)| std::str::from_utf8(f).is_ok_and(|f| f.contains(stream)))
            .copied()
            .collect()
    };
    match hftbacktest() {
        Some(lines) => {
            sets.push((
                "binance_bookTicker_hftbacktest",
                bundled.clone(),
                of(&lines, "@bookTicker\""),
            ));
            sets.push((
                "binance_trade_hftbacktest",
                bundled.clone(),
                of(&lines, "@trade\""),
            ));
        }
        None => eprintln!("peer_frames: SKIP hftbacktest (no ../shared/samples)"),
    }
    // cryptofeed's own capture: the aggTrade frames its Binance feed normalizes as trades,
    // symbols from the exchangeInfo it captured beside them.
    let info = sample("binance/cryptofeed__BINANCE.0");
    match (cryptofeed_binance(), info) {
        (Some(lines), Some(info)) => {
            let first = info.lines().next().unwrap_or_default();
            let json = &first[first.find('{').unwrap_or(0)..];
            let table = Arc::new(SymbolTable::from_exchange_info(json).unwrap().0);
            sets.push((
                "binance_aggTrade_cryptofeed",
                table.clone(),
                of(&lines, "@aggTrade\""),
            ));
            sets.push((
                "binance_bookTicker_cryptofeed",
                table,
                of(&lines, "@bookTicker\""),
            ));
        }
        _ => eprintln!("peer_frames: SKIP cryptofeed capture (no ../shared/samples)"),
    }
    let mut group = c.benchmark_group("peer_frames");
    group.throughput(Throughput::Elements(1));
    for (name, table, frames) in sets {
        assert!(!frames.is_empty(), "{name}");
        let adapter = BinanceAdapter::new(AdapterConfig::default(), table);
        let mut out = Vec::with_capacity(256);
        let mut at = 0;
        group.bench_function(name, |b| {
            b.iter(|| {
                let (received, frame) = frames[at % frames.len()];
                at += 1;
                out.clear();
                encode_frame(
                    &adapter,
                    Frame::text(black_box(frame)),
                    received,
                    &encoder,
                    &mut out,
                );
                black_box(out.len())
            })
        });
    }
    group.finish();
}

/// The first case's tick (a Binance 24hrTicker).
fn first_tick() -> tickflow::model::Tick {
    let case = cases().into_iter().next().unwrap();
    match case
        .adapter
        .decode(Frame::text(case.frame), case.received_us)
    {
        Ok(Decoded::Tick(tick)) => tick,
        other => panic!("fixture must decode: {other:?}"),
    }
}

fn avro_paths(c: &mut Criterion) {
    let tick = first_tick();
    let mut group = c.benchmark_group("avro_encode_one_tick");
    group.throughput(Throughput::Elements(1));
    let mut out = Vec::with_capacity(256);
    group.bench_function("hot_encoder", |b| {
        b.iter(|| {
            out.clear();
            avro::encode(black_box(&tick), &mut out).unwrap();
            black_box(out.len())
        })
    });
    group.bench_function("apache_avro_generic_value", |b| {
        b.iter(|| {
            black_box(
                avro::encode_with_apache_avro(black_box(&tick))
                    .unwrap()
                    .len(),
            )
        })
    });
    group.bench_function("hot_decoder", |b| {
        let mut body = Vec::new();
        avro::encode(&tick, &mut body).unwrap();
        b.iter(|| black_box(avro::decode(black_box(&body)).unwrap()))
    });
    group.finish();
}

/// The cache's decode of one message by its header id: the compiled schema and a v1 writer
/// (both the hot decoder: v1 is v4's first 22 fields), and a writer that is not a prefix of
/// the compiled schema (the generic path, resolving by field name).
fn cache_decode(c: &mut Criterion) {
    use tickflow::registry::resolver::Resolver;
    use tickflow::schemas::Kind;
    let tick = first_tick();
    let v1_text = include_str!("../schemas/avro/tick.v1.avsc");
    let resolver = Resolver::new(None, 1, Format::Avro);
    resolver.preload(2, Kind::Avro, avro::TICK_AVSC).unwrap();
    resolver.preload(3, Kind::Avro, v1_text).unwrap();
    // v1 with another (compatible) time unit in one field: same bytes, not a prefix.
    let millis = v1_text.replace(
        r#"{"name": "trade_ts_us", "type": ["null", {"type": "long", "logicalType": "timestamp-micros"}]"#,
        r#"{"name": "trade_ts_us", "type": ["null", {"type": "long", "logicalType": "timestamp-millis"}]"#,
    );
    assert_ne!(millis, v1_text);
    resolver.preload(4, Kind::Avro, &millis).unwrap();
    let framed = |id| {
        let mut out = Vec::new();
        Encoder {
            format: Format::Avro,
            schema_id: id,
        }
        .encode(&tick, &mut out)
        .unwrap();
        out
    };
    let (fixed, current) = (framed(1), framed(2));
    // What tickflow v1 wrote: the same body without the seven fields v2, v3 and v4 added (all
    // null or false here: one byte each).
    let mut v1 = current.clone();
    v1.truncate(v1.len() - 7);
    v1[1..5].copy_from_slice(&3u32.to_be_bytes());
    assert_eq!(resolver.decode(&v1).unwrap().1, tick);
    let mut generic = v1.clone();
    generic[1..5].copy_from_slice(&4u32.to_be_bytes());
    assert_eq!(resolver.decode(&generic).unwrap().1, tick);
    let mut group = c.benchmark_group("cache_decode_one_message");
    group.throughput(Throughput::Elements(1));
    group.bench_function("encoder_decode_no_lookup", |b| {
        b.iter(|| black_box(Encoder::decode(Format::Avro, black_box(&fixed)).unwrap()))
    });
    group.bench_function("resolver_fixed_id", |b| {
        b.iter(|| black_box(resolver.decode(black_box(&fixed)).unwrap()))
    });
    group.bench_function("resolver_registry_id_current_schema", |b| {
        b.iter(|| black_box(resolver.decode(black_box(&current)).unwrap()))
    });
    group.bench_function("resolver_registry_id_v1_writer", |b| {
        b.iter(|| black_box(resolver.decode(black_box(&v1)).unwrap()))
    });
    group.bench_function("resolver_registry_id_generic_path", |b| {
        b.iter(|| black_box(resolver.decode(black_box(&generic)).unwrap()))
    });
    group.finish();
}

/// The cache's polling thread per message, Kafka aside: decode by the header's schema id, then
/// coalesce into the gathering batch (newest tick per key and kind, with a copy of its message
/// for a dead letter). Each batch covers 32 messages per key (what a batch held per key while
/// catching up in `cargo bench --bench cache`), then goes to the writer and the next one starts;
/// at 1,000 and at 10,000 keys, to show what the batch's size costs (issue 21).
fn cache_coalesce(c: &mut Criterion) {
    use tickflow::cache::batch::{Batch, SourceRef};
    use tickflow::model::Instrument;
    use tickflow::registry::resolver::Resolver;
    const ROUNDS: i64 = 32;
    let resolver = Resolver::new(None, 1, Format::Avro);
    let encoder = Encoder {
        format: Format::Avro,
        schema_id: 1,
    };
    let template = first_tick();
    let mut group = c.benchmark_group("cache_coalesce_one_message");
    group.throughput(Throughput::Elements(1));
    for keys in [1_000usize, 10_000] {
        // Round-major, like a topic of many instruments: every key once, then again, newer.
        let mut messages = Vec::with_capacity(keys * ROUNDS as usize);
        for round in 0..ROUNDS {
            for k in 0..keys {
                let mut tick = template.clone();
                tick.instrument = Instrument::new(&format!("C{k}"), "KRW").unwrap();
                tick.event_ts_us = Some(1_700_000_000_000_000 + round);
                let key = format!("{}:{}", tick.exchange.as_str(), tick.instrument.as_str());
                let mut payload = Vec::new();
                encoder.encode(&tick, &mut payload).unwrap();
                messages.push((key.into_bytes(), payload));
            }
        }
        let mut batch = Batch::default();
        let mut at = 0usize;
        group.bench_function(format!("{keys}_keys"), |b| {
            b.iter(|| {
                let (key, payload) = &messages[at];
                let (_, tick) = resolver.decode(black_box(payload)).unwrap();
                batch.cover("ticks.v1", 0, at as i64);
                let from = SourceRef {
                    partition: 0,
                    offset: at as i64,
                    key,
                    payload,
                };
                batch.add(tick, from);
                at += 1;
                if at == messages.len() {
                    // The writer takes the batch; the next one starts.
                    black_box(batch.take());
                    at = 0;
                }
            })
        });
    }
    group.finish();
}

/// What the connection adds per frame: the venue's session reader (issue 20), on data frames.
fn session_reader(c: &mut Criterion) {
    let mut group = c.benchmark_group("session_reader_per_data_frame");
    group.throughput(Throughput::Elements(1));
    for case in cases() {
        let exchange = case.adapter.exchange();
        let api = if case.name.contains("legacy") {
            Some("legacy")
        } else {
            None
        };
        let Some(profile) = tickflow::exchange::profile_for(exchange, api) else {
            continue;
        };
        assert_eq!((profile.says)(case.frame), None, "{}", case.name);
        group.bench_function(case.name, |b| {
            b.iter(|| black_box((profile.says)(black_box(case.frame))))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = pipeline, peer_frames, avro_paths, cache_decode, cache_coalesce, session_reader
}
criterion_main!(benches);
