//! Faults of issue 11, each with a defined outcome and exact counts: a frozen broker
//! (readiness, a bounded shutdown, a second signal), against real processes (tansu, the
//! tickflow binary, the simulator).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::child::Tickflow;
use common::run::{Summary, assert_topic_holds};
use common::stack::{Broker, consume_all};
use std::time::{Duration, Instant};

/// gather from the simulator into `broker`, with a small librdkafka queue so that a frozen
/// broker blocks sends within a second, and the given extra settings.
fn gather(broker: &Broker, simulator: &str, extra: &[(&str, &str)]) -> Tickflow {
    let mut env = vec![
        (
            "TICKFLOW_KAFKA__BOOTSTRAP_SERVERS",
            broker.bootstrap.as_str(),
        ),
        ("TICKFLOW_KAFKA__QUEUE_BUFFERING_MAX_MESSAGES", "2000"),
        ("TICKFLOW_GATHER__QUEUE_FRAMES", "512"),
    ];
    env.extend_from_slice(extra);
    Tickflow::spawn(
        &["gather", "--simulator", simulator, "--connector", "binance"],
        &env,
    )
}

fn acked(g: &Tickflow) -> f64 {
    g.metric("tickflow_kafka_ticks_acked_total").unwrap_or(0.0)
}

/// Ready, the broker frozen: `/readyz` turns 503 and says why; SIGTERM: `/metrics` and
/// `/readyz` answer during the drain, the exit comes at the deadline, and the last line
/// accounts for every tick (produced = acknowledged + not delivered), exit code 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_broker_is_not_ready_and_the_shutdown_ends_at_its_deadline_with_the_accounting() {
    let Some(broker) = Broker::start("frozen_broker_shutdown") else {
        return;
    };
    let (base, _sim) = common::start_simulator(2000, Duration::from_secs(1), None).await;
    let mut g = gather(
        &broker,
        &base,
        &[
            ("TICKFLOW_GATHER__SHUTDOWN_TIMEOUT_MS", "4000"),
            ("TICKFLOW_GATHER__UNACKED_TIMEOUT_MS", "2000"),
        ],
    );
    let result = tokio::task::spawn_blocking(move || {
        g.wait_until("500 acknowledged ticks", Duration::from_secs(30), |g| {
            acked(g) >= 500.0
        });
        g.wait_until("ready", Duration::from_secs(10), |g| {
            g.get("/readyz").is_some_and(|(s, _)| s == 200)
        });
        broker.signal("STOP");
        let frozen = Instant::now();
        let mut why = String::new();
        g.wait_until("503 from /readyz", Duration::from_secs(15), |g| {
            match g.get("/readyz") {
                Some((503, body)) => {
                    why = body;
                    true
                }
                _ => false,
            }
        });
        assert!(
            why.contains("kafka: nothing acknowledged for") && why.contains("pending"),
            "{why}"
        );
        assert!(
            frozen.elapsed() >= Duration::from_millis(1900),
            "not before unacked_timeout_ms"
        );
        let acked_before = acked(&g);
        g.signal("TERM");
        let stopping = Instant::now();
        // The drain: the endpoint still answers, and says it is stopping.
        std::thread::sleep(Duration::from_millis(500));
        let ready = g.get("/readyz").expect("/readyz answers during the drain");
        assert_eq!(ready.0, 503);
        assert!(ready.1.contains("stopping"), "{}", ready.1);
        assert_eq!(g.metric("tickflow_stopping"), Some(1.0));
        let (status, stderr, _) = g.wait_exit(Duration::from_secs(20));
        let took = stopping.elapsed();
        assert!(
            took >= Duration::from_millis(3900) && took < Duration::from_secs(9),
            "exit {took:?} after SIGTERM, deadline 4 s:\n{stderr}"
        );
        assert_eq!(status.code(), Some(1), "something was lost:\n{stderr}");
        let s = Summary::find(&stderr);
        assert!(s.ticks.not_delivered > 0, "{stderr}");
        assert_eq!(
            s.ticks.failed, 0,
            "nothing failed: it was abandoned\n{stderr}"
        );
        assert_eq!(s.ticks.unresolved, 0, "{stderr}");
        assert!(s.ticks.abandoned > 0, "{stderr}");
        assert!(s.ticks.acked as f64 >= acked_before, "{stderr}");
        assert!(
            stderr.contains("shutdown deadline of 4s reached"),
            "{stderr}"
        );
        // Thawed, the broker has everything acknowledged, and at most what was produced:
        // abandoned messages in flight may have been written (at least once), none twice.
        broker.signal("CONT");
        assert_topic_holds(&broker.bootstrap, &s.ticks);
        let lines = stderr.lines().count();
        assert!(lines < 200, "{lines} lines of stderr: a flood\n{stderr}");
    });
    result.await.unwrap();
}

/// The broker frozen and a long deadline: a second signal ends the run at once, still with
/// the accounting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_exits_at_once_with_the_accounting() {
    let Some(broker) = Broker::start("second_signal") else {
        return;
    };
    let (base, _sim) = common::start_simulator(2000, Duration::from_secs(1), None).await;
    let mut g = gather(
        &broker,
        &base,
        &[("TICKFLOW_GATHER__SHUTDOWN_TIMEOUT_MS", "120000")],
    );
    let result = tokio::task::spawn_blocking(move || {
        g.wait_until("200 acknowledged ticks", Duration::from_secs(30), |g| {
            acked(g) >= 200.0
        });
        broker.signal("STOP");
        std::thread::sleep(Duration::from_secs(2));
        g.signal("TERM");
        std::thread::sleep(Duration::from_secs(1));
        assert!(g.get("/healthz").is_some_and(|(s, _)| s == 200));
        g.signal("INT");
        let second = Instant::now();
        let (status, stderr, _) = g.wait_exit(Duration::from_secs(20));
        assert!(
            second.elapsed() < Duration::from_secs(5),
            "{:?} after the second signal:\n{stderr}",
            second.elapsed()
        );
        assert_eq!(status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("SIGINT again: abandoning"), "{stderr}");
        let s = Summary::find(&stderr);
        assert!(s.ticks.abandoned + s.ticks.refused > 0, "{stderr}");
        assert_eq!(s.ticks.unresolved, 0, "{stderr}");
        broker.signal("CONT");
    });
    result.await.unwrap();
}

/// `HEAD` gets the status and headers without a body.
#[test]
fn head_is_answered_without_a_body() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let handler: tickflow::http::Handler =
            std::sync::Arc::new(|_| (200, "text/plain", "ready\n".into()));
        let (_stop, stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(tickflow::http::serve(
            listener,
            handler,
            std::sync::Arc::default(),
            stopped,
        ));
        let answer = tokio::task::spawn_blocking(move || {
            use std::io::{Read, Write};
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            s.write_all(b"HEAD /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            let mut text = String::new();
            s.read_to_string(&mut text).unwrap();
            text
        })
        .await
        .unwrap();
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(answer.contains("Content-Length: 6\r\n"), "{answer}");
        assert!(answer.ends_with("\r\n\r\n"), "no body: {answer:?}");
    });
}

/// 600 idle connections to `/metrics` with the open-files limit at 256: the endpoint holds at
/// most its cap, closes the rest at once (counted), drops the idle ones after the read
/// timeout, and gathering goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_to_the_endpoint_cannot_exhaust_descriptors() {
    let Some(broker) = Broker::start("idle_connections") else {
        return;
    };
    let (base, _sim) = common::start_simulator(500, Duration::from_secs(1), None).await;
    let env = [(
        "TICKFLOW_KAFKA__BOOTSTRAP_SERVERS",
        broker.bootstrap.as_str(),
    )];
    let g = Tickflow::spawn_limited(
        &["gather", "--simulator", &base, "--connector", "binance"],
        &env,
        Some(256),
    );
    let result = tokio::task::spawn_blocking(move || {
        g.wait_until("acknowledged ticks", Duration::from_secs(30), |g| {
            acked(g) >= 100.0
        });
        let before = g.open_files();
        let idle: Vec<std::net::TcpStream> = (0..600)
            .map(|_| std::net::TcpStream::connect(g.http).unwrap())
            .collect();
        let cap = tickflow::http::MAX_CONNECTIONS;
        // Every idle connection ends as rejected at once (no slot free) or timed out (it held a
        // slot, sent nothing); how many of each depends on how fast they are accepted.
        let accounted = |g: &Tickflow| {
            g.metric("tickflow_http_rejected_total").unwrap_or(0.0)
                + g.metric("tickflow_http_timeouts_total").unwrap_or(0.0)
        };
        let mut most = 0;
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut acked_during = acked(&g);
        while Instant::now() < deadline {
            most = most.max(g.open_files());
            if accounted(&g) >= idle.len() as f64 {
                acked_during = acked(&g);
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(
            most <= before + cap + 16,
            "{most} open files, {before} before: the cap did not hold"
        );
        // /metrics answered, so the slots are free again: every idle connection was accounted
        // for, most closed at once, and gathering went on (and goes on).
        assert!(accounted(&g) >= idle.len() as f64, "{}", g.stderr());
        let rejected = g.metric("tickflow_http_rejected_total").unwrap();
        assert!(
            rejected >= (idle.len() / 2) as f64,
            "only {rejected} closed at once: {}",
            g.stderr()
        );
        assert_eq!(g.metric("tickflow_http_accept_errors_total"), Some(0.0));
        g.wait_until("more acknowledged ticks", Duration::from_secs(10), |g| {
            acked(g) > acked_during + 100.0
        });
        assert_eq!(
            g.metric("tickflow_ws_failures_total"),
            Some(0.0),
            "{}",
            g.stderr()
        );
        assert!(
            !g.stderr().contains("Too many open files"),
            "{}",
            g.stderr()
        );
        drop(idle);
    });
    result.await.unwrap();
}

/// A 10 MiB frame (above `max_frame_bytes`, below the socket cap) becomes one `frame_too_large`
/// dead letter cut to `max_frame_bytes`, with its size and SHA-256; the connection stays up.
/// A 20 MiB one (above the cap) closes the connection, counted, and it reconnects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_frames_are_dead_letters_and_only_giant_ones_close_the_connection() {
    use common::run::{connectors, gather, get, setup, wait_for};
    let Some(broker) = Broker::start("oversized_frames") else {
        return;
    };
    let (base, _sim) = common::start_simulator(200, Duration::from_secs(1), None).await;
    let app = common::run::app(&broker.bootstrap);
    let picked = connectors(
        &base,
        &[
            ("upbit", "?fault=oversize&after=40"),
            ("binance", "?fault=giant&after=40"),
        ],
    );
    let max = picked[0].max_frame_bytes;
    let run = gather(setup(app, picked)).await;
    let conns = run.state.connections.all();
    let (upbit, binance) = (&conns[0], &conns[1]);
    assert_eq!(upbit.connector, "upbit");
    wait_for(
        "3 frames cut, 2 giant closes",
        Duration::from_secs(60),
        || get(&upbit.stats.frames_cut) >= 3 && get(&binance.stats.socket_cap_closes) >= 2,
    )
    .await;
    let (outcome, state) = run.finish().await;
    assert_eq!(outcome.lost, 0, "{outcome}");
    let conns = state.connections.all();
    let (upbit, binance) = (&conns[0], &conns[1]);
    assert_eq!(
        get(&upbit.stats.failures),
        0,
        "an oversized frame closed the connection"
    );
    assert_eq!(get(&upbit.stats.connects), 1);
    assert!(
        get(&binance.stats.connects) >= 2,
        "reconnected after a giant frame"
    );
    assert_eq!(
        get(&binance.stats.failures),
        get(&binance.stats.socket_cap_closes)
    );
    let cut = get(&upbit.stats.frames_cut);
    let dead = consume_all(
        &broker.bootstrap,
        "ticks.dlq.v1",
        cut as usize,
        Duration::from_secs(30),
    );
    let too_large: Vec<_> = dead
        .iter()
        .filter(|m| common::stack::header(m, "reason").as_deref() == Some("frame_too_large"))
        .collect();
    assert_eq!(too_large.len() as u64, cut, "one dead letter per cut frame");
    for m in too_large {
        use rdkafka::Message;
        let h = |k: &str| common::stack::header(m, k).unwrap_or_default();
        assert_eq!(
            m.payload().map(<[u8]>::len),
            Some(max),
            "cut to max_frame_bytes"
        );
        assert_eq!(
            h("original_size"),
            tickflow::sim::fault::OVERSIZE_BYTES.to_string()
        );
        assert_eq!(h("sha256").len(), 64);
        assert!(h("sha256").bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(h("exchange"), "UPBIT");
        assert!(h("error").contains("10485760 bytes"), "{}", h("error"));
    }
}

#[test]
fn cutting_a_frame_keeps_its_size_and_sha256() {
    let mut bytes = b"abc".to_vec();
    assert_eq!(tickflow::ws::connection::cut(&mut bytes, 3), None);
    let o = tickflow::ws::connection::cut(&mut bytes, 2).unwrap();
    assert_eq!(bytes, b"ab");
    assert_eq!(o.size, 3);
    assert_eq!(
        o.sha256,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

/// A `max_frame_bytes` whose dead letter cannot fit in a Kafka message is refused at start,
/// naming the connector and the limit.
#[test]
fn a_max_frame_bytes_that_cannot_fit_in_a_kafka_message_is_refused() {
    let app = common::run::app("127.0.0.1:9");
    let mut c = common::run::connectors("ws://127.0.0.1:9", &[("upbit", "")]);
    c[0].max_frame_bytes = 2 * 1024 * 1024;
    let err = tickflow::gather::check_frame_limits(&app, &c)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("connector `upbit`: max_frame_bytes = 2097152"),
        "{err}"
    );
    assert!(err.contains("message.max.bytes is 1000000"), "{err}");
    c[0].max_frame_bytes = 900_000;
    assert!(tickflow::gather::check_frame_limits(&app, &c).is_ok());
    let raised = common::run::app_with(
        "127.0.0.1:9",
        &[("TICKFLOW_KAFKA__MESSAGE_MAX_BYTES", "4000000")],
    );
    c[0].max_frame_bytes = 2 * 1024 * 1024;
    assert!(tickflow::gather::check_frame_limits(&raised, &c).is_ok());
}

#[test]
fn loopback_brokers_are_told_apart() {
    use tickflow::kafka::loopback_only;
    assert!(loopback_only("127.0.0.1:9092"));
    assert!(loopback_only("localhost:9092, 127.0.0.2:9093"));
    assert!(loopback_only("[::1]:9092"));
    assert!(!loopback_only("127.0.0.1:9092,kafka.example.com:9092"));
    assert!(!loopback_only("10.0.0.5:9092"));
    assert!(!loopback_only(""));
}

/// `--simulate-if-offline` writes synthetic prices: refused unless the broker is local.
#[test]
fn simulating_into_a_broker_that_is_not_local_is_refused() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tickflow"))
        .args(["gather", "--simulate-if-offline", "--config"])
        .arg(common::run::repo().join("tickflow.toml"))
        .env(
            "TICKFLOW_KAFKA__BOOTSTRAP_SERVERS",
            "kafka.example.com:9092",
        )
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("bootstrap.servers = kafka.example.com:9092 is not loopback"),
        "{stderr}"
    );
}

/// The main command with a configured broker and unreachable exchanges: no simulator, no
/// synthetic tick in that broker, and `/readyz` says the exchange is not connected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_main_command_never_simulates_into_a_configured_broker() {
    let test = "never_simulates_into_a_configured_broker";
    let (Some(broker), Some(redis)) =
        (Broker::start(test), common::stack::RedisServer::start(test))
    else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("tickflow-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let upbit = std::fs::read_to_string(common::run::repo().join("connectors/upbit.toml")).unwrap();
    let unreachable: String = upbit
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("url") {
                "url = \"ws://127.0.0.1:1/websocket/v1\"".to_owned()
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(dir.join("upbit.toml"), unreachable).unwrap();
    let http = common::stack::free_port();
    let log = dir.join("run.stderr");
    let mut run = std::process::Command::new("bash")
        .arg(common::run::repo().join("scripts/run.sh"))
        .arg("--connectors")
        .arg(&dir)
        .current_dir(common::run::repo())
        .env("TICKFLOW_BIN", env!("CARGO_BIN_EXE_tickflow"))
        .env("TICKFLOW_KAFKA__BOOTSTRAP_SERVERS", &broker.bootstrap)
        .env("TICKFLOW_REDIS__URL", redis.url())
        .env("TICKFLOW_HTTP__BIND", format!("127.0.0.1:{http}"))
        .env(
            "TICKFLOW_CACHE__HTTP_BIND",
            format!("127.0.0.1:{}", common::stack::free_port()),
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let addr = ([127, 0, 0, 1], http).into();
    let check = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut ready = None;
        while Instant::now() < deadline {
            if let Some(r) = common::stack::http_get(addr, "/readyz") {
                ready = Some(r);
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        // Long enough for a 5 s reachability probe and a simulator to have produced.
        std::thread::sleep(Duration::from_secs(7));
        let again = common::stack::http_get(addr, "/readyz");
        (ready, again)
    });
    let (ready, again) = check.await.unwrap();
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &run.id().to_string()])
        .status();
    let _ = run.wait();
    let stderr = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    let (status, body) = again
        .or(ready)
        .unwrap_or_else(|| panic!("gather never answered:\n{stderr}"));
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("not connected: upbit#0"), "{body}");
    assert!(!stderr.contains("SIMULATED"), "{stderr}");
    let ticks = consume_all(&broker.bootstrap, "ticks.v1", 0, Duration::from_secs(5));
    assert!(
        ticks.is_empty(),
        "{} ticks reached the configured broker",
        ticks.len()
    );
}

/// Every credential set at once (Kafka SASL and key passwords, the Redis password, the
/// registry's basic auth), debug logging on: not one appears in any line gather, the cache or
/// `tickflow price` prints, nor in `/metrics` or `/readyz`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_appears_in_any_output_or_endpoint() {
    let test = "no_secret_appears";
    let (Some(broker), Some(redis)) =
        (Broker::start(test), common::stack::RedisServer::start(test))
    else {
        return;
    };
    let set = std::process::Command::new("redis-cli")
        .args([
            "-p",
            &redis.port.to_string(),
            "CONFIG",
            "SET",
            "requirepass",
            "S3CRET-redis",
        ])
        .output()
        .unwrap();
    assert!(set.status.success());
    let registry = common::registry::Registry::stub(common::registry::Options {
        user_info: Some("tickflow:S3CRET-registry".into()),
        ..Default::default()
    });
    let (base, _sim) = common::start_simulator(200, Duration::from_secs(1), None).await;
    let redis_url = format!("redis://default:S3CRET-redis@127.0.0.1:{}", redis.port);
    let env = [
        (
            "TICKFLOW_KAFKA__BOOTSTRAP_SERVERS",
            broker.bootstrap.as_str(),
        ),
        ("TICKFLOW_KAFKA__SASL_USERNAME", "tickflow"),
        ("TICKFLOW_KAFKA__SASL_PASSWORD", "S3CRET-sasl"),
        ("TICKFLOW_KAFKA__SSL_KEY_PASSWORD", "S3CRET-key"),
        ("TICKFLOW_REDIS__URL", redis_url.as_str()),
        ("TICKFLOW_SCHEMA_REGISTRY__URL", registry.url.as_str()),
        (
            "TICKFLOW_SCHEMA_REGISTRY__BASIC_AUTH_USER_INFO",
            "tickflow:S3CRET-registry",
        ),
        ("TICKFLOW_SCHEMA_REGISTRY__AUTO_REGISTER", "true"),
        ("TICKFLOW_LOG", "debug"),
    ];
    let mut g = Tickflow::spawn(
        &["gather", "--simulator", &base, "--connector", "upbit"],
        &env,
    );
    let mut c = Tickflow::spawn(&["cache"], &env);
    let seen = tokio::task::spawn_blocking(move || {
        g.wait_until("acknowledged ticks", Duration::from_secs(30), |g| {
            acked(g) >= 100.0
        });
        c.wait_until("ticks in Redis", Duration::from_secs(30), |c| {
            c.metric("tickflow_cache_applied_total").unwrap_or(0.0) >= 1.0
        });
        let mut seen = String::new();
        for t in [&g, &c] {
            for path in ["/metrics", "/readyz", "/healthz"] {
                seen.push_str(&t.get(path).map(|(_, b)| b).unwrap_or_default());
            }
        }
        let price = std::process::Command::new(env!("CARGO_BIN_EXE_tickflow"))
            .args(["price", "BTC-KRW", "--config"])
            .arg(common::run::repo().join("tickflow.toml"))
            .env("TICKFLOW_REDIS__URL", &redis_url)
            .output()
            .unwrap();
        assert!(price.status.success(), "{price:?}");
        seen.push_str(&String::from_utf8_lossy(&price.stdout));
        seen.push_str(&String::from_utf8_lossy(&price.stderr));
        g.signal("TERM");
        c.signal("TERM");
        for t in [&mut g, &mut c] {
            let (_, stderr, _) = t.wait_exit(Duration::from_secs(30));
            seen.push_str(&stderr);
        }
        seen
    });
    let seen = seen.await.unwrap();
    assert!(seen.contains("BTC-KRW"), "the price was printed");
    assert!(seen.lines().count() > 20, "debug logging was on");
    let shown: Vec<&str> = seen.lines().filter(|l| l.contains("S3CRET")).collect();
    assert!(shown.is_empty(), "secrets were shown: {shown:#?}");
}

/// The broker gone (connections reset, then refused) with sends in flight, then SIGTERM: the
/// stop ends at its deadline, the errors are a few lines, not one per message, and the
/// accounting adds up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_gone_at_shutdown_costs_a_few_lines_and_the_accounting_adds_up() {
    let listen = common::stack::free_port();
    let mut proxy = common::stack::Proxy::new(listen);
    let Some(broker) = Broker::start_advertising("a_broker_gone_at_shutdown", listen, proxy.port)
    else {
        return;
    };
    proxy.start().await;
    let (base, _sim) = common::start_simulator(3000, Duration::from_secs(1), None).await;
    let g = gather(
        &broker,
        &base,
        &[
            ("TICKFLOW_GATHER__SHUTDOWN_TIMEOUT_MS", "3000"),
            ("TICKFLOW_KAFKA__QUEUE_BUFFERING_MAX_MESSAGES", "100000"),
            ("TICKFLOW_KAFKA__MESSAGE_TIMEOUT_MS", "1500"),
        ],
    );
    let g = tokio::task::spawn_blocking(move || {
        g.wait_until("acknowledged ticks", Duration::from_secs(30), |g| {
            acked(g) >= 1000.0
        });
        g
    })
    .await
    .unwrap();
    proxy.stop().await;
    let (status, stderr) = tokio::task::spawn_blocking(move || {
        let mut g = g;
        // Long enough for message.timeout.ms to fail what was in flight.
        std::thread::sleep(Duration::from_secs(3));
        g.signal("TERM");
        let stopping = Instant::now();
        let (status, stderr, _) = g.wait_exit(Duration::from_secs(20));
        assert!(
            stopping.elapsed() < Duration::from_secs(8),
            "{:?}:\n{stderr}",
            stopping.elapsed()
        );
        (status, stderr)
    })
    .await
    .unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    let s = Summary::find(&stderr);
    assert!(s.ticks.failed > 100, "deliveries failed: {stderr}");
    assert_eq!(s.ticks.unresolved, 0, "{stderr}");
    let errors = stderr.lines().filter(|l| l.contains("ERROR")).count();
    assert!(
        errors <= 10,
        "{errors} ERROR lines for {} failures:\n{stderr}",
        s.ticks.failed
    );
    assert!(stderr.lines().count() < 200, "{stderr}");
}

/// The broker answers a produce request with `OutOfOrderSequenceNumber`, as one that lost the
/// idempotent producer's state does: librdkafka raises a fatal error and that producer can
/// deliver nothing more. gather stops at once (it sat refusing every tick, not ready, before)
/// and exits 3 with the accounting; what it counted acknowledged is on the topic, nothing twice.
/// On librdkafka's mock cluster: tansu cannot be told to answer this way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fatal_producer_error_stops_gather_at_once_with_the_accounting() {
    use rdkafka::mocking::MockCluster;
    use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
    let mock = MockCluster::new(1).unwrap();
    let bootstrap = mock.bootstrap_servers();
    mock.create_topic("ticks.v1", 1, 1).unwrap();
    mock.create_topic("ticks.dlq.v1", 1, 1).unwrap();
    let (base, _sim) = common::start_simulator(2000, Duration::from_secs(1), None).await;
    let g = Tickflow::spawn(
        &["gather", "--simulator", &base, "--connector", "binance"],
        &[
            ("TICKFLOW_KAFKA__BOOTSTRAP_SERVERS", bootstrap.as_str()),
            ("TICKFLOW_TOPICS__CREATE", "false"),
            ("TICKFLOW_GATHER__SHUTDOWN_TIMEOUT_MS", "60000"),
        ],
    );
    let g = tokio::task::spawn_blocking(move || {
        g.wait_until("500 acknowledged ticks", Duration::from_secs(30), |g| {
            acked(g) >= 500.0
        });
        g
    })
    .await
    .unwrap();
    let acked_before = acked(&g);
    mock.request_errors(
        RDKafkaApiKey::Produce,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER; 5],
    );
    let raised = Instant::now();
    let (status, stderr) = tokio::task::spawn_blocking(move || {
        let mut g = g;
        let (status, stderr, _) = g.wait_exit(Duration::from_secs(30));
        (status, stderr)
    })
    .await
    .unwrap();
    assert!(
        raised.elapsed() < Duration::from_secs(15),
        "{:?} after the fatal error, deadline 60 s:\n{stderr}",
        raised.elapsed()
    );
    assert_eq!(status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("fatal error"), "{stderr}");
    assert!(stderr.contains("exiting with code 3"), "{stderr}");
    let s = Summary::find(&stderr);
    assert_eq!(s.ticks.unresolved, 0, "every tick accounted:\n{stderr}");
    assert_eq!(
        s.ticks.produced,
        s.ticks.acked + s.ticks.refused + s.ticks.failed + s.ticks.abandoned,
        "{stderr}"
    );
    assert!(s.ticks.acked as f64 >= acked_before, "{stderr}");
    assert_topic_holds(&bootstrap, &s.ticks);
}
