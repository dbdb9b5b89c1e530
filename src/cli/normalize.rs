//! `tickflow normalize`: raw frames in, canonical ticks out — for debugging and backfill.

use crate::codec::{Encoder, Format};
use crate::exchange::{AdapterConfig, Decoded, Frame, adapter_for};
use crate::model::reject::clip;
use crate::model::time::now_us;
use crate::model::{Exchange, ValidationConfig};
use anyhow::Context;
use clap::{Args, ValueEnum};
use std::io::{BufRead, BufReader, BufWriter, ErrorKind, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// Output encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// One canonical tick per line as JSON (decimals as strings).
    Json,
    /// One Confluent-framed Avro message per line, hex encoded.
    Avro,
    /// One Confluent-framed Protobuf message per line, hex encoded.
    Proto,
}

/// One-line summary for `tickflow --help`.
pub(super) const ABOUT: &str =
    "Normalize raw exchange frames from a file or stdin into canonical ticks";

/// Full description for `tickflow normalize --help`.
pub(super) const LONG_ABOUT: &str = "Reads raw WebSocket frames, one per line, and writes canonical \
ticks to stdout.\n\n\
Each line is either a bare frame (received now) or a capture line `<receive_ns> <frame>`, where \
receive_ns is the receive time in Unix nanoseconds. Rejected frames are written to stderr as one \
JSON line each: {\"line\",\"exchange\",\"reason\",\"stage\",\"error\",\"frame\"} (frame \
truncated). Control messages (acks, pongs) and unsupported message types are counted (see \
--stats) and listed with --verbose. The exit code is 0 when the input was read completely, even \
if frames were rejected; 2 on a usage or I/O error.";

/// Examples for `tickflow normalize --help`.
pub(super) fn examples() -> String {
    let name = |i: usize| Exchange::ALL[i % Exchange::ALL.len()].lowercase();
    format!(
        "Examples:\n  \
tickflow normalize --exchange {a} tests/fixtures/{a}/ticker.capture\n  \
tickflow normalize --exchange {b} --output avro --schema-id 7 frames.txt\n  \
cat old.jsonl | tickflow normalize --exchange {c} --no-time-check -\n\n\
Exchanges: {all}\n\n\
Exit codes:\n  \
0  the input was read completely (rejected frames are reported on stderr, not an error)\n  \
2  usage or I/O error",
        a = name(0),
        b = name(1),
        c = name(2),
        all = super::venue_names()
    )
}

/// Arguments of `tickflow normalize`.
#[derive(Debug, Args)]
pub struct NormalizeArgs {
    /// Exchange protocol of the frames (one adapter reads every API of a venue).
    #[arg(long, value_parser = parse_exchange)]
    exchange: Exchange,
    /// Output encoding.
    #[arg(long, value_enum, default_value_t = Output::Json)]
    output: Output,
    /// Schema Registry id written into the Confluent header (avro/proto output).
    #[arg(long, default_value_t = 1)]
    schema_id: u32,
    #[command(flatten)]
    reference: super::ReferenceArgs,
    /// Reject ticks whose exchange event time lags the receive time by more than this.
    #[arg(long, default_value_t = ValidationConfig::default_max_event_lag_ms())]
    max_event_lag_ms: i64,
    /// Reject ticks whose exchange event time leads the receive time by more than this.
    #[arg(long, default_value_t = ValidationConfig::default_max_event_lead_ms())]
    max_event_lead_ms: i64,
    /// Skip the event-time window check (for old captures without receive times).
    #[arg(long)]
    no_time_check: bool,
    /// Frames larger than this many bytes are rejected.
    #[arg(long, default_value_t = AdapterConfig::default_max_frame_bytes())]
    max_frame_bytes: usize,
    /// Print a summary JSON line to stderr at the end.
    #[arg(long)]
    stats: bool,
    /// Also list control and unsupported messages on stderr.
    #[arg(long)]
    verbose: bool,
    /// Input file, or `-` for stdin.
    #[arg(default_value = "-")]
    input: PathBuf,
}

fn parse_exchange(name: &str) -> Result<Exchange, String> {
    Exchange::parse(name)
        .ok_or_else(|| format!("unknown exchange `{name}` ({})", super::venue_names()))
}

/// Splits a capture line `<receive_ns> <frame>` into its parts.
pub fn split_capture(line: &[u8]) -> (Option<i64>, &[u8]) {
    let digits = line.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits > 0 && line.get(digits) == Some(&b' ') {
        let ns = std::str::from_utf8(&line[..digits])
            .ok()
            .and_then(|t| t.parse::<i64>().ok());
        if let Some(ns) = ns {
            return (Some(ns), &line[digits + 1..]);
        }
    }
    (None, line)
}

#[derive(Default)]
struct Counts {
    lines: u64,
    ticks: u64,
    rejected: u64,
    control: u64,
    unsupported: u64,
}

fn hex_line(bytes: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 0xf)]);
    }
    out.push(b'\n');
}

/// Runs the command.
pub fn run(args: &NormalizeArgs) -> anyhow::Result<ExitCode> {
    let references = args.reference.load()?;
    let config = AdapterConfig {
        validation: ValidationConfig {
            max_event_lag_ms: args.max_event_lag_ms,
            max_event_lead_ms: args.max_event_lead_ms,
            check_time_window: !args.no_time_check,
        },
        max_frame_bytes: args.max_frame_bytes,
        instruments: None,
    };
    let adapter = adapter_for(args.exchange, config, &references)
        .with_context(|| format!("no adapter for {}", args.exchange))?;
    let input: Box<dyn Read> = if args.input.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(
            std::fs::File::open(&args.input)
                .with_context(|| format!("opening {}", args.input.display()))?,
        )
    };
    let mut reader = BufReader::new(input);
    let mut stdout = BufWriter::new(std::io::stdout().lock());
    let mut stderr = BufWriter::new(std::io::stderr().lock());
    let encoder = match args.output {
        Output::Json => None,
        Output::Avro => Some(Encoder {
            format: Format::Avro,
            schema_id: args.schema_id,
        }),
        Output::Proto => Some(Encoder {
            format: Format::Proto,
            schema_id: args.schema_id,
        }),
    };
    let exchange = args.exchange.as_str();
    let mut counts = Counts::default();
    let (mut line, mut out, mut body) = (Vec::new(), Vec::new(), Vec::new());
    loop {
        line.clear();
        if reader
            .read_until(b'\n', &mut line)
            .context("reading input")?
            == 0
        {
            break;
        }
        counts.lines += 1;
        let trimmed = line.trim_ascii_end();
        if trimmed.is_empty() {
            continue;
        }
        let (receive_ns, frame) = split_capture(trimmed);
        let received_us = receive_ns.map_or_else(now_us, |ns| ns / 1000);
        out.clear();
        match adapter.decode(Frame::text(frame), received_us) {
            Ok(decoded @ (Decoded::Tick(_) | Decoded::Ticks(_))) => {
                for tick in decoded.ticks() {
                    counts.ticks += 1;
                    match &encoder {
                        None => {
                            serde_json::to_writer(&mut out, tick)?;
                            out.push(b'\n');
                        }
                        Some(encoder) => {
                            body.clear();
                            encoder.encode(tick, &mut body)?;
                            hex_line(&body, &mut out);
                        }
                    }
                }
                if let Err(e) = stdout.write_all(&out) {
                    if e.kind() == ErrorKind::BrokenPipe {
                        return Ok(ExitCode::SUCCESS);
                    }
                    return Err(e.into());
                }
            }
            Ok(Decoded::Control(control)) => {
                counts.control += 1;
                if args.verbose {
                    let msg = serde_json::json!({"line": counts.lines, "exchange": exchange,
                        "control": format!("{control:?}")});
                    writeln!(stderr, "{msg}")?;
                }
            }
            Ok(Decoded::Unsupported { message_type }) => {
                counts.unsupported += 1;
                if args.verbose {
                    let msg = serde_json::json!({"line": counts.lines, "exchange": exchange,
                        "unsupported": message_type});
                    writeln!(stderr, "{msg}")?;
                }
            }
            Err(rejection) => {
                counts.rejected += 1;
                let msg = serde_json::json!({
                    "line": counts.lines,
                    "exchange": exchange,
                    "reason": rejection.reason.code(),
                    "stage": rejection.reason.stage(),
                    "error": rejection.detail,
                    "frame": clip(&String::from_utf8_lossy(frame), 512),
                });
                writeln!(stderr, "{msg}")?;
            }
        }
    }
    if let Err(e) = stdout.flush()
        && e.kind() != ErrorKind::BrokenPipe
    {
        return Err(e.into());
    }
    if args.stats {
        let msg = serde_json::json!({"stats": {"lines": counts.lines, "ticks": counts.ticks,
            "rejected": counts.rejected, "control": counts.control,
            "unsupported": counts.unsupported}});
        writeln!(stderr, "{msg}")?;
    }
    stderr.flush()?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::split_capture;

    #[test]
    fn capture_lines() {
        assert_eq!(
            split_capture(b"123 {\"a\":1}"),
            (Some(123), &b"{\"a\":1}"[..])
        );
        assert_eq!(split_capture(b"{\"a\":1}"), (None, &b"{\"a\":1}"[..]));
        assert_eq!(split_capture(b"123{}"), (None, &b"123{}"[..]));
        assert_eq!(split_capture(b"99999999999999999999999 {}").0, None);
    }
}
