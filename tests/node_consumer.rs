//! Node's stock Confluent client reads tickflow's Avro exactly, as docs/consumers.md shows it:
//! the lines of the page's Node snippet between its two `----` marks are taken from the page
//! (so the docs cannot drift from what is tested) and run by `node` with the npm packages
//! pinned in tests/node/package-lock.json (`@confluentinc/schemaregistry`'s AvroDeserializer on
//! `avsc`, against the in-process registry stub with basic auth).
//!
//! The ticks are real captures (`../shared/samples`, see PROVENANCE.txt) through tickflow's own
//! adapters and encoder: every tick of the Upbit SIMPLE trade/orderbook capture (two of its
//! BTC-ITAM trades have ids above 2^53, 16186782720000000 and 16186782820000000; the KRW
//! markets' are about 1.6e15), Bithumb v1's ticker and trade (trade id 1079953210371761700),
//! and one variant: the capture's first Upbit trade with its id set to 2^53 + 1, the first
//! integer a double cannot hold (the real ids are doubles or print as their nearest one, so a
//! reader rounding through `Number` would print them unchanged). Every other record is written
//! as a tickflow before v5 wrote it (apache-avro with schema v4, under v4's id), so the snippet
//! meets two writer schemas. Every field of every record must equal what tickflow encoded
//! (longs as `BigInt` digits, decimals as exact strings), and the stock deserializer without
//! the snippet's settings must refuse exactly the records above 2^53.
//!
//! Without node or the packages the test prints SKIP and passes, unless
//! `TICKFLOW_REQUIRE_NODE_CLIENTS=1` (set by scripts/test.sh); without the samples it skips.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::registry::{Options, Registry};
use common::shared_sample;
use common::sr::{ROOT, app, avsc, client};
use serde_json::{Value, json};
use std::io::Write;
use std::process::{Command, Stdio};
use tickflow::codec::{Encoder, Format, avro, confluent};
use tickflow::exchange::{Adapter, AdapterConfig, BithumbAdapter, Decoded, Frame, UpbitAdapter};
use tickflow::model::{EventKind, Exchange, Tick};
use tickflow::schemas::Kind;

/// 2^53: above it a JavaScript number is no longer every integer.
const TWO_53: i64 = 1 << 53;
/// Where scripts/test.sh installs the pinned packages (`npm ci --prefix tests/node`).
const NODE_DIR: &str = "tests/node";
/// The page and the marks around the tested lines of its Node snippet.
const PAGE: &str = "docs/consumers.md";
const FIRST_MARK: &str = "// ---- from here to the closing mark";
const CLOSING_MARK: &str = "// ---- closing mark ----";

/// `node` (or `$NODE`), when it runs and the pinned packages are installed at their locked
/// versions; otherwise `None` (SKIP), or a panic when `TICKFLOW_REQUIRE_NODE_CLIENTS=1`.
fn stock_node(test: &str) -> Option<String> {
    let node = std::env::var("NODE").unwrap_or_else(|_| "node".into());
    let missing = match Command::new(&node).arg("--version").output() {
        Ok(o) if o.status.success() => stale_packages(),
        _ => Some(format!("{node} does not run")),
    };
    let Some(missing) = missing else {
        return Some(node);
    };
    assert!(
        std::env::var("TICKFLOW_REQUIRE_NODE_CLIENTS").as_deref() != Ok("1"),
        "the Node clients are required: {missing}"
    );
    eprintln!("SKIP {test}: {missing}");
    None
}

/// Which locked package is not installed at its locked version, if any.
fn stale_packages() -> Option<String> {
    let dir = format!("{ROOT}/{NODE_DIR}");
    let lock: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{dir}/package-lock.json")).unwrap())
            .unwrap();
    for name in lock["packages"][""]["dependencies"]
        .as_object()
        .unwrap()
        .keys()
    {
        let want = lock["packages"][format!("node_modules/{name}")]["version"]
            .as_str()
            .unwrap();
        let have = std::fs::read_to_string(format!("{dir}/node_modules/{name}/package.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .and_then(|p| p["version"].as_str().map(str::to_owned));
        if have.as_deref() != Some(want) {
            return Some(format!(
                "npm package {name} {want} is not installed in {NODE_DIR} (found {}): \
                 npm ci --prefix {NODE_DIR}",
                have.as_deref().unwrap_or("none")
            ));
        }
    }
    None
}

/// The tested lines of the page's Node snippet, marks included.
fn snippet() -> String {
    let page = std::fs::read_to_string(format!("{ROOT}/{PAGE}")).unwrap();
    let node = page
        .split_once("\n### Node\n")
        .and_then(|(_, rest)| rest.split_once("```js\n"))
        .map(|(_, block)| block.split_once("\n```").unwrap().0)
        .expect("a ```js block in the Node section");
    assert_eq!(
        node.matches(FIRST_MARK).count(),
        1,
        "{PAGE}: one `{FIRST_MARK}`"
    );
    assert_eq!(
        node.matches(CLOSING_MARK).count(),
        1,
        "{PAGE}: one `{CLOSING_MARK}`"
    );
    let start = node.find(FIRST_MARK).unwrap();
    let end = node.find(CLOSING_MARK).unwrap() + CLOSING_MARK.len();
    node[start..end].to_owned()
}

/// Run after the snippet: decodes each message (hex lines of the file named on the command
/// line) with the snippet's `deserializer`, and with a stock deserializer left at its defaults
/// to record what it says. One JSON line per message, `BigInt`s as their digits.
const HARNESS: &str = r#"
;(async () => {
  const stock = new AvroDeserializer(registry, SerdeType.VALUE, {});
  const json = (v) => JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? x.toString() : x));
  const hexes = require('fs').readFileSync(process.argv[2], 'utf8').split('\n').filter(Boolean);
  for (const hex of hexes) {
    const value = Buffer.from(hex, 'hex');
    const tick = await deserializer.deserialize('ticks.v1', value);
    let stockError = null;
    await stock.deserialize('ticks.v1', value).catch((e) => { stockError = e.message; });
    console.log(json({ tick, sequence_type: typeof tick.sequence, stock_error: stockError }));
  }
})().catch((e) => { console.error(e); process.exit(1); });
"#;

/// `(receive µs, frame)` of each frame line of a cryptofeed capture (`<secs>: b'<frame>'`).
fn cryptofeed_frames(text: &str) -> Vec<(i64, String)> {
    text.lines()
        .filter_map(|line| {
            let (ts, rest) = line.split_once(": b'")?;
            let (secs, frac) = ts.split_once('.')?;
            let micros: i64 = format!("{frac:0<6}")[..6].parse().ok()?;
            let at = secs.parse::<i64>().ok()? * 1_000_000 + micros;
            Some((at, rest.strip_suffix('\'')?.to_owned()))
        })
        .collect()
}

fn ticks_of(adapter: &dyn Adapter, frame: Frame<'_>, received_us: i64) -> Vec<Tick> {
    match adapter.decode(frame, received_us) {
        Ok(Decoded::Tick(t)) => vec![t],
        Ok(Decoded::Ticks(ts)) => ts,
        Ok(_) => vec![],
        Err(r) => panic!("{r} for {:.120}", String::from_utf8_lossy(frame.bytes)),
    }
}

/// The real captures' ticks and the one variant, in order; `None` without the samples.
fn real_ticks() -> Option<Vec<Tick>> {
    let upbit = UpbitAdapter::new(AdapterConfig::default());
    let bithumb = BithumbAdapter::new(AdapterConfig::default());
    let capture =
        std::fs::read_to_string(shared_sample("upbit/cryptofeed__UPBIT.ws.62.0")?).unwrap();
    let probe = std::fs::read_to_string(shared_sample(
        "bithumb/nemanull__ws_ticker_trade_TRIMMED.jsonl",
    )?)
    .unwrap();
    let frames = cryptofeed_frames(&capture);
    let mut ticks: Vec<Tick> = frames
        .iter()
        .flat_map(|(at, frame)| ticks_of(&upbit, Frame::binary(frame.as_bytes()), *at))
        .collect();
    // The probe's frames, received just after their `timestamp`s (…514039 and …514044 ms).
    for line in probe.lines() {
        ticks.extend(ticks_of(
            &bithumb,
            Frame::text(line.as_bytes()),
            1_790_133_514_100_000,
        ));
    }
    // The variant: the capture's first trade, its id set to 2^53 + 1.
    let (at, first) = frames
        .iter()
        .find(|(_, f)| f.starts_with(r#"{"ty":"trade""#))
        .unwrap();
    let id = r#""sid":1618678262000003,"#;
    assert!(first.contains(id), "{first}");
    let variant = first.replace(id, &format!(r#""sid":{},"#, TWO_53 + 1));
    ticks.extend(ticks_of(&upbit, Frame::binary(variant.as_bytes()), *at));
    Some(ticks)
}

/// `tick` as a tickflow writing schema v4 wrote it: apache-avro's encoding, framed with `id`.
fn v4_message(tick: &Tick, id: u32) -> Vec<u8> {
    let schema = apache_avro::Schema::parse_str(&avsc(4)).unwrap();
    #[allow(deprecated)]
    let body = apache_avro::to_avro_datum(&schema, avro::to_value(tick).unwrap()).unwrap();
    let mut out = Vec::new();
    confluent::write_header(&mut out, id);
    out.extend_from_slice(&body);
    out
}

/// What the snippet must print for `tick`: tickflow's JSON of it, longs as their digits.
fn expected(tick: &Tick) -> Value {
    let mut v = serde_json::to_value(tick).unwrap();
    for long in ["event_ts_us", "trade_ts_us", "sequence", "received_ts_us"] {
        if let Some(n) = v[long].as_i64() {
            v[long] = json!(n.to_string());
        }
    }
    v
}

#[tokio::test]
async fn node_snippet_reads_real_ticks_exactly() {
    let test = "node_snippet_reads_real_ticks_exactly";
    let Some(node) = stock_node(test) else {
        return;
    };
    let Some(ticks) = real_ticks() else {
        return;
    };
    // 304 trades and 145 best bid/offers from Upbit, Bithumb's ticker and trade, the variant.
    let count = |kind| ticks.iter().filter(|t| t.kind == kind).count();
    assert_eq!(
        [EventKind::Trade, EventKind::BestBidOffer, EventKind::Ticker].map(count),
        [306, 145, 1]
    );
    let above: Vec<i64> = ticks
        .iter()
        .filter_map(|t| t.sequence.filter(|s| *s > TWO_53))
        .collect();
    assert_eq!(
        above,
        [
            16_186_782_720_000_000,
            16_186_782_820_000_000,
            1_079_953_210_371_761_700,
            TWO_53 + 1
        ]
    );
    assert!(ticks.iter().all(|t| t.exchange != Exchange::Coinone));
    // Written alternately with the current schema and v4 (below): ids above 2^53 under both.
    let parities: std::collections::BTreeSet<usize> = ticks
        .iter()
        .enumerate()
        .filter(|(_, t)| t.sequence.is_some_and(|s| s > TWO_53))
        .map(|(i, _)| i % 2)
        .collect();
    assert_eq!(parities.len(), 2, "ids above 2^53 under one schema only");

    // The registry as production has it: v4, then the current schema, basic auth required.
    let user_info = "consumer:n0de-S3cret";
    let reg = Registry::stub(Options {
        user_info: Some(user_info.into()),
        ..Options::default()
    });
    let auth = ("TICKFLOW_SCHEMA_REGISTRY__BASIC_AUTH_USER_INFO", user_info);
    let registry = client(&app("127.0.0.1:9", &reg.url, "ticks.v1", &[auth]));
    let v4_id = registry
        .register("ticks.v1-value", Kind::Avro, &avsc(4))
        .await
        .unwrap();
    let current_id = registry
        .register("ticks.v1-value", Kind::Avro, avro::TICK_AVSC)
        .await
        .unwrap();
    assert_ne!(v4_id, current_id);

    // Each tick as gather writes it, every other one as a v4 writer did.
    let encoder = Encoder {
        format: Format::Avro,
        schema_id: current_id,
    };
    let mut hexes = String::new();
    for (i, tick) in ticks.iter().enumerate() {
        let value = if i % 2 == 0 {
            let mut value = Vec::new();
            encoder.encode(tick, &mut value).unwrap();
            value
        } else {
            v4_message(tick, v4_id)
        };
        for b in value {
            hexes.push_str(&format!("{b:02x}"));
        }
        hexes.push('\n');
    }
    let dir = std::env::temp_dir().join(format!("tickflow-node-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let messages = dir.join("messages.hex");
    std::fs::write(&messages, hexes).unwrap();

    let script = format!("{}\n{HARNESS}", snippet());
    let started = std::time::Instant::now();
    let mut child = Command::new(&node)
        .arg("-")
        .arg(&messages)
        .current_dir(format!("{ROOT}/{NODE_DIR}"))
        .env("SCHEMA_REGISTRY_URL", &reg.url)
        .env("SCHEMA_REGISTRY_USER_INFO", user_info)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "node failed:\n{stderr}");
    eprintln!(
        "node decoded {} records in {:?}",
        ticks.len(),
        started.elapsed()
    );

    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), ticks.len(), "{stderr}");
    for (tick, line) in ticks.iter().zip(&lines) {
        assert_eq!(line["tick"], expected(tick), "{tick:?}");
        // A BigInt where there is an id, and only the stock defaults' refusal above 2^53.
        let (want_type, want_error) = match tick.sequence {
            None => ("object", Value::Null),
            Some(s) if s > TWO_53 => ("bigint", json!("potential precision loss")),
            Some(_) => ("bigint", Value::Null),
        };
        assert_eq!(line["sequence_type"], want_type, "{line}");
        assert_eq!(line["stock_error"], want_error, "{line}");
    }
    // Negative decimals too (Upbit's falling trades: `change` is minus `cp`).
    assert!(
        lines.iter().any(|l| l["tick"]["change"]
            .as_str()
            .is_some_and(|c| c.starts_with('-'))),
        "no negative decimal in the records"
    );
    // The ids above 2^53, digit for digit, with their prices and sizes as exact strings.
    let fields = [
        "sequence",
        "exchange",
        "instrument",
        "last_price",
        "last_qty",
        "trade_ts_us",
    ];
    let above_2_53: Vec<String> = lines
        .iter()
        .map(|l| &l["tick"])
        .filter(|t| {
            t["sequence"]
                .as_str()
                .unwrap_or("0")
                .parse::<i64>()
                .unwrap()
                > TWO_53
        })
        .map(|t| fields.map(|f| t[f].as_str().unwrap()).join(" "))
        .collect();
    assert_eq!(
        above_2_53,
        [
            "16186782720000000 UPBIT ITAM-BTC 0.00000113 3416.89061628 1618678272000000",
            "16186782820000000 UPBIT ITAM-BTC 0.00000113 1025.06718488 1618678282000000",
            "1079953210371761700 BITHUMB BTC-KRW 116208000 0.0009 1790133513739000",
            "9007199254740993 UPBIT LAMB-KRW 127 46.48838371 1618678262000000",
        ]
    );
}
