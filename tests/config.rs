//! Connector files: the bundled ones load with production URLs; broken ones report every
//! problem at once, each naming its file and field.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::time::Duration;
use tickflow::config::{load_connector, load_connectors};
use tickflow::exchange::reference::References;
use tickflow::model::Exchange;

fn symbols() -> References {
    References::bundled().unwrap()
}

fn problems(text: &str) -> Vec<String> {
    load_connector("t.toml", text, &symbols())
        .unwrap_err()
        .problems
}

#[test]
fn bundled_connectors_load_with_production_urls() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("connectors");
    let configs = load_connectors(&dir, &symbols()).unwrap();
    // One bundled connector per venue API, no more.
    let mut apis: Vec<(Exchange, &str)> = configs
        .iter()
        .map(|c| (c.exchange, c.profile.api))
        .collect();
    let mut want: Vec<(Exchange, &str)> = tickflow::exchange::PROFILES
        .iter()
        .map(|p| (p.exchange, p.api))
        .collect();
    apis.sort();
    want.sort();
    assert_eq!(apis, want);
    let by = |n: &str| configs.iter().find(|c| c.name == n).unwrap();

    let upbit = by("upbit");
    let names = |c: &tickflow::config::ConnectorConfig| -> Vec<&str> {
        c.channels.iter().map(|ch| ch.name).collect()
    };
    assert_eq!(
        (upbit.exchange, upbit.profile.api, names(upbit)),
        (Exchange::Upbit, "v1", vec!["ticker", "trade", "orderbook"])
    );
    assert_eq!(upbit.url, "wss://api.upbit.com/websocket/v1");
    assert_eq!(upbit.keepalive.ping_interval, Some(Duration::from_secs(30)));
    assert_eq!(upbit.instruments[0].as_str(), "BTC-KRW");

    let binance = by("binance");
    assert_eq!(binance.url, "wss://stream.binance.com:9443/stream");
    assert_eq!(binance.keepalive.ping_interval, None, "binance pings us");
    assert_eq!(
        binance.keepalive.max_connection_age,
        Some(Duration::from_secs(23 * 3600))
    );
    assert_eq!(binance.limits.max_streams_per_connection, 1024);
    assert_eq!(names(binance), ["ticker", "bookTicker", "trade"]);

    let bithumb = by("bithumb");
    assert_eq!(
        (bithumb.profile.api, bithumb.url.as_str()),
        ("v1", "wss://ws-api.bithumb.com/websocket/v1")
    );
    assert_eq!(names(bithumb), ["ticker", "trade", "orderbook"]);
    let legacy = by("bithumb-legacy");
    assert_eq!((legacy.profile.api, legacy.enabled), ("legacy", false));
    assert_eq!(legacy.url, "wss://pubwss.bithumb.com/pub/ws");
    assert_eq!(legacy.options.get("tick_type"), Some("24H"));
    assert_eq!(names(legacy), ["ticker", "transaction"]);
}

#[test]
fn defaults_fill_what_a_minimal_file_omits() {
    let c = load_connector(
        "upbit.toml",
        "exchange = \"upbit\"\nurl = \"ws://127.0.0.1:9001/websocket/v1\"\nchannel = \"trade\"\ninstruments = [\"BTC-KRW\"]\n",
        &symbols(),
    )
    .unwrap();
    assert!(c.enabled);
    assert_eq!(c.channels.len(), 1);
    assert_eq!((c.channels[0].name, c.profile.api), ("trade", "v1"));
    assert_eq!(c.keepalive.idle_timeout, Duration::from_secs(60));
    assert_eq!(c.backoff.initial, Duration::from_millis(500));
    assert_eq!(c.backoff.max, Duration::from_secs(30));
    assert_eq!(c.limits.subscribe_requests_per_sec, 5);
    assert_eq!(c.max_frame_bytes, 64 * 1024);
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = r#"
exchange = "binance"
api = "legacy"
url = "https://stream.binance.com"
channel = "trades"
instruments = ["BTC-USDT", "btc-usdt", "BTC-USDT", "NOPE-USDT"]
max_frame_bytes = 10

[options]
tick_type = "1H"

[keepalive]
ping_interval_secs = 90
idle_timeout_secs = 60
max_connection_age_secs = 90000

[backoff]
initial_ms = 0
max_ms = 100
multiplier = 0.5
jitter = 1.5
reset_after_secs = 0

[limits]
subscribe_requests_per_sec = 50
max_streams_per_connection = 5000
"#;
    let got = problems(text);
    let expected_fields = [
        "api:",
        "url:",
        "instruments[1]:",
        "instruments[2]:",
        "instruments[3]:",
        "options.tick_type:",
        "keepalive.ping_interval_secs:",
        "keepalive.max_connection_age_secs:",
        "backoff.initial_ms:",
        "backoff.multiplier:",
        "backoff.jitter:",
        "backoff.reset_after_secs:",
        "limits.subscribe_requests_per_sec:",
        "limits.max_streams_per_connection:",
        "max_frame_bytes:",
    ];
    for field in expected_fields {
        assert!(
            got.iter()
                .any(|p| p.starts_with(&format!("t.toml: {field}"))),
            "no `{field}` in {got:#?}"
        );
    }
    assert_eq!(got.len(), expected_fields.len(), "{got:#?}");
    // The channel cannot be checked while the api is wrong; fixing the api reveals it.
    let fixed_api = text.replace("api = \"legacy\"\n", "");
    assert!(
        problems(&fixed_api)
            .iter()
            .any(|p| p.starts_with("t.toml: channel: `trades`"))
    );
}

#[test]
fn unknown_keys_and_bad_syntax_are_named() {
    let minimal = "exchange = \"upbit\"\nurl = \"wss://x\"\nchannel = \"ticker\"\ninstruments = [\"BTC-KRW\"]\n";
    let typo = format!("{minimal}[keepalive]\nping_intervl_secs = 10\n");
    let got = problems(&typo).join("\n");
    assert!(got.contains("ping_intervl_secs"), "{got}");
    let got = problems("exchange = \"upbit\n").join("\n");
    assert!(
        got.starts_with("t.toml:") && got.contains("at byte"),
        "{got}"
    );
    let got = problems(&minimal.replace("upbit", "kraken")).join("\n");
    // Every venue named, from the registry.
    assert!(got.contains("`kraken` is not "), "{got}");
    for e in Exchange::ALL {
        assert!(got.contains(&e.as_str().to_ascii_lowercase()), "{got}");
    }
    let got =
        problems(&minimal.replace("instruments = [\"BTC-KRW\"]", "instruments = []")).join("\n");
    assert!(got.contains("at least one instrument"), "{got}");
}

#[test]
fn a_directory_reports_all_files_and_double_subscriptions() {
    let dir = std::env::temp_dir().join(format!("tickflow-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = "exchange = \"upbit\"\nurl = \"wss://a\"\nchannel = \"ticker\"\ninstruments = [\"BTC-KRW\", \"ETH-KRW\"]\n";
    std::fs::write(dir.join("a.toml"), good).unwrap();
    std::fs::write(dir.join("b.toml"), good.replace("\"BTC-KRW\", ", "")).unwrap();
    std::fs::write(dir.join("c.toml"), "exchange = 5\n").unwrap();
    std::fs::write(
        dir.join("d.toml"),
        good.replace("wss://a", "ftp://a")
            .replace("ticker", "trade"),
    )
    .unwrap();
    std::fs::write(dir.join("notes.txt"), "not a connector").unwrap();
    let got = load_connectors(&dir, &symbols()).unwrap_err().problems;
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(got.iter().any(|p| p.contains("c.toml")), "{got:#?}");
    assert!(got.iter().any(|p| p.contains("d.toml: url:")), "{got:#?}");
    // b repeats a's ETH-KRW ticker subscription; d's trade channel is a different stream.
    assert!(
        got.iter().any(|p| p
            == "b: instrument ETH-KRW on `ticker` is also subscribed by a on `ticker` (TICKER ticks twice)"),
        "{got:#?}"
    );
    assert_eq!(got.len(), 3, "{got:#?}");
}

#[test]
fn channels_are_checked_against_the_venue_profile() {
    let base = "exchange = \"binance\"\nurl = \"wss://x/stream\"\ninstruments = [\"BTC-USDT\"]\n";
    let with = |channels: &str| format!("{base}channels = {channels}\n");
    let c = load_connector(
        "t.toml",
        &with("[\"bookTicker\", \"aggTrade\"]"),
        &symbols(),
    )
    .unwrap();
    assert_eq!(c.channels.len(), 2);
    let p = problems(&with("[\"trade\", \"aggTrade\"]"));
    assert_eq!(
        p,
        ["t.toml: channels[1]: `aggTrade` and `trade` both give TRADE ticks: choose one"]
    );
    let p = problems(&with("[\"orderbook\"]"));
    assert_eq!(
        p,
        [
            "t.toml: channels[0]: `orderbook` is not one of ticker, miniTicker, bookTicker, trade, aggTrade (BINANCE spot)"
        ]
    );
    let p = problems(&with("[\"trade\", \"trade\"]"));
    assert_eq!(p, ["t.toml: channels[1]: `trade` is listed twice"]);
    let p = problems(&with("[]"));
    assert_eq!(p, ["t.toml: channels: must list at least one channel"]);
    let p = problems(&format!(
        "{base}channel = \"trade\"\nchannels = [\"trade\"]\n"
    ));
    assert_eq!(
        p,
        ["t.toml: channels: set `channel` or `channels`, not both"]
    );
    let p = problems(base);
    assert_eq!(p, ["t.toml: channels: missing: name at least one channel"]);
    // A stream cap below one instrument's channels cannot be planned.
    let p = problems(&format!(
        "{}[limits]\nmax_streams_per_connection = 1\n",
        with("[\"ticker\", \"trade\"]")
    ));
    assert_eq!(
        p,
        ["t.toml: limits.max_streams_per_connection: 1 cannot hold one instrument's 2 channels"]
    );
    // The legacy API's own channel, and its option.
    let legacy = "exchange = \"bithumb\"\napi = \"legacy\"\nurl = \"wss://x\"\ninstruments = [\"BTC-KRW\"]\nchannels = [\"transaction\"]\n";
    assert!(load_connector("t.toml", legacy, &symbols()).is_ok());
    let p = problems(&format!(
        "{legacy}[options]\ntick_type = \"2H\"\nwindow = \"1H\"\n"
    ));
    assert_eq!(
        p,
        [
            "t.toml: options.tick_type: `2H` is not one of 30M, 1H, 12H, 24H, MID",
            "t.toml: options.window: not an option of BITHUMB legacy: tick_type"
        ]
    );
    let set = load_connector(
        "t.toml",
        &format!("{legacy}[options]\ntick_type = \"1H\"\n"),
        &symbols(),
    )
    .unwrap();
    assert_eq!(set.options.get("tick_type"), Some("1H"));
    assert_eq!(
        load_connector("t.toml", legacy, &symbols())
            .unwrap()
            .options
            .get("tick_type"),
        Some("24H"),
        "the profile's default"
    );
    let p = problems(&legacy.replace("api = \"legacy\"", "api = \"v2\""));
    assert_eq!(
        p,
        ["t.toml: api: `v2` is not one of BITHUMB's apis: v1, legacy"]
    );
}

#[test]
fn connectors_redirect_to_the_simulator_paths() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("connectors");
    let all = load_connectors(&dir, &symbols()).unwrap();
    let url = |name: &str| {
        let c = all.iter().find(|c| c.name == name).unwrap();
        (
            c.host_port().unwrap(),
            c.redirected_to("ws://127.0.0.1:9001/").url,
        )
    };
    assert_eq!(
        url("binance"),
        (
            "stream.binance.com:9443".into(),
            "ws://127.0.0.1:9001/binance/stream".into()
        )
    );
    assert_eq!(
        url("upbit"),
        (
            "api.upbit.com:443".into(),
            "ws://127.0.0.1:9001/upbit/websocket/v1".into()
        )
    );
    assert_eq!(url("bithumb").1, "ws://127.0.0.1:9001/bithumb/websocket/v1");
    assert_eq!(
        url("bithumb-legacy").1,
        "ws://127.0.0.1:9001/bithumb/pub/ws"
    );
}

fn app_problems(env: &[(&str, &str)]) -> Vec<String> {
    tickflow::config::load_app_config(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tickflow.toml"),
        false,
        env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    )
    .unwrap_err()
    .problems
}

/// A bad value from the environment names its variable, not tickflow.toml.
#[test]
fn a_bad_environment_value_names_its_variable() {
    let p = app_problems(&[
        ("TICKFLOW_GATHER__QUEUE_FRAMES", "lots"),
        ("TICKFLOW_CACHE__GROUP_ID", "2024"),
    ]);
    assert_eq!(p.len(), 1, "{p:#?}");
    assert!(
        p[0].starts_with(
            "environment: TICKFLOW_GATHER__QUEUE_FRAMES=`lots` (setting gather.queue_frames): "
        ),
        "{p:#?}"
    );
    let p = app_problems(&[("TICKFLOW_GATHER__QUEUE_FRAMES", "0")]);
    assert_eq!(
        p,
        ["environment: TICKFLOW_GATHER__QUEUE_FRAMES: gather.queue_frames: must be at least 1"]
    );
    let p = app_problems(&[("TICKFLOW_GATHER__FLUSH_TIMEOUT_MS", "1000")]);
    assert!(
        p[0].contains("gather.flush_timeout_ms: renamed to shutdown_timeout_ms"),
        "{p:#?}"
    );
}

/// No credential appears in a configuration error or in `Debug`, even where a parser quotes
/// the value.
#[test]
fn credentials_never_appear_in_errors_or_debug_output() {
    let p = app_problems(&[
        (
            "TICKFLOW_REDIS__URL",
            "http://default:S3CRET-redis@127.0.0.1:6379",
        ),
        ("TICKFLOW_KAFKA__SASL_PASSWORD", "S3CRET-sasl"),
    ]);
    let all = p.join("\n");
    assert!(all.contains("http://***@127.0.0.1:6379"), "{all}");
    assert!(!all.contains("S3CRET"), "{all}");
    // A password reused as a bad value elsewhere is still not shown.
    let p = app_problems(&[
        ("TICKFLOW_KAFKA__SASL_PASSWORD", "S3CRET-sasl"),
        ("TICKFLOW_GATHER__QUEUE_FRAMES", "S3CRET-sasl"),
    ]);
    assert!(!p.join("\n").contains("S3CRET"), "{p:#?}");
    let app = tickflow::config::load_app_config(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tickflow.toml"),
        false,
        [
            (
                "TICKFLOW_REDIS__URL",
                "redis://default:S3CRET-redis@127.0.0.1:6379",
            ),
            ("TICKFLOW_KAFKA__SASL_PASSWORD", "S3CRET-sasl"),
            ("TICKFLOW_KAFKA__SSL_KEY_PASSWORD", "S3CRET-key"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    )
    .unwrap();
    let shown = format!("{app:?}");
    assert!(!shown.contains("S3CRET"), "{shown}");
    assert!(shown.contains("\"sasl.password\": \"***\""), "{shown}");
    assert_eq!(app.kafka["sasl.password"], "S3CRET-sasl", "sent as given");
    assert_eq!(
        app.redis_url.expose(),
        "redis://default:S3CRET-redis@127.0.0.1:6379"
    );
}

/// A misspelt setting stops the process before it connects anywhere: exit 2, every problem on
/// stderr at once, each naming its variable and the one meant, no value shown.
#[test]
fn a_misspelt_variable_stops_the_process_with_every_problem() {
    // `--connector none` and `--duration 1` only bound a run that would not stop here.
    for (command, bound) in [
        ("gather", ["--connector", "none"]),
        ("cache", ["--duration", "1"]),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tickflow"))
            .args([command, bound[0], bound[1], "--config"])
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tickflow.toml"))
            .env("TICKFLOW_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
            .env("TICKFLOW_CACHE__BATCH_MAXX", "10")
            .env("TICKFLOW_KAFKA__SASL_PASSWORD", "S3CRET-sasl")
            .env(
                "TICKFLOW_SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO",
                "key:S3CRET-sr",
            )
            .env("TICKFLOW_LOG", "warn")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command}: {stderr}");
        for line in [
            "invalid configuration (3 problems):",
            "environment: TICKFLOW_CACHE__BATCH_MAXX: [cache] has no key `batch_maxx`; did you mean TICKFLOW_CACHE__BATCH_MAX?",
            "environment: TICKFLOW_KAFKA_BOOTSTRAP_SERVERS: one `_` after the section; did you mean TICKFLOW_KAFKA__BOOTSTRAP_SERVERS?",
            "environment: TICKFLOW_SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO: one `_` after the section; did you mean TICKFLOW_SCHEMA_REGISTRY__BASIC_AUTH_USER_INFO?",
        ] {
            assert!(
                stderr.contains(line),
                "{command}: {line} missing in:\n{stderr}"
            );
        }
        assert!(!stderr.contains("S3CRET"), "{stderr}");
    }
}

/// The connector directory comes from the environment like every other key.
#[test]
fn connectors_dir_is_overridden_from_the_environment() {
    let dir = std::env::temp_dir().join(format!("tickflow-no-connectors-{}", std::process::id()));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tickflow"))
        .args(["gather", "--connector", "none", "--config"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tickflow.toml"))
        .env("TICKFLOW_CONNECTORS_DIR", &dir)
        .env("TICKFLOW_LOG", "warn")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("{}: ", dir.display())),
        "the directory is not {}:\n{stderr}",
        dir.display()
    );
}

/// `[markets]` instead of `instruments`: defaults from the venue's profile; every problem of
/// the section reported at once; exactly one of the two; the listing redirected with the
/// socket to the simulator.
#[test]
fn markets_selectors_are_validated_with_every_problem_at_once() {
    let ok = load_connector(
        "upbit-krw.toml",
        "exchange = \"upbit\"\nurl = \"wss://api.upbit.com/websocket/v1\"\nchannel = \"ticker\"\n\
         [markets]\nquotes = [\"KRW\"]\nexclude = [\"USDT-*\"]\n",
        &symbols(),
    )
    .unwrap();
    assert!(ok.instruments.is_empty());
    let m = ok.markets.clone().unwrap();
    assert_eq!(m.selector.quotes, ["KRW"]);
    assert!(m.selector.exclude[0].matches("USDT-KRW"));
    assert!(m.selector.statuses.is_empty(), "default: the live statuses");
    assert_eq!(
        m.listing_url,
        "https://api.upbit.com/v1/market/all?is_details=true"
    );
    assert_eq!(
        m.refresh,
        Duration::from_secs(tickflow::config::connector::DEFAULT_REFRESH_SECS)
    );
    assert_eq!(
        m.cache_file.as_deref(),
        Some(Path::new("listings/upbit-krw.json"))
    );
    let sim = ok.redirected_to("ws://127.0.0.1:9001");
    assert_eq!(sim.url, "ws://127.0.0.1:9001/upbit/websocket/v1");
    let sim_markets = sim.markets.unwrap();
    assert_eq!(
        sim_markets.listing_url,
        "http://127.0.0.1:9001/upbit/v1/market/all?is_details=true"
    );
    assert_eq!(
        sim_markets.cache_file, None,
        "a simulated listing never becomes the venue's disk copy"
    );

    let p = problems(
        "exchange = \"binance\"\nurl = \"wss://x/stream\"\nchannel = \"trade\"\n\
         [markets]\nquotes = [\"usdt\"]\nstatuses = [\"trading\", \"open\"]\ninclude = [\"btc*\"]\n\
         exclude = [\"\"]\nrefresh_secs = 1\ntimeout_secs = 0\nretries = 11\nmax_drop = 1.5\n\
         listing_url = \"ftp://x\"\n",
    );
    let expect = [
        "markets.quotes[0]",
        "markets.statuses[1]",
        "markets.include[0]",
        "markets.exclude[0]",
        "markets.refresh_secs",
        "markets.timeout_secs",
        "markets.retries",
        "markets.max_drop",
        "markets.listing_url",
    ];
    assert_eq!(p.len(), expect.len(), "{p:#?}");
    for (got, field) in p.iter().zip(expect) {
        assert!(got.starts_with(&format!("t.toml: {field}: ")), "{got}");
    }
    assert!(
        p[1].contains("`open` is not one of trading, pre_trading"),
        "{}",
        p[1]
    );

    let both = problems(
        "exchange = \"upbit\"\nurl = \"wss://x\"\nchannel = \"ticker\"\ninstruments = [\"BTC-KRW\"]\n[markets]\n",
    );
    assert_eq!(
        both,
        ["t.toml: instruments: set `instruments` or `[markets]`, not both"]
    );
    let neither = problems("exchange = \"upbit\"\nurl = \"wss://x\"\nchannel = \"ticker\"\n");
    assert_eq!(neither.len(), 1);
    assert!(neither[0].contains("list `instruments` or follow whole markets with `[markets]`"));
}

/// A connector following whole markets cannot share a venue and kind of tick with another.
#[test]
fn a_market_connector_cannot_share_its_venue_and_tick_kind() {
    let dir = tempdir();
    let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
    write(
        "all.toml",
        "exchange = \"upbit\"\nurl = \"wss://x\"\nchannels = [\"ticker\", \"trade\"]\n[markets]\n",
    );
    write(
        "some.toml",
        "exchange = \"upbit\"\nurl = \"wss://x\"\nchannel = \"trade\"\ninstruments = [\"BTC-KRW\"]\n",
    );
    let p = load_connectors(&dir, &symbols()).unwrap_err().problems;
    assert_eq!(p.len(), 1, "{p:#?}");
    assert!(
        p[0].starts_with("all: `trade` and some on `trade` both give UPBIT TRADE ticks, and all follows whole markets"),
        "{}",
        p[0]
    );
    // Another kind of tick on the same venue is fine.
    write(
        "some.toml",
        "exchange = \"upbit\"\nurl = \"wss://x\"\nchannel = \"orderbook\"\ninstruments = [\"BTC-KRW\"]\n",
    );
    assert_eq!(load_connectors(&dir, &symbols()).unwrap().len(), 2);
    std::fs::remove_dir_all(&dir).unwrap();
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "tickflow-config-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Each shipped connector's commented full-market example is valid: uncommented in place of
/// `instruments`, the file loads and follows whole markets.
#[test]
fn the_shipped_full_market_examples_load() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("connectors");
    for name in ["upbit", "binance", "bithumb", "bithumb-legacy"] {
        let text = std::fs::read_to_string(dir.join(format!("{name}.toml"))).unwrap();
        let mut out = String::new();
        let mut in_example = false;
        for line in text.lines() {
            if line.starts_with("instruments = ") {
                continue;
            }
            if line == "# [markets]" {
                in_example = true;
            } else if in_example && !line.starts_with("# ") {
                in_example = false;
            }
            if in_example {
                out.push_str(&line[2..]);
            } else {
                out.push_str(line);
            }
            out.push('\n');
        }
        // The example's section must come after the root keys: move it to the end.
        let (head, example) = out.split_once("[markets]\n").expect(name);
        let mut example_lines = Vec::new();
        let mut rest = Vec::new();
        let mut taking = true;
        for line in example.lines() {
            if taking && (line.is_empty() || line.starts_with('[')) {
                taking = false;
            }
            if taking {
                example_lines.push(line)
            } else {
                rest.push(line)
            }
        }
        let file = format!(
            "{head}{}\n[markets]\n{}\n",
            rest.join("\n"),
            example_lines.join("\n")
        );
        let c = load_connector(&format!("{name}.toml"), &file, &symbols())
            .unwrap_or_else(|e| panic!("{name}: {e}\n{file}"));
        assert!(c.instruments.is_empty() && c.markets.is_some(), "{name}");
    }
}
