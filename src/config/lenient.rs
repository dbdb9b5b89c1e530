//! Numbers and booleans that may arrive as text: an environment override is always text
//! (`TICKFLOW_CACHE__BATCH_MAX=5000`), and is kept as text so that string settings stay exactly
//! as written (`TICKFLOW_KAFKA__SASL_PASSWORD=0042` stays `0042`, a group id `2024` stays a
//! string). Fields that want a number or a boolean take either form.

use serde::{Deserialize, Deserializer};
use std::str::FromStr;

#[derive(Deserialize)]
#[serde(untagged)]
enum Either<T> {
    Value(T),
    Text(String),
}

/// `Option<T>` from a TOML value of type `T` or text that parses as one.
pub(crate) fn opt<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr + Deserialize<'de>,
    T::Err: std::fmt::Display,
{
    match Option::<Either<T>>::deserialize(d)? {
        None => Ok(None),
        Some(Either::Value(v)) => Ok(Some(v)),
        Some(Either::Text(t)) => t.trim().parse().map(Some).map_err(|e| {
            serde::de::Error::custom(format!(
                "`{t}` is not a valid {}: {e}",
                std::any::type_name::<T>()
            ))
        }),
    }
}
