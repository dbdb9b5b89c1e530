//! Codec properties: every valid tick round-trips through Avro and Protobuf unchanged, and the
//! hot Avro encoder writes exactly the bytes apache-avro writes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use rust_decimal::Decimal;
use tickflow::codec::{CodecError, Encoder, Format, avro, avro_resolved, confluent, proto};
use tickflow::model::validate::fits_wire;
use tickflow::model::{EventKind, Exchange, Instrument, MarketState, StreamType, Tick, TradeSide};

fn wire_decimal() -> impl Strategy<Value = Decimal> {
    let digits = 10i128.pow(28) - 1;
    (-digits..=digits, 0u32..=18)
        .prop_map(|(m, s)| Decimal::from_i128_with_scale(m, s).normalize())
        .prop_filter("fits decimal(38,18)", |d| fits_wire(*d))
}

fn opt_decimal() -> impl Strategy<Value = Option<Decimal>> {
    prop_oneof![Just(None), wire_decimal().prop_map(Some)]
}

prop_compose! {
    fn any_tick()(
        exchange in prop::sample::select(Exchange::ALL.to_vec()),
        kind in prop::sample::select(EventKind::ALL.to_vec()),
        (base, quote) in ("[A-Z0-9]{1,10}", "[A-Z]{2,6}"),
        native in "[ -~]{0,24}",
        last_price in wire_decimal(),
        d in prop::collection::vec(opt_decimal(), 13),
        event_ts_us in any::<Option<i64>>(),
        trade_ts_us in any::<Option<i64>>(),
        sequence in any::<Option<i64>>(),
        received_ts_us in any::<i64>(),
        stream_type in prop::option::of(prop::sample::select(vec![StreamType::Snapshot, StreamType::Realtime])),
        market_state in prop::option::of(prop::sample::select(vec![MarketState::Preview, MarketState::Active, MarketState::Delisted])),
        delisting_date in any::<Option<i32>>(),
        trade_side in prop::option::of(prop::sample::select(vec![TradeSide::Buy, TradeSide::Sell])),
        (first_after_connect, snapshot, sequence_gap) in any::<(bool, bool, bool)>(),
    ) -> Tick {
        Tick {
            exchange, kind,
            instrument: Instrument::new(&base, &quote).unwrap(),
            native_symbol: native.into(),
            last_price,
            last_qty: d[0], open_price: d[1], high_price: d[2], low_price: d[3],
            prev_close_price: d[4], change: d[5], change_rate: d[6], volume_24h_base: d[7],
            volume_24h_quote: d[8], bid_price: d[9], bid_qty: d[10], ask_price: d[11], ask_qty: d[12],
            event_ts_us, trade_ts_us, sequence, received_ts_us,
            stream_type, market_state, delisting_date, trade_side,
            first_after_connect, snapshot, sequence_gap, simulated: false,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn hot_avro_encoder_is_byte_identical_to_apache_avro(tick in any_tick()) {
        let mut hot = Vec::new();
        avro::encode(&tick, &mut hot).unwrap();
        prop_assert_eq!(hot, avro::encode_with_apache_avro(&tick).unwrap());
    }

    /// Decimals with trailing zeros past scale 18 (adapters normalize, the encoder must not
    /// rely on it): still the bytes apache-avro writes.
    #[test]
    fn hot_avro_encoder_normalizes_like_apache_avro(tick in any_tick(), extra in 1u32..=10) {
        let mut tick = tick;
        let widen = |d: &mut Decimal| {
            let mut wide = *d;
            wide.rescale((d.scale() + extra).min(28));
            if wide == *d {
                *d = wide;
            }
        };
        widen(&mut tick.last_price);
        for d in [&mut tick.bid_price, &mut tick.ask_qty, &mut tick.change].into_iter().flatten() {
            widen(d);
        }
        let mut hot = Vec::new();
        avro::encode(&tick, &mut hot).unwrap();
        prop_assert_eq!(hot, avro::encode_with_apache_avro(&tick).unwrap());
    }

    #[test]
    fn avro_round_trip(tick in any_tick()) {
        let mut body = Vec::new();
        avro::encode(&tick, &mut body).unwrap();
        prop_assert_eq!(avro::decode(&body).unwrap(), tick);
    }

    #[test]
    fn avro_resolution_reads_the_current_schema_like_the_hot_decoder(tick in any_tick()) {
        let mut body = Vec::new();
        avro::encode(&tick, &mut body).unwrap();
        let writer = avro::schema().unwrap();
        prop_assert_eq!(avro_resolved::decode_resolved(writer, &body).unwrap(), tick);
    }

    #[test]
    fn v1_writer_read_by_the_current_schema(tick in any_tick()) {
        // v1 and v2 have no BEST_BID_OFFER kind: their writers never wrote one.
        let tick = older_kind(tick);
        let v1 = released_schema(1);
        let tick = known_to(&v1, tick);
        #[allow(deprecated)]
        let v1_body = apache_avro::to_avro_datum(&v1, older_value(&tick, 1)).unwrap();
        let mut expected = unflagged(tick.clone());
        (expected.stream_type, expected.market_state, expected.delisting_date) = (None, None, None);
        expected.trade_side = None;
        prop_assert_eq!(avro_resolved::decode_resolved(&v1, &v1_body).unwrap(), expected.clone());
        // v1 is the first 22 fields of v4: the hot decoder reads it too.
        prop_assert_eq!(avro::decode_fields(&v1_body, avro::REQUIRED_PREFIX).unwrap(), expected);
    }

    #[test]
    fn v2_writer_read_by_the_current_schema(tick in any_tick()) {
        let tick = older_kind(tick);
        let v2 = released_schema(2);
        let tick = known_to(&v2, tick);
        #[allow(deprecated)]
        let v2_body = apache_avro::to_avro_datum(&v2, older_value(&tick, 2)).unwrap();
        let mut expected = unflagged(tick.clone());
        expected.trade_side = None;
        prop_assert_eq!(avro_resolved::decode_resolved(&v2, &v2_body).unwrap(), expected.clone());
        // v2 is the first 25 fields of v4 (its kind enum a prefix of v4's).
        prop_assert_eq!(avro::decode_fields(&v2_body, 25).unwrap(), expected);
    }

    #[test]
    fn v3_writer_read_by_the_current_schema(tick in any_tick()) {
        let v3 = released_schema(3);
        let tick = known_to(&v3, tick);
        #[allow(deprecated)]
        let v3_body = apache_avro::to_avro_datum(&v3, older_value(&tick, 3)).unwrap();
        // v3 wrote no flags: they read as false, their default.
        let expected = unflagged(tick);
        prop_assert_eq!(avro_resolved::decode_resolved(&v3, &v3_body).unwrap(), expected.clone());
        // v3 is the first 26 fields of v4.
        prop_assert_eq!(avro::decode_fields(&v3_body, 26).unwrap(), expected);
    }


    #[test]
    fn proto_round_trip(tick in any_tick()) {
        let mut body = Vec::new();
        proto::encode(&tick, &mut body).unwrap();
        prop_assert_eq!(proto::decode(&body).unwrap(), tick);
    }

    #[test]
    fn framed_round_trip(tick in any_tick(), schema_id in any::<u32>()) {
        for format in [Format::Avro, Format::Proto] {
            let mut out = Vec::new();
            Encoder { format, schema_id }.encode(&tick, &mut out).unwrap();
            prop_assert_eq!(out[0], confluent::MAGIC);
            prop_assert_eq!(&out[1..5], &schema_id.to_be_bytes()[..]);
            let (id, back) = Encoder::decode(format, &out).unwrap();
            prop_assert_eq!(id, schema_id);
            prop_assert_eq!(back, tick.clone());
        }
    }

    #[test]
    fn truncated_avro_is_an_error_not_a_panic(tick in any_tick(), cut in any::<prop::sample::Index>()) {
        let mut body = Vec::new();
        avro::encode(&tick, &mut body).unwrap();
        let at = cut.index(body.len());
        prop_assert!(avro::decode(&body[..at]).is_err());
    }

    #[test]
    fn garbage_never_panics_decoders(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = avro::decode(&bytes);
        let _ = proto::decode(&bytes);
        let _ = Encoder::decode(Format::Avro, &bytes);
        let _ = Encoder::decode(Format::Proto, &bytes);
    }
}

fn sample_tick() -> Tick {
    let mut t = Tick::new(
        Exchange::Upbit,
        Instrument::parse("BTC-KRW").unwrap(),
        "KRW-BTC",
        EventKind::Ticker,
        "143880000".parse().unwrap(),
        1_763_615_720_180_000,
    );
    t.change_rate = Some("-0.0043979058".parse().unwrap());
    t
}

#[test]
fn values_that_do_not_fit_are_refused_not_rounded() {
    let mut t = sample_tick();
    t.last_qty = Some(Decimal::from_i128_with_scale(1, 19));
    let err = avro::encode(&t, &mut Vec::new()).unwrap_err();
    assert!(
        matches!(
            err,
            CodecError::Unrepresentable {
                field: "last_qty",
                ..
            }
        ),
        "{err}"
    );
    t.last_qty = Some(Decimal::from_i128_with_scale(10i128.pow(20), 0));
    assert!(avro::encode(&t, &mut Vec::new()).is_err());
    // Trailing zeros beyond scale 18 are not precision: they normalize away.
    t.last_qty = Some(Decimal::from_i128_with_scale(10i128.pow(25), 25));
    let mut body = Vec::new();
    avro::encode(&t, &mut body).unwrap();
    assert_eq!(avro::decode(&body).unwrap().last_qty, Some(Decimal::ONE));
}

#[test]
fn decimal_bytes_are_scale_18_twos_complement() {
    // last_price 143880000 at scale 18 = 143880000 * 10^18, written as minimal big-endian bytes.
    let t = sample_tick();
    let mut body = Vec::new();
    avro::encode(&t, &mut body).unwrap();
    let unscaled: i128 = 143_880_000 * 10i128.pow(18);
    let bytes = unscaled.to_be_bytes();
    let first = bytes.iter().position(|b| *b != 0).unwrap();
    let minimal = if bytes[first] & 0x80 != 0 {
        &bytes[first - 1..]
    } else {
        &bytes[first..]
    };
    let at = body.windows(minimal.len()).position(|w| w == minimal);
    assert!(at.is_some(), "unscaled bytes not found in {body:02x?}");
    assert_eq!(
        body[at.unwrap() - 1] as usize,
        minimal.len() * 2,
        "zigzag length prefix"
    );
}

fn older_kind(mut tick: Tick) -> Tick {
    if tick.kind == EventKind::BestBidOffer {
        tick.kind = EventKind::Ticker;
    }
    tick
}

fn released_schema(version: u32) -> apache_avro::Schema {
    let text = std::fs::read_to_string(format!(
        "{}/schemas/avro/tick.v{version}.avsc",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    apache_avro::Schema::parse_str(&text).unwrap()
}

/// The tick with a venue `writer` knows: a venue added in a later version was never written
/// by it (the first venue stands in).
fn known_to(writer: &apache_avro::Schema, mut tick: Tick) -> Tick {
    let apache_avro::Schema::Record(r) = writer else {
        panic!("not a record")
    };
    let field = r.fields.iter().find(|f| f.name == "exchange").unwrap();
    let apache_avro::Schema::Enum(e) = &field.schema else {
        panic!("exchange is not an enum")
    };
    if !e.symbols.iter().any(|s| s == tick.exchange.as_str()) {
        tick.exchange = tickflow::model::Exchange::ALL[0];
    }
    tick
}

/// The tick without quality flags (what a writer before v4 states).
fn unflagged(mut tick: Tick) -> Tick {
    (tick.first_after_connect, tick.snapshot, tick.sequence_gap) = (false, false, false);
    tick
}

/// The tick as schema v1, v2 or v3 writes it: the current value without the later fields.
fn older_value(tick: &Tick, version: u32) -> apache_avro::types::Value {
    let apache_avro::types::Value::Record(mut fields) = avro::to_value(tick).unwrap() else {
        panic!("not a record")
    };
    let mut later = vec!["first_after_connect", "snapshot", "sequence_gap"];
    if version < 3 {
        later.push("trade_side");
    }
    if version < 2 {
        later.extend(["stream_type", "market_state", "delisting_date"]);
    }
    fields.retain(|(name, _)| !later.contains(&name.as_str()));
    apache_avro::types::Value::Record(fields)
}

#[test]
fn avro_and_proto_schemas_name_the_same_fields_in_the_same_order() {
    let avsc: serde_json::Value = serde_json::from_str(avro::TICK_AVSC).unwrap();
    let avro_fields: Vec<String> = avsc["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_owned())
        .collect();
    let proto = tickflow::codec::proto::TICK_PROTO;
    let body = &proto[proto.find("message Tick").unwrap()..];
    let proto_fields: Vec<String> = body
        .lines()
        .filter(|l| l.contains(" = ") && !l.trim_start().starts_with("//"))
        .map(|l| {
            l.split('=')
                .next()
                .unwrap()
                .split_whitespace()
                .last()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(avro_fields, proto_fields);
    // And the model writes every field the schema declares.
    let json = serde_json::to_value(sample_tick()).unwrap();
    let model_fields: Vec<&String> = json.as_object().unwrap().keys().collect();
    assert_eq!(model_fields.len(), avro_fields.len());
    for f in &avro_fields {
        assert!(json.get(f).is_some(), "model lacks `{f}`");
    }
}

#[test]
fn apache_avro_reads_what_the_hot_encoder_writes() {
    let t = sample_tick();
    let mut body = Vec::new();
    avro::encode(&t, &mut body).unwrap();
    #[allow(deprecated)]
    let value =
        apache_avro::from_avro_datum(avro::schema().unwrap(), &mut body.as_slice(), None).unwrap();
    assert_eq!(value, avro::to_value(&t).unwrap());
}
