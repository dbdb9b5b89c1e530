use super::*;
use crate::codec::instrument::avro::{INSTRUMENT_AVSC, decode_with, schema};
use crate::codec::instrument::proto::pb;

fn record() -> InstrumentRecord {
    InstrumentRecord {
        exchange: Exchange::Upbit,
        instrument: Instrument::parse("BTC-KRW").unwrap(),
        native_symbol: "KRW-BTC".into(),
        state: State::Live,
        status: Some(ListingStatus::Trading),
        tick_size: Some("0.000000000000000001".parse().unwrap()),
        lot_size: Some("12345678901234567890.5".parse().unwrap()),
        notices: vec![Notice::Warning, Notice::PriceFluctuations],
        first_seen_ts_us: 1_700_000_000_000_001,
        last_seen_ts_us: 1_700_000_000_500_002,
        as_of_ts_us: 1_700_000_000_500_002,
    }
}

#[test]
fn both_formats_round_trip_exactly() {
    let mut delisted = record();
    delisted.state = State::Delisted;
    delisted.status = Some(ListingStatus::Break);
    delisted.tick_size = None;
    delisted.lot_size = None;
    delisted.notices.clear();
    for r in [record(), delisted] {
        for format in [Format::Avro, Format::Proto] {
            let mut out = Vec::new();
            r.encode(format, 42, &mut out).unwrap();
            assert_eq!(
                InstrumentRecord::decode(format, &out).unwrap(),
                (42, r.clone())
            );
        }
    }
}

#[test]
fn a_size_that_cannot_be_carried_is_refused_not_rounded() {
    let mut r = record();
    r.tick_size = Some("0.0000000000000000001".parse().unwrap());
    let err = r.encode(Format::Avro, 1, &mut Vec::new()).unwrap_err();
    assert!(
        matches!(
            err,
            CodecError::Unrepresentable {
                field: "tick_size",
                ..
            }
        ),
        "{err}"
    );
}

fn avro_symbols(name: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(INSTRUMENT_AVSC).unwrap();
    fn find(v: &serde_json::Value, name: &str) -> Option<Vec<String>> {
        match v {
            serde_json::Value::Object(o) => {
                if o.get("name").and_then(|n| n.as_str()) == Some(name)
                    && o.get("symbols").is_some()
                {
                    return Some(
                        o["symbols"]
                            .as_array()?
                            .iter()
                            .map(|s| s.as_str().unwrap().to_owned())
                            .collect(),
                    );
                }
                o.values().find_map(|x| find(x, name))
            }
            serde_json::Value::Array(a) => a.iter().find_map(|x| find(x, name)),
            _ => None,
        }
    }
    find(&v, name).unwrap()
}

#[test]
fn enum_orders_follow_both_schemas() {
    let with_unknown = |names: Vec<String>| {
        let mut all = vec!["UNKNOWN".to_owned()];
        all.extend(names);
        all
    };
    assert_eq!(
        avro_symbols("Exchange"),
        with_unknown(
            Exchange::ALL
                .iter()
                .map(|e| e.as_str().to_owned())
                .collect()
        )
    );
    assert_eq!(
        avro_symbols("InstrumentState"),
        with_unknown(State::ALL.iter().map(|s| s.as_str().to_owned()).collect())
    );
    assert_eq!(
        avro_symbols("ListingStatus"),
        with_unknown(STATUSES.iter().map(|s| status_symbol(*s)).collect())
    );
    assert_eq!(
        avro_symbols("Notice"),
        with_unknown(NOTICES.iter().map(|n| notice_symbol(*n)).collect())
    );
    for (i, s) in STATUSES.iter().enumerate() {
        let name = pb::ListingStatus::try_from(i as i32 + 1)
            .unwrap()
            .as_str_name();
        assert_eq!(name, format!("LISTING_STATUS_{}", status_symbol(*s)));
    }
    for (i, n) in NOTICES.iter().enumerate() {
        let name = pb::Notice::try_from(i as i32 + 1).unwrap().as_str_name();
        assert_eq!(name, format!("NOTICE_{}", notice_symbol(*n)));
    }
    for (i, s) in State::ALL.iter().enumerate() {
        let name = pb::InstrumentState::try_from(i as i32 + 1)
            .unwrap()
            .as_str_name();
        assert_eq!(name, format!("INSTRUMENT_STATE_{}", s.as_str()));
    }
    for (i, e) in Exchange::ALL.iter().enumerate() {
        let name = pb::Exchange::try_from(i as i32 + 1).unwrap().as_str_name();
        assert_eq!(name, format!("EXCHANGE_{}", e.as_str()));
    }
    assert!(schema().is_ok());
}

#[test]
fn a_newer_writer_is_read_by_field_name() {
    // A v2 that adds a status and a notice this build does not know, and an optional field.
    let v2 = INSTRUMENT_AVSC
        .replace(r#""BREAK"]"#, r#""BREAK", "SUSPENDED"]"#)
        .replace(
            r#""CONCENTRATION_OF_SMALL_ACCOUNTS"]"#,
            r#""CONCENTRATION_OF_SMALL_ACCOUNTS", "NEW_NOTICE"]"#,
        )
        .replace(
            r#"{"name": "as_of_ts_us""#,
            r#"{"name": "venue_name", "type": ["null", "string"], "default": null}, {"name": "as_of_ts_us""#,
        );
    assert_ne!(v2, INSTRUMENT_AVSC);
    let writer = apache_avro::Schema::parse_str(&v2).unwrap();
    assert!(crate::schemas::avro::can_read(&writer, schema().unwrap()).is_ok());
    let mut value = avro::to_value(&record()).unwrap();
    if let apache_avro::types::Value::Record(fields) = &mut value {
        fields[6].1 = apache_avro::types::Value::Enum(9, "SUSPENDED".into());
        fields[9].1 = apache_avro::types::Value::Array(vec![
            apache_avro::types::Value::Enum(1, "WARNING".into()),
            apache_avro::types::Value::Enum(8, "NEW_NOTICE".into()),
        ]);
        let last = fields.pop().unwrap();
        fields.push((
            "venue_name".into(),
            apache_avro::types::Value::Union(
                1,
                Box::new(apache_avro::types::Value::String("x".into())),
            ),
        ));
        fields.push(last);
    }
    #[allow(deprecated)]
    let body = apache_avro::to_avro_datum(&writer, value).unwrap();
    let got = decode_with(&writer, &body).unwrap();
    let mut want = record();
    want.status = None;
    want.notices = vec![Notice::Warning];
    assert_eq!(got, want);
}

#[test]
fn the_times_that_move_every_listing_are_not_a_change() {
    let a = record();
    let mut b = a.clone();
    b.last_seen_ts_us += 1;
    b.as_of_ts_us += 1;
    assert!(a.same_reference(&b));
    b.notices.pop();
    assert!(!a.same_reference(&b));
    assert_eq!(a.key(), "UPBIT:BTC-KRW");
}
