use super::*;
use crate::codec::status::avro::{STATUS_AVSC, decode_with, schema};
use crate::codec::status::proto::pb;
use crate::model::status::FeedState;
use crate::model::{Exchange, Instrument};

fn recovered() -> FeedStatus {
    FeedStatus {
        exchange: Exchange::Binance,
        connector: "binance".into(),
        connection: 3,
        state: FeedState::Recovered,
        ts_us: 1_700_000_001_000_000,
        reason: None,
        instruments: vec![
            Instrument::parse("BTC-USDT").unwrap(),
            Instrument::parse("ETH-USDT").unwrap(),
        ],
        gap_start_us: Some(1_700_000_000_000_001),
        gap_end_us: Some(1_700_000_000_900_002),
    }
}

#[test]
fn both_formats_round_trip_exactly() {
    let refused = FeedStatus {
        state: FeedState::Refused,
        reason: Some("2: Invalid symbol: linkusdt@trade".into()),
        instruments: vec![Instrument::parse("LINK-USDT").unwrap()],
        gap_start_us: None,
        gap_end_us: None,
        ..recovered()
    };
    let up = FeedStatus {
        state: FeedState::Up,
        instruments: Vec::new(),
        ..refused.clone()
    };
    for s in [recovered(), refused, up] {
        for format in [Format::Avro, Format::Proto] {
            let mut out = Vec::new();
            encode(&s, format, 7, &mut out).unwrap();
            assert_eq!(decode(format, &out).unwrap(), (7, s.clone()), "{format:?}");
        }
    }
    assert_eq!(key(&recovered()), "BINANCE:binance");
}

fn avro_symbols(name: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(STATUS_AVSC).unwrap();
    let fields = v["fields"].as_array().unwrap();
    fields
        .iter()
        .find(|f| f["type"]["name"] == name)
        .map(|f| {
            f["type"]["symbols"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap()
}

#[test]
fn enum_orders_follow_both_schemas() {
    let mut states = vec!["UNKNOWN".to_owned()];
    states.extend(FeedState::ALL.iter().map(|s| s.as_str().to_owned()));
    assert_eq!(avro_symbols("FeedState"), states);
    let mut venues = vec!["UNKNOWN".to_owned()];
    venues.extend(Exchange::ALL.iter().map(|e| e.as_str().to_owned()));
    assert_eq!(avro_symbols("Exchange"), venues);
    for (i, s) in FeedState::ALL.iter().enumerate() {
        let name = pb::FeedState::try_from(i as i32 + 1).unwrap().as_str_name();
        assert_eq!(name, format!("FEED_STATE_{}", s.as_str()));
    }
    for (i, e) in Exchange::ALL.iter().enumerate() {
        let name = pb::Exchange::try_from(i as i32 + 1).unwrap().as_str_name();
        assert_eq!(name, format!("EXCHANGE_{}", e.as_str()));
    }
    assert!(schema().is_ok());
}

#[test]
fn a_newer_writer_is_read_by_field_name_and_an_unknown_state_is_refused() {
    // A v2 that adds an optional field and a state this build does not know.
    let v2 = STATUS_AVSC
        .replace(r#""RECOVERED"]"#, r#""RECOVERED", "THROTTLED"]"#)
        .replace(
            r#"{"name": "gap_end_ts_us""#,
            r#"{"name": "region", "type": ["null", "string"], "default": null}, {"name": "gap_end_ts_us""#,
        );
    assert_ne!(v2, STATUS_AVSC);
    let writer = apache_avro::Schema::parse_str(&v2).unwrap();
    assert!(crate::schemas::avro::can_read(&writer, schema().unwrap()).is_ok());
    let with_region = |state: apache_avro::types::Value| {
        let mut value = avro::to_value(&recovered());
        if let apache_avro::types::Value::Record(fields) = &mut value {
            fields[3].1 = state;
            let last = fields.pop().unwrap();
            fields.push((
                "region".into(),
                apache_avro::types::Value::Union(
                    1,
                    Box::new(apache_avro::types::Value::String("ap".into())),
                ),
            ));
            fields.push(last);
        }
        #[allow(deprecated)]
        apache_avro::to_avro_datum(&writer, value).unwrap()
    };
    let body = with_region(apache_avro::types::Value::Enum(6, "RECOVERED".into()));
    assert_eq!(decode_with(&writer, &body).unwrap(), recovered());
    let body = with_region(apache_avro::types::Value::Enum(7, "THROTTLED".into()));
    let err = decode_with(&writer, &body).unwrap_err();
    assert!(err.to_string().contains("state"), "{err}");
}
