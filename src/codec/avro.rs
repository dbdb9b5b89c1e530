//! Avro binary encoding of [`Tick`] per the current schema, the newest `schemas/avro/tick.vN.avsc`
//! (found by `src/build.rs`).
//!
//! The hot path writes bytes directly (no generic `Value` tree, which costs ~10 µs per tick
//! here); apache-avro parses the schema and serves as the oracle: [`to_value`] builds the
//! generic value, and tests assert both paths produce identical bytes.
//!
//! A message written with another version of the schema (an older or newer tickflow) is read
//! through Avro schema resolution: [`decode_resolved`] decodes with the writer's schema into the
//! current one, then [`from_value`] builds the tick.
//!
//! Decimals are `bytes` with logical type `decimal(38,18)`: the two's-complement big-endian
//! unscaled value at scale 18, minimal length (as apache-avro and Java's `BigInteger` write it).

use super::{CodecError, trailing_zeros};
use crate::model::validate::{fits_wire, wire_unscaled};
use crate::model::{EventKind, Exchange, Instrument, MarketState, StreamType, Tick, TradeSide};
use apache_avro::Schema;
use apache_avro::types::Value;
use compact_str::CompactString;
use rust_decimal::Decimal;
use std::sync::OnceLock;

/// The version of `schemas/avro/tick.vN.avsc` this build writes and reads natively.
pub const SCHEMA_VERSION: u32 = super::version(env!("CURRENT_SCHEMA_TICK_VERSION"));
/// The schema text of [`SCHEMA_VERSION`], source of truth in `schemas/avro/`.
pub const TICK_AVSC: &str = include_str!(env!("CURRENT_SCHEMA_TICK_AVSC"));
/// Full name of the record (RecordNameStrategy subjects).
pub const RECORD_NAME: &str = "io.tickflow.v1.Tick";
/// Decimal scale on the wire.
pub const SCALE: u32 = 18;

/// The parsed schema (parsed once).
pub fn schema() -> Result<&'static Schema, CodecError> {
    static SCHEMA: OnceLock<Result<Schema, String>> = OnceLock::new();
    SCHEMA
        .get_or_init(|| Schema::parse_str(TICK_AVSC).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| CodecError::Invalid {
            field: "schema",
            detail: e.clone(),
        })
}

// Enum symbols follow `Exchange::ALL` and `EventKind::ALL` after the default `UNKNOWN` at
// index 0 (a unit test checks them against the schema).
fn exchange_index(e: Exchange) -> i32 {
    e.index() as i32 + 1
}

fn exchange_of(n: i64) -> Option<Exchange> {
    Exchange::ALL
        .get(usize::try_from(n).ok()?.checked_sub(1)?)
        .copied()
}

fn kind_index(k: EventKind) -> i32 {
    k as i32 + 1
}

fn kind_of(n: i64) -> Option<EventKind> {
    EventKind::ALL
        .get(usize::try_from(n).ok()?.checked_sub(1)?)
        .copied()
}

fn side_index(s: TradeSide) -> i64 {
    match s {
        TradeSide::Buy => 1,
        TradeSide::Sell => 2,
    }
}

fn stream_type_index(t: StreamType) -> i64 {
    match t {
        StreamType::Snapshot => 1,
        StreamType::Realtime => 2,
    }
}

fn market_state_index(m: MarketState) -> i64 {
    match m {
        MarketState::Preview => 1,
        MarketState::Active => 2,
        MarketState::Delisted => 3,
    }
}

pub(crate) fn stream_type_of(symbol: &str) -> Option<StreamType> {
    [StreamType::Snapshot, StreamType::Realtime]
        .into_iter()
        .find(|t| t.as_str() == symbol)
}

pub(crate) fn trade_side_of(symbol: &str) -> Option<TradeSide> {
    [TradeSide::Buy, TradeSide::Sell]
        .into_iter()
        .find(|s| s.as_str() == symbol)
}

pub(crate) fn market_state_of(symbol: &str) -> Option<MarketState> {
    [
        MarketState::Preview,
        MarketState::Active,
        MarketState::Delisted,
    ]
    .into_iter()
    .find(|m| m.as_str() == symbol)
}

/// The unscaled value at scale 18, or the error naming the field.
#[inline(always)]
fn unscaled(field: &'static str, d: Decimal) -> Result<i128, CodecError> {
    wire_unscaled(d).ok_or_else(|| unrepresentable(field, d))
}

#[cold]
#[inline(never)]
fn unrepresentable(field: &'static str, d: Decimal) -> CodecError {
    debug_assert!(!fits_wire(d));
    CodecError::Unrepresentable {
        field,
        detail: format!("{d} needs more than 18 decimal places or 20 integer digits"),
    }
}

/// Minimal two's-complement big-endian bytes of `v` (at least one byte), as Java's
/// `BigInteger.toByteArray` and apache-avro write them: the magnitude bits plus one sign bit.
#[inline]
pub(crate) fn twos_complement(v: i128, buf: &mut [u8; 16]) -> &[u8] {
    *buf = v.to_be_bytes();
    let redundant = if v < 0 {
        v.leading_ones()
    } else {
        v.leading_zeros()
    };
    let bits = 128 - redundant + 1;
    let len = bits.div_ceil(8).min(16) as usize;
    &buf[16 - len..]
}

fn put_long(out: &mut Vec<u8>, n: i64) {
    let mut z = ((n << 1) ^ (n >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_long(out, b.len() as i64);
    out.extend_from_slice(b);
}

/// Longest encoding of the fields after `native_symbol`: the kind (1 byte), 14 decimals
/// (union branch, length, and a 16-byte write each: see [`Fixed::decimal`]), 7 optional longs
/// and 1 long (a branch byte and up to 10 bytes each), 3 booleans (1 byte each).
const FIXED_MAX: usize = 1 + 14 * 18 + 8 * 11 + 3;

/// The fields after the strings, written into a buffer on the stack and appended to the
/// output in one copy. `Vec::push` reloads and checks the length and capacity per byte; this
/// keeps the cursor in a register (measured in BENCHMARKS.md, "Trades and best bid/offers").
struct Fixed {
    bytes: [u8; FIXED_MAX],
    at: usize,
}

impl Fixed {
    #[inline(always)]
    fn byte(&mut self, b: u8) {
        self.bytes[self.at] = b;
        self.at += 1;
    }

    #[inline(always)]
    fn long(&mut self, n: i64) {
        let mut z = ((n << 1) ^ (n >> 63)) as u64;
        while z >= 0x80 {
            self.byte((z as u8) | 0x80);
            z >>= 7;
        }
        self.byte(z as u8);
    }

    /// A zero byte: the buffer starts zeroed and every write leaves the bytes past the cursor
    /// zero (see [`Fixed::decimal`]), so this only moves the cursor. An absent field is one.
    #[inline(always)]
    fn zero(&mut self) {
        debug_assert_eq!(self.bytes[self.at], 0);
        self.at += 1;
    }

    #[inline(always)]
    fn opt_long(&mut self, n: Option<i64>) {
        match n {
            None => self.zero(),
            Some(n) => {
                self.byte(2); // union branch 1, zigzag
                self.long(n);
            }
        }
    }

    /// A decimal's length and minimal two's-complement bytes. All 16 bytes of the value,
    /// shifted so its significant bytes come first, are stored at once and the cursor moves by
    /// the significant length only: no variable-length copy. The bytes left past the cursor
    /// are the shift's zeros.
    #[inline(always)]
    fn decimal(&mut self, field: &'static str, d: Decimal) -> Result<(), CodecError> {
        let v = unscaled(field, d)?;
        let redundant = if v < 0 {
            v.leading_ones()
        } else {
            v.leading_zeros()
        };
        // Magnitude bits plus a sign bit, in whole bytes: at least 1, at most 16 (|v| < 10^38).
        let len = ((128 - redundant) / 8 + 1).min(16) as usize;
        self.byte((len * 2) as u8); // zigzag of len, one byte since len <= 16
        let shifted = v << (8 * (16 - len));
        self.bytes[self.at..self.at + 16].copy_from_slice(&shifted.to_be_bytes());
        self.at += len;
        Ok(())
    }

    #[inline(always)]
    fn opt_decimal(&mut self, field: &'static str, d: Option<Decimal>) -> Result<(), CodecError> {
        match d {
            None => self.zero(),
            Some(d) => {
                self.byte(2);
                self.decimal(field, d)?;
            }
        }
        Ok(())
    }
}

/// Appends the Avro body of `tick` to `out` (no framing).
pub fn encode(tick: &Tick, out: &mut Vec<u8>) -> Result<(), CodecError> {
    put_long(out, i64::from(exchange_index(tick.exchange)));
    put_bytes(out, tick.instrument.as_str().as_bytes());
    put_bytes(out, tick.native_symbol.as_bytes());
    let mut f = Fixed {
        bytes: [0; FIXED_MAX],
        at: 0,
    };
    f.long(i64::from(kind_index(tick.kind)));
    f.decimal("last_price", tick.last_price)?;
    // Field by field rather than over `Tick::decimals()`, which copies all 14 first.
    f.opt_decimal("last_qty", tick.last_qty)?;
    f.opt_decimal("open_price", tick.open_price)?;
    f.opt_decimal("high_price", tick.high_price)?;
    f.opt_decimal("low_price", tick.low_price)?;
    f.opt_decimal("prev_close_price", tick.prev_close_price)?;
    f.opt_decimal("change", tick.change)?;
    f.opt_decimal("change_rate", tick.change_rate)?;
    f.opt_decimal("volume_24h_base", tick.volume_24h_base)?;
    f.opt_decimal("volume_24h_quote", tick.volume_24h_quote)?;
    f.opt_decimal("bid_price", tick.bid_price)?;
    f.opt_decimal("bid_qty", tick.bid_qty)?;
    f.opt_decimal("ask_price", tick.ask_price)?;
    f.opt_decimal("ask_qty", tick.ask_qty)?;
    f.opt_long(tick.event_ts_us);
    f.opt_long(tick.trade_ts_us);
    f.opt_long(tick.sequence);
    f.long(tick.received_ts_us);
    f.opt_long(tick.stream_type.map(stream_type_index));
    f.opt_long(tick.market_state.map(market_state_index));
    f.opt_long(tick.delisting_date.map(i64::from));
    f.opt_long(tick.trade_side.map(side_index));
    // The quality flags (v4): a boolean is one byte, 0 or 1.
    f.byte(u8::from(tick.first_after_connect));
    f.byte(u8::from(tick.snapshot));
    f.byte(u8::from(tick.sequence_gap));
    out.extend_from_slice(&f.bytes[..f.at]);
    Ok(())
}

/// A cursor over an Avro body.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn long(&mut self, field: &'static str) -> Result<i64, CodecError> {
        let mut z: u64 = 0;
        for shift in (0..70).step_by(7) {
            let b = *self
                .bytes
                .get(self.at)
                .ok_or(CodecError::Truncated(field))?;
            self.at += 1;
            if shift == 63 && b > 1 {
                break;
            }
            z |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok((z >> 1) as i64 ^ -((z & 1) as i64));
            }
        }
        Err(CodecError::Invalid {
            field,
            detail: "varint longer than 64 bits".into(),
        })
    }

    fn bytes(&mut self, field: &'static str) -> Result<&'a [u8], CodecError> {
        let len = self.long(field)?;
        let len = usize::try_from(len).map_err(|_| CodecError::Invalid {
            field,
            detail: format!("negative length {len}"),
        })?;
        let end = self.at.checked_add(len).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or(CodecError::Truncated(field))?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn string(&mut self, field: &'static str) -> Result<&'a str, CodecError> {
        std::str::from_utf8(self.bytes(field)?).map_err(|_| CodecError::Invalid {
            field,
            detail: "invalid utf-8".into(),
        })
    }

    fn decimal(&mut self, field: &'static str) -> Result<Decimal, CodecError> {
        decimal_from_bytes(field, self.bytes(field)?)
    }

    fn union_present(&mut self, field: &'static str) -> Result<bool, CodecError> {
        match self.long(field)? {
            0 => Ok(false),
            1 => Ok(true),
            n => Err(CodecError::Invalid {
                field,
                detail: format!("union branch {n}"),
            }),
        }
    }

    fn opt_decimal(&mut self, field: &'static str) -> Result<Option<Decimal>, CodecError> {
        if self.union_present(field)? {
            self.decimal(field).map(Some)
        } else {
            Ok(None)
        }
    }

    fn opt_long(&mut self, field: &'static str) -> Result<Option<i64>, CodecError> {
        if self.union_present(field)? {
            self.long(field).map(Some)
        } else {
            Ok(None)
        }
    }

    fn boolean(&mut self, field: &'static str) -> Result<bool, CodecError> {
        let b = *self
            .bytes
            .get(self.at)
            .ok_or(CodecError::Truncated(field))?;
        self.at += 1;
        match b {
            0 => Ok(false),
            1 => Ok(true),
            n => Err(CodecError::Invalid {
                field,
                detail: format!("boolean byte {n}"),
            }),
        }
    }

    fn opt_symbol<T>(
        &mut self,
        field: &'static str,
        of: impl Fn(i64) -> Option<T>,
    ) -> Result<Option<T>, CodecError> {
        self.opt_long(field)?
            .map(|n| {
                of(n).ok_or_else(|| CodecError::Invalid {
                    field,
                    detail: format!("symbol {n}"),
                })
            })
            .transpose()
    }
}

/// A `decimal(38,18)` from its two's-complement big-endian bytes.
pub(crate) fn decimal_from_bytes(field: &'static str, b: &[u8]) -> Result<Decimal, CodecError> {
    if b.is_empty() || b.len() > 16 {
        return Err(CodecError::Invalid {
            field,
            detail: format!("{}-byte decimal", b.len()),
        });
    }
    // Byte by byte rather than copied into a 16-byte buffer and loaded: the copy's
    // variable-length stores stall that load (a quarter of this function's time).
    let sign = if b[0] & 0x80 != 0 { -1 } else { 0 };
    let v = b.iter().fold(sign, |v: i128, &x| (v << 8) | i128::from(x));
    // The canonical (normalized) decimal: trailing zeros off first, then it must fit 96 bits.
    const _: () = assert!(SCALE <= 31, "trailing_zeros::strip strips at most 31");
    let (m, zeros) = trailing_zeros::strip(v.unsigned_abs(), SCALE);
    let too_long = || CodecError::Unrepresentable {
        field,
        detail: "more than 28 significant digits".into(),
    };
    // 2^127 (from i128::MIN) does not fit an i128, nor a Decimal.
    let m = i128::try_from(m).map_err(|_| too_long())?;
    let signed = if v < 0 { -m } else { m };
    Decimal::try_from_i128_with_scale(signed, SCALE - zeros).map_err(|_| too_long())
}

/// Fields of the current schema.
pub const FIELDS: usize = 29;
/// Fields every version has (through `received_ts_us`); the rest are optional, default null.
pub const REQUIRED_PREFIX: usize = 22;

/// Decodes an Avro body written with the current schema (no framing): the hot path.
pub fn decode(body: &[u8]) -> Result<Tick, CodecError> {
    decode_fields(body, FIELDS)
}

/// Decodes an Avro body written with the first `fields` fields of the current schema (an
/// earlier version that only lacks trailing optional fields, such as v1: 22, v2: 25, v3: 26);
/// the fields it lacks take their defaults (null, the flags false). `fields` is clamped to
/// [`REQUIRED_PREFIX`]..=[`FIELDS`].
pub fn decode_fields(body: &[u8], fields: usize) -> Result<Tick, CodecError> {
    let mut r = Reader { bytes: body, at: 0 };
    let n = r.long("exchange")?;
    let exchange = exchange_of(n).ok_or_else(|| CodecError::Invalid {
        field: "exchange",
        detail: format!("symbol {n}"),
    })?;
    let text = r.string("instrument")?;
    let instrument = Instrument::parse(text).ok_or_else(|| CodecError::Invalid {
        field: "instrument",
        detail: format!("`{text}` is not BASE-QUOTE"),
    })?;
    let native_symbol = r.string("native_symbol")?;
    let n = r.long("kind")?;
    let kind = kind_of(n).ok_or_else(|| CodecError::Invalid {
        field: "kind",
        detail: format!("symbol {n}"),
    })?;
    let mut tick = Tick {
        exchange,
        instrument,
        native_symbol: CompactString::new(native_symbol),
        kind,
        last_price: r.decimal("last_price")?,
        last_qty: r.opt_decimal("last_qty")?,
        open_price: r.opt_decimal("open_price")?,
        high_price: r.opt_decimal("high_price")?,
        low_price: r.opt_decimal("low_price")?,
        prev_close_price: r.opt_decimal("prev_close_price")?,
        change: r.opt_decimal("change")?,
        change_rate: r.opt_decimal("change_rate")?,
        volume_24h_base: r.opt_decimal("volume_24h_base")?,
        volume_24h_quote: r.opt_decimal("volume_24h_quote")?,
        bid_price: r.opt_decimal("bid_price")?,
        bid_qty: r.opt_decimal("bid_qty")?,
        ask_price: r.opt_decimal("ask_price")?,
        ask_qty: r.opt_decimal("ask_qty")?,
        event_ts_us: r.opt_long("event_ts_us")?,
        trade_ts_us: r.opt_long("trade_ts_us")?,
        sequence: r.opt_long("sequence")?,
        received_ts_us: 0,
        stream_type: None,
        market_state: None,
        delisting_date: None,
        trade_side: None,
        first_after_connect: false,
        snapshot: false,
        sequence_gap: false,
        simulated: false,
    };
    tick.received_ts_us = r.long("received_ts_us")?;
    if fields > REQUIRED_PREFIX {
        tick.stream_type = r.opt_symbol("stream_type", |n| match n {
            1 => Some(StreamType::Snapshot),
            2 => Some(StreamType::Realtime),
            _ => None,
        })?;
    }
    if fields > REQUIRED_PREFIX + 1 {
        tick.market_state = r.opt_symbol("market_state", |n| match n {
            1 => Some(MarketState::Preview),
            2 => Some(MarketState::Active),
            3 => Some(MarketState::Delisted),
            _ => None,
        })?;
    }
    if fields > REQUIRED_PREFIX + 2 {
        tick.delisting_date = r
            .opt_long("delisting_date")?
            .map(|d| {
                i32::try_from(d).map_err(|_| CodecError::Invalid {
                    field: "delisting_date",
                    detail: format!("{d} is not an int"),
                })
            })
            .transpose()?;
    }
    if fields > REQUIRED_PREFIX + 3 {
        tick.trade_side = r.opt_symbol("trade_side", |n| match n {
            1 => Some(TradeSide::Buy),
            2 => Some(TradeSide::Sell),
            _ => None,
        })?;
    }
    if fields > REQUIRED_PREFIX + 4 {
        tick.first_after_connect = r.boolean("first_after_connect")?;
    }
    if fields > REQUIRED_PREFIX + 5 {
        tick.snapshot = r.boolean("snapshot")?;
    }
    if fields > REQUIRED_PREFIX + 6 {
        tick.sequence_gap = r.boolean("sequence_gap")?;
    }
    match body.len() - r.at {
        0 => Ok(tick),
        n => Err(CodecError::TrailingBytes(n)),
    }
}

/// The same tick as apache-avro's generic [`Value`]: the oracle for the hot encoder, and the
/// slow path measured in the benchmark.
pub fn to_value(tick: &Tick) -> Result<Value, CodecError> {
    let dec = |field, d| -> Result<Value, CodecError> {
        let mut buf = [0u8; 16];
        let bytes = twos_complement(unscaled(field, d)?, &mut buf).to_vec();
        Ok(Value::Decimal(apache_avro::Decimal::from(bytes)))
    };
    let opt = |v: Option<Value>| match v {
        None => Value::Union(0, Box::new(Value::Null)),
        Some(v) => Value::Union(1, Box::new(v)),
    };
    let exchange = (
        exchange_index(tick.exchange) as u32,
        tick.exchange.as_str().to_owned(),
    );
    let kind_symbol = tick.kind.as_str();
    let mut fields = vec![
        ("exchange".to_owned(), Value::Enum(exchange.0, exchange.1)),
        (
            "instrument".to_owned(),
            Value::String(tick.instrument.to_string()),
        ),
        (
            "native_symbol".to_owned(),
            Value::String(tick.native_symbol.to_string()),
        ),
        (
            "kind".to_owned(),
            Value::Enum(kind_index(tick.kind) as u32, kind_symbol.to_owned()),
        ),
        ("last_price".to_owned(), dec("last_price", tick.last_price)?),
    ];
    for (field, value) in Tick::DECIMAL_FIELDS.iter().zip(tick.decimals()).skip(1) {
        fields.push((
            (*field).to_owned(),
            opt(value.map(|d| dec(field, d)).transpose()?),
        ));
    }
    fields.push((
        "event_ts_us".to_owned(),
        opt(tick.event_ts_us.map(Value::TimestampMicros)),
    ));
    fields.push((
        "trade_ts_us".to_owned(),
        opt(tick.trade_ts_us.map(Value::TimestampMicros)),
    ));
    fields.push(("sequence".to_owned(), opt(tick.sequence.map(Value::Long))));
    fields.push((
        "received_ts_us".to_owned(),
        Value::TimestampMicros(tick.received_ts_us),
    ));
    fields.push((
        "stream_type".to_owned(),
        opt(tick
            .stream_type
            .map(|t| Value::Enum(stream_type_index(t) as u32, t.as_str().to_owned()))),
    ));
    fields.push((
        "market_state".to_owned(),
        opt(tick
            .market_state
            .map(|m| Value::Enum(market_state_index(m) as u32, m.as_str().to_owned()))),
    ));
    fields.push((
        "delisting_date".to_owned(),
        opt(tick.delisting_date.map(Value::Date)),
    ));
    fields.push((
        "trade_side".to_owned(),
        opt(tick
            .trade_side
            .map(|s| Value::Enum(side_index(s) as u32, s.as_str().to_owned()))),
    ));
    for flag in crate::model::Flag::ALL {
        fields.push((flag.as_str().to_owned(), Value::Boolean(tick.has(flag))));
    }
    Ok(Value::Record(fields))
}

/// Encodes through apache-avro's generic path (slow; for tests and the benchmark baseline).
pub fn encode_with_apache_avro(tick: &Tick) -> Result<Vec<u8>, CodecError> {
    let schema = schema()?;
    #[allow(deprecated)]
    apache_avro::to_avro_datum(schema, to_value(tick)?).map_err(|e| CodecError::Invalid {
        field: "record",
        detail: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The way decimals were read before `trailing_zeros`: sign-filled buffer, then
    /// `normalize` (or dividing by ten beyond 96 bits).
    fn by_normalize(b: &[u8]) -> Option<Decimal> {
        if b.is_empty() || b.len() > 16 {
            return None;
        }
        let fill = if b[0] & 0x80 != 0 { 0xff } else { 0 };
        let mut buf = [fill; 16];
        buf[16 - b.len()..].copy_from_slice(b);
        let v = i128::from_be_bytes(buf);
        if let Ok(d) = Decimal::try_from_i128_with_scale(v, SCALE) {
            return Some(d.normalize());
        }
        let (mut v, mut scale) = (v, SCALE);
        while scale > 0 && v % 10 == 0 {
            v /= 10;
            scale -= 1;
        }
        Decimal::try_from_i128_with_scale(v, scale).ok()
    }

    proptest! {
        /// Any 1..=16 bytes, and values with many trailing zeros (beyond 96 bits too), read as
        /// before: the same decimal to the bit, or refused where it was.
        #[test]
        fn decimals_read_as_normalize_did(
            bytes in proptest::collection::vec(any::<u8>(), 1..=16),
            m in any::<i64>(),
            zeros in 0u32..=38,
        ) {
            let zeroed = i128::from(m).checked_mul(10i128.pow(zeros)).unwrap_or(i128::from(m));
            for b in [bytes.clone(), zeroed.to_be_bytes().to_vec(), i128::MIN.to_be_bytes().to_vec()] {
                let ours = decimal_from_bytes("x", &b).ok();
                let theirs = by_normalize(&b);
                prop_assert_eq!(ours.map(|d| (d.mantissa(), d.scale())), theirs.map(|d| (d.mantissa(), d.scale())));
            }
        }
    }

    #[test]
    fn twos_complement_is_minimal() {
        let mut buf = [0u8; 16];
        for (v, want) in [
            (0i128, vec![0u8]),
            (1, vec![1]),
            (127, vec![0x7f]),
            (128, vec![0, 0x80]),
            (-1, vec![0xff]),
            (-128, vec![0x80]),
            (-129, vec![0xff, 0x7f]),
            (255, vec![0, 0xff]),
        ] {
            assert_eq!(twos_complement(v, &mut buf), &want[..], "{v}");
        }
    }

    #[test]
    fn schema_parses() {
        let Schema::Record(r) = schema().unwrap() else {
            panic!("not a record")
        };
        assert_eq!(r.fields.len(), FIELDS);
        assert_eq!(r.fields[REQUIRED_PREFIX - 1].name, "received_ts_us");
        let symbols = |field: &str| -> Vec<String> {
            let f = r.fields.iter().find(|f| f.name == field).unwrap();
            let Schema::Enum(e) = &f.schema else {
                panic!("{field} is not an enum")
            };
            e.symbols.clone()
        };
        let mut exchanges = vec!["UNKNOWN"];
        exchanges.extend(Exchange::ALL.map(Exchange::as_str));
        assert_eq!(symbols("exchange"), exchanges);
        let mut kinds = vec!["UNKNOWN"];
        kinds.extend(EventKind::ALL.map(EventKind::as_str));
        assert_eq!(symbols("kind"), kinds);
        // Index 0 is UNKNOWN; 1..=len are the variants in `ALL` order; beyond is no symbol.
        let exchanges = 1..=Exchange::ALL.len() as i64;
        let kinds = 1..=EventKind::ALL.len() as i64;
        for n in 0..(Exchange::ALL.len().max(EventKind::ALL.len()) as i64 + 3) {
            assert_eq!(
                exchange_of(n).map(exchange_index),
                exchanges.contains(&n).then_some(n as i32)
            );
            assert_eq!(
                kind_of(n).map(kind_index),
                kinds.contains(&n).then_some(n as i32)
            );
        }
    }
}
