//! Coinone `ORDERBOOK` sides: the best level of each, the other levels skipped without reading
//! their numbers. Every frame is a whole book (16 levels a side in every frame the probe saw,
//! no deltas), and the two sides come in opposite orders:
//! ```json
//! "asks":[{"price":"116650000","qty":"0.01198956"}, ... ,{"price":"116460000","qty":"0.0232"}],
//! "bids":[{"price":"116450000","qty":"0.0118"}, ... ,{"price":"116250000","qty":"0.01325806"}]
//! ```
//! asks descending, worst first, so the best ask is the **last** element; bids descending, best
//! first (`SHORT`: `a`, `b`, `p`, `q`). The REST book lists asks ascending: never assume.
//!
//! How: the general scanner checks the whole array's grammar in one call (one walk, one small
//! stack), then a light walk over the checked text finds the element boundaries at the
//! array's own depth and checks each element is an object; only the chosen element is parsed.
//! Scanning each level as its own value would cost one stack allocation per level
//! (32 a frame).

use crate::exchange::json::{Fields, Parser, Raw, parse_object, store};
use crate::model::{Reason, Rejection};

/// One level, `{"price":"...","qty":"..."}` (`SHORT`: `p`, `q`).
#[derive(Debug, Default)]
pub(crate) struct Level<'a> {
    pub duplicate: Option<&'static str>,
    pub price: Option<Raw<'a>>,
    pub qty: Option<Raw<'a>>,
}

impl<'a> Fields<'a> for Level<'a> {
    fn field(&mut self, key: &'a str, p: &mut Parser<'a>) -> Result<(), Rejection> {
        let dup = &mut self.duplicate;
        match key {
            "price" | "p" => store(&mut self.price, dup, "price", p),
            "qty" | "q" => store(&mut self.qty, dup, "qty", p),
            _ => p.skip(),
        }
    }
}

/// Which element of a side is its best level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Best {
    /// Bids: best first.
    First,
    /// Asks: worst first, best last.
    Last,
}

/// Reads the side `name` at `p`: an array of level objects; its `best` level, `None` when the
/// array is empty.
pub(crate) fn best_level<'a>(
    p: &mut Parser<'a>,
    name: &'static str,
    best: Best,
) -> Result<Option<Level<'a>>, Rejection> {
    let text = match p.token()? {
        Raw::Composite(text) if text.starts_with('[') => text,
        Raw::Null => return Err(Rejection::missing(name)),
        other => {
            return Err(Rejection::new(
                Reason::WrongType,
                format!(
                    "`{name}` must be an array of levels, found {}",
                    other.kind()
                ),
            ));
        }
    };
    match element(text, name, best)? {
        Some(level) => parse_object::<Level<'a>>(level).map(Some),
        None => Ok(None),
    }
}

/// The first or last element of a grammar-checked JSON array `text` (`[` to `]`), every
/// element checked to be an object; `None` for `[]`.
fn element<'a>(text: &'a str, name: &str, best: Best) -> Result<Option<&'a str>, Rejection> {
    let b = text.as_bytes();
    let mut chosen: Option<(usize, usize)> = None;
    let mut depth = 0usize;
    let mut start = 0usize;
    let mut index = 0usize;
    let mut i = 1;
    // The closing `]` is the last byte (the scanner spans values exactly).
    let end = b.len().saturating_sub(1);
    while i < end {
        match b[i] {
            b'"' => {
                // A key or a string value inside a level (the scanner checked its escapes).
                if depth == 0 {
                    return Err(not_an_object(name, index));
                }
                i += 1;
                while i < end {
                    match b[i] {
                        b'\\' => i += 2,
                        b'"' => break,
                        _ => i += 1,
                    }
                }
            }
            b'{' | b'[' => {
                if depth == 0 {
                    if b[i] != b'{' {
                        return Err(not_an_object(name, index));
                    }
                    start = i;
                }
                depth += 1;
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    let span = (start, i + 1);
                    if best == Best::Last || index == 0 {
                        chosen = Some(span);
                    }
                    index += 1;
                }
            }
            b' ' | b'\t' | b'\n' | b'\r' | b',' | b':' => {}
            // A number or literal: inside a level it is a value; at the array's own depth it
            // is a level that is not an object.
            _ if depth == 0 => return Err(not_an_object(name, index)),
            _ => {}
        }
        i += 1;
    }
    Ok(chosen.map(|(from, to)| &text[from..to]))
}

#[cold]
#[inline(never)]
fn not_an_object(name: &str, index: usize) -> Rejection {
    Rejection::new(
        Reason::WrongType,
        format!("`{name}[{index}]` must be a level object"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick(text: &str, best: Best) -> Result<Option<&str>, Rejection> {
        // The scanner's checked span, as the adapter gets it.
        let mut p = Parser::new(text);
        let Raw::Composite(span) = p.token()? else {
            panic!("not a composite")
        };
        element(span, "asks", best)
    }

    #[test]
    fn first_and_last_levels_are_found_at_the_array_depth() {
        let side = r#"[ {"p":"3","q":"1"} , {"p":"2","q":"}{\"]"}, {"p":"1","q":"[2]","x":{"y":[1,{}]}} ]"#;
        assert_eq!(
            pick(side, Best::First).unwrap(),
            Some(r#"{"p":"3","q":"1"}"#)
        );
        assert_eq!(
            pick(side, Best::Last).unwrap(),
            Some(r#"{"p":"1","q":"[2]","x":{"y":[1,{}]}}"#)
        );
        assert_eq!(pick("[]", Best::Last).unwrap(), None);
        assert_eq!(pick("[ ]", Best::First).unwrap(), None);
        assert_eq!(pick(r#"[{}]"#, Best::Last).unwrap(), Some("{}"));
    }

    #[test]
    fn every_level_must_be_an_object() {
        for bad in [
            r#"[{"p":"1","q":"1"},"…",{"p":"2","q":"1"}]"#,
            r#"[{"p":"1","q":"1"},7]"#,
            r#"[null]"#,
            r#"[["1","2"]]"#,
            r#"[true,{"p":"1"}]"#,
        ] {
            let err = pick(bad, Best::Last).unwrap_err();
            assert_eq!(err.reason, Reason::WrongType, "{bad}");
            let err = pick(bad, Best::First).unwrap_err();
            assert_eq!(err.reason, Reason::WrongType, "{bad}");
        }
    }

    #[test]
    fn a_side_that_is_not_an_array_is_refused() {
        for (bad, reason) in [
            (r#"{"p":"1"}"#, Reason::WrongType),
            (r#""[]""#, Reason::WrongType),
            ("null", Reason::MissingField),
            ("[1,", Reason::MalformedJson),
        ] {
            let mut p = Parser::new(bad);
            let err = best_level(&mut p, "bids", Best::First).unwrap_err();
            assert_eq!(err.reason, reason, "{bad}");
        }
    }
}
