//! `tickflow normalize` and `tickflow symbols` as a user runs them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use serde_json::Value;
use std::io::Write;
use std::process::{Command, Output, Stdio};
use tickflow::codec::{Encoder, Format};

const BIN: &str = env!("CARGO_BIN_EXE_tickflow");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Runs `command` in the repository root with `stdin` piped in.
fn pipe(command: &mut Command, stdin: &[u8]) -> Output {
    let mut child = command
        .current_dir(ROOT)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn run(args: &[&str], stdin: Option<&[u8]>) -> Output {
    pipe(Command::new(BIN).args(args), stdin.unwrap_or_default())
}

fn json_lines(bytes: &[u8]) -> Vec<Value> {
    String::from_utf8(bytes.to_vec())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn hex(line: &str) -> Vec<u8> {
    (0..line.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&line[i..i + 2], 16).unwrap())
        .collect()
}

const CAPTURES: [(&str, &str, usize, usize); 3] = [
    ("upbit", "tests/fixtures/upbit/ticker.capture", 6, 1),
    ("binance", "tests/fixtures/binance/ticker.capture", 3, 1),
    ("bithumb", "tests/fixtures/bithumb/ticker.capture", 3, 1),
];

#[test]
fn normalize_writes_ticks_and_reports_rejections() {
    for (exchange, file, ticks, rejected) in CAPTURES {
        let out = run(
            &["normalize", "--exchange", exchange, "--stats", file],
            None,
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lines = json_lines(&out.stdout);
        assert_eq!(lines.len(), ticks, "{exchange}");
        for t in &lines {
            assert_eq!(t["exchange"], exchange.to_uppercase());
            assert!(t["last_price"].is_string(), "decimals are strings: {t}");
        }
        let errs = json_lines(&out.stderr);
        let rejections: Vec<&Value> = errs.iter().filter(|e| e.get("reason").is_some()).collect();
        assert_eq!(rejections.len(), rejected, "{errs:?}");
        for r in &rejections {
            for key in ["line", "exchange", "reason", "stage", "error", "frame"] {
                assert!(r.get(key).is_some(), "{key} missing in {r}");
            }
        }
        let stats = &errs.last().unwrap()["stats"];
        assert_eq!(stats["ticks"], ticks as u64);
        assert_eq!(stats["rejected"], rejected as u64);
    }
}

#[test]
fn binary_outputs_decode_to_the_json_ticks() {
    for (exchange, file, ticks, _) in CAPTURES {
        let json = json_lines(&run(&["normalize", "--exchange", exchange, file], None).stdout);
        for (output, format) in [("avro", Format::Avro), ("proto", Format::Proto)] {
            let out = run(
                &[
                    "normalize",
                    "--exchange",
                    exchange,
                    "--output",
                    output,
                    "--schema-id",
                    "42",
                    file,
                ],
                None,
            );
            let text = String::from_utf8(out.stdout).unwrap();
            let decoded: Vec<Value> = text
                .lines()
                .map(|l| {
                    let (id, tick) = Encoder::decode(format, &hex(l)).unwrap();
                    assert_eq!(id, 42);
                    serde_json::to_value(tick).unwrap()
                })
                .collect();
            assert_eq!(decoded.len(), ticks);
            assert_eq!(decoded, json, "{exchange} {output}");
        }
    }
}

#[test]
fn stdin_and_bare_frames() {
    let frame = std::fs::read(format!("{ROOT}/tests/fixtures/binance/ticker_raw.json")).unwrap();
    // A bare frame is received "now": this 2025 event is outside the live window...
    let out = run(&["normalize", "--exchange", "binance", "-"], Some(&frame));
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
    assert_eq!(
        json_lines(&out.stderr)[0]["reason"],
        "timestamp_out_of_window"
    );
    // ...and a backfill turns the window off.
    let out = run(
        &["normalize", "--exchange", "binance", "--no-time-check"],
        Some(&frame),
    );
    assert_eq!(json_lines(&out.stdout)[0]["instrument"], "BTC-USDT");
}

#[test]
fn usage_errors_are_clear() {
    let out = run(&["normalize", "--exchange", "kraken", "x"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown exchange `kraken`"));
    let out = run(
        &["normalize", "--exchange", "upbit", "/nonexistent/file"],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/file"));
    let help = run(&["normalize", "--help"], None);
    let text = String::from_utf8(help.stdout).unwrap();
    for needle in [
        "<receive_ns> <frame>",
        "--output",
        "--no-time-check",
        "reason",
    ] {
        assert!(text.contains(needle), "--help lacks {needle}");
    }
}

#[test]
fn symbols_builds_the_table_from_exchange_info() {
    let info = r#"{"symbols":[{"symbol":"ETHBTC","status":"TRADING","baseAsset":"ETH","quoteAsset":"BTC"}]}"#;
    let out = run(&["symbols", "--from", "-"], Some(info.as_bytes()));
    assert!(out.status.success());
    let csv = String::from_utf8(out.stdout).unwrap();
    assert!(csv.lines().any(|l| l == "ETHBTC,ETH,BTC,TRADING"), "{csv}");
    let out = run(
        &["symbols", "--from", "-"],
        Some(b"{\"symbols\":[{\"symbol\":\"X\"}]}"),
    );
    assert_eq!(out.status.code(), Some(2), "no symbol at all");
    // Named explicitly, the same; a venue whose symbols spell the instrument keeps no table,
    // and `--reference` refuses it the same way.
    let out = run(
        &["symbols", "--exchange", "binance", "--from", "-"],
        Some(info.as_bytes()),
    );
    assert!(out.status.success());
    for args in [
        &["symbols", "--exchange", "upbit", "--from", "-"][..],
        &[
            "normalize",
            "--exchange",
            "upbit",
            "--reference",
            "upbit=x.csv",
            "-",
        ][..],
    ] {
        let out = run(args, Some(b""));
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("keeps no reference data"), "{args:?}: {err}");
    }
    // A replacement table is used: ETHBTC mapped only through it.
    let dir = std::env::temp_dir().join(format!("tickflow-reference-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let table = dir.join("t.csv");
    std::fs::write(&table, "XYZABC,XYZ,ABC,TRADING\n").unwrap();
    let frame = br#"{"e":"trade","E":1700000000000,"s":"XYZABC","t":1,"p":"1.5","q":"2","T":1700000000000,"m":false}"#;
    let with = format!("binance={}", table.display());
    let out = run(
        &[
            "normalize",
            "--exchange",
            "binance",
            "--no-time-check",
            "--reference",
            &with,
            "-",
        ],
        Some(frame),
    );
    let ticks = json_lines(&out.stdout);
    assert_eq!(ticks.len(), 1, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(ticks[0]["instrument"], "XYZ-ABC");
    let _ = std::fs::remove_dir_all(&dir);
    // A non-ASCII symbol (Binance lists some since 2025-12) is skipped with its reason; the
    // rest of the table is written (the whole table was refused before).
    let info = r#"{"symbols":[{"symbol":"ETHBTC","status":"TRADING","baseAsset":"ETH","quoteAsset":"BTC"},
        {"symbol":"币安人生USDT","status":"TRADING","baseAsset":"币安人生","quoteAsset":"USDT"}]}"#;
    let out = run(&["symbols", "--from", "-"], Some(info.as_bytes()));
    assert!(out.status.success());
    let csv = String::from_utf8(out.stdout).unwrap();
    assert!(csv.lines().any(|l| l == "ETHBTC,ETH,BTC,TRADING"), "{csv}");
    assert!(!csv.contains("USDT"), "{csv}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("skipped 币安人生USDT: unknown_instrument")
            && stderr.contains("1 rows skipped"),
        "{stderr}"
    );
}

#[test]
fn fastavro_reads_the_avro_output() {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let probe = Command::new(&python)
        .args(["-c", "import fastavro"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        assert!(
            std::env::var_os("TICKFLOW_REQUIRE_FASTAVRO").is_none(),
            "fastavro is required here (TICKFLOW_REQUIRE_FASTAVRO is set) but {python} lacks it"
        );
        eprintln!("SKIP: {python} with fastavro not available (scripts/test.sh installs it)");
        return;
    }
    for (exchange, file, ticks, _) in CAPTURES {
        let json = json_lines(&run(&["normalize", "--exchange", exchange, file], None).stdout);
        let avro = run(
            &[
                "normalize",
                "--exchange",
                exchange,
                "--output",
                "avro",
                "--schema-id",
                "7",
                file,
            ],
            None,
        );
        let out = pipe(
            Command::new(&python).args([
                "tests/independent_avro_decode.py",
                env!("CURRENT_SCHEMA_TICK_AVSC"),
            ]),
            &avro.stdout,
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let decoded = json_lines(&out.stdout);
        assert_eq!(decoded.len(), ticks);
        for (mut d, j) in decoded.into_iter().zip(json) {
            assert_eq!(d["_schema_id"], 7);
            d.as_object_mut().unwrap().remove("_schema_id");
            assert_eq!(d, j, "{exchange}");
        }
    }
}

#[test]
fn every_subcommand_shows_its_long_help() {
    // The long description (not only the one-line summary), examples and exit codes.
    for (command, long_text) in [
        (vec!["gather"], "Connects to every enabled connector"),
        (vec!["cache"], "Consumes canonical ticks from ticks.v1"),
        (vec!["price"], "Reads px:{INSTRUMENT}:EXCHANGE"),
        (vec!["normalize"], "Reads raw WebSocket frames"),
        (vec!["simulate"], "Runs a local WebSocket server"),
        (
            vec!["symbols"],
            "Reads the body of a venue's listing document",
        ),
        (vec!["probe"], "Sends GET PATH to each address"),
        (vec!["schemas", "check"], "Checks every released version"),
        (
            vec!["schemas", "register"],
            "Runs `tickflow schemas check` first",
        ),
    ] {
        let mut args = command.clone();
        args.push("--help");
        let out = run(&args, None);
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{command:?}");
        assert!(
            help.contains(long_text),
            "{command:?} --help lacks its long help:\n{help}"
        );
        assert!(
            help.contains("Exit code"),
            "{command:?} --help lacks exit codes:\n{help}"
        );
        assert!(
            help.contains("Example"),
            "{command:?} --help lacks examples:\n{help}"
        );
    }
}

#[test]
fn log_filters_and_formats() {
    // A command that logs a retry warning quickly: the registry on a port nobody listens on.
    let logged = |filter: &str, format: &str| {
        Command::new(BIN)
            .args(["schemas", "check", "--registry", "http://127.0.0.1:1"])
            .current_dir(ROOT)
            .env("TICKFLOW_SCHEMA_REGISTRY__ATTEMPTS", "2")
            .env("TICKFLOW_LOG", filter)
            .env("TICKFLOW_LOG_FORMAT", format)
            .output()
            .unwrap()
    };
    let out = logged("verbose", "text");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("TICKFLOW_LOG=`verbose`"), "{stderr}");
    assert_eq!(logged("info", "yaml").status.code(), Some(2));
    assert_eq!(logged("info,tickflow=loud", "text").status.code(), Some(2));
    // The warning at the default level, hidden by `error`, shown again for tickflow's targets.
    let warns = |out: &Output| {
        String::from_utf8_lossy(&out.stderr)
            .matches("retrying in")
            .count()
    };
    assert_eq!(warns(&logged("", "text")), 1);
    assert_eq!(warns(&logged("error", "text")), 0);
    assert_eq!(warns(&logged("error,tickflow::registry=warn", "text")), 1);
    // JSON lines for log shippers.
    let out = logged("info", "json");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let events: Vec<Value> = stderr
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(events.len(), 1, "{stderr}");
    assert_eq!(events[0]["level"], "WARN");
    assert!(
        events[0]["fields"]["message"]
            .as_str()
            .unwrap()
            .contains("retrying in")
    );
    assert_eq!(events[0]["target"], "tickflow::registry::client");
}

/// A one-shot HTTP server on loopback answering every request with `status`.
fn answering(status: u16) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(4) {
            let Ok(mut s) = stream else { continue };
            // The whole request head, then the answer.
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match std::io::Read::read(&mut s, &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let _ = write!(s, "HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n");
        }
    });
    port
}

#[test]
fn probe_is_healthy_on_200_only() {
    let probe = |args: &[&str]| {
        let mut all = vec!["probe", "--timeout-ms", "1000"];
        all.extend_from_slice(args);
        run(&all, None)
    };
    let ok = answering(200);
    let out = probe(&["--path", "/readyz", &format!("127.0.0.1:{ok}")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let unready = answering(503);
    let out = probe(&[&format!("127.0.0.1:{unready}")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains(": 503"));
    // Nobody listening, then the configured defaults (0.0.0.0 probed on loopback): the first
    // that answers 200 wins.
    let free = common::stack::free_port();
    let out = probe(&[&format!("127.0.0.1:{free}")]);
    assert_eq!(out.status.code(), Some(1));
    let ok = answering(200);
    let out = Command::new(BIN)
        .args(["probe"])
        .current_dir(ROOT)
        .env("TICKFLOW_HTTP__BIND", format!("0.0.0.0:{free}"))
        .env("TICKFLOW_CACHE__HTTP_BIND", format!("0.0.0.0:{ok}"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains(&format!("127.0.0.1:{ok}/healthz: 200")),
        "{stdout}"
    );
}
