//! Moving tokens into adapter field slots: type checks, duplicate keys, frame pre-checks.

use super::scanner::{Parser, Token, malformed};
use crate::model::{Reason, Rejection};
use std::borrow::Cow;

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

#[cfg(test)]
mod tests {
    use super::*;

    fn tok(text: &str) -> Token<'_> {
        Parser::new(text).token().unwrap()
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
}
