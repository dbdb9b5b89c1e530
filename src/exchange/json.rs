//! A strict, zero-copy JSON scanner for exchange frames, plus exact-number helpers.
//!
//! Why not serde_json here: frames are small, mostly flat objects, and the adapters need the
//! raw text of every number (never `f64`). A visitor-based parser with `RawValue` spent about
//! half of the per-frame budget on machinery. This scanner hands each field's token to the
//! adapter in one pass, borrows everything from the frame, and still checks the complete
//! JSON grammar (RFC 8259), including inside values it skips, with bounded nesting.

use crate::model::decimal::{DecimalError, parse_decimal};
use crate::model::{Reason, Rejection, reject::clip};
use rust_decimal::Decimal;
use std::borrow::Cow;

/// Deepest nesting accepted anywhere in a frame (serde_json's default limit too).
const MAX_DEPTH: usize = 128;

/// One JSON value as it appears in the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Token<'a> {
    /// A string without escapes: the text between the quotes.
    Str(&'a str),
    /// A string with escapes (already checked): the raw text between the quotes.
    EscapedStr(&'a str),
    /// A number, exactly as written (grammar already checked).
    Num(&'a str),
    /// `true`.
    True,
    /// `false`.
    False,
    /// `null`.
    Null,
    /// An object or array, as its raw text (grammar already checked).
    Composite(&'a str),
}

impl<'a> Token<'a> {
    /// The token's raw text, for composites parsed later.
    pub(crate) fn text(&self) -> &'a str {
        match *self {
            Token::Str(s) | Token::EscapedStr(s) | Token::Num(s) | Token::Composite(s) => s,
            Token::True => "true",
            Token::False => "false",
            Token::Null => "null",
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Token::Str(_) | Token::EscapedStr(_) => "string",
            Token::Num(_) => "number",
            Token::True | Token::False => "boolean",
            Token::Null => "null",
            Token::Composite(s) if s.starts_with('[') => "array",
            Token::Composite(_) => "object",
        }
    }
}

/// A raw numeric (or any) field value, kept as its token.
pub(crate) type Raw<'a> = Token<'a>;

/// What a [`Span`] holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Str,
    EscapedStr,
    Num,
    True,
    False,
    Null,
    Composite,
}

/// A scanned value: its kind and byte range. Twelve bytes, so scanner results travel in
/// registers; returning 32-byte `Result<Token, Rejection>` values through the stack caused
/// store-forwarding stalls that cost a third of the scan time.
#[derive(Debug, Clone, Copy)]
struct Span {
    kind: Kind,
    start: u32,
    end: u32,
}

/// Why the scanner stopped: a position and a fixed message (kept small for the same reason).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ScanError {
    at: u32,
    what: &'static &'static str,
}

impl From<ScanError> for Rejection {
    #[cold]
    #[inline(never)]
    fn from(e: ScanError) -> Self {
        malformed(e.at as usize, e.what)
    }
}

type Scan<T> = Result<T, ScanError>;

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Advances `i` past string bytes that need no attention (not `"`, `\\` or a control
/// character), eight at a time (SWAR); returns the index of the first byte that does, or the
/// start of the last partial chunk.
#[inline(always)]
fn skip_plain_string_bytes(bytes: &[u8], mut i: usize) -> usize {
    while let Some(chunk) = bytes.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let v = u64::from_le_bytes(word);
        let zero_in = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
        // Flags bytes equal to '"' or '\\', and bytes below 0x20. A flag can be spurious only
        // above a true one, so the lowest flag is exact.
        let flags = zero_in(v ^ (ONES * u64::from(b'"')))
            | zero_in(v ^ (ONES * u64::from(b'\\')))
            | (v.wrapping_sub(ONES * 0x20) & !v & HIGHS);
        if flags != 0 {
            return i + (flags.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    i
}

/// Cursor over one frame (at most `u32::MAX` bytes; [`parse_object`] checks).
pub(crate) struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

#[cold]
#[inline(never)]
fn malformed(at: usize, what: &str) -> Rejection {
    Rejection::new(
        Reason::MalformedJson,
        format!("invalid json at byte {at}: {what}"),
    )
}

macro_rules! fail {
    ($at:expr, $what:literal) => {
        return Err(ScanError {
            at: $at as u32,
            what: &$what,
        })
    };
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            text,
            bytes: text.as_bytes(),
            at: 0,
        }
    }

    #[inline(always)]
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }

    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    #[inline(always)]
    fn span(&self, kind: Kind, start: usize, end: usize) -> Span {
        Span {
            kind,
            start: start as u32,
            end: end as u32,
        }
    }

    /// A string starting at the opening quote.
    #[inline(always)]
    fn string(&mut self) -> Scan<Span> {
        let start = self.at + 1;
        let mut i = start;
        let mut kind = Kind::Str;
        loop {
            i = skip_plain_string_bytes(self.bytes, i);
            match self.bytes.get(i) {
                None => fail!(i, "unterminated string"),
                Some(b'"') => break,
                Some(b'\\') => {
                    kind = Kind::EscapedStr;
                    match self.bytes.get(i + 1) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                        Some(b'u') => {
                            let hex = self.bytes.get(i + 2..i + 6);
                            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                                fail!(i, "bad \\u escape");
                            }
                            i += 6;
                        }
                        _ => fail!(i, "bad escape"),
                    }
                }
                Some(&b) if b < 0x20 => fail!(i, "control character in string"),
                Some(_) => i += 1,
            }
        }
        self.at = i + 1;
        Ok(self.span(kind, start, i))
    }

    #[inline(always)]
    fn number(&mut self) -> Scan<Span> {
        let start = self.at;
        let b = self.bytes;
        let mut i = start;
        let digits = |i: &mut usize| {
            let from = *i;
            while b.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
            *i > from
        };
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        match b.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                digits(&mut i);
            }
            _ => fail!(i, "invalid number"),
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            if !digits(&mut i) {
                fail!(i, "digits expected after `.`");
            }
        }
        if let Some(b'e' | b'E') = b.get(i) {
            i += 1;
            if let Some(b'+' | b'-') = b.get(i) {
                i += 1;
            }
            if !digits(&mut i) {
                fail!(i, "digits expected in exponent");
            }
        }
        self.at = i;
        Ok(self.span(Kind::Num, start, i))
    }

    #[inline(always)]
    fn literal(&mut self, word: &'static str, kind: Kind) -> Scan<Span> {
        if self.bytes[self.at..].starts_with(word.as_bytes()) {
            let start = self.at;
            self.at += word.len();
            Ok(self.span(kind, start, self.at))
        } else {
            fail!(self.at, "unexpected character")
        }
    }

    /// Skips an object or array starting at its opening bracket, checking its grammar
    /// iteratively (an explicit stack, so depth can never exhaust the thread's stack).
    #[inline(never)]
    fn composite(&mut self) -> Scan<Span> {
        let start = self.at;
        // true = object, false = array.
        let mut stack: Vec<bool> = Vec::new();
        loop {
            // At a value position, or at a container's opening bracket.
            self.ws();
            match self.peek() {
                Some(open @ (b'{' | b'[')) => {
                    if stack.len() >= MAX_DEPTH {
                        fail!(self.at, "nesting too deep");
                    }
                    self.at += 1;
                    let object = open == b'{';
                    stack.push(object);
                    self.ws();
                    let close = if object { b'}' } else { b']' };
                    if self.peek() == Some(close) {
                        self.at += 1;
                        stack.pop();
                    } else {
                        if object {
                            self.key()?;
                        }
                        continue;
                    }
                }
                _ => {
                    self.scalar()?;
                }
            }
            // After a value: close containers or move to the next element.
            loop {
                let Some(&object) = stack.last() else {
                    return Ok(self.span(Kind::Composite, start, self.at));
                };
                self.ws();
                match self.peek() {
                    Some(b',') => {
                        self.at += 1;
                        if object {
                            self.ws();
                            self.key()?;
                        }
                        break;
                    }
                    Some(b'}') if object => {
                        self.at += 1;
                        stack.pop();
                    }
                    Some(b']') if !object => {
                        self.at += 1;
                        stack.pop();
                    }
                    _ => fail!(self.at, "expected `,` or a closing bracket"),
                }
            }
        }
    }

    /// A key and its colon (whitespace before the key already skipped).
    #[inline(always)]
    fn key(&mut self) -> Scan<Span> {
        if self.peek() != Some(b'"') {
            fail!(self.at, "expected a string key");
        }
        let key = self.string()?;
        self.ws();
        if self.peek() != Some(b':') {
            fail!(self.at, "expected `:`");
        }
        self.at += 1;
        Ok(key)
    }

    #[inline(always)]
    fn scalar(&mut self) -> Scan<Span> {
        match self.peek() {
            Some(b'"') => self.string(),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.literal("true", Kind::True),
            Some(b'f') => self.literal("false", Kind::False),
            Some(b'n') => self.literal("null", Kind::Null),
            None => fail!(self.at, "unexpected end of frame"),
            Some(_) => fail!(self.at, "unexpected character"),
        }
    }

    /// The next value's span (composites are checked and spanned whole).
    #[inline(always)]
    fn value(&mut self) -> Scan<Span> {
        self.ws();
        match self.peek() {
            Some(b'{' | b'[') => self.composite(),
            _ => self.scalar(),
        }
    }

    /// The token for a span of this frame.
    #[inline(always)]
    fn token_of(&self, span: Span) -> Token<'a> {
        let text = &self.text[span.start as usize..span.end as usize];
        match span.kind {
            Kind::Str => Token::Str(text),
            Kind::EscapedStr => Token::EscapedStr(text),
            Kind::Num => Token::Num(text),
            Kind::True => Token::True,
            Kind::False => Token::False,
            Kind::Null => Token::Null,
            Kind::Composite => Token::Composite(text),
        }
    }

    /// The next value, whatever it is (composites are checked and returned raw).
    #[inline(always)]
    pub(crate) fn token(&mut self) -> Result<Token<'a>, Rejection> {
        let span = self.value()?;
        Ok(self.token_of(span))
    }

    /// Skips the next value.
    #[inline(always)]
    pub(crate) fn skip(&mut self) -> Result<(), Rejection> {
        self.value()?;
        Ok(())
    }

    /// Parses the next value, which must be an object, into a new `F`.
    pub(crate) fn object<F: Fields<'a>>(&mut self) -> Result<F, Rejection> {
        let mut fields = F::default();
        self.object_into(&mut fields)?;
        Ok(fields)
    }

    /// Parses the next value, which must be an object, into `fields` (no copy of `F`).
    pub(crate) fn object_into<F: Fields<'a>>(&mut self, fields: &mut F) -> Result<(), Rejection> {
        self.ws();
        match self.peek() {
            Some(b'{') => self.at += 1,
            None => return Err(malformed(self.at, "unexpected end of frame")),
            Some(_) => {
                let token = self.token()?;
                return Err(Rejection::new(
                    Reason::WrongType,
                    format!("expected a JSON object, found {}", token.kind()),
                ));
            }
        }
        self.ws();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(());
        }
        loop {
            self.ws();
            let span = self.key()?;
            // Real keys never need escapes; an escaped one cannot match a known key.
            let key = match span.kind {
                Kind::Str => &self.text[span.start as usize..span.end as usize],
                _ => "",
            };
            fields.field(key, self)?;
            self.ws();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(());
                }
                _ => return Err(malformed(self.at, "expected `,` or `}`")),
            }
        }
    }
}

/// Receives an object's fields one at a time, in frame order.
pub(crate) trait Fields<'a>: Default {
    /// Handles `key`; must consume exactly one value from `p` (store, skip or parse it).
    fn field(&mut self, key: &'a str, p: &mut Parser<'a>) -> Result<(), Rejection>;
}

/// Parses `text` as one JSON object into `F`; nothing but whitespace may follow it.
pub(crate) fn parse_object<'a, F: Fields<'a>>(text: &'a str) -> Result<F, Rejection> {
    let mut fields = F::default();
    parse_object_into(text, &mut fields)?;
    Ok(fields)
}

/// [`parse_object`] into a caller's struct: the hot path, which avoids copying the (large,
/// mostly empty) field struct out of a return value.
pub(crate) fn parse_object_into<'a, F: Fields<'a>>(
    text: &'a str,
    fields: &mut F,
) -> Result<(), Rejection> {
    if u32::try_from(text.len()).is_err() {
        return Err(Rejection::new(Reason::FrameTooLarge, "frame exceeds 4 GiB"));
    }
    let mut p = Parser::new(text);
    p.ws();
    if p.peek().is_none() {
        return Err(malformed(0, "empty frame"));
    }
    p.object_into(fields)?;
    p.ws();
    if p.at != p.bytes.len() {
        return Err(malformed(p.at, "trailing characters after the object"));
    }
    Ok(())
}

/// Size and UTF-8 checks done before any parsing.
pub(crate) fn frame_text(bytes: &[u8], max_frame_bytes: usize) -> Result<&str, Rejection> {
    if bytes.len() > max_frame_bytes {
        return Err(Rejection::new(
            Reason::FrameTooLarge,
            format!(
                "frame of {} bytes exceeds the {max_frame_bytes}-byte limit",
                bytes.len()
            ),
        ));
    }
    std::str::from_utf8(bytes).map_err(|e| {
        Rejection::new(
            Reason::InvalidUtf8,
            format!("invalid utf-8 at byte {}", e.valid_up_to()),
        )
    })
}

/// Writes a token into a slot of this type; `null` leaves the slot as it is.
pub(crate) trait FromToken<'a>: Sized {
    /// Converts `token` into `slot`, naming `field` in errors.
    fn assign(slot: &mut Option<Self>, field: &str, token: Token<'a>) -> Result<(), Rejection>;
}

impl<'a> FromToken<'a> for Token<'a> {
    #[inline(always)]
    fn assign(slot: &mut Option<Self>, _: &str, token: Token<'a>) -> Result<(), Rejection> {
        if token != Token::Null {
            *slot = Some(token);
        }
        Ok(())
    }
}

#[cold]
#[inline(never)]
fn wrong_type(field: &str, want: &str, token: &Token<'_>) -> Rejection {
    Rejection::new(
        Reason::WrongType,
        format!("`{field}` must be a {want}, found {}", token.kind()),
    )
}

impl<'a> FromToken<'a> for &'a str {
    #[inline(always)]
    fn assign(slot: &mut Option<Self>, field: &str, token: Token<'a>) -> Result<(), Rejection> {
        match token {
            Token::Null => {}
            Token::Str(s) => *slot = Some(s),
            Token::EscapedStr(_) => {
                return Err(Rejection::new(
                    Reason::WrongType,
                    format!("`{field}` must be a plain string (escapes are not expected here)"),
                ));
            }
            other => return Err(wrong_type(field, "string", &other)),
        }
        Ok(())
    }
}

impl<'a> FromToken<'a> for Cow<'a, str> {
    fn assign(slot: &mut Option<Self>, field: &str, token: Token<'a>) -> Result<(), Rejection> {
        match token {
            Token::Null => {}
            Token::Str(s) => *slot = Some(Cow::Borrowed(s)),
            Token::EscapedStr(s) => {
                // The scanner validated the escapes; serde_json turns them into text.
                let text = serde_json::from_str::<String>(&format!("\"{s}\""))
                    .map_err(|e| malformed(0, &e.to_string()))?;
                *slot = Some(Cow::Owned(text));
            }
            other => return Err(wrong_type(field, "string", &other)),
        }
        Ok(())
    }
}

/// Reads the next value into `slot`, remembering the first repeated key.
#[inline(always)]
pub(crate) fn store<'a, T: FromToken<'a>>(
    slot: &mut Option<T>,
    duplicate: &mut Option<&'static str>,
    name: &'static str,
    p: &mut Parser<'a>,
) -> Result<(), Rejection> {
    let span = p.value()?;
    if slot.is_some() && duplicate.is_none() {
        *duplicate = Some(name);
    }
    T::assign(slot, name, p.token_of(span))
}

/// Rejects an object that repeated a key: which value is real would be a guess.
pub(crate) fn no_duplicate(duplicate: Option<&'static str>) -> Result<(), Rejection> {
    match duplicate {
        Some(name) => Err(Rejection::new(
            Reason::MalformedJson,
            format!("duplicate field `{name}`"),
        )),
        None => Ok(()),
    }
}

/// The text of a numeric token: a JSON number, or a JSON string holding one (Binance and
/// Bithumb quote numbers). `Ok(None)` for an empty string, which exchanges send for "absent".
fn numeric_text<'a>(field: &str, raw: Raw<'a>) -> Result<Option<&'a str>, Rejection> {
    match raw {
        Token::Num(text) => Ok(Some(text)),
        Token::EscapedStr(_) => Err(Rejection::new(
            Reason::InvalidDecimal,
            format!("`{field}` holds an escaped string, not a number"),
        )),
        Token::Str(text) => Ok((!text.is_empty()).then_some(text)),
        Token::Null => Ok(None),
        other => Err(wrong_type(field, "number", &other)),
    }
}

/// An optional exact decimal.
pub(crate) fn decimal(field: &str, raw: Option<Raw<'_>>) -> Result<Option<Decimal>, Rejection> {
    let Some(raw) = raw else { return Ok(None) };
    let Some(text) = numeric_text(field, raw)? else {
        return Ok(None);
    };
    parse_decimal(text.as_bytes()).map(Some).map_err(|e| {
        let why = match e {
            DecimalError::Syntax => "is not a decimal number",
            DecimalError::Inexact => "cannot be carried exactly",
        };
        Rejection::new(
            Reason::InvalidDecimal,
            format!("`{field}` = {} {why}", clip(text, 40)),
        )
    })
}

/// A required exact decimal.
pub(crate) fn required_decimal(field: &str, raw: Option<Raw<'_>>) -> Result<Decimal, Rejection> {
    decimal(field, raw)?.ok_or_else(|| Rejection::missing(field))
}

/// An optional integer (number or numeric string), e.g. ids above 2^53 that must stay exact.
pub(crate) fn integer(field: &str, raw: Option<Raw<'_>>) -> Result<Option<i64>, Rejection> {
    let Some(raw) = raw else { return Ok(None) };
    let Some(text) = numeric_text(field, raw)? else {
        return Ok(None);
    };
    text.parse::<i64>().map(Some).map_err(|_| {
        let reason = if text.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
            Reason::UnrepresentableValue
        } else {
            Reason::InvalidDecimal
        };
        Rejection::new(
            reason,
            format!("`{field}` = {} is not an int64", clip(text, 40)),
        )
    })
}

/// Epoch milliseconds to microseconds; times before 1970 or past year 9999 are rejected.
pub(crate) fn millis_to_micros(field: &str, ms: Option<i64>) -> Result<Option<i64>, Rejection> {
    const MAX_MS: i64 = 253_402_300_800_000; // 10000-01-01
    match ms {
        None => Ok(None),
        Some(ms) if (0..MAX_MS).contains(&ms) => Ok(Some(ms * 1000)),
        Some(ms) => Err(Rejection::new(
            Reason::InvalidTimestamp,
            format!("`{field}` = {ms} is not an epoch time in milliseconds"),
        )),
    }
}

/// A percentage (`-2.875`) as a fraction (`-0.02875`), exactly.
pub(crate) fn percent_to_fraction(
    field: &str,
    pct: Option<Decimal>,
) -> Result<Option<Decimal>, Rejection> {
    let Some(mut value) = pct else {
        return Ok(None);
    };
    value.set_scale(value.scale() + 2).map_err(|_| {
        Rejection::new(
            Reason::InvalidDecimal,
            format!("`{field}` = {pct:?} has too many digits"),
        )
    })?;
    Ok(Some(value.normalize()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    /// Collects every top-level key and token.
    #[derive(Default, Debug)]
    struct All<'a>(Vec<(&'a str, Token<'a>)>);
    impl<'a> Fields<'a> for All<'a> {
        fn field(&mut self, key: &'a str, p: &mut Parser<'a>) -> Result<(), Rejection> {
            let t = p.token()?;
            self.0.push((key, t));
            Ok(())
        }
    }

    fn tok(text: &str) -> Token<'_> {
        let mut p = Parser::new(text);
        p.token().unwrap()
    }

    #[test]
    fn scanner_accepts_json_and_keeps_tokens_raw() {
        let text = r#" {"a": "x\"y", "b":-1.5E-3, "c" : [1, {"d": [true, false, null]}, []], "e":{}, "f":null} "#;
        let all: All<'_> = parse_object(text).unwrap();
        assert_eq!(all.0[0], ("a", Token::EscapedStr("x\\\"y")));
        assert_eq!(all.0[1], ("b", Token::Num("-1.5E-3")));
        assert_eq!(
            all.0[2],
            (
                "c",
                Token::Composite("[1, {\"d\": [true, false, null]}, []]")
            )
        );
        assert_eq!(all.0[3], ("e", Token::Composite("{}")));
        assert_eq!(all.0[4], ("f", Token::Null));
        assert_eq!(parse_object::<All<'_>>("{}").unwrap().0.len(), 0);
    }

    #[test]
    fn scanner_rejects_what_json_forbids() {
        for bad in [
            "",
            " ",
            "{",
            "}",
            "{\"a\"}",
            "{\"a\":}",
            "{\"a\":1,}",
            "{,\"a\":1}",
            "{\"a\":1 \"b\":2}",
            "{a:1}",
            "{'a':1}",
            "{\"a\":01}",
            "{\"a\":1.}",
            "{\"a\":.5}",
            "{\"a\":+1}",
            "{\"a\":1e}",
            "{\"a\":NaN}",
            "{\"a\":Infinity}",
            "{\"a\":tru}",
            "{\"a\":nul}",
            "{\"a\":\"\\x\"}",
            "{\"a\":\"\\u12\"}",
            "{\"a\":\"tab\there\"}",
            "{\"a\":[1,]}",
            "{\"a\":[1 2]}",
            "{\"a\":[}",
            "{\"a\":{\"b\"}}",
            "{\"a\":1}x",
            "{\"a\":1}{}",
            "{\"a\":\"unterminated}",
            "{\"a\":[1,{\"b\":2]}}",
            "{\"a\":None}",
        ] {
            let got = parse_object::<All<'_>>(bad);
            assert_eq!(got.unwrap_err().reason, Reason::MalformedJson, "{bad:?}");
        }
        for not_object in ["[1]", "1", "\"x\"", "null", "true"] {
            assert_eq!(
                parse_object::<All<'_>>(not_object).unwrap_err().reason,
                Reason::WrongType
            );
        }
    }

    #[test]
    fn nesting_is_bounded_without_recursion() {
        let ok = format!(
            "{{\"a\":{}{}}}",
            "[".repeat(MAX_DEPTH),
            "]".repeat(MAX_DEPTH)
        );
        assert!(parse_object::<All<'_>>(&ok).is_ok());
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(
            parse_object::<All<'_>>(&deep).unwrap_err().reason,
            Reason::MalformedJson
        );
    }

    #[test]
    fn numbers_and_numeric_strings() {
        let d = |t: &str| decimal("x", Some(tok(t)));
        assert_eq!(
            d("6E-8").unwrap(),
            Some(Decimal::from_str("0.00000006").unwrap())
        );
        assert_eq!(
            d("\"0.0015\"").unwrap(),
            Some(Decimal::from_str("0.0015").unwrap())
        );
        assert_eq!(d("\"\"").unwrap(), None);
        assert_eq!(d("\"NaN\"").unwrap_err().reason, Reason::InvalidDecimal);
        assert_eq!(
            d("\"1\\u0030\"").unwrap_err().reason,
            Reason::InvalidDecimal
        );
        assert_eq!(d("true").unwrap_err().reason, Reason::WrongType);
        assert_eq!(d("{\"a\":1}").unwrap_err().reason, Reason::WrongType);
        assert_eq!(d("[1]").unwrap_err().reason, Reason::WrongType);
    }

    #[test]
    fn integers_stay_exact_above_2_pow_53() {
        let i = |t: &str| integer("sid", Some(tok(t)));
        assert_eq!(
            i("16185678262000003").unwrap(),
            Some(16_185_678_262_000_003)
        );
        assert_eq!(
            i("\"17000000000000001\"").unwrap(),
            Some(17_000_000_000_000_001)
        );
        assert_eq!(
            i("99999999999999999999").unwrap_err().reason,
            Reason::UnrepresentableValue
        );
        assert_eq!(i("1.5").unwrap_err().reason, Reason::InvalidDecimal);
    }

    #[test]
    fn escaped_strings_unescape_only_where_asked() {
        let t = tok("\"\\uc694\\uccad \\\"x\\\"\"");
        let mut owned: Option<Cow<'_, str>> = None;
        <Cow<'_, str>>::assign(&mut owned, "m", t).unwrap();
        assert_eq!(owned.unwrap(), "요청 \"x\"");
        let mut plain: Option<&str> = None;
        let err = <&str>::assign(&mut plain, "code", t).unwrap_err();
        assert_eq!(err.reason, Reason::WrongType);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 20_000, ..Default::default() })]

        /// Differential check against serde_json: for any text built from JSON's own
        /// characters, the scanner accepts a frame exactly when serde_json accepts it.
        #[test]
        fn scanner_agrees_with_serde_json(body in r#"[\[\]{}",:0-9.eE+\- tfrunlsa\\/]{0,40}"#) {
            let text = format!("{{\"k\":{body}}}");
            let ours = parse_object::<All<'_>>(&text).is_ok();
            let theirs = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&text).is_ok();
            proptest::prop_assert_eq!(ours, theirs, "{}", text);
        }

        /// Same, for strings with escapes and raw bytes around the quote/escape handling.
        #[test]
        fn strings_agree_with_serde_json(body in r#"[a-z0-9 "\\/bfnrtu\u{1}\u{1f}\u{7f}é요]{0,24}"#) {
            let text = format!("{{\"k\":\"{body}\"}}");
            let ours = parse_object::<All<'_>>(&text).is_ok();
            let theirs = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&text).is_ok();
            proptest::prop_assert_eq!(ours, theirs, "{:?}", text);
        }
    }

    #[test]
    fn percent_is_exact() {
        let p = percent_to_fraction("P", Some(Decimal::from_str("-2.875").unwrap())).unwrap();
        assert_eq!(p, Some(Decimal::from_str("-0.02875").unwrap()));
    }
}
