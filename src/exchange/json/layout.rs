//! Reading a frame in the exact byte layout a venue sends: fixed keys in a fixed order, no
//! whitespace. Each step either consumes what it expects or returns `None`, and the caller
//! then gives the frame to the general scanner, which accepts every layout. Values are
//! scanned by the general scanner's own string and number rules, so a frame read here yields
//! the same tokens the general path would (adapters test that on real frames and mutations).
//!
//! Why: per field, the general path skips whitespace four times, scans the key as a string
//! and dispatches on it; a layout compares a few constant bytes instead (BENCHMARKS.md,
//! "Trades and best bid/offers (issue 12)").

use super::scanner::{Parser, Token};

/// A cursor that follows one expected layout.
pub(crate) struct Layout<'a> {
    p: Parser<'a>,
}

impl<'a> Layout<'a> {
    /// A cursor at the start of `text` (frames past 4 GiB take the general path).
    #[inline(always)]
    pub(crate) fn new(text: &'a str) -> Option<Self> {
        u32::try_from(text.len()).ok()?;
        Some(Self {
            p: Parser::new(text),
        })
    }

    /// Consumes `lit` if the text continues with it; otherwise consumes nothing.
    #[inline(always)]
    pub(crate) fn eat(&mut self, lit: &[u8]) -> bool {
        let found = self.p.bytes[self.p.at..].starts_with(lit);
        if found {
            self.p.at += lit.len();
        }
        found
    }

    /// Consumes `lit`, or gives up on the layout.
    #[inline(always)]
    pub(crate) fn lit(&mut self, lit: &[u8]) -> Option<()> {
        self.eat(lit).then_some(())
    }

    /// A string without escapes (the text between the quotes).
    #[inline(always)]
    pub(crate) fn string(&mut self) -> Option<&'a str> {
        if self.p.bytes.get(self.p.at) != Some(&b'"') {
            return None;
        }
        let span = self.p.string().ok()?;
        match self.p.token_of(span) {
            Token::Str(text) => Some(text),
            _ => None,
        }
    }

    /// A string without escapes, as its token.
    #[inline(always)]
    pub(crate) fn string_token(&mut self) -> Option<Token<'a>> {
        self.string().map(Token::Str)
    }

    /// A number, as its token.
    #[inline(always)]
    pub(crate) fn number(&mut self) -> Option<Token<'a>> {
        let span = self.p.number().ok()?;
        Some(self.p.token_of(span))
    }

    /// `true` or `false`, as its token.
    #[inline(always)]
    pub(crate) fn boolean(&mut self) -> Option<Token<'a>> {
        if self.eat(b"true") {
            Some(Token::True)
        } else if self.eat(b"false") {
            Some(Token::False)
        } else {
            None
        }
    }

    /// Whether nothing but whitespace is left (as the general path allows: a capture's
    /// line may end in a newline).
    #[inline(always)]
    pub(crate) fn end(&self) -> Option<()> {
        let rest = &self.p.bytes[self.p.at..];
        rest.iter()
            .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
            .then_some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_layout_or_gives_up() {
        let text = r#"{"u":12,"s":"AB","m":true}"#;
        let mut l = Layout::new(text).unwrap();
        assert!(!l.eat(b"{\"x\""));
        l.lit(b"{\"u\":").unwrap();
        assert_eq!(l.number(), Some(Token::Num("12")));
        l.lit(b",\"s\":").unwrap();
        assert_eq!(l.string(), Some("AB"));
        l.lit(b",\"m\":").unwrap();
        assert_eq!(l.boolean(), Some(Token::True));
        assert!(l.end().is_none());
        l.lit(b"}").unwrap();
        l.end().unwrap();
        let mut l = Layout::new("1 \r\n").unwrap();
        l.number().unwrap();
        l.end().unwrap();
        // An escape, a bad number or a non-string: not the layout.
        assert_eq!(Layout::new(r#""a\"b""#).unwrap().string(), None);
        assert_eq!(Layout::new("01").unwrap().number(), Some(Token::Num("0")));
        assert_eq!(Layout::new("-x").unwrap().number(), None);
        assert_eq!(Layout::new("12").unwrap().string(), None);
        assert_eq!(Layout::new("nul").unwrap().boolean(), None);
    }
}
