//! Per-frame cost of the gatherer's hot path on one core: decode + validate + normalize +
//! encode (Avro with Confluent framing), per adapter; and the hot Avro encoder next to
//! apache-avro's generic `Value` path. Run: `cargo bench --bench pipeline`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;
use tickflow::codec::{Encoder, Format, avro};
use tickflow::exchange::{
    Adapter, AdapterConfig, BinanceAdapter, BithumbAdapter, Decoded, Frame, SymbolTable,
    UpbitAdapter,
};

struct Case {
    name: &'static str,
    adapter: Box<dyn Adapter>,
    frame: &'static [u8],
    received_us: i64,
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

fn pipeline(c: &mut Criterion) {
    let encoder = Encoder {
        format: Format::Avro,
        schema_id: 1,
    };
    let mut group = c.benchmark_group("frame_to_framed_avro");
    group.throughput(Throughput::Elements(1));
    for case in cases() {
        // Fail loudly if a fixture stops decoding: a benchmark of rejections is meaningless.
        let frame = Frame::binary(case.frame);
        assert!(matches!(
            case.adapter.decode(frame, case.received_us),
            Ok(Decoded::Tick(_))
        ));
        let mut out = Vec::with_capacity(256);
        group.bench_function(case.name, |b| {
            b.iter(|| {
                out.clear();
                match case.adapter.decode(black_box(frame), case.received_us) {
                    Ok(Decoded::Tick(tick)) => encoder.encode(&tick, &mut out).unwrap(),
                    other => panic!("{other:?}"),
                }
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
/// (both the hot decoder: v1 is v2's first 22 fields), and a writer that is not a prefix of
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
    // What tickflow v1 wrote: the same body without the three fields v2 added (all null here).
    let mut v1 = current.clone();
    v1.truncate(v1.len() - 3);
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

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = pipeline, avro_paths, cache_decode
}
criterion_main!(benches);
