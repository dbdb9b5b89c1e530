//! The strict, zero-copy JSON scanner: one pass over a frame, handing each field's raw token
//! to a [`Fields`] implementation, checking the complete grammar (RFC 8259) including inside
//! skipped values, with bounded nesting and no recursion.

use crate::model::{Reason, Rejection};

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

    pub(crate) fn kind(&self) -> &'static str {
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
pub(super) struct Span {
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

pub(super) type Scan<T> = Result<T, ScanError>;

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
    pub(super) bytes: &'a [u8],
    pub(super) at: usize,
}

#[cold]
#[inline(never)]
pub(crate) fn malformed(at: usize, what: &str) -> Rejection {
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
    pub(crate) fn new(text: &'a str) -> Self {
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
    pub(super) fn string(&mut self) -> Scan<Span> {
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

    /// A number starting at its first character.
    #[inline(always)]
    pub(super) fn number(&mut self) -> Scan<Span> {
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
    pub(super) fn value(&mut self) -> Scan<Span> {
        self.ws();
        match self.peek() {
            Some(b'{' | b'[') => self.composite(),
            _ => self.scalar(),
        }
    }

    /// The token for a span of this frame.
    #[inline(always)]
    pub(super) fn token_of(&self, span: Span) -> Token<'a> {
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

    /// Walks the next value, which must be an array, calling `each` with the parser at every
    /// element and its index; `each` must consume exactly that element (parse or skip it).
    pub(crate) fn array(
        &mut self,
        mut each: impl FnMut(&mut Parser<'a>, usize) -> Result<(), Rejection>,
    ) -> Result<(), Rejection> {
        self.ws();
        match self.peek() {
            Some(b'[') => self.at += 1,
            None => return Err(malformed(self.at, "unexpected end of frame")),
            Some(_) => {
                let token = self.token()?;
                return Err(Rejection::new(
                    Reason::WrongType,
                    format!("expected a JSON array, found {}", token.kind()),
                ));
            }
        }
        self.ws();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(());
        }
        let mut index = 0;
        loop {
            each(self, index)?;
            index += 1;
            self.ws();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(());
                }
                _ => return Err(malformed(self.at, "expected `,` or `]`")),
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
